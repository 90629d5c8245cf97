"""The malformed and hostile requests of tests/leaderboards/hostile_cases.py, against a real server on loopback.

    python measurements/leaderboards/hostile.py --out /work/scratch/board/hostile

Prints the table (request, expected, answer, message) as Markdown and writes it to OUT/hostile.md.
The same table runs in-process as tests/leaderboards/test_hostile.py.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from common import ROOT


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--out", type=Path, required=True)
    args = ap.parse_args()
    import httpx

    from tests.leaderboards import hostile_cases as hc
    from tests.leaderboards.serving import start_server, stop_server

    args.out.mkdir(parents=True, exist_ok=True)
    ctx = hc.setup(args.out)
    limits = hc.LIMITS
    proc, url, _ = start_server(ctx.data.store, "--daily-limit", str(limits["daily_limit"]), "--max-mb",
                                str(limits["max_bytes"] / 1024 / 1024), "--request-timeout",
                                str(limits["request_timeout"]), "--quiet")
    rows, bad = [], 0
    try:
        with httpx.Client(timeout=30) as client:
            for i, case in enumerate(hc.cases(ctx), 1):
                method, full_url, kwargs = hc.build_request(case, url, asynchronous=False)
                try:
                    r = client.request(method, full_url, **kwargs)
                    status, said = r.status_code, r.json().get("error", f"id {r.json().get('id')}")
                except (httpx.HTTPError, json.JSONDecodeError) as exc:
                    status, said = -1, f"{type(exc).__name__}: {exc}"
                ok = status == case.expect and (case.fragment in said if case.fragment else said.startswith("id"))
                bad += not ok
                said = said.replace("|", "\\|")
                rows.append(f"| {i} | {case.name} | {case.expect} | {status}{'' if ok else ' ✗'} | {said} |")
    finally:
        stop_server(proc)
    table = "\n".join(["| # | request | expected | answer | message |", "|--:|:--|--:|--:|:--|", *rows])
    (args.out / "hostile.md").write_text(table + "\n")
    print(table)
    print(f"\n{len(rows)} requests, {bad} not answered as expected")


if __name__ == "__main__":
    import sys

    sys.path.insert(0, str(ROOT))
    main()
