"""Dubbing end to end: a talking video made here (the built-in portrait, mouth driven by speech A) is
re-synced to speech B; the upper face must stay, the mouth must follow B and not A."""

from __future__ import annotations

import numpy as np
import pytest

from forgebench.errors import InputError
from forgebench.generator.config import DubbingConfig, GenerationConfig
from forgebench.generator.dub import (
    DubbingPipeline,
    assign_references,
    bridge_gaps,
    pingpong,
    reference_frames,
)
from forgebench.generator.pipeline import TalkingFacePipeline
from forgebench.generator.render.composite import LowerFaceCompositor, fit_affine, similarity_3d, triangle_map
from forgebench.media import face_geometry as fg
from forgebench.media.analyze import analyze_video
from forgebench.media.video import probe_video, read_video
from forgebench.metrics.lipsync import lagged_pearson, mouth_opening, speech_envelope
from forgebench.provenance.metadata import read_provenance
from forgebench.records import MotionTrack
from tests.conftest import speech_like

RATE, FPS = 16000, 25.0


def _gated(seconds: float, on: list[tuple[float, float]], seed: int) -> np.ndarray:
    """Speech-like sound only inside the ``on`` spans (seconds), near-silence elsewhere."""
    audio = speech_like(seconds, seed=seed, pauses=False)
    t = np.arange(len(audio)) / RATE
    gate = np.zeros(len(audio), bool)
    for a, b in on:
        gate |= (t >= a) & (t < b)
    return np.where(gate, audio, 1e-4 * audio).astype(np.float32)


SPEECH_A = [(0.0, 0.4), (0.8, 1.2), (1.6, 2.0)]  # the video's own speech
SPEECH_B = [(0.4, 0.8), (1.2, 1.6), (2.0, 2.4), (2.6, 3.0)]  # the new speech: talks where A is silent


@pytest.fixture(scope="module")
def talking(portrait, tmp_path_factory):
    """2 s at 256x256, 25 fps: the portrait's mouth follows speech A, with head motion and blinks."""
    audio = _gated(2.0, SPEECH_A, seed=1)
    path = tmp_path_factory.mktemp("talking") / "talking.mp4"
    TalkingFacePipeline.from_config(GenerationConfig(size=256, seed=2, crf=12))(portrait, audio, out=path)
    return path, audio


@pytest.fixture(scope="module")
def dubbed(talking, tmp_path_factory):
    video, _ = talking
    speech = _gated(3.0, SPEECH_B, seed=5)
    out = tmp_path_factory.mktemp("dub") / "dub.mp4"
    result = DubbingPipeline.from_config(DubbingConfig(crf=12))(video, speech, out=out)
    return result, speech


def test_output_has_the_speechs_length_and_audio_with_ping_pong(dubbed, talking):
    result, speech = dubbed
    info = probe_video(result.path)
    assert info.n_frames == int(np.ceil(3.0 * FPS)) == result.n_frames
    assert (info.width, info.height) == (256, 256) and info.fps == pytest.approx(FPS)
    clip = read_video(result.path)
    assert abs(len(clip.audio) / RATE - 3.0) <= 1 / FPS
    # The 2 s video plays 0..49, then back 48..24: the upper face of every output frame is its shown frame's.
    np.testing.assert_array_equal(result.frame_index, pingpong(75, 50))
    source = read_video(talking[0], with_audio=False).frames
    upper = slice(0, 110)  # rows above the nose tip (the face's eyes are near row 90 in this framing)
    for k in range(0, 75, 3):
        diffs = np.array([np.abs(clip.frames[k, upper].astype(float) - f[upper]).mean() for f in source])
        # The shown frame matches best (neighbours of a slowly moving head can tie within encoding noise).
        assert diffs[result.frame_index[k]] <= diffs.min() + 0.25, (k, diffs.argmin(), result.frame_index[k])
    prov = read_provenance(result.path)
    assert prov["family"] == "dubbing" and prov["motion_model"] == "procedural" and prov["synthetic"] == "true"


def test_speech_of_a_whole_number_of_frames_gives_that_many(talking):
    """1.12 s of speech is 28 frames at 25 fps (float division says 28.000000000000004: not 29)."""
    video, _ = talking
    result = DubbingPipeline.from_config(DubbingConfig())(video, _gated(28 / FPS, SPEECH_B, seed=3))
    assert result.n_frames == 28 == len(result.track.expression)


def test_the_upper_face_is_kept(dubbed, talking):
    """After H.264 and the watermark (both change every pixel a little), the upper face of each output frame
    is within 38 dB PSNR of its source frame (its lower face is not: that is what changed)."""
    result, _ = dubbed
    source = read_video(talking[0], with_audio=False).frames
    out = read_video(result.path, with_audio=False).frames
    for k in range(0, 75, 5):
        a, b = source[result.frame_index[k]].astype(float), out[k].astype(float)
        psnr = 10 * np.log10(255**2 / np.mean((a[:110] - b[:110]) ** 2))
        assert psnr > 38, (k, psnr)


