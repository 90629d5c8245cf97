"""The driver's global camera motion: how its background and body move, so reenactment can move the plate.

The renderer moves the head layer by the tracked pose over a plate (background and body). When the
driving video's camera pans, zooms or follows the head (VoxCeleb crops), or the person walks towards
it, everything around the face moves too; a still plate leaves all of that behind. Per driving frame,
:func:`estimate_camera` measures a similarity transform (rotation, uniform scale, translation) that
takes the reference frame's background and body to that frame's:

* corners (``cv2.goodFeaturesToTrack``) outside the tracked face (its hull dilated by ``face_margin_iod``
  inter-ocular distances, and the band above the chin within ``hair_margin_iod`` of it, where the hair
  is: face and hair move with the head, which the pose already carries) are
  followed from each frame to the next by pyramidal Lucas-Kanade flow, kept only when tracking them
  back lands within ``fb_px`` of where they started;
* ``cv2.estimateAffinePartial2D`` with RANSAC fits the step; a step with fewer than ``min_inliers``
  inliers (a blank wall, a cut), or an implausible one, counts as no motion;
* the steps' parameters are smoothed over ``smooth_frames`` (a Gaussian's sigma: a steady motion stays
  exact) and chained (frame to frame follows large motion that a direct match to the reference would lose).

Work is done on grey frames scaled to ``work_side`` pixels; the result is in the driver's pixels:
[T, 2, 3] matrices ``M_t`` with ``x_t = M_t @ [x_ref, 1]``, the identity at the reference frame.
:func:`to_portrait` carries them into a portrait's own coordinates. Deterministic (OpenCV's RANSAC
uses a fixed seed).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

import cv2
import numpy as np

from forgebench.media import face_geometry as fg

_OVAL = np.array(fg.FACE_OVAL)


@dataclass(frozen=True)
class CameraConfig:
    """Options of :func:`estimate_camera` (lengths in work pixels unless named otherwise)."""

    work_side: int = 256  # frames are scaled so their longer side is at most this
    max_corners: int = 120
    min_distance: int = 7
    face_margin_iod: float = 0.6  # the face hull grown by this many IODs is left out
    hair_margin_iod: float = 0.8  # and everything above the chin within this many IODs beside the face (hair)
    fb_px: float = 1.0  # forward-backward tracking error allowed
    ransac_px: float = 1.0
    min_inliers: int = 12
    max_step_scale: float = 0.15  # a step changing scale by more than this (or rotating > 0.15 rad) is rejected
    smooth_frames: float = 0.7  # Gaussian sigma over the steps' parameters; 0: none


def _face_mask(shape: tuple[int, int], points: np.ndarray | None, margin_iod: float,
               hair_iod: float = 0.0) -> np.ndarray:
    """uint8 mask, 255 where corners may be taken: everywhere except the grown face hull."""
    mask = np.full(shape, 255, np.uint8)
    if points is None or not np.isfinite(points).all():
        return mask
    eyes = fg.eye_centres(points)
    iod = float(np.linalg.norm(eyes[1] - eyes[0]))
    oval = points[_OVAL, :2]
    hull = cv2.convexHull(np.round(oval).astype(np.int32))
    cv2.fillConvexPoly(mask, hull, 0)
    r = max(1, int(round(margin_iod * iod)))
    mask = cv2.erode(mask, cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * r + 1, 2 * r + 1)))
    if hair_iod > 0:  # hair moves with the head, not with the camera: the band above the chin beside the face
        x0, x1 = oval[:, 0].min() - hair_iod * iod, oval[:, 0].max() + hair_iod * iod
        y1 = oval[:, 1].max()
        mask[: max(0, int(round(y1))), max(0, int(np.floor(x0))): max(0, int(np.ceil(x1)) + 1)] = 0
    return mask


def _grey(frame: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    grey = cv2.cvtColor(np.ascontiguousarray(frame), cv2.COLOR_RGB2GRAY)
    if (grey.shape[1], grey.shape[0]) != size:
        grey = cv2.resize(grey, size, interpolation=cv2.INTER_AREA)
    return grey


def estimate_step(prev: np.ndarray, cur: np.ndarray, mask: np.ndarray,
                  config: CameraConfig | None = None) -> np.ndarray | None:
    """The similarity [2, 3] taking ``prev``'s masked content to ``cur`` (grey uint8), or None if unsure."""
    cfg = config or CameraConfig()
    p0 = cv2.goodFeaturesToTrack(prev, cfg.max_corners, 0.01, cfg.min_distance, mask=mask, blockSize=5)
    if p0 is None or len(p0) < cfg.min_inliers:
        return None
    lk = {"winSize": (15, 15), "maxLevel": 3,
          "criteria": (cv2.TERM_CRITERIA_EPS | cv2.TERM_CRITERIA_COUNT, 20, 0.03)}
    p1, st, _ = cv2.calcOpticalFlowPyrLK(prev, cur, p0, None, **lk)
    back, st2, _ = cv2.calcOpticalFlowPyrLK(cur, prev, p1, None, **lk)
    ok = (st[:, 0] == 1) & (st2[:, 0] == 1) & (np.linalg.norm((back - p0)[:, 0], axis=1) < cfg.fb_px)
    if ok.sum() < cfg.min_inliers:
        return None
    m, inliers = cv2.estimateAffinePartial2D(p0[ok], p1[ok], method=cv2.RANSAC, ransacReprojThreshold=cfg.ransac_px,
                                             maxIters=500, confidence=0.99)
    if m is None or inliers is None or int(inliers.sum()) < cfg.min_inliers:
        return None
    scale = float(np.hypot(m[0, 0], m[1, 0]))
    angle = float(np.arctan2(m[1, 0], m[0, 0]))
    if abs(scale - 1.0) > cfg.max_step_scale or abs(angle) > cfg.max_step_scale:
        return None
    return m


