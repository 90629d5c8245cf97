"""Registers the built-in motion generators: ``procedural`` and ``diffusion``.

The motion registry imports this module on its first lookup. ``diffusion`` is registered through a
proxy, so that naming the registry does not import torch.
"""

from __future__ import annotations

from forgebench.generator.motion.base import MotionGenerator, register_motion
from forgebench.generator.motion.procedural import ProceduralMotion

__all__ = ["LazyDiffusionMotion", "ProceduralMotion"]


@register_motion("diffusion")
class LazyDiffusionMotion(MotionGenerator):
    """Diffusion-transformer motion. ``checkpoint``: a folder from ``forgebench train motion`` (default: shipped).

    Registered through this proxy so that naming the registry does not import torch;
    building it returns a :class:`forgebench.generator.motion.diffusion.DiffusionMotion`.
    """

    def __new__(cls, **params: object) -> MotionGenerator:  # type: ignore[misc]
        from forgebench.generator.motion.diffusion import DiffusionMotion

        return DiffusionMotion(**params)
