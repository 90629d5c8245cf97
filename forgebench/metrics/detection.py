"""Detection metrics: how well fake-probabilities separate fake clips from real ones.

Plain functions over ``labels`` [N] (1 = fake, 0 = real) and ``scores`` [N] (P(fake)), shared by
detector evaluation (:mod:`forgebench.detectors.evaluation`) and leaderboards alike, so every
detection number forgebench reports comes from here. They never modify their inputs and raise
:class:`InputError` with one line on NaN scores, length mismatch or a single class (AUC, AP and
EER are undefined then).

* :func:`roc_curve`, :func:`roc_auc`, :func:`average_precision` (step-wise, as scikit-learn),
  :func:`eer` (equal error rate, linearly interpolated on the ROC curve), :func:`log_loss`,
  :func:`accuracy` at a threshold, :func:`ece` with :func:`reliability_bins`;
* :func:`choose_threshold`: the threshold maximising balanced accuracy, for val clips only;
* :func:`bootstrap_interval`: 95% percentile interval resampling videos, or identities
  (``groups``) with all their videos, and recomputing the metric;
* :func:`delong_components` and :func:`delong_test`: two correlated AUCs over the same clips.

>>> round(roc_auc([0, 0, 1, 1], [0.1, 0.4, 0.35, 0.8]), 2)
0.75
"""

from __future__ import annotations

import math
from collections.abc import Callable

import numpy as np
import pandas as pd

from forgebench.errors import InputError

EPS = 1e-15  # log-loss clipping, as scikit-learn
HIGHER_IS_BETTER = {"auc": True, "ap": True, "eer": False, "acc@0.5": True, "acc@val": True, "log_loss": False,
                    "ece": False, "frame_auc": True}


def _check(labels: np.ndarray, scores: np.ndarray, both: bool = True) -> tuple[np.ndarray, np.ndarray]:
    y = np.asarray(labels).astype(np.int64).ravel()
    s = np.asarray(scores, dtype=np.float64).ravel()
    if y.shape != s.shape:
        raise InputError(f"{len(y)} labels but {len(s)} scores: give one score per clip")
    if len(y) == 0:
        raise InputError("no predictions to evaluate: the split is empty")
    if not np.all(np.isfinite(s)):
        raise InputError(f"{int((~np.isfinite(s)).sum())} scores are NaN or infinite: drop or fix those clips "
                         "before evaluating")
    if not np.isin(y, (0, 1)).all():
        raise InputError("labels must be 0 (real) or 1 (fake)")
    if both and len(np.unique(y)) < 2:
        raise InputError(f"only {'fake' if y[0] else 'real'} clips: this metric needs both classes")
    return y, s


