"""Remote photoplethysmography: the pulse in the mean skin colour of face regions, and its statistics.

Functions take mean-RGB traces ``rgb`` [T, 3] (one region) at ``fps`` frames per second.

* :func:`pos_signal`: Plane-Orthogonal-to-Skin (Wang, den Brinker, Stuijk & de Haan, "Algorithmic
  principles of remote PPG", IEEE TBME 2017, Algorithm 1): in sliding windows of 1.6 s the
  temporally normalised colour is projected on the plane orthogonal to the skin tone,
  ``S = [[0, 1, -1], [-2, 1, 1]] C_n``, the two projections are alpha-tuned,
  ``h = S_1 + (sigma(S_1) / sigma(S_2)) S_2``, and overlap-added.
* :func:`chrom_signal`: CHROM (de Haan & Jeanne, "Robust pulse rate from chrominance-based rPPG",
  IEEE TBME 2013): ``X = 3R_n - 2G_n``, ``Y = 1.5R_n + G_n - 1.5B_n``, band-passed,
  ``S = X_f - (sigma(X_f) / sigma(Y_f)) Y_f``, in Hann-windowed halves overlap-added.
* :func:`power_spectrum` (zero-padded, Hann-windowed periodogram of the detrended signal),
  :func:`peak_snr` (de Haan's SNR with the peak found blindly: power within ``1/T`` Hz of the
  strongest in-band peak and of its harmonic over the rest of the band, in dB),
  :func:`spectral_flatness` (geometric over arithmetic mean of the in-band power),
  :func:`band_correlation` (Pearson correlation of two band-passed signals) and
  :func:`band_coherence` (magnitude-squared coherence, Welch, averaged over the band).

The pulse band is :data:`PULSE_BAND` (0.7-3 Hz, 42-180 beats per minute).
"""

from __future__ import annotations

import functools

import numpy as np

PULSE_BAND = (0.7, 3.0)
POS_WINDOW_S = 1.6  # Wang et al. 2017: about one pulse period at the lowest rate, 1.6 s at 20 fps -> 32 frames
POS_PROJECTION = np.array([[0.0, 1.0, -1.0], [-2.0, 1.0, 1.0]])
N_FFT = 2048


def pos_signal(rgb: np.ndarray, fps: float, window_s: float = POS_WINDOW_S) -> np.ndarray:
    """[T] POS pulse signal of mean-RGB trace ``rgb`` [T, 3] (Wang et al. 2017, Algorithm 1).

    All windows at once: ``[T - l + 1, l, 3]`` strided views, then the overlap-add as ``l`` shifted sums.
    """
    c = np.asarray(rgb, np.float64)
    n = len(c)
    win = min(n, max(2, int(np.ceil(window_s * fps))))
    h = np.zeros(n)
    if n < 2:
        return h
    blocks = np.lib.stride_tricks.sliding_window_view(c, win, axis=0).transpose(0, 2, 1)  # [W, win, 3]
    mean = blocks.mean(1, keepdims=True)
    good = np.all(mean[:, 0] > 0, axis=1)
    cn = blocks / np.where(mean > 0, mean, 1.0)  # step 2: temporal normalisation
    s = cn @ POS_PROJECTION.T  # step 3: projection, [W, win, 2]
    sd1 = s[..., 1].std(1, keepdims=True)
    alpha = np.where(sd1 > 1e-12, s[..., 0].std(1, keepdims=True) / np.where(sd1 > 1e-12, sd1, 1.0), 0.0)
    part = s[..., 0] + alpha * s[..., 1]  # step 4: tuning
    part = (part - part.mean(1, keepdims=True)) * good[:, None]
    for k in range(win):  # step 5: overlap-add, window m covers frames m..m+win-1
        h[k:k + len(part)] += part[:, k]
    return h


@functools.lru_cache(maxsize=32)
def _butter(fps: float, low: float, high: float, order: int) -> np.ndarray:
    from scipy.signal import butter

    return butter(order, [low, min(high, 0.45 * fps)], btype="bandpass", fs=fps, output="sos")


def bandpass(x: np.ndarray, fps: float, band: tuple[float, float] = PULSE_BAND, order: int = 3) -> np.ndarray:
    """Zero-phase Butterworth band-pass of ``x`` [T] (``x`` returned detrended if it is too short to filter)."""
    from scipy.signal import detrend, sosfiltfilt

    x = detrend(np.asarray(x, np.float64))
    sos = _butter(float(fps), float(band[0]), float(band[1]), order)
    pad = 3 * (2 * len(sos) + 1)
    if len(x) <= pad:
        return x
    return sosfiltfilt(sos, x)


