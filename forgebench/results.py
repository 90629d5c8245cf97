"""The tidy results table: every number a run reports, one row each.

Detector evaluation, corpus metrics and leaderboards write rows of this table;
Markdown, LaTeX and HTML reports read only it. One row per (protocol, version,
config hash, detector or generator, metric, split, seed, condition), with the
value, its 95% interval, the sample size and the metric's direction.

``condition`` names what the row is conditioned on: ``"clean"``, a
perturbation and level such as ``"jpeg:3"``, or a cross-generator cell such as
``"train=procedural|test=diffusion"``. ``subject`` is what was scored: a detector
name for detection metrics, a generator name for generation metrics.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from forgebench.atomic import atomic_output
from forgebench.errors import InputError

RESULT_COLUMNS: dict[str, str] = {
    "protocol": "string",
    "protocol_version": "string",
    "config_hash": "string",
    "task": "string",  # "detection", "generation", "attribution", "provenance"
    "subject": "string",  # detector or generator name
    "metric": "string",
    "split": "string",
    "seed": "int64",
    "condition": "string",
    "value": "float64",
    "ci_low": "float64",
    "ci_high": "float64",
    "n": "int64",
    "higher_is_better": "bool",
    "status": "string",  # "ok" or "unavailable"
    "note": "string",  # why unavailable, or the fix command
}


def results_frame(rows: list[dict]) -> pd.DataFrame:
    """Build a results table from row dicts; missing optional fields get neutral defaults."""
    defaults = {"protocol": "", "protocol_version": "", "config_hash": "", "task": "", "split": "test", "seed": 0,
                "condition": "clean", "ci_low": float("nan"), "ci_high": float("nan"), "n": 0, "status": "ok",
                "note": ""}
    filled = [{**defaults, **row} for row in rows]
    df = pd.DataFrame(filled, columns=list(RESULT_COLUMNS))
    return validate_results(df)


def validate_results(df: pd.DataFrame, source: str = "results") -> pd.DataFrame:
    missing = [c for c in RESULT_COLUMNS if c not in df.columns]
    if missing:
        raise InputError(f"{source} lacks the columns {', '.join(missing)}: see forgebench.results")
    try:
        return df[list(RESULT_COLUMNS)].astype(RESULT_COLUMNS)
    except (ValueError, TypeError) as exc:
        raise InputError(f"{source} has a column of the wrong type ({exc})") from None


def write_results(df: pd.DataFrame, path: str | Path) -> Path:
    """Write CSV or Parquet (by suffix) atomically."""
    df = validate_results(df, str(path))
    path = Path(path)
    with atomic_output(path) as tmp:
        if path.suffix == ".parquet":
            df.to_parquet(tmp, index=False)
        else:
            df.to_csv(tmp, index=False)
    return path


def read_results(path: str | Path) -> pd.DataFrame:
    path = Path(path)
    if not path.is_file():
        raise InputError(f"no results table at {str(path)!r}")
    df = pd.read_parquet(path) if path.suffix == ".parquet" else pd.read_csv(path, keep_default_na=False,
                                                                               na_values=["", "nan", "NaN"])
    for col in ("note", "condition", "protocol", "protocol_version", "config_hash", "task", "status"):
        if col in df.columns:
            df[col] = df[col].fillna("")
    return validate_results(df, str(path))
