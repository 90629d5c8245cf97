"""Person segmentation run by LiteRT against MediaPipe's own SelfieSegmentation graph."""

from __future__ import annotations

import numpy as np
import pytest

from forgebench.media.segmentation import SelfieSegmenter, selfie_model_path

pytest.importorskip("ai_edge_litert")


def test_segmentation_matches_mediapipes_graph(portrait):
    import mediapipe as mp

    ours = SelfieSegmenter()(portrait)
    with mp.solutions.selfie_segmentation.SelfieSegmentation(model_selection=0) as graph:
        reference = graph.process(portrait).segmentation_mask
    assert ours.shape == portrait.shape[:2] and ours.dtype == np.float32
    # the same network; only the resizing differs by a fraction of a pixel at the edges
    assert np.abs(ours - reference).mean() < 0.015
    assert ((ours > 0.5) != (reference > 0.5)).mean() < 0.01
    assert 0.2 < (ours > 0.5).mean() < 0.9  # a person, not everything or nothing
    assert selfie_model_path().name == "selfie_segmentation.tflite"
