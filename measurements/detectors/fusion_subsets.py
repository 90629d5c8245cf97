"""Every fusion member set on the unseen-generator harness, exactly, from one training of each member per fold.

A ``fusion`` fits each member alone on (train, val), as that member is fitted by itself, then calibrates and
stacks on val only (``FusionDetector.fit_stacker``). So the fusion of any subset of members equals: the
members' single-detector runs of the harness (``unseen.py``'s run folders, trained if missing), their raw
log-odds on the fold's val and test clips, and ``fit_stacker`` on the subset's val columns. This script does
that for every non-empty subset of ``--members`` (2^M - 1 sets; no member is retrained), then

* scores each set pooled and within folds, overall and per held-out generator;
* makes the NESTED leave-one-generator-out choice of the set: for each known generator g the set with the best
  AUC on all real test segments + the other generators' fakes is chosen and scored on all real + g's fakes
  (within-fold AUC by default, ``--pooled`` for pooled); the nested AUC is fake-weighted over generators;
* writes ``$UNSEEN_OUT/results/<variant>/fusion_subsets.{csv,md}`` and the predictions of every set.

    python measurements/detectors/fusion_subsets.py --corpus-variant full \
        --members liveliness,dynamics,spectrum,inception_probe,i3d_probe,avsync,rppg [--show a+b,c+d]

Check: ``cues_unseen.py --runs fusion:members=a+b`` (a real fusion training) gives the same scores as set a+b here.
"""
from __future__ import annotations

import argparse
import itertools
import os
import sys
from pathlib import Path

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parent))
from cues_unseen import load_harness  # noqa: E402


