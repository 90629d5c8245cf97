"""Unseen-generator evaluation: detectors trained on forgebench corpora, tested on other generators' fakes.

Protocol (issue 13), over /work/shared/data (26 real clips of 23 people, 20 known fakes by 8 generators):

* every clip (real or known fake) is normalised like the training reals: face-centred square (1.8x the
  face width), 256x256, 25 fps, H.264 CRF 23, cut into up to 3 non-overlapping 5 s segments evenly spread
  over the clip (the ``normalize`` of the bundled ``detector-training`` spec, so the real segments are the
  same files, byte for byte, as the training corpus's real clips);
* K=3 identity folds over the 23 real people (seeded); a known fake of a person with real clips goes to
  that person's fold, the others are spread over the folds generator by generator;
* fold k: the training corpus is the corpus variant (default ``detector-training``) over the real clips of
  the other folds, with identity-disjoint train/val splits drawn as the spec draws them. Every corpus row
  depends on its own person only (own speech, own portrait, self-blends of own clips), so the fold corpus
  is the subset of one corpus built over all 26 clips: it is built once and shared by the folds;
* each detector is trained with its defaults on the fold's corpus (selection on val only) and scores the
  fold's real segments and its share of the known fakes. The known fakes are never training data;
* the three folds' scores are pooled: segment-level AUC overall and per held-out generator (all held-out
  real segments + that generator's), with 95% bootstrap intervals resampling identities, plus per-fold AUCs;
* shortcut probes: logistic models that see only bitrate, frame size, duration or frame rate, trained
  and scored on the same folds, must sit at chance.

Usage (work folder $UNSEEN_HOME, default /work/scratch/corpus/unseen; everything is cached and resumable):

    python measurements/detectors/unseen.py prepare                 # labels.csv over /work/shared/data
    python measurements/detectors/unseen.py build [--corpus-variant V]
    python measurements/detectors/unseen.py run [--detectors a,b] [--corpus-variant V] [--folds 0,1]
    python measurements/detectors/unseen.py report [--corpus-variant V]
    python measurements/detectors/unseen.py shortcuts [--corpus-variant V]

``run`` builds what is missing first. Corpus variants: ``full`` (the bundled ``detector-training``),
``nosbi`` (without the self-blended pseudo-fakes), ``sbionly`` (real + pseudo-fakes only), ``old`` (the corpus
of the issue's first table: centre-cropped reals, the generator's own framing, no pseudo-fakes, no common
final encode), or any YAML spec file (``--corpus-variant path/to/spec.yaml``).
"""

from __future__ import annotations

import argparse
import csv
import hashlib
import inspect
import json
import os
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd

HERE = Path(__file__).resolve().parent
DATA = Path(os.environ.get("UNSEEN_DATA", "/work/shared/data"))
HOME = Path(os.environ.get("UNSEEN_HOME", "/work/scratch/corpus/unseen"))  # prepared data, corpora, fold manifests
OUT = Path(os.environ.get("UNSEEN_OUT", str(HOME)))  # trained detectors, predictions, results
CACHE = Path(os.environ.get("UNSEEN_CACHE", str(HOME / "cache")))  # detector inputs (content hash + config key)
K = 3
FOLD_SEED = 0
N_BOOT = 1000
VARIANT_SPECS = {"full": "detector-training", **{v: HERE / "unseen_specs" / f"{v}.yaml"
                                                  for v in ("nosbi", "sbionly", "old", "full-crf", "lipsync")}}
DEFAULT_DETECTORS = ["avsync", "dynamics", "spectrum", "meso4", "mesoinception4", "efficientnet_b0", "xception"]

