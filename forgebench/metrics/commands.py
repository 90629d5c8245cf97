"""``forgebench score``: score videos, folders or a corpus manifest with registered metrics."""

from __future__ import annotations

import argparse
from pathlib import Path

from forgebench.config_cli import number
from forgebench.errors import InputError


def _cmd_score(args: argparse.Namespace) -> int:
    from forgebench.atomic import check_writable
    from forgebench.metrics.inputs import check_reference, discover_inputs
    from forgebench.metrics.score import format_summary, score_clips, write_scores

    check_writable(args.output)  # fail before hours of scoring, not after
    if Path(args.output).suffix.lower() != ".parquet":
        raise InputError(f"-o {args.output!r} must end in .parquet (the summary CSV is written beside it)")
    if args.reference is not None and not args.reference.strip():
        raise InputError("--reference is empty: give a folder of videos or images, or a stats .npz")
    if args.reference is not None:
        check_reference(args.reference)
    metrics = None
    if args.metrics is not None:
        metrics = [m.strip() for m in args.metrics.split(",") if m.strip()]
        if not metrics:
            raise InputError(f"--metrics {args.metrics!r} names no metric: give names such as fid,kid "
                             "('forgebench list metrics' prints them)")
    items = discover_inputs(args.inputs)
    if args.device == "cuda":
        import torch

        if not torch.cuda.is_available():
            raise InputError("--device cuda was asked for but no CUDA device is visible: use --device cpu")
    rows, summary = score_clips(
        items,
        metrics,
        reference=args.reference,
        device=args.device,
        max_frames=args.max_frames,
        progress=not args.quiet,
    )
    failed = rows[rows["status"] == "error"].drop_duplicates("clip_id")
    if len(items) and len(failed) == len(items):  # nothing was scored: an error, and no tables
        raise InputError(f"none of the {len(items)} inputs could be read, e.g. {failed['reason'].iloc[0]}")
    out, summ = write_scores(rows, summary, args.output)
    print(format_summary(summary))
    print(f"\nper-clip scores: {out}\nsummary: {summ}")
    return 0


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser(
        "score",
        help="score videos with metrics (LSE-C/D, FID, KID, FVD, LPIPS, PSNR, SSIM, CSIM, pose, motion)",
        description=(
            "Score generated videos, or images. INPUT is video files, folders (searched recursively; a folder "
            "without videos is a folder of images, each one a sample: 'forgebench score GEN_DIR --reference "
            "REAL_DIR --metrics fid,kid' is pytorch-fid's use, and fid,kid is the default on images), or a corpus "
            "manifest (.parquet with a 'path' column, optional 'clip_id', 'reference_path' for the "
            "ground-truth video of paired metrics such as LPIPS/PSNR/SSIM, and 'source_image' for "
            "identity metrics). Writes one row per clip and metric to -o (Parquet) and a summary with "
            "the mean over clips and a 95%% bootstrap confidence interval to <output>.summary.csv. "
            "A metric whose weights are missing is reported as 'unavailable' with the command that "
            "fixes it; the other metrics are still computed."
        ),
    )
    p.add_argument("inputs", nargs="+", metavar="INPUT",
                   help="video files, folders (of videos, or else of images), images or .parquet manifests")
    p.add_argument(
        "--reference",
        metavar="DIR",
        help="reference set for FID/KID/FVD: a folder of real videos or images, or a stats .npz",
    )
    p.add_argument("--metrics", metavar="a,b,c", help="comma-separated metric names (default: every registered metric)")
    p.add_argument("--device", choices=["cpu", "cuda"], default="cpu", help="where networks run (default cpu)")
    p.add_argument("--max-frames", type=number(int, 1), default=None, metavar="N",
                   help="read at most N frames per clip")
    p.add_argument("-o", "--output", required=True, metavar="scores.parquet", help="per-clip output table")
    p.add_argument("-q", "--quiet", action="store_true", help="no progress bar")
    p.set_defaults(func=_cmd_score)


def _cmd_bench_lipsync(args: argparse.Namespace) -> int:
    from forgebench.metrics.bench_lipsync import cmd_bench_lipsync

    return cmd_bench_lipsync(args)


def add_bench_lipsync(bench_subparsers: argparse._SubParsersAction) -> None:
    """Add ``lipsync`` to the ``forgebench bench`` group (the benchmark is :mod:`forgebench.metrics.bench_lipsync`)."""
    p = bench_subparsers.add_parser(
        "lipsync",
        help="LSE-C/D speed: ours vs syncnet-python's evaluation on the same crops",
        description=(
            "LSE-C/D speed, ours vs syncnet-python's evaluation, side by side. Both sides get the same MediaPipe "
            "face track and crop geometry; the clock covers what each does after tracking (the reference: crops "
            "written as images plus a 16 kHz WAV, then SyncNetInstance.evaluate; ours: clip_sync_scores "
            "uncached). The sides alternate --repeats times after an untimed warm-up; the report gives the "
            "median of each, their ratio and the load average. Without imported syncnet_v2 weights both use "
            "the same random weights (speed does not depend on them). Tracking is timed separately."
        ),
    )
    p.add_argument("--video", type=Path, default=None, help="a talking-face video with audio (default: synthetic)")
    p.add_argument("--seconds", type=number(float, 1.0, 600.0), default=10.0,
                   help="seconds of video to score (default 10)")
    p.add_argument("--threads", type=number(int, 1), default=2, help="torch CPU threads for both sides (default 2)")
    p.add_argument("--repeats", type=number(int, 1), default=3,
                   help="timed runs of each side, alternating (default 3)")
    p.add_argument("--json", action="store_true", help="print the report as JSON")
    p.set_defaults(func=_cmd_bench_lipsync)


def _cmd_bench_metrics(args: argparse.Namespace) -> int:
    from forgebench.metrics.bench import cmd_bench_metrics

    for path in [*(args.dirs or []), *(args.videos or [])]:
        if not path.exists():
            raise InputError(f"{str(path)!r} does not exist")

    return cmd_bench_metrics(args)


def add_bench_metrics(bench_subparsers: argparse._SubParsersAction) -> None:
    """Add ``metrics`` to the ``forgebench bench`` group."""
    p = bench_subparsers.add_parser(
        "metrics",
        help="time FID against the stock pytorch-fid CLI at equal value",
        description=(
            "Times forgebench's FID and the stock 'python -m pytorch_fid' CLI side by side on the same two "
            "folders of PNG frames with the same weights, and prints both times and both values. "
            "Needs 'forgebench weights fetch fid_inception'."
        ),
    )
    p.add_argument("--frames", type=number(int, 2), default=1000, help="frames per set (default 1000)")
    p.add_argument("--size", type=number(int, 75, 2048), default=256, help="frame side in pixels (default 256)")
    p.add_argument(
        "--videos",
        nargs="+",
        type=Path,
        metavar="VIDEO",
        help="take frames from videos: the first fills set A, the others set B (default: synthetic)",
    )
    p.add_argument(
        "--dirs",
        nargs=2,
        type=Path,
        metavar="DIR",
        help="score two existing folders of PNG frames as they are (overrides --frames/--size/--videos)",
    )
    p.add_argument("--skip-stock", action="store_true", help="time forgebench only")
    p.set_defaults(func=_cmd_bench_metrics)
