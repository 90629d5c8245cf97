"""Teams and their submission tokens.

``add_team`` makes a token ``fbt_<key id>.<secret>``: the key id (16 hex digits,
not secret) finds the team's row; the secret (``secrets.token_urlsafe(32)``,
256 bits) is kept only as a salted scrypt hash, so the store cannot give a token
back: the host hands it to the team once. :func:`authenticate` recomputes the
hash and compares it with :func:`hmac.compare_digest` (constant time), and does
the same work for an unknown key id, so the answer time says nothing about
which tokens exist. A revoked team's token stops working at once; adding the
team again issues a new token.

scrypt costs 10-40 ms of CPU, too much for every request of a busy server, so a
process remembers, per (key id, stored hash), the SHA-256 of a secret that has
passed scrypt once and compares later requests with that (still in constant
time, still reading the team's row, so revocation and reissue take effect at once).

>>> parse_token("Bearer nonsense") is None
True
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
from pathlib import Path

import pandas as pd

from forgebench.errors import InputError
from forgebench.leaderboards.store import _iso, connect, load_board, now_utc, transaction
from forgebench.leaderboards.validation import check_team_name

TOKEN = re.compile(r"^fbt_([0-9a-f]{16})\.([A-Za-z0-9_-]{43})$")
# scrypt at 4 MiB, 10 ms on an idle core (42 ms on a loaded one): the secrets have 256 bits, so the hash only
# guards a stolen store file and need not be slow; 16 MiB (n=2**14) cost 150 ms a check, 10 s for 50 teams at once.
SCRYPT = {"n": 2**12, "r": 8, "p": 1, "dklen": 32}
_DUMMY_SALT = b"forgebench-dummy"
_VERIFIED: dict[tuple[str, bytes], bytes] = {}  # (key id, stored hash) -> SHA-256 of the secret that matched it
_VERIFIED_MAX = 100_000


class AuthError(InputError):
    """A missing, malformed, unknown or revoked token, or one for another board (HTTP 401)."""


def _hash(secret: str, salt: bytes) -> bytes:
    return hashlib.scrypt(secret.encode("ascii"), salt=salt, **SCRYPT)


def parse_token(token: str) -> tuple[str, str] | None:
    """``(key id, secret)`` of a well-formed token, else None."""
    m = TOKEN.fullmatch(token or "")
    return (m.group(1), m.group(2)) if m else None


def add_team(store: str | Path, board: str, team: str) -> str:
    """Register ``team`` on ``board`` (or give a revoked team a new token); returns the token, shown once."""
    check_team_name(team)
    key_id, secret = secrets.token_hex(8), secrets.token_urlsafe(32)
    salt = secrets.token_bytes(16)
    digest = _hash(secret, salt)
    with connect(store) as con, transaction(con):
        load_board(con, board)
        row = con.execute("SELECT revoked FROM teams WHERE board=? AND name=?", (board, team)).fetchone()
        if row is not None and row[0] is None:
            raise InputError(f"team {team!r} already has a token for {board!r}: revoke it first "
                             f"('forgebench leaderboard team revoke {board} {team!r}') to issue a new one")
        if row is None:
            con.execute("INSERT INTO teams (board, name, key_id, salt, hash, created, revoked) "
                        "VALUES (?, ?, ?, ?, ?, ?, NULL)", (board, team, key_id, salt, digest, _iso(now_utc())))
        else:
            con.execute("UPDATE teams SET key_id=?, salt=?, hash=?, created=?, revoked=NULL WHERE board=? AND "
                        "name=?", (key_id, salt, digest, _iso(now_utc()), board, team))
    return f"fbt_{key_id}.{secret}"


def revoke_team(store: str | Path, board: str, team: str) -> None:
    """Stop ``team``'s token from working on ``board``; its submissions stay on the board."""
    check_team_name(team)
    with connect(store) as con, transaction(con):
        load_board(con, board)
        cur = con.execute("UPDATE teams SET revoked=? WHERE board=? AND name=? AND revoked IS NULL",
                          (_iso(now_utc()), board, team))
        if cur.rowcount == 0:
            raise InputError(f"board {board!r} has no team {team!r} with a live token: see "
                             f"'forgebench leaderboard team list {board}'")


def list_teams(store: str | Path, board: str) -> pd.DataFrame:
    """One row per team: name, created, revoked ('' if live), submissions, last (time of the latest)."""
    with connect(store) as con:
        load_board(con, board)
        return pd.read_sql_query(
            "SELECT t.name, t.created, COALESCE(t.revoked, '') AS revoked, COUNT(s.id) AS submissions, "
            "COALESCE(MAX(s.submitted), '') AS last FROM teams t LEFT JOIN submissions s "
            "ON s.board = t.board AND s.team = t.name WHERE t.board=? GROUP BY t.name ORDER BY t.name",
            con, params=(board,))


def authenticate(store: str | Path, board: str, token: str) -> str:
    """The name of the team whose live token for ``board`` is ``token``; else :class:`AuthError`."""
    parsed = parse_token(token)
    key_id, secret = parsed if parsed else ("", "x" * 43)
    row = None
    if parsed:
        with connect(store) as con:
            row = con.execute("SELECT board, name, salt, hash, revoked FROM teams WHERE key_id=?",
                              (key_id,)).fetchone()
    quick = hashlib.sha256(secret.encode("ascii")).digest()
    seen = _VERIFIED.get((key_id, row[3])) if row else None
    if seen is not None:
        ok = hmac.compare_digest(quick, seen)
    else:  # one scrypt whatever the token: an unknown key id costs as much as a wrong secret
        ok = hmac.compare_digest(_hash(secret, row[2] if row else _DUMMY_SALT), row[3] if row else bytes(32))
        if ok:
            if len(_VERIFIED) >= _VERIFIED_MAX:
                _VERIFIED.clear()
            _VERIFIED[(key_id, row[3])] = quick
    if not (ok and row and row[0] == board and row[4] is None):
        raise AuthError(f"the token is not valid for board {board!r} (unknown, revoked or another board's): "
                        "ask the board's host for a team token")
    return row[1]
