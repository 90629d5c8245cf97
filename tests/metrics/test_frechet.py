"""Fréchet distance (closed forms, pytorch-fid's function), streaming statistics, stats files, bootstrap."""

from __future__ import annotations

import numpy as np
import pytest
from pytorch_fid.fid_score import calculate_frechet_distance

from forgebench.errors import InputError
from forgebench.metrics.bootstrap import bootstrap_ci
from forgebench.metrics.frechet import (
    StreamingGaussianStats,
    frechet_distance,
    gaussian_stats,
    load_stats,
    save_stats,
)
from tests.metrics.harness import through_dask


@pytest.mark.parametrize("method", ["eigvals", "sqrtm"])
def test_diagonal_gaussians_closed_form(method):
    rng = np.random.default_rng(0)
    mu1, mu2 = rng.normal(size=6), rng.normal(size=6)
    s1, s2 = rng.uniform(0.1, 3, 6), rng.uniform(0.1, 3, 6)
    expected = np.sum((mu1 - mu2) ** 2) + np.sum(s1 + s2 - 2 * np.sqrt(s1 * s2))
    assert frechet_distance(mu1, np.diag(s1), mu2, np.diag(s2), method=method) == pytest.approx(expected, rel=1e-10)


def test_equal_covariances_leave_only_the_mean_term():
    """pytorch-fid's own test idea: with equal covariances the distance is ||mu1 - mu2||^2."""
    rng = np.random.default_rng(1)
    a = rng.normal(size=(8, 8))
    sigma = a @ a.T + np.eye(8)
    mu1, mu2 = rng.normal(size=8), rng.normal(size=8)
    assert frechet_distance(mu1, sigma, mu2, sigma) == pytest.approx(np.sum((mu1 - mu2) ** 2), rel=1e-8, abs=1e-9)


@pytest.mark.parametrize("n", [10, 200])  # rank-deficient (n < D) and full-rank covariances
def test_matches_pytorch_fid(n):
    rng = np.random.default_rng(2)
    x, y = rng.normal(size=(n, 32)), rng.normal(size=(n, 32)) * 1.3 + 0.2
    mu1, s1 = gaussian_stats(x)
    mu2, s2 = gaussian_stats(y)
    expected = calculate_frechet_distance(mu1, s1, mu2, s2)
    for method in ("eigvals", "sqrtm"):
        assert frechet_distance(mu1, s1, mu2, s2, method=method) == pytest.approx(expected, rel=1e-8)


def test_streaming_stats_equal_numpy_and_merge():
    rng = np.random.default_rng(3)
    x = rng.normal(size=(57, 5)) * [1, 2, 3, 4, 5] + 7
    a, b, whole = StreamingGaussianStats(), StreamingGaussianStats(), StreamingGaussianStats()
    for chunk in np.array_split(x[:30], 4):
        a.update(chunk.astype(np.float32))
    b.update(x[30:].astype(np.float32))
    whole.update(x.astype(np.float32))
    a.merge(through_dask(b))  # partial state merged after a trip to a worker
    mu, cov = a.mean_cov()
    ref = x.astype(np.float32).astype(np.float64)
    np.testing.assert_allclose(mu, ref.mean(0), rtol=1e-12)
    np.testing.assert_allclose(cov, np.cov(ref, rowvar=False), rtol=1e-9)
    np.testing.assert_allclose(whole.mean_cov()[1], cov, rtol=1e-9)
    with pytest.raises(InputError):
        a.update(np.zeros((2, 4)))
    with pytest.raises(InputError):
        StreamingGaussianStats().mean_cov()


def test_stats_npz_round_trip_without_pickle(tmp_path):
    mu, sigma = np.arange(3.0), np.eye(3)
    path = save_stats(tmp_path / "ref.npz", mu, sigma, network="x", n=4, features=np.ones((4, 3), np.float32))
    mu2, sigma2, meta = load_stats(path)
    np.testing.assert_array_equal(mu2, mu)
    np.testing.assert_array_equal(sigma2, sigma)
    assert meta == {"network": "x", "n": 4}
    with np.load(path, allow_pickle=False) as data:
        assert data["features"].shape == (4, 3)
    (tmp_path / "bad.npz").write_bytes(b"junk")
    with pytest.raises(InputError, match="not a statistics"):
        load_stats(tmp_path / "bad.npz")


def test_bootstrap_ci_properties():
    rng = np.random.default_rng(4)
    x = rng.normal(5, 1, 400)
    lo, hi = bootstrap_ci(x)
    se = x.std(ddof=1) / np.sqrt(len(x))
    assert lo < x.mean() < hi
    assert hi - lo == pytest.approx(2 * 1.96 * se, rel=0.15)  # normal-theory width
    assert bootstrap_ci(x, seed=1) != (lo, hi) and bootstrap_ci(x) == (lo, hi)
    assert all(np.isnan(bootstrap_ci([np.nan, 2.0])))  # one value left: nothing to resample
    assert all(np.isnan(bootstrap_ci([1.0, 2.0, 3.0], groups=["a", "a", "a"])))  # one group: likewise
    assert all(np.isnan(bootstrap_ci([])))


def test_grouped_bootstrap_resamples_whole_groups():
    """Equal-size groups of constant values: resampling groups == resampling the group constants."""
    consts = np.array([1.0, 4.0, 2.0, 8.0, 3.0])
    values = np.repeat(consts, 3)
    groups = np.repeat(np.arange(5), 3)
    assert bootstrap_ci(values, groups=groups, seed=7) == bootstrap_ci(consts, seed=7)
