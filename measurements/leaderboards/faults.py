"""Crash safety of 'forgebench leaderboard serve': SIGKILL the server in the middle of a load, restart it.

    nice -n 10 python measurements/leaderboards/faults.py --out /work/scratch/board/faults [--kills 3]

50 client threads (one team each) submit distinct files without pause. Whenever the acknowledged (2xx)
count passes the next mark, the server process gets SIGKILL, is restarted on the same port and store,
and the clients carry on (a request that got no answer is not retried: its fate is unknown to the
client, so a new file is sent). After each restart the store is checked read-only: it opens, passes
SQLite's integrity check, holds every acknowledged submission with the right team, and no submission
lacks a prediction or a score row (nothing half-written). With --wait, the end waits for the restarted
server's background worker to finish the public intervals that the killed servers left behind.
"""

from __future__ import annotations

import json
import signal
import threading
import time

from common import ROOT, Board, board_arguments, check_store, post

from tests.leaderboards.serving import start_server, stop_server


def main() -> None:
    ap = board_arguments(__doc__)
    ap.add_argument("--kills", type=int, default=3)
    ap.add_argument("--every", type=int, default=60, help="acknowledged submissions between kills")
    ap.add_argument("--wait", type=float, default=0.0,
                    help="seconds to wait at the end for the public intervals left behind (default: do not wait)")
    args = ap.parse_args()
    import httpx

    board = Board(args.out, args.clips, args.n_boot, args.teams, name="crash")
    proc, url, lines = start_server(board.store, "--daily-limit", "100000", "--quiet")
    port = int(url.rsplit(":", 1)[1])
    print("\n".join(lines), flush=True)
    accepted: dict[int, str] = {}
    errors: list[str] = []
    lock, stop = threading.Lock(), threading.Event()
    other: dict[int, int] = {}

    def client(team: str) -> None:
        attempt = 0
        with httpx.Client(base_url=url, timeout=120) as c:
            while not stop.is_set():
                attempt += 1
                status, _, body = post(c, board.name, board.tokens[team], board.payload(team, attempt), "crash test")
                with lock:
                    if 200 <= status < 300:
                        accepted[body["id"]] = team
                    elif status == -1:
                        errors.append(body)
                    else:
                        other[status] = other.get(status, 0) + 1
                if status == -1:
                    time.sleep(0.2)  # the server is down: try again shortly, with a new file

    threads = [threading.Thread(target=client, args=(t,)) for t in board.teams]
    for t in threads:
        t.start()
    report = {"clips": args.clips, "n_boot": args.n_boot, "teams": args.teams, "kills": []}
    try:
        for k in range(args.kills):
            mark = (k + 1) * args.every
            while len(accepted) < mark:
                time.sleep(0.05)
            with lock:
                before = len(accepted)
            t_kill = time.perf_counter()
            proc.send_signal(signal.SIGKILL)
            proc.wait()
            stop_server(proc)
            with lock:
                acked = dict(accepted)  # everything acknowledged by the killed server (no more answers can come)
            check = check_store(board.store, acked, args.clips)
            proc, _, _ = start_server(board.store, "--daily-limit", "100000", "--quiet", port=port)
            restart = time.perf_counter() - t_kill
            print(f"kill {k + 1}: SIGKILL at {before} acknowledged; store after the kill: {check}; "
                  f"restarted in {restart:.1f} s", flush=True)
            report["kills"].append({"acknowledged_at_kill": before, "store": check, "restart_s": restart})
        while len(accepted) < (args.kills + 1) * args.every:
            time.sleep(0.05)
    finally:
        stop.set()
        for t in threads:
            t.join()
    final = check_store(board.store, accepted, args.clips)
    t0 = time.perf_counter()
    while final["intervals_pending"] and time.perf_counter() - t0 < args.wait:
        time.sleep(5)
        final = check_store(board.store, accepted, args.clips)
    stop_server(proc)
    report.update({"final_store": final, "intervals_done_after_s": time.perf_counter() - t0,
                   "transport_errors": len(errors), "other_statuses": other,
                   "example_transport_error": errors[0] if errors else ""})
    print(json.dumps(report, indent=2), flush=True)
    (args.out / "faults.json").write_text(json.dumps(report, indent=2))


if __name__ == "__main__":
    import sys

    sys.path.insert(0, str(ROOT))
    main()
