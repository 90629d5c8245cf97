"""CLI: ``forgebench spec validate|list|show``, ``forgebench corpus build`` and ``forgebench bench corpus``.

``register(subparsers)`` adds the ``spec`` and ``corpus`` groups;
``add_bench_corpus(bench_subparsers)`` adds ``corpus`` to the ``bench`` group.
"""

from __future__ import annotations

import argparse
import os
import sys

from forgebench.config_cli import number


def _cmd_validate(args: argparse.Namespace) -> int:
    from forgebench.benchmarks.spec import load_spec

    spec = load_spec(args.spec, roots=args.root)
    n_gen = len(spec.generators)
    print(f"{args.spec}: valid spec {spec.name!r} version {spec.version} ({n_gen} generator(s), "
          f"{len(spec.perturbations)} perturbation(s), {len(spec.real)} real source(s))")
    return 0


def _cmd_list(args: argparse.Namespace) -> int:
    from forgebench.benchmarks.spec import bundled_specs, load_spec

    for name in bundled_specs():
        spec = load_spec(name)
        print(f"{name:<12} v{spec.version}  {spec.description}")
    return 0


def _cmd_show(args: argparse.Namespace) -> int:
    from forgebench.benchmarks.spec import load_spec, spec_yaml

    sys.stdout.write(spec_yaml(load_spec(args.spec, roots=args.root)))
    return 0


def _cmd_build(args: argparse.Namespace) -> int:
    from forgebench.benchmarks.build import build_corpus
    from forgebench.benchmarks.executors import make_executor
    from forgebench.benchmarks.lifetime import signals_as_interrupt
    from forgebench.benchmarks.run_commands import check_run_arguments
    from forgebench.benchmarks.runlock import run_lock
    from forgebench.benchmarks.spec import load_spec

    check_run_arguments(args)
    spec = load_spec(args.spec, roots=args.root)
    # The lock first (a busy folder stops before any worker starts); SIGTERM/SIGHUP stop the workers like Ctrl-C.
    with signals_as_interrupt(), run_lock(args.output), \
            make_executor(jobs=args.jobs, workers=args.workers, scheduler=args.scheduler, progress=True) as executor:
        result = build_corpus(spec, args.output, real_dirs=args.real, allow_commands=args.allow_commands,
                              executor=executor)
    print(result.summary())
    for note in result.notes:
        print(f"note: {note}")
    if result.n_failed:
        print(f"{result.n_failed} clip(s) failed: see {result.run_dir / 'build.log'}", file=sys.stderr)
    return 0


def register(subparsers: argparse._SubParsersAction) -> None:
    sp = subparsers.add_parser("spec", help="validate, list and show benchmark protocols (YAML specs)",
                               description="Benchmark protocols are YAML specs checked by a strict schema. SPEC is "
                                           "a bundled name (see 'forgebench spec list') or a file.")
    specs = sp.add_subparsers(dest="spec_command", metavar="COMMAND")
    v = specs.add_parser("validate", help="check a spec: keys, types, paths, registered names")
    v.add_argument("spec", metavar="SPEC", help="bundled spec name or YAML file")
    v.add_argument("--root", action="append", default=[], metavar="DIR",
                   help="extra folder the spec's paths may point into (repeatable)")
    v.set_defaults(func=_cmd_validate)
    ls = specs.add_parser("list", help="name the bundled specs")
    ls.set_defaults(func=_cmd_list)
    sh = specs.add_parser("show", help="print a spec with its includes resolved")
    sh.add_argument("spec", metavar="SPEC", help="bundled spec name or YAML file")
    sh.add_argument("--root", action="append", default=[], metavar="DIR", help="extra allowed folder (repeatable)")
    sh.set_defaults(func=_cmd_show)
    sp.set_defaults(func=lambda args: sp.print_help() or 1)

    cp = subparsers.add_parser("corpus", help="build a benchmark corpus (clips + Parquet manifest) from a spec",
                               description="Corpus commands. A build is deterministic (same spec, same bytes) and "
                                           "resumable: rerun the same command after an interruption.")
    corpus = cp.add_subparsers(dest="corpus_command", metavar="COMMAND")
    b = corpus.add_parser(
        "build", help="build or resume a corpus",
        description="Generate the spec's fake clips, collect its real clips, apply perturbations and write "
                    "RUN_DIR/manifest.parquet (one row per clip). Killed builds resume when rerun; failed clips "
                    "are listed in the manifest (status=failed) and RUN_DIR/build.log.")
    b.add_argument("spec", metavar="SPEC", help="bundled spec name or YAML file")
    b.add_argument("-o", "--output", required=True, metavar="RUN_DIR", help="run folder (created; reused to resume)")
    b.add_argument("--real", action="append", default=[], metavar="DIR",
                   help="add a generic folder of clips (real/ and fake/ subfolders, or labels.csv); repeatable")
    b.add_argument("--root", action="append", default=[], metavar="DIR", help="extra allowed folder for spec paths")
    b.add_argument("--allow-commands", action="store_true",
                   help="allow the spec's external generator commands to run (they execute code: read the spec)")
    b.add_argument("-j", "--jobs", type=number(int, 1), default=os.cpu_count() or 1,
                   help="local worker processes (default: CPU count; 1 runs in this process)")
    ex = b.add_mutually_exclusive_group()
    ex.add_argument("--workers", type=number(int, 1), metavar="N",
                    help="run on a local Dask cluster of N worker processes")
    ex.add_argument("--scheduler", metavar="ADDR", help="run on an existing Dask cluster (tcp://HOST:PORT)")
    b.set_defaults(func=_cmd_build)
    cp.set_defaults(func=lambda args: cp.print_help() or 1)


def _cmd_bench_corpus(args: argparse.Namespace) -> int:
    from forgebench.benchmarks.bench import cmd_bench_corpus
    from forgebench.errors import InputError

    odd = [s for s in args.sizes if s % 2]
    if odd:
        raise InputError(f"--sizes {odd[0]} is odd: H.264 needs even frame sizes")

    return cmd_bench_corpus(args)


def add_bench_corpus(bench_subparsers: argparse._SubParsersAction) -> None:
    p = bench_subparsers.add_parser(
        "corpus", help="corpus throughput: clips per hour (5 s clips, 256 and 512 px) and Dask 1 vs 2 workers",
        description="Builds small throw-away corpora of 5 s procedural clips in a temporary folder and reports "
                    "clips per hour per size with the local pool, and the Dask scaling efficiency "
                    "T(1 worker) / (2 x T(2 workers)). Numbers are for this machine; nothing is asserted.")
    p.add_argument("--clips", type=number(int, 1), default=6, help="clips per measurement (default 6)")
    p.add_argument("--sizes", type=number(int, 64, 2048), nargs="+", default=[256, 512],
                   help="frame sizes, even (default 256 512)")
    p.add_argument("--seconds", type=number(float, 1.0, 60.0), default=5.0, help="clip length (default 5)")
    p.add_argument("--jobs", type=number(int, 1), default=os.cpu_count() or 1,
                   help="local processes (default CPU count)")
    p.add_argument("--no-dask", action="store_true", help="skip the Dask 1 vs 2 worker measurement")
    p.add_argument("--json", metavar="FILE", help="also write the figures as JSON")
    p.set_defaults(func=_cmd_bench_corpus)
