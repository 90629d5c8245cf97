"""``forgebench bench generate``: frames per second per stage, end to end, first-frame latency.

Stages are timed in isolation on the same inputs (so each figure is that
stage's own cost), in wall time and in CPU time (the process's, all threads: what a
stage costs whatever else the machine runs), and then the whole pipeline runs as
users run it (render in a worker thread overlapping watermark + encode); last,
``forgebench generate`` runs as a separate process, start-up included. The load
average is reported beside them: on a shared machine the wall figures follow it.
Speed is reported, never asserted.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np


def _rate(n: int, seconds: float) -> float:
    return n / seconds if seconds > 0 else float("inf")


@contextlib.contextmanager
def _stage(out: dict[str, float], name: str, n: int):
    """Record ``name``: frames per wall second (``{name}_fps``) and CPU milliseconds a frame (``{name}_cpu_ms``)."""
    from forgebench.generator.pipeline import Stopwatch

    timings: dict[str, float] = {}
    with Stopwatch(timings)(name):
        yield
    out[f"{name}_fps"] = _rate(n, timings[name])
    out[f"{name}_cpu_ms"] = 1000.0 * timings["cpu_" + name] / max(n, 1)


def whole_process(image: np.ndarray, audio: np.ndarray, size: int, fps: float, preset: str, motion: str,
                  runs: int = 1) -> dict[str, float]:
    """``forgebench generate`` as a new process (start-up included): median wall and CPU seconds of ``runs``."""
    from forgebench.media.audio import write_wav
    from forgebench.media.image import save_image

    walls, cpus = [], []
    with tempfile.TemporaryDirectory() as tmp:
        save_image(Path(tmp) / "portrait.png", image)
        write_wav(Path(tmp) / "speech.wav", audio, 16000)
        cmd = [sys.executable, "-m", "forgebench", "generate", "--image", str(Path(tmp) / "portrait.png"),
               "--audio", str(Path(tmp) / "speech.wav"), "-o", str(Path(tmp) / "out.mp4"), "-q",
               "--size", str(size), "--fps", str(fps), "--preset", preset, "--motion", motion]
        for _ in range(runs):
            before = resource.getrusage(resource.RUSAGE_CHILDREN)
            t0 = time.perf_counter()
            subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL)
            walls.append(time.perf_counter() - t0)
            after = resource.getrusage(resource.RUSAGE_CHILDREN)
            cpus.append(after.ru_utime + after.ru_stime - before.ru_utime - before.ru_stime)
    return {"process_wall_s": float(np.median(walls)), "process_cpu_s": float(np.median(cpus))}


def run_generate_bench(size: int = 512, fps: float = 25.0, seconds: float = 10.0, preset: str = "veryfast",
                       motion: str = "procedural", image: np.ndarray | None = None,
                       audio: np.ndarray | None = None, process_runs: int = 1) -> dict[str, float]:
    import cv2

    from forgebench.generator.analyze import AnalyzerConfig, SourceAnalyzer
    from forgebench.generator.audio_features import extract_audio_features
    from forgebench.generator.config import GenerationConfig
    from forgebench.generator.defaults import default_portrait
    from forgebench.generator.motion import motion_registry
    from forgebench.generator.motion.base import SourceState
    from forgebench.generator.pipeline import TalkingFacePipeline, one_blas_thread
    from forgebench.generator.render.renderer import FaceRenderer
    from forgebench.media.synthetic import speech_like
    from forgebench.media.video import VideoWriter
    from forgebench.provenance.ecc import Payload
    from forgebench.provenance.watermark import Watermarker

    image = default_portrait() if image is None else image
    audio = speech_like(seconds) if audio is None else audio
    out: dict[str, float] = {"size": size, "fps": fps, "audio_seconds": len(audio) / 16000,
                             "load_average_start": os.getloadavg()[0]}
    with one_blas_thread():  # as the pipeline runs
        t0 = time.perf_counter()
        source = SourceAnalyzer(AnalyzerConfig(size=size))(image)
        out["analyze_s"] = time.perf_counter() - t0
        t0 = time.perf_counter()
        renderer = FaceRenderer(source)
        out["renderer_setup_s"] = time.perf_counter() - t0
        n = round(len(audio) / 16000 * fps)
        with _stage(out, "audio_features", n):
            features = extract_audio_features(audio, fps)
        n = features.n_frames
        out["frames"] = n
        state = SourceState(pose=source.face.pose, expression=source.face.expression, gaze=source.face.gaze)
        generator = motion_registry.build(motion)
        with _stage(out, "motion", n):
            track = generator.generate(features, state, 0)
        with _stage(out, "render", n):
            frames = [renderer.render(track.pose[t], track.expression[t], track.gaze[t]) for t in range(n)]
        wm = Watermarker()
        plan = wm.prepare(size, size, Payload.create(clip=1), fps=fps)
        with _stage(out, "watermark", n):
            marked = [wm.embed(f, i, plan) for i, f in enumerate(frames)]
    with tempfile.TemporaryDirectory() as tmp:
        with _stage(out, "encode", n), VideoWriter(Path(tmp) / "enc.mp4", fps, size, size, audio=audio,
                                                   preset=preset) as w:
            for f in marked:
                w.write(f)
        # The floor the issue names: one full-frame remap plus encoding, nothing else.
        grid = np.stack(np.meshgrid(np.arange(size, dtype=np.float32), np.arange(size, dtype=np.float32)), -1)
        shifted = grid + 0.5
        with _stage(out, "floor_remap_encode", n), VideoWriter(Path(tmp) / "floor.mp4", fps, size, size,
                                                               preset=preset) as w:
            for f in frames:
                w.write(cv2.remap(f, shifted[..., 0], shifted[..., 1], cv2.INTER_LINEAR))

        pipe = TalkingFacePipeline.from_config(GenerationConfig(size=size, fps=fps, motion=motion, preset=preset))
        t0, c0 = time.perf_counter(), time.process_time()
        result = pipe(image, audio, out=Path(tmp) / "e2e.mp4")
        total = time.perf_counter() - t0
        out["end_to_end_cpu_ms"] = 1000.0 * (time.process_time() - c0) / n
    out["end_to_end_fps"] = _rate(n, total)
    out["end_to_end_after_analysis_fps"] = _rate(n, total - result.timings["analyze"])
    out["first_frame_latency_ms"] = result.first_frame_latency * 1000
    out["realtime_factor"] = (n / fps) / total
    if process_runs > 0:
        out.update(whole_process(image, audio, size, fps, preset, motion, process_runs))
        out["process_fps"] = _rate(n, out["process_wall_s"])
    out["load_average_end"] = os.getloadavg()[0]
    return out


def cmd_bench_generate(args: argparse.Namespace) -> int:
    from forgebench.media.audio import load_audio
    from forgebench.media.image import load_image

    image = load_image(args.image) if args.image else None
    audio = load_audio(args.audio) if args.audio else None
    print(f"bench generate: {args.size}x{args.size} at {args.fps:g} fps, {args.seconds:g} s of audio "
          f"(preset {args.preset}) ...", file=sys.stderr)
    res = run_generate_bench(args.size, args.fps, args.seconds, args.preset, args.motion, image, audio,
                             process_runs=args.process_runs)

    def stage(name: str) -> str:
        return f"{res[name + '_fps']:.0f} frames/s  ({res[name + '_cpu_ms']:.2f} CPU ms a frame)"

    rows = [
        ("load average (1 min) at start", f"{res['load_average_start']:.2f}"),
        ("analyze source (once per identity)", f"{res['analyze_s'] * 1000:.0f} ms"),
        ("renderer setup (once per identity)", f"{res['renderer_setup_s'] * 1000:.0f} ms"),
        ("audio features", stage("audio_features")),
        ("motion", stage("motion")),
        ("render", stage("render")),
        ("watermark", stage("watermark")),
        ("encode H.264 + AAC", stage("encode")),
        ("floor: remap + encode", stage("floor_remap_encode")),
        ("end to end (incl. analysis)",
         f"{res['end_to_end_fps']:.0f} frames/s  ({res['end_to_end_cpu_ms']:.2f} CPU ms a frame)"),
        ("end to end (audio in -> MP4)", f"{res['end_to_end_after_analysis_fps']:.0f} frames/s"),
        ("first-frame latency", f"{res['first_frame_latency_ms']:.0f} ms"),
        ("real-time factor", f"{res['realtime_factor']:.1f}x"),
    ]
    if "process_wall_s" in res:
        rows.append(("whole process: forgebench generate",
                     f"{res['process_fps']:.0f} frames/s  ({res['process_wall_s']:.2f} s wall, "
                     f"{res['process_cpu_s']:.2f} CPU s; median of {args.process_runs})"))
    rows.append(("load average (1 min) at end", f"{res['load_average_end']:.2f}"))
    report(rows, res, args.output)
    return 0


def report(rows: list[tuple[str, str]], figures: dict, output: Path | None) -> None:
    """Print ``(name, value)`` rows as two aligned columns; write ``figures`` as JSON to ``output`` if given."""
    width = max(len(r[0]) for r in rows)
    for name, value in rows:
        print(f"{name:<{width}}  {value}")
    if output:
        from forgebench.atomic import atomic_output

        with atomic_output(output) as tmp:
            tmp.write_text(json.dumps(figures, indent=2))
