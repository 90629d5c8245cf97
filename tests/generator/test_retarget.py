"""Retargeting: the driver's motion relative to its first frame, applied to the portrait's own state."""

from __future__ import annotations

import numpy as np
import pytest

from forgebench.errors import InputError
from forgebench.generator.motion.base import SourceState
from forgebench.generator.retarget import RetargetConfig, retarget
from forgebench.media import face_geometry as fg
from forgebench.records import EXPRESSION_NAMES, MotionTrack

E = {n: i for i, n in enumerate(EXPRESSION_NAMES)}
PORTRAIT = SourceState(pose=[4.0, -3.0, 2.0, 0.45, 0.52, 0.22], expression=[0.02, 0.9, 0.01, 0.03, 0.1, 0.05, 0.33],
                       gaze=[0.02, -0.01])


def _driver(n: int = 12, seed: int = 0, width: int = 640, height: int = 480) -> MotionTrack:
    rng = np.random.default_rng(seed)
    track = MotionTrack.zeros(n, fps=25.0, width=width, height=height)
    track.pose[:] = [-6.0, 5.0, -1.0, 0.55, 0.4, 0.15] + rng.normal(0, [5, 4, 3, 0.02, 0.02, 0.01], (n, 6))
    track.expression[:] = [0.05, 0.8, 0.02, 0.08, 0.0, 0.0, 0.36] + rng.normal(0, 0.03, (n, 7))
    track.expression[:, [E["blink_left"], E["blink_right"]]] = rng.uniform(0, 1, (n, 2))
    track.gaze[:] = rng.normal(0, 0.05, (n, 2))
    return track


def test_a_driver_that_does_not_move_gives_the_portrait_at_rest():
    """A constant offset at rest (smiling, turned, off-centre, eyes half shut) transfers nothing."""
    driver = MotionTrack.zeros(10, fps=25.0, width=320, height=240)
    driver.pose[:] = [15.0, -8.0, 5.0, 0.3, 0.6, 0.3]
    driver.expression[:] = [0.2, 1.1, 0.05, 0.12, 0.4, 0.4, 0.5]
    driver.gaze[:] = [0.1, 0.05]
    out = retarget(driver, PORTRAIT, source_size=(256, 256))
    np.testing.assert_allclose(out.pose, np.tile(PORTRAIT.pose, (10, 1)), atol=1e-4)
    np.testing.assert_allclose(out.expression, np.tile(PORTRAIT.expression, (10, 1)), atol=1e-6)
    np.testing.assert_allclose(out.gaze, np.tile(PORTRAIT.gaze, (10, 1)), atol=1e-6)


def test_rotation_since_the_first_frame_is_composed_onto_the_portrait():
    driver = _driver()
    out = retarget(driver, PORTRAIT, source_size=(256, 256))
    r = fg.euler_to_rotation
    expected = r(driver.pose[:, :3].astype(np.float64)) @ r(driver.pose[0, :3].astype(np.float64)).T
    expected = expected @ r(PORTRAIT.pose[:3])
    np.testing.assert_allclose(r(out.pose[:, :3].astype(np.float64)), expected, atol=1e-5)
    # Small turns compose like additions: the yaw change is the driver's yaw change.
    small = MotionTrack.zeros(3, fps=25.0)
    small.pose[:, 5] = 0.2
    small.pose[:, 0] = [0.0, 1.0, -1.0]
    out = retarget(small, SourceState.neutral())
    np.testing.assert_allclose(out.pose[:, 0], [0.0, 1.0, -1.0], atol=1e-4)


def test_translation_and_scale_move_in_face_units():
    """A shift of one driver IOD moves the portrait's face by one of its own IODs; leaning in scales it."""
    driver = MotionTrack.zeros(3, fps=25.0, width=640, height=480)
    driver.pose[:] = [0.0, 0.0, 0.0, 0.5, 0.5, 0.1]  # IOD = 64 px
    driver.pose[1, 3] += 0.1  # 64 px right: one IOD
    driver.pose[2, 4] += 64 / 480  # 64 px down: one IOD
    driver.pose[2, 5] = 0.12  # 20 % larger
    out = retarget(driver, PORTRAIT, source_size=(256, 200))
    iod_px = PORTRAIT.pose[5] * 256
    np.testing.assert_allclose(out.pose[1, 3], PORTRAIT.pose[3] + iod_px / 256, atol=1e-6)
    np.testing.assert_allclose(out.pose[2, 4], PORTRAIT.pose[4] + iod_px / 200, atol=1e-6)
    np.testing.assert_allclose(out.pose[2, 5], PORTRAIT.pose[5] * 1.2, atol=1e-6)


def test_expressions_and_gaze_are_deltas_and_blinks_close_from_the_portraits_state():
    driver = _driver()
    driver.expression[0, [E["blink_left"], E["blink_right"]]] = [0.2, 0.0]
    out = retarget(driver, PORTRAIT)
    shapes = [E[n] for n in ("jaw_open", "mouth_width", "pucker", "smile", "brow_raise")]
    change = driver.expression[:, shapes] - driver.expression[0, shapes]
    np.testing.assert_allclose(out.expression[:, shapes], PORTRAIT.expression[shapes] + change, atol=1e-5)
    np.testing.assert_allclose(out.gaze, PORTRAIT.gaze + driver.gaze - driver.gaze[0], atol=1e-6)
    for name, b0 in (("blink_left", 0.2), ("blink_right", 0.0)):
        b = driver.expression[:, E[name]]
        closing = np.clip((b - b0) / (1 - b0), 0, 1)
        base = PORTRAIT.expr(name)
        np.testing.assert_allclose(out.expression[:, E[name]], base + (1 - base) * closing, atol=1e-5)
    assert out.expression[:, [E["blink_left"], E["blink_right"]]].max() <= 1.0


def test_scales_and_the_reference_frame():
    driver = _driver()
    half = retarget(driver, PORTRAIT, RetargetConfig(pose_scale=0.5, expression_scale=0.5))
    full = retarget(driver, PORTRAIT)
    j = E["jaw_open"]
    np.testing.assert_allclose(half.expression[:, j] - PORTRAIT.expression[j],
                               0.5 * (full.expression[:, j] - PORTRAIT.expression[j]), atol=1e-6)
    # Frames before the first face are held at the reference: the output starts at the portrait's state.
    driver.valid[:3] = False
    out = retarget(driver, PORTRAIT)
    assert out.meta["reference_frame"] == 3
    np.testing.assert_allclose(out.expression[3], PORTRAIT.expression, atol=1e-6)
    assert not out.valid[:3].any() and out.n_frames == driver.n_frames and out.fps == driver.fps


def test_a_driver_mostly_without_a_face_is_refused():
    driver = _driver(10)
    driver.valid[:6] = False
    with pytest.raises(InputError, match="face in only 40%"):
        retarget(driver, PORTRAIT)
    with pytest.raises(InputError, match="between 0 and 2"):
        RetargetConfig(pose_scale=3.0)
