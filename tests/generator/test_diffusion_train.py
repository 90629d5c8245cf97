"""Training behaviour on tiny synthetic tasks: loss decreases, a control is learned, windows join smoothly."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from forgebench.benchmarks.motion_eval import edge_jump
from forgebench.generator.motion.diffusion.config import AUDIO_DIM, MOTION_DIM, ModelConfig, SampleConfig, TrainConfig
from forgebench.generator.motion.diffusion.data import ClipData
from forgebench.generator.motion.diffusion.generator import DiffusionMotion
from forgebench.generator.motion.diffusion.train import train
from forgebench.records import MotionTrack

torch.set_num_threads(1)
TINY = ModelConfig(d_model=32, n_layers=1, n_heads=2, ffn_mult=2, window=20, context=4)
FPS = 25.0


def synthetic_clips(n: int = 24, frames: int = 80, seed: int = 0) -> list[ClipData]:
    """Clips where yaw is a slow sinusoid, jaw follows audio column 400 (the 'energy'), and gaze_x is a
    per-clip constant of either sign (so the gaze control carries it)."""
    rng = np.random.default_rng(seed)
    clips = []
    t = np.arange(frames) / FPS
    for i in range(n):
        audio = rng.normal(0, 1, (frames, AUDIO_DIM)).astype(np.float32)
        energy = (np.sin(2 * np.pi * rng.uniform(1.5, 3.0) * t + rng.uniform(0, 6)) > 0).astype(np.float32)
        audio[:, 400] = energy
        motion = np.zeros((frames, MOTION_DIM), np.float32)
        motion[:, 0] = 3.0 * np.sin(2 * np.pi * rng.uniform(0.2, 0.5) * t + rng.uniform(0, 6))
        motion[:, 6] = 0.2 * energy
        motion[:, 13] = rng.choice([-0.1, 0.1])
        clips.append(ClipData(f"c{i}", "tts", audio, motion, np.ones(frames, bool)))
    return clips


@pytest.fixture(scope="module")
def trained():
    cfg = TrainConfig(steps=400, batch_size=16, lr=3e-3, warmup=20, threads=1, p_drop_control=0.3)
    return train(synthetic_clips(), TINY, cfg, progress=False, log_every=50)


def test_training_loss_decreases(trained):
    first, last = trained.history[0][1], trained.history[-1][1]
    assert last < 0.6 * first


def _features(clip: ClipData):
    from forgebench.generator.audio_features import AudioFeatures

    n = clip.n_frames
    return AudioFeatures(mel=np.zeros((n, 5, 80), np.float32), energy=np.zeros(n), voiced=np.ones(n, bool),
                         pitch=np.zeros(n), spectral_centroid=np.ones(n), band_energy=np.zeros((n, 3)), fps=FPS)


def test_gaze_control_moves_the_generated_gaze(trained):
    gen = DiffusionMotion.from_model(trained.model, trained.norm, SampleConfig(steps=6, cfg=1.0))
    clip = synthetic_clips(1, seed=5)[0]
    audio = (clip.audio - trained.norm.audio_mean) / trained.norm.audio_std
    outs = {}
    for g in (-0.1, 0.1):
        ctrl = (np.array([g, 0, 0, 0, 0]) - trained.norm.control_mean) / trained.norm.control_std
        rel = gen.sample_relative(audio, 0, gen.sample, ctrl, np.array([True, False, False, False]))
        outs[g] = (rel * trained.norm.motion_std + trained.norm.motion_mean)[:, 13].mean()
    assert outs[0.1] - outs[-0.1] > 0.1  # the two targets are 0.2 apart


def test_window_edges_are_continuous(trained):
    gen = DiffusionMotion.from_model(trained.model, trained.norm, SampleConfig(steps=6, cfg=1.0))
    clip = synthetic_clips(1, frames=100, seed=7)[0]
    audio = (clip.audio - trained.norm.audio_mean) / trained.norm.audio_std
    rel = gen.sample_relative(audio, 0, gen.sample) * trained.norm.motion_std + trained.norm.motion_mean
    track = MotionTrack(fps=FPS, pose=rel[:, :6], expression=rel[:, 6:13], gaze=rel[:, 13:], valid=np.ones(100, bool))
    # Yaw only (the smooth channel): a boundary step is comparable to a step inside a window. Windows start
    # every window - context frames; the seam is where a window's inpainted frames meet its new ones.
    yaw = track.pose[:, 0]
    steps = np.abs(np.diff(yaw))
    edges = np.arange(TINY.window - 1, len(steps), TINY.window - TINY.context)
    inside = np.setdiff1d(np.arange(len(steps)), edges)
    assert steps[edges].mean() < 2.0 * steps[inside].mean()
    assert np.isfinite(edge_jump(track, TINY.window, TINY.context))
