"""Progress bars that show only on a terminal.

:func:`tqdm` is ``tqdm.tqdm`` with one change: the bar is disabled unless the stream it writes to
(stderr by default) is a terminal, so logs, pipes and CI output get forgebench's lines and no bar
fragments. ``disable=True`` still turns a bar off on a terminal.
"""

from __future__ import annotations

import sys
from typing import Any


def tqdm(*args: Any, disable: bool = False, **kwargs: Any):  # noqa: ANN201  (a tqdm.tqdm)
    from tqdm import tqdm as _tqdm

    stream = kwargs.get("file") or sys.stderr
    try:
        terminal = stream.isatty()
    except (AttributeError, ValueError):  # a closed or unusual stream
        terminal = False
    return _tqdm(*args, disable=disable or not terminal, **kwargs)
