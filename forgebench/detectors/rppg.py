"""``rppg``: is there a pulse in the skin, coherent across face regions? (FakeCatcher's idea, with POS.)

Per clip (the shared preprocessing keeps the mean colour of five skin regions and two background
boxes in every tracked frame, :mod:`forgebench.media.face_regions`): a POS pulse signal per skin
region, one for the pooled skin and one per background box (:mod:`forgebench.detectors.pulse`), then
:data:`FEATURE_NAMES`:

* ``snr_pooled``, ``snr_mean``, ``snr_max``: de Haan's SNR (dB) of the pooled skin pulse, and the mean
  and max over the regions;
* ``peak_agreement``: the fraction of regions whose peak lies within ``max(0.15 Hz, 1/T)`` of the pooled
  peak; ``peak_spread``: the std of the regions' peak frequencies (Hz);
* ``region_corr``, ``region_coherence``: mean pairwise band-passed correlation and magnitude-squared
  coherence between skin regions (a real pulse is shared by all of them);
* ``background_corr``: mean absolute correlation between skin and background pulses (light and codec
  flicker is shared with the background, a pulse is not), and ``corr_minus_background``;
* ``flatness``: spectral flatness of the pooled pulse; ``log_amplitude``: log std of the pooled pulse;
  ``skin_over_background``: log ratio of the pooled skin pulse std to the background's.

A standardised logistic regression scores them (C chosen on val).

Measured (docs/detectors.md): a physiological pulse (0.1-0.5% of the pixel value) does not survive
256x256 H.264 at CRF 23 in 5 s clips, so on such corpora this detector is near chance; it is kept for
less compressed material, where the synthetic-pulse test shows the estimate recovers the rate.
"""

from __future__ import annotations

import itertools
from typing import Any, ClassVar

import numpy as np

from forgebench.detectors.base import register_detector
from forgebench.detectors.common import PREPROCESS_PARAMS, LogisticDetector
from forgebench.detectors.preprocess import ClipFeatures
from forgebench.detectors.pulse import band_coherence, bandpass, correlation, peak_snr, pos_signal, spectral_flatness
from forgebench.media.face_regions import SKIN_NAMES

FEATURE_NAMES = ("snr_pooled", "snr_mean", "snr_max", "peak_agreement", "peak_spread", "region_corr",
                 "region_coherence", "background_corr", "corr_minus_background", "flatness", "log_amplitude",
                 "skin_over_background")


def fill_missing(x: np.ndarray) -> np.ndarray | None:
    """[T, C] with NaN rows filled by linear interpolation per column; None if a column has no value at all."""
    x = np.asarray(x, np.float64).copy()
    t = np.arange(len(x))
    for c in range(x.shape[1]):
        ok = np.isfinite(x[:, c])
        if not ok.any():
            return None
        x[:, c] = np.interp(t, t[ok], x[ok, c])
    return x


def rppg_features(regions: np.ndarray, fps: float) -> np.ndarray:
    """[len(FEATURE_NAMES)] features of one clip from ``regions`` [T, R, 3] (skin regions first, then background)."""
    ns = len(SKIN_NAMES)
    skin = [fill_missing(regions[:, r]) for r in range(ns)]
    skin = [s for s in skin if s is not None]
    if len(skin) < 2 or len(regions) < 8:
        return np.zeros(len(FEATURE_NAMES))
    pulses = [pos_signal(s, fps) for s in skin]
    pooled = pos_signal(np.mean(skin, axis=0), fps)
    background = [fill_missing(regions[:, r]) for r in range(ns, regions.shape[1])]
    bg_pulses = [pos_signal(b, fps) for b in background if b is not None and np.ptp(b) > 0]
    snr_pooled, f_pooled = peak_snr(pooled, fps)
    snrs = [peak_snr(p, fps) for p in pulses]
    peaks = np.array([f for _, f in snrs])
    tol = max(0.15, fps / len(regions))
    pairs = list(itertools.combinations(range(len(pulses)), 2))
    band = [bandpass(p, fps) for p in pulses]
    bg_band = [bandpass(b, fps) for b in bg_pulses]
    corr = float(np.mean([correlation(band[a], band[b]) for a, b in pairs]))
    coh = float(np.mean([band_coherence(pulses[a], pulses[b], fps) for a, b in pairs]))
    bg_corr = float(np.mean([abs(correlation(p, b)) for p in band for b in bg_band])) if bg_band else 0.0
    amp = float(np.std(pooled))
    bg_amp = float(np.mean([np.std(b) for b in bg_pulses])) if bg_pulses else amp
    return np.array([snr_pooled, float(np.mean([s for s, _ in snrs])), float(np.max([s for s, _ in snrs])),
                     float(np.mean(np.abs(peaks - f_pooled) <= tol)), float(peaks.std()), corr, coh, bg_corr,
                     corr - bg_corr, spectral_flatness(pooled, fps), float(np.log(amp + 1e-9)),
                     float(np.log((amp + 1e-9) / (bg_amp + 1e-9)))])


@register_detector("rppg")
class RppgDetector(LogisticDetector):
    """Clip-level remote-photoplethysmography detector (POS pulse per skin region + logistic regression)."""

    param_defaults: ClassVar[dict[str, Any]] = {**PREPROCESS_PARAMS, "n_frames": 1, "seed": 0}

    def clip_rows(self, feat: ClipFeatures) -> np.ndarray:
        return rppg_features(feat.regions, feat.fps)[None]
