"""Leaderboard store: labels stay private, the split is stratified, bad submissions change nothing,
concurrent submissions all land once, the daily limit holds under races, old stores upgrade."""

from __future__ import annotations

import datetime as dt
import multiprocessing as mp
import sqlite3

import numpy as np
import pandas as pd
import pytest
from sklearn.metrics import roc_auc_score

from forgebench.errors import InputError
from forgebench.leaderboards import store as lb
from forgebench.leaderboards.pages import board_table, publish
from tests.leaderboards.conftest import count_rows, make_board

N = 60


def test_public_list_has_no_labels_and_both_parts_match_sklearn(board, tmp_path):
    pub = pd.read_csv(board.store / "boards" / "demo" / "clips.csv")
    assert list(pub.columns) == ["clip_id"] and sorted(pub["clip_id"]) == sorted(board.ids)
    p = tmp_path / "p.csv"
    preds = board.preds(1.0)
    preds.to_csv(p, index=False)
    sub = lb.submit(board.store, "demo", p, team="alpha", method="logit")
    s = preds.set_index("clip_id")["score"]
    for part, lab in (("public", board.public), ("private", board.private)):
        assert np.isclose(sub.scores[part]["auc"].value, roc_auc_score(lab, s.loc[lab.index]))
    with pytest.raises(lb.DuplicateSubmissionError, match="already submitted"):
        lb.submit(board.store, "demo", p, team="alpha", method="again")
    assert count_rows(board.store) == (1, N, 10)


def test_split_is_stratified_by_label_and_identity_and_seeded(tmp_path):
    rng = np.random.default_rng(1)
    labels = pd.DataFrame({"label": rng.integers(0, 2, 500), "identity": rng.choice(list("abcdefg"), 500)})
    for fraction in (0.5, 0.3, 0.8):
        priv = lb.split_private(labels, fraction, seed=7)
        assert abs(priv.sum() - 500 * fraction) <= 1
        for _, g in labels.groupby(["label", "identity"]):
            assert abs(priv[g.index].sum() - len(g) * fraction) <= 1  # every stratum within one clip
    assert (lb.split_private(labels, 0.5, 7) == lb.split_private(labels, 0.5, 7)).all()
    assert (lb.split_private(labels, 0.5, 7) != lb.split_private(labels, 0.5, 8)).any()
    assert not lb.split_private(labels, 0.0, 7).any()
    data = make_board(tmp_path, n=60, fraction=0.5)
    assert len(data.private) == 30 and set(data.private) == {0, 1} and set(data.public) == {0, 1}
    with pytest.raises(InputError, match="private-fraction"):
        make_board(tmp_path, board="bad", fraction=1.0)


def _bad_inputs(tmp_path, ids):
    good = pd.DataFrame({"clip_id": ids, "score": np.linspace(0, 1, len(ids))})
    cases = {
        "unknown": good.assign(clip_id=["zzz"] + ids[1:]),
        "missing": good.iloc[1:],
        "duplicate": pd.concat([good, good.iloc[:1]]),
        "nan": good.assign(score=[np.nan] + [0.5] * (len(ids) - 1)),
        "range": good.assign(score=[1.5] + [0.5] * (len(ids) - 1)),
        "columns": good.rename(columns={"score": "prob"}),
    }
    out = {}
    for k, df in cases.items():
        out[k] = tmp_path / f"{k}.csv"
        df.to_csv(out[k], index=False)
    out["huge"] = tmp_path / "huge.csv"
    good.to_csv(out["huge"], index=False)
    return out


def test_bad_submissions_say_one_line_and_write_nothing(board, tmp_path):
    files = _bad_inputs(tmp_path, board.ids)
    expect = {"unknown": "not on this board", "missing": "have no score", "duplicate": "more than once",
              "nan": "NaN", "range": "outside", "columns": "exactly clip_id and score", "huge": "limit"}
    for k, path in files.items():
        with pytest.raises(InputError, match=expect[k]) as err:
            lb.submit(board.store, "demo", path, team="t", method="m", max_bytes=100 if k == "huge" else 10**7)
        assert "\n" not in str(err.value)
    for team in ("../evil", "a/b", "", "x" * 80, ".hidden", "team\n"):
        with pytest.raises(InputError, match="team name"):
            lb.submit(board.store, "demo", files["huge"], team=team, method="m")
    for method in ("", "two\nlines", "x" * 301):
        with pytest.raises(InputError, match="method"):
            lb.submit(board.store, "demo", files["huge"], team="t", method=method)
    for name in ("../demo", "Demo", "a/b", "demo\n"):
        with pytest.raises(InputError, match="board name"):
            lb.init_board(board.store, name, tmp_path / "demo-manifest.csv", split=None)
    assert count_rows(board.store) == (0, 0, 0)
    assert sorted(p.name for p in (board.store / "boards").iterdir()) == ["demo"]


