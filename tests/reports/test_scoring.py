"""Leaderboard scoring is the shared evaluation module; DeLong's AUCs and variances match references.

(The metric functions themselves are checked against scikit-learn in tests/detectors/test_evaluation.py.)"""

from __future__ import annotations

import numpy as np
from sklearn.metrics import roc_auc_score

from forgebench.detectors import evaluation as ev
from forgebench.reports.scoring import delong_components, delong_test, evaluate_scores


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


def test_delong_auc_and_variance_against_references():
    y, a = _data(300, seed=2, strength=1.5)
    _, b = _data(300, seed=3, strength=0.8)
    b = np.where(y == 1, b, b)  # different scorer over the same clips
    aucs, cov = delong_components(y, [a, b])
    assert np.allclose(aucs, [roc_auc_score(y, a), roc_auc_score(y, b)])
    # Variance of the paired AUC difference vs the paired bootstrap's (independent reference, 15% tolerance).
    i = np.random.default_rng(0).integers(0, y.size, (2000, y.size))
    diffs = np.array([ev.roc_auc(y[k], a[k]) - ev.roc_auc(y[k], b[k]) for k in i])
    var = cov[0, 0] + cov[1, 1] - 2 * cov[0, 1]
    assert abs(var / np.var(diffs) - 1) < 0.15


def test_delong_p_values():
    y, a = _data(300, seed=4, strength=2.0)
    rng = np.random.default_rng(5)
    weak = 1 / (1 + np.exp(-((2 * y - 1) * 0.3 + rng.normal(size=y.size))))
    assert delong_test(y, a, a) == (0.0, 1.0)
    d, p = delong_test(y, a, weak)
    assert d > 0 and p < 1e-3
    # Under the null (two scorers equally good, independent noise) p is rarely small.
    ps = []
    for k in range(40):
        r = np.random.default_rng(100 + k)
        s1 = (2 * y - 1) + r.normal(size=y.size)
        s2 = (2 * y - 1) + r.normal(size=y.size)
        ps.append(delong_test(y, s1, s2)[1])
    assert np.mean(np.array(ps) < 0.05) <= 0.15
