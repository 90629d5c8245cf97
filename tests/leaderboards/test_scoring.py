"""Leaderboard scoring is the shared detection metrics.

(The metric functions and DeLong's test are checked against references in tests/metrics/test_detection.py.)"""

from __future__ import annotations

import numpy as np
from sklearn.metrics import roc_auc_score

from forgebench.leaderboards.scoring import evaluate_scores
from forgebench.metrics import detection as ev


def _data(n=160, seed=0, strength=1.2):
    rng = np.random.default_rng(seed)
    y = rng.integers(0, 2, n)
    s = 1 / (1 + np.exp(-((2 * y - 1) * strength + rng.normal(size=n))))
    return y, np.round(s, 2)  # rounding makes ties, as bootstrap resamples do


def test_leaderboard_numbers_are_the_shared_evaluation():
    y, s = _data()
    got = evaluate_scores(y, s, n_boot=100, seed=3)
    assert got["auc"].value == ev.roc_auc(y, s) == roc_auc_score(y, s)
    assert got["eer"].value == ev.eer(y, s) and got["ece"].value == ev.ece(y, s)
    assert (got["ap"].ci_low, got["ap"].ci_high) == ev.bootstrap_interval(y, s, ev.average_precision, n_boot=100,
                                                                          seed=3)


def test_intervals_contain_the_value_and_shrink_with_n():
    small = evaluate_scores(*_data(80), n_boot=200)
    large = evaluate_scores(*_data(1600), n_boot=200)
    for k, v in small.items():
        assert v.ci_low <= v.value <= v.ci_high, k
    assert (large["auc"].ci_high - large["auc"].ci_low) < (small["auc"].ci_high - small["auc"].ci_low)
