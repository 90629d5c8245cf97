"""``check_detector``: the contract every registered detector must pass (sklearn ``check_estimator``).

Run on tiny data; asserts behaviour, not accuracy:

1. ``fit(train, val)`` returns the detector and sets a threshold in [0, 1];
2. ``predict_proba`` gives one finite P(fake) in [0, 1] per clip; ``predict_frames`` one array per clip;
3. ``save`` / ``Detector.load`` round-trips to identical predictions; another class refuses the folder;
4. fitting twice with the same seed gives identical predictions;
5. ``fit`` refuses a test split, and the detector predicts on label-free clip sets.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np

from forgebench.detectors.base import ClipSet, Detector, LabelsHiddenError, detector_registry
from forgebench.errors import InputError


def check_detector(name: str, params: dict[str, Any], train: ClipSet, val: ClipSet, test: ClipSet, workdir: Path,
                   cache_dir: Path | None = None) -> np.ndarray:
    """Run the contract on ``name``; returns the test predictions. Raises AssertionError on a breach."""
    cls = detector_registry.get(name)

    def make() -> Detector:
        det = cls(**params)
        if cache_dir is not None:
            det.cache_dir = cache_dir
        return det

    assert not test.has_labels, "the test clip set given to check_detector must carry no labels"
    det = make()
    assert det.fit(train, val) is det
    assert 0.0 <= float(det.threshold_) <= 1.0
    p = det.predict_proba(test)
    assert p.shape == (len(test),) and np.all(np.isfinite(p)) and np.all((p >= 0) & (p <= 1)), p
    frames = det.predict_frames(test)
    assert len(frames) == len(test) and all(f.ndim == 1 and len(f) >= 1 for f in frames)
    np.testing.assert_allclose([f.mean() for f in frames], p, atol=1e-9)

    out = det.save(workdir / name)
    config = json.loads((out / "config.json").read_text())
    assert config["detector"] == name and config["params"] == det.params
    again = Detector.load(out)
    if cache_dir is not None:
        again.cache_dir = cache_dir
    assert type(again) is cls and again.threshold_ == det.threshold_
    np.testing.assert_array_equal(again.predict_proba(test), p)
    other = next(c for n, c in sorted(detector_registry._entries.items()) if n != name)
    try:
        other.load(out)
    except InputError:
        pass
    else:
        raise AssertionError(f"{other.registry_name}.load accepted a {name} folder")

    second = make().fit(train, val)
    np.testing.assert_array_equal(second.predict_proba(test), p)

    try:
        make().fit(train, ClipSet(test.rows, test.root, "test", np.zeros(len(test), np.int64)))
    except InputError:
        pass
    else:
        raise AssertionError("fit accepted a test split")
    try:
        _ = test.labels
    except LabelsHiddenError:
        pass
    else:
        raise AssertionError("the test set exposes labels")
    return p
