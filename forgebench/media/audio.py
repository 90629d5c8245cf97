"""Audio I/O: any audio (or video) file -> float32 mono at a chosen rate, and WAV writing.

Decoding goes through PyAV (FFmpeg's libraries, no subprocess), so WAV of every
sample format, FLAC, MP3, M4A/AAC, OGG and the sound track of video files all
take the same path. Samples are scaled from the decoder's integer format by a
power of two (``int16 / 2**15``, ``int32 / 2**31``, ...), so a 16-bit WAV read at
its own rate gives back its exact sample values. Rate conversion is a polyphase
FIR (:func:`scipy.signal.resample_poly`), not nearest-neighbour or linear.

>>> import tempfile, pathlib
>>> p = pathlib.Path(tempfile.mkdtemp()) / "tone.wav"
>>> t = np.arange(8000) / 8000
>>> _ = write_wav(p, 0.5 * np.sin(2 * np.pi * 440 * t), 8000)
>>> load_audio(p, sample_rate=16000).shape
(16000,)
"""

from __future__ import annotations

import math
import struct
import wave
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

import av
import numpy as np

from forgebench.atomic import atomic_output
from forgebench.errors import InputError
from forgebench.media.containers import check_input_file, open_container

#: Peak below which a recording counts as silent (-80 dBFS).
SILENCE_PEAK = 1e-4

#: Divisor that maps each FFmpeg sample format (without the planar ``p``) into [-1, 1).
_INT_SCALE = {"u8": 128.0, "s16": 2.0**15, "s32": 2.0**31, "s64": 2.0**63}

_SUBTYPES = {"PCM_16": (2, 1), "PCM_24": (3, 1), "PCM_32": (4, 1), "FLOAT": (4, 3)}  # bytes/sample, format tag


@dataclass(frozen=True)
class AudioInfo:
    """What a file's first audio stream holds, read from headers.

    ``duration`` is in seconds (0.0 when the container does not say and the
    stream had to be decoded to find out, it is exact), ``codec`` is FFmpeg's
    decoder name (``pcm_s16le``, ``mp3``, ``aac``, ...).
    """

    duration: float
    sample_rate: int
    channels: int
    codec: str


def _check_file(path: str | Path) -> Path:
    return check_input_file(path, "audio file")


def _open(path: Path) -> av.container.InputContainer:
    return open_container(path, "an audio file FFmpeg can read: give WAV, FLAC, MP3, M4A, OGG or a video with sound")


def _audio_stream(container: av.container.InputContainer, path: Path) -> av.audio.stream.AudioStream:
    if not container.streams.audio:
        raise InputError(
            f"{str(path)!r} has no audio stream: "
            "give a speech recording (WAV, FLAC, MP3, M4A, OGG) or a video with sound"
        )
    return container.streams.audio[0]


def _stream_duration(container: av.container.InputContainer, stream: av.audio.stream.AudioStream) -> float:
    """Duration in seconds from headers, 0.0 if unknown. Cheap: reads no samples."""
    if stream.duration is not None and stream.time_base is not None:
        return float(stream.duration * stream.time_base)
    if container.duration is not None:  # in AV_TIME_BASE (microseconds)
        return container.duration / 1e6
    return 0.0


def probe_audio(path: str | Path) -> AudioInfo:
    """Read the first audio stream's duration, rate, channel count and codec from the headers.

    Only when the container gives no duration (raw ADTS, some OGG) are the
    packets decoded to count samples.
    """
    path = _check_file(path)
    with _open(path) as container:
        stream = _audio_stream(container, path)
        ctx = stream.codec_context
        duration = _stream_duration(container, stream)
        rate = int(ctx.sample_rate or 0)
        if duration <= 0.0:
            n = sum(frame.samples for frame in _decode(container, stream, path))
            duration = n / rate if rate else 0.0
        return AudioInfo(duration=duration, sample_rate=rate, channels=len(ctx.layout.channels), codec=ctx.name)


