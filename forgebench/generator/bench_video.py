"""``forgebench bench reenact`` and ``forgebench bench dub``: frames per second of the video-driven pipelines.

Each runs the pipeline twice in process on the same inputs: once rendering inline, so the
per-stage times add up (each stage's own cost), and once as users run it (rendering in a
worker thread overlapping watermark + encode) for the end-to-end rate. Without inputs a
talking clip is made first from the built-in portrait and speech-like audio at ``--size``
(the audio-driven pipeline), and used as the driving video or as the video to dub.
Speed is reported, never asserted.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

STAGES = {
    "reenact": ("analyze", "analyze_driver", "retarget", "camera", "render", "watermark", "encode"),
    "dub": ("analyze_video", "motion", "compositor_setup", "render", "watermark", "encode"),
}
PER_IDENTITY = ("analyze", "compositor_setup")  # once per portrait or video, reported in ms


def _talking_clip(path: Path, size: int, seconds: float) -> Path:
    from forgebench.generator.config import GenerationConfig
    from forgebench.generator.defaults import default_portrait
    from forgebench.generator.pipeline import TalkingFacePipeline
    from forgebench.media.synthetic import speech_like

    pipe = TalkingFacePipeline.from_config(GenerationConfig(size=size, seed=1, crf=14))
    pipe(default_portrait(), speech_like(seconds, seed=1), out=path)
    return path


def run_video_bench(family: str, size: int = 256, seconds: float = 8.0, preset: str = "veryfast",
                    video: Path | None = None, image: Path | None = None, audio: Path | None = None,
                    motion: str = "procedural", camera: bool = True) -> dict[str, float]:
    """Per-stage and end-to-end frames per second of reenactment (``family="reenact"``) or dubbing.

    Reenactment measures the driver's camera in its tracking pass (``analyze_driver``; what is left of it after
    that pass is ``camera``) unless ``camera`` is False (``generate --no-camera``)."""
    from forgebench.generator.config import DubbingConfig, ReenactmentConfig
    from forgebench.generator.defaults import default_portrait
    from forgebench.media.audio import load_audio
    from forgebench.media.image import load_image
    from forgebench.media.synthetic import speech_like
    from forgebench.media.video import probe_video

    with tempfile.TemporaryDirectory(prefix="forgebench-bench-") as tmp:
        tmp_dir = Path(tmp)
        video = video or _talking_clip(tmp_dir / "talking.mp4", size, seconds)
        info = probe_video(video)
        out: dict[str, float] = {"width": info.width, "height": info.height, "fps": info.fps}
        if family == "reenact":
            from forgebench.generator.reenact import ReenactmentPipeline

            portrait = load_image(image) if image else default_portrait()
            # crop "face" at --size: the output is size x size whatever the driving video's size.
            config = ReenactmentConfig(size=size, preset=preset, max_seconds=seconds, camera=camera)
            pipe = ReenactmentPipeline.from_config(config)

            def call(inline: bool, out_path: Path):
                pipe.render_in_thread = not inline
                return pipe(portrait, video, out=out_path)
        else:
            from forgebench.generator.dub import DubbingPipeline

            speech = load_audio(audio) if audio else speech_like(seconds, seed=7)
            speech = speech[: int(seconds * 16000)]
            pipe = DubbingPipeline.from_config(DubbingConfig(motion=motion, preset=preset))

            def call(inline: bool, out_path: Path):
                pipe.render_in_thread = not inline
                return pipe(video, speech, out=out_path)

        staged = call(True, tmp_dir / "inline.mp4")
        n = staged.n_frames
        out["frames"] = n
        out["out_width"], out["out_height"] = staged.size
        for stage in STAGES[family]:
            if stage not in staged.timings:  # a stage this run leaves out (the camera with camera=False)
                continue
            for prefix, key in (("", stage), ("cpu_", "cpu_" + stage)):
                taken = staged.timings.get(key, float("nan"))
                if stage in PER_IDENTITY:
                    out[f"{prefix}{stage}_ms"] = taken * 1000
                else:
                    out[f"{prefix}{stage}_fps"] = n / taken if taken > 0 else float("inf")
        t0, c0 = time.perf_counter(), time.process_time()
        threaded = call(False, tmp_dir / "threaded.mp4")
        total = time.perf_counter() - t0
        out["end_to_end_fps"] = threaded.n_frames / total
        out["cpu_end_to_end_fps"] = threaded.n_frames / (time.process_time() - c0)
        once = sum(threaded.timings.get(s, 0.0) for s in PER_IDENTITY)
        out["end_to_end_after_setup_fps"] = threaded.n_frames / max(total - once, 1e-9)
    return out


def cmd_bench_video(args: argparse.Namespace) -> int:
    family = args.bench
    what = "reenactment" if family == "reenact" else "dubbing"
    print(f"bench {family}: {what} at {args.size} px, {args.seconds:g} s (preset {args.preset}) ...", file=sys.stderr)
    res = run_video_bench(family, args.size, args.seconds, args.preset, args.video, getattr(args, "image", None),
                          getattr(args, "audio", None), getattr(args, "motion", "procedural"),
                          camera=not getattr(args, "no_camera", False))
    print(f"video in {res['width']:.0f}x{res['height']:.0f} at {res['fps']:g} fps; video out "
          f"{res['out_width']:.0f}x{res['out_height']:.0f}, {res['frames']:.0f} frames")
    rows = [("stage", "wall", "per CPU-second")]
    for key, value in res.items():
        if key.startswith("cpu_") or key == "fps" or not key.endswith(("_ms", "_fps")):
            continue
        cpu = res.get("cpu_" + key)
        if key.endswith("_ms"):
            rows.append((key[:-3].replace("_", " ") + " (once)", f"{value:.0f} ms",
                         "" if cpu is None else f"{cpu:.0f} ms"))
        else:
            rows.append((key[:-4].replace("_", " "), f"{value:.0f} frames/s",
                         "" if cpu is None else f"{cpu:.0f} frames/s"))
    widths = [max(len(r[i]) for r in rows) for i in range(3)]
    for row in rows:
        print("  ".join(f"{cell:<{w}}" for cell, w in zip(row, widths)).rstrip())
    print("wall: on this machine now; per CPU-second: the process's CPU time (all its threads), what a stage costs "
          "whatever else runs", file=sys.stderr)
    if args.output:
        from forgebench.atomic import atomic_output

        with atomic_output(args.output) as tmp:
            tmp.write_text(json.dumps(res, indent=2))
    return 0
