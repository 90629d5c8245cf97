"""The corpus manifest: one row per clip, the record every stage after the corpus reads.

Columns (all required; :data:`COLUMNS` gives dtypes):

* ``clip_id`` — unique, stable id (content-addressed ids are fine).
* ``label`` — ``"real"`` or ``"fake"``; ``is_fake`` — 0 or 1, the same fact as an int.
* ``source_id`` — the identity (person) shown; splits are disjoint in it.
* ``audio_id`` — the speech used ("" for real clips with their own audio).
* ``generator`` — registered or external generator name ("" for real clips);
  ``config_hash`` — hash of its configuration; ``seed`` — its seed (-1 when none).
* ``perturbation`` — ``"none"`` or a registered perturbation; ``level`` — 0 for none, 1-5.
* ``split`` — ``"train"``, ``"val"`` or ``"test"``.
* ``path`` — the video, relative to the manifest's folder (or absolute for external datasets).
* ``duration`` — seconds; ``content_sha256`` — hash of the file's bytes.
* ``dataset`` — ``"forgebench"`` or the adapter that found the clip.
* ``status`` — ``"ok"`` or ``"failed"``; ``reason`` — why it failed ("" when ok).

Identity, split and label always come from these columns, never from path segments.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from forgebench.atomic import atomic_output
from forgebench.errors import InputError

COLUMNS: dict[str, str] = {
    "clip_id": "string",
    "label": "string",
    "is_fake": "int64",
    "source_id": "string",
    "audio_id": "string",
    "generator": "string",
    "config_hash": "string",
    "seed": "int64",
    "perturbation": "string",
    "level": "int64",
    "split": "string",
    "path": "string",
    "duration": "float64",
    "content_sha256": "string",
    "dataset": "string",
    "status": "string",
    "reason": "string",
}
LABELS = ("real", "fake")
SPLITS = ("train", "val", "test")
MANIFEST_NAME = "manifest.parquet"


def empty_manifest() -> pd.DataFrame:
    return pd.DataFrame({name: pd.Series(dtype=dtype) for name, dtype in COLUMNS.items()})


def validate_manifest(df: pd.DataFrame, source: str = "manifest") -> pd.DataFrame:
    """Check columns, values and uniqueness; return the frame with canonical dtypes (a copy)."""
    missing = [c for c in COLUMNS if c not in df.columns]
    if missing:
        raise InputError(f"{source} lacks the columns {', '.join(missing)}: see forgebench.manifest")
    df = df[list(COLUMNS) + [c for c in df.columns if c not in COLUMNS]].copy()
    try:
        df = df.astype(COLUMNS)
    except (ValueError, TypeError) as exc:
        raise InputError(f"{source} has a column of the wrong type ({exc})") from None
    dup = df["clip_id"][df["clip_id"].duplicated()]
    if len(dup):
        raise InputError(f"{source} has duplicate clip ids, e.g. {dup.iloc[0]!r}: clip ids must be unique")
    bad = ~df["label"].isin(LABELS)
    if bad.any():
        raise InputError(f"{source}: label must be 'real' or 'fake', found {df['label'][bad].iloc[0]!r}")
    if not np.array_equal(df["is_fake"].to_numpy(), (df["label"] == "fake").astype("int64").to_numpy()):
        raise InputError(f"{source}: is_fake disagrees with label")
    bad = ~df["split"].isin(SPLITS)
    if bad.any():
        raise InputError(f"{source}: split must be train, val or test, found {df['split'][bad].iloc[0]!r}")
    shared = identities_in_several_splits(df)
    if shared:
        raise InputError(f"{source}: identity {shared[0]!r} appears in more than one split; splits must be "
                         "identity-disjoint")
    return df


def identities_in_several_splits(df: pd.DataFrame) -> list[str]:
    counts = df.groupby("source_id")["split"].nunique()
    return sorted(counts[counts > 1].index.astype(str))


def write_manifest(df: pd.DataFrame, path: str | Path) -> Path:
    """Validate and write atomically (Parquet)."""
    df = validate_manifest(df, str(path))
    with atomic_output(path) as tmp:
        df.to_parquet(tmp, index=False)
    return Path(path)


def read_manifest(path: str | Path) -> pd.DataFrame:
    """Read and validate a manifest (a file, or a run folder holding ``manifest.parquet``)."""
    path = Path(path)
    if path.is_dir():
        path = path / MANIFEST_NAME
    if not path.is_file():
        raise InputError(f"no manifest at {str(path)!r}: build one with 'forgebench corpus build SPEC -o RUN_DIR'")
    try:
        df = pd.read_parquet(path)
    except Exception as exc:  # pyarrow raises many types for a bad file
        raise InputError(f"{str(path)!r} is not a readable Parquet manifest ({type(exc).__name__})") from None
    return validate_manifest(df, str(path))


def resolve_path(manifest_path: str | Path, clip_path: str) -> Path:
    """A clip's file: relative paths are relative to the manifest's folder."""
    p = Path(clip_path)
    base = Path(manifest_path)
    base = base if base.is_dir() else base.parent
    return p if p.is_absolute() else base / p
