"""Which pretrained network, layer, crop and temporal pooling generalise to generators never trained on.

Two data layouts:

* ``--folds DIR`` (the unseen-generator harness, measurements/detectors/unseen.py): DIR/fold{k}/manifest.parquet,
  split train/val = the fold's forgebench training corpus, test = held-out real segments + known fakes;
* ``--manifest M --known DIR``: a forgebench corpus manifest (real clips of N people + their fakes) and a folder
  of known fakes with labels.csv (path,label,source_id,generator); K identity folds over the corpus's people
  (val: a quarter of the training people), test = the fold's real clips + every known fake.

For every grid entry backbone:crop:layer:pooling[:head], the probe (standardised logistic regression, C chosen on
val by log loss; or the MLP head) is fitted per fold on train, selected on val, and scores the fold's test clips.
AUC overall and per held-out generator (all real test clips + that generator's fakes) over the (real, fake) pairs
scored by the same fold's model (``--pooled``: all folds' scores in one ranking, a known fake scored by several
folds averaged), 95% interval from 1000 bootstrap resamples of identities. ``val_auc`` is the mean over folds
of the val AUC (forgebench fakes: no known fake involved).

Nested choice (the known fakes must not pick the configuration they are scored with): for each generator G the
grid entry with the best AUC on the other generators' fakes (vs all real test clips) is chosen, and G is scored
with it; ``nested`` reports the per-generator AUCs and their fake-weighted mean.

  python measurements/detectors/pretrained_probe.py features --folds DIR --backbone inception --crop face \
      --layers maxpool2,mixed_5d,mixed_6e,pool3
  python measurements/detectors/pretrained_probe.py ablate --folds DIR --grid inception:face:pool3:mean ...
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd

from forgebench.detectors.backbones import load_backbone
from forgebench.detectors.base import ClipSet
from forgebench.detectors.common import CROP_PARAMS, LogisticModel
from forgebench.detectors.features import ExtractorConfig, FeatureExtractor
from forgebench.detectors.preprocess import PreprocessConfig, default_cache_dir
from forgebench.detectors.probe import PROBE_C_GRID, MLPHead, parse_pooling, pool_features
from forgebench.errors import InputError
from forgebench.manifest import read_manifest
from forgebench.metrics.detection import bootstrap_interval, roc_auc

COLS = ["clip_id", "path", "label", "source_id", "generator"]
Fold = tuple[np.ndarray, np.ndarray, np.ndarray]  # train, val, test row indices into the clip table


def harness_data(folds_dir: Path) -> tuple[pd.DataFrame, list[Fold]]:
    parts, splits = [], []
    for k, m in enumerate(sorted(folds_dir.glob("fold*/manifest.parquet"))):
        df = read_manifest(m)
        df = df[(df["perturbation"] == "none") & (df["status"] == "ok")].copy()
        df["path"] = [str(p if Path(p).is_absolute() else m.parent / p) for p in df["path"]]
        df["label"] = df["is_fake"].astype(int)
        df["fold"] = k
        parts.append(df)
    allrows = pd.concat(parts, ignore_index=True)
    table = allrows.drop_duplicates("path")[COLS].reset_index(drop=True)
    pos = {p: i for i, p in enumerate(table["path"])}
    folds = []
    for df in parts:
        idx = {s: np.array([pos[p] for p in df.loc[df["split"] == s, "path"]]) for s in ("train", "val", "test")}
        folds.append((idx["train"], idx["val"], idx["test"]))
        splits.append({s: len(v) for s, v in idx.items()})
    print(f"{len(table)} clips, folds {splits}", file=sys.stderr)
    return table, folds


def corpus_data(manifest: Path, known: Path, k: int = 4, seed: int = 0) -> tuple[pd.DataFrame, list[Fold]]:
    df = read_manifest(manifest)
    df = df[(df["perturbation"] == "none") & (df["status"] == "ok")].copy()
    df["path"] = [str(p if Path(p).is_absolute() else manifest.parent / p) for p in df["path"]]
    df["label"] = df["is_fake"].astype(int)
    df["generator"] = np.where(df["label"] == 1, "forgebench:" + df["generator"], "")
    kn = pd.read_csv(known / "labels.csv")
    kn = kn[kn["label"] == 1].copy()
    kn["path"] = [str(known / p) for p in kn["path"]]
    kn["clip_id"] = ["known:" + Path(p).stem for p in kn["path"]]
    kn["source_id"] = "known:" + kn["source_id"].astype(str)
    table = pd.concat([df[COLS], kn[COLS]], ignore_index=True)
    pool = ~table["clip_id"].str.startswith("known:")
    people = np.array(sorted(table.loc[pool, "source_id"].unique()))
    rng = np.random.default_rng(seed)
    rng.shuffle(people)
    folds = []
    for f in range(k):
        test_people = people[f::k]
        rest = np.array(sorted(set(people) - set(test_people)))
        val_people = np.random.default_rng(seed + 100 + f).choice(rest, max(1, len(rest) // 4), replace=False)
        tr = pool & ~table["source_id"].isin(test_people)
        folds.append((np.flatnonzero(tr & ~table["source_id"].isin(val_people)),
                      np.flatnonzero(tr & table["source_id"].isin(val_people)),
                      np.flatnonzero((pool & table["source_id"].isin(test_people) & (table["label"] == 0))
                                     | ~pool)))
    return table, folds


def features(table: pd.DataFrame, backbone: str, crop: str, layers: tuple[str, ...], windows: int, window_len: int,
             device: str = "cpu", input_size: int = 0) -> dict[str, list[np.ndarray | None]]:
    """Per-clip features of ``layers`` through the detectors' own extractor and cache."""
    net = load_backbone(backbone, "", device, 16 if backbone != "i3d" else 2, input_size)
    cfg = ExtractorConfig(backbone=backbone, layer=layers[0], crop=crop, windows=windows, window_len=window_len,
                          input_size=input_size)
    pre = PreprocessConfig(**{k: CROP_PARAMS[k] for k in ("crop_size", "n_frames", "max_frames", "refine_landmarks")})
    ext = FeatureExtractor(net, cfg, pre, default_cache_dir(), progress=True)
    clips = ClipSet(table[["clip_id", "path"]].reset_index(drop=True), Path("/"), "test")
    t0 = time.perf_counter()
    feats, failed = ext(clips, layers, base_cache=default_cache_dir())
    for cid, why in failed:
        print(f"skipped {cid}: {why}", file=sys.stderr)
    print(f"{backbone}/{crop}/{','.join(layers)}: {time.perf_counter() - t0:.0f} s for {len(table)} clips",
          file=sys.stderr)
    return {k: [None if f is None else f[k] for f in feats] for k in layers}