def _submit_worker(args):
    store, path, team, limit = args
    try:
        return lb.submit(store, "demo", path, team=team, method=f"method of {team}", daily_limit=limit).id
    except lb.DailyLimitError:
        return None


def test_concurrent_submissions_all_land_once_and_the_daily_limit_holds(board, tmp_path):
    jobs = []
    for i in range(16):
        path = tmp_path / f"p{i}.csv"
        board.preds(0.5 + 0.1 * i, seed=i).to_csv(path, index=False)
        # Twelve teams submit once; one greedy team sends four files at once against a limit of two.
        jobs.append((board.store, path, f"team{i:02d}" if i < 12 else "greedy", 2))
    with mp.get_context("fork").Pool(8) as pool:
        sids = pool.map(_submit_worker, jobs, chunksize=1)
    stored = [s for s in sids if s is not None]
    assert len(stored) == len(set(stored)) == 14 and sids[:12].count(None) == 0
    assert count_rows(board.store) == (14, 14 * N, 14 * 10)
    table = board_table(board.store, "demo")
    assert sorted(table["team"]) == sorted([f"team{i:02d}" for i in range(12)] + ["greedy"])
    assert table["id"].is_unique and (np.diff(table["auc"].to_numpy()) <= 0).all()


def test_daily_limit_counts_utc_days(board):
    day = dt.datetime(2030, 5, 1, 23, 59, tzinfo=dt.UTC)
    clock = [day]
    for k in range(3):
        lb.add_submission(board.store, "demo", board.preds(1, seed=k), "t", "m", daily_limit=3,
                          clock=lambda: clock[0])
    with pytest.raises(lb.DailyLimitError, match="2030-05-02T00:00:00"):
        lb.add_submission(board.store, "demo", board.preds(1, seed=9), "t", "m", daily_limit=3, clock=lambda: clock[0])
    lb.add_submission(board.store, "demo", board.preds(1, seed=9), "other", "m", daily_limit=3, clock=lambda: clock[0])
    clock[0] = day + dt.timedelta(minutes=2)  # a new UTC day
    sub = lb.add_submission(board.store, "demo", board.preds(1, seed=9), "t", "m", daily_limit=3,
                            clock=lambda: clock[0])
    assert sub.submitted_today == 1 and count_rows(board.store)[0] == 5


def test_publish_ranks_with_intervals_and_final_uses_best_public_entry(board, tmp_path):
    for i, strength in enumerate((0.2, 1.2, 1.2)):
        lb.add_submission(board.store, "demo", board.preds(strength, seed=i), team=f"t{i}", method="m")
    # Team "prober" sends one file perfect on the public clips (noise elsewhere) and one the other way round:
    # the final ranking must take the first (best public AUC) and score it on the private clips.
    noise = np.random.default_rng(5).random(N)
    lab = pd.Series(board.y, index=board.ids)
    pub_fit = np.where(lab.index.isin(board.public.index), lab.to_numpy(), noise)
    priv_fit = np.where(lab.index.isin(board.private.index), lab.to_numpy(), noise)
    first = lb.add_submission(board.store, "demo", pd.DataFrame({"clip_id": board.ids, "score": pub_fit}),
                              "prober", "fits public")
    lb.add_submission(board.store, "demo", pd.DataFrame({"clip_id": board.ids, "score": priv_fit}), "prober", "x")
    paths = publish(board.store, "demo", tmp_path / "pub")
    md = paths[0].read_text()
    assert md.index("| 1 | prober | fits public |") < md.index("| 4 | t0 |")  # public: the prober leads
    assert "±" in md and "p " in md and "public part" in md
    html = paths[1].read_text()
    assert "<table" in html and "http" not in html.replace("http-equiv", "")
    final = board_table(board.store, "demo", "private")
    row = final[final["team"] == "prober"].iloc[0]
    assert row["id"] == first.id
    assert np.isclose(row["auc"], roc_auc_score(board.private, pd.Series(pub_fit, index=board.ids)
                                                .loc[board.private.index]))
    assert np.isnan(final["p_next"].iloc[-1])
    assert [p.name for p in publish(board.store, "demo", tmp_path / "pub", final=True)] == \
        ["demo-final.md", "demo-final.html", "demo-final.csv"]


