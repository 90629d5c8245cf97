"""``forgebench eval motion``: the held-out comparison of motion generators (:mod:`.motion_eval`).

``forgebench/group_commands.py`` calls :func:`add_eval_motion` to add it to the ``eval`` group.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from forgebench.config_cli import number
from forgebench.errors import InputError


def add_eval_motion(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser(
        "motion", help="compare the diffusion motion model with the procedural baseline on held-out speech",
        description="Generate motion for each audio file with the diffusion checkpoint and the procedural "
        "baseline and compare: landmark lip sync (jaw_open vs speech envelope), head motion (ΔP, pose std), "
        "blink rate, Fréchet Motion Distance to real clips' tracks (--real), continuity at window edges and "
        "seed diversity, with bootstrap 95%% intervals over clips.",
    )
    p.add_argument("--checkpoint", default=None, metavar="DIR", help="checkpoint folder (default: the shipped one)")
    p.add_argument("--audio", nargs="+", required=True, metavar="FILE", help="held-out speech files")
    p.add_argument("--real", nargs="*", default=[], metavar="PATH", help="real talking-face videos or folders")
    p.add_argument("--seeds", type=number(int, 1, 1000), default=3, help="seeds per audio file (default 3)")
    p.add_argument("--cfg", type=number(float, 0.0), default=None, help="guidance scale (default: the checkpoint's)")
    p.add_argument("--pose-smooth", type=number(float, 0.0), default=None, metavar="S",
                   help="head-pose low-pass time constant in s (default: the checkpoint's; 0: off)")
    p.add_argument("--set", action="append", default=[], metavar="KEY=VALUE", dest="sample_set",
                   help="diffusion sampling control for this evaluation, e.g. seam_fade=0 or steps=4 (repeatable)")
    p.add_argument("--out", default=None, metavar="FILE.md", help="also write the table to this Markdown file")
    p.set_defaults(func=run_eval)


def run_eval(args: argparse.Namespace) -> int:
    from forgebench.benchmarks.motion_eval import evaluate_motion, format_table

    controls: dict[str, object] = {} if args.pose_smooth is None else {"pose_smooth_s": args.pose_smooth}
    for item in args.sample_set:
        key, sep, value = item.partition("=")
        if not sep:
            raise InputError(f"--set {item!r}: expected KEY=VALUE, e.g. seam_fade=0")
        controls[key.strip()] = value.strip()
    result = evaluate_motion(args.checkpoint, args.audio, args.real, seeds=args.seeds, cfg=args.cfg, controls=controls)
    text = format_table(result)
    print(text)
    if args.out:
        from forgebench.atomic import atomic_output

        with atomic_output(Path(args.out)) as tmp:
            tmp.write_text(text + "\n")
    return 0