def _decode(container, stream, path: Path):
    """Yield decoded frames, turning FFmpeg errors into one-line input errors."""
    try:
        yield from container.decode(stream)
    except av.error.FFmpegError as exc:
        raise InputError(f"cannot decode the audio of {str(path)!r} ({exc.strerror}): re-export it as WAV") from None


def frame_to_mono(frame: av.AudioFrame) -> np.ndarray:
    """One decoded frame -> float32 mono samples ``[n]``, channels averaged.

    Integer formats are divided by a power of two; 24-bit PCM arrives from
    FFmpeg as ``s32`` with the low byte zero, so the same ``2**31`` holds.
    """
    fmt = frame.format.name.rstrip("p")
    n_ch = len(frame.layout.channels)
    arr = frame.to_ndarray()
    if not frame.format.is_planar:  # packed: (1, n * channels), interleaved
        arr = arr.reshape(-1, n_ch).T
    if fmt in _INT_SCALE:
        x = arr.astype(np.float64 if fmt in ("s32", "s64") else np.float32)
        if fmt == "u8":
            x -= 128.0
        x /= _INT_SCALE[fmt]
    else:  # flt, dbl: already in [-1, 1] by convention
        x = arr
    mono = x[0] if n_ch == 1 else x.mean(axis=0)
    return np.asarray(mono, dtype=np.float32)


def decode_audio(path: str | Path, max_seconds: float | None = 3600.0) -> tuple[np.ndarray, int]:
    """Decode the first audio stream of ``path`` to float32 mono ``[n]`` at its own rate.

    No silence or emptiness check (a video's silent track is valid here); the
    length limit is checked from the headers first, then while decoding in case
    the headers lie. Returns ``(samples, sample_rate)``.
    """
    path = _check_file(path)
    with _open(path) as container:
        stream = _audio_stream(container, path)
        rate = int(stream.codec_context.sample_rate or 0)
        header_duration = _stream_duration(container, stream)
        if max_seconds is not None and header_duration > max_seconds:
            raise _too_long(path, header_duration, max_seconds)
        limit = math.inf if max_seconds is None else (max_seconds + 1.0) * max(rate, 1)
        chunks: list[np.ndarray] = []
        n = 0
        for frame in _decode(container, stream, path):
            rate = frame.sample_rate or rate
            chunks.append(frame_to_mono(frame))
            n += chunks[-1].size
            if n > limit:
                raise _too_long(path, n / rate, max_seconds)
    if rate <= 0:
        raise InputError(f"audio stream of {str(path)!r} has no sample rate: re-export it as WAV")
    samples = np.concatenate(chunks) if chunks else np.zeros(0, np.float32)
    if max_seconds is not None and samples.size > max_seconds * rate:
        raise _too_long(path, samples.size / rate, max_seconds)
    return samples, rate


def _too_long(path: Path, seconds: float, max_seconds: float) -> InputError:
    return InputError(
        f"audio {str(path)!r} is {seconds:.0f} s long; forgebench takes at most {max_seconds:.0f} s: split it"
    )


def resample(samples: np.ndarray, rate_in: int, rate_out: int) -> np.ndarray:
    """Polyphase resampling of ``[n]`` float samples; returns float32 ``[round(n * rate_out / rate_in)]``.

    ``resample_poly`` applies a Kaiser-windowed low-pass at the lower Nyquist, so
    no aliasing from downsampling and no images from upsampling.
    """
    if rate_in == rate_out:
        return np.asarray(samples, dtype=np.float32)
    from scipy.signal import resample_poly  # here: scipy.signal costs ~0.7 s of CPU to import

    ratio = Fraction(int(rate_out), int(rate_in))
    out = resample_poly(np.asarray(samples, dtype=np.float32), ratio.numerator, ratio.denominator)
    return out.astype(np.float32, copy=False)


