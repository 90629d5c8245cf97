"""The portrait's own teeth, kept at their size as the mouth opens wider than in the portrait.

When the portrait shows its teeth, the rasterised mesh (:class:`~.warp.MeshRaster`) already draws
them; but the triangles between the lips stretch with the opening, so the teeth grow taller with it.
Two rows of extra vertices split the opening: one where the upper teeth end below the upper lip, one
where the lower teeth end above the lower lip (found along each pair of facing inner-lip points as
the bright run next to each lip). As the mouth opens, each row keeps its distance from its lip (scaled
with the face), so the teeth keep their size and only the dark band between them stretches; as it
closes below the portrait's opening, the rows close in proportionally.
"""

from __future__ import annotations

import numpy as np

from forgebench.media import face_geometry as fg

UPPER = np.array(fg.INNER_LIP_UPPER[1:-1])  # left to right, corners excluded
LOWER = np.array(fg.INNER_LIP_LOWER[::-1][1:-1])  # the lower point facing each upper one
MIN_GAP_IOD = 0.2  # below this opening the teeth are a sliver (a smile): stretched, they would streak
_SAMPLES = 32


def teeth_extent(image: np.ndarray, upper: np.ndarray, lower: np.ndarray) -> tuple[float, float]:
    """(upper, lower) share of the lip gap that the teeth cover next to each lip, from the central pairs.

    Teeth are the bright run next to a lip: along each facing pair the luminance is thresholded halfway
    between its brightest and darkest sample; the run from each end is the teeth's share (0.08-0.45).
    """
    s = np.linspace(0.0, 1.0, _SAMPLES)
    centre = len(upper) // 2
    profiles = []
    for k in (centre - 1, centre, centre + 1):
        path = upper[k] + s[:, None] * (lower[k] - upper[k])
        xy = np.clip(np.round(path).astype(int), 0, [image.shape[1] - 1, image.shape[0] - 1])
        profiles.append(image[xy[:, 1], xy[:, 0]].astype(np.float64) @ [0.299, 0.587, 0.114])
    luma = np.median(profiles, axis=0)
    lo, hi = np.percentile(luma, 10), np.percentile(luma, 90)
    if hi - lo < 25:  # no contrast: no teeth and cavity to tell apart
        return 0.08, 0.08
    bright = luma > (lo + hi) / 2

    def run(flags: np.ndarray) -> float:
        start = int(np.argmax(flags[: _SAMPLES // 4])) if flags[: _SAMPLES // 4].any() else None
        if start is None:
            return 0.08
        end = start + int(np.argmin(flags[start:])) if not flags[start:].all() else _SAMPLES
        return float(np.clip(end / (_SAMPLES - 1), 0.08, 0.45))

    return run(bright), run(bright[::-1])


class OwnTeeth:
    """Extra mouth vertices for a portrait that shows its teeth (see the module docstring).

    Args:
        image: the portrait [H, W, 3].
        points: its mesh [478, 2+] in pixels.
        canonical: its canonical mesh [478, 3] (IOD units).
    """

    def __init__(self, image: np.ndarray, points: np.ndarray, canonical: np.ndarray) -> None:
        pts = np.asarray(points, np.float64)[:, :2]
        self.iod = float(np.linalg.norm(np.subtract(*fg.eye_centres(pts))))
        self.t_upper, self.t_lower = teeth_extent(image, pts[UPPER], pts[LOWER])
        # the portrait's opening per pair, in IODs (the face's own unit: it scales with the face)
        self.gap = np.linalg.norm(pts[LOWER] - pts[UPPER], axis=1) / self.iod
        self.source = self.place(pts, self.iod)
        c = np.asarray(canonical, np.float64)
        self.canonical = np.concatenate([c[UPPER] + self.t_upper * (c[LOWER] - c[UPPER]),
                                         c[LOWER] + self.t_lower * (c[UPPER] - c[LOWER])])

    @staticmethod
    def shows_teeth(points: np.ndarray) -> bool:
        pts = np.asarray(points, np.float64)[:, :2]
        iod = float(np.linalg.norm(np.subtract(*fg.eye_centres(pts))))
        return float(np.mean(np.linalg.norm(pts[LOWER] - pts[UPPER], axis=1))) > MIN_GAP_IOD * iod

    def place(self, points: np.ndarray, iod: float) -> np.ndarray:
        """[2 * 9, 2] the teeth rows for a driven mesh ``points`` [478, 2+] whose IOD is ``iod`` pixels.

        Each row sits ``t * min(gap, portrait's gap)`` from its lip: at the portrait's opening or wider
        the teeth keep their size, narrower they close in with the lips.
        """
        u, lo = np.asarray(points, np.float64)[UPPER, :2], np.asarray(points, np.float64)[LOWER, :2]
        d = lo - u
        gap = np.linalg.norm(d, axis=1)
        direction = d / np.maximum(gap, 1e-9)[:, None]
        kept = np.minimum(gap, self.gap * iod)
        return np.concatenate([u + direction * (self.t_upper * kept)[:, None],
                               lo - direction * (self.t_lower * kept)[:, None]])
