"""The leaderboard store: boards, their hidden labels, teams and scored submissions in one SQLite file.

A store is a folder (default ``$FORGEBENCH_HOME/leaderboards``) holding
``store.sqlite`` and each board's public clip list, ``boards/<board>/clips.csv``.
The labels live only in the database. Each board's clips are split once, at
``init``, into a *public* part (the live ranking) and a *private* part (the
final ranking), stratified by label and identity with the board's seed; the
clip list does not say which clip is in which part.

Every write is one transaction in WAL mode (readers never block the writer,
writers queue on a busy timeout), taken with ``BEGIN IMMEDIATE`` so that the
daily-limit count and the duplicate check read the same state the insert
writes: concurrent submissions from many processes lose nothing and duplicate
nothing. Every check on a submission runs before the first write, so a bad
submission leaves the board as it was; a commit is on disk (synchronous=FULL)
before any caller hears of it.

Nothing from a caller becomes SQL text or a path: values are bound parameters and
the board name, the one string that names a folder, must match
:data:`~forgebench.leaderboards.validation.BOARD_NAME`.

>>> # init_board(store, "demo", manifest) -> public clip list; submit(store, "demo", "preds.csv", team="t", method="m")
"""

from __future__ import annotations

import contextlib
import datetime as dt
import hashlib
import os
import sqlite3
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from forgebench.atomic import atomic_output
from forgebench.errors import InputError
from forgebench.leaderboards.scoring import METRICS, PRIMARY, Score, evaluate_scores
from forgebench.leaderboards.validation import (
    MAX_SUBMISSION_BYTES,
    check_board_name,
    check_method,
    check_team_name,
    match_labels,
    read_predictions,
)

DB_NAME = "store.sqlite"
SCHEMA_VERSION = 2
PARTS = ("public", "private")
SCHEMA = """
CREATE TABLE IF NOT EXISTS boards (name TEXT PRIMARY KEY, created TEXT NOT NULL, n_clips INTEGER NOT NULL,
    n_boot INTEGER NOT NULL, seed INTEGER NOT NULL, description TEXT NOT NULL,
    private_fraction REAL NOT NULL DEFAULT 0);
CREATE TABLE IF NOT EXISTS labels (board TEXT NOT NULL REFERENCES boards(name), clip_id TEXT NOT NULL,
    label INTEGER NOT NULL CHECK (label IN (0, 1)),
    part TEXT NOT NULL DEFAULT 'public' CHECK (part IN ('public', 'private')), PRIMARY KEY (board, clip_id));
CREATE TABLE IF NOT EXISTS teams (board TEXT NOT NULL REFERENCES boards(name), name TEXT NOT NULL,
    key_id TEXT NOT NULL UNIQUE, salt BLOB NOT NULL, hash BLOB NOT NULL, created TEXT NOT NULL, revoked TEXT,
    PRIMARY KEY (board, name));
CREATE TABLE IF NOT EXISTS submissions (id INTEGER PRIMARY KEY AUTOINCREMENT, board TEXT NOT NULL
    REFERENCES boards(name), team TEXT NOT NULL, method TEXT NOT NULL, submitted TEXT NOT NULL,
    sha256 TEXT NOT NULL, n INTEGER NOT NULL, status TEXT NOT NULL, UNIQUE (board, team, sha256));
CREATE INDEX IF NOT EXISTS submissions_by_day ON submissions (board, team, submitted);
CREATE TABLE IF NOT EXISTS predictions (submission INTEGER NOT NULL REFERENCES submissions(id),
    clip_id TEXT NOT NULL, score REAL NOT NULL, PRIMARY KEY (submission, clip_id));
CREATE TABLE IF NOT EXISTS scores (submission INTEGER NOT NULL REFERENCES submissions(id),
    part TEXT NOT NULL DEFAULT 'public', metric TEXT NOT NULL, value REAL, ci_low REAL, ci_high REAL,
    higher_is_better INTEGER NOT NULL, PRIMARY KEY (submission, part, metric));
"""
# Stores written before the public/private split (schema 1, user_version 0) are upgraded in place, in one
# transaction: their clips all become public (they were all ranked), their scores public scores.
MIGRATE_1_TO_2 = """
ALTER TABLE boards ADD COLUMN private_fraction REAL NOT NULL DEFAULT 0;
ALTER TABLE labels ADD COLUMN part TEXT NOT NULL DEFAULT 'public' CHECK (part IN ('public', 'private'));
ALTER TABLE scores RENAME TO scores_v1;
CREATE TABLE scores (submission INTEGER NOT NULL REFERENCES submissions(id),
    part TEXT NOT NULL DEFAULT 'public', metric TEXT NOT NULL, value REAL, ci_low REAL, ci_high REAL,
    higher_is_better INTEGER NOT NULL, PRIMARY KEY (submission, part, metric));
INSERT INTO scores SELECT submission, 'public', metric, value, ci_low, ci_high, higher_is_better FROM scores_v1;
DROP TABLE scores_v1;
"""