def fit_head(head: str, x, y, xv, yv, seed: int = 0):
    m = LogisticModel() if head == "logistic" else MLPHead(64)
    if head == "logistic":
        m.fit(x, y, xv, yv, seed=seed, c_grid=PROBE_C_GRID)
    else:
        m.fit(x, y, xv, yv, seed=seed)
    return m


def cross_fit(table: pd.DataFrame, folds: list[Fold], vecs: np.ndarray, ok: np.ndarray, head: str
              ) -> tuple[pd.DataFrame, float]:
    """Pooled test scores (one row per scored clip and fold) and the mean val AUC over folds."""
    y = table["label"].to_numpy()
    rows, val_aucs = [], []
    for f, (tr, va, te) in enumerate(folds):
        tr, va, te = tr[ok[tr]], va[ok[va]], te[ok[te]]
        m = fit_head(head, vecs[tr], y[tr], vecs[va], y[va])
        val_aucs.append(roc_auc(y[va], m.predict(vecs[va])))
        rows += [{"fold": f, "i": i, "score": float(s)} for i, s in zip(te, m.predict(vecs[te]))]
    out = pd.DataFrame(rows).join(table, on="i")
    return out, float(np.mean(val_aucs))


def clip_scores(scored: pd.DataFrame) -> pd.DataFrame:
    """One score per clip (a known fake scored by several folds gets the mean)."""
    return scored.groupby("i").agg(score=("score", "mean"), label=("label", "first"), source_id=("source_id", "first"),
                                   generator=("generator", "first")).reset_index()


