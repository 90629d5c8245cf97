"""Process lifetime: every process a build starts ends when the command that started it ends.

However the command ends (normal exit, an exception, Ctrl-C, SIGTERM, SIGHUP or
SIGKILL of the main process), nothing it started keeps running:

- **pool workers** (:class:`~forgebench.benchmarks.executors.LocalExecutor`) run
  :func:`die_with_parent` as their initializer: on Linux the kernel sends them
  SIGKILL when their parent dies (``prctl(PR_SET_PDEATHSIG)``), and on every system
  a watcher thread polls the parent pid and exits when it changes (the process was
  re-parented). ``getppid()`` is checked right after ``prctl`` to close the race of
  a parent dying before the request. multiprocessing's resource tracker exits
  by itself once the last process holding its pipe (the workers) is gone;
- **external generator commands** (``--allow-commands``) run through
  :func:`run_command`: a small guard process starts the command in a process group
  of its own and kills that whole group when the command ends, when it is told to
  stop (SIGTERM, SIGINT, SIGHUP) or when its own parent dies (parent-death signal on
  Linux, pid watch everywhere). Grandchildren the command leaves behind die too;
- **SIGTERM and SIGHUP** of the main process become an exception
  (:class:`Terminated`, a :class:`KeyboardInterrupt`) inside
  :func:`signals_as_interrupt`, so ``finally`` blocks run: the pool's workers are
  stopped and the run folder's lock is released, as on Ctrl-C. A second signal
  kills at once.

Dask workers of a ``LocalCluster`` exit when the pipe to their parent closes
(``distributed``'s own watch); render threads are threads of the process that
renders and end with it. This module imports only the standard library: the
guard runs it as a fresh interpreter.
"""

from __future__ import annotations

import contextlib
import ctypes
import ctypes.util
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

PR_SET_PDEATHSIG = 1  # <linux/prctl.h>
POLL_SECONDS = 0.2  # how often a watcher looks at its parent pid (the delay to die where there is no prctl)
GUARD_MISSING = "forgebench-guard: cannot start the command: "  # the guard's stderr line when exec fails
# The signals that stop a build like Ctrl-C (SIGHUP: the terminal or SSH session closed); POSIX names.
TERMINATE_SIGNALS = tuple(getattr(signal, name) for name in ("SIGTERM", "SIGHUP") if hasattr(signal, name))


class Terminated(KeyboardInterrupt):
    """SIGTERM or SIGHUP, raised like Ctrl-C so that cleanup runs (see :func:`signals_as_interrupt`)."""


def set_parent_death_signal(sig: int) -> bool:
    """Ask the kernel to send ``sig`` to this process when its parent (thread) dies; False where unsupported.

    Linux only. The signal follows the *thread* that created this process, so ask
    for it only in children of a long-lived thread (the main thread).
    """
    if not sys.platform.startswith("linux"):
        return False
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True)
        return libc.prctl(PR_SET_PDEATHSIG, int(sig), 0, 0, 0) == 0
    except (OSError, AttributeError):
        return False


def watch_parent(parent_pid: int, on_death, interval: float = POLL_SECONDS) -> threading.Thread:
    """Call ``on_death()`` from a daemon thread once this process's parent is no longer ``parent_pid``."""

    def watch() -> None:
        while os.getppid() == parent_pid:
            time.sleep(interval)
        on_death()

    thread = threading.Thread(target=watch, name="forgebench-parent-watch", daemon=True)
    thread.start()
    return thread


def die_with_parent(parent_pid: int, use_prctl: bool = True) -> None:
    """Worker initializer: end this process when ``parent_pid`` (its parent) ends.

    ``use_prctl``: the parent created this worker from its main thread, so the
    kernel's parent-death signal (which follows the creating thread) is safe to use.
    SIGINT is ignored: Ctrl-C reaches the whole terminal's process group, and the
    parent, which gets it too, stops its workers itself.
    """
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    if use_prctl:
        set_parent_death_signal(signal.SIGKILL)
    if os.getppid() != parent_pid:  # the parent died before the request: nobody will signal us
        os._exit(1)
    watch_parent(parent_pid, lambda: os._exit(1))