def roc_curve(labels: np.ndarray, scores: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(fpr, tpr, thresholds) at every distinct score (predict fake when score >= threshold), from (0, 0)."""
    y, s = _check(labels, scores)
    order = np.argsort(-s, kind="mergesort")
    s, y = s[order], y[order]
    last = np.r_[np.flatnonzero(np.diff(s)), len(s) - 1]  # last index of each distinct score
    tps = np.cumsum(y)[last]
    fps = (last + 1) - tps
    tpr = np.r_[0.0, tps / y.sum()]
    fpr = np.r_[0.0, fps / (len(y) - y.sum())]
    return fpr, tpr, np.r_[np.inf, s[last]]


def roc_auc(labels: np.ndarray, scores: np.ndarray) -> float:
    """Area under the ROC curve = P(score of a fake > score of a real) + 0.5 P(tie) (Mann-Whitney)."""
    from scipy.stats import rankdata

    y, s = _check(labels, scores)
    ranks = rankdata(s)
    n1 = int(y.sum())
    n0 = len(y) - n1
    return float((ranks[y == 1].sum() - n1 * (n1 + 1) / 2) / (n0 * n1))


def average_precision(labels: np.ndarray, scores: np.ndarray) -> float:
    """AP = sum_k (R_k - R_{k-1}) P_k over distinct thresholds (no interpolation), as scikit-learn."""
    y, s = _check(labels, scores)
    fpr, tpr, _ = roc_curve(y, s)
    n1, n0 = y.sum(), len(y) - y.sum()
    tp, fp = tpr[1:] * n1, fpr[1:] * n0
    precision = tp / np.maximum(tp + fp, 1)
    return float(np.sum(np.diff(tpr) * precision))


def eer(labels: np.ndarray, scores: np.ndarray) -> float:
    """Equal error rate: where FPR = FNR on the ROC curve, linearly interpolated between its points."""
    fpr, tpr, _ = roc_curve(labels, scores)
    fnr = 1.0 - tpr
    diff = fnr - fpr  # decreasing from 1 to -1 along the curve
    i = int(np.flatnonzero(diff <= 0)[0])
    if i == 0 or diff[i] == 0:
        return float((fpr[i] + fnr[i]) / 2)
    t = diff[i - 1] / (diff[i - 1] - diff[i])
    return float(fpr[i - 1] + t * (fpr[i] - fpr[i - 1]))


def log_loss(labels: np.ndarray, scores: np.ndarray) -> float:
    """Mean binary cross-entropy in nats, scores clipped to [1e-15, 1 - 1e-15]."""
    y, s = _check(labels, scores, both=False)
    p = np.clip(s, EPS, 1 - EPS)
    return float(-np.mean(y * np.log(p) + (1 - y) * np.log(1 - p)))


def accuracy(labels: np.ndarray, scores: np.ndarray, threshold: float = 0.5) -> float:
    """Fraction correct when predicting fake for score >= threshold."""
    y, s = _check(labels, scores, both=False)
    return float(np.mean((s >= threshold).astype(np.int64) == y))


def _bin_sums(labels: np.ndarray, scores: np.ndarray, n_bins: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per equal-width bin of [0, 1]: count, sum of scores, sum of labels (the last bin includes 1)."""
    y, s = _check(labels, scores, both=False)
    b = np.minimum((s * n_bins).astype(int), n_bins - 1)
    return (np.bincount(b, minlength=n_bins), np.bincount(b, s, minlength=n_bins),
            np.bincount(b, y.astype(float), minlength=n_bins))


def reliability_bins(labels: np.ndarray, scores: np.ndarray, n_bins: int = 10) -> pd.DataFrame:
    """Reliability-diagram data: per equal-width bin of [0, 1], count, mean score, fraction fake.

    Bin ``b`` holds scores in [b/n, (b+1)/n) (the last bin includes 1).
    """
    count, sum_s, sum_y = _bin_sums(labels, scores, n_bins)
    with np.errstate(invalid="ignore", divide="ignore"):
        return pd.DataFrame({"bin_low": np.arange(n_bins) / n_bins, "bin_high": np.arange(1, n_bins + 1) / n_bins,
                             "count": count, "mean_score": sum_s / count, "frac_fake": sum_y / count})


def ece(labels: np.ndarray, scores: np.ndarray, n_bins: int = 10) -> float:
    """Expected calibration error: sum over bins of (n_b / N) |frac_fake_b - mean_score_b|.

    Plain numpy (no DataFrame): bootstrap intervals call it a thousand times per condition.
    Since n_b * (frac_fake_b - mean_score_b) = sum_y_b - sum_s_b, ECE = sum_b |sum_y_b - sum_s_b| / N.
    """
    count, sum_s, sum_y = _bin_sums(labels, scores, n_bins)
    return float(np.abs(sum_y - sum_s).sum() / count.sum())


def choose_threshold(labels: np.ndarray, scores: np.ndarray) -> float:
    """Threshold maximising balanced accuracy (Youden's J) on the given (val) clips.

    Candidates are midpoints between consecutive distinct scores (and the ends); ties go to the
    candidate closest to 0.5. Call it with val clips only.
    """
    y, s = _check(labels, scores)
    uniq = np.unique(s)
    cands = np.r_[uniq[0] - 1e-6, (uniq[:-1] + uniq[1:]) / 2, uniq[-1] + 1e-6]
    fake = s[y == 1][:, None] >= cands[None]
    real = s[y == 0][:, None] >= cands[None]
    j = fake.mean(0) - real.mean(0)
    best = np.flatnonzero(np.isclose(j, j.max()))
    pick = best[np.argmin(np.abs(cands[best] - 0.5))]
    return float(np.clip(cands[pick], 0.0, 1.0))


def bootstrap_interval(labels: np.ndarray, scores: np.ndarray, metric: Callable[[np.ndarray, np.ndarray], float],
                       n_boot: int = 1000, alpha: float = 0.05, seed: int = 0, groups: np.ndarray | None = None
                       ) -> tuple[float, float]:
    """Percentile interval of ``metric`` over resamples of videos (or of ``groups``, e.g. identities).

    Each resample draws clips (or whole groups) with replacement and recomputes the metric;
    resamples where the metric is undefined (one class only) are redrawn as skipped. Returns
    (nan, nan) when fewer than half of the resamples are usable, or when there is only one unit to
    resample (one identity): every resample would be that unit, a zero-width interval that claims
    a certainty one identity cannot give.
    """
    y = np.asarray(labels)
    s = np.asarray(scores, np.float64)
    rng = np.random.default_rng(seed)
    if groups is None:
        units = [np.array([i]) for i in range(len(y))]
    else:
        g = pd.factorize(np.asarray(groups))[0]
        units = [np.flatnonzero(g == k) for k in range(g.max() + 1)]
    if len(units) < 2:
        return float("nan"), float("nan")
    values = []
    for _ in range(n_boot):
        pick = rng.integers(0, len(units), len(units))
        idx = np.concatenate([units[k] for k in pick])
        try:
            values.append(metric(y[idx], s[idx]))
        except InputError:
            continue
    if len(values) < n_boot / 2:
        return float("nan"), float("nan")
    lo, hi = np.quantile(values, [alpha / 2, 1 - alpha / 2])
    return float(lo), float(hi)


# DeLong, DeLong & Clarke-Pearson 1988, with the O(n log n) midrank algorithm of Sun & Xu 2014.

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
