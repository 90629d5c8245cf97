"""Leaderboard pages: the ranked table as Markdown, CSV, a static HTML page, the live page and JSON.

``publish`` ranks on the public part (what the live board shows);
``publish --final`` ranks each team's best *public* submission by its score on
the private part. Each published row but the last carries DeLong's test of its
AUC against the next row's, over the same clips: ``p < 0.05`` says the order of
that pair is unlikely to be chance; a large p says the two could swap on
another test set. The live page (``GET /boards/<board>``) is the same table on
the public part, without the DeLong column (it is recomputed on every view),
and a few lines of script that fetch the page again every ``refresh`` seconds
and swap in the new table body: the numbers are rendered once, here, in Python.
"""

from __future__ import annotations

import base64
import hashlib
import html
import math
from pathlib import Path

import numpy as np
import pandas as pd

from forgebench.atomic import atomic_output
from forgebench.errors import InputError
from forgebench.leaderboards.scoring import METRICS, PRIMARY
from forgebench.leaderboards.store import Board, connect, load_board, score_board, standings, submission_predictions
from forgebench.leaderboards.validation import check_board_name
from forgebench.metrics.detection import delong_test
from forgebench.reports.tables import arrow, html_page

# Team and method are text: left-aligned, the method wrapping (the report style right-aligns all but column 1).
BOARD_CSS = ("#board td.team, #board td.method, #board th[data-type=text] { text-align: left; } "
             "#board td.method { white-space: normal; min-width: 12rem; max-width: 28rem; overflow-wrap: anywhere; }")
LABELS = {"auc": "AUC", "ap": "AP", "eer": "EER", "log_loss": "log-loss", "ece": "ECE"}
PART_TEXT = {"public": "the public part", "private": "the private part (final ranking)"}


def board_table(store: str | Path, board: str, part: str = "public", best_per_team: bool = True,
                significance: bool = True) -> pd.DataFrame:
    """:func:`~forgebench.leaderboards.store.standings` plus ``delta_next`` (AUC minus the next row's) and
    ``p_next`` (DeLong, two-sided), both on ``part``'s clips."""
    table, labels = standings(store, board, part, best_per_team)
    if not significance:
        return table
    deltas, ps = [np.nan] * len(table), [np.nan] * len(table)
    with connect(store) as con:
        preds = {int(i): submission_predictions(con, int(i)).set_index("clip_id")["score"] for i in table["id"]}
    y = labels.to_numpy(np.int64)
    for k in range(len(table) - 1):
        a = preds[int(table["id"].iloc[k])].loc[labels.index].to_numpy()
        b = preds[int(table["id"].iloc[k + 1])].loc[labels.index].to_numpy()
        deltas[k], ps[k] = delong_test(y, a, b)
    table["delta_next"] = deltas
    table["p_next"] = ps
    return table


def _cell(row: pd.Series, m: str, digits: int = 3) -> str:
    v, lo, hi = row[m], row[f"{m}_ci_low"], row[f"{m}_ci_high"]
    if not np.isfinite(v):
        return "n/a"
    if np.isfinite(lo) and np.isfinite(hi):
        return f"{v:.{digits}f} ± {(hi - lo) / 2:.{digits}f}"
    if row.get("status") == "points":
        return f"{v:.{digits}f} ± …"  # the server is still bootstrapping this one (public part)
    return f"{v:.{digits}f}"


def _p_text(p: float) -> str:
    if not np.isfinite(p):
        return "–"
    return "p < 0.001" if p < 0.001 else f"p = {p:.3f}"


def _intro(part: str, n_clips: int) -> str:
    text = (f"Ranked by {LABELS[PRIMARY]} on {PART_TEXT[part]}, {n_clips} clips; ± is the half-width of the 95% "
            "bootstrap interval over clips.")
    if part == "private":
        text += " Each team is represented by its submission with the best public AUC."
    return text


def to_markdown(table: pd.DataFrame, board: str, part: str = "public", n_clips: int = 0) -> str:
    head = ["rank", "team", "method"] + [f"{LABELS[m]} {arrow(METRICS[m])}" for m in METRICS] + ["vs next (AUC)"]
    lines = [f"# Leaderboard: {board}", "", _intro(part, n_clips) + " 'vs next' is DeLong's test of the AUC "
             "difference with the next row, on the same clips.", "",
             "| " + " | ".join(head) + " |", "|--:|:--|:--|" + "--:|" * len(METRICS) + ":--|"]
    for _, r in table.iterrows():
        esc = [str(r["team"]).replace("|", "\\|"), str(r["method"]).replace("|", "\\|").replace("\n", " ")]
        vs = "" if not np.isfinite(r["p_next"]) else f"Δ {r['delta_next']:+.3f}, {_p_text(r['p_next'])}"
        lines.append("| " + " | ".join([str(r["rank"]), *esc, *(_cell(r, m) for m in METRICS), vs]) + " |")
    return "\n".join(lines) + "\n"


