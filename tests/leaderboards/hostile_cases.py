"""Malformed and hostile requests to the submission server, with the answer each must get.

Shared by ``test_hostile.py`` (in-process, through httpx's ASGI transport) and
``measurements/leaderboards/hostile.py`` (the same table against a real server on
loopback). :func:`setup` makes the store they run against; the cases run in
order (two accepted submissions come before the duplicate that repeats one).
"""

from __future__ import annotations

import datetime as dt
import io
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from forgebench.leaderboards import store as lb
from forgebench.leaderboards.teams import add_team, revoke_team
from tests.leaderboards.conftest import BoardData, make_board

LIMITS = {"daily_limit": 3, "max_bytes": 256 * 1024, "request_timeout": 1.0}
SQL = "x'); DROP TABLE submissions; --"


@dataclass
class Context:
    data: BoardData
    tokens: dict[str, str]  # a (team A on demo), other (a team on board 'other'), revoked, busy (at its limit)
    clock: object


@dataclass
class Case:
    name: str
    expect: int
    fragment: str  # part of the JSON error message ('' for a 2xx answer)
    method: str = "POST"
    path: str = "/api/boards/demo/submissions"
    headers: dict = field(default_factory=dict)
    files: dict | None = None
    data: dict | None = None
    content: bytes | None = None
    stream: str = ""  # "chunked": no Content-Length; "slow": trickled past the request time limit


def setup(root: Path, clock=None) -> Context:
    """A store with boards 'demo' (60 clips) and 'other', and teams in every state the cases need."""
    clock = clock or lb.now_utc
    data = make_board(root, "demo", n_boot=20)
    make_board(root, "other", store=data.store)
    tokens = {"a": add_team(data.store, "demo", "Team A"), "other": add_team(data.store, "other", "Team O"),
              "revoked": add_team(data.store, "demo", "Team R"), "busy": add_team(data.store, "demo", "Team Busy")}
    revoke_team(data.store, "demo", "Team R")
    for k in range(LIMITS["daily_limit"]):
        lb.add_submission(data.store, "demo", data.preds(1.0, seed=100 + k), "Team Busy", "m", clock=clock)
    return Context(data, tokens, clock)


def _csv(df: pd.DataFrame) -> bytes:
    return df.to_csv(index=False).encode()


