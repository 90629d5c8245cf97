"""``forgebench bench self-reenact``: in-process speed of self-reenactment per stage (frames in, frames out).

Registered in ``generator/commands.py`` (the argparse tree loads no numpy); the work is here.

Self-reenactment is the fidelity benchmark's aligned mode: the first frame of a clip driven by the
clip itself (``generate --image FIRST_FRAME --driving CLIP --crop full``). "In process" is what the
generator itself costs once the frames are decoded: tracking the driver, retargeting, and rendering
(mesh, warp map, rasterised face, head layer, mouth, eyelids); watermarking and H.264 encoding are
timed beside it. The driver is a real clip (``--video``: its centre square at ``--size``) or, by
default, a clip rendered from the built-in portrait with procedural motion (no real video ships).
Numbers are measured, never asserted; the machine's load average is printed beside them.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import sys
import time
from pathlib import Path

import numpy as np


def default_driver(size: int, seconds: float, fps: float = 25.0) -> np.ndarray:
    """A talking clip [T, S, S, 3] from the built-in portrait, procedural motion and speech-like audio."""
    from forgebench.generator.analyze import AnalyzerConfig, SourceAnalyzer
    from forgebench.generator.audio_features import extract_audio_features
    from forgebench.generator.defaults import default_portrait
    from forgebench.generator.motion import motion_registry
    from forgebench.generator.motion.base import SourceState
    from forgebench.generator.render.renderer import FaceRenderer
    from forgebench.media.synthetic import speech_like

    source = SourceAnalyzer(AnalyzerConfig(size=size))(default_portrait())
    renderer = FaceRenderer(source)
    state = SourceState(pose=source.face.pose, expression=source.face.expression, gaze=source.face.gaze)
    track = motion_registry.build("procedural").generate(extract_audio_features(speech_like(seconds), fps), state, 0)
    return np.stack([renderer.render(track.pose[t], track.expression[t], track.gaze[t]) for t in range(track.n_frames)])


def centre_square(video: str | Path, size: int, seconds: float) -> tuple[np.ndarray, float]:
    """The centre square of a video's first ``seconds``, resized to ``size``² (frames, fps)."""
    import cv2

    from forgebench.media.video import iter_frames, probe_video

    info = probe_video(video)
    side = min(info.width, info.height)
    x0, y0 = (info.width - side) // 2, (info.height - side) // 2
    frames = []
    for frame in iter_frames(video):
        if len(frames) >= int(round(seconds * info.fps)):
            break
        frames.append(cv2.resize(frame[y0:y0 + side, x0:x0 + side], (size, size), interpolation=cv2.INTER_AREA))
    return np.stack(frames), info.fps


