"""Head pose and named expression coefficients from a 478-point MediaPipe mesh.

MediaPipe's legacy face mesh gives x, y in pixels (after scaling) and a relative
depth z on the scale of x, so the landmarks themselves are a 3D mesh; the
canonical face model file is not shipped, and we do not need it. The head frame
is built from anatomically stable points (eye corners, nose bridge, subnasale,
forehead) that neither speech nor blinks move:

* x axis: from the image-left eye centre to the image-right eye centre;
* y axis: forehead (10) to subnasale (2), orthogonalised against x (points down);
* z axis: x × y, pointing into the image (away from the camera).

``R = [x y z]`` maps face coordinates to camera coordinates. Euler angles use
``R = Ry(ψ) Rx(θ) Rz(φ)`` with yaw = −ψ so that yaw > 0 turns the face toward
image right (units and signs are fixed in :mod:`forgebench.records`).

The *canonical* mesh ``C = Rᵀ (P − centre) / IOD`` removes pose and size: its
units are inter-ocular distances, origin the eye midpoint, y down, z away. All
expression coefficients are measured on it, so they do not change with head
pose or image size.

Landmark indices follow MediaPipe's ``face_mesh_connections`` topology; note
that MediaPipe's "right eye" indices (33, 133, ...) are the subject's right eye,
which appears on the image's left.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from forgebench.records import EXPRESSION_NAMES

# -- landmark indices ----------------------------------------------------------
RIGHT_EYE_CORNERS = (33, 133)  # subject's right eye (image left): outer, inner
LEFT_EYE_CORNERS = (263, 362)  # subject's left eye (image right): outer, inner
FOREHEAD, NOSE_BRIDGE, SUBNASALE, NOSE_TIP, CHIN = 10, 168, 2, 1, 152
RIGHT_IRIS, LEFT_IRIS = 468, 473  # iris centres (refined mesh only)
RIGHT_IRIS_RING = (468, 469, 470, 471, 472)
LEFT_IRIS_RING = (473, 474, 475, 476, 477)

# Upper/lower lid pairs that face each other, used for the eye-opening ratio.
RIGHT_LID_PAIRS = ((160, 144), (159, 145), (158, 153))
LEFT_LID_PAIRS = ((387, 373), (386, 374), (385, 380))
# Full lid contours (upper, lower) paired point by point, corners excluded.
RIGHT_LID_CONTOUR = ((246, 7), (161, 163), (160, 144), (159, 145), (158, 153), (157, 154), (173, 155))
LEFT_LID_CONTOUR = ((466, 249), (388, 390), (387, 373), (386, 374), (385, 380), (384, 381), (398, 382))

MOUTH_CORNERS = (61, 291)
INNER_LIP_PAIRS = ((13, 14), (82, 87), (312, 317))  # upper inner, lower inner
OUTER_LIP_CENTRES = (0, 17)
INNER_LIP_UPPER = (78, 191, 80, 81, 82, 13, 312, 311, 310, 415, 308)
INNER_LIP_LOWER = (308, 324, 318, 402, 317, 14, 87, 178, 88, 95, 78)
OUTER_LIP_UPPER = (61, 185, 40, 39, 37, 0, 267, 269, 270, 409, 291)
OUTER_LIP_LOWER = (291, 375, 321, 405, 314, 17, 84, 181, 91, 146, 61)
RIGHT_BROW = (70, 63, 105, 66, 107, 46, 53, 52, 65, 55)
LEFT_BROW = (300, 293, 334, 296, 336, 276, 283, 282, 295, 285)
FACE_OVAL = (
    10, 338, 297, 332, 284, 251, 389, 356, 454, 323, 361, 288, 397, 365, 379, 378, 400, 377,
    152, 148, 176, 149, 150, 136, 172, 58, 132, 93, 234, 127, 162, 21, 54, 103, 67, 109,
)  # fmt: skip


@dataclass
class HeadFrame:
    """Rotation [.., 3, 3] (face -> camera), centre [.., 3] in pixels, IOD [..] in pixels."""

    rotation: np.ndarray
    centre: np.ndarray
    iod: np.ndarray


def _normalise(v: np.ndarray) -> np.ndarray:
    return v / np.maximum(np.linalg.norm(v, axis=-1, keepdims=True), 1e-12)


def eye_centres(points: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(image-left eye centre, image-right eye centre) from eye corners, [..., 3] each."""
    right = points[..., RIGHT_EYE_CORNERS, :].mean(axis=-2)
    left = points[..., LEFT_EYE_CORNERS, :].mean(axis=-2)
    return right, left


