"""CLI: ``forgebench provenance check`` and ``forgebench bench provenance``."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from forgebench.config_cli import number
from forgebench.errors import InputError


def _add_key(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--key", default=None,
                        help="watermark key (default: $FORGEBENCH_WATERMARK_KEY, else the public project key "
                             "'forgebench-public-watermark-key-v1')")


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add the ``provenance`` group (``check``) and, when a ``bench`` group exists, ``bench provenance``."""
    prov = subparsers.add_parser(
        "provenance", help="read provenance metadata and the invisible watermark from videos",
        description="Provenance of generated videos: container metadata and a keyed, error-corrected watermark.")
    sub = prov.add_subparsers(dest="provenance_command", metavar="SUBCOMMAND")
    check = sub.add_parser(
        "check", help="check files or folders for provenance metadata and the watermark",
        description=("For each video: is the forgebench provenance metadata present, does it say synthetic, is "
                     "the watermark present (p-value under the no-watermark hypothesis), its decoded payload "
                     "(generator, version, clip id, creation time) and bit-error rate. Folders are searched "
                     "recursively; failures are reported per file and the run goes on."))
    check.add_argument("paths", nargs="+", metavar="FILE_OR_DIR", help="video files or folders")
    check.add_argument("-o", "--output", default=None, help="write the table here (.csv, or .parquet)")
    _add_key(check)
    check.add_argument("--threshold", type=number(float, 0.0, 1.0), default=1e-6,
                       help="declare the watermark present below this p-value (default 1e-6)")
    check.add_argument("--max-seconds", type=number(float, 1.0), default=20.0,
                       help="read at most this much of each video (default 20; the watermark needs 1 s)")
    check.set_defaults(func=_run_check)

    def _help(_args: argparse.Namespace) -> int:
        prov.print_help()
        return 1

    prov.set_defaults(func=_help)


def register_bench(bench_subparsers: argparse._SubParsersAction) -> None:
    """Add ``provenance`` under the lead's ``bench`` group: ``forgebench bench provenance``."""
    p = bench_subparsers.add_parser(
        "provenance", help="watermark robustness: bit accuracy and detection rate per attack",
        description=("Embed the watermark into clips, apply each attack (H.264 CRF, resize, crop, fps change, "
                     "blur, noise, JPEG, brightness/contrast, trimming, compositions) and report bit accuracy, "
                     "detection rate, PSNR/SSIM of marked frames and the false-positive rate on unmarked videos."))
    p.add_argument("--clips", type=number(int, 1), default=4,
                   help="number of synthetic clips when --videos is not given")
    p.add_argument("--videos", default=None, help="folder of clips to mark (e.g. generated talking faces)")
    p.add_argument("--unmarked", default=None, help="folder of unmarked videos for the false-positive rate")
    p.add_argument("--size", type=number(int, 64, 4096), default=512, help="frame size of the synthetic clips")
    p.add_argument("--seconds", type=number(float, 1.0, 600.0), default=4.0, help="length of each clip used")
    p.add_argument("--attacks", default=None, help="comma-separated attack names (default: all)")
    p.add_argument("-o", "--output", default=None, help="write the table here (.csv or .parquet)")
    _add_key(p)
    p.set_defaults(func=_run_bench)


def _check_key(key: str | None) -> None:
    if key is not None and not key.strip():
        raise InputError("--key is empty: give the watermark key, or leave --key out for the default")


def _check_output(path: str | None) -> None:
    from forgebench.atomic import check_writable

    if path is not None:
        if Path(path).suffix.lower() not in (".csv", ".parquet"):
            raise InputError(f"-o {path!r} must end in .csv or .parquet")
        check_writable(path)


def _run_check(args: argparse.Namespace) -> int:
    from forgebench.provenance.check import check_paths, write_table
    from forgebench.provenance.watermark import Watermarker

    if not 0 < args.threshold < 1:
        raise InputError(f"--threshold {args.threshold} must be between 0 and 1")
    _check_key(args.key)
    _check_output(args.output)
    for path in args.paths:
        if not Path(path).exists():
            raise InputError(f"{path!r} does not exist: give video files or folders of them")
    table = check_paths(args.paths, Watermarker(key=args.key, threshold=args.threshold), max_seconds=args.max_seconds)
    if table.empty:
        raise InputError(f"no video files found in {' '.join(args.paths)}: give video files or folders with them")
    failed = table[table["status"] != "ok"]
    if len(failed) == len(table):  # nothing could be checked: an error, and no table
        if len(table) > 1:
            for _, row in failed.iterrows():
                print(f"{row['file']}: {row['reason']}", file=sys.stderr)
            raise InputError(f"none of the {len(table)} files could be checked (reasons above)")
        raise InputError(table["reason"].iloc[0])
    with_pd_options(lambda: print(table.drop(columns=["reason"]).to_string(index=False)))
    for _, row in failed.iterrows():
        print(f"{row['file']}: {row['reason']}", file=sys.stderr)
    if args.output:
        print(f"wrote {write_table(table, args.output)}", file=sys.stderr)
    return 0


def _run_bench(args: argparse.Namespace) -> int:
    from forgebench.provenance.bench import run_bench
    from forgebench.provenance.check import write_table

    _check_key(args.key)
    _check_output(args.output)
    for folder in (args.videos, args.unmarked):
        if folder is not None and not Path(folder).is_dir():
            raise InputError(f"{folder!r} is not a folder: give a folder of videos")
    table, summary = run_bench(videos=args.videos, unmarked=args.unmarked, n_clips=args.clips, size=args.size,
                               seconds=args.seconds, key=args.key,
                               attacks=args.attacks.split(",") if args.attacks else None)
    with_pd_options(lambda: print(table.to_string(index=False)))
    for k, v in summary.items():
        print(f"{k}: {v}")
    if args.output:
        print(f"wrote {write_table(table, args.output)}", file=sys.stderr)
    return 0


def with_pd_options(fn) -> None:
    import pandas as pd

    with pd.option_context("display.width", 200, "display.max_columns", 30, "display.float_format", "{:.4g}".format):
        fn()
