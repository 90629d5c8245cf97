"""Stage 1 — analyze the source portrait: find the face, frame it, measure it.

The output frame is a square crop around the face (talking-head framing: the
inter-ocular distance is a fifth of the frame, eyes a little above centre, as in
HDTF-style 512² crops) resized to the output size, or the whole image resized
(``crop="full"``) or, with ``keep_size``, kept at its own size (up to 720p, see
:func:`fit_within`). Landmarks are mapped into the output frame exactly, not
re-detected.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import cv2
import numpy as np

from forgebench.errors import InputError
from forgebench.media import face_geometry as fg
from forgebench.media.analyze import FaceAnalysis, analyze_image

IOD_PER_FRAME = 0.2  # inter-ocular distance as a fraction of the square crop
EYES_ABOVE_CENTRE = 0.6  # crop centre this many IODs below the eye midpoint
MIN_IOD_PX = 10.0
MAX_SIDES = (1280, 720)  # "up to 720p": longer side, shorter side


def fit_within(width: int, height: int, sides: tuple[int, int] = MAX_SIDES) -> tuple[int, int]:
    """(width, height) made even and, when larger than ``sides`` (longer, shorter), scaled down to fit.

    >>> fit_within(641, 480), fit_within(1920, 1080), fit_within(1080, 1920)
    ((640, 480), (1280, 720), (720, 1280))
    """
    long_side, short_side = max(width, height), min(width, height)
    scale = min(1.0, sides[0] / long_side, sides[1] / short_side)
    if scale < 1.0:
        width, height = round(width * scale), round(height * scale)
    return max(2, width - width % 2), max(2, height - height % 2)


@dataclass
class AnalyzerConfig:
    """How the source portrait becomes the output frame."""

    size: int = 512
    crop: str = "face"  # "face": square talking-head crop; "full": whole image
    keep_size: bool = False  # with crop "full": the image's own size (even, up to 720p) instead of ``size``

    def __post_init__(self) -> None:
        if self.size < 64 or self.size % 2:
            raise InputError(f"--size {self.size} is not usable: give an even number of pixels, at least 64")
        if self.crop not in ("face", "full"):
            raise InputError(f"unknown crop mode {self.crop!r}: use 'face' or 'full'")


@dataclass
class SourceFace:
    """The framed source: ``image`` [H, W, 3] at output size and its face analysis in that frame."""

    image: np.ndarray
    face: FaceAnalysis
    notes: list[str] = field(default_factory=list)

    @property
    def width(self) -> int:
        return self.image.shape[1]

    @property
    def height(self) -> int:
        return self.image.shape[0]


class SourceAnalyzer:
    """Callable stage: ``SourceAnalyzer(config)(image) -> SourceFace``."""

    def __init__(self, config: AnalyzerConfig | None = None) -> None:
        self.config = config or AnalyzerConfig()

    def __call__(self, image: np.ndarray, name: str = "the image") -> SourceFace:
        if image.ndim != 3 or image.shape[2] != 3 or min(image.shape[:2]) < 64:
            raise InputError(f"{name} must be an RGB image at least 64 px on each side")
        found = analyze_image(image, name=name)
        notes = []
        if found.n_faces > 1:
            notes.append(f"{name} has {found.n_faces} faces; using the largest")
        iod = float(np.linalg.norm(np.subtract(*fg.eye_centres(found.landmarks.astype(np.float64)))))
        if iod < MIN_IOD_PX:
            notes.append(f"the face in {name} is small ({iod:.0f} px between the eyes); the video will look soft")
        box, out_w, out_h = self._frame_box(found, image.shape[1], image.shape[0])
        if self.config.crop == "full" and self.config.keep_size and out_w < image.shape[1] - 1:
            notes.append(f"{name} is {image.shape[1]}x{image.shape[0]}; it is scaled down to {out_w}x{out_h} "
                         "(at most 720p)")
        x0, y0, x1, y1 = box
        crop = image[y0:y1, x0:x1]
        scale_x, scale_y = out_w / (x1 - x0), out_h / (y1 - y0)
        interp = cv2.INTER_AREA if scale_x < 1 else cv2.INTER_CUBIC
        framed = cv2.resize(crop, (out_w, out_h), interpolation=interp)
        points = (found.landmarks.astype(np.float64) - [x0, y0, 0.0]) * [scale_x, scale_y, scale_x]
        canonical, pose = fg.canonicalize(points, out_w, out_h)
        eye_open = fg.eye_openness(canonical)
        expression, gaze = fg.measure_expression(canonical, eye_open)
        face = FaceAnalysis(points, canonical, pose, expression, gaze, eye_open, out_w, out_h, found.n_faces)
        return SourceFace(image=np.ascontiguousarray(framed), face=face, notes=notes)

    def _frame_box(self, found: FaceAnalysis, width: int, height: int) -> tuple[tuple[int, int, int, int], int, int]:
        size = self.config.size
        if self.config.crop == "full" and self.config.keep_size:
            out_w, out_h = fit_within(width, height)
            if (out_w, out_h) == (width - width % 2, height - height % 2):
                # Own size: drop an odd last row/column rather than resample, so pixels stay aligned.
                return (0, 0, out_w, out_h), out_w, out_h
            return (0, 0, width, height), out_w, out_h
        if self.config.crop == "full":
            scale = size / max(width, height)
            out_w, out_h = (max(2, round(width * scale / 2) * 2), max(2, round(height * scale / 2) * 2))
            return (0, 0, width, height), out_w, out_h
        eye_r, eye_l = fg.eye_centres(found.landmarks.astype(np.float64))
        iod = float(np.linalg.norm(eye_l[:2] - eye_r[:2]))
        side = min(iod / IOD_PER_FRAME, width, height)
        cx = (eye_r[0] + eye_l[0]) / 2.0
        cy = (eye_r[1] + eye_l[1]) / 2.0 + EYES_ABOVE_CENTRE * iod
        x0 = int(round(np.clip(cx - side / 2, 0, width - side)))
        y0 = int(round(np.clip(cy - side / 2, 0, height - side)))
        side_px = int(round(side))
        return (x0, y0, x0 + side_px, y0 + side_px), size, size
