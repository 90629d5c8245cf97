"""Stage 5 — write: watermark every frame, encode H.264 + AAC, stamp provenance.

Every file the generator makes declares itself synthetic twice: container
metadata (lost at the first re-upload) and an invisible keyed watermark in the
pixels (:mod:`forgebench.provenance.watermark`) that survives re-encoding and
resizing. Neither can be switched off from the generator.

The clip id is derived from the inputs, config and seed, and the creation time
honours ``SOURCE_DATE_EPOCH``, so a corpus rebuilt from the same spec gives the
same bytes.
"""

from __future__ import annotations

import hashlib
import os
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import numpy as np

from forgebench.media.video import VideoWriter
from forgebench.provenance.ecc import Payload
from forgebench.provenance.metadata import provenance_metadata
from forgebench.provenance.watermark import Watermarker


@dataclass
class WriterConfig:
    """Encoding options and the watermark key (None: ``$FORGEBENCH_WATERMARK_KEY`` or the public key)."""

    crf: int = 18
    preset: str = "veryfast"
    threads: int = 0  # x264 threads: 0 automatic; 1 for bytes independent of the machine
    watermark_key: str | None = None


def creation_time() -> datetime:
    """Now, or ``SOURCE_DATE_EPOCH`` when set (reproducible builds)."""
    epoch = os.environ.get("SOURCE_DATE_EPOCH")
    if epoch and epoch.strip().isdigit():
        return datetime.fromtimestamp(int(epoch), tz=UTC)
    return datetime.now(tz=UTC).replace(microsecond=0)


def clip_id(provenance: dict[str, str]) -> str:
    """A stable 32-bit id (8 hex digits) of what made the clip: image, audio, config and seed.

    The watermark payload carries the same 32 bits, so a re-uploaded copy whose
    metadata was stripped still names its clip.
    """
    keys = ("image_sha256", "audio_sha256", "config_hash", "seed", "motion_model")
    text = "|".join(str(provenance.get(k, "")) for k in keys)
    return hashlib.sha256(text.encode()).hexdigest()[:8]


class VideoSink:
    """Context manager: ``write(frame)`` watermarks and encodes; the file appears on clean exit.

    ``provenance`` holds generator, version, motion_model, seed, config_hash,
    image_sha256 and audio_sha256 (and optionally family); the sink adds clip id and creation time and
    writes them as container metadata, and embeds a payload with the same clip
    id and time.
    """

    def __init__(self, path: str | Path, fps: float, width: int, height: int, audio: np.ndarray | None,
                 audio_rate: int, provenance: dict[str, str], config: WriterConfig | None = None) -> None:
        config = config or WriterConfig()
        created = creation_time()
        cid = clip_id(provenance)
        self.metadata = provenance_metadata(
            generator=provenance["generator"], version=provenance["version"],
            motion_model=provenance["motion_model"], seed=provenance["seed"],
            config_hash=provenance["config_hash"], image_sha256=provenance["image_sha256"],
            audio_sha256=provenance["audio_sha256"], clip_id=cid, created=created,
            family=provenance.get("family"),
        )
        self.watermarker = Watermarker(key=config.watermark_key)
        payload = Payload.create(generator=provenance["generator"], version=provenance["version"], clip=int(cid, 16),
                                 created=created)
        self.plan = self.watermarker.prepare(height, width, payload, fps=fps)
        self.writer = VideoWriter(path, fps, width, height, audio=audio, audio_rate=audio_rate,
                                  metadata=self.metadata, crf=config.crf, preset=config.preset,
                                  threads=config.threads)
        self.path = Path(path)
        self.n_frames = 0
        self.watermark_seconds = self.watermark_cpu_seconds = 0.0
        self.encode_seconds = self.encode_cpu_seconds = 0.0

    def write(self, frame: np.ndarray) -> None:
        t0, c0 = time.perf_counter(), time.process_time()
        marked = self.watermarker.embed(frame, self.n_frames, self.plan)
        t1, c1 = time.perf_counter(), time.process_time()
        self.writer.write(marked)
        self.encode_seconds += time.perf_counter() - t1
        self.encode_cpu_seconds += time.process_time() - c1
        self.watermark_seconds += t1 - t0
        self.watermark_cpu_seconds += c1 - c0
        self.n_frames += 1

    def __enter__(self) -> VideoSink:
        self.writer.__enter__()
        return self

    def __exit__(self, exc_type, exc, tb) -> None:
        t0, c0 = time.perf_counter(), time.process_time()
        self.writer.__exit__(exc_type, exc, tb)
        self.encode_seconds += time.perf_counter() - t0
        self.encode_cpu_seconds += time.process_time() - c0
