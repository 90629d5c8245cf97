"""Nested (leave-one-generator-out) choice among candidate runs on the unseen-generator harness.

For each held-out generator g, the candidate (e.g. a fusion member set) with the best pooled AUC on all real
test segments + the other generators' fakes is chosen, then scored on all real + g's fakes. Reads the cached
predictions of cues_unseen.py (run it first with the same candidates).

    python measurements/detectors/cues_fusion_nested.py --corpus-variant full-crf --candidates fusion,fusion:members=...
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parent))
from cues_unseen import load_harness, parse_run  # noqa: E402


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--corpus-variant", default="full-crf")
    ap.add_argument("--candidates", required=True)
    a = ap.parse_args()
    u = load_harness()
    roc_auc, _ = u.metric_fns()
    paths = u.prepare_folds(a.corpus_variant)
    preds = {}
    for run in a.candidates.split(","):
        name, params = parse_run(run)
        preds[run] = pd.concat([u.run_detector(name, paths[k], params or None).assign(fold=k) for k in range(u.K)])
    first = next(iter(preds.values()))
    gens = sorted(first.loc[first.label == 1, "generator"].unique())

    def auc(d, keep):
        sub = d[(d.label == 0) | d.generator.isin(keep)]
        return roc_auc(sub.label.to_numpy(), sub.score.to_numpy())

    rows, nested = [], {}
    for g in gens:
        rest = [h for h in gens if h != g]
        best = max(preds, key=lambda r: auc(preds[r], rest))
        nested[g] = auc(preds[best], [g])
        rows.append(f"| {g} | {best} | {auc(preds[best], rest):.3f} | {nested[g]:.3f} |")
    n = {g: int(((first.label == 1) & (first.generator == g)).sum()) for g in gens}
    overall = sum(nested[g] * n[g] for g in gens) / sum(n.values())
    print("| held-out generator | chosen on the other 7 | AUC on the other 7 | nested AUC on it |")
    print("| --- | --- | --- | --- |")
    print("\n".join(rows))
    print(f"\nnested AUC, fake-weighted over generators: {overall:.3f}")
    for r, d in preds.items():
        print(f"plain pooled AUC {r}: {auc(d, gens):.3f}; fake-weighted per-generator mean "
              f"{sum(auc(d, [g]) * n[g] for g in gens) / sum(n.values()):.3f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
