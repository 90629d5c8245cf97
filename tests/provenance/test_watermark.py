"""Watermark: exact payload round trip, robustness to mild attacks, calibrated p-values on unmarked frames."""

from __future__ import annotations

import cv2
import numpy as np
import pytest
from scipy import stats
from skimage import data

from forgebench.provenance.attacks import h264, resize
from forgebench.provenance.ecc import Payload
from forgebench.provenance.watermark import Watermarker

PAYLOAD = Payload(generator_id=1, version=4, clip_id=0xC0FFEE11, timestamp_min=987654)


def _clip(size: int, seconds: float, fps: float = 25.0) -> np.ndarray:
    """Static background (astronaut) with a smoothly moving central patch and sensor noise."""
    base = cv2.resize(data.astronaut(), (size, size), interpolation=cv2.INTER_AREA).astype(np.float32)
    rng = np.random.default_rng(0)
    frames = []
    for t in range(int(seconds * fps)):
        m = np.float32([[1, 0, 3 * np.sin(t / 6)], [0, 1, 2 * np.cos(t / 9)]])
        moved = cv2.warpAffine(base, m, (size, size), borderMode=cv2.BORDER_REFLECT)
        f = base.copy()
        c = slice(size // 4, 3 * size // 4)
        f[c, c] = moved[c, c]
        frames.append(np.clip(f + rng.normal(0, 1, f.shape), 0, 255).astype(np.uint8))
    return np.stack(frames)


@pytest.fixture(scope="module")
def marked():
    wm = Watermarker()
    frames = _clip(256, 2.0)
    return wm, frames, wm.embed_frames(frames, PAYLOAD, fps=25.0)


def test_round_trip_is_exact_and_invisible(marked):
    wm, frames, out = marked
    rep = wm.detect(out, fps=25.0)
    assert rep.present and rep.payload == PAYLOAD and rep.ber == 0.0
    assert rep.p_value < 1e-30
    mse = np.mean((out.astype(np.float64) - frames) ** 2)
    assert 10 * np.log10(255**2 / mse) >= 42.0
    assert not wm.detect(frames, fps=25.0).present


def test_embed_does_not_modify_input_and_keeps_dtype(marked):
    wm, frames, _ = marked
    plan = wm.prepare(256, 256, PAYLOAD)
    before = frames[0].copy()
    out = wm.embed(frames[0], 0, plan)
    assert out.dtype == np.uint8 and np.array_equal(frames[0], before)


@pytest.mark.parametrize("attack", ["resize_0.75", "h264_crf23"])
def test_mild_attacks_still_decode(marked, attack):
    wm, _, out = marked
    attacked, fps = resize(out, 25.0, 0.75) if attack == "resize_0.75" else h264(out, 25.0, crf=23)
    rep = wm.detect(attacked, fps=fps)
    assert rep.present and rep.payload == PAYLOAD


def test_wrong_key_does_not_detect(marked):
    _, _, out = marked
    assert not Watermarker(key="another key").detect(out, fps=25.0).present


def _natural_frames(n: int, size: int = 128) -> list[np.ndarray]:
    rng = np.random.default_rng(5)
    sources = [data.astronaut(), data.coffee(), data.chelsea(), data.rocket(),
               np.repeat(data.camera()[..., None], 3, 2)]
    out = []
    for i in range(n):
        img = sources[i % len(sources)]
        h, w = img.shape[:2]
        s = int(rng.integers(size, min(h, w)))
        y, x = rng.integers(0, h - s + 1), rng.integers(0, w - s + 1)
        crop = cv2.resize(img[y:y + s, x:x + s], (size, size), interpolation=cv2.INTER_AREA).astype(np.float32)
        out.append(np.clip(crop + rng.normal(0, rng.uniform(0, 8), crop.shape), 0, 255).astype(np.uint8))
    return out


def test_p_values_are_calibrated_on_unmarked_frames():
    # One hypothesis (no crop search, one frame so no phase search): the p-value should be uniform.
    wm = Watermarker(scales=(1.0,))
    p = np.array([wm.detect([f]).p_value for f in _natural_frames(150)])
    assert stats.kstest(p, "uniform").pvalue > 0.01
    assert p.min() > 1e-6


def test_search_corrected_p_values_are_conservative_on_noise_videos():
    wm = Watermarker()
    rng = np.random.default_rng(9)
    p = np.array([wm.detect(rng.integers(0, 256, (30, 64, 64, 3), dtype=np.uint8), fps=25.0).p_value
                  for _ in range(8)])
    assert p.min() > 1e-6
    assert np.mean(p < 0.1) <= 0.25  # Bonferroni over the search makes small p-values rarer, never commoner
