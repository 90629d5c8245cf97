"""Pose and motion metrics from a MotionTrack; no network weights, always available.

* ``delta_pose`` (ΔP): mean absolute frame-to-frame change of yaw, pitch and roll
  (degrees per frame), per axis and their mean; only pairs of consecutive valid frames.
* ``pose_diversity``: standard deviation of yaw, pitch, roll over valid frames (degrees).
* ``beat_align`` (BAS): Beat Align Score, AI Choreographer (Li et al. 2021, Eq. 6) as
  used by Bailando (Siyao et al. 2022, Sec. 4.1):
  ``BAS = 1/|B_m| sum_{t in B_m} exp(-min_{s in B_a} (t - s)^2 / (2 sigma^2))``, motion
  beats ``B_m`` = local minima of the smoothed kinetic velocity, audio beats ``B_a``,
  sigma = 3 frames. Bailando's code (``utils/metrics_new.py: BA``) sums over the
  *music* beats instead; ``over="audio"`` gives that variant. Audio beats here are
  onset peaks of a spectral-flux onset envelope (speech has onsets, not a metre).
* ``blink_rate`` (per minute) and mean blink duration (s): blink events of the mean
  eyelid closure ``(blink_left + blink_right) / 2``, closed above 0.5, reopened below
  0.35 (hysteresis keeps a noisy plateau one blink). Over a corpus the rate is pooled,
  all blinks over all valid minutes, with the exact Poisson (Garwood) 95% interval:
  blinks are rare events, a few seconds of video hold none, and clips that all have
  none give a rate of 0 with an upper bound (3.7 blinks over the minutes seen), not a
  bootstrap interval of zero width.
* ``landmark_jitter``: share of landmark-trajectory energy above 8 Hz (high-frequency
  tremor that real faces lack), landmarks in units of inter-ocular distance.

* ``fmd``: Fréchet Motion Distance between the window features (:func:`motion_window_features`)
  of two corpora, with the same Fréchet distance as FID/FVD.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from forgebench.errors import InputError
from forgebench.metrics.base import Clip, Metric, MetricResult, register_metric
from forgebench.metrics.perclip import PerClipMean
from forgebench.records import MotionTrack

ANGLES = ("yaw", "pitch", "roll")
BLINK_ON, BLINK_OFF = 0.5, 0.35
BEAT_SIGMA = 3.0  # frames (Bailando: exp(-d^2 / 2 / 9))
JITTER_CUTOFF_HZ = 8.0


def _track(clip: Clip, min_frames: int = 2) -> MotionTrack:
    if clip.track is None:
        raise InputError(f"clip {clip.clip_id!r} has no motion track")
    if clip.track.valid.sum() < min_frames:
        raise InputError(
            f"clip {clip.clip_id!r} has {int(clip.track.valid.sum())} frames with a face, need {min_frames}"
        )
    return clip.track


# -- ΔP and diversity -----------------------------------------------------------------------------------------------


def delta_pose(track: MotionTrack) -> np.ndarray:
    """[3] mean |angle[t+1] - angle[t]| for yaw, pitch, roll (deg/frame) over consecutive valid frames."""
    ang = track.pose[:, :3].astype(np.float64)
    pair = track.valid[1:] & track.valid[:-1]
    if not pair.any():
        raise InputError("ΔP needs two consecutive frames with a face")
    return np.abs(np.diff(ang, axis=0))[pair].mean(axis=0)


def pose_diversity(track: MotionTrack) -> np.ndarray:
    """[3] standard deviation of yaw, pitch, roll over valid frames (degrees)."""
    return track.pose[track.valid, :3].astype(np.float64).std(axis=0)


# -- beat alignment -------------------------------------------------------------------------------------------------


def kinetic_velocity(track: MotionTrack) -> np.ndarray:
    """[T-1] mean landmark speed per frame in IOD units (pose-angle speed in degrees without landmarks)."""
    if track.landmarks is not None:
        pts = track.landmarks[..., :2].astype(np.float64)
        iod = np.median(np.linalg.norm(pts[track.valid, 468] - pts[track.valid, 473], axis=1))
        return np.linalg.norm(np.diff(pts / max(float(iod), 1e-6), axis=0), axis=2).mean(axis=1)
    return np.linalg.norm(np.diff(track.pose[:, :3].astype(np.float64), axis=0), axis=1)


def motion_beats(track: MotionTrack) -> np.ndarray:
    """Frame indices of kinetic-velocity local minima after Gaussian smoothing (Bailando ``calc_db``).

    Bailando smooths with sigma 5 at 60 fps; we keep that duration (sigma = 5 * fps / 60 frames).
    """
    from scipy.ndimage import gaussian_filter1d
    from scipy.signal import argrelextrema

    vel = gaussian_filter1d(kinetic_velocity(track), 5.0 * track.fps / 60.0)
    return argrelextrema(vel, np.less)[0]


def onset_envelope(audio: np.ndarray, rate: int, fps: float) -> np.ndarray:
    """Spectral-flux onset strength per video frame: sum of positive log-magnitude increases, 10 ms hop."""
    x = np.asarray(audio, np.float64)
    n_fft, hop = 512, rate // 100
    if len(x) < n_fft:
        raise InputError("audio too short for onset detection")
    frames = np.lib.stride_tricks.sliding_window_view(x, n_fft)[::hop] * np.hanning(n_fft)
    mag = np.log1p(100.0 * np.abs(np.fft.rfft(frames, axis=1)))
    flux = np.maximum(np.diff(mag, axis=0), 0).sum(axis=1)
    t = ((np.arange(len(flux)) + 1) * hop + n_fft / 2) / rate  # centre time of the later STFT frame
    n_video = int(np.floor(len(x) / rate * fps))
    # the strongest flux inside each video frame's interval
    idx = np.minimum((t * fps).astype(np.int64), n_video - 1)
    env = np.zeros(max(n_video, 1))
    np.maximum.at(env, idx, flux)
    return env


def audio_beats(audio: np.ndarray, rate: int, fps: float, min_gap_s: float = 0.1) -> np.ndarray:
    """Frame indices of onset peaks: local maxima above mean + 0.5 std, at least ``min_gap_s`` apart."""
    from scipy.signal import find_peaks

    env = onset_envelope(audio, rate, fps)
    peaks, _ = find_peaks(env, height=env.mean() + 0.5 * env.std(), distance=max(1, round(min_gap_s * fps)))
    return peaks


def beat_align_score(motion: np.ndarray, audio: np.ndarray, sigma: float = BEAT_SIGMA, over: str = "motion") -> float:
    """BAS of beat frame indices: mean over ``over`` beats of exp(-min distance^2 / (2 sigma^2))."""
    motion, audio = np.asarray(motion, np.float64), np.asarray(audio, np.float64)
    src, dst = (motion, audio) if over == "motion" else (audio, motion)
    if len(src) == 0 or len(dst) == 0:
        raise InputError("no beats to align (motion or audio has none)")
    d2 = np.min((src[:, None] - dst[None, :]) ** 2, axis=1)
    return float(np.mean(np.exp(-d2 / (2 * sigma**2))))


# -- blinks ---------------------------------------------------------------------------------------------------------


def blink_events(closure: np.ndarray, on: float = BLINK_ON, off: float = BLINK_OFF) -> list[tuple[int, int]]:
    """``(start, stop)`` frame spans where closure rose above ``on`` until it fell below ``off``."""
    events, start = [], None
    for i, c in enumerate(np.asarray(closure, np.float64)):
        if start is None and c > on:
            start = i
        elif start is not None and c < off:
            events.append((start, i))
            start = None
    if start is not None:
        events.append((start, len(closure)))
    return events


def poisson_rate_interval(events: int, exposure: float, alpha: float = 0.05) -> tuple[float, float]:
    """Exact (Garwood) ``1 - alpha`` interval of a Poisson rate: ``events`` seen over ``exposure`` units.

    ``[chi2(alpha/2; 2k) / 2, chi2(1 - alpha/2; 2k + 2) / 2] / exposure``, the lower end 0 for k = 0.

    >>> [round(x, 3) for x in poisson_rate_interval(0, 1.0)]
    [0.0, 3.689]
    """
    from scipy.stats import chi2

    if exposure <= 0:
        return float("nan"), float("nan")
    low = chi2.ppf(alpha / 2, 2 * events) / 2 if events > 0 else 0.0
    high = chi2.ppf(1 - alpha / 2, 2 * events + 2) / 2
    return float(low / exposure), float(high / exposure)


def blink_stats(track: MotionTrack) -> tuple[float, float]:
    """Blink rate (per minute of valid video) and mean blink duration (seconds; NaN with no blink)."""
    closure = (track.expr("blink_left") + track.expr("blink_right")) / 2
    closure = np.where(track.valid, closure, 0.0)  # no face: not a blink
    events = blink_events(closure)
    minutes = track.valid.sum() / track.fps / 60.0
    rate = len(events) / minutes if minutes > 0 else float("nan")
    dur = float(np.mean([b - a for a, b in events]) / track.fps) if events else float("nan")
    return float(rate), dur


# -- jitter ---------------------------------------------------------------------------------------------------------


def landmark_jitter(track: MotionTrack, cutoff_hz: float = JITTER_CUTOFF_HZ) -> tuple[float, float]:
    """(share of trajectory energy above ``cutoff_hz``, mean |second difference| in IOD units).

    Trajectories are x, y of every landmark divided by the clip's median inter-ocular
    distance, linear trend removed; energy from the real FFT of each trajectory.
    """
    if track.landmarks is None:
        raise InputError("landmark jitter needs landmarks in the track")
    if cutoff_hz >= track.fps / 2:
        raise InputError(f"jitter cutoff {cutoff_hz} Hz is above Nyquist at {track.fps} fps")
    from scipy.signal import detrend

    lm = track.landmarks[track.valid][..., :2].astype(np.float64)
    if len(lm) < 8:
        raise InputError("landmark jitter needs at least 8 frames with a face")
    iod = np.median(np.linalg.norm(lm[:, 468] - lm[:, 473], axis=1))
    traj = lm.reshape(len(lm), -1) / max(iod, 1e-6)
    # A linear drift is head motion, not jitter: the HF energy is taken after removing it (so its spectral
    # leakage does not count), relative to all the motion energy (mean removed only).
    freqs = np.fft.rfftfreq(len(traj), 1.0 / track.fps)
    total = (np.abs(np.fft.rfft(traj - traj.mean(axis=0), axis=0)[1:]) ** 2).sum()
    power = np.abs(np.fft.rfft(detrend(traj, axis=0, type="linear"), axis=0)) ** 2
    hf = float(power[freqs > cutoff_hz].sum() / total) if total > 0 else 0.0
    return hf, float(np.abs(np.diff(traj, 2, axis=0)).mean())


# -- metric classes: bookkeeping only --------------------------------------------------------------------------------


@register_metric("delta_pose")
class DeltaPose(PerClipMean):
    """ΔP (deg/frame), mean of yaw/pitch/roll; per-axis values in the per-clip details."""

    name = "delta_pose"
    higher_is_better = False  # neither direction is "better" in general; closeness to real data is
    requires = frozenset({"track"})

    def clip_value(self, clip: Clip) -> tuple[float, dict[str, Any]]:
        d = delta_pose(_track(clip))
        return float(d.mean()), dict(zip(ANGLES, d.tolist(), strict=True))


@register_metric("pose_diversity")
class PoseDiversity(PerClipMean):
    name = "pose_diversity"
    higher_is_better = True
    requires = frozenset({"track"})

    def clip_value(self, clip: Clip) -> tuple[float, dict[str, Any]]:
        d = pose_diversity(_track(clip))
        return float(d.mean()), dict(zip(ANGLES, d.tolist(), strict=True))


@register_metric("beat_align")
class BeatAlign(PerClipMean):
    name = "beat_align"
    higher_is_better = True
    requires = frozenset({"track", "audio"})

    def clip_value(self, clip: Clip) -> tuple[float, dict[str, Any]]:
        if clip.audio is None:
            raise InputError(f"clip {clip.clip_id!r} has no audio for the beat align score")
        track = _track(clip, 8)
        mb, ab = motion_beats(track), audio_beats(clip.audio, clip.audio_rate, track.fps)
        return beat_align_score(mb, ab), {"motion_beats": len(mb), "audio_beats": len(ab)}


@register_metric("blink_rate")
class BlinkRate(PerClipMean):
    """Blinks per minute: per clip, and pooled over the corpus with an exact Poisson interval."""

    name = "blink_rate"
    higher_is_better = True  # generators tend to under-blink; compare against real data
    requires = frozenset({"track"})

    def clip_value(self, clip: Clip) -> tuple[float, dict[str, Any]]:
        track = _track(clip)
        rate, dur = blink_stats(track)
        minutes = float(track.valid.sum() / track.fps / 60.0)
        return rate, {"mean_blink_duration_s": dur, "blinks": int(round(rate * minutes)), "minutes": minutes}

    def compute(self) -> MetricResult:
        result = super().compute()
        if result.status != "ok":
            return result
        events = sum(d["blinks"] for d in self.per_clip)
        minutes = sum(d["minutes"] for d in self.per_clip)
        result.value = events / minutes if minutes > 0 else float("nan")
        result.ci_low, result.ci_high = poisson_rate_interval(events, minutes)
        result.details.update(blinks=events, minutes=minutes)
        return result


@register_metric("landmark_jitter")
class LandmarkJitter(PerClipMean):
    name = "landmark_jitter"
    higher_is_better = False
    requires = frozenset({"track"})

    def clip_value(self, clip: Clip) -> tuple[float, dict[str, Any]]:
        hf, d2 = landmark_jitter(_track(clip))
        return hf, {"mean_second_difference_iod": d2}


# -- Fréchet Motion Distance ----------------------------------------------------------------------------------------

FMD_SIGNALS = ("yaw", "pitch", "roll", "tx", "ty", "jaw_open", "mouth_width", "pucker", "smile", "blink_left",
               "blink_right", "brow_raise", "gaze_x", "gaze_y")  # fmt: skip
FMD_WINDOW_S, FMD_HOP_S = 2.0, 1.0


def motion_window_features(track: MotionTrack, window_s: float = FMD_WINDOW_S, hop_s: float = FMD_HOP_S) -> np.ndarray:
    """[N, 35] features of 2 s windows (1 s hop) with a face in every frame.

    Per window: std of the 14 :data:`FMD_SIGNALS` (pose angles, face position, expression,
    gaze; not the scale, which is camera distance), their mean absolute velocity per
    second, and the mean of the 7 expression coefficients. Velocities are per second so
    tracks at different frame rates compare.
    """
    names = track.feature_names()
    cols = [names.index(n) for n in FMD_SIGNALS]
    x = track.features()[:, cols].astype(np.float64)
    n_win, hop = max(2, round(window_s * track.fps)), max(1, round(hop_s * track.fps))
    rows = []
    for start in range(0, track.n_frames - n_win + 1, hop):
        if not track.valid[start : start + n_win].all():
            continue
        w = x[start : start + n_win]
        vel = np.abs(np.diff(w, axis=0)).mean(axis=0) * track.fps
        rows.append(np.concatenate([w.std(axis=0), vel, w[:, 5:12].mean(axis=0)]))
    return np.asarray(rows, np.float64).reshape(-1, 3 * len(FMD_SIGNALS) - 7)


def fmd_from_features(feats_a: np.ndarray, feats_b: np.ndarray) -> float:
    """Fréchet distance between the Gaussians of two window-feature sets [N, D], [M, D]."""
    from forgebench.metrics.frechet import frechet_distance, gaussian_stats

    return frechet_distance(*gaussian_stats(feats_a), *gaussian_stats(feats_b))


def fmd(tracks: list[MotionTrack], reference_tracks: list[MotionTrack]) -> float:
    """FMD between two corpora of tracks (the functional twin of :class:`FrechetMotionDistance`)."""
    a = np.concatenate([motion_window_features(t) for t in tracks])
    b = np.concatenate([motion_window_features(t) for t in reference_tracks])
    return fmd_from_features(a, b)


@register_metric("fmd")
class FrechetMotionDistance(Metric):
    """FMD of the clips' tracks against a reference corpus of tracks (``update_reference``)."""

    name = "fmd"
    higher_is_better = False
    requires = frozenset({"track", "reference_set"})

    def __init__(self, reference_tracks: list[MotionTrack] | None = None) -> None:
        from forgebench.metrics.frechet import StreamingGaussianStats

        # The reference given here is the same in every instance of a Dask map, so merge() does not add it
        # again; references streamed in with update_reference() are per instance and do merge.
        self.fixed_ref = StreamingGaussianStats()
        for t in reference_tracks or []:
            self.fixed_ref.update(motion_window_features(t))
        self.reset()

    def update(self, clip: Clip) -> None:
        if clip.track is not None:
            self.stats.update(motion_window_features(clip.track))

    def update_reference(self, item: Clip | MotionTrack) -> None:
        track = item.track if isinstance(item, Clip) else item
        if track is not None:
            self.ref_stats.update(motion_window_features(track))

    def _reference(self):  # -> StreamingGaussianStats
        from forgebench.metrics.frechet import StreamingGaussianStats

        ref = StreamingGaussianStats()
        ref.merge(self.fixed_ref)
        ref.merge(self.ref_stats)
        return ref

    def compute(self) -> MetricResult:
        from forgebench.metrics.frechet import frechet_distance

        ref = self._reference()
        if self.stats.n < 2 or ref.n < 2:
            return MetricResult.unavailable(
                self.name,
                False,
                f"FMD needs >= 2 full 2 s face windows per set (have {self.stats.n}, reference {self.ref_stats.n})",
                fix="score longer clips or add a reference set (--reference DIR)",
            )
        value = frechet_distance(*self.stats.mean_cov(), *ref.mean_cov())
        return MetricResult(self.name, value, False, n=self.stats.n, details={"reference_windows": ref.n})

    def reset(self) -> None:
        from forgebench.metrics.frechet import StreamingGaussianStats

        self.stats = StreamingGaussianStats()
        self.ref_stats = StreamingGaussianStats()

    def merge(self, other: Metric) -> None:
        assert isinstance(other, FrechetMotionDistance)
        self.stats.merge(other.stats)
        self.ref_stats.merge(other.ref_stats)
