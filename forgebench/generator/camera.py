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

:func:`measure_camera` adds two checks made on colour thumbnails (``thumb_side`` pixels) of the same
frames, each against the first frame moved by the motion found so far:

* **trust** — does the motion explain the driver's surroundings (outside the face and hair) better
  than a still camera does? Where it does not (a static camera and a moving body, blinds whose
  stripes fool the flow), the plate stays still: per frame 1 or 0, smoothed over ``trust_frames``,
  and the motion is shrunk towards the identity by it. On the 26 real clips of the fidelity
  benchmark the untrusted motion was the one that made five of them worse (docs/metrics.md);
* **exposure** — a per-channel gain (the median ratio of the surroundings' colours), kept only
  where it removes at least ``1 - exposure_gate`` of their difference: a fade or an auto-exposure
  step of the camera brightens everything, the face included, and a renderer that warps the first
  frame cannot follow it otherwise.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

import cv2
import numpy as np

from forgebench.media import face_geometry as fg

_OVAL = np.array(fg.FACE_OVAL)
_DIRECTIONS = np.stack([np.cos(np.arange(16) * np.pi / 8), np.sin(np.arange(16) * np.pi / 8)], 1)


@dataclass(frozen=True)
class CameraConfig:
    """Options of :func:`estimate_camera` (lengths in work pixels unless named otherwise)."""

    work_side: int = 256  # frames are scaled so their longer side is at most this
    max_corners: int = 120
    redetect_share: float = 0.2  # corners are detected again when fewer than this share of max_corners is left
    min_distance: int = 7
    face_margin_iod: float = 0.6  # the face hull grown by this many IODs is left out
    hair_margin_iod: float = 0.8  # and everything above the chin within this many IODs beside the face (hair)
    fb_px: float = 1.0  # forward-backward tracking error allowed
    ransac_px: float = 1.0
    min_inliers: int = 12
    max_step_scale: float = 0.15  # a step changing scale by more than this (or rotating > 0.15 rad) is rejected
    smooth_frames: float = 0.7  # Gaussian sigma over the steps' parameters; 0: none
    thumb_side: int = 64  # colour thumbnails for the trust and exposure checks (longer side)
    trust: bool = True  # False: the measured motion is followed everywhere
    trust_frames: float = 12.0  # Gaussian sigma (frames) over the per-frame trust
    exposure: bool = True
    exposure_gate: float = 0.9  # a gain is kept where it leaves at most this share of the difference
    exposure_frames: float = 1.0  # Gaussian sigma (frames) over the gains


def _face_mask(shape: tuple[int, int], points: np.ndarray | None, margin_iod: float,
               hair_iod: float = 0.0) -> np.ndarray:
    """uint8 mask, 255 where corners may be taken: everywhere except the grown face hull."""
    mask = np.full(shape, 255, np.uint8)
    if points is None or not np.isfinite(points).all():
        return mask
    eyes = fg.eye_centres(points)
    iod = float(np.linalg.norm(eyes[1] - eyes[0]))
    oval = points[_OVAL, :2]
    # The hull grown by the margin: the hull of its vertices moved along 16 directions (a polygon's
    # dilation by a disc, exact up to the 16-gon; an erosion of the mask by a disc cost 4 ms a frame).
    grown = (oval[:, None, :] + margin_iod * iod * _DIRECTIONS[None]).reshape(-1, 2)
    cv2.fillConvexPoly(mask, cv2.convexHull(np.round(grown).astype(np.int32)), 0)
    if hair_iod > 0:  # hair moves with the head, not with the camera: the band above the chin beside the face
        x0, x1 = oval[:, 0].min() - hair_iod * iod, oval[:, 0].max() + hair_iod * iod
        y1 = oval[:, 1].max()
        mask[: max(0, int(round(y1))), max(0, int(np.floor(x0))): max(0, int(np.ceil(x1)) + 1)] = 0
    return mask


def track_step(prev: np.ndarray, cur: np.ndarray, mask: np.ndarray, points: np.ndarray | None,
               config: CameraConfig | None = None) -> tuple[np.ndarray | None, np.ndarray | None]:
    """One step of the camera: ``(similarity or None, points to follow next)``.

    ``points`` [N, 1, 2] float32 in ``prev`` are the corners kept by the previous step (KLT: corners are
    detected again only when fewer than ``redetect_share`` of ``max_corners`` are left; detection was
    half of the stage's time). Those that entered the masked-out face are dropped; the ones returned
    are the fit's inliers at their places in ``cur``.
    """
    cfg = config or CameraConfig()
    p0 = points
    if p0 is not None and len(p0):
        h, w = mask.shape
        xy = np.round(p0[:, 0]).astype(int)
        inside = (xy[:, 0] >= 0) & (xy[:, 0] < w) & (xy[:, 1] >= 0) & (xy[:, 1] < h)
        p0 = p0[inside]
        p0 = p0[mask[xy[inside, 1], xy[inside, 0]] > 0]
    if p0 is None or len(p0) < cfg.redetect_share * cfg.max_corners:
        p0 = cv2.goodFeaturesToTrack(prev, cfg.max_corners, 0.01, cfg.min_distance, mask=mask, blockSize=5)
    if p0 is None or len(p0) < cfg.min_inliers:
        return None, None
    lk = {"winSize": (15, 15), "maxLevel": 3,
          "criteria": (cv2.TERM_CRITERIA_EPS | cv2.TERM_CRITERIA_COUNT, 20, 0.03)}
    p1, st, _ = cv2.calcOpticalFlowPyrLK(prev, cur, p0, None, **lk)
    back, st2, _ = cv2.calcOpticalFlowPyrLK(cur, prev, p1, None, **lk)
    ok = (st[:, 0] == 1) & (st2[:, 0] == 1) & (np.linalg.norm((back - p0)[:, 0], axis=1) < cfg.fb_px)
    if ok.sum() < cfg.min_inliers:
        return None, None
    m, inliers = cv2.estimateAffinePartial2D(p0[ok], p1[ok], method=cv2.RANSAC, ransacReprojThreshold=cfg.ransac_px,
                                             maxIters=500, confidence=0.99)
    if m is None or inliers is None or int(inliers.sum()) < cfg.min_inliers:
        return None, None
    scale = float(np.hypot(m[0, 0], m[1, 0]))
    angle = float(np.arctan2(m[1, 0], m[0, 0]))
    if abs(scale - 1.0) > cfg.max_step_scale or abs(angle) > cfg.max_step_scale:
        return None, None
    return m, np.ascontiguousarray(p1[ok][inliers[:, 0] > 0])


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


@dataclass
class CameraTrack:
    """The driver's camera per frame: ``motion`` [T, 2, 3] (reference -> frame, the trust applied),
    ``gain`` [T, 3] per-channel exposure relative to the reference (RGB order of the frames), ``trust``
    [T] in 0-1 (how far the plate follows the measured motion)."""

    motion: np.ndarray
    gain: np.ndarray
    trust: np.ndarray

    def plate(self, t: int, frame_size: tuple[int, int], tol_px: float = 0.05) -> np.ndarray | None:
        """Frame ``t``'s motion for the renderer, or None where it moves no corner of a ``frame_size`` frame
        by ``tol_px`` (a still camera: the plate is not warped at all)."""
        m = self.motion[t]
        w, h = frame_size
        corners = np.array([[0.0, 0.0, 1.0], [w, 0.0, 1.0], [0.0, h, 1.0], [w, h, 1.0]])
        return None if np.abs(corners @ (m - np.eye(2, 3)).T).max() < tol_px else m


def estimate_camera(frames: Iterable[np.ndarray], frame_size: tuple[int, int], landmarks: np.ndarray | None = None,
                    valid: np.ndarray | None = None, reference: int = 0,
                    config: CameraConfig | None = None) -> np.ndarray:
    """[T, 2, 3] similarities taking the ``reference`` frame's background and body to each frame's.

    The measured motion only, without the trust check (:func:`measure_camera` has the arguments).
    """
    return measure_camera(frames, frame_size, landmarks, valid, reference, config, checks=False).motion


def measure_camera(frames: Iterable[np.ndarray], frame_size: tuple[int, int], landmarks: np.ndarray | None = None,
                   valid: np.ndarray | None = None, reference: int = 0, config: CameraConfig | None = None,
                   checks: bool = True) -> CameraTrack:
    """The driver's :class:`CameraTrack`: motion, trust and exposure of every frame (the module docstring).

    ``frames``: RGB uint8 (an iterator is read once), of ``frame_size`` (width, height) or already scaled
    to :func:`work_size`; ``landmarks`` [T, 478, 3] the face mesh per frame in pixels of ``frame_size``
    (``valid`` [T] marks tracked frames; the last tracked face stands for an untracked one). Motions are
    in pixels of ``frame_size``. ``checks=False``: the measured motion alone (trust 1, gain 1).
    """
    meter = CameraMeter(frame_size, config, checks=checks)
    for t, frame in enumerate(frames):
        tracked = landmarks is not None and t < len(landmarks) and (valid is None or bool(valid[t]))
        meter.add(frame, landmarks[t] if tracked else None)
    return meter.result(reference)


class CameraMeter:
    """:func:`measure_camera` frame by frame: ``add(frame, face mesh or None)`` as the frames come, then
    ``result(reference)``. The driver's tracking pass feeds it (no second decode of the driving video)."""

    def __init__(self, frame_size: tuple[int, int] | None = None, config: CameraConfig | None = None,
                 checks: bool = True) -> None:
        self.cfg = config or CameraConfig()
        self.checks = checks
        self.frame_size = frame_size  # None: the first frame's own (width, height)
        self.thumb: _ThumbCheck | None = None
        self.steps: list[np.ndarray] = []
        self.prev: np.ndarray | None = None
        self.last_pts: np.ndarray | None = None
        self.corners: np.ndarray | None = None
        self.chain0 = np.eye(3)  # frame 0 -> current frame, from the raw steps (the checks run as frames come)

    def add(self, frame: np.ndarray, landmarks: np.ndarray | None = None) -> None:
        """The next frame (RGB uint8) and its face mesh in the frame's pixels (None: not tracked)."""
        cfg = self.cfg
        if self.prev is None:
            frame_size = self.frame_size or (frame.shape[1], frame.shape[0])
            self.size = work_size(*frame_size, config=cfg)
            self.f = self.size[0] / frame_size[0]
            self.thumb = _ThumbCheck(self.size, cfg) if self.checks else None
        frame = np.ascontiguousarray(frame)
        if (frame.shape[1], frame.shape[0]) != self.size:  # scaled once: the grey frame and the thumbnail
            frame = cv2.resize(frame, self.size, interpolation=cv2.INTER_AREA)
        grey = cv2.cvtColor(frame, cv2.COLOR_RGB2GRAY)
        pts = self.last_pts if landmarks is None else np.asarray(landmarks, np.float64)[:, :2] * self.f
        if self.prev is not None:
            mask = _face_mask(self.prev.shape, self.last_pts, cfg.face_margin_iod, cfg.hair_margin_iod)
            step, self.corners = track_step(self.prev, grey, mask, self.corners, cfg)
            self.steps.append(np.eye(2, 3) if step is None else step)
            self.chain0 = _hom(self.steps[-1]) @ self.chain0
        if self.thumb is not None:
            self.thumb.add(frame, self.chain0, pts)
        self.prev, self.last_pts = grey, pts

    def result(self, reference: int = 0) -> CameraTrack:
        """The :class:`CameraTrack` of the frames added, relative to frame ``reference``."""
        cfg, steps = self.cfg, list(self.steps)
        if self.prev is None:
            raise ValueError("the camera meter has seen no frame")
        n = len(steps) + 1
        if len(steps) > 1 and cfg.smooth_frames > 0:  # smoothing the steps keeps a steady motion exact
            params = _smooth(np.stack([_params(m) for m in steps]), cfg.smooth_frames)
            steps = [_matrix(p) for p in params]
        chain = np.zeros((n, 3, 3))
        chain[0] = np.eye(3)
        for t, step in enumerate(steps, start=1):
            chain[t] = _hom(step) @ chain[t - 1]
        ref = min(max(int(reference), 0), n - 1)
        out = (chain @ np.linalg.inv(chain[ref]))[:, :2].copy()  # reference -> frame t
        out[:, :, 2] /= self.f  # work pixels -> frame pixels (a similarity's linear part is unchanged by scaling)
        if self.thumb is None:
            return CameraTrack(out, np.ones((n, 3)), np.ones(n))
        trust, gain = self.thumb.result(n)
        gain = gain / gain[ref]
        out = np.eye(2, 3)[None] + trust[:, None, None] * (out - np.eye(2, 3)[None])
        return CameraTrack(out, gain, trust)


class BackgroundMeter:
    """A :class:`CameraMeter` working in a thread beside the driver's tracking (OpenCV releases the GIL:
    on two cores the camera costs little wall time). Use as a context manager; ``add`` as the meter's."""

    def __init__(self, meter: CameraMeter, depth: int = 32) -> None:
        import queue
        import threading

        self.meter = meter
        self.queue: queue.Queue = queue.Queue(maxsize=depth)
        self.error: BaseException | None = None
        self.cpu_s = 0.0  # the worker's own CPU time
        self.thread = threading.Thread(target=self._work, name="forgebench-camera", daemon=True)
        self.thread.start()

    def _work(self) -> None:
        import time

        c0 = time.thread_time()
        while (item := self.queue.get()) is not None:
            if self.error is None:
                try:
                    self.meter.add(*item)
                except BaseException as exc:  # handed to the caller by result()
                    self.error = exc
        self.cpu_s = time.thread_time() - c0

    def add(self, frame: np.ndarray, landmarks: np.ndarray | None = None) -> None:
        self.queue.put((frame, landmarks))

    def result(self, reference: int = 0) -> CameraTrack:
        self.close()
        if self.error is not None:
            raise self.error
        return self.meter.result(reference)

    def close(self) -> None:
        if self.thread.is_alive():
            self.queue.put(None)
            self.thread.join()

    def __enter__(self) -> BackgroundMeter:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _smooth(values: np.ndarray, sigma: float) -> np.ndarray:
    from scipy.ndimage import gaussian_filter1d

    return gaussian_filter1d(values, sigma, axis=0, mode="nearest") if sigma > 0 and len(values) > 1 else values


class _ThumbCheck:
    """Trust and exposure of each frame against the first, on colour thumbnails (:func:`measure_camera`)."""

    def __init__(self, work: tuple[int, int], cfg: CameraConfig) -> None:
        self.cfg = cfg
        k = min(1.0, cfg.thumb_side / max(work))
        self.size = (max(8, int(round(work[0] * k))), max(8, int(round(work[1] * k))))
        self.k = self.size[0] / work[0]  # work pixels -> thumbnail pixels
        self.first: np.ndarray | None = None
        self.first_lit: np.ndarray | None = None
        self.ok: list[float] = []
        self.gains: list[np.ndarray] = []

    def add(self, frame: np.ndarray, chain0: np.ndarray, pts_work: np.ndarray | None) -> None:
        cfg = self.cfg
        small = cv2.resize(np.ascontiguousarray(frame), self.size, interpolation=cv2.INTER_AREA)
        if self.first is None:
            self.first = small
            self.first_lit = small.min(-1) > 8  # near-black pixels say nothing of a gain
            self.ok.append(1.0)
            self.gains.append(np.ones(3))
            return
        m = chain0[:2].copy()
        m[:, 2] *= self.k
        # beyond the first frame's edge the moved frame is black, and black pixels are left out below
        moved = cv2.warpAffine(self.first, m, self.size, flags=cv2.INTER_LINEAR)
        pts = None if pts_work is None else pts_work * self.k
        around = _face_mask(self.size[::-1], pts, cfg.face_margin_iod, cfg.hair_margin_iod) > 0
        lit = around & self.first_lit
        sel = lit & (moved.min(-1) > 8)
        if sel.sum() < 50:
            self.ok.append(1.0)
            self.gains.append(np.ones(3))
            return
        still_err = sum(cv2.mean(cv2.absdiff(small, self.first), mask=lit.view(np.uint8))[:3])
        moved_err = sum(cv2.mean(cv2.absdiff(small, moved), mask=sel.view(np.uint8))[:3])
        # the motion is trusted where it explains the surroundings better than a still camera does
        self.ok.append(1.0 if moved_err <= still_err or not cfg.trust else 0.0)
        gain = np.ones(3)
        if cfg.exposure:
            a, b = small[sel].astype(np.float32), moved[sel].astype(np.float32)
            g = np.median(a / b, axis=0)
            if float(np.abs(a - b * g).sum(1).mean()) < cfg.exposure_gate * moved_err:
                gain = g
        self.gains.append(gain)

    def result(self, n: int) -> tuple[np.ndarray, np.ndarray]:
        ok = np.array(self.ok[:n] + [1.0] * (n - len(self.ok)))
        if n > 1:  # the first frame is the identity whatever the check: it takes its neighbour's verdict
            ok[0] = ok[1]
        gains = np.array(self.gains[:n] + [np.ones(3)] * (n - len(self.gains)))
        return np.clip(_smooth(ok, self.cfg.trust_frames), 0.0, 1.0), _smooth(gains, self.cfg.exposure_frames)


def expose(frame: np.ndarray, gain: np.ndarray) -> np.ndarray:
    """``frame`` (uint8 RGB) with its channels multiplied by ``gain`` [3] (saturating); unchanged at 1."""
    if np.allclose(gain, 1.0, atol=1e-3):
        return frame
    return cv2.multiply(frame, (float(gain[0]), float(gain[1]), float(gain[2]), 0.0))


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


__all__ = ["BackgroundMeter", "CameraConfig", "CameraMeter", "CameraTrack", "estimate_camera", "expose",
           "measure_camera", "to_portrait", "track_step", "work_size"]
