"""Provenance of generated videos: container metadata and a keyed, error-corrected invisible watermark.

``Watermarker`` embeds/detects the mark (:mod:`.watermark`), ``Payload`` and the BCH code live in
:mod:`.ecc`, container tags in :mod:`.metadata`, ``forgebench provenance check`` in :mod:`.check`,
robustness attacks and the benchmark in :mod:`.attacks` / :mod:`.bench`. See ``docs/provenance.md``.
"""

from __future__ import annotations

import importlib

# name -> the module that defines it; imported on first use (PEP 562), so that the command line
# can import provenance.commands without loading OpenCV and SciPy.
_EXPORTS = {
    "BCHCode": "ecc", "DecodeError": "ecc", "Payload": "ecc",
    "provenance_metadata": "metadata", "read_provenance": "metadata", "sha256_file": "metadata",
    "DEFAULT_KEY": "watermark", "EmbedPlan": "watermark", "Watermarker": "watermark", "WatermarkReport": "watermark",
}
__all__ = list(_EXPORTS)


def __getattr__(name: str):
    if name in _EXPORTS:
        return getattr(importlib.import_module(f"{__name__}.{_EXPORTS[name]}"), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
