"""Leaderboards: a test set whose labels only the host holds, scored submissions in a SQLite store.

A store is a folder (default ``$FORGEBENCH_HOME/leaderboards``) holding one
SQLite database, ``store.sqlite``, and each board's public clip list under
``boards/<board>/clips.csv``. The labels live only in the database.

Every write is one transaction in WAL mode (readers never block the writer,
writers queue on a busy timeout), so concurrent submissions lose nothing; an
identical file resubmitted by the same team is refused, so none is duplicated.
Every check on a submission (size, columns, clip ids, scores) runs before the
first write: a bad submission leaves the board as it was.

>>> # init_board(store, "demo", manifest) -> public clip list; submit(store, "demo", "preds.csv", team="t", method="m")
"""

from __future__ import annotations

import contextlib
import datetime as dt
import hashlib
import re
import sqlite3
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from forgebench.atomic import atomic_output
from forgebench.errors import InputError
from forgebench.reports.scoring import METRICS, PRIMARY, evaluate_scores

DB_NAME = "store.sqlite"
MAX_SUBMISSION_BYTES = 50 * 1024 * 1024
BOARD_NAME = re.compile(r"^[a-z0-9][a-z0-9_-]{0,63}$")
TEAM_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9 _.+-]{0,63}$")
SCHEMA = """
CREATE TABLE IF NOT EXISTS boards (name TEXT PRIMARY KEY, created TEXT NOT NULL, n_clips INTEGER NOT NULL,
    n_boot INTEGER NOT NULL, seed INTEGER NOT NULL, description TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS labels (board TEXT NOT NULL REFERENCES boards(name), clip_id TEXT NOT NULL,
    label INTEGER NOT NULL CHECK (label IN (0, 1)), PRIMARY KEY (board, clip_id));
CREATE TABLE IF NOT EXISTS submissions (id INTEGER PRIMARY KEY AUTOINCREMENT, board TEXT NOT NULL
    REFERENCES boards(name), team TEXT NOT NULL, method TEXT NOT NULL, submitted TEXT NOT NULL,
    sha256 TEXT NOT NULL, n INTEGER NOT NULL, status TEXT NOT NULL, UNIQUE (board, team, sha256));
CREATE TABLE IF NOT EXISTS predictions (submission INTEGER NOT NULL REFERENCES submissions(id),
    clip_id TEXT NOT NULL, score REAL NOT NULL, PRIMARY KEY (submission, clip_id));
CREATE TABLE IF NOT EXISTS scores (submission INTEGER NOT NULL REFERENCES submissions(id), metric TEXT NOT NULL,
    value REAL, ci_low REAL, ci_high REAL, higher_is_better INTEGER NOT NULL, PRIMARY KEY (submission, metric));
"""


def default_store() -> Path:
    import os

    return Path(os.environ.get("FORGEBENCH_HOME", Path.home() / ".cache" / "forgebench")) / "leaderboards"


def check_board_name(name: str) -> str:
    if not BOARD_NAME.match(name or ""):
        raise InputError(f"board name {name!r} is not allowed: use 1-64 lowercase letters, digits, '-' or '_'")
    return name


def check_team_name(name: str) -> str:
    if not TEAM_NAME.match(name or "") or ".." in name:
        raise InputError(f"team name {name!r} is not allowed: use 1-64 letters, digits, spaces or '_.+-', "
                         "starting with a letter or digit")
    return name


@contextlib.contextmanager
def connect(store: str | Path, create: bool = False) -> Iterator[sqlite3.Connection]:
    """A connection to the store's database in WAL mode; ``create`` makes the store if missing."""
    store = Path(store)
    db = store / DB_NAME
    if not db.is_file():
        if not create:
            raise InputError(f"no leaderboard store at {str(store)!r}: create a board with "
                             "'forgebench leaderboard init BOARD --manifest M --store DIR'")
        store.mkdir(parents=True, exist_ok=True)
    # isolation_level=None: we issue BEGIN IMMEDIATE ourselves, so a writer takes the lock before reading.
    con = sqlite3.connect(db, timeout=120.0, isolation_level=None)
    try:
        con.execute("PRAGMA journal_mode=WAL")
        con.execute("PRAGMA foreign_keys=ON")
        con.execute("PRAGMA busy_timeout=120000")
        if create:
            con.executescript(SCHEMA)
        yield con
    finally:
        con.close()


