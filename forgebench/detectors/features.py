"""Pretrained-network features of a clip's face: windows of consecutive frames -> crops -> a frozen network.

One interface for every backbone (:mod:`forgebench.detectors.backbones`): a :class:`FeatureExtractor`
takes clips (a :class:`~forgebench.detectors.base.ClipSet`) and returns, per clip and layer,

* frame backbones: ``float32 [W, L, D]`` (``windows`` x ``window_len`` consecutive frames);
* clip backbones (I3D): ``float32 [W, D]`` (one feature per window).

Per clip:

1. the shared preprocessing (:mod:`forgebench.detectors.preprocess`, cached) gives the tracked face mesh
   of the first ``max_frames`` frames;
2. ``windows`` windows of ``window_len`` consecutive frames are placed evenly over the tracked span; a frame
   without a face borrows the landmarks of the nearest frame that has one;
3. each frame is cropped straight from the decoded frame (one ``warpAffine``): the similarity transform that
   takes the eye centres and the mouth centre to the detectors' template (``preprocess.TEMPLATE``), its
   anchor points averaged over ``smooth`` neighbouring frames so that tracker jitter does not move the crop,
   then the crop's box (:data:`CROP_BOXES`: the whole aligned face, the mouth, the eyes) scaled to the
   backbone's input size. ``frame`` is the whole frame resized;
4. the backbone's layers, spatially averaged.

Features are cached as ``.npz`` per clip and layer under ``<cache>/features/<key>/``, keyed by the clip's
content hash and everything that changes the numbers (network and weights digest, layer, crop, frames,
the tracking configuration), written atomically. A second detector over the same layer reads them back.
"""

from __future__ import annotations

import hashlib
import json
import sys
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np

from forgebench.atomic import atomic_output
from forgebench.detectors.backbones import Backbone, get_backbone
from forgebench.detectors.preprocess import TEMPLATE, ClipFeatures, PreprocessConfig, anchor_points, load_features
from forgebench.errors import ForgebenchError, InputError
from forgebench.paths import sha256_file

# Crop boxes in the aligned face's normalised coordinates (x0, y0, side), template: eyes at y 0.42, mouth at 0.74.
CROP_BOXES = {
    "face": (0.0, 0.0, 1.0),     # the whole aligned face with some context (the detectors' crop)
    "mouth": (0.29, 0.55, 0.42),  # lips, teeth and chin (LipForensics' region)
    "eyes": (0.24, 0.16, 0.52),  # both eyes and brows
}
CROPS = (*CROP_BOXES, "frame")


@dataclass(frozen=True)
class ExtractorConfig:
    """What a feature is; every field is part of the cache key and of a saved detector's config."""

    backbone: str = "inception"
    layer: str = "pool3"
    crop: str = "face"
    windows: int = 2
    window_len: int = 8
    smooth: int = 5  # frames averaged for the crop's alignment (1: each frame aligned on its own landmarks)
    weights: str = ""  # weights-registry name for registry backbones ("" = the backbone's standard weights)
    input_size: int = 0  # crop side fed to the network (0 = the backbone's standard size)
    version: int = 1  # bump when the crop or pooling definition changes

    def __post_init__(self) -> None:
        cls = get_backbone(self.backbone)
        if self.layer not in cls.layers:
            raise InputError(f"backbone {self.backbone} has no layer {self.layer!r} (known: {', '.join(cls.layers)})")
        if self.crop not in CROPS:
            raise InputError(f"crop must be one of {', '.join(CROPS)}, got {self.crop!r}")
        if self.windows < 1 or self.window_len < 1 or self.smooth < 1:
            raise InputError("windows, window_len and smooth must be at least 1")
        if self.input_size and cls.fixed_size and self.input_size != cls.input_size:
            raise InputError(f"the {self.backbone} network takes {cls.input_size}x{cls.input_size} inputs only, "
                             f"not input_size={self.input_size}")
        if cls.temporal and self.window_len < 4:
            raise InputError(f"{self.backbone} reads clips: window_len must be at least 4 frames")


