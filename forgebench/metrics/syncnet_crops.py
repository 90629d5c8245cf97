"""Face crops for SyncNet, made from MediaPipe landmarks instead of S3FD boxes.

The reference pipeline (syncnet-python ``SyncNetPipeline``, after joonson/syncnet_python
``run_pipeline.py``) makes its crops in four steps; we keep steps 2-4 exactly and
replace step 1:

1. **Box per frame.** Reference: S3FD face detection at 0.25x scale, IoU tracking,
   linear interpolation of boxes over missed frames. Here: the bounding box of
   MediaPipe's face-oval landmarks (the 36 points of ``FACEMESH_FACE_OVAL``:
   forehead at the hairline, chin, cheek edges), interpolated linearly over frames
   where the analyzer found no face (``valid`` False). An S3FD box (WIDER FACE
   style) also spans cheek to cheek and brow/forehead to chin, so the two boxes
   have nearly the same centre and size; ``top_trim`` moves the box top down by a
   fraction of its height if a user measures that S3FD's top edge sits lower than
   the hairline on their data (default 0: not measured here, S3FD weights are not
   available on this machine).
2. **Smoothing.** Half-size ``s = max(w, h) / 2`` and centre ``(x, y)`` per frame,
   each median-filtered over 13 frames (``scipy.signal.medfilt(v, 13)``).
3. **Crop.** Pad the frame by ``int(s * (1 + 2 cs))`` with grey 110, cut
   rows ``[y - s, y + s (1 + 2 cs))`` and columns ``[x - s (1 + cs), x + s (1 + cs))``
   with ``cs = 0.4`` (a square 2 s (1 + cs) wide, shifted down to include the chin
   and neck), all with the reference's ``int()`` truncation.
4. **Resize** to 224x224 with ``cv2.resize`` (bilinear).

What we skip: the reference writes the crops to an XVID ``.avi`` and reads them back
as JPEG frames through ffmpeg (two lossy re-encodings); we hand the crops to the
network directly. Its frame rate conversion (``ffmpeg -r 25``) is done by
:func:`resample_to_fps` (nearest earlier frame, as ffmpeg's frame dropping does).
"""

from __future__ import annotations

import numpy as np

#: MediaPipe FACEMESH_FACE_OVAL vertex indices (the outline of the face).
FACE_OVAL = np.array(
    [10, 338, 297, 332, 284, 251, 389, 356, 454, 323, 361, 288, 397, 365, 379, 378, 400, 377,
     152, 148, 176, 149, 150, 136, 172, 58, 132, 93, 234, 127, 162, 21, 54, 103, 67, 109]
)  # fmt: skip
CROP_SIZE = 224
CROP_SCALE = 0.40  # syncnet-python PipelineConfig.crop_scale
MEDFILT_KERNEL = 13  # reference smoothing window (frames)
PAD_VALUE = 110


def face_boxes_from_landmarks(
    landmarks: np.ndarray, valid: np.ndarray | None = None, top_trim: float = 0.0
) -> np.ndarray:
    """S3FD-like boxes ``[T, 4]`` (x1, y1, x2, y2, pixels) from landmarks ``[T, 478, 3]``.

    Rows where ``valid`` is False are filled by linear interpolation between the
    nearest valid frames (held constant before the first / after the last).
    Raises ``ValueError`` if no frame is valid.
    """
    lm = np.asarray(landmarks, dtype=np.float64)
    t = len(lm)
    valid = np.ones(t, bool) if valid is None else np.asarray(valid, bool)
    if not valid.any():
        raise ValueError("no frame has a face")
    oval = lm[:, FACE_OVAL, :2]
    boxes = np.concatenate([oval.min(axis=1), oval.max(axis=1)], axis=1)  # x1 y1 x2 y2
    if top_trim:
        boxes[:, 1] += top_trim * (boxes[:, 3] - boxes[:, 1])
    idx = np.flatnonzero(valid)
    frames = np.arange(t)
    return np.stack([np.interp(frames, idx, boxes[idx, k]) for k in range(4)], axis=1)


