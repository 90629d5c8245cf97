"""Shared preprocessing: MediaPipe-tracked, aligned face crops, landmarks and audio bands, cached per clip.

Every detector reads clips through :func:`load_features`, so all of them see the
same crops. Per clip (first ``max_frames`` frames):

1. decode frames and track the face mesh in video mode: MediaPipe's graph for the 478 points
   with irises, or, with ``refine_landmarks=False`` (the crop detectors), MediaPipe's plain
   468-point network tracked without the graph by LiteRT (:mod:`forgebench.media.face_mesh_lite`,
   about 2x faster per frame);
2. pick ``n_frames`` evenly spaced frames among those with a face;
3. align each: the similarity transform (rotation, uniform scale, translation; Umeyama
   least squares) taking the two eye centres and the mouth centre to a fixed template,
   then ``cv2.warpAffine`` to ``crop_size`` x ``crop_size``;
4. audio: log energy per video frame in a few frequency bands (for the sync detector);
5. the mean colour of five skin regions and two background boxes in every tracked frame
   (:mod:`forgebench.media.face_regions`; for the pulse detector).

The result is cached as ``.npz`` under ``cache_dir`` keyed by the clip's content hash and
the preprocessing config, written atomically, so a killed run leaves no half file.
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
from forgebench.errors import ForgebenchError, InputError, NoFaceError
from forgebench.media import face_geometry as fg
from forgebench.paths import sha256_file
from forgebench.records import MotionTrack

# Canonical positions (fractions of the crop side) of image-left eye, image-right eye, mouth centre.
# Close to the ArcFace 5-point template, shrunk about the centre so the whole face and some
# context fit (forensic crops keep the face boundary, where blending artefacts live).
TEMPLATE = np.array([[0.355, 0.42], [0.645, 0.42], [0.5, 0.74]], np.float64)
MOUTH_POINTS = (13, 14, 61, 291)
AUDIO_BANDS_HZ = ((0, 300), (300, 1000), (1000, 3000), (3000, 8000))


@dataclass(frozen=True)
class PreprocessConfig:
    """How clips become detector inputs; part of every cache key and every saved detector."""

    crop_size: int = 128
    n_frames: int = 8
    max_frames: int = 125  # frames decoded and tracked per clip (5 s at 25 fps)
    refine_landmarks: bool = True  # 478 points with irises (gaze needs them) or 468 (faster; enough for crops)
    version: int = 2  # bump when the crop or feature definition changes (2: per-frame region colours)

    def __post_init__(self) -> None:
        if not 16 <= self.crop_size <= 1024:
            raise InputError(f"crop_size {self.crop_size} is out of range: use 16 to 1024 (128 or 256 are typical)")
        if not 1 <= self.n_frames <= self.max_frames:
            raise InputError(f"n_frames {self.n_frames} must be between 1 and max_frames ({self.max_frames})")

    @property
    def tracker(self) -> str:
        """Which face tracker makes the landmarks (part of the cache key and of a saved detector's config).

        The refined mesh needs MediaPipe's graph (its attention model has a custom operator); the plain
        mesh is tracked by :class:`~forgebench.media.face_mesh_lite.LiteFaceMeshTracker`, the same
        network without the graph (within 0.1 px of the graph's landmarks on average, about 2x faster).
        """
        return "mediapipe-graph-478" if self.refine_landmarks else "litert-468"

    def as_dict(self) -> dict[str, Any]:
        return {**asdict(self), "tracker": self.tracker}

    def key(self) -> str:
        return hashlib.sha256(json.dumps(self.as_dict(), sort_keys=True).encode()).hexdigest()[:16]

    def open_tracker(self) -> Any:
        """A fresh video tracker for one clip: ``tracker(frame) -> points | None``, a context manager."""
        if self.refine_landmarks:
            from forgebench.media.face_mesh import FaceMeshTracker

            return FaceMeshTracker(video=True, max_faces=1, refine_landmarks=True)
        from forgebench.media.face_mesh_lite import LiteFaceMeshTracker

        return LiteFaceMeshTracker()


@dataclass
class ClipFeatures:
    """One clip, preprocessed.

    ``crops`` [K, S, S, 3] uint8 aligned faces at ``frame_index`` [K]; ``landmarks`` [T, 478, 3] (or [T, 468, 3]
    without ``refine_landmarks``)
    pixels and ``valid`` [T] for every tracked frame; ``audio_bands`` [T, 5] log energies
    (total + :data:`AUDIO_BANDS_HZ`) per video frame, zeros when the clip has no audio; ``regions`` [T, R, 3]
    mean RGB (0-255) of the skin regions then the background boxes of :mod:`forgebench.media.face_regions`
    in every tracked frame (NaN where there was no face or a region left the frame).
    """

    crops: np.ndarray
    frame_index: np.ndarray
    landmarks: np.ndarray
    valid: np.ndarray
    audio_bands: np.ndarray
    fps: float
    width: int
    height: int
    has_audio: bool
    regions: np.ndarray

    def track(self) -> MotionTrack:
        from forgebench.media.analyze import track_from_landmarks
        from forgebench.media.face_mesh import N_POINTS_REFINED

        if self.landmarks.shape[1] < N_POINTS_REFINED:
            raise InputError(f"a MotionTrack needs the refined {N_POINTS_REFINED}-point mesh (irises), these features "
                             f"have {self.landmarks.shape[1]} points: preprocess with refine_landmarks=True")

        return track_from_landmarks(self.landmarks, self.valid, self.fps, self.width, self.height)

    def to_arrays(self) -> dict[str, np.ndarray]:
        meta = np.array([self.fps, self.width, self.height, float(self.has_audio)], np.float64)
        return {"crops": self.crops, "frame_index": self.frame_index, "landmarks": self.landmarks,
                "valid": self.valid, "audio_bands": self.audio_bands, "regions": self.regions, "meta": meta}

    @classmethod
    def from_arrays(cls, a: dict[str, np.ndarray]) -> ClipFeatures:
        fps, w, h, has_audio = a["meta"].tolist()
        return cls(a["crops"], a["frame_index"], a["landmarks"], a["valid"].astype(bool), a["audio_bands"],
                   float(fps), int(w), int(h), bool(has_audio), a["regions"])


def similarity_transform(src: np.ndarray, dst: np.ndarray) -> np.ndarray:
    """2x3 matrix of the least-squares similarity taking ``src`` [N, 2] to ``dst`` [N, 2] (Umeyama 1991).

    In 2D a rotation-and-scale is the matrix ``[[a, -b], [b, a]]`` (multiplication by the complex
    number ``a + ib``), so on centred points the least-squares problem has the closed form
    ``a = sum(d . s) / sum(|s|^2)``, ``b = sum(s x d) / sum(|s|^2)``: Umeyama's solution without the
    SVD (2-3x faster for the three anchor points, which matters in a ~6 ms per-frame budget).
    """
    src = np.asarray(src, np.float64)
    dst = np.asarray(dst, np.float64)
    mu_s, mu_d = src.mean(0), dst.mean(0)
    s, d = src - mu_s, dst - mu_d
    den = max(float((s * s).sum()), 1e-12)
    a = float((d * s).sum()) / den
    b = float((s[:, 0] * d[:, 1] - s[:, 1] * d[:, 0]).sum()) / den
    tx = mu_d[0] - (a * mu_s[0] - b * mu_s[1])
    ty = mu_d[1] - (b * mu_s[0] + a * mu_s[1])
    return np.array([[a, -b, tx], [b, a, ty]])


def anchor_points(points: np.ndarray) -> np.ndarray:
    """[3, 2] image-left eye, image-right eye, mouth centre of a [478, 3] or [468, 3] mesh (pixels)."""
    eye_r, eye_l = fg.eye_centres(points[None])
    mouth = points[list(MOUTH_POINTS), :2].mean(0)
    return np.stack([eye_r[0, :2], eye_l[0, :2], mouth]).astype(np.float64)


def align_face(frame: np.ndarray, points: np.ndarray, size: int) -> np.ndarray:
    """Aligned ``size`` x ``size`` RGB crop of the face whose mesh is ``points`` [478 or 468, 3].

    One ``warpAffine`` from the full frame straight to the crop: no intermediate copy or resize.
    """
    import cv2

    matrix = similarity_transform(anchor_points(points), TEMPLATE * size)
    return cv2.warpAffine(frame, matrix, (size, size), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REFLECT101)


def audio_band_energies(audio: np.ndarray | None, rate: int, fps: float, n_frames: int) -> np.ndarray:
    """[n_frames, 5] log energy per video frame: total, then each band of :data:`AUDIO_BANDS_HZ`."""
    out = np.zeros((n_frames, 1 + len(AUDIO_BANDS_HZ)), np.float32)
    if audio is None or len(audio) == 0 or n_frames == 0:
        return out
    hop = rate / fps
    win = int(2 ** np.ceil(np.log2(max(hop, 64))))
    freqs = np.fft.rfftfreq(win, 1.0 / rate)
    padded = np.pad(audio.astype(np.float64), (0, win + int(hop * n_frames)))
    starts = (np.arange(n_frames) * hop).astype(int)
    frames = np.stack([padded[s:s + win] for s in starts]) * np.hanning(win)
    power = np.abs(np.fft.rfft(frames, axis=1)) ** 2
    out[:, 0] = np.log(power.sum(1) + 1e-8)
    for j, (lo, hi) in enumerate(AUDIO_BANDS_HZ):
        out[:, j + 1] = np.log(power[:, (freqs >= lo) & (freqs < hi)].sum(1) + 1e-8)
    return out


def sample_indices(valid: np.ndarray, k: int) -> np.ndarray:
    """``k`` evenly spaced indices among valid frames (repeats when fewer exist)."""
    idx = np.flatnonzero(valid)
    if len(idx) == 0:
        return idx
    pos = np.round(np.linspace(0, len(idx) - 1, k)).astype(int)
    return idx[pos]


def preprocess_clip(path: str | Path, config: PreprocessConfig) -> ClipFeatures:
    """Decode, track, align and measure one clip (no cache); raises one-line errors for bad clips."""
    from forgebench.media.audio import decode_audio, resample
    from forgebench.media.face_regions import N_REGIONS, region_means
    from forgebench.media.video import iter_frames, probe_video

    info = probe_video(path)
    fps = info.fps if info.fps > 0 else 25.0
    frames, points, valid, regions = [], [], [], []
    no_regions = np.full((N_REGIONS, 3), np.nan, np.float32)
    with config.open_tracker() as tracker:
        missing = np.zeros((tracker.n_points, 3), np.float32)
        for frame in iter_frames(path):
            found = tracker(frame)
            frames.append(frame)
            valid.append(found is not None)
            points.append(found if found is not None else missing)
            regions.append(region_means(frame, found) if found is not None else no_regions)
            if len(frames) >= config.max_frames:
                break
    valid_arr = np.array(valid, bool)
    if not valid_arr.any():
        raise NoFaceError(f"no face found in any of the first {len(frames)} frames of {str(path)!r}")
    landmarks = np.stack(points).astype(np.float32)
    chosen = sample_indices(valid_arr, config.n_frames)
    crops = np.stack([align_face(frames[i], landmarks[i], config.crop_size) for i in chosen])
    audio = None
    if info.has_audio:
        samples, rate = decode_audio(path, max_seconds=None)
        audio = resample(samples, rate, 16000)[: int(np.ceil(len(frames) / fps * 16000))]
    bands = audio_band_energies(audio, 16000, fps, len(frames))
    h, w = frames[0].shape[:2]
    return ClipFeatures(crops, chosen.astype(np.int64), landmarks, valid_arr, bands, fps, w, h, audio is not None,
                        np.stack(regions).astype(np.float32))


def default_cache_dir() -> Path:
    from forgebench.paths import forgebench_home

    return forgebench_home() / "cache" / "detector-inputs"


def cached_features(path: Path, config: PreprocessConfig, cache_dir: Path | None, content_sha256: str = ""
                    ) -> ClipFeatures:
    """:func:`preprocess_clip` through the per-clip cache (content hash + config key)."""
    if cache_dir is None:
        return preprocess_clip(path, config)
    if not Path(path).is_file():
        raise InputError(f"clip {str(path)!r} does not exist")
    digest = content_sha256 or sha256_file(Path(path))
    target = Path(cache_dir) / config.key() / f"{digest[:32]}.npz"
    if target.is_file():
        try:
            with np.load(target, allow_pickle=False) as z:
                return ClipFeatures.from_arrays(dict(z))
        except (OSError, ValueError, KeyError):
            pass  # unreadable cache entry: recompute and overwrite
    feats = preprocess_clip(path, config)
    target.parent.mkdir(parents=True, exist_ok=True)
    with atomic_output(target) as tmp:
        with open(tmp, "wb") as f:
            np.savez(f, **feats.to_arrays())
    return feats


def load_features(clips, config: PreprocessConfig, cache_dir: Path | None = None, progress: bool = False
                  ) -> tuple[list[ClipFeatures | None], list[tuple[str, str]]]:
    """Features of every clip of a :class:`~forgebench.detectors.base.ClipSet`.

    Returns (features or None per clip, [(clip_id, reason)] for clips that failed to decode or
    showed no face); failures are reported, never silently dropped.
    """
    from forgebench.progress import tqdm

    out: list[ClipFeatures | None] = []
    failed: list[tuple[str, str]] = []
    sha = clips.rows["content_sha256"] if "content_sha256" in clips.rows.columns else None
    for i in tqdm(range(len(clips)), desc="preprocess", unit="clip", disable=not progress, file=sys.stderr):
        try:
            digest = "" if sha is None else str(sha.iloc[i] or "")
            out.append(cached_features(clips.path(i), config, cache_dir, digest))
        except ForgebenchError as exc:
            out.append(None)
            failed.append((str(clips.rows["clip_id"].iloc[i]), str(exc)))
    return out, failed