def stop_processes(processes, grace: float = 3.0) -> None:
    """SIGTERM each ``multiprocessing`` process, wait up to ``grace`` seconds, SIGKILL what is left, reap all."""
    processes = [p for p in processes if p.is_alive()]
    for p in processes:
        with contextlib.suppress(OSError, ValueError):
            p.terminate()
    deadline = time.monotonic() + grace
    for p in processes:
        p.join(max(0.0, deadline - time.monotonic()))
        if p.is_alive():
            with contextlib.suppress(OSError, ValueError):
                p.kill()
            p.join(grace)


@contextlib.contextmanager
def signals_as_interrupt() -> Iterator[None]:
    """Within the block, SIGTERM and SIGHUP raise :class:`Terminated` in the main thread (no-op elsewhere).

    A second signal while cleaning up takes the default action (the process dies;
    its children still die with it, see the module docstring).
    """
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def handler(signum: int, frame: object) -> None:
        for sig in TERMINATE_SIGNALS:
            signal.signal(sig, signal.SIG_DFL)
        raise Terminated(f"stopped by {signal.Signals(signum).name}")

    previous = {sig: signal.signal(sig, handler) for sig in TERMINATE_SIGNALS}
    try:
        yield
    finally:
        for sig, old in previous.items():
            signal.signal(sig, old)


def run_command(cmd: list[str], *, cwd: str | Path | None = None, timeout: float | None = None,
                grace: float = 3.0) -> subprocess.CompletedProcess:
    """Run ``cmd`` (capturing text output) in its own process group, under a guard; see the module docstring.

    Raises :class:`FileNotFoundError` when the program does not exist and
    :class:`subprocess.TimeoutExpired` after ``timeout`` seconds; in both cases, and
    on any exception while waiting (Ctrl-C, :class:`Terminated`), the command's
    whole process group is killed before this returns or raises.
    """
    root = str(Path(__file__).resolve().parents[2])  # the folder holding the forgebench package
    code = (f"import sys; sys.path.append({root!r}); "
            "from forgebench.benchmarks.lifetime import guard_main; guard_main(sys.argv[1:])")
    # -I -S: no current folder, user site or environment on the guard's path; it needs only the standard library.
    argv = [sys.executable, "-I", "-S", "-c", code, str(os.getpid()),
            "1" if threading.current_thread() is threading.main_thread() else "0", "--", *cmd]
    guard = subprocess.Popen(argv, cwd=cwd, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                             stderr=subprocess.PIPE, encoding="utf-8", errors="replace")
    try:
        out, err = guard.communicate(timeout=timeout)
    except BaseException:
        guard.terminate()  # the guard kills the command's group, then exits
        try:
            guard.communicate(timeout=grace)
        except subprocess.TimeoutExpired:
            guard.kill()
            guard.communicate()
        raise
    if guard.returncode == 127 and err.startswith(GUARD_MISSING):
        raise FileNotFoundError(2, err[len(GUARD_MISSING):].strip(), cmd[0])
    return subprocess.CompletedProcess(cmd, guard.returncode, out, err)


def guard_main(argv: list[str]) -> None:
    """The guard process: ``PARENT_PID USE_PRCTL -- CMD...`` (started by :func:`run_command`)."""
    parent_pid, use_prctl, cmd = int(argv[0]), argv[1] == "1", argv[3:]
    state: dict = {"child": None, "stopping": False}

    def kill_group() -> None:
        child = state["child"]
        if child is not None:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(child.pid, signal.SIGKILL)

    def stop(signum: int = signal.SIGTERM, frame: object = None) -> None:
        state["stopping"] = True
        if state["child"] is None:
            return  # not started yet: the main path sees the flag once Popen returns
        kill_group()
        os._exit(128 + signum)

    for sig in (*TERMINATE_SIGNALS, signal.SIGINT):
        signal.signal(sig, stop)
    if use_prctl:
        set_parent_death_signal(signal.SIGTERM)
    if os.getppid() != parent_pid:
        os._exit(128 + signal.SIGTERM)
    watch_parent(parent_pid, lambda: os.kill(os.getpid(), signal.SIGTERM))
    try:
        state["child"] = subprocess.Popen(cmd, process_group=0)
    except OSError as exc:
        sys.stderr.write(f"{GUARD_MISSING}{exc.strerror}\n")
        sys.stderr.flush()
        os._exit(127)
    if state["stopping"]:
        stop()
    code = state["child"].wait()
    kill_group()  # whatever the command left running in its group
    os._exit(code if code >= 0 else 128 - code)
