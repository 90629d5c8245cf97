"""Bitrate alone (lower = fake, the direction seen on train) as a test 'detector', per perturbation condition."""
from pathlib import Path
import numpy as np
from forgebench.manifest import read_manifest
from forgebench.metrics.detection import bootstrap_interval, roc_auc
from forgebench.media.video import probe_video
C = Path("scratch/det8/corpus"); df = read_manifest(C / "manifest_full.parquet")
df = df[df.dataset != "shared-data-known-fakes"]
kbps = lambda p: p.stat().st_size * 8 / 1e3 / max(probe_video(p).duration, 1e-3)
tr = df[(df.split == "train") & (df.perturbation == "none")]
b = np.array([kbps(C / p) for p in tr.path]); print(f"train: real median {np.median(b[tr.is_fake == 0]):.0f} kbit/s, fake median {np.median(b[tr.is_fake == 1]):.0f}")
te = df[df.split == "test"]
for (pert, lv), g in te.groupby(["perturbation", "level"]):
    s = -np.array([kbps(C / p) for p in g.path]); y = g.is_fake.to_numpy()
    lo, hi = bootstrap_interval(y, s, roc_auc, groups=g.source_id.to_numpy(), n_boot=1000)
    print(f"bitrate-only test AUC {pert}:{lv}  {roc_auc(y, s):.3f} [{lo:.3f}, {hi:.3f}]  n={len(g)}  "
          f"real median {np.median(-s[y == 0]):.0f} fake median {np.median(-s[y == 1]):.0f} kbit/s")
