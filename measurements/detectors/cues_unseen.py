"""The cue detectors (and fusion variants) on the unseen-generator harness (measurements/detectors/unseen.py).

Runs (detector, params) pairs on the harness's identity folds of a corpus variant, with this checkout's code,
and writes one table per variant (pooled AUC overall, per held-out generator and per fold, 95% intervals by
identity) plus training time and scoring speed. Outputs under $UNSEEN_OUT (default /work/scratch/cues/unseen).

    python measurements/detectors/cues_unseen.py [--corpus-variant full] [--runs liveliness,rppg,...]

A run is a registered name, optionally with parameters: ``fusion:stacker=logistic``,
``fusion:members=liveliness+dynamics`` ('+' separates members inside a run).
"""
from __future__ import annotations

import argparse
import importlib.util
import os
import sys
from pathlib import Path

os.environ.setdefault("UNSEEN_OUT", "/work/scratch/cues/unseen")
os.environ.setdefault("UNSEEN_CACHE", "/work/scratch/cues/unseen-cache")
os.environ.setdefault("FORGEBENCH_DETECTOR_CACHE", os.environ["UNSEEN_CACHE"])
HARNESS = Path(__file__).resolve().parent / "unseen.py"
if not HARNESS.is_file():
    HARNESS = Path("/work/wt/corpus/measurements/detectors/unseen.py")


def load_harness():
    spec = importlib.util.spec_from_file_location("unseen", HARNESS)
    mod = importlib.util.module_from_spec(spec)
    sys.modules["unseen"] = mod
    spec.loader.exec_module(mod)
    return mod


def parse_run(text: str) -> tuple[str, dict]:
    name, _, rest = text.partition(":")
    params = {}
    for item in filter(None, rest.split(":")):
        key, _, value = item.partition("=")
        params[key] = value.replace("+", ",")
    return name, params


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--corpus-variant", default="full")
    ap.add_argument("--runs", default="liveliness,rppg,dynamics,avsync,fusion")
    ap.add_argument("--folds", default="0,1,2")
    ap.add_argument("--register", help="a Python file registering extra (experimental) detectors in this process")
    ap.add_argument("--table", default="cues_scores", help="name of the result table")
    ap.add_argument("--threads", type=int, default=1, help="torch threads (the pretrained backbones)")
    ap.add_argument("--drop-generators", default="", help="ablation: remove these generators' rows (e.g. the "
                    "pseudo-fakes sbi-face,sbi-mouth) from the fold manifests; splits are kept")
    a = ap.parse_args()
    if a.register:
        spec = importlib.util.spec_from_file_location("extra_detectors", a.register)
        spec.loader.exec_module(importlib.util.module_from_spec(spec))
    import pandas as pd
    import torch

    torch.set_num_threads(a.threads)
    u = load_harness()
    paths = u.prepare_folds(a.corpus_variant)
    variant_label = a.corpus_variant
    if a.drop_generators:
        drop = a.drop_generators.split(",")
        variant_label = f"{u.variant_name(a.corpus_variant)}-without-{'-'.join(drop)}"
        derived = []
        for k, p in enumerate(paths):
            df = pd.read_parquet(p)
            q = Path(os.environ["UNSEEN_OUT"]) / "folds" / variant_label / f"fold{k}" / "manifest.parquet"
            q.parent.mkdir(parents=True, exist_ok=True)
            df[~df.generator.isin(drop) | (df.split == "test")].to_parquet(q)
            derived.append(q)
        paths = derived
    labels = []
    for run in a.runs.split(","):
        name, params = parse_run(run)
        label = run.replace(":", " ").replace("+", ",")
        labels.append(label)
        for k in (int(x) for x in a.folds.split(",")):
            pred = u.run_detector(name, paths[k], params or None)
            u.log(f"{variant_label} fold {k} {label}: {len(pred)} scored, train {pred.train_s.iloc[0]:.0f} s")
    # one table: collect by the run folders' tags
    parts = []
    for run, label in zip(a.runs.split(","), labels):
        name, params = parse_run(run)
        for k in (int(x) for x in a.folds.split(",")):
            pred = u.run_detector(name, paths[k], params or None)
            parts.append(pred.assign(detector=label, fold=k))
    pred = pd.concat(parts, ignore_index=True)
    table = u.score_table(pred, a.corpus_variant).assign(variant=variant_label)
    out = Path(os.environ["UNSEEN_OUT"]) / "results" / variant_label
    out.mkdir(parents=True, exist_ok=True)
    table.to_csv(out / f"{a.table}.csv", index=False)
    md = ("Pooled over the folds:\n\n" + u.markdown(table) + "\n\nWithin folds (only fake/real pairs scored by the "
          "same fold's model):\n\n" + u.markdown(table, within_fold=True))
    speed = []
    for label, d in pred.groupby("detector", sort=False):
        first = d.groupby("fold").first()
        frames = len(d) * 125  # 5 s segments at 25 fps
        speed.append(f"| {label} | {first.train_s.mean():.1f} | {first.train_cpu_s.mean():.1f} | "
                     f"{frames / max(first.predict_s.sum(), 1e-9):.0f} |")
    md += ("\n\n| run | train wall s (mean per fold) | train CPU s | scoring frames/s (cached inputs) |\n"
           "| --- | --- | --- | --- |\n" + "\n".join(speed))
    (out / f"{a.table}.md").write_text(md + "\n")
    print(md)
    return 0


if __name__ == "__main__":
    sys.exit(main())
