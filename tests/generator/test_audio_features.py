"""Audio features: mel filterbank closed forms, STFT reference, exact frame alignment, streaming equality."""

from __future__ import annotations

import math
from fractions import Fraction

import numpy as np
import pytest

from forgebench.errors import InputError
from forgebench.generator.audio_features import (
    AudioFeatureConfig,
    extract_audio_features,
    extract_audio_features_window,
    frame_bounds,
    frame_count,
    hz_to_mel,
    iter_audio_feature_windows,
    log_mel,
    mel_filterbank,
    mel_to_hz,
)

SR = 16000
CFG = AudioFeatureConfig()


def _tone(freq: float, seconds: float, amp: float = 0.3) -> np.ndarray:
    t = np.arange(int(seconds * SR)) / SR
    return (amp * np.sin(2 * np.pi * freq * t)).astype(np.float32)


def _harmonic(f0: float, seconds: float, amp: float = 0.2) -> np.ndarray:
    t = np.arange(int(seconds * SR)) / SR
    x = sum(np.sin(2 * np.pi * k * f0 * t) / k for k in range(1, 8))
    return (amp * x / np.abs(x).max()).astype(np.float32)


def _speechlike(seconds: float, seed: int = 0) -> np.ndarray:
    """Harmonic tone with a gliding F0, 4 Hz syllable modulation and silent pauses, over a faint noise floor."""
    rng = np.random.default_rng(seed)
    t = np.arange(int(seconds * SR)) / SR
    f0 = 140 + 30 * np.sin(2 * np.pi * 0.3 * t)
    phase = 2 * np.pi * np.cumsum(f0) / SR
    x = sum(np.sin(k * phase) / k for k in range(1, 10))
    env = (0.5 - 0.5 * np.cos(2 * np.pi * 4 * t)) * ((t % 3.0) < 2.2)
    return (0.15 * env * x + 1e-4 * rng.standard_normal(len(t))).astype(np.float32)


def test_htk_mel_scale_round_trips():
    f = np.array([0.0, 100.0, 700.0, 1000.0, 7600.0])
    np.testing.assert_allclose(mel_to_hz(hz_to_mel(f)), f, atol=1e-9)
    assert hz_to_mel(700.0) == pytest.approx(2595 * math.log10(2))


