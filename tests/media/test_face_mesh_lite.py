"""LiteFaceMeshTracker: MediaPipe's plain face-landmark network tracked without the graph.

The geometry is checked in closed form (region from landmarks, crop matrix vs projection), and the
tracker against MediaPipe's own graph in video mode on a moving face: the same network on (nearly)
the same crops must give the same landmarks.
"""

from __future__ import annotations

import math

import numpy as np
import pytest

from forgebench.media.face_mesh import N_POINTS_PLAIN, FaceMeshTracker
from forgebench.media.face_mesh_lite import (
    EYE_OUTER_LEFT,
    EYE_OUTER_RIGHT,
    INPUT_SIZE,
    ROI_SCALE,
    LiteFaceMeshTracker,
    Roi,
    normalize_radians,
    project_landmarks,
    roi_from_landmarks,
    roi_to_input_matrix,
)


@pytest.mark.parametrize("angle", [0.0, 1.0, math.pi, -math.pi, 3 * math.pi, -2.5, 7.0])
def test_normalize_radians_wraps_into_minus_pi_to_pi(angle):
    out = normalize_radians(angle)
    assert -math.pi <= out < math.pi
    assert math.isclose(math.cos(out), math.cos(angle), abs_tol=1e-12)
    assert math.isclose(math.sin(out), math.sin(angle), abs_tol=1e-12)


def _points(cx: float, cy: float, half_w: float, half_h: float, tilt: float, w: int, h: int) -> np.ndarray:
    """Normalised landmarks: a box with corners and the two eye corners on a line tilted by ``tilt``."""
    pts = np.zeros((N_POINTS_PLAIN, 3), np.float64)
    pts[:, 0], pts[:, 1] = cx, cy
    pts[0, :2] = (cx - half_w, cy - half_h)
    pts[1, :2] = (cx + half_w, cy + half_h)
    dx, dy = 30 * math.cos(tilt), 30 * math.sin(tilt)  # pixels, y down
    pts[EYE_OUTER_LEFT, :2] = (cx - dx / w, cy - dy / h)
    pts[EYE_OUTER_RIGHT, :2] = (cx + dx / w, cy + dy / h)
    return pts


@pytest.mark.parametrize("tilt", [0.0, 0.3, -0.5])
def test_region_is_the_square_box_of_the_landmarks_rotated_to_the_eye_line(tilt):
    w, h = 640, 480
    roi = roi_from_landmarks(_points(0.5, 0.4, 0.1, 0.2, tilt, w, h), w, h)
    assert math.isclose(roi.x_center, 0.5) and math.isclose(roi.y_center, 0.4)
    # MediaPipe's rotation is the angle that levels the eye line: -atan2(-dy, dx) = tilt (y down)
    assert math.isclose(roi.rotation, tilt, abs_tol=1e-9)
    long_side = max(0.2 * w, 0.4 * h)  # pixels
    assert math.isclose(roi.width * w, ROI_SCALE * long_side) and math.isclose(roi.height * h, ROI_SCALE * long_side)


@pytest.mark.parametrize("rotation", [0.0, 0.4, -1.2])
def test_crop_matrix_and_projection_are_inverse_maps(rotation):
    """A pixel sent into the network's 192x192 input by the crop matrix comes back by the projection."""
    w, h = 640, 480
    roi = Roi(0.45, 0.55, 0.3, 0.4, rotation)
    rng = np.random.default_rng(0)
    pix = rng.uniform([200, 150], [400, 350], (50, 2))
    m = roi_to_input_matrix(roi, w, h)
    inp = pix @ m[:, :2].T + m[:, 2]
    raw = np.concatenate([inp, np.full((50, 1), 7.0)], 1)
    back = project_landmarks(raw.reshape(-1), roi, w, h)
    np.testing.assert_allclose(back[:, 0], pix[:, 0], atol=1e-2)
    np.testing.assert_allclose(back[:, 1], pix[:, 1], atol=1e-2)
    np.testing.assert_allclose(back[:, 2], 7.0 / INPUT_SIZE * roi.width * w, rtol=1e-5)  # z scales like x


@pytest.mark.parametrize("roi", [Roi(0.45, 0.55, 0.3, 0.4, 0.4), Roi(0.5, 0.5, 0.2, 0.5, -2.0)])
def test_crop_matrix_equals_mediapipes_corner_construction(roi):
    """ImageToTensorCalculator fits the map to cv2.boxPoints' corners (bottom-left, top-left, top-right, ...)."""
    import cv2

    w, h = 640, 480
    box = cv2.boxPoints(((roi.x_center * w, roi.y_center * h), (roi.width * w, roi.height * h),
                         math.degrees(roi.rotation)))
    s = float(INPUT_SIZE)
    ref = cv2.getPerspectiveTransform(box.astype(np.float32), np.float32([[0, s], [0, 0], [s, 0], [s, s]]))
    ref = ref / ref[2, 2]
    np.testing.assert_allclose(ref[2, :2], 0.0, atol=1e-6)  # affine after all
    np.testing.assert_allclose(roi_to_input_matrix(roi, w, h), ref[:2], rtol=1e-4, atol=1e-3)


