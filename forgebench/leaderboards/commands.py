"""``forgebench leaderboard init | submit | score | publish | serve | team add | team list | team revoke``.

Only argparse at import time: each action imports what it needs (the web stack only in ``serve``).
"""

from __future__ import annotations

import argparse
from pathlib import Path

from forgebench.config_cli import number


def _store(args: argparse.Namespace) -> Path:
    from forgebench.leaderboards.store import default_store

    return Path(args.store) if args.store else default_store()


def _cmd_init(args: argparse.Namespace) -> int:
    from forgebench.leaderboards.store import init_board

    public = init_board(_store(args), args.board, args.manifest, split=args.split or None, n_boot=args.n_boot,
                        seed=args.seed, description=args.description, private_fraction=args.private_fraction)
    print(f"board {args.board!r} created; its labels stay in {_store(args)} "
          f"({args.private_fraction:.0%} of the clips are private: they rank only 'publish --final').\n"
          f"publish this clip list to participants: {public}")
    return 0


def _cmd_submit(args: argparse.Namespace) -> int:
    from forgebench.leaderboards.store import submit

    sub = submit(_store(args), args.board, args.predictions, team=args.team, method=args.method,
                 max_bytes=int(args.max_mb * 1024 * 1024), score=not args.no_score)
    if sub.scores:
        s = sub.scores["public"]["auc"]
        print(f"submission #{sub.id} of {sub.team!r} on {sub.board!r}: AUC {s.value:.4f} "
              f"[{s.ci_low:.4f}, {s.ci_high:.4f}] on the public part ({sub.n} clips scored; the private part "
              "ranks only 'publish --final')")
    else:
        print(f"submission #{sub.id} of {sub.team!r} on {sub.board!r} stored; score it with "
              f"'forgebench leaderboard score {sub.board}'")
    return 0


def _cmd_score(args: argparse.Namespace) -> int:
    from forgebench.leaderboards.pages import board_table, to_markdown
    from forgebench.leaderboards.store import score_board

    n = score_board(_store(args), args.board, rescore=args.rescore)
    print(f"scored {n} submission(s)\n")
    table = board_table(_store(args), args.board, "public", best_per_team=not args.all_submissions)
    print(to_markdown(table, args.board, "public"))
    return 0


def _cmd_publish(args: argparse.Namespace) -> int:
    from forgebench.leaderboards.pages import publish

    for p in publish(_store(args), args.board, args.output, best_per_team=not args.all_submissions,
                     final=args.final):
        print(p)
    return 0


def _cmd_serve(args: argparse.Namespace) -> int:
    # The numbers were range-checked by argparse (config_cli.number): one line each.
    from forgebench.leaderboards.server import ServerConfig, serve

    config = ServerConfig(store=_store(args), daily_limit=args.daily_limit, max_bytes=int(args.max_mb * 1024 * 1024),
                          request_timeout=args.request_timeout, refresh=args.refresh,
                          scoring_threads=args.scoring_threads, echo=not args.quiet,
                          audit_log=Path(args.audit_log) if args.audit_log else None)
    try:
        serve(config, host=args.host, port=args.port, say=lambda line: print(line, flush=True))
    except KeyboardInterrupt:
        pass
    return 0


def _cmd_team_add(args: argparse.Namespace) -> int:
    from forgebench.leaderboards.teams import add_team

    token = add_team(_store(args), args.board, args.team)
    print(f"team {args.team!r} can now submit to {args.board!r}. Its token, shown only this once "
          f"(the store keeps only a hash):\n{token}")
    return 0


def _cmd_team_list(args: argparse.Namespace) -> int:
    from forgebench.leaderboards.teams import list_teams

    teams = list_teams(_store(args), args.board)
    if teams.empty:
        print(f"board {args.board!r} has no teams: add one with 'forgebench leaderboard team add {args.board} TEAM'")
    else:
        print(teams.to_string(index=False))
    return 0


def _cmd_team_revoke(args: argparse.Namespace) -> int:
    from forgebench.leaderboards.teams import revoke_team

    revoke_team(_store(args), args.board, args.team)
    print(f"team {args.team!r}'s token for {args.board!r} no longer works; its submissions stay on the board")
    return 0


