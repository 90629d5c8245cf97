"""Motion generators: audio features + source state -> MotionTrack, chosen by name from :data:`motion_registry`."""

from __future__ import annotations

from forgebench.generator.motion.base import MotionGenerator, SourceState, motion_registry, register_motion
from forgebench.generator.motion.procedural import ProceduralConfig, ProceduralMotion


@register_motion("diffusion")
class LazyDiffusionMotion(MotionGenerator):
    """Diffusion-transformer motion. ``checkpoint``: a folder from ``forgebench train motion`` (default: shipped).

    Registered through this proxy so that naming the registry does not import torch;
    building it returns a :class:`forgebench.generator.motion.diffusion.DiffusionMotion`.
    """

    def __new__(cls, **params: object) -> MotionGenerator:  # type: ignore[misc]
        from forgebench.generator.motion.diffusion import DiffusionMotion

        return DiffusionMotion(**params)

__all__ = [
    "MotionGenerator",
    "ProceduralConfig",
    "ProceduralMotion",
    "SourceState",
    "motion_registry",
    "register_motion",
]
