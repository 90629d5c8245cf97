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


def make_face_clip(path: Path, seed: int = 0, frames: int = 20, canvas: tuple[int, int] = (160, 120),
                   face: int = 96, at: tuple[int, int] = (8, 12), audio: bool = True) -> Path:
    """A synthetic "real" stand-in with a face: the public-domain astronaut portrait (``face`` px) pasted at
    ``at`` (x, y) on a flat ``canvas`` (width, height), with sub-pixel camera shake, sensor noise and speech-like
    audio. Not real video; enough for MediaPipe to find and track a face."""
    import cv2
    import skimage.data

    from forgebench.media.synthetic import speech_like

    rng = np.random.default_rng(seed)
    portrait = cv2.resize(skimage.data.astronaut()[20:300, 100:380], (face, face), interpolation=cv2.INTER_AREA)
    w, h = canvas
    base = np.full((h, w, 3), (60, 80, 100), np.float32)
    base[at[1]:at[1] + face, at[0]:at[0] + face] = portrait
    shake = np.cumsum(rng.normal(0, 0.3, (frames, 2)), axis=0)
    out = []
    for dx, dy in shake:
        f = cv2.warpAffine(base, np.float32([[1, 0, dx], [0, 1, dy]]), (w, h), borderMode=cv2.BORDER_REFLECT101)
        out.append(np.clip(f + rng.normal(0, 2.0, f.shape), 0, 255).astype(np.uint8))
    sound = speech_like(frames / 25, seed=seed) if audio else None
    path.parent.mkdir(parents=True, exist_ok=True)
    return write_video(path, np.stack(out), fps=25, audio=sound)


@pytest.fixture
def face_clip_factory():
    return make_face_clip
