"""Reenactment end to end: a driving clip made here (the built-in portrait rendered with known motion)
moves another framing of the face; the analyzer on the output must see the driver's motion."""

from __future__ import annotations

import numpy as np
import pytest

from forgebench.errors import InputError
from forgebench.generator.config import ReenactmentConfig
from forgebench.generator.reenact import ReenactmentPipeline
from forgebench.generator.render.renderer import FaceRenderer
from forgebench.media.analyze import analyze_video
from forgebench.media.video import probe_video, read_video, write_video
from forgebench.provenance.metadata import read_provenance
from forgebench.records import EXPRESSION_NAMES
from tests.conftest import speech_like

N = 30
JAW, SMILE = EXPRESSION_NAMES.index("jaw_open"), EXPRESSION_NAMES.index("smile")


def _render(renderer: FaceRenderer, yaw: np.ndarray, jaw: np.ndarray, smile: np.ndarray | None = None) -> np.ndarray:
    pose0, expr0, gaze0 = renderer.source_state
    frames = []
    for i in range(len(yaw)):
        pose, expr = pose0.copy(), expr0.copy()
        pose[0] += yaw[i]
        expr[JAW] += jaw[i]
        if smile is not None:
            expr[SMILE] += smile[i]
        frames.append(renderer.render(pose, expr, gaze0))
    return np.stack(frames)


@pytest.fixture(scope="module")
def driver(source_face, tmp_path_factory):
    """30 frames at 25 fps: the head turns +-9 degrees, the jaw opens twice; with speech-like audio."""
    t = np.arange(N)
    yaw = 9.0 * np.sin(2 * np.pi * t / N)
    jaw = 0.16 * (0.5 - 0.5 * np.cos(2 * np.pi * t / 15))
    frames = _render(FaceRenderer(source_face), yaw, jaw)
    path = tmp_path_factory.mktemp("driver") / "driver.mp4"
    write_video(path, frames, fps=25.0, audio=speech_like(N / 25.0), crf=12)
    return path


@pytest.fixture(scope="module")
def other_portrait(portrait):
    """Another framing of the built-in face: mirrored, 320x300, the face smaller and off-centre."""
    return np.ascontiguousarray(portrait[:, ::-1][0:300, 100:420])


@pytest.fixture(scope="module")
def reenacted(driver, other_portrait, tmp_path_factory):
    out = tmp_path_factory.mktemp("reenact") / "out.mp4"
    pipe = ReenactmentPipeline.from_config(ReenactmentConfig(crop="full", crf=12))
    return pipe(other_portrait, driver, out=out)


def test_output_has_the_drivers_length_rate_audio_and_provenance(reenacted, driver):
    info, src = probe_video(reenacted.path), probe_video(driver)
    assert (info.width, info.height) == (320, 300)  # --crop full: the portrait's own size
    assert info.n_frames == src.n_frames == N and info.fps == pytest.approx(src.fps)
    clip = read_video(reenacted.path)
    assert clip.audio is not None and abs(len(clip.audio) / 16000 - N / 25) <= 1 / 25 + 1e-6
    prov = read_provenance(reenacted.path)
    assert prov["family"] == "reenactment" and prov["synthetic"] == "true"
    assert prov["motion_model"] == "driving-video"


def _gain(driver: np.ndarray, out: np.ndarray) -> tuple[float, float]:
    """(least-squares gain of ``out`` on ``driver``, correlation), both as deltas from frame 0."""
    d, o = driver - driver[0], out - out[0]
    return float(d @ o / (d @ d)), float(np.corrcoef(d, o)[0, 1])


def test_the_analyzer_recovers_the_drivers_motion_deltas(reenacted):
    """Deltas from frame 0, output vs driver, both as the analyzer measures them.

    Tolerances: the shape of the motion must come through (correlation > 0.9), and its size
    within a band: one render -> analyze pass of this renderer keeps only 0.6-0.7 of a head
    turn (tests/generator/test_renderer.py allows 4 degrees on +-8; a known renderer limit),
    so the yaw gain must lie in 0.45-1.2 and the jaw gain in 0.6-1.3. A broken retargeting —
    absolute instead of relative, a sign flip, nothing transferred — fails both.
    """
    driver, out = reenacted.driver, analyze_video(reenacted.path)
    assert out.valid.all()
    # The portrait is mirrored, but yaw is measured in the image: the face turns the same way on screen.
    gain, r = _gain(driver.pose_of("yaw"), out.pose_of("yaw"))
    assert r > 0.9 and 0.45 < gain < 1.2, (gain, r)
    gain, r = _gain(driver.expr("jaw_open"), out.expr("jaw_open"))
    assert r > 0.9 and 0.6 < gain < 1.3, (gain, r)
    # The portrait keeps its own place and size in its frame: relative motion, not the driver's framing.
    assert abs(out.pose_of("scale")[0] - driver.pose_of("scale")[0]) > 0.02