def test_outside_the_mask_the_frame_is_untouched_bit_for_bit(source_face):
    """The compositor alone (no encoding): pixels where the blend weight is 0 are the frame's own bytes,
    and the weight is 0 everywhere above the middle of the nose."""
    from forgebench.generator.render.renderer import FaceRenderer

    renderer = FaceRenderer(source_face)
    pose, expr, gaze = renderer.source_state
    frame = renderer.render(pose, expr, gaze)
    pose2 = pose.copy()
    pose2[0] += 5
    expr2 = expr.copy()
    expr2[0] += 0.15
    other = renderer.render(pose2, expr2, gaze)
    points = analyze_video(np.stack([frame, other]), fps=FPS).landmarks.astype(np.float64)
    compositor = LowerFaceCompositor(frame, points[0])
    out = compositor.render(other, points[1], np.array([0.2, expr[1], expr[2]]))
    outside = out.full_mask() == 0
    np.testing.assert_array_equal(out.frame[outside], other[outside])
    eyes_row = fg.eye_centres(points[1])[0][1]
    assert not out.full_mask()[: int((eyes_row + points[1, fg.NOSE_TIP, 1]) / 2)].any()
    assert (out.frame != other).any()


def test_the_dub_follows_the_new_speech_and_the_source_does_not(dubbed, talking):
    """Mouth opening (analyzer) vs log-RMS envelope, best lag within +-5 frames (forgebench.metrics.lipsync)."""
    result, speech = dubbed
    _, speech_a = talking
    index = result.frame_index
    env_b = speech_envelope(speech, RATE, FPS, 75)
    env_a = speech_envelope(speech_a, RATE, FPS, 50)[index]  # what the video's own mouth was saying
    dub = analyze_video(result.path)
    src = analyze_video(talking[0])
    dub_mouth = mouth_opening(dub.landmarks)
    src_mouth = mouth_opening(src.landmarks)[index]
    r_dub_b = lagged_pearson(dub_mouth, env_b).max()
    r_dub_a = lagged_pearson(dub_mouth, env_a).max()
    r_src_b = lagged_pearson(src_mouth, env_b).max()
    r_src_a = lagged_pearson(src_mouth, env_a).max()
    assert r_src_a > 0.5 and r_src_b < 0.3, (r_src_a, r_src_b)  # the test's two speeches are distinct
    assert r_dub_b > 0.5 and r_dub_a < r_dub_b - 0.3, (r_dub_b, r_dub_a)


def test_bad_inputs_are_one_line(portrait, talking):
    pipe = DubbingPipeline.from_config()
    speech = _gated(1.0, [(0.0, 1.0)], seed=3)
    frames = read_video(talking[0], with_audio=False).frames
    with pytest.raises(InputError, match="different sizes"):
        pipe([frames[0], frames[1][:128]], speech, fps=FPS)
    with pytest.raises(InputError, match="at least 1 s"):
        pipe(frames[:20], speech, fps=FPS)
    faceless = frames.copy()
    faceless[5:] = 90
    with pytest.raises(InputError, match="face in only 20% of its first 25 frames"):
        pipe(faceless, speech, fps=FPS)
    with pytest.raises(InputError, match="empty"):
        pipe(frames, np.zeros(0, np.float32), fps=FPS)


def test_ping_pong_gaps_and_references():
    assert pingpong(7, 3).tolist() == [0, 1, 2, 1, 0, 1, 2]
    assert pingpong(3, 1).tolist() == [0, 0, 0]
    track = MotionTrack.zeros(12, FPS)
    track.landmarks = np.zeros((12, 478, 3), np.float32)
    track.landmarks[:, :, 0] = np.arange(12)[:, None]
    track.valid[[3, 4, 8, 9, 10, 11]] = False  # a short loss (2 frames) and a long one at the end (4)
    landmarks, usable = bridge_gaps(track, max_gap=2)
    np.testing.assert_allclose(landmarks[3:5, 0, 0], [3.0, 4.0])  # linear between frames 2 and 5
    assert usable[:8].all() and not usable[8:].any()
    track.pose[:, 0] = [0, 0, 20, 20, 20, 0, 0, -20, 0, 0, 0, 0]
    refs = reference_frames(track, usable, spread_deg=6.0)
    assert {round(float(track.pose[r, 0])) for r in refs} == {0, 20, -20}
    which = assign_references(np.array([[1.0, 0, 0], [18, 0, 0], [9, 0, 0], [11, 0, 0]]),
                              np.array([[0.0, 0, 0], [20, 0, 0]]))
    assert which.tolist() == [0, 1, 1, 1]  # 9 degrees is not 3 degrees nearer the first: no switch back


def test_geometry_helpers_against_closed_forms():
    rng = np.random.default_rng(0)
    src = np.concatenate([rng.uniform(5, 95, (60, 2)), [[-1, -1], [100, -1], [100, 80], [-1, 80]]])
    a, b = np.array([[1.02, 0.03], [-0.02, 0.98]]), np.array([0.7, -0.4])
    # A piecewise-affine warp of points moved by one affine map is that affine map everywhere inside.
    mx, my = triangle_map(src, src @ a.T + b, 100, 80)
    ys, xs = np.mgrid[10:70, 10:90].astype(float)
    back = np.einsum("ij,hwj->hwi", np.linalg.inv(a), np.stack([xs, ys], -1) - b)
    np.testing.assert_allclose(mx[10:70, 10:90], back[..., 0], atol=1e-3)
    np.testing.assert_allclose(my[10:70, 10:90], back[..., 1], atol=1e-3)
    np.testing.assert_allclose(fit_affine(src, src @ a.T + b), np.concatenate([a, b[:, None]], 1), atol=1e-9)
    rotation = fg.euler_to_rotation(np.array([10.0, -5.0, 3.0]))
    points = rng.normal(size=(20, 3))
    s, r, t = similarity_3d(points, 1.5 * points @ rotation.T + [1.0, 2.0, 3.0])
    assert s == pytest.approx(1.5) and np.allclose(r, rotation) and np.allclose(t, [1.0, 2.0, 3.0])
