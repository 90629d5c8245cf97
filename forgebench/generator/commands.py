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
    from forgebench.generator.pipeline import TalkingFacePipeline
    from forgebench.media.atomic import check_writable
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
    from forgebench.generator.defaults import default_portrait, default_speech
    from forgebench.generator.pipeline import TalkingFacePipeline
    from forgebench.generator.render.renderer import contact_sheet
    from forgebench.media.image import save_image
    from forgebench.media.video import read_video

    out_dir = Path(args.output)
    out_dir.mkdir(parents=True, exist_ok=True)
    print("quickstart: synthesising the default speech (piper, offline) ...", file=sys.stderr)
    speech = default_speech()
    image = default_portrait()
    pipe = TalkingFacePipeline.from_config(GenerationConfig(seed=args.seed))
    video = out_dir / "demo.mp4"
    result = pipe(image, speech.audio, out=video, image_name="the default portrait", progress=True)
    result.track.save(out_dir / "demo_motion.parquet")
    frames = read_video(video, with_audio=False).frames
    picks = [frames[i] for i in range(0, len(frames), max(1, len(frames) // 8))][:8]
    save_image(out_dir / "demo_frames.png", contact_sheet(picks, columns=4, width=256))
    _report(result, video)
    print(f"quickstart: the video is {video}; 8 frames are in {out_dir / 'demo_frames.png'}; "
          f"the motion track is {out_dir / 'demo_motion.parquet'}")
    print("next: 'forgebench generate --image PORTRAIT --audio SPEECH -o out.mp4' on your own inputs, "
          "'forgebench provenance check FILE' to read a video's provenance")
    return 0


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
            "Generate a demo video from the embedded default inputs: the public-domain NASA portrait "
            "(skimage's astronaut) and speech synthesised offline with piper. Opens nothing; prints where "
            "it wrote the video."
        ),
    )
    q.add_argument("-o", "--output", type=Path, default=Path("forgebench-quickstart"), help="output folder")
    q.add_argument("--seed", type=int, default=0, help="motion seed")
    q.set_defaults(func=cmd_quickstart)