@contextlib.contextmanager
def transaction(con: sqlite3.Connection) -> Iterator[sqlite3.Connection]:
    con.execute("BEGIN IMMEDIATE")
    try:
        yield con
    except BaseException:
        con.execute("ROLLBACK")
        raise
    con.execute("COMMIT")


def _read_labels(path: str | Path, split: str | None) -> pd.DataFrame:
    """``clip_id`` + ``label`` (0/1) from a forgebench manifest (Parquet or run folder) or a CSV."""
    path = Path(path)
    if path.is_dir() or path.suffix == ".parquet":
        from forgebench.manifest import read_manifest

        df = read_manifest(path)
        df = df[df["status"] == "ok"]
        if split:
            df = df[df["split"] == split]
        return pd.DataFrame({"clip_id": df["clip_id"].astype(str), "label": df["is_fake"].astype(int)})
    if not path.is_file():
        raise InputError(f"no manifest at {str(path)!r}: give a manifest.parquet or a CSV with clip_id,label")
    df = pd.read_csv(path, dtype={"clip_id": str})
    if "clip_id" not in df or not ({"label", "is_fake"} & set(df.columns)):
        raise InputError(f"{str(path)!r} needs the columns clip_id and label (real/fake or 0/1)")
    if split and "split" in df:
        df = df[df["split"] == split]
    lab = df["is_fake"] if "is_fake" in df else df["label"].map({"real": 0, "fake": 1, 0: 0, 1: 1, "0": 0, "1": 1})
    if lab.isna().any():
        raise InputError(f"{str(path)!r}: labels must be real/fake or 0/1")
    return pd.DataFrame({"clip_id": df["clip_id"], "label": lab.astype(int)})


def init_board(store: str | Path, board: str, manifest: str | Path, split: str | None = "test",
               n_boot: int = 1000, seed: int = 0, description: str = "") -> Path:
    """Create ``board`` from the labelled clips of ``manifest``; return the public clip list's path."""
    check_board_name(board)
    labels = _read_labels(manifest, split)
    if labels.empty:
        raise InputError(f"{str(manifest)!r} has no usable clips{f' in split {split!r}' if split else ''}")
    if labels["clip_id"].duplicated().any():
        raise InputError(f"{str(manifest)!r} has duplicate clip ids")
    if labels["label"].nunique() < 2:
        raise InputError("a board needs both real and fake clips to score AUC")
    public = Path(store) / "boards" / board / "clips.csv"
    with connect(store, create=True) as con, transaction(con):
        if con.execute("SELECT 1 FROM boards WHERE name=?", (board,)).fetchone():
            raise InputError(f"board {board!r} already exists in {str(store)!r}: choose another name")
        con.execute("INSERT INTO boards VALUES (?, ?, ?, ?, ?, ?)", (board, _now(), len(labels), n_boot, seed,
                                                                    description))
        con.executemany("INSERT INTO labels VALUES (?, ?, ?)",
                        [(board, c, int(v)) for c, v in zip(labels["clip_id"], labels["label"])])
        # The public list is written inside the transaction: if it fails, the board is rolled back.
        public.parent.mkdir(parents=True, exist_ok=True)
        with atomic_output(public) as tmp:
            labels[["clip_id"]].sort_values("clip_id").to_csv(tmp, index=False)
    return public


def _now() -> str:
    return dt.datetime.now(dt.UTC).isoformat(timespec="milliseconds")


