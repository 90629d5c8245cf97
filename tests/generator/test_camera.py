"""The driver's camera motion: recovered on synthetic scenes, carried into a portrait, applied to the plate."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from forgebench.generator import camera as camera_module
from forgebench.generator.camera import estimate_camera, expose, measure_camera, to_portrait
from forgebench.media import face_geometry as fg

SIZE = 160


def _scene(seed: int = 0) -> np.ndarray:
    """A textured RGB scene larger than the frame (corners everywhere)."""
    rng = np.random.default_rng(seed)
    noise = rng.integers(0, 256, size=(SIZE * 2, SIZE * 2, 3), dtype=np.uint8)
    return cv2.GaussianBlur(noise, (0, 0), 1.5)


def _shifted(scene: np.ndarray, dx: float, dy: float) -> np.ndarray:
    """The frame whose content is the scene's moved by (dx, dy) pixels (sub-pixel, bilinear)."""
    m = np.array([[1.0, 0.0, dx - SIZE / 2], [0.0, 1.0, dy - SIZE / 2]])
    return cv2.warpAffine(scene, m, (SIZE, SIZE), flags=cv2.INTER_LINEAR)


def _face_landmarks(centre: tuple[float, float], radius: float) -> np.ndarray:
    """[478, 3] points on a circle around ``centre``; the eye corners inside it (an IOD of ``radius``)."""
    ang = np.linspace(0, 2 * np.pi, 478, endpoint=False)
    pts = np.stack([centre[0] + radius * np.cos(ang), centre[1] + radius * np.sin(ang), np.zeros(478)], 1)
    pts[list(fg.RIGHT_EYE_CORNERS)] = [centre[0] - radius / 2, centre[1], 0.0]
    pts[list(fg.LEFT_EYE_CORNERS)] = [centre[0] + radius / 2, centre[1], 0.0]
    return pts


def test_a_translating_background_is_recovered_and_a_static_one_is_the_identity():
    scene = _scene()
    step = np.array([1.5, -0.75])
    frames = [_shifted(scene, *(step * t)) for t in range(8)]
    motion = estimate_camera(frames, (SIZE, SIZE))
    assert motion.shape == (8, 2, 3)
    np.testing.assert_allclose(motion[0], np.eye(2, 3), atol=1e-9)
    np.testing.assert_allclose(motion[:, :, 2], step[None] * np.arange(8)[:, None], atol=0.3)
    np.testing.assert_allclose(motion[:, :, :2], np.broadcast_to(np.eye(2), (8, 2, 2)), atol=0.01)
    still = estimate_camera([frames[0]] * 6, (SIZE, SIZE))
    np.testing.assert_allclose(still, np.broadcast_to(np.eye(2, 3), (6, 2, 3)), atol=1e-6)
    # relative to a later reference frame: the identity there
    later = estimate_camera(frames, (SIZE, SIZE), reference=4)
    np.testing.assert_allclose(later[4], np.eye(2, 3), atol=1e-9)
    np.testing.assert_allclose(later[7, :, 2], 3 * step, atol=0.3)


def test_a_face_moving_its_own_way_is_left_out():
    scene, face = _scene(0), _scene(1)
    step = np.array([1.0, 0.5])
    centre, radius = (SIZE / 2, SIZE / 2), 28.0
    yy, xx = np.mgrid[0:SIZE, 0:SIZE]
    inside = (xx - centre[0]) ** 2 + (yy - centre[1]) ** 2 < radius**2
    frames, marks = [], []
    for t in range(6):
        frame = _shifted(scene, *(step * t))
        frame[inside] = _shifted(face, -3.0 * t, 2.0 * t)[inside]  # the face goes the other way, fast
        frames.append(frame)
        marks.append(_face_landmarks(centre, radius))
    motion = estimate_camera(frames, (SIZE, SIZE), np.stack(marks), np.ones(6, bool))
    np.testing.assert_allclose(motion[:, :, 2], step[None] * np.arange(6)[:, None], atol=0.3)


def test_a_featureless_driver_gives_the_identity():
    flat = np.full((SIZE, SIZE, 3), 120, np.uint8)
    np.testing.assert_allclose(estimate_camera([flat] * 4, (SIZE, SIZE)), np.broadcast_to(np.eye(2, 3), (4, 2, 3)),
                               atol=1e-12)


def test_motion_is_carried_into_the_portrait_by_its_face_centre_and_size():
    theta, s = 0.1, 1.2
    a = s * np.array([[np.cos(theta), -np.sin(theta)], [np.sin(theta), np.cos(theta)]])
    cd, cp = np.array([100.0, 80.0]), np.array([30.0, 50.0])
    t = cd - a @ cd + [4.0, -2.0]  # about the driver's face centre, then 4, -2 px
    motion = np.concatenate([a, t[:, None]], 1)[None]
    same = to_portrait(motion, cd, 40.0, cd, 40.0)
    np.testing.assert_allclose(same, motion, atol=1e-12)
    out = to_portrait(motion, cd, 40.0, cp, 20.0)[0]  # a portrait face half the size
    np.testing.assert_allclose(out[:, :2], a, atol=1e-12)
    np.testing.assert_allclose(out @ [*cp, 1.0], cp + [2.0, -1.0], atol=1e-9)  # its centre moves half as far
    none = to_portrait(motion, cd, 40.0, cp, 20.0, share=0.0)
    np.testing.assert_allclose(none[0], np.eye(2, 3), atol=1e-12)


