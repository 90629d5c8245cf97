"""The report site's stylesheet and table sorter, kept as Python strings.

They live in a module rather than as ``.css``/``.js`` package data so that every
install (wheel, sdist, editable) carries them without packaging rules, and the
site never needs a CDN: pages link the copies written next to them.
"""

from __future__ import annotations

STYLE_CSS = """
:root { --fg: #1d232a; --muted: #5b6672; --line: #d5dbe1; --accent: #1f5fa8; --bad: #a8321f; --bg: #ffffff;
        --zebra: #f5f7f9; }
* { box-sizing: border-box; }
body { margin: 0; color: var(--fg); background: var(--bg);
       font: 15px/1.5 system-ui, -apple-system, "Segoe UI", Roboto, "DejaVu Sans", sans-serif; }
main { max-width: 1240px; margin: 0 auto; padding: 1.5rem 1.25rem 3rem; }
header.fb { border-bottom: 1px solid var(--line); padding: .75rem 1.25rem; }
header.fb a { color: var(--accent); text-decoration: none; font-weight: 600; }
h1 { font-size: 1.6rem; margin: .5rem 0 1rem; }
h1 small { font-size: .6em; color: var(--muted); font-weight: normal; }
h2 { font-size: 1.25rem; margin: 2rem 0 .75rem; border-bottom: 1px solid var(--line); padding-bottom: .25rem; }
h3 { font-size: 1.05rem; margin: 1.25rem 0 .5rem; }
a { color: var(--accent); }
table { border-collapse: collapse; margin: .5rem 0 1rem; font-variant-numeric: tabular-nums; }
caption { text-align: left; font-weight: 600; padding: .25rem 0; }
th, td { padding: .3rem .5rem; border-bottom: 1px solid var(--line); text-align: right; white-space: nowrap; }
th:first-child, td:first-child, th[scope="row"], thead th[data-type="text"] { text-align: left; }
thead th { border-bottom: 2px solid var(--fg); cursor: pointer; user-select: none; white-space: normal;
           vertical-align: bottom; max-width: 14rem; overflow-wrap: normal; word-break: normal; hyphens: manual; }
table.fb-sortable { display: block; overflow-x: auto; max-width: 100%; }
thead th.sorted-asc::after { content: " \\25B2"; font-size: .7em; }
thead th.sorted-desc::after { content: " \\25BC"; font-size: .7em; }
tbody tr:nth-child(even) { background: var(--zebra); }
td.na { color: var(--muted); }
.ci { color: var(--muted); font-size: .9em; }
ol.fb-notes { color: var(--muted); font-size: .85em; margin-top: -.5rem; }
p.fb-remark { color: var(--muted); font-size: .85em; margin-top: -.5rem; }
dl.meta { display: grid; grid-template-columns: max-content 1fr; gap: .2rem 1rem; }
dl.meta dt { color: var(--muted); }
dl.meta dd { margin: 0; font-family: ui-monospace, "DejaVu Sans Mono", monospace; font-size: .9em;
             overflow-wrap: anywhere; }
.figs { display: grid; grid-template-columns: repeat(auto-fill, minmax(320px, 1fr)); gap: 1rem; }
figure { margin: 0; border: 1px solid var(--line); padding: .5rem; background: #fff; }
figure img { width: 100%; height: auto; display: block; }
figcaption { font-size: .85em; color: var(--muted); margin-top: .25rem; }
.strip .figs { grid-template-columns: minmax(0, 760px); }
#summary ul { padding-left: 1.25rem; }
#summary li { margin: .2rem 0; }
details { margin: .5rem 0 1rem; }
details > summary { cursor: pointer; color: var(--muted); }
td.n { color: var(--muted); }
.status-failed { color: var(--bad); font-weight: 600; }
.status-done { color: #2c7a3a; }
.status-skipped { color: var(--muted); }
.failed-box { border-left: 4px solid var(--bad); background: #fbf0ee; padding: .5rem 1rem; margin: 1rem 0; }
.tables-tabs a { margin-right: 1rem; font-size: .9em; }
footer { color: var(--muted); font-size: .85em; margin-top: 3rem; }
"""

# A tiny sorter: click a header to sort by it; numbers compare numerically, n/a sorts last either way.
SORTABLE_JS = """
(function () {
  "use strict";
  function key(cell) {
    var v = cell.getAttribute("data-sort");
    return v === null ? cell.textContent.trim() : v;
  }
  function sortTable(table, col, type, dir) {
    var body = table.tBodies[0];
    var rows = Array.prototype.slice.call(body.rows);
    rows.sort(function (a, b) {
      var x = key(a.cells[col]), y = key(b.cells[col]);
      if (x === "" && y === "") return 0;
      if (x === "") return 1;
      if (y === "") return -1;
      var r = type === "num" ? parseFloat(x) - parseFloat(y) : x.localeCompare(y);
      return dir * r;
    });
    rows.forEach(function (r) { body.appendChild(r); });
  }
  function init(table) {
    var heads = table.tHead ? table.tHead.rows[0].cells : [];
    Array.prototype.forEach.call(heads, function (th, col) {
      th.addEventListener("click", function () {
        var dir = th.classList.contains("sorted-asc") ? -1 : 1;
        Array.prototype.forEach.call(heads, function (h) { h.classList.remove("sorted-asc", "sorted-desc"); });
        th.classList.add(dir === 1 ? "sorted-asc" : "sorted-desc");
        sortTable(table, col, th.getAttribute("data-type") || "text", dir);
      });
    });
  }
  document.querySelectorAll("table.fb-sortable").forEach(init);
})();
"""

_FILES = {"style.css": STYLE_CSS, "sortable.js": SORTABLE_JS}


def read_static(name: str) -> str:
    """The text of a static asset: ``"style.css"`` or ``"sortable.js"``."""
    try:
        return _FILES[name]
    except KeyError:
        raise KeyError(f"no static asset {name!r}; have {sorted(_FILES)}") from None


def static_names() -> list[str]:
    return sorted(_FILES)
