"""User-facing errors.

A :class:`ForgebenchError` carries one line that says what is wrong and what to
do. The CLI prints it to stderr and exits non-zero without a traceback; library
callers can catch it like any exception.
"""

from __future__ import annotations


class ForgebenchError(Exception):
    """An error caused by the user's input or environment, with a fix in its message."""

    exit_code = 2


class InputError(ForgebenchError):
    """A file or argument given by the user cannot be used."""


class NoFaceError(InputError):
    """An image or video frame has no detectable face."""


class WeightsUnavailableError(ForgebenchError):
    """A network's standard weights are not in the cache; the message names the fix."""


class DiskFullError(ForgebenchError):
    """No space left: the command stops; rerunning it resumes (outputs are written atomically)."""


def is_disk_full(exc: OSError) -> bool:
    """True for a full disk or quota, including NumPy's short write, which carries no errno."""
    import errno

    if exc.errno in (errno.ENOSPC, errno.EDQUOT):
        return True
    return exc.errno is None and "requested and" in str(exc) and "written" in str(exc)
