"""A blendshape rig built from one canonical mesh, consistent with the analyzer.

The renderer needs the inverse of :func:`forgebench.media.face_geometry.measure_expression`:
given the source's canonical mesh and target coefficients, where does each of the
478 vertices go? Each coefficient gets a hand-designed *raw* displacement pattern
(jaw rotation about the ear axis, corners outward, lips forward, corners up, brows
up). Raw patterns are not independent (opening the jaw also changes the measured
mouth width a little), so we measure the response matrix ``J[i, j]`` = change of
coefficient ``i`` per unit of raw pattern ``j`` on this very mesh and use
``B = raw @ J⁻¹``: a unit of basis ``k`` then changes measured coefficient ``k`` by
one and the others by ~0 (to first order). Blinks and gaze are exact by
construction (lids move along their facing lower-lid points; irises translate).

So ``measure_expression(rig.deform(e)) ≈ e`` — the property the tests check and
the reason analyzer-based metrics can score rendered videos.
"""

from __future__ import annotations

import numpy as np

from forgebench.media import face_geometry as fg
from forgebench.records import EXPRESSION_NAMES

# Jaw pivot (temporomandibular joint) in canonical units: below the eye line and
# deep behind the eye plane. Anthropometric averages: ~0.5 IOD down, ~1.5 IOD back.
JAW_PIVOT_Y, JAW_PIVOT_Z = 0.5, 1.5
_EXPR = {name: i for i, name in enumerate(EXPRESSION_NAMES)}
_DECOUPLED = ("jaw_open", "mouth_width", "pucker", "smile", "brow_raise")


def _gauss(dist2: np.ndarray, sigma: float) -> np.ndarray:
    return np.exp(-dist2 / (2.0 * sigma * sigma))


def _raw_patterns(c: np.ndarray) -> dict[str, np.ndarray]:
    """Raw [478, 3] displacement patterns per decoupled coefficient on canonical mesh ``c``."""
    n = len(c)
    x, y, z = c[:, 0], c[:, 1], c[:, 2]
    mouth_centre = c[list(fg.MOUTH_CORNERS)].mean(axis=0)
    corner_y = mouth_centre[1]
    upper_lip = set(fg.INNER_LIP_UPPER) | set(fg.OUTER_LIP_UPPER)
    lower_lip = set(fg.INNER_LIP_LOWER) | set(fg.OUTER_LIP_LOWER)
    corners = set(fg.MOUTH_CORNERS) | {78, 308}

    # jaw: rotation about the x axis through the pivot, weighted to the mandible.
    below = np.clip((y - corner_y + 0.02) / 0.12, 0.0, 1.0)
    weight = below * below * (3 - 2 * below)
    for i in range(n):
        if i in corners:
            weight[i] = 0.5
        elif i in lower_lip:
            weight[i] = 1.0
        elif i in upper_lip:
            weight[i] = 0.0
    # The cheeks far out to the side hardly follow the mandible.
    weight *= np.clip(1.3 - np.abs(x - mouth_centre[0]) / 0.9, 0.0, 1.0)
    jaw = np.zeros_like(c)
    jaw[:, 1] = (JAW_PIVOT_Z - z) * weight
    jaw[:, 2] = (y - JAW_PIVOT_Y) * weight
    # A mouth that is open in the source closes along its own shape: each lower inner-lip point moves
    # toward the upper point facing it, so at jaw_open 0 the two contours meet along the whole seam
    # (a rotation alone lifts the U of an open lower lip through the arch of the upper one at the sides).
    upper_inner, lower_inner = np.array(fg.INNER_LIP_UPPER[1:-1]), np.array(fg.INNER_LIP_LOWER[::-1][1:-1])
    gap = float(np.mean([y[lo] - y[up] for up, lo in fg.INNER_LIP_PAIRS]))
    share = float(np.clip((gap - 0.02) / 0.08, 0.0, 1.0))
    if share > 0.0:
        jaw /= max(abs(jaw[fg.INNER_LIP_PAIRS[0][1], 1]), 1e-6)  # one unit: the lower lip centre drops by one
        facing = (c[lower_inner] - c[upper_inner]) / gap
        jaw[lower_inner] = share * facing + (1.0 - share) * jaw[lower_inner]

    # mouth width: corners (and the lips near them) slide outward.
    width = np.zeros_like(c)
    corner_pts = c[list(fg.MOUTH_CORNERS)]
    for sign, cp in zip((-1.0, 1.0), corner_pts):
        g = _gauss(((c[:, :2] - cp[:2]) ** 2).sum(1), 0.22)
        width[:, 0] += sign * g

    # pucker: lip centres forward (toward the camera), corners inward.
    d2 = ((c[:, :2] - mouth_centre[:2]) ** 2).sum(1)
    lips = _gauss(d2, 0.28)
    pucker = np.zeros_like(c)
    pucker[:, 2] = -lips * (1.0 - np.clip(np.abs(x - mouth_centre[0]) / 0.55, 0, 1))
    pucker[:, 0] = -(x - mouth_centre[0]) * lips * 0.5

    # smile: corners and cheeks up and slightly out.
    smile = np.zeros_like(c)
    for sign, cp in zip((-1.0, 1.0), corner_pts):
        g = _gauss(((c[:, :2] - cp[:2]) ** 2).sum(1), 0.25)
        smile[:, 1] -= g
        smile[:, 0] += sign * 0.3 * g

    # brows: brow points up, forehead above them less, upper lids a little.
    brow = np.zeros_like(c)
    for brow_idx in (fg.RIGHT_BROW, fg.LEFT_BROW):
        bc = c[list(brow_idx)].mean(axis=0)
        g = _gauss(((c[:, :2] - bc[:2]) ** 2).sum(1) * np.where(y < bc[1], 0.35, 1.0), 0.22)
        brow[:, 1] -= g
    return {"jaw_open": jaw, "mouth_width": width, "pucker": pucker, "smile": smile, "brow_raise": brow}


