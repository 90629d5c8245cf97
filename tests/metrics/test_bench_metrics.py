"""``forgebench bench metrics --dirs``: input checks that run before any network is loaded."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from forgebench.errors import InputError
from forgebench.metrics.bench import run_metrics_bench


def _pngs(folder, n):
    folder.mkdir()
    for i in range(n):
        Image.fromarray(np.full((8, 8, 3), i, np.uint8)).save(folder / f"{i}.png")
    return folder


def test_dirs_needs_two_folders(tmp_path):
    with pytest.raises(InputError, match="exactly two"):
        run_metrics_bench(dirs=[_pngs(tmp_path / "a", 3)])


def test_dirs_needs_two_pngs_in_each(tmp_path):
    with pytest.raises(InputError, match="has 3 and .* has 1 PNG"):
        run_metrics_bench(dirs=[_pngs(tmp_path / "a", 3), _pngs(tmp_path / "b", 1)])
