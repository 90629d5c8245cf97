"""The registered motion generator ``diffusion``: audio features -> MotionTrack with the trained denoiser.

Long audio is generated in windows of ``window`` frames that overlap by ``context`` frames (VASA-1's
sliding windows): a window's first ``context`` frames are the previous window's last ones, fixed by
inpainting, and the ``context`` frames before them are its prefix tokens. The small mismatch left where the
inpainted frames meet the new ones is faded out (:func:`continue_from`), so motion continues across window
edges. The last window is padded by repeating the last audio frame and cut back. Sampling is
DDIM (:mod:`.schedule`) with classifier-free guidance on the audio; the initial noise of every window
comes from one ``torch.Generator`` seeded with ``seed``, so the same inputs and seed give the same
track and different seeds give different head motion.

Controls (keyword arguments of :meth:`DiffusionMotion.generate`):

* ``cfg`` — guidance scale on audio (default 2.0; 1 = no guidance, 0 = audio ignored);
* ``steps`` — DDIM steps per window (default 8); ``eta`` — DDIM stochasticity (default 0);
* ``pose_smooth_s`` — time constant of the zero-phase low-pass on head pose (default 0: off; 0.04-0.08 s
  removes the sampler's frame-to-frame jitter);
* ``seam_fade`` — frames over which each window's first new frames are blended onto its inpainted
  context frames (default 10; 0: plain inpainting, which leaves a ~3x jump at window seams);
* ``gaze`` — ``(x, y)`` target gaze in eye widths (absolute, MotionTrack units);
* ``head_distance`` — face size relative to the source (1.1: 10 % closer);
* ``intensity`` — head-motion standard deviation in degrees (mean over yaw/pitch/roll);
* ``emotion`` — smile offset from the source's, in IOD (e.g. 0.03 smiles).
"""

from __future__ import annotations

import math
from dataclasses import replace
from importlib import resources
from pathlib import Path

import numpy as np
import torch

from forgebench.errors import InputError
from forgebench.generator.audio_features import AudioFeatures
from forgebench.generator.motion.base import MotionGenerator, SourceState
from forgebench.generator.motion.diffusion.checkpoint_io import load_checkpoint
from forgebench.generator.motion.diffusion.config import CONTROL_GROUPS, SampleConfig
from forgebench.generator.motion.diffusion.model import MotionDenoiser
from forgebench.generator.motion.diffusion.schedule import CosineSchedule, ddim_sample
from forgebench.generator.motion.diffusion.space import Normaliser, Reference, audio_condition, from_relative
from forgebench.generator.motion.procedural import _smooth
from forgebench.records import MotionTrack

_SMILE = 6 + 3  # expression column of "smile" in the 15-vector
CONTROLS = ("cfg", "steps", "eta", "pose_smooth_s", "seam_fade", "gaze", "head_distance", "intensity", "emotion")
_SAMPLING = ("cfg", "steps", "eta", "pose_smooth_s", "seam_fade")


def shipped_checkpoint() -> Path:
    """The folder of the checkpoint that ships with the package."""
    return Path(str(resources.files("forgebench.generator.motion.diffusion") / "checkpoint"))


