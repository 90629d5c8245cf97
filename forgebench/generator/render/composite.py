"""Lower-face compositing for dubbing: re-render only the mouth, jaw and chin of a real frame.

A dubbed frame is the real frame everywhere but the lower face. Per frame:

1. the frame's own tracked mesh is made pose-free (:func:`face_geometry.canonicalize`);
   the new mouth shape is a change of the mouth coefficients, applied through the
   rig's decoupled basis (:class:`~forgebench.generator.render.rig.FaceRig`, built once
   per video on a closed-mouth frame), and the mesh is placed back with the frame's pose;
2. a region of interest around the lower face is warped by the vertices' 2D
   displacement (:func:`triangle_map`: a piecewise-affine warp on the frame's own
   triangulation, with fixed anchors on the region's border), and the mouth interior is painted where the new
   lips part further than the real ones (:class:`~forgebench.generator.render.mouth.MouthPainter`,
   which also pulls lip texture over real teeth when the new mouth closes);
3. the result is blended into the real frame through a feathered mask: the hull of the
   lower-face vertices (below the nose), before and after the change, grown by
   ``grow_iod`` and blurred by ``feather_iod``. Outside the mask the frame is untouched,
   bit for bit.

The warped pixels are the frame's own, so skin colour and light match by construction;
only the painted mouth interior is synthetic (its colours follow the frame's skin).
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


@dataclass(frozen=True)
class CompositeConfig:
    """Lower-face compositing options (lengths in inter-ocular distances, IOD)."""

    seam_px: float = 2.0  # lip band the mouth painter re-covers when a mouth that showed teeth closes
    grow_iod: float = 0.10  # the mask reaches this far beyond the lower-face hull
    feather_iod: float = 0.08  # Gaussian sigma of the mask's edge
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
        reference: [478, 3] a canonical mesh of the person with the mouth closed (the rig's rest).
        eye_open_ref: [2] the person's open-eye ratio (the rig needs it; blinks are left alone).
    """

    def __init__(self, reference: np.ndarray, eye_open_ref: np.ndarray | None = None,
                 config: CompositeConfig | None = None) -> None:
        self.config = config or CompositeConfig()
        self.rig = FaceRig(reference, eye_open_ref)
        self._channels = [EXPRESSION_NAMES.index(n) for n in MOUTH_CHANNELS]

    def displacement(self, canonical: np.ndarray, delta: np.ndarray) -> np.ndarray:
        """[478, 3] canonical displacement changing the mouth coefficients by ``delta`` [len(MOUTH_CHANNELS)]."""
        target = self.rig.expression.copy()
        target[self._channels] += np.asarray(delta, np.float64)
        return self.rig.deform(target) - self.rig.canonical

    def render(self, frame: np.ndarray, points: np.ndarray, delta: np.ndarray) -> Composited:
        """Composite ``frame`` [H, W, 3] uint8 (tracked mesh ``points`` [478, 3] px) with its mouth
        coefficients changed by ``delta`` (``MOUTH_CHANNELS`` order). ``frame`` is not modified."""
        cfg = self.config
        height, width = frame.shape[:2]
        points = np.asarray(points, np.float64)
        canonical, pose = fg.canonicalize(points, width, height)
        moved = fg.pose_to_points(canonical + self.displacement(canonical, delta), pose, width, height)
        placed = fg.pose_to_points(canonical, pose, width, height)
        src = points[:, :2]
        dst = src + (moved - placed)[:, :2]
        iod = float(pose[5]) * width
        lower = canonical[:, 1] >= canonical[fg.SUBNASALE, 1] + LOWER_FACE_FROM
        hull_pts = np.concatenate([src[lower], dst[lower]])
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
        inside = np.all((src >= off - 0.5) & (src <= [x1 - 0.5, y1 - 0.5]), axis=1)
        anchors = border_anchors(roi_w, roi_h)
        control = np.concatenate([src[inside] - off, anchors])
        moves = np.concatenate([(dst - src)[inside], np.zeros((len(anchors), 2))])
        roi = np.ascontiguousarray(frame[y0:y1, x0:x1])
        mx, my = triangle_map(control, control + moves, roi_w, roi_h)
        warped = cv2.remap(roi, mx, my, cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
        if cfg.mouth:
            painter = MouthPainter(skin_colour(frame, src), inner_lip_gap(src), seam_px=cfg.seam_px)
            painter.paint(warped, dst - off, iod)
        mask = self._mask(hull_pts - off, roi_w, roi_h, grow, feather)
        alpha = mask[..., None]
        blended = roi.astype(np.float32) * (1.0 - alpha) + warped.astype(np.float32) * alpha
        out[y0:y1, x0:x1] = (blended + 0.5).astype(np.uint8)
        # Where the mask is exactly 0 the frame's own bytes stay (the line above rounds them back unchanged).
        return Composited(out, (x0, y0, x1, y1), mask)

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


def triangle_map(src: np.ndarray, dst: np.ndarray, width: int, height: int) -> tuple[np.ndarray, np.ndarray]:
    """Backward maps (``cv2.remap``'s map_x, map_y, [height, width] float32) of the piecewise-affine warp
    moving points ``src`` [N, 2] to ``dst`` [N, 2] on the Delaunay triangulation of ``src``.

    Each destination triangle is rasterised into an index image (OpenCV polygon fills,
    one call per triangle, ~2 µs each) and every pixel maps back through its triangle's
    affine transform, so the map is exact (no iterative inversion) and the cost does not
    depend on how thin the triangles are (SciPy's point location does: its walk falls back
    to a brute-force search on the sliver triangles of a face mesh, up to 100x slower).
    Pixels no destination triangle covers map to themselves.
    """
    from scipy.spatial import Delaunay

    src = np.asarray(src, np.float64)
    dst = np.asarray(dst, np.float64)
    simplices = Delaunay(src).simplices
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
