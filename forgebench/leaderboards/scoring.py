"""Scoring leaderboard predictions against labels.

:func:`evaluate_scores` is a thin view of the detection metrics,
:mod:`forgebench.metrics.detection`: the same metric functions and the same
bootstrap over clips as detector evaluation, so leaderboards and detector
reports give identical numbers. Nothing else in the leaderboards computes a
metric: the command line and the server both score through
:func:`forgebench.leaderboards.store.score_parts`; the significance between
ranked neighbours is :func:`forgebench.metrics.detection.delong_test`.
"""

from __future__ import annotations

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
    from forgebench.metrics import detection as ev

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