# People who appear in several files of /work/shared/data (from index.csv's notes); every other real clip is
# its own person. Known fakes of a person with real clips share that person's id (and fold).
SAME_PERSON = {
    "aoc": ["sadtalker_WDA_AlexandriaOcasioCortez_000.mp4", "vexpress_short_case_AOC_gt.mp4",
            "videoretalking_face_3.mp4"],
    "mead_m003": ["spectre_samples_MEAD_M003_level_1_happy_024.mp4",
                  "spectre_samples_MEAD_M003_level_1_disgusted_015.mp4"],
    "kim": ["wav2lipgfpgan_inputs_kim_7s_raw.mp4", "wav2lipgfpgan_showcase_kim_lip_synced.mp4"],
    "dreamtalk_male_face": ["dreamtalk_output_video_acknowledgement_english@M030_front_neutral_level1_001@male_face.mp4",
                            "dreamtalk_output_video_metaportrait_sr_acknowledgement_english@M030_front_neutral_level1_001"
                            "@male_face.mp4"],
    "sadtalker_red_girl": ["sadtalker_docs_still1.mp4", "sadtalker_docs_still_e.mp4"],
}
# Composites: only the generated panel is the fake (MakeItTalk writes source | output | landmarks).
PANELS = {"makeittalk_examples_dali_pred_fls_M6_04_16k_audio_embed.mp4": (1, 3),
          "makeittalk_examples_pred_fls_F6_e40_cut_16k_45hn7-LXDX8.mp4": (1, 3)}


def log(msg: str) -> None:
    print(f"[unseen {time.strftime('%H:%M:%S')}] {msg}", file=sys.stderr, flush=True)


# --- prepare: labels over the shared data ----------------------------------------------------------------------


def person_of(file: str) -> str:
    for pid, files in SAME_PERSON.items():
        if file in files:
            return pid
    return Path(file).stem[:48]


def extract_panel(src: Path, dst: Path, index: int, of: int) -> Path:
    """The ``index``-th of ``of`` side-by-side panels of a composite, encoded losslessly (QP 0), audio kept."""
    from forgebench.media.video import VideoWriter, iter_frames, probe_video
    from forgebench.media.audio import load_audio

    if dst.is_file():
        return dst
    info = probe_video(src)
    w = info.width // of
    audio = load_audio(src, 16000) if info.has_audio else None
    dst.parent.mkdir(parents=True, exist_ok=True)
    with VideoWriter(dst, info.fps, w - w % 2, info.height - info.height % 2, audio=audio, crf=0,
                     threads=1) as writer:
        for frame in iter_frames(src):
            writer.write(np.ascontiguousarray(frame[: info.height - info.height % 2, index * w: index * w + w - w % 2]))
    return dst


def prepare() -> Path:
    """``HOME/data/all/labels.csv`` (real + known fakes) and ``HOME/data/real/labels.csv`` (real only)."""
    index = pd.read_csv(DATA / "index.csv")
    rows = []
    for r in index.itertuples():
        if r.kind not in ("real_video", "fake_video"):
            continue
        path = DATA / r.file
        if r.file in PANELS:
            path = extract_panel(path, HOME / "data" / "panels" / r.file, *PANELS[r.file])
        label = "real" if r.kind == "real_video" else "fake"
        rows.append({"path": str(path), "label": label, "source_id": person_of(r.file),
                     "generator": "" if label == "real" else str(r.generator), "file": r.file})
    df = pd.DataFrame(rows)
    for name, sel in (("all", df), ("real", df[df.label == "real"])):
        out = HOME / "data" / name / "labels.csv"
        out.parent.mkdir(parents=True, exist_ok=True)
        sel[["path", "label", "source_id", "generator"]].to_csv(out, index=False, quoting=csv.QUOTE_MINIMAL)
    people = sorted(df[df.label == "real"].source_id.unique())
    log(f"{(df.label == 'real').sum()} real clips of {len(people)} people, {(df.label == 'fake').sum()} known fakes "
        f"by {df[df.label == 'fake'].generator.nunique()} generators -> {HOME / 'data'}")
    return HOME / "data"


# --- build: the evaluation set and the training corpus ---------------------------------------------------------


def variant_spec(variant: str):
    from forgebench.benchmarks.spec import load_spec

    variant = split_variant(variant)[0]
    src = VARIANT_SPECS.get(variant, variant)
    return load_spec(src, roots=[str(HOME), str(DATA)])


