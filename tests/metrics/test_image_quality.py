"""PSNR/SSIM against skimage.metrics on frames made from skimage.data images."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest
from skimage import data
from skimage.metrics import peak_signal_noise_ratio, structural_similarity

sys.path.insert(0, str(Path(__file__).resolve().parent))
from harness import check_metric  # noqa: E402

from forgebench.metrics.base import Clip  # noqa: E402
from forgebench.metrics.image_quality import (  # noqa: E402
    PeakSignalNoiseRatio,
    StructuralSimilarity,
    psnr_clip,
    ssim_clip,
)


def _clips(n: int = 4, t: int = 3) -> list[Clip]:
    rng = np.random.default_rng(0)
    base = data.astronaut()[100:164, 150:214]  # [64, 64, 3] uint8
    clips = []
    for i in range(n):
        gt = np.stack([np.roll(base, k, axis=1) for k in range(t)])
        noise = rng.normal(0, 4 + 3 * i, size=gt.shape)
        gen = np.clip(gt + noise, 0, 255).astype(np.uint8)
        clips.append(Clip(f"c{i}", frames=gen, reference=Clip(f"gt{i}", frames=gt)))
    return clips


def _sk_mean(clips: list[Clip], frame_fn) -> float:
    per_clip = [np.mean([frame_fn(g, r) for g, r in zip(c.frames, c.reference.frames)]) for c in clips]
    return float(np.mean(per_clip))


def _sk_ssim(g: np.ndarray, r: np.ndarray) -> float:
    return structural_similarity(
        r, g, channel_axis=-1, gaussian_weights=True, sigma=1.5, use_sample_covariance=False, data_range=255
    )


def test_psnr_matches_skimage():
    clips = _clips()
    ref = _sk_mean(clips, lambda g, r: peak_signal_noise_ratio(r, g, data_range=255))
    check_metric(
        PeakSignalNoiseRatio,
        clips,
        lambda cs: ref,
        functional=lambda cs: np.mean([psnr_clip(c)[0] for c in cs]),
        rtol=1e-10,
    )


def test_ssim_matches_skimage():
    clips = _clips()
    ref = _sk_mean(clips, _sk_ssim)
    check_metric(
        StructuralSimilarity,
        clips,
        lambda cs: ref,
        functional=lambda cs: np.mean([ssim_clip(c)[0] for c in cs]),
        rtol=1e-9,
    )


def test_mismatched_sizes_and_missing_ground_truth_skip_the_clip_only():
    good = _clips(2)
    small = Clip("g", frames=np.zeros((2, 16, 16, 3), np.uint8))
    bad_size = Clip("bad", frames=np.zeros((2, 32, 32, 3), np.uint8), reference=small)
    no_gt = Clip("nogt", frames=np.zeros((2, 32, 32, 3), np.uint8))
    m = StructuralSimilarity()
    for c in [*good, bad_size, no_gt]:
        m.update(c)
    r = m.compute()
    assert r.ok and r.n == 2
    assert set(r.details["skipped"]) == {"bad", "nogt"}
    assert "differ" in r.details["skipped"]["bad"] and "ground-truth" in r.details["skipped"]["nogt"]
    assert r.value == pytest.approx(_sk_mean(good, _sk_ssim), rel=1e-9)
