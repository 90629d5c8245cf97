"""PSNR and SSIM of a generated clip against its ground-truth video (``Clip.reference``).

Per clip: the mean over frames of per-frame PSNR (dB, ``data_range=255``) or
SSIM; the corpus value is the mean over clips with a bootstrap CI. SSIM uses the
standard settings of Wang et al. 2004 (skimage ``structural_similarity`` with
``gaussian_weights=True, sigma=1.5, use_sample_covariance=False, data_range=255``,
channels averaged), vectorised over frames with one Gaussian filter call.
Frames are compared over the common prefix if the two clips differ in length;
different frame sizes are an error for that clip.
"""

from __future__ import annotations

from typing import Any, ClassVar

import numpy as np
from scipy import ndimage

from forgebench.errors import InputError
from forgebench.metrics.base import Clip, register_metric
from forgebench.metrics.perclip import PerClipMean

_K1, _K2, _SIGMA, _TRUNCATE = 0.01, 0.03, 1.5, 3.5


def paired_frames(clip: Clip) -> tuple[np.ndarray, np.ndarray]:
    """(generated, ground truth) uint8 frames [T, H, W, 3] over their common length."""
    if clip.reference is None or clip.reference.frames is None:
        raise InputError(f"clip {clip.clip_id} has no ground-truth video (manifest column reference_path)")
    if clip.frames is None:
        raise InputError(f"clip {clip.clip_id} has no frames")
    gen, ref = np.asarray(clip.frames), np.asarray(clip.reference.frames)
    if gen.shape[1:] != ref.shape[1:]:
        raise InputError(f"clip {clip.clip_id}: frames {gen.shape[1:]} differ from the ground truth's {ref.shape[1:]}")
    t = min(len(gen), len(ref))
    if t == 0:
        raise InputError(f"clip {clip.clip_id} or its ground truth has no frames")
    return gen[:t], ref[:t]


def psnr_frames(gen: np.ndarray, ref: np.ndarray, data_range: float = 255.0) -> np.ndarray:
    """Per-frame PSNR [T] in dB of [T, H, W, C] arrays (inf for identical frames)."""
    diff = gen.astype(np.float64) - ref.astype(np.float64)
    mse = (diff**2).reshape(len(diff), -1).mean(axis=1)
    with np.errstate(divide="ignore"):
        return 10 * np.log10(data_range**2 / mse)


def ssim_frames(gen: np.ndarray, ref: np.ndarray, data_range: float = 255.0) -> np.ndarray:
    """Per-frame SSIM [T] of [T, H, W, C] arrays: skimage's Gaussian-window SSIM, channels averaged."""
    x, y = gen.astype(np.float64), ref.astype(np.float64)
    if x.ndim == 3:
        x, y = x[..., None], y[..., None]
    sig = (0, _SIGMA, _SIGMA, 0)  # filter over H and W only, each frame and channel on its own

    def blur(a: np.ndarray) -> np.ndarray:
        return ndimage.gaussian_filter(a, sigma=sig, truncate=_TRUNCATE, mode="reflect")

    ux, uy = blur(x), blur(y)
    vx, vy, vxy = blur(x * x) - ux * ux, blur(y * y) - uy * uy, blur(x * y) - ux * uy
    c1, c2 = (_K1 * data_range) ** 2, (_K2 * data_range) ** 2
    s = ((2 * ux * uy + c1) * (2 * vxy + c2)) / ((ux**2 + uy**2 + c1) * (vx + vy + c2))
    pad = (2 * int(_TRUNCATE * _SIGMA + 0.5) + 1 - 1) // 2  # skimage crops half its window (11 -> 5)
    return s[:, pad:-pad, pad:-pad, :].mean(axis=(1, 2, 3))


def psnr_clip(clip: Clip) -> tuple[float, dict[str, Any]]:
    """Mean per-frame PSNR of a clip against its ground truth (functional twin of ``psnr``)."""
    gen, ref = paired_frames(clip)
    per_frame = psnr_frames(gen, ref)
    return float(np.mean(per_frame)), {"frames": len(per_frame)}


def ssim_clip(clip: Clip) -> tuple[float, dict[str, Any]]:
    """Mean per-frame SSIM of a clip against its ground truth (functional twin of ``ssim``)."""
    gen, ref = paired_frames(clip)
    if min(gen.shape[1:3]) < 11:
        raise InputError(f"clip {clip.clip_id}: SSIM needs frames of at least 11x11 pixels")
    return float(np.mean(ssim_frames(gen, ref))), {"frames": len(gen)}


@register_metric("psnr")
class PeakSignalNoiseRatio(PerClipMean):
    """PSNR (dB) against the ground-truth video, mean over frames then clips (higher is better)."""

    name: ClassVar[str] = "psnr"
    higher_is_better: ClassVar[bool] = True
    requires: ClassVar[frozenset[str]] = frozenset({"frames", "reference"})

    def clip_value(self, clip: Clip) -> tuple[float, dict[str, Any]]:
        return psnr_clip(clip)


@register_metric("ssim")
class StructuralSimilarity(PerClipMean):
    """SSIM (Gaussian window, sigma 1.5) against the ground-truth video (higher is better)."""

    name: ClassVar[str] = "ssim"
    higher_is_better: ClassVar[bool] = True
    requires: ClassVar[frozenset[str]] = frozenset({"frames", "reference"})

    def clip_value(self, clip: Clip) -> tuple[float, dict[str, Any]]:
        return ssim_clip(clip)
