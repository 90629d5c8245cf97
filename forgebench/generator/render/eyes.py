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
            poly = open_points[upper + lower, :2].copy()
            height = float(np.ptp(poly[:, 1]))
            # Cover the open eye's upper lash line too, or it still reads as an open lid.
            poly[: len(upper), 1] -= 0.35 * height
            lift = int(np.ceil(1.45 * height)) + 1  # the lid skin lies this far above the opening
            x0, y0 = np.floor(poly.min(0)).astype(int) - 3
            x1, y1 = np.ceil(poly.max(0)).astype(int) + 4
            x0, x1, y1 = max(x0, 0), min(x1, w), min(y1, h)
            y0 = max(y0, lift)
            if x1 - x0 < 3 or y1 - y0 < 2:
                continue
            off = np.array([x0, y0])
            mask = np.zeros((y1 - y0, x1 - x0), np.float32)
            cv2.fillPoly(mask, [_fixed(poly - off)], 1.0, cv2.LINE_AA, _SUBPIXEL)
            mask = cv2.GaussianBlur(mask, (5, 5), 1.2)
            cover = np.clip((b - MIN_CLOSURE) / 0.5, 0.0, 1.0)
            lash = np.zeros_like(mask)
            cv2.polylines(lash, [_fixed(points[upper, :2] - off)], False, 1.0, 2, cv2.LINE_AA, _SUBPIXEL)
            lash = cv2.GaussianBlur(lash, (3, 3), 0.7)
            roi = frame[y0:y1, x0:x1].astype(np.float32)
            lid = frame[y0 - lift: y1 - lift, x0:x1].astype(np.float32)
            a = (mask * cover)[..., None]
            roi = roi * (1 - a) + lid * a
            a = (np.clip(lash, 0, 1) * 0.75 * cover)[..., None]
            roi = roi * (1 - a) + self.lash * a
            frame[y0:y1, x0:x1] = (roi + 0.5).astype(np.uint8)


def _fixed(points: np.ndarray) -> np.ndarray:
    return np.round(points * (1 << _SUBPIXEL)).astype(np.int32)
