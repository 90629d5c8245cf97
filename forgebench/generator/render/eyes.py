"""Eyelids: the upper lid comes down over the eye as a blink closes it.

In an open eye the skin of the upper lid is folded under the brow, so no warp can unfold it: a blink
needs lid skin that the portrait does not show. The rig lowers the upper lid contour; above that
line, inside the eye's *open* outline, we paint the lid:

* its colour is the skin just above the open eye, column by column (the lid continues the skin
  under the brow, with its light and make-up), shaded a little towards the lash line, where a
  closed lid turns away from the light (a flat copy reads lighter than the skin around it);
* the lash line follows the lowered lid, fitted as a smooth curve through the lid points (tracked
  points jitter by a pixel), in the portrait's own lash colour (the darkest pixels along its upper
  lid), thicker towards the outer corner;
* below the lowered lid the eye stays as the warp drew it: a half-closed eye shows the lower half
  of its iris.
"""

from __future__ import annotations

import cv2
import numpy as np

from forgebench.media import face_geometry as fg

_SUBPIXEL = 4
MIN_CLOSURE = 0.2  # below this the warp alone looks right
LID_SHADE = 0.9  # a closed lid's brightness at the lash line, relative to the skin above the eye
DEFAULT_LASH = np.array([45.0, 32.0, 30.0])


def _eye_polygon(contour: tuple[tuple[int, int], ...], corners: tuple[int, int]) -> tuple[list[int], list[int]]:
    upper = [corners[0]] + [u for u, _ in contour] + [corners[1]]
    lower = [lo for _, lo in contour][::-1]
    return upper, lower


# MediaPipe's lid contours run from the outer to the inner corner for both eyes; corners close them.
_EYES = {
    "blink_right": _eye_polygon(fg.RIGHT_LID_CONTOUR, fg.RIGHT_EYE_CORNERS),
    "blink_left": _eye_polygon(fg.LEFT_LID_CONTOUR, fg.LEFT_EYE_CORNERS),
}