def smooth_boxes(boxes: np.ndarray, kernel: int = MEDFILT_KERNEL) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Half-size ``s``, centre ``x``, ``y`` per frame, median-filtered as the reference does."""
    from scipy import signal

    b = np.asarray(boxes, dtype=np.float64)
    # medfilt zero-pads its ends: a kernel longer than the clip would drag boxes toward 0 (the reference
    # never sees this, it drops tracks under 50 frames), so short clips use the longest odd kernel that fits.
    kernel = min(kernel, len(b) if len(b) % 2 else len(b) - 1)
    s = np.maximum(b[:, 3] - b[:, 1], b[:, 2] - b[:, 0]) / 2
    x = (b[:, 0] + b[:, 2]) / 2
    y = (b[:, 1] + b[:, 3]) / 2
    return tuple(signal.medfilt(v, kernel) for v in (s, x, y))  # type: ignore[return-value]


def crop_face(
    frame: np.ndarray, s: float, x: float, y: float, cs: float = CROP_SCALE, size: int = CROP_SIZE
) -> np.ndarray:
    """One reference crop (steps 3-4 above) of ``frame`` [H, W, 3] -> [size, size, 3]."""
    import cv2

    pad = int(s * (1 + 2 * cs))
    padded = cv2.copyMakeBorder(frame, pad, pad, pad, pad, cv2.BORDER_CONSTANT, value=(PAD_VALUE,) * 3)
    my, mx = y + pad, x + pad
    y1, y2 = int(my - s), int(my + s * (1 + 2 * cs))
    x1, x2 = int(mx - s * (1 + cs)), int(mx + s * (1 + cs))
    return cv2.resize(padded[y1:y2, x1:x2], (size, size))


def crop_faces(frames: np.ndarray, boxes: np.ndarray, cs: float = CROP_SCALE, size: int = CROP_SIZE) -> np.ndarray:
    """Smoothed reference crops ``[T, size, size, 3]`` uint8 of ``frames`` [T, H, W, 3] at ``boxes`` [T, 4]."""
    if len(frames) != len(boxes):
        raise ValueError(f"{len(frames)} frames but {len(boxes)} boxes")
    s, x, y = smooth_boxes(boxes)
    out = np.empty((len(frames), size, size, 3), np.uint8)
    for i, frame in enumerate(frames):
        out[i] = crop_face(np.ascontiguousarray(frame), s[i], x[i], y[i], cs, size)
    return out


def resample_to_fps(n_frames: int, fps: float, target_fps: float = 25.0) -> np.ndarray:
    """Indices of the source frames shown at ``target_fps`` (nearest earlier frame, like ``ffmpeg -r``).

    >>> resample_to_fps(6, 30.0, 25.0).tolist()
    [0, 1, 2, 3, 4]
    """
    if abs(fps - target_fps) < 1e-6:
        return np.arange(n_frames)
    n_out = int(np.floor(n_frames * target_fps / fps + 1e-9))
    idx = np.floor(np.arange(n_out) * fps / target_fps + 1e-9).astype(np.int64)
    return np.minimum(idx, n_frames - 1)


def syncnet_crops(
    frames: np.ndarray, landmarks: np.ndarray, valid: np.ndarray | None = None, top_trim: float = 0.0
) -> tuple[np.ndarray, float]:
    """Crops ``[T, 224, 224, 3]`` (same channel order as ``frames``) and face coverage (fraction of valid frames)."""
    valid_arr = np.ones(len(frames), bool) if valid is None else np.asarray(valid, bool)
    boxes = face_boxes_from_landmarks(landmarks, valid_arr, top_trim=top_trim)
    return crop_faces(frames, boxes), float(valid_arr.mean()) if len(valid_arr) else 0.0
