"""The command line builds its whole argparse tree without the heavy libraries (fast --help).

Commands import what they use when they run; building the parser, and printing every command's
--help, must not import any of :data:`HEAVY` (measured in a fresh interpreter, so the test does not
depend on what other tests imported).
"""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path

HEAVY = ("torch", "mediapipe", "pandas", "cv2", "av", "scipy", "sklearn", "numpy", "matplotlib", "PIL", "yaml",
         "pydantic", "pyarrow", "tqdm", "timm", "dask", "skimage")

SCRIPT = textwrap.dedent("""
    import argparse, contextlib, io, json, sys
    from forgebench.cli import build_parser, main

    def walk(parser, path):
        yield path
        for action in parser._actions:
            if isinstance(action, argparse._SubParsersAction):
                for name, sub in action.choices.items():
                    yield from walk(sub, path + [name])

    paths = list(walk(build_parser(), []))
    for path in paths:
        with contextlib.redirect_stdout(io.StringIO()) as out:
            assert main(path + ["--help"]) == 0, path
        assert "usage: forgebench" in out.getvalue(), path
    print(json.dumps({"commands": [" ".join(p) for p in paths],
                      "heavy": sorted(m for m in sys.modules if m.split(".")[0] in HEAVY)}))
""")


def test_help_of_every_command_imports_no_heavy_library():
    root = Path(__file__).resolve().parents[2]
    proc = subprocess.run([sys.executable, "-c", f"HEAVY = {HEAVY!r}\n{SCRIPT}"], capture_output=True, text=True,
                          cwd=root, timeout=120)
    assert proc.returncode == 0, proc.stderr[-3000:]
    result = json.loads(proc.stdout.strip().splitlines()[-1])
    assert {"generate", "score", "run", "train detector", "eval motion", "bench generate"} <= set(result["commands"])
    assert result["heavy"] == []
