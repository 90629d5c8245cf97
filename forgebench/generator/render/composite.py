"""Lower-face compositing for dubbing: re-render only the mouth, jaw and chin of a real frame.

A dubbed frame is the real frame everywhere but the lower face. The lower face is drawn
from one *reference* frame of the same video with the mouth closed, as the audio-driven
renderer draws every frame from one portrait: a real mouth that is wide open cannot be
closed by warping it (the lips fold over the teeth), but a closed one opens cleanly, with
the mouth interior painted where the lips part. Per frame:

1. the new lower face is the reference's closed mouth moved by the rig
   (:class:`~forgebench.generator.render.rig.FaceRig`, built on the reference) to the new
   mouth coefficients and the frame's own smile, blended above the upper lip into the
   frame's own pose-free mesh, and placed with the frame's pose;
2. a region of interest around the lower face is filled from the reference frame by a
   piecewise-affine warp taking each reference vertex to its new place
   (:func:`triangle_map`, on the triangulation of the new mesh, with fixed anchors on the
   region's border), and the mouth interior is painted where the new lips part
   (:class:`~forgebench.generator.render.mouth.MouthPainter`);
3. colour is matched: the low-frequency difference between the real frame and the warped
   reference over the cheeks between the nose and the mouth corners (skin the new mouth
   does not move; lips left out) is added to the warped reference, so light that changed
   since the reference frame carries over;
4. the result is blended into the real frame through a feathered mask: the hull of the
   lower-face vertices (below the nose) before and after the change, grown by
   ``grow_iod`` and blurred by ``feather_iod``. Outside the mask the frame is untouched,
   bit for bit.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from forgebench.generator.render.mouth import MouthPainter, inner_lip_gap, skin_colour
from forgebench.generator.render.rig import FaceRig
from forgebench.generator.render.warp import border_anchors
from forgebench.media import face_geometry as fg
from forgebench.records import EXPRESSION_NAMES

MOUTH_CHANNELS = ("jaw_open", "mouth_width", "pucker")  # what dubbing replaces; the rest is the real frame's
LOWER_FACE_FROM = -0.08  # IOD above the subnasale (canonical y) where the re-rendered region starts
SHAPE_BLEND = (-0.40, -0.12)  # IOD from the subnasale (canonical y) over which the new shape takes over
_SMILE = EXPRESSION_NAMES.index("smile")
# Points the mouth does not move: eye corners, nose bridge to subnasale, nostril wings, cheekbones at the ears.
STABLE = [33, 133, 263, 362, 168, 6, 197, 195, 5, 4, 1, 2, 98, 327, 129, 358, 234, 454]
UPPER_LIP = [0, 37, 267, 39, 269]  # the top of the upper lip around its centre


@dataclass(frozen=True)
class CompositeConfig:
    """Lower-face compositing options (lengths in inter-ocular distances, IOD)."""

    seam_px: float = 2.0  # lip band the mouth painter re-covers when a mouth that showed teeth closes
    grow_iod: float = 0.04  # the mask reaches this far beyond the lower-face hull
    feather_iod: float = 0.06  # Gaussian sigma of the mask's edge
    colour_sigma_iod: float = 0.25  # scale of the colour correction (light changes slower than this)
    mouth: bool = True  # paint the mouth interior


@dataclass
class Composited:
    """One composited frame and where it changed: ``mask`` [y1-y0, x1-x0] float32 in 0..1 over ``box``."""

    frame: np.ndarray
    box: tuple[int, int, int, int]  # x0, y0, x1, y1
    mask: np.ndarray

    def full_mask(self) -> np.ndarray:
        """[H, W] float32: the blend weight of the re-rendered region over the whole frame."""
        out = np.zeros(self.frame.shape[:2], np.float32)
        x0, y0, x1, y1 = self.box
        out[y0:y1, x0:x1] = self.mask
        return out


class LowerFaceCompositor:
    """Re-renders the lower face of frames of one video; see the module docstring.

    Args:
        reference: [H, W, 3] uint8, a frame of the video with the mouth closed (the texture source).
        reference_points: [478, 3] its tracked mesh in pixels.
        eye_open_ref: [2] the person's open-eye ratio (the rig needs it; blinks are left alone).
    """

    def __init__(self, reference: np.ndarray, reference_points: np.ndarray, eye_open_ref: np.ndarray | None = None,
                 config: CompositeConfig | None = None) -> None:
        self.config = config or CompositeConfig()
        self.reference = np.ascontiguousarray(reference)
        self.reference_points = np.asarray(reference_points, np.float64)
        height, width = reference.shape[:2]
        canonical, self._ref_pose = fg.canonicalize(self.reference_points, width, height)
        self._ref_placed = fg.pose_to_points(canonical, self._ref_pose, width, height)
        self.rig = FaceRig(canonical, eye_open_ref)
        self._channels = [EXPRESSION_NAMES.index(n) for n in MOUTH_CHANNELS]
        # Which vertices take the new mouth's shape: by their place on the reference (a closed mouth), so
        # that a frame whose open mouth lifts the upper lip toward the nose still moves the whole lip.
        y = canonical[:, 1] - canonical[fg.SUBNASALE, 1]
        w = np.clip((y - SHAPE_BLEND[0]) / (SHAPE_BLEND[1] - SHAPE_BLEND[0]), 0.0, 1.0)
        self._shape_weight = (w * w * (3.0 - 2.0 * w))[:, None]
        # Colour is matched over the cheeks between the nose and the mouth corners: skin the new mouth
        # does not move (below the corners the real and the new chin differ).
        corners = canonical[list(fg.MOUTH_CORNERS), 1].mean()
        self._colour_ids = np.flatnonzero((y >= LOWER_FACE_FROM) & (canonical[:, 1] <= corners))
        src = self.reference_points[:, :2]
        self.painter = MouthPainter(skin_colour(reference, src), inner_lip_gap(src), seam_px=self.config.seam_px) \
            if self.config.mouth else None

    def target_points(self, points: np.ndarray, mouth: np.ndarray, width: int, height: int) -> np.ndarray:
        """[478, 2] the frame's face with the mouth ``mouth`` (absolute ``MOUTH_CHANNELS`` values), in its pixels.

        The mouth and jaw are the reference's closed mouth moved by the rig to ``mouth`` (and to
        the frame's own smile) — a small, well-conditioned change, where deforming the frame's
        own mesh from a wide-open mouth to a closed one folds the lips — carried into the frame
        by the 3D similarity that best aligns the two meshes' stable points (eye corners, nose,
        cheekbones; Umeyama's least squares), shifted so that the top of the upper lip stays on
        the frame's own. The frame's own head pose is not used: its pitch comes from a few
        points that move with the mouth (MediaPipe's depth does), several degrees for a
        wide-open mouth. Above the upper lip the shape blends into the frame's own mesh, so the
        nose stays where it is.
        """
        points = np.asarray(points, np.float64)
        canonical, pose = fg.canonicalize(points, width, height)
        own, _ = fg.measure_expression(canonical)
        target = self.rig.expression.copy()
        target[self._channels] = np.asarray(mouth, np.float64)
        target[_SMILE] = own[_SMILE]
        shaped = fg.pose_to_points(self.rig.deform(target), self._ref_pose, width, height)
        frame3d = fg.pose_to_points(canonical, pose, width, height)
        scale, rotation, shift = similarity_3d(self._ref_placed[STABLE], frame3d[STABLE])
        placed = (scale * shaped @ rotation.T + shift)[:, :2]
        # The upper lip hardly moves in speech: it stays on the frame's own (the similarity alone put it up to
        # 30 px off on a head tilted back with a wide-open mouth).
        placed += (points[UPPER_LIP, :2] - placed[UPPER_LIP]).mean(axis=0)
        return points[:, :2] + self._shape_weight * (placed - points[:, :2])

    def render(self, frame: np.ndarray, points: np.ndarray, mouth: np.ndarray) -> Composited:
        """Composite ``frame`` [H, W, 3] uint8 (tracked mesh ``points`` [478, 3] px) with the mouth ``mouth``
        (absolute values of ``MOUTH_CHANNELS``, the analyzer's units). ``frame`` is not modified."""
        cfg = self.config
        height, width = frame.shape[:2]
        points = np.asarray(points, np.float64)
        canonical, pose = fg.canonicalize(points, width, height)
        real = points[:, :2]
        dst = self.target_points(points, mouth, width, height)
        iod = float(pose[5]) * width
        lower = canonical[:, 1] >= canonical[fg.SUBNASALE, 1] + LOWER_FACE_FROM
        hull_pts = np.concatenate([real[lower], dst[lower]])
        grow, feather = cfg.grow_iod * iod, max(cfg.feather_iod * iod, 0.5)
        pad = grow + 4.0 * feather + 4.0  # the blur reaches 4 sigma
        x0, y0 = np.floor(hull_pts.min(0) - pad).astype(int)
        x1, y1 = np.ceil(hull_pts.max(0) + pad).astype(int) + 1
        x0, y0, x1, y1 = max(x0, 0), max(y0, 0), min(x1, width), min(y1, height)
        out = frame.copy()
        if x1 - x0 < 8 or y1 - y0 < 8:
            return Composited(out, (0, 0, 0, 0), np.zeros((0, 0), np.float32))
        off = np.array([x0, y0], np.float64)
        roi_w, roi_h = x1 - x0, y1 - y0
        inside = np.all((dst >= off - 0.5) & (dst <= [x1 - 0.5, y1 - 0.5]), axis=1)
        anchors = border_anchors(roi_w, roi_h)
        # Reference vertex -> its new place; the region's border follows the head (a 2D affine fit on the
        # stable points), so what hangs from the head (ears, earrings, hair) lands where it is in the frame.
        back = fit_affine(real[STABLE], self.reference_points[STABLE, :2])
        src = np.concatenate([self.reference_points[inside, :2], (anchors + off) @ back[:, :2].T + back[:, 2]])
        mx, my = triangle_map(src, np.concatenate([dst[inside] - off, anchors]), roi_w, roi_h)
        warped = cv2.remap(self.reference, mx, my, cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
        if self.painter is not None:
            self.painter.paint(warped, dst - off, iod)
        roi = np.ascontiguousarray(frame[y0:y1, x0:x1])
        mask = self._mask(hull_pts - off, roi_w, roi_h, grow, feather)
        lips = self._lips(np.concatenate([real, dst]) - off, roi_w, roi_h, 0.08 * iod)
        cheeks = np.zeros_like(mask)
        hull = cv2.convexHull(np.round((real[self._colour_ids] - off) * 16).astype(np.int32))
        cv2.fillConvexPoly(cheeks, hull, 1.0, cv2.LINE_AA, 4)
        matched = self._match_colour(roi, warped, cheeks * mask * (1.0 - lips), cfg.colour_sigma_iod * iod)
        alpha = mask[..., None]
        blended = roi.astype(np.float32) * (1.0 - alpha) + matched * alpha
        out[y0:y1, x0:x1] = np.clip(blended + 0.5, 0, 255).astype(np.uint8)
        # Where the mask is exactly 0 the frame's own bytes stay (the line above rounds them back unchanged).
        return Composited(out, (x0, y0, x1, y1), mask)

    @staticmethod
    def _lips(points: np.ndarray, width: int, height: int, margin: float) -> np.ndarray:
        """[H, W] 1 over both outer-lip polygons (real and new), grown by ``margin`` pixels."""
        out = np.zeros((height, width), np.float32)
        n = len(points) // 2
        for part in (points[:n], points[n:]):
            ring = part[list(fg.OUTER_LIP_UPPER) + list(fg.OUTER_LIP_LOWER[1:-1])]
            cv2.fillPoly(out, [np.round(ring * 16).astype(np.int32)], 1.0, cv2.LINE_AA, 4)
        k = 2 * int(round(margin)) + 1
        return cv2.dilate(out, np.ones((k, k), np.uint8)) if k > 1 else out

    @staticmethod
    def _match_colour(real: np.ndarray, warped: np.ndarray, weight: np.ndarray, sigma: float) -> np.ndarray:
        """``warped`` + the low-frequency colour difference to ``real`` over ``weight`` (normalised blur).

        Far from any weighted pixel the correction falls back to the weighted mean difference. The
        correction is smooth by construction, so it is computed at 1/4 sigma per pixel and upsampled
        (a full-resolution blur of sigma ~50 px cost 15 ms a frame at 512x512).
        """
        h, w_px = weight.shape
        w = weight.astype(np.float32)
        diff = (real.astype(np.float32) - warped.astype(np.float32)) * w[..., None]
        total = float(w.sum())
        mean = diff.reshape(-1, 3).sum(0) / total if total > 1e-6 else np.zeros(3, np.float32)
        f = max(1, int(sigma // 4))
        size = (max(1, w_px // f), max(1, h // f))
        eps = 0.05
        s = max(sigma / f, 0.5)
        num = cv2.GaussianBlur(cv2.resize(diff, size, interpolation=cv2.INTER_AREA), (0, 0), s) + eps * mean
        den = cv2.GaussianBlur(cv2.resize(w, size, interpolation=cv2.INTER_AREA), (0, 0), s)[..., None] + eps
        correction = cv2.resize(num / den, (w_px, h), interpolation=cv2.INTER_LINEAR)
        return warped.astype(np.float32) + correction

    @staticmethod
    def _mask(points: np.ndarray, width: int, height: int, grow: float, feather: float) -> np.ndarray:
        hull = cv2.convexHull(np.round(points * 16).astype(np.int32))
        mask = np.zeros((height, width), np.float32)
        cv2.fillConvexPoly(mask, hull, 1.0, cv2.LINE_AA, 4)
        k = 2 * int(round(grow)) + 1
        if k > 1:
            mask = cv2.dilate(mask, cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (k, k)))
        mask = cv2.GaussianBlur(mask, (0, 0), feather)
        mask[mask < 1e-3] = 0.0  # a true zero outside: the real frame's pixels, bit for bit
        return mask


def similarity_3d(src: np.ndarray, dst: np.ndarray) -> tuple[float, np.ndarray, np.ndarray]:
    """(scale, rotation [3, 3], shift [3]) minimising ``|scale R src + shift - dst|²`` (Umeyama 1991, Eqs. 40-42).

    >>> r = np.array([[0.0, -1, 0], [1, 0, 0], [0, 0, 1]])
    >>> p = np.random.default_rng(0).normal(size=(6, 3))
    >>> s, rot, t = similarity_3d(p, 2 * p @ r.T + 1)
    >>> round(s, 6), bool(np.allclose(rot, r)), np.round(t, 6).tolist()
    (2.0, True, [1.0, 1.0, 1.0])
    """
    src, dst = np.asarray(src, np.float64), np.asarray(dst, np.float64)
    mu_s, mu_d = src.mean(0), dst.mean(0)
    a, b = src - mu_s, dst - mu_d
    u, sig, vt = np.linalg.svd(b.T @ a / len(src))
    d = np.ones(3)
    if np.linalg.det(u) * np.linalg.det(vt) < 0:
        d[2] = -1.0  # a reflection is not a head pose
    rotation = u @ np.diag(d) @ vt
    scale = float((sig * d).sum() / ((a * a).sum() / len(src)))
    return scale, rotation, mu_d - scale * rotation @ mu_s


def fit_affine(src: np.ndarray, dst: np.ndarray) -> np.ndarray:
    """[2, 3] least-squares affine map taking points ``src`` [N, 2] to ``dst`` [N, 2].

    >>> (fit_affine(np.array([[0, 0], [1, 0], [0, 1.0]]), np.array([[1, 1], [3, 1], [1, 4.0]])).round(6) + 0.0).tolist()
    [[2.0, 0.0, 1.0], [0.0, 3.0, 1.0]]
    """
    lifted = np.concatenate([np.asarray(src, np.float64), np.ones((len(src), 1))], axis=1)
    solution, *_ = np.linalg.lstsq(lifted, np.asarray(dst, np.float64), rcond=None)
    return solution.T


def triangle_map(src: np.ndarray, dst: np.ndarray, width: int, height: int) -> tuple[np.ndarray, np.ndarray]:
    """Backward maps (``cv2.remap``'s map_x, map_y, [height, width] float32) of the piecewise-affine warp
    moving points ``src`` [N, 2] to ``dst`` [N, 2] (pixels of the output grid; ``src`` may be in
    another image's pixels: the maps point there).

    The triangulation is the *destination's* (Delaunay of ``dst``), so output triangles never
    overlap even where the source ones would fold. Each destination triangle is rasterised
    into an index image (OpenCV polygon fills, one call per triangle, ~2 µs each) and every
    pixel maps back through its triangle's affine transform, so the map is exact (no
    iterative inversion) and the cost does not depend on how thin the triangles are (SciPy's
    point location does: on the sliver triangles of a face mesh its walk falls back to a
    brute-force search; 2 to 600 ms per 5000 points here). Pixels outside the hull of ``dst``
    map to themselves: put anchors on the grid's border to cover it.
    """
    from scipy.spatial import Delaunay

    src = np.asarray(src, np.float64)
    dst = np.asarray(dst, np.float64)
    simplices = Delaunay(dst).simplices
    d, s = dst[simplices], src[simplices]  # [M, 3, 2]
    # Affine map of each triangle, destination -> source: p -> s0 + S E^-1 (p - d0), with E and S the
    # triangles' edge matrices (columns d1 - d0, d2 - d0 and s1 - s0, s2 - s0); 2x2 inverses in closed form
    # (a batched LAPACK solve of many tiny systems costs more than the whole warp).
    e = np.stack([d[:, 1] - d[:, 0], d[:, 2] - d[:, 0]], axis=2)  # [M, 2, 2]
    det = e[:, 0, 0] * e[:, 1, 1] - e[:, 0, 1] * e[:, 1, 0]
    ok = np.abs(det) > 1e-9  # flat triangles get no pixels
    inv = np.stack([np.stack([e[:, 1, 1], -e[:, 0, 1]], 1), np.stack([-e[:, 1, 0], e[:, 0, 0]], 1)], 1)
    inv /= np.where(ok, det, 1.0)[:, None, None]
    lin = np.stack([s[:, 1] - s[:, 0], s[:, 2] - s[:, 0]], axis=2) @ inv  # [M, 2, 2]
    offset = s[:, 0] - np.einsum("mij,mj->mi", lin, d[:, 0])
    coef = np.concatenate([lin.reshape(-1, 4), offset], axis=1).astype(np.float32)  # a b c d tx ty
    index = np.full((height, width), -1, np.int32)
    fixed = np.round(d * 16.0).astype(np.int32)
    for m in np.flatnonzero(ok):
        cv2.fillConvexPoly(index, fixed[m], int(m), cv2.LINE_8, 4)
    ys, xs = np.mgrid[0:height, 0:width].astype(np.float32)
    covered = index >= 0
    c = coef[index[covered]]  # [P, 6]
    px, py = xs[covered], ys[covered]
    map_x, map_y = xs, ys
    map_x[covered] = c[:, 0] * px + c[:, 1] * py + c[:, 4]
    map_y[covered] = c[:, 2] * px + c[:, 3] * py + c[:, 5]
    return map_x, map_y