def member_logits(u, name: str, manifest: Path, k: int) -> pd.DataFrame:
    """Raw log-odds of the harness's single-detector run of ``name`` on the fold's val and test clips (cached)."""
    from forgebench.detectors.base import ClipSet, Detector
    from forgebench.detectors.fusion import logit

    out = u.OUT / "fusion_subsets" / manifest.parent.parent.name / f"fold{k}" / f"{name}.parquet"
    run_dir = u.OUT / "runs" / manifest.parent.parent.name / f"fold{k}" / name
    u.run_detector(name, manifest)  # trains it if the harness has not
    if out.is_file() and out.stat().st_mtime >= (run_dir / "predictions.parquet").stat().st_mtime:
        return pd.read_parquet(out)
    det = Detector.load(run_dir)
    if hasattr(det, "cache_dir"):
        det.cache_dir = u.CACHE
    df = pd.read_parquet(manifest)
    parts = []
    for split in ("val", "test"):
        sel = df[(df.split == split) & (df.status == "ok")]
        clips = ClipSet.from_manifest(sel, manifest, split, with_labels=False)
        raw = logit(det.predict_proba(clips))
        parts.append(sel.assign(split=split, label=sel.is_fake.astype(int), raw=raw)[
            ["clip_id", "source_id", "generator", "split", "label", "raw"]])
    res = pd.concat(parts, ignore_index=True)
    res["raw"] = res.raw.where(np.isfinite(res.raw))
    out.parent.mkdir(parents=True, exist_ok=True)
    res.to_parquet(out)
    return res


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--corpus-variant", default="full")
    ap.add_argument("--members", default="liveliness,dynamics,spectrum,inception_probe,i3d_probe,avsync,rppg")
    ap.add_argument("--show", default="", help="extra sets for the table with intervals, e.g. liveliness+dynamics")
    ap.add_argument("--pooled", action="store_true", help="nested choice and score by pooled AUC (default within)")
    ap.add_argument("--folds", default="0,1,2")
    a = ap.parse_args()
    import torch

    torch.set_num_threads(int(os.environ.get("FUSION_THREADS", "1")))
    from forgebench.detectors.fusion import FusionDetector

    u = load_harness()
    roc_auc, _ = u.metric_fns()
    paths = u.prepare_folds(a.corpus_variant)
    names = a.members.split(",")
    folds = [int(x) for x in a.folds.split(",")]
    logits = {k: {n: member_logits(u, n, paths[k], k) for n in names} for k in folds}

    def fuse(subset: tuple[str, ...]) -> pd.DataFrame:
        parts = []
        for k in folds:
            base = logits[k][subset[0]]
            raw = np.stack([logits[k][n].raw.to_numpy() for n in subset], axis=1)
            val, test = (base.split == "val").to_numpy(), (base.split == "test").to_numpy()
            f = FusionDetector(members=",".join(subset))
            f.fit_stacker(raw[val], base.label.to_numpy()[val])
            parts.append(base[test].assign(score=f._stack(raw[test]), fold=k))
        return pd.concat(parts, ignore_index=True)

    subsets = [s for r in range(1, len(names) + 1) for s in itertools.combinations(names, r)]
    preds = {s: fuse(s) for s in subsets}
    first = preds[subsets[0]]
    gens = sorted(first.loc[first.label == 1, "generator"].unique())
    n_fake = {g: int(((first.label == 1) & (first.generator == g)).sum()) for g in gens}

    def auc(d: pd.DataFrame, keep: list[str], within: bool) -> float:
        d = d[((d.label == 0) | d.generator.isin(keep)) & np.isfinite(d.score)]
        y, s = d.label.to_numpy(), d.score.to_numpy()
        return u.stratified_auc_fn(roc_auc, d.fold.to_numpy())(y, s) if within else roc_auc(y, s)

    rows = []
    for s, d in preds.items():
        rows.append({"members": "+".join(s), "n": len(s), "within": auc(d, gens, True), "pooled": auc(d, gens, False),
                     **{f"within:{g}": auc(d, [g], True) for g in gens}})
    table = pd.DataFrame(rows).sort_values("within", ascending=False)
    out = u.OUT / "results" / u.variant_name(a.corpus_variant)
    out.mkdir(parents=True, exist_ok=True)
    table.to_csv(out / "fusion_subsets.csv", index=False)

    lines = []
    for within in (True, False):
        label = "within folds" if within else "pooled"
        lines += [f"\nNested leave-one-generator-out choice over all {len(subsets)} member sets ({label}):\n",
                  "| held-out generator | set chosen on the other 7 | its AUC on the other 7 | nested AUC on the "
                  "held-out one | best set's AUC on it (plain) |", "| --- | --- | --- | --- | --- |"]
        nested, plain_best = {}, max(subsets, key=lambda s: auc(preds[s], gens, within))
        for g in gens:
            rest = [h for h in gens if h != g]
            best = max(subsets, key=lambda s: auc(preds[s], rest, within))
            nested[g] = auc(preds[best], [g], within)
            lines.append(f"| {g} | {'+'.join(best)} | {auc(preds[best], rest, within):.3f} | {nested[g]:.3f} | "
                         f"{auc(preds[plain_best], [g], within):.3f} |")
        fw = sum(nested[g] * n_fake[g] for g in gens) / sum(n_fake.values())
        fw_plain = sum(auc(preds[plain_best], [g], within) * n_fake[g] for g in gens) / sum(n_fake.values())
        lines.append(f"\n{label}: nested AUC (fake-weighted over generators) {fw:.3f}; the plain best set "
                     f"{'+'.join(plain_best)}: all {auc(preds[plain_best], gens, within):.3f}, fake-weighted "
                     f"per-generator {fw_plain:.3f}")
    top = table.head(15)
    lines += ["\nTop 15 sets by within-fold AUC (no intervals; plain, i.e. chosen on the known fakes):\n",
              "| members | within | pooled | " + " | ".join(gens) + " |", "|" + " --- |" * (3 + len(gens))]
    for _, r in top.iterrows():
        lines.append(f"| {r.members} | {r.within:.3f} | {r.pooled:.3f} | "
                     + " | ".join(f"{r[f'within:{g}']:.2f}" for g in gens) + " |")
    show = [tuple(x.split("+")) for x in a.show.split(",") if x]
    if show:
        pred = pd.concat([preds[s].assign(detector="fusion:" + "+".join(s)) for s in show], ignore_index=True)
        st = u.score_table(pred, a.corpus_variant)
        st.to_csv(out / "fusion_subsets_show.csv", index=False)
        lines += ["\nSelected sets, within folds [95% CI]:\n", u.markdown(st, within_fold=True),
                  "\nSelected sets, pooled [95% CI]:\n", u.markdown(st)]
    md = "\n".join(lines)
    (out / "fusion_subsets.md").write_text(md + "\n")
    print(md)
    return 0


if __name__ == "__main__":
    sys.exit(main())
