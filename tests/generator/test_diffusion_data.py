"""Data side of the motion model: viseme targets, the relative motion space, audio condition, checkpoints, bad input."""

from __future__ import annotations

import json
import pickle

import numpy as np
import pytest
import torch

from forgebench.errors import InputError
from forgebench.generator.audio_features import extract_audio_features
from forgebench.generator.motion.base import SourceState
from forgebench.generator.motion.diffusion.checkpoint_io import CONFIG, WEIGHTS, load_checkpoint, save_checkpoint
from forgebench.generator.motion.diffusion.config import AUDIO_DIM, CONTROL_DIM, MOTION_DIM, ModelConfig, SampleConfig
from forgebench.generator.motion.diffusion.data import build_dataset, resample_track
from forgebench.generator.motion.diffusion.generator import DiffusionMotion
from forgebench.generator.motion.diffusion.model import MotionDenoiser
from forgebench.generator.motion.diffusion.space import (
    Normaliser,
    Reference,
    audio_condition,
    from_relative,
    to_relative,
    window_controls,
)
from forgebench.generator.motion.diffusion.visemes import mouth_targets
from forgebench.records import MotionTrack

torch.set_num_threads(1)


# -- visemes ----------------------------------------------------------------------------------------------
def test_mouth_targets_follow_phonemes():
    fps = 25.0
    rows = [("^", 0.0, 0.2), ("m", 0.2, 0.4), ("ɑ", 0.4, 0.8), ("p", 0.8, 1.0), ("i", 1.0, 1.4), ("u", 1.4, 1.8),
            (".", 1.8, 2.4)]
    m = mouth_targets(rows, 60, fps)
    jaw = m["jaw_open"]
    frame = lambda s: int(s * fps)  # noqa: E731
    assert jaw[frame(0.6)] > 0.15  # open vowel: wide open
    assert jaw[frame(0.6)] > 3 * jaw[frame(0.3)]  # bilabial: nearly shut
    assert jaw[frame(2.3)] < 0.01  # pause: closed
    # The jaw peak of /ɑ/ lies inside its span (smoothing is zero-phase: no lag).
    assert 0.4 <= np.argmax(jaw[:frame(1.0)]) / fps <= 0.8
    assert m["mouth_width"][frame(1.2)] > m["mouth_width"][frame(1.6)]  # /i/ spreads, /u/ rounds
    assert m["pucker"][frame(1.6)] > m["pucker"][frame(1.2)]


# -- space ----------------------------------------------------------------------------------------------------
def test_relative_space_round_trips_and_is_zero_at_the_reference():
    rng = np.random.default_rng(0)
    src = SourceState.neutral()
    ref = Reference.from_source(src)
    absolute = np.concatenate([src.pose, src.expression, src.gaze])[None] + 0.01 * rng.standard_normal((30, 15))
    absolute[:, 6] = np.abs(absolute[:, 6])  # jaw opening is never negative
    absolute[:, 10:12] = rng.uniform(0, 1, (30, 2))
    back = from_relative(to_relative(absolute, ref), ref)
    assert np.allclose(back, absolute, atol=1e-5)
    assert np.allclose(to_relative(ref.values[None], ref), 0.0, atol=1e-6)
    rel = to_relative(absolute, ref)
    assert np.allclose(window_controls(rel)[:2], rel[:, 13:15].mean(0), atol=1e-6)


def test_audio_condition_is_level_invariant():
    t = np.arange(32000) / 16000
    audio = (0.3 * np.sin(2 * np.pi * 150 * t) * (np.sin(2 * np.pi * 3 * t) > 0)).astype(np.float32)
    audio += 0.001 * np.random.default_rng(0).standard_normal(len(t)).astype(np.float32)
    a = audio_condition(extract_audio_features(audio, 25.0))
    b = audio_condition(extract_audio_features(0.25 * audio, 25.0))
    assert a.shape == (50, 408)
    assert np.allclose(a, b, atol=1e-3)