def test_a_driver_with_a_constant_offset_leaves_the_portrait_at_rest(source_face, other_portrait):
    """The driver smiles, opens its jaw and looks aside from its first frame on, then holds still: the
    portrait's motion stays at its own rest, within the analyzer's noise on identical frames (about 1 degree,
    0.01 IOD), far below the offsets (7 degrees of yaw, 0.05 IOD of jaw, 0.06 IOD of smile) an absolute
    transfer would add."""
    frames = _render(FaceRenderer(source_face), np.full(12, 7.0), np.full(12, 0.05), np.full(12, 0.06))
    pipe = ReenactmentPipeline.from_config(ReenactmentConfig(crop="full"))
    result = pipe(other_portrait, frames, fps=25.0)
    rest = pipe.analyzer(other_portrait).face
    assert np.abs(result.track.pose[:, :3] - rest.pose[:3]).max() < 2.0  # degrees
    assert np.abs(result.track.expression[:, [JAW, SMILE]] - rest.expression[[JAW, SMILE]]).max() < 0.02  # IOD


def test_self_reenactment_with_crop_full_is_aligned_with_the_driver(driver, tmp_path):
    """The portrait is the driving video's own first frame: the output follows the driver frame for frame."""
    first = read_video(driver, max_frames=1, with_audio=False).frames[0]
    out = tmp_path / "self.mp4"
    ReenactmentPipeline.from_config(ReenactmentConfig(crop="full", crf=12))(first, driver, out=out)
    real, fake = analyze_video(driver), analyze_video(out)
    assert probe_video(out).width == probe_video(driver).width
    dist = np.linalg.norm(real.landmarks[..., :2] - fake.landmarks[..., :2], axis=-1).mean(axis=1)
    iod = real.pose_of("scale") * 256
    # Mean landmark distance per frame under 4 % of the inter-ocular distance (2 px at 256x256),
    # where a one-IOD-wide motion would give tens of pixels if the output were not aligned.
    assert dist.max() < 0.04 * iod.min(), dist.round(2)
    assert dist[0] < 1.0


def test_lost_faces_are_held_and_a_faceless_driver_is_refused(source_face, other_portrait):
    t = np.arange(20)
    frames = _render(FaceRenderer(source_face), 8 * np.sin(2 * np.pi * t / 20), np.zeros(20))
    gap = frames.copy()
    gap[8:11] = 128  # three frames without a face
    pipe = ReenactmentPipeline.from_config(ReenactmentConfig(size=128))
    result = pipe(other_portrait, gap, fps=25.0)
    assert result.n_frames == 20 and not result.track.valid[8:11].any()
    assert any("lost in 3 of 20" in note for note in result.notes)
    yaw = result.track.pose_of("yaw")
    lo, hi = sorted((yaw[7], yaw[11]))
    assert np.all((yaw[8:11] >= lo - 1e-3) & (yaw[8:11] <= hi + 1e-3))  # interpolated between its neighbours
    faceless = frames.copy()
    faceless[:14] = 128
    with pytest.raises(InputError, match="face in only 30%"):
        pipe(other_portrait, faceless, fps=25.0)



def test_a_driver_whose_camera_brightens_brightens_the_self_reenactment(source_face, tmp_path):
    """The driver's exposure steps up by 20 % half-way: the output follows it (``--no-camera``: it does not)."""
    t = np.arange(24)
    frames = _render(FaceRenderer(source_face), 4 * np.sin(2 * np.pi * t / 24), np.zeros(24))
    driver = (frames.astype(np.float64) * 0.75).round()
    driver[12:] *= 1.2
    driver = np.clip(driver, 0, 255).round().astype(np.uint8)
    ratios = {}
    for camera in (True, False):
        out = tmp_path / f"camera_{camera}.mp4"
        pipe = ReenactmentPipeline.from_config(ReenactmentConfig(crop="full", crf=12, camera=camera))
        pipe(driver[0], driver, fps=25.0, out=out)
        fake = read_video(out, with_audio=False).frames.astype(np.float64)
        ratios[camera] = fake[15:].mean() / fake[:9].mean()
    real = driver[15:].astype(np.float64).mean() / driver[:9].mean()
    assert abs(ratios[True] - real) < 0.02, (ratios, real)
    assert abs(ratios[False] - 1.0) < 0.02, ratios
