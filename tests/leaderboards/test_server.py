"""The submission server: in-process API tests (httpx's ASGI transport), one real uvicorn process on a free
loopback port, and the live page in headless Chromium."""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import json
import re
import signal
import time

import pytest
from sklearn.metrics import roc_auc_score

from forgebench.errors import InputError
from forgebench.leaderboards import store as lb
from forgebench.leaderboards.server import ServerConfig, create_app
from forgebench.leaderboards.teams import add_team
from tests.leaderboards.conftest import call
from tests.leaderboards.serving import CHROMIUM, Chromium, start_server, stop_server


def _upload(token, payload, method="<b>x</b> & y", name="p.csv"):
    return {"headers": {"Authorization": f"Bearer {token}"}, "files": {"file": (name, payload, "text/csv")},
            "data": {"method": method}}


def test_api_scores_as_the_cli_does_and_shows_only_the_public_part(board, tmp_path):
    clock = [dt.datetime(2030, 1, 1, 20, 0, tzinfo=dt.UTC)]
    app = create_app(ServerConfig(store=board.store, daily_limit=2), clock=lambda: clock[0])
    token = add_team(board.store, "demo", "Team A")
    preds = board.preds(1.0, seed=3)
    r = call(app, "POST", "/api/boards/demo/submissions", **_upload(token, preds.to_csv(index=False).encode(),
                                                                     method="<b>x</b> & y"))
    assert r.status_code == 201, r.text
    got = r.json()
    s = preds.set_index("clip_id")["score"]
    assert got["public"]["auc"] == pytest.approx(roc_auc_score(board.public, s.loc[board.public.index]), abs=1e-12)
    assert got["team"] == "Team A" and got["remaining_today"] == 1 and "private" not in r.text
    # The same bad file through the library (as 'leaderboard submit' runs it) and through HTTP: one message.
    bad = preds.iloc[1:]
    bad.to_csv(tmp_path / "p.csv", index=False)
    with pytest.raises(InputError) as err:
        lb.submit(board.store, "demo", tmp_path / "p.csv", team="Team A", method="m")
    r = call(app, "POST", "/api/boards/demo/submissions", **_upload(token, bad.to_csv(index=False).encode()))
    assert r.status_code == 400 and r.json()["error"] == str(err.value)
    # Daily limit: the second submission of the UTC day is the last; the next day opens again.
    assert call(app, "POST", "/api/boards/demo/submissions", **_upload(token, board.csv(2.0, 4))).status_code == 201
    r = call(app, "POST", "/api/boards/demo/submissions", **_upload(token, board.csv(2.0, 5)))
    assert r.status_code == 429 and r.headers["Retry-After"] == str(4 * 3600)
    clock[0] += dt.timedelta(hours=4)
    assert call(app, "POST", "/api/boards/demo/submissions", **_upload(token, board.csv(2.0, 5))).status_code == 201

    ranking = call(app, "GET", "/api/boards/demo").json()
    assert ranking["part"] == "public" and ranking["n_clips"] == len(board.public)
    assert [row["team"] for row in ranking["ranking"]] == ["Team A"] and ranking["submissions"] == 3
    table, _ = lb.standings(board.store, "demo", "public")
    assert ranking["ranking"][0]["auc"] == table["auc"].iloc[0]
    page = call(app, "GET", "/boards/demo")
    assert page.status_code == 200 and "<b>x</b>" not in page.text and "&lt;b&gt;x&lt;/b&gt; &amp; y" in page.text
    assert "± …" in page.text and 'id="pending"' in page.text  # no worker in-process: intervals are pending
    # Every inline script is allowed by its hash in the page's Content-Security-Policy, and nothing else is.
    csp = page.headers["content-security-policy"]
    for script in re.findall(r"<script>(.*?)</script>", page.text, flags=re.S):
        digest = base64.b64encode(hashlib.sha256(script.encode()).digest()).decode()
        assert f"'sha256-{digest}'" in csp
    assert "default-src 'none'" in csp and "unsafe-inline" not in csp.split("script-src")[1].split(";")[0]
    assert call(app, "GET", "/healthz").json() == {"status": "ok", "boards": 1}
    assert 'href="boards/demo"' in call(app, "GET", "/").text


@pytest.mark.skipif(CHROMIUM is None, reason="chromium is not installed (apt-get install chromium; .ci/run does)")
def test_real_server_on_loopback_and_the_live_page_in_chromium(board, tmp_path):
    import httpx

    tokens = {t: add_team(board.store, "demo", t) for t in ("Team A", "Team B")}
    proc, url, lines = start_server(board.store, "--refresh", "1", "--quiet")
    try:
        assert url.startswith("http://127.0.0.1:") and any("loopback only" in line for line in lines[:4])
        with httpx.Client(base_url=url, timeout=60) as client:
            assert client.get("/healthz").json()["status"] == "ok"
            r = client.post("/api/boards/demo/submissions", **_upload(tokens["Team A"], board.csv(1.0, 1)))
            assert r.status_code == 201, r.text
            with Chromium(tmp_path / "chromium") as browser:
                browser.goto(f"{url}/boards/demo")
                teams = "Array.from(document.querySelectorAll('#board td.team')).map(td => td.textContent)"
                assert browser.evaluate(teams) == ["Team A"]
                # A new submission appears on the open page without a reload.
                r = client.post("/api/boards/demo/submissions", **_upload(tokens["Team B"], board.csv(3.0, 2)))
                assert r.status_code == 201
                assert browser.wait_for(f"{teams}.join() === 'Team B,Team A'", timeout=20), browser.evaluate(teams)
                assert int(browser.evaluate("document.getElementById('board').dataset.refreshes")) >= 1
                assert "2 submissions" in browser.evaluate("document.getElementById('count').textContent")
                shot = browser.screenshot(tmp_path / "live.png")
                assert shot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and shot.stat().st_size > 10_000
            # The server answered with values; its background worker adds the bootstrap intervals.
            for _ in range(120):
                ranking = client.get("/api/boards/demo").json()["ranking"]
                if all(row["auc_ci"][0] is not None for row in ranking):
                    break
                time.sleep(0.5)
            table, _ = lb.standings(board.store, "demo", "public")
            assert [row["auc_ci"] for row in ranking] == table[["auc_ci_low", "auc_ci_high"]].values.tolist()
    finally:
        assert stop_server(proc, signal.SIGINT) == 0
    audit = [json.loads(x) for x in (board.store / "audit.log").read_text().splitlines()]
    posts = [a for a in audit if a["method"] == "POST"]
    assert [(a["team"], a["status"]) for a in posts] == [("Team A", 201), ("Team B", 201)]
    assert all(a["bytes"] > 1000 for a in posts) and any(a["path"] == "/boards/demo" for a in audit)
