"""Checking what a participant sends: names, the method line and the predictions table.

The command line (``leaderboard submit``) and the server (``POST .../submissions``)
both call :func:`parse_predictions` on the file's bytes and :func:`match_labels`
against the board, so a file is accepted or refused, with the same one-line
message, whichever way it arrives. Nothing here touches the store.

>>> parse_predictions(b"clip_id,score\\na,0.25\\nb,1\\n", "p.csv")["score"].tolist()
[0.25, 1.0]
"""

from __future__ import annotations

import io
import re
from pathlib import Path

import numpy as np
import pandas as pd

from forgebench.errors import InputError

MAX_SUBMISSION_BYTES = 50 * 1024 * 1024
MAX_METHOD_CHARS = 300
BOARD_NAME = re.compile(r"^[a-z0-9][a-z0-9_-]{0,63}$")
TEAM_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9 _.+-]{0,63}$")
PARQUET_MAGIC = b"PAR1"


def check_board_name(name: str) -> str:
    if not isinstance(name, str) or not BOARD_NAME.fullmatch(name):
        raise InputError(f"board name {str(name)[:80]!r} is not allowed: use 1-64 lowercase letters, digits, "
                         "'-' or '_'")
    return name


def check_team_name(name: str) -> str:
    if not isinstance(name, str) or not TEAM_NAME.fullmatch(name) or ".." in name:
        raise InputError(f"team name {str(name)[:80]!r} is not allowed: use 1-64 letters, digits, spaces or "
                         "'_.+-', starting with a letter or digit")
    return name


def check_method(method: str) -> str:
    """The method's one-line description, stripped; printable text only, at most 300 characters."""
    text = (method or "").strip()
    if not text:
        raise InputError("describe the method in one line (--method, or the 'method' form field)")
    if len(text) > MAX_METHOD_CHARS:
        raise InputError(f"the method description has {len(text)} characters: keep it to {MAX_METHOD_CHARS}")
    if not text.isprintable():
        raise InputError("the method description must be one line of printable text (no control characters)")
    return text


def parse_predictions(data: bytes, name: str, n_clips: int | None = None) -> pd.DataFrame:
    """A submission's bytes -> ``clip_id`` (str), ``score`` (float64 in [0, 1]), each clip once.

    ``name`` is the file name: ``.parquet`` or ``.csv`` choose the reader; a name
    without a suffix is read as Parquet when it starts with Parquet's magic bytes,
    else as CSV. With the board's ``n_clips``, a table of more than twice as many
    rows is refused before it is read whole (a Parquet file by its metadata,
    before anything is decompressed: a small file can expand a thousandfold).
    """
    max_rows = None if n_clips is None else 2 * n_clips + 100
    suffix = Path(name).suffix.lower()
    if suffix not in (".csv", ".parquet", ""):
        raise InputError(f"{name}: predictions must be .csv or .parquet")
    parquet = suffix == ".parquet" or (not suffix and data[:4] == PARQUET_MAGIC)
    try:
        if parquet:
            import pyarrow.parquet as pq

            meta = pq.ParquetFile(io.BytesIO(data)).metadata
            if max_rows is not None and meta.num_rows > max_rows:
                raise InputError(f"{name} has {meta.num_rows} rows but the board has {n_clips} clips: one row "
                                 "per clip")
            if meta.num_columns != 2:
                raise InputError(f"{name} has {meta.num_columns} columns: it must have exactly clip_id and score")
            df = pd.read_parquet(io.BytesIO(data))
        else:
            df = pd.read_csv(io.BytesIO(data), dtype={"clip_id": str}, nrows=None if max_rows is None
                             else max_rows + 1)
    except InputError:
        raise
    except Exception as exc:  # pandas/pyarrow raise many types for a malformed file
        raise InputError(f"{name} is not a readable table ({type(exc).__name__}): give CSV or Parquet "
                         "with columns clip_id,score") from None
    if sorted(map(str, df.columns)) != ["clip_id", "score"]:
        cols = [str(c)[:40] for c in df.columns[:6]]
        raise InputError(f"{name} has columns {cols}: it must have exactly clip_id and score")
    if max_rows is not None and len(df) > max_rows:
        raise InputError(f"{name} has over {max_rows} rows but the board has {n_clips} clips: one row per clip")
    if df.empty:
        raise InputError(f"{name} has no rows: score every clip in the board's clips.csv")
    score = pd.to_numeric(df["score"], errors="coerce").to_numpy(np.float64)
    ids = df["clip_id"].astype(str)
    if df["clip_id"].isna().any():
        raise InputError(f"{name}: a clip_id is empty (row {int(np.flatnonzero(df['clip_id'].isna())[0]) + 1})")
    if not np.isfinite(score).all():
        bad = ids[~np.isfinite(score)].iloc[0]
        raise InputError(f"{name}: score of clip {bad[:80]!r} is missing, NaN or not a number")
    if ((score < 0) | (score > 1)).any():
        bad = int(np.flatnonzero((score < 0) | (score > 1))[0])
        raise InputError(f"{name}: score {score[bad]} of clip {ids.iloc[bad][:80]!r} is outside [0, 1]; "
                         "submit the probability that the clip is fake")
    dup = ids[ids.duplicated()]
    if len(dup):
        raise InputError(f"{name}: clip {dup.iloc[0][:80]!r} appears more than once")
    return pd.DataFrame({"clip_id": ids.to_numpy(), "score": score})


def read_predictions(path: str | Path, max_bytes: int = MAX_SUBMISSION_BYTES,
                     n_clips: int | None = None) -> pd.DataFrame:
    """A submission file on disk: its size is checked before it is read, then :func:`parse_predictions`."""
    path = Path(path)
    if not path.is_file():
        raise InputError(f"no predictions file at {str(path)!r}")
    size = path.stat().st_size
    if size > max_bytes:
        raise InputError(f"{path.name} is {size / 2**20:.3g} MiB, over the {max_bytes / 2**20:.3g} MiB limit: "
                         "submit only clip_id and score")
    if path.suffix.lower() not in (".csv", ".parquet"):
        raise InputError(f"{path.name}: predictions must be .csv or .parquet")
    return parse_predictions(path.read_bytes(), path.name, n_clips)


def match_labels(preds: pd.DataFrame, labels: pd.Series, name: str = "submission") -> np.ndarray:
    """Labels [N] in the order of ``preds``; every board clip exactly once, nothing else."""
    known = preds["clip_id"].isin(labels.index)
    if not known.all():
        raise InputError(f"{name}: {int((~known).sum())} clip ids are not on this board, e.g. "
                         f"{preds['clip_id'][~known].iloc[0][:80]!r}")
    if len(preds) != len(labels):
        missing = labels.index.difference(preds["clip_id"])
        raise InputError(f"{name}: {len(missing)} board clips have no score, e.g. {missing[0]!r}; "
                         "score every clip in the board's clips.csv")
    return labels.loc[preds["clip_id"]].to_numpy(np.int64)
