"""MediaPipe face mesh (478 points, refined irises) on images and video frames.

Uses the legacy ``mediapipe.solutions.face_mesh`` graph, whose models ship inside
the ``mediapipe==0.10.21`` wheel, so nothing is downloaded. In video mode the
graph tracks the face between frames (about 5.5 ms per 512² frame here) instead
of re-detecting it on every frame.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

import numpy as np

# MediaPipe's C++ core logs to stderr at import; keep the CLI's output readable.
os.environ.setdefault("GLOG_minloglevel", "2")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")


@dataclass
class FaceDetection:
    """One face: ``points`` [478, 3] in pixels (x, y, depth scaled like x) and its box area."""

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

    Use as a context manager, or call :meth:`close`.
    """

    def __init__(self, video: bool = True, max_faces: int = 1, min_confidence: float = 0.5) -> None:
        import mediapipe as mp

        self._mesh = mp.solutions.face_mesh.FaceMesh(
            static_image_mode=not video,
            max_num_faces=max_faces,
            refine_landmarks=True,
            min_detection_confidence=min_confidence,
            min_tracking_confidence=min_confidence,
        )

    def detect(self, rgb: np.ndarray) -> list[FaceDetection]:
        """All faces in ``rgb`` [H, W, 3] uint8, largest first."""
        height, width = rgb.shape[:2]
        result = self._mesh.process(np.ascontiguousarray(rgb))
        faces = []
        for face in result.multi_face_landmarks or []:
            pts = np.array([(p.x, p.y, p.z) for p in face.landmark], dtype=np.float32)
            pts *= np.array([width, height, width], dtype=np.float32)
            faces.append(FaceDetection(points=pts))
        return sorted(faces, key=lambda f: f.area, reverse=True)

    def __call__(self, rgb: np.ndarray) -> np.ndarray | None:
        """[478, 3] points of the largest face, or None."""
        faces = self.detect(rgb)
        return faces[0].points if faces else None

    def close(self) -> None:
        self._mesh.close()

    def __enter__(self) -> FaceMeshTracker:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
