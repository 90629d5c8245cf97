"""The Fréchet distance between Gaussians, and streaming Gaussian statistics.

One numpy function serves FID, FVD and the Fréchet motion distance
(pytorch-fid's ``calculate_frechet_distance``, Dougal Sutherland's stable
version)::

    d^2 = ||mu_1 - mu_2||^2 + Tr(C_1 + C_2 - 2 (C_1 C_2)^{1/2})

:class:`StreamingGaussianStats` keeps ``n``, the feature sum and the sum of
outer products in float64, so corpora of any size stream through in batches
and partial statistics from several workers merge exactly (the Dask reduce).
Reference statistics are cached as ``.npz`` (no pickles).

>>> import numpy as np
>>> mu, s = np.zeros(2), np.eye(2)
>>> round(frechet_distance(mu, s, mu + 1.0, s), 6)
2.0
"""

from __future__ import annotations

import json
import warnings
from pathlib import Path
from typing import Any

import numpy as np
from scipy import linalg

from forgebench.atomic import atomic_output
from forgebench.errors import InputError


def frechet_distance(
    mu1: np.ndarray,
    sigma1: np.ndarray,
    mu2: np.ndarray,
    sigma2: np.ndarray,
    eps: float = 1e-6,
    method: str = "eigvals",
) -> float:
    """Fréchet distance between N(mu1, sigma1) and N(mu2, sigma2).

    Args:
        mu1, mu2: means [D].
        sigma1, sigma2: covariances [D, D].
        eps: added to both diagonals if the product's root is not finite (pytorch-fid's fallback).
        method: "sqrtm" is pytorch-fid's ``calculate_frechet_distance`` line for line
            (``Tr sqrtm(C1 C2)``, real part); "eigvals" (default) uses ``Tr sqrtm(M) = sum_i sqrt(l_i(M))``
            with the principal root, the same number (1e-14 relative measured at D=2048) 5-7x faster.
    """
    mu1, mu2 = np.atleast_1d(np.asarray(mu1, np.float64)), np.atleast_1d(np.asarray(mu2, np.float64))
    sigma1, sigma2 = np.atleast_2d(np.asarray(sigma1, np.float64)), np.atleast_2d(np.asarray(sigma2, np.float64))
    if mu1.shape != mu2.shape or sigma1.shape != sigma2.shape:
        raise InputError(
            "Fréchet distance needs statistics of the same size: "
            f"{mu1.shape}/{sigma1.shape} vs {mu2.shape}/{sigma2.shape}"
        )
    if method not in ("sqrtm", "eigvals"):
        raise ValueError(f"method must be 'sqrtm' or 'eigvals', got {method!r}")
    diff = mu1 - mu2
    tr_covmean = _trace_sqrt_product(sigma1, sigma2, method)
    if not np.isfinite(tr_covmean):
        warnings.warn(f"Fréchet distance: singular covariance product; adding {eps} to the diagonals", stacklevel=2)
        offset = np.eye(sigma1.shape[0]) * eps
        tr_covmean = _trace_sqrt_product(sigma1 + offset, sigma2 + offset, method)
    return float(diff.dot(diff) + np.trace(sigma1) + np.trace(sigma2) - 2 * tr_covmean)


def _trace_sqrt_product(sigma1: np.ndarray, sigma2: np.ndarray, method: str) -> float:
    """``Tr sqrtm(sigma1 @ sigma2)``, real part (numerical error leaves a tiny imaginary one)."""
    product = sigma1.dot(sigma2)
    if method == "sqrtm":
        covmean = linalg.sqrtm(product)
        if not np.isfinite(covmean).all():
            return float("nan")
        # As pytorch-fid: a large imaginary part on the diagonal means the statistics are broken.
        if np.iscomplexobj(covmean):
            if not np.allclose(np.diagonal(covmean).imag, 0, atol=1e-3):
                raise ValueError(f"Fréchet distance: imaginary component {np.max(np.abs(covmean.imag)):.3g}")
            covmean = covmean.real
        return float(np.trace(covmean))
    eig = np.linalg.eigvals(product)
    if not np.isfinite(eig).all():
        return float("nan")
    return float(np.sqrt(eig.astype(np.complex128)).real.sum())


