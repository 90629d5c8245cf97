"""Shared helpers: tiny synthetic videos (no real media is ever read by these tests)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from forgebench.media.video import write_video


def make_video(path: Path, seed: int = 0, frames: int = 6, size: int = 64, audio: bool = False) -> Path:
    """A short moving-gradient clip with a seeded noise texture (uint8 RGB)."""
    rng = np.random.default_rng(seed)
    base = rng.integers(0, 255, (size, size, 3), dtype=np.uint8)
    clip = np.stack([np.roll(base, 2 * t, axis=1) for t in range(frames)])
    sound = (0.1 * np.sin(np.arange(int(16000 * frames / 25)) / 5.0)).astype(np.float32) if audio else None
    path.parent.mkdir(parents=True, exist_ok=True)
    return write_video(path, clip, fps=25, audio=sound)


@pytest.fixture
def video_factory():
    return make_video
