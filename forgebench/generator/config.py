"""The generator's options: one dataclass, one set of defaults; the CLI is built from it."""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass, field

from forgebench.errors import InputError


def _option(default: object, help: str, **extra: object):
    return field(default=default, metadata={"help": help, **extra})


@dataclass
class GenerationConfig:
    """Every generation option, with its one default. The CLI is built from these fields."""

    size: int = _option(512, "output frame side in pixels (even, >= 64)")
    fps: float = _option(25.0, "output frame rate")
    seed: int = _option(0, "motion seed: the same seed and inputs give the same video")
    motion: str = _option("procedural", "motion model (see 'forgebench list motion')")
    crop: str = _option("face", "'face': talking-head crop around the face; 'full': the whole image",
                        choices=("face", "full"))
    crf: int = _option(18, "H.264 quality, 0-51, lower is better")
    preset: str = _option("veryfast", "x264 speed preset (ultrafast ... veryslow)")
    threads: int = _option(0, "x264 threads; 0 picks by CPU count, 1 gives the same bytes on every machine")

    def __post_init__(self) -> None:
        if not 1.0 <= self.fps <= 120.0:
            raise InputError(f"--fps {self.fps} is out of range: use 1 to 120 (25 is typical)")
        if not 0 <= self.crf <= 51:
            raise InputError(f"--crf {self.crf} is out of range: use 0 to 51 (18 is visually lossless)")

    def config_hash(self) -> str:
        """Hash of everything that changes the pixels except the seed (which is recorded on its own)."""
        payload = {k: v for k, v in asdict(self).items() if k not in ("seed", "threads")}
        return hashlib.sha256(json.dumps(payload, sort_keys=True).encode()).hexdigest()[:16]