def lash_colour(image: np.ndarray, points: np.ndarray) -> np.ndarray:
    """The portrait's lash colour: the mean of the darkest fifth of the pixels along both upper lids."""
    samples = []
    for upper, _ in _EYES.values():
        line = points[upper, :2]
        for a, b in zip(line[:-1], line[1:]):
            for t in np.linspace(0.0, 1.0, 4, endpoint=False):
                x, y = np.round(a + t * (b - a)).astype(int)
                if 0 <= y < image.shape[0] and 0 <= x < image.shape[1]:
                    samples.append(image[y, x])
    if len(samples) < 5:
        return DEFAULT_LASH.copy()
    s = np.asarray(samples, np.float64)
    dark = s[np.argsort(s @ [0.299, 0.587, 0.114])[: max(2, len(s) // 5)]]
    return dark.mean(0)


def smooth_lid(points: np.ndarray, n: int = 24) -> np.ndarray:
    """A lid contour [K, 2] (corner to corner) as a quadratic curve [n, 2] in the eye's own axes."""
    a, b = points[0], points[-1]
    axis = (b - a) / max(np.linalg.norm(b - a), 1e-9)
    normal = np.array([-axis[1], axis[0]])
    u, v = (points - a) @ axis, (points - a) @ normal
    if len(points) < 3 or np.ptp(u) < 1e-6:
        return points
    coef = np.polyfit(u, v, 2)
    us = np.linspace(u.min(), u.max(), n)
    return a + np.outer(us, axis) + np.outer(np.polyval(coef, us), normal)


class EyelidPainter:
    """Lowers lid skin over closing eyes and draws the lash line. ``lash`` is the lash colour (RGB)."""

    def __init__(self, lash: np.ndarray | None = None) -> None:
        self.lash = DEFAULT_LASH.copy() if lash is None else np.asarray(lash, np.float64)

    def paint(self, frame: np.ndarray, points: np.ndarray, open_points: np.ndarray,
              closure: dict[str, float]) -> None:
        """``points``: driven mesh [478, 2+]; ``open_points``: the same frame with both eyes open."""
        h, w = frame.shape[:2]
        for name, (upper, lower) in _EYES.items():
            b = float(closure.get(name, 0.0))
            if b < MIN_CLOSURE:
                continue
            poly = open_points[upper + lower, :2]
            width = float(np.ptp(poly[:, 0]))
            grow = max(1, int(round(0.1 * width)))  # past the open eye's own (thick, dark) lash line
            x0, y0 = np.floor(poly.min(0)).astype(int) - 3 * grow
            x1, y1 = np.ceil(poly.max(0)).astype(int) + 3 * grow + 1
            x0, x1, y0, y1 = max(x0, 0), min(x1, w), max(y0, 0), min(y1, h)
            if x1 - x0 < 4 or y1 - y0 < 4:
                continue
            off = np.array([x0, y0], np.float64)
            eye = np.zeros((y1 - y0, x1 - x0), np.float32)
            cv2.fillPoly(eye, [_fixed(poly - off)], 1.0, cv2.LINE_AA, _SUBPIXEL)
            eye = cv2.dilate(eye, np.ones((2 * grow + 1, 2 * grow + 1), np.uint8))
            # The lowered lid, outer corner first; above this curve (towards the brow) is lid skin.
            # A nearly closed eye is closed: the sliver the rig leaves would show the pupil under the lid.
            lowered = points[upper, :2].copy()
            shut = float(np.clip((b - 0.6) / 0.3, 0.0, 1.0))
            if shut > 0.0:
                facing = points[[upper[0]] + lower[::-1] + [upper[-1]], :2]
                lowered += shut * (facing - lowered)
            lid = smooth_lid(lowered) - off
            ordered = lid if lid[-1, 0] >= lid[0, 0] else lid[::-1]  # left to right
            far = -4.0 * h
            band = np.concatenate([[[ordered[0, 0] - 2 * w, ordered[0, 1]]], ordered,
                                   [[ordered[-1, 0] + 2 * w, ordered[-1, 1]], [ordered[-1, 0] + 2 * w, far],
                                    [ordered[0, 0] - 2 * w, far]]])
            above = np.zeros_like(eye)
            cv2.fillPoly(above, [_fixed(band)], 1.0, cv2.LINE_AA, _SUBPIXEL)
            cover = cv2.GaussianBlur(eye * above, (0, 0), 0.7)
            # Lid colour: per column, the skin just above the open eye; darker towards the lash line.
            rows, cols = eye.shape
            top = np.argmax(eye > 0.5, axis=0).astype(np.float32)  # first eye row per column
            roi = frame[y0:y1, x0:x1].astype(np.float32)
            strip = [roi[np.clip(top - k, 0, rows - 1).astype(int), np.arange(cols)] for k in range(1, 2 * grow + 2)]
            colour = np.median(np.stack(strip), axis=0)  # [cols, 3]: the skin just above, robust to stray lashes
            colour = cv2.GaussianBlur(colour[None], (0, 0), max(1.0, 0.08 * width))[0]
            lid_y = np.interp(np.arange(cols), ordered[:, 0], ordered[:, 1])
            yy = np.arange(rows, dtype=np.float32)[:, None]
            depth = np.clip((yy - top[None]) / np.maximum(lid_y[None] - top[None], 1.0), 0.0, 1.0)
            skin = colour[None] * (1.0 - (1.0 - LID_SHADE) * depth[..., None])
            a = np.clip(cover * np.clip((b - MIN_CLOSURE) / 0.3, 0.0, 1.0), 0.0, 1.0)[..., None]
            roi = roi * (1 - a) + skin * a
            # Lash line along the lowered lid, thicker at the outer corner (where the contour starts).
            lash = np.zeros_like(eye)
            thick = max(1, int(round(0.05 * width)))
            for k in range(len(lid) - 1):
                t = max(1, int(round(thick * (1.6 - 0.8 * k / (len(lid) - 1)))))
                cv2.line(lash, _fixed(lid[k]), _fixed(lid[k + 1]), 1.0, t, cv2.LINE_AA, _SUBPIXEL)
            a = (cv2.GaussianBlur(lash, (0, 0), 0.5) * 0.9 * a[..., 0])[..., None]
            roi = roi * (1 - a) + self.lash * a
            frame[y0:y1, x0:x1] = (roi + 0.5).astype(np.uint8)


def _fixed(points: np.ndarray) -> tuple | np.ndarray:
    """Fixed-point coordinates for cv2's drawing: an array for polygons, a tuple of ints for a point."""
    fixed = np.round(points * (1 << _SUBPIXEL)).astype(np.int32)
    return tuple(int(v) for v in fixed) if fixed.ndim == 1 else fixed