def within_fold_auc(scored: pd.DataFrame) -> float:
    """Mann-Whitney AUC over the (real, fake) pairs scored by the same fold's model (ties count one half).

    Pooling several folds' scores in one ranking mixes the models' offsets; pairs within a fold do not.
    """
    num = den = 0.0
    for _, f in scored.groupby("fold"):
        r = f.loc[f["label"] == 0, "score"].to_numpy()
        k = f.loc[f["label"] == 1, "score"].to_numpy()
        if len(r) and len(k):
            num += (k[:, None] > r[None]).sum() + 0.5 * (k[:, None] == r[None]).sum()
            den += len(r) * len(k)
    if den == 0:
        raise InputError("no fold scored both classes")
    return num / den


def within_fold_bootstrap(sub: pd.DataFrame, n_boot: int, rng: np.random.Generator) -> tuple[float, float]:
    """95% interval of :func:`within_fold_auc` over resamples of identities (weights = times drawn)."""
    gid = pd.factorize(sub["source_id"])[0]
    parts = []
    for _, f in sub.assign(g=gid).groupby("fold"):
        r, k = f[f["label"] == 0], f[f["label"] == 1]
        ks, rs = k["score"].to_numpy(), r["score"].to_numpy()
        pairs = (ks[:, None] > rs[None]) + 0.5 * (ks[:, None] == rs[None])
        parts.append((pairs, k["g"].to_numpy(), r["g"].to_numpy()))
    vals = []
    for _ in range(n_boot):
        w = np.bincount(rng.integers(0, gid.max() + 1, gid.max() + 1), minlength=gid.max() + 1).astype(float)
        num = sum(w[kg] @ pairs @ w[rg] for pairs, kg, rg in parts)
        den = sum(w[kg].sum() * w[rg].sum() for _, kg, rg in parts)
        if den > 0:
            vals.append(num / den)
    if len(vals) < n_boot / 2:
        return np.nan, np.nan
    lo, hi = np.quantile(vals, [0.025, 0.975])
    return float(lo), float(hi)


def auc_by_generator(scored: pd.DataFrame, n_boot: int = 0, within: bool = True
                     ) -> dict[str, tuple[float, float, float]]:
    """AUC [95% CI by identity] overall and per generator: within-fold pairs, or pooled over clips."""
    out = {}
    data = scored if within else clip_scores(scored)
    for g in ["all"] + sorted(data.loc[data["label"] == 1, "generator"].unique()):
        sub = data if g == "all" else data[(data["label"] == 0) | (data["generator"] == g)]
        if within:
            est = within_fold_auc(sub)
            lo, hi = within_fold_bootstrap(sub, n_boot, np.random.default_rng(0)) if n_boot else (np.nan, np.nan)
        else:
            y, s = sub["label"].to_numpy(), sub["score"].to_numpy()
            est = roc_auc(y, s)
            lo, hi = (bootstrap_interval(y, s, roc_auc, n_boot=n_boot, groups=sub["source_id"].to_numpy())
                      if n_boot else (np.nan, np.nan))
        out[g] = (est, lo, hi)
    return out


def fmt(t: tuple[float, float, float]) -> str:
    return f"{t[0]:.3f} [{t[1]:.2f}, {t[2]:.2f}]" if np.isfinite(t[1]) else f"{t[0]:.3f}"


