"""Recording-condition augmentation of clean TTS speech: room reverberation, background noise, band limit.

Why: the TTS corpus is studio-clean, real recordings are not. On held-out audio the model trained on
clean speech only opened the jaw about half as wide under 20 dB noise (median jaw above rest 0.058 ->
0.032 IOD) or 0.3 s of reverberation (0.041) as on the same clean speech, which is the amplitude it
showed on real speech (0.032 vs 0.081 for the procedural baseline). A clip's *condition* is therefore
also computed from a degraded copy of its audio while its *targets* stay those of the clean speech
(:func:`.data.tts_clip`), so the model learns the articulation independent of the room and the noise.

:func:`degrade` (16 kHz mono float32 [N] -> [N], same length and RMS), each part drawn independently:

* reverberation (p 0.6): convolution with a synthetic room impulse response, a direct path plus
  exponentially decaying Gaussian noise with RT60 ~ U(0.15, 0.7) s (-60 dB at RT60: ``exp(-6.9 t / RT60)``)
  at a direct-to-reverberant ratio ~ U(-3, 12) dB;
* band limit (p 0.3): 4th-order Butterworth low-pass at U(3.4, 7) kHz (telephone to compressed video);
* noise (p 0.8): coloured noise with power spectrum ~ 1/f^alpha, alpha ~ U(0, 2) (white to brown), at an
  SNR ~ U(5, 35) dB to the speech (RMS of the louder half of 20 ms frames).
"""

from __future__ import annotations

import numpy as np

RATE = 16000


def room_impulse(rng: np.random.Generator, rt60: float, drr_db: float, rate: int = RATE) -> np.ndarray:
    """[n] impulse response: 1 at t=0, then a decaying noise tail whose energy is ``drr_db`` below the direct path."""
    n = max(int(rt60 * rate), 2)
    t = np.arange(1, n) / rate
    tail = rng.standard_normal(n - 1) * np.exp(-6.9 * t / rt60)
    tail *= np.sqrt(10.0 ** (-drr_db / 10.0) / max(float(np.sum(tail**2)), 1e-12))
    return np.concatenate([[1.0], tail])


def coloured_noise(rng: np.random.Generator, n: int, alpha: float) -> np.ndarray:
    """[n] unit-RMS noise with power spectrum ~ 1/f^alpha (0: white, 1: pink, 2: brown)."""
    spec = np.fft.rfft(rng.standard_normal(n))
    f = np.fft.rfftfreq(n)
    f[0] = f[1] if n > 1 else 1.0
    x = np.fft.irfft(spec / f ** (alpha / 2.0), n)
    return x / max(float(np.sqrt(np.mean(x**2))), 1e-12)


def speech_rms(audio: np.ndarray, rate: int = RATE) -> float:
    """RMS over the louder half of 20 ms frames (the level of the speech itself, pauses excluded)."""
    hop = rate // 50
    m = len(audio) // hop
    if m == 0:
        return float(np.sqrt(np.mean(audio**2) + 1e-20))
    e = np.mean(audio[: m * hop].reshape(m, hop).astype(np.float64) ** 2, axis=1)
    return float(np.sqrt(np.mean(np.sort(e)[m // 2 :]) + 1e-20))


def degrade(audio: np.ndarray, rng: np.random.Generator, rate: int = RATE) -> np.ndarray:
    """A randomly degraded copy of clean speech ``audio`` [N] (see the module docstring); same length and RMS."""
    from scipy.signal import butter, fftconvolve, sosfilt

    x = np.asarray(audio, np.float64)
    n = len(x)
    rms = float(np.sqrt(np.mean(x**2) + 1e-20))
    if rng.random() < 0.6:
        x = fftconvolve(x, room_impulse(rng, rng.uniform(0.15, 0.7), rng.uniform(-3.0, 12.0), rate))[:n]
    if rng.random() < 0.3:
        x = sosfilt(butter(4, rng.uniform(3400.0, 7000.0), fs=rate, output="sos"), x)
    if rng.random() < 0.8 and n > 1:
        snr = rng.uniform(5.0, 35.0)
        x = x + coloured_noise(rng, n, rng.uniform(0.0, 2.0)) * speech_rms(x, rate) * 10.0 ** (-snr / 20.0)
    x *= rms / max(float(np.sqrt(np.mean(x**2))), 1e-12)
    return x.astype(np.float32)
