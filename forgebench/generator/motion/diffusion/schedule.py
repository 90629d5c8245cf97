"""The noise schedule and the DDIM sampler, separate from the denoiser network (scheduler vs model).

Continuous time ``t`` in [0, 1]. Cosine schedule (Nichol & Dhariwal 2021, Eq. 17):
``alpha_bar(t) = cos^2(((t + s) / (1 + s)) * pi / 2) / cos^2((s / (1 + s)) * pi / 2)``, s = 0.008,
clipped to [1e-4, 1]. Forward process (DDPM Eq. 4): ``x_t = sqrt(ab) x0 + sqrt(1 - ab) eps``.

The network predicts ``x0``. DDIM (Song et al. 2021, Eq. 12) steps from ``t`` to ``t' < t``:
``eps_hat = (x_t - sqrt(ab) x0_hat) / sqrt(1 - ab)``,
``x_t' = sqrt(ab') x0_hat + sqrt(1 - ab' - sigma^2) eps_hat + sigma z`` with
``sigma = eta sqrt((1 - ab') / (1 - ab)) sqrt(1 - ab / ab')``; ``eta = 0`` is deterministic given the
initial noise. Classifier-free guidance (Ho & Salimans 2022, Eq. 6) on the prediction:
``x0 = x0_uncond + w (x0_cond - x0_uncond)``.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import torch

COSINE_S = 0.008
AB_MIN = 1e-4


@dataclass(frozen=True)
class CosineSchedule:
    """``alpha_bar(t)`` of the cosine schedule, on tensors of times in [0, 1]."""

    s: float = COSINE_S

    def alpha_bar(self, t: torch.Tensor) -> torch.Tensor:
        f = torch.cos((t + self.s) / (1 + self.s) * math.pi / 2) ** 2
        f0 = math.cos(self.s / (1 + self.s) * math.pi / 2) ** 2
        return (f / f0).clamp(AB_MIN, 1.0)

    def add_noise(self, x0: torch.Tensor, noise: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
        """``x_t`` for a batch: ``x0``, ``noise`` [B, ...], ``t`` [B]."""
        ab = self.alpha_bar(t).view(-1, *([1] * (x0.dim() - 1)))
        return ab.sqrt() * x0 + (1 - ab).sqrt() * noise


Denoise = Callable[[torch.Tensor, torch.Tensor], torch.Tensor]  # (x_t [B, W, D], t [B]) -> x0_hat


def ddim_sample(
    denoise: Denoise, noise: torch.Tensor, steps: int, schedule: CosineSchedule | None = None, eta: float = 0.0,
    generator: torch.Generator | None = None, clip_x0: float | None = 6.0, known: torch.Tensor | None = None,
) -> torch.Tensor:
    """Run DDIM from ``x_1 = noise`` [B, W, D] to ``x_0`` in ``steps`` uniform steps of t; returns x0.

    ``clip_x0`` bounds the predicted x0 (in standardised units) at every step, as DDPM's
    ``clip_denoised`` does for images; ``None`` disables it. ``generator`` feeds the ``eta > 0`` noise.
    ``known`` [B, K, D] fixes the first K frames (inpainting, as RePaint/SDEdit do): before every
    step they are replaced by ``known`` noised to the current time with the initial noise's own
    values, and the result's first K frames equal ``known`` exactly, so the sampled frames continue
    them.
    """
    schedule = schedule or CosineSchedule()
    times = torch.linspace(1.0, 0.0, steps + 1, dtype=noise.dtype)
    b = noise.shape[0]
    k = 0 if known is None else known.shape[1]

    def impose(x: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
        if not k:
            return x
        ab = schedule.alpha_bar(t)
        x = x.clone()
        x[:, :k] = ab.sqrt() * known + (1 - ab).sqrt() * noise[:, :k]
        return x

    x = impose(noise, times[0])
    x0 = noise
    for i in range(steps):
        t, t_next = times[i], times[i + 1]
        x0 = denoise(x, t.expand(b))
        if clip_x0 is not None:
            x0 = x0.clamp(-clip_x0, clip_x0)
        if k:
            x0 = x0.clone()
            x0[:, :k] = known
        if i == steps - 1:
            break
        ab, ab_next = schedule.alpha_bar(t), schedule.alpha_bar(t_next)
        eps = (x - ab.sqrt() * x0) / (1 - ab).sqrt()
        sigma = eta * ((1 - ab_next) / (1 - ab)).sqrt() * (1 - ab / ab_next).clamp(min=0).sqrt()
        x = ab_next.sqrt() * x0 + (1 - ab_next - sigma**2).clamp(min=0).sqrt() * eps
        if eta > 0:
            x = x + sigma * torch.randn(x.shape, generator=generator, dtype=x.dtype)
        x = impose(x, t_next)
    return x0


def guided(cond: Denoise, uncond: Denoise | None, scale: float) -> Denoise:
    """Classifier-free guidance: ``uncond + scale (cond - uncond)``; scale 1 (or no uncond) is ``cond``."""
    if uncond is None or scale == 1.0:
        return cond

    def denoise(x: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
        c, u = cond(x, t), uncond(x, t)
        return u + scale * (c - u)

    return denoise
