"""End to end: portrait + audio -> MP4 with audio, provenance metadata and a readable watermark."""

from __future__ import annotations

import numpy as np
import pytest

from forgebench.generator.config import GenerationConfig
from forgebench.generator.pipeline import TalkingFacePipeline
from forgebench.media.video import probe_video, read_video
from forgebench.provenance.check import check_file
from forgebench.provenance.metadata import read_provenance
from forgebench.provenance.watermark import Watermarker
from tests.conftest import speech_like


@pytest.fixture(scope="module")
def generated(tmp_path_factory, portrait):
    audio = speech_like(seconds=2.0)
    pipe = TalkingFacePipeline.from_config(GenerationConfig(size=256, seed=3))
    out = tmp_path_factory.mktemp("gen") / "clip.mp4"
    return pipe(portrait, audio, out=out), audio


def test_video_has_the_right_frames_and_audio(generated):
    result, audio = generated
    info = probe_video(result.path)
    assert (info.width, info.height) == (256, 256)
    assert info.n_frames == int(np.ceil(len(audio) / 16000 * 25)) == result.n_frames
    clip = read_video(result.path)
    assert clip.frames.shape[0] == result.n_frames
    assert abs(len(clip.audio) / 16000 - clip.frames.shape[0] / 25) <= 1 / 25 + 1e-6
    assert not list(result.path.parent.glob("*.partial*"))


def test_provenance_metadata_and_watermark_are_present(generated):
    result, _ = generated
    prov = read_provenance(result.path)
    assert prov is not None and prov["synthetic"] == "true"
    assert prov["motion_model"] == "procedural" and prov["seed"] == "3"
    row = check_file(result.path, Watermarker())
    assert row["watermark_present"] and row["p_value"] < 1e-6
    assert row["clip_id"] == prov["clip_id"]


def test_same_seed_same_motion_different_seed_different_head(portrait):
    audio = speech_like(seconds=1.5, seed=1)
    pipe = TalkingFacePipeline.from_config(GenerationConfig(size=128))
    a = pipe(portrait, audio, seed=5).track
    b = pipe(portrait, audio, seed=5).track
    c = pipe(portrait, audio, seed=6).track
    np.testing.assert_array_equal(a.features(), b.features())
    assert np.abs(a.pose[:, :3] - c.pose[:, :3]).max() > 0.1


def test_mouth_follows_speech_and_rests_in_silence(portrait):
    audio = np.concatenate([np.zeros(16000, np.float32) + 1e-4, speech_like(seconds=2.0, pauses=False)])
    track = TalkingFacePipeline.from_config(GenerationConfig(size=128))(portrait, audio).track
    jaw = track.expr("jaw_open")
    silent, talking = jaw[:20], jaw[30:]
    assert silent.std() < 0.005 and silent.max() < 0.05
    assert talking.std() > 0.02
