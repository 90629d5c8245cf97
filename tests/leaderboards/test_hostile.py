"""The table of malformed and hostile requests (hostile_cases.py): each gets its status and one JSON line,
the store keeps exactly the accepted submissions, and no token reaches the audit log."""

from __future__ import annotations

import asyncio
import json
import sqlite3

from forgebench.leaderboards import store as lb
from forgebench.leaderboards.server import ServerConfig, create_app
from tests.leaderboards import hostile_cases as hc


def test_every_hostile_request_gets_its_answer_and_changes_only_what_it_should(tmp_path):
    import httpx

    ctx = hc.setup(tmp_path, clock=hc.fixed_clock)
    table = hc.cases(ctx)
    assert len(table) >= 30
    app = create_app(ServerConfig(store=ctx.data.store, **hc.LIMITS), clock=hc.fixed_clock)

    async def run_all():
        got = []
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://board.test") as c:
            for case in table:
                method, url, kwargs = hc.build_request(case, "http://board.test", asynchronous=True)
                got.append(await c.request(method, url, **kwargs))
        return got

    answers = asyncio.run(run_all())
    wrong = []
    for case, r in zip(table, answers):
        body = r.json()
        said = body.get("error", "") if case.fragment else str(body.get("id", ""))
        ok = r.status_code == case.expect and (case.fragment in said if case.fragment else said.isdigit())
        if not ok:
            wrong.append((case.name, case.expect, r.status_code, body))
        if r.status_code >= 400:
            assert set(body) == {"error", "status"} and "\n" not in body["error"], case.name
        assert r.headers["content-type"] == "application/json", case.name
    assert not wrong, wrong
    assert answers[-1].headers["Retry-After"] == str(12 * 3600)  # fixed clock: noon UTC
    assert answers[0].headers["WWW-Authenticate"] == "Bearer"

    # Exactly the two accepted submissions were added (to the busy team's three), verbatim, and nothing else.
    con = sqlite3.connect(ctx.data.store / lb.DB_NAME)
    try:
        assert con.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        rows = con.execute("SELECT team, method FROM submissions ORDER BY id").fetchall()
        assert rows[3:] == [("Team A", "a detector"), ("Team A", hc.SQL)] and len(rows) == 5
        assert {r[0] for r in con.execute("SELECT name FROM sqlite_master WHERE type='table'")} >= \
            {"boards", "labels", "teams", "submissions", "predictions", "scores"}
    finally:
        con.close()
    files = sorted(str(p.relative_to(ctx.data.store)) for p in ctx.data.store.rglob("*") if p.is_file())
    assert [f for f in files if not f.startswith("store.sqlite")] == \
        ["audit.log", "boards/demo/clips.csv", "boards/other/clips.csv"]

    # One audit line per request: team and board when known, never a token.
    log = (ctx.data.store / "audit.log").read_text()
    lines = [json.loads(x) for x in log.splitlines()]
    assert len(lines) == len(table)
    assert [x["status"] for x in lines] == [r.status_code for r in answers]
    assert lines[-1]["team"] == "Team Busy" and lines[-1]["board"] == "demo" and lines[0]["team"] == "-"
    for token in ctx.tokens.values():
        assert token.split(".")[1] not in log
