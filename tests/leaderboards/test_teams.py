"""Team tokens: shown once, kept only as a salted scrypt hash, board-bound, revocable."""

from __future__ import annotations

import hashlib
import sqlite3

import pytest

from forgebench.errors import InputError
from forgebench.leaderboards import store as lb
from forgebench.leaderboards.teams import AuthError, add_team, authenticate, list_teams, parse_token, revoke_team
from tests.leaderboards.conftest import make_board


def test_tokens_are_hashed_board_bound_and_revocable(board, tmp_path):
    make_board(tmp_path, board="other", store=board.store)
    token = add_team(board.store, "demo", "Team A")
    other = add_team(board.store, "other", "Team A")
    key_id, secret = parse_token(token)
    assert authenticate(board.store, "demo", token) == "Team A"
    # The store holds the salted scrypt hash (recomputed here with hashlib), never the secret itself.
    con = sqlite3.connect(board.store / lb.DB_NAME)
    salt, digest = con.execute("SELECT salt, hash FROM teams WHERE key_id=?", (key_id,)).fetchone()
    con.close()
    assert digest == hashlib.scrypt(secret.encode(), salt=salt, n=2**12, r=8, p=1, dklen=32) and len(salt) == 16
    raw = b"".join(p.read_bytes() for p in board.store.iterdir() if p.is_file())
    assert secret.encode() not in raw and token.encode() not in raw
    wrong = token[:-1] + ("A" if token[-1] != "A" else "B")
    for bad, on in ((wrong, "demo"), (other, "demo"), (token, "other"), ("", "demo"), ("Bearer x", "demo"),
                    (f"fbt_{'0' * 16}.{secret}", "demo")):
        with pytest.raises(AuthError, match="not valid for board"):
            authenticate(board.store, on, bad)
    with pytest.raises(InputError, match="already has a token"):
        add_team(board.store, "demo", "Team A")
    revoke_team(board.store, "demo", "Team A")
    with pytest.raises(AuthError):
        authenticate(board.store, "demo", token)
    assert authenticate(board.store, "other", other) == "Team A"  # the other board's token still works
    with pytest.raises(InputError, match="no team"):
        revoke_team(board.store, "demo", "Team A")
    fresh = add_team(board.store, "demo", "Team A")
    assert fresh != token and authenticate(board.store, "demo", fresh) == "Team A"
    with pytest.raises(AuthError):
        authenticate(board.store, "demo", token)
    teams = list_teams(board.store, "demo")
    assert teams["name"].tolist() == ["Team A"] and teams["revoked"].tolist() == [""]
    with pytest.raises(lb.UnknownBoardError):
        add_team(board.store, "nope", "Team B")
    with pytest.raises(InputError, match="team name"):
        add_team(board.store, "demo", "../x")
