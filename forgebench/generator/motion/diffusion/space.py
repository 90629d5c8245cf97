"""The model's coordinate system: motion relative to a reference state, audio as a speaker-normalised vector.

Motion generators output ABSOLUTE values but the renderer renders the difference from the source
image's measured state, and real clips differ in camera, face size and resting expression. So the
model works on *offsets from a reference* (:class:`Reference`): for generation the reference is the
source image's :class:`SourceState`; for a training clip it is the clip's robust resting state.

Relative motion, per frame (15 values, the order of :meth:`MotionTrack.features`):

* yaw, pitch, roll: degrees minus the reference's;
* tx, ty: offset from the reference position in inter-ocular distances (divided by the reference scale);
* scale: ``log(scale / reference scale)``;
* jaw_open, mouth_width, pucker, smile, brow_raise: IOD minus the reference's;
* blinks: closure as a fraction of the way from the reference to shut, ``(v - ref) / (1 - ref)``;
* gaze: eye widths minus the reference's.

The checkpoint stores a global mean/std per value (``Normaliser``) that standardises these.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from forgebench.generator.audio_features import AudioFeatures
from forgebench.generator.motion.base import SourceState
from forgebench.records import EXPRESSION_NAMES, MotionTrack

_JAW = 6 + EXPRESSION_NAMES.index("jaw_open")
_BLINKS = [6 + EXPRESSION_NAMES.index("blink_left"), 6 + EXPRESSION_NAMES.index("blink_right")]
_SMILE = 6 + EXPRESSION_NAMES.index("smile")
JAW_REST_MAX = 0.02  # IOD: a source photographed mid-word still rests with the mouth (nearly) closed


@dataclass
class Reference:
    """An absolute 15-vector that relative motion is measured from."""

    values: np.ndarray  # [15] pose 6, expression 7, gaze 2

    @classmethod
    def from_source(cls, source: SourceState) -> Reference:
        v = np.concatenate([source.pose, source.expression, source.gaze]).astype(np.float64)
        v[_JAW] = np.clip(v[_JAW], 0.0, JAW_REST_MAX)  # as the procedural baseline: rest is closed
        v[_BLINKS] = np.clip(v[_BLINKS], 0.0, 0.9)
        v[5] = max(v[5], 1e-3)
        return cls(v)

    @classmethod
    def of_track(cls, track: MotionTrack) -> Reference:
        """A measured clip's resting state: median pose/expression/gaze; jaw and eyes at their open/closed rest."""
        x = track.features()[track.valid].astype(np.float64)
        if len(x) == 0:
            x = track.features().astype(np.float64)
        v = np.median(x, axis=0)
        v[_JAW] = np.percentile(x[:, _JAW], 5)  # the mouth rests closed between phrases
        v[_BLINKS] = np.percentile(x[:, _BLINKS], 10, axis=0)  # eyes rest open between blinks
        v[_BLINKS] = np.clip(v[_BLINKS], 0.0, 0.9)
        v[5] = max(v[5], 1e-3)
        return cls(v)


def to_relative(features: np.ndarray, ref: Reference) -> np.ndarray:
    """[T, 15] absolute MotionTrack features -> [T, 15] relative motion (see the module docstring)."""
    x = np.asarray(features, np.float64)
    r = ref.values
    out = x - r[None]
    out[:, 3:5] /= r[5]
    out[:, 5] = np.log(np.maximum(x[:, 5], 1e-6) / r[5])
    out[:, _BLINKS] /= 1.0 - r[_BLINKS]
    return out.astype(np.float32)


def from_relative(rel: np.ndarray, ref: Reference) -> np.ndarray:
    """Inverse of :func:`to_relative`; blinks are clipped to [0, 1] closure and jaw to >= 0."""
    x = np.asarray(rel, np.float64)
    r = ref.values
    out = x + r[None]
    out[:, 3:5] = r[3:5] + x[:, 3:5] * r[5]
    out[:, 5] = r[5] * np.exp(x[:, 5])
    out[:, _BLINKS] = np.clip(r[_BLINKS] + x[:, _BLINKS] * (1.0 - r[_BLINKS]), 0.0, 1.0)
    out[:, _JAW] = np.maximum(out[:, _JAW], 0.0)
    return out.astype(np.float32)


