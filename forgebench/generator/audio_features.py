"""Speech features aligned to video frames: log-mel with context, energy, voicing, pitch, spectral shape.

Alignment is exact: video frame ``t`` covers ``[t/fps, (t+1)/fps)``, i.e. the audio samples
``[b(t), b(t+1))`` with ``b(t) = ceil(t * sr / fps)`` computed in rational arithmetic (so 29.97 and
30000/1001 fps are exact), and ``n_frames = ceil(len(audio) / sr * fps)``.

* Log-mel: a centred STFT (Hann window of ``win_ms``, hop ``hop_ms``, reflect padding at the clip
  edges; hop ``i`` is centred on sample ``i * hop``) projected on an **HTK** mel filterbank with
  unit-peak triangles (no area normalisation), i.e. torchaudio's ``melscale_fbanks(norm=None,
  mel_scale="htk")``. A video frame's mel vector is the log of the mean mel power over the hops
  centred inside the frame (the nearest hop when none is, above 100 fps).
* Energy: log RMS of the frame's samples in dBFS (``20 log10 rms``, floored at -120 dB).
* Voiced: speech activity, energy above an adaptive threshold (local noise floor + margin, never
  below an absolute floor) with a hangover.
* Pitch: YIN (de Cheveigné & Kawahara 2002, Eqns. 6-8) on a window centred on the frame; 0 Hz
  where unvoiced.
* Spectral centroid (Hz) and band energies (dB) in low/mid/high bands, for mouth shape.

Every frame's features depend on a bounded neighbourhood of audio only, so
:func:`extract_audio_features_window` computes frames ``[start, stop)`` of a long clip with the same
numbers as the whole-clip :func:`extract_audio_features`; a pipeline can stream window by window.

>>> import numpy as np
>>> f = extract_audio_features(np.zeros(16000, np.float32), fps=25)
>>> f.n_frames, f.mel.shape, bool(f.voiced.any())
(25, (25, 5, 80), False)
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Iterator
from dataclasses import dataclass, field, replace
from fractions import Fraction

import numpy as np

from forgebench.errors import InputError

BAND_EDGES_HZ: tuple[float, ...] = (55.0, 500.0, 2000.0, 7600.0)  # low / mid / high band edges
BAND_NAMES: tuple[str, ...] = ("low", "mid", "high")
_EPS_POWER = 1e-10


@dataclass(frozen=True)
class AudioFeatureConfig:
    """Parameters of the feature extractor; the defaults are the generator's.

    ``context_frames`` is counted in video frames on each side of the current frame.
    """

    sample_rate: int = 16000
    n_mels: int = 80
    win_ms: float = 25.0
    hop_ms: float = 10.0
    context_frames: int = 2
    fmin: float = 55.0
    fmax: float = 7600.0
    f0_min: float = 70.0  # YIN search range (Hz)
    f0_max: float = 400.0
    yin_threshold: float = 0.2  # CMNDF dip that counts as periodic
    vad_floor_db: float = -55.0  # frames quieter than this are never speech
    vad_margin_db: float = 10.0  # speech is this far above the local noise floor
    vad_noise_cap_db: float = -40.0  # a "noise floor" louder than this is continuous sound, not noise
    vad_window_s: float = 1.5  # half-width of the window in which the noise floor is the minimum
    hangover_ms: float = 120.0  # speech activity is held this long after the last active frame

    def __post_init__(self) -> None:
        if self.sample_rate <= 0 or self.n_mels <= 0 or self.context_frames < 0:
            raise InputError("AudioFeatureConfig: sample_rate and n_mels must be positive, context_frames >= 0")
        if not 0 <= self.fmin < self.fmax <= self.sample_rate / 2:
            raise InputError(f"AudioFeatureConfig: need 0 <= fmin < fmax <= {self.sample_rate / 2} Hz")
        if not 0 < self.f0_min < self.f0_max < self.sample_rate / 4:
            raise InputError("AudioFeatureConfig: need 0 < f0_min < f0_max < sample_rate / 4")

    @property
    def win_length(self) -> int:
        return round(self.sample_rate * self.win_ms / 1000)

    @property
    def hop_length(self) -> int:
        return round(self.sample_rate * self.hop_ms / 1000)

    @property
    def n_fft(self) -> int:
        return 1 << (self.win_length - 1).bit_length()


@dataclass
class AudioFeatures:
    """Features of frames ``[start, start + n_frames)`` of a clip at ``fps``.

    Shapes (``T = n_frames``): ``mel`` [T, 2*context+1, n_mels] natural-log mel power, the middle
    row is frame ``t`` itself and row ``k`` is frame ``t + k - context`` (clamped at the clip
    edges); ``energy`` [T] dBFS; ``voiced`` [T] bool; ``pitch`` [T] Hz (0 where unvoiced or
    aperiodic); ``spectral_centroid`` [T] Hz; ``band_energy`` [T, 3] dB in :data:`BAND_NAMES` bands.
    """

    mel: np.ndarray
    energy: np.ndarray
    voiced: np.ndarray
    pitch: np.ndarray
    spectral_centroid: np.ndarray
    band_energy: np.ndarray
    fps: float
    start: int = 0
    config: AudioFeatureConfig = field(default_factory=AudioFeatureConfig)

    @property
    def n_frames(self) -> int:
        return len(self.energy)

    def slice(self, start: int, stop: int) -> AudioFeatures:
        """Frames ``start:stop`` (indices relative to this object) as a new object."""
        sl = slice(start, stop)
        return replace(
            self,
            mel=self.mel[sl],
            energy=self.energy[sl],
            voiced=self.voiced[sl],
            pitch=self.pitch[sl],
            spectral_centroid=self.spectral_centroid[sl],
            band_energy=self.band_energy[sl],
            start=self.start + max(0, start),
        )


# -- timing -------------------------------------------------------------------------------------
def _fps_fraction(fps: float) -> Fraction:
    if not (isinstance(fps, (int, float, Fraction)) and math.isfinite(fps) and fps > 0):
        raise InputError(f"fps must be a positive number, got {fps!r}")
    return Fraction(fps).limit_denominator(100_000)


def frame_count(n_samples: int, fps: float, sample_rate: int = 16000) -> int:
    """``ceil(n_samples / sample_rate * fps)``, exactly."""
    f = _fps_fraction(fps)
    return -((-n_samples * f.numerator) // (f.denominator * sample_rate))


def frame_bounds(frames: np.ndarray, fps: float, sample_rate: int = 16000) -> np.ndarray:
    """First audio sample of each video frame: ``b(t) = ceil(t * sample_rate / fps)``, exactly."""
    f = _fps_fraction(fps)
    t = np.asarray(frames, dtype=np.int64)
    return -((-t * sample_rate * f.denominator) // f.numerator)


# -- spectra ------------------------------------------------------------------------------------
def hz_to_mel(f: np.ndarray | float) -> np.ndarray:
    """HTK mel scale: ``2595 log10(1 + f / 700)``."""
    return 2595.0 * np.log10(1.0 + np.asarray(f, dtype=np.float64) / 700.0)


def mel_to_hz(m: np.ndarray | float) -> np.ndarray:
    return 700.0 * (10.0 ** (np.asarray(m, dtype=np.float64) / 2595.0) - 1.0)


def mel_filterbank(cfg: AudioFeatureConfig) -> np.ndarray:
    """[n_mels, n_fft//2 + 1] HTK triangles with unit peaks at equally spaced mel centres."""
    freqs = np.linspace(0.0, cfg.sample_rate / 2, cfg.n_fft // 2 + 1)
    edges = mel_to_hz(np.linspace(hz_to_mel(cfg.fmin), hz_to_mel(cfg.fmax), cfg.n_mels + 2))
    lower, centre, upper = edges[:-2, None], edges[1:-1, None], edges[2:, None]
    rising = (freqs[None] - lower) / (centre - lower)
    falling = (upper - freqs[None]) / (upper - centre)
    return np.clip(np.minimum(rising, falling), 0.0, None)


def _reflect_index(idx: np.ndarray, n: int) -> np.ndarray:
    """Map sample positions outside ``[0, n)`` into it by reflection (numpy ``pad(mode='reflect')``)."""
    if n == 1:
        return np.zeros_like(idx)
    period = 2 * (n - 1)
    idx = np.abs(idx) % period
    return np.where(idx >= n, period - idx, idx)


def _windows(audio: np.ndarray, centres: np.ndarray, length: int) -> np.ndarray:
    """[len(centres), length] slices of ``audio`` centred on ``centres`` (reflected at the edges)."""
    first = centres - length // 2
    lo, hi = int(first.min()), int(first.max()) + length
    if lo >= 0 and hi <= len(audio):
        segment = audio[lo:hi]
    else:  # reflect only the positions that fall outside the clip
        segment = audio[_reflect_index(np.arange(lo, hi), len(audio))]
    return np.lib.stride_tricks.sliding_window_view(segment, length)[first - lo]


def _analysis_window(cfg: AudioFeatureConfig) -> np.ndarray:
    """Periodic Hann of ``win_length`` zero-padded to ``n_fft`` (torch.stft's convention)."""
    win = np.zeros(cfg.n_fft)
    off = (cfg.n_fft - cfg.win_length) // 2
    win[off : off + cfg.win_length] = 0.5 - 0.5 * np.cos(2 * np.pi * np.arange(cfg.win_length) / cfg.win_length)
    return win


def _power_spectra(audio: np.ndarray, hops: np.ndarray, cfg: AudioFeatureConfig) -> np.ndarray:
    """[len(hops), n_fft//2 + 1] power spectra of the hops centred on ``hops * hop_length``."""
    frames = _windows(audio, hops * cfg.hop_length, cfg.n_fft) * _analysis_window(cfg)
    return np.abs(np.fft.rfft(frames, axis=1)) ** 2


def log_mel(audio: np.ndarray, cfg: AudioFeatureConfig | None = None) -> np.ndarray:
    """[n_hops, n_mels] natural-log mel power, ``n_hops = 1 + len(audio) // hop_length``."""
    cfg = cfg or AudioFeatureConfig()
    audio = _check_audio(audio)
    hops = np.arange(1 + len(audio) // cfg.hop_length)
    mel = _power_spectra(audio, hops, cfg) @ mel_filterbank(cfg).T
    return np.log(mel + _EPS_POWER).astype(np.float32)


# -- per-frame measurements -----------------------------------------------------------------------
def _segment_sums(values: np.ndarray, lo: np.ndarray, hi: np.ndarray) -> np.ndarray:
    """Sums of ``values[lo[i]:hi[i]]`` along axis 0 (each ``lo < hi``), in a batch-independent order."""
    padded = np.concatenate([values, np.zeros_like(values[:1])])
    idx = np.stack([lo, hi], axis=1).reshape(-1)
    return np.add.reduceat(padded, idx, axis=0)[::2]


def _yin_pitch(frames: np.ndarray, cfg: AudioFeatureConfig) -> np.ndarray:
    """YIN F0 (Hz) of each row of ``frames`` [n, 2 * max_lag]; 0 where no lag dips under the threshold."""
    sr = cfg.sample_rate
    min_lag, max_lag = int(sr // cfg.f0_max), math.ceil(sr / cfg.f0_min)
    w = max_lag  # integration window (YIN's W)
    x = frames
    nfft = 1 << (x.shape[1] + w).bit_length()
    # r(tau) = sum_{j<W} x_j x_{j+tau}: cross-correlation of the first W samples with the frame.
    r = np.fft.irfft(np.conj(np.fft.rfft(x[:, :w], nfft)) * np.fft.rfft(x, nfft), nfft)[:, : max_lag + 1]
    sq = np.concatenate([np.zeros((len(x), 1)), np.cumsum(x**2, axis=1)], axis=1)
    taus = np.arange(max_lag + 1)
    energy_tau = sq[:, taus + w] - sq[:, taus]
    diff = np.maximum(sq[:, w : w + 1] + energy_tau - 2 * r, 0.0)  # Eqn. 7: d(tau)
    cum = np.cumsum(diff[:, 1:], axis=1)
    cmnd = np.ones_like(diff)
    cmnd[:, 1:] = diff[:, 1:] * taus[1:] / np.maximum(cum, 1e-12)  # Eqn. 8: d'(tau)
    band = cmnd[:, min_lag : max_lag + 1]
    local_min = band <= cmnd[:, min_lag - 1 : max_lag]  # a dip at the search edge is not a dip
    local_min[:, :-1] &= band[:, :-1] <= band[:, 1:]
    hit = (band < cfg.yin_threshold) & local_min  # Step 4: first dip under the absolute threshold
    found = hit.any(axis=1) & (sq[:, w] > 1e-8 * w)  # digital silence is not periodic
    k = np.argmax(hit, axis=1)
    # Step 5: parabolic interpolation of the dip.
    kk = np.clip(k, 1, band.shape[1] - 2)
    rows = np.arange(len(band))
    a, b, c = band[rows, kk - 1], band[rows, kk], band[rows, kk + 1]
    den = a - 2 * b + c
    shift = np.where((k == kk) & (np.abs(den) > 1e-12), 0.5 * (a - c) / np.where(den == 0, 1, den), 0.0)
    lag = min_lag + k + np.clip(shift, -1, 1)
    return np.where(found, sr / lag, 0.0)


def _frame_measurements(audio: np.ndarray, fps: float, f0: int, f1: int, cfg: AudioFeatureConfig) -> dict:
    """Per-frame raw measurements of frames ``[f0, f1)`` that depend only on nearby audio."""
    n, sr, hop = len(audio), cfg.sample_rate, cfg.hop_length
    bounds = frame_bounds(np.arange(f0, f1 + 1), fps, sr)
    b0, b1 = bounds[:-1], bounds[1:]

    # Energy over the frame's own samples (the last frame may start in the final sample's span).
    s0 = np.minimum(b0, n - 1)
    s1 = np.maximum(np.minimum(b1, n), s0 + 1)
    sq = audio[s0[0] : s1[-1]].astype(np.float64) ** 2
    mean_sq = _segment_sums(sq, s0 - s0[0], s1 - s0[0]) / (s1 - s0)
    energy = 10 * np.log10(mean_sq + 1e-12)

    # Hops centred inside the frame: i * hop in [b0, b1).
    n_hops = 1 + n // hop
    lo = np.minimum(-(-b0 // hop), n_hops - 1)
    hi = np.maximum(np.minimum(-(-b1 // hop), n_hops), lo + 1)
    hops = np.arange(lo[0], hi[-1])
    power = _segment_sums(_power_spectra(audio, hops, cfg), lo - lo[0], hi - lo[0]) / (hi - lo)[:, None]
    mel = np.log(power @ mel_filterbank(cfg).T + _EPS_POWER)

    freqs = np.linspace(0.0, sr / 2, cfg.n_fft // 2 + 1)
    in_range = (freqs >= cfg.fmin) & (freqs <= cfg.fmax)
    p = power[:, in_range]
    centroid = (p @ freqs[in_range]) / np.maximum(p.sum(axis=1), _EPS_POWER)
    bands = np.stack(
        [power[:, (freqs >= lo_f) & (freqs < hi_f)].sum(axis=1) for lo_f, hi_f in itertools.pairwise(BAND_EDGES_HZ)],
        axis=1,
    )
    band_db = 10 * np.log10(bands / cfg.n_fft + _EPS_POWER)

    yin_len = 2 * math.ceil(sr / cfg.f0_min)
    pitch = _yin_pitch(_windows(audio.astype(np.float64), (b0 + b1) // 2, yin_len), cfg)
    return {"energy": energy, "mel": mel, "centroid": centroid, "bands": band_db, "pitch": pitch}


def _check_audio(audio: np.ndarray) -> np.ndarray:
    audio = np.asarray(audio)
    if audio.ndim != 1 or audio.size == 0:
        raise InputError(f"audio must be a non-empty mono 1-D array, got shape {audio.shape}")
    if not np.issubdtype(audio.dtype, np.floating):
        raise InputError(f"audio must be float samples in [-1, 1], got dtype {audio.dtype}; convert it first")
    if not np.isfinite(audio).all():
        raise InputError("audio contains NaN or infinite samples")
    return audio.astype(np.float32, copy=False)


# -- public API -----------------------------------------------------------------------------------
def _margins(fps: float, cfg: AudioFeatureConfig) -> tuple[int, int, int]:
    """(noise-floor half-window, hangover, total context) in frames."""
    wv = max(1, round(cfg.vad_window_s * fps))
    hang = round(cfg.hangover_ms / 1000 * fps)
    return wv, hang, max(cfg.context_frames, wv + hang + 2)


def extract_audio_features_window(
    audio_16k: np.ndarray, fps: float, start: int, stop: int, cfg: AudioFeatureConfig | None = None
) -> AudioFeatures:
    """Features of frames ``[start, stop)`` of the clip ``audio_16k``; equal to the same rows of the whole clip.

    ``audio_16k`` is the whole clip (mono float at ``cfg.sample_rate``); only the samples near the
    window are read, so a pipeline can call this window by window.
    """
    cfg = cfg or AudioFeatureConfig()
    audio = _check_audio(audio_16k)
    total = frame_count(len(audio), fps, cfg.sample_rate)
    if not 0 <= start < stop <= total:
        raise InputError(f"feature window [{start}, {stop}) is outside the clip's {total} frames")
    wv, hang, margin = _margins(fps, cfg)
    e0, e1 = max(0, start - margin), min(total, stop + margin)
    m = _frame_measurements(audio, fps, e0, e1, cfg)
    local = np.arange(start, stop) - e0

    # Mel context rows, clamped at the clip's (not the window's) edges.
    ctx = np.arange(-cfg.context_frames, cfg.context_frames + 1)
    rows = np.clip(np.arange(start, stop)[:, None] + ctx[None], 0, total - 1) - e0
    mel = m["mel"][rows].astype(np.float32)

    # Voicing: adaptive threshold over a local noise floor; 'nearest' padding equals clamping at the clip
    # edges, and inside the clip the margin keeps every used window inside [e0, e1).
    energy = m["energy"]
    smooth = np.convolve(np.pad(energy, 1, mode="edge"), np.ones(3) / 3, mode="valid")
    from scipy.ndimage import minimum_filter1d  # here: importing this module stays light for the CLI

    noise = np.minimum(minimum_filter1d(smooth, 2 * wv + 1, mode="nearest"), cfg.vad_noise_cap_db)
    active = energy > np.maximum(cfg.vad_floor_db, noise + cfg.vad_margin_db)
    held = active.copy()
    for k in range(1, hang + 1):  # hangover: active within the last `hang` frames
        held[k:] |= active[:-k]
    voiced = held[local]
    pitch = np.where(active[local], m["pitch"][local], 0.0)  # not during the hangover
    return AudioFeatures(
        mel=mel,
        energy=energy[local].astype(np.float32),
        voiced=voiced,
        pitch=pitch.astype(np.float32),
        spectral_centroid=m["centroid"][local].astype(np.float32),
        band_energy=m["bands"][local].astype(np.float32),
        fps=float(fps),
        start=start,
        config=cfg,
    )


def extract_audio_features(audio_16k: np.ndarray, fps: float, cfg: AudioFeatureConfig | None = None) -> AudioFeatures:
    """Features of every video frame of the clip: ``n_frames = ceil(len(audio) / sr * fps)``."""
    cfg = cfg or AudioFeatureConfig()
    total = frame_count(len(_check_audio(audio_16k)), fps, cfg.sample_rate)
    return extract_audio_features_window(audio_16k, fps, 0, total, cfg)


def iter_audio_feature_windows(
    audio_16k: np.ndarray, fps: float, window: int, cfg: AudioFeatureConfig | None = None
) -> Iterator[AudioFeatures]:
    """Consecutive windows of ``window`` frames (the last may be shorter) covering the clip."""
    if window <= 0:
        raise InputError(f"window must be a positive number of frames, got {window}")
    cfg = cfg or AudioFeatureConfig()
    total = frame_count(len(_check_audio(audio_16k)), fps, cfg.sample_rate)
    for start in range(0, total, window):
        yield extract_audio_features_window(audio_16k, fps, start, min(total, start + window), cfg)
