"""MediaPipe face mesh (478 points with refined irises, or 468 without) on images and video frames.

Uses the legacy ``mediapipe.solutions.face_mesh`` graph, whose models ship inside
the ``mediapipe==0.10.21`` wheel, so nothing is downloaded. In video mode the
graph tracks the face between frames instead of re-detecting it on every frame.

``refine_landmarks=False`` runs the plain landmark model instead of the one with
attention (irises and refined lips/eyes): about 1 ms less per frame here, for callers
that need no irises (detector crops). Landmarks leave the graph as protobuf messages;
:func:`landmarks_array` reads them from their serialised bytes in one numpy view rather
than touching 478 Python objects (0.25 ms instead of 0.7 ms per face here).
"""

from __future__ import annotations

import importlib
import os
import sys
import types
import weakref
from dataclasses import dataclass

import numpy as np

from forgebench.quiet import StderrHold, verbose

# MediaPipe's C++ core logs to stderr at import; keep the CLI's output readable (forgebench.quiet).
if not verbose():
    os.environ.setdefault("GLOG_minloglevel", "2")
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

N_POINTS_REFINED = 478
N_POINTS_PLAIN = 468

# A serialised NormalizedLandmark holding x, y, z only (proto2, fields 1-3, float32) inside the repeated field 1
# of NormalizedLandmarkList: 0x0A len=15 | 0x0D x(4) | 0x15 y(4) | 0x1D z(4) -> 17 bytes per point.
_RECORD = 17
_TAGS = {0: 0x0A, 1: 0x0F, 2: 0x0D, 7: 0x15, 12: 0x1D}
_XYZ_BYTES = [3, 4, 5, 6, 8, 9, 10, 11, 13, 14, 15, 16]


def import_mediapipe() -> types.ModuleType:
    """``import mediapipe``, without importing matplotlib on the way.

    ``mediapipe/__init__`` imports every legacy solution, and ``solutions.drawing_utils`` imports
    ``matplotlib.pyplot`` for one plotting helper (``plot_landmarks``) that forgebench never calls;
    that costs ~0.45 s of CPU in every process that tracks faces. While mediapipe loads, a stand-in
    ``matplotlib.pyplot`` module answers its import; the stand-in forwards any attribute to the real
    pyplot (imported then), and leaves ``sys.modules`` as soon as mediapipe has loaded, so later
    imports of matplotlib get the real thing.
    """
    if "mediapipe" in sys.modules or "matplotlib.pyplot" in sys.modules:
        import mediapipe

        return mediapipe
    stand_ins = {name: types.ModuleType(name) for name in ("matplotlib", "matplotlib.pyplot")
                 if name not in sys.modules}
    for name, module in stand_ins.items():
        module.__getattr__ = lambda attr, name=name: getattr(importlib.import_module(name), attr)  # type: ignore
        sys.modules[name] = module
    if "matplotlib" in stand_ins:
        stand_ins["matplotlib"].pyplot = stand_ins["matplotlib.pyplot"]  # type: ignore[attr-defined]
    try:
        import mediapipe
    finally:
        for name, module in stand_ins.items():
            if sys.modules.get(name) is module:
                del sys.modules[name]
    return mediapipe


def landmarks_array(landmark_list: object) -> np.ndarray:
    """[N, 3] float32 normalised (x, y, z) of a ``NormalizedLandmarkList`` message.

    Reads the serialised bytes as fixed 17-byte records when every point has exactly x, y, z set
    (what the face mesh emits); any other layout (visibility/presence set, an unset coordinate)
    falls back to reading the fields one by one, so the result never depends on the fast path.
    """
    points = landmark_list.landmark  # type: ignore[attr-defined]
    n = len(points)
    raw = landmark_list.SerializeToString()  # type: ignore[attr-defined]
    if n and len(raw) == _RECORD * n:
        rec = np.frombuffer(raw, np.uint8).reshape(n, _RECORD)
        if all((rec[:, col] == tag).all() for col, tag in _TAGS.items()):
            return np.ascontiguousarray(rec[:, _XYZ_BYTES]).view("<f4").astype(np.float32, copy=False)
    return np.array([(p.x, p.y, p.z) for p in points], dtype=np.float32).reshape(n, 3)


@dataclass
class FaceDetection:
    """One face: ``points`` [478, 3] (or [468, 3] unrefined) in pixels (x, y, depth scaled like x)."""

    points: np.ndarray

    @property
    def area(self) -> float:
        lo, hi = self.points[:, :2].min(0), self.points[:, :2].max(0)
        return float(np.prod(hi - lo))


class FaceMeshTracker:
    """Landmarks for every face in an RGB frame.

    Args:
        video: track across consecutive frames (True) or treat each image alone (False).
        max_faces: faces to look for; the largest is reported first.
        min_confidence: detection and tracking confidence.
        refine_landmarks: run the attention model (478 points: irises, refined eyes and lips; the
            default) or the plain one (468 points, faster). Points 0-467 index the same places in both.

    Use as a context manager, or call :meth:`close`.
    """

    def __init__(self, video: bool = True, max_faces: int = 1, min_confidence: float = 0.5, *,
                 refine_landmarks: bool = True) -> None:
        self.refine_landmarks = refine_landmarks
        self.n_points = N_POINTS_REFINED if refine_landmarks else N_POINTS_PLAIN
        # The graph's native code (absl, TFLite/XNNPACK) logs INFO/WARNING lines to descriptor 2 while it
        # loads, from its own threads, until the first frame is through: hold descriptor 2 from here to the
        # end of the first frame (forgebench.quiet; Python's stderr is not affected).
        self._hold = StderrHold().start()
        weakref.finalize(self, self._hold.stop)
        try:
            mp = import_mediapipe()
            self._mesh = mp.solutions.face_mesh.FaceMesh(
                static_image_mode=not video,
                max_num_faces=max_faces,
                refine_landmarks=refine_landmarks,
                min_detection_confidence=min_confidence,
                min_tracking_confidence=min_confidence,
            )
        except BaseException:
            self._hold.stop()
            raise

    def detect(self, rgb: np.ndarray) -> list[FaceDetection]:
        """All faces in ``rgb`` [H, W, 3] uint8, largest first."""
        height, width = rgb.shape[:2]
        try:
            result = self._mesh.process(np.ascontiguousarray(rgb))
        finally:
            self._hold.stop()  # the graph is up and has logged what it logs at start
        scale = np.array([width, height, width], dtype=np.float32)
        faces = [FaceDetection(points=landmarks_array(face) * scale) for face in result.multi_face_landmarks or []]
        if len(faces) > 1:
            faces.sort(key=lambda f: f.area, reverse=True)
        return faces

    def __call__(self, rgb: np.ndarray) -> np.ndarray | None:
        """[478, 3] (or [468, 3]) points of the largest face, or None."""
        faces = self.detect(rgb)
        return faces[0].points if faces else None

    def close(self) -> None:
        self._hold.stop()
        self._mesh.close()

    def __enter__(self) -> FaceMeshTracker:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
