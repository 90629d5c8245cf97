"""FaceMeshTracker: the fast protobuf reader equals field-by-field reading; refined vs plain meshes."""

from __future__ import annotations

import numpy as np
import pytest

from forgebench.media.face_mesh import N_POINTS_PLAIN, N_POINTS_REFINED, FaceMeshTracker, landmarks_array


def _message(points: np.ndarray, visibility_at: int | None = None):
    from mediapipe.framework.formats import landmark_pb2

    msg = landmark_pb2.NormalizedLandmarkList()
    for i, (x, y, z) in enumerate(points):
        lm = msg.landmark.add(x=float(x), y=float(y), z=float(z))
        if i == visibility_at:
            lm.visibility = 0.5
    return msg


def _slow(msg) -> np.ndarray:
    return np.array([(p.x, p.y, p.z) for p in msg.landmark], np.float32).reshape(-1, 3)


@pytest.mark.parametrize("visibility_at", [None, 3])
def test_landmarks_array_equals_reading_each_field(visibility_at):
    rng = np.random.default_rng(0)
    pts = rng.normal(0.5, 0.3, (N_POINTS_REFINED, 3)).astype(np.float32)
    pts[7] = 0.0  # explicit zeros are still serialised (proto2)
    msg = _message(pts, visibility_at)  # visibility set: the byte layout changes, the fallback must be used
    out = landmarks_array(msg)
    assert out.dtype == np.float32 and out.shape == (N_POINTS_REFINED, 3)
    np.testing.assert_array_equal(out, _slow(msg))
    np.testing.assert_array_equal(out, pts)


def test_landmarks_array_of_an_empty_list():
    assert landmarks_array(_message(np.zeros((0, 3)))).shape == (0, 3)


def _portrait() -> np.ndarray:
    import cv2

    from forgebench.generator.defaults import default_portrait

    return cv2.resize(default_portrait(), (256, 256), interpolation=cv2.INTER_AREA)


def test_refined_and_plain_meshes_agree_on_shared_points():
    img = _portrait()
    with FaceMeshTracker(video=False) as refined, FaceMeshTracker(video=False, refine_landmarks=False) as plain:
        a, b = refined(img), plain(img)
        assert refined.n_points == N_POINTS_REFINED and plain.n_points == N_POINTS_PLAIN
    assert a.shape == (N_POINTS_REFINED, 3) and b.shape == (N_POINTS_PLAIN, 3)
    # same face, same 468 indices: the two models place them within a few pixels of each other
    iod = np.linalg.norm(a[33, :2] - a[263, :2])
    assert np.median(np.linalg.norm(a[:N_POINTS_PLAIN, :2] - b[:, :2], axis=1)) < 0.05 * iod


def test_default_keeps_the_478_point_api():
    img = _portrait()
    with FaceMeshTracker() as tracker:  # positional defaults as before: video, one face, 0.5
        faces = tracker.detect(img)
        assert len(faces) == 1 and faces[0].points.shape == (N_POINTS_REFINED, 3)
        np.testing.assert_allclose(tracker(img), tracker(img), atol=2.0)  # tracking mode, still frame


def test_mediapipe_loads_without_matplotlib_and_leaves_the_real_one_importable():
    import json
    import subprocess
    import sys

    script = (
        "import json, sys\n"
        "from forgebench.media.face_mesh import import_mediapipe\n"
        "mp = import_mediapipe()\n"
        "before = 'matplotlib.pyplot' in sys.modules or 'matplotlib' in sys.modules\n"
        "import matplotlib.pyplot as plt\n"
        "from mediapipe.python.solutions import drawing_utils\n"
        "print(json.dumps([before, callable(plt.figure), drawing_utils.plt.figure is plt.figure,"
        " hasattr(mp.solutions, 'face_mesh')]))\n"
    )
    proc = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert json.loads(proc.stdout.strip().splitlines()[-1]) == [False, True, True, True]
