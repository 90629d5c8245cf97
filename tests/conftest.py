"""Shared fixtures: everything is made here, from packages; nothing outside the repo is read."""

from __future__ import annotations

import os

import numpy as np
import pytest

from forgebench.media.synthetic import speech_like  # noqa: F401  (re-exported for tests)

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


@pytest.fixture
def layered_renderer(source_face):
    """A renderer of :func:`source_face` with its head layer and plate (skipped without the segmentation runtime)."""
    from forgebench.generator.render.renderer import FaceRenderer

    pytest.importorskip("ai_edge_litert")
    renderer = FaceRenderer(source_face)
    assert renderer.layers is not None
    return renderer