class DiffusionMotion(MotionGenerator):
    """Diffusion-transformer motion. ``checkpoint``: a folder from ``forgebench train motion`` (default: shipped)."""

    def __init__(self, checkpoint: str | Path | None = None, threads: int | None = 1) -> None:
        folder = Path(checkpoint) if checkpoint is not None else shipped_checkpoint()
        model, norm, sample, config = load_checkpoint(folder)
        self.checkpoint = folder
        self.threads = threads
        self._setup(model, norm, sample)
        self.info = config

    @classmethod
    def from_model(cls, model: MotionDenoiser, norm: Normaliser, sample: SampleConfig | None = None) -> DiffusionMotion:
        """Wrap an in-memory model (tests, evaluation right after training)."""
        self = cls.__new__(cls)
        self.checkpoint, self.threads, self.info = None, 1, {}
        self._setup(model.eval(), norm, sample or SampleConfig())
        return self

    def _setup(self, model: MotionDenoiser, norm: Normaliser, sample: SampleConfig) -> None:
        self.model, self.norm, self.sample = model, norm, sample
        self.schedule = CosineSchedule()

    # -- controls ---------------------------------------------------------------------------------------
    def _controls(self, source: SourceState, ref: Reference, controls: dict) -> tuple[SampleConfig, np.ndarray,
                                                                                     np.ndarray]:
        unknown = sorted(set(controls) - set(CONTROLS))
        if unknown:
            raise InputError(f"diffusion motion: unknown control(s) {', '.join(unknown)}; known: {', '.join(CONTROLS)}")
        try:
            cast = {"steps": int, "seam_fade": int}
            sample = replace(self.sample, **{k: cast.get(k, float)(v) for k, v in controls.items()
                                             if k in _SAMPLING and v is not None})
        except (TypeError, ValueError) as exc:
            raise InputError(f"diffusion motion: bad sampling control ({exc})") from None
        values = np.zeros(5, np.float64)
        mask = np.zeros(len(CONTROL_GROUPS), bool)
        try:
            if controls.get("gaze") is not None:
                g = np.asarray(controls["gaze"], np.float64).reshape(2)
                values[0:2], mask[0] = g - ref.values[13:15], True
            if controls.get("head_distance") is not None:
                d = float(controls["head_distance"])
                if not d > 0:
                    raise ValueError("head_distance must be > 0 (1.0 keeps the source's size)")
                values[2], mask[1] = np.log(d), True
            if controls.get("intensity") is not None:
                values[3], mask[2] = float(controls["intensity"]), True
            if controls.get("emotion") is not None:
                values[4], mask[3] = float(controls["emotion"]), True
        except (TypeError, ValueError) as exc:
            raise InputError(f"diffusion motion: bad control value ({exc})") from None
        if not np.isfinite(values).all():
            raise InputError("diffusion motion: control values must be finite")
        return sample, (values - self.norm.control_mean) / self.norm.control_std, mask

    # -- generation -------------------------------------------------------------------------------------
    def generate(self, features: AudioFeatures, source: SourceState, seed: int, **controls: object) -> MotionTrack:
        if features.n_frames == 0:
            raise InputError("diffusion motion: the audio features have no frames")
        if abs(features.fps - self.sample.fps) > 0.01:
            raise InputError(f"diffusion motion: this checkpoint was trained at {self.sample.fps:g} fps, the "
                             f"features are at {features.fps:g} fps; generate at --fps {self.sample.fps:g}")
        ref = Reference.from_source(source)
        sample, ctrl, ctrl_mask = self._controls(source, ref, dict(controls))
        audio = (audio_condition(features) - self.norm.audio_mean) / self.norm.audio_std
        rel = self.sample_relative(audio, seed, sample, ctrl, ctrl_mask)
        rel = rel * self.norm.motion_std + self.norm.motion_mean
        if sample.pose_smooth_s > 0:
            # The few-step sampler leaves frame-to-frame jitter in the head pose that the training targets
            # do not have (see the model card); a zero-phase low-pass on the 6 pose channels removes it.
            # Scale and smile are slow in the targets (< 0.3 Hz) but re-drawn a little at each window seam:
            # a 4x slower low-pass spreads that step out.
            for j in range(6):
                slow = j == 5
                rel[:, j] = _smooth(rel[:, j], sample.pose_smooth_s * (4 if slow else 1), features.fps)
            rel[:, _SMILE] = _smooth(rel[:, _SMILE], 4 * sample.pose_smooth_s, features.fps)
        absolute = from_relative(rel, ref)
        meta = {"generator": "diffusion", "seed": int(seed), "sample": sample.__dict__,
                "checkpoint": str(self.checkpoint) if self.checkpoint else None,
                "controls": {k: (np.asarray(v).tolist() if isinstance(v, (tuple, list, np.ndarray)) else v)
                             for k, v in controls.items()}}
        n = features.n_frames
        return MotionTrack(fps=features.fps, pose=absolute[:, :6], expression=absolute[:, 6:13], gaze=absolute[:, 13:],
                           valid=np.ones(n, bool), meta=meta)

    @torch.no_grad()
    def sample_relative(self, audio: np.ndarray, seed: int, sample: SampleConfig, controls: np.ndarray | None = None,
                        control_mask: np.ndarray | None = None, window_starts: list[int] | None = None) -> np.ndarray:
        """[T, 15] standardised relative motion for standardised audio conditions [T, 408], window by window."""
        c = self.model.config
        n = len(audio)
        w, k = c.window, c.context
        # Window i covers frames [s_i, s_i + w): the first starts at 0; each later one starts k frames
        # before the previous one's end, those k frames are fixed to what was generated (inpainting) and
        # the k before them are the prefix tokens, so a window edge is not a seam in the output.
        starts = [0]
        while starts[-1] + w < n:
            starts.append(starts[-1] + w - k if k < w else starts[-1] + w)
        total = starts[-1] + w
        if total > n:
            audio = np.concatenate([audio, np.repeat(audio[-1:], total - n, axis=0)])
        old_threads = torch.get_num_threads()
        if self.threads:
            torch.set_num_threads(self.threads)
        try:
            gen = torch.Generator().manual_seed(int(seed) & 0x7FFF_FFFF_FFFF_FFFF)
            a_all = torch.from_numpy(np.ascontiguousarray(audio, np.float32))
            ctrl = torch.zeros(1, 5) if controls is None else torch.as_tensor(controls, dtype=torch.float32)[None]
            cmask = (torch.zeros(1, len(CONTROL_GROUPS), dtype=torch.bool) if control_mask is None
                     else torch.as_tensor(control_mask, dtype=torch.bool)[None])
            out = torch.zeros(total, c.motion_dim)
            for i, s in enumerate(starts):
                a = a_all[s : s + w][None]
                has_prev = s >= k > 0
                prev = out[s - k : s][None] if has_prev else torch.zeros(1, k, c.motion_dim)
                known = out[s : s + k][None] if i > 0 and k < w else None
                pmask = torch.tensor([has_prev])
                scale = sample.cfg if sample.cfg != 1.0 else None
                denoise = _batched_cfg(self.model, a, prev, pmask, ctrl, cmask, scale)
                noise = torch.randn(1, w, c.motion_dim, generator=gen)
                x0 = ddim_sample(denoise, noise, sample.steps, self.schedule, sample.eta, gen, known=known)[0]
                if known is not None and sample.seam_fade > 0 and k >= 2:
                    # Inpainting alone leaves a jump where the known frames meet the new ones (~3x an
                    # in-window step on held-out audio, mostly the slow channels: scale, smile, gaze): the
                    # few-step sampler sees the known frames nearly clean only at its last steps. Blend it out.
                    x0[k:] = continue_from(x0[:k], x0[k:], sample.seam_fade)
                out[s : s + w] = x0
        finally:
            torch.set_num_threads(old_threads)
        return out[:n].numpy()


