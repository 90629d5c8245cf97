"""Command groups that several parts contribute to: ``train``, ``eval``.

Each part exposes ``add_<group>_<thing>(group_subparsers)``; this module builds
the group once, so no part imports another's command module.
"""

from __future__ import annotations

import argparse
import importlib

GROUPS: dict[str, tuple[str, tuple[tuple[str, str], ...]]] = {
    "train": ("train a detector or a motion model", (
        ("forgebench.detectors.commands", "add_train_detector"),
        ("forgebench.generator.motion.diffusion.commands", "add_train_motion"),
    )),
    "eval": ("evaluate a trained detector or motion model, or the generator's fidelity", (
        ("forgebench.detectors.commands", "add_eval_detector"),
        ("forgebench.benchmarks.eval_commands", "add_eval_motion"),
        ("forgebench.benchmarks.fidelity_commands", "add_eval_fidelity"),
    )),
}


def register(subparsers: argparse._SubParsersAction) -> None:
    for group, (help_text, parts) in GROUPS.items():
        p = subparsers.add_parser(group, help=help_text, description=help_text[0].upper() + help_text[1:] + ".")
        sub = p.add_subparsers(dest=group, metavar="WHAT")
        for module, function in parts:
            getattr(importlib.import_module(module), function)(sub)
        p.set_defaults(func=lambda args, p=p: p.print_help() or 1)