def variant_name(variant: str) -> str:
    base, drop = split_variant(variant)
    name = base if base in VARIANT_SPECS else Path(base).stem
    return name + ("~" + "+".join(drop) if drop else "")


def eval_spec(variant: str):
    """Real clips + known fakes of the shared data, normalised like the variant's real clips, always framed on the
    face (the ``old`` variant's centre crop is a property of its training corpus, not of the test)."""
    from forgebench.benchmarks.spec import Spec

    norm = variant_spec(variant).normalize.model_dump(mode="json")
    norm.update(crop="face", face_scale=1.8, generated=False)
    return Spec.model_validate({"name": "unseen-eval", "seed": 0, "roots": [str(HOME)],
                                "real": [{"adapter": "generic", "path": str(HOME / "data" / "all")}],
                                "normalize": norm, "splits": {"train": 0.0, "val": 0.0, "test": 1.0}})


def eval_dir(variant: str) -> Path:
    """One evaluation set per encoding (variants that encode alike share it)."""
    spec = eval_spec(variant)
    return HOME / "eval" / hashlib.sha256(json.dumps(spec.normalize.settings(), sort_keys=True).encode()
                                          ).hexdigest()[:8]


def build(variant: str, jobs: int = 1) -> tuple[pd.DataFrame, pd.DataFrame]:
    from forgebench.benchmarks.build import build_corpus
    from forgebench.benchmarks.executors import make_executor

    if not (HOME / "data" / "all" / "labels.csv").is_file():
        prepare()
    ev_dir = eval_dir(variant)
    log(f"evaluation set -> {ev_dir}")
    res = build_corpus(eval_spec(variant), ev_dir, executor=make_executor(jobs=jobs, progress=True))
    log(res.summary())
    cdir = HOME / "corpora" / variant_name(variant)
    log(f"training corpus {variant} over all real clips -> {cdir}")
    share_clips(cdir)
    res2 = build_corpus(variant_spec(variant), cdir, real_dirs=[HOME / "data" / "real"],
                        executor=make_executor(jobs=jobs, progress=True))
    log(res2.summary())
    return _absolute(res.manifest, ev_dir), _absolute(res2.manifest, cdir)


def share_clips(cdir: Path) -> None:
    """Hard-link the finished clips of the other corpus variants into ``cdir``: clips are content-addressed (same
    id, same bytes) and checked against their sidecar's hash, so a variant that shares rows with a built one
    (nosbi, sbionly are subsets of full) skips them instead of generating them again."""
    n = 0
    for other in (HOME / "corpora").glob("*/clips"):
        if other.parent == cdir:
            continue
        for side in other.glob("*/*.json"):
            video = side.with_suffix(".mp4")
            dst = cdir / "clips" / side.parent.name / side.name
            if video.is_file() and not dst.exists() and not dst.with_suffix(".mp4").exists():
                dst.parent.mkdir(parents=True, exist_ok=True)
                os.link(video, dst.with_suffix(".mp4"))
                os.link(side, dst)
                n += 1
    if n:
        log(f"linked {n} finished clips of other variants into {cdir}")


def _absolute(df: pd.DataFrame, root: Path) -> pd.DataFrame:
    df = df.copy()
    df["path"] = [p if Path(p).is_absolute() else str(root / p) for p in df["path"]]
    return df


def _read_manifest():
    try:
        from forgebench.manifest import read_manifest
    except ImportError:  # before the layering moves
        from forgebench.benchmarks.manifest import read_manifest
    return read_manifest


def _write_manifest():
    try:
        from forgebench.manifest import write_manifest
    except ImportError:
        from forgebench.benchmarks.manifest import write_manifest
    return write_manifest


def load_built(variant: str) -> tuple[pd.DataFrame, pd.DataFrame]:
    read_manifest = _read_manifest()

    ev, cp = eval_dir(variant) / "manifest.parquet", HOME / "corpora" / variant_name(variant) / "manifest.parquet"
    if not ev.is_file() or not cp.is_file():
        return build(variant)
    return _absolute(read_manifest(ev), ev.parent), _absolute(read_manifest(cp), cp.parent)


