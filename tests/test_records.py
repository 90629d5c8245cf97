from __future__ import annotations

import numpy as np
import pytest

from forgebench.errors import InputError
from forgebench.records import EXPRESSION_NAMES, MotionTrack


def _track(n=12, landmarks=True):
    rng = np.random.default_rng(0)
    return MotionTrack(
        fps=25.0, pose=rng.normal(size=(n, 6)), expression=rng.normal(size=(n, len(EXPRESSION_NAMES))),
        gaze=rng.normal(size=(n, 2)), valid=rng.random(n) > 0.2,
        landmarks=rng.normal(size=(n, 478, 3)) if landmarks else None, meta={"source": "x", "k": [1, 2]},
    )


@pytest.mark.parametrize("suffix", [".npz", ".parquet"])
def test_save_load_round_trip(tmp_path, suffix):
    track = _track()
    back = MotionTrack.load(track.save(tmp_path / f"t{suffix}"))
    for name in ("pose", "expression", "gaze", "valid", "landmarks"):
        np.testing.assert_array_equal(getattr(back, name), getattr(track, name))
    assert back.fps == track.fps and back.meta == track.meta
    assert not list(tmp_path.glob("*.partial*"))


def test_shapes_are_checked():
    with pytest.raises(ValueError, match="expression"):
        MotionTrack(fps=25, pose=np.zeros((3, 6)), expression=np.zeros((3, 2)), gaze=np.zeros((3, 2)),
                    valid=np.ones(3, bool))


def test_bad_paths_are_one_line_errors(tmp_path):
    with pytest.raises(InputError, match="does not exist"):
        MotionTrack.load(tmp_path / "missing.npz")
    with pytest.raises(InputError, match=".npz or .parquet"):
        _track().save(tmp_path / "t.csv")
    (tmp_path / "junk.npz").write_bytes(b"not a zip")
    with pytest.raises(InputError, match="not a readable MotionTrack"):
        MotionTrack.load(tmp_path / "junk.npz")


def test_slice_and_named_access():
    track = _track(10, landmarks=False)
    part = track.slice(2, 5)
    assert part.n_frames == 3
    np.testing.assert_array_equal(part.expr("jaw_open"), track.expression[2:5, 0])
    assert track.features().shape == (10, 15) and len(MotionTrack.feature_names()) == 15
