"""``forgebench bench ...``: speed and robustness figures, one subcommand per part."""

from __future__ import annotations

import argparse
import importlib

# (module, function adding a subcommand to the bench group)
BENCHES = (
    ("forgebench.generator.commands", "add_bench_generate"),
    ("forgebench.generator.commands", "add_bench_self_reenact"),
    ("forgebench.generator.commands", "add_bench_video"),
    ("forgebench.generator.motion.diffusion.commands", "add_bench_motion"),
    ("forgebench.provenance.commands", "register_bench"),
    ("forgebench.metrics.commands", "add_bench_metrics"),
    ("forgebench.metrics.commands", "add_bench_lipsync"),
    ("forgebench.benchmarks.commands", "add_bench_corpus"),
    ("forgebench.detectors.commands", "add_bench_preprocess"),
)


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser("bench", help="measure speed and robustness on this machine",
                              description="Benchmarks report numbers measured on this machine; they assert nothing.")
    bench = p.add_subparsers(dest="bench", metavar="BENCH")
    for module, function in BENCHES:
        getattr(importlib.import_module(module), function)(bench)
    p.set_defaults(func=lambda args: p.print_help() or 1)
