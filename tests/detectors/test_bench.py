"""``bench preprocess`` runs both pipelines on the same frames (no timing is asserted)."""

from __future__ import annotations

from forgebench.detectors.bench import bench_preprocess, shape_predictor_path


def test_bench_preprocess_runs_both_pipelines(corpus):
    assert shape_predictor_path().stat().st_size > 1_000_000
    out = bench_preprocess(corpus / "test_fake_0.mp4", n_frames=4, frame_size=256, crop=64)
    assert out["frames"] == 4 and out["frame_shape"] == [256, 256]
    assert out["forgebench_faces"] == 4 and out["dlib_faces"] == 4
    assert out["forgebench_ms_per_frame"] > 0 and out["dlib_ms_per_frame"] > 0
    assert out["forgebench_graph_ms_per_frame"] > 0 and out["forgebench_threads"] == 1


def test_bench_preprocess_refuses_an_unknown_tracker():
    import pytest

    from forgebench.detectors.bench import ForgebenchPipeline
    from forgebench.errors import InputError

    with pytest.raises(InputError, match="unknown tracker 'fast'"):
        ForgebenchPipeline(64, "fast")
