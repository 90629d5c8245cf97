"""Head layer over a still plate: the fill, the head sphere, and what moves in a rendered frame."""

from __future__ import annotations

import numpy as np

from forgebench.generator.render.layers import fill_holes, lift_to_sphere
from forgebench.media import face_geometry as fg


def test_fill_keeps_known_pixels_and_fills_a_constant_exactly():
    rng = np.random.default_rng(0)
    image = rng.integers(0, 256, size=(40, 50, 3), dtype=np.uint8)
    known = np.ones((40, 50), bool)
    known[10:25, 15:35] = False
    out = fill_holes(image, known)
    np.testing.assert_array_equal(out[known], image[known])
    flat = np.full_like(image, 77)
    np.testing.assert_array_equal(fill_holes(flat, known), flat)
    # a hole in a left-right ramp is filled between its sides' values
    ramp = np.repeat(np.linspace(0, 250, 50)[None, :, None], 40, 0).repeat(3, 2).astype(np.uint8)
    filled = fill_holes(ramp, known)[10:25, 15:35, 0].astype(float)
    assert ramp[0, 14, 0] - 3 <= filled.min() and filled.max() <= ramp[0, 35, 0] + 3


def test_points_on_the_head_sphere_follow_a_translation_and_return_at_rest():
    pose = np.array([5.0, -3.0, 2.0, 0.5, 0.45, 0.2])
    pts = np.array([[60.0, 40.0], [200.0, 120.0], [128.0, 20.0], [10.0, 250.0]])
    canon = lift_to_sphere(pts, pose, 256, 256)
    np.testing.assert_allclose(fg.pose_to_points(canon, pose, 256, 256)[:, :2], pts, atol=1e-9)
    moved = pose.copy()
    moved[3:5] += [0.05, -0.02]
    np.testing.assert_allclose(fg.pose_to_points(canon, moved, 256, 256)[:, :2], pts + [12.8, -5.12], atol=1e-9)


def test_background_stays_still_and_hair_follows_the_head(layered_renderer):
    renderer = layered_renderer
    layers = renderer.layers
    pose, expr, gaze = renderer.source_state
    moved = pose.copy()
    moved[3] += 6.0 / renderer.width  # the whole head 6 px to the right
    frame = renderer.render(moved, expr, gaze).astype(float)
    src = renderer.source.image.astype(float)
    import cv2

    near_head = cv2.dilate((layers.alpha > 0.01).astype(np.uint8), np.ones((17, 17), np.uint8)) > 0
    still = ~near_head  # background, away from where the head is or goes
    assert still.sum() > 1000
    np.testing.assert_array_equal(frame[still], src[still])
    # above the eyes (forehead, hair) the head layer is the source shifted by 6 px
    top = int(renderer.source_points[:, 1].min()) - 4
    band = (slice(max(top - 20, 0), top), slice(80, 176))
    shifted = np.roll(src, 6, axis=1)
    assert np.abs(frame[band] - shifted[band]).mean() < 0.5 * np.abs(frame[band] - src[band]).mean()
