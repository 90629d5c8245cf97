"""Provenance of generated videos: container metadata and a keyed, error-corrected invisible watermark.

``Watermarker`` embeds/detects the mark (:mod:`.watermark`), ``Payload`` and the BCH code live in
:mod:`.ecc`, container tags in :mod:`.metadata`, ``forgebench provenance check`` in :mod:`.check`,
robustness attacks and the benchmark in :mod:`.attacks` / :mod:`.bench`. See ``docs/provenance.md``.
"""

from forgebench.provenance.ecc import BCHCode, DecodeError, Payload
from forgebench.provenance.metadata import provenance_metadata, read_provenance, sha256_file
from forgebench.provenance.watermark import DEFAULT_KEY, EmbedPlan, Watermarker, WatermarkReport

__all__ = ["BCHCode", "DecodeError", "Payload", "provenance_metadata", "read_provenance", "sha256_file",
           "DEFAULT_KEY", "EmbedPlan", "Watermarker", "WatermarkReport"]
