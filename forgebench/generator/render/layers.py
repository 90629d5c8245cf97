"""Head and background as two layers: the background stays still, hair and ears follow the head.

A single warp of the whole portrait drags the background with the head and stretches the neck
when the chin moves. Instead the portrait is split once per identity (MediaPipe's selfie
segmentation finds the person, the face mesh finds the face):

* the **head layer** is the face (the hull of the face oval) and every person pixel that is not
  the neck below the jaw (hair, ears; shoulders too, but they do not move, see below). It is
  warped by the face mesh inside the face and, outside it, by anchor points that move as points
  on a head-sized sphere behind the face would under the frame's pose (:func:`lift_to_sphere`):
  hair turns, tilts and nods with the head instead of smearing. The anchors' motion fades to
  nothing from the jaw line to ``fade_iod`` below it, so shoulders and long hair on them stay
  put;
* the **plate** is the portrait with the head region filled from its surroundings (a push-pull
  fill: :func:`fill_holes`). It is not warped at all: background and neck stay still, and what
  the head uncovers as it moves comes from the fill.

Per frame the head layer's alpha is warped with the head, and the frame is
``alpha * head + (1 - alpha) * plate``.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from forgebench.media import face_geometry as fg

_OVAL = np.array(fg.FACE_OVAL)
# Lower face contour, jaw angle to jaw angle through the chin (image left to right).
_JAW = (132, 58, 172, 136, 150, 149, 176, 148, 152, 377, 400, 378, 379, 365, 397, 288, 361)
HEAD_SPHERE_CENTRE = np.array([0.0, 0.35, 1.35])  # canonical units (IOD): behind and below the eyes
HEAD_SPHERE_RADIUS = 1.55


@dataclass(frozen=True)
class LayerConfig:
    """Layering options (lengths in inter-ocular distances, IOD)."""

    person_threshold: float = 0.5  # segmentation probability above which a pixel is the person
    fade_iod: float = 1.6  # below the jaw line the head's motion fades to nothing over this distance
    anchor_step_iod: float = 0.45  # spacing of the anchor grid outside the face
    keep_out_iod: float = 0.2  # no anchors this close to the face oval (thin triangles)
    feather_px: float = 1.0  # blur of the head alpha's edge


def fill_holes(image: np.ndarray, known: np.ndarray) -> np.ndarray:
    """``image`` with its unknown pixels filled from the known ones (push-pull over a Gaussian pyramid).

    Each coarser level averages the known colours (weighted by how much of a cell is known); each
    finer level keeps its own colour where it is known and takes the coarser one where it is not.
    Known pixels are returned unchanged. ``image`` [H, W, C] uint8, ``known`` [H, W] bool.
    """
    img = image.astype(np.float32)
    w = known.astype(np.float32)
    if w.all() or not w.any():
        return image.copy()
    levels = []
    cur_c, cur_w = img * w[..., None], w
    while min(cur_w.shape) > 2:
        levels.append((cur_c, cur_w))
        cur_c, cur_w = cv2.pyrDown(cur_c), cv2.pyrDown(cur_w)
    filled = cur_c / np.maximum(cur_w, 1e-6)[..., None]
    if not (cur_w > 1e-6).all():
        mean = (img * w[..., None]).sum((0, 1)) / w.sum()
        filled[cur_w <= 1e-6] = mean
    for c, wt in reversed(levels):
        up = cv2.pyrUp(filled, dstsize=(wt.shape[1], wt.shape[0]))
        a = np.clip(2.0 * wt, 0.0, 1.0)[..., None]
        filled = c / np.maximum(wt, 1e-6)[..., None] * a + up * (1.0 - a)
    out = np.where(known[..., None], image, np.clip(filled + 0.5, 0, 255).astype(np.uint8))
    return out.astype(image.dtype)


def lift_to_sphere(points: np.ndarray, pose: np.ndarray, width: int, height: int,
                   centre: np.ndarray = HEAD_SPHERE_CENTRE, radius: float = HEAD_SPHERE_RADIUS) -> np.ndarray:
    """Canonical 3D coordinates [N, 3] of image points [N, 2] as points on the head sphere.

    The renderer's camera is orthographic (:func:`face_geometry.pose_to_points`): an image point is a
    ray along the camera's z axis; we take where it meets the sphere's front, or, for a point
    beside the sphere (hair sticking out), the ray's point nearest the sphere's centre.
    """
    pose = np.asarray(pose, np.float64)
    rot = fg.euler_to_rotation(pose[:3])
    iod = pose[5] * width
    rel = np.stack([points[:, 0] - pose[3] * width, points[:, 1] - pose[4] * height, np.zeros(len(points))], 1)
    a = rel @ rot / iod  # canonical point at camera depth 0: R^T rel / iod
    b = rot[2] / iod  # canonical direction of the camera's z axis (R^T e_z / iod)
    d = a - centre
    bb = float(b @ b)
    t_mid = -(d @ b) / bb  # the ray's point nearest the centre
    disc = (d @ b) ** 2 - bb * ((d * d).sum(1) - radius**2)
    t = np.where(disc > 0, t_mid - np.sqrt(np.maximum(disc, 0.0)) / bb, t_mid)  # front: towards the camera
    return a + t[:, None] * b


class HeadLayers:
    """The two layers of one portrait and the anchors that move its head layer.

    Args:
        image: [H, W, 3] uint8 portrait.
        points: [478, 2] its face mesh in pixels.
        pose: [6] its pose.
        person: [H, W] float person probability (None: no segmentation; the head layer is the face
            and its surroundings up to the fade, as far as the anchors reach).
    """

    def __init__(self, image: np.ndarray, points: np.ndarray, pose: np.ndarray, person: np.ndarray | None,
                 config: LayerConfig | None = None) -> None:
        self.config = cfg = config or LayerConfig()
        h, w = image.shape[:2]
        self.width, self.height = w, h
        pts = np.asarray(points, np.float64)[:, :2]
        eyes = fg.eye_centres(pts)
        self.iod = iod = float(np.linalg.norm(eyes[1] - eyes[0]))
        self.source_pose = np.asarray(pose, np.float64)
        # The face's own axes in the image: "down" from the eyes to the chin, for the fade.
        down = pts[152] - (eyes[0] + eyes[1]) / 2
        self._down = down / max(np.linalg.norm(down), 1e-9)
        self._jaw_level = float(((pts[[58, 288]] - pts[152]) @ self._down).mean()) + float(pts[152] @ self._down)
        self.fade = lambda xy: np.clip(1.0 - (xy @ self._down - self._jaw_level) / (cfg.fade_iod * iod), 0.0, 1.0)

        face = np.zeros((h, w), np.uint8)
        cv2.fillConvexPoly(face, cv2.convexHull(np.round(pts[_OVAL]).astype(np.int32)), 1)
        if person is None:
            head = face.astype(np.float32)
        else:
            neck = np.zeros((h, w), np.uint8)
            jaw = pts[list(_JAW)]
            far = jaw + self._down * 4 * max(h, w)  # the jaw contour pushed down past the frame
            cv2.fillPoly(neck, [np.round(np.concatenate([jaw, far[::-1]])).astype(np.int32)], 1)
            hair = np.asarray(person, np.float32) * (1 - neck) * (1 - face)
            head = np.maximum(face.astype(np.float32), hair)
        if cfg.feather_px > 0:
            head = cv2.GaussianBlur(head, (0, 0), cfg.feather_px)
        # What the head layer may uncover is filled in: where it is opaque and its motion is not faded
        # out. Its soft edge keeps the portrait's own pixels, so that at rest the blend gives the
        # portrait back exactly (a moving head leaves a fringe of its edge there, not a halo of fill).
        ys, xs = np.mgrid[0:h, 0:w]
        moving = self.fade(np.stack([xs, ys], -1).reshape(-1, 2).astype(np.float64)).reshape(h, w) > 0.01
        # Where the head layer does not move (shoulders, long hair far below the jaw) it equals the plate:
        # leave it out of the layer, so only the part that moves is warped and blended.
        head = np.where(moving | (face > 0), head, 0.0)
        self.alpha = head.astype(np.float32)
        self.plate = fill_holes(image, ~((head > 0.98) & moving))
        self._rgba = np.ascontiguousarray(np.dstack([image, np.round(self.alpha * 255).astype(np.uint8)]))
        # The same layer without the face: with a rasterised face the face's own coverage is its alpha, so
        # where the face moves away (a big nod or step) the grid map cannot drag a copy of it along.
        # A rim inside the face's outline stays in it: the raster's coverage and the hull differ by a pixel
        # or two there, and a gap would show the plate's fill as a dark line along the hairline.
        rim = max(2, int(round(0.06 * iod)))
        inner = cv2.erode(face, np.ones((2 * rim + 1, 2 * rim + 1), np.uint8))
        hair = np.where(inner > 0, 0.0, head)
        if cfg.feather_px > 0:
            hair = np.minimum(hair, 1.0 - cv2.GaussianBlur(inner.astype(np.float32), (0, 0), cfg.feather_px))
        self._rgba_hair = np.ascontiguousarray(np.dstack([image, np.round(np.clip(hair, 0, 1) * 255).astype(np.uint8)]))
        ys, xs = np.nonzero(self.alpha > 0)
        self.box = (int(xs.min()), int(ys.min()), int(xs.max()) + 1, int(ys.max()) + 1) if len(xs) else (0, 0, 0, 0)
        self.anchors = self._anchor_grid(pts, face)
        self._canonical = lift_to_sphere(self.anchors, self.source_pose, w, h)
        self._weights = self.fade(self.anchors)[:, None]

    def _anchor_grid(self, pts: np.ndarray, face: np.ndarray) -> np.ndarray:
        """Grid points outside the face (not too close to it), plus points just outside the frame."""
        cfg, h, w = self.config, self.height, self.width
        step = max(4.0, cfg.anchor_step_iod * self.iod)
        xs = np.arange(step / 2, w, step)
        ys = np.arange(step / 2, h, step)
        grid = np.stack(np.meshgrid(xs, ys), -1).reshape(-1, 2)
        keep_out = cv2.dilate(face, np.ones((2 * int(cfg.keep_out_iod * self.iod) + 1,) * 2, np.uint8))
        gi = np.clip(np.round(grid).astype(int), 0, [w - 1, h - 1])
        grid = grid[keep_out[gi[:, 1], gi[:, 0]] == 0]
        n_x, n_y = max(2, int(np.ceil(w / step))), max(2, int(np.ceil(h / step)))
        tx, ty = np.linspace(-1.0, w, n_x + 1), np.linspace(-1.0, h, n_y + 1)
        border = np.concatenate([np.stack([tx, np.full_like(tx, -1.0)], 1), np.stack([tx, np.full_like(tx, h)], 1),
                                 np.stack([np.full_like(ty, -1.0), ty], 1), np.stack([np.full_like(ty, w), ty], 1)])
        return np.unique(np.concatenate([grid, border]).round(3), axis=0)

    def anchor_displacement(self, pose: np.ndarray, camera: np.ndarray | None = None) -> np.ndarray:
        """[A, 2] displacement of the anchors under ``pose``: the head sphere's motion, faded below the jaw.

        With ``camera`` [2, 3] (the plate's motion, :meth:`render`) the anchors fade to that instead of to rest.
        """
        moved = fg.pose_to_points(self._canonical, pose, self.width, self.height)[:, :2]
        if camera is None:
            return (moved - self.anchors) * self._weights
        rest = self.anchors @ camera[:, :2].T + camera[:, 2]
        return (moved - self.anchors) * self._weights + (rest - self.anchors) * (1.0 - self._weights)

    def render(self, backward_map: np.ndarray, reach: float, face: np.ndarray | None = None,
               camera: np.ndarray | None = None) -> np.ndarray:
        """The frame: the head layer warped by ``backward_map`` [H, W, 2] over the still plate.

        ``reach`` bounds how far (pixels) any part of the head moved, so that only the region the head
        can cover is warped and blended; the rest of the frame is the plate as it is. ``face`` [H, W]
        bool: where the rasterised face lies in this frame; it is then the face's alpha. ``camera``
        [2, 3]: the plate is moved by this similarity (``x_frame = camera @ [x_portrait, 1]``; a
        reenactment's driver camera, :mod:`forgebench.generator.camera`), its edge pixels repeated where
        it uncovers the frame (closer to the real frame than a mirror: LivePortrait d20 L1 0.056 vs 0.067).
        """
        x0, y0, x1, y1 = self.box
        m = int(np.ceil(reach)) + 2
        x0, y0, x1, y1 = max(x0 - m, 0), max(y0 - m, 0), min(x1 + m, self.width), min(y1 + m, self.height)
        if camera is None:
            frame = self.plate.copy()
        else:
            frame = cv2.warpAffine(self.plate, np.asarray(camera, np.float64), (self.width, self.height),
                                   flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
        if x1 <= x0 or y1 <= y0:
            return frame
        rgba = self._rgba if face is None else self._rgba_hair
        head = cv2.remap(rgba, np.ascontiguousarray(backward_map[y0:y1, x0:x1]), None, cv2.INTER_LINEAR,
                         borderMode=cv2.BORDER_CONSTANT, borderValue=(0, 0, 0, 0))  # beyond the frame: no head
        alpha = cv2.extractChannel(head, 3)
        if face is not None:
            inside = face[y0:y1, x0:x1].view(np.uint8) * np.uint8(255)
            cover = cv2.GaussianBlur(inside, (0, 0), self.config.feather_px or 0.5)
            alpha = cv2.max(alpha, cv2.max(cover, inside))
        frame[y0:y1, x0:x1] = blend(cv2.cvtColor(head, cv2.COLOR_RGBA2RGB), frame[y0:y1, x0:x1], alpha)
        return frame


def blend(top: np.ndarray, bottom: np.ndarray, alpha: np.ndarray) -> np.ndarray:
    """``alpha * top + (1 - alpha) * bottom`` of uint8 [H, W, 3] images, ``alpha`` uint8 [H, W] (255 = top).

    In 8-bit arithmetic (each product rounded to the nearest level; within one level of the float blend):
    a third of the time of ``cv2.blendLinear``'s float weights, which was half the head layer's cost.
    """
    a3 = cv2.merge((alpha, alpha, alpha))
    return cv2.add(cv2.multiply(top, a3, scale=1.0 / 255.0),
                   cv2.multiply(bottom, cv2.bitwise_not(a3), scale=1.0 / 255.0))
