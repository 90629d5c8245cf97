"""Publishing a leaderboard: the ranked table (Markdown + a static HTML page) with intervals and significance.

Each row but the last carries the DeLong test of its AUC against the next row's,
over the same board clips: ``p < 0.05`` says the ranking of that pair is
unlikely to be chance; a large p says the two could swap on another test set.
"""

from __future__ import annotations

import html
from pathlib import Path

import numpy as np
import pandas as pd

from forgebench.atomic import atomic_output
from forgebench.errors import InputError
from forgebench.metrics.detection import delong_test
from forgebench.reports.leaderboard import check_board_name, connect, standings, submission_predictions
from forgebench.reports.scoring import METRICS, PRIMARY
from forgebench.reports.tables import arrow, html_page

LABELS = {"auc": "AUC", "ap": "AP", "eer": "EER", "log_loss": "log-loss", "ece": "ECE"}


def board_table(store: str | Path, board: str, best_per_team: bool = True) -> pd.DataFrame:
    """The standings plus ``delta_next`` (AUC minus the next row's) and ``p_next`` (DeLong, two-sided)."""
    table, labels = standings(store, board, best_per_team)
    deltas, ps = [], []
    with connect(store) as con:
        preds = {int(i): submission_predictions(con, int(i)).set_index("clip_id")["score"] for i in table["id"]}
    order = labels.index
    y = labels.to_numpy(np.int64)
    for k in range(len(table)):
        if k + 1 >= len(table):
            deltas.append(np.nan)
            ps.append(np.nan)
            continue
        a = preds[int(table["id"].iloc[k])].loc[order].to_numpy()
        b = preds[int(table["id"].iloc[k + 1])].loc[order].to_numpy()
        d, p = delong_test(y, a, b)
        deltas.append(d)
        ps.append(p)
    table["delta_next"] = deltas
    table["p_next"] = ps
    return table


def _cell(row: pd.Series, m: str, digits: int = 3) -> str:
    v, lo, hi = row[m], row[f"{m}_ci_low"], row[f"{m}_ci_high"]
    if not np.isfinite(v):
        return "n/a"
    if np.isfinite(lo) and np.isfinite(hi):
        return f"{v:.{digits}f} ± {(hi - lo) / 2:.{digits}f}"
    return f"{v:.{digits}f}"


def _p_text(p: float) -> str:
    if not np.isfinite(p):
        return "–"
    return "p < 0.001" if p < 0.001 else f"p = {p:.3f}"


def to_markdown(table: pd.DataFrame, board: str) -> str:
    head = ["rank", "team", "method"] + [f"{LABELS[m]} {arrow(METRICS[m])}" for m in METRICS] + ["vs next (AUC)"]
    lines = [f"# Leaderboard: {board}", "",
             f"Ranked by {LABELS[PRIMARY]}; ± is the half-width of the 95% bootstrap interval over clips. "
             "'vs next' is DeLong's test of the AUC difference with the next row, on the same clips.", "",
             "| " + " | ".join(head) + " |", "|--:|:--|:--|" + "--:|" * len(METRICS) + ":--|"]
    for _, r in table.iterrows():
        esc = [str(r["team"]).replace("|", "\\|"), str(r["method"]).replace("|", "\\|").replace("\n", " ")]
        vs = "" if not np.isfinite(r["p_next"]) else f"Δ {r['delta_next']:+.3f}, {_p_text(r['p_next'])}"
        lines.append("| " + " | ".join([str(r["rank"]), *esc, *(_cell(r, m) for m in METRICS), vs]) + " |")
    return "\n".join(lines) + "\n"


def to_html(table: pd.DataFrame, board: str) -> str:
    e = html.escape
    ths = ['<th data-type="num">rank</th>', '<th data-type="text">team</th>', '<th data-type="text">method</th>']
    ths += [f'<th data-type="num">{LABELS[m]} {arrow(METRICS[m])}</th>' for m in METRICS]
    ths += ['<th data-type="num">vs next (AUC)</th>']
    rows = []
    for _, r in table.iterrows():
        tds = [f'<td data-sort="{r["rank"]}">{r["rank"]}</td>', f"<td>{e(str(r['team']))}</td>",
               f'<td class="method">{e(str(r["method"]))}</td>']
        for m in METRICS:
            v = r[m]
            tds.append(f'<td data-sort="{v!r}">{e(_cell(r, m))}</td>' if np.isfinite(v)
                       else '<td class="na" data-sort="">n/a</td>')
        p = r["p_next"]
        tds.append(f'<td data-sort="{p!r}">Δ {r["delta_next"]:+.3f}, {e(_p_text(p))}</td>' if np.isfinite(p)
                   else '<td data-sort="">–</td>')
        rows.append("<tr>" + "".join(tds) + "</tr>")
    body = (f"<h1>Leaderboard: {e(board)}</h1><p>Ranked by {LABELS[PRIMARY]}; ± is the half-width of the 95% "
            "bootstrap interval over clips. <em>vs next</em> is DeLong's test of the AUC difference with the "
            "next row, on the same clips (p &lt; 0.05: the order of that pair is unlikely to be chance).</p>"
            f'<table class="fb-sortable" id="board"><thead><tr>{"".join(ths)}</tr></thead>'
            f"<tbody>{''.join(rows)}</tbody></table>")
    return html_page(body, title=f"Leaderboard: {board}")


def publish(store: str | Path, board: str, out_dir: str | Path, best_per_team: bool = True) -> list[Path]:
    """Write ``<out_dir>/<board>.md``, ``<board>.html`` and ``<board>.csv``; returns the paths."""
    check_board_name(board)
    table = board_table(store, board, best_per_team)
    if table.empty:
        raise InputError(f"board {board!r} has no scored submissions yet: nothing to publish")
    out = Path(out_dir)
    paths = []
    for suffix, text in ((".md", to_markdown(table, board)), (".html", to_html(table, board)),
                         (".csv", table.to_csv(index=False))):
        path = out / f"{board}{suffix}"
        with atomic_output(path) as tmp:
            tmp.write_text(text, encoding="utf-8")
        paths.append(path)
    return paths
