"""Forensic detectors: a registry of classifiers with one shared, honest evaluation.

Importing this package registers the baselines (``forgebench list detectors`` prints them).
"""

# Registration happens at import; each baseline is one module.
from forgebench.detectors import avsync, dynamics, meso, provenance, spectrum, timm_models  # noqa: E402,F401
from forgebench.detectors.base import ClipSet, Detector, detector_registry, register_detector

__all__ = ["ClipSet", "Detector", "detector_registry", "register_detector"]
