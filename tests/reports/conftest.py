"""A small synthetic run folder: results table, predictions, manifest with tiny clips, run record."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from forgebench.results import results_frame, write_results


def synthetic_predictions(n: int = 120, seed: int = 0, strength: float = 1.5, detector: str = "det") -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    y = np.tile([0, 1], n // 2)
    rows = []
    for pert, levels in (("none", [0]), ("jpeg", [1, 3, 5])):
        for level in levels:
            logit = (2 * y - 1) * strength * (1 - 0.15 * level) + rng.normal(size=y.size)
            rows.append(pd.DataFrame({"clip_id": [f"c{i:03d}-{pert}{level}" for i in range(y.size)], "split": "test",
                                      "label": y, "score": 1 / (1 + np.exp(-logit)), "perturbation": pert,
                                      "level": level, "detector": detector,
                                      "generator": np.where(y == 1, "procedural", "")}))
    return pd.concat(rows, ignore_index=True)


def make_run(root: Path, name: str = "run-a", failed: bool = False, clips: bool = True) -> Path:
    run = root / name
    (run / "predictions").mkdir(parents=True)
    rows = []
    for det, strength in (("xception_like", 1.8), ("motion_svm", 0.9)):
        p = synthetic_predictions(strength=strength, detector=det, seed=len(det))
        p.to_parquet(run / "predictions" / f"{det}.parquet", index=False)
        clean = p[p["perturbation"] == "none"]
        from forgebench.leaderboards.scoring import evaluate_scores

        for m, s in evaluate_scores(clean["label"], clean["score"], n_boot=50).items():
            rows.append(dict(task="detection", subject=det, metric=m, value=s.value, ci_low=s.ci_low,
                             ci_high=s.ci_high, n=len(clean), higher_is_better=s.higher_is_better))
        for tr, te, v in (("procedural", "procedural", 0.97), ("procedural", "diffusion", 0.71),
                          ("diffusion", "procedural", 0.66), ("diffusion", "diffusion", 0.95)):
            rows.append(dict(task="detection", subject=det, metric="auc", value=v - (0.1 if det == "motion_svm" else 0),
                             condition=f"train={tr}|test={te}", higher_is_better=True))
    rows.append(dict(task="generation", subject="procedural", metric="lse_c", value=float("nan"),
                     status="unavailable", note="SyncNet weights missing: forgebench weights fetch syncnet",
                     higher_is_better=True))
    rows.append(dict(task="generation", subject="procedural", metric="pose_fd", value=3.2, ci_low=2.9, ci_high=3.6,
                     higher_is_better=False))
    write_results(results_frame(rows), run / "results.csv")
    record = {"spec": {"name": "synthetic", "version": 1}, "git_hash": "0123456789abcdef", "seeds": [0],
              "packages": {"forgebench": "0.1.0", "numpy": np.__version__},
              "weights": {"xception_like": "sha256:ab12"}, "timings": {"corpus": 1.5, "evaluate": 0.4},
              "stages": {"corpus": "done", "metrics": "failed: SyncNet weights missing", "evaluate": "done"}
              if failed else {"corpus": "done", "metrics": "done", "evaluate": "done"}}
    (run / "run.json").write_text(json.dumps(record))
    if clips:
        _clips(run)
    return run


def _clips(run: Path) -> None:
    from forgebench.manifest import COLUMNS, write_manifest
    from forgebench.media.video import write_video

    (run / "clips").mkdir()
    rows = []
    for i, (label, gen) in enumerate((("real", ""), ("fake", "procedural"), ("fake", "diffusion"))):
        t = np.linspace(0, 1, 8)[:, None, None]
        base = np.zeros((8, 64, 64, 3))
        base[..., i] = 200 * t + 40
        frames = (base + np.arange(64)[None, None, :, None]).clip(0, 255).astype(np.uint8)
        write_video(run / "clips" / f"{i}.mp4", frames, fps=8)
        rows.append({"clip_id": f"k{i}", "label": label, "is_fake": int(label == "fake"), "source_id": f"s{i}",
                     "audio_id": "", "generator": gen, "config_hash": "", "seed": 0, "perturbation": "none",
                     "level": 0, "split": "test", "path": f"clips/{i}.mp4", "duration": 1.0, "content_sha256": "",
                     "dataset": "forgebench", "status": "ok", "reason": ""})
    write_manifest(pd.DataFrame(rows, columns=list(COLUMNS)), run / "manifest.parquet")


@pytest.fixture
def run_factory(tmp_path):
    return lambda **kw: make_run(tmp_path, **kw)
