"""Mouth interior: what a warp cannot show when the lips part.

Warping stretches lip pixels across the opening. Where the driven inner-lip
polygon is open we composite a synthetic interior instead: a dark cavity with a
vertical falloff, upper teeth under the upper lip, a hint of lower teeth and a
tongue, all feathered into the lips. Everything is drawn in a small region of
interest around the mouth with OpenCV polygon fills (no per-pixel Python).
"""

from __future__ import annotations

import cv2
import numpy as np

from forgebench.media import face_geometry as fg

_UPPER = np.array(fg.INNER_LIP_UPPER)  # 78 ... 308, left to right in the image
_LOWER = np.array(fg.INNER_LIP_LOWER)  # 308 ... 78, right to left
_SUBPIXEL = 4  # fixed-point bits for cv2 drawing: smooth edges at sub-pixel positions


def _fixed(points: np.ndarray) -> np.ndarray:
    return np.round(points * (1 << _SUBPIXEL)).astype(np.int32)


class MouthPainter:
    """Paints the mouth interior into frames.

    Args:
        skin_rgb: mean skin colour of the source face; teeth and cavity are
            scaled to its brightness so they sit in the same lighting.
        source_gap_px: the source's own inner-lip gap. A source that already
            shows its teeth keeps them (warped) up to that opening; the synthetic
            interior fades in only as the mouth opens beyond it.
    """

    def __init__(self, skin_rgb: np.ndarray, source_gap_px: float = 0.0, seam_px: float = 4.0,
                 exact_warp: bool = False, own_teeth: bool = False, teeth_rgb: np.ndarray | None = None) -> None:
        self.own_teeth = own_teeth  # the renderer keeps the portrait's own teeth (OwnTeeth): paint none
        self.source_gap = source_gap_px
        self.seam = seam_px  # how far the coarse warp smears the lip line
        self.exact_warp = exact_warp  # the face is rasterised (MeshRaster): closing lips meet exactly
        self.fade_start = max(0.8, 0.9 * source_gap_px)
        self.fade_width = 3.0 + 0.5 * source_gap_px
        luma = float(np.dot(skin_rgb, [0.299, 0.587, 0.114]))
        # The mouth is in the lips' shadow: never brighter than in a well-lit face.
        light = float(np.clip(luma / 160.0, 0.5, 1.0))
        self.cavity = np.array([58.0, 22.0, 26.0]) * light
        self.throat = np.array([24.0, 8.0, 10.0]) * light
        self.tongue = np.array([138.0, 66.0, 70.0]) * light
        self.upper_teeth = np.array([206.0, 197.0, 180.0]) * light
        if teeth_rgb is not None:  # the whites of the portrait's eyes: the same light, a similar white
            self.upper_teeth = np.clip(np.asarray(teeth_rgb, np.float64) * [1.0, 0.98, 0.93], 0.0, 235.0)
        self.lower_teeth = self.upper_teeth * 0.82

    def paint(self, frame: np.ndarray, points: np.ndarray, iod_px: float, teeth_rows: np.ndarray | None = None) -> None:
        """Composite the interior into ``frame`` in place, given driven 2D ``points`` [478, 2].

        ``teeth_rows`` [18, 2]: where the portrait's own upper and lower teeth end (:class:`~.teeth.OwnTeeth`);
        between them the mouth is darkened as it opens wider than in the portrait.
        """
        upper, lower = points[_UPPER], points[_LOWER]
        gap = inner_lip_gap(points)
        if self.source_gap > 2.0 and gap < self.source_gap:
            if self.exact_warp:
                self._seam(frame, upper, lower, gap, iod_px)
            else:
                self._close(frame, upper, lower[::-1], (self.source_gap - gap) / (self.source_gap - 0.5))
            return
        if self.own_teeth:  # the portrait's teeth, kept at their size; between them, the mouth's depth
            if teeth_rows is not None and gap > self.source_gap:
                self._between_teeth(frame, points, teeth_rows, (gap - self.source_gap) / (3.0 + 0.5 * self.source_gap))
            return
        opening = np.clip((gap - self.fade_start) / self.fade_width, 0.0, 1.0)
        if opening <= 0.0:
            return  # lips touch, or no wider than the source's own mouth: the warp alone is right
        polygon = np.concatenate([upper, lower[1:-1]])
        x0, y0 = np.floor(polygon.min(0)).astype(int) - 2
        x1, y1 = np.ceil(polygon.max(0)).astype(int) + 3
        h, w = frame.shape[:2]
        x0, y0, x1, y1 = max(x0, 0), max(y0, 0), min(x1, w), min(y1, h)
        if x1 - x0 < 3 or y1 - y0 < 2:
            return
        off = np.array([x0, y0], np.float64)
        canvas = np.empty((y1 - y0, x1 - x0, 3), np.float32)
        # Cavity: lighter under the lips, darker toward the throat.
        rows = np.linspace(0.0, 1.0, y1 - y0, dtype=np.float32)[:, None, None]
        depth = 1.0 - np.abs(rows - 0.55) * 1.6
        canvas[:] = self.cavity + (self.throat - self.cavity) * np.clip(depth, 0, 1)
        centre_lower = points[14] - off
        half_width = np.linalg.norm(points[308] - points[78]) / 2.0
        # Tongue: an ellipse resting on the lower teeth, visible when the jaw drops.
        tongue_c = centre_lower + np.array([0.0, -0.18 * gap])
        axes = (max(half_width * 0.62, 1.0), max(gap * 0.32, 1.0))
        cv2.ellipse(canvas, _fixed(tongue_c), _fixed(np.array(axes)), 0, 180, 360, self.tongue.tolist(), -1,
                    cv2.LINE_AA, _SUBPIXEL)
        # Teeth: bands following the inner lip lines over the central part of the mouth, each tooth shaded
        # (rounded across, darker towards the gum, narrower towards the corners as the arch turns away).
        central = slice(2, -2)
        tooth_w = 0.17 * iod_px
        centre_x = (points[13, 0] + points[14, 0]) / 2.0 - off[0]
        rows_of_teeth = ((upper[central] - off, min(0.42 * gap, 0.11 * iod_px), self.upper_teeth, 1.0),
                         (lower[central] - off, min(0.12 * gap, 0.045 * iod_px), self.lower_teeth, -1.0))
        for edge, height, colour, sign in rows_of_teeth:
            band = np.concatenate([edge, (edge + [0.0, sign * height])[::-1]])
            mask = np.zeros(canvas.shape[:2], np.float32)
            cv2.fillPoly(mask, [_fixed(band)], 1.0, cv2.LINE_AA, _SUBPIXEL)
            shade = _tooth_shading(canvas.shape[:2], centre_x, tooth_w, half_width, edge, height, sign)
            canvas += mask[..., None] * (colour * shade[..., None] - canvas)
        # Alpha: the inner-lip polygon, feathered, fading in as the lips part.
        mask = np.zeros(canvas.shape[:2], np.float32)
        cv2.fillPoly(mask, [_fixed(polygon - off)], 1.0, cv2.LINE_AA, _SUBPIXEL)
        mask = cv2.GaussianBlur(mask, (3, 3), 0.8)
        alpha = (mask * opening)[..., None]
        # Ambient occlusion: the interior darkens toward the mouth corners.
        cols = (np.arange(x1 - x0, dtype=np.float32) - centre_x) / max(half_width, 1.0)
        canvas *= (1.0 - 0.6 * np.clip(np.abs(cols), 0.0, 1.0) ** 2)[None, :, None]
        roi = frame[y0:y1, x0:x1]
        canvas = cv2.GaussianBlur(canvas, (5, 5), 1.0)
        roi[:] = (roi * (1.0 - alpha) + canvas * alpha + 0.5).astype(np.uint8)


    def _between_teeth(self, frame: np.ndarray, points: np.ndarray, rows: np.ndarray, opening: float) -> None:
        """Darken the band between the portrait's own teeth rows (its stretch would smear teeth or gums)."""
        a_max = 0.5 * float(np.clip(opening, 0.0, 1.0))  # deeper, not flat: the portrait's own mouth shows
        if a_max <= 0.02:
            return
        n = len(rows) // 2
        polygon = np.concatenate([points[[78]], rows[:n], points[[308]], rows[n:][::-1]])
        box = _box(polygon, frame.shape)
        if box is None:
            return
        mask = _polygon_mask(polygon, box)
        rows_t = np.linspace(0.0, 1.0, box[3] - box[1], dtype=np.float32)[:, None, None]
        canvas = self.cavity + (self.throat - self.cavity) * np.clip(1.0 - np.abs(rows_t - 0.5) * 2.0, 0, 1)
        _blend(frame, box, cv2.GaussianBlur(mask, (3, 3), 0.8) * a_max, canvas)

    def _seam(self, frame: np.ndarray, upper: np.ndarray, lower: np.ndarray, gap: float, iod_px: float) -> None:
        """Shade the last sliver between closing lips as the shadow of the seam, not as teeth.

        With the exact (rasterised) warp the source's teeth shrink with the opening and vanish when the
        lips meet; a sliver of a pixel or two is left just before, and a white line between two lip
        edges reads as a double line. It fades to the cavity's dark colour as the gap closes.
        """
        shade = float(np.clip(1.0 - gap / max(0.08 * iod_px, 1.0), 0.0, 1.0))
        if shade <= 0.0:
            return
        polygon = np.concatenate([upper, lower[1:-1]])
        box = _box(polygon, frame.shape)
        if box is None:
            return
        mask = _polygon_mask(polygon, box)
        mid = (upper + lower[::-1]) / 2.0
        cv2.polylines(mask, [_fixed(mid[1:-1] - np.array(box[:2], np.float64))], False, 0.5, 1, cv2.LINE_AA, _SUBPIXEL)
        _blend(frame, box, cv2.GaussianBlur(mask, (3, 3), 0.6) * shade * 0.85, self.cavity * 0.8)

    def _close(self, frame: np.ndarray, upper: np.ndarray, lower: np.ndarray, closing: float) -> None:
        """Pull lip texture over a source mouth that showed its teeth.

        The warp squeezes the source's teeth toward the lip line, but a coarse warp
        grid leaves a band of them visible. We cover a band of ``seam`` pixels on
        each side of the driven lip line: above the meeting line with pixels from
        further up (the upper lip), below it with pixels from further down.
        ``upper`` and ``lower`` are facing inner-lip contours, left to right.
        """
        alpha_max = float(np.clip(closing, 0.0, 1.0))
        if alpha_max <= 0.05:
            return
        mid = (upper + lower) / 2.0
        m = self.seam
        shift = int(np.ceil(2 * m)) + 1
        band_top = np.minimum(upper[:, 1], mid[:, 1]) - m
        band_bot = np.maximum(lower[:, 1], mid[:, 1]) + m
        x0 = int(np.floor(mid[:, 0].min())) - 2
        x1 = int(np.ceil(mid[:, 0].max())) + 3
        y0 = int(np.floor(band_top.min())) - 2
        y1 = int(np.ceil(band_bot.max())) + 3
        h, w = frame.shape[:2]
        if y0 - shift < 0 or y1 + shift > h or x0 < 0 or x1 > w or x1 - x0 < 3:
            return
        off = np.array([x0, y0], np.float64)
        top = np.stack([mid[:, 0], band_top], 1)
        bot = np.stack([mid[:, 0], band_bot], 1)
        upper_mask = np.zeros((y1 - y0, x1 - x0), np.float32)
        lower_mask = np.zeros_like(upper_mask)
        cv2.fillPoly(upper_mask, [_fixed(np.concatenate([top, mid[::-1]]) - off)], 1.0, cv2.LINE_AA, _SUBPIXEL)
        cv2.fillPoly(lower_mask, [_fixed(np.concatenate([mid, bot[::-1]]) - off)], 1.0, cv2.LINE_AA, _SUBPIXEL)
        roi = frame[y0:y1, x0:x1].astype(np.float32)
        from_above = frame[y0 - shift: y1 - shift, x0:x1].astype(np.float32)
        from_below = frame[y0 + shift: y1 + shift, x0:x1].astype(np.float32)
        a_up = cv2.GaussianBlur(upper_mask, (3, 3), 0.8)[..., None] * alpha_max
        a_lo = cv2.GaussianBlur(lower_mask, (3, 3), 0.8)[..., None] * alpha_max
        roi = roi * (1 - a_up) + from_above * a_up
        roi = roi * (1 - a_lo) + from_below * a_lo
        # The line where the lips meet is in shadow.
        line = np.zeros_like(upper_mask)
        cv2.polylines(line, [_fixed(mid - off)], False, 1.0, 1, cv2.LINE_AA, _SUBPIXEL)
        a = (cv2.GaussianBlur(line, (3, 3), 0.6) * 0.35 * alpha_max)[..., None]
        roi = roi * (1 - a)
        frame[y0:y1, x0:x1] = (roi + 0.5).astype(np.uint8)


