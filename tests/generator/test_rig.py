"""The rig is the analyzer's inverse: deform by a coefficient, measure the same coefficient back."""

from __future__ import annotations

import numpy as np
import pytest

from forgebench.generator.render.rig import FaceRig
from forgebench.media import face_geometry as fg
from forgebench.records import EXPRESSION_NAMES


@pytest.fixture(scope="module")
def rig(portrait_face):
    return FaceRig(portrait_face.canonical)


@pytest.mark.parametrize(
    "name, delta", [("jaw_open", 0.2), ("jaw_open", -0.1), ("mouth_width", 0.08), ("pucker", 0.04),
                    ("smile", -0.05), ("brow_raise", 0.05)],
)
def test_each_coefficient_is_measured_back_alone(rig, name, delta):
    k = EXPRESSION_NAMES.index(name)
    target = rig.expression.copy()
    target[k] += delta
    measured, _ = fg.measure_expression(rig.deform(target), rig.eye_open_ref)
    change = measured - rig.expression
    assert change[k] == pytest.approx(delta, abs=0.1 * abs(delta))
    others = np.delete(change, k)
    assert np.abs(others).max() < 0.15 * abs(delta) + 2e-3


@pytest.mark.parametrize("closure", [0.3, 0.7, 1.0])
def test_blinks_close_by_the_requested_fraction(rig, closure):
    target = rig.expression.copy()
    target[EXPRESSION_NAMES.index("blink_left")] = closure
    measured, _ = fg.measure_expression(rig.deform(target), rig.eye_open_ref)
    assert measured[EXPRESSION_NAMES.index("blink_left")] == pytest.approx(closure, abs=0.02)
    assert measured[EXPRESSION_NAMES.index("blink_right")] == pytest.approx(0.0, abs=0.02)


def test_gaze_moves_the_irises(rig):
    _, gaze = fg.measure_expression(rig.deform(rig.expression, rig.gaze + [0.12, -0.05]), rig.eye_open_ref)
    np.testing.assert_allclose(gaze - rig.gaze, [0.12, -0.05], atol=1e-6)


def test_identity_deformation_is_exact(rig):
    np.testing.assert_allclose(rig.deform(rig.expression, rig.gaze), rig.canonical, atol=1e-12)


def test_dense_offsets_give_the_requested_mesh_exactly(rig):
    from forgebench.generator.render.rig import dense_offsets

    rng = np.random.default_rng(0)
    change = rng.normal(0, 0.01, size=rig.canonical.shape)
    expression = rig.expression.copy()
    expression[EXPRESSION_NAMES.index("jaw_open")] += 0.15  # the coefficients the painters see
    offsets = dense_offsets(rig, change, expression, rig.gaze)
    np.testing.assert_allclose(rig.deform(expression, rig.gaze) + offsets, rig.canonical + change, atol=1e-12)


def test_dense_motion_is_the_trackers_canonical_change_and_holds_lost_frames(portrait_face):
    from forgebench.generator.render.rig import DenseMotion

    pts = np.asarray(portrait_face.landmarks, np.float64)
    rot = fg.euler_to_rotation(np.array([10.0, -5.0, 3.0]))
    centre = pts.mean(0)
    turned = (pts - centre) @ rot.T * 1.2 + centre + [7.0, -3.0, 0.0]  # the same face, turned, scaled, moved
    smiling = pts.copy()
    smiling[list(fg.MOUTH_CORNERS), 1] -= 4.0
    landmarks = np.stack([pts, turned, smiling, np.zeros_like(pts)])
    motion = DenseMotion(landmarks, np.array([True, True, True, False]), reference=0, scale=0.5)
    np.testing.assert_allclose(motion.change(1), 0.0, atol=1e-9)  # pose is not expression
    c0, c2 = fg.canonicalize(pts, 1, 1)[0], fg.canonicalize(smiling, 1, 1)[0]
    np.testing.assert_allclose(motion.change(2), 0.5 * (c2 - c0), atol=1e-12)
    np.testing.assert_allclose(motion.change(3), motion.change(2), atol=1e-12)  # no face: the nearest frame's
