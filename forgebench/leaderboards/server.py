"""The submission server: a thin HTTP layer (Starlette, under uvicorn) over the store, the teams and the checks.

Routes (every error is JSON ``{"error": "<one line>", "status": N}``)::

    GET  /healthz                          {"status": "ok", "boards": N}
    GET  /                                 the boards, as links to their live pages
    GET  /api/boards                       the boards, as JSON
    GET  /api/boards/{board}               the public ranking (JSON)
    GET  /boards/{board}                   the public ranking (HTML, refreshes itself)
    POST /api/boards/{board}/submissions   Authorization: Bearer TOKEN; multipart 'file' (CSV or Parquet
                                           with clip_id, score) and 'method' (one line) -> 201 {id, status,
                                           public: {auc, ...}, remaining_today}

A submission goes through exactly what ``forgebench leaderboard submit`` runs:
:func:`~forgebench.leaderboards.validation.parse_predictions`, then
:func:`~forgebench.leaderboards.store.add_submission` (board check, scoring,
daily limit and duplicate check inside the one write transaction). The server
only adds what HTTP needs: the token (401), the body limit (413, checked on
``Content-Length`` and again on the bytes that arrive), the time a client has to
send its request (408), the content type (415) and the mapping of the store's
errors to 400 (bad file), 404 (unknown board), 409 (same file again) and 429
(over the team's daily limit, with ``Retry-After``). Store work runs in worker
threads (SQLite and scoring block); scoring threads are capped so that a burst
queues instead of exhausting memory. A submission is answered with its metric
values (milliseconds of work); their bootstrap intervals (seconds of work each)
are filled in by :class:`IntervalWorker`, the same ``score_board`` that
``forgebench leaderboard score`` runs. Every request writes one JSON line to the
audit log (time, client, method, path, board, team, status, bytes in, ms), never
a header, so never a token.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import functools
import json
import sqlite3
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import anyio
from starlette.applications import Starlette
from starlette.datastructures import UploadFile
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, Response
from starlette.routing import Route

from forgebench.errors import InputError
from forgebench.leaderboards import pages
from forgebench.leaderboards.store import (
    DB_NAME,
    DailyLimitError,
    DuplicateSubmissionError,
    UnknownBoardError,
    _check_limit,
    add_submission,
    board_names,
    connect,
    day_start,
    load_board,
    now_utc,
    score_board,
    standings,
)
from forgebench.leaderboards.teams import AuthError, authenticate
from forgebench.leaderboards.validation import BOARD_NAME, MAX_SUBMISSION_BYTES, parse_predictions

FORM_FIELDS = ("file", "method")


@dataclass(frozen=True)
class ServerConfig:
    """What ``forgebench leaderboard serve`` configures; every limit is enforced here, on the server."""

    store: Path
    daily_limit: int = 5  # stored submissions per team and board per UTC day
    max_bytes: int = MAX_SUBMISSION_BYTES  # request body, multipart envelope included
    request_timeout: float = 60.0  # seconds a client has to send its whole request body
    refresh: int = 15  # seconds between the live page's refreshes
    scoring_threads: int = 2  # submissions validated and scored at once; the rest queue
    audit_log: Path | None = None  # default <store>/audit.log
    echo: bool = False  # also print each audit line to stderr


class ApiError(Exception):
    def __init__(self, status: int, message: str, headers: dict[str, str] | None = None):
        super().__init__(message)
        self.status, self.message, self.headers = status, message, headers or {}


ERROR_STATUS = ((UnknownBoardError, 404), (AuthError, 401), (DailyLimitError, 429),
                (DuplicateSubmissionError, 409), (InputError, 400))
SECURITY_HEADERS = {"X-Content-Type-Options": "nosniff", "Cache-Control": "no-store", "Referrer-Policy": "no-referrer"}


def _json(data: dict, status: int = 200, headers: dict[str, str] | None = None) -> JSONResponse:
    return JSONResponse(data, status_code=status, headers={**SECURITY_HEADERS, **(headers or {})})


def _error(status: int, message: str, headers: dict[str, str] | None = None) -> JSONResponse:
    return _json({"error": message, "status": status}, status, headers)


class AuditLog:
    """Appends one JSON line per request to a file (and stderr with ``echo``); thread-safe."""

    def __init__(self, path: Path, echo: bool = False):
        self.path, self.echo = path, echo
        self._lock = threading.Lock()
        self._file = open(path, "a", encoding="utf-8", buffering=1)  # noqa: SIM115 (lives with the app)

    def write(self, record: dict) -> None:
        line = json.dumps(record, ensure_ascii=True)
        with self._lock:
            self._file.write(line + "\n")
            if self.echo:
                print(line, file=sys.stderr, flush=True)


class AuditMiddleware:
    """ASGI middleware: times the request, counts its body bytes, and logs what the handler learned."""

    def __init__(self, app, sink: AuditLog):
        self.app, self.sink = app, sink

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        t0, status, size = time.perf_counter(), [500], [0]
        state = scope.setdefault("state", {})

        async def counting_receive():
            message = await receive()
            if message["type"] == "http.request":
                size[0] += len(message.get("body", b""))
            return message

        async def capturing_send(message):
            if message["type"] == "http.response.start":
                status[0] = message["status"]
            await send(message)

        try:
            await self.app(scope, counting_receive, capturing_send)
        finally:
            client = scope.get("client") or ("-", 0)
            self.sink.write({"time": now_utc().isoformat(timespec="milliseconds"), "client": client[0],
                             "method": scope["method"], "path": scope["path"][:200],
                             "board": str(state.get("board", "-"))[:80], "team": state.get("team", "-"),
                             "status": status[0], "bytes": size[0],
                             "ms": round((time.perf_counter() - t0) * 1000, 1)})


def _board(request: Request) -> str:
    """The board named in the path; a name that cannot exist is a 404 before anything else runs."""
    board = request.path_params["board"]
    request.state.board = board
    if not BOARD_NAME.fullmatch(board):
        raise ApiError(404, f"no board {board[:80]!r} on this server: board names are lowercase letters, digits, "
                       "'-' and '_'")
    return board


def _bearer(request: Request) -> str:
    scheme, _, token = request.headers.get("authorization", "").partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise ApiError(401, "missing token: send 'Authorization: Bearer <team token>' (the host gives each "
                       "team one with 'forgebench leaderboard team add')", {"WWW-Authenticate": "Bearer"})
    return token.strip()


def create_app(config: ServerConfig, clock: Callable[[], dt.datetime] = now_utc) -> Starlette:
    """The ASGI application over ``config.store`` (which must exist). ``clock`` is injectable for tests."""
    store = Path(config.store)
    # Fail now, with one line, if the store cannot be opened; then keep this connection for the app's life, so
    # that the last request's connection to close does not checkpoint and remove the WAL every time.
    with connect(store):
        pass
    keeper = sqlite3.connect(store / DB_NAME, check_same_thread=False)
    audit = AuditLog(config.audit_log or store / "audit.log", echo=config.echo)
    scoring = anyio.CapacityLimiter(max(1, config.scoring_threads))
    hashing = anyio.CapacityLimiter(4)  # scrypt takes 4 MiB per token check

    async def run(fn, *args, limiter=None, **kwargs):
        """Run blocking store work in a thread; map the store's errors to HTTP errors."""
        try:
            return await anyio.to_thread.run_sync(functools.partial(fn, *args, **kwargs), limiter=limiter)
        except InputError as exc:
            status = next(code for cls, code in ERROR_STATUS if isinstance(exc, cls))
            headers = {"WWW-Authenticate": "Bearer"} if status == 401 else {}
            if status == 429:
                tomorrow = dt.datetime.fromisoformat(day_start(clock())) + dt.timedelta(days=1)
                headers["Retry-After"] = str(max(1, int((tomorrow - clock()).total_seconds())))
            raise ApiError(status, str(exc), headers) from None

    def _spec(board: str):
        with connect(store) as con:
            try:
                return load_board(con, board)
            except UnknownBoardError:
                raise ApiError(404, f"no board {board!r} on this server: GET /api/boards lists them") from None

    async def healthz(request: Request) -> Response:
        return _json({"status": "ok", "boards": len(await run(board_names, store))})

    async def index(request: Request) -> Response:
        import html

        names = await run(board_names, store)
        items = "".join(f'<li><a href="boards/{html.escape(n)}">{html.escape(n)}</a></li>' for n in names)
        body = f"<h1>Leaderboards</h1><ul>{items or '<li>no boards yet</li>'}</ul>"
        return _html(pages.html_page(body, title="Leaderboards"))

    async def list_boards(request: Request) -> Response:
        return _json({"boards": await run(board_names, store)})

    def _ranking(board: str):
        spec = _spec(board)
        table, _ = standings(store, board, "public")
        with connect(store) as con:
            total = con.execute("SELECT COUNT(*) FROM submissions WHERE board=? AND status != 'pending'",
                                (board,)).fetchone()[0]
        return spec, table, clock().isoformat(timespec="seconds"), total

    async def board_json(request: Request) -> Response:
        spec, table, updated, total = await run(_ranking, _board(request))
        return _json(pages.ranking_json(spec, table, updated, total))

    async def board_page(request: Request) -> Response:
        spec, table, updated, total = await run(_ranking, _board(request))
        return _html(pages.live_html(spec, table, updated, config.refresh, total))

    async def submit(request: Request) -> Response:
        board = _board(request)
        spec = await run(_spec, board)
        team = await run(authenticate, store, board, _bearer(request), limiter=hashing)
        request.state.team = team
        length = request.headers.get("content-length", "")
        if length.isdigit() and int(length) > config.max_bytes:
            raise ApiError(413, f"the request is {_mib(int(length))}, over the server's {_mib(config.max_bytes)} "
                           "limit: submit only clip_id and score")
        ctype = request.headers.get("content-type", "").split(";")[0].strip().lower()
        if ctype != "multipart/form-data":
            raise ApiError(415, f"the request is {ctype or 'untyped'!s}: send multipart/form-data with a 'file' "
                           "(CSV or Parquet) and a 'method' field")
        await run(_check_limit_now, board, team)
        data, name, method = await _read_form(request)
        preds = await run(parse_predictions, data, name, n_clips=spec.n_clips, limiter=scoring)
        sub = await run(add_submission, store, board, preds, team, method, name=name, intervals=False,
                        daily_limit=config.daily_limit, clock=clock, limiter=scoring)
        app.state.intervals.wake()
        public = sub.scores.get("public", {})
        return _json({"id": sub.id, "status": sub.status, "board": board, "team": team, "submitted": sub.submitted,
                      "n": sub.n, "public": {m: pages._num(s.value) for m, s in public.items()},
                      "intervals": f"being computed in the background: GET /api/boards/{board} shows them when done",
                      "daily_limit": config.daily_limit,
                      "remaining_today": max(0, config.daily_limit - sub.submitted_today)}, 201)

    def _check_limit_now(board: str, team: str) -> None:
        with connect(store) as con:
            _check_limit(con, board, team, clock(), config.daily_limit)

    async def _read_form(request: Request) -> tuple[bytes, str, str]:
        received = [0]

        async def limited_receive():
            message = await request.receive()
            received[0] += len(message.get("body", b""))
            if received[0] > config.max_bytes:
                raise ApiError(413, f"the request is over the server's {_mib(config.max_bytes)} limit: "
                               "submit only clip_id and score")
            return message

        try:
            with anyio.fail_after(config.request_timeout):
                form = await Request(request.scope, limited_receive).form(max_files=1, max_fields=len(FORM_FIELDS))
                try:
                    extra = sorted(set(form.keys()) - set(FORM_FIELDS))
                    if extra:
                        raise ApiError(400, f"unexpected form fields {[k[:40] for k in extra[:5]]}: send only "
                                       "'file' and 'method'")
                    upload, method = form.get("file"), form.get("method")
                    if not isinstance(upload, UploadFile):
                        raise ApiError(400, "no file: send the predictions as the multipart field 'file'")
                    if not isinstance(method, str):
                        raise ApiError(400, "no method: describe the method in the form field 'method' (one line)")
                    data = await upload.read()
                finally:
                    await form.close()  # uploads over 1 MiB were spooled to temporary files
        except TimeoutError:
            raise ApiError(408, f"the request took over {config.request_timeout:g} s to arrive: send it again "
                           "on a faster link") from None
        # The file name only labels messages (and picks the reader by its suffix): printable, short, no folders.
        name = "".join(c for c in Path(upload.filename or "").name if c.isprintable())[:120] or "upload"
        return data, name, method

    routes = [Route("/healthz", healthz), Route("/", index), Route("/api/boards", list_boards),
              Route("/api/boards/{board}", board_json), Route("/boards/{board}", board_page),
              Route("/api/boards/{board}/submissions", submit, methods=["POST"])]

    async def api_error(request: Request, exc: ApiError) -> Response:
        return _error(exc.status, exc.message, exc.headers)

    async def http_error(request: Request, exc: HTTPException) -> Response:
        message = {404: "no such page: see GET / for the boards",
                   405: f"{request.method} is not allowed here"}.get(exc.status_code, str(exc.detail)[:300])
        return _error(exc.status_code, message, dict(exc.headers or {}))

    async def crash(request: Request, exc: Exception) -> Response:
        return _error(500, "internal error: the host can find it in the server's log")

    intervals = IntervalWorker(store)

    @contextlib.asynccontextmanager
    async def lifespan(app):
        intervals.start()
        try:
            yield
        finally:
            intervals.stop()

    app = Starlette(routes=routes, exception_handlers={ApiError: api_error, HTTPException: http_error,
                                                       Exception: crash}, lifespan=lifespan)
    app.add_middleware(AuditMiddleware, sink=audit)
    app.state.audit, app.state.intervals, app.state.keeper = audit, intervals, keeper
    return app