def _box(polygon: np.ndarray, shape: tuple[int, ...]) -> tuple[int, int, int, int] | None:
    """The polygon's bounding box, padded and clipped to the frame; None if too small to draw in."""
    x0, y0 = np.floor(polygon.min(0)).astype(int) - 2
    x1, y1 = np.ceil(polygon.max(0)).astype(int) + 3
    x0, y0, x1, y1 = max(x0, 0), max(y0, 0), min(x1, shape[1]), min(y1, shape[0])
    return None if x1 - x0 < 3 or y1 - y0 < 2 else (int(x0), int(y0), int(x1), int(y1))


def _polygon_mask(polygon: np.ndarray, box: tuple[int, int, int, int]) -> np.ndarray:
    """[h, w] float32 coverage of ``polygon`` (frame pixels) inside ``box``, anti-aliased."""
    mask = np.zeros((box[3] - box[1], box[2] - box[0]), np.float32)
    cv2.fillPoly(mask, [_fixed(polygon - np.array(box[:2], np.float64))], 1.0, cv2.LINE_AA, _SUBPIXEL)
    return mask


def _blend(frame: np.ndarray, box: tuple[int, int, int, int], alpha: np.ndarray, colour: np.ndarray) -> None:
    """``frame[box] = frame * (1 - alpha) + colour * alpha`` in place (``colour`` [3] or [h, w, 3])."""
    x0, y0, x1, y1 = box
    a = alpha[..., None]
    roi = frame[y0:y1, x0:x1].astype(np.float32)
    frame[y0:y1, x0:x1] = (roi * (1 - a) + colour * a + 0.5).astype(np.uint8)


