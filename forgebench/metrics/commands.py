"""``forgebench score``: score videos, folders or a corpus manifest with registered metrics."""

from __future__ import annotations

import argparse

from forgebench.errors import InputError


def _cmd_score(args: argparse.Namespace) -> int:
    from forgebench.atomic import check_writable
    from forgebench.metrics.score import format_summary, score_clips, write_scores

    check_writable(args.output)  # fail before hours of scoring, not after
    if args.reference is not None and not args.reference.strip():
        raise InputError("--reference is empty: give a folder of videos or images, or a stats .npz")
    metrics = [m.strip() for m in args.metrics.split(",") if m.strip()] if args.metrics else None
    if args.device == "cuda":
        import torch

        if not torch.cuda.is_available():
            raise InputError("--device cuda was asked for but no CUDA device is visible: use --device cpu")
    rows, summary = score_clips(
        args.inputs,
        metrics,
        reference=args.reference,
        device=args.device,
        max_frames=args.max_frames,
        progress=not args.quiet,
    )
    out, summ = write_scores(rows, summary, args.output)
    print(format_summary(summary))
    print(f"\nper-clip scores: {out}\nsummary: {summ}")
    return 0


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser(
        "score",
        help="score videos with metrics (LSE-C/D, FID, KID, FVD, LPIPS, PSNR, SSIM, CSIM, pose, motion)",
        description=(
            "Score generated videos. INPUT is video files, folders (searched recursively) or a corpus "
            "manifest (.parquet with a 'path' column, optional 'clip_id', 'reference_path' for the "
            "ground-truth video of paired metrics such as LPIPS/PSNR/SSIM, and 'source_image' for "
            "identity metrics). Writes one row per clip and metric to -o (Parquet) and a summary with "
            "the mean over clips and a 95%% bootstrap confidence interval to <output>.summary.csv. "
            "A metric whose weights are missing is reported as 'unavailable' with the command that "
            "fixes it; the other metrics are still computed."
        ),
    )
    p.add_argument("inputs", nargs="+", metavar="INPUT", help="video files, folders or .parquet manifests")
    p.add_argument(
        "--reference",
        metavar="DIR",
        help="reference set for FID/KID/FVD: a folder of real videos or images, or a stats .npz",
    )
    p.add_argument("--metrics", metavar="a,b,c", help="comma-separated metric names (default: every registered metric)")
    p.add_argument("--device", choices=["cpu", "cuda"], default="cpu", help="where networks run (default cpu)")
    p.add_argument("--max-frames", type=int, default=None, metavar="N", help="read at most N frames per clip")
    p.add_argument("-o", "--output", required=True, metavar="scores.parquet", help="per-clip output table")
    p.add_argument("-q", "--quiet", action="store_true", help="no progress bar")
    p.set_defaults(func=_cmd_score)