def read_predictions(path: str | Path, max_bytes: int = MAX_SUBMISSION_BYTES) -> pd.DataFrame:
    """Read a submission (CSV or Parquet with exactly the columns clip_id, score); checks size and values."""
    path = Path(path)
    if not path.is_file():
        raise InputError(f"no predictions file at {str(path)!r}")
    size = path.stat().st_size
    if size > max_bytes:
        raise InputError(f"{path.name} is {size / 1e6:.1f} MB, over the {max_bytes / 1e6:.0f} MB limit: "
                         "submit only clip_id and score")
    try:
        if path.suffix.lower() == ".parquet":
            df = pd.read_parquet(path)
        elif path.suffix.lower() == ".csv":
            df = pd.read_csv(path, dtype={"clip_id": str})
        else:
            raise InputError(f"{path.name}: predictions must be .csv or .parquet")
    except InputError:
        raise
    except Exception as exc:  # pandas/pyarrow raise many types for a malformed file
        raise InputError(f"{path.name} is not a readable table ({type(exc).__name__}): give CSV or Parquet "
                         "with columns clip_id,score") from None
    if sorted(df.columns) != ["clip_id", "score"]:
        raise InputError(f"{path.name} has columns {list(df.columns)}: it must have exactly clip_id and score")
    score = pd.to_numeric(df["score"], errors="coerce").to_numpy(np.float64)
    if not np.isfinite(score).all():
        bad = df["clip_id"][~np.isfinite(score)].iloc[0]
        raise InputError(f"{path.name}: score of clip {bad!r} is missing, NaN or not a number")
    if ((score < 0) | (score > 1)).any():
        bad = int(np.flatnonzero((score < 0) | (score > 1))[0])
        raise InputError(f"{path.name}: score {score[bad]} of clip {df['clip_id'].iloc[bad]!r} is outside [0, 1]; "
                         "submit the probability that the clip is fake")
    ids = df["clip_id"].astype(str)
    dup = ids[ids.duplicated()]
    if len(dup):
        raise InputError(f"{path.name}: clip {dup.iloc[0]!r} appears more than once")
    return pd.DataFrame({"clip_id": ids.to_numpy(), "score": score})


@dataclass(frozen=True)
class Submission:
    id: int
    board: str
    team: str
    method: str
    submitted: str
    n: int
    scores: dict


def _labels(con: sqlite3.Connection, board: str) -> pd.Series:
    check_board_name(board)
    row = con.execute("SELECT n_boot, seed FROM boards WHERE name=?", (board,)).fetchone()
    if row is None:
        raise InputError(f"no board {board!r} in this store: see 'forgebench leaderboard init --help'")
    rows = con.execute("SELECT clip_id, label FROM labels WHERE board=?", (board,)).fetchall()
    return pd.Series({c: v for c, v in rows}, name="label")


def _board_settings(con: sqlite3.Connection, board: str) -> tuple[int, int]:
    return tuple(con.execute("SELECT n_boot, seed FROM boards WHERE name=?", (board,)).fetchone())


def match_labels(preds: pd.DataFrame, labels: pd.Series, name: str = "submission") -> np.ndarray:
    """Labels in the order of ``preds``; every board clip exactly once, nothing else."""
    known = preds["clip_id"].isin(labels.index)
    if not known.all():
        raise InputError(f"{name}: {int((~known).sum())} clip ids are not on this board, e.g. "
                         f"{preds['clip_id'][~known].iloc[0]!r}")
    if len(preds) != len(labels):
        missing = labels.index.difference(preds["clip_id"])
        raise InputError(f"{name}: {len(missing)} board clips have no score, e.g. {missing[0]!r}; "
                         "score every clip in the board's clips.csv")
    return labels.loc[preds["clip_id"]].to_numpy(np.int64)


