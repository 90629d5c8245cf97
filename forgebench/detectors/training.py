"""Train, predict and cross-evaluate detectors on a corpus manifest's rows.

The split discipline lives here: ``fit`` receives the train and val clip sets only (clean
clips, i.e. perturbation ``none``); every prediction is made on clip sets that carry no
labels, and labels are joined back from the manifest afterwards, by the evaluation.

These functions take the manifest's rows (a frame validated by
:func:`forgebench.manifest.read_manifest`) and the manifest's path, against which
relative clip paths resolve; reading the file is the caller's job (the command line or the
benchmark runner), so detectors depend on the manifest record, not on how a run stores it.
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from forgebench.atomic import atomic_output
from forgebench.detectors.base import ClipSet, Detector, detector_registry
from forgebench.errors import InputError

PRED_COLUMNS = ["clip_id", "split", "label", "score", "generator", "perturbation", "level", "source_id", "dataset"]


def fit_sets(df: pd.DataFrame, manifest_path: str | Path, generator: str | None = None) -> tuple[ClipSet, ClipSet]:
    """Labelled train and val sets of clean, decodable clips (optionally: reals + fakes of one generator)."""
    sel = df[(df["perturbation"] == "none") & (df["status"] == "ok")]
    if generator is not None:
        sel = sel[(sel["is_fake"] == 0) | (sel["generator"] == generator)]
    return (ClipSet.from_manifest(sel, manifest_path, "train"), ClipSet.from_manifest(sel, manifest_path, "val"))


def build_detector(name: str, params: dict[str, Any], *, seed: int | None = None, epochs: int | None = None,
                   device: str | None = None) -> Detector:
    """Instantiate ``name``; seed/epochs/device are applied where the detector has those parameters."""
    cls = detector_registry.get(name)
    params = dict(params)
    for key, value in (("seed", seed), ("epochs", epochs), ("device", device)):
        if value is not None and key in cls.param_defaults:
            params[key] = value
        elif value is not None and key == "device" and value != "cpu":
            raise InputError(f"{name} runs on the CPU only (it has no device parameter)")
    return cls(**params)


def write_csv(df: pd.DataFrame, path: Path) -> None:
    with atomic_output(path) as tmp:
        df.to_csv(tmp, index=False)


def _rows(df: pd.DataFrame) -> pd.DataFrame:
    if not isinstance(df, pd.DataFrame):
        raise TypeError("pass the manifest's rows (forgebench.manifest.read_manifest(path)) and its path, "
                        f"not {type(df).__name__}")
    return df


def train_detector(name: str, df: pd.DataFrame, manifest: str | Path, out: str | Path, *,
                   params: dict[str, Any] | None = None, seed: int = 0, epochs: int | None = None,
                   device: str | None = None, cache_dir: Path | None = None, progress: bool = False,
                   generator: str | None = None
                   ) -> tuple[Detector, dict[str, Any]]:
    """Fit ``name`` on the train split of manifest rows ``df`` (selection on val), save it to ``out``.

    ``manifest`` is the manifest's path: relative clip paths resolve against its folder.

    Writes ``out/config.json``, ``out/weights.safetensors``, ``out/train_log.csv`` (losses per
    epoch) and ``out/train_info.json`` (seconds, clip counts, skipped clips).
    """
    det = build_detector(name, params or {}, seed=seed, epochs=epochs, device=device)
    train, val = fit_sets(_rows(df), manifest, generator)
    if cache_dir is not None:
        det.cache_dir = cache_dir
    det.progress = progress
    t0 = time.perf_counter()
    det.fit(train, val)
    seconds = time.perf_counter() - t0
    out = Path(out)
    det.save(out)
    write_csv(pd.DataFrame(det.log_), out / "train_log.csv")
    skipped = getattr(det, "fit_skipped_", [])
    info = {"detector": name, "seconds": seconds, "n_train": len(train), "n_val": len(val),
            "skipped": [{"clip_id": c, "reason": r} for c, r in skipped], "generator": generator or "all",
            "threshold": float(det.threshold_), "manifest": str(manifest)}
    with atomic_output(out / "train_info.json") as tmp:
        tmp.write_text(json.dumps(info, indent=2))
    return det, info


def predict_manifest(det: Detector, df: pd.DataFrame, manifest_path: str | Path, splits=("val", "test"),
                     frames: bool = True) -> tuple[pd.DataFrame, pd.DataFrame, list[tuple[str, str]]]:
    """Scores for every ok clip of ``splits``: (predictions, per-frame predictions, skipped clips).

    The detector sees label-free clip sets; labels come from the manifest afterwards.
    """
    usable = df[df["split"].isin(list(splits)) & (df["status"] == "ok")]
    if len(usable) == 0:
        raise InputError(f"the manifest has no usable clips (status ok) in split {' or '.join(splits)}: "
                         "nothing to score; check the corpus build log")
    pred_parts, frame_parts, skipped = [], [], []
    for split in splits:
        sel = df[(df["split"] == split) & (df["status"] == "ok")]
        if len(sel) == 0:
            continue  # reported by the caller (eval prints which requested splits are empty)
        clips = ClipSet.from_manifest(sel, manifest_path, split, with_labels=False)
        if frames and det.frame_based:
            per_frame = det.predict_frames(clips)
            scores = np.array([np.nan if np.isnan(f).all() else float(np.mean(f)) for f in per_frame])
            skipped += list(getattr(det, "skipped_", []))
            for cid, lab, f in zip(sel["clip_id"], sel["is_fake"], per_frame):
                if not np.isnan(f).all():
                    frame_parts.append(pd.DataFrame({"clip_id": cid, "split": split, "label": int(lab),
                                                     "frame": np.arange(len(f)), "score": f}))
        else:
            scores = det.predict_proba(clips)
            skipped += list(getattr(det, "skipped_", []))
        part = sel.assign(split=split, label=sel["is_fake"].astype(int), score=scores)
        pred_parts.append(part[[c for c in PRED_COLUMNS if c in part.columns]])
    pred = pd.concat(pred_parts, ignore_index=True) if pred_parts else pd.DataFrame(columns=PRED_COLUMNS)
    frames_df = pd.concat(frame_parts, ignore_index=True) if frame_parts else None
    return pred, frames_df, skipped


def cross_generator(name: str, df: pd.DataFrame, manifest: str | Path, out: str | Path, *,
                    params: dict[str, Any] | None = None,
                    seed: int = 0, epochs: int | None = None, device: str | None = None, n_boot: int = 1000,
                    cache_dir: Path | None = None, progress: bool = False) -> pd.DataFrame:
    """Train on each generator's fakes (+ all real train clips), test on each generator's test fakes
    (+ all real test clips). Rows have condition ``train=G|test=H``; returns the results table."""
    from forgebench.detectors.evaluation import score_rows
    from forgebench.results import results_frame

    df = _rows(df)
    gens = sorted(g for g in df.loc[df["is_fake"] == 1, "generator"].unique() if g)
    if len(gens) < 2:
        raise InputError(f"the manifest has {len(gens)} generator(s): a cross-generator matrix needs at least two")
    rows = []
    for g in gens:
        det, _ = train_detector(name, df, manifest, Path(out) / f"train={g}", params=params, seed=seed, epochs=epochs,
                                device=device, cache_dir=cache_dir, progress=progress, generator=g)
        pred, _, _ = predict_manifest(det, df[df["perturbation"] == "none"], manifest, ("test",), frames=False)
        pred = pred[np.isfinite(pred["score"])]
        for h in gens:
            sub = pred[(pred["label"] == 0) | (pred["generator"] == h)]
            rows += score_rows(sub["label"].to_numpy(), sub["score"].to_numpy(), subject=name, split="test",
                               condition=f"train={g}|test={h}", threshold=float(det.threshold_),
                               groups=sub["source_id"].to_numpy(), n_boot=n_boot, seed=seed)
    return results_frame(rows)