def table_html(table: pd.DataFrame) -> str:
    """The ranking as a sortable ``<table id="board">``; a ``vs next`` column when ``table`` has ``p_next``."""
    e = html.escape
    sig = "p_next" in table
    ths = ['<th data-type="num">rank</th>', '<th data-type="text">team</th>', '<th data-type="text">method</th>']
    ths += [f'<th data-type="num">{LABELS[m]} {arrow(METRICS[m])}</th>' for m in METRICS]
    ths += ['<th data-type="num">vs next (AUC)</th>'] if sig else \
        ['<th data-type="num">entries</th>', '<th data-type="text">submitted (UTC)</th>']
    rows = []
    for _, r in table.iterrows():
        tds = [f'<td data-sort="{r["rank"]}">{r["rank"]}</td>', f'<td class="team">{e(str(r["team"]))}</td>',
               f'<td class="method">{e(str(r["method"]))}</td>']
        for m in METRICS:
            v = r[m]
            tds.append(f'<td data-sort="{v!r}">{e(_cell(r, m))}</td>' if np.isfinite(v)
                       else '<td class="na" data-sort="">n/a</td>')
        if sig:
            p = r["p_next"]
            tds.append(f'<td data-sort="{p!r}">Δ {r["delta_next"]:+.3f}, {e(_p_text(p))}</td>' if np.isfinite(p)
                       else '<td data-sort="">–</td>')
        else:
            tds.append(f'<td data-sort="{int(r["submissions"])}">{int(r["submissions"])}</td>')
            tds.append(f"<td>{e(str(r['submitted'])[:19].replace('T', ' '))}</td>")
        rows.append("<tr>" + "".join(tds) + "</tr>")
    body = "".join(rows) or f'<tr><td colspan="{len(ths)}" class="na">no submissions yet</td></tr>'
    return (f'<table class="fb-sortable" id="board"><thead><tr>{"".join(ths)}</tr></thead>'
            f"<tbody>{body}</tbody></table>")


def to_html(table: pd.DataFrame, board: str, part: str = "public", n_clips: int = 0) -> str:
    body = (f"<h1>Leaderboard: {html.escape(board)}</h1><p>{html.escape(_intro(part, n_clips))} <em>vs next</em> "
            "is DeLong's test of the AUC difference with the next row, on the same clips (p &lt; 0.05: the order "
            "of that pair is unlikely to be chance).</p>" + table_html(table))
    return _page(body, f"Leaderboard: {board}")


def _page(body: str, title: str) -> str:
    return html_page(body, title=title).replace("</style>", BOARD_CSS + "</style>", 1)


def publish(store: str | Path, board: str, out_dir: str | Path, best_per_team: bool = True,
            final: bool = False) -> list[Path]:
    """Write ``<out_dir>/<board>.md``, ``.html`` and ``.csv`` (``<board>-final.*`` with ``final``)."""
    check_board_name(board)
    part = "private" if final else "public"
    shown, _ = standings(store, board, part, best_per_team)
    score_board(store, board, public_only=not final, ids=shown["id"].tolist())  # intervals not computed yet
    table = board_table(store, board, part, best_per_team)
    if table.empty:
        raise InputError(f"board {board!r} has no scored submissions yet: nothing to publish")
    with connect(store) as con:
        n_clips = len(load_board(con, board).part(part))
    out = Path(out_dir)
    stem = f"{board}-final" if final else board
    paths = []
    for suffix, text in ((".md", to_markdown(table, board, part, n_clips)),
                         (".html", to_html(table, board, part, n_clips)), (".csv", table.to_csv(index=False))):
        path = out / f"{stem}{suffix}"
        with atomic_output(path) as tmp:
            tmp.write_text(text, encoding="utf-8")
        paths.append(path)
    return paths


# --- the live page and the JSON API -------------------------------------------------------------------------------

