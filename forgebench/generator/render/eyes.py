"""Eyelids: cover the eye with lid skin as a blink closes it.

The rig moves the upper lid onto the lower one and the warp stretches the lid
skin down, but the coarse warp grid cannot fold a ten-pixel eye shut: the
squashed iris stays visible. So we cover the eye's *open* outline (the lids at
rest, under the frame's pose) with the skin just above it, shifted down by the
eye's height — the upper lid sliding down over the eye, with its own texture
and light — feathered, in proportion to the closure, and draw the lash line
along the driven upper lid.
"""

from __future__ import annotations

import cv2
import numpy as np

from forgebench.media import face_geometry as fg

_SUBPIXEL = 4
MIN_CLOSURE = 0.2  # below this the warp alone looks right


def _eye_polygon(contour: tuple[tuple[int, int], ...], corners: tuple[int, int]) -> tuple[list[int], list[int]]:
    upper = [corners[0]] + [u for u, _ in contour] + [corners[1]]
    lower = [lo for _, lo in contour][::-1]
    return upper, lower


# MediaPipe's lid contours run from the outer to the inner corner for the right
# eye and from outer to inner for the left one as well; corners close them.
_EYES = {
    "blink_right": _eye_polygon(fg.RIGHT_LID_CONTOUR, fg.RIGHT_EYE_CORNERS),
    "blink_left": _eye_polygon(fg.LEFT_LID_CONTOUR, fg.LEFT_EYE_CORNERS),
}


class EyelidPainter:
    """Covers closing eyes with the lid skin above them and draws the lash line."""

    def __init__(self) -> None:
        self.lash = np.array([45.0, 32.0, 30.0])

    def paint(self, frame: np.ndarray, points: np.ndarray, open_points: np.ndarray,
              closure: dict[str, float]) -> None:
        """``points``: driven mesh [478, 2+]; ``open_points``: the same frame with both eyes open."""
        h, w = frame.shape[:2]
        for name, (upper, lower) in _EYES.items():
            b = float(closure.get(name, 0.0))
            if b < MIN_CLOSURE:
                continue
            poly = open_points[upper + lower, :2]
            height = float(np.ptp(poly[:, 1]))
            width = float(np.ptp(poly[:, 0]))
            # Grow the cover past both lash lines of the open eye, or its outline still reads as an eye.
            grow = max(2, int(round(0.12 * width)))
            lift = int(np.ceil(height)) + 2 * grow  # skin this far above (below) replaces the upper (lower) part
            x0, y0 = np.floor(poly.min(0)).astype(int) - 2 * grow
            x1, y1 = np.ceil(poly.max(0)).astype(int) + 2 * grow + 1
            x0, x1 = max(x0, 0), min(x1, w)
            y0, y1 = max(y0, lift), min(y1, h - lift)
            if x1 - x0 < 3 or y1 - y0 < 2:
                continue
            off = np.array([x0, y0])
            mask = np.zeros((y1 - y0, x1 - x0), np.float32)
            cv2.fillPoly(mask, [_fixed(poly - off)], 1.0, cv2.LINE_AA, _SUBPIXEL)
            mask = cv2.dilate(mask, np.ones((2 * grow + 1, 2 * grow + 1), np.uint8))
            mask = cv2.GaussianBlur(mask, (0, 0), 0.6 * grow)
            # Above the driven lid line the upper lid comes down; below it, the lower lid's skin.
            lid_line = points[upper, :2] - off
            above = np.zeros_like(mask)
            band = np.concatenate([lid_line, [[lid_line[-1, 0] + w, -h], [lid_line[0, 0] - w, -h]]])
            band[[0, -3], 0] += np.array([-w, w])  # extend the lid line sideways past the ROI
            cv2.fillPoly(above, [_fixed(band)], 1.0, cv2.LINE_AA, _SUBPIXEL)
            roi = frame[y0:y1, x0:x1].astype(np.float32)
            skin = np.where(above[..., None] > 0.5, frame[y0 - lift: y1 - lift, x0:x1],
                            frame[y0 + lift: y1 + lift, x0:x1]).astype(np.float32)
            skin = cv2.GaussianBlur(skin, (3, 3), 0.8)
            a = (mask * np.clip((b - MIN_CLOSURE) / 0.5, 0.0, 1.0))[..., None]
            roi = roi * (1 - a) + skin * a
            lash = np.zeros_like(mask)
            cv2.polylines(lash, [_fixed(lid_line)], False, 1.0, 2, cv2.LINE_AA, _SUBPIXEL)
            a = (cv2.GaussianBlur(lash, (3, 3), 0.7) * 0.75 * a[..., 0])[..., None]
            roi = roi * (1 - a) + self.lash * a
            frame[y0:y1, x0:x1] = (roi + 0.5).astype(np.uint8)


def _fixed(points: np.ndarray) -> np.ndarray:
    return np.round(points * (1 << _SUBPIXEL)).astype(np.int32)
