"""Scoring: vectorised bootstrap metrics equal scikit-learn; DeLong's AUCs and variances match references."""

from __future__ import annotations

import numpy as np
from sklearn.metrics import average_precision_score, log_loss, roc_auc_score

from forgebench.reports.scoring import (
    _point,
    batch_metrics,
    delong_components,
    delong_test,
    evaluate_scores,
    expected_calibration_error,
)


def _data(n=160, seed=0, strength=1.2):
    rng = np.random.default_rng(seed)
    y = rng.integers(0, 2, n)
    s = 1 / (1 + np.exp(-((2 * y - 1) * strength + rng.normal(size=n))))
    return y, np.round(s, 2)  # rounding makes ties, as bootstrap resamples do


def test_batch_metrics_equal_sklearn_row_by_row_with_ties():
    y, s = _data()
    idx = np.random.default_rng(1).integers(0, y.size, (6, y.size))
    b = batch_metrics(y[idx], s[idx])
    for i in range(6):
        yy, ss = y[idx[i]], s[idx[i]]
        assert np.isclose(b["auc"][i], roc_auc_score(yy, ss))
        assert np.isclose(b["ap"][i], average_precision_score(yy, ss))
        assert np.isclose(b["log_loss"][i], log_loss(yy, np.clip(ss, 1e-7, 1 - 1e-7)))
        assert np.isclose(b["ece"][i], expected_calibration_error(yy, ss))
        assert np.isclose(b["eer"][i], _point(yy, ss)["eer"])


def test_eer_closed_form_and_ece_of_a_calibrated_constant():
    y = np.array([0, 0, 0, 0, 1, 1, 1, 1])
    s = np.array([0.1, 0.2, 0.3, 0.6, 0.4, 0.7, 0.8, 0.9])  # one error each side -> EER 0.25
    assert np.isclose(_point(y, s)["eer"], 0.25)
    assert np.isclose(expected_calibration_error(y, np.full(8, 0.5)), 0.0)


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
    # (batch_metrics' AUC equals roc_auc_score row by row: tested above.)
    i = np.random.default_rng(0).integers(0, y.size, (2000, y.size))
    diffs = batch_metrics(y[i], a[i])["auc"] - batch_metrics(y[i], b[i])["auc"]
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