def _params(m: np.ndarray) -> np.ndarray:
    """[a, b, tx, ty] of a similarity [[a, -b, tx], [b, a, ty]]."""
    return np.array([(m[0, 0] + m[1, 1]) / 2, (m[1, 0] - m[0, 1]) / 2, m[0, 2], m[1, 2]])


def _matrix(p: np.ndarray) -> np.ndarray:
    a, b, tx, ty = p
    return np.array([[a, -b, tx], [b, a, ty]])


def _hom(m: np.ndarray) -> np.ndarray:
    return np.vstack([m, [0.0, 0.0, 1.0]])


def work_size(width: int, height: int, config: CameraConfig | None = None) -> tuple[int, int]:
    """(width, height) at which :func:`estimate_camera` looks at frames of this size."""
    f = min(1.0, (config or CameraConfig()).work_side / max(width, height))
    return max(8, int(round(width * f))), max(8, int(round(height * f)))


def estimate_camera(frames: Iterable[np.ndarray], frame_size: tuple[int, int], landmarks: np.ndarray | None = None,
                    valid: np.ndarray | None = None, reference: int = 0,
                    config: CameraConfig | None = None) -> np.ndarray:
    """[T, 2, 3] similarities taking the ``reference`` frame's background and body to each frame's.

    ``frames``: RGB uint8 (an iterator is read once), of ``frame_size`` (width, height) or already scaled
    to :func:`work_size`; ``landmarks`` [T, 478, 3] the face mesh per frame in pixels of ``frame_size``
    (``valid`` [T] marks tracked frames; the last tracked face stands for an untracked one). The result is
    in pixels of ``frame_size``. See the module docstring.
    """
    cfg = config or CameraConfig()
    size = work_size(*frame_size, config=cfg)
    f = size[0] / frame_size[0]
    steps: list[np.ndarray] = []
    prev = None
    last_pts = None
    for t, frame in enumerate(frames):
        grey = _grey(frame, size)
        if landmarks is not None and t < len(landmarks) and (valid is None or bool(valid[t])):
            pts_t = np.asarray(landmarks[t], np.float64)[:, :2] * f
        else:
            pts_t = last_pts
        if prev is not None:
            mask = _face_mask(prev.shape, last_pts, cfg.face_margin_iod, cfg.hair_margin_iod)
            step = estimate_step(prev, grey, mask, cfg)
            steps.append(np.eye(2, 3) if step is None else step)
        prev, last_pts = grey, pts_t
    n = len(steps) + 1
    if len(steps) > 1 and cfg.smooth_frames > 0:  # smoothing the steps keeps a steady motion exact
        from scipy.ndimage import gaussian_filter1d

        params = gaussian_filter1d(np.stack([_params(m) for m in steps]), cfg.smooth_frames, axis=0, mode="nearest")
        steps = [_matrix(p) for p in params]
    chain = np.zeros((n, 3, 3))
    chain[0] = np.eye(3)
    for t, step in enumerate(steps, start=1):
        chain[t] = _hom(step) @ chain[t - 1]
    ref = min(max(int(reference), 0), n - 1)
    out = (chain @ np.linalg.inv(chain[ref]))[:, :2].copy()  # reference -> frame t
    out[:, :, 2] /= f  # work pixels -> frame pixels (a similarity's linear part is unchanged by scaling)
    return out


def to_portrait(motion: np.ndarray, driver_centre: np.ndarray, driver_iod: float, portrait_centre: np.ndarray,
                portrait_iod: float, share: float = 1.0) -> np.ndarray:
    """The driver's camera motion [T, 2, 3] in a portrait's pixels.

    A driver point ``d`` stands for the portrait point ``c_p + r (d - c_d)`` (``c`` the face centres at the
    reference, ``r`` the ratio of inter-ocular distances): the same mapping by which reenactment transfers
    the head's own translation (in IODs, :mod:`forgebench.generator.retarget`), so head and plate keep
    their relation. In a self-reenactment the two coincide and the motion is unchanged. ``share`` (0-2,
    the pose scale) moves the transform that far from the identity.
    """
    m = np.asarray(motion, np.float64)
    a = m[:, :, :2]
    t = m[:, :, 2]
    r = float(portrait_iod) / max(float(driver_iod), 1e-9)
    cd, cp = np.asarray(driver_centre, np.float64), np.asarray(portrait_centre, np.float64)
    t_p = cp[None] - a @ cp + r * (a @ cd + t - cd[None])
    out = np.concatenate([a, t_p[:, :, None]], axis=2)
    if share != 1.0:
        out = np.eye(2, 3)[None] + share * (out - np.eye(2, 3)[None])
    return out


__all__ = ["CameraConfig", "estimate_camera", "estimate_step", "to_portrait", "work_size"]
