"""Load on 'forgebench leaderboard serve': 50 teams submit at once, then 500 submissions in a row against
the daily limit; then a screenshot of the live board.

    nice -n 10 python measurements/leaderboards/load.py --out /work/scratch/board/load [--clips 400] [--n-boot 1000]

Phase 1: one client thread per team, all released by a barrier, one submission each: every one must be
answered 201 and stored once. Phase 2: 500 submissions one after another, round robin over the teams
(10 each); with the default limit of 5 a day and one already used, each team's attempts 1-4 must be
accepted and 5-10 refused with 429. The server is a real process on a free loopback port.
"""

from __future__ import annotations

import json
import threading
import time

from common import ROOT, Board, board_arguments, check_store, percentiles, post

from tests.leaderboards.serving import CHROMIUM, Chromium, start_server, stop_server


def main() -> None:
    ap = board_arguments(__doc__)
    ap.add_argument("--in-a-row", type=int, default=500)
    ap.add_argument("--daily-limit", type=int, default=5)
    ap.add_argument("--settle", type=float, default=0.0,
                    help="seconds to wait, before the screenshot, for the server to finish the public intervals")
    args = ap.parse_args()
    import httpx

    board = Board(args.out, args.clips, args.n_boot, args.teams)
    proc, url, lines = start_server(board.store, "--daily-limit", str(args.daily_limit), "--quiet")
    print("\n".join(lines), flush=True)
    summary = {"clips": args.clips, "n_boot": args.n_boot, "teams": args.teams, "url": url}
    try:
        # Phase 1: all teams at once.
        results: dict[str, tuple] = {}
        barrier = threading.Barrier(len(board.teams))

        def one(team: str) -> None:
            with httpx.Client(base_url=url, timeout=600) as client:
                payload = board.payload(team, 0)
                barrier.wait()
                results[team] = post(client, board.name, board.tokens[team], payload, f"method of {team}")

        t0 = time.perf_counter()
        threads = [threading.Thread(target=one, args=(t,)) for t in board.teams]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        wall = time.perf_counter() - t0
        statuses = sorted({r[0] for r in results.values()})
        accepted = {r[2]["id"]: team for team, r in results.items() if r[0] == 201}
        lat = [r[1] for r in results.values()]
        check = check_store(board.store, accepted, args.clips)
        print(f"phase 1: {len(board.teams)} concurrent teams in {wall:.1f} s; statuses {statuses}; latency "
              f"{percentiles(lat)}; store {check}", flush=True)
        summary["concurrent"] = {"wall_s": wall, "statuses": statuses, "latency": percentiles(lat), "store": check,
                                 "throughput_per_s": len(board.teams) / wall}

        # Phase 2: in a row, round robin.
        rows, expect_ok = [], 0
        with httpx.Client(base_url=url, timeout=600) as client:
            t0 = time.perf_counter()
            for i in range(args.in_a_row):
                team = board.teams[i % len(board.teams)]
                attempt = 1 + i // len(board.teams)
                status, sec, body = post(client, board.name, board.tokens[team], board.payload(team, attempt),
                                         f"attempt {attempt} of {team}")
                should = 201 if attempt <= args.daily_limit - 1 else 429
                expect_ok += should == 201
                rows.append((team, attempt, status, sec, should, body))
                if status == 201:
                    accepted[body["id"]] = team
                if (i + 1) % 50 == 0:
                    print(f"  {i + 1}/{args.in_a_row} in {time.perf_counter() - t0:.0f} s", flush=True)
            wall2 = time.perf_counter() - t0
            board_json = client.get(f"/api/boards/{board.name}").json()
        wrong = [(r[0], r[1], r[2]) for r in rows if r[2] != r[4]]
        n201 = sum(r[2] == 201 for r in rows)
        n429 = sum(r[2] == 429 for r in rows)
        check2 = check_store(board.store, accepted, args.clips)
        print(f"phase 2: {args.in_a_row} in a row in {wall2:.1f} s: {n201} accepted (expected {expect_ok}), "
              f"{n429} refused with 429; wrong answers {wrong[:5]} ({len(wrong)}); "
              f"accepted latency {percentiles([r[3] for r in rows if r[2] == 201])}; "
              f"429 latency {percentiles([r[3] for r in rows if r[2] == 429])}; store {check2}", flush=True)
        summary["in_a_row"] = {"wall_s": wall2, "accepted": n201, "expected_accepted": expect_ok, "refused_429": n429,
                               "wrong": len(wrong), "store": check2,
                               "latency_201": percentiles([r[3] for r in rows if r[2] == 201]),
                               "latency_429": percentiles([r[3] for r in rows if r[2] == 429]),
                               "a_429_message": next((r[5]["error"] for r in rows if r[2] == 429), "")}
        summary["board_json_teams"] = len(board_json["ranking"])

        t0 = time.perf_counter()
        while check_store(board.store, accepted, args.clips)["intervals_pending"] and \
                time.perf_counter() - t0 < args.settle:
            time.sleep(5)
        summary["settle"] = {"waited_s": time.perf_counter() - t0,
                             "intervals_pending": check_store(board.store, accepted, args.clips)["intervals_pending"]}
        if CHROMIUM:
            with Chromium(args.out / "chromium", width=1280, height=900) as browser:
                browser.goto(f"{url}/boards/{board.name}")
                shot = browser.screenshot(args.out / "live_board.png")
                print(f"screenshot: {shot}", flush=True)
                summary["screenshot"] = str(shot)
    finally:
        stop_server(proc)
    (args.out / "load.json").write_text(json.dumps(summary, indent=2))
    print(json.dumps(summary, indent=2))


if __name__ == "__main__":
    import sys

    sys.path.insert(0, str(ROOT))
    main()