# --- folds -----------------------------------------------------------------------------------------------------


def assign_folds(ev: pd.DataFrame) -> dict[str, int]:
    """source_id -> fold: real people shuffled (seeded) and dealt round-robin; fakes of other people are dealt
    generator by generator, continuing the round, so each fold gets a share of every generator."""
    people = sorted(ev.loc[ev.label == "real", "source_id"].unique())
    order = np.random.default_rng(FOLD_SEED).permutation(len(people))
    fold = {people[i]: rank % K for rank, i in enumerate(order)}
    fakes = ev[(ev.label == "fake") & ~ev.source_id.isin(fold)]
    c = 0
    for gen in sorted(fakes.generator.unique()):
        for sid in sorted(fakes.loc[fakes.generator == gen, "source_id"].unique()):
            if sid not in fold:
                fold[sid] = c % K
                c += 1
    return fold


def fold_manifest(variant: str, k: int, ev: pd.DataFrame, cp: pd.DataFrame, folds: dict[str, int]) -> Path:
    """The fold's manifest: training corpus rows of the other folds' people (train/val re-drawn by identity with
    the spec's split settings) + the fold's evaluation segments (split test). Paths are absolute."""
    from forgebench.benchmarks.plan import assign_splits

    write_manifest = _write_manifest()

    spec = variant_spec(variant)
    held = {s for s, f in folds.items() if f == k}
    tr = cp[~cp.source_id.isin(held) & (cp.status == "ok")].copy()
    base = tr[tr.perturbation == "none"]
    recs = base[["clip_id", "source_id", "label", "donor_id"]].fillna("").to_dict("records")
    assign_splits(spec, recs)
    split_of = {r["clip_id"]: r["split"] for r in recs}
    tr["split"] = [split_of.get(c, split_of.get(p, "")) for c, p in zip(tr.clip_id, tr.parent.fillna(""))]
    te = ev[ev.source_id.isin(held)].copy()
    te["split"] = "test"
    df = pd.concat([tr, te], ignore_index=True)
    df = df.drop_duplicates("clip_id")  # a real segment is in both only if its person were in both (never)
    out = HOME / "folds" / variant_name(variant) / f"fold{k}" / "manifest.parquet"
    out.parent.mkdir(parents=True, exist_ok=True)
    write_manifest(df, out)
    return out


def split_variant(variant: str) -> tuple[str, list[str]]:
    """``full~sbi-face+sbi-mouth`` -> ("full", ["sbi-face", "sbi-mouth"]): a variant minus some generators."""
    base, _, drop = variant.partition("~")
    return base, [g for g in drop.split("+") if g]


def prepare_folds(variant: str, rebuild: bool = False) -> list[Path]:
    """The K fold manifests of a corpus variant; existing ones are reused (the harness run by a checkout that
    cannot build corpora, e.g. another helper's, reads them as they are).

    ``BASE~G1+G2``: the fold manifests of BASE without the training rows of generators G1, G2 (same people,
    same splits, same test segments): an ablation that needs no new corpus."""
    base, drop = split_variant(variant)
    if drop:
        out = []
        for k, src in enumerate(prepare_folds(base, rebuild)):
            dst = HOME / "folds" / variant_name(variant) / f"fold{k}" / "manifest.parquet"
            if rebuild or not dst.is_file():
                df = pd.read_parquet(src)
                df = df[~((df.split != "test") & df.generator.isin(drop))]
                dst.parent.mkdir(parents=True, exist_ok=True)
                _write_manifest()(df, dst)
            out.append(dst)
        return out
    paths = [HOME / "folds" / variant_name(variant) / f"fold{k}" / "manifest.parquet" for k in range(K)]
    if not rebuild and all(p.is_file() for p in paths):
        return paths
    ev, cp = load_built(variant)
    folds = assign_folds(ev)
    paths = [fold_manifest(variant, k, ev, cp, folds) for k in range(K)]
    for k, p in enumerate(paths):
        m = pd.read_parquet(p)
        n = m.groupby(["split", "label"]).size().to_dict()
        log(f"fold {k}: {n} ({p})")
    return paths


