"""Scoring predictions against labels, and the significance of the difference between two scorers.

TEMPORARY ADAPTER: :func:`evaluate_scores` computes AUC / AP / EER / log-loss / ECE
with bootstrap intervals through scikit-learn. The project's one evaluation module
is ``forgebench.detectors.evaluation``; once it exists, :func:`evaluate_scores`
must call it instead (same inputs: labels and fake-probabilities per clip) so that
leaderboards and detector reports give identical numbers. Nothing else in the
leaderboard computes a metric.

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
ECE_BINS = 15


@dataclass(frozen=True)
class Score:
    """A metric's value and its percentile-bootstrap 95% interval over clips."""

    value: float
    ci_low: float
    ci_high: float
    higher_is_better: bool


def equal_error_rate(labels: np.ndarray, scores: np.ndarray) -> float:
    """The EER: where the false-positive rate equals the false-negative rate on the ROC, linearly interpolated."""
    from sklearn.metrics import roc_curve

    fpr, tpr, _ = roc_curve(labels, scores)
    fnr = 1.0 - tpr
    d = fnr - fpr  # decreasing from 1 to -1 along the curve
    k = int(np.argmax(d <= 0))
    if k == 0:
        return float(fpr[0])
    # Interpolate between points k-1 and k, where d changes sign.
    t = d[k - 1] / (d[k - 1] - d[k]) if d[k - 1] != d[k] else 0.0
    return float(fpr[k - 1] + t * (fpr[k] - fpr[k - 1]))


def expected_calibration_error(labels: np.ndarray, scores: np.ndarray, bins: int = ECE_BINS) -> float:
    """ECE of the fake-probability: sum over equal-width bins of |fraction fake - mean score| x bin weight."""
    idx = np.minimum((scores * bins).astype(int), bins - 1)
    total = 0.0
    for b in range(bins):
        m = idx == b
        if m.any():
            total += m.mean() * abs(labels[m].mean() - scores[m].mean())
    return float(total)


def _point(labels: np.ndarray, scores: np.ndarray) -> dict[str, float]:
    from sklearn.metrics import average_precision_score, log_loss, roc_auc_score

    return {
        "auc": float(roc_auc_score(labels, scores)),
        "ap": float(average_precision_score(labels, scores)),
        "eer": equal_error_rate(labels, scores),
        "log_loss": float(log_loss(labels, np.clip(scores, 1e-7, 1 - 1e-7), labels=[0, 1])),
        "ece": expected_calibration_error(labels, scores),
    }


def batch_metrics(y: np.ndarray, s: np.ndarray, bins: int = ECE_BINS) -> dict[str, np.ndarray]:
    """All metrics for B resamples at once: ``y`` [B, N] in {0, 1}, ``s`` [B, N] -> each metric [B].

    Vectorised numpy equal to :func:`_point` (scikit-learn) row by row, tied scores
    included: bootstrap resamples repeat clips, so ties are the rule, and they are
    grouped into one threshold as scikit-learn does.
    """
    from scipy.stats import rankdata

    y = y.astype(np.float64)
    n = y.shape[1]
    n_pos = y.sum(axis=1)
    n_neg = n - n_pos
    # AUC = Mann-Whitney U / (n_pos n_neg), with midranks for ties.
    r = rankdata(s, axis=1, method="average")
    auc = ((r * y).sum(axis=1) - n_pos * (n_pos + 1) / 2) / (n_pos * n_neg)
    # Sort by descending score; each position reads the counts at the end of its tie group.
    order = np.argsort(-s, axis=1, kind="stable")
    ss = np.take_along_axis(s, order, axis=1)
    ys = np.take_along_axis(y, order, axis=1)
    is_end = np.ones_like(ss, dtype=bool)
    is_end[:, :-1] = ss[:, :-1] != ss[:, 1:]
    pos_idx = np.where(is_end, np.arange(n)[None, :], n)
    end = np.minimum.accumulate(pos_idx[:, ::-1], axis=1)[:, ::-1]
    tps = np.take_along_axis(np.cumsum(ys, axis=1), end, axis=1)
    fps = np.take_along_axis(np.cumsum(1 - ys, axis=1), end, axis=1)
    precision = tps / (tps + fps)
    ap = (ys * precision).sum(axis=1) / n_pos
    tpr = np.concatenate([np.zeros((len(y), 1)), tps / n_pos[:, None]], axis=1)
    fpr = np.concatenate([np.zeros((len(y), 1)), fps / n_neg[:, None]], axis=1)
    d = (1 - tpr) - fpr  # non-increasing along the curve, from 1 to -1
    k = np.argmax(d <= 0, axis=1)
    rows = np.arange(len(y))
    km = np.maximum(k - 1, 0)
    d0, d1 = d[rows, km], d[rows, k]
    t = np.where(d0 != d1, d0 / np.where(d0 != d1, d0 - d1, 1.0), 0.0)
    eer = np.where(k == 0, fpr[rows, 0], fpr[rows, km] + t * (fpr[rows, k] - fpr[rows, km]))
    p = np.clip(s, 1e-7, 1 - 1e-7)
    log_loss = -(y * np.log(p) + (1 - y) * np.log(1 - p)).mean(axis=1)
    b = np.minimum((s * bins).astype(int), bins - 1) + bins * rows[:, None]
    sum_y = np.bincount(b.ravel(), weights=y.ravel(), minlength=bins * len(y)).reshape(len(y), bins)
    sum_s = np.bincount(b.ravel(), weights=s.ravel(), minlength=bins * len(y)).reshape(len(y), bins)
    ece = np.abs(sum_y - sum_s).sum(axis=1) / n  # sum_b (n_b/n) |mean_y - mean_s|
    return {"auc": auc, "ap": ap, "eer": eer, "log_loss": log_loss, "ece": ece}


def evaluate_scores(labels, scores, n_boot: int = 1000, seed: int = 0, alpha: float = 0.05) -> dict[str, Score]:
    """Metrics of fake-probabilities ``scores`` [N] against ``labels`` [N] (1 = fake), with bootstrap CIs.

    Point values come from scikit-learn; the intervals resample clips with
    replacement, stratified by label so every resample has both classes.
    Switch to ``forgebench.detectors.evaluation`` when it lands.
    """
    y = np.asarray(labels, dtype=np.int64)
    s = np.asarray(scores, dtype=np.float64)
    if y.shape != s.shape or y.ndim != 1:
        raise ValueError(f"labels {y.shape} and scores {s.shape} must be 1-D of one length")
    if not (np.any(y == 1) and np.any(y == 0)):
        raise ValueError("scoring needs both real (0) and fake (1) clips")
    point = _point(y, s)
    rng = np.random.default_rng(seed)
    pos, neg = np.flatnonzero(y == 1), np.flatnonzero(y == 0)
    boots: dict[str, list[np.ndarray]] = {k: [] for k in METRICS}
    for start in range(0, n_boot, 256):  # chunks bound memory at 256 x N
        b = min(256, n_boot - start)
        idx = np.concatenate([pos[rng.integers(0, pos.size, (b, pos.size))],
                              neg[rng.integers(0, neg.size, (b, neg.size))]], axis=1)
        for k, v in batch_metrics(y[idx], s[idx]).items():
            if k in boots:
                boots[k].append(v)
    out = {}
    for k, hib in METRICS.items():
        if n_boot > 1:
            lo, hi = np.percentile(np.concatenate(boots[k]), [100 * alpha / 2, 100 * (1 - alpha / 2)])
        else:
            lo = hi = float("nan")
        out[k] = Score(point[k], float(lo), float(hi), hib)
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
