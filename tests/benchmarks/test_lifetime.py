"""Killed builds leave no process behind; a run folder has one writer at a time.

The builds here run a spec whose generator is an external command (a Python
script the test writes): it records its pid, starts a grandchild that sleeps,
and, while the ``slow`` flag file exists and three clips are finished, sleeps
itself, so that the build is reliably mid-way (both workers busy) when the test
kills it. Processes are found by pid, from /proc, before the kill.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import pytest

from forgebench.benchmarks.build import build_corpus
from forgebench.benchmarks.runlock import LOCK_NAME, RunBusyError, read_owner
from forgebench.benchmarks.spec import load_spec
from forgebench.cli import main
from forgebench.manifest import read_manifest

pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="lists processes through /proc")

GENERATOR = """
import glob, os, shutil, subprocess, sys, time
here, seed, out = sys.argv[1], int(sys.argv[2]), sys.argv[3]
run = os.path.dirname(os.path.dirname(os.path.dirname(out)))  # out is RUN/clips/ab/.id.partial.mp4
# Slow once three clips are finished (while the flag exists): the build is then mid-way, both workers busy.
slow = os.path.exists(os.path.join(here, "slow")) and len(glob.glob(os.path.join(run, "clips", "*", "*.json"))) >= 3
child = subprocess.Popen([sys.executable, "-I", "-S", "-c", "import time; time.sleep(600)"])  # grandchild
for pid, role in ((os.getpid(), "cmd"), (child.pid, "grandchild")):
    with open(os.path.join(here, "pids", f"{role}-{'slow' if slow else 'fast'}-{pid}"), "w") as f:
        f.write(str(pid))
if slow:
    time.sleep(600)
shutil.copyfile(os.path.join(here, f"v{seed}.mp4"), out)
child.kill()
"""


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    """A folder with the generator script, two source videos and the spec (its cmd names this folder)."""
    from tests.benchmarks.conftest import make_video

    here = tmp_path_factory.mktemp("world")
    (here / "gen.py").write_text(GENERATOR)
    for seed in (0, 1):
        make_video(here / f"v{seed}.mp4", seed=seed, frames=4, size=32)
    cmd = [sys.executable, "-I", "-S", str(here / "gen.py"), str(here), "{seed}", "{out}"]
    (here / "spec.yaml").write_text(
        "include: tiny\nname: procs\nperturbations: []\n"
        f"generators: [{{name: slowcopy, kind: command, params: {{cmd: {json.dumps(cmd)}, seeds: [0, 1], "
        "timeout: 300}}]\n")
    (here / "pids").mkdir()
    return here


@pytest.fixture(scope="module")
def reference(world, tmp_path_factory):
    """The manifest of an uninterrupted build (inline, no slow flag)."""
    run = tmp_path_factory.mktemp("reference")
    res = build_corpus(load_spec(world / "spec.yaml"), run, allow_commands=True, progress=False)
    assert res.n_failed == 0 and len(res.manifest) == 6
    return read_manifest(run)


def _status(pid: int) -> str | None:
    """The process state letter ('R', 'S', 'Z', ...), None when gone."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except (FileNotFoundError, ProcessLookupError):
        return None
    return stat.rsplit(")", 1)[1].split()[0]


def alive(pid: int) -> bool:
    return _status(pid) not in (None, "Z", "X")  # a zombie has ended; only its exit status is left


def descendants(root: int) -> set[int]:
    children: dict[int, list[int]] = {}
    for d in Path("/proc").iterdir():
        if d.name.isdigit():
            try:
                ppid = int((d / "stat").read_text().rsplit(")", 1)[1].split()[1])
            except (OSError, IndexError, ValueError):
                continue
            children.setdefault(ppid, []).append(int(d.name))
    found, todo = set(), [root]
    while todo:
        for c in children.get(todo.pop(), []):
            if c not in found:
                found.add(c)
                todo.append(c)
    return found


def _wait_for(predicate, timeout: float, what: str, proc: subprocess.Popen | None = None) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if proc is not None and proc.poll() is not None:
            raise AssertionError(f"the build ended (status {proc.returncode}) before {what}: "
                                 f"{proc.stderr.read() if proc.stderr else ''}")
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.1)


ENV = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[2])}  # this checkout's forgebench


@pytest.fixture
def start_build(world):
    """Start ``forgebench ARGV`` in the background, slowed; on teardown kill whatever of it is left."""
    started: list[subprocess.Popen] = []

    def start(argv: list[str]) -> subprocess.Popen:
        for p in (world / "pids").iterdir():
            p.unlink()
        (world / "slow").touch()
        proc = subprocess.Popen([sys.executable, "-m", "forgebench", *argv], env=ENV, stdout=subprocess.DEVNULL,
                                stderr=subprocess.PIPE, text=True)
        started.append(proc)
        return proc

    yield start
    for proc in started:
        for p in [*descendants(proc.pid), proc.pid]:
            if alive(p):
                os.kill(p, signal.SIGKILL)
        proc.wait()


