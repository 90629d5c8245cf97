"""``spectrum``: azimuthally averaged power spectrum of face crops + logistic regression.

Durall et al., "Watch your up-convolution" (CVPR 2020): up-sampling in generators leaves
their mark in the high frequencies, visible in the 1D azimuthal average of the log power
spectrum. Each aligned crop gives one feature row; the clip's score is the mean over frames.
"""

from __future__ import annotations

from typing import Any, ClassVar

import numpy as np

from forgebench.detectors.base import register_detector
from forgebench.detectors.common import CROP_PARAMS, LogisticDetector
from forgebench.detectors.preprocess import ClipFeatures


def azimuthal_spectrum(gray: np.ndarray, n_bins: int) -> np.ndarray:
    """Azimuthal average of the log power spectrum of ``gray`` [H, W] in ``n_bins`` radius bins.

    Radii run from 0 to the Nyquist corner; each bin is the mean of the centred log power over
    the pixels whose radius falls in it. Returns [n_bins], normalised to zero mean so overall
    brightness and contrast do not matter, only the spectral shape.
    """
    h, w = gray.shape
    f = np.fft.fftshift(np.fft.fft2(gray - gray.mean()))
    power = np.log(np.abs(f) ** 2 + 1e-8)
    yy, xx = np.mgrid[:h, :w]
    r = np.hypot(yy - h // 2, xx - w // 2)
    bins = np.minimum((r / r.max() * n_bins).astype(int), n_bins - 1)
    sums = np.bincount(bins.ravel(), power.ravel(), minlength=n_bins)
    counts = np.maximum(np.bincount(bins.ravel(), minlength=n_bins), 1)
    prof = sums / counts
    return prof - prof.mean()


@register_detector("spectrum")
class SpectrumDetector(LogisticDetector):
    """Frame-level spectral detector; params: ``n_bins`` radius bins (default 32)."""

    frame_based = True
    version: ClassVar[int] = 3  # 2: crops aligned from the plain 468-point mesh; 3: tracked by LiteRT
    param_defaults: ClassVar[dict[str, Any]] = {**CROP_PARAMS, "seed": 0, "n_bins": 32}

    def _validate(self) -> None:
        from forgebench.errors import InputError

        if not 4 <= self.params["n_bins"] <= self.params["crop_size"] // 2:
            raise InputError(f"n_bins must be between 4 and crop_size/2 ({self.params['crop_size'] // 2})")

    def clip_rows(self, feat: ClipFeatures) -> np.ndarray:
        gray = feat.crops.astype(np.float64) @ np.array([0.299, 0.587, 0.114])
        return np.stack([azimuthal_spectrum(g, self.params["n_bins"]) for g in gray])
