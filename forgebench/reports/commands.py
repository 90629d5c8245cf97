"""``forgebench report`` (leaderboards are ``forgebench.leaderboards.commands``)."""

from __future__ import annotations

import argparse

from forgebench.config_cli import number


def _cmd_report(args: argparse.Namespace) -> int:
    from forgebench.reports.site import build_site

    index = build_site(args.run_dirs, args.output, n_boot=args.n_boot, progress=not args.quiet)
    print(f"report: {index}  (open it in a browser; it needs no server and no network)")
    return 0


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser(
        "report", help="build a static HTML report site from run folders",
        description="Build a static site (index + one page per run: sortable tables, ROC/DET/reliability/"
                    "robustness figures, sample frames, the run record and any failed stages) from run folders "
                    "made by 'forgebench run'. It opens from disk with no server and no network. Each run page "
                    "also links its tables as Markdown, LaTeX (booktabs) and CSV.")
    p.add_argument("run_dirs", nargs="+", metavar="RUN_DIR", help="run folders (results.csv, run.json, ...)")
    p.add_argument("-o", "--output", required=True, metavar="SITE_DIR",
                   help="site folder; a previous site there is replaced atomically, any other folder is refused")
    p.add_argument("--n-boot", type=number(int, 0, 100000), default=200,
                   help="bootstrap resamples for figure bands (default 200)")
    p.add_argument("-q", "--quiet", action="store_true", help="no progress bar")
    p.set_defaults(func=_cmd_report)
