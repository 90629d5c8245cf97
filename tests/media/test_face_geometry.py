"""Pose and expression measurement against known rotations and constructed meshes."""

from __future__ import annotations

import numpy as np
import pytest

from forgebench.media import face_geometry as fg


@pytest.mark.parametrize("angles", [(10, 0, 0), (0, 12, 0), (0, 0, -9), (18, -8, 5), (-25, 10, -12)])
def test_pose_of_a_mesh_rotated_by_known_angles_comes_back(portrait_face, angles):
    width, height = portrait_face.width, portrait_face.height
    pose = portrait_face.pose.copy()
    pose[:3] = angles
    rotated = fg.pose_to_points(portrait_face.canonical, pose, width, height)
    _, measured = fg.canonicalize(rotated, width, height)
    np.testing.assert_allclose(measured[:3], angles, atol=2.0)
    np.testing.assert_allclose(measured[3:], pose[3:], atol=1e-6)


def test_euler_round_trip_and_orthonormal():
    rng = np.random.default_rng(0)
    angles = rng.uniform([-60, -40, -40], [60, 40, 40], size=(50, 3))
    rot = fg.euler_to_rotation(angles)
    np.testing.assert_allclose(rot @ np.swapaxes(rot, -1, -2), np.broadcast_to(np.eye(3), rot.shape), atol=1e-12)
    np.testing.assert_allclose(fg.rotation_to_euler(rot), angles, atol=1e-9)


def test_sign_conventions(portrait_face):
    """Yaw > 0 moves the nose toward image right; pitch > 0 moves it down; roll > 0 is clockwise."""
    w, h = portrait_face.width, portrait_face.height
    base = portrait_face.pose.copy()
    base[:3] = 0
    nose0 = fg.pose_to_points(portrait_face.canonical, base, w, h)[fg.NOSE_TIP]
    for axis, check in ((0, lambda d: d[0] > 0), (1, lambda d: d[1] > 0)):
        pose = base.copy()
        pose[axis] = 10
        assert check(fg.pose_to_points(portrait_face.canonical, pose, w, h)[fg.NOSE_TIP] - nose0)
    pose = base.copy()
    pose[2] = 10
    pts = fg.pose_to_points(portrait_face.canonical, pose, w, h)
    left_eye, right_eye = fg.eye_centres(pts)  # image-left, image-right
    assert right_eye[1] > left_eye[1]  # clockwise: the image-right eye goes down


def test_canonicalize_round_trip_in_the_image_plane(portrait_face):
    pts = portrait_face.landmarks.astype(np.float64)
    canonical, pose = fg.canonicalize(pts, portrait_face.width, portrait_face.height)
    back = fg.pose_to_points(canonical, pose, portrait_face.width, portrait_face.height)
    np.testing.assert_allclose(back[:, :2], pts[:, :2], atol=1e-6)


def test_expression_is_invariant_to_pose_and_scale(portrait_face):
    c = portrait_face.canonical
    ref = fg.eye_openness(c)
    expr0, gaze0 = fg.measure_expression(c, ref)
    pose = portrait_face.pose.copy()
    pose[:3] = (15, -10, 8)
    pose[5] *= 1.7
    moved = fg.pose_to_points(c, pose, 640, 480)
    canonical, _ = fg.canonicalize(moved, 640, 480)
    expr1, gaze1 = fg.measure_expression(canonical, ref)
    np.testing.assert_allclose(expr1, expr0, atol=1e-9)
    np.testing.assert_allclose(gaze1, gaze0, atol=1e-9)


def test_jaw_open_and_blink_on_constructed_meshes(portrait_face):
    c = portrait_face.canonical.copy()
    ref = fg.eye_openness(c)
    before, _ = fg.measure_expression(c, ref)
    opened = c.copy()
    for _, lower in fg.INNER_LIP_PAIRS:
        opened[lower, 1] += 0.1  # inner lower lip 0.1 IOD further down
    after, _ = fg.measure_expression(opened, ref)
    assert after[0] - before[0] == pytest.approx(0.1, abs=1e-9)
    shut = c.copy()
    for upper, lower in fg.RIGHT_LID_PAIRS:
        shut[upper, :2] = shut[lower, :2]  # subject's right eye closed
    expr, _ = fg.measure_expression(shut, ref)
    assert expr[5] == pytest.approx(1.0) and expr[4] == pytest.approx(0.0)