class IntervalWorker:
    """A thread that bootstraps the public intervals of submissions stored with values only (status
    ``points`` -> ``public``): what the live board shows. The private part's intervals are computed when
    the host publishes the final ranking, for the submissions it ranks.

    It runs :func:`~forgebench.leaderboards.store.score_board` (one transaction per
    submission) when woken by a new submission and every ``poll`` seconds, so
    submissions that a killed server left without intervals get them after a
    restart. It only runs inside a served app (the ASGI lifespan); in-process
    test clients leave intervals to ``forgebench leaderboard score``.
    """

    def __init__(self, store: Path, poll: float = 30.0):
        self.store, self.poll = store, poll
        self._wake, self._stop = threading.Event(), threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        self._thread = threading.Thread(target=self._loop, name="forgebench-intervals", daemon=True)
        self._thread.start()

    def wake(self) -> None:
        self._wake.set()

    def stop(self) -> None:
        self._stop.set()
        self._wake.set()
        if self._thread:
            self._thread.join(timeout=5)

    def _loop(self) -> None:
        while not self._stop.is_set():
            self._wake.clear()
            try:
                for board in board_names(self.store):
                    if self._stop.is_set():
                        break
                    score_board(self.store, board, public_only=True)
            except Exception as exc:  # keep serving; the next pass retries
                print(f"forgebench: intervals: {type(exc).__name__}: {exc}", file=sys.stderr, flush=True)
            self._wake.wait(self.poll)


