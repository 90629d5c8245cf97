"""Recording augmentation of the TTS corpus: degraded condition audio, clean targets, no val leak."""

from __future__ import annotations

import numpy as np

from forgebench.generator.motion.diffusion.augment import coloured_noise, degrade, room_impulse
from forgebench.generator.motion.diffusion.data import clip_group, tts_clip

RATE = 16000


def _speech(seconds: float = 2.0) -> tuple[np.ndarray, list[tuple[str, float, float]]]:
    t = np.arange(int(seconds * RATE)) / RATE
    env = (np.sin(2 * np.pi * 3.0 * t) > 0) * (t > 0.2) * (t < seconds - 0.3)
    rng = np.random.default_rng(0)
    audio = (0.3 * env * np.sin(2 * np.pi * 130 * t) + 0.002 * rng.standard_normal(len(t))).astype(np.float32)
    phonemes = [("^", 0.0, 0.2), ("m", 0.2, 0.4), ("ɑ", 0.4, 0.9), ("p", 0.9, 1.1), ("i", 1.1, 1.7),
                (".", 1.7, seconds)]
    return audio, phonemes


def test_room_impulse_has_the_asked_direct_to_reverberant_ratio_and_decays():
    ir = room_impulse(np.random.default_rng(0), rt60=0.4, drr_db=6.0)
    assert ir[0] == 1.0 and len(ir) == int(0.4 * RATE)
    assert np.isclose(np.sum(ir[1:] ** 2), 10 ** -0.6)  # tail energy 6 dB below the direct path
    q = len(ir) // 4
    # exp(-6.9 t / RT60) in amplitude: the last quarter has ~ e^(-2 * 6.9 * 0.75) of the first quarter's energy.
    assert np.sum(ir[-q:] ** 2) < 1e-3 * np.sum(ir[1 : q + 1] ** 2)


def test_coloured_noise_has_unit_rms_and_the_asked_spectral_slope():
    rng = np.random.default_rng(1)
    for alpha in (0.0, 1.0, 2.0):
        x = coloured_noise(rng, 2**16, alpha)
        assert np.isclose(np.sqrt(np.mean(x**2)), 1.0)
        p = np.abs(np.fft.rfft(x)) ** 2
        f = np.fft.rfftfreq(len(x))
        band = (f > 0.001) & (f < 0.4)
        slope = np.polyfit(np.log(f[band]), np.log(p[band]), 1)[0]
        assert abs(slope + alpha) < 0.15


def test_degrade_keeps_length_and_level_is_seeded_and_changes_the_signal():
    audio, _ = _speech()
    a = degrade(audio, np.random.default_rng(3))
    b = degrade(audio, np.random.default_rng(3))
    c = degrade(audio, np.random.default_rng(4))
    assert a.shape == audio.shape and a.dtype == np.float32 and np.isfinite(a).all()
    assert np.isclose(np.sqrt(np.mean(a**2)), np.sqrt(np.mean(audio**2)), rtol=1e-4)
    assert np.array_equal(a, b) and not np.array_equal(a, c)
    assert np.abs(a - audio).mean() > 0.01 * np.abs(audio).mean()


def test_augmented_clip_has_the_clean_targets_and_a_different_condition():
    audio, phonemes = _speech()
    worse = degrade(audio, np.random.default_rng(5))
    clean = tts_clip(audio, phonemes, seed=7, name="tts00003")
    aug = tts_clip(audio, phonemes, seed=7, name="tts00003+aug0", condition_audio=worse)
    assert np.array_equal(clean.motion, aug.motion)  # targets: the clean speech's, same styles
    assert clean.audio.shape == aug.audio.shape and not np.allclose(clean.audio, aug.audio)
    assert clip_group(aug.name) == clip_group(clean.name) == "tts00003"
    assert clip_group("talk+video.mp4") == "talk+video.mp4"
