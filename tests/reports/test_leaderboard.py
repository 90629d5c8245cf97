"""Leaderboard: labels stay private, bad submissions change nothing, 20 concurrent submissions all land once."""

from __future__ import annotations

import multiprocessing as mp
import sqlite3

import numpy as np
import pandas as pd
import pytest

from forgebench.errors import InputError
from forgebench.reports import leaderboard as lb
from forgebench.reports.board_page import board_table, publish

N = 60


def _board(tmp_path, n_boot=30):
    rng = np.random.default_rng(0)
    y = np.tile([0, 1], N // 2)
    ids = [f"clip{i:03d}" for i in range(N)]
    pd.DataFrame({"clip_id": ids, "label": np.where(y, "fake", "real")}).to_csv(tmp_path / "m.csv", index=False)
    store = tmp_path / "store"
    public = lb.init_board(store, "demo", tmp_path / "m.csv", split=None, n_boot=n_boot)
    return store, public, y, ids, rng


def _preds(path, ids, y, strength, rng):
    s = 1 / (1 + np.exp(-((2 * y - 1) * strength + rng.normal(size=len(ids)))))
    pd.DataFrame({"clip_id": ids, "score": s}).to_csv(path, index=False)
    return path


def _count(store):
    con = sqlite3.connect(store / lb.DB_NAME)
    try:
        return con.execute("SELECT COUNT(*) FROM submissions").fetchone()[0], \
            con.execute("SELECT COUNT(*) FROM predictions").fetchone()[0]
    finally:
        con.close()


def test_public_list_has_no_labels_and_scores_match_sklearn(tmp_path):
    from sklearn.metrics import roc_auc_score

    store, public, y, ids, rng = _board(tmp_path)
    pub = pd.read_csv(public)
    assert list(pub.columns) == ["clip_id"] and sorted(pub["clip_id"]) == sorted(ids)
    p = _preds(tmp_path / "p.csv", ids, y, 1.0, rng)
    sub = lb.submit(store, "demo", p, team="alpha", method="logit")
    s = pd.read_csv(p)
    assert np.isclose(sub.scores["auc"].value, roc_auc_score(y, s["score"]))
    with pytest.raises(InputError, match="already submitted"):
        lb.submit(store, "demo", p, team="alpha", method="again")
    assert _count(store) == (1, N)


def _bad_inputs(tmp_path, ids, y):
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


def test_bad_submissions_say_one_line_and_write_nothing(tmp_path):
    store, _, y, ids, _ = _board(tmp_path)
    files = _bad_inputs(tmp_path, ids, y)
    expect = {"unknown": "not on this board", "missing": "have no score", "duplicate": "more than once",
              "nan": "NaN", "range": "outside", "columns": "exactly clip_id and score", "huge": "limit"}
    for k, path in files.items():
        with pytest.raises(InputError, match=expect[k]) as err:
            lb.submit(store, "demo", path, team="t", method="m", max_bytes=100 if k == "huge" else 10**7)
        assert "\n" not in str(err.value)
    for team in ("../evil", "a/b", "", "x" * 80, ".hidden"):
        with pytest.raises(InputError, match="team name"):
            lb.submit(store, "demo", files["huge"], team=team, method="m")
    for board in ("../demo", "Demo", "a/b"):
        with pytest.raises(InputError, match="board name"):
            lb.init_board(store, board, tmp_path / "m.csv", split=None)
    assert _count(store) == (0, 0)
    assert sorted(p.name for p in (store / "boards").iterdir()) == ["demo"]


def _submit_worker(args):
    store, path, team = args
    sub = lb.submit(store, "demo", path, team=team, method=f"method of {team}")
    return sub.id


def test_twenty_concurrent_submissions_all_land_once(tmp_path):
    store, _, y, ids, rng = _board(tmp_path, n_boot=20)
    jobs = [(store, _preds(tmp_path / f"p{i}.csv", ids, y, 0.5 + 0.1 * i, rng), f"team{i:02d}") for i in range(20)]
    with mp.get_context("fork").Pool(20) as pool:
        sids = pool.map(_submit_worker, jobs, chunksize=1)
    assert len(set(sids)) == 20
    assert _count(store) == (20, 20 * N)
    table = board_table(store, "demo")
    assert sorted(table["team"]) == [f"team{i:02d}" for i in range(20)]
    assert table["id"].is_unique and (np.diff(table["auc"].to_numpy()) <= 0).all()


def test_publish_ranks_with_intervals_and_neighbour_tests(tmp_path):
    store, _, y, ids, rng = _board(tmp_path)
    for i, strength in enumerate((0.2, 2.5, 2.5)):
        lb.submit(store, "demo", _preds(tmp_path / f"p{i}.csv", ids, y, strength, rng), team=f"t{i}", method="m")
    paths = publish(store, "demo", tmp_path / "pub")
    md = paths[0].read_text()
    assert md.index("| 1 |") < md.index("| 3 | t0 |")  # the weak scorer is last
    assert "±" in md and "p " in md
    html = paths[1].read_text()
    assert "<table" in html and "http" not in html.replace("http-equiv", "")
    table = board_table(store, "demo")
    assert np.isnan(table["p_next"].iloc[-1]) and table["p_next"].iloc[1] < 0.01
