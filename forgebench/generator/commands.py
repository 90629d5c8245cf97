"""``forgebench generate`` and ``forgebench quickstart``."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from forgebench.config_cli import add_config_arguments, config_from_args
from forgebench.generator.config import GenerationConfig


def _report(result, out: Path) -> None:
    for note in result.notes:
        print(f"note: {note}", file=sys.stderr)
    seconds = result.n_frames / float(result.track.fps)
    total = result.timings.get("total", float("nan"))
    print(
        f"wrote {out} ({result.n_frames} frames, {seconds:.1f} s, {result.size[0]}x{result.size[1]}, "
        f"{result.n_frames / total:.0f} frames/s end to end); watermarked, provenance in the metadata"
    )


def cmd_generate(args: argparse.Namespace) -> int:
    from forgebench.atomic import check_writable
    from forgebench.generator.pipeline import TalkingFacePipeline
    from forgebench.media.audio import load_audio
    from forgebench.media.image import load_image
    from forgebench.provenance.metadata import sha256_file

    config = config_from_args(GenerationConfig, args)
    # Check every input before any model is loaded.
    out = check_writable(args.output)
    if out.suffix.lower() != ".mp4":
        from forgebench.errors import InputError

        raise InputError(f"output {str(out)!r} must end in .mp4")
    if args.track:
        check_writable(args.track)
    image = load_image(args.image)
    audio = load_audio(args.audio)
    pipe = TalkingFacePipeline.from_config(config)
    result = pipe(
        image, audio, out=out, image_name=str(args.image), progress=not args.quiet,
        image_sha256=sha256_file(args.image), audio_sha256=sha256_file(args.audio),
    )
    if args.track:
        result.track.save(args.track)
    _report(result, out)
    return 0


def cmd_quickstart(args: argparse.Namespace) -> int:
    from forgebench.benchmarks.run_commands import report_run
    from forgebench.benchmarks.runner import RunOptions, run_benchmark
    from forgebench.benchmarks.spec import load_spec
    from forgebench.generator.defaults import default_portrait, default_speech
    from forgebench.generator.pipeline import TalkingFacePipeline
    from forgebench.generator.render.renderer import contact_sheet
    from forgebench.media.image import save_image
    from forgebench.media.video import read_video

    out_dir = Path(args.output)
    out_dir.mkdir(parents=True, exist_ok=True)
    print("quickstart 1/2: a demo video from the built-in portrait and speech synthesised offline ...",
          file=sys.stderr)
    speech = default_speech()
    video = out_dir / "demo.mp4"
    pipe = TalkingFacePipeline.from_config(GenerationConfig(seed=args.seed))
    result = pipe(default_portrait(), speech.audio, out=video, image_name="the default portrait", progress=True)
    result.track.save(out_dir / "demo_motion.parquet")
    frames = read_video(video, with_audio=False).frames
    picks = [frames[i] for i in range(0, len(frames), max(1, len(frames) // 8))][:8]
    save_image(out_dir / "demo_frames.png", contact_sheet(picks, columns=4, width=256))
    _report(result, video)

    task = "real vs fake detection" if args.real else "generator attribution (procedural vs diffusion)"
    print(f"quickstart 2/2: the bundled 'quickstart' benchmark ({task}) ...", file=sys.stderr)
    run = run_benchmark(load_spec("quickstart"), out_dir / "run",
                        RunOptions(real_dirs=[Path(p) for p in args.real], progress=True))
    code = report_run(run)
    print(f"quickstart: demo video {video}; 8 frames in {out_dir / 'demo_frames.png'}")
    if not args.real:
        print("quickstart: no real videos ship with forgebench, so the detectors attributed clips to motion models. "
              "For real-vs-fake detection: 'forgebench quickstart --real DIR' (a folder with real/ and fake/ or "
              "a labels CSV), or a dataset adapter in a spec ('forgebench spec show standard').")
    return code


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser(
        "generate",
        help="portrait + speech -> talking-face MP4",
        description=(
            "Make a talking-face video from one portrait and one speech recording: lips follow the speech, "
            "with blinks, expressions and head motion. The MP4 carries provenance metadata and an invisible "
            "watermark ('forgebench provenance check' reads both)."
        ),
    )
    p.add_argument("--image", required=True, type=Path, help="portrait image (PNG, JPEG, ...), >= 64 px")
    p.add_argument("--audio", required=True, type=Path, help="speech: WAV, FLAC, MP3, M4A or a video's audio")
    p.add_argument("-o", "--output", required=True, type=Path, help="output .mp4")
    p.add_argument("--track", type=Path, help="also save the driving MotionTrack (.parquet or .npz)")
    p.add_argument("-q", "--quiet", action="store_true", help="no progress bar")
    add_config_arguments(p, GenerationConfig)
    p.set_defaults(func=cmd_generate)

    q = subparsers.add_parser(
        "quickstart",
        help="run the demo on the built-in portrait and synthesised speech",
        description=(
            "Generate a demo video from the embedded default inputs (the public-domain NASA portrait from "
            "scikit-image and speech synthesised offline with piper), then run the bundled 'quickstart' "
            "benchmark: a corpus from both motion models with perturbations, metrics, detectors, provenance "
            "and a static HTML report. Opens nothing; prints where everything is. Re-running resumes."
        ),
    )
    q.add_argument("-o", "--output", type=Path, default=Path("forgebench-quickstart"), help="output folder")
    q.add_argument("--seed", type=int, default=0, help="motion seed of the demo video")
    q.add_argument("--real", action="append", default=[], metavar="DIR",
                   help="real talking-face videos (generic folder layout): the benchmark then does real vs fake")
    q.set_defaults(func=cmd_quickstart)
