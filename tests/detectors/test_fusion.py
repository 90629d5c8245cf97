"""fusion: members fitted on train, calibration and stacker on val only, NaN handling, skipped members, save/load."""

from __future__ import annotations

import json

import numpy as np
import pytest
from scipy.optimize import minimize

from forgebench.detectors import ClipSet, Detector, detector_registry
from forgebench.detectors.fusion import FusionDetector, logit, nonnegative_logistic, platt
from forgebench.errors import ForgebenchError, InputError, WeightsUnavailableError
from forgebench.manifest import read_manifest

SHARED = {"crop_size": 64, "n_frames": 2, "max_frames": 30}  # the contract suite's settings: its cache is reused
MEMBERS = "liveliness,avsync"
MEMBER_PARAMS = json.dumps({"liveliness": SHARED, "avsync": {**SHARED, "max_lag": 3}})


def sets(corpus):
    df = read_manifest(corpus / "manifest.parquet")
    return (ClipSet.from_manifest(df, corpus, "train"), ClipSet.from_manifest(df, corpus, "val"),
            ClipSet.from_manifest(df, corpus, "test"))


def make(cache_dir, **params) -> FusionDetector:
    det = FusionDetector(**{"members": MEMBERS, "member_params": MEMBER_PARAMS, **params})
    det.cache_dir = cache_dir
    return det


def platt_reference(x, y, c=100.0):
    """Maximum likelihood of sigmoid(a x + b) with sklearn's penalty a^2 / (2 C), by direct minimisation."""
    def nll(t):
        z = t[0] * x + t[1]
        return np.sum(np.logaddexp(0, z) - y * z) + t[0] ** 2 / (2 * c)
    return minimize(nll, np.zeros(2), method="BFGS", options={"gtol": 1e-10}).x


def test_platt_and_nonnegative_logistic_against_references():
    rng = np.random.default_rng(0)
    y = rng.integers(0, 2, 200)
    x = y * 1.5 + rng.normal(size=200)
    np.testing.assert_allclose(platt(x, y), platt_reference(x, y), atol=1e-3)
    # an inverted score gets slope 0 and the base rate: it adds no evidence
    a, b = platt(-x, y)
    assert a == 0.0 and b == pytest.approx(np.log(y.mean() / (1 - y.mean())), abs=1e-4)
    # with every unconstrained weight positive the constrained fit is sklearn's (same objective: C sum + w^2 / 2)
    from sklearn.linear_model import LogisticRegression

    xx = np.stack([x, y + rng.normal(size=200)], 1)
    w, b0 = nonnegative_logistic(xx, y, c=1.0)
    ref = LogisticRegression(C=1.0, tol=1e-10, max_iter=10000).fit(xx, y)
    assert (ref.coef_[0] > 0).all()
    np.testing.assert_allclose(w, ref.coef_[0], atol=1e-3)
    assert b0 == pytest.approx(ref.intercept_[0], abs=1e-3)
    # an anti-correlated column is held at 0 (KKT: its gradient would push it negative)
    w2, _ = nonnegative_logistic(np.stack([x, -x + rng.normal(size=200) * 0.1], 1), y)
    assert w2[0] > 0 and w2[1] == 0.0


def test_stacker_is_fitted_on_val_only(corpus, cache_dir, monkeypatch):
    """The stacker sees the members' val log-odds and the val labels, nothing else; its arrays equal an
    independent computation from those two."""
    train, val, test = sets(corpus)
    seen = {}
    original = FusionDetector.fit_stacker

    def spy(self, raw, y):
        seen["raw"], seen["y"] = raw.copy(), y.copy()
        return original(self, raw, y)

    monkeypatch.setattr(FusionDetector, "fit_stacker", spy)
    det = make(cache_dir).fit(train, val)
    assert [m.registry_name for m in det.members_] == ["liveliness", "avsync"]
    np.testing.assert_array_equal(seen["y"], val.labels)
    expected_raw = np.stack([logit(m.predict_proba(val.without_labels())) for m in det.members_], 1)
    np.testing.assert_allclose(seen["raw"], expected_raw)
    # independent recomputation: Platt per member, spread, mean of calibrated log-odds / spread, Platt again
    for k in range(2):
        a, b = platt_reference(expected_raw[:, k], val.labels)
        if a <= 0:
            a, b = 0.0, np.log(val.labels.mean() / (1 - val.labels.mean()))
        np.testing.assert_allclose(det.calibration_[k], [a, b], atol=2e-3)
    cal = expected_raw * det.calibration_[:, 0] + det.calibration_[:, 1]
    spread = np.where(cal.std(0) > 1e-9, cal.std(0), 1.0)
    np.testing.assert_allclose(det.spread_, spread)
    a, b = platt_reference((cal / spread).mean(1), val.labels)
    if a > 0:
        np.testing.assert_allclose(det.final_, [a, b], atol=2e-3)
    # the same members with train labels scrambled after fitting: the stacker does not change
    scrambled = ClipSet(train.rows, train.root, "train", 1 - train.labels)
    again = make(cache_dir)
    again.members_ = det.members_
    again.fit_stacker(again._member_logits(val), val.labels)
    np.testing.assert_allclose(again.get_arrays()["final"], det.final_)
    assert scrambled.labels is not None  # the scrambled labels exist but nothing read them