def test_board_without_private_part_refuses_final(tmp_path):
    data = make_board(tmp_path, fraction=0.0)
    lb.add_submission(data.store, "demo", data.preds(), "t", "m")
    assert data.private.empty and board_table(data.store, "demo")["n"].iloc[0] == N
    with pytest.raises(InputError, match="no private part"):
        publish(data.store, "demo", tmp_path / "pub", final=True)


# The schema that forgebench wrote before the public/private split (kept here as the format under test).
V1_SCHEMA = """
CREATE TABLE boards (name TEXT PRIMARY KEY, created TEXT NOT NULL, n_clips INTEGER NOT NULL,
    n_boot INTEGER NOT NULL, seed INTEGER NOT NULL, description TEXT NOT NULL);
CREATE TABLE labels (board TEXT NOT NULL REFERENCES boards(name), clip_id TEXT NOT NULL,
    label INTEGER NOT NULL CHECK (label IN (0, 1)), PRIMARY KEY (board, clip_id));
CREATE TABLE submissions (id INTEGER PRIMARY KEY AUTOINCREMENT, board TEXT NOT NULL
    REFERENCES boards(name), team TEXT NOT NULL, method TEXT NOT NULL, submitted TEXT NOT NULL,
    sha256 TEXT NOT NULL, n INTEGER NOT NULL, status TEXT NOT NULL, UNIQUE (board, team, sha256));
CREATE TABLE predictions (submission INTEGER NOT NULL REFERENCES submissions(id),
    clip_id TEXT NOT NULL, score REAL NOT NULL, PRIMARY KEY (submission, clip_id));
CREATE TABLE scores (submission INTEGER NOT NULL REFERENCES submissions(id), metric TEXT NOT NULL,
    value REAL, ci_low REAL, ci_high REAL, higher_is_better INTEGER NOT NULL, PRIMARY KEY (submission, metric));
"""


def test_a_store_from_before_the_split_is_upgraded_in_place(tmp_path):
    store = tmp_path / "old"
    store.mkdir()
    con = sqlite3.connect(store / lb.DB_NAME)
    con.executescript(V1_SCHEMA)
    con.execute("INSERT INTO boards VALUES ('old', '2024-01-01', 4, 10, 0, '')")
    con.executemany("INSERT INTO labels VALUES ('old', ?, ?)", [("a", 0), ("b", 1), ("c", 0), ("d", 1)])
    con.execute("INSERT INTO submissions VALUES (1, 'old', 'T', 'm', '2024-01-02', 'x', 4, 'scored')")
    con.executemany("INSERT INTO predictions VALUES (1, ?, ?)", [("a", .1), ("b", .9), ("c", .6), ("d", .4)])
    con.execute("INSERT INTO scores VALUES (1, 'auc', 0.75, 0.5, 1.0, 1)")
    con.commit()
    con.close()
    table, labels = lb.standings(store, "old", "public")
    assert len(labels) == 4 and table["auc"].tolist() == [0.75] and table["team"].tolist() == ["T"]
    with lb.connect(store) as con:
        assert con.execute("PRAGMA user_version").fetchone()[0] == lb.SCHEMA_VERSION
        assert con.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert lb.score_board(store, "old", rescore=True) == 1
    assert lb.standings(store, "old", "public")[0]["auc"].tolist() == [0.75]  # rescored: the same AUC


def test_intervals_computed_later_equal_intervals_computed_at_once(board, tmp_path):
    now = lb.add_submission(board.store, "demo", board.preds(1.0, seed=1), "now", "m")
    later = lb.add_submission(board.store, "demo", board.preds(1.0, seed=1), "later", "m", intervals=False)
    assert (now.status, later.status) == ("scored", "points")
    assert all(np.isnan(s.ci_low) for part in later.scores.values() for s in part.values())
    assert {p: {m: s.value for m, s in r.items()} for p, r in later.scores.items()} == \
        {p: {m: s.value for m, s in r.items()} for p, r in now.scores.items()}

    def table(part):
        t = lb.standings(board.store, "demo", part, best_per_team=False)[0].set_index("team")
        return t.drop(columns=["rank", "id", "submitted", "status"])

    assert lb.score_board(board.store, "demo", public_only=True) == 1  # the server's worker: public part only
    pub, priv = table("public"), table("private")
    assert pub.loc["later"].equals(pub.loc["now"]) and np.isnan(priv.loc["later", "auc_ci_low"])
    publish(board.store, "demo", tmp_path / "pub", final=True, best_per_team=False)  # completes what it ranks
    assert table("private").loc["later"].equals(table("private").loc["now"])
    assert lb.score_board(board.store, "demo") == 0
