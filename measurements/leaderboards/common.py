"""Shared by the leaderboard server measurements: a synthetic board with many teams, submissions, checks.

Nothing here reads /work/shared/data: the board is synthetic (labels, identities,
predictions of varied strength), which is all a submission server sees.
"""

from __future__ import annotations

import argparse
import sqlite3
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from forgebench.leaderboards import store as lb  # noqa: E402
from forgebench.leaderboards.teams import add_team  # noqa: E402


class Board:
    """A board of ``clips`` clips (half fake, 20 identities) and ``teams`` teams with tokens."""

    def __init__(self, root: Path, clips: int = 400, n_boot: int = 1000, teams: int = 50, name: str = "load"):
        self.root, self.name, self.store = root, name, root / "store"
        self.y = np.tile([0, 1], clips // 2)
        self.ids = [f"clip{i:05d}" for i in range(clips)]
        manifest = root / "manifest.csv"
        root.mkdir(parents=True, exist_ok=True)
        pd.DataFrame({"clip_id": self.ids, "label": self.y,
                      "source_id": [f"id{i % 20}" for i in range(clips)]}).to_csv(manifest, index=False)
        lb.init_board(self.store, name, manifest, split=None, n_boot=n_boot, seed=0,
                      description=f"synthetic load board: {clips} clips, {n_boot} bootstrap resamples")
        self.teams = [f"Team {k:02d}" for k in range(teams)]
        t0 = time.perf_counter()
        self.tokens = {t: add_team(self.store, name, t) for t in self.teams}
        print(f"board {name!r}: {clips} clips, {teams} teams ({time.perf_counter() - t0:.1f} s to make tokens)",
              flush=True)

    def payload(self, team: str, attempt: int) -> bytes:
        """A distinct predictions file for (team, attempt): stronger teams separate the classes better."""
        k = self.teams.index(team)
        rng = np.random.default_rng(1000 * k + attempt)
        strength = 0.2 + 1.3 * k / max(1, len(self.teams) - 1)
        s = 1 / (1 + np.exp(-((2 * self.y - 1) * strength + rng.normal(size=self.y.size))))
        return pd.DataFrame({"clip_id": self.ids, "score": np.round(s, 6)}).to_csv(index=False).encode()


def post(client, board: str, token: str, payload: bytes, method: str) -> tuple[int, float, dict | str]:
    """One submission: (status or -1 for a transport error, seconds, JSON answer or the error text)."""
    import httpx

    t0 = time.perf_counter()
    try:
        r = client.post(f"/api/boards/{board}/submissions", headers={"Authorization": f"Bearer {token}"},
                        files={"file": ("preds.csv", payload, "text/csv")}, data={"method": method})
    except httpx.HTTPError as exc:
        return -1, time.perf_counter() - t0, f"{type(exc).__name__}: {exc}"
    try:
        body = r.json()
    except ValueError:
        body = r.text[:200]
    return r.status_code, time.perf_counter() - t0, body


def check_store(store: Path, accepted: dict[int, str], n_clips: int, parts: int = 2) -> dict:
    """Every acknowledged submission is stored whole (its predictions and both parts' scores), once; nothing
    in the store is half-written. ``accepted``: submission id -> team, from the 2xx answers."""
    con = sqlite3.connect(f"file:{store / lb.DB_NAME}?mode=ro", uri=True)
    try:
        integrity = con.execute("PRAGMA integrity_check").fetchone()[0]
        subs = {r[0]: r[1:] for r in con.execute("SELECT id, team, status, n FROM submissions")}
        preds = dict(con.execute("SELECT submission, COUNT(*) FROM predictions GROUP BY submission").fetchall())
        scores = dict(con.execute("SELECT submission, COUNT(*) FROM scores GROUP BY submission").fetchall())
        dup = con.execute("SELECT COUNT(*) FROM (SELECT 1 FROM submissions GROUP BY board, team, sha256 "
                          "HAVING COUNT(*) > 1)").fetchone()[0]
    finally:
        con.close()
    missing = [i for i in accepted if i not in subs]
    wrong_team = [i for i, t in accepted.items() if i in subs and subs[i][0] != t]
    # 'points': values stored, intervals still to come (the server bootstraps the public ones in the background;
    # 'public': those are done).
    partial = [i for i, (_, status, n) in subs.items() if status not in ("scored", "public", "points")
               or preds.get(i, 0) != n or n != n_clips or scores.get(i, 0) != 5 * parts]
    waiting = sum(status == "points" for _, status, _ in subs.values())
    orphans = (set(preds) | set(scores)) - set(subs)
    return {"integrity": integrity, "stored": len(subs), "acknowledged": len(accepted), "missing": len(missing),
            "wrong_team": len(wrong_team), "half_written": len(partial), "orphan_rows": len(orphans),
            "duplicates": dup, "stored_not_acknowledged": len(set(subs) - set(accepted)),
            "intervals_pending": waiting}


def percentiles(seconds: list[float]) -> str:
    if not seconds:
        return "n/a"
    a = np.asarray(seconds)
    return (f"p50 {np.percentile(a, 50):.2f} s, p95 {np.percentile(a, 95):.2f} s, max {a.max():.2f} s "
            f"(n={a.size})")


def board_arguments(doc: str) -> argparse.ArgumentParser:
    """The options every measurement shares: the output folder and the synthetic board's size."""
    ap = argparse.ArgumentParser(description=doc.split("\n")[0])
    ap.add_argument("--out", type=Path, required=True, help="scratch folder for the store and the results")
    ap.add_argument("--clips", type=int, default=400, help="clips on the board (default 400)")
    ap.add_argument("--n-boot", type=int, default=1000, help="bootstrap resamples (default 1000)")
    ap.add_argument("--teams", type=int, default=50, help="teams, one client thread each (default 50)")
    return ap