def test_filterbank_triangles_partition_unity_between_first_and_last_centre():
    fb = mel_filterbank(CFG)
    assert fb.shape == (CFG.n_mels, CFG.n_fft // 2 + 1)
    freqs = np.linspace(0, SR / 2, CFG.n_fft // 2 + 1)
    edges = mel_to_hz(np.linspace(hz_to_mel(CFG.fmin), hz_to_mel(CFG.fmax), CFG.n_mels + 2))
    inside = (freqs >= edges[1]) & (freqs <= edges[-2])
    # Unit-peak HTK triangles on consecutive edges sum to exactly 1 between the first and last centres.
    np.testing.assert_allclose(fb[:, inside].sum(axis=0), 1.0, atol=1e-9)
    assert fb[:, (freqs < CFG.fmin) | (freqs > CFG.fmax)].max() == 0.0
    assert fb.max() <= 1.0


@pytest.mark.parametrize("freq", [200.0, 440.0, 1000.0, 3000.0, 6000.0])
def test_pure_tone_peaks_in_its_mel_band(freq):
    mel = log_mel(_tone(freq, 0.5), CFG)
    edges = mel_to_hz(np.linspace(hz_to_mel(CFG.fmin), hz_to_mel(CFG.fmax), CFG.n_mels + 2))
    band = int(np.argmax(mel[5:-5].mean(axis=0)))
    assert edges[band] < freq < edges[band + 2]  # the tone lies under the winning triangle
    centres = edges[1:-1]
    assert band in np.argsort(np.abs(centres - freq))[:2]  # and that triangle is one of the two nearest


def test_log_mel_matches_direct_dft_reference():
    x = np.random.default_rng(0).standard_normal(4000).astype(np.float32) * 0.1
    mel = log_mel(x, CFG)
    assert mel.shape == (1 + len(x) // CFG.hop_length, CFG.n_mels)
    # Reference: numpy reflect padding, an explicit periodic Hann, and a direct (matrix) DFT.
    padded = np.pad(x.astype(np.float64), CFG.n_fft // 2, mode="reflect")
    n = np.arange(CFG.win_length)
    win = np.zeros(CFG.n_fft)
    off = (CFG.n_fft - CFG.win_length) // 2
    win[off : off + CFG.win_length] = np.sin(np.pi * n / CFG.win_length) ** 2
    k = np.arange(CFG.n_fft // 2 + 1)
    dft = np.exp(-2j * np.pi * np.outer(k, np.arange(CFG.n_fft)) / CFG.n_fft)
    for hop in (0, 1, 12, len(mel) - 1):
        frame = padded[hop * CFG.hop_length : hop * CFG.hop_length + CFG.n_fft] * win
        power = np.abs(dft @ frame) ** 2
        np.testing.assert_allclose(mel[hop], np.log(mel_filterbank(CFG) @ power + 1e-10), rtol=1e-4, atol=1e-4)


@pytest.mark.parametrize("fps", [25.0, 29.97, 30.0, 30000 / 1001, 60.0])
def test_frame_count_and_bounds_are_exact(fps):
    f = Fraction(fps).limit_denominator(100_000)
    for n in (1, 159, 16000, 16001, 123457):
        assert frame_count(n, fps, SR) == math.ceil(Fraction(n, SR) * f)
    t = np.arange(0, 500)
    expected = [math.ceil(Fraction(int(i) * SR) / f) for i in t]
    np.testing.assert_array_equal(frame_bounds(t, fps, SR), expected)


@pytest.mark.parametrize("fps", [25, 30])
def test_click_at_one_second_lands_in_frame_fps(fps):
    x = np.zeros(3 * SR, np.float32)
    x[SR : SR + 40] = 0.5  # 2.5 ms burst starting exactly at t = 1.0 s
    feats = extract_audio_features(x, fps)
    assert feats.n_frames == 3 * fps
    assert int(np.argmax(feats.energy)) == int(1.0 * fps)
    assert int(np.argmax(feats.mel[:, CFG.context_frames].mean(axis=1))) == int(1.0 * fps)
    # Context rows are the neighbouring frames: row k of frame t is frame t + k - context.
    c = CFG.context_frames
    for k in range(2 * c + 1):
        np.testing.assert_array_equal(feats.mel[10:-10, k], feats.mel[10 + k - c : len(feats.mel) - 10 + k - c, c])


def test_n_frames_covers_partial_last_frame():
    feats = extract_audio_features(np.zeros(16001, np.float32) + 1e-3, 25)
    assert feats.n_frames == 26 and feats.mel.shape == (26, 2 * CFG.context_frames + 1, CFG.n_mels)


@pytest.mark.parametrize("fps,window", [(25, 17), (30, 64), (29.97, 50)])
def test_streaming_windows_equal_whole_clip(fps, window):
    x = _speechlike(7.0, seed=3)
    whole = extract_audio_features(x, fps)
    parts = list(iter_audio_feature_windows(x, fps, window))
    assert [p.start for p in parts] == list(range(0, whole.n_frames, window))
    for name in ("mel", "energy", "voiced", "pitch", "spectral_centroid", "band_energy"):
        np.testing.assert_array_equal(
            np.concatenate([getattr(p, name) for p in parts]), getattr(whole, name), err_msg=name
        )
    mid = extract_audio_features_window(x, fps, 40, 41)
    np.testing.assert_array_equal(mid.mel, whole.mel[40:41])


def test_voicing_and_pitch_on_bursts_and_silence():
    fps = 25
    x = np.concatenate(
        [np.zeros(SR, np.float32), _harmonic(150.0, 1.0), np.zeros(SR, np.float32), _harmonic(220.0, 1.0)]
    )
    x = x + 1e-4 * np.random.default_rng(1).standard_normal(len(x)).astype(np.float32)
    feats = extract_audio_features(x, fps)
    seconds = np.arange(feats.n_frames) // fps
    assert not feats.voiced[seconds == 0].any()
    assert feats.voiced[seconds == 1].all() and feats.voiced[seconds == 3].all()
    hang = round(CFG.hangover_ms / 1000 * fps)
    assert not feats.voiced[(seconds == 2) & (np.arange(feats.n_frames) % fps > hang)].any()
    assert np.median(feats.pitch[seconds == 1][2:-2]) == pytest.approx(150.0, abs=1.5)
    assert np.median(feats.pitch[seconds == 3][2:-2]) == pytest.approx(220.0, abs=2.0)
    assert (feats.pitch[~feats.voiced] == 0).all()
    assert (feats.energy[seconds == 1] > -30).all() and (feats.energy[seconds == 0] < -70).all()


def test_silence_gives_no_speech():
    feats = extract_audio_features(np.zeros(2 * SR, np.float32), 25)
    assert not feats.voiced.any() and (feats.pitch == 0).all()
    assert np.all(feats.energy == feats.energy[0])


def test_spectral_centroid_and_bands_follow_the_tone():
    low = extract_audio_features(_tone(300.0, 1.0), 25)
    high = extract_audio_features(_tone(4000.0, 1.0), 25)
    assert np.median(low.spectral_centroid) == pytest.approx(300.0, rel=0.05)
    assert np.median(high.spectral_centroid) == pytest.approx(4000.0, rel=0.05)
    assert np.argmax(np.median(low.band_energy, axis=0)) == 0
    assert np.argmax(np.median(high.band_energy, axis=0)) == 2


@pytest.mark.parametrize(
    "audio,fps",
    [
        (np.zeros((2, 100), np.float32), 25),
        (np.zeros(100, np.int16), 25),
        (np.zeros(0, np.float32), 25),
        (np.zeros(100, np.float32), 0),
        (np.full(100, np.nan, np.float32), 25),
    ],
)
def test_bad_input_raises_one_line_error(audio, fps):
    with pytest.raises(InputError):
        extract_audio_features(audio, fps)


def test_window_outside_clip_is_rejected():
    with pytest.raises(InputError):
        extract_audio_features_window(np.zeros(SR, np.float32), 25, 20, 30)
