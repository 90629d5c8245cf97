"""``forgebench report`` and ``forgebench leaderboard init | submit | score | publish``."""

from __future__ import annotations

import argparse
from pathlib import Path


def _cmd_report(args: argparse.Namespace) -> int:
    from forgebench.reports.site import build_site

    index = build_site(args.run_dirs, args.output, n_boot=args.n_boot, progress=not args.quiet)
    print(f"report: {index}  (open it in a browser; it needs no server and no network)")
    return 0


def _store(args: argparse.Namespace) -> Path:
    from forgebench.reports.leaderboard import default_store

    return Path(args.store) if args.store else default_store()


def _cmd_init(args: argparse.Namespace) -> int:
    from forgebench.reports.leaderboard import init_board

    public = init_board(_store(args), args.board, args.manifest, split=args.split or None, n_boot=args.n_boot,
                        seed=args.seed, description=args.description)
    print(f"board {args.board!r} created; its labels stay in {_store(args)}.\n"
          f"publish this clip list to participants: {public}")
    return 0


def _cmd_submit(args: argparse.Namespace) -> int:
    from forgebench.reports.leaderboard import submit

    sub = submit(_store(args), args.board, args.predictions, team=args.team, method=args.method,
                 max_bytes=int(args.max_mb * 1024 * 1024), score=not args.no_score)
    if sub.scores:
        s = sub.scores["auc"]
        print(f"submission #{sub.id} of {sub.team!r} on {sub.board!r}: AUC {s.value:.4f} "
              f"[{s.ci_low:.4f}, {s.ci_high:.4f}] over {sub.n} clips")
    else:
        print(f"submission #{sub.id} of {sub.team!r} on {sub.board!r} stored; score it with "
              f"'forgebench leaderboard score {sub.board}'")
    return 0


def _cmd_score(args: argparse.Namespace) -> int:
    from forgebench.reports.board_page import board_table, to_markdown
    from forgebench.reports.leaderboard import score_board

    n = score_board(_store(args), args.board, rescore=args.rescore)
    print(f"scored {n} submission(s)\n")
    print(to_markdown(board_table(_store(args), args.board, best_per_team=not args.all_submissions), args.board))
    return 0


def _cmd_publish(args: argparse.Namespace) -> int:
    from forgebench.reports.board_page import publish

    for p in publish(_store(args), args.board, args.output, best_per_team=not args.all_submissions):
        print(p)
    return 0


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser(
        "report", help="build a static HTML report site from run folders",
        description="Build a static site (index + one page per run: sortable tables, ROC/DET/reliability/"
                    "robustness figures, sample frames, the run record and any failed stages) from run folders "
                    "made by 'forgebench run'. It opens from disk with no server and no network. Each run page "
                    "also links its tables as Markdown, LaTeX (booktabs) and CSV.")
    p.add_argument("run_dirs", nargs="+", metavar="RUN_DIR", help="run folders (results.csv, run.json, ...)")
    p.add_argument("-o", "--output", required=True, metavar="SITE_DIR",
                   help="site folder; a previous site there is replaced atomically, any other folder is refused")
    p.add_argument("--n-boot", type=int, default=200, help="bootstrap resamples for figure bands (default 200)")
    p.add_argument("-q", "--quiet", action="store_true", help="no progress bar")
    p.set_defaults(func=_cmd_report)

    lb = subparsers.add_parser(
        "leaderboard", help="host a detection leaderboard: init, submit, score, publish",
        description="A leaderboard is a test set whose labels only the host holds. 'init' stores the labels in a "
                    "SQLite store and writes the public clip list; 'submit' checks and scores a predictions file "
                    "(CSV or Parquet with columns clip_id,score; score = probability the clip is fake); 'score' "
                    "scores pending submissions and prints the ranking; 'publish' writes the ranked table "
                    "(Markdown, HTML, CSV) with 95% intervals and DeLong tests between neighbours.")
    sub = lb.add_subparsers(dest="leaderboard_command", metavar="ACTION", required=True)

    def common(q: argparse.ArgumentParser) -> None:
        q.add_argument("board", help="board name: lowercase letters, digits, '-' and '_'")
        q.add_argument("--store", metavar="DIR",
                       help="leaderboard store folder (default $FORGEBENCH_HOME/leaderboards)")

    q = sub.add_parser("init", help="create a board from a labelled manifest",
                       description="Create a board from a manifest (manifest.parquet, a run folder, or a CSV with "
                                   "clip_id,label). Labels go into the store only; clips.csv lists the clip ids.")
    common(q)
    q.add_argument("--manifest", required=True, help="labelled manifest (Parquet, run folder or CSV)")
    q.add_argument("--split", default="test", help="manifest split to use (default test; '' for all rows)")
    q.add_argument("--n-boot", type=int, default=1000, help="bootstrap resamples for intervals (default 1000)")
    q.add_argument("--seed", type=int, default=0, help="bootstrap seed (default 0)")
    q.add_argument("--description", default="", help="one line describing the board")
    q.set_defaults(func=_cmd_init)

    q = sub.add_parser("submit", help="check, score and store a submission",
                       description="Check a predictions file (every board clip exactly once, scores in [0, 1]), "
                                   "score it and store it in one transaction. A bad file changes nothing.")
    common(q)
    q.add_argument("predictions", help="CSV or Parquet with exactly the columns clip_id, score")
    q.add_argument("--team", required=True, help="team name (letters, digits, spaces, '_.+-')")
    q.add_argument("--method", required=True, help="one-line description of the method")
    q.add_argument("--max-mb", type=float, default=50.0, help="size limit of the file in MiB (default 50)")
    q.add_argument("--no-score", action="store_true", help="store only; score later with 'leaderboard score'")
    q.set_defaults(func=_cmd_submit)

    q = sub.add_parser("score", help="score pending submissions and print the ranking")
    common(q)
    q.add_argument("--rescore", action="store_true", help="score every submission again")
    q.add_argument("--all-submissions", action="store_true", help="rank every submission, not each team's best")
    q.set_defaults(func=_cmd_score)

    q = sub.add_parser("publish", help="write the ranked table as Markdown, HTML and CSV")
    common(q)
    q.add_argument("-o", "--output", required=True, metavar="DIR", help="folder for <board>.md/.html/.csv")
    q.add_argument("--all-submissions", action="store_true", help="rank every submission, not each team's best")
    q.set_defaults(func=_cmd_publish)
