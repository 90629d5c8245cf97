"""``avsync``: audio-visual mismatch between mouth opening and speech energy, learned on the corpus.

Per clip: the mouth opening per frame (``jaw_open`` from the MotionTrack, pose-normalised)
and the log energy of the speech per video frame in five bands (total + four bands, see
:mod:`forgebench.detectors.preprocess`). Features are the Pearson correlations between the
mouth's opening and each band at lags of -``max_lag``..``max_lag`` frames, plus the peak
correlation, its lag and summary stats of each signal (real speech leads the lips by ~0-2
frames; a mismatched or poorly driven face breaks that). A standardised logistic regression
scores them. SyncNet features are not used (their weights are an optional download).
"""

from __future__ import annotations

from typing import Any, ClassVar

import numpy as np

from forgebench.detectors.base import register_detector
from forgebench.detectors.common import PREPROCESS_PARAMS, LogisticDetector
from forgebench.detectors.preprocess import ClipFeatures


def lagged_correlation(a: np.ndarray, b: np.ndarray, lag: int) -> float:
    """Pearson correlation of a[t] with b[t + lag] over the overlap (0 when constant or too short)."""
    if lag >= 0:
        x, y = a[: len(a) - lag], b[lag:]
    else:
        x, y = a[-lag:], b[: len(b) + lag]
    if len(x) < 3 or x.std() < 1e-9 or y.std() < 1e-9:
        return 0.0
    return float(np.corrcoef(x, y)[0, 1])


def sync_features(mouth: np.ndarray, bands: np.ndarray, max_lag: int) -> np.ndarray:
    """[n_bands * (2 max_lag + 1) + 2 n_bands + 4] features of one clip (see module docstring)."""
    lags = range(-max_lag, max_lag + 1)
    corr = np.array([[lagged_correlation(mouth, bands[:, j], lag) for lag in lags] for j in range(bands.shape[1])])
    peak = corr.max(1)
    best_lag = np.array(list(lags))[corr.argmax(1)].astype(float)
    vel = np.diff(mouth) if len(mouth) > 1 else np.zeros(1)
    stats = np.array([mouth.std(), np.abs(vel).mean(), bands[:, 0].std(), np.diff(bands[:, 0]).std()
                      if len(bands) > 1 else 0.0])
    return np.concatenate([corr.ravel(), peak, best_lag, stats])


@register_detector("avsync")
class AVSyncDetector(LogisticDetector):
    """Clip-level audio-visual sync detector; params: ``max_lag`` in frames (default 5)."""

    param_defaults: ClassVar[dict[str, Any]] = {**PREPROCESS_PARAMS, "n_frames": 1, "seed": 0, "max_lag": 5}

    def _validate(self) -> None:
        from forgebench.errors import InputError

        if not 0 <= self.params["max_lag"] <= 25:
            raise InputError("max_lag must be between 0 and 25 frames")

    def clip_rows(self, feat: ClipFeatures) -> np.ndarray:
        track = feat.track()
        mouth = track.expr("jaw_open").astype(np.float64)
        return sync_features(mouth, feat.audio_bands.astype(np.float64), self.params["max_lag"])[None]
