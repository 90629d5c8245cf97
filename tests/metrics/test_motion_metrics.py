"""Pose and motion metrics against closed forms on synthetic tracks."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest

from forgebench.metrics.base import Clip
from forgebench.metrics.motion import (
    BeatAlign,
    BlinkRate,
    DeltaPose,
    FrechetMotionDistance,
    LandmarkJitter,
    PoseDiversity,
    beat_align_score,
    blink_events,
    blink_stats,
    delta_pose,
    fmd,
    fmd_from_features,
    landmark_jitter,
    motion_window_features,
    onset_envelope,
    pose_diversity,
)
from forgebench.records import MotionTrack

sys.path.insert(0, str(Path(__file__).resolve().parent))
from harness import check_metric  # noqa: E402


def rotating_track(n: int, rates=(0.5, -0.2, 0.1), fps: float = 25.0) -> MotionTrack:
    t = MotionTrack.zeros(n, fps)
    t.pose[:, :3] = np.arange(n)[:, None] * np.asarray(rates)[None]
    return t


def random_track(n: int, seed: int, fps: float = 25.0, with_landmarks: bool = False) -> MotionTrack:
    rng = np.random.default_rng(seed)
    t = MotionTrack.zeros(n, fps)
    t.pose[:] = np.cumsum(rng.normal(0, 0.3, t.pose.shape), axis=0)
    t.expression[:] = rng.uniform(0, 1, t.expression.shape)
    t.gaze[:] = rng.normal(0, 0.1, t.gaze.shape)
    if with_landmarks:
        base = rng.uniform(100, 300, (478, 3))
        base[468], base[473] = (150, 200, 0), (250, 200, 0)  # irises 100 px apart
        t.landmarks = base[None] + rng.normal(0, 1, (n, 478, 3)) + np.cumsum(rng.normal(0, 1, (n, 1, 3)), axis=0)
    return t


def test_delta_pose_of_constant_rotation_is_the_rate():
    d = delta_pose(rotating_track(50))
    np.testing.assert_allclose(d, [0.5, 0.2, 0.1], atol=1e-5)


def test_delta_pose_skips_pairs_across_missing_faces():
    t = rotating_track(20)
    t.pose[10, :3] = 999.0  # garbage where the analyzer found no face
    t.valid[10] = False
    np.testing.assert_allclose(delta_pose(t), [0.5, 0.2, 0.1], atol=1e-5)


def test_pose_diversity_is_the_std():
    t = random_track(40, 0)
    np.testing.assert_allclose(pose_diversity(t), t.pose[:, :3].astype(np.float64).std(axis=0))


def test_blink_rate_of_synthetic_eyelid_signal():
    fps, n = 25.0, 1500  # one minute
    closure = np.zeros(n)
    starts = np.arange(30, n - 10, 125)  # 12 blinks of 4 frames
    for s in starts:
        closure[s : s + 4] = [0.6, 1.0, 0.9, 0.4]  # 0.4 stays above the 0.35 reopen level
        closure[s + 4] = 0.1
    closure[700:703] = [0.45, 0.3, 0.45]  # never crosses 0.5: not a blink
    t = MotionTrack.zeros(n, fps)
    t.expression[:, 4] = closure
    t.expression[:, 5] = closure
    rate, dur = blink_stats(t)
    assert rate == pytest.approx(len(starts))
    assert dur == pytest.approx(4 / fps)


def test_blink_hysteresis_keeps_one_event():
    assert blink_events(np.array([0, 0.6, 0.45, 0.55, 0.2, 0])) == [(1, 4)]


def test_beat_align_closed_form():
    # motion beats at 10 and 30, audio beat at 12: mean(exp(-4/18), exp(-324/18))
    assert beat_align_score(np.array([10, 30]), np.array([12])) == pytest.approx(
        (np.exp(-4 / 18) + np.exp(-324 / 18)) / 2
    )
    assert beat_align_score(np.array([10, 30]), np.array([12]), over="audio") == pytest.approx(np.exp(-4 / 18))


def test_onset_envelope_peaks_at_clicks():
    rate, fps = 16000, 25.0
    audio = np.zeros(rate * 2)
    for k in (10, 30):  # clicks at video frames 10 and 30
        audio[int(k / fps * rate) : int(k / fps * rate) + 200] = np.sin(np.arange(200) * 0.5)
    env = onset_envelope(audio, rate, fps)
    top = sorted(np.argsort(env)[-2:])
    # a log-magnitude flux fires as the window's edge reaches the click: at most one frame early
    assert top[0] in (9, 10) and top[1] in (29, 30)


def test_jitter_separates_tremor_from_smooth_motion():
    smooth = random_track(100, 1, with_landmarks=True)
    smooth.landmarks[:] = smooth.landmarks[0][None] + np.linspace(0, 20, 100)[:, None, None]
    shaky = random_track(100, 1, with_landmarks=True)
    shaky.landmarks[:] = smooth.landmarks + 2.0 * (-1.0) ** np.arange(100)[:, None, None]
    hf_smooth, d2_smooth = landmark_jitter(smooth)
    hf_shaky, d2_shaky = landmark_jitter(shaky)
    assert hf_smooth < 1e-6 and hf_shaky > 0.1
    still = random_track(100, 1, with_landmarks=True)
    still.landmarks[:] = smooth.landmarks[0][None] + 2.0 * (-1.0) ** np.arange(100)[:, None, None]
    assert landmark_jitter(still)[0] == pytest.approx(1.0, abs=1e-2)  # all motion at Nyquist (detrend takes ~0.1%)
    assert d2_smooth == pytest.approx(0.0, abs=1e-6)
    iod = np.linalg.norm(smooth.landmarks[0, 468, :2] - smooth.landmarks[0, 473, :2])
    assert d2_shaky == pytest.approx(8.0 / iod, rel=1e-6)  # second difference of ±2 is ±8 px


def test_fmd_identical_sets_is_zero_and_shift_is_closed_form():
    rng = np.random.default_rng(0)
    a = rng.normal(size=(4000, 5))
    assert fmd_from_features(a, a) == pytest.approx(0.0, abs=1e-6)
    shift = np.array([1.0, 2.0, 0.0, 0.0, -1.0])
    # equal covariances: FD = |mu1 - mu2|^2 exactly (pytorch-fid's closed-form case)
    assert fmd_from_features(a, a + shift) == pytest.approx(float(shift @ shift), rel=1e-6)


def test_fmd_window_features_and_corpus_function():
    tracks = [random_track(125, s) for s in range(3)]
    feats = motion_window_features(tracks[0])
    assert feats.shape == (4, 35)  # 2 s windows, 1 s hop over 5 s
    assert fmd(tracks, tracks) == pytest.approx(0.0, abs=1e-6)


def test_fmd_metric_streams_merges_and_matches_function():
    gen = [random_track(125, s) for s in range(4)]
    ref = [random_track(125, 10 + s, fps=25.0) for s in range(4)]
    for t in ref:
        t.pose[:, :3] *= 2.0
    clips = [Clip(f"c{i}", track=t) for i, t in enumerate(gen)]

    def make():
        return FrechetMotionDistance(reference_tracks=ref)

    check_metric(make, clips, reference=lambda cs: fmd([c.track for c in cs], ref), rtol=1e-6)


@pytest.mark.parametrize(
    ("cls", "func"),
    [
        (DeltaPose, lambda c: delta_pose(c.track).mean()),
        (PoseDiversity, lambda c: pose_diversity(c.track).mean()),
        (LandmarkJitter, lambda c: landmark_jitter(c.track)[0]),
    ],
)
def test_per_clip_metrics_with_harness(cls, func):
    clips = [Clip(f"c{i}", track=random_track(60, i, with_landmarks=True)) for i in range(4)]
    check_metric(cls, clips, reference=lambda cs: float(np.mean([func(c) for c in cs])))


def test_blink_rate_is_pooled_with_an_exact_poisson_interval():
    from scipy.stats import poisson

    clips = [Clip(f"c{i}", track=random_track(60 + 40 * i, i, with_landmarks=True)) for i in range(4)]
    for i, c in enumerate(clips):  # i blinks of 4 frames in clip i
        closure = np.zeros(c.track.n_frames)
        for s in range(i):
            closure[10 + 15 * s:14 + 15 * s] = 1.0
        c.track.expression[:, 4] = c.track.expression[:, 5] = closure
        c.track.valid[:] = True
    minutes = sum(c.track.n_frames for c in clips) / 25.0 / 60.0
    result = check_metric(BlinkRate, clips, reference=lambda cs: 6 / minutes)  # 0 + 1 + 2 + 3 blinks, pooled
    # The interval's ends are the rates at which seeing 6 blinks or fewer (more) has probability 2.5%.
    assert poisson.cdf(6, result.ci_high * minutes) == pytest.approx(0.025, abs=1e-6)
    assert poisson.sf(5, result.ci_low * minutes) == pytest.approx(0.025, abs=1e-6)
    none = BlinkRate()
    none.update(clips[0])
    empty = none.compute()
    assert empty.value == 0.0 and empty.ci_low == 0.0
    assert empty.ci_high == pytest.approx(-np.log(0.025) / (clips[0].track.n_frames / 25.0 / 60.0))


def test_beat_align_metric_and_missing_track_is_skipped():
    rng = np.random.default_rng(0)
    clips = [
        Clip(f"c{i}", track=random_track(100, i, with_landmarks=True), audio=rng.normal(0, 0.1, 64000))
        for i in range(3)
    ]
    check_metric(BeatAlign, clips, reference=None)
    m = BeatAlign()
    m.update(Clip("empty", audio=np.zeros(16000)))
    res = m.compute()
    assert res.status == "unavailable" and "no motion track" in res.reason
