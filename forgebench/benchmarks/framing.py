"""Face-centred framing: one fixed square per clip around the tracked face, so every clip is framed alike.

Real datasets arrive framed every way: 224² VoxCeleb crops, HDTF 512² heads, 1080x1920 full-body
phone video, three-panel composites, clips with a watermark or an inset in a corner. A detector
shown those beside forgebench's own talking-head frames can learn the framing instead of the face.
:func:`face_square` measures the face over a clip and gives one square for the whole clip:

* the face is the bounding box of MediaPipe's 468-point mesh (tracked with
  :class:`~forgebench.media.face_mesh_lite.LiteFaceMeshTracker`) on evenly spaced frames;
* the square's side is ``face_scale`` x the median box width (1.8 shows the whole head, some
  hair, neck and background: the usual forensic face crop); its centre is the median box centre;
* it is one square for the clip (no per-frame jitter: the face moves inside a still frame, as in
  a talking-head recording);
* a square that leaves the frame is shifted back inside when it fits; otherwise the frame is
  padded by reflection (:func:`crop_square`), so the face is never squashed or off-centre;
* a clip whose face is found in fewer than ``min_found`` of the tracked frames is refused with
  one line (a corpus row with status failed).

Identity portraits for forgebench's fakes are framed by the same function (``crop: face`` in
``identities``), and generated at the output size with ``crop: full``: a real clip and the fakes
of its person then show the same part of head and background.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np

from forgebench.errors import InputError

DEFAULT_FACE_SCALE = 1.8
MIN_FOUND = 0.5  # a clip needs a face in at least half of the tracked frames
TRACKED_FRAMES = 48  # frames measured per clip (evenly spaced); enough for a stable median


@dataclass(frozen=True)
class Square:
    """A square in source pixels: top-left ``(x0, y0)`` and ``side``; may extend past the frame (padded)."""

    x0: int
    y0: int
    side: int
    found: float = 1.0  # fraction of the tracked frames with a face

    def as_dict(self) -> dict:
        return {"x0": self.x0, "y0": self.y0, "side": self.side, "found": round(self.found, 4)}


def face_boxes(frames: Iterable[np.ndarray]) -> tuple[np.ndarray, int]:
    """Track the face on consecutive frames: ([K, 3] centre x, centre y, width of the found faces, frames seen)."""
    from forgebench.media.face_mesh_lite import LiteFaceMeshTracker

    boxes, n = [], 0
    with LiteFaceMeshTracker() as tracker:
        for frame in frames:
            n += 1
            pts = tracker(frame)
            if pts is None:
                continue
            x, y = pts[:, 0], pts[:, 1]
            boxes.append(((x.min() + x.max()) / 2, (y.min() + y.max()) / 2, x.max() - x.min()))
    return np.asarray(boxes, np.float64).reshape(-1, 3), n


def square_from_boxes(boxes: np.ndarray, n_frames: int, width: int, height: int,
                      face_scale: float = DEFAULT_FACE_SCALE, min_found: float = MIN_FOUND,
                      what: str = "the clip") -> Square:
    """One square for a clip from its per-frame face boxes ([K, 3] cx, cy, w); see the module docstring."""
    found = len(boxes) / max(n_frames, 1)
    if n_frames == 0 or found < min_found:
        raise InputError(f"no face in {n_frames - len(boxes)} of {n_frames} tracked frames of {what} (need a face "
                         f"in at least {min_found:.0%}): it cannot be framed on the face")
    cx, cy, w = np.median(boxes, axis=0)
    side = max(2, int(round(face_scale * w)))
    x0, y0 = int(round(cx - side / 2)), int(round(cy - side / 2))
    # Shift back inside the frame where the square fits; otherwise keep it centred (padded when cropped).
    if side <= width:
        x0 = min(max(x0, 0), width - side)
    if side <= height:
        y0 = min(max(y0, 0), height - side)
    return Square(x0, y0, side, found)


def crop_square(frame: np.ndarray, sq: Square, size: int) -> np.ndarray:
    """The square ``sq`` of ``frame`` resized to ``size`` x ``size`` (area filter when shrinking).

    Parts of the square outside the frame are filled by reflecting the frame at its border
    (OpenCV ``BORDER_REFLECT_101``), which keeps the image statistics of the background.
    """
    import cv2

    h, w = frame.shape[:2]
    x1, y1 = sq.x0 + sq.side, sq.y0 + sq.side
    pad = (max(0, -sq.y0), max(0, y1 - h), max(0, -sq.x0), max(0, x1 - w))  # top, bottom, left, right
    if any(pad):
        mode = cv2.BORDER_REFLECT_101 if max(pad) < min(h, w) else cv2.BORDER_REPLICATE
        frame = cv2.copyMakeBorder(frame, *pad, mode)
        x0, y0 = sq.x0 + pad[2], sq.y0 + pad[0]
    else:
        x0, y0 = sq.x0, sq.y0
    crop = frame[y0:y0 + sq.side, x0:x0 + sq.side]
    interp = cv2.INTER_AREA if sq.side > size else cv2.INTER_LINEAR
    return np.ascontiguousarray(cv2.resize(crop, (size, size), interpolation=interp))


def image_square(image: np.ndarray, face_scale: float = DEFAULT_FACE_SCALE, what: str = "the image") -> Square:
    """The face square of one still image (an identity portrait), by the same rule as a clip's."""
    boxes, n = face_boxes([image])
    return square_from_boxes(boxes, n, image.shape[1], image.shape[0], face_scale, 1.0, what)


def tracked_indices(n_frames: int, k: int = TRACKED_FRAMES) -> np.ndarray:
    """Up to ``k`` evenly spaced frame indices of ``range(n_frames)`` (sorted, unique)."""
    if n_frames <= 0:
        return np.zeros(0, np.int64)
    return np.unique(np.round(np.linspace(0, n_frames - 1, min(k, n_frames))).astype(np.int64))
