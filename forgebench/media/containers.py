"""Opening media files for reading, with one-line errors for the usual mistakes."""

from __future__ import annotations

from pathlib import Path

import av

from forgebench.errors import InputError


def check_input_file(path: str | Path, what: str) -> Path:
    """``path`` as a Path if it is an existing file; else an :class:`InputError` naming ``what`` it should be."""
    path = Path(path)
    if not path.exists():
        raise InputError(f"{what} {str(path)!r} does not exist: check the path")
    if path.is_dir():
        raise InputError(f"{str(path)!r} is a folder, not a {what}: give a file")
    return path


def open_container(path: Path, hint: str) -> av.container.InputContainer:
    """Open with PyAV; a file FFmpeg cannot read gives one line ending in ``hint`` (what to give instead)."""
    try:
        return av.open(str(path))
    except av.error.FFmpegError:
        raise InputError(f"{str(path)!r} is not {hint}") from None
