"""``forgebench bench generate``: frames per second per stage, end to end, first-frame latency.

Stages are timed in isolation on the same inputs (so each figure is that
stage's own cost) and then the whole pipeline runs as users run it (render in a
worker thread overlapping watermark + encode). Speed is reported, never asserted.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

import numpy as np


def _rate(n: int, seconds: float) -> float:
    return n / seconds if seconds > 0 else float("inf")


def run_generate_bench(size: int = 512, fps: float = 25.0, seconds: float = 10.0, preset: str = "veryfast",
                       motion: str = "procedural", image: np.ndarray | None = None,
                       audio: np.ndarray | None = None) -> dict[str, float]:
    import cv2

    from forgebench.generator.analyze import AnalyzerConfig, SourceAnalyzer
    from forgebench.generator.audio_features import extract_audio_features
    from forgebench.generator.config import GenerationConfig
    from forgebench.generator.defaults import default_portrait
    from forgebench.generator.motion import motion_registry
    from forgebench.generator.motion.base import SourceState
    from forgebench.generator.pipeline import TalkingFacePipeline
    from forgebench.generator.render.renderer import FaceRenderer
    from forgebench.media.synthetic import speech_like
    from forgebench.media.video import VideoWriter
    from forgebench.provenance.ecc import Payload
    from forgebench.provenance.watermark import Watermarker

    image = default_portrait() if image is None else image
    audio = speech_like(seconds) if audio is None else audio
    out: dict[str, float] = {"size": size, "fps": fps, "audio_seconds": len(audio) / 16000}
    t0 = time.perf_counter()
    source = SourceAnalyzer(AnalyzerConfig(size=size))(image)
    out["analyze_s"] = time.perf_counter() - t0
    t0 = time.perf_counter()
    renderer = FaceRenderer(source)
    out["renderer_setup_s"] = time.perf_counter() - t0

    t0 = time.perf_counter()
    features = extract_audio_features(audio, fps)
    n = features.n_frames
    out["frames"] = n
    out["audio_features_fps"] = _rate(n, time.perf_counter() - t0)
    state = SourceState(pose=source.face.pose, expression=source.face.expression, gaze=source.face.gaze)
    generator = motion_registry.build(motion)
    t0 = time.perf_counter()
    track = generator.generate(features, state, 0)
    out["motion_fps"] = _rate(n, time.perf_counter() - t0)

    t0 = time.perf_counter()
    frames = [renderer.render(track.pose[t], track.expression[t], track.gaze[t]) for t in range(n)]
    out["render_fps"] = _rate(n, time.perf_counter() - t0)
    wm = Watermarker()
    plan = wm.prepare(size, size, Payload.create(clip=1), fps=fps)
    t0 = time.perf_counter()
    marked = [wm.embed(f, i, plan) for i, f in enumerate(frames)]
    out["watermark_fps"] = _rate(n, time.perf_counter() - t0)
    with tempfile.TemporaryDirectory() as tmp:
        t0 = time.perf_counter()
        with VideoWriter(Path(tmp) / "enc.mp4", fps, size, size, audio=audio, preset=preset) as w:
            for f in marked:
                w.write(f)
        out["encode_fps"] = _rate(n, time.perf_counter() - t0)
        # The floor the issue names: one full-frame remap plus encoding, nothing else.
        grid = np.stack(np.meshgrid(np.arange(size, dtype=np.float32), np.arange(size, dtype=np.float32)), -1)
        shifted = grid + 0.5
        t0 = time.perf_counter()
        with VideoWriter(Path(tmp) / "floor.mp4", fps, size, size, preset=preset) as w:
            for f in frames:
                w.write(cv2.remap(f, shifted[..., 0], shifted[..., 1], cv2.INTER_LINEAR))
        out["floor_remap_encode_fps"] = _rate(n, time.perf_counter() - t0)

        pipe = TalkingFacePipeline.from_config(GenerationConfig(size=size, fps=fps, motion=motion, preset=preset))
        t0 = time.perf_counter()
        result = pipe(image, audio, out=Path(tmp) / "e2e.mp4")
        total = time.perf_counter() - t0
    out["end_to_end_fps"] = _rate(n, total)
    out["end_to_end_after_analysis_fps"] = _rate(n, total - result.timings["analyze"])
    out["first_frame_latency_ms"] = result.first_frame_latency * 1000
    out["realtime_factor"] = (n / fps) / total
    return out


def cmd_bench_generate(args: argparse.Namespace) -> int:
    from forgebench.media.audio import load_audio
    from forgebench.media.image import load_image

    image = load_image(args.image) if args.image else None
    audio = load_audio(args.audio) if args.audio else None
    print(f"bench generate: {args.size}x{args.size} at {args.fps:g} fps, {args.seconds:g} s of audio "
          f"(preset {args.preset}) ...", file=sys.stderr)
    res = run_generate_bench(args.size, args.fps, args.seconds, args.preset, args.motion, image, audio)
    rows = [
        ("analyze source (once per identity)", f"{res['analyze_s'] * 1000:.0f} ms"),
        ("renderer setup (once per identity)", f"{res['renderer_setup_s'] * 1000:.0f} ms"),
        ("audio features", f"{res['audio_features_fps']:.0f} frames/s"),
        ("motion", f"{res['motion_fps']:.0f} frames/s"),
        ("render", f"{res['render_fps']:.0f} frames/s"),
        ("watermark", f"{res['watermark_fps']:.0f} frames/s"),
        ("encode H.264 + AAC", f"{res['encode_fps']:.0f} frames/s"),
        ("floor: remap + encode", f"{res['floor_remap_encode_fps']:.0f} frames/s"),
        ("end to end (incl. analysis)", f"{res['end_to_end_fps']:.0f} frames/s"),
        ("end to end (audio in -> MP4)", f"{res['end_to_end_after_analysis_fps']:.0f} frames/s"),
        ("first-frame latency", f"{res['first_frame_latency_ms']:.0f} ms"),
        ("real-time factor", f"{res['realtime_factor']:.1f}x"),
    ]
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
