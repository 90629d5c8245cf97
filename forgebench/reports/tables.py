"""Result tables: the tidy results table pivoted and rendered to Markdown, LaTeX, CSV and HTML.

Renderers read only the tidy table of :mod:`forgebench.results`. A :class:`PivotTable`
puts subjects (detectors or generators) in rows and metrics in columns; each cell
holds the value, its 95% interval and whether the metric was available. The
best value of each metric is in bold, respecting the metric's direction (``↑``
higher is better, ``↓`` lower is better), among the values computed on at least
``min_n`` clips (a number from two clips is shown, never singled out); unavailable
metrics read ``n/a`` with their note as a numbered footnote. Rows may be keyed by
several columns (``pivot(df, index=["subject", "condition"])``): one table with a
condition column instead of one table per condition.

>>> from forgebench.results import results_frame
>>> df = results_frame([{"subject": "a", "metric": "auc", "value": 0.9, "higher_is_better": True},
...                     {"subject": "b", "metric": "auc", "value": 0.8, "higher_is_better": True}])
>>> print(to_markdown(pivot(df)))
| subject | auc ↑ |
|:--|--:|
| a | **0.900** |
| b | 0.800 |
"""

from __future__ import annotations

import html
import math
from dataclasses import dataclass, field

import pandas as pd

from forgebench.errors import InputError
from forgebench.results import validate_results

NA = "n/a"
GROUP_KEYS = ("task", "split", "condition")
KEY_SEP = "\x1f"  # joins the parts of a row key made of several columns


@dataclass(frozen=True)
class Cell:
    """One (subject, metric) value with its interval; ``ok`` False means unavailable (``note`` says why)."""

    value: float = float("nan")
    ci_low: float = float("nan")
    ci_high: float = float("nan")
    n: int = 0
    ok: bool = False
    note: str = ""

    @property
    def has_interval(self) -> bool:
        return math.isfinite(self.ci_low) and math.isfinite(self.ci_high)


@dataclass
class PivotTable:
    """Subjects x metrics. ``cells[(subject, metric)]``; ``directions[metric]`` is higher_is_better."""

    subjects: list[str]
    metrics: list[str]
    cells: dict[tuple[str, str], Cell]
    directions: dict[str, bool]
    title: str = ""
    row_label: str = "subject"
    notes: list[str] = field(default_factory=list)  # distinct unavailable notes, footnote order
    min_n: int = 0  # values computed on fewer clips are never bold

    @property
    def row_labels(self) -> list[str]:
        """The row-key column names (one, or several for ``pivot(index=[...])``)."""
        return self.row_label.split(KEY_SEP)

    def row_parts(self, subject: str) -> list[str]:
        return subject.split(KEY_SEP)

    def cell(self, subject: str, metric: str) -> Cell:
        return self.cells.get((subject, metric), Cell(note="not computed"))

    def note_number(self, note: str) -> int:
        return self.notes.index(note) + 1

    def best(self, metric: str, digits: int = 3) -> set[str]:
        """Rows holding the best value of ``metric`` at the displayed precision (ties all win).

        With several key columns (subject, condition) rows compete within their condition only; values
        from fewer than ``min_n`` clips never compete.
        """
        groups: dict[tuple[str, ...], dict[str, float]] = {}
        for s in self.subjects:
            c = self.cell(s, metric)
            if c.ok and math.isfinite(c.value) and c.n >= self.min_n:
                groups.setdefault(tuple(self.row_parts(s)[1:]), {})[s] = round(c.value, digits)
        out: set[str] = set()
        for vals in groups.values():
            if len(vals) < 2:  # a single value is not "best" of anything
                continue
            target = max(vals.values()) if self.directions.get(metric, True) else min(vals.values())
            out |= {s for s, v in vals.items() if v == target}
        return out