def verify_fold(variant: str, k: int) -> bool:
    """Plan the variant's spec over fold k's training people alone and check it gives exactly the fold's training
    rows (clip ids): the shared corpus is then the same as building the spec on those clips (planning only; the
    inputs are materialised in a scratch folder, no clip is made)."""
    from forgebench.benchmarks import inputs as inputs_mod
    from forgebench.benchmarks.datasets import scan_dataset
    from forgebench.benchmarks.plan import plan

    spec = variant_spec(variant)
    fold_m = pd.read_parquet(prepare_folds(variant)[k])
    train_people = set(fold_m.loc[fold_m.split != "test", "source_id"])
    labels = pd.read_csv(HOME / "data" / "real" / "labels.csv")
    sub = labels[("generic:" + labels.source_id).isin(train_people)]
    d = HOME / "verify" / variant_name(variant) / f"fold{k}"
    d.mkdir(parents=True, exist_ok=True)
    sub.to_csv(d / "labels.csv", index=False)
    clips = scan_dataset("generic", d)
    rows = plan(spec, inputs_mod.identities(spec, d, clips), inputs_mod.speech(spec, d, clips), clips)
    planned = {r["clip_id"] for r in rows}
    have = set(fold_m.loc[fold_m.split != "test", "clip_id"])
    cp = _read_manifest()(HOME / "corpora" / variant_name(variant) / "manifest.parquet")
    failed = set(cp.loc[cp.status != "ok", "clip_id"])
    ok = planned - failed == have
    log(f"verify {variant} fold {k}: planned {len(planned)} rows over {len(sub)} clips of {len(train_people)} people, "
        f"fold has {len(have)} training rows; identical: {ok} (only planned: {len(planned - failed - have)}, only in "
        f"fold: {len(have - planned)})")
    return ok


# --- train and score -------------------------------------------------------------------------------------------


def _sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()[:16]


def run_detector(name: str, manifest: Path, params: dict | None = None) -> pd.DataFrame:
    """Train ``name`` on the fold's train/val, score its test clips; cached per (manifest content, params)."""
    from forgebench.detectors.training import predict_manifest, train_detector

    read_manifest = _read_manifest()

    tag = name if not params else f"{name}-" + hashlib.sha256(json.dumps(params, sort_keys=True).encode()
                                                                ).hexdigest()[:6]
    out = OUT / "runs" / manifest.parent.parent.name / manifest.parent.name / tag
    key = {"manifest": _sha(manifest), "params": params or {}}
    done = out / "predictions.parquet"
    if done.is_file() and json.loads((out / "key.json").read_text()) == key:
        return pd.read_parquet(done)
    out.mkdir(parents=True, exist_ok=True)
    t0 = time.perf_counter()
    c0 = time.process_time()
    df = read_manifest(manifest)
    if "df" in inspect.signature(train_detector).parameters:  # main after the layering moves: rows + path
        det, info = train_detector(name, df, manifest, out, params=params or {}, cache_dir=CACHE, progress=True)
    else:
        det, info = train_detector(name, manifest, out, params=params or {}, cache_dir=CACHE, progress=True)
    train_s, train_cpu = time.perf_counter() - t0, time.process_time() - c0
    t1 = time.perf_counter()
    pred, _, skipped = predict_manifest(det, df, manifest, ("test",), frames=False)
    pred["threshold"] = float(det.threshold_)
    pred["train_s"], pred["train_cpu_s"], pred["predict_s"] = train_s, train_cpu, time.perf_counter() - t1
    pred["n_train"], pred["n_val"] = info["n_train"], info["n_val"]
    pred.to_parquet(out / "predictions.partial.parquet")
    os.replace(out / "predictions.partial.parquet", done)
    (out / "key.json").write_text(json.dumps(key))
    if skipped:
        log(f"{name} {manifest.parent.name}: {len(skipped)} test clips skipped, e.g. {skipped[0]}")
    return pred


