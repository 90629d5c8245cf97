"""Training loop of the motion denoiser (CPU, one CUDA device, or several with ``torchrun``).

Each step draws random windows (:class:`.data.WindowSampler`), standardises them, draws a time
``t ~ U(0, 1)`` and noise per window, and minimises the masked x0 error plus ``velocity_weight``
times the error of frame-to-frame differences (which keeps the timing of mouth movements sharp).
Condition dropout: audio (-> classifier-free guidance), the previous window (-> the first window of
a clip), and each control group independently. Under ``torchrun`` (``WORLD_SIZE > 1``) the model is
wrapped in DistributedDataParallel, each rank draws its own windows, and rank 0 writes the checkpoint.
"""

from __future__ import annotations

import math
import os
import sys
import time
from dataclasses import dataclass, field

import numpy as np
import torch

from forgebench.generator.motion.diffusion.config import CONTROL_GROUPS, ModelConfig, TrainConfig
from forgebench.generator.motion.diffusion.data import ClipData, WindowSampler
from forgebench.generator.motion.diffusion.model import MotionDenoiser
from forgebench.generator.motion.diffusion.schedule import CosineSchedule
from forgebench.generator.motion.diffusion.space import Normaliser


@dataclass
class TrainResult:
    model: MotionDenoiser
    norm: Normaliser
    history: list[tuple[int, float]] = field(default_factory=list)  # (step, mean train loss since last log)
    val_loss: float = float("nan")
    seconds: float = 0.0
    steps: int = 0


def fit_normaliser(clips: list[ClipData], window: int, n_windows: int = 2000, seed: int = 0) -> Normaliser:
    sampler = WindowSampler(clips, window, 0, seed=seed + 1)
    controls = sampler.sample(n_windows)["controls"]
    return Normaliser.fit([c.motion[c.valid] for c in clips], [c.audio for c in clips], controls)


def to_tensors(batch: dict[str, np.ndarray], norm: Normaliser, device: str | torch.device) -> dict[str, torch.Tensor]:
    """Standardise a sampled batch and move it to ``device``."""
    def t(x: np.ndarray) -> torch.Tensor:
        return torch.as_tensor(np.asarray(x, np.float32), device=device)

    return {
        "motion": t((batch["motion"] - norm.motion_mean) / norm.motion_std),
        "audio": t((batch["audio"] - norm.audio_mean) / norm.audio_std),
        "prev": t((batch["prev"] - norm.motion_mean) / norm.motion_std),
        "has_prev": torch.as_tensor(batch["has_prev"], device=device),
        "valid": t(batch["valid"]),
        "controls": t((batch["controls"] - norm.control_mean) / norm.control_std),
    }


def diffusion_loss(model: torch.nn.Module, b: dict[str, torch.Tensor], cfg: TrainConfig, gen: torch.Generator,
                   schedule: CosineSchedule, drop: bool = True) -> torch.Tensor:
    """Masked x0 MSE + velocity MSE for one batch, with condition dropout when ``drop``."""
    x0 = b["motion"]
    n, device = x0.shape[0], x0.device

    def u(*shape: int) -> torch.Tensor:
        return torch.rand(*shape, generator=gen).to(device)

    t = u(n)
    noise = torch.randn(x0.shape, generator=gen).to(device)
    x_t = schedule.add_noise(x0, noise, t)
    p_a, p_c, p_g = (cfg.p_drop_audio, cfg.p_drop_context, cfg.p_drop_control) if drop else (0.0, 0.0, 0.0)
    audio_mask = u(n) >= p_a
    prev_mask = b["has_prev"] & (u(n) >= p_c)
    control_mask = u(n, len(CONTROL_GROUPS)) >= p_g
    prev = b["prev"] + cfg.context_noise * torch.randn(b["prev"].shape, generator=gen).to(device)
    pred = model(x_t, t, b["audio"], prev, prev_mask, b["controls"], control_mask, audio_mask)
    m = b["valid"][..., None]
    loss = ((pred - x0) ** 2 * m).sum() / (m.sum() * x0.shape[-1]).clamp(min=1)
    if cfg.velocity_weight > 0:
        mv = m[:, 1:] * m[:, :-1]
        dv = (pred[:, 1:] - pred[:, :-1]) - (x0[:, 1:] - x0[:, :-1])
        loss = loss + cfg.velocity_weight * (dv**2 * mv).sum() / (mv.sum() * x0.shape[-1]).clamp(min=1)
    return loss