def kill_mid_build(world: Path, proc: subprocess.Popen, n_slow: int) -> tuple[set[int], float]:
    """Wait until ``n_slow`` slow commands run, SIGKILL the main process; (its descendants, seconds they took)."""
    slow = lambda: len(list((world / "pids").glob("cmd-slow-*"))) >= n_slow  # noqa: E731
    _wait_for(slow, 240, f"{n_slow} slow command(s) to start", proc)
    tree = descendants(proc.pid)
    try:
        running = {int(p.read_text()) for p in (world / "pids").glob("*-slow-*")}
        assert running <= tree  # the slow commands and their grandchildren are in the tree we watch
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(10)
        t0 = time.monotonic()
        deadline = t0 + 15
        while any(alive(p) for p in tree) and time.monotonic() < deadline:
            time.sleep(0.05)
        seconds = time.monotonic() - t0
        left = {p: _status(p) for p in tree if alive(p)}
        assert not left, f"processes still alive {seconds:.1f} s after the kill: {left}"
    finally:
        for p in {proc.pid, *tree}:  # never leave a process behind, even when an assertion fails
            if alive(p):
                os.kill(p, signal.SIGKILL)
        proc.wait()
    return tree, seconds


def resume_and_compare(world: Path, run: Path, reference: pd.DataFrame, capfd) -> None:
    (world / "slow").unlink()
    owner = read_owner(run / LOCK_NAME)
    assert owner and not alive(owner["pid"])  # the killed build's lock is left behind, stale
    res = build_corpus(load_spec(world / "spec.yaml"), run, allow_commands=True, progress=False)
    assert f"taking over the lock of {run} left by pid {owner['pid']}" in capfd.readouterr().err
    assert res.n_skipped >= 3 and res.n_failed == 0  # three clips were finished before the kill
    pd.testing.assert_frame_equal(read_manifest(run), reference)
    assert not list(run.rglob("*.partial*")) and not (run / LOCK_NAME).exists()


def snapshot(folder: Path) -> dict[str, tuple[int, int]]:
    return {str(p.relative_to(folder)): (p.stat().st_size, p.stat().st_mtime_ns) for p in folder.rglob("*")}


def test_killed_pool_build_leaves_no_process_and_a_locked_folder_stops_a_second_build(world, reference, tmp_path,
                                                                                         capfd, start_build):
    run = tmp_path / "run"
    proc = start_build(["corpus", "build", str(world / "spec.yaml"), "-o", str(run), "-j", "2",
                               "--allow-commands"])
    slow = lambda: len(list((world / "pids").glob("cmd-slow-*"))) >= 2  # noqa: E731
    _wait_for(slow, 240, "both workers to be busy", proc)
    # A second build of the same folder stops with one line and writes nothing.
    before = snapshot(run)
    capfd.readouterr()
    code = main(["corpus", "build", str(world / "spec.yaml"), "-o", str(run), "-j", "1"])  # the command, in process
    assert code == RunBusyError.exit_code
    lines = capfd.readouterr().err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith(f"forgebench: error: {run} is being written by pid {proc.pid} ")
    assert "wait for it or stop it" in lines[0]
    assert snapshot(run) == before

    tree, seconds = kill_mid_build(world, proc, 2)
    print(f"pool build: {len(tree)} processes gone {seconds:.2f} s after SIGKILL")
    assert len(tree) >= 2 + 1 + 2 * 3  # 2 workers, the resource tracker, 2 x (guard, command, grandchild)
    resume_and_compare(world, run, reference, capfd)


def test_killed_run_leaves_no_process(world, reference, tmp_path, capfd, start_build):
    run = tmp_path / "run"
    proc = start_build(["run", str(world / "spec.yaml"), "-o", str(run), "-j", "2", "--allow-commands"])
    tree, seconds = kill_mid_build(world, proc, 2)
    print(f"forgebench run: {len(tree)} processes gone {seconds:.2f} s after SIGKILL")
    resume_and_compare(world, run, reference, capfd)


def test_killed_dask_build_leaves_no_process(world, reference, tmp_path, capfd, start_build):
    run = tmp_path / "run"
    proc = start_build(["corpus", "build", str(world / "spec.yaml"), "-o", str(run), "--workers", "2",
                               "--allow-commands"])
    tree, seconds = kill_mid_build(world, proc, 2)
    print(f"dask build: {len(tree)} processes gone {seconds:.2f} s after SIGKILL")
    resume_and_compare(world, run, reference, capfd)


# -- the pieces, without a build -------------------------------------------------------------------------------

