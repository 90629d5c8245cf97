"""The import rules of docs/architecture (ARCHITECTURE.md), checked over the package's source (import-linter style).

Every ``import`` and ``from ... import`` in ``forgebench/`` (at module level or inside a function: a lazy
import is still a dependency) is checked against :data:`MAY_IMPORT`:

* the ground (records, registry, paths, errors, atomic writes, the manifest and results tables) imports
  nothing above it;
* ``media`` knows no part; ``weights`` is infrastructure like the ground;
* a generator never imports what scores it (metrics, detectors, benchmarks, reports);
* detectors never import benchmarks or reports; reports never import benchmarks (the runner calls reports,
  not the other way round); parts meet at the ground's typed records;
* no part imports the command line: ``cli.py``, ``__main__``, ``*commands.py`` and ``config_cli`` may
  import anything, and nothing but the command line imports them.

A new top-level package must be added to :data:`MAY_IMPORT` before it can be imported by or import anything.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "forgebench"

GROUND = frozenset({"<root>", "errors", "paths", "registry", "records", "results", "manifest", "atomic", "quiet",
                    "progress"})
BASE = GROUND | {"media", "weights"}

# part -> the parts it may import (besides itself). "<root>" is forgebench/__init__.py (the version).
MAY_IMPORT: dict[str, frozenset[str]] = {
    **{g: GROUND for g in GROUND},
    "media": GROUND,
    "weights": GROUND,
    "provenance": BASE,
    "generator": BASE | {"provenance"},
    "metrics": BASE,
    "detectors": BASE | {"metrics", "provenance"},
    "reports": BASE | {"metrics"},
    "leaderboards": BASE | {"metrics", "reports"},
    "benchmarks": BASE | {"provenance", "generator", "metrics", "detectors", "reports", "leaderboards"},
}


def module_name(path: Path) -> str:
    parts = list(path.relative_to(PACKAGE.parent).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def is_cli(module: str) -> bool:
    last = module.rsplit(".", 1)[-1]
    return module in ("forgebench.cli", "forgebench.__main__", "forgebench.config_cli") or last == "commands" \
        or last.endswith("_commands")


def part_of(module: str) -> str:
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else "<root>"


def _is_submodule(name: str) -> bool:
    return (PACKAGE / name).is_dir() or (PACKAGE / f"{name}.py").is_file()


def imports_of(path: Path) -> list[tuple[int, str]]:
    """(line, imported module) of every forgebench import in the file, relative imports resolved."""
    module = module_name(path)
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    out = []
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            out += [(node.lineno, a.name) for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")[: len(package.split(".")) - node.level + 1]
                target = ".".join(base + ([node.module] if node.module else []))
            else:
                target = node.module or ""
            # `from forgebench import atomic` imports the submodule forgebench.atomic; `__version__` is the root.
            names = [f"{target}.{a.name}" if _is_submodule(a.name) else target for a in node.names] \
                if target == "forgebench" else [target]
            out += [(node.lineno, n) for n in names]
    return [(line, name) for line, name in out if name == "forgebench" or name.startswith("forgebench.")]


def violations() -> list[str]:
    found = []
    for path in sorted(PACKAGE.rglob("*.py")):
        module = module_name(path)
        if is_cli(module):
            continue
        part = part_of(module)
        if part not in MAY_IMPORT:
            message = f"forgebench/{part}: a part that is not in the rule table of tests/test_layering.py"
            found += [] if message in found else [message]
            continue
        allowed = MAY_IMPORT[part] | {part}
        for line, target in imports_of(path):
            if target == "forgebench":
                target = "forgebench.__init__"
            if is_cli(target):
                found.append(f"{module}:{line} imports the command line ({target})")
            elif (part_of(target) if target != "forgebench.__init__" else "<root>") not in allowed:
                found.append(f"{module}:{line} imports {target}: {part} may import only "
                             f"{', '.join(sorted(allowed))}")
    return found


def test_the_package_keeps_its_import_rules():
    assert violations() == []


@pytest.mark.parametrize(("source", "rel", "expect"), [
    ("forgebench/generator/x.py", "from forgebench.metrics.motion import y", "generator may import only"),
    ("forgebench/records.py", "from forgebench.media.video import y", "records may import only"),
    ("forgebench/media/x.py", "def f():\n    from forgebench.detectors import base", "media may import only"),
    ("forgebench/detectors/x.py", "import forgebench.benchmarks.spec", "detectors may import only"),
    ("forgebench/metrics/x.py", "from forgebench.metrics.commands import z", "imports the command line"),
    ("forgebench/generator/motion/x.py", "from ..commands import z", "imports the command line"),
    ("forgebench/newpart/x.py", "import os", "not in the rule table"),
])
def test_a_breach_is_caught(tmp_path, monkeypatch, source, rel, expect):
    """The checker sees module-level, lazy and relative imports (on a copy of the layout with one bad file)."""
    root = tmp_path / "forgebench"
    target = tmp_path / source
    target.parent.mkdir(parents=True)
    for d in [target.parent, *target.parent.parents]:
        if d == tmp_path:
            break
        (d / "__init__.py").touch()
    target.write_text(rel + "\n")
    monkeypatch.setitem(globals(), "PACKAGE", root)
    found = violations()
    assert len(found) == 1 and expect in found[0], found