def _parquet_bomb(rows: int = 2_000_000) -> bytes:
    """A few kB of Parquet that would expand to ``rows`` rows (dictionary + run-length encoding)."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    table = pa.table({"clip_id": pa.array(np.full(rows, 7, dtype=np.int64)).cast(pa.string()),
                      "score": pa.array(np.full(rows, 0.5))})
    buf = io.BytesIO()
    pq.write_table(table, buf, compression="zstd")
    return buf.getvalue()


def _raw_multipart(payload: bytes, filename: str) -> bytes:
    """A multipart body written by hand, so that the file name carries bytes a client library would escape."""
    return (b"--BOUNDARY\r\nContent-Disposition: form-data; name=\"method\"\r\n\r\nm\r\n"
            b"--BOUNDARY\r\nContent-Disposition: form-data; name=\"file\"; filename=\"" + filename.encode()
            + b"\"\r\nContent-Type: text/csv\r\n\r\n" + payload + b"\r\n--BOUNDARY--\r\n")


def cases(ctx: Context) -> list[Case]:
    d = ctx.data
    good = d.preds(1.0, seed=1)
    auth = {"Authorization": f"Bearer {ctx.tokens['a']}"}

    def up(payload: bytes, name: str = "preds.csv", method: str = "a detector", token: str | None = None,
           **kw) -> dict:
        headers = {"Authorization": f"Bearer {token}"} if token else dict(auth)
        return dict(headers=headers, files={"file": (name, payload, "text/csv")}, data={"method": method}, **kw)

    good_csv = _csv(good)

    def at(board: str) -> dict:  # a good upload to another path
        return {**up(good_csv), "path": f"/api/boards/{board}/submissions"}

    big = good_csv + b"".join(f"pad{i},0.5\n".encode() for i in range(30000))  # ~330 kB, over the 256 kB limit
    key_id = ctx.tokens["a"].split(".")[0]
    g = good.copy()
    out = [
        # Who: tokens.
        Case("no Authorization header", 401, "missing token", **{**up(good_csv), "headers": {}}),
        Case("Basic instead of Bearer", 401, "missing token", **{**up(good_csv), "headers": {
            "Authorization": "Basic dGVhbTpwYXNz"}}),
        Case("Bearer with no token", 401, "missing token", **{**up(good_csv), "headers": {"Authorization": "Bearer"}}),
        Case("malformed token", 401, "not valid for board", **up(good_csv, token="fbt_zz")),
        Case("well-formed unknown token", 401, "not valid for board",
             **up(good_csv, token="fbt_0123456789abcdef." + "A" * 43)),
        Case("right key id, wrong secret", 401, "not valid for board", **up(good_csv, token=f"{key_id}.{'B' * 43}")),
        Case("another board's team token", 401, "not valid for board", **up(good_csv, token=ctx.tokens["other"])),
        Case("revoked token", 401, "not valid for board", **up(good_csv, token=ctx.tokens["revoked"])),
        Case("SQL in the token", 401, "not valid for board", **up(good_csv, token=SQL.replace(" ", ""))),
        # Where: board names in the path.
        Case("unknown board", 404, "no board 'nope'", **at("nope")),
        Case("path-like board ../../etc", 404, "no such page", **at("..%2F..%2Fetc")),
        Case("board '..'", 404, "no board", **at("%2E%2E")),
        Case("board with upper case", 404, "no board 'Demo'", **at("Demo")),
        Case("SQL in the board name", 404, "no board", **at("demo'%3B%20DROP%20TABLE%20boards%3B--")),
        Case("NUL byte in the board name", 404, "no board", **at("demo%00")),
        Case("line break after the board name", 404, "no board", **at("demo%0A")),
        Case("1000-character board name", 404, "no board", **at("a" * 1000)),
        Case("GET the store file by path", 404, "no such page", method="GET", path="/api/boards/..%2Fstore.sqlite"),
        Case("GET a page of an unknown board", 404, "no board", method="GET", path="/boards/nope"),
        Case("GET on the submissions endpoint", 405, "not allowed", method="GET", path="/api/boards/demo/submissions"),
        # How: the request itself.
        Case("JSON body instead of a form", 415, "multipart/form-data",
             headers={**auth, "Content-Type": "application/json"}, content=b'{"clip_id": "x", "score": 1}'),
        Case("text/plain body", 415, "multipart/form-data", headers={**auth, "Content-Type": "text/plain"},
             content=good_csv),
        Case("url-encoded form", 415, "multipart/form-data", headers=auth, data={"method": "m", "file": "x"}),
        Case("multipart without a file", 400, "no file", headers=auth, files={"method": (None, "m")}),
        Case("multipart without a method", 400, "no method", headers=auth,
             files={"file": ("p.csv", good_csv, "text/csv")}),
        Case("two files", 400, "Too many files", headers=auth,
             files=[("file", ("p.csv", good_csv, "text/csv")), ("file", ("q.csv", good_csv, "text/csv"))]),
        Case("extra 'team' field (impersonation)", 400, "unexpected form fields",
             **{**up(good_csv), "data": {"method": "m", "team": "Team Busy"}}),
        Case("SQL as a form field name", 400, "unexpected form fields",
             **{**up(good_csv), "data": {"method": "m", SQL: "1"}}),
        Case("body over the size limit (Content-Length)", 413, "limit", **up(big)),
        Case("body over the size limit (chunked, no length)", 413, "limit", **up(big), stream="chunked"),
        Case("body trickled past the time limit", 408, "to arrive", **up(good_csv), stream="slow"),
        # What: the file.
        Case("wrong columns", 400, "exactly clip_id and score", **up(_csv(g.rename(columns={"score": "prob"})))),
        Case("extra column", 400, "exactly clip_id and score", **up(_csv(g.assign(label=d.y)))),
        Case("SQL as a column name", 400, "exactly clip_id and score",
             **up(_csv(g.rename(columns={"score": SQL})))),
        Case("NaN score", 400, "NaN", **up(_csv(g.assign(score=[np.nan] + [0.5] * (len(g) - 1))))),
        Case("infinite score", 400, "NaN", **up(_csv(g.assign(score=[np.inf] + [0.5] * (len(g) - 1))))),
        Case("text as a score", 400, "not a number", **up(_csv(g.assign(score=["abc"] + [0.5] * (len(g) - 1))))),
        Case("SQL as a score", 400, "not a number", **up(_csv(g.assign(score=[SQL] + [0.5] * (len(g) - 1))))),
        Case("score above 1", 400, "outside [0, 1]", **up(_csv(g.assign(score=[1.5] + [0.5] * (len(g) - 1))))),
        Case("negative score", 400, "outside [0, 1]", **up(_csv(g.assign(score=[-0.1] + [0.5] * (len(g) - 1))))),
        Case("duplicate clip ids", 400, "more than once", **up(_csv(pd.concat([g, g.iloc[:1]])))),
        Case("missing clips", 400, "have no score", **up(_csv(g.iloc[1:]))),
        Case("SQL as a clip id", 400, "not on this board", **up(_csv(g.assign(clip_id=[SQL] + d.ids[1:])))),
        Case("empty file", 400, "not a readable table", **up(b"")),
        Case("binary junk named .csv", 400, "not a readable table", **up(bytes(range(256)) * 8)),
        Case("junk named .parquet", 400, "not a readable table", **up(b"PAR1garbagePAR1", name="p.parquet")),
        Case("Parquet bomb (2M rows in a few kB)", 400, "rows but the board has", **up(_parquet_bomb(),
                                                                                         name="p.parquet")),
        Case("pickle file", 400, "must be .csv or .parquet", **up(b"\x80\x04K\x01.", name="p.pkl")),
        Case("method with a line break", 400, "one line", **up(good_csv, method="a\nb")),
        Case("10 000-character method", 400, "keep it to", **up(good_csv, method="m" * 10000)),
        # Harmless hostility is stored verbatim, and as nothing else.
        Case("path-like file name ../../etc/passwd.csv", 201, "", **up(_csv(d.preds(1.0, seed=2)),
                                                                      name="../../etc/passwd.csv")),
        Case("SQL in the method", 201, "", **up(good_csv, method=SQL)),
        Case("terminal escapes in the file name", 400, "x[31m.csv: score",
             headers={**auth, "Content-Type": "multipart/form-data; boundary=BOUNDARY"},
             content=_raw_multipart(_csv(g.assign(score=[2.0] + [0.5] * (len(g) - 1))), "x\x1b[31m\x07.csv")),
        Case("the same file again", 409, "already submitted", **up(good_csv)),
        Case("a team over its daily limit", 429, "submissions to 'demo' for today",
             **up(_csv(d.preds(2.0, seed=3)), token=ctx.tokens["busy"])),
    ]
    return out


def build_request(case: Case, base_url: str, asynchronous: bool):
    """``(method, url, kwargs)`` for ``httpx``; 'chunked' and 'slow' bodies become (async) generators."""
    import httpx

    kwargs = {"headers": case.headers, "files": case.files, "data": case.data, "content": case.content}
    kwargs = {k: v for k, v in kwargs.items() if v is not None}
    if not case.stream:
        return case.method, base_url + case.path, kwargs
    req = httpx.Request(case.method, base_url + case.path, **kwargs)
    body = req.read()
    headers = {k: v for k, v in req.headers.items() if k.lower() not in ("content-length", "host")}
    step = 64 * 1024 if case.stream == "chunked" else len(body) // 4 + 1
    pause = 0.0 if case.stream == "chunked" else LIMITS["request_timeout"] * 0.6
    chunks = [body[i:i + step] for i in range(0, len(body), step)]
    if asynchronous:
        async def agen():
            import asyncio

            for c in chunks:
                yield c
                await asyncio.sleep(pause)
        content = agen()
    else:
        def gen():
            import time

            for c in chunks:
                yield c
                time.sleep(pause)
        content = gen()
    return case.method, base_url + case.path, {"headers": headers, "content": content}


def fixed_clock() -> dt.datetime:
    return dt.datetime(2030, 6, 15, 12, 0, tzinfo=dt.UTC)
