"""Procedural motion: closed mouth in silence, mouth follows the energy, human blinks, plausible head motion."""

from __future__ import annotations

import numpy as np
import pytest

from forgebench.errors import InputError
from forgebench.generator.audio_features import extract_audio_features
from forgebench.generator.motion import MotionGenerator, ProceduralMotion, SourceState, motion_registry
from forgebench.generator.motion.procedural import blink_curve, blink_schedule
from forgebench.records import MotionTrack

SR = 16000
FPS = 25


def _speechlike(seconds: float, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Amplitude-modulated harmonic tone with pauses; returns (audio, its amplitude envelope per sample)."""
    rng = np.random.default_rng(seed)
    t = np.arange(int(seconds * SR)) / SR
    f0 = 130 + 40 * np.sin(2 * np.pi * 0.25 * t) + 10 * np.sin(2 * np.pi * 1.3 * t)
    phase = 2 * np.pi * np.cumsum(f0) / SR
    x = sum(np.sin(k * phase) / k for k in range(1, 12))
    # Syllables at ~4-5 Hz with varying stress, in phrases of 2.4 s separated by 1 s pauses.
    syll = (0.5 - 0.5 * np.cos(2 * np.pi * 4.5 * t)) ** 2 * (0.6 + 0.4 * np.sin(2 * np.pi * 0.7 * t + 1.0))
    env = 0.12 * syll * ((t % 3.4) < 2.4)
    return (env * x + 1e-4 * rng.standard_normal(len(t))).astype(np.float32), env


@pytest.fixture(scope="module")
def speech():
    audio, env = _speechlike(40.0)
    return audio, env, extract_audio_features(audio, FPS)


@pytest.fixture(scope="module")
def gen():
    return motion_registry.build("procedural")


SOURCE = SourceState(
    pose=[5.0, -2.0, 1.0, 0.48, 0.44, 0.22], expression=[0.01, 0.9, 0.0, 0.01, 0.05, 0.05, 0.33], gaze=[0.01, -0.02]
)


def test_registered_and_builds():
    assert "procedural" in motion_registry
    assert issubclass(motion_registry.get("procedural"), MotionGenerator)
    assert isinstance(motion_registry.build("procedural", head_scale=0.5), ProceduralMotion)


def test_silence_keeps_the_mouth_closed_and_still(gen):
    feats = extract_audio_features(np.zeros(5 * SR, np.float32), FPS)
    track = gen.generate(feats, SOURCE, seed=0)
    assert isinstance(track, MotionTrack) and track.n_frames == 5 * FPS
    for name in ("jaw_open", "mouth_width", "pucker"):
        assert np.ptp(track.expr(name)) == 0.0, name
    assert track.expr("jaw_open")[0] == pytest.approx(0.01)
    assert track.expr("mouth_width")[0] == pytest.approx(0.9)


def test_mouth_closes_in_pauses_and_opens_in_speech(speech, gen):
    _audio, _env, feats = speech
    jaw = gen.generate(feats, SOURCE, seed=0).expr("jaw_open")
    t = (np.arange(feats.n_frames) + 0.5) / FPS
    deep_pause = ((t % 3.4) > 2.4 + 0.3) & ((t % 3.4) < 3.4 - 0.3)
    assert np.abs(jaw[deep_pause] - 0.01).max() < 1e-3
    talking = (t % 3.4) < 2.4
    assert np.percentile(jaw[talking], 90) > 0.08
    # Calibrated like real talking heads: mostly 0.0-0.25 IOD, never wide open.
    assert jaw.max() < 0.35 and np.mean(jaw[talking] < 0.25) > 0.9


def test_jaw_follows_energy_envelope(speech, gen):
    _audio, env, feats = speech
    jaw = gen.generate(feats, SOURCE, seed=0).expr("jaw_open").astype(np.float64)
    per_frame = env[: feats.n_frames * SR // FPS].reshape(feats.n_frames, -1).mean(axis=1)
    best = max(np.corrcoef(np.roll(jaw, lag)[5:-5], per_frame[5:-5])[0, 1] for lag in range(-2, 3))
    assert best > 0.6


def test_blinks_rate_duration_and_both_eyes_over_two_minutes(gen):
    feats = extract_audio_features(_speechlike(120.0, seed=1)[0], FPS)
    for seed in (0, 1, 2):
        track = gen.generate(feats, SOURCE, seed=seed)
        left, right = track.expr("blink_left"), track.expr("blink_right")
        closure = (left - 0.05) / 0.95  # the source eye is 5 % closed
        onsets = np.flatnonzero((closure[1:] > 0.5) & (closure[:-1] <= 0.5))
        assert 10 <= len(onsets) / 2.0 <= 25  # per minute
        # Each blink's frames with any closure span its 100-400 ms (+- one frame of sampling).
        active = np.concatenate([[False], closure > 1e-6, [False]])
        starts, stops = np.flatnonzero(~active[:-1] & active[1:]), np.flatnonzero(active[:-1] & ~active[1:])
        spans = (stops - starts + 1) / FPS
        assert len(spans) == len(onsets)
        assert spans.min() >= 0.1 - 1 / FPS and spans.max() <= 0.4 + 1 / FPS
        schedule = np.asarray(track.meta["blinks"])
        assert ((schedule[:, 1] >= 0.1) & (schedule[:, 1] <= 0.4)).all()
        assert np.corrcoef(left, right)[0, 1] > 0.99 and closure.max() == pytest.approx(1.0)


def test_blink_profile_closes_fast_and_opens_slowly():
    frames = np.arange(0, 900)
    curve = blink_curve(np.array([[2.0, 0.3]]), frames, fps=300.0)  # finely sampled
    peak = int(np.argmax(curve))
    rise, fall = np.flatnonzero(curve[:peak] > 0).size, np.flatnonzero(curve[peak + 1 :] > 0).size
    assert curve[peak] == pytest.approx(1.0)
    assert rise == pytest.approx(30, abs=2) and fall == pytest.approx(60, abs=2)  # 1/3 and 2/3 of 300 ms


def test_blink_schedule_rate_matches_request():
    schedule = blink_schedule(seed=5, duration_s=3600.0, rate_per_min=18.0)
    rate = len(schedule) / 60.0
    assert 15.0 <= rate <= 19.0  # requested 18/min minus the blink durations and refractory floor


def test_first_blink_comes_within_a_short_clip():
    # Uniform from 0.3 s over one mean interval, capped at 2.5 s: a 3 s clip shows a whole blink (<= 0.38 s).
    for rate, last in ((18.0, 2.5), (6.0, 2.5), (60.0, 1.0)):
        onsets = np.array([blink_schedule(seed, 3.0, rate)[0, 0] for seed in range(300)])
        assert onsets.min() >= 0.3 and onsets.max() <= last
        assert np.quantile(onsets, 0.9) > 0.3 + 0.8 * (last - 0.3)  # spread over the range, not bunched


def test_short_clip_has_a_blink_the_analyzer_measures(tmp_path):
    """A 3 s clip at 256x256 blinks at any seed, and the face analyzer (what ``blink_rate`` reads) sees it."""
    from forgebench.generator.config import GenerationConfig
    from forgebench.generator.defaults import default_portrait
    from forgebench.generator.pipeline import TalkingFacePipeline
    from forgebench.media.analyze import analyze_video
    from forgebench.metrics.motion import blink_events, blink_stats

    audio, _ = _speechlike(3.0)
    pipe = TalkingFacePipeline.from_config(GenerationConfig(size=256))
    for seed in (0, 3):  # seed 0's first blink used to start at 3.0 s, after the clip
        result = pipe(default_portrait(), audio, out=tmp_path / f"{seed}.mp4", seed=seed)
        driven = (result.track.expr("blink_left") + result.track.expr("blink_right")) / 2
        measured = analyze_video(result.path)
        closure = (measured.expr("blink_left") + measured.expr("blink_right")) / 2
        assert len(blink_events(driven)) >= 1
        assert len(blink_events(np.where(measured.valid, closure, 0.0))) >= 1
        assert blink_stats(measured)[0] > 0


def test_head_motion_is_plausible_and_smooth(speech, gen):
    feats = speech[2]
    for seed in range(4):
        track = gen.generate(feats, SOURCE, seed=seed)
        yaw, pitch, roll = (track.pose_of(n).astype(np.float64) for n in ("yaw", "pitch", "roll"))
        assert 1.5 < yaw.std() < 7.0 and 1.0 < pitch.std() < 5.0 and 0.5 < roll.std() < 3.5
        assert abs(np.median(yaw) - 5.0) < 2 * yaw.std()  # around the source pose
        step = np.abs(np.diff(track.pose[:, :3], axis=0)).mean(axis=0)
        assert (step > 0.05).all() and (step < 0.7).all()  # degrees per frame at 25 fps
        # Filtered noise, no jitter: almost no rotation power above 4 Hz.
        rot = (track.pose[:, :3] - track.pose[:, :3].mean(axis=0)) * np.hanning(track.n_frames)[:, None]
        spectrum = np.abs(np.fft.rfft(rot, axis=0)) ** 2
        freqs = np.fft.rfftfreq(track.n_frames, 1 / FPS)
        assert (spectrum[freqs > 4].sum(axis=0) / spectrum.sum(axis=0)).max() < 1e-3
        assert np.allclose(track.pose_of("tx").mean(), 0.48, atol=0.02)
        assert np.abs(track.pose_of("scale") / 0.22 - 1).max() < 0.02


def test_head_scale_zero_freezes_rotation(speech, gen):
    track = gen.generate(speech[2], SOURCE, seed=0, head_scale=0.0)
    np.testing.assert_array_equal(track.pose[:, :3], np.tile(np.float32([5.0, -2.0, 1.0]), (track.n_frames, 1)))


def test_brows_rise_with_pitch_above_median(gen):
    t = np.arange(6 * SR) / SR
    f0 = np.where(t < 3, 120.0, 200.0)  # low then high, same loudness
    phase = 2 * np.pi * np.cumsum(f0) / SR
    audio = (0.1 * sum(np.sin(k * phase) / k for k in range(1, 8))).astype(np.float32)
    track = gen.generate(extract_audio_features(audio, FPS), SOURCE, seed=0)
    brow = track.expr("brow_raise")
    assert np.median(brow[: 2 * FPS]) == pytest.approx(0.33, abs=1e-3)
    assert np.median(brow[4 * FPS :]) > 0.33 + 0.02


def test_gaze_mostly_at_anchor_with_saccades(speech, gen):
    track = gen.generate(speech[2], SOURCE, seed=0, head_scale=0.0, gaze_x=0.0, gaze_y=0.0)
    offset = np.linalg.norm(track.gaze, axis=1)
    assert np.median(offset) < 0.03 and 0.01 < offset.max() < 0.2
    jumps = np.flatnonzero(np.abs(np.diff(track.gaze[:, 0])) > 1e-3)
    assert jumps.size > 0


def test_deterministic_and_seed_dependent(speech, gen):
    feats = speech[2]
    a, b, c = (
        gen.generate(feats, SOURCE, seed=7),
        gen.generate(feats, SOURCE, seed=7),
        gen.generate(feats, SOURCE, seed=8),
    )
    for name in ("pose", "expression", "gaze"):
        np.testing.assert_array_equal(getattr(a, name), getattr(b, name))
    assert not np.array_equal(a.pose, c.pose)
    assert not np.array_equal(a.expr("blink_left"), c.expr("blink_left"))
    # The mouth's timing comes from the audio; only how wide each syllable opens varies with the seed.
    assert np.corrcoef(a.expr("jaw_open"), c.expr("jaw_open"))[0, 1] > 0.5
    assert not np.array_equal(a.expr("jaw_open"), c.expr("jaw_open"))


def test_streamed_windows_equal_whole_track(speech, gen):
    feats = speech[2]
    whole = gen.generate(feats, SOURCE, seed=3)
    parts = [
        gen.generate_window(feats, SOURCE, 3, s, min(s + 90, feats.n_frames)) for s in range(0, feats.n_frames, 90)
    ]
    for name in ("pose", "expression", "gaze"):
        np.testing.assert_allclose(np.concatenate([getattr(p, name) for p in parts]), getattr(whole, name), atol=1e-5)
    with pytest.raises(InputError):
        gen.generate_window(feats, SOURCE, 3, 0, feats.n_frames + 1)


def test_base_generate_window_slices_the_whole_track():
    class Constant(MotionGenerator):
        def generate(self, features, source, seed, **controls):
            track = MotionTrack.zeros(features.n_frames, features.fps)
            track.pose[:, 0] = np.arange(features.n_frames)
            return track

    feats = extract_audio_features(np.zeros(SR, np.float32), FPS)
    part = Constant().generate_window(feats, SourceState.neutral(), 0, 5, 9)
    np.testing.assert_array_equal(part.pose_of("yaw"), [5, 6, 7, 8])


def test_track_saves_and_loads(speech, gen, tmp_path):
    whole = gen.generate(speech[2], SOURCE, seed=3)
    loaded = MotionTrack.load(whole.save(tmp_path / "m.npz"))
    np.testing.assert_array_equal(loaded.expression, whole.expression)
    assert loaded.meta["generator"] == "procedural" and loaded.meta["blinks"] == whole.meta["blinks"]


def test_bad_controls_and_source_raise():
    with pytest.raises(InputError):
        ProceduralMotion(head_scael=1.0)
    with pytest.raises(InputError):
        ProceduralMotion(blink_rate_per_min=0)
    with pytest.raises(InputError):
        SourceState(pose=[0, 0, 0], expression=np.zeros(7), gaze=np.zeros(2))
    feats = extract_audio_features(np.zeros(SR, np.float32), FPS)
    with pytest.raises(InputError):
        ProceduralMotion().generate(feats, SourceState.neutral(), seed=0, gaze=1)
