"""The analyzer: images and videos -> pose, expression and gaze (a MotionTrack).

The same measurement runs on real videos, on generated videos, and on the
generator's source image, so every part compares like with like.
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from forgebench.errors import NoFaceError
from forgebench.media import face_geometry as fg
from forgebench.records import MotionTrack

# Blinks are closure relative to the subject's open eye; in a video the open eye
# is a high percentile of the openness over the clip (blinks are brief).
OPEN_EYE_PERCENTILE = 90


@dataclass
class FaceAnalysis:
    """A still image's face: landmarks [478, 3] px, canonical mesh, pose [6], expression [7], gaze [2]."""

    landmarks: np.ndarray
    canonical: np.ndarray
    pose: np.ndarray
    expression: np.ndarray
    gaze: np.ndarray
    eye_open_ref: np.ndarray
    width: int
    height: int
    n_faces: int


def analyze_image(image: np.ndarray, *, name: str = "image") -> FaceAnalysis:
    """Analyze the largest face of ``image`` [H, W, 3] uint8 RGB.

    Raises :class:`NoFaceError` when there is none; several faces use the largest
    (``n_faces`` says how many were found).
    """
    from forgebench.media.face_mesh import FaceMeshTracker

    height, width = image.shape[:2]
    with FaceMeshTracker(video=False, max_faces=4) as tracker:
        faces = tracker.detect(image)
    if not faces:
        raise NoFaceError(f"no face found in {name}: give a portrait with a clearly visible, roughly frontal face")
    points = faces[0].points
    canonical, pose = fg.canonicalize(points, width, height)
    eye_open = fg.eye_openness(canonical)
    expression, gaze = fg.measure_expression(canonical, eye_open)
    return FaceAnalysis(points, canonical, pose, expression, gaze, eye_open, width, height, len(faces))


def track_from_landmarks(
    landmarks: np.ndarray, valid: np.ndarray, fps: float, width: int, height: int, **meta: object
) -> MotionTrack:
    """Pure geometry: landmarks [T, 478, 3] px (+ valid mask) -> MotionTrack.

    Frames without a face are filled by linear interpolation between their valid
    neighbours (so velocities stay finite) and flagged ``valid=False``.
    """
    landmarks = np.asarray(landmarks, np.float64)
    valid = np.asarray(valid, bool)
    n = len(landmarks)
    if n == 0 or not valid.any():
        track = MotionTrack.zeros(n, fps, **meta)
        track.valid[:] = False
        return track
    canonical, pose = fg.canonicalize(landmarks[valid], width, height)
    eye_ref = np.percentile(fg.eye_openness(canonical), OPEN_EYE_PERCENTILE, axis=0)
    expression, gaze = fg.measure_expression(canonical, eye_ref)
    features = np.concatenate([pose, expression, gaze], axis=1)
    idx = np.flatnonzero(valid)
    full = np.empty((n, features.shape[1]))
    for j in range(features.shape[1]):
        full[:, j] = np.interp(np.arange(n), idx, features[:, j])
    filled = landmarks.copy()
    filled[~valid] = np.nan
    meta = {**meta, "eye_open_ref": eye_ref.tolist(), "width": width, "height": height, "coverage": float(valid.mean())}
    return MotionTrack(
        fps=fps,
        pose=full[:, :6],
        expression=full[:, 6:13],
        gaze=full[:, 13:15],
        valid=valid,
        landmarks=np.nan_to_num(filled, nan=0.0),
        meta=meta,
    )


def analyze_frames(frames: Iterable[np.ndarray], fps: float, *, progress: bool = False, total: int | None = None,
                   on_frame: Callable[[np.ndarray, np.ndarray | None], None] | None = None,
                   **meta: object) -> MotionTrack:
    """Track the largest face through ``frames`` (RGB uint8) and measure each frame.

    ``on_frame(frame, mesh or None)`` is called with each frame as it is tracked (a reenactment's camera
    estimate rides on this pass instead of decoding the video again)."""
    from forgebench.media.face_mesh import FaceMeshTracker
    from forgebench.progress import tqdm

    points: list[np.ndarray] = []
    valid: list[bool] = []
    size = (0, 0)
    with FaceMeshTracker(video=True, max_faces=1) as tracker:
        for frame in tqdm(frames, total=total, disable=not progress, unit="frame", desc="analyze", file=sys.stderr):
            size = (frame.shape[1], frame.shape[0])
            found = tracker(frame)
            if on_frame is not None:
                on_frame(frame, found)
            valid.append(found is not None)
            points.append(found if found is not None else np.zeros((478, 3), np.float32))
    landmarks = np.stack(points) if points else np.zeros((0, 478, 3), np.float32)
    return track_from_landmarks(landmarks, np.array(valid, bool), fps, size[0], size[1], **meta)


def analyze_video(source: str | Path | np.ndarray, fps: float | None = None, *, progress: bool = False) -> MotionTrack:
    """MotionTrack of a video file, or of frames [T, H, W, 3] at ``fps``."""
    if isinstance(source, np.ndarray):
        if fps is None:
            raise ValueError("analyze_video needs fps when given frames")
        return analyze_frames(source, fps, progress=progress, total=len(source))
    from forgebench.media.video import iter_frames, probe_video

    info = probe_video(source)
    return analyze_frames(
        iter_frames(source), fps or info.fps, progress=progress, total=info.n_frames or None, source=str(source)
    )
