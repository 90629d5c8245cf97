"""The generator's options: one dataclass, one set of defaults; the CLI is built from it."""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass, field

from forgebench.errors import InputError

MIN_SIZE, MAX_SIZE = 64, 4096  # frame side in pixels: a face needs 64; 4096 is 4K and ~50 MB per RGB frame


def _option(default: object, help: str, **extra: object):
    return field(default=default, metadata={"help": help, **extra})


@dataclass
class GenerationConfig:
    """Every generation option, with its one default. The CLI is built from these fields."""

    size: int = _option(512, "output frame side in pixels (even, 64 to 4096)")
    fps: float = _option(25.0, "output frame rate")
    seed: int = _option(0, "motion seed: the same seed and inputs give the same video")
    motion: str = _option("procedural", "motion model (see 'forgebench list motion')")
    crop: str = _option("face", "'face': talking-head crop around the face; 'full': the whole image",
                        choices=("face", "full"))
    crf: int = _option(18, "H.264 quality, 0-51, lower is better")
    preset: str = _option("veryfast", "x264 speed preset (ultrafast ... veryslow)")
    threads: int = _option(0, "x264 threads; 0 picks by CPU count, 1 gives the same bytes on every machine")

    def __post_init__(self) -> None:
        if not MIN_SIZE <= self.size <= MAX_SIZE or self.size % 2:
            raise InputError(f"--size {self.size} is not usable: give an even number of pixels, {MIN_SIZE} to "
                             f"{MAX_SIZE} (512 is typical)")
        if not 1.0 <= self.fps <= 120.0:
            raise InputError(f"--fps {self.fps} is out of range: use 1 to 120 (25 is typical)")
        if not 0 <= self.crf <= 51:
            raise InputError(f"--crf {self.crf} is out of range: use 0 to 51 (18 is visually lossless)")
        if self.threads < 0:
            raise InputError(f"--threads {self.threads} must be 0 (automatic) or more")

    def config_hash(self) -> str:
        """Hash of everything that changes the pixels except the seed (which is recorded on its own)."""
        payload = {k: v for k, v in asdict(self).items() if k not in ("seed", "threads")}
        return hashlib.sha256(json.dumps(payload, sort_keys=True).encode()).hexdigest()[:16]


def _hash(payload: dict) -> str:
    return hashlib.sha256(json.dumps(payload, sort_keys=True).encode()).hexdigest()[:16]


def _check_crf(crf: int) -> None:
    if not 0 <= crf <= 51:
        raise InputError(f"--crf {crf} is out of range: use 0 to 51 (18 is visually lossless)")


@dataclass
class ReenactmentConfig:
    """Every reenactment option (``generate --driving``), with its one default; the shared fields are
    :class:`GenerationConfig`'s and the CLI adds the others."""

    size: int = _option(512, "output frame side in pixels (crop 'face'); crop 'full' keeps the image's own size")
    crop: str = _option("face", "'face': talking-head crop; 'full': the whole image at its own size (up to 720p)",
                        choices=("face", "full"))
    crf: int = _option(18, "H.264 quality, 0-51, lower is better")
    preset: str = _option("veryfast", "x264 speed preset (ultrafast ... veryslow)")
    threads: int = _option(0, "x264 threads; 0 picks by CPU count, 1 gives the same bytes on every machine")
    pose_scale: float = _option(1.0, "share of the driver's head motion transferred (0-2)")
    expression_scale: float = _option(1.0, "share of the driver's expression change transferred (0-2)")
    max_seconds: float | None = _option(None, "use at most this many seconds of the driving video", type=float)
    mute: bool = _option(False, "leave out the driving video's audio (a silent output)")
    dense: bool = _option(True, "also transfer the driver's whole face-mesh change, not only the seven "
                                "expression coefficients (lip shapes, cheeks, asymmetries)")
    camera: bool = _option(True, "move the background and body with the driving video's camera (its measured "
                                 "pan, zoom and roll around the face); off: they stay still")

    def __post_init__(self) -> None:
        if self.size < 64 or self.size % 2:
            raise InputError(f"--size {self.size} is not usable: give an even number of pixels, at least 64")
        if self.crop not in ("face", "full"):
            raise InputError(f"unknown crop mode {self.crop!r}: use 'face' or 'full'")
        _check_crf(self.crf)
        for name in ("pose_scale", "expression_scale"):
            value = getattr(self, name)
            if not 0.0 <= value <= 2.0:
                raise InputError(f"--{name.replace('_', '-')} {value} is out of range: use 0 to 2 (1 transfers all)")
        if self.max_seconds is not None and not 0 < self.max_seconds <= 3600:
            raise InputError(f"--max-seconds {self.max_seconds} is out of range: use up to 3600 s")

    def config_hash(self) -> str:
        """Hash of everything that changes the pixels (the family too, so no audio-driven config collides)."""
        return _hash({"family": "reenactment", **{k: v for k, v in asdict(self).items() if k != "threads"}})


@dataclass
class DubbingConfig:
    """Every dubbing option (``forgebench dub``), with its one default; the CLI is built from these fields."""

    motion: str = _option("procedural", "motion model for the new mouth (see 'forgebench list motion')")
    seed: int = _option(0, "motion seed: the same seed and inputs give the same video")
    crf: int = _option(18, "H.264 quality, 0-51, lower is better")
    preset: str = _option("veryfast", "x264 speed preset (ultrafast ... veryslow)")
    threads: int = _option(0, "x264 threads; 0 picks by CPU count, 1 gives the same bytes on every machine")

    def __post_init__(self) -> None:
        _check_crf(self.crf)

    def config_hash(self) -> str:
        """Hash of everything that changes the pixels except the seed (the family and compositing included)."""
        from forgebench.generator.render.composite import CompositeConfig

        return _hash({"family": "dubbing", "composite": asdict(CompositeConfig()),
                      **{k: v for k, v in asdict(self).items() if k not in ("seed", "threads")}})
