"""The ``forgebench`` command.

Each part contributes its subcommands through a ``register(subparsers)``
function in its own ``commands`` module, so this file only wires them together
and turns every failure into one ``forgebench: error: ...`` line on stderr:
a :class:`~forgebench.errors.ForgebenchError` (bad input: what is wrong, what to do),
an argument the parser refuses, a full disk, and any unexpected exception (a bug:
``--verbose`` shows its traceback). Commands import what they use when they run, so
building the parser (``--help``) imports no heavy library (``tests/cli/test_startup.py``).
While a command runs, native libraries' log lines and third-party warnings are kept off
stderr (:mod:`forgebench.quiet`); ``--verbose`` lets them through.
"""

from __future__ import annotations

import argparse
import importlib
import os
import sys
from collections.abc import Sequence

from forgebench import __version__
from forgebench.errors import DiskFullError, ForgebenchError, is_disk_full
from forgebench.quiet import quiet_environment, verbose

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


class ArgumentParser(argparse.ArgumentParser):
    """argparse, with a refused argument reported as one ``forgebench: error:`` line (no usage block)."""

    def error(self, message: str) -> None:  # type: ignore[override]
        command = self.prog.removeprefix("forgebench").strip()
        where = f"{command}: " if command else ""
        see = f"forgebench {command} --help" if command else "forgebench --help"
        print(f"forgebench: error: {where}{message} (see '{see}')", file=sys.stderr)
        raise SystemExit(2)


def build_parser() -> argparse.ArgumentParser:
    parser = ArgumentParser(
        prog="forgebench",
        description=(
            "forgebench: make talking-face deepfakes (image + speech -> MP4), score them, "
            "train and evaluate detectors, and publish reports. Every generated file carries "
            "provenance metadata and an invisible watermark."
        ),
        epilog="Run 'forgebench COMMAND --help' for a command's options. Start with 'forgebench quickstart'.",
    )
    parser.add_argument("--version", action="version", version=f"forgebench {__version__}")
    parser.add_argument("--verbose", action="store_true",
                        help="let native libraries' log lines, Python warnings and tracebacks through (for debugging; "
                             "also FORGEBENCH_VERBOSE=1); may be given after the command too")
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND")
    for module_name in COMMAND_MODULES:
        importlib.import_module(module_name).register(subparsers)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    # --verbose is accepted anywhere before a "--" (it is a global switch, not a command's option).
    end = argv.index("--") if "--" in argv else len(argv)
    loud = "--verbose" in argv[:end] or verbose()
    argv = [a for i, a in enumerate(argv) if not (i < end and a == "--verbose")]
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:  # --help, --version, or a refused argument (already reported)
        return exc.code if isinstance(exc.code, int) else 0
    if not getattr(args, "func", None):
        parser.print_help()
        return 1
    with quiet_environment(loud):
        return _run(args.func, args, loud)


def _run(func, args: argparse.Namespace, loud: bool) -> int:
    try:
        result = func(args)
    except ForgebenchError as exc:
        message = " ".join(str(exc).splitlines())
        print(f"forgebench: error: {message}", file=sys.stderr)
        return exc.exit_code
    except KeyboardInterrupt:
        print("forgebench: interrupted; outputs are written atomically, so rerun to resume", file=sys.stderr)
        return 130
    except BrokenPipeError:
        # `forgebench ... | head`: quietly stop writing to a closed pipe.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 1
    except OSError as exc:
        if is_disk_full(exc):
            print(f"forgebench: error: no space left on the device ({exc}): free space and rerun the same command; "
                  "outputs are written atomically, so nothing half-written was kept", file=sys.stderr)
            return DiskFullError.exit_code
        return _unexpected(exc, loud)
    except Exception as exc:  # noqa: BLE001  (a bug: one line, the traceback with --verbose)
        return _unexpected(exc, loud)
    return int(result or 0)


def _unexpected(exc: Exception, loud: bool) -> int:
    if loud:
        raise exc
    text = " ".join(str(exc).split())[:300] or "no message"
    print(f"forgebench: error: unexpected {type(exc).__name__} ({text}); this is a bug in forgebench: rerun with "
          "--verbose for the traceback and report it", file=sys.stderr)
    return 1


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
