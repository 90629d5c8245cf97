"""Motion generators: audio features + source state -> MotionTrack, chosen by name from :data:`motion_registry`.

Importing this package is light (no numpy): the names below load on first use (PEP 562), and the
registry imports the built-in generators (:mod:`.builtin`) on its first lookup.
"""

from __future__ import annotations

import importlib

_EXPORTS = {
    "MotionGenerator": "base", "SourceState": "base", "motion_registry": "base", "register_motion": "base",
    "ProceduralConfig": "procedural", "ProceduralMotion": "procedural",
}
__all__ = sorted(_EXPORTS)


def __getattr__(name: str):
    if name in _EXPORTS:
        return getattr(importlib.import_module(f"{__name__}.{_EXPORTS[name]}"), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