def test_missing_scores_and_skipped_members(corpus, cache_dir, monkeypatch, capsys, tmp_path):
    train, val, test = sets(corpus)
    det = make(cache_dir).fit(train, val)
    # a member that skipped a clip is left out of that clip's mean; all skipped: NaN
    raw = np.array([[2.0, -1.0], [np.nan, -1.0], [2.0, np.nan], [np.nan, np.nan]])
    cal = raw * det.calibration_[:, 0] + det.calibration_[:, 1]
    z = cal / det.spread_
    p = det._stack(raw)
    expected = [z[0].mean(), z[1, 1], z[2, 0]]
    np.testing.assert_allclose(p[:3], 1 / (1 + np.exp(-(det.final_[0] * np.array(expected) + det.final_[1]))))
    assert np.isnan(p[3])
    logistic = make(cache_dir, stacker="logistic").fit(train, val)
    cal = raw * logistic.calibration_[:, 0] + logistic.calibration_[:, 1]
    fused = np.nan_to_num(cal, nan=0.0) @ logistic.weights_ + logistic.final_[1]
    np.testing.assert_allclose(logistic._stack(raw)[:3], 1 / (1 + np.exp(-fused[:3])))
    assert np.isnan(logistic._stack(raw)[3]) and (logistic.weights_ >= 0).all()

    # a member whose weights are missing is skipped with a note; the fusion works with the others
    def no_weights(self, train, val):
        raise WeightsUnavailableError("weights 'x' are not in the cache: run 'forgebench weights fetch x'")

    monkeypatch.setattr(detector_registry.get("liveliness"), "_fit", no_weights)
    capsys.readouterr()
    partial = make(cache_dir).fit(train, val)
    assert "fusion: skipping member liveliness: weights 'x'" in capsys.readouterr().err
    assert [m.registry_name for m in partial.members_] == ["avsync"]
    out = partial.save(tmp_path / "partial")
    config = json.loads((out / "config.json").read_text())
    assert config["fitted"]["members"] == ["avsync"]
    assert config["fitted"]["skipped_members"][0]["name"] == "liveliness"
    np.testing.assert_array_equal(Detector.load(out).predict_proba(test), partial.predict_proba(test))
    with pytest.raises(InputError, match="no member could be fitted"):
        FusionDetector(members="liveliness", member_params=json.dumps({"liveliness": SHARED})).fit(train, val)


def test_save_load_layout_and_bad_params(corpus, cache_dir, tmp_path):
    train, val, test = sets(corpus)
    det = make(cache_dir).fit(train, val)
    out = det.save(tmp_path / "f")
    for k, name in enumerate(["liveliness", "avsync"]):
        cfg = json.loads((out / "members" / f"{k}-{name}" / "config.json").read_text())
        assert cfg["detector"] == name and (out / "members" / f"{k}-{name}" / "weights.safetensors").is_file()
    loaded = Detector.load(out)
    loaded.cache_dir = cache_dir
    np.testing.assert_array_equal(loaded.predict_proba(test), det.predict_proba(test))
    (out / "members" / "1-avsync" / "config.json").unlink()
    with pytest.raises(InputError, match="not a detector directory"):
        Detector.load(out)
    for bad, match in (({"members": ""}, "at least one member"), ({"members": "avsync,avsync"}, "repeat"),
                       ({"members": "fusion"}, "itself"), ({"members": "dynamcs"}, "Did you mean dynamics"),
                       ({"stacker": "vote"}, "stacker"), ({"member_params": "{"}, "JSON"),
                       ({"member_params": '{"meso4": {}}'}, "not a member")):
        with pytest.raises(ForgebenchError, match=match):
            FusionDetector(**bad)


def test_pretrained_member_without_weights_is_skipped(corpus, cache_dir, tmp_path, monkeypatch, capsys):
    """A real probe member (not a stub) with no weights in FORGEBENCH_HOME: one note, the fusion uses the others."""
    monkeypatch.setenv("FORGEBENCH_HOME", str(tmp_path / "empty-home"))
    train, val, test = sets(corpus)
    det = make(cache_dir, members="i3d_probe,liveliness",
               member_params=json.dumps({"i3d_probe": SHARED, "liveliness": SHARED}))
    capsys.readouterr()
    det.fit(train, val)
    assert "fusion: skipping member i3d_probe: weights 'i3d_kinetics400'" in capsys.readouterr().err
    assert [m.registry_name for m in det.members_] == ["liveliness"]
    assert np.isfinite(det.predict_proba(test)).all()
