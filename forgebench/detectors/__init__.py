"""Forensic detectors: a registry of classifiers with one shared, honest evaluation.

Each baseline is one module that registers itself on import; :data:`DETECTOR_MODULES` lists them and
:func:`load_detectors` imports them, which the registry does on its first lookup
(``forgebench list detectors`` prints them). Importing this package stays light (no torch, no pandas),
so that the command line builds its options quickly.
"""

from __future__ import annotations

import importlib

# The modules that register detectors (add a new detector's module here).
DETECTOR_MODULES: tuple[str, ...] = ("avsync", "dynamics", "fusion", "liveliness", "meso", "probe", "provenance",
                                     "rppg", "spectrum", "timm_models")

__all__ = ["ClipSet", "DETECTOR_MODULES", "Detector", "detector_registry", "load_detectors", "register_detector"]


def load_detectors() -> list[str]:
    """Import every detector module (they register on import); return the detector names."""
    for name in DETECTOR_MODULES:
        importlib.import_module(f"{__name__}.{name}")
    from forgebench.detectors.base import detector_registry

    return detector_registry.names()


def __getattr__(name: str):  # PEP 562: the base classes load on first use
    if name in ("ClipSet", "Detector", "detector_registry", "register_detector"):
        from forgebench.detectors import base

        return getattr(base, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