def run(variant: str, detectors: list[str], fold_ids: list[int]) -> None:
    import torch

    torch.set_num_threads(1)
    os.environ.setdefault("FORGEBENCH_DETECTOR_CACHE", str(CACHE))
    paths = prepare_folds(variant)
    for name in detectors:
        for k in fold_ids:
            t0 = time.perf_counter()
            pred = run_detector(name, paths[k])
            log(f"{variant} fold {k} {name}: {len(pred)} test clips scored ({time.perf_counter() - t0:.0f} s)")


# --- shortcut probes -------------------------------------------------------------------------------------------


def file_cues(path: str) -> dict[str, float]:
    """File-level cues that never look at a face: video bitrate (kbit/s), frame area, duration (s), frame rate."""
    import av

    with av.open(path) as c:
        s = c.streams.video[0]
        size = sum(p.size for p in c.demux(s) if p.size)
        dur = float(s.duration * s.time_base) if s.duration else (c.duration or 0) / 1e6
        return {"bitrate": size * 8 / max(dur, 1e-6) / 1000, "size": float(s.codec_context.width
                                                                            * s.codec_context.height),
                "duration": dur, "fps": float(s.average_rate or 0)}


def shortcuts(variant: str) -> pd.DataFrame:
    """Per fold and cue: logistic model on that cue alone, C chosen on val, scored on test; pooled like the rest."""
    from forgebench.detectors.common import LogisticModel

    cache = CACHE / "file_cues.json"
    cache.parent.mkdir(parents=True, exist_ok=True)
    cues = json.loads(cache.read_text()) if cache.is_file() else {}
    rows = []
    for k, manifest in enumerate(prepare_folds(variant)):
        df = pd.read_parquet(manifest)
        df = df[(df.status == "ok") & (df.perturbation == "none")]
        for p in df.path:
            if p not in cues:
                cues[p] = file_cues(p)
        cache.write_text(json.dumps(cues))
        feats = pd.DataFrame([cues[p] for p in df.path], index=df.index)
        for cue in ("bitrate", "size", "duration", "fps"):
            x = {s: feats.loc[df.split == s, [cue]].to_numpy(np.float64) for s in ("train", "val", "test")}
            y = {s: df.loc[df.split == s, "is_fake"].to_numpy() for s in ("train", "val", "test")}
            m = LogisticModel()
            m.fit(x["train"], y["train"], x["val"], y["val"])
            te = df[df.split == "test"]
            rows.append(te.assign(score=m.predict(x["test"]), detector=f"shortcut:{cue}", fold=k,
                                  label=te.is_fake)[["clip_id", "source_id", "generator", "label", "score",
                                                     "detector", "fold"]])
        for s in ("train", "test"):
            sub = feats[df.split == s]
            lab = df.loc[df.split == s, "is_fake"]
            log(f"fold {k} {s}: median bitrate real {sub.bitrate[lab == 0].median():.0f} fake "
                f"{sub.bitrate[lab == 1].median():.0f} kbit/s; duration real {sub.duration[lab == 0].median():.2f} "
                f"fake {sub.duration[lab == 1].median():.2f} s")
    return pd.concat(rows, ignore_index=True)


# --- report ----------------------------------------------------------------------------------------------------


def metric_fns():
    try:  # the shared detection metrics (moving to forgebench.metrics.detection)
        from forgebench.metrics.detection import bootstrap_interval, roc_auc
    except ImportError:
        from forgebench.detectors.evaluation import bootstrap_interval, roc_auc
    return roc_auc, bootstrap_interval


def collect(variant: str, detectors: list[str]) -> pd.DataFrame:
    parts = []
    for k in range(K):
        fdir = OUT / "runs" / variant_name(variant) / f"fold{k}"
        for name in detectors:
            p = fdir / name / "predictions.parquet"
            if p.is_file():
                d = pd.read_parquet(p)
                parts.append(d.assign(detector=name, fold=k))
    return pd.concat(parts, ignore_index=True) if parts else pd.DataFrame()


