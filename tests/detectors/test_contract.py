"""Every registered detector passes the contract on a tiny corpus (fit, predict, save/load, seed, splits)."""

from __future__ import annotations

import json

import numpy as np
import pytest

from forgebench.detectors import ClipSet, Detector, detector_registry
from forgebench.detectors.checks import check_detector
from forgebench.errors import InputError
from forgebench.manifest import read_manifest

RANDOM_INCEPTION, RANDOM_I3D = "test_random_inception", "test_random_i3d"  # registered by conftest.random_weights
SHARED = {"crop_size": 64, "n_frames": 2, "max_frames": 30}
TINY: dict[str, dict] = {
    "spectrum": {**SHARED, "n_bins": 16},
    "avsync": {**SHARED, "max_lag": 3},
    "dynamics": dict(SHARED),
    "meso4": {**SHARED, "epochs": 2, "batch_size": 8},
    "mesoinception4": {**SHARED, "epochs": 1, "batch_size": 8},
    "xception": {**SHARED, "epochs": 1, "batch_size": 8},
    "efficientnet_b0": {**SHARED, "epochs": 1, "batch_size": 8},
    "provenance": {"max_seconds": 1.0},
    "rppg": {**SHARED},
    "liveliness": {**SHARED},
    "fusion": {"members": "liveliness,avsync", "member_params": json.dumps({"liveliness": SHARED, "avsync": SHARED})},
    # random weights in the real file formats (conftest.random_weights), small inputs: the same code path as the
    # standard networks, on a machine that never fetched them
    "inception_probe": {**SHARED, "weights": RANDOM_INCEPTION, "input_size": 80, "windows": 1, "window_len": 2},
    "i3d_probe": {**SHARED, "weights": RANDOM_I3D, "input_size": 32, "windows": 1, "window_len": 4},
}


def sets(corpus):
    df = read_manifest(corpus / "manifest.parquet")
    return (ClipSet.from_manifest(df, corpus, "train"), ClipSet.from_manifest(df, corpus, "val"),
            ClipSet.from_manifest(df, corpus, "test"), df)


def test_every_registered_detector_has_tiny_params():
    assert set(TINY) == set(detector_registry.names())


@pytest.mark.parametrize("name", detector_registry.names())
def test_check_detector(name, corpus, cache_dir, tmp_path, request):
    import torch

    if any(TINY[name].get("weights") == w for w in (RANDOM_INCEPTION, RANDOM_I3D)):
        request.getfixturevalue("random_weights")
    torch.set_num_threads(1)
    train, val, test, df = sets(corpus)
    p = check_detector(name, TINY[name], train, val, test, tmp_path, cache_dir)
    if name == "provenance":
        # the watermark separates generated clips from the stand-ins exactly
        labels = df[df["split"] == "test"]["is_fake"].to_numpy()
        assert p[labels == 1].min() > 0.99 and p[labels == 0].max() < 0.99


def test_load_refuses_other_version_and_non_detector_dirs(corpus, cache_dir, tmp_path):
    train, val, _, _ = sets(corpus)
    det = detector_registry.get("dynamics")(**TINY["dynamics"])
    det.cache_dir = cache_dir
    out = det.fit(train, val).save(tmp_path / "d")
    with pytest.raises(InputError, match="holds a 'dynamics' detector, not 'meso4'"):
        detector_registry.get("meso4").load(out)
    cfg = json.loads((out / "config.json").read_text())
    (out / "config.json").write_text(json.dumps({**cfg, "detector_version": 99}))
    with pytest.raises(InputError, match="version 99"):
        Detector.load(out)
    (out / "config.json").write_text(json.dumps({**cfg, "format_version": 0}))
    with pytest.raises(InputError, match="format"):
        Detector.load(out)
    with pytest.raises(InputError, match="not a detector directory"):
        Detector.load(tmp_path)


def test_bad_params_and_one_class_split(corpus):
    with pytest.raises(InputError, match="no parameter"):
        detector_registry.get("meso4")(learning_rate=1)
    with pytest.raises(InputError, match="should be a int"):
        detector_registry.get("meso4")(epochs="many")
    train, val, _, _ = sets(corpus)
    only_real = train.subset(np.flatnonzero(train.labels == 0))
    with pytest.raises(InputError, match="only real"):
        detector_registry.get("dynamics")(**TINY["dynamics"]).fit(only_real, val)
    with pytest.raises(InputError, match="empty"):
        detector_registry.get("dynamics")(**TINY["dynamics"]).fit(train, val.subset(np.array([], int)))
