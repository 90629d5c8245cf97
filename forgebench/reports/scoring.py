"""Scoring predictions against labels, and the significance of the difference between two scorers.

:func:`evaluate_scores` is a thin view of the project's one evaluation module,
:mod:`forgebench.detectors.evaluation`: the same metric functions and the same
bootstrap over clips, so leaderboards and detector reports give identical
numbers. Nothing else in the leaderboard computes a metric.

:func:`delong_test` compares two correlated AUCs over the same clips (DeLong,
DeLong & Clarke-Pearson 1988, with the O(n log n) midrank algorithm of Sun & Xu
2014); the leaderboard uses it for the significance between ranked neighbours.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

METRICS: dict[str, bool] = {"auc": True, "ap": True, "eer": False, "log_loss": False, "ece": False}
PRIMARY = "auc"


@dataclass(frozen=True)
class Score:
    """A metric's value and its percentile-bootstrap 95% interval over clips."""

    value: float
    ci_low: float
    ci_high: float
    higher_is_better: bool


def evaluate_scores(labels, scores, n_boot: int = 1000, seed: int = 0, alpha: float = 0.05) -> dict[str, Score]:
    """Metrics of fake-probabilities ``scores`` [N] against ``labels`` [N] (1 = fake), with bootstrap CIs."""
    from forgebench.detectors import evaluation as ev

    y = np.asarray(labels, dtype=np.int64)
    s = np.asarray(scores, dtype=np.float64)
    if y.shape != s.shape or y.ndim != 1:
        raise ValueError(f"labels {y.shape} and scores {s.shape} must be 1-D of one length")
    if not (np.any(y == 1) and np.any(y == 0)):
        raise ValueError("scoring needs both real (0) and fake (1) clips")
    functions = {"auc": ev.roc_auc, "ap": ev.average_precision, "eer": ev.eer, "log_loss": ev.log_loss,
                 "ece": ev.ece}
    out = {}
    for name, hib in METRICS.items():
        fn = functions[name]
        if n_boot > 1:
            lo, hi = ev.bootstrap_interval(y, s, fn, n_boot=n_boot, alpha=alpha, seed=seed)
        else:
            lo = hi = float("nan")
        out[name] = Score(float(fn(y, s)), lo, hi, hib)
    return out


# --- DeLong ----------------------------------------------------------------------------------------------------

def _midrank(x: np.ndarray) -> np.ndarray:
    """Ranks 1..n with ties given their average rank (Sun & Xu's midrank)."""
    from scipy.stats import rankdata

    return rankdata(x, method="average")


def delong_components(labels, scores_list) -> tuple[np.ndarray, np.ndarray]:
    """AUCs [K] of K scorers over the same clips, and their DeLong covariance [K, K].

    ``scores_list`` is [K, N]; labels [N] with 1 = fake (the positive class).
    """
    y = np.asarray(labels).astype(bool)
    s = np.atleast_2d(np.asarray(scores_list, dtype=np.float64))
    pos, neg = s[:, y], s[:, ~y]
    m, n = pos.shape[1], neg.shape[1]
    k = s.shape[0]
    tx = np.stack([_midrank(pos[i]) for i in range(k)])
    ty = np.stack([_midrank(neg[i]) for i in range(k)])
    tz = np.stack([_midrank(np.concatenate([pos[i], neg[i]])) for i in range(k)])
    aucs = (tz[:, :m].sum(axis=1) / m - (m + 1) / 2.0) / n
    v01 = (tz[:, :m] - tx) / n  # structural components of the positives [K, m]
    v10 = 1.0 - (tz[:, m:] - ty) / m  # and of the negatives [K, n]
    sx = np.atleast_2d(np.cov(v01))
    sy = np.atleast_2d(np.cov(v10))
    return aucs, sx / m + sy / n


def delong_test(labels, scores_a, scores_b) -> tuple[float, float]:
    """``(auc_a - auc_b, two-sided p)`` for two scorers' AUCs on the same clips (DeLong's paired z-test)."""
    aucs, cov = delong_components(labels, [scores_a, scores_b])
    diff = float(aucs[0] - aucs[1])
    var = float(cov[0, 0] + cov[1, 1] - 2 * cov[0, 1])
    if var <= 1e-15:  # identical rankings (or degenerate): no evidence of a difference
        return diff, 1.0
    z = diff / math.sqrt(var)
    return diff, float(math.erfc(abs(z) / math.sqrt(2)))