class UnknownBoardError(InputError):
    """The store has no board of that name (HTTP 404)."""


class DuplicateSubmissionError(InputError):
    """The team already submitted these exact predictions to the board (HTTP 409)."""


class DailyLimitError(InputError):
    """The team has used its submissions for the current UTC day (HTTP 429)."""


def default_store() -> Path:
    return Path(os.environ.get("FORGEBENCH_HOME", Path.home() / ".cache" / "forgebench")) / "leaderboards"


def now_utc() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def _iso(t: dt.datetime) -> str:
    return t.astimezone(dt.UTC).isoformat(timespec="milliseconds")


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
    con = sqlite3.connect(db, timeout=120.0, isolation_level=None, check_same_thread=False)
    try:
        con.execute("PRAGMA busy_timeout=120000")
        con.execute("PRAGMA journal_mode=WAL")
        con.execute("PRAGMA synchronous=FULL")  # a committed submission survives a crash of the machine too
        con.execute("PRAGMA foreign_keys=ON")
        _upgrade(con, create)
        yield con
    finally:
        con.close()


def _upgrade(con: sqlite3.Connection, create: bool) -> None:
    version = con.execute("PRAGMA user_version").fetchone()[0]
    if version == SCHEMA_VERSION:
        return
    if version > SCHEMA_VERSION:
        raise InputError(f"this leaderboard store was written by a newer forgebench (schema {version}): "
                         "upgrade forgebench to open it")
    with transaction(con):
        if con.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION:  # another process upgraded it
            return
        old = con.execute("SELECT 1 FROM sqlite_master WHERE type='table' AND name='boards'").fetchone()
        if old:
            for stmt in MIGRATE_1_TO_2.split(";"):
                if stmt.strip():
                    con.execute(stmt)
        elif not create:
            raise InputError("the leaderboard store is empty: create a board with 'forgebench leaderboard init'")
        for stmt in SCHEMA.split(";"):
            if stmt.strip():
                con.execute(stmt)
        con.execute(f"PRAGMA user_version={SCHEMA_VERSION:d}")


@contextlib.contextmanager
def transaction(con: sqlite3.Connection) -> Iterator[sqlite3.Connection]:
    con.execute("BEGIN IMMEDIATE")
    try:
        yield con
    except BaseException:
        con.execute("ROLLBACK")
        raise
    con.execute("COMMIT")


# --- boards -----------------------------------------------------------------------------------------------------