def pivot(df: pd.DataFrame, index: str | list[str] = "subject", columns: str = "metric", title: str = "",
          min_n: int = 0) -> PivotTable:
    """Pivot a (filtered) tidy results table: one row per ``index`` value, one column per ``columns`` value.

    ``index`` may list several columns (e.g. ``["subject", "condition"]``): each becomes a row-key column.
    ``min_n``: values computed on fewer clips are not eligible for bold.

    Rows that repeat a (index, columns) pair over several seeds get a ``(seed S)`` suffix
    in the row label so nothing is silently averaged; any other repetition is an error
    (filter the table first, e.g. with :func:`split_groups`).
    """
    df = validate_results(df)
    keys = [index] if isinstance(index, str) else list(index)
    label = KEY_SEP.join(keys)
    if df.empty:
        return PivotTable([], [], {}, {}, title=title, row_label=label, min_n=min_n)
    df = df.copy()
    df["_row"] = df[keys].astype(str).agg(KEY_SEP.join, axis=1)
    if df.duplicated([*keys, columns]).any() and df["seed"].nunique() > 1:
        df["_row"] = df["_row"] + " (seed " + df["seed"].astype(str) + ")"
    dup = df.duplicated(["_row", columns])
    if dup.any():
        r = df[dup].iloc[0]
        where = ", ".join(f"{k}={r[k]!r}" for k in keys)
        raise InputError(f"results table has several rows for {where}, {columns}={r[columns]!r} "
                         "(different conditions or splits?): filter it before pivoting")
    subjects = list(dict.fromkeys(df["_row"]))
    metrics = list(dict.fromkeys(df[columns].astype(str)))
    cells: dict[tuple[str, str], Cell] = {}
    directions: dict[str, bool] = {}
    for row_key, (_, r) in zip(df["_row"], df.iterrows()):
        metric = str(r[columns])
        ok = str(r["status"]) == "ok" and math.isfinite(float(r["value"]))
        note = ""
        if not ok:
            note = str(r["note"] or "") or ("value is not finite" if str(r["status"]) == "ok" else str(r["status"]))
        cells[(row_key, metric)] = Cell(float(r["value"]), float(r["ci_low"]), float(r["ci_high"]), int(r["n"]),
                                        ok, note)
        directions.setdefault(metric, bool(r["higher_is_better"]))
    # Footnotes are numbered in reading order; a metric some subject lacks is "not computed" for it.
    notes = list(dict.fromkeys(cells[(s, m)].note if (s, m) in cells else "not computed"
                               for s in subjects for m in metrics
                               if (s, m) not in cells or not cells[(s, m)].ok))
    return PivotTable(subjects, metrics, cells, directions, title=title, row_label=label, notes=notes, min_n=min_n)


def split_groups(df: pd.DataFrame, keys: tuple[str, ...] = GROUP_KEYS) -> list[tuple[str, pd.DataFrame]]:
    """Split a results table into groups that pivot cleanly; returns ``[(title, frame)]``.

    The title names the group, e.g. ``"detection · test · clean"``; keys with a single
    value across the whole table are left out of titles.
    """
    df = validate_results(df)
    varying = [k for k in keys if df[k].nunique() > 1] or [keys[0]]
    out = []
    for vals, sub in df.groupby(list(keys), sort=False, dropna=False):
        vals = vals if isinstance(vals, tuple) else (vals,)
        title = " · ".join(str(v) for k, v in zip(keys, vals) if k in varying and str(v))
        out.append((title, sub))
    return out


# --- cell text -------------------------------------------------------------------------------------------------

# Said under a table where some value has no interval, so that a bare number is not read as exact.
NO_INTERVAL = ("a value without an interval had fewer than two identities (or clips) to resample, "
               "or too few resamples with both classes")


def _remarks(t: PivotTable, interval: str) -> list[str]:
    """Unnumbered lines under a table (after the footnotes)."""
    if interval == "none":
        return []
    bare = any(c.ok and not c.has_interval for c in t.cells.values())
    return [NO_INTERVAL] if bare else []


def _num(x: float, digits: int) -> str:
    return f"{x:.{digits}f}"


def _parts(c: Cell, digits: int, interval: str) -> tuple[str, str]:
    """(value text, interval text) without markup; interval text is ``"±h"`` or ``"[lo, hi]"`` or ``""``."""
    v = _num(c.value, digits)
    if not c.has_interval:
        return v, ""
    if interval == "pm":
        return v, _num((c.ci_high - c.ci_low) / 2, digits)
    if interval == "bracket":
        return v, f"[{_num(c.ci_low, digits)}, {_num(c.ci_high, digits)}]"
    if interval == "none":
        return v, ""
    raise ValueError(f"interval must be 'pm', 'bracket' or 'none', got {interval!r}")


def arrow(higher_is_better: bool) -> str:
    return "↑" if higher_is_better else "↓"


# --- Markdown --------------------------------------------------------------------------------------------------

def _md_escape(s: str) -> str:
    return str(s).replace("|", "\\|").replace("\n", " ")


