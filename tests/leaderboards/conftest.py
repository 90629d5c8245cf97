"""A small board made by the tests: labelled clips of a few identities, and predictions of chosen strength."""

from __future__ import annotations

import asyncio
import sqlite3
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from forgebench.leaderboards import store as lb


@dataclass
class BoardData:
    store: Path
    board: str
    ids: list[str]
    y: np.ndarray  # labels in the order of ids
    public: pd.Series  # labels of the public part, by clip id
    private: pd.Series

    def preds(self, strength: float = 1.0, seed: int = 0) -> pd.DataFrame:
        rng = np.random.default_rng(seed)
        s = 1 / (1 + np.exp(-((2 * self.y - 1) * strength + rng.normal(size=len(self.ids)))))
        return pd.DataFrame({"clip_id": self.ids, "score": s})

    def csv(self, strength: float = 1.0, seed: int = 0) -> bytes:
        return self.preds(strength, seed).to_csv(index=False).encode()


def make_board(root: Path, board: str = "demo", n: int = 60, n_boot: int = 20, fraction: float = 0.5,
               seed: int = 0, store: Path | None = None) -> BoardData:
    y = np.tile([0, 1], n // 2)
    ids = [f"clip{i:03d}" for i in range(n)]
    manifest = root / f"{board}-manifest.csv"
    pd.DataFrame({"clip_id": ids, "label": np.where(y, "fake", "real"),
                  "source_id": [f"person{i % 6}" for i in range(n)]}).to_csv(manifest, index=False)
    store = store or root / "store"
    lb.init_board(store, board, manifest, split=None, n_boot=n_boot, seed=seed, private_fraction=fraction)
    con = sqlite3.connect(store / lb.DB_NAME)
    try:
        parts = dict(con.execute("SELECT clip_id, part FROM labels WHERE board=?", (board,)).fetchall())
    finally:
        con.close()
    lab = pd.Series(y, index=ids)
    mask = np.array([parts[c] == "private" for c in ids])
    return BoardData(store, board, ids, y, lab[~mask], lab[mask])


def count_rows(store: Path) -> tuple[int, int, int]:
    """(submissions, predictions, scores) rows in the store."""
    con = sqlite3.connect(store / lb.DB_NAME)
    try:
        return tuple(con.execute(f"SELECT COUNT(*) FROM {t}").fetchone()[0]
                     for t in ("submissions", "predictions", "scores"))
    finally:
        con.close()


@pytest.fixture
def board(tmp_path) -> BoardData:
    return make_board(tmp_path)


def call(app, method: str, url: str, **kwargs):
    """One request to an ASGI app through httpx's in-process transport (no socket)."""
    import httpx

    async def go():
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://board.test") as c:
            return await c.request(method, url, **kwargs)

    return asyncio.run(go())