def _read_labels(path: str | Path, split: str | None) -> pd.DataFrame:
    """``clip_id``, ``label`` (0/1) and ``identity`` from a forgebench manifest (Parquet or run folder) or a CSV."""
    path = Path(path)
    if path.is_dir() or path.suffix == ".parquet":
        from forgebench.manifest import read_manifest

        df = read_manifest(path)
        df = df[df["status"] == "ok"]
        if split:
            df = df[df["split"] == split]
        return pd.DataFrame({"clip_id": df["clip_id"].astype(str), "label": df["is_fake"].astype(int),
                             "identity": df["source_id"].astype(str).fillna("")})
    if not path.is_file():
        raise InputError(f"no manifest at {str(path)!r}: give a manifest.parquet or a CSV with clip_id,label")
    df = pd.read_csv(path, dtype={"clip_id": str, "source_id": str, "identity": str})
    if "clip_id" not in df or not ({"label", "is_fake"} & set(df.columns)):
        raise InputError(f"{str(path)!r} needs the columns clip_id and label (real/fake or 0/1)")
    if split and "split" in df:
        df = df[df["split"] == split]
    lab = df["is_fake"] if "is_fake" in df else df["label"].map({"real": 0, "fake": 1, 0: 0, 1: 1, "0": 0, "1": 1})
    if lab.isna().any():
        raise InputError(f"{str(path)!r}: labels must be real/fake or 0/1")
    ident = next((df[c] for c in ("source_id", "identity") if c in df), pd.Series("", index=df.index))
    return pd.DataFrame({"clip_id": df["clip_id"], "label": lab.astype(int), "identity": ident.fillna("")})


def split_private(labels: pd.DataFrame, fraction: float, seed: int) -> np.ndarray:
    """Which clips are private [N] bool: ``fraction`` of the clips, stratified by label and identity.

    Clips are ordered by (label, identity, a seeded random key) and every
    1/fraction-th one is taken from a random offset (systematic sampling), so
    each (label, identity) stratum gets its share of private clips to within one
    clip, and the whole board gets round(N * fraction) give or take one.
    """
    n = len(labels)
    if fraction <= 0:
        return np.zeros(n, dtype=bool)
    rng = np.random.default_rng(seed)
    key = rng.random(n)
    order = np.lexsort((key, labels["identity"].astype(str).to_numpy(), labels["label"].to_numpy()))
    pos = np.arange(n)
    offset = rng.random()
    take = np.floor((pos + 1) * fraction + offset) > np.floor(pos * fraction + offset)
    private = np.zeros(n, dtype=bool)
    private[order] = take
    return private


def init_board(store: str | Path, board: str, manifest: str | Path, split: str | None = "test",
               n_boot: int = 1000, seed: int = 0, description: str = "", private_fraction: float = 0.5) -> Path:
    """Create ``board`` from the labelled clips of ``manifest``; return the public clip list's path."""
    check_board_name(board)
    if not 0 <= private_fraction < 1:
        raise InputError(f"--private-fraction {private_fraction} must be in [0, 1): the share of clips kept for "
                         "the final ranking")
    labels = _read_labels(manifest, split)
    if labels.empty:
        raise InputError(f"{str(manifest)!r} has no usable clips{f' in split {split!r}' if split else ''}")
    if labels["clip_id"].duplicated().any():
        raise InputError(f"{str(manifest)!r} has duplicate clip ids")
    private = split_private(labels, private_fraction, seed)
    for part, mask in (("public", ~private), ("private", private)):
        if (mask.any() or part == "public") and labels["label"][mask].nunique() < 2:
            raise InputError(f"the {part} part needs both real and fake clips to score AUC: give a manifest with "
                             "more clips of each label or change --private-fraction")
    public = Path(store) / "boards" / board / "clips.csv"
    with connect(store, create=True) as con, transaction(con):
        if con.execute("SELECT 1 FROM boards WHERE name=?", (board,)).fetchone():
            raise InputError(f"board {board!r} already exists in {str(store)!r}: choose another name")
        con.execute("INSERT INTO boards (name, created, n_clips, n_boot, seed, description, private_fraction) "
                    "VALUES (?, ?, ?, ?, ?, ?, ?)",
                    (board, _iso(now_utc()), len(labels), n_boot, seed, description, float(private_fraction)))
        con.executemany("INSERT INTO labels (board, clip_id, label, part) VALUES (?, ?, ?, ?)",
                        [(board, c, int(v), PARTS[int(p)])
                         for c, v, p in zip(labels["clip_id"], labels["label"], private)])
        # The public list is written inside the transaction: if it fails, the board is rolled back.
        public.parent.mkdir(parents=True, exist_ok=True)
        with atomic_output(public) as tmp:
            labels[["clip_id"]].sort_values("clip_id").to_csv(tmp, index=False)
    return public


