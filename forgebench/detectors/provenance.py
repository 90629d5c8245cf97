"""``provenance``: reads forgebench's own invisible watermark. Not forensic detection.

A clip scores ``1 - p_value`` of the watermark test (the false-positive probability of the
mark being present by chance), so an unmarked clip scores near 0 and a marked one near 1.
It learns nothing from the corpus (its threshold is the watermark test's own, p < 1e-6) and is flagged
``forensic = False`` so reports list it apart from the forensic classifiers: it catches
forgebench's own output only, and only while the mark survives.
"""

from __future__ import annotations

import sys
from typing import Any, ClassVar

import numpy as np

from forgebench.detectors.base import ClipSet, Detector, register_detector
from forgebench.errors import ForgebenchError


@register_detector("provenance")
class ProvenanceDetector(Detector):
    """Watermark reader; params: ``max_seconds`` of video read per clip."""

    forensic = False
    param_defaults: ClassVar[dict[str, Any]] = {"max_seconds": 10.0, "seed": 0}

    def _scores(self, clips: ClipSet) -> np.ndarray:
        from forgebench.progress import tqdm
        from forgebench.provenance.check import check_file
        from forgebench.provenance.watermark import Watermarker

        wm = Watermarker()
        out = np.full(len(clips), np.nan)
        self.skipped_ = []
        for i in tqdm(range(len(clips)), desc="watermark", unit="clip", disable=not getattr(self, "progress", False),
                      file=sys.stderr):
            try:
                p_value = float(check_file(clips.path(i), wm, max_seconds=self.params["max_seconds"])["p_value"])
                out[i] = 1.0 - min(max(p_value, 0.0), 1.0)
            except ForgebenchError as exc:
                self.skipped_.append((str(clips.rows["clip_id"].iloc[i]), str(exc)))
        return out

    def _fit(self, train: ClipSet, val: ClipSet) -> None:
        from forgebench.provenance.watermark import Watermarker

        # The decision is the watermark test's own (p < 1e-6), not a threshold tuned on val: a val split
        # separated perfectly would put the threshold mid-gap (p ~ 0.1) and flag unmarked clips by chance.
        self.fit_skipped_ = []
        self.threshold_ = 1.0 - Watermarker().threshold

    def _predict(self, clips: ClipSet) -> np.ndarray:
        return self._scores(clips)

    def get_arrays(self) -> dict[str, np.ndarray]:
        return {"threshold": np.array([self.threshold_])}

    def set_arrays(self, arrays: dict[str, np.ndarray]) -> None:
        self.threshold_ = float(arrays["threshold"][0])
