"""The motion-generator contract: audio features + the source's measured state -> MotionTrack.

A motion generator outputs ABSOLUTE pose/expression/gaze values in the units of
:mod:`forgebench.records`; the renderer renders the difference from the source image's measured
values (:class:`SourceState`, filled by the analyzer). Generators register by name:

>>> from forgebench.generator.motion import motion_registry
>>> "procedural" in motion_registry
True
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from forgebench.errors import InputError
from forgebench.generator.audio_features import AudioFeatures
from forgebench.records import EXPRESSION_NAMES, GAZE_NAMES, POSE_NAMES, MotionTrack
from forgebench.registry import Registry


@dataclass
class SourceState:
    """The source image's measured pose (6,), expression (7,) and gaze (2,), in MotionTrack units."""

    pose: np.ndarray
    expression: np.ndarray
    gaze: np.ndarray

    def __post_init__(self) -> None:
        self.pose = np.asarray(self.pose, dtype=np.float64).reshape(-1)
        self.expression = np.asarray(self.expression, dtype=np.float64).reshape(-1)
        self.gaze = np.asarray(self.gaze, dtype=np.float64).reshape(-1)
        for name, size in (("pose", len(POSE_NAMES)), ("expression", len(EXPRESSION_NAMES)), ("gaze", len(GAZE_NAMES))):
            value = getattr(self, name)
            if value.shape != (size,) or not np.isfinite(value).all():
                raise InputError(f"SourceState.{name} must be {size} finite numbers, got {value.tolist()}")

    @classmethod
    def neutral(cls) -> SourceState:
        """A frontal, centred face with closed mouth and open eyes (typical measured values)."""
        return cls(
            pose=np.array([0.0, 0.0, 0.0, 0.5, 0.45, 0.25]),
            expression=np.array([0.01, 0.85, 0.0, 0.0, 0.0, 0.0, 0.35]),
            gaze=np.zeros(2),
        )

    @classmethod
    def from_track(cls, track: MotionTrack, frame: int = 0) -> SourceState:
        """The state of one frame of a measured track (e.g. the analyzer's one-frame track of an image)."""
        return cls(pose=track.pose[frame], expression=track.expression[frame], gaze=track.gaze[frame])

    def expr(self, name: str) -> float:
        return float(self.expression[EXPRESSION_NAMES.index(name)])


class MotionGenerator:
    """Base class: ``generate(features, source, seed, **controls) -> MotionTrack``.

    ``controls`` are generator-specific named overrides (e.g. head-motion scale, gaze target); an
    unknown control raises :class:`InputError`. The same inputs and seed must give the same track.
    """

    registry_name: str = ""

    def generate(self, features: AudioFeatures, source: SourceState, seed: int, **controls: object) -> MotionTrack:
        raise NotImplementedError

    def generate_window(
        self, features: AudioFeatures, source: SourceState, seed: int, start: int, stop: int, **controls: object
    ) -> MotionTrack:
        """Frames ``[start, stop)`` (indices relative to ``features``).

        This default generates the whole track and slices it; generators that can stream override it.
        """
        return self.generate(features, source, seed, **controls).slice(start, stop)


def _load_builtin() -> None:
    import forgebench.generator.motion.builtin  # noqa: F401  (registers procedural and diffusion)


motion_registry: Registry[MotionGenerator] = Registry("motion generator", MotionGenerator, load=_load_builtin)
register_motion = motion_registry.register
