"""Motion generators: audio features + source state -> MotionTrack, chosen by name from :data:`motion_registry`."""

from __future__ import annotations

from forgebench.generator.motion.base import MotionGenerator, SourceState, motion_registry, register_motion
from forgebench.generator.motion.procedural import ProceduralConfig, ProceduralMotion

__all__ = [
    "MotionGenerator",
    "ProceduralConfig",
    "ProceduralMotion",
    "SourceState",
    "motion_registry",
    "register_motion",
]