def head_frame(points: np.ndarray) -> HeadFrame:
    """Head rotation, centre and inter-ocular distance of meshes ``points`` [..., 478, 3]."""
    points = np.asarray(points, dtype=np.float64)
    eye_r, eye_l = eye_centres(points)
    x_axis = _normalise(eye_l - eye_r)
    down = points[..., SUBNASALE, :] - points[..., FOREHEAD, :]
    down = down - (down * x_axis).sum(-1, keepdims=True) * x_axis
    y_axis = _normalise(down)
    z_axis = np.cross(x_axis, y_axis)
    rotation = np.stack([x_axis, y_axis, z_axis], axis=-1)
    centre = (eye_r + eye_l) / 2.0
    iod = np.linalg.norm(eye_l - eye_r, axis=-1)
    return HeadFrame(rotation=rotation, centre=centre, iod=iod)


def rotation_to_euler(rotation: np.ndarray) -> np.ndarray:
    """[..., 3, 3] -> [..., 3] (yaw, pitch, roll) in degrees; see the module docstring."""
    r = np.asarray(rotation, dtype=np.float64)
    pitch = np.arcsin(np.clip(-r[..., 1, 2], -1.0, 1.0))
    psi = np.arctan2(r[..., 0, 2], r[..., 2, 2])
    roll = np.arctan2(r[..., 1, 0], r[..., 1, 1])
    return np.degrees(np.stack([-psi, pitch, roll], axis=-1))


def euler_to_rotation(angles_deg: np.ndarray) -> np.ndarray:
    """[..., 3] (yaw, pitch, roll) degrees -> [..., 3, 3], the inverse of :func:`rotation_to_euler`."""
    a = np.radians(np.asarray(angles_deg, dtype=np.float64))
    psi, theta, phi = -a[..., 0], a[..., 1], a[..., 2]
    cy, sy, cx, sx, cz, sz = np.cos(psi), np.sin(psi), np.cos(theta), np.sin(theta), np.cos(phi), np.sin(phi)
    one, zero = np.ones_like(psi), np.zeros_like(psi)
    ry = np.stack([np.stack([cy, zero, sy], -1), np.stack([zero, one, zero], -1), np.stack([-sy, zero, cy], -1)], -2)
    rx = np.stack([np.stack([one, zero, zero], -1), np.stack([zero, cx, -sx], -1), np.stack([zero, sx, cx], -1)], -2)
    rz = np.stack([np.stack([cz, -sz, zero], -1), np.stack([sz, cz, zero], -1), np.stack([zero, zero, one], -1)], -2)
    return ry @ rx @ rz


def canonicalize(points: np.ndarray, width: int, height: int) -> tuple[np.ndarray, np.ndarray]:
    """Pose-free mesh and pose of ``points`` [..., 478, 3] in pixels.

    Returns ``(canonical [..., 478, 3] in IOD units, pose [..., 6])`` with pose as
    in :data:`forgebench.records.POSE_NAMES`.
    """
    frame = head_frame(points)
    rel = np.asarray(points, np.float64) - frame.centre[..., None, :]
    canonical = np.einsum("...ji,...nj->...ni", frame.rotation, rel) / frame.iod[..., None, None]
    angles = rotation_to_euler(frame.rotation)
    pose = np.concatenate(
        [
            angles,
            (frame.centre[..., 0] / width)[..., None],
            (frame.centre[..., 1] / height)[..., None],
            (frame.iod / width)[..., None],
        ],
        axis=-1,
    )
    return canonical, pose


