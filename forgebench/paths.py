"""Where forgebench keeps its caches, and the one file-hashing function everything uses."""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

_CHUNK = 1 << 20


def forgebench_home() -> Path:
    """``$FORGEBENCH_HOME``, or ``~/.cache/forgebench``: weights, synthesised speech, feature caches."""
    env = os.environ.get("FORGEBENCH_HOME")
    return Path(env).expanduser() if env else Path.home() / ".cache" / "forgebench"


def sha256_file(path: str | Path, chunk: int = _CHUNK) -> str:
    """Hex SHA-256 of a file's bytes, read in chunks (1 MiB by default)."""
    h = hashlib.sha256()
    with open(path, "rb") as f:
        while block := f.read(chunk):
            h.update(block)
    return h.hexdigest()