def submit(store: str | Path, board: str, predictions: str | Path, team: str, method: str,
           max_bytes: int = MAX_SUBMISSION_BYTES, score: bool = True) -> Submission:
    """Check, score and store one submission in a single transaction; returns it with its scores."""
    check_team_name(team)
    if not method.strip():
        raise InputError("describe the method with --method (one line)")
    preds = read_predictions(predictions, max_bytes)
    digest = hashlib.sha256(preds.to_csv(index=False).encode()).hexdigest()
    with connect(store) as con:
        labels = _labels(con, board)
        y = match_labels(preds, labels, Path(predictions).name)
        n_boot, seed = _board_settings(con, board)
        # Scoring is read-only and slow: do it before taking the write lock.
        result = evaluate_scores(y, preds["score"].to_numpy(), n_boot=n_boot, seed=seed) if score else {}
        with transaction(con):
            prior = con.execute("SELECT id FROM submissions WHERE board=? AND team=? AND sha256=?",
                                (board, team, digest)).fetchone()
            if prior:
                raise InputError(f"team {team!r} already submitted these predictions to {board!r} "
                                 f"(submission #{prior[0]}); nothing was added")
            cur = con.execute("INSERT INTO submissions (board, team, method, submitted, sha256, n, status) "
                              "VALUES (?, ?, ?, ?, ?, ?, ?)", (board, team, method.strip(), _now(), digest,
                                                               len(preds), "scored" if score else "pending"))
            sid = int(cur.lastrowid)
            con.executemany("INSERT INTO predictions VALUES (?, ?, ?)",
                            [(sid, c, float(s)) for c, s in zip(preds["clip_id"], preds["score"])])
            _store_scores(con, sid, result)
    return Submission(sid, board, team, method.strip(), "", len(preds), result)


def _store_scores(con: sqlite3.Connection, sid: int, result: dict) -> None:
    con.executemany("INSERT OR REPLACE INTO scores VALUES (?, ?, ?, ?, ?, ?)",
                    [(sid, k, v.value, v.ci_low, v.ci_high, int(v.higher_is_better)) for k, v in result.items()])


def score_board(store: str | Path, board: str, rescore: bool = False) -> int:
    """Score the board's pending submissions (all of them with ``rescore``); returns how many were scored."""
    with connect(store) as con:
        labels = _labels(con, board)
        n_boot, seed = _board_settings(con, board)
        where = "" if rescore else " AND status != 'scored'"
        ids = [r[0] for r in con.execute(f"SELECT id FROM submissions WHERE board=?{where}", (board,))]
        for sid in ids:
            preds = submission_predictions(con, sid)
            y = labels.loc[preds["clip_id"]].to_numpy(np.int64)
            result = evaluate_scores(y, preds["score"].to_numpy(), n_boot=n_boot, seed=seed)
            with transaction(con):
                _store_scores(con, sid, result)
                con.execute("UPDATE submissions SET status='scored' WHERE id=?", (sid,))
    return len(ids)


def submission_predictions(con: sqlite3.Connection, sid: int) -> pd.DataFrame:
    rows = con.execute("SELECT clip_id, score FROM predictions WHERE submission=? ORDER BY clip_id", (sid,))
    return pd.DataFrame(rows.fetchall(), columns=["clip_id", "score"])


def standings(store: str | Path, board: str, best_per_team: bool = True) -> tuple[pd.DataFrame, pd.Series]:
    """Scored submissions ranked by the primary metric (AUC), best first; and the board's labels.

    Columns: rank, id, team, method, submitted, n, and per metric ``<m>``, ``<m>_ci_low``, ``<m>_ci_high``.
    Ties in AUC keep the earlier submission first.
    """
    with connect(store) as con:
        labels = _labels(con, board)
        subs = pd.read_sql_query("SELECT id, team, method, submitted, n FROM submissions WHERE board=? AND "
                                 "status='scored' ORDER BY id", con, params=(board,))
        sc = pd.read_sql_query("SELECT s.submission AS id, s.metric, s.value, s.ci_low, s.ci_high FROM scores s "
                               "JOIN submissions u ON u.id = s.submission WHERE u.board=?", con, params=(board,))
    for m in METRICS:
        part = sc[sc["metric"] == m].set_index("id")
        for col, src in ((m, "value"), (f"{m}_ci_low", "ci_low"), (f"{m}_ci_high", "ci_high")):
            subs[col] = subs["id"].map(part[src])
    subs = subs.sort_values([PRIMARY, "id"], ascending=[False, True], kind="stable")
    if best_per_team:
        subs = subs.drop_duplicates("team", keep="first")
    subs.insert(0, "rank", np.arange(1, len(subs) + 1))
    return subs.reset_index(drop=True), labels
