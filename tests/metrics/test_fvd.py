"""FVD: the StyleGAN-V clip protocol, preprocessing, streaming == one-shot, missing weights."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from torch import nn

from forgebench.metrics.base import Clip
from forgebench.metrics.frechet import gaussian_stats
from forgebench.metrics.fvd import (
    FVD16,
    FVD128,
    clip_starts,
    fvd,
    fvd_from_features,
    preprocess,
    video_features,
)

sys.path.insert(0, str(Path(__file__).resolve().parent))
from harness import check_metric  # noqa: E402


class TinyVideoNet(nn.Module):
    """A stand-in for I3D with the same input contract: [B, 3, T, 224, 224] in [-1, 1] -> [B, 3]."""

    def __init__(self) -> None:
        super().__init__()
        torch.manual_seed(0)
        self.proj = nn.Linear(3 * 2 * 2 * 2, 3)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        assert x.shape[1:] == (3, 16, 224, 224) and x.min() >= -1 - 1e-5 and x.max() <= 1 + 1e-5
        return self.proj(nn.functional.adaptive_avg_pool3d(x, 2).flatten(1))


def video(n: int, seed: int, size=(48, 64)) -> np.ndarray:
    rng = np.random.default_rng(seed)
    base = rng.integers(0, 255, (1, *size, 3))
    drift = np.cumsum(rng.normal(0, 4, (n, 1, 1, 3)), axis=0)
    return np.clip(base + drift + rng.normal(0, 10, (n, *size, 3)), 0, 255).astype(np.uint8)


def test_clip_sampling_follows_stylegan_v():
    rng = np.random.default_rng(0)
    assert clip_starts(15, 16, True, rng) == []  # too short: discarded
    assert clip_starts(100, 16, False, rng) == [0]  # generated set: offset 0
    starts = [clip_starts(40, 16, True, rng)[0] for _ in range(200)]  # real set: uniform random offset
    assert min(starts) == 0 and max(starts) == 24
    assert clip_starts(50, 16, False, rng, clips_per_video=5) == [0, 16, 32]


def test_preprocess_resizes_and_scales():
    frames = np.zeros((16, 48, 64, 3), np.uint8)
    frames[..., 0] = 255
    x = preprocess(frames)
    assert x.shape == (3, 16, 224, 224)
    torch.testing.assert_close(x[0], torch.ones(16, 224, 224))
    torch.testing.assert_close(x[1], -torch.ones(16, 224, 224))
    grad = np.tile(np.linspace(0, 255, 224).astype(np.uint8)[None, None, :, None], (16, 224, 1, 3))
    torch.testing.assert_close(preprocess(grad), torch.from_numpy(grad).permute(3, 0, 1, 2).float() / 127.5 - 1)


def test_fvd_metric_streams_merges_and_matches_function():
    net = TinyVideoNet().eval()
    gens = [video(16 + 3 * i, i, size=(24, 32)) for i in range(4)]
    refs = [video(20 + 5 * i, 10 + i, size=(24, 32)) for i in range(4)]
    ref_rng = np.random.default_rng(0)
    ref_feats = np.concatenate([video_features(net, v, 16, True, ref_rng) for v in refs])
    ref_stats = gaussian_stats(ref_feats)
    clips = [Clip(f"g{i}", frames=v) for i, v in enumerate(gens)]

    def make():
        return FVD16(reference_stats=ref_stats, model=net)

    res = check_metric(make, clips, reference=lambda cs: fvd([c.frames for c in cs], refs, model=net), rtol=1e-6)
    gen_feats = np.concatenate([video_features(net, v, 16, False, np.random.default_rng(0)) for v in gens])
    assert res.value == pytest.approx(fvd_from_features(gen_feats, ref_feats), rel=1e-9)
    assert res.details["features"].startswith("I3D logits")


def test_fvd_streams_the_reference_set_and_discards_short_videos():
    net = TinyVideoNet().eval()
    m = FVD16(model=net)
    for v in [video(20, 1), video(24, 2), video(18, 3)]:
        m.update_reference(v)
    for i, v in enumerate([video(16, 4), video(10, 5), video(30, 6)]):
        m.update(Clip(f"g{i}", frames=v))
    res = m.compute()
    assert res.ok and res.details["discarded"] == ["g1"] and res.n == 2
    assert res.value == pytest.approx(
        fvd([video(16, 4), video(30, 6)], [video(20, 1), video(24, 2), video(18, 3)], model=net), rel=1e-9
    )
    few = FVD128(model=net)
    few.update(Clip("short", frames=video(20, 0)))
    assert few.compute().status == "unavailable"


def test_fvd_unavailable_without_weights(monkeypatch, tmp_path):
    monkeypatch.setenv("FORGEBENCH_HOME", str(tmp_path))
    m = FVD16()
    m.update(Clip("g", frames=video(16, 0)))
    res = m.compute()
    assert res.status == "unavailable" and res.fix == "forgebench weights fetch i3d_kinetics400"