def _mib(n: int) -> str:
    return f"{n / 2**20:.3g} MiB"


def _html(text: str) -> HTMLResponse:
    csp = (f"default-src 'none'; style-src 'unsafe-inline'; script-src {' '.join(pages.script_hashes())}; "
           "connect-src 'self'; img-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'")
    return HTMLResponse(text, headers={**SECURITY_HEADERS, "Content-Security-Policy": csp})


def serve(config: ServerConfig, host: str = "127.0.0.1", port: int = 8000, say: Callable[[str], None] = print) -> None:
    """Bind ``host:port`` (port 0: any free port), say where, and serve until interrupted."""
    import socket

    import uvicorn

    app = create_app(config)
    from forgebench.leaderboards.scoring import evaluate_scores

    evaluate_scores([0, 1], [0.25, 0.75], n_boot=0)  # load the metric modules now, not in the first request
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
    except OSError as exc:
        sock.close()
        raise InputError(f"cannot listen on {host}:{port} ({exc.strerror}): choose another --port or --host") from None
    sock.listen(2048)
    bound = sock.getsockname()[1]
    url_host = f"[{host}]" if ":" in host else host
    loopback = host in ("127.0.0.1", "::1", "localhost")
    boards = board_names(config.store)
    say(f"serving {len(boards)} board(s) from {config.store} at http://{url_host}:{bound}/ "
        + ("(loopback only: other machines cannot connect; --host 0.0.0.0 accepts them)" if loopback else
           "(reachable from other machines: put a TLS proxy in front, tokens travel in plain HTTP otherwise)"))
    say(f"limits: {config.daily_limit} submissions per team per UTC day, {_mib(config.max_bytes)} per "
        f"request, {config.request_timeout:g} s to send it; audit log: {app.state.audit.path}")
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning", access_log=False, lifespan="on",
                                          timeout_keep_alive=5, server_header=False))
    server.run(sockets=[sock])
