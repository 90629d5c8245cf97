"""The ``forgebench`` command.

Each part contributes its subcommands through a ``register(subparsers)``
function in its own ``commands`` module, so this file only wires them together
and turns :class:`~forgebench.errors.ForgebenchError` into one line on stderr.
"""

from __future__ import annotations

import argparse
import importlib
import os
import sys
from collections.abc import Sequence

from forgebench import __version__
from forgebench.errors import DiskFullError, ForgebenchError, is_disk_full

# Modules with a ``register(subparsers)`` function, in the order --help lists them.
COMMAND_MODULES: tuple[str, ...] = (
    "forgebench.generator.commands",
    "forgebench.media.commands",
    "forgebench.metrics.commands",
    "forgebench.detectors.commands",
    "forgebench.provenance.commands",
    "forgebench.weights.commands",
    "forgebench.benchmarks.commands",
    "forgebench.benchmarks.run_commands",
    "forgebench.reports.commands",
    "forgebench.leaderboards.commands",
    "forgebench.bench_commands",
    "forgebench.group_commands",
    "forgebench.list_commands",
)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="forgebench",
        description=(
            "forgebench: make talking-face deepfakes (image + speech -> MP4), score them, "
            "train and evaluate detectors, and publish reports. Every generated file carries "
            "provenance metadata and an invisible watermark."
        ),
        epilog="Run 'forgebench COMMAND --help' for a command's options. Start with 'forgebench quickstart'.",
    )
    parser.add_argument("--version", action="version", version=f"forgebench {__version__}")
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND")
    for module_name in COMMAND_MODULES:
        importlib.import_module(module_name).register(subparsers)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "func", None):
        parser.print_help()
        return 1
    try:
        result = args.func(args)
    except ForgebenchError as exc:
        print(f"forgebench: error: {exc}", file=sys.stderr)
        return exc.exit_code
    except KeyboardInterrupt:
        print("forgebench: interrupted; outputs are written atomically, so rerun to resume", file=sys.stderr)
        return 130
    except BrokenPipeError:
        # `forgebench ... | head`: quietly stop writing to a closed pipe.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 1
    except OSError as exc:
        if not is_disk_full(exc):
            raise
        print(f"forgebench: error: no space left on the device ({exc}): free space and rerun the same command; "
              "outputs are written atomically, so nothing half-written was kept", file=sys.stderr)
        return DiskFullError.exit_code
    return int(result or 0)


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
