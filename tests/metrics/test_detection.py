"""Detection metrics against scikit-learn, brute force, closed forms and the paired bootstrap."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn import metrics as skm
from sklearn.metrics import roc_auc_score

from forgebench.errors import InputError
from forgebench.metrics import detection as ev


def sample(n: int, seed: int, ties: bool = False):
    rng = np.random.default_rng(seed)
    y = rng.integers(0, 2, n)
    y[:2] = [0, 1]
    s = 1 / (1 + np.exp(-(rng.normal(size=n) + 1.2 * y)))
    return y, (np.round(s, 1) if ties else s)


@pytest.mark.parametrize("seed", range(4))
@pytest.mark.parametrize("ties", [False, True])
def test_auc_ap_logloss_match_sklearn(seed, ties):
    y, s = sample(80, seed, ties)
    y_copy, s_copy = y.copy(), s.copy()
    assert ev.roc_auc(y, s) == pytest.approx(skm.roc_auc_score(y, s), abs=1e-12)
    assert ev.average_precision(y, s) == pytest.approx(skm.average_precision_score(y, s), abs=1e-12)
    assert ev.log_loss(y, s) == pytest.approx(skm.log_loss(y, s), abs=1e-12)
    assert ev.accuracy(y, s, 0.5) == pytest.approx(skm.accuracy_score(y, s >= 0.5))
    fpr, tpr, _ = ev.roc_curve(y, s)
    sk_fpr, sk_tpr, _ = skm.roc_curve(y, s, drop_intermediate=False)
    np.testing.assert_allclose(fpr, sk_fpr)
    np.testing.assert_allclose(tpr, sk_tpr)
    np.testing.assert_array_equal(y, y_copy)  # inputs are not mutated
    np.testing.assert_array_equal(s, s_copy)


@pytest.mark.parametrize("seed", range(5))
def test_eer_against_brute_force(seed):
    y, s = sample(400, seed)
    best = np.inf, np.nan
    for t in np.r_[np.unique(s), np.inf]:  # predict fake when score >= t
        fpr = np.mean(s[y == 0] >= t)
        fnr = np.mean(s[y == 1] < t)
        if abs(fpr - fnr) < best[0]:
            best = abs(fpr - fnr), (fpr + fnr) / 2
    n_min = min((y == 0).sum(), (y == 1).sum())
    assert abs(ev.eer(y, s) - best[1]) <= 1.0 / n_min


def test_eer_closed_forms():
    assert ev.eer([0, 0, 1, 1], [0.1, 0.2, 0.8, 0.9]) == 0.0
    assert ev.eer([0, 0, 1, 1], [0.8, 0.9, 0.1, 0.2]) == 1.0
    # one real above one fake out of 2 + 2: FPR = FNR = 0.5 at the crossing
    assert ev.eer([0, 0, 1, 1], [0.1, 0.7, 0.6, 0.9]) == pytest.approx(0.5)


def test_ece_closed_forms():
    # all scores 0.7, 70% fake: perfectly calibrated
    y = np.array([1] * 7 + [0] * 3)
    assert ev.ece(y, np.full(10, 0.7)) == pytest.approx(0.0, abs=1e-12)
    # all scores 0.9 but only half fake: gap 0.4
    assert ev.ece(np.array([1, 0] * 5), np.full(10, 0.9)) == pytest.approx(0.4)
    # two bins: 0.15 with 0 fakes (gap 0.15, weight 1/2), 0.85 with all fakes (gap 0.15, weight 1/2)
    y = np.array([0, 0, 1, 1])
    s = np.array([0.15, 0.15, 0.85, 0.85])
    assert ev.ece(y, s) == pytest.approx(0.15)
    bins = ev.reliability_bins(y, s)
    assert bins["count"].sum() == 4 and bins.loc[1, "count"] == 2 and bins.loc[8, "frac_fake"] == 1.0
    assert ev.reliability_bins([1], [1.0])["count"].iloc[-1] == 1  # 1.0 falls in the last bin


def test_bootstrap_contains_estimate_and_shrinks():
    widths = []
    for n in (40, 400):
        y, s = sample(n, 1)
        lo, hi = ev.bootstrap_interval(y, s, ev.roc_auc, n_boot=300, seed=0)
        assert lo <= ev.roc_auc(y, s) <= hi
        widths.append(hi - lo)
    assert widths[1] < widths[0] * 0.6  # ~ 1/sqrt(10) in theory


def test_grouped_bootstrap_is_wider_for_correlated_clips():
    # 10 identities x 10 near-duplicate clips: clip resampling overstates the information
    rng = np.random.default_rng(0)
    y = np.repeat(np.arange(10) % 2, 10)
    s = np.repeat(rng.normal(size=10) + 0.8 * (np.arange(10) % 2), 10) + rng.normal(0, 0.01, 100)
    groups = np.repeat(np.arange(10), 10)
    lo_c, hi_c = ev.bootstrap_interval(y, s, ev.roc_auc, n_boot=300)
    lo_g, hi_g = ev.bootstrap_interval(y, s, ev.roc_auc, n_boot=300, groups=groups)
    assert hi_g - lo_g > 1.5 * (hi_c - lo_c)


def test_one_identity_has_no_interval():
    """Resampling a single identity always returns it: no interval rather than a zero-width one."""
    y, s = sample(40, 5)
    assert all(np.isnan(ev.bootstrap_interval(y, s, ev.roc_auc, n_boot=100, groups=np.zeros(40))))
    lo, hi = ev.bootstrap_interval(y, s, ev.roc_auc, n_boot=100, groups=np.arange(40) % 2)
    assert np.isfinite(lo) and np.isfinite(hi)


def test_choose_threshold_maximises_balanced_accuracy():
    y, s = sample(60, 3)
    t = ev.choose_threshold(y, s)
    bal = lambda th: 0.5 * (np.mean(s[y == 1] >= th) + np.mean(s[y == 0] < th))  # noqa: E731
    assert bal(t) == pytest.approx(max(bal(c) for c in np.r_[np.unique(s), 1.1]))


def test_bad_inputs_give_one_line_errors():
    with pytest.raises(InputError, match="NaN"):
        ev.roc_auc([0, 1], [0.2, np.nan])
    with pytest.raises(InputError, match="only fake"):
        ev.roc_auc([1, 1], [0.2, 0.3])
    with pytest.raises(InputError, match="empty"):
        ev.log_loss([], [])
    with pytest.raises(InputError, match="2 labels but 3"):
        ev.roc_auc([0, 1], [0.1, 0.2, 0.3])


def _data(n=160, seed=0, strength=1.2):
    rng = np.random.default_rng(seed)
    y = rng.integers(0, 2, n)
    s = 1 / (1 + np.exp(-((2 * y - 1) * strength + rng.normal(size=n))))
    return y, np.round(s, 2)  # rounding makes ties, as bootstrap resamples do


def test_delong_auc_and_variance_against_references():
    y, a = _data(300, seed=2, strength=1.5)
    _, b = _data(300, seed=3, strength=0.8)
    b = np.where(y == 1, b, b)  # different scorer over the same clips
    aucs, cov = ev.delong_components(y, [a, b])
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
    assert ev.delong_test(y, a, a) == (0.0, 1.0)
    d, p = ev.delong_test(y, a, weak)
    assert d > 0 and p < 1e-3
    # Under the null (two scorers equally good, independent noise) p is rarely small.
    ps = []
    for k in range(40):
        r = np.random.default_rng(100 + k)
        s1 = (2 * y - 1) + r.normal(size=y.size)
        s2 = (2 * y - 1) + r.normal(size=y.size)
        ps.append(ev.delong_test(y, s1, s2)[1])
    assert np.mean(np.array(ps) < 0.05) <= 0.15
