"""``forgebench generate`` (speech- or video-driven), ``forgebench dub`` and ``forgebench quickstart``."""

from __future__ import annotations

import argparse
import sys
from dataclasses import fields
from pathlib import Path

from forgebench.config_cli import add_config_arguments, config_from_args, number
from forgebench.errors import InputError
from forgebench.generator.config import DubbingConfig, GenerationConfig, ReenactmentConfig


def _report(result, out: Path) -> None:
    for note in result.notes:
        print(f"note: {note}", file=sys.stderr)
    seconds = result.n_frames / float(result.track.fps)
    total = result.timings.get("total", float("nan"))
    print(
        f"wrote {out} ({result.n_frames} frames, {seconds:.1f} s, {result.size[0]}x{result.size[1]}, "
        f"{result.n_frames / total:.0f} frames/s end to end); watermarked, provenance in the metadata"
    )


def _finish(result, args: argparse.Namespace, out: Path) -> int:
    if args.track:
        result.track.save(args.track)
    _report(result, out)
    return 0


def _check_outputs(args: argparse.Namespace) -> Path:
    from forgebench.atomic import check_writable
    from forgebench.media.video import check_encoder_options

    check_encoder_options(args.crf, args.preset, args.threads)
    out = check_writable(args.output)
    if out.suffix.lower() != ".mp4":
        raise InputError(f"output {str(out)!r} must end in .mp4")
    if args.track:
        if Path(args.track).suffix.lower() not in (".npz", ".parquet"):
            raise InputError(f"--track {str(args.track)!r} must end in .parquet or .npz")
        check_writable(args.track)
    return out


def cmd_generate(args: argparse.Namespace) -> int:
    from forgebench.errors import InputError

    if (args.audio is None) == (args.driving is None):
        raise InputError("give one of --audio SPEECH (speech-driven) or --driving VIDEO (video-driven reenactment)")
    if args.driving is not None:
        return _cmd_reenact(args)
    from forgebench.generator.pipeline import TalkingFacePipeline
    from forgebench.media.audio import load_audio
    from forgebench.media.image import load_image
    from forgebench.provenance.metadata import sha256_file

    config = config_from_args(GenerationConfig, args)
    # Check every input before any model is loaded.
    out = _check_outputs(args)
    image = load_image(args.image)
    audio = load_audio(args.audio)
    pipe = TalkingFacePipeline.from_config(config)
    result = pipe(
        image, audio, out=out, image_name=str(args.image), progress=not args.quiet,
        image_sha256=sha256_file(args.image), audio_sha256=sha256_file(args.audio),
    )
    return _finish(result, args, out)


# Speech-driven options that a driving video replaces: (field, what the video gives instead).
_NOT_WITH_DRIVING = (("fps", "its frame rate"), ("motion", "its motion"), ("seed", "its motion"))


def _cmd_reenact(args: argparse.Namespace) -> int:
    from forgebench.errors import InputError
    from forgebench.generator.reenact import ReenactmentPipeline
    from forgebench.media.image import load_image
    from forgebench.media.video import probe_video
    from forgebench.provenance.metadata import sha256_file

    defaults = GenerationConfig()
    for name, instead in _NOT_WITH_DRIVING:
        if getattr(args, name) != getattr(defaults, name):
            raise InputError(f"--{name} does not apply with --driving: the output takes {instead} from the "
                             "driving video")
    config = config_from_args(ReenactmentConfig, args)
    out = _check_outputs(args)
    image = load_image(args.image)
    probe_video(args.driving)  # a missing or unreadable driving video fails here, before any model loads
    pipe = ReenactmentPipeline.from_config(config)
    result = pipe(image, args.driving, out=out, image_name=str(args.image), progress=not args.quiet,
                  image_sha256=sha256_file(args.image), driving_sha256=sha256_file(args.driving))
    return _finish(result, args, out)


def cmd_dub(args: argparse.Namespace) -> int:
    from forgebench.generator.dub import DubbingPipeline
    from forgebench.generator.motion import motion_registry
    from forgebench.media.audio import load_audio
    from forgebench.media.video import probe_video
    from forgebench.provenance.metadata import sha256_file

    config = config_from_args(DubbingConfig, args)
    out = _check_outputs(args)
    probe_video(args.video)  # missing, unreadable, no video stream: one line, before any model loads
    audio = load_audio(args.audio)
    motion_registry.get(config.motion)  # an unknown motion model names the known ones
    pipe = DubbingPipeline.from_config(config)
    result = pipe(args.video, audio, out=out, video_name=str(args.video), progress=not args.quiet,
                  video_sha256=sha256_file(args.video), audio_sha256=sha256_file(args.audio))
    return _finish(result, args, out)