POOL_SCRIPT = """
import sys, time
from forgebench.benchmarks.executors import LocalExecutor
from forgebench.benchmarks.lifetime import signals_as_interrupt
from forgebench.benchmarks.runlock import run_lock

try:
    with signals_as_interrupt(), run_lock(sys.argv[1]), LocalExecutor(2, progress=False) as ex:
        for _ in ex.map(time.sleep, [600, 600, 600]):
            pass
except KeyboardInterrupt as exc:
    print(type(exc).__name__, flush=True)
    sys.exit(130)
"""


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT])
def test_terminated_or_interrupted_pool_stops_its_workers_and_releases_the_lock(tmp_path, sig):
    proc = subprocess.Popen([sys.executable, "-c", POOL_SCRIPT, str(tmp_path)], env=ENV, stdout=subprocess.PIPE,
                            text=True)
    tree: set[int] = set()
    try:
        def started() -> bool:
            tree.update(descendants(proc.pid))
            return len(tree) >= 3  # two workers and the resource tracker

        _wait_for(started, 60, "the pool's workers and resource tracker", proc)
        assert (tmp_path / LOCK_NAME).is_file()
        proc.send_signal(sig)
        assert proc.wait(30) == 130
        assert proc.stdout.read().strip() == ("Terminated" if sig == signal.SIGTERM else "KeyboardInterrupt")
        _wait_for(lambda: not any(alive(p) for p in tree), 10, "the workers to end")
        assert not (tmp_path / LOCK_NAME).exists()  # released on the way out
    finally:
        for p in [*tree, proc.pid]:
            if alive(p):
                os.kill(p, signal.SIGKILL)
        proc.wait()


def test_run_command_kills_the_group_on_timeout_and_when_done(tmp_path):
    from forgebench.benchmarks.lifetime import run_command

    pidfile = tmp_path / "grandchild"
    leave = (f"import subprocess, sys; p = subprocess.Popen([sys.executable, '-I', '-S', '-c', "
             f"'import time; time.sleep(600)']); open({str(pidfile)!r}, 'w').write(str(p.pid)); print('out')")
    done = run_command([sys.executable, "-I", "-S", "-c", leave], cwd=tmp_path)
    assert (done.returncode, done.stdout) == (0, "out\n")
    _wait_for(lambda: not alive(int(pidfile.read_text())), 10, "the grandchild left behind to be killed")

    with pytest.raises(subprocess.TimeoutExpired):
        run_command([sys.executable, "-I", "-S", "-c", leave + "; import time; time.sleep(600)"], timeout=3)
    _wait_for(lambda: not alive(int(pidfile.read_text())), 10, "the timed-out command's group to be killed")

    failed = run_command([sys.executable, "-I", "-S", "-c", "import sys; sys.exit(3)"])
    assert failed.returncode == 3
    with pytest.raises(FileNotFoundError):
        run_command([str(tmp_path / "no-such-program"), "{out}"])


WATCHED = """
import sys, threading, time
from forgebench.benchmarks.executors import LocalExecutor
from forgebench.benchmarks.lifetime import run_command

def pool():  # each worker says it runs its task (after its initializer), then sleeps
    task = "import os, time; open(os.path.join(%r, f'w{os.getpid()}'), 'w').close(); time.sleep(600)" % sys.argv[2]
    with LocalExecutor(2, progress=False) as ex:
        list(ex.map(exec, [task, task]))

def command():
    run_command(sys.argv[3:])

target = pool if sys.argv[1] == "pool" else command
if "thread" in sys.argv[1]:  # started from another thread: no parent-death signal, the pid watch alone (macOS)
    target = {"pool-thread": pool, "command-thread": command}[sys.argv[1]]
    thread = threading.Thread(target=target)
    thread.start()
    thread.join()
else:
    target()
"""


@pytest.mark.parametrize("what", ["pool-thread", "command", "command-thread"])
def test_sigkilled_parent_takes_its_children_along(tmp_path, what):
    """The pool's workers and a command's guard, group and grandchildren die with a SIGKILLed parent.

    From another thread than the main one, the kernel's parent-death signal is not
    used (it follows the thread): the parent-pid watch alone does it, as on macOS.
    (The main-thread pool is covered by the build tests above.)
    """
    pidfile = tmp_path / "grandchild"
    leave = (f"import subprocess, sys, time; p = subprocess.Popen([sys.executable, '-I', '-S', '-c', "
             f"'import time; time.sleep(600)']); open({str(pidfile)!r}, 'w').write(str(p.pid)); time.sleep(600)")
    argv = [sys.executable, "-c", WATCHED, what, str(tmp_path), sys.executable, "-I", "-S", "-c", leave]
    proc = subprocess.Popen(argv, env=ENV)
    tree: set[int] = set()
    try:
        def started() -> bool:
            tree.update(descendants(proc.pid))
            ready = len(list(tmp_path.glob("w*"))) == 2 if what == "pool-thread" else pidfile.is_file()
            return ready and len(tree) >= 3

        _wait_for(started, 60, "the children to start", proc)
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait()
        _wait_for(lambda: not any(alive(p) for p in tree), 10, "every child to end")
    finally:
        for p in tree:
            if alive(p):
                os.kill(p, signal.SIGKILL)
