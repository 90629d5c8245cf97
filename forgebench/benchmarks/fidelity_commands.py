"""``forgebench eval fidelity``: regenerate real clips and score them against their own frames."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

MODE_CHOICES = {"self-reenact": ("self-reenact",), "audio": ("audio",), "both": ("self-reenact", "audio")}


def _cmd_eval_fidelity(args: argparse.Namespace) -> int:
    from forgebench.atomic import check_writable
    from forgebench.benchmarks.fidelity import PAIRED, FidelityConfig
    from forgebench.benchmarks.fidelity_run import read_identities, run_fidelity
    from forgebench.errors import InputError
    from forgebench.metrics.inputs import discover_inputs

    out = Path(args.output)
    if out.exists() and not out.is_dir():
        raise InputError(f"-o {str(out)!r} is a file: give a folder for the videos and tables")
    discover_inputs(args.inputs)  # a missing file or an empty folder fails here, before anything is written
    check_writable(out / "results.csv")
    set_metrics = () if args.set_metrics.strip().lower() == "none" else tuple(
        m.strip() for m in args.set_metrics.split(",") if m.strip())
    modes = MODE_CHOICES[args.mode] + (() if args.no_still else ("still",))
    metrics = tuple(m.strip() for m in args.metrics.split(",") if m.strip()) if args.metrics else PAIRED
    config = FidelityConfig(size=args.size, modes=modes, max_seconds=args.max_seconds, motion=args.motion,
                            seed=args.seed, metrics=metrics, set_metrics=set_metrics, fid_stride=args.fid_stride)
    identities = read_identities(args.identities)
    _, results = run_fidelity(args.inputs, out, config, identities=identities, progress=not args.quiet)
    text = (out / "fidelity.md").read_text()
    print(text.split("**Per clip**")[0].rstrip())
    print(f"\nper-clip scores: {out / 'per_clip.csv'}\nresults table: {out / 'results.csv'}\n"
          f"report: {out / 'fidelity.md'}\nvideos: {out / 'clips'}", file=sys.stderr)
    return 0


def add_eval_fidelity(group: argparse._SubParsersAction) -> None:
    p = group.add_parser(
        "fidelity",
        help="regenerate real clips and score them against their own frames (L1, PSNR, SSIM, LPIPS, AKD, AED)",
        description=(
            "The paired-fidelity benchmark. Each real clip is cut to a fixed face-centred square and resized "
            "to --size; 'self-reenact' regenerates it from its first frame driven by the clip itself "
            "(reenactment with --crop full: motion aligned frame for frame), 'audio' from its first frame "
            "and its own speech (motion not aligned: only AED, FID and FVD then measure fidelity), and a "
            "'still' baseline repeats the first frame. Scores per clip (L1, PSNR, SSIM, LPIPS where its weights "
            "are present, AKD with the project's face tracker and with dlib's, AED with dlib's face embedding), "
            "means with 95% bootstrap intervals over identities, FID/FVD16 of each set, and FOMM's published "
            "VoxCeleb numbers beside them. Writes OUT/results.csv, OUT/per_clip.csv, OUT/fidelity.md and the "
            "videos; rerunning resumes."
        ),
    )
    p.add_argument("inputs", nargs="+", metavar="REAL_CLIP_OR_DIR", help="real talking-face videos or folders")
    p.add_argument("-o", "--output", required=True, metavar="OUT", help="output folder")
    p.add_argument("--mode", choices=sorted(MODE_CHOICES), default="both", help="what regenerates the clips")
    p.add_argument("--no-still", action="store_true", help="leave out the first-frame baseline")
    p.add_argument("--size", type=int, default=256, help="frame side of the crops and the regenerated clips")
    p.add_argument("--max-seconds", type=float, default=10.0, help="use at most this much of each clip")
    p.add_argument("--identities", type=Path, metavar="CSV",
                   help="CSV with columns clip,identity (default: every clip is its own identity)")
    p.add_argument("--motion", default="procedural", help="motion model of the audio mode")
    p.add_argument("--seed", type=int, default=0, help="motion seed of the audio mode")
    p.add_argument("--metrics", metavar="a,b", help="paired metrics (default: l1,psnr,ssim,lpips,akd,akd_dlib,aed)")
    p.add_argument("--set-metrics", default="fid,fvd16", metavar="a,b|none", help="set-level metrics")
    p.add_argument("--fid-stride", type=int, default=25, metavar="N", help="FID reads every N-th frame")
    p.add_argument("-q", "--quiet", action="store_true", help="no progress bar")
    p.set_defaults(func=_cmd_eval_fidelity)
