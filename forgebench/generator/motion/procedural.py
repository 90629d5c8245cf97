"""A weights-free motion generator: mouth from the speech signal, stochastic head motion, blinks, brows, gaze.

It is the baseline that always runs. Every value is ABSOLUTE, in :mod:`forgebench.records` units,
built around the source image's measured :class:`SourceState`:

* **Mouth** — ``jaw_open`` follows the frame energy relative to the speaker's loud level (95th
  percentile of speech frames), gated by speech activity, with the mid/low band ratio (F1 region:
  open vowels) as a modifier; in silence it sits at the closed value ``clip(source jaw, 0, 0.02)``.
  Co-articulation smoothing is a critically damped 2nd-order low-pass run forward and backward (zero
  phase, so the mouth starts opening before the sound, as real mouths do). ``mouth_width`` widens
  with the spectral centroid (front vowels, fricatives) and narrows with opening; ``pucker`` grows
  for dark, low-centroid sounds (rounded vowels); ``smile`` drifts slowly around the source's.
* **Blinks** — a renewal process: gamma-distributed intervals (shape 3, mean 60/rate s), durations
  log-normal around 220 ms clipped to 120-380 ms, a cosine closing third and a slower opening two
  thirds, peak on a frame, both eyes together (the right eye 3 % shallower).
* **Head** — yaw/pitch/roll around the source pose as a random sum of sinusoids in 0.1-1 Hz (smooth,
  stationary, seeded), its amplitude following a slow speech envelope, plus downward nods at energy
  peaks (stressed syllables); translation and scale follow the rotation, plus breathing.
* **Brows** rise with F0 above the speaker's median; **gaze** holds the source's direction with
  counter-rotation against head turns (eyes stay on the camera) and small saccades every 1-3 s.

Same features + seed give an identical track. The stochastic parts are functions of absolute time
and the seed, speaker references (:class:`ClipStats`) are taken over the clip, and the filters are
local, so :meth:`ProceduralMotion.generate_window` streams a clip window by window with the same
values as :meth:`ProceduralMotion.generate` (to float32 rounding).
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, fields, replace

import numpy as np

from forgebench.errors import InputError
from forgebench.generator.audio_features import AudioFeatures
from forgebench.generator.motion.base import MotionGenerator, SourceState, register_motion
from forgebench.records import EXPRESSION_NAMES, POSE_NAMES, MotionTrack

_E = {name: i for i, name in enumerate(EXPRESSION_NAMES)}
_P = {name: i for i, name in enumerate(POSE_NAMES)}
WINDOW_MARGIN_S = 8.0  # context each side of a streamed window: the slowest filter (0.4 s, 2 poles) settles


JAW_CEILING = 0.34  # IOD: about the widest jaw opening measured on real talking heads here


@dataclass(frozen=True)
class ProceduralConfig:
    """Every knob of :class:`ProceduralMotion`; each field is also a per-call control."""

    mouth_gain: float = 1.0  # scales every mouth movement
    jaw_max: float = 0.24  # jaw_open (IOD) above closed at the speaker's loud level
    level_range_db: float = 30.0  # energies this far below the loud level give a closed mouth
    level_exponent: float = 2.0  # >1 keeps quiet consonants nearly closed
    articulation_jitter: float = 0.8  # log-std of a syllable-rate random gain on the opening (0: loudness only)
    mouth_smooth_ms: float = 30.0  # time constant of each pole of the zero-phase smoother
    width_gain: float = 0.08  # mouth_width change (IOD) at one octave of spectral centroid
    pucker_gain: float = 0.03
    smile_drift: float = 0.012  # std of the slow smile drift (IOD)
    head_scale: float = 1.0  # scales all head motion
    yaw_std: float = 3.5  # degrees, during speech
    pitch_std: float = 2.5
    roll_std: float = 1.8
    nod_deg: float = 1.8  # typical nod at a stressed syllable
    blink_rate_per_min: float = 18.0
    brow_gain: float = 0.012  # brow_raise (IOD) per semitone above the median F0
    gaze_x: float | None = None  # gaze target; None keeps the source's gaze
    gaze_y: float | None = None
    saccade_amp: float = 0.025  # fraction of eye width

    def __post_init__(self) -> None:
        for f in fields(self):
            value = getattr(self, f.name)
            if value is not None and not (isinstance(value, (int, float)) and math.isfinite(value)):
                raise InputError(f"procedural motion: {f.name} must be a finite number, got {value!r}")
        if self.blink_rate_per_min <= 0 or self.mouth_smooth_ms <= 0 or self.level_range_db <= 0:
            raise InputError("procedural motion: blink_rate_per_min, mouth_smooth_ms and level_range_db must be > 0")


# -- signal helpers ---------------------------------------------------------------------------------
def _smooth(x: np.ndarray, tau_s: float, fps: float, order: int = 2) -> np.ndarray:
    """Zero-phase low-pass: ``order`` one-pole sections (time constant ``tau_s``) forward, then backward.

    Two poles per direction is a critically damped 2nd-order system; each pass starts at rest on its
    first sample, so a constant input stays exactly constant.
    """
    from scipy.signal import lfilter  # here, not at import: the command line lists this module's options fast

    if len(x) == 0 or tau_s <= 0:
        return x.astype(np.float64)
    a = math.exp(-1.0 / (tau_s * fps))
    y = np.asarray(x, dtype=np.float64)
    for direction in (1, -1):
        y = y[::direction]
        for _ in range(order):
            y = lfilter([1 - a], [1, -a], y, zi=[a * y[0]])[0]
        y = y[::direction]
    return y


def _sinusoid_noise(rng: np.random.Generator, t: np.ndarray, fmin: float, fmax: float, k: int = 8) -> np.ndarray:
    """Unit-variance sum of ``k`` sinusoids, log-uniform frequencies in [fmin, fmax], 1/sqrt(f) amplitudes."""
    freqs = np.exp(rng.uniform(math.log(fmin), math.log(fmax), k))
    phases = rng.uniform(0, 2 * np.pi, k)
    amps = freqs**-0.5 * rng.uniform(0.5, 1.0, k)
    amps /= math.sqrt(0.5 * float(np.sum(amps**2)))  # std of a sum of sinusoids: sqrt(sum a^2 / 2)
    return np.sin(2 * np.pi * freqs[None] * t[:, None] + phases[None]) @ amps


@dataclass(frozen=True)
class ClipStats:
    """Speaker-level references taken over the whole clip, so that windows of it share them."""

    loud_db: float  # 95th percentile of speech-frame energy (dBFS): the speaker's loud level
    band_ratio_db: float  # median mid-minus-low band energy over speech frames
    centroid_hz: float  # median spectral centroid over speech frames
    pitch_hz: float  # median F0 over pitched frames (0 if none)

    @classmethod
    def of(cls, features: AudioFeatures) -> ClipStats:
        speech = features.voiced
        if not speech.any():
            return cls(loud_db=-20.0, band_ratio_db=0.0, centroid_hz=1000.0, pitch_hz=0.0)
        ratio = features.band_energy[:, 1].astype(np.float64) - features.band_energy[:, 0]
        pitched = features.pitch[features.pitch > 0]
        return cls(
            loud_db=float(np.percentile(features.energy[speech], 95)),
            band_ratio_db=float(np.median(ratio[speech])),
            centroid_hz=float(np.median(np.maximum(features.spectral_centroid[speech], 1.0))),
            pitch_hz=float(np.median(pitched)) if pitched.size else 0.0,
        )


#: the first blink starts by this time (s), so a clip of 3 s shows a whole blink at any seed
FIRST_BLINK_BY_S = 2.5


def blink_schedule(seed: int, duration_s: float, rate_per_min: float) -> np.ndarray:
    """[n, 2] blink (onset s, duration s): gamma(shape 3) intervals, log-normal durations in 0.12-0.38 s.

    The first onset is uniform over 0.3 s to one mean interval, capped at :data:`FIRST_BLINK_BY_S`:
    the clip starts at a random phase, and a short clip (a corpus's are ~3 s) is not left without
    a blink when the seed puts the first one late (seed 0 put it at 3.0 s: every 3 s clip of a
    corpus with one seed showed 0 blinks a minute).
    """
    rng = np.random.default_rng([seed, 1])
    mean, shape, out, t = 60.0 / rate_per_min, 3.0, [], 0.0
    t += rng.uniform(0.3, max(0.3, min(mean, FIRST_BLINK_BY_S)))
    while t < duration_s:
        dur = float(np.clip(0.22 * math.exp(0.25 * rng.standard_normal()), 0.12, 0.38))
        out.append((t, dur))
        t += dur + max(0.3, rng.gamma(shape, mean / shape))
    return np.asarray(out, dtype=np.float64).reshape(-1, 2)


def blink_curve(schedule: np.ndarray, frames: np.ndarray, fps: float) -> np.ndarray:
    """Eye closure 0..1 at absolute ``frames``: closing third (cosine), peak on a frame, opening two thirds."""
    t = frames / fps
    closure = np.zeros(len(frames))
    for onset, dur in schedule:
        peak = round((onset + dur / 3) * fps) / fps
        close_s, open_s = dur / 3, 2 * dur / 3
        rising = (t > peak - close_s) & (t <= peak)
        falling = (t > peak) & (t < peak + open_s)
        closure[rising] = np.maximum(
            closure[rising], 0.5 - 0.5 * np.cos(np.pi * (t[rising] - peak + close_s) / close_s)
        )
        closure[falling] = np.maximum(closure[falling], 0.5 + 0.5 * np.cos(np.pi * (t[falling] - peak) / open_s))
    return closure


# -- the generator ------------------------------------------------------------------------------------
@register_motion("procedural")
class ProceduralMotion(MotionGenerator):
    """Rule-based motion from audio features; see the module docstring. Params: :class:`ProceduralConfig` fields."""

    def __init__(self, **params: object) -> None:
        self.config = _make_config(ProceduralConfig(), params)

    def generate(self, features: AudioFeatures, source: SourceState, seed: int, **controls: object) -> MotionTrack:
        cfg = _make_config(self.config, controls)
        if features.n_frames == 0:
            raise InputError("procedural motion: the audio features have no frames")
        return self._generate(features, source, seed, cfg, ClipStats.of(features))

    def generate_window(
        self, features: AudioFeatures, source: SourceState, seed: int, start: int, stop: int, **controls: object
    ) -> MotionTrack:
        """Frames ``[start, stop)`` of ``features`` (the whole clip's), equal to the same frames of :meth:`generate`.

        Speaker references come from all of ``features``; the filters run over the window plus
        :data:`WINDOW_MARGIN_S` on each side, after which their transients are below 1e-6 of a unit step.
        """
        cfg = _make_config(self.config, controls)
        n = features.n_frames
        if not 0 <= start < stop <= n:
            raise InputError(f"motion window [{start}, {stop}) is outside the {n} feature frames")
        margin = int(math.ceil(WINDOW_MARGIN_S * features.fps))
        lo, hi = max(0, start - margin), min(n, stop + margin)
        track = self._generate(features.slice(lo, hi), source, seed, cfg, ClipStats.of(features))
        return track.slice(start - lo, stop - lo)

    def _generate(
        self, features: AudioFeatures, source: SourceState, seed: int, cfg: ProceduralConfig, stats: ClipStats
    ) -> MotionTrack:
        n, fps = features.n_frames, features.fps
        frames = features.start + np.arange(n)
        t = frames / fps
        expression = np.tile(source.expression, (n, 1))
        mouth = self._mouth(features, source, cfg, stats, seed, t)
        for name, values in mouth.items():
            expression[:, _E[name]] = values
        smile_rng = np.random.default_rng([seed, 4])
        expression[:, _E["smile"]] += cfg.smile_drift * _sinusoid_noise(smile_rng, t, 0.02, 0.1, 4)

        schedule = blink_schedule(seed, (frames[-1] + 1) / fps, cfg.blink_rate_per_min)
        closure = blink_curve(schedule, frames, fps)
        for name, depth in (("blink_left", 1.0), ("blink_right", 0.97)):
            base = np.clip(source.expr(name), 0.0, 1.0)
            expression[:, _E[name]] = base + (1.0 - base) * depth * closure

        pose = self._head(features, source, cfg, stats, seed, t)
        expression[:, _E["brow_raise"]] += self._brows(features, cfg, stats)
        gaze = self._gaze(source, cfg, seed, t, fps, pose)
        in_clip = schedule[:, 0] + schedule[:, 1] > t[0]
        meta = {
            "generator": "procedural",
            "seed": int(seed),
            "config": asdict(cfg),
            "clip_stats": asdict(stats),
            "blinks": schedule[in_clip].round(4).tolist(),  # (onset s, duration s)
        }
        return MotionTrack(fps=fps, pose=pose, expression=expression, gaze=gaze, valid=np.ones(n, bool), meta=meta)

    # -- parts ----------------------------------------------------------------------------------------
    @staticmethod
    def _mouth(
        features: AudioFeatures, source: SourceState, cfg: ProceduralConfig, stats: ClipStats, seed: int,
        t: np.ndarray,
    ) -> dict[str, np.ndarray]:
        fps, gate = features.fps, features.voiced.astype(np.float64)
        level = _level(features, cfg, stats) ** cfg.level_exponent * gate
        low, mid = features.band_energy[:, 0].astype(np.float64), features.band_energy[:, 1].astype(np.float64)
        ratio = mid - low  # F1-region energy relative to the voice bar / nasal murmur: open vowels are higher
        openness = 1.0 + 0.25 * np.tanh((ratio - stats.band_ratio_db) / 6.0)
        closed = float(np.clip(source.expr("jaw_open"), 0.0, 0.02))
        # Real mouths open as wide as the vowel asks, not as loud as it is: a smooth random gain at
        # syllable rate (over absolute time, so streamed windows agree) decouples the peaks from
        # loudness. Without it the mouth tracks the envelope far more tightly than real talkers do.
        jitter = np.clip(_sinusoid_noise(np.random.default_rng([seed, 7]), t, 1.5, 4.0, 8), -1.5, 1.5)
        sigma = cfg.articulation_jitter
        gain = np.exp(sigma * jitter - 0.5 * sigma * sigma)
        raw = cfg.mouth_gain * cfg.jaw_max * level * openness * gain
        # Soft ceiling: the widest speech openings, never a yawn.
        ceiling = JAW_CEILING * max(cfg.mouth_gain, 1e-6)
        opening = _smooth(ceiling * np.tanh(raw / ceiling), cfg.mouth_smooth_ms / 1000, fps)

        centroid = np.maximum(features.spectral_centroid.astype(np.float64), 1.0)
        brightness = np.tanh(np.log2(centroid / stats.centroid_hz)) * gate * np.minimum(1.0, 4 * level)
        brightness = _smooth(brightness, cfg.mouth_smooth_ms / 1000, fps)
        width = source.expr("mouth_width") + cfg.mouth_gain * (cfg.width_gain * brightness - 0.15 * opening)
        pucker = source.expr("pucker") + cfg.mouth_gain * cfg.pucker_gain * np.maximum(-brightness, 0.0)
        return {"jaw_open": closed + opening, "mouth_width": width, "pucker": pucker}

    @staticmethod
    def _head(
        features: AudioFeatures, source: SourceState, cfg: ProceduralConfig, stats: ClipStats, seed: int, t: np.ndarray
    ) -> np.ndarray:
        fps, n, loud = features.fps, features.n_frames, stats.loud_db
        level = _level(features, cfg, stats)
        envelope = _smooth(level * features.voiced, 0.4, fps)  # slow prosodic activity, 0..1
        gain = cfg.head_scale * (0.45 + 0.85 * envelope)

        rot = np.zeros((n, 3))
        for axis, (std, band) in enumerate(
            ((cfg.yaw_std, (0.1, 1.0)), (cfg.pitch_std, (0.15, 1.0)), (cfg.roll_std, (0.1, 1.0)))
        ):
            rot[:, axis] = std * gain * _sinusoid_noise(np.random.default_rng([seed, 10 + axis]), t, *band)

        # Nods (pitch > 0 is chin down) on prominent energy peaks during speech: stressed syllables.
        syllables = _smooth(np.where(features.voiced, features.energy, loud - 60.0), 0.05, fps)
        # wlen keeps prominence local (+-1 s), so a window of the clip finds the same peaks.
        from scipy.signal import find_peaks

        peaks, props = find_peaks(syllables, prominence=6.0, distance=max(1, int(0.35 * fps)), wlen=2 * round(fps) + 1)
        nods = np.zeros(n)
        half = max(1, round(0.2 * fps))
        shape = 0.5 + 0.5 * np.cos(np.pi * np.arange(-half, half + 1) / half)
        for p, prom in zip(peaks, props["prominences"]):
            if not features.voiced[p]:
                continue
            jitter = np.random.default_rng([seed, 20, int(features.start + p)]).uniform(0.6, 1.2)
            amp = cfg.head_scale * cfg.nod_deg * jitter * float(np.clip(prom / 12.0, 0.5, 1.5))
            lo, hi = p - 1 - half, p - 1 + half + 1  # the nod leads the syllable peak by a frame
            seg = slice(max(lo, 0), min(hi, n))
            nods[seg] += amp * shape[seg.start - lo : seg.stop - lo]
        rot[:, 1] += nods

        pose = np.tile(source.pose, (n, 1))
        pose[:, :3] += rot
        scale = source.pose[_P["scale"]]
        breath = _sinusoid_noise(np.random.default_rng([seed, 30]), t, 0.2, 0.3, 2)
        # A 1-degree turn moves the face centre ~0.02 IOD; breathing lifts it ~0.01 IOD.
        pose[:, _P["tx"]] += 0.02 * scale * rot[:, 0]
        pose[:, _P["ty"]] += 0.02 * scale * rot[:, 1] + 0.01 * scale * breath
        pose[:, _P["scale"]] *= 1.0 + 0.002 * rot[:, 1] / max(cfg.pitch_std, 1e-6) + 0.003 * breath
        return pose

    @staticmethod
    def _brows(features: AudioFeatures, cfg: ProceduralConfig, stats: ClipStats) -> np.ndarray:
        pitched = features.pitch > 0
        if not pitched.any() or stats.pitch_hz <= 0:
            return np.zeros(features.n_frames)
        ref = stats.pitch_hz
        semitones = np.where(pitched, 12 * np.log2(np.maximum(features.pitch, 1.0) / ref), 0.0)
        raise_ = cfg.brow_gain * np.clip(semitones - 1.0, 0.0, 8.0)  # only rises clearly above the median
        return _smooth(raise_, 0.12, features.fps)

    @staticmethod
    def _gaze(
        source: SourceState, cfg: ProceduralConfig, seed: int, t: np.ndarray, fps: float, pose: np.ndarray
    ) -> np.ndarray:
        anchor = np.array(
            [source.gaze[0] if cfg.gaze_x is None else cfg.gaze_x, source.gaze[1] if cfg.gaze_y is None else cfg.gaze_y]
        )
        # Saccades: new fixations every 1-3 s, often back to the anchor; a function of absolute time.
        rng = np.random.default_rng([seed, 3])
        times, offsets, s = [0.0], [np.zeros(2)], rng.uniform(0.5, 2.0)
        while s <= t[-1]:
            times.append(s)
            away = rng.random() < 0.5
            offsets.append(cfg.saccade_amp * rng.standard_normal(2) * np.array([1.0, 0.5]) if away else np.zeros(2))
            s += rng.uniform(1.0, 3.0)
        idx = np.searchsorted(np.asarray(times), t, side="right") - 1
        fix = np.asarray(offsets)[idx]
        fix = np.stack([_smooth(fix[:, i], 0.012, fps, order=1) for i in range(2)], axis=1)
        # Counter-rotation keeps the eyes on the camera: ~0.0075 eye widths per degree of head turn.
        vor = -0.0075 * (pose[:, :2] - source.pose[:2])
        return anchor[None] + fix + vor


def _level(features: AudioFeatures, cfg: ProceduralConfig, stats: ClipStats) -> np.ndarray:
    """Loudness 0..1: 1 at the speaker's loud level, 0 at ``level_range_db`` below it."""
    below = features.energy.astype(np.float64) - (stats.loud_db - cfg.level_range_db)
    return np.clip(below / cfg.level_range_db, 0.0, 1.0)


def _make_config(base: ProceduralConfig, overrides: dict[str, object]) -> ProceduralConfig:
    known = {f.name for f in fields(ProceduralConfig)}
    unknown = sorted(set(overrides) - known)
    if unknown:
        raise InputError(
            f"procedural motion: unknown control(s) {', '.join(unknown)}; known: {', '.join(sorted(known))}"
        )
    return replace(base, **overrides) if overrides else base
