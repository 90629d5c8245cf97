"""Train each baseline on the det8 corpus (both motion models), evaluate val/test incl. robustness, then the
cross-generator matrix (train on one motion model; test on the other and on known fakes of other generators).
One JSON line per detector to stdout; tables under scratch/det8/runs/<name>/.
Usage: measure.py [--xgen-only] NAME...   (--xgen-only: the cross-generator matrix alone)"""
import json, sys, time
from pathlib import Path
import numpy as np, pandas as pd, torch
torch.set_num_threads(1)
from forgebench.manifest import read_manifest
from forgebench.detectors.evaluation import evaluate_predictions, score_rows
from forgebench.detectors.training import predict_manifest, train_detector
from forgebench.results import results_frame
import os
M = Path("scratch/det8/corpus/manifest_full.parquet"); CACHE = Path("scratch/det8/cache")
OUT = Path(os.environ.get("DET8_OUT", "scratch/det8/runs"))  # e.g. runs_v3 for a re-run beside the old tables
CROP = {"crop_size": 128, "n_frames": 8, "max_frames": 75}
LMK = {"max_frames": 75}
EXTRA = {"meso4": {"epochs": 15, "patience": 4}, "mesoinception4": {"epochs": 15, "patience": 4},
         "xception": {"epochs": 4, "patience": 2}, "efficientnet_b0": {"epochs": 4, "patience": 2}}
df = read_manifest(M)
corpus = df[df.dataset != "shared-data-known-fakes"]
MOTION = ["procedural-256", "diffusion-256"]
def main_table(name, params):
    c0 = time.process_time()
    det, info = train_detector(name, df, M, OUT / name / "all", params=params, cache_dir=CACHE)
    train_cpu = time.process_time() - c0
    t0 = time.perf_counter()
    pred, frames, skipped = predict_manifest(det, df, M, ("val", "test"))
    ok = pred.dropna(subset=["score"])
    main = ok[ok.dataset != "shared-data-known-fakes"]
    fr = None if frames is None else frames[frames.clip_id.isin(main.clip_id)]
    res = evaluate_predictions(main, subject=name, threshold=float(det.threshold_), frames=fr, n_boot=1000)
    res.to_csv(OUT / name / "metrics.csv", index=False); ok.to_parquet(OUT / name / "predictions.parquet")
    pd.DataFrame(skipped, columns=["clip_id", "reason"]).to_csv(OUT / name / "skipped.csv", index=False)
    r = res[(res.split == "test") & (res.metric == "auc")]
    line = {"detector": name, "train_wall_s": round(info["seconds"], 1), "train_cpu_s": round(train_cpu, 1),
            "predict_s": round(time.perf_counter() - t0, 1), "n_train": info["n_train"], "n_val": info.get("n_val"),
            "threshold": round(float(det.threshold_), 3), "skipped": len(skipped) + len(info["skipped"]),
            "auc": {c: [round(v, 3), round(lo, 3), round(hi, 3), int(n)] for c, v, lo, hi, n in
                    zip(r.condition, r.value, r.ci_low, r.ci_high, r.n)}}
    return line


def cross_generator(name, params):
    line = {}
    # cross-generator: train on one motion model's fakes (+ all real train/val clips), test clean test clips
    xrows = []
    if name != "provenance":  # provenance is not trained: its score is the watermark check, the same for any G
        test_clean = df[(df.split == "test") & (df.perturbation == "none")]
        for g in MOTION:
            dg, ig = train_detector(name, df, M, OUT / name / f"train={g}", params=params, cache_dir=CACHE, generator=g)
            pg, _, _ = predict_manifest(dg, test_clean, M, ("test",), frames=False)
            pg = pg[np.isfinite(pg.score)]
            for h in MOTION + ["sadtalker", "emo"]:
                sub = pg[(pg.label == 0) | (pg.generator == h)]
                xrows += score_rows(sub.label.to_numpy(), sub.score.to_numpy(), subject=name, split="test",
                                    condition=f"train={g}|test={h}", threshold=float(dg.threshold_),
                                    groups=sub.source_id.to_numpy(), n_boot=1000, seed=0)
        xres = results_frame(xrows); xres.to_csv(OUT / name / "cross_generator.csv", index=False)
        xa = xres[xres.metric == "auc"]
        line["xgen_auc"] = {c: [round(v, 3), round(lo, 3), round(hi, 3), int(n)] for c, v, lo, hi, n in
                            zip(xa.condition, xa.value, xa.ci_low, xa.ci_high, xa.n)}
    return line


XGEN_ONLY = "--xgen-only" in sys.argv
for name in [a for a in sys.argv[1:] if a != "--xgen-only"]:
    params = {} if name == "provenance" else {**(LMK if name in ("avsync", "dynamics") else CROP), **EXTRA.get(name, {})}
    t0 = time.perf_counter()
    line = {"detector": name} if XGEN_ONLY else main_table(name, params)
    line.update(cross_generator(name, params))
    line["total_s"] = round(time.perf_counter() - t0, 1)
    print(json.dumps(line), flush=True)
