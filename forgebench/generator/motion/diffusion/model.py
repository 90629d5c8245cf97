"""The denoiser: a transformer over a window of motion frames, conditioned on audio, the previous motion,
the diffusion time and optional controls (VASA-1's holistic dynamics model, small).

Token sequence for one window (``K = context``, ``W = window``):

``[control token] + K prefix tokens (previous window's last clean frames) + W frame tokens``

* frame token ``i`` = ``Linear(x_t[i]) + Linear(audio[i]) + pos[K + 1 + i]``; when audio is dropped
  (classifier-free guidance) the audio term is a learned null vector;
* prefix token ``j`` = ``Linear(prev[j]) + pos[1 + j]``, or a learned null per position when there is
  no previous window;
* control token = ``MLP(time embedding) + sum_g (Linear_g(control_g) if given else null_g)``;
* the control token's embedding (time + controls) is also added to every token (a cheap form of
  conditioning every layer on them).

A pre-norm ``nn.TransformerEncoder`` (bidirectional attention over the window) and a linear head
give ``x0_hat`` [B, W, motion_dim] for the frame tokens.
"""

from __future__ import annotations

import math

import torch
from torch import nn

from forgebench.generator.motion.diffusion.config import CONTROL_GROUPS, ModelConfig


def timestep_embedding(t: torch.Tensor, dim: int, max_period: float = 10000.0) -> torch.Tensor:
    """[B, dim] sinusoidal embedding of continuous times ``t`` [B] in [0, 1] (scaled by 1000, as DDPM's steps)."""
    half = dim // 2
    freqs = torch.exp(-math.log(max_period) * torch.arange(half, dtype=torch.float32) / half)
    args = 1000.0 * t.float()[:, None] * freqs[None]
    return torch.cat([torch.cos(args), torch.sin(args)], dim=1)


class MotionDenoiser(nn.Module):
    """``forward(x_t, t, audio, prev, prev_mask, controls, control_mask, audio_mask) -> x0_hat``.

    Shapes: ``x_t`` [B, W, 15]; ``t`` [B]; ``audio`` [B, W, 408]; ``prev`` [B, K, 15];
    ``prev_mask`` [B] bool (False: no previous window); ``controls`` [B, 5];
    ``control_mask`` [B, n_groups] bool; ``audio_mask`` [B] bool (False: audio dropped).
    """

    def __init__(self, config: ModelConfig) -> None:
        super().__init__()
        self.config = c = config
        d = c.d_model
        self.in_proj = nn.Linear(c.motion_dim, d)
        self.audio_proj = nn.Sequential(nn.Linear(c.audio_dim, d), nn.GELU(), nn.Linear(d, d))
        self.audio_null = nn.Parameter(torch.zeros(d))
        self.prev_proj = nn.Linear(c.motion_dim, d)
        self.prev_null = nn.Parameter(torch.zeros(max(c.context, 1), d))
        self.time_mlp = nn.Sequential(nn.Linear(d, d), nn.SiLU(), nn.Linear(d, d))
        self.control_proj = nn.ModuleList(nn.Linear(w, d) for _, w in CONTROL_GROUPS)
        self.control_null = nn.Parameter(torch.zeros(len(CONTROL_GROUPS), d))
        self.pos = nn.Parameter(torch.randn(1 + c.context + c.window, d) * 0.02)
        layer = nn.TransformerEncoderLayer(
            d, c.n_heads, c.ffn_mult * d, c.dropout, activation="gelu", batch_first=True, norm_first=True
        )
        self.encoder = nn.TransformerEncoder(layer, c.n_layers, enable_nested_tensor=False)
        self.norm = nn.LayerNorm(d)
        self.head = nn.Linear(d, c.motion_dim)
        nn.init.zeros_(self.head.weight)  # start as "predict the mean motion"
        nn.init.zeros_(self.head.bias)
        self._group_slices = []
        start = 0
        for _, w in CONTROL_GROUPS:
            self._group_slices.append(slice(start, start + w))
            start += w

    def forward(
        self, x_t: torch.Tensor, t: torch.Tensor, audio: torch.Tensor, prev: torch.Tensor, prev_mask: torch.Tensor,
        controls: torch.Tensor, control_mask: torch.Tensor, audio_mask: torch.Tensor,
    ) -> torch.Tensor:
        c = self.config
        b, w, _ = x_t.shape
        if w > c.window:
            raise ValueError(f"window of {w} frames is longer than the model's {c.window}")
        temb = self.time_mlp(timestep_embedding(t, c.d_model))  # [B, d]

        a = self.audio_proj(audio)
        a = torch.where(audio_mask[:, None, None], a, self.audio_null.expand_as(a))
        frames = self.in_proj(x_t) + a

        k = c.context
        if k:
            p = self.prev_proj(prev)
            p = torch.where(prev_mask[:, None, None], p, self.prev_null[None].expand_as(p))
        else:
            p = frames[:, :0]

        ctrl = temb
        for g, sl in enumerate(self._group_slices):
            e = self.control_proj[g](controls[:, sl])
            ctrl = ctrl + torch.where(control_mask[:, g : g + 1], e, self.control_null[g].expand_as(e))

        # The time + control embedding is also added to every token, so controls act directly on each frame.
        tokens = torch.cat([ctrl[:, None], p, frames], dim=1) + self.pos[None, : 1 + k + w] + ctrl[:, None]
        h = self.encoder(tokens)
        return self.head(self.norm(h[:, 1 + k :]))