@dataclass(frozen=True)
class Board:
    name: str
    created: str
    n_clips: int
    n_boot: int
    seed: int
    description: str
    private_fraction: float
    labels: pd.DataFrame = field(repr=False)  # index clip_id; columns label, part

    def part(self, part: str) -> pd.Series:
        """Labels of one part, ``"public"``, ``"private"`` or ``"all"``, indexed by clip id."""
        lab = self.labels if part == "all" else self.labels[self.labels["part"] == part]
        return lab["label"]


def board_names(store: str | Path) -> list[str]:
    with connect(store) as con:
        return [r[0] for r in con.execute("SELECT name FROM boards ORDER BY name")]


def load_board(con: sqlite3.Connection, board: str) -> Board:
    check_board_name(board)
    row = con.execute("SELECT name, created, n_clips, n_boot, seed, description, private_fraction FROM boards "
                      "WHERE name=?", (board,)).fetchone()
    if row is None:
        raise UnknownBoardError(f"no board {board!r} in this store: see 'forgebench leaderboard init --help'")
    rows = con.execute("SELECT clip_id, label, part FROM labels WHERE board=?", (board,)).fetchall()
    labels = pd.DataFrame(rows, columns=["clip_id", "label", "part"]).set_index("clip_id")
    return Board(*row, labels=labels)


# --- submissions ------------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Submission:
    id: int
    board: str
    team: str
    method: str
    submitted: str
    n: int
    scores: dict[str, dict[str, Score]]  # part -> metric -> Score; empty when stored unscored
    submitted_today: int = 0  # this team's submissions to this board in the current UTC day, this one included
    status: str = "scored"  # or "public", "points" (intervals to come) or "pending" (not scored)


def score_parts(board: Board, preds: pd.DataFrame, intervals: bool | tuple[str, ...] = True,
                parts: tuple[str, ...] = PARTS) -> dict[str, dict[str, Score]]:
    """Every metric of ``preds`` on each non-empty part of ``parts``, with the board's bootstrap settings.

    ``intervals`` says which parts get bootstrap intervals (True: all, False:
    none): values take milliseconds, the bootstrap seconds.
    """
    wanted = PARTS if intervals is True else () if intervals is False else tuple(intervals)
    scores = preds.set_index("clip_id")["score"]
    out = {}
    for part in parts:
        lab = board.part(part)
        if len(lab):
            out[part] = evaluate_scores(lab.to_numpy(np.int64), scores.loc[lab.index].to_numpy(),
                                        n_boot=board.n_boot if part in wanted else 0, seed=board.seed)
    return out


def day_start(t: dt.datetime) -> str:
    """The ISO time of the start of ``t``'s UTC day (submission times compare as strings)."""
    t = t.astimezone(dt.UTC)
    return _iso(dt.datetime(t.year, t.month, t.day, tzinfo=dt.UTC))


def count_today(con: sqlite3.Connection, board: str, team: str, now: dt.datetime) -> int:
    return con.execute("SELECT COUNT(*) FROM submissions WHERE board=? AND team=? AND submitted >= ?",
                       (board, team, day_start(now))).fetchone()[0]


