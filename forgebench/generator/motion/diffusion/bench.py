"""Speed of the motion generators: ``forgebench bench motion``."""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np

from forgebench.generator.audio_features import extract_audio_features
from forgebench.generator.motion.base import SourceState

FPS = 25.0
RATE = 16000


def bench_motion(checkpoint: str | Path | None, seconds: float = 10.0, repeats: int = 5,
                 threads: int | None = None) -> dict[str, float]:
    """Median seconds to generate motion for ``seconds`` of speech-like audio: diffusion vs procedural.

    The audio is a synthetic syllable-rate amplitude-modulated harmonic signal (content does not change the
    cost); feature extraction is timed separately.
    """
    import torch

    from forgebench.generator.motion.diffusion.generator import DiffusionMotion
    from forgebench.generator.motion.procedural import ProceduralMotion

    if threads:
        torch.set_num_threads(threads)
    t = np.arange(int(seconds * RATE)) / RATE
    rng = np.random.default_rng(0)
    audio = (0.3 * np.sin(2 * np.pi * 120 * t) * (0.5 + 0.5 * np.sin(2 * np.pi * 4 * t)) ** 2
             + 0.01 * rng.standard_normal(len(t))).astype(np.float32)
    t0 = time.perf_counter()
    features = extract_audio_features(audio, FPS)
    out = {"features": time.perf_counter() - t0}
    source = SourceState.neutral()
    for name, gen in (("diffusion", DiffusionMotion(checkpoint)), ("procedural", ProceduralMotion())):
        gen.generate(features, source, 0)  # warm-up
        times = []
        for r in range(repeats):
            t0 = time.perf_counter()
            gen.generate(features, source, r)
            times.append(time.perf_counter() - t0)
        out[name] = float(np.median(times))
    return out
