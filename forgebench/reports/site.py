"""The static report site: an index of runs and one page per run, openable from disk with no server.

Layout written (all links relative, no CDN, no fonts or scripts from the network)::

    SITE_DIR/index.html                 runs, their stage status and headline numbers
    SITE_DIR/assets/style.css, sortable.js
    SITE_DIR/runs/<run>/index.html      tables, figures, sample frames, run record, failed stages
    SITE_DIR/runs/<run>/fig/*.png       figures
    SITE_DIR/runs/<run>/tables/*.{md,tex,csv}   the same tables for papers and READMEs

A run folder is read tolerantly (see :mod:`forgebench.reports.run_data`): any part may
be missing or broken, and the page says what is missing or what failed instead of
the build crashing. The site is built in a temporary sibling folder and renamed into
place, so an interrupted build leaves the previous site intact.
"""

from __future__ import annotations

import contextlib
import html
import os
import re
import shutil
import tempfile
from pathlib import Path

from forgebench.errors import InputError
from forgebench.progress import tqdm
from forgebench.reports.run_data import RunData, load_run
from forgebench.reports.run_page import render_run
from forgebench.reports.static import read_static, static_names

MARKER = ".forgebench-site"
#: A folder is a run when it holds at least one of these (the rest may be missing or broken: the page says so).
RUN_FILES = ("run.json", "results.csv", "results.parquet", "manifest.parquet")
e = html.escape


def page(title: str, body: str, depth: int) -> str:
    """A complete page; ``depth`` is how many folders below the site root it lives (for relative asset links)."""
    up = "../" * depth
    return ("<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
            "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">"
            f"<title>{e(title)}</title><link rel=\"stylesheet\" href=\"{up}assets/style.css\"></head><body>"
            f"<header class=\"fb\"><a href=\"{up}index.html\">forgebench reports</a></header>"
            f"<main>{body}</main><script src=\"{up}assets/sortable.js\"></script></body></html>\n")


def _slug(name: str, taken: set[str]) -> str:
    base = re.sub(r"[^A-Za-z0-9_.-]+", "-", name).strip("-.") or "run"
    slug, k = base, 2
    while slug in taken:
        slug, k = f"{base}-{k}", k + 1
    taken.add(slug)
    return slug


def _index(runs: list[tuple[str, RunData]]) -> str:
    rows = []
    for slug, run in runs:
        failed = [s for s, v in run.stages.items() if str(v).startswith("failed")]
        status = (f'<span class="status-failed">{len(failed)} failed: {e(", ".join(failed))}</span>' if failed
                  else f'<span class="status-done">{len(run.stages)} stages done</span>' if run.stages
                  else '<span class="status-skipped">no stage record</span>')
        head = run.headline()
        rows.append(f'<tr><td data-sort="{e(run.name)}"><a href="runs/{e(slug)}/index.html">{e(run.name)}</a></td>'
                    f"<td>{e(run.spec_label())}</td><td>{e(run.created)}</td><td>{status}</td>"
                    f"<td>{e(head)}</td><td data-sort=\"{len(run.results)}\">{len(run.results)}</td></tr>")
    body = ("<h1>forgebench reports</h1><p>One page per run. Tables sort by clicking a header; every "
            "number comes from the run's results table (results.csv).</p>"
            '<table class="fb-sortable" id="runs"><thead><tr><th data-type="text">run</th>'
            '<th data-type="text">spec</th><th data-type="text">created</th><th data-type="text">stages</th>'
            '<th data-type="text">headline</th><th data-type="num">results</th></tr></thead><tbody>'
            + "".join(rows) + "</tbody></table>")
    return page("forgebench reports", body, 0)


def _check_target(out: Path) -> None:
    """Refuse to replace a folder that is not a site this function built (never delete a user's files)."""
    if out.exists() and (not out.is_dir() or (any(out.iterdir()) and not (out / MARKER).is_file())):
        raise InputError(f"{str(out)!r} exists and is not a forgebench site: choose an empty or new -o folder")


def build_site(run_dirs: list[str | Path], out_dir: str | Path, n_boot: int = 200, progress: bool = True) -> Path:
    """Build the site for ``run_dirs`` into ``out_dir`` (replacing a previous site there); returns its index."""
    out = Path(out_dir).resolve()
    _check_target(out)
    missing = [str(d) for d in run_dirs if not Path(d).is_dir()]
    if missing:
        raise InputError(f"no run folder at {missing[0]!r}: give folders made by 'forgebench run SPEC -o RUN_DIR'")
    not_runs = [str(d) for d in run_dirs if not any((Path(d) / n).is_file() for n in RUN_FILES)]
    if not_runs:
        raise InputError(f"{not_runs[0]!r} is not a run folder (it has none of {', '.join(RUN_FILES)}): give "
                         "folders made by 'forgebench run SPEC -o RUN_DIR'")
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{out.name}.", suffix=".partial", dir=out.parent))
    try:
        (tmp / "assets").mkdir()
        for name in static_names():
            (tmp / "assets" / name).write_text(read_static(name), encoding="utf-8")
        taken: set[str] = set()
        runs = []
        for d in tqdm(run_dirs, desc="report", unit="run", disable=not progress):
            run = load_run(d)
            slug = _slug(run.name, taken)
            folder = tmp / "runs" / slug
            folder.mkdir(parents=True)
            body = render_run(run, folder, n_boot=n_boot)
            (folder / "index.html").write_text(page(f"run {run.name}", body, 2), encoding="utf-8")
            runs.append((slug, run))
        (tmp / "index.html").write_text(_index(runs), encoding="utf-8")
        (tmp / MARKER).write_text("built by forgebench report\n", encoding="utf-8")
        os.chmod(tmp, 0o755)  # mkdtemp makes 0700; a site is meant to be read
        _swap_into_place(tmp, out)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return out / "index.html"


def _swap_into_place(tmp: Path, out: Path) -> None:
    """Rename ``tmp`` to ``out``; an old site is moved aside first and removed only after the rename."""
    old = None
    if out.exists():
        old = out.with_name(f".{out.name}.old-{os.getpid()}")
        os.replace(out, old)
    try:
        os.replace(tmp, out)
    except BaseException:
        if old is not None:
            os.replace(old, out)
        raise
    if old is not None:
        with contextlib.suppress(OSError):
            shutil.rmtree(old)