# Fetch this page again and swap in the new table body and stamp; keep the reader's sort column.
LIVE_JS = """
(function () {
  "use strict";
  var every = parseInt(document.body.getAttribute("data-refresh"), 10) * 1000, count = 0;
  function swap(text) {
    var doc = new DOMParser().parseFromString(text, "text/html");
    var fresh = doc.querySelector("#board tbody"), table = document.getElementById("board");
    if (!fresh || !table) return;
    table.replaceChild(document.importNode(fresh, true), table.tBodies[0]);
    ["stamp", "count", "pending"].forEach(function (id) {
      var a = document.getElementById(id), b = doc.getElementById(id);
      if (a && b) a.textContent = b.textContent;
    });
    var th = table.querySelector("th.sorted-asc, th.sorted-desc");
    if (th) {
      var desc = th.classList.contains("sorted-desc");
      th.classList.remove("sorted-asc", "sorted-desc");
      th.click();
      if (desc) th.click();
    }
    count += 1;
    table.setAttribute("data-refreshes", String(count));
    document.getElementById("offline").textContent = "";
  }
  function tick() {
    fetch(window.location.pathname, {cache: "no-store", headers: {"Accept": "text/html"}})
      .then(function (r) { if (!r.ok) throw new Error(r.status); return r.text(); })
      .then(swap)
      .catch(function () { document.getElementById("offline").textContent = " (server unreachable; retrying)"; });
  }
  if (every > 0) window.setInterval(tick, every);
})();
"""


def script_hashes() -> list[str]:
    """CSP ``'sha256-…'`` sources of the page's inline scripts (the table sorter and :data:`LIVE_JS`)."""
    from forgebench.reports.static import read_static

    return [f"'sha256-{base64.b64encode(hashlib.sha256(s.encode()).digest()).decode()}'"
            for s in (read_static("sortable.js"), LIVE_JS)]


def live_html(spec: Board, table: pd.DataFrame, updated: str, refresh: int, n_total: int) -> str:
    """The live page of one board (public part), which refreshes its table every ``refresh`` seconds."""
    e = html.escape
    n_public, n_private = len(spec.part("public")), len(spec.part("private"))
    hidden = (f" The other {n_private} clips form the private part: the final ranking scores each team's best "
              "public submission there, when the host closes the board." if n_private else "")
    body = (f'<h1>Leaderboard: {e(spec.name)}</h1>'
            + (f"<p>{e(spec.description)}</p>" if spec.description else "")
            + f"<p>Live ranking by {LABELS[PRIMARY]} on the public part, {n_public} of the {spec.n_clips} clips in "
            f"<code>clips.csv</code>; ± is the half-width of the 95% bootstrap interval over clips; each team's "
            f"best submission is shown.{e(hidden)}</p>"
            + table_html(table)
            + (f'<p class="fb-remark" id="pending">± … : the interval is being computed (the server bootstraps '
               f'{spec.n_boot} resamples per submission in the background, one after another).</p>'
               if (table.get("status", pd.Series(dtype=str)) == "points").any() else '<p id="pending"></p>')
            + f'<p class="fb-remark">Updated <span id="stamp">{e(updated[:19].replace("T", " "))} UTC</span>, '
            f'<span id="count">{n_total} submission{"s" if n_total != 1 else ""}</span> in all; this page '
            f'refreshes every {refresh} s<span id="offline"></span>. '
            f'Machine-readable: <a href="../api/boards/{e(spec.name)}">/api/boards/{e(spec.name)}</a>.</p>'
            f"<script>{LIVE_JS}</script>")
    page = _page(body, f"Leaderboard: {spec.name}")
    return page.replace("<body>", f'<body data-refresh="{int(refresh)}">', 1)


def _num(x) -> float | None:
    x = float(x)
    return x if math.isfinite(x) else None


def ranking_json(spec: Board, table: pd.DataFrame, updated: str, n_total: int) -> dict:
    """The public ranking as JSON-ready data (NaN becomes null); never a label or a private score."""
    rows = []
    for _, r in table.iterrows():
        row = {"rank": int(r["rank"]), "id": int(r["id"]), "team": str(r["team"]), "method": str(r["method"]),
               "submitted": str(r["submitted"]), "submissions": int(r["submissions"]),
               "intervals": "pending" if r["status"] == "points" else "done"}
        for m in METRICS:
            row[m] = _num(r[m])
            row[f"{m}_ci"] = [_num(r[f"{m}_ci_low"]), _num(r[f"{m}_ci_high"])]
        rows.append(row)
    return {"board": spec.name, "description": spec.description, "part": "public",
            "n_clips": int(len(spec.part("public"))), "n_clips_total": int(spec.n_clips),
            "ranked_by": PRIMARY, "higher_is_better": dict(METRICS), "updated": updated,
            "submissions": int(n_total), "ranking": rows}
