"""scratch/det8/tables.md from scratch/det8/runs/*/{metrics,cross_generator}.csv and measure.log.
DET8_RUNS and DET8_LOG choose another runs folder and log (e.g. one that mixes re-runs with earlier runs)."""
import json, os
from pathlib import Path
import pandas as pd
R = Path(os.environ.get("DET8_RUNS", "scratch/det8/runs")); NAMES = ["spectrum", "meso4", "mesoinception4", "xception", "efficientnet_b0", "avsync",
                                         "dynamics", "provenance"]
log = {}
for line in Path(os.environ.get("DET8_LOG", "scratch/det8/measure.log")).read_text().splitlines():
    if line.startswith("{"):
        d = json.loads(line); log[d["detector"]] = d
f = lambda r: f"{r.value:.3f} [{r.ci_low:.3f}, {r.ci_high:.3f}]" if r.status == "ok" else "n/a"
out = ["# Detector measurements (issue 8), det8 corpus", "",
       "Corpus: `forgebench corpus build measurements/detectors/det8.yaml` (8 real identities from /work/shared/data, 20 real 4 s",
       "segments re-encoded 256x256/25 fps/CRF 23; 48 fakes = 8 identities x 3 real speech WAVs x {procedural, diffusion},",
       "same encoding) + test-only perturbed copies of real and fake clips alike + 7 known fakes (SadTalker x6 segments,",
       "EMO x1) re-encoded the same way (`measurements/detectors/extend_manifest.py`). Splits identity-disjoint: train 7 real/18 fake,",
       "val 3/12, test 10/18 (3 identities). Preprocessing: first 75 frames, 8 crops of 128 px (crop detectors).",
       "Command: `python measurements/detectors/measure.py NAME...` (torch.set_num_threads(1)); 95% intervals: 1000 bootstrap",
       "resamples of identities (only 3 test identities: the intervals are coarse). Machine: 2 shared cores, load",
       os.environ.get("DET8_LOAD", "average 4-6 during the run.") + " Training: meso4/mesoinception4 15 epochs (patience 4), xception/efficientnet_b0",
       "4 epochs (patience 2), from random init; batch 32, lr defaults. Train time of spectrum and avsync includes the",
       "preprocessing of the 40 train/val clips (first detector of each preprocessing config); the others read the cache.",
       os.environ.get("DET8_NOTE", ""), "",
       "## Clean test split, both motion models", "",
       "| detector | test AUC [95% CI] | n | EER | AP | acc@val thr | ECE | frame AUC | train wall s | train CPU s |",
       "| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |"]
for n in NAMES:
    p = R / n / "metrics.csv"
    if not p.is_file():
        out.append(f"| {n} | not run | | | | | | | | |"); continue
    m = pd.read_csv(p).fillna({"status": "ok"}); t = m[(m.split == "test") & (m.condition == "clean")].set_index("metric")
    g = lambda k: f"{t.loc[k].value:.3f}" if k in t.index and t.loc[k].status == "ok" else "n/a"
    L = log.get(n, {})
    if not L and (R / n / "all" / "train_info.json").is_file():  # run stopped before its log line (no CPU time)
        L = {"train_wall_s": round(json.loads((R / n / "all" / "train_info.json").read_text())["seconds"], 1),
             "train_cpu_s": "n/a"}
    out.append(f"| {n} | {f(t.loc['auc'])} | {int(t.loc['auc'].n)} | {g('eer')} | {g('ap')} | {g('acc@val')} | {g('ece')} | "
               f"{g('frame_auc')} | {L.get('train_wall_s', '')} | {L.get('train_cpu_s', '')} |")
out += ["", "## Test AUC by motion model (all real test clips + that model's fakes)", "",
        "| detector | procedural-256 | diffusion-256 |", "| --- | --- | --- |"]
for n in NAMES:
    p = R / n / "metrics.csv"
    if not p.is_file(): continue
    m = pd.read_csv(p).fillna({"status": "ok"}); a = m[(m.split == "test") & (m.metric == "auc")].set_index("condition")
    out.append(f"| {n} | " + " | ".join(f(a.loc[f'generator={g}']) if f"generator={g}" in a.index else "n/a"
                                       for g in ("procedural-256", "diffusion-256")) + " |")
conds = ["clean", "jpeg:1", "jpeg:3", "jpeg:5", "h264:1", "h264:3", "h264:5", "blur:3", "noise:3"]
out += ["", "## Robustness: test AUC per perturbation:level (real and fake perturbed alike; n = 28 per condition)", "",
        "| detector | " + " | ".join(conds) + " |", "| --- |" + " --- |" * len(conds)]
for n in NAMES:
    p = R / n / "metrics.csv"
    if not p.is_file(): continue
    m = pd.read_csv(p).fillna({"status": "ok"}); a = m[(m.split == "test") & (m.metric == "auc")].set_index("condition")
    out.append(f"| {n} | " + " | ".join(f"{a.loc[c].value:.2f}" if c in a.index and a.loc[c].status == "ok" else "n/a"
                                       for c in conds) + " |")
out += ["", "Intervals for the robustness cells are in `scratch/det8/runs/NAME/metrics.csv` (same bootstrap).", "",
        "## Cross-generator matrix: test AUC [95% CI] (rows: fakes used in training, + all real train clips; columns: test fakes + all 10 real test clips)", "",
        "| detector | train on | procedural-256 (10 real + 9 fake) | diffusion-256 (10 + 9) | SadTalker (10 + 6 segments of 3 clips) | EMO (10 + 1 segment) |", "| --- | --- | --- | --- | --- | --- |"]
for n in NAMES:
    p = R / n / "cross_generator.csv"
    if not p.is_file(): continue
    m = pd.read_csv(p).fillna({"status": "ok"}); a = m[m.metric == "auc"].set_index("condition")
    for g in ("procedural-256", "diffusion-256"):
        out.append(f"| {n} | {g} | " + " | ".join(f(a.loc[f'train={g}|test={h}']) if f"train={g}|test={h}" in a.index else "n/a"
                                                 for h in ("procedural-256", "diffusion-256", "sadtalker", "emo")) + " |")
Path(os.environ.get("DET8_TABLES", "scratch/det8/tables.md")).write_text("\n".join(out) + "\n")
print("\n".join(out))