def stratified_auc_fn(roc_auc, strata: np.ndarray):
    """AUC over (fake, real) pairs from the same fold only: sum_f n1_f n0_f AUC_f / sum_f n1_f n0_f.

    Pooling the scores of three separately trained models compares a fake scored by one model with a real
    scored by another: a model that scores everything higher shifts the pooled AUC (a constant score per
    fold gives pooled AUCs far from 0.5 when the folds' class ratios differ). Within-fold pairs avoid it.
    ``strata`` is aligned with the labels; the returned function takes (labels, scores, index) so that a
    bootstrap resample keeps each clip's fold.
    """
    from forgebench.errors import InputError

    def fn(y: np.ndarray, s: np.ndarray, idx: np.ndarray | None = None) -> float:
        st = strata if idx is None else strata[idx]
        num = den = 0.0
        for f in np.unique(st):
            m = st == f
            n1, n0 = int(y[m].sum()), int((y[m] == 0).sum())
            if n1 and n0:
                num += roc_auc(y[m], s[m]) * n1 * n0
                den += n1 * n0
        if den == 0:
            raise InputError("no fold holds both classes")
        return num / den
    return fn


def strat_interval(y, s, g, strata, fn, n_boot=N_BOOT, seed=0):
    """Percentile interval of the stratified AUC over resamples of identities (each keeps its segments and fold)."""
    from forgebench.errors import InputError

    codes = pd.factorize(g)[0]
    units = [np.flatnonzero(codes == k) for k in range(codes.max() + 1)]
    if len(units) < 2:
        return float("nan"), float("nan")
    rng = np.random.default_rng(seed)
    vals = []
    for _ in range(n_boot):
        idx = np.concatenate([units[k] for k in rng.integers(0, len(units), len(units))])
        try:
            vals.append(fn(y[idx], s[idx], idx))
        except InputError:
            continue
    if len(vals) < n_boot / 2:
        return float("nan"), float("nan")
    lo, hi = np.quantile(vals, [0.025, 0.975])
    return float(lo), float(hi)


def score_table(pred: pd.DataFrame, variant: str) -> pd.DataFrame:
    """Tidy rows: detector, condition (all / generator=G / fold=k), pooled AUC with CI, fold-stratified AUC with CI,
    n_real, n_fake, n_identities."""
    roc_auc, boot = metric_fns()
    rows = []
    for name, d in pred.groupby("detector", sort=False):
        d = d[np.isfinite(d.score)]
        folds_complete = d.fold.nunique() == K
        conds = [("all", d)]
        conds += [(f"generator={g}", d[(d.label == 0) | (d.generator == g)])
                  for g in sorted(d.loc[d.label == 1, "generator"].unique())]
        conds += [(f"fold={k}", d[d.fold == k]) for k in sorted(d.fold.unique())]
        for cond, sub in conds:
            y, s, g = sub.label.to_numpy(), sub.score.to_numpy(), sub.source_id.to_numpy()
            if len(np.unique(y)) < 2:
                continue
            auc = roc_auc(y, s)
            lo, hi = boot(y, s, roc_auc, n_boot=N_BOOT, seed=0, groups=g)
            sfn = stratified_auc_fn(roc_auc, sub.fold.to_numpy())
            try:
                sauc = sfn(y, s)
                slo, shi = strat_interval(y, s, g, sub.fold.to_numpy(), sfn)
            except Exception:  # noqa: BLE001 - no fold with both classes: the stratified AUC is undefined
                sauc = slo = shi = float("nan")
            rows.append({"variant": variant_name(variant), "detector": name, "condition": cond, "auc": auc,
                         "ci_low": lo, "ci_high": hi, "auc_within_fold": sauc, "wf_ci_low": slo, "wf_ci_high": shi,
                         "n_real": int((y == 0).sum()), "n_fake": int((y == 1).sum()),
                         "n_identities": len(set(g)), "folds": int(sub.fold.nunique()),
                         "complete": folds_complete,
                         "train_s": float(sub.groupby("fold").train_s.first().sum()) if "train_s" in sub else np.nan})
    return pd.DataFrame(rows)


