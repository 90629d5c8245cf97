"""Which avsync/dynamics feature groups carry the signal on det8? Same val-selected logistic model on column subsets."""
from pathlib import Path
import numpy as np
from forgebench.manifest import read_manifest
from forgebench.detectors.avsync import AVSyncDetector
from forgebench.detectors.base import ClipSet
from forgebench.detectors.common import LogisticModel
from forgebench.detectors.dynamics import DynamicsDetector
from forgebench.metrics.detection import bootstrap_interval, roc_auc
M = Path("scratch/det8/corpus/manifest_full.parquet"); df = read_manifest(M)
clean = df[(df.perturbation == "none") & (df.dataset != "shared-data-known-fakes")]
def mats(det):
    det.cache_dir = Path("scratch/det8/cache"); out = {}
    for s in ("train", "val", "test"):
        cs = ClipSet.from_manifest(clean, M, s, with_labels=True); f, _ = det.features(cs)
        out[s] = (np.concatenate([det.clip_rows(x) for x in f]), cs.labels, cs.rows.source_id.to_numpy())
    return out
av = mats(AVSyncDetector(max_frames=75)); dy = mats(DynamicsDetector(max_frames=75))
nb = 5 * 11 + 10
groups = {"avsync: all": (av, np.arange(nb + 4)), "avsync: lagged mouth-audio correlations (+peak, lag)": (av, np.arange(nb)),
          "avsync: mouth stats only (no audio)": (av, np.array([nb, nb + 1])),
          "avsync: audio stats only (no video)": (av, np.array([nb + 2, nb + 3])),
          "dynamics: all": (dy, np.arange(dy["train"][0].shape[1])), "dynamics: blinks": (dy, np.arange(0, 3)),
          "dynamics: jitter": (dy, np.array([3])), "dynamics: pose velocities": (dy, np.r_[4:16]),
          "dynamics: expression velocities": (dy, np.arange(16, 30)), "dynamics: gaze velocities": (dy, np.arange(30, 34))}
for name, (m, cols) in groups.items():
    (xt, yt, _), (xv, yv, _), (xs, ys, gs) = m["train"], m["val"], m["test"]
    lm = LogisticModel(); lm.fit(xt[:, cols], yt, xv[:, cols], yv)
    p = lm.predict(xs[:, cols]); lo, hi = bootstrap_interval(ys, p, roc_auc, groups=gs, n_boot=1000)
    print(f"{name:55s} test AUC {roc_auc(ys, p):.3f} [{lo:.3f}, {hi:.3f}] n={len(ys)}")