class FaceRig:
    """Deform one subject's canonical mesh to target expression and gaze.

    Args:
        canonical: [478, 3] the source's canonical mesh (:func:`face_geometry.canonicalize`).
        eye_open_ref: [2] the open-eye ratio that blink 0 means (defaults to the source's own).
    """

    def __init__(self, canonical: np.ndarray, eye_open_ref: np.ndarray | None = None) -> None:
        self.canonical = np.asarray(canonical, np.float64)
        self.eye_open_ref = fg.eye_openness(self.canonical) if eye_open_ref is None else np.asarray(eye_open_ref)
        self.expression, self.gaze = fg.measure_expression(self.canonical, self.eye_open_ref)
        self.basis = self._decoupled_basis()
        self.lid_paths = self._lid_paths()

    def _decoupled_basis(self) -> np.ndarray:
        """[5, 478, 3] bases with a unit, decoupled response on this mesh."""
        raw = _raw_patterns(self.canonical)
        eps = 0.02
        base, _ = fg.measure_expression(self.canonical, self.eye_open_ref)
        rows = [_EXPR[name] for name in _DECOUPLED]
        response = np.zeros((len(_DECOUPLED), len(_DECOUPLED)))
        for j, name in enumerate(_DECOUPLED):
            moved, _ = fg.measure_expression(self.canonical + eps * raw[name], self.eye_open_ref)
            response[:, j] = (moved - base)[rows] / eps
        stacked = np.stack([raw[name] for name in _DECOUPLED])  # [5, 478, 3]
        # B_k = sum_j raw_j (J^-1)_jk: unit change of coefficient k, none of the others.
        inverse = np.linalg.inv(response)
        return np.einsum("jnd,jk->knd", stacked, inverse)

    def _lid_paths(self) -> dict[str, tuple[np.ndarray, np.ndarray]]:
        """Per eye: upper-lid vertex ids and their displacement when fully shut."""
        paths = {}
        for name, contour in (("blink_left", fg.LEFT_LID_CONTOUR), ("blink_right", fg.RIGHT_LID_CONTOUR)):
            upper = np.array([u for u, _ in contour])
            lower = np.array([lo for _, lo in contour])
            # Shut means upper lid on the lower lid, and the lower lid rises a little to meet it.
            delta = self.canonical[lower] - self.canonical[upper]
            paths[name] = (np.concatenate([upper, lower]), np.concatenate([0.85 * delta, -0.15 * delta]))
        return paths

    def deform(self, expression: np.ndarray, gaze: np.ndarray | None = None) -> np.ndarray:
        """[478, 3] canonical mesh with ``expression`` [7] (absolute values) and ``gaze`` [2]."""
        expression = np.asarray(expression, np.float64)
        delta = expression - self.expression
        out = self.canonical + np.einsum("k,knd->nd", delta[[_EXPR[n] for n in _DECOUPLED]], self.basis)
        for name, (ids, shut) in self.lid_paths.items():
            # blink is a closure fraction of the reference opening; move from the source's closure.
            b_src = self.expression[_EXPR[name]]
            b = np.clip(expression[_EXPR[name]], 0.0, 1.0)
            if b != b_src:
                out[ids] += shut * (b - b_src) / max(1.0 - b_src, 1e-3)
        if gaze is not None:
            shift = np.asarray(gaze, np.float64) - self.gaze
            for ring, corners in ((fg.RIGHT_IRIS_RING, fg.RIGHT_EYE_CORNERS), (fg.LEFT_IRIS_RING, fg.LEFT_EYE_CORNERS)):
                width = np.linalg.norm(self.canonical[corners[0], :2] - self.canonical[corners[1], :2])
                out[list(ring), :2] += shift * width
        return out


