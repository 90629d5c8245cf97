"""Scoring speed of the pretrained-feature detectors: feature extraction per clip, without the cache.

For each registered probe (its defaults), on the given clips: decode the frames of its windows, crop and run the
backbone (``FeatureExtractor.compute``), and pool + score with a head; the shared tracking is read from the cache
(it is the crop detectors' preprocessing, timed by ``forgebench bench preprocess``). Prints wall and CPU seconds
per clip and frames per second (frames = windows x window_len fed to the network), with the load average.

  python measurements/detectors/pretrained_speed.py [--threads 1] [--detectors inception_probe,i3d_probe] CLIP...
"""

from __future__ import annotations

import argparse
import os
import time
from pathlib import Path

import numpy as np


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("clips", nargs="+", type=Path)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--detectors", default="inception_probe,i3d_probe")
    a = ap.parse_args()
    import torch

    from forgebench.detectors import detector_registry
    from forgebench.detectors.base import ClipSet
    from forgebench.detectors.preprocess import load_features
    from forgebench.detectors.probe import pool_features

    torch.set_num_threads(a.threads)
    clips = ClipSet.from_paths(a.clips)
    for name in a.detectors.split(","):
        det = detector_registry.get(name)()
        ext = det.extractor()
        base, failed = load_features(clips, det.preprocess, det.cache_dir)
        layers = tuple(lay for lay, _ in det.layers)
        ext.compute(clips.path(0), base[0], layers)  # warm-up (first-call allocations)
        wall, cpu, frames = 0.0, 0.0, 0
        for i, feat in enumerate(base):
            if feat is None:
                continue
            t0, c0 = time.perf_counter(), time.process_time()
            out = ext.compute(clips.path(i), feat, layers)
            np.concatenate([pool_features(out[lay], pools) for lay, pools in det.layers])
            wall += time.perf_counter() - t0
            cpu += time.process_time() - c0
            frames += det.params["windows"] * det.params["window_len"]
        n = sum(f is not None for f in base)
        print(f"{name}: {n} clips, {frames} frames, threads {a.threads}: {wall / n:.2f} s/clip wall "
              f"({cpu / n:.2f} CPU), {frames / wall:.1f} frames/s; load average {os.getloadavg()[0]:.1f}", flush=True)


if __name__ == "__main__":
    main()