def nested(per_config: dict[str, pd.DataFrame]) -> dict[str, str]:
    """Leave-one-generator-out choice of the grid entry (by within-fold AUC on the other generators' fakes); the
    held-out generator is scored with the choice."""
    any_v = next(iter(per_config.values()))
    gens = sorted(any_v.loc[any_v["label"] == 1, "generator"].unique())
    out, weighted, n = {}, 0.0, 0
    for g in gens:
        def others_auc(v: pd.DataFrame, g: str = g) -> float:
            return within_fold_auc(v[(v["label"] == 0) | ((v["generator"] != g) & (v["label"] == 1))])

        best = max(per_config, key=lambda c: others_auc(per_config[c]))
        v = per_config[best]
        sub = v[(v["label"] == 0) | (v["generator"] == g)]
        auc = within_fold_auc(sub)
        nf = int(sub.loc[sub["label"] == 1, "i"].nunique())
        weighted, n = weighted + auc * nf, n + nf
        out[g] = f"{auc:.3f} ({best})"
    out["fake-weighted mean"] = f"{weighted / n:.3f}"
    return out


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("command", choices=["features", "ablate"])
    ap.add_argument("--folds", type=Path, default=None, help="harness fold folder (fold{k}/manifest.parquet)")
    ap.add_argument("--manifest", type=Path, default=None)
    ap.add_argument("--known", type=Path, default=None)
    ap.add_argument("--backbone", default="inception")
    ap.add_argument("--crop", default="face")
    ap.add_argument("--layers", default="pool3")
    ap.add_argument("--windows", type=int, default=2)
    ap.add_argument("--window-len", type=int, default=8)
    ap.add_argument("--input-size", type=int, default=0)
    ap.add_argument("--grid", nargs="*", default=[])
    ap.add_argument("--n-boot", type=int, default=1000)
    ap.add_argument("--pooled", action="store_true", help="AUC over all folds' scores in one ranking (default: "
                    "within-fold pairs)")
    ap.add_argument("--out", type=Path, default=None)
    ap.add_argument("--device", default="cpu")
    a = ap.parse_args(argv)
    import torch

    torch.set_num_threads(1)
    table, folds = harness_data(a.folds) if a.folds else corpus_data(a.manifest, a.known)
    if a.command == "features":
        features(table, a.backbone, a.crop, tuple(a.layers.split(",")), a.windows, a.window_len, a.device,
                 a.input_size)
        return
    results, per_config = [], {}
    for entry in a.grid:
        backbone, crop, layer, pooling, *rest = entry.split(":")
        head = rest[0] if rest else "logistic"
        wl = a.window_len if backbone != "i3d" else max(a.window_len, 16)
        # layer "a/diff,b/std": several layers, each with its own pooling, concatenated
        specs = [x.split("/") for x in layer.split(",")] if "," in layer or "/" in layer else [[layer, pooling]]
        blocks, ok = [], np.ones(len(table), bool)
        for lay, pool in specs:
            feats = features(table, backbone, crop, (lay,), a.windows, wl, a.device, a.input_size)[lay]
            ok &= np.array([f is not None for f in feats])
            dim = next(f for f in feats if f is not None)
            pools = parse_pooling(pool)
            blocks.append(np.stack([pool_features(f if f is not None else np.zeros_like(dim), pools) for f in feats]))
        vecs = np.concatenate(blocks, axis=1)
        t0 = time.perf_counter()
        scored, val_auc = cross_fit(table, folds, vecs, ok, head)
        per_config[entry] = scored
        aucs = auc_by_generator(scored, a.n_boot, within=not a.pooled)
        row = {"config": entry, "dims": vecs.shape[1], "n_real": int(scored.loc[scored["label"] == 0, "i"].nunique()),
               "n_fake": int(scored.loc[scored["label"] == 1, "i"].nunique()), "val_auc": round(val_auc, 3),
               "fit_s": round(time.perf_counter() - t0, 1), **{g: fmt(t) for g, t in aucs.items()}}
        print(row, flush=True)
        results.append(row)
    res = pd.DataFrame(results)
    with pd.option_context("display.width", 250, "display.max_columns", 30):
        print(res.to_string(index=False))
    if len(per_config) > 1:
        print("nested choice:", nested(per_config))
    if a.out:
        res.to_csv(a.out, index=False)
        pd.concat([v.assign(config=c) for c, v in per_config.items()]).to_parquet(a.out.with_suffix(".parquet"))
        print(f"wrote {a.out}", file=sys.stderr)


if __name__ == "__main__":
    main()