def continue_from(known: torch.Tensor, new: torch.Tensor, fade: int) -> torch.Tensor:
    """``new`` [N, D] shifted so that it continues ``known`` [K, D] (K >= 2) without a jump.

    The mismatch ``D = known[-1] + v - new[0]`` (``v``: mean of the last known step and the first new one) is
    added to ``new`` and faded out with a raised cosine over ``fade`` frames (offset blending, as
    "inertialization" does between animation clips): the step into ``new[0]`` is ``v``, and the frames
    after ``fade`` are ``new`` unchanged.
    """
    v = 0.5 * ((known[-1] - known[-2]) + (new[1] - new[0] if len(new) > 1 else known[-1] - known[-2]))
    d = known[-1] + v - new[0]
    j = torch.arange(len(new), dtype=new.dtype)
    keep = torch.where(j < fade, 0.5 + 0.5 * torch.cos(math.pi * j / fade), torch.zeros_like(j))
    return new + keep[:, None] * d[None]


def _batched_cfg(model: MotionDenoiser, a: torch.Tensor, prev: torch.Tensor, pmask: torch.Tensor, ctrl: torch.Tensor,
                 cmask: torch.Tensor, scale: float | None):
    """Denoiser for one window; with guidance (``scale``) the conditional and audio-free passes run as one batch
    of 2 and combine as ``u + scale (c - u)`` (Ho & Salimans 2022, Eq. 6); ``None`` runs the conditional pass only.
    """
    if scale is None:
        yes = torch.tensor([True])
        return lambda x, t: model(x, t, a, prev, pmask, ctrl, cmask, yes)
    a2, prev2, pmask2 = a.expand(2, -1, -1), prev.expand(2, -1, -1), pmask.expand(2)
    ctrl2, cmask2 = ctrl.expand(2, -1), cmask.expand(2, -1)
    amask = torch.tensor([True, False])

    def denoise(x: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
        both = model(x.expand(2, -1, -1), t.expand(2), a2, prev2, pmask2, ctrl2, cmask2, amask)
        c, u = both[0:1], both[1:2]
        return u + scale * (c - u)

    return denoise