def window_frames(valid: np.ndarray, windows: int, length: int) -> np.ndarray:
    """[W, L] frame indices: ``windows`` runs of ``length`` consecutive frames spread evenly over the tracked span.

    The span runs from the first to the last frame with a face; a clip shorter than ``length`` repeats its
    last frame. Raises InputError when no frame has a face.
    """
    idx = np.flatnonzero(valid)
    if len(idx) == 0:
        raise InputError("no frame with a tracked face")
    first, last = int(idx[0]), int(idx[-1])
    starts = np.round(np.linspace(first, max(first, last - length + 1), windows)).astype(int)
    return np.minimum(starts[:, None] + np.arange(length)[None], last)


def nearest_valid(valid: np.ndarray) -> np.ndarray:
    """For every frame, the index of the nearest frame with a face (itself when it has one)."""
    idx = np.flatnonzero(valid)
    pos = np.clip(np.searchsorted(idx, np.arange(len(valid))), 1, max(len(idx) - 1, 1))
    left, right = idx[np.maximum(pos - 1, 0)], idx[np.minimum(pos, len(idx) - 1)]
    return np.where(np.abs(np.arange(len(valid)) - left) <= np.abs(right - np.arange(len(valid))), left, right)


def smoothed_anchors(landmarks: np.ndarray, valid: np.ndarray, frames: np.ndarray, smooth: int) -> np.ndarray:
    """[len(frames), 3, 2] eye/mouth anchors of ``frames``, averaged over ``smooth`` neighbouring frames."""
    near = nearest_valid(valid)
    half = smooth // 2
    out = []
    for f in frames:
        nb = near[np.clip(np.arange(f - half, f - half + smooth), 0, len(valid) - 1)]
        out.append(np.mean([anchor_points(landmarks[j]) for j in nb], axis=0))
    return np.asarray(out)


def crop_matrix(anchors: np.ndarray, crop: str, size: int) -> np.ndarray:
    """2x3 matrix from the frame to a ``size`` x ``size`` crop of ``crop`` (:data:`CROP_BOXES`)."""
    from forgebench.detectors.preprocess import similarity_transform

    x0, y0, side = CROP_BOXES[crop]
    target = (TEMPLATE - np.array([x0, y0])) / side * size
    return similarity_transform(anchors, target)


def clip_crops(path: Path, feat: ClipFeatures, cfg: ExtractorConfig, size: int) -> np.ndarray:
    """uint8 [W, L, size, size, 3] crops of one clip (decoded once, up to the last frame needed)."""
    import cv2

    from forgebench.media.video import iter_frames

    index = window_frames(feat.valid, cfg.windows, cfg.window_len)
    needed = np.unique(index)
    wanted = set(needed.tolist())
    frames: dict[int, np.ndarray] = {}
    for t, frame in enumerate(iter_frames(path)):
        if t in wanted:
            frames[t] = frame
        if t >= needed[-1]:
            break
    if len(frames) < len(needed):
        raise InputError(f"{str(path)!r} decoded to fewer frames than it was tracked on")
    anchors = dict(zip(needed.tolist(), smoothed_anchors(feat.landmarks, feat.valid, needed, cfg.smooth)))
    out = np.empty((*index.shape, size, size, 3), np.uint8)
    for (w, t), f in np.ndenumerate(index):
        img = frames[int(f)]
        if cfg.crop == "frame":
            out[w, t] = cv2.resize(img, (size, size), interpolation=cv2.INTER_AREA)
        else:
            m = crop_matrix(anchors[int(f)], cfg.crop, size)
            out[w, t] = cv2.warpAffine(img, m, (size, size), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REFLECT101)
    return out