def register(subparsers: argparse._SubParsersAction) -> None:
    lb = subparsers.add_parser(
        "leaderboard", help="host a detection leaderboard: init, submit, score, publish, serve, team",
        description="A leaderboard is a test set whose labels only the host holds. 'init' stores the labels in a "
                    "SQLite store, splits the clips into a public and a private part, and writes the public clip "
                    "list; 'submit' checks and scores a predictions file (CSV or Parquet with columns "
                    "clip_id,score; score = probability the clip is fake); 'score' scores pending submissions; "
                    "'publish' writes the ranked table (Markdown, HTML, CSV) with 95% intervals and DeLong tests "
                    "between neighbours ('--final': on the private part); 'serve' takes submissions from teams "
                    "over HTTP ('team add' gives each team a token) and shows a live board.")
    sub = lb.add_subparsers(dest="leaderboard_command", metavar="ACTION", required=True)

    def store_arg(q: argparse.ArgumentParser) -> None:
        q.add_argument("--store", metavar="DIR",
                       help="leaderboard store folder (default $FORGEBENCH_HOME/leaderboards)")

    def common(q: argparse.ArgumentParser) -> None:
        q.add_argument("board", help="board name: lowercase letters, digits, '-' and '_'")
        store_arg(q)

    q = sub.add_parser("init", help="create a board from a labelled manifest",
                       description="Create a board from a manifest (manifest.parquet, a run folder, or a CSV with "
                                   "clip_id,label[,source_id]). Labels go into the store only; clips.csv lists the "
                                   "clip ids. A share of the clips (--private-fraction, stratified by label and "
                                   "identity) is kept private: the live board never ranks on it, the final does.")
    common(q)
    q.add_argument("--manifest", required=True, help="labelled manifest (Parquet, run folder or CSV)")
    q.add_argument("--split", default="test", help="manifest split to use (default test; '' for all rows)")
    q.add_argument("--private-fraction", type=number(float, 0.0, 0.99), default=0.5, metavar="F",
                   help="share of the clips kept for the final ranking, in [0, 1) (default 0.5)")
    q.add_argument("--n-boot", type=number(int, 10, 100_000), default=1000,
                   help="bootstrap resamples for intervals (default 1000)")
    q.add_argument("--seed", type=number(int, 0), default=0, help="seed of the public/private split and the bootstrap "
                   "(default 0)")
    q.add_argument("--description", default="", help="one line describing the board")
    q.set_defaults(func=_cmd_init)

    q = sub.add_parser("submit", help="check, score and store a submission (as the host, for a team)",
                       description="Check a predictions file (every board clip exactly once, scores in [0, 1]), "
                                   "score it on both parts and store it in one transaction. A bad file changes "
                                   "nothing. The server's daily limit does not apply to the host.")
    common(q)
    q.add_argument("predictions", help="CSV or Parquet with exactly the columns clip_id, score")
    q.add_argument("--team", required=True, help="team name (letters, digits, spaces, '_.+-')")
    q.add_argument("--method", required=True, help="one-line description of the method")
    q.add_argument("--max-mb", type=number(float, 0.001), default=50.0,
                   help="size limit of the file in MiB (default 50)")
    q.add_argument("--no-score", action="store_true", help="store only; score later with 'leaderboard score'")
    q.set_defaults(func=_cmd_submit)

    q = sub.add_parser("score", help="score pending submissions and print the public ranking")
    common(q)
    q.add_argument("--rescore", action="store_true", help="score every submission again")
    q.add_argument("--all-submissions", action="store_true", help="rank every submission, not each team's best")
    q.set_defaults(func=_cmd_score)

    q = sub.add_parser("publish", help="write the ranked table as Markdown, HTML and CSV",
                       description="Write <board>.md/.html/.csv ranked on the public part, or with --final "
                                   "<board>-final.* ranked on the private part: each team's best public "
                                   "submission, scored on clips nobody saw a score for.")
    common(q)
    q.add_argument("-o", "--output", required=True, metavar="DIR", help="folder for the files")
    q.add_argument("--final", action="store_true", help="rank on the private part (the final standings)")
    q.add_argument("--all-submissions", action="store_true", help="rank every submission, not each team's best")
    q.set_defaults(func=_cmd_publish)

    q = sub.add_parser("serve", help="take submissions over HTTP and show live boards",
                       description="Serve every board of the store over HTTP: POST /api/boards/BOARD/submissions "
                                   "(Authorization: Bearer TOKEN, multipart 'file' and 'method'), GET "
                                   "/api/boards/BOARD (JSON), GET /boards/BOARD (live page), GET /healthz. Binds "
                                   "to loopback unless --host says otherwise. One JSON line per request goes to "
                                   "the audit log (never the token). Stop it with Ctrl-C.")
    store_arg(q)
    q.add_argument("--host", default="127.0.0.1", help="address to bind (default 127.0.0.1: this machine only)")
    q.add_argument("--port", type=number(int, 0, 65535), default=8000,
                   help="TCP port (default 8000; 0 picks a free one)")
    q.add_argument("--daily-limit", type=number(int, 1), default=5, metavar="N",
                   help="submissions per team per board per UTC day (default 5)")
    q.add_argument("--max-mb", type=number(float, 0.001), default=50.0,
                   help="size limit of a request in MiB (default 50)")
    q.add_argument("--request-timeout", type=number(float, 0.1), default=60.0, metavar="S",
                   help="seconds a client has to send its request (default 60)")
    q.add_argument("--refresh", type=number(int, 1), default=15, metavar="S",
                   help="live page refresh period (default 15 s)")
    q.add_argument("--scoring-threads", type=number(int, 1, 64), default=2, metavar="N",
                   help="submissions checked and scored at once; more queue (default 2)")
    q.add_argument("--audit-log", metavar="FILE", help="audit log file (default STORE/audit.log)")
    q.add_argument("-q", "--quiet", action="store_true", help="do not echo audit lines to stderr")
    q.set_defaults(func=_cmd_serve)

    team = sub.add_parser("team", help="manage team tokens: add, list, revoke",
                          description="Teams submit to the server with a token. 'add' prints a new team's token "
                                      "once (the store keeps only a salted hash); 'revoke' stops a token; adding a "
                                      "revoked team again issues a new one.")
    tsub = team.add_subparsers(dest="team_command", metavar="ACTION", required=True)
    for name, helptext, func in (("add", "register a team and print its token once", _cmd_team_add),
                                 ("list", "list the board's teams and their submissions", _cmd_team_list),
                                 ("revoke", "stop a team's token", _cmd_team_revoke)):
        q = tsub.add_parser(name, help=helptext)
        common(q)
        if name != "list":
            q.add_argument("team", help="team name (letters, digits, spaces, '_.+-')")
        q.set_defaults(func=func)
