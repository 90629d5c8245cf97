"""liveliness: features in closed form on synthetic tracks, the deficit score, and a ranking set by real clips only."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.stats import kurtosis

from forgebench.detectors import ClipSet
from forgebench.detectors.liveliness import FEATURES, LivelinessDetector, deficit, excess_kurtosis, liveliness_features
from forgebench.manifest import read_manifest
from forgebench.records import EXPRESSION_NAMES, MotionTrack

SHARED = {"crop_size": 64, "n_frames": 2, "max_frames": 30}


def test_excess_kurtosis_matches_scipy():
    rng = np.random.default_rng(0)
    for x in (rng.normal(size=200), rng.standard_t(3, size=300), rng.uniform(size=50)):
        assert excess_kurtosis(x) == pytest.approx(kurtosis(x, fisher=True, bias=True))
    assert excess_kurtosis(np.ones(20)) == 0.0 and excess_kurtosis(np.arange(3.0)) == 0.0


def test_features_of_a_synthetic_track():
    fps, n = 25.0, 250  # 10 s
    track = MotionTrack.zeros(n, fps)
    closure = np.zeros(n)
    for start in (30, 120, 200):  # three blinks of 4 frames, fully shut
        closure[start:start + 4] = 1.0
    rng = np.random.default_rng(1)
    track.expression[:, EXPRESSION_NAMES.index("blink_left")] = closure
    track.expression[:, EXPRESSION_NAMES.index("blink_right")] = closure
    gaze = np.stack([np.repeat(rng.normal(0, 0.05, 10), 25), np.zeros(n)], 1)  # fixations with jumps (saccades)
    track.gaze[:] = gaze
    mouth = np.abs(np.sin(np.arange(n) / 3.0)) * 0.3
    track.expression[:, EXPRESSION_NAMES.index("jaw_open")] = mouth
    f = dict(zip(FEATURES, liveliness_features(track)))
    assert f["closure_max"] == 1.0
    assert f["closure_p90"] == pytest.approx(np.percentile(closure, 90))
    assert f["blinks_per_minute"] == pytest.approx(3 / 10 * 60)
    assert f["closure_velocity_kurtosis"] == pytest.approx(kurtosis(np.diff(closure)), rel=1e-5)
    g = track.gaze.astype(np.float64)
    assert f["gaze_std"] == pytest.approx(g.std(0).mean(), rel=1e-6)
    open_eye = (closure[1:] < 0.3) & (closure[:-1] < 0.3)  # gaze speed only where both frames are open-eyed
    speed = np.linalg.norm(np.diff(g, axis=0), axis=1)[open_eye] * fps
    assert f["gaze_speed_kurtosis"] == pytest.approx(kurtosis(speed), rel=1e-5)
    assert f["mouth_velocity_kurtosis"] == pytest.approx(kurtosis(np.diff(track.expr("jaw_open"))), rel=1e-5)
    # a still face (no blink, fixed gaze, static mouth) has nothing alive
    still = liveliness_features(MotionTrack.zeros(n, fps))
    assert not still.any()


def test_deficit_closed_form():
    centre, scale = np.arange(7.0), np.full(7, 2.0)
    assert deficit(centre[None], centre, scale)[0] == pytest.approx(np.log(2.0))
    # one eye feature 2 scales below the real median: eyes group mean = (softplus(2) + 3 log 2) / 4
    x = centre.copy()
    x[0] -= 4.0
    expected = ((np.log1p(np.exp(2.0)) + 3 * np.log(2)) / 4 + np.log(2) + np.log(2)) / 3
    assert deficit(x[None], centre, scale)[0] == pytest.approx(expected)
    # monotone: less of any feature is never less fake; the z-score is clipped at 6 scales
    lower = deficit(centre[None] - np.eye(7), centre, scale)
    assert (lower > np.log(2)).all()
    far = deficit((centre - 100.0)[None], centre, scale)[0]
    assert far == pytest.approx(np.log1p(np.exp(6.0)))


def test_ranking_depends_on_real_clips_only(corpus, cache_dir):
    df = read_manifest(corpus / "manifest.parquet")
    train, val = ClipSet.from_manifest(df, corpus, "train"), ClipSet.from_manifest(df, corpus, "val")
    test = ClipSet.from_manifest(df, corpus, "test")

    def fit(train_set):
        det = LivelinessDetector(**SHARED)
        det.cache_dir = cache_dir
        return det.fit(train_set, val)

    full = fit(train)
    fewer = fit(train.subset(np.flatnonzero((train.labels == 0) | (np.arange(len(train)) % 3 == 0))))
    np.testing.assert_array_equal(full.centre_, fewer.centre_)
    np.testing.assert_array_equal(full.scale_, fewer.scale_)
    a, b = full.predict_proba(test), fewer.predict_proba(test)
    np.testing.assert_array_equal(np.argsort(a, kind="stable"), np.argsort(b, kind="stable"))
    assert full.calibration_[0] > 0
