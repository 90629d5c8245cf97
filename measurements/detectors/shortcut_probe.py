"""Shortcut probe: can file-level cues that never look at a face separate real from fake in the det8 corpus?
Each cue alone (and all together) -> the same val-selected logistic model as the baselines -> test AUC with
identity-grouped 95% intervals. A cue near 0.5 is not available as a shortcut; near 1.0, a detector could use it."""
from pathlib import Path
import numpy as np
from forgebench.manifest import read_manifest
from forgebench.detectors.common import LogisticModel
from forgebench.metrics.detection import bootstrap_interval, roc_auc
from forgebench.media.audio import decode_audio
from forgebench.media.video import probe_video, read_metadata
C = Path("scratch/det8/corpus"); df = read_manifest(C / "manifest_full.parquet")
df = df[(df.perturbation == "none") & (df.dataset != "shared-data-known-fakes")].reset_index(drop=True)
def cues(path):
    info = probe_video(path); tags = read_metadata(path)
    a, rate = decode_audio(path, max_seconds=None)
    a = np.asarray(a, np.float64); head = a[: int(0.3 * rate)]
    rms = lambda x: np.sqrt(np.mean(x**2) + 1e-12)
    return [Path(path).stat().st_size * 8 / 1e3 / max(info.duration, 1e-3),  # kbit/s: codec/bitrate shortcut
            np.log(rms(head) / rms(a)),                                        # leading silence
            np.log(rms(a)),                                                    # loudness
            float(any(k.startswith("forgebench") for k in tags)),              # metadata tag (watermark-like)
            info.width * info.height]                                           # frame size
names = ["bitrate kbit/s", "leading silence (log rms ratio, first 0.3 s)", "loudness (log rms)",
         "forgebench metadata tag", "frame size"]
X = np.array([cues(C / p) for p in df.path]); y = df.is_fake.to_numpy()
for j, n in enumerate(names):
    print(f"{n:46s} real median {np.median(X[y == 0, j]):9.3f}  fake median {np.median(X[y == 1, j]):9.3f}")
sp = df.split.to_numpy(); g = df.source_id.to_numpy()
for cols, label in [([j], names[j]) for j in range(len(names))] + [(list(range(3)), "bitrate+silence+loudness")]:
    m = LogisticModel(); m.fit(X[sp == "train"][:, cols], y[sp == "train"], X[sp == "val"][:, cols], y[sp == "val"])
    p = m.predict(X[sp == "test"][:, cols]); yt = y[sp == "test"]
    if np.ptp(p) == 0:
        print(f"probe {label:46s} test AUC 0.500 (constant cue)"); continue
    lo, hi = bootstrap_interval(yt, p, roc_auc, groups=g[sp == "test"], n_boot=1000)
    print(f"probe {label:46s} test AUC {roc_auc(yt, p):.3f} [{lo:.3f}, {hi:.3f}] n={len(yt)}")