def add_submission(store: str | Path, board: str, preds: pd.DataFrame, team: str, method: str, *,
                   name: str = "submission", score: bool = True, intervals: bool = True,
                   daily_limit: int | None = None, clock: Callable[[], dt.datetime] = now_utc) -> Submission:
    """Check ``preds`` (from :func:`~forgebench.leaderboards.validation.parse_predictions`) against the
    board, score it on both parts and store it in one transaction.

    Its status is ``scored`` (values and intervals), ``points`` with
    ``intervals=False`` (values now, intervals later by :func:`score_board`: the
    server answers at once and bootstraps in the background) or ``pending``
    with ``score=False``. (``public``, between ``points`` and ``scored``, has
    the public part's intervals: what the live board shows.)

    ``daily_limit`` caps the team's stored submissions per UTC day (checked again
    inside the write transaction, so racing requests cannot exceed it). Raises
    :class:`UnknownBoardError`, :class:`DailyLimitError`,
    :class:`DuplicateSubmissionError` or :class:`InputError` (bad file); none of
    them writes anything.
    """
    check_team_name(team)
    method = check_method(method)
    digest = hashlib.sha256(preds.to_csv(index=False).encode()).hexdigest()
    with connect(store) as con:
        spec = load_board(con, board)
        match_labels(preds, spec.part("all"), name)
        if daily_limit is not None:
            _check_limit(con, board, team, clock(), daily_limit)
        # Scoring is read-only and slow: do it before taking the write lock.
        result = score_parts(spec, preds, intervals) if score else {}
        with transaction(con):
            now = clock()
            today = _check_limit(con, board, team, now, daily_limit) if daily_limit is not None \
                else count_today(con, board, team, now)
            prior = con.execute("SELECT id FROM submissions WHERE board=? AND team=? AND sha256=?",
                                (board, team, digest)).fetchone()
            if prior:
                raise DuplicateSubmissionError(f"team {team!r} already submitted these predictions to {board!r} "
                                               f"(submission #{prior[0]}); nothing was added")
            cur = con.execute("INSERT INTO submissions (board, team, method, submitted, sha256, n, status) "
                              "VALUES (?, ?, ?, ?, ?, ?, ?)", (board, team, method, _iso(now), digest,
                                                               len(preds), _status(score, intervals)))
            sid = int(cur.lastrowid)
            con.executemany("INSERT INTO predictions VALUES (?, ?, ?)",
                            [(sid, c, float(s)) for c, s in zip(preds["clip_id"], preds["score"])])
            _store_scores(con, sid, result)
    return Submission(sid, board, team, method, _iso(now), len(preds), result, today + 1,
                      _status(score, intervals))


def _status(score: bool, intervals: bool) -> str:
    return "pending" if not score else "scored" if intervals else "points"


def _check_limit(con: sqlite3.Connection, board: str, team: str, now: dt.datetime, limit: int) -> int:
    used = count_today(con, board, team, now)
    if used >= limit:
        tomorrow = dt.datetime.fromisoformat(day_start(now)) + dt.timedelta(days=1)
        raise DailyLimitError(f"team {team!r} has used its {limit} submissions to {board!r} for today (UTC); "
                              f"the next one is accepted from {_iso(tomorrow)}")
    return used


def submit(store: str | Path, board: str, predictions: str | Path, team: str, method: str,
           max_bytes: int = MAX_SUBMISSION_BYTES, score: bool = True, daily_limit: int | None = None) -> Submission:
    """Read a predictions file (CSV or Parquet), then :func:`add_submission`."""
    check_team_name(team)
    check_method(method)
    with connect(store) as con:
        n_clips = load_board(con, board).n_clips
    preds = read_predictions(predictions, max_bytes, n_clips=n_clips)
    return add_submission(store, board, preds, team, method, name=Path(predictions).name, score=score,
                          daily_limit=daily_limit)


def _store_scores(con: sqlite3.Connection, sid: int, result: dict[str, dict[str, Score]]) -> None:
    con.executemany("INSERT OR REPLACE INTO scores VALUES (?, ?, ?, ?, ?, ?, ?)",
                    [(sid, part, k, v.value, v.ci_low, v.ci_high, int(v.higher_is_better))
                     for part, res in result.items() for k, v in res.items()])