def chrom_signal(rgb: np.ndarray, fps: float, window_s: float = POS_WINDOW_S) -> np.ndarray:
    """[T] CHROM pulse signal of ``rgb`` [T, 3] (de Haan & Jeanne 2013, windowed overlap-add)."""
    c = np.asarray(rgb, np.float64)
    n = len(c)
    win = min(n, max(4, 2 * (int(np.ceil(window_s * fps)) // 2)))
    hop = max(1, win // 2)
    out = np.zeros(n)
    taper = np.hanning(win)
    for m in range(0, max(n - win, 0) + 1, hop):
        block = c[m:m + win]
        mean = block.mean(0)
        if np.any(mean <= 0):
            continue
        rn, gn, bn = (block / mean).T
        xs, ys = 3 * rn - 2 * gn, 1.5 * rn + gn - 1.5 * bn
        xf, yf = bandpass(xs, fps), bandpass(ys, fps)
        sy = yf.std()
        s = xf - (xf.std() / sy if sy > 1e-12 else 0.0) * yf
        out[m:m + win] += taper * (s - s.mean())
    return out


def power_spectrum(x: np.ndarray, fps: float, n_fft: int = N_FFT) -> tuple[np.ndarray, np.ndarray]:
    """(freqs [F], power [F]) of the detrended, Hann-windowed ``x`` [T], zero-padded to ``n_fft``."""
    from scipy.signal import detrend

    x = detrend(np.asarray(x, np.float64))
    n_fft = max(n_fft, len(x))
    spec = np.abs(np.fft.rfft(x * np.hanning(len(x)), n_fft)) ** 2
    return np.fft.rfftfreq(n_fft, 1.0 / fps), spec


def peak_frequency(x: np.ndarray, fps: float, band: tuple[float, float] = PULSE_BAND) -> float:
    """The frequency (Hz) of the largest power in ``band``."""
    f, p = power_spectrum(x, fps)
    sel = (f >= band[0]) & (f <= band[1])
    return float(f[sel][np.argmax(p[sel])])


def peak_snr(x: np.ndarray, fps: float, band: tuple[float, float] = PULSE_BAND,
             half_width: float | None = None) -> tuple[float, float]:
    """(SNR in dB, peak frequency in Hz) of ``x`` [T], after de Haan & Jeanne 2013 with a blind peak.

    Signal: power within ``half_width`` Hz (default ``2 / T``, the half-width of the Hann window's main
    lobe for a clip of ``T`` seconds) of the in-band peak ``f0`` and of ``2 f0``; noise: the rest of
    [band low, 2 x band high]. A pure in-band sinusoid gives a high SNR, white noise about
    ``10 log10(w / (B - w))`` for signal width ``w = 8 / T`` and band ``B`` (a little more: the peak is
    the largest of the noise's in-band values).
    """
    f, p = power_spectrum(x, fps)
    hw = half_width if half_width is not None else 2.0 * fps / max(len(x), 1)
    sel = (f >= band[0]) & (f <= band[1])
    f0 = float(f[sel][np.argmax(p[sel])])
    wide = (f >= band[0]) & (f <= min(2 * band[1], fps / 2))
    signal = wide & ((np.abs(f - f0) <= hw) | (np.abs(f - 2 * f0) <= hw))
    num, den = p[signal].sum(), p[wide & ~signal].sum()
    return float(10 * np.log10(max(num, 1e-30) / max(den, 1e-30))), f0


def spectral_flatness(x: np.ndarray, fps: float, band: tuple[float, float] = PULSE_BAND) -> float:
    """Geometric / arithmetic mean of the in-band power of ``x``: 1 for flat (noise), near 0 for one peak."""
    f, p = power_spectrum(x, fps)
    q = p[(f >= band[0]) & (f <= band[1])] + 1e-30
    return float(np.exp(np.mean(np.log(q))) / np.mean(q))


def band_correlation(a: np.ndarray, b: np.ndarray, fps: float, band: tuple[float, float] = PULSE_BAND) -> float:
    """Pearson correlation of ``a`` and ``b`` [T] after the same band-pass (0 when either is constant)."""
    return correlation(bandpass(a, fps, band), bandpass(b, fps, band))


def correlation(x: np.ndarray, y: np.ndarray) -> float:
    """Pearson correlation of two [T] signals, 0 when either is constant."""
    if x.std() < 1e-12 or y.std() < 1e-12:
        return 0.0
    return float(np.corrcoef(x, y)[0, 1])


def band_coherence(a: np.ndarray, b: np.ndarray, fps: float, band: tuple[float, float] = PULSE_BAND,
                   segment_s: float = 2.0) -> float:
    """Mean magnitude-squared coherence (Welch, ``segment_s`` segments, 50% overlap) over ``band``."""
    from scipy.signal import coherence

    nper = max(8, min(len(a), int(round(segment_s * fps))))
    f, c = coherence(np.asarray(a, np.float64), np.asarray(b, np.float64), fs=fps, nperseg=nper,
                     nfft=max(256, nper))
    sel = (f >= band[0]) & (f <= band[1]) & np.isfinite(c)
    return float(c[sel].mean()) if sel.any() else 0.0  # NaN bins: a constant input has no coherence