def _tooth_shading(shape: tuple[int, int], centre_x: float, tooth_w: float, half_width: float, edge: np.ndarray,
                   height: float, sign: float) -> np.ndarray:
    """[H, W] brightness of a row of teeth: rounded across each tooth, darker at the gum.

    Tooth k spans the arch position ``u`` in ``[k, k + 1)`` with ``x = centre + tooth_w * f(u)``, where
    ``f`` compresses the outer teeth (the arch turns away from the camera towards the corners).
    """
    h, w = shape
    x = (np.arange(w, dtype=np.float32) - centre_x) / max(tooth_w, 1e-6)
    span = max(half_width / max(tooth_w, 1e-6), 1e-6)
    u = x * (1.0 + 0.35 * np.clip(np.abs(x) / span, 0.0, 1.0) ** 2)  # teeth narrow towards the corners
    across = 0.8 + 0.2 * np.cos(2 * np.pi * (u - np.round(u)))  # a tooth is lighter in its middle
    across *= 1.0 - 0.35 * np.clip(np.abs(x) / span, 0.0, 1.0) ** 2  # and the side teeth are in shadow
    edge_y = np.interp(np.arange(w), edge[:, 0], edge[:, 1]) if edge[-1, 0] > edge[0, 0] else \
        np.interp(np.arange(w), edge[::-1, 0], edge[::-1, 1])
    depth = np.clip(sign * (np.arange(h, dtype=np.float32)[:, None] - edge_y[None]) / max(height, 1e-6), 0.0, 1.0)
    gum = 0.82 + 0.18 * depth  # darker next to the lip (gum and lip shadow), lighter at the biting edge
    return (across[None, :] * gum).astype(np.float32)


