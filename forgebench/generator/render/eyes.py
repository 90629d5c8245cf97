"""Eyelids: cover the eye with lid skin as a blink closes it.

The rig moves the upper lid onto the lower one, so the warp already stretches
the lid skin down; what it cannot do is hide the squashed iris and sclera of a
half-closed eye. We blend the eyelid's own colour (sampled once from the
source above the upper lid) over the remaining eye opening, and darken the lash
line, both in proportion to the closure.
"""

from __future__ import annotations

import cv2
import numpy as np

from forgebench.media import face_geometry as fg

_SUBPIXEL = 4


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
    """Blends lid skin over closing eyes. ``lid_rgb`` maps eye name -> RGB of its lid."""

    def __init__(self, lid_rgb: dict[str, np.ndarray]) -> None:
        self.lid_rgb = lid_rgb
        self.lash = np.array([45.0, 32.0, 30.0])

    def paint(self, frame: np.ndarray, points: np.ndarray, closure: dict[str, float]) -> None:
        h, w = frame.shape[:2]
        for name, (upper, lower) in _EYES.items():
            b = float(closure.get(name, 0.0))
            if b < 0.25:
                continue
            poly = points[upper + lower, :2]
            x0, y0 = np.floor(poly.min(0)).astype(int) - 3
            x1, y1 = np.ceil(poly.max(0)).astype(int) + 4
            x0, y0, x1, y1 = max(x0, 0), max(y0, 0), min(x1, w), min(y1, h)
            if x1 - x0 < 3 or y1 - y0 < 2:
                continue
            off = np.array([x0, y0])
            mask = np.zeros((y1 - y0, x1 - x0), np.float32)
            fixed = np.round((poly - off) * (1 << _SUBPIXEL)).astype(np.int32)
            cv2.fillPoly(mask, [fixed], 1.0, cv2.LINE_AA, _SUBPIXEL)
            mask = cv2.GaussianBlur(mask, (3, 3), 0.8)
            cover = np.clip((b - 0.25) / 0.55, 0.0, 1.0) * 0.92
            lash = np.zeros_like(mask)
            lid_line = np.round((points[upper, :2] - off) * (1 << _SUBPIXEL)).astype(np.int32)
            cv2.polylines(lash, [lid_line], False, 1.0, 1, cv2.LINE_AA, _SUBPIXEL)
            roi = frame[y0:y1, x0:x1].astype(np.float32)
            a = (mask * cover)[..., None]
            roi = roi * (1 - a) + self.lid_rgb[name] * a
            a = (lash * 0.6 * b)[..., None]
            roi = roi * (1 - a) + self.lash * a
            frame[y0:y1, x0:x1] = (roi + 0.5).astype(np.uint8)


def lid_colours(image: np.ndarray, points: np.ndarray) -> dict[str, np.ndarray]:
    """RGB of the skin between each upper lid and its brow, from the source image."""
    colours = {}
    for name, lid_top, brow in (("blink_right", 159, fg.RIGHT_BROW), ("blink_left", 386, fg.LEFT_BROW)):
        lid = points[lid_top, :2]
        brow_c = points[list(brow), :2].mean(0)
        centre = lid + 0.35 * (brow_c - lid)
        x, y = np.round(centre).astype(int)
        patch = image[max(y - 2, 0): y + 3, max(x - 4, 0): x + 5].reshape(-1, 3)
        colours[name] = patch.mean(0) if len(patch) else np.array([170.0, 130.0, 115.0])
    return colours
