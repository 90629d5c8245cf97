"""Detector evaluation: a predictions table -> results rows (the metrics are tested in tests/metrics)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from sklearn import metrics as skm

from forgebench.detectors import evaluation as ev
from forgebench.errors import InputError


def sample(n: int, seed: int):
    rng = np.random.default_rng(seed)
    y = rng.integers(0, 2, n)
    y[:2] = [0, 1]
    return y, 1 / (1 + np.exp(-(rng.normal(size=n) + 1.2 * y)))


def predictions() -> pd.DataFrame:
    y, s = sample(120, 7)
    pert = np.where(np.arange(120) % 3 == 0, "jpeg", "none")
    i = np.arange(120)
    return pd.DataFrame({"clip_id": [f"c{k}" for k in i], "split": np.where(i < 40, "val", "test"),
                         "label": y, "score": s, "generator": np.where(y == 1, np.where(i % 2, "a", "b"), ""),
                         "perturbation": pert, "level": np.where(pert == "jpeg", 3, 0),
                         "source_id": [f"id{i // 4}" for i in range(120)]})


def test_evaluate_predictions_table():
    pred = predictions()
    res = ev.evaluate_predictions(pred, subject="x", threshold=0.5, n_boot=100)
    test_clean = pred[(pred.split == "test") & (pred.perturbation == "none")]
    row = res[(res.split == "test") & (res.condition == "clean") & (res.metric == "auc")].iloc[0]
    assert row.value == pytest.approx(skm.roc_auc_score(test_clean.label, test_clean.score))
    assert row.ci_low <= row.value <= row.ci_high and row.n == len(test_clean)
    assert {"clean", "jpeg:3", "generator=a", "generator=b"} <= set(res.condition)
    assert set(res.metric) == {"auc", "ap", "eer", "acc@0.5", "acc@val", "log_loss", "ece"}
    assert not res.loc[res.metric == "eer", "higher_is_better"].any()


def test_evaluate_flags_one_sided_perturbation_and_nan():
    pred = predictions()
    pred.loc[pred.label == 0, ["perturbation", "level"]] = ["none", 0]
    res = ev.evaluate_predictions(pred, subject="x", threshold=0.5, n_boot=50)
    jpeg = res[res.condition == "jpeg:3"]
    assert (jpeg.status == "unavailable").all() and jpeg.note.str.contains("alike").all()
    pred.loc[3, "score"] = np.nan
    with pytest.raises(InputError, match="NaN"):
        ev.evaluate_predictions(pred, subject="x", threshold=0.5)