def run_self_reenact_bench(frames: np.ndarray, fps: float = 25.0, dense: bool = True,
                           camera: bool = True) -> dict[str, object]:
    """Time every stage of self-reenacting ``frames`` [T, S, S, 3] from their own first frame (the driver's
    camera measured and applied unless ``camera`` is False, as ``generate --no-camera``)."""
    from forgebench.generator.analyze import AnalyzerConfig, SourceAnalyzer
    from forgebench.generator.camera import BackgroundMeter, CameraMeter
    from forgebench.generator.motion.base import SourceState
    from forgebench.generator.pipeline import Stopwatch
    from forgebench.generator.reenact import driver_camera, render_frame
    from forgebench.generator.render.renderer import FaceRenderer
    from forgebench.generator.render.rig import DenseMotion, dense_offsets
    from forgebench.generator.retarget import retarget
    from forgebench.generator.video_input import track_video
    from forgebench.provenance.ecc import Payload
    from forgebench.provenance.watermark import Watermarker

    n, size = len(frames), frames.shape[1]
    out: dict[str, object] = {"frames": n, "size": size, "dense": dense, "camera": camera,
                              "load_before": os.getloadavg()[0]}
    t0 = time.perf_counter()
    source = SourceAnalyzer(AnalyzerConfig(size=size, crop="full"))(frames[0])
    out["analyze_source_ms"] = (time.perf_counter() - t0) * 1000
    t0 = time.perf_counter()
    renderer = FaceRenderer(source)
    out["renderer_setup_ms"] = (time.perf_counter() - t0) * 1000

    timings: dict[str, float] = {}  # wall and CPU seconds per stage (CPU: what a stage costs whatever else runs)
    watch = Stopwatch(timings)
    # the driver's camera is measured in a thread beside its tracking, as the pipeline does (the stage ends
    # when the thread has caught up)
    with watch("track driver + camera (a thread beside it)" if camera else "track driver"), \
            BackgroundMeter(CameraMeter()) if camera else contextlib.nullcontext() as meter:
        driver = track_video(iter(frames), fps, total=n, on_frame=None if meter is None else meter.add)
    with watch("retarget"):
        state = SourceState(pose=source.face.pose, expression=source.face.expression, gaze=source.face.gaze)
        track = retarget(driver, state, source_size=(size, size))
        motion = DenseMotion(driver.landmarks, driver.valid, int(track.meta["reference_frame"])) if dense else None
    cam = None
    if meter is not None:
        with watch("camera (after tracking)"):
            cam = driver_camera(meter, driver, renderer, int(track.meta["reference_frame"]))
        out["camera_thread_cpu_ms_per_frame"] = meter.cpu_s / n * 1000
    renderer.profile = {}
    rendered = []
    with watch("render"):
        for t in range(n):
            offsets = None
            if motion is not None:
                tt = time.perf_counter()
                offsets = dense_offsets(renderer.rig, motion.change(t), track.expression[t], track.gaze[t])
                renderer.profile["dense offsets"] = (renderer.profile.get("dense offsets", 0.0)
                                                     + time.perf_counter() - tt)
            rendered.append(render_frame(renderer, track, t, offsets, cam))
    stages = {k: v for k, v in timings.items() if not k.startswith("cpu_")}
    cpu = {k: timings["cpu_" + k] for k in stages}
    in_process = sum(stages.values())
    out["stages_ms_per_frame"] = {k: v / n * 1000 for k, v in stages.items()}
    out["stages_cpu_ms_per_frame"] = {k: v / n * 1000 for k, v in cpu.items()}
    out["in_process_cpu_fps"] = n / sum(cpu.values())
    out["render_ms_per_frame"] = {k: v / n * 1000 for k, v in renderer.profile.items()}
    out["in_process_fps"] = n / in_process
    out["render_only_fps"] = n / stages["render"]

    wm = Watermarker()
    plan = wm.prepare(size, size, Payload.create(clip=1), fps=fps)
    t0 = time.perf_counter()
    marked = [wm.embed(f, i, plan) for i, f in enumerate(rendered)]
    out["watermark_ms_per_frame"] = (time.perf_counter() - t0) / n * 1000
    import tempfile

    from forgebench.media.video import VideoWriter

    with tempfile.TemporaryDirectory() as tmp:
        t0 = time.perf_counter()
        with VideoWriter(Path(tmp) / "out.mp4", fps, size, size) as w:
            for f in marked:
                w.write(f)
        out["encode_ms_per_frame"] = (time.perf_counter() - t0) / n * 1000
    out["l1_vs_driver"] = float(np.mean([np.abs(a.astype(np.int16) - b).mean() / 255 for a, b in
                                         zip(rendered[1:], frames[1:])]))
    out["load_after"] = os.getloadavg()[0]
    return out


def cmd_bench_self_reenact(args: argparse.Namespace) -> int:
    if args.video:
        frames, fps = centre_square(args.video, args.size, args.seconds)
    else:
        print(f"bench self-reenact: rendering a {args.seconds:g} s driver from the built-in portrait ...",
              file=sys.stderr)
        frames, fps = default_driver(args.size, args.seconds), 25.0
    print(f"bench self-reenact: {len(frames)} frames at {args.size}x{args.size}, in process (frames in memory)",
          file=sys.stderr)
    res = run_self_reenact_bench(frames, fps, dense=not args.no_dense, camera=not args.no_camera)
    cpu = res["stages_cpu_ms_per_frame"]
    rows = [(f"  {k}", f"{v:.2f} ms/frame (CPU {cpu[k]:.2f})")  # type: ignore[index]
            for k, v in res["stages_ms_per_frame"].items()]  # type: ignore[union-attr]
    rows += [(f"    render: {k}", f"{v:.2f} ms/frame") for k, v in res["render_ms_per_frame"].items()]  # type: ignore[union-attr]
    rows = [("analyze source (once)", f"{res['analyze_source_ms']:.0f} ms"),
            ("renderer setup (once: segmentation, layers, mesh)", f"{res['renderer_setup_ms']:.0f} ms"),
            ("stages", "")] + rows + [
        ("in process: track + retarget + camera + render" if res["camera"] else
         "in process: track + retarget + render", f"{res['in_process_fps']:.0f} frames/s "
                                                  f"({res['in_process_cpu_fps']:.0f} per CPU second)"),
        ("render only", f"{res['render_only_fps']:.0f} frames/s"),
        *([("camera thread's own CPU", f"{res['camera_thread_cpu_ms_per_frame']:.2f} ms/frame")]
          if "camera_thread_cpu_ms_per_frame" in res else []),
        ("beside it: watermark", f"{res['watermark_ms_per_frame']:.2f} ms/frame"),
        ("beside it: H.264 encode", f"{res['encode_ms_per_frame']:.2f} ms/frame"),
        ("L1 of the frames vs the driver (frames 1..T-1)", f"{res['l1_vs_driver']:.4f}"),
        ("load average (1 min) before / after", f"{res['load_before']:.2f} / {res['load_after']:.2f}"),
    ]
    from forgebench.generator.bench import report

    report(rows, res, args.output)
    return 0