def test_projection_is_mediapipes_two_steps():
    """TensorsToLandmarks (/192) then LandmarkProjection, written out as MediaPipe does, in normalised units."""
    w, h = 640, 480
    roi = Roi(0.4, 0.6, 0.3, 0.35, 0.7)
    raw = np.random.default_rng(1).uniform(0, INPUT_SIZE, (N_POINTS_PLAIN, 3))
    x, y, z = (raw / INPUT_SIZE).T
    c, s = math.cos(roi.rotation), math.sin(roi.rotation)
    nx = (c * (x - 0.5) - s * (y - 0.5)) * roi.width + roi.x_center
    ny = (s * (x - 0.5) + c * (y - 0.5)) * roi.height + roi.y_center
    nz = z * roi.width
    out = project_landmarks(raw.reshape(-1), roi, w, h)
    np.testing.assert_allclose(out, np.stack([nx * w, ny * h, nz * w], 1), rtol=1e-5, atol=1e-3)


def test_region_corners_map_onto_the_input_square():
    w, h = 512, 512
    roi = Roi(0.5, 0.5, 0.5, 0.5, 0.0)
    m = roi_to_input_matrix(roi, w, h)
    top_left = np.array([128.0, 128.0]) @ m[:, :2].T + m[:, 2]
    bottom_right = np.array([384.0, 384.0]) @ m[:, :2].T + m[:, 2]
    np.testing.assert_allclose(top_left, [0, 0], atol=1e-3)
    np.testing.assert_allclose(bottom_right, [INPUT_SIZE, INPUT_SIZE], atol=1e-3)


def _moving_face(n: int = 12) -> list[np.ndarray]:
    """The default portrait drifting and turning a little, frame by frame (512x512)."""
    import cv2

    from forgebench.generator.defaults import default_portrait

    img = cv2.resize(default_portrait(), (512, 512), interpolation=cv2.INTER_AREA)
    frames = []
    for t in range(n):
        m = cv2.getRotationMatrix2D((256, 256), 1.5 * math.sin(t / 3), 1.0 + 0.01 * t)
        m[:, 2] += (2.0 * t, -1.0 * t)
        frames.append(cv2.warpAffine(img, m, (512, 512), borderMode=cv2.BORDER_REFLECT101))
    return frames


def test_tracks_like_mediapipes_graph():
    frames = _moving_face()
    with FaceMeshTracker(video=True, max_faces=1, refine_landmarks=False) as graph, LiteFaceMeshTracker() as lite:
        assert lite.n_points == N_POINTS_PLAIN and not lite.refine_landmarks
        ref = [graph(f) for f in frames]
        ours = [lite(f) for f in frames]
    assert all(p is not None for p in ref) and all(p is not None for p in ours)
    iod = np.linalg.norm(ref[0][EYE_OUTER_LEFT, :2] - ref[0][EYE_OUTER_RIGHT, :2])
    d = np.stack([np.linalg.norm(a[:, :2] - b[:, :2], axis=1) for a, b in zip(ref, ours)])
    np.testing.assert_array_equal(d[0], 0.0)  # frame 0 is acquired by the graph itself
    # later frames: the same network on crops that differ only in interpolation rounding
    assert d.mean() < 0.005 * iod and d.max() < 0.05 * iod, (d.mean(), d.max(), iod)
    # and tracking actually follows the motion (2 px per frame to the right)
    assert ours[-1][:, 0].mean() - ours[0][:, 0].mean() > 15


def test_loses_the_face_on_a_blank_frame_then_reacquires():
    frames = _moving_face(4)
    blank = np.full_like(frames[0], 127)
    with LiteFaceMeshTracker() as lite:
        got = [lite(f) for f in (frames[0], frames[1], blank, frames[2], frames[3])]
    assert got[0] is not None and got[1] is not None
    assert got[2] is None  # presence score below threshold: no face on that frame
    assert got[3] is not None and got[4] is not None  # acquired again by detection


def test_refuses_zero_threads():
    from forgebench.errors import InputError

    with pytest.raises(InputError, match="threads must be at least 1"):
        LiteFaceMeshTracker(threads=0)


def test_a_missing_runtime_is_one_line(monkeypatch):
    import sys

    from forgebench.errors import InputError

    monkeypatch.setitem(sys.modules, "ai_edge_litert.interpreter", None)  # import now raises ImportError
    with pytest.raises(InputError, match="needs ai-edge-litert"):
        LiteFaceMeshTracker()
