"""VASA-style motion diffusion: a transformer denoiser over MotionTrack windows conditioned on audio.

Importing this package registers the ``diffusion`` motion generator (:class:`DiffusionMotion`).
Modules: :mod:`.config` (typed configs), :mod:`.space` (normalised motion/audio space), :mod:`.model`
(the network), :mod:`.schedule` (noise schedule + DDIM), :mod:`.visemes` and :mod:`.corpus` (TTS
training data), :mod:`.data` (datasets), :mod:`.train`, :mod:`.checkpoint_io`, :mod:`.generator`,
:mod:`.evaluate`, :mod:`.commands` (CLI).
"""

from __future__ import annotations

from forgebench.generator.motion.diffusion.generator import DiffusionMotion

__all__ = ["DiffusionMotion"]
