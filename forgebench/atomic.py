"""Atomic file output: write to a temporary sibling, rename on success.

A failed or interrupted write (exception, Ctrl-C, kill -9) never leaves a
half-written file under the final name; the temporary file carries a
``.partial`` marker so a resumed run can sweep leftovers.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path

from forgebench.errors import InputError

PARTIAL_MARK = ".partial"


def check_writable(path: str | Path) -> Path:
    """Fail early, with one line, if ``path`` cannot be created."""
    path = Path(path)
    parent = path.parent if str(path.parent) else Path(".")
    if path.is_dir():
        raise InputError(f"output path {str(path)!r} is a directory: give a file name")
    if not parent.exists() and not any(p.is_file() for p in parent.parents):
        try:
            parent.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            reason = exc.strerror
            msg = f"cannot create the output folder {str(parent)!r} ({reason}): choose another -o path"
            raise InputError(msg) from None
    if not parent.is_dir():
        raise InputError(f"cannot write {str(path)!r}: {str(parent)!r} is not a folder; choose another -o path")
    # Try it: permission bits say nothing for root, read-only mounts or full disks.
    try:
        with tempfile.TemporaryFile(dir=parent):
            pass
    except OSError as exc:
        raise InputError(f"cannot write to {str(parent)!r} ({exc.strerror}): choose another -o path") from None
    return path


@contextlib.contextmanager
def atomic_output(path: str | Path) -> Iterator[Path]:
    """Yield a temporary path next to ``path``; rename it to ``path`` if the block succeeds.

    The temporary name keeps the final suffix (muxers pick the format from it).

    >>> import tempfile, pathlib
    >>> d = pathlib.Path(tempfile.mkdtemp())
    >>> with atomic_output(d / "x.txt") as tmp:
    ...     _ = tmp.write_text("hi")
    >>> (d / "x.txt").read_text()
    'hi'
    """
    path = check_writable(path)
    suffix = f"{PARTIAL_MARK}{path.suffix}"
    fd, tmp_name = tempfile.mkstemp(prefix=f".{path.stem}.", suffix=suffix, dir=path.parent or ".")
    os.close(fd)
    tmp = Path(tmp_name)
    try:
        yield tmp
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            tmp.unlink()
        raise


def sweep_partials(folder: str | Path) -> int:
    """Remove temporary files left by killed writers in ``folder`` (recursively); return how many."""
    n = 0
    for p in Path(folder).rglob(f"*{PARTIAL_MARK}*"):
        if p.is_file():
            p.unlink()
            n += 1
    return n
