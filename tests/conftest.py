"""Shared fixtures: everything is made here, from packages; nothing outside the repo is read."""

from __future__ import annotations

import os

import numpy as np
import pytest

os.environ.setdefault("GLOG_minloglevel", "2")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")


@pytest.fixture(autouse=True)
def _isolated_home(tmp_path_factory, monkeypatch):
    """Caches (weights, synthesised speech) go to a per-session temp folder, never ~/.cache."""
    home = os.environ.get("FORGEBENCH_HOME") or str(tmp_path_factory.getbasetemp() / "forgebench-home")
    monkeypatch.setenv("FORGEBENCH_HOME", home)


@pytest.fixture(scope="session")
def portrait() -> np.ndarray:
    """The public-domain NASA portrait that skimage ships (512x512 RGB)."""
    import skimage.data

    return skimage.data.astronaut()


@pytest.fixture(scope="session")
def portrait_face(portrait):
    """MediaPipe analysis of :func:`portrait` (run once per session)."""
    from forgebench.media.analyze import analyze_image

    return analyze_image(portrait)


@pytest.fixture(scope="session")
def source_face(portrait):
    """The portrait framed by the generator's analyzer at 256x256."""
    from forgebench.generator.analyze import AnalyzerConfig, SourceAnalyzer

    return SourceAnalyzer(AnalyzerConfig(size=256))(portrait)


def speech_like(seconds: float = 2.0, rate: int = 16000, seed: int = 0, pauses: bool = True) -> np.ndarray:
    """A speech-like test signal: a harmonic tone with syllable-rate amplitude modulation and pauses."""
    rng = np.random.default_rng(seed)
    t = np.arange(int(seconds * rate)) / rate
    f0 = 120 + 20 * np.sin(2 * np.pi * 0.7 * t)
    phase = 2 * np.pi * np.cumsum(f0) / rate
    voice = sum(np.sin(k * phase) / k for k in range(1, 8))
    syllables = np.clip(np.sin(2 * np.pi * 4.0 * t + rng.uniform(0, 6)), 0, None) ** 1.5
    if pauses:
        syllables *= (np.sin(2 * np.pi * 0.35 * t) > -0.4).astype(float)
    return (0.3 * voice * syllables + 0.002 * rng.standard_normal(len(t))).astype(np.float32)
