"""Perturbations at DeeperForensics-style severity levels 1-5, applied to real and fake clips alike.

Each perturbation is a registered class with a level table and a per-frame
``apply(frame [H, W, 3] uint8, level, rng) -> frame``; ``h264`` instead sets the
CRF the output is encoded at. Compositions (``"jpeg+blur"``) apply the parts
left to right at the same level. Everything is deterministic given the seed:
the noise comes from ``numpy.random.default_rng(seed)``, and the output is
encoded with one x264 thread (x264's bytes depend on its thread count).

Level tables follow DeeperForensics-1.0 (Jiang et al., CVPR 2020,
``perturbation/distortions.py``) where it defines the distortion: Gaussian
noise variance, Gaussian blur kernel, saturation and contrast factors, video
CRF, and its "JPEG" pixelation (down/up-scaling by 2-6, our ``resize``). Its
JPEG is that pixelation, so ``jpeg`` here uses per-frame JPEG qualities 90..30
instead (our choice, not DeeperForensics').

Note: every perturbed clip is decoded and re-encoded (at CRF 18 unless ``h264``
sets it), while the level-0 clip is the original file; a detector could see the
extra generation loss, which is why ``h264`` level tables start at CRF 30.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path

import cv2
import numpy as np

from forgebench.benchmarks.framing import DEFAULT_FACE_SCALE, MIN_FOUND, Square, crop_square
from forgebench.errors import InputError
from forgebench.media.video import VideoWriter, iter_frames, probe_video, read_metadata
from forgebench.registry import Registry

BASE_CRF = 18
_DROP_TAGS = {"major_brand", "minor_version", "compatible_brands", "encoder"}


class Perturbation:
    """Base class. ``levels`` maps 1..5 to the parameter; ``apply`` perturbs one frame."""

    levels: dict[int, float] = {}
    crf_from_level: bool = False  # True: sets the output CRF instead of touching pixels

    def param(self, level: int) -> float:
        if level not in self.levels:
            raise InputError(f"perturbation level {level} is not defined: use 1-5")
        return self.levels[level]

    def apply(self, frame: np.ndarray, level: int, rng: np.random.Generator) -> np.ndarray:
        return frame


perturbation_registry: Registry[Perturbation] = Registry("perturbation", Perturbation)


def register_perturbation(name: str):
    return perturbation_registry.register(name)


@register_perturbation("jpeg")
class JPEG(Perturbation):
    """Per-frame JPEG at quality 90, 75, 60, 45, 30."""

    levels = {1: 90, 2: 75, 3: 60, 4: 45, 5: 30}

    def apply(self, frame, level, rng):
        ok, buf = cv2.imencode(".jpg", frame[..., ::-1], [cv2.IMWRITE_JPEG_QUALITY, int(self.param(level))])
        return np.ascontiguousarray(cv2.imdecode(buf, cv2.IMREAD_COLOR)[..., ::-1])


@register_perturbation("h264")
class H264(Perturbation):
    """Re-encode with H.264 at CRF 30, 32, 35, 38, 40 (DeeperForensics 'VC')."""

    levels = {1: 30, 2: 32, 3: 35, 4: 38, 5: 40}
    crf_from_level = True


@register_perturbation("resize")
class Resize(Perturbation):
    """Downscale by 2, 3, 4, 5, 6 (area) and back up (bilinear): DeeperForensics' 'JPEG' pixelation."""

    levels = {1: 2, 2: 3, 3: 4, 4: 5, 5: 6}

    def apply(self, frame, level, rng):
        h, w = frame.shape[:2]
        f = self.param(level)
        small = cv2.resize(frame, (max(1, int(w // f)), max(1, int(h // f))), interpolation=cv2.INTER_AREA)
        return cv2.resize(small, (w, h), interpolation=cv2.INTER_LINEAR)


@register_perturbation("blur")
class Blur(Perturbation):
    """Gaussian blur with kernel 7, 9, 13, 17, 21 (sigma from the kernel, OpenCV's rule)."""

    levels = {1: 7, 2: 9, 3: 13, 4: 17, 5: 21}

    def apply(self, frame, level, rng):
        k = int(self.param(level))
        return cv2.GaussianBlur(frame, (k, k), 0)


@register_perturbation("noise")
class Noise(Perturbation):
    """Additive Gaussian noise, variance 0.001 .. 0.05 on a [0, 1] scale, fresh per frame."""

    levels = {1: 0.001, 2: 0.002, 3: 0.005, 4: 0.01, 5: 0.05}

    def apply(self, frame, level, rng):
        sigma = np.sqrt(self.param(level)) * 255.0
        noisy = frame.astype(np.float32) + rng.standard_normal(frame.shape, dtype=np.float32) * sigma
        return np.clip(noisy + 0.5, 0, 255).astype(np.uint8)


@register_perturbation("saturation")
class Saturation(Perturbation):
    """Scale chroma (YCrCb) by 0.4, 0.3, 0.2, 0.1, 0.0 (DeeperForensics 'CS')."""

    levels = {1: 0.4, 2: 0.3, 3: 0.2, 4: 0.1, 5: 0.0}

    def apply(self, frame, level, rng):
        ycc = cv2.cvtColor(frame, cv2.COLOR_RGB2YCrCb).astype(np.float32)
        ycc[..., 1:] = 128.0 + (ycc[..., 1:] - 128.0) * self.param(level)
        return cv2.cvtColor(np.clip(ycc + 0.5, 0, 255).astype(np.uint8), cv2.COLOR_YCrCb2RGB)


@register_perturbation("contrast")
class Contrast(Perturbation):
    """Scale contrast about the frame mean by 0.85, 0.725, 0.6, 0.475, 0.35 (DeeperForensics 'CC' factors)."""

    levels = {1: 0.85, 2: 0.725, 3: 0.6, 4: 0.475, 5: 0.35}

    def apply(self, frame, level, rng):
        f = frame.astype(np.float32)
        mean = f.mean(axis=(0, 1), keepdims=True)
        return np.clip((f - mean) * self.param(level) + mean + 0.5, 0, 255).astype(np.uint8)


@register_perturbation("color")
class ColorShift(Perturbation):
    """Colour shift: saturation then contrast at the same level."""

    levels = Saturation.levels

    def apply(self, frame, level, rng):
        return Contrast().apply(Saturation().apply(frame, level, rng), level, rng)


def parse_chain(name: str) -> list[Perturbation]:
    """``"jpeg+blur"`` -> [JPEG(), Blur()] (unknown names raise with close matches)."""
    return [perturbation_registry.build(part) for part in name.split("+")]


def perturb_frames(frames: Sequence[np.ndarray] | np.ndarray, name: str, level: int, seed: int) -> list[np.ndarray]:
    """Apply a perturbation (or chain) to in-memory frames; pixels only (``h264`` is a no-op here)."""
    chain = parse_chain(name)
    rng = np.random.default_rng(seed)
    out = []
    for frame in frames:
        for p in chain:
            frame = p.apply(frame, level, rng)
        out.append(frame)
    return out


def _even(frame: np.ndarray) -> np.ndarray:
    """Crop to even sides (yuv420p needs them)."""
    h, w = frame.shape[:2]
    return frame[: h - h % 2, : w - w % 2]


def _reencode(src: str | Path, dst: str | Path, frames: Iterable[np.ndarray], fps: float, crf: int,
              tag: tuple[str, str], audio_span: tuple[float, float | None] | None = None,
              bitrate: int | None = None) -> Path:
    """Write ``frames`` (made from ``src``) to ``dst`` atomically, with ``src``'s audio and tags plus ``tag``.

    H.264 ``veryfast`` with one x264 thread, as the generator writes in a corpus, so the
    bytes do not depend on the machine. ``audio_span=(start, seconds)`` keeps only that part
    of the source's audio (a segment; ``seconds=None``: to the end). ``bitrate`` (kbit/s): one-pass
    average bitrate instead of ``crf``.
    """
    from forgebench.media.audio import load_audio

    audio = load_audio(src, 16000) if probe_video(src).has_audio else None
    if audio is not None and audio_span is not None:
        a0 = int(round(audio_span[0] * 16000))
        a1 = None if audio_span[1] is None else a0 + int(round(audio_span[1] * 16000))
        audio = audio[a0:a1]
        if audio.size == 0:
            audio = None
    tags = {k: v for k, v in read_metadata(src).items() if k not in _DROP_TAGS}
    tags[tag[0]] = tag[1]
    writer = None
    try:
        for frame in frames:
            frame = _even(frame)
            if writer is None:
                h, w = frame.shape[:2]
                writer = VideoWriter(dst, fps, w, h, audio=audio, audio_rate=16000, metadata=tags, crf=crf,
                                     preset="veryfast", threads=1, bitrate_kbps=bitrate)
            writer.write(np.ascontiguousarray(frame))
    except BaseException as exc:
        if writer is not None:
            writer.__exit__(type(exc), exc, exc.__traceback__)
        raise
    if writer is None:
        raise InputError(f"{src} has no video frames")
    writer.close()
    return Path(dst)


def perturb_video(src: str | Path, dst: str | Path, name: str, level: int, seed: int) -> Path:
    """Decode ``src``, perturb every frame, re-encode to ``dst`` (atomically) with the source's audio and tags."""
    chain = parse_chain(name)
    for p in chain:
        p.param(level)
    crf = next((int(p.param(level)) for p in reversed(chain) if p.crf_from_level), BASE_CRF)
    rng = np.random.default_rng(seed)

    def perturbed():
        for frame in iter_frames(src):
            frame = _even(frame)  # before the chain: noise is drawn for the frame that is written
            for p in chain:
                frame = p.apply(frame, level, rng)
            yield frame

    return _reencode(src, dst, perturbed(), probe_video(src).fps, crf,
                     ("forgebench_perturbation", f"{name}:{level}:{seed}"))


def _resampled(frames: Iterable[np.ndarray], in_fps: float, out_fps: float, start: float = 0.0,
               seconds: float | None = None) -> Iterator[tuple[int, np.ndarray]]:
    """(source index, frame) of the output frames: nearest-frame resampling from ``start`` for ``seconds``.

    Output frame k shows source frame round((start + k / out_fps) * in_fps): frames are dropped or
    repeated and the duration is kept. ``start=0`` gives the same frames as before segments existed.
    """
    offset = start * in_fps
    n_out = None if seconds is None else max(1, int(round(seconds * out_fps)))
    written = 0
    for i, frame in enumerate(frames):
        while np.floor(offset + written * in_fps / out_fps + 0.5) <= i:
            if n_out is not None and written >= n_out:
                return
            yield i, frame
            written += 1


def clip_square(src: str | Path, crop: str, face_scale: float, start: float = 0.0, seconds: float | None = None,
                min_found: float = MIN_FOUND) -> Square | None:
    """The fixed square of the clip (or its segment): the face square for ``crop='face'``, the centre one for
    ``'centre'``, None for ``'none'`` (the whole frame)."""
    from forgebench.benchmarks.framing import face_boxes, square_from_boxes, tracked_indices

    info = probe_video(src)
    if crop == "none":
        return None
    if crop == "centre":
        side = min(info.width, info.height)
        return Square((info.width - side) // 2, (info.height - side) // 2, side)
    in_fps = info.fps if info.fps > 0 else 25.0
    first = int(np.floor(start * in_fps + 0.5))
    last = info.n_frames if seconds is None else min(info.n_frames, first + max(1, int(round(seconds * in_fps))))
    pick = set((first + tracked_indices(max(last - first, 1))).tolist())

    def chosen():
        for i, frame in enumerate(iter_frames(src)):
            if i in pick:
                yield frame
            if i >= max(pick):
                return

    boxes, n = face_boxes(chosen())
    where = f"{src}" + (f" (segment at {start:g} s)" if start or seconds else "")
    return square_from_boxes(boxes, n, info.width, info.height, face_scale, min_found, where)


def normalized_frames(src: str | Path, size: int | None = None, fps: float | None = None, crop: str = "centre",
                      face_scale: float = DEFAULT_FACE_SCALE, start: float = 0.0, seconds: float | None = None,
                      square: Square | None = None) -> Iterator[np.ndarray]:
    """Frames of ``src`` framed (``crop``: face / centre square, or the whole frame without ``size``), resized to
    ``size`` x ``size`` and resampled to ``fps`` from ``start`` for ``seconds``; see :func:`normalize_video`."""
    info = probe_video(src)
    in_fps = info.fps if info.fps > 0 else 25.0
    out_fps = float(fps or in_fps)
    if size and square is None:
        square = clip_square(src, crop, face_scale, start, seconds)
    for _, frame in _resampled(iter_frames(src), in_fps, out_fps, start, seconds):
        yield crop_square(frame, square, size) if size and square is not None else frame


def normalize_video(src: str | Path, dst: str | Path, size: int | None = None, fps: float | None = None,
                    crf: int = BASE_CRF, crop: str = "centre", face_scale: float = DEFAULT_FACE_SCALE,
                    start: float = 0.0, seconds: float | None = None, bitrate: int | None = None) -> Path:
    """Re-encode ``src`` to ``dst`` (atomically) like forgebench's generated clips, with its audio and tags.

    ``size``: frame the clip on a square and resize it to ``size`` x ``size`` (area filter when
    shrinking): ``crop='face'`` one fixed square per clip around the tracked face, ``face_scale``
    times its width (:mod:`~forgebench.benchmarks.framing`; a clip without a face in most frames is
    an :class:`InputError`), ``crop='centre'`` the largest centred square. ``fps``: nearest-frame
    resampling (frames dropped or repeated, duration kept). ``start``/``seconds``: only that segment
    (audio cut alike). ``bitrate`` (kbit/s): encode at that average bitrate instead of ``crf``.
    """
    in_fps = probe_video(src).fps
    out_fps = float(fps or in_fps)
    frames = normalized_frames(src, size, fps, crop, face_scale, start, seconds)
    segment = "" if not (start or seconds) else f":start={start:g}:seconds={seconds or 0:g}"
    crop_tag = "" if crop == "centre" else f":crop={crop}:face_scale={face_scale:g}"
    rate = f"crf={crf}" if not bitrate else f"bitrate={bitrate}k"
    return _reencode(src, dst, frames, out_fps, crf,
                     ("forgebench_normalize", f"size={size}:fps={fps}:{rate}{crop_tag}{segment}"),
                     audio_span=(start, seconds) if (start or seconds) else None, bitrate=bitrate)