def gaussian_stats(features: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Mean [D] and unbiased covariance [D, D] of ``features`` [N, D] (as pytorch-fid: ``np.cov(rowvar=False)``)."""
    features = np.asarray(features, np.float64)
    if features.ndim != 2 or features.shape[0] < 2:
        raise InputError(f"Gaussian statistics need features [N>=2, D], got shape {features.shape}")
    return features.mean(axis=0), np.cov(features, rowvar=False)


class StreamingGaussianStats:
    """Running mean and covariance of feature rows, in float64.

    >>> s = StreamingGaussianStats()
    >>> x = np.random.default_rng(0).normal(size=(10, 3))
    >>> s.update(x[:4]); s.update(x[4:])
    >>> mu, cov = s.mean_cov()
    >>> bool(np.allclose(cov, np.cov(x, rowvar=False)))
    True
    """

    def __init__(self, dim: int | None = None) -> None:
        self.dim = dim
        self.n = 0
        self.sum: np.ndarray | None = None
        self.outer: np.ndarray | None = None
        if dim is not None:
            self._alloc(dim)

    def _alloc(self, dim: int) -> None:
        self.dim = dim
        self.sum = np.zeros(dim, np.float64)
        self.outer = np.zeros((dim, dim), np.float64)

    def update(self, features: np.ndarray) -> None:
        """Add rows ``features`` [N, D] (any float dtype; accumulated in float64)."""
        x = np.asarray(features, np.float64)
        if x.ndim != 2:
            raise InputError(f"features must be [N, D], got shape {x.shape}")
        if self.sum is None:
            self._alloc(x.shape[1])
        if x.shape[1] != self.dim:
            raise InputError(f"features have {x.shape[1]} dims, the statistics so far have {self.dim}")
        self.n += x.shape[0]
        self.sum += x.sum(axis=0)
        self.outer += x.T @ x

    def merge(self, other: StreamingGaussianStats) -> None:
        """Add another accumulator's rows (exact: sums add)."""
        if other.n == 0 or other.sum is None or other.outer is None:
            return
        if self.sum is None:
            self._alloc(int(other.dim or other.sum.shape[0]))
        if other.dim != self.dim:
            raise InputError(f"cannot merge statistics of {other.dim} dims into {self.dim}")
        self.n += other.n
        self.sum += other.sum
        self.outer += other.outer

    def reset(self) -> None:
        self.n = 0
        if self.dim is not None:
            self._alloc(self.dim)

    def mean_cov(self) -> tuple[np.ndarray, np.ndarray]:
        """Mean [D] and unbiased covariance [D, D] of all rows seen."""
        if self.n < 2 or self.sum is None or self.outer is None:
            raise InputError(f"Gaussian statistics need at least 2 feature rows, have {self.n}")
        mu = self.sum / self.n
        # sum (x - mu)(x - mu)^T = sum x x^T - n mu mu^T; float64 keeps the cancellation harmless for
        # network features (values O(1), D <= 2048).
        cov = (self.outer - self.n * np.outer(mu, mu)) / (self.n - 1)
        return mu, (cov + cov.T) / 2


def save_stats(path: str | Path, mu: np.ndarray, sigma: np.ndarray, **meta: Any) -> Path:
    """Write ``mu``, ``sigma`` and ``meta`` to an ``.npz`` atomically.

    Array-valued ``meta`` entries (e.g. ``features``) are stored as arrays of that name; the rest
    (network, n, source, ...) must be JSON-able and is stored as one JSON string.
    """
    path = Path(path)
    arrays = {k: v for k, v in meta.items() if isinstance(v, np.ndarray)}
    if {"mu", "sigma", "meta"} & set(arrays):
        raise ValueError("meta arrays may not be named mu, sigma or meta")
    info = {k: v for k, v in meta.items() if k not in arrays}
    path.parent.mkdir(parents=True, exist_ok=True)
    with atomic_output(path) as tmp, open(tmp, "wb") as f:
        np.savez(
            f,
            mu=np.asarray(mu, np.float64),
            sigma=np.asarray(sigma, np.float64),
            meta=np.array(json.dumps(info)),
            **arrays,
        )
    return path


def load_stats(path: str | Path) -> tuple[np.ndarray, np.ndarray, dict[str, Any]]:
    """Read ``(mu, sigma, meta)`` from an ``.npz`` written by :func:`save_stats` (or pytorch-fid: ``mu``/``sigma``)."""
    path = Path(path)
    try:
        with np.load(path, allow_pickle=False) as data:
            mu, sigma = data["mu"], data["sigma"]
            meta = json.loads(str(data["meta"])) if "meta" in data.files else {}
    except (OSError, ValueError, KeyError) as exc:
        raise InputError(f"{path} is not a statistics .npz with 'mu' and 'sigma' ({exc})") from None
    return mu, sigma, meta
