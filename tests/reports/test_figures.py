"""Figures: Display data equals scikit-learn's; every figure writes a non-empty image."""

from __future__ import annotations

import numpy as np
import pandas as pd
from PIL import Image
from sklearn.calibration import calibration_curve
from sklearn.metrics import det_curve, roc_auc_score, roc_curve

from forgebench.reports.figures import (
    CrossGeneratorDisplay,
    DetCurveDisplay,
    MetricBarsDisplay,
    ReliabilityDisplay,
    RobustnessDisplay,
    RocCurveDisplay,
)
from forgebench.reports.frame_figures import FrameScoresDisplay, FrameStripDisplay
from forgebench.results import results_frame


def _data(n=200, seed=0):
    rng = np.random.default_rng(seed)
    y = rng.integers(0, 2, n)
    return y, 1 / (1 + np.exp(-((2 * y - 1) + rng.normal(size=n))))


def _nonblank(path):
    img = np.asarray(Image.open(path).convert("L"), np.float64)
    assert img.shape[0] > 100 and img.shape[1] > 100 and img.std() > 5, path


def test_roc_and_det_data_equal_sklearn(tmp_path):
    y, s = _data()
    roc = RocCurveDisplay.from_predictions(y, s, name="d", n_boot=30)
    fpr, tpr, thr = roc_curve(y, s)
    assert np.array_equal(roc.fpr, fpr) and np.array_equal(roc.tpr, tpr) and np.array_equal(roc.thresholds, thr)
    assert np.isclose(roc.auc, roc_auc_score(y, s))
    inside = np.interp(roc.grid, fpr, tpr)
    assert np.mean((roc.tpr_low <= inside + 1e-9) & (inside <= roc.tpr_high + 1e-9)) > 0.9
    det = DetCurveDisplay.from_predictions(y, s, n_boot=30)
    f, n, _ = det_curve(y, s)
    assert np.array_equal(det.fpr, f) and np.array_equal(det.fnr, n)
    for disp, name in ((roc, "roc.png"), (det, "det.svg")):
        path = disp.save(tmp_path / name)
        assert path.stat().st_size > 1000
    _nonblank(tmp_path / "roc.png")


def test_reliability_equals_sklearn_calibration_curve(tmp_path):
    y, s = _data(500, seed=1)
    rel = ReliabilityDisplay.from_predictions(y, s, n_bins=10)
    pt, pp = calibration_curve(y, s, n_bins=10, strategy="uniform")
    assert np.allclose(rel.prob_true, pt) and np.allclose(rel.prob_pred, pp)
    _nonblank(rel.save(tmp_path / "rel.png"))


def test_robustness_heatmap_bars_frames(tmp_path):
    y, s = _data()
    rows = [pd.DataFrame({"label": y, "score": s, "detector": "d", "perturbation": "none", "level": 0})]
    for level in (1, 2, 3):
        rows.append(pd.DataFrame({"label": y, "score": np.clip(s + np.random.default_rng(level).normal(
            0, 0.2 * level, y.size), 0, 1), "detector": "d", "perturbation": "blur", "level": level}))
    rob = RobustnessDisplay.from_predictions(pd.concat(rows))
    clean = rob.table[rob.table["level"] == 0]["value"].iloc[0]
    assert np.isclose(clean, roc_auc_score(y, s)) and list(rob.table["level"]) == [0, 1, 2, 3]
    _nonblank(rob.save(tmp_path / "rob.png"))
    res = results_frame([dict(subject="d", metric="auc", value=v, condition=f"train={a}|test={b}",
                              higher_is_better=True) for a, b, v in (("p", "p", 0.9), ("p", "q", 0.6),
                                                                     ("q", "p", 0.7), ("q", "q", 0.95))])
    hm = CrossGeneratorDisplay.from_results(res, "auc")
    assert hm.matrix.loc["p", "q"] == 0.6 and hm.matrix.loc["q", "p"] == 0.7
    _nonblank(hm.save(tmp_path / "hm.png"))
    bars = MetricBarsDisplay.from_results(results_frame([dict(subject=k, metric="eer", value=v, ci_low=v - .1,
                                                              ci_high=v + .1, higher_is_better=False)
                                                         for k, v in (("a", .3), ("b", .2))]), "eer")
    assert list(bars.subjects) == ["a", "b"] and not bars.higher_is_better
    _nonblank(bars.save(tmp_path / "bars.png"))
    frames = [np.full((3, 32, 32, 3), c, np.uint8) for c in (30, 220)]
    _nonblank(FrameStripDisplay(frames, ["real", "fake"]).save(tmp_path / "strip.png"))
    fs = FrameScoresDisplay.from_predictions(pd.DataFrame({"name": ["a"] * 50, "frame": range(50),
                                                           "score": np.linspace(0, 1, 50)}))
    assert np.allclose(fs.scores["a"], np.linspace(0, 1, 50))
    _nonblank(fs.save(tmp_path / "fs.png"))
