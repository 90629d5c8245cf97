"""``forgebench run SPEC -o RUN_DIR``: corpus -> metrics -> detectors -> provenance -> report."""

from __future__ import annotations

import argparse
import os
import re
from pathlib import Path

from forgebench.config_cli import number
from forgebench.errors import InputError


def check_run_arguments(args: argparse.Namespace) -> None:
    """One-line errors for a run's options before any work: the output folder, real folders, cluster, device."""
    out = Path(args.output)
    if out.exists() and not out.is_dir():
        raise InputError(f"-o {str(out)!r} is a file: give a folder for the run (created, or reused to resume)")
    for folder in getattr(args, "real", []) or []:
        if not Path(folder).is_dir():
            raise InputError(f"--real {folder!r} is not a folder: give a folder of real videos (real/ and fake/ "
                             "subfolders, or a labels CSV)")
    scheduler = getattr(args, "scheduler", None)
    if scheduler is not None and not re.fullmatch(r"[a-z]+://(\[[0-9A-Fa-f:.]+\]|[^\s:/\[\]]+):\d+", scheduler):
        raise InputError(f"--scheduler {scheduler!r} is not a Dask scheduler address: use tcp://HOST:PORT")
    device = getattr(args, "device", None)
    if device is not None and not re.fullmatch(r"cpu|cuda(:\d+)?", device):
        raise InputError(f"--device {device!r} is not a device: use cpu, cuda or cuda:N")


def cmd_run(args: argparse.Namespace) -> int:
    from forgebench.benchmarks.executors import make_executor
    from forgebench.benchmarks.lifetime import signals_as_interrupt
    from forgebench.benchmarks.runlock import run_lock
    from forgebench.benchmarks.runner import RunOptions, run_benchmark
    from forgebench.benchmarks.spec import load_spec

    check_run_arguments(args)
    spec = load_spec(args.spec, roots=args.root)
    # The lock first (a busy folder stops before any worker starts); SIGTERM/SIGHUP stop the workers like Ctrl-C.
    with signals_as_interrupt(), run_lock(args.output), \
            make_executor(jobs=args.jobs, workers=args.workers, scheduler=args.scheduler, progress=True) as executor:
        options = RunOptions(real_dirs=[Path(p) for p in args.real], allow_commands=args.allow_commands,
                             executor=executor, device=args.device, epochs=args.epochs)
        run = run_benchmark(spec, args.output, options)
    return report_run(run)


def _short(text: str, width: int = 88) -> str:
    """One line of at most ``width`` characters (the full text is in run.json and on the report page)."""
    text = " ".join(str(text).splitlines())
    return text if len(text) <= width else text[: width - 1].rstrip() + "…"


def report_run(run) -> int:
    """Print each stage's outcome (one line each) and where the report is; non-zero if a stage failed."""
    failed = 0
    for name, entry in run.record["stages"].items():
        status = entry.get("status", "?")
        failed += not status.startswith("done")
        note = "" if name == "report" else entry.get("note", "")
        line = f"  {name:<11} {_short(status, 60):<5} {entry.get('seconds', 0):4.0f} s  {note}"
        print(_short(line, 100))
    report = run.dir / "site" / "index.html"
    if report.is_file():
        print(f"report:  {report}  (open it in a browser; no server needed)")
    print(f"results: {run.dir / 'results.csv'}")
    return 1 if failed else 0


def add_run_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--real", action="append", default=[], metavar="DIR",
                   help="a folder of real talking-face videos (generic layout: real/ and fake/ or a labels CSV); "
                        "makes the detection task real vs fake")
    p.add_argument("--root", action="append", default=[], metavar="DIR", help="extra allowed folder for spec paths")
    p.add_argument("--allow-commands", action="store_true",
                   help="let the spec run external generator commands (never on by default)")
    p.add_argument("--device", default=None, help="cpu (default) or cuda for detector training")
    p.add_argument("--epochs", type=number(int, 1), default=None, help="override the detectors' training epochs")
    p.add_argument("-j", "--jobs", type=number(int, 1), default=os.cpu_count() or 1, help="local worker processes")
    ex = p.add_mutually_exclusive_group()
    ex.add_argument("--workers", type=number(int, 1), metavar="N",
                    help="run the corpus on a local Dask cluster of N workers")
    ex.add_argument("--scheduler", metavar="ADDR", help="run the corpus on an existing Dask cluster (tcp://HOST:PORT)")


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser(
        "run", help="run a benchmark end to end: corpus, metrics, detectors, provenance, report",
        description="Run a benchmark spec end to end into RUN_DIR. Every stage is recorded in RUN_DIR/run.json "
                    "and skipped when already done, so a killed or finished run resumes with the same command.")
    p.add_argument("spec", metavar="SPEC", help="bundled spec name (see 'forgebench spec list') or YAML file")
    p.add_argument("-o", "--output", required=True, type=Path, metavar="RUN_DIR", help="run folder")
    add_run_arguments(p)
    p.set_defaults(func=cmd_run)
