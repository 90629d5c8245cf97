"""Detector evaluation: a predictions table -> rows of the results table.

The metrics themselves (AUC, AP, EER, log loss, ECE, bootstrap intervals by identity) are
plain functions in :mod:`forgebench.metrics.detection`, shared with leaderboards; this module
assembles them for detectors: :func:`score_rows` scores one set of clips with every metric and
its interval, and :func:`evaluate_predictions` does so for each split, the clean condition, each
generator, and each perturbation:level.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pandas as pd

from forgebench.errors import InputError
from forgebench.metrics.detection import (
    HIGHER_IS_BETTER,
    accuracy,
    average_precision,
    bootstrap_interval,
    ece,
    eer,
    log_loss,
    roc_auc,
)


def metric_functions(threshold: float) -> dict[str, Callable[[np.ndarray, np.ndarray], float]]:
    return {"auc": roc_auc, "ap": average_precision, "eer": eer, "acc@0.5": accuracy,
            "acc@val": lambda y, s: accuracy(y, s, threshold), "log_loss": log_loss, "ece": ece}


def score_rows(labels: np.ndarray, scores: np.ndarray, *, subject: str, split: str, condition: str,
               threshold: float, groups: np.ndarray | None = None, n_boot: int = 1000, seed: int = 0,
               extra: dict | None = None) -> list[dict]:
    """One results row per metric; undefined metrics (one class) become ``status='unavailable'`` rows."""
    rows = []
    base = {"task": "detection", "subject": subject, "split": split, "condition": condition, "seed": seed,
            **(extra or {})}
    for name, fn in metric_functions(threshold).items():
        row = {**base, "metric": name, "n": len(labels), "higher_is_better": HIGHER_IS_BETTER[name]}
        try:
            value = fn(labels, scores)
        except InputError as exc:
            rows.append({**row, "value": float("nan"), "status": "unavailable", "note": str(exc)})
            continue
        lo, hi = bootstrap_interval(labels, scores, fn, n_boot=n_boot, seed=seed, groups=groups)
        rows.append({**row, "value": value, "ci_low": lo, "ci_high": hi})
    return rows


def evaluate_predictions(pred: pd.DataFrame, *, subject: str, threshold: float, n_boot: int = 1000, seed: int = 0,
                         group_by_identity: bool = True, frames: pd.DataFrame | None = None,
                         extra: dict | None = None) -> pd.DataFrame:
    """Results table of a predictions table (columns clip_id, split, label, score; optional generator,
    perturbation, level, source_id).

    Conditions: ``clean`` (perturbation none), ``generator=G`` (all real clips + fakes of G, clean),
    and ``P:L`` for each perturbation and level. Real and fake clips must carry a perturbation
    alike: a condition where only one class was perturbed is reported unavailable with that reason
    (comparing perturbed fakes with clean reals would score the perturbation, not the detector).
    ``frames`` (clip_id, split, label, score per frame) adds a ``frame_auc`` row, resampled by video.
    """
    from forgebench.results import results_frame

    need = {"clip_id", "split", "label", "score"} - set(pred.columns)
    if need:
        raise InputError(f"predictions lack the columns {', '.join(sorted(need))}")
    if pred["score"].isna().any():
        raise InputError(f"{int(pred['score'].isna().sum())} predictions have NaN scores: drop the skipped clips "
                         "(listed in skipped.csv) before evaluating")
    pert = pred["perturbation"].astype(str) if "perturbation" in pred.columns else pd.Series("none", pred.index)
    level = pred["level"].astype(int) if "level" in pred.columns else pd.Series(0, pred.index)
    rows: list[dict] = []
    for split in [s for s in ("train", "val", "test") if s in set(pred["split"])]:
        in_split = pred["split"] == split
        conditions: list[tuple[str, pd.Series]] = [("clean", in_split & (pert == "none"))]
        if "generator" in pred.columns:
            gens = sorted(g for g in pred.loc[in_split & (pred["label"] == 1), "generator"].astype(str).unique() if g)
            if len(gens) > 1:
                for g in gens:
                    conditions.append((f"generator={g}", in_split & (pert == "none")
                                       & ((pred["label"] == 0) | (pred["generator"] == g))))
        for p_name, lv in sorted({(p, int(v)) for p, v in zip(pert[in_split], level[in_split]) if p != "none"}):
            conditions.append((f"{p_name}:{lv}", in_split & (pert == p_name) & (level == lv)))
        for cond, mask in conditions:
            sub = pred[mask]
            if len(sub) == 0:
                continue
            groups = sub["source_id"].to_numpy() if group_by_identity and "source_id" in sub.columns else None
            labels = sub["label"].to_numpy()
            if cond != "clean" and ":" in cond and len(np.unique(labels)) < 2:
                rows += [{"task": "detection", "subject": subject, "split": split, "condition": cond, "metric": m,
                          "value": float("nan"), "n": len(sub), "higher_is_better": HIGHER_IS_BETTER[m],
                          "status": "unavailable", "seed": seed, **(extra or {}),
                          "note": "only one class carries this perturbation: perturb real and fake clips alike"}
                         for m in metric_functions(threshold)]
                continue
            rows += score_rows(labels, sub["score"].to_numpy(), subject=subject, split=split, condition=cond,
                               threshold=threshold, groups=groups, n_boot=n_boot, seed=seed, extra=extra)
        if frames is not None and split in set(frames["split"]):
            fr = frames[frames["split"] == split]
            try:
                value = roc_auc(fr["label"].to_numpy(), fr["score"].to_numpy())
                lo, hi = bootstrap_interval(fr["label"].to_numpy(), fr["score"].to_numpy(), roc_auc, n_boot=n_boot,
                                            seed=seed, groups=fr["clip_id"].to_numpy())
                rows.append({"task": "detection", "subject": subject, "split": split, "condition": "clean",
                             "metric": "frame_auc", "value": value, "ci_low": lo, "ci_high": hi, "n": len(fr),
                             "higher_is_better": True, "seed": seed, **(extra or {})})
            except InputError as exc:
                rows.append({"task": "detection", "subject": subject, "split": split, "condition": "clean",
                             "metric": "frame_auc", "value": float("nan"), "n": len(fr), "higher_is_better": True,
                             "status": "unavailable", "note": str(exc), "seed": seed, **(extra or {})})
    return results_frame(rows)
