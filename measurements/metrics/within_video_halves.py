"""Real-vs-real halves that share identities (split each real clip's windows/frames in two) vs real-half vs generated.

Uses the cached features of real_metrics4.py. Run: .venv/bin/python measurements/metrics/within_video_halves.py
"""
import json
from pathlib import Path
import numpy as np
from forgebench.metrics.frechet import frechet_distance, gaussian_stats
from forgebench.metrics.fid import kid_from_features
HERE = Path(__file__).parent
rng = np.random.default_rng(1)
fd = lambda a, b: frechet_distance(*gaussian_stats(a), *gaussian_stats(b))
sp = lambda v: {"mean": round(float(np.mean(v)), 4), "min": round(float(np.min(v)), 4), "max": round(float(np.max(v)), 4), "n": len(v)}
z = np.load(HERE / "i3d_feats.npz")
rk = [k for k in z.files if k.startswith("real__")]; G = np.concatenate([z[k] for k in z.files if k.startswith("gen__")])
rr, rg = [], []
for _ in range(20):
    A, B = [], []
    for k in rk:  # each real clip gives windows to both halves
        p = rng.permutation(len(z[k])); h = len(p) // 2 + rng.integers(0, 2) * (len(p) % 2)
        A.append(z[k][p[:h]]); B.append(z[k][p[h:]])
    A, B = np.concatenate(A), np.concatenate(B)
    rr.append(fd(A, B)); rg.append(fd(A, G[rng.choice(len(G), len(B), replace=False)]))
out = {"fvd16_real_half_vs_real_half_within_video": sp(rr), "fvd16_real_half_vs_gen_same_size": sp(rg)}
f = np.load(HERE / "inception_feats.npz"); real, gen = f["real"], f["gen"]
vid = np.repeat(np.arange(10), 50)
rr, rg, kr, kg = [], [], [], []
for _ in range(4):
    m = np.zeros(len(real), bool)
    for v in range(10):
        idx = np.flatnonzero(vid == v); m[rng.choice(idx, len(idx) // 2, replace=False)] = True
    A, B = real[m], real[~m]; g = gen[rng.choice(len(gen), len(B), replace=False)]
    rr.append(fd(A, B)); rg.append(fd(A, g))
    kr.append(kid_from_features(A, B, 50, 200)[0]); kg.append(kid_from_features(A, g, 50, 200)[0])
out.update(fid_real_half_vs_real_half_within_video=sp(rr), fid_real_half_vs_gen_same_size=sp(rg),
           kid_real_half_vs_real_half_within_video=sp(kr), kid_real_half_vs_gen_same_size=sp(kg))
print(json.dumps(out, indent=1))
(HERE / "within_video_halves.json").write_text(json.dumps(out, indent=1))
