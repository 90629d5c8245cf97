"""VASA-style motion diffusion: a transformer denoiser over MotionTrack windows conditioned on audio.

The ``diffusion`` motion generator is registered by :mod:`forgebench.generator.motion` through a proxy;
:class:`DiffusionMotion` is imported on first use, so importing this package (or its light
:mod:`.config`, as the command line does) does not import torch.
Modules: :mod:`.config` (typed configs), :mod:`.space` (normalised motion/audio space), :mod:`.model`
(the network), :mod:`.schedule` (noise schedule + DDIM), :mod:`.visemes` and :mod:`.corpus` (TTS
training data), :mod:`.data` (datasets), :mod:`.train`, :mod:`.checkpoint_io`, :mod:`.generator`,
:mod:`.bench` (speed), :mod:`.commands` (CLI). The held-out evaluation scores generators, so it
lives in :mod:`forgebench.benchmarks.motion_eval`.
"""

from __future__ import annotations

__all__ = ["DiffusionMotion"]


def __getattr__(name: str):  # PEP 562: torch loads when DiffusionMotion is first asked for
    if name == "DiffusionMotion":
        from forgebench.generator.motion.diffusion.generator import DiffusionMotion

        return DiffusionMotion
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
