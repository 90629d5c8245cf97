"""Audio loading: sample-exact PCM decoding, resampling, downmix, compressed formats, errors.

References are independent of the code under test: WAV files are written with
the stdlib ``wave`` module or a hand-built RIFF header, compressed files are
encoded with PyAV directly, and expected signals are closed-form sines.
"""

from __future__ import annotations

import struct
import wave

import av
import numpy as np
import pytest

from forgebench.errors import InputError
from forgebench.media.audio import load_audio, probe_audio, write_wav

RNG = np.random.default_rng(0)


def _pcm_wav(path, ints: np.ndarray, rate: int, width: int) -> None:
    """Write integer samples ``[n, channels]`` with the stdlib ``wave`` module (unsigned for 8-bit, per the spec)."""
    if width == 1:
        data = (ints + 128).astype(np.uint8).tobytes()
    elif width == 3:
        data = ints.astype("<i4").view(np.uint8).reshape(-1, 4)[:, :3].tobytes()
    else:
        data = ints.astype({2: "<i2", 4: "<i4"}[width]).tobytes()
    with wave.open(str(path), "wb") as w:
        w.setnchannels(ints.shape[1])
        w.setsampwidth(width)
        w.setframerate(rate)
        w.writeframes(data)


def _float_wav(path, x: np.ndarray, rate: int) -> None:
    """Mono IEEE-float32 WAV with the RIFF header built by hand (format tag 3)."""
    data = x.astype("<f4").tobytes()
    fmt = struct.pack("<HHIIHH", 3, 1, rate, rate * 4, 4, 32)
    body = b"WAVE" + b"fmt " + struct.pack("<I", len(fmt)) + fmt + b"data" + struct.pack("<I", len(data)) + data
    path.write_bytes(b"RIFF" + struct.pack("<I", len(body)) + body)


def _sine(freq: float, rate: int, seconds: float, amp: float = 0.5) -> np.ndarray:
    return amp * np.sin(2 * np.pi * freq * np.arange(round(rate * seconds)) / rate)


def test_pcm16_reads_back_sample_exact(tmp_path):
    ints = RNG.integers(-32768, 32768, size=(5000, 1))
    _pcm_wav(tmp_path / "a.wav", ints, 22050, 2)
    got = load_audio(tmp_path / "a.wav", sample_rate=None)
    assert got.dtype == np.float32 and got.shape == (5000,)
    np.testing.assert_array_equal(got, ints[:, 0] / 32768.0)


@pytest.mark.parametrize("width", [1, 3, 4])
def test_other_pcm_widths_within_one_lsb(tmp_path, width):
    bits = 8 * width
    full = 2 ** (bits - 1)
    ints = RNG.integers(-full, full, size=(4000, 1))
    _pcm_wav(tmp_path / "a.wav", ints, 8000, width)
    got = load_audio(tmp_path / "a.wav", sample_rate=None).astype(np.float64)
    # float32 output carries 24 significant bits, so 32-bit PCM is exact only to ~2**-24.
    lsb = max(1.0 / full, 2.0**-24)
    assert np.max(np.abs(got - ints[:, 0] / full)) <= lsb
    assert probe_audio(tmp_path / "a.wav").codec in {"pcm_u8", "pcm_s24le", "pcm_s32le"}


def test_float32_wav_exact(tmp_path):
    x = RNG.uniform(-0.9, 0.9, 3000).astype(np.float32)
    _float_wav(tmp_path / "f.wav", x, 16000)
    np.testing.assert_array_equal(load_audio(tmp_path / "f.wav", sample_rate=None), x)


@pytest.mark.parametrize("subtype", ["PCM_16", "PCM_24", "PCM_32", "FLOAT"])
def test_write_wav_round_trip(tmp_path, subtype):
    x = _sine(300, 16000, 0.5, amp=0.8)
    path = write_wav(tmp_path / "w.wav", x, 16000, subtype=subtype)
    tol = {"PCM_16": 2.0**-15, "PCM_24": 2.0**-23}.get(subtype, 2.0**-24)
    assert np.max(np.abs(load_audio(path, sample_rate=None) - x)) <= tol
    info = probe_audio(path)
    assert (info.sample_rate, info.channels) == (16000, 1) and info.duration == pytest.approx(0.5)
    assert [p.name for p in tmp_path.iterdir()] == ["w.wav"]  # no temporary file left behind