def load_audio(path: str | Path, sample_rate: int | None = 16000, max_seconds: float = 3600.0) -> np.ndarray:
    """Load a speech recording as float32 mono ``[n]`` in [-1, 1] at ``sample_rate`` Hz.

    ``sample_rate=None`` keeps the file's own rate (see :func:`probe_audio`).
    Stereo and multichannel audio is averaged to mono. Raises
    :class:`InputError` for a missing, undecodable, empty, silent or too long file.
    """
    path = _check_file(path)
    samples, rate = decode_audio(path, max_seconds=max_seconds)
    if samples.size == 0:
        raise InputError(f"audio {str(path)!r} is empty (0 samples): give a speech recording")
    peak = float(np.max(np.abs(samples)))
    if not math.isfinite(peak):
        raise InputError(f"audio {str(path)!r} contains NaN or infinite samples: re-export it")
    if peak < SILENCE_PEAK:
        db = 20 * math.log10(peak) if peak > 0 else -math.inf
        raise InputError(f"audio {str(path)!r} is silent: give a speech recording (its peak is {db:.0f} dBFS)")
    if sample_rate is not None:
        samples = resample(samples, rate, int(sample_rate))
    # Float sources may exceed full scale, and the low-pass can overshoot by a little (Gibbs).
    return np.clip(samples, -1.0, 1.0, out=samples)


def write_wav(path: str | Path, samples: np.ndarray, sample_rate: int, subtype: str = "PCM_16") -> Path:
    """Write ``samples`` (``[n]`` mono or ``[n, channels]``, float in [-1, 1]) as a WAV file, atomically.

    ``subtype`` is ``PCM_16``, ``PCM_24``, ``PCM_32`` (integer, via the stdlib
    :mod:`wave`) or ``FLOAT`` (IEEE float32, header written here because
    :mod:`wave` writes PCM only). Integers are ``round(x * 2**(bits-1))``
    clipped, the inverse of :func:`load_audio`'s scaling.
    """
    if subtype not in _SUBTYPES:
        raise ValueError(f"subtype must be one of {sorted(_SUBTYPES)}, got {subtype!r}")
    x = np.asarray(samples, dtype=np.float64)
    if x.ndim == 1:
        x = x[:, None]
    if x.ndim != 2:
        raise ValueError(f"samples must be [n] or [n, channels], got shape {np.shape(samples)}")
    width, tag = _SUBTYPES[subtype]
    if tag == 3:
        data = x.astype("<f4").tobytes()
    else:
        full = 2.0 ** (8 * width - 1)
        ints = np.clip(np.round(x * full), -full, full - 1).astype("<i4")
        data = ints.astype("<i2").tobytes() if width == 2 else ints.tobytes()
        if width == 3:  # keep the low three bytes of each little-endian int32
            data = np.frombuffer(data, np.uint8).reshape(-1, 4)[:, :3].tobytes()
    with atomic_output(path) as tmp:
        if tag == 1:
            with wave.open(str(tmp), "wb") as w:
                w.setnchannels(x.shape[1])
                w.setsampwidth(width)
                w.setframerate(int(sample_rate))
                w.writeframes(data)
        else:
            tmp.write_bytes(float_wav_bytes(data, x.shape[1], int(sample_rate)))
    return Path(path)


def float_wav_bytes(data: bytes, channels: int, sample_rate: int) -> bytes:
    """A complete IEEE-float32 WAV file (format tag 3 + ``fact`` chunk) around little-endian ``data``."""
    block = 4 * channels
    fmt = struct.pack("<HHIIHHH", 3, channels, sample_rate, sample_rate * block, block, 32, 0)
    fact = struct.pack("<I", len(data) // block)
    pad = b"\0" if len(data) % 2 else b""
    chunks = [(b"fmt ", fmt), (b"fact", fact), (b"data", data)]
    body = b"WAVE" + b"".join(tag + struct.pack("<I", len(payload)) + payload for tag, payload in chunks) + pad
    return b"RIFF" + struct.pack("<I", len(body)) + body
