"""Percentile bootstrap confidence intervals over clips.

Clips are the unit of resampling: a corpus mean's CI comes from resampling
per-clip values with replacement. When clips are grouped (several clips of one
identity or one source video are not independent), whole groups are resampled
instead (the cluster bootstrap).

>>> lo, hi = bootstrap_ci(np.arange(100.0))
>>> bool(lo < 49.5 < hi)
True
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np


def bootstrap_ci(
    values: Sequence[float] | np.ndarray,
    stat: Callable[[np.ndarray], Any] = np.mean,
    n_boot: int = 1000,
    alpha: float = 0.05,
    seed: int = 0,
    groups: Sequence[Any] | np.ndarray | None = None,
) -> tuple[float, float]:
    """``(low, high)``: the ``alpha/2`` and ``1 - alpha/2`` percentiles of ``stat`` over bootstrap resamples.

    Args:
        values: per-clip values [N]; non-finite values are dropped (an unavailable clip is not a 0).
        stat: statistic of a 1-D array (default the mean).
        n_boot: number of resamples.
        alpha: 0.05 for a 95% interval.
        seed: the resampling RNG seed (results are reproducible).
        groups: optional group label per value [N]; resamples groups, keeping each group's values together.

    Returns ``(nan, nan)`` with fewer than two resampling units (values, or groups when given): a
    single clip or a single identity has no spread to resample, and a zero-width interval would
    claim a certainty that one sample cannot give.
    """
    x = np.asarray(values, np.float64)
    g = None if groups is None else np.asarray(groups)
    if g is not None and g.shape[0] != x.shape[0]:
        raise ValueError(f"groups has {g.shape[0]} labels for {x.shape[0]} values")
    keep = np.isfinite(x)
    x = x[keep]
    if x.size < 2 or (g is not None and len(np.unique(g[keep])) < 2):
        return float("nan"), float("nan")
    rng = np.random.default_rng(seed)
    if g is None:
        idx = rng.integers(0, x.size, size=(n_boot, x.size))
        stats = np.array([stat(x[row]) for row in idx], np.float64)
    else:
        _, inverse = np.unique(g[keep], return_inverse=True)
        members = [x[inverse == k] for k in range(inverse.max() + 1)]
        picks = rng.integers(0, len(members), size=(n_boot, len(members)))
        stats = np.array([stat(np.concatenate([members[k] for k in row])) for row in picks], np.float64)
    lo, hi = np.percentile(stats, [100 * alpha / 2, 100 * (1 - alpha / 2)])
    return float(lo), float(hi)
