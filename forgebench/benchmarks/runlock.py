"""One writer per run folder: ``RUN_DIR/forgebench.lock``.

A build or run takes the lock before it writes anything into the run folder and
releases it on the way out. The lock is an ``fcntl.flock`` on the file, which the
kernel releases when its holder dies, however it dies (SIGKILL included); the
file records the owner (pid, host, start time, command) so that a second writer
can say who holds it. A lock file whose flock is free was left by a process that
is gone: it is stale and the next writer takes it over (and says so). On a file
system without ``flock`` the record alone decides: stale when its host is this one
and its pid is no longer alive.

The lock is re-entrant within a process (``forgebench run`` holds it and its
corpus stage takes it again); it is not shared with child processes.

>>> import tempfile
>>> d = tempfile.mkdtemp()
>>> with run_lock(d, "doctest"):
...     with run_lock(d):  # the same process may take it again
...         pass
"""

from __future__ import annotations

import contextlib
import errno
import json
import os
import shlex
import socket
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

from forgebench.errors import ForgebenchError, InputError

LOCK_NAME = "forgebench.lock"
_HELD: dict[str, list] = {}  # resolved lock path -> [fd or None, depth]
_HELD_LOCK = threading.Lock()


class RunBusyError(ForgebenchError):
    """The run folder is being written by another process."""

    exit_code = 75  # EX_TEMPFAIL: try again later


def _record(command: str | None) -> dict:
    if command is None:
        command = shlex.join([Path(sys.argv[0]).name, *sys.argv[1:]]) if sys.argv and sys.argv[0] else "python"
    return {"pid": os.getpid(), "host": socket.gethostname(),
            "since": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()), "command": command}


def read_owner(path: str | Path) -> dict:
    """The record in a lock file ({} when absent, empty or unreadable)."""
    try:
        data = json.loads(Path(path).read_text(encoding="utf-8") or "{}")
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # exists, owned by someone else
    return True


def _busy(run_dir: Path, owner: dict) -> RunBusyError:
    who = f"pid {owner.get('pid', '?')} on host {owner.get('host', '?')}" if owner else "another process"
    since = f" since {owner['since']}" if owner.get("since") else ""
    command = f" ({owner['command'][:120]})" if owner.get("command") else ""
    return RunBusyError(f"{run_dir} is being written by {who}{since}{command}; wait for it or stop it "
                        "(a stale lock is taken over automatically)")


def _note_stale(run_dir: Path, owner: dict) -> None:
    if owner.get("pid"):
        print(f"forgebench: note: taking over the lock of {run_dir} left by pid {owner['pid']} on host "
              f"{owner.get('host', '?')} (no longer running)", file=sys.stderr, flush=True)


def _write(fd: int, record: dict) -> None:
    data = json.dumps(record).encode() + b"\n"
    os.ftruncate(fd, 0)
    os.pwrite(fd, data, 0)


def _acquire(run_dir: Path, path: Path, command: str | None) -> int | None:
    """Lock ``path``; return its descriptor (None: no flock on this file system, the record decides)."""
    try:
        import fcntl
    except ImportError:  # not POSIX
        return _acquire_by_record(run_dir, path, command)

    for _ in range(20):
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            raise _busy(run_dir, read_owner(path)) from None
        except OSError as exc:
            os.close(fd)
            if exc.errno in (errno.ENOLCK, errno.EOPNOTSUPP, errno.ENOSYS, errno.EINVAL):
                return _acquire_by_record(run_dir, path, command)
            raise
        # Its previous holder may have removed the file between our open and flock: lock the current file.
        try:
            same = os.stat(path).st_ino == os.fstat(fd).st_ino
        except FileNotFoundError:
            same = False
        if not same:
            os.close(fd)
            continue
        _note_stale(run_dir, read_owner(path))
        _write(fd, _record(command))
        return fd
    raise _busy(run_dir, read_owner(path))


def _acquire_by_record(run_dir: Path, path: Path, command: str | None) -> None:
    owner = read_owner(path)
    here = owner.get("host") == socket.gethostname()
    if owner and (not here or pid_alive(int(owner.get("pid", 0)))):
        raise _busy(run_dir, owner)
    _note_stale(run_dir, owner)
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        _write(fd, _record(command))
    finally:
        os.close(fd)
    return None


def _release(path: Path, fd: int | None) -> None:
    with contextlib.suppress(OSError):
        if fd is None or os.stat(path).st_ino == os.fstat(fd).st_ino:
            path.unlink()  # unlinked while still locked: a waiter that opened it sees the change and retries
    if fd is not None:
        os.close(fd)


@contextlib.contextmanager
def run_lock(run_dir: str | Path, command: str | None = None) -> Iterator[Path]:
    """Hold the run folder's lock for the block (creating the folder); raise :class:`RunBusyError` if taken.

    ``command``: what to record as the owner's command (default: this process's
    command line).
    """
    run = Path(run_dir)
    try:
        run.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise InputError(f"cannot create the run folder {str(run)!r} ({exc.strerror}): choose another -o "
                         "path") from None
    path = run.resolve() / LOCK_NAME
    key = str(path)
    with _HELD_LOCK:
        held = _HELD.get(key)
        if held is not None:
            held[1] += 1
        else:
            try:
                fd = _acquire(run, path, command)
            except PermissionError as exc:
                raise InputError(f"cannot write to the run folder {str(run)!r} ({exc.strerror}): choose another "
                                 "-o path") from None
            _HELD[key] = [fd, 1]
    try:
        yield run
    finally:
        with _HELD_LOCK:
            held = _HELD[key]
            held[1] -= 1
            if held[1] == 0:
                del _HELD[key]
                _release(path, held[0])