def dense_offsets(rig: FaceRig, change: np.ndarray, expression: np.ndarray,
                  gaze: np.ndarray | None = None) -> np.ndarray:
    """Per-vertex offsets [478, 3] that make the rendered mesh move by ``change`` where the rig cannot.

    ``change`` [478, 3] is a tracked canonical mesh's change since its reference frame (a driver's
    ``C_t - C_ref``). Rendering ``expression``/``gaze`` with the returned offsets gives the mesh
    ``rig.canonical + change`` exactly: the offsets are the part of the change that the seven
    coefficients do not explain, so the painters still see the coefficients (mouth opening, blinks).
    """
    return rig.canonical + np.asarray(change, np.float64) - rig.deform(expression, gaze)


class DenseMotion:
    """A driver's whole-mesh change since its reference frame, frame by frame (for :func:`dense_offsets`).

    The seven expression coefficients carry the mouth's opening, width and pucker, the smile, blinks
    and brows; they miss the rest of what a face does (the lips' own shape, cheeks, asymmetries), so a
    self-reenactment driven by them alone misplaces landmarks by about 2 px at 256² (measured,
    ``measurements/generator/fidelity_renderer.py``). The change ``C_t - C_ref`` of the driver's
    canonical (pose-free, IOD-unit) mesh carries all of it.

    Args:
        landmarks: [T, 478 (or 468), 3] the driver's tracked mesh in pixels; frames without a face
            (``valid`` False) hold the nearest frame with one.
        valid: [T] frames with a face.
        reference: the driver's reference frame (its first with a face).
        scale: share of the change transferred (the retargeting's ``expression_scale``).
    """

    def __init__(self, landmarks: np.ndarray, valid: np.ndarray, reference: int, scale: float = 1.0) -> None:
        self.landmarks = np.asarray(landmarks)
        valid = np.asarray(valid, bool)
        if not valid.any():
            raise ValueError("DenseMotion needs at least one frame with a face")
        found = np.flatnonzero(valid)
        # nearest frame with a face, for every frame
        idx = np.searchsorted(found, np.arange(len(valid)))
        before, after = found[np.clip(idx - 1, 0, len(found) - 1)], found[np.clip(idx, 0, len(found) - 1)]
        self._source = np.where(np.abs(np.arange(len(valid)) - before) <= np.abs(after - np.arange(len(valid))),
                                before, after)
        self._source[valid] = np.flatnonzero(valid)
        self.scale = float(scale)
        self._reference = self._canonical(reference)

    def _canonical(self, t: int) -> np.ndarray:
        pts = np.asarray(self.landmarks[self._source[t]], np.float64)
        canonical, _ = fg.canonicalize(pts, 1, 1)
        if len(canonical) < 478:  # a tracker without irises: they follow nothing
            canonical = np.concatenate([canonical, np.zeros((478 - len(canonical), 3))])
        return canonical

    def change(self, t: int) -> np.ndarray:
        """[478, 3] the driver's canonical mesh at frame ``t`` minus its reference's, times ``scale``."""
        change = self._canonical(t) - self._reference
        if self.landmarks.shape[1] < 478:
            change[468:] = 0.0
        return change * self.scale