def to_markdown(t: PivotTable, digits: int = 3, interval: str = "pm") -> str:
    """A GitHub-flavoured Markdown table; footnotes for unavailable cells follow it."""
    head = [*map(_md_escape, t.row_labels)] + [f"{_md_escape(m)} {arrow(t.directions[m])}" for m in t.metrics]
    lines = ["| " + " | ".join(head) + " |", "|:--|" * len(t.row_labels) + "--:|" * len(t.metrics)]
    best = {m: t.best(m, digits) for m in t.metrics}
    for s in t.subjects:
        row = [*map(_md_escape, t.row_parts(s))]
        for m in t.metrics:
            c = t.cell(s, m)
            if not c.ok:
                row.append(f"{NA}[^{t.note_number(c.note)}]")
                continue
            v, ci = _parts(c, digits, interval)
            text = v + (f" ± {ci}" if interval == "pm" and ci else f" {ci}" if ci else "")
            row.append(f"**{text}**" if s in best[m] else text)
        lines.append("| " + " | ".join(row) + " |")
    out = "\n".join(lines)
    if t.title:
        out = f"**{_md_escape(t.title)}**\n\n" + out
    if t.notes:
        out += "\n\n" + "\n".join(f"[^{i}]: {_md_escape(n)}" for i, n in enumerate(t.notes, 1))
    for remark in _remarks(t, interval):
        out += f"\n\n_{_md_escape(remark)}_"
    return out


# --- LaTeX -----------------------------------------------------------------------------------------------------

_LATEX_SPECIALS = {"\\": r"\textbackslash{}", "&": r"\&", "%": r"\%", "$": r"\$", "#": r"\#", "_": r"\_",
                   "{": r"\{", "}": r"\}", "~": r"\textasciitilde{}", "^": r"\textasciicircum{}",
                   "↑": r"$\uparrow$", "↓": r"$\downarrow$", "·": r"$\cdot$", "±": r"$\pm$"}


def latex_escape(s: str) -> str:
    """Escape LaTeX's special characters (``\\ & % $ # _ { } ~ ^``) so any name typesets verbatim."""
    return "".join(_LATEX_SPECIALS.get(ch, ch) for ch in str(s))


def to_latex(t: PivotTable, digits: int = 3, interval: str = "pm", caption: str | None = None,
             label: str | None = None) -> str:
    """A booktabs ``table`` environment (needs ``\\usepackage{booktabs}``); best values in bold math."""
    cols = "l" * len(t.row_labels) + "r" * len(t.metrics)
    head = [*map(latex_escape, t.row_labels)] + [f"{latex_escape(m)} {latex_escape(arrow(t.directions[m]))}"
                                                 for m in t.metrics]
    best = {m: t.best(m, digits) for m in t.metrics}
    body = []
    for s in t.subjects:
        row = [*map(latex_escape, t.row_parts(s))]
        for m in t.metrics:
            c = t.cell(s, m)
            if not c.ok:
                row.append(f"{NA}$^{{{t.note_number(c.note)}}}$")
                continue
            v, ci = _parts(c, digits, interval)
            bold = s in best[m]
            if interval == "pm" and ci:
                inner = f"{v} \\pm {ci}"
            elif ci:
                inner = f"{v}\\ {ci}"
            else:
                inner = v
            row.append(f"$\\mathbf{{{inner}}}$" if bold else f"${inner}$")
        body.append(" & ".join(row) + r" \\")
    cap = latex_escape(caption if caption is not None else t.title)
    lines = [r"\begin{table}[t]", r"\centering"]
    if cap:
        lines.append(f"\\caption{{{cap}}}")
    if label:
        lines.append(f"\\label{{{latex_escape(label)}}}")
    lines += [f"\\begin{{tabular}}{{{cols}}}", r"\toprule", " & ".join(head) + r" \\", r"\midrule", *body,
              r"\bottomrule", r"\end{tabular}"]
    if t.notes:
        notes = "; ".join(f"$^{{{i}}}$ {latex_escape(n)}" for i, n in enumerate(t.notes, 1))
        lines.append(f"\\par\\smallskip{{\\footnotesize {notes}}}")
    for remark in _remarks(t, interval):
        lines.append(f"\\par{{\\footnotesize {latex_escape(remark)}}}")
    lines.append(r"\end{table}")
    return "\n".join(lines)


# --- CSV -------------------------------------------------------------------------------------------------------

