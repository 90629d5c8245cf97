"""Skin and background regions of a tracked face, and what a frame shows in them.

Skin regions (remote photoplethysmography reads the pulse in their mean colour) are convex
hulls of MediaPipe mesh points, shrunk toward their centroid so that brows, eyes, nostrils and
the hairline stay outside as the mesh jitters:

* ``forehead_r`` / ``forehead_l``: the forehead above each brow (subject's right / left);
* ``cheek_r`` / ``cheek_l``: the malar cheeks, below the eyes and beside the nose;
* ``nose``: the nose bridge and dorsum.

Eyes and mouth are excluded (blinks and speech change their colour far more than the pulse).
Background regions are two boxes beside the head at eye height, ``BACKGROUND_GAP`` face widths
outside the face oval, ``BACKGROUND_SIZE`` face widths in size, clipped to the frame: a reference
for lighting and codec changes that are not in the skin, and for how the background moves.

All indices are < 468, so both the refined (478) and plain (468) meshes work.
"""

from __future__ import annotations

import numpy as np

SKIN_REGIONS: dict[str, tuple[int, ...]] = {
    "forehead_r": (10, 109, 67, 103, 104, 63, 105, 66, 107, 9, 151),
    "forehead_l": (10, 338, 297, 332, 333, 293, 334, 296, 336, 9, 151),
    "cheek_r": (116, 117, 118, 119, 100, 142, 203, 206, 207, 187, 147, 123, 50, 205, 36),
    "cheek_l": (345, 346, 347, 348, 329, 371, 423, 426, 427, 411, 376, 352, 280, 425, 266),
    "nose": (168, 6, 197, 195, 5, 51, 281, 236, 456, 3, 248),
}
SKIN_NAMES = tuple(SKIN_REGIONS)
BACKGROUND_NAMES = ("background_r", "background_l")  # image left, image right of the face
N_REGIONS = len(SKIN_NAMES) + len(BACKGROUND_NAMES)
SHRINK = 0.85  # polygons are scaled by this about their centroid
BACKGROUND_GAP, BACKGROUND_SIZE = 0.12, 0.3  # in face widths
FACE_OVAL_X = (234, 454)  # leftmost / rightmost face-oval points (image left / right for a frontal face)
EYE_ROW = (33, 263)


def skin_polygons(points: np.ndarray) -> list[np.ndarray]:
    """[P_i, 2] float polygons (pixels) of :data:`SKIN_REGIONS` on one mesh ``points`` [N >= 468, >= 2]."""
    import cv2

    out = []
    for idx in SKIN_REGIONS.values():
        p = np.asarray(points, np.float32)[list(idx), :2]
        hull = cv2.convexHull(p)[:, 0, :].astype(np.float64)
        c = hull.mean(0)
        out.append(c + SHRINK * (hull - c))
    return out


def background_boxes(points: np.ndarray, width: int, height: int) -> list[tuple[int, int, int, int]]:
    """(x0, y0, x1, y1) boxes of :data:`BACKGROUND_NAMES` beside the face, clipped to the frame (may be empty)."""
    p = np.asarray(points, np.float64)
    xs = p[:, 0]
    left, right = float(xs.min()), float(xs.max())
    face_w = max(right - left, 1.0)
    y_eye = float(p[list(EYE_ROW), 1].mean())
    half = BACKGROUND_SIZE * face_w / 2
    gap, size = BACKGROUND_GAP * face_w, BACKGROUND_SIZE * face_w
    boxes = []
    for x0, x1 in ((left - gap - size, left - gap), (right + gap, right + gap + size)):
        bx0, bx1 = int(np.clip(round(x0), 0, width)), int(np.clip(round(x1), 0, width))
        by0, by1 = int(np.clip(round(y_eye - half), 0, height)), int(np.clip(round(y_eye + half), 0, height))
        boxes.append((bx0, by0, bx1, by1))
    return boxes


def polygon_mean(frame: np.ndarray, polygon: np.ndarray) -> tuple[np.ndarray, int]:
    """Mean RGB [3] of the pixels whose centres fall inside ``polygon`` [P, 2] and their count (NaN, 0 if none).

    Rasterised in the polygon's bounding box only (a few hundred pixels, not the frame), at 1/16
    pixel precision so that sub-pixel mesh motion moves the mask smoothly.
    """
    import cv2

    h, w = frame.shape[:2]
    x0, y0 = np.floor(polygon.min(0)).astype(int)
    x1, y1 = np.ceil(polygon.max(0)).astype(int) + 1
    x0, y0, x1, y1 = max(x0, 0), max(y0, 0), min(x1, w), min(y1, h)
    if x1 <= x0 or y1 <= y0:
        return np.full(3, np.nan), 0
    mask = np.zeros((y1 - y0, x1 - x0), np.uint8)
    shift = 4
    pts = np.round((polygon - [x0, y0]) * (1 << shift)).astype(np.int32)
    cv2.fillConvexPoly(mask, pts, 1, lineType=cv2.LINE_8, shift=shift)
    n = int(mask.sum())
    if n == 0:
        return np.full(3, np.nan), 0
    mean = cv2.mean(frame[y0:y1, x0:x1], mask=mask)[:3]
    return np.array(mean, np.float64), n


def region_means(frame: np.ndarray, points: np.ndarray) -> np.ndarray:
    """[R, 3] mean RGB of the skin regions then the background boxes (NaN where a region is empty)."""
    h, w = frame.shape[:2]
    out = [polygon_mean(frame, poly)[0] for poly in skin_polygons(points)]
    for x0, y0, x1, y1 in background_boxes(points, w, h):
        if x1 - x0 < 2 or y1 - y0 < 2:
            out.append(np.full(3, np.nan))
        else:
            out.append(frame[y0:y1, x0:x1].reshape(-1, 3).mean(0).astype(np.float64))
    return np.stack(out)