def audio_condition(features: AudioFeatures) -> np.ndarray:
    """[T, 408] per-frame audio condition, invariant to the recording level and the speaker's pitch.

    Columns: the 5 x 80 log-mel context minus the clip's mean log-mel over speech frames (cepstral
    mean normalisation: removes channel and loudness); energy relative to the clip's loud level
    (95th percentile of speech frames) / 10 dB; voiced; F0 in octaves above the clip's median F0;
    pitched flag; log2 spectral centroid over the clip's median; the 3 band energies relative to the
    loud level / 10 dB.
    """
    t = features.n_frames
    voiced = features.voiced.astype(bool)
    speech = voiced if voiced.any() else np.ones(t, bool)
    mel = features.mel.astype(np.float64)  # [T, 5, 80]
    centre = mel[:, mel.shape[1] // 2]
    mel = (mel - centre[speech].mean(axis=0)[None, None]).reshape(t, -1)
    energy = features.energy.astype(np.float64)
    loud = float(np.percentile(energy[speech], 95))
    pitch = features.pitch.astype(np.float64)
    pitched = pitch > 0
    f0 = float(np.median(pitch[pitched])) if pitched.any() else 100.0
    octaves = np.where(pitched, np.log2(np.maximum(pitch, 1.0) / f0), 0.0)
    centroid = np.maximum(features.spectral_centroid.astype(np.float64), 1.0)
    c0 = float(np.median(centroid[speech]))
    scalars = np.stack(
        [(energy - loud) / 10.0, voiced.astype(np.float64), octaves, pitched.astype(np.float64),
         np.log2(centroid / c0)] + [(features.band_energy[:, i] - loud) / 10.0 for i in range(3)],
        axis=1,
    )
    out = np.concatenate([mel, np.clip(scalars, -8.0, 8.0)], axis=1)
    return out.astype(np.float32)


def window_controls(rel: np.ndarray) -> np.ndarray:
    """[5] the control values a window of relative motion [W, 15] exhibits (see ``CONTROL_GROUPS``)."""
    rel = np.asarray(rel, np.float64)
    gaze = rel[:, 13:15].mean(axis=0)
    distance = rel[:, 5].mean()
    intensity = rel[:, 0:3].std(axis=0).mean()
    emotion = rel[:, _SMILE].mean()
    return np.array([gaze[0], gaze[1], distance, intensity, emotion], np.float32)


@dataclass
class Normaliser:
    """Global standardisation of relative motion, audio condition and controls (stored in the checkpoint)."""

    motion_mean: np.ndarray
    motion_std: np.ndarray
    audio_mean: np.ndarray
    audio_std: np.ndarray
    control_mean: np.ndarray
    control_std: np.ndarray

    @classmethod
    def fit(cls, motions: list[np.ndarray], audios: list[np.ndarray], controls: np.ndarray) -> Normaliser:
        m, a = np.concatenate(motions), np.concatenate(audios)

        def stats(x: np.ndarray, floor: float) -> tuple[np.ndarray, np.ndarray]:
            return x.mean(axis=0).astype(np.float32), np.maximum(x.std(axis=0), floor).astype(np.float32)

        mm, ms = stats(m, 1e-3)
        am, as_ = stats(a, 1e-2)
        cm, cs = stats(np.asarray(controls, np.float64).reshape(-1, controls.shape[-1]), 1e-3)
        return cls(mm, ms, am, as_, cm, cs)

    def tensors(self) -> dict[str, np.ndarray]:
        return {f"norm.{k}": np.asarray(v, np.float32) for k, v in self.__dict__.items()}

    @classmethod
    def from_tensors(cls, tensors: dict[str, np.ndarray]) -> Normaliser:
        return cls(**{k[len("norm."):]: np.asarray(v, np.float32) for k, v in tensors.items() if k.startswith("norm.")})