def _lr(step: int, cfg: TrainConfig) -> float:
    if step < cfg.warmup:
        return cfg.lr * (step + 1) / cfg.warmup
    progress = (step - cfg.warmup) / max(1, cfg.steps - cfg.warmup)
    return cfg.lr * (0.05 + 0.95 * 0.5 * (1 + math.cos(math.pi * progress)))


def _distributed(device: str) -> tuple[int, int, str]:
    """(rank, world size, device) — initialises torch.distributed under torchrun."""
    world = int(os.environ.get("WORLD_SIZE", "1"))
    if world <= 1:
        return 0, 1, device
    import torch.distributed as dist

    local = int(os.environ.get("LOCAL_RANK", "0"))
    if device.startswith("cuda"):
        torch.cuda.set_device(local)
        device = f"cuda:{local}"
    if not dist.is_initialized():
        dist.init_process_group(backend="nccl" if device.startswith("cuda") else "gloo")
    return dist.get_rank(), world, device


def train(clips: list[ClipData], model_cfg: ModelConfig, cfg: TrainConfig, device: str = "cpu",
          val_clips: list[ClipData] | None = None, progress: bool = True, log_every: int = 100) -> TrainResult:
    """Train a denoiser on ``clips``; returns the (unwrapped) model on CPU and its normaliser."""
    from forgebench.progress import tqdm

    if device == "cpu":
        torch.set_num_threads(max(1, cfg.threads))
    rank, world, device = _distributed(device)
    torch.manual_seed(cfg.seed)
    norm = fit_normaliser(clips, model_cfg.window, seed=cfg.seed)
    model = MotionDenoiser(model_cfg).to(device)
    net: torch.nn.Module = model
    if world > 1:
        from torch.nn.parallel import DistributedDataParallel

        net = DistributedDataParallel(model, device_ids=[torch.device(device).index] if "cuda" in device else None)
    opt = torch.optim.AdamW(model.parameters(), lr=cfg.lr, weight_decay=cfg.weight_decay)
    sampler = WindowSampler(clips, model_cfg.window, model_cfg.context, seed=cfg.seed * 1000 + rank)
    gen = torch.Generator().manual_seed(cfg.seed * 1000 + rank)
    schedule = CosineSchedule()
    result = TrainResult(model=model, norm=norm)
    t0, running, count = time.perf_counter(), 0.0, 0
    bar = tqdm(range(cfg.steps), disable=not progress or rank != 0, desc="train motion", file=sys.stderr)
    net.train()
    for step in bar:
        for group in opt.param_groups:
            group["lr"] = _lr(step, cfg)
        batch = to_tensors(sampler.sample(cfg.batch_size), norm, device)
        loss = diffusion_loss(net, batch, cfg, gen, schedule)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), cfg.grad_clip)
        opt.step()
        running, count = running + loss.item(), count + 1
        if (step + 1) % log_every == 0 or step + 1 == cfg.steps:
            result.history.append((step + 1, running / count))
            bar.set_postfix(loss=f"{running / count:.4f}")
            running, count = 0.0, 0
    result.seconds = time.perf_counter() - t0
    result.steps = cfg.steps
    model.eval()
    if val_clips:
        result.val_loss = evaluate_loss(model, norm, val_clips, cfg, device)
    result.model = model.cpu()
    return result


@torch.no_grad()
def evaluate_loss(model: MotionDenoiser, norm: Normaliser, clips: list[ClipData], cfg: TrainConfig,
                  device: str = "cpu", n_batches: int = 8, seed: int = 123) -> float:
    """Mean diffusion loss on fixed random windows of ``clips`` (no condition dropout)."""
    sampler = WindowSampler(clips, model.config.window, model.config.context, seed=seed)
    gen = torch.Generator().manual_seed(seed)
    losses = [float(diffusion_loss(model, to_tensors(sampler.sample(cfg.batch_size), norm, device), cfg, gen,
                                   CosineSchedule(), drop=False)) for _ in range(n_batches)]
    return float(np.mean(losses))