def test_resample_keeps_frequency_and_amplitude(tmp_path):
    _pcm_wav(tmp_path / "s.wav", np.round(_sine(440, 44100, 1.0) * 32767)[:, None].astype(int), 44100, 2)
    got = load_audio(tmp_path / "s.wav", sample_rate=16000)
    assert got.shape == (16000,)
    want = _sine(440, 16000, 1.0) * 32767 / 32768
    # Away from the edges (filter transients), the result is the closed-form sine at the new rate.
    assert np.max(np.abs(got[200:-200] - want[200:-200])) < 2e-3
    spectrum = np.abs(np.fft.rfft(got * np.hanning(got.size)))
    assert np.argmax(spectrum) == 440  # 1 s of signal: bin k is k Hz


def test_stereo_downmix_is_channel_mean(tmp_path):
    left, right = _sine(200, 8000, 0.5, 0.6), _sine(700, 8000, 0.5, 0.3)
    ints = np.round(np.stack([left, right], 1) * 32767).astype(int)
    _pcm_wav(tmp_path / "st.wav", ints, 8000, 2)
    assert probe_audio(tmp_path / "st.wav").channels == 2
    got = load_audio(tmp_path / "st.wav", sample_rate=None)
    np.testing.assert_allclose(got, ints.mean(axis=1) / 32768, atol=1e-7)


def _encode(path, codec: str, rate: int, x: np.ndarray) -> None:
    """Encode mono float ``x`` with PyAV directly (the reference encoder path)."""
    with av.open(str(path), "w") as container:
        stream = container.add_stream(codec, rate=rate)
        stream.layout = "mono"
        frame = av.AudioFrame.from_ndarray(x.astype(np.float32)[None], format="flt", layout="mono")
        frame.sample_rate, frame.pts = rate, 0
        for packet in stream.encode(frame):
            container.mux(packet)
        for packet in stream.encode(None):
            container.mux(packet)


@pytest.mark.parametrize(
    ("suffix", "codec", "rate"),
    [(".mp3", "libmp3lame", 44100), (".flac", "flac", 44100), (".m4a", "aac", 44100), (".ogg", "libopus", 48000)],
)
def test_compressed_formats_round_trip(tmp_path, suffix, codec, rate):
    if codec not in av.codecs_available:
        pytest.skip(f"this FFmpeg build has no {codec} encoder")
    x = _sine(440, rate, 1.0) * np.linspace(0.2, 1.0, rate)  # amplitude ramp: alignment is unambiguous
    path = tmp_path / f"tone{suffix}"
    _encode(path, codec, rate, x)
    got = load_audio(path, sample_rate=16000)
    want = _sine(440, 16000, 1.0) * np.linspace(0.2, 1.0, 16000)
    assert abs(got.size / 16000 - 1.0) <= 0.030
    n = min(got.size, want.size)
    best = max(
        np.corrcoef(got[max(lag, 0) : n + min(lag, 0)], want[max(-lag, 0) : n - max(lag, 0)])[0, 1]
        for lag in range(-80, 81)
    )
    assert best > 0.99


def test_probe_audio_reads_headers(tmp_path):
    _pcm_wav(tmp_path / "p.wav", np.zeros((24000, 2), int), 48000, 2)
    info = probe_audio(tmp_path / "p.wav")
    assert (info.duration, info.sample_rate, info.channels, info.codec) == (0.5, 48000, 2, "pcm_s16le")


def test_missing_file(tmp_path):
    with pytest.raises(InputError, match="does not exist"):
        load_audio(tmp_path / "nope.wav")


def test_not_audio(tmp_path):
    (tmp_path / "notes.wav").write_bytes(RNG.integers(0, 256, 4000, dtype=np.uint8).tobytes())
    with pytest.raises(InputError, match="not an audio file"):
        load_audio(tmp_path / "notes.wav")


def test_no_audio_stream(tmp_path):
    from PIL import Image

    Image.new("RGB", (32, 32)).save(tmp_path / "img.png")
    with pytest.raises(InputError, match="no audio stream"):
        load_audio(tmp_path / "img.png")


def test_empty_audio(tmp_path):
    _pcm_wav(tmp_path / "e.wav", np.zeros((0, 1), int), 16000, 2)
    with pytest.raises(InputError, match="empty"):
        load_audio(tmp_path / "e.wav")


def test_silent_audio(tmp_path):
    _float_wav(tmp_path / "quiet.wav", RNG.uniform(-5e-5, 5e-5, 8000), 16000)
    with pytest.raises(InputError, match="is silent: give a speech recording"):
        load_audio(tmp_path / "quiet.wav")


def test_too_long(tmp_path):
    _pcm_wav(tmp_path / "long.wav", np.round(_sine(100, 8000, 3.0) * 1e4)[:, None].astype(int), 8000, 2)
    with pytest.raises(InputError, match="is 3 s long; forgebench takes at most 2 s: split it"):
        load_audio(tmp_path / "long.wav", max_seconds=2.0)
    assert load_audio(tmp_path / "long.wav", sample_rate=None, max_seconds=3.0).size == 24000