def test_the_plate_follows_the_camera_and_the_identity_changes_nothing(layered_renderer):
    renderer = layered_renderer
    layers = renderer.layers
    pose, expr, gaze = renderer.source_state
    plain = renderer.render(pose, expr, gaze)
    np.testing.assert_array_equal(renderer.render(pose, expr, gaze, camera=np.eye(2, 3)), plain)
    shift = np.array([[1.0, 0.0, 5.0], [0.0, 1.0, 0.0]])
    moved = renderer.render(pose, expr, gaze, camera=shift).astype(int)
    near_head = cv2.dilate((layers.alpha > 0.01).astype(np.uint8), np.ones((25, 25), np.uint8)) > 0
    away = ~near_head
    away[:, :8] = False  # where the plate's edge is repeated
    assert away.sum() > 1000
    expected = np.roll(layers.plate, 5, axis=1).astype(int)
    np.testing.assert_array_equal(moved[away], expected[away])


def test_an_exposure_change_is_measured_as_a_gain_per_channel():
    scene = _shifted(_scene(), 0.0, 0.0)
    gain = np.array([1.25, 1.1, 0.9])
    dim = (scene.astype(np.float64) * 0.7).round().astype(np.uint8)  # room to brighten without clipping
    lit = np.clip(dim * gain, 0, 255).round().astype(np.uint8)
    frames = [dim] * 6 + [lit] * 6
    cam = measure_camera(frames, (SIZE, SIZE))
    np.testing.assert_allclose(cam.gain[:3], 1.0, atol=0.01)
    np.testing.assert_allclose(cam.gain[-3:], np.broadcast_to(gain, (3, 3)), atol=0.02)
    np.testing.assert_allclose(cam.motion, np.broadcast_to(np.eye(2, 3), (12, 2, 3)), atol=0.3)  # LK: brightness
    # relative to a reference in the lit part, the dim part is the darker one
    later = measure_camera(frames, (SIZE, SIZE), reference=10)
    np.testing.assert_allclose(later.gain[0], 1.0 / gain, atol=0.02)
    # off: no gain
    off = measure_camera(frames, (SIZE, SIZE), config=camera_module.CameraConfig(exposure=False))
    np.testing.assert_allclose(off.gain, 1.0)


def test_a_motion_that_does_not_explain_the_surroundings_is_not_followed(monkeypatch):
    """A still scene with a measured (wrong) pan: the plate stays still; a real pan is followed."""
    scene = _scene()
    still = [_shifted(scene, 0.0, 0.0)] * 30
    pan = np.array([[1.0, 0.0, 2.0], [0.0, 1.0, 0.0]])
    monkeypatch.setattr(camera_module, "track_step", lambda *a, **k: (pan, None))
    fooled = measure_camera(still, (SIZE, SIZE))
    assert fooled.trust.max() < 0.01
    np.testing.assert_allclose(estimate_camera(still, (SIZE, SIZE))[-1, :, 2], [58.0, 0.0], atol=1e-6)  # unchecked
    assert np.abs(fooled.motion[:, :, 2]).max() < 0.5
    monkeypatch.undo()
    panning = [_shifted(scene, 1.5 * t, 0.0) for t in range(10)]
    followed = measure_camera(panning, (SIZE, SIZE))
    np.testing.assert_allclose(followed.trust, 1.0)
    np.testing.assert_allclose(followed.motion[:, 0, 2], 1.5 * np.arange(10), atol=0.3)


def test_expose_multiplies_each_channel_and_saturates():
    frame = np.array([[[100, 200, 30], [250, 10, 0]]], np.uint8)
    gain = np.array([1.2, 0.5, 2.0])
    np.testing.assert_array_equal(expose(frame, gain), np.clip(np.round(frame * gain), 0, 255).astype(np.uint8))
    assert expose(frame, np.ones(3)) is frame


def test_the_meter_in_a_thread_gives_what_the_meter_in_line_gives_and_hands_on_its_error():
    scene = _scene()
    frames = [_shifted(scene, 1.2 * t, -0.5 * t) for t in range(10)]
    inline = measure_camera(frames, (SIZE, SIZE))
    with camera_module.BackgroundMeter(camera_module.CameraMeter()) as meter:
        for f in frames:
            meter.add(f)
        threaded = meter.result()
    for a, b in zip((inline.motion, inline.gain, inline.trust), (threaded.motion, threaded.gain, threaded.trust),
                    strict=True):
        np.testing.assert_array_equal(a, b)
    broken = camera_module.BackgroundMeter(camera_module.CameraMeter())
    broken.add(frames[0])
    broken.add(np.zeros((3,), np.uint8))  # not a frame
    with pytest.raises(Exception):  # noqa: B017 - whatever OpenCV raises, the caller sees it
        broken.result()


def test_the_tracking_pass_shows_each_frame_once_with_its_mesh(source_face):
    from forgebench.generator.render.renderer import FaceRenderer
    from forgebench.generator.video_input import track_video

    renderer = FaceRenderer(source_face)
    pose, expr, gaze = renderer.source_state
    frames = [renderer.render(pose + [2.0 * t, 0, 0, 0, 0, 0], expr, gaze) for t in range(5)]
    seen = []
    track = track_video(iter(frames), 25.0, on_frame=lambda f, mesh: seen.append((f, mesh)))
    assert len(seen) == 5 and all(a is b for a, (b, _) in zip(frames, seen, strict=True))
    np.testing.assert_allclose(np.stack([m for _, m in seen]), track.landmarks, atol=1e-5)
