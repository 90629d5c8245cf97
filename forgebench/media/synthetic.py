"""Synthetic test signals: speech-like audio for benchmarks and tests (no files, no TTS)."""

from __future__ import annotations

import numpy as np


def speech_like(seconds: float = 2.0, rate: int = 16000, seed: int = 0, pauses: bool = True) -> np.ndarray:
    """float32 mono: a harmonic tone (F0 100-140 Hz) with syllable-rate (4 Hz) bursts and pauses.

    It has what the audio features look for (voicing, pitch, energy envelope,
    silences) but no phonetic content.
    """
    rng = np.random.default_rng(seed)
    t = np.arange(int(seconds * rate)) / rate
    f0 = 120 + 20 * np.sin(2 * np.pi * 0.7 * t)
    phase = 2 * np.pi * np.cumsum(f0) / rate
    voice = sum(np.sin(k * phase) / k for k in range(1, 8))
    syllables = np.clip(np.sin(2 * np.pi * 4.0 * t + rng.uniform(0, 6)), 0, None) ** 1.5
    if pauses:
        syllables *= (np.sin(2 * np.pi * 0.35 * t) > -0.4).astype(float)
    return (0.3 * voice * syllables + 0.002 * rng.standard_normal(len(t))).astype(np.float32)