def cmd_quickstart(args: argparse.Namespace) -> int:
    from forgebench.benchmarks.run_commands import check_run_arguments, report_run
    from forgebench.benchmarks.runner import RunOptions, run_benchmark
    from forgebench.benchmarks.spec import load_spec
    from forgebench.generator.defaults import default_portrait, default_speech
    from forgebench.generator.pipeline import TalkingFacePipeline
    from forgebench.generator.render.renderer import contact_sheet
    from forgebench.media.image import save_image
    from forgebench.media.video import read_video

    check_run_arguments(args)
    out_dir = Path(args.output)
    try:
        out_dir.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise InputError(f"cannot create the output folder {str(out_dir)!r} ({exc.strerror}): "
                         "choose another -o") from None
    print("quickstart 1/2: a demo video from the built-in portrait and speech synthesised offline ...",
          file=sys.stderr, flush=True)
    speech = default_speech()
    video = out_dir / "demo.mp4"
    pipe = TalkingFacePipeline.from_config(GenerationConfig(seed=args.seed))
    result = pipe(default_portrait(), speech.audio, out=video, image_name="the default portrait", progress=True)
    result.track.save(out_dir / "demo_motion.parquet")
    frames = read_video(video, with_audio=False).frames
    picks = [frames[i] for i in range(0, len(frames), max(1, len(frames) // 8))][:8]
    save_image(out_dir / "demo_frames.png", contact_sheet(picks, columns=4, width=256))
    print(f"  wrote {video} ({result.n_frames} frames, {result.n_frames / float(result.track.fps):.1f} s, "
          f"{result.size[0]}x{result.size[1]}; watermarked); 8 frames in {out_dir / 'demo_frames.png'}")

    task = "real vs fake detection" if args.real else "attribution: procedural vs diffusion motion"
    print(f"quickstart 2/2: the bundled 'quickstart' benchmark ({task}) ...", file=sys.stderr, flush=True)
    run = run_benchmark(load_spec("quickstart"), out_dir / "run",
                        RunOptions(real_dirs=[Path(p) for p in args.real], progress=True))
    code = report_run(run)
    if not args.real:
        print("note: no real videos ship with forgebench, so the detectors told the motion models apart; for real "
              "vs fake: 'forgebench quickstart --real DIR' (real/ and fake/ folders, or a labels CSV)")
    return code


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser(
        "generate",
        help="portrait + speech (or a driving video) -> talking-face MP4",
        description=(
            "Make a talking-face video from one portrait and one speech recording (--audio): lips follow the "
            "speech, with blinks, expressions and head motion. Or move the portrait like the face in a driving "
            "video (--driving, reenactment): its head motion, expressions, blinks and gaze, taken relative to its "
            "first frame and applied to the portrait's own face; the output is as long as the driving video, at "
            "its frame rate, with its audio. The MP4 carries provenance metadata and an invisible watermark "
            "('forgebench provenance check' reads both)."
        ),
        epilog="Self-reenactment (the portrait is the driving video's first frame, --crop full) gives a video "
               "aligned pixel for pixel with the driving video.",
    )
    p.add_argument("--image", required=True, type=Path, help="portrait image (PNG, JPEG, ...), >= 64 px")
    p.add_argument("--audio", type=Path, help="speech: WAV, FLAC, MP3, M4A or a video's audio")
    p.add_argument("--driving", type=Path, metavar="VIDEO",
                   help="a driving video instead of speech: reenactment (the output carries its audio)")
    p.add_argument("-o", "--output", required=True, type=Path, help="output .mp4")
    p.add_argument("--track", type=Path, help="also save the driving MotionTrack (.parquet or .npz)")
    p.add_argument("-q", "--quiet", action="store_true", help="no progress bar")
    add_config_arguments(p, GenerationConfig)
    shared = tuple(f.name for f in fields(GenerationConfig))
    add_config_arguments(p.add_argument_group("reenactment (with --driving)"), ReenactmentConfig, skip=shared)
    p.set_defaults(func=cmd_generate)

    d = subparsers.add_parser(
        "dub",
        help="real video + new speech -> the video lip-synced to the speech",
        description=(
            "Re-sync a real talking-face video to other speech (lip-sync dubbing, as Wav2Lip does): the video "
            "keeps its size (scaled down to fit 720p when larger), frame rate, head motion, eyes and brows; only "
            "the mouth, jaw and chin are re-rendered from the new speech and blended into each frame through a "
            "feathered mask. The output is as long as the speech (a shorter video plays forward and backward), "
            "has the speech as its audio, and carries provenance metadata and an invisible watermark."
        ),
    )
    d.add_argument("--video", required=True, type=Path, help="real video with one visible face, >= 1 s")
    d.add_argument("--audio", required=True, type=Path, help="the new speech: WAV, FLAC, MP3, M4A or a video's audio")
    d.add_argument("-o", "--output", required=True, type=Path, help="output .mp4")
    d.add_argument("--track", type=Path, help="also save the output's MotionTrack (.parquet or .npz)")
    d.add_argument("-q", "--quiet", action="store_true", help="no progress bar")
    add_config_arguments(d, DubbingConfig)
    d.set_defaults(func=cmd_dub)

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
    q.add_argument("--seed", type=number(int, 0), default=0, help="motion seed of the demo video")
    q.add_argument("--real", action="append", default=[], metavar="DIR",
                   help="real talking-face videos (generic folder layout): the benchmark then does real vs fake")
    q.set_defaults(func=cmd_quickstart)


def _cmd_bench_generate(args: argparse.Namespace) -> int:
    from forgebench.generator.bench import cmd_bench_generate
    from forgebench.media.video import check_encoder_options

    if args.size % 2:
        raise InputError(f"--size {args.size} is odd: H.264 needs an even frame size")
    check_encoder_options(18, args.preset, 0)

    return cmd_bench_generate(args)


def add_bench_generate(bench: argparse._SubParsersAction) -> None:
    p = bench.add_parser("generate", help="generator speed per stage and end to end",
                         description="Frames per second of each generator stage, end to end, and first-frame "
                                     "latency, on this machine. Reports numbers; asserts nothing.")
    p.add_argument("--size", type=number(int, 64, 4096), default=512, help="frame side, even (default 512)")
    p.add_argument("--fps", type=number(float, 1.0, 120.0), default=25.0, help="frame rate (default 25)")
    p.add_argument("--seconds", type=number(float, 1.0, 600.0), default=10.0,
                   help="length of the synthetic speech-like audio (default 10)")
    p.add_argument("--preset", default="veryfast", help="x264 preset")
    p.add_argument("--motion", default="procedural")
    p.add_argument("--image", type=Path, help="portrait (default: the built-in one)")
    p.add_argument("--audio", type=Path, help="speech (default: synthetic speech-like audio)")
    p.add_argument("--process-runs", type=number(int, 0, 20), default=1,
                   help="also time 'forgebench generate' as a new process, start-up included, this many times "
                        "(median; 0: not)")
    p.add_argument("-o", "--output", type=Path, help="also write the figures as JSON")
    p.set_defaults(func=_cmd_bench_generate)


def _cmd_bench_self_reenact(args: argparse.Namespace) -> int:
    from forgebench.generator.bench_reenact import cmd_bench_self_reenact

    return cmd_bench_self_reenact(args)


def add_bench_self_reenact(bench: argparse._SubParsersAction) -> None:
    p = bench.add_parser("self-reenact", help="in-process speed of self-reenactment, per stage",
                         description="Frames per second of self-reenactment in process (track the driver, retarget, "
                                     "measure the driver's camera, render; frames in memory), with the renderer's "
                                     "stages, on this machine. "
                                     "Reports numbers; asserts nothing.")
    p.add_argument("--video", type=Path, help="a real talking-head clip (its centre square is used); "
                                              "default: a clip rendered from the built-in portrait")
    p.add_argument("--size", type=int, default=256)
    p.add_argument("--seconds", type=float, default=8.0)
    p.add_argument("--no-dense", action="store_true", help="the seven expression coefficients only")
    p.add_argument("--no-camera", action="store_true", help="leave the driver's camera out (as generate --no-camera)")
    p.add_argument("-o", "--output", type=Path, help="also write the figures as JSON")
    p.set_defaults(func=_cmd_bench_self_reenact)


def _cmd_bench_video(args: argparse.Namespace) -> int:
    from forgebench.generator.bench_video import cmd_bench_video

    return cmd_bench_video(args)


def add_bench_video(bench: argparse._SubParsersAction) -> None:
    """``bench reenact`` and ``bench dub`` (figures by :mod:`forgebench.generator.bench_video`)."""
    for family, what in (("reenact", "reenactment (portrait + driving video)"),
                         ("dub", "dubbing (real video + new speech)")):
        p = bench.add_parser(family, help=f"{what} speed per stage and end to end",
                             description=f"Frames per second of each stage of {what} and end to end, in process, "
                                         "on this machine, wall and per CPU-second. Reports numbers; asserts "
                                         "nothing.")
        p.add_argument("--size", type=int, default=256,
                       help="side of the made-up talking clip (and of the reenacted output)")
        p.add_argument("--seconds", type=float, default=8.0, help="length of the clip (and of the speech)")
        p.add_argument("--preset", default="veryfast", help="x264 preset")
        if family == "reenact":
            p.add_argument("--video", type=Path, help="driving video (default: made from the built-in portrait)")
            p.add_argument("--image", type=Path, help="portrait (default: the built-in one)")
            p.add_argument("--no-camera", action="store_true",
                           help="leave the driver's camera out (as generate --no-camera)")
        else:
            p.add_argument("--video", type=Path, help="video to dub, at its own size up to 720p "
                                                      "(default: made from the built-in portrait)")
            p.add_argument("--audio", type=Path, help="new speech (default: speech-like audio)")
            p.add_argument("--motion", default="procedural")
        p.add_argument("-o", "--output", type=Path, help="also write the figures as JSON")
        p.set_defaults(func=_cmd_bench_video)
