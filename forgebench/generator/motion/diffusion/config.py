"""Typed configs of the motion diffusion model: one source of defaults for the network, training and sampling.

The motion a model sees is the 15-vector of :meth:`forgebench.records.MotionTrack.features` in the
*normalised space* of :mod:`.space` (relative to each clip's reference state, then standardised);
the audio condition is the 408-vector of :func:`.space.audio_condition` per video frame.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, fields
from typing import Any

from forgebench.errors import InputError

MOTION_DIM = 15  # pose 6 + expression 7 + gaze 2
AUDIO_DIM = 408  # mel context 5 x 80 + 8 prosody/spectral scalars
# Control groups (name, width): each is given or masked independently (classifier-free style).
CONTROL_GROUPS: tuple[tuple[str, int], ...] = (
    ("gaze", 2),  # window-mean gaze offset from the reference, eye widths
    ("head_distance", 1),  # window-mean log scale ratio (> 0: closer to the camera)
    ("intensity", 1),  # head-motion std over the window (degrees, mean of yaw/pitch/roll)
    ("emotion", 1),  # window-mean smile offset from the reference (IOD)
)
CONTROL_DIM = sum(w for _, w in CONTROL_GROUPS)
FORMAT = "forgebench.motion.diffusion/1"


def _from_dict(cls: type, data: dict[str, Any], what: str) -> Any:
    known = {f.name for f in fields(cls)}
    unknown = sorted(set(data) - known)
    if unknown:
        raise InputError(f"{what}: unknown field(s) {', '.join(unknown)}; known: {', '.join(sorted(known))}")
    return cls(**data)


@dataclass(frozen=True)
class ModelConfig:
    """The denoiser's shape. ``window`` frames are generated per pass, ``context`` clean frames precede them."""

    d_model: int = 64
    n_layers: int = 4
    n_heads: int = 4
    ffn_mult: int = 2
    dropout: float = 0.0
    window: int = 100  # frames per window (4 s at 25 fps)
    context: int = 10  # previous-window frames given as prefix tokens
    motion_dim: int = MOTION_DIM
    audio_dim: int = AUDIO_DIM
    control_dim: int = CONTROL_DIM
    prediction: str = "x0"  # the network predicts the clean motion (x0); DDIM derives eps from it

    def __post_init__(self) -> None:
        if min(self.d_model, self.n_layers, self.n_heads, self.ffn_mult, self.window) <= 0 or self.context < 0:
            raise InputError("ModelConfig: d_model, n_layers, n_heads, ffn_mult and window must be > 0, context >= 0")
        if self.d_model % self.n_heads:
            raise InputError(f"ModelConfig: d_model {self.d_model} is not divisible by n_heads {self.n_heads}")
        if self.prediction != "x0":
            raise InputError(f"ModelConfig: prediction {self.prediction!r} is not supported (use 'x0')")
        if (self.motion_dim, self.audio_dim, self.control_dim) != (MOTION_DIM, AUDIO_DIM, CONTROL_DIM):
            raise InputError(
                f"ModelConfig: motion/audio/control dims {self.motion_dim}/{self.audio_dim}/{self.control_dim} "
                f"do not match this forgebench ({MOTION_DIM}/{AUDIO_DIM}/{CONTROL_DIM}): retrain the checkpoint"
            )

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> ModelConfig:
        return _from_dict(cls, data, "motion diffusion model config")


@dataclass(frozen=True)
class TrainConfig:
    """Optimisation and condition-dropout settings of ``forgebench train motion``."""

    steps: int = 4000
    batch_size: int = 16
    lr: float = 2e-3
    weight_decay: float = 0.01
    warmup: int = 100
    grad_clip: float = 1.0
    p_drop_audio: float = 0.15  # classifier-free guidance: audio replaced by the learned null
    p_drop_context: float = 0.15  # the first window of a clip has no previous motion
    p_drop_control: float = 0.5  # each control group independently
    velocity_weight: float = 0.5  # weight of the frame-difference loss (smoothness and timing)
    context_noise: float = 0.05  # std of noise added to the clean prefix (robust to its own samples)
    seed: int = 0
    threads: int = 1

    def __post_init__(self) -> None:
        if self.steps <= 0 or self.batch_size <= 0 or not self.lr > 0:
            raise InputError("TrainConfig: steps, batch_size and lr must be > 0")
        for name in ("p_drop_audio", "p_drop_context", "p_drop_control"):
            if not 0.0 <= getattr(self, name) <= 1.0:
                raise InputError(f"TrainConfig: {name} must be in [0, 1]")

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> TrainConfig:
        return _from_dict(cls, data, "motion diffusion training config")


@dataclass(frozen=True)
class SampleConfig:
    """Sampling defaults; each field is also a per-call control of the generator."""

    steps: int = 8  # DDIM steps per window
    cfg: float = 2.0  # classifier-free guidance scale on audio (1: no guidance)
    eta: float = 0.0  # 0: deterministic DDIM given the initial noise
    fps: float = 25.0  # the frame rate the model was trained at
    pose_smooth_s: float = 0.0  # zero-phase 2-pole low-pass on head pose after sampling (0: off, the default)
    seam_fade: int = 10  # frames over which each window's new frames are blended onto the inpainted ones (0: off)

    def __post_init__(self) -> None:
        if self.steps <= 0 or not self.cfg >= 0 or not self.eta >= 0 or not self.pose_smooth_s >= 0:
            raise InputError("sampling: steps must be > 0, cfg, eta and pose_smooth_s >= 0")
        if self.seam_fade < 0:
            raise InputError("sampling: seam_fade must be >= 0")


def dumps(obj: Any) -> str:
    return json.dumps(asdict(obj) if hasattr(obj, "__dataclass_fields__") else obj, indent=2, sort_keys=True)