def pose_to_points(canonical: np.ndarray, pose: np.ndarray, width: int, height: int) -> np.ndarray:
    """Inverse of :func:`canonicalize`: place a canonical mesh in the image with ``pose``."""
    pose = np.asarray(pose, np.float64)
    rotation = euler_to_rotation(pose[..., :3])
    iod = pose[..., 5] * width
    centre = np.stack([pose[..., 3] * width, pose[..., 4] * height, np.zeros_like(iod)], axis=-1)
    cam = np.einsum("...ij,...nj->...ni", rotation, np.asarray(canonical, np.float64))
    return cam * iod[..., None, None] + centre[..., None, :]


def eye_openness(canonical: np.ndarray) -> np.ndarray:
    """[..., 2] lid gap / eye width for the subject's (left, right) eye."""

    def ratio(pairs: tuple[tuple[int, int], ...], corners: tuple[int, int]) -> np.ndarray:
        gaps = [np.linalg.norm(canonical[..., a, :2] - canonical[..., b, :2], axis=-1) for a, b in pairs]
        width = np.linalg.norm(canonical[..., corners[0], :2] - canonical[..., corners[1], :2], axis=-1)
        return np.mean(gaps, axis=0) / np.maximum(width, 1e-9)

    return np.stack([ratio(LEFT_LID_PAIRS, LEFT_EYE_CORNERS), ratio(RIGHT_LID_PAIRS, RIGHT_EYE_CORNERS)], axis=-1)


def measure_expression(canonical: np.ndarray, eye_open_ref: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Named expression coefficients [..., 7] and gaze [..., 2] of canonical meshes.

    ``eye_open_ref`` [2] is the subject's open-eye ratio (left, right); blinks are
    ``1 - openness / eye_open_ref`` clipped to [0, 1]. Without it the mesh's own
    openness is the reference, so a single image has blink 0.
    """
    c = np.asarray(canonical, np.float64)
    y = c[..., 1]
    jaw_open = np.mean([y[..., lo] - y[..., up] for up, lo in INNER_LIP_PAIRS], axis=0)
    corner_l, corner_r = c[..., MOUTH_CORNERS[0], :], c[..., MOUTH_CORNERS[1], :]
    mouth_width = np.linalg.norm(corner_r[..., :2] - corner_l[..., :2], axis=-1)
    lip_centre_y = (y[..., 13] + y[..., 14]) / 2.0
    smile = lip_centre_y - (corner_l[..., 1] + corner_r[..., 1]) / 2.0
    pucker = (corner_l[..., 2] + corner_r[..., 2]) / 2.0 - c[..., OUTER_LIP_CENTRES, 2].mean(axis=-1)
    openness = eye_openness(c)
    ref = openness if eye_open_ref is None else np.asarray(eye_open_ref, np.float64)
    blink = np.clip(1.0 - openness / np.maximum(ref, 1e-9), 0.0, 1.0)
    eye_y_r = y[..., RIGHT_EYE_CORNERS].mean(axis=-1)
    eye_y_l = y[..., LEFT_EYE_CORNERS].mean(axis=-1)
    brow_raise = ((eye_y_r - y[..., RIGHT_BROW].mean(axis=-1)) + (eye_y_l - y[..., LEFT_BROW].mean(axis=-1))) / 2.0
    expression = np.stack([jaw_open, mouth_width, pucker, smile, blink[..., 0], blink[..., 1], brow_raise], axis=-1)
    assert expression.shape[-1] == len(EXPRESSION_NAMES)
    return expression, measure_gaze(c)


def measure_gaze(canonical: np.ndarray) -> np.ndarray:
    """[..., 2] iris offset from the eye-corner midpoint over eye width, mean of both eyes."""
    offsets = []
    for iris, corners in ((RIGHT_IRIS, RIGHT_EYE_CORNERS), (LEFT_IRIS, LEFT_EYE_CORNERS)):
        a, b = canonical[..., corners[0], :2], canonical[..., corners[1], :2]
        width = np.linalg.norm(a - b, axis=-1, keepdims=True)
        offsets.append((canonical[..., iris, :2] - (a + b) / 2.0) / np.maximum(width, 1e-9))
    return np.mean(offsets, axis=0)