def test_resample_track_interpolates_to_the_model_rate():
    n = 60
    pose = np.zeros((n, 6))
    pose[:, 0] = np.arange(n)  # yaw = frame index at 30 fps
    track = MotionTrack(fps=30.0, pose=pose, expression=np.zeros((n, 7)), gaze=np.zeros((n, 2)), valid=np.ones(n, bool))
    feats, valid = resample_track(track, 25.0, 50)
    assert np.allclose(feats[:, 0], np.arange(50) * 30 / 25, atol=1e-4) and valid.all()


# -- checkpoints --------------------------------------------------------------------------------------------------
def _tiny(tmp_path):
    torch.manual_seed(0)
    model = MotionDenoiser(ModelConfig(d_model=16, n_layers=1, n_heads=2, window=20, context=4))
    torch.nn.init.normal_(model.head.weight, std=0.5)
    norm = Normaliser(np.zeros(MOTION_DIM, np.float32), np.ones(MOTION_DIM, np.float32),
                      np.zeros(AUDIO_DIM, np.float32), np.full(AUDIO_DIM, 3.0, np.float32),
                      np.zeros(CONTROL_DIM, np.float32), np.full(CONTROL_DIM, 0.05, np.float32))
    gen = DiffusionMotion.from_model(model, norm, SampleConfig(steps=3))
    folder = save_checkpoint(tmp_path / "ck", gen.model, gen.norm, SampleConfig(steps=3))
    return gen, folder


def test_checkpoint_round_trip(tmp_path):
    gen, folder = _tiny(tmp_path)
    loaded = DiffusionMotion(folder)
    feats = extract_audio_features(np.zeros(16000, np.float32) + 0.01, 25.0)
    a = DiffusionMotion.from_model(gen.model, gen.norm, SampleConfig(steps=3)).generate(feats, SourceState.neutral(), 3)
    b = loaded.generate(feats, SourceState.neutral(), 3)
    assert np.array_equal(a.features(), b.features())
    assert json.loads((folder / CONFIG).read_text())["model"]["d_model"] == 16


def test_mismatched_config_is_refused(tmp_path):
    _, folder = _tiny(tmp_path)
    cfg = json.loads((folder / CONFIG).read_text())
    cfg["model"]["d_model"] = 32
    (folder / CONFIG).write_text(json.dumps(cfg))
    with pytest.raises(InputError, match="do not match"):
        load_checkpoint(folder)
    cfg["model"]["colour"] = 1
    (folder / CONFIG).write_text(json.dumps(cfg))
    with pytest.raises(InputError, match="config does not match"):
        load_checkpoint(folder)



def test_corrupt_or_pickled_weights_are_refused_without_unpickling(tmp_path):
    _, folder = _tiny(tmp_path)
    data = (folder / WEIGHTS).read_bytes()
    (folder / WEIGHTS).write_bytes(data[: len(data) // 2])
    with pytest.raises(InputError, match="corrupt"):
        load_checkpoint(folder)
    marker = tmp_path / "unpickled"

    class Marker:
        def __reduce__(self):
            return (marker.write_text, ("x",))

    torch.save({"model.head.weight": Marker()}, folder / WEIGHTS)  # a pickle-based file in disguise
    with pytest.raises(InputError, match="corrupt"):
        load_checkpoint(folder)
    assert not marker.exists()
    (folder / WEIGHTS).write_bytes(pickle.dumps({"a": 1}))
    with pytest.raises(InputError):
        load_checkpoint(folder)


# -- bad training data --------------------------------------------------------------------------------------------
def test_a_folder_without_usable_video_names_the_skipped_files(tmp_path):
    (tmp_path / "notavideo.mp4").write_bytes(b"this is not a video")
    (tmp_path / "readme.txt").write_text("ignored: not a video suffix")
    with pytest.raises(InputError, match="notavideo.mp4"):
        build_dataset([tmp_path], n_tts=0, progress=False)
    with pytest.raises(InputError, match="does not exist"):
        build_dataset([tmp_path / "missing"], n_tts=0, progress=False)