def to_frame(t: PivotTable) -> pd.DataFrame:
    """The pivot as a flat frame at full precision: ``<metric>``, ``<metric>_ci_low``, ``<metric>_ci_high``."""
    rows = []
    for s in t.subjects:
        row: dict[str, object] = dict(zip(t.row_labels, t.row_parts(s), strict=True))
        for m in t.metrics:
            c = t.cell(s, m)
            row[m] = c.value if c.ok else float("nan")
            row[f"{m}_ci_low"] = c.ci_low if c.ok else float("nan")
            row[f"{m}_ci_high"] = c.ci_high if c.ok else float("nan")
        rows.append(row)
    return pd.DataFrame(rows)


def to_csv(t: PivotTable) -> str:
    return to_frame(t).to_csv(index=False, na_rep=NA, float_format="%.6g")


# --- HTML ------------------------------------------------------------------------------------------------------

def _row_n(t: PivotTable, s: str) -> int:
    """The number of clips behind a row: the most common ``n`` of its available cells."""
    ns = [c.n for m in t.metrics if (c := t.cell(s, m)).ok]
    return max(set(ns), key=ns.count) if ns else 0


def to_html(t: PivotTable, digits: int = 3, interval: str = "pm", table_id: str = "", show_n: bool = False) -> str:
    """An HTML ``<table class="fb-sortable">``: cells carry ``data-sort`` values for the sorter in ``sortable.js``.

    Best values are in ``<strong>``; unavailable cells read ``n/a`` with a footnote
    marker and sort last. ``show_n`` adds an ``n`` column: the clips behind each row. The
    table is a fragment: :func:`html_page` or the site wraps it with the CSS and the sorter script.
    """
    e = html.escape
    best = {m: t.best(m, digits) for m in t.metrics}
    tid = f' id="{e(table_id)}"' if table_id else ""
    out = [f'<table class="fb-sortable"{tid}>']
    if t.title:
        out.append(f"<caption>{e(t.title)}</caption>")
    out.append("<thead><tr>" + "".join(f'<th data-type="text">{_breakable(k)}</th>' for k in t.row_labels)
               + ('<th data-type="num" title="clips behind the row\'s values">n</th>' if show_n else "")
               + "".join(f'<th data-type="num" title="{e(m)}: {"higher" if t.directions[m] else "lower"} is better">'
                         f"{_breakable(m)}&nbsp;{arrow(t.directions[m])}</th>" for m in t.metrics) + "</tr></thead>")
    out.append("<tbody>")
    for s in t.subjects:
        tds = [f'<th scope="row" data-sort="{e(part)}">{e(part)}</th>' for part in t.row_parts(s)]
        if show_n:
            tds.append(f'<td class="n" data-sort="{_row_n(t, s)}">{_row_n(t, s)}</td>')
        for m in t.metrics:
            c = t.cell(s, m)
            if not c.ok:
                k = t.note_number(c.note)
                tds.append(f'<td class="na" data-sort="" title="{e(c.note)}">{NA}<sup>{k}</sup></td>')
                continue
            v, ci = _parts(c, digits, interval)
            text = e(v) + (f' <span class="ci">± {e(ci)}</span>' if interval == "pm" and ci
                           else f' <span class="ci">{e(ci)}</span>' if ci else "")
            if s in best[m]:
                text = f"<strong>{text}</strong>"
            tds.append(f'<td data-sort="{c.value!r}">{text}</td>')
        out.append("<tr>" + "".join(tds) + "</tr>")
    out.append("</tbody></table>")
    if t.notes:
        out.append('<ol class="fb-notes">' + "".join(f"<li>{e(n)}</li>" for n in t.notes) + "</ol>")
    out += [f'<p class="fb-remark">{e(r)}</p>' for r in _remarks(t, interval)]
    return "\n".join(out)


def _breakable(name: str) -> str:
    """HTML for a column name that may wrap after ``_``, ``.``, ``@``, ``=`` or ``|`` but never inside a word."""
    text = html.escape(name)
    for ch in ("_", ".", "@", "=", "|"):
        text = text.replace(ch, ch + "<wbr>")
    return text


def html_page(body: str, title: str = "forgebench results") -> str:
    """A standalone page (inline CSS and sorter): opens from disk with no server and no network."""
    from forgebench.reports.static import read_static

    return ("<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
            f"<title>{html.escape(title)}</title><style>{read_static('style.css')}</style></head>"
            f"<body><main>{body}</main><script>{read_static('sortable.js')}</script></body></html>\n")
