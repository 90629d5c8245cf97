"""Schedule, DDIM sampler, denoiser and the generator's sampling contract, on tiny random-weight models."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from forgebench.errors import InputError
from forgebench.generator.audio_features import extract_audio_features
from forgebench.generator.motion.base import SourceState
from forgebench.generator.motion.diffusion.config import AUDIO_DIM, CONTROL_DIM, MOTION_DIM, ModelConfig, SampleConfig
from forgebench.generator.motion.diffusion.generator import DiffusionMotion, continue_from
from forgebench.generator.motion.diffusion.model import MotionDenoiser
from forgebench.generator.motion.diffusion.schedule import AB_MIN, CosineSchedule, ddim_sample, guided
from forgebench.generator.motion.diffusion.space import Normaliser

torch.set_num_threads(1)  # tiny models: threads only add contention on a shared CPU
TINY = ModelConfig(d_model=16, n_layers=1, n_heads=2, ffn_mult=2, window=20, context=4)


def tiny_generator(seed: int = 0) -> DiffusionMotion:
    torch.manual_seed(seed)
    model = MotionDenoiser(TINY)
    torch.nn.init.normal_(model.head.weight, std=0.5)  # the zero-initialised head would hide every input
    torch.nn.init.normal_(model.audio_null, std=1.0)
    torch.nn.init.normal_(model.control_null, std=1.0)
    norm = Normaliser(np.zeros(MOTION_DIM, np.float32), np.ones(MOTION_DIM, np.float32),
                      np.zeros(AUDIO_DIM, np.float32), np.full(AUDIO_DIM, 3.0, np.float32),
                      np.zeros(CONTROL_DIM, np.float32), np.full(CONTROL_DIM, 0.05, np.float32))
    return DiffusionMotion.from_model(model, norm, SampleConfig(steps=4))


def speechlike(seconds: float = 3.0, seed: int = 0) -> np.ndarray:
    t = np.arange(int(seconds * 16000)) / 16000
    env = (np.sin(2 * np.pi * 3.0 * t) > 0) * (t > 0.3)
    rng = np.random.default_rng(seed)
    return (0.3 * env * np.sin(2 * np.pi * 140 * t) + 0.003 * rng.standard_normal(len(t))).astype(np.float32)


@pytest.fixture(scope="module")
def features():
    return extract_audio_features(speechlike(), 25.0)


# -- schedule ---------------------------------------------------------------------------------------------
def test_cosine_schedule_closed_form():
    s = CosineSchedule()
    t = torch.tensor([0.0, 0.25, 0.5, 1.0])
    ab = s.alpha_bar(t)
    f = lambda u: math.cos((u + 0.008) / 1.008 * math.pi / 2) ** 2  # noqa: E731
    assert ab[0] == pytest.approx(1.0)
    assert ab[1] == pytest.approx(f(0.25) / f(0.0), rel=1e-5)
    assert ab[3] == pytest.approx(AB_MIN)
    assert bool((ab[1:] < ab[:-1]).all())
    x0, eps = torch.randn(3, 5, 2), torch.randn(3, 5, 2)
    tt = torch.tensor([0.1, 0.5, 0.9])
    expected = s.alpha_bar(tt).sqrt()[:, None, None] * x0 + (1 - s.alpha_bar(tt)).sqrt()[:, None, None] * eps
    assert torch.allclose(s.add_noise(x0, eps, tt), expected)


def test_ddim_with_an_exact_denoiser_returns_its_x0_and_is_deterministic():
    target = torch.randn(2, 7, 3)
    noise = torch.randn(2, 7, 3)
    out1 = ddim_sample(lambda x, t: target, noise, steps=5, clip_x0=None)
    out2 = ddim_sample(lambda x, t: target, noise.clone(), steps=5, clip_x0=None)
    assert torch.equal(out1, target) and torch.equal(out1, out2)


def test_ddim_inpainting_keeps_the_known_frames():
    known = torch.randn(1, 3, 2)
    seen = []

    def denoise(x, t):
        seen.append((x[:, :3].clone(), t.clone()))
        return torch.zeros_like(x)

    noise = torch.randn(1, 8, 2)
    out = ddim_sample(denoise, noise, steps=4, clip_x0=None, known=known)
    assert torch.equal(out[:, :3], known) and torch.equal(out[:, 3:], torch.zeros(1, 5, 2))
    s = CosineSchedule()
    for x_known, t in seen:  # the model always sees the known frames noised to its current time
        ab = s.alpha_bar(t[0])
        assert torch.allclose(x_known, ab.sqrt() * known + (1 - ab).sqrt() * noise[:, :3], atol=1e-6)


def test_ddim_step_matches_eq12():
    # One DDIM step by hand: x_t' = sqrt(ab') x0 + sqrt(1 - ab') eps_hat, eps_hat = (x_t - sqrt(ab) x0)/sqrt(1-ab).
    s = CosineSchedule()
    noise = torch.randn(1, 4, 2)
    seen = []

    def denoise(x, t):
        seen.append(x.clone())
        return 0.5 * x

    ddim_sample(denoise, noise, steps=2, clip_x0=None)
    ab, ab_next = s.alpha_bar(torch.tensor(1.0)), s.alpha_bar(torch.tensor(0.5))
    x0 = 0.5 * noise
    eps = (noise - ab.sqrt() * x0) / (1 - ab).sqrt()
    assert torch.allclose(seen[1], ab_next.sqrt() * x0 + (1 - ab_next).sqrt() * eps, atol=1e-6)


def test_guidance_combines_as_eq6():
    g = guided(lambda x, t: x + 1.0, lambda x, t: x, 3.0)
    x = torch.zeros(1, 2, 2)
    assert torch.allclose(g(x, torch.zeros(1)), torch.full_like(x, 3.0))


# -- network ------------------------------------------------------------------------------------------------
def test_denoiser_shapes_and_condition_masks():
    gen = tiny_generator()
    m = gen.model
    b, w, k = 3, TINY.window, TINY.context
    args = dict(x_t=torch.randn(b, w, MOTION_DIM), t=torch.rand(b), audio=torch.randn(b, w, AUDIO_DIM),
                prev=torch.randn(b, k, MOTION_DIM), prev_mask=torch.ones(b, dtype=torch.bool),
                controls=torch.randn(b, CONTROL_DIM), control_mask=torch.ones(b, 4, dtype=torch.bool),
                audio_mask=torch.ones(b, dtype=torch.bool))
    with torch.no_grad():
        out = m(**args)
        assert out.shape == (b, w, MOTION_DIM)
        no_audio = m(**{**args, "audio_mask": torch.zeros(b, dtype=torch.bool)})
        # With audio dropped the audio values no longer matter.
        other = m(**{**args, "audio": torch.randn(b, w, AUDIO_DIM), "audio_mask": torch.zeros(b, dtype=torch.bool)})
    assert not torch.allclose(out, no_audio)
    assert torch.allclose(no_audio, other, atol=1e-6)


# -- generator -------------------------------------------------------------------------------------------------
def test_generate_shapes_seed_determinism_and_diversity(features):
    gen = tiny_generator()
    src = SourceState.neutral()
    a = gen.generate(features, src, seed=1)
    b = gen.generate(features, src, seed=1)
    c = gen.generate(features, src, seed=2)
    assert a.n_frames == features.n_frames == 75  # 4 windows of 20, the last one padded and cut
    assert np.isfinite(a.features()).all()
    assert np.array_equal(a.features(), b.features())
    assert np.abs(a.pose[:, :3] - c.pose[:, :3]).mean() > 1e-3


def test_overlapping_windows_keep_the_previous_windows_frames_exactly():
    # Window 2 starts `context` frames before window 1 ends; those frames are inpainted, so a longer audio
    # changes nothing in the first window (same audio, same first noise draw), overlap included.
    gen = tiny_generator()
    w, k = TINY.window, TINY.context
    audio = np.random.default_rng(0).normal(0, 1, (3 * w, AUDIO_DIM)).astype(np.float32)
    for fade in (0, 6):
        sample = SampleConfig(steps=4, seam_fade=fade)
        short = gen.sample_relative(audio[:w], 3, sample)
        long = gen.sample_relative(audio, 3, sample)
        assert np.array_equal(long[:w], short)
        assert np.array_equal(long[w - k : w], short[w - k :])  # the overlap: window 2's first k frames
        assert not np.allclose(long[w : w + 5], 0)


def test_continue_from_joins_without_a_jump_and_fades_out():
    rng = np.random.default_rng(1)
    known = torch.as_tensor(np.cumsum(rng.normal(0, 0.1, (4, 3)), axis=0), dtype=torch.float32)
    new = torch.as_tensor(5.0 + np.cumsum(rng.normal(0, 0.1, (12, 3)), axis=0), dtype=torch.float32)  # far off
    out = continue_from(known, new, fade=6)
    v = 0.5 * ((known[-1] - known[-2]) + (new[1] - new[0]))
    assert torch.allclose(out[0] - known[-1], v, atol=1e-6)  # the seam step is an average of real steps
    assert torch.equal(out[6:], new[6:])  # after the fade the window is unchanged
    offset = (out - new).abs()
    assert bool((offset[1:6] <= offset[:5] + 1e-6).all())  # the correction only decays
    # Each frame of the fade moves the correction by at most |d| pi / (2 fade) (raised cosine).
    d = (known[-1] + v - new[0]).abs()
    extra = ((out[1:] - out[:-1]) - (new[1:] - new[:-1])).abs()
    assert bool((extra <= d * math.pi / 12 + 1e-5).all())
    assert torch.equal(continue_from(known, new, fade=0), new)


def test_cfg_scale_and_controls_change_the_output(features):
    gen = tiny_generator()
    src = SourceState.neutral()
    base = gen.generate(features, src, seed=0)
    assert not np.allclose(base.features(), gen.generate(features, src, seed=0, cfg=4.0).features())
    assert np.allclose(base.features(), gen.generate(features, src, seed=0, cfg=2.0).features())  # the default
    gazed = gen.generate(features, src, seed=0, gaze=(0.1, 0.0))
    assert not np.allclose(base.features(), gazed.features())
    for key, value in (("head_distance", 1.2), ("intensity", 4.0), ("emotion", 0.03)):
        assert not np.allclose(base.features(), gen.generate(features, src, seed=0, **{key: value}).features())


def test_bad_controls_are_one_line_errors(features):
    gen = tiny_generator()
    with pytest.raises(InputError, match="unknown control"):
        gen.generate(features, SourceState.neutral(), 0, wobble=1)
    with pytest.raises(InputError, match="head_distance"):
        gen.generate(features, SourceState.neutral(), 0, head_distance=-1)
    with pytest.raises(InputError, match="fps"):
        gen.generate(extract_audio_features(speechlike(1.0), 30.0), SourceState.neutral(), 0)


def test_shipped_checkpoint_is_registered_and_loads(features):
    import forgebench.generator.motion.diffusion  # noqa: F401  (registers "diffusion")
    from forgebench.generator.motion import motion_registry

    gen = motion_registry.build("diffusion")
    track = gen.generate(features, SourceState.neutral(), 0)
    assert track.n_frames == features.n_frames and np.isfinite(track.features()).all()