def markdown(table: pd.DataFrame, within_fold: bool = False) -> str:
    def cell(r):
        v, lo, hi = (r.auc_within_fold, r.wf_ci_low, r.wf_ci_high) if within_fold else (r.auc, r.ci_low, r.ci_high)
        if not np.isfinite(v):
            return "n/a"
        ci = "" if not np.isfinite(lo) else f" [{lo:.2f}, {hi:.2f}]"
        return f"{v:.3f}{ci}"

    gens = sorted({c.split("=", 1)[1] for c in table.condition if c.startswith("generator=")})
    head = ["detector", "all"] + gens + [f"fold {k}" for k in range(K)]
    lines = ["| " + " | ".join(head) + " |", "|" + " --- |" * len(head)]
    for name, t in table.groupby("detector", sort=False):
        by = {r.condition: r for r in t.itertuples()}
        cells = [name + ("" if t.complete.all() else " (incomplete)")]
        cells.append(cell(by["all"]) if "all" in by else "n/a")
        cells += [cell(by[f"generator={g}"]) if f"generator={g}" in by else "n/a" for g in gens]
        cells += [f"{by[f'fold={k}'].auc:.2f}" if f"fold={k}" in by else "n/a" for k in range(K)]
        lines.append("| " + " | ".join(cells) + " |")
    if len(table):
        a = table[table.condition == "all"].iloc[0]
        lines.append("")
        lines.append(f"n per detector (all): {a.n_real} real + {a.n_fake} fake segments, {a.n_identities} identities; "
                     "per-generator columns: all real segments + that generator's; 95% intervals: "
                     f"{N_BOOT} bootstrap resamples of identities.")
    return "\n".join(lines)


def report(variant: str, detectors: list[str], with_shortcuts: bool = False) -> pd.DataFrame:
    pred = collect(variant, detectors)
    if with_shortcuts:
        pred = pd.concat([pred, shortcuts(variant)], ignore_index=True)
    table = score_table(pred, variant)
    out = OUT / "results" / variant_name(variant)
    out.mkdir(parents=True, exist_ok=True)
    table.to_csv(out / "scores.csv", index=False)
    md = ("Pooled over the folds (as the protocol asks):\n\n" + markdown(table)
          + "\n\nWithin-fold pairs only (fake and real scored by the same fold's model):\n\n"
          + markdown(table, within_fold=True))
    (out / "scores.md").write_text(md + "\n")
    print(md)
    return table


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0], formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("command", choices=["prepare", "build", "folds", "verify", "run", "report", "shortcuts"])
    ap.add_argument("--corpus-variant", default="full",
                    help="full, full-crf, nosbi, sbionly, old, lipsync, a spec YAML; VARIANT~G1+G2 drops generators "
                         "G1, G2 from its training rows (same splits)")
    ap.add_argument("--detectors", default=",".join(DEFAULT_DETECTORS), help="comma-separated registered names")
    ap.add_argument("--folds", default=",".join(str(k) for k in range(K)))
    ap.add_argument("--jobs", type=int, default=1, help="corpus build processes")
    a = ap.parse_args(argv)
    dets = [d for d in a.detectors.split(",") if d]
    if a.command == "prepare":
        prepare()
    elif a.command == "build":
        build(a.corpus_variant, a.jobs)
    elif a.command == "folds":
        prepare_folds(a.corpus_variant, rebuild=True)
    elif a.command == "verify":
        return 0 if all([verify_fold(a.corpus_variant, int(k)) for k in a.folds.split(",")]) else 1
    elif a.command == "run":
        base = split_variant(a.corpus_variant)[0]
        if not (HOME / "corpora" / variant_name(base) / "manifest.parquet").is_file():
            build(base, a.jobs)
        run(a.corpus_variant, dets, [int(k) for k in a.folds.split(",")])
        report(a.corpus_variant, dets)
    elif a.command == "report":
        report(a.corpus_variant, dets)
    elif a.command == "shortcuts":
        report(a.corpus_variant, [], with_shortcuts=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