def score_board(store: str | Path, board: str, rescore: bool = False, public_only: bool = False,
                ids: list[int] | None = None) -> int:
    """Complete the scores of the board's submissions (of ``ids`` only, if given), each in its own
    transaction, so an interrupted run keeps what it finished; returns how many were scored.

    By default every submission ends ``scored`` (all of them recomputed with
    ``rescore``); ``public_only`` stops at ``public`` (the live board's
    intervals; the server's background worker does this). A part whose
    intervals are already stored is not bootstrapped again.
    """
    todo = ("pending", "points") if public_only else ("pending", "points", "public")
    with connect(store) as con:
        spec = load_board(con, board)
        rows = con.execute("SELECT id, status FROM submissions WHERE board=? ORDER BY id", (board,)).fetchall()
        wanted = None if ids is None else {int(i) for i in ids}
        rows = [(sid, st) for sid, st in rows if (wanted is None or sid in wanted) and (rescore or st in todo)]
        for sid, status in rows:
            parts = ("private",) if status == "public" and not rescore else PARTS
            boot = ("public",) if public_only else PARTS
            result = score_parts(spec, submission_predictions(con, sid), intervals=boot, parts=parts)
            with transaction(con):
                _store_scores(con, sid, result)
                con.execute("UPDATE submissions SET status=? WHERE id=?", ("public" if public_only else "scored",
                                                                           sid))
    return len(rows)


def submission_predictions(con: sqlite3.Connection, sid: int) -> pd.DataFrame:
    rows = con.execute("SELECT clip_id, score FROM predictions WHERE submission=? ORDER BY clip_id", (sid,))
    return pd.DataFrame(rows.fetchall(), columns=["clip_id", "score"])


def standings(store: str | Path, board: str, part: str = "public",
              best_per_team: bool = True) -> tuple[pd.DataFrame, pd.Series]:
    """Scored submissions ranked by AUC on ``part``, best first; and that part's labels.

    Columns: rank, id, team, method, submitted, n, status (``points``: no
    intervals yet; ``public``: the public part's only), submissions (the
    team's count), and per metric ``<m>``, ``<m>_ci_low``, ``<m>_ci_high`` on ``part``.
    Ties keep the earlier submission first. With ``best_per_team`` each team is
    represented by the submission with its best *public* AUC, whatever ``part``
    ranks: the final (private) ranking never picks a team's entry by the private
    labels it is scored on.
    """
    if part not in PARTS:
        raise ValueError(f"part must be one of {PARTS}")
    with connect(store) as con:
        labels = load_board(con, board).part(part)
        subs = pd.read_sql_query("SELECT id, team, method, submitted, n, status FROM submissions WHERE board=? AND "
                                 "status != 'pending' ORDER BY id", con, params=(board,))
        sc = pd.read_sql_query("SELECT s.submission AS id, s.part, s.metric, s.value, s.ci_low, s.ci_high "
                               "FROM scores s JOIN submissions u ON u.id = s.submission WHERE u.board=?", con,
                               params=(board,))
    if part == "private" and labels.empty:
        raise InputError(f"board {board!r} has no private part (it was made with --private-fraction 0): "
                         "publish without --final")
    subs["submissions"] = subs["team"].map(subs["team"].value_counts()).astype(int)
    public_auc = subs["id"].map(sc[(sc["part"] == "public") & (sc["metric"] == PRIMARY)].set_index("id")["value"])
    for m in METRICS:
        cur = sc[(sc["part"] == part) & (sc["metric"] == m)].set_index("id")
        for col, src in ((m, "value"), (f"{m}_ci_low", "ci_low"), (f"{m}_ci_high", "ci_high")):
            subs[col] = subs["id"].map(cur[src]).astype(float)
    if best_per_team:
        pick = subs.assign(_key=public_auc).sort_values(["_key", "id"], ascending=[False, True], kind="stable")
        subs = subs.loc[pick.drop_duplicates("team", keep="first").index]
    subs = subs.sort_values([PRIMARY, "id"], ascending=[False, True], kind="stable", na_position="last")
    subs.insert(0, "rank", np.arange(1, len(subs) + 1))
    return subs.reset_index(drop=True), labels
