"""How long the processes of a SIGKILLed build live on (Linux: reads /proc).

    python measurements/benchmarks/kill9.py [pool|run|dask] [--checkout DIR] [--limit SECONDS]

Sets up what ``tests/benchmarks/test_lifetime.py`` uses (an external-command
generator that turns slow once three clips are finished), starts ``forgebench
corpus build -j 2`` (pool), ``forgebench run -j 2`` (run) or ``corpus build
--workers 2`` (dask) from ``--checkout`` (default: this one), waits until both
workers run a slow command, SIGKILLs the main process and polls every 5 ms until
every process it had started is gone (a zombie counts as gone) or ``--limit``
seconds pass. Survivors are killed at the end. Scratch goes under a temporary folder.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from tests.benchmarks.conftest import make_video  # noqa: E402
from tests.benchmarks.test_lifetime import GENERATOR, alive, descendants  # noqa: E402

COMMANDS = {"pool": ["corpus", "build", "{spec}", "-o", "{run}", "-j", "2"],
            "run": ["run", "{spec}", "-o", "{run}", "-j", "2"],
            "dask": ["corpus", "build", "{spec}", "-o", "{run}", "--workers", "2"]}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("mode", nargs="?", default="pool", choices=sorted(COMMANDS))
    ap.add_argument("--checkout", type=Path, default=ROOT, help="the forgebench checkout to run (default: this one)")
    ap.add_argument("--limit", type=float, default=20.0, help="give up after this many seconds (default 20)")
    args = ap.parse_args()
    here = Path(tempfile.mkdtemp(prefix="forgebench-kill9-"))
    try:
        (here / "gen.py").write_text(GENERATOR)
        for seed in (0, 1):
            make_video(here / f"v{seed}.mp4", seed=seed, frames=4, size=32)
        cmd = [sys.executable, "-I", "-S", str(here / "gen.py"), str(here), "{seed}", "{out}"]
        (here / "spec.yaml").write_text(
            "include: tiny\nname: procs\nperturbations: []\n"
            f"generators: [{{name: slowcopy, kind: command, params: {{cmd: {json.dumps(cmd)}, seeds: [0, 1], "
            "timeout: 300}}]\n")
        (here / "pids").mkdir()
        (here / "slow").touch()
        argv = [sys.executable, "-m", "forgebench", "--allow-commands"]
        argv[3:3] = [a.format(spec=here / "spec.yaml", run=here / "run") for a in COMMANDS[args.mode]]
        checkout = args.checkout.resolve()
        t_start = time.monotonic()
        proc = subprocess.Popen(argv, env={**os.environ, "PYTHONPATH": str(checkout)}, cwd=checkout,
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        while len(list((here / "pids").glob("cmd-slow-*"))) < 2:
            if proc.poll() is not None:
                sys.exit(f"the build ended early (status {proc.returncode})")
            time.sleep(0.05)
        tree = descendants(proc.pid)
        names = {p: Path(f"/proc/{p}/cmdline").read_bytes().replace(b"\0", b" ")[:70].decode(errors="replace")
                 for p in tree}
        print(f"{args.mode}: busy after {time.monotonic() - t_start:.1f} s; {len(tree)} processes under pid "
              f"{proc.pid}")
        os.kill(proc.pid, signal.SIGKILL)
        t0 = time.monotonic()
        proc.wait()
        t_main = time.monotonic() - t0
        gone: dict[int, float] = {}
        while len(gone) < len(tree) and time.monotonic() - t0 < args.limit:
            for p in tree:
                if p not in gone and not alive(p):
                    gone[p] = time.monotonic() - t0
            time.sleep(0.005)
        for p in sorted(tree):
            state = f"gone after {gone[p]:.3f} s" if p in gone else f"ALIVE after {args.limit:.0f} s"
            print(f"  {p:>7} {state:<22} {names[p]}")
        print(f"{args.mode}: main process reaped {t_main:.3f} s after SIGKILL")
        left = [p for p in tree if p not in gone]
        print(f"{args.mode}: all gone after {max(gone.values()):.3f} s" if not left else
              f"{args.mode}: {len(left)} still alive after {args.limit:.0f} s")
        for p in left:
            if alive(p):
                os.kill(p, signal.SIGKILL)
    finally:
        shutil.rmtree(here, ignore_errors=True)


if __name__ == "__main__":
    main()