def sclera_colour(image: np.ndarray, points: np.ndarray) -> np.ndarray | None:
    """Mean RGB of the whites of the eyes (the brightest, least saturated pixels inside both open eyes),
    or None when the eyes are too small or closed to tell."""
    samples = []
    for contour, corners in ((fg.RIGHT_LID_CONTOUR, fg.RIGHT_EYE_CORNERS), (fg.LEFT_LID_CONTOUR, fg.LEFT_EYE_CORNERS)):
        poly = points[[corners[0]] + [u for u, _ in contour] + [corners[1]] + [lo for _, lo in contour][::-1], :2]
        x0, y0 = np.floor(poly.min(0)).astype(int)
        x1, y1 = np.ceil(poly.max(0)).astype(int) + 1
        if x1 - x0 < 4 or y1 - y0 < 2 or x0 < 0 or y0 < 0 or x1 > image.shape[1] or y1 > image.shape[0]:
            continue
        mask = np.zeros((y1 - y0, x1 - x0), np.uint8)
        cv2.fillPoly(mask, [np.round(poly - [x0, y0]).astype(np.int32)], 1)
        samples.append(image[y0:y1, x0:x1][mask > 0].reshape(-1, 3))
    if not samples or sum(len(s) for s in samples) < 12:
        return None
    px = np.concatenate(samples).astype(np.float64)
    luma = px @ [0.299, 0.587, 0.114]
    sat = px.max(1) - px.min(1)
    white = px[(luma >= np.percentile(luma, 70)) & (sat <= np.percentile(sat, 60))]
    if len(white) < 3 or white.mean(0) @ [0.299, 0.587, 0.114] < 90:
        return None
    return white.mean(0)


def inner_lip_gap(points: np.ndarray) -> float:
    """Mean distance between facing inner-lip points, in the units of ``points``."""
    return float(np.mean([np.linalg.norm(points[lo, :2] - points[up, :2]) for up, lo in fg.INNER_LIP_PAIRS]))


def skin_colour(image: np.ndarray, points: np.ndarray) -> np.ndarray:
    """Mean RGB of the cheeks (between the eye, the nose and the mouth corner on both sides)."""
    samples = []
    for ids in ((50, 101, 118, 205), (280, 330, 347, 425)):
        centre = points[list(ids), :2].mean(0)
        x, y = np.round(centre).astype(int)
        patch = image[max(y - 3, 0): y + 4, max(x - 3, 0): x + 4].reshape(-1, 3)
        if len(patch):
            samples.append(patch.mean(0))
    return np.mean(samples, axis=0) if samples else np.array([180.0, 140.0, 120.0])