class FeatureExtractor:
    """Clips -> per-clip features of one or more layers of a frozen backbone, cached by content hash.

    Args:
        backbone: a loaded :class:`~forgebench.detectors.backbones.Backbone` (its ``network`` names the weights).
        config: crop, frames and smoothing (``config.layer`` is the default layer).
        preprocess: the shared tracking configuration (its landmarks place the crops).
        cache_dir: the detector cache (``<cache_dir>/features/...``); None disables caching.
    """

    def __init__(self, backbone: Backbone, config: ExtractorConfig, preprocess: PreprocessConfig,
                 cache_dir: Path | None = None, progress: bool = False) -> None:
        self.backbone, self.config, self.preprocess = backbone, config, preprocess
        self.cache_dir, self.progress = cache_dir, progress

    def key(self, layer: str) -> str:
        spec = {**asdict(self.config), "layer": layer, "network": self.backbone.network,
                "input_size": self.backbone.input_size, "preprocess": self.preprocess.key()}
        del spec["weights"]  # the network string names the weights by digest
        return hashlib.sha256(json.dumps(spec, sort_keys=True).encode()).hexdigest()[:16]

    def describe(self) -> dict[str, Any]:
        """JSON-able record of exactly what the features are (stored in a detector's config.json)."""
        return {**asdict(self.config), "network": self.backbone.network, "input_size": self.backbone.input_size}

    def compute(self, path: Path, feat: ClipFeatures, layers: tuple[str, ...]) -> dict[str, np.ndarray]:
        """Features of one clip, no cache: {layer: [W, L, D] (frame backbone) or [W, D] (clip backbone)}."""
        crops = clip_crops(path, feat, self.config, self.backbone.input_size)
        w, length = crops.shape[:2]
        if self.backbone.temporal:
            return self.backbone(crops, layers)
        flat = self.backbone(crops.reshape(w * length, *crops.shape[2:]), layers)
        return {k: v.reshape(w, length, -1) for k, v in flat.items()}

    def clip_features(self, path: Path, feat: ClipFeatures, layers: tuple[str, ...], digest: str = ""
                      ) -> dict[str, np.ndarray]:
        """:meth:`compute` through the cache: layers already cached are read, the others computed together."""
        if self.cache_dir is None:
            return self.compute(path, feat, layers)
        digest = digest or sha256_file(Path(path))
        targets = {k: Path(self.cache_dir) / "features" / self.key(k) / f"{digest[:32]}.npz" for k in layers}
        out: dict[str, np.ndarray] = {}
        for k, target in targets.items():
            if target.is_file():
                try:
                    with np.load(target, allow_pickle=False) as z:
                        out[k] = z["features"]
                except (OSError, ValueError, KeyError):
                    pass  # unreadable entry: recompute and overwrite
        missing = tuple(k for k in layers if k not in out)
        if missing:
            new = self.compute(path, feat, missing)
            for k in missing:
                targets[k].parent.mkdir(parents=True, exist_ok=True)
                with atomic_output(targets[k]) as tmp:
                    with open(tmp, "wb") as fh:
                        np.savez(fh, features=new[k])
                out[k] = new[k]
        return out

    def __call__(self, clips, layers: tuple[str, ...] | None = None, base_cache: Path | None = None
                 ) -> tuple[list[dict[str, np.ndarray] | None], list[tuple[str, str]]]:
        """Features of every clip of a ClipSet: (per clip {layer: array} or None, [(clip_id, reason)] failures)."""
        from tqdm import tqdm

        layers = layers or (self.config.layer,)
        base, failed = load_features(clips, self.preprocess, base_cache, progress=False)
        sha = clips.rows["content_sha256"] if "content_sha256" in clips.rows.columns else None
        out: list[dict[str, np.ndarray] | None] = []
        for i in tqdm(range(len(clips)), desc=f"features {self.config.backbone}", unit="clip", file=sys.stderr,
                      disable=not self.progress):
            if base[i] is None:
                out.append(None)
                continue
            try:
                digest = "" if sha is None else str(sha.iloc[i] or "")
                out.append(self.clip_features(clips.path(i), base[i], layers, digest))
            except ForgebenchError as exc:
                out.append(None)
                failed.append((str(clips.rows["clip_id"].iloc[i]), str(exc).splitlines()[0]))
        return out, failed
