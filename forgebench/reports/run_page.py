"""One run's report page: failed stages first, then tables, figures, sample frames and the run record.

Every figure is drawn in its own ``try``: a figure that cannot be drawn becomes a
line on the page saying why, never a crashed build.
"""

from __future__ import annotations

import html
import json
import re
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pandas as pd

from forgebench.reports import tables as tb
from forgebench.reports.figures import (
    CrossGeneratorDisplay,
    DetCurveDisplay,
    MetricBarsDisplay,
    ReliabilityDisplay,
    RobustnessDisplay,
    RocCurveDisplay,
    pyplot,
)
from forgebench.reports.frame_figures import FrameScoresDisplay, FrameStripDisplay
from forgebench.reports.run_data import RunData

e = html.escape
RECORD_KEYS = ("spec", "spec_version", "version", "forgebench_version", "git", "git_hash", "created", "seeds",
               "packages", "package_versions", "weights", "weights_hashes", "timings")


def _fname(s: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]+", "-", s).strip("-") or "table"


def _save(path: Path, draw: Callable, figsize=(4.5, 4.0)) -> None:
    plt = pyplot()
    fig = plt.figure(figsize=figsize)
    try:
        draw(fig)
        fig.tight_layout()
        fig.savefig(path, dpi=110)
    finally:
        plt.close(fig)


def _test_split(df: pd.DataFrame) -> pd.DataFrame:
    if "split" in df and (df["split"] == "test").any():
        df = df[df["split"] == "test"]
    if "perturbation" in df:
        df = df[df["perturbation"].isin(["none", ""]) | df["perturbation"].isna()]
    return df


def _figures(run: RunData, fig_dir: Path, n_boot: int) -> tuple[list[tuple[str, str]], list[str]]:
    """Draw every figure the run's data allows; returns ``[(file name, caption)]`` and problems."""
    fig_dir.mkdir(exist_ok=True)
    made: list[tuple[str, str]] = []
    problems: list[str] = []

    def attempt(name: str, caption: str, draw: Callable, figsize=(4.5, 4.0)) -> None:
        try:
            _save(fig_dir / name, draw, figsize)
            made.append((name, caption))
        except Exception as exc:  # one bad figure must not stop the page
            problems.append(f"figure {name} could not be drawn: {type(exc).__name__}: {exc}")

    clean = {d: _test_split(p) for d, p in run.predictions.items()}
    clean = {d: p for d, p in clean.items() if p["label"].nunique() == 2}

    def overlay(kind):
        def draw(fig):
            ax = fig.add_subplot(1, 1, 1)
            for det, p in clean.items():
                kind.from_predictions(p["label"].to_numpy(), p["score"].to_numpy(), name=det, n_boot=n_boot).plot(ax)
        return draw

    if clean:
        attempt("roc.png", "ROC curves on the clean test split; bands are 95% bootstrap intervals over clips.",
                overlay(RocCurveDisplay))
        attempt("det.png", "DET curves (probit axes), 95% bootstrap bands.", overlay(DetCurveDisplay))

        def reliability(fig):
            ax = fig.add_subplot(1, 1, 1)
            for det, p in clean.items():
                ReliabilityDisplay.from_predictions(p["label"], p["score"], name=det).plot(ax)
        attempt("reliability.png", "Reliability diagram: fraction fake vs mean score in 10 bins.", reliability)
    allp = pd.concat(run.predictions.values(), ignore_index=True) if run.predictions else pd.DataFrame()
    if {"perturbation", "level"} <= set(allp.columns) and (~allp["perturbation"].isin(["none", ""])).any():
        test = allp[allp["split"] == "test"] if "split" in allp and (allp["split"] == "test").any() else allp
        rob = RobustnessDisplay.from_predictions(test)
        attempt("robustness.png", "AUC vs perturbation level (level 0 = clean), per detector.", rob.draw, rob.figsize)
    res = run.results
    if len(res) and res["condition"].str.startswith("train=").any():
        for subject in res[res["condition"].str.startswith("train=")]["subject"].unique()[:4]:
            disp = CrossGeneratorDisplay.from_results(res, "auc", subject=subject)
            if disp.matrix.size:
                attempt(f"cross-{_fname(subject)}.png", f"Cross-generator AUC of {subject}: train rows, test columns.",
                        disp.draw)
    ok = res[(res["status"] == "ok") & (res["condition"] == "clean")] if len(res) else res
    for metric in list(dict.fromkeys(ok["metric"]))[:4] if len(ok) else []:
        rows = ok[ok["metric"] == metric].drop_duplicates("subject")
        if len(rows) >= 1:
            attempt(f"bars-{_fname(metric)}.png", f"{metric} per subject with 95% intervals (clean condition).",
                    MetricBarsDisplay.from_results(rows, metric).draw)
    if run.manifest is not None:
        strip = _strip(run)
        if strip is not None:
            attempt("frames.png", "Sample frames: real clips and generated clips (evenly spaced through each clip).",
                    strip.draw, strip.figsize)
    for det, fs in list(run.frame_scores.items())[:2]:
        clips = list(dict.fromkeys(fs["clip_id"]))[:4]
        part = fs[fs["clip_id"].isin(clips)].rename(columns={"clip_id": "name"})
        attempt(f"frames-{_fname(det)}.png", f"Per-frame fake scores of {det} on {len(clips)} clips.",
                FrameScoresDisplay.from_predictions(part).draw, (6.0, 2.8))
    return made, problems


def _strip(run: RunData) -> FrameStripDisplay | None:
    """Up to two real clips and one clip per generator (three at most) whose files exist."""
    from forgebench.manifest import resolve_path

    m = run.manifest[(run.manifest["status"] == "ok") & (run.manifest["perturbation"].isin(["none", ""]))]
    picks = list(m[m["label"] == "real"].head(2).itertuples())
    picks += list(m[m["label"] == "fake"].drop_duplicates("generator").head(3).itertuples())
    paths, titles = [], []
    for r in picks:
        p = resolve_path(run.path, r.path)
        if p.is_file():
            paths.append(p)
            titles.append("real" if r.label == "real" else f"fake · {r.generator}")
    if not paths:
        return None
    return FrameStripDisplay.from_clips(paths, titles, n_frames=4, size=(128, 128))


def _tables(run: RunData, folder: Path) -> str:
    if run.results.empty:
        return "<p>No results table.</p>"
    out = []
    tdir = folder / "tables"
    tdir.mkdir(exist_ok=True)
    res = run.results
    cross = res["condition"].str.startswith("train=")
    groups = tb.split_groups(res[~cross]) if (~cross).any() else []
    # Cross-generator cells: one table per metric, conditions ("train=A|test=B") as columns.
    for (task, split, metric), sub in res[cross].groupby(["task", "split", "metric"], sort=False):
        groups.append((f"{task} · {split} · cross-generator {metric}", sub.assign(metric=sub["condition"])))
    for k, (title, sub) in enumerate(groups, 1):
        try:
            t = tb.pivot(sub, title=title)
        except Exception as exc:
            out.append(f'<p class="status-failed">table {e(title)}: {e(str(exc))}</p>')
            continue
        stem = f"{k:02d}-{_fname(title)}"
        (tdir / f"{stem}.md").write_text(tb.to_markdown(t) + "\n", encoding="utf-8")
        (tdir / f"{stem}.tex").write_text(tb.to_latex(t) + "\n", encoding="utf-8")
        (tdir / f"{stem}.csv").write_text(tb.to_csv(t), encoding="utf-8")
        links = " ".join(f'<a href="tables/{stem}.{x}">{x}</a>' for x in ("md", "tex", "csv"))
        out.append(tb.to_html(t, table_id=f"table-{k}") + f'<p class="tables-tabs">download: {links}</p>')
    return "\n".join(out)


def _value(v) -> str:
    if isinstance(v, dict):
        if not v:
            return "–"
        return "<dl class=\"meta\">" + "".join(f"<dt>{e(str(k))}</dt><dd>{_value(x)}</dd>" for k, x in v.items()) \
            + "</dl>"
    if isinstance(v, list):
        return e(", ".join(json.dumps(x) if isinstance(x, dict | list) else str(x) for x in v))
    if isinstance(v, float):
        return e(f"{v:.3f}")
    return e(str(v))


def _record(run: RunData) -> str:
    rec = run.record
    if not rec:
        return "<p>No run record.</p>"
    keys = [k for k in RECORD_KEYS if k in rec] + [k for k in rec if k not in RECORD_KEYS and k not in
                                                    ("stages", "stage_status")]
    return '<dl class="meta">' + "".join(f"<dt>{e(k)}</dt><dd>{_value(rec[k])}</dd>" for k in keys) + "</dl>"


def _citation(run: RunData) -> str:
    rec = run.record
    pkgs = rec.get("packages") or rec.get("package_versions") or {}
    ver = rec.get("forgebench_version", pkgs.get("forgebench", "?") if isinstance(pkgs, dict) else "?")
    git = rec.get("git_hash", rec.get("git", ""))
    seeds = rec.get("seeds", "")
    return (f"<p>Produced by forgebench {e(str(ver))}{f' (git {e(str(git))[:12]})' if git else ''} from spec "
            f"<strong>{e(run.spec_label() or '?')}</strong>; seeds {e(str(seeds) or '?')}. Versions, weights "
            "hashes and timings are in the run record below.</p>")


def render_run(run: RunData, folder: Path, n_boot: int = 200) -> str:
    """The body of ``runs/<run>/index.html``; figures and tables are written under ``folder``."""
    parts = [f"<h1>Run {e(run.name)}</h1>", _citation(run)]
    failed = run.failed_stages
    if failed:
        parts.append('<div class="failed-box" id="failed-stages"><strong>Failed stages</strong><ul>' + "".join(
            f"<li><strong>{e(k)}</strong>: {e(v.removeprefix('failed').lstrip(': '))}</li>" for k, v in failed.items())
            + "</ul>The tables and figures below show only what the other stages produced.</div>")
    made, fig_problems = _figures(run, folder / "fig", n_boot)
    problems = run.problems + fig_problems
    if problems:
        parts.append('<div class="failed-box" id="problems"><strong>Missing or unreadable parts</strong><ul>'
                     + "".join(f"<li>{e(p)}</li>" for p in problems) + "</ul></div>")
    if run.stages:
        parts.append('<h2>Stages</h2><table id="stages"><thead><tr><th>stage</th><th>status</th><th>time (s)</th>'
                     "</tr></thead><tbody>")
        timings = run.record.get("timings", {}) if isinstance(run.record.get("timings"), dict) else {}
        for k, v in run.stages.items():
            cls = "failed" if v.startswith("failed") else "done" if v == "done" else "skipped"
            t = timings.get(k, "")
            parts.append(f'<tr><td>{e(k)}</td><td class="status-{cls}">{e(v)}</td>'
                         f"<td>{e(f'{t:.1f}' if isinstance(t, int | float) else str(t))}</td></tr>")
        parts.append("</tbody></table>")
    parts.append("<h2>Results</h2>" + _tables(run, folder))
    parts.append("<h2>Figures</h2>")
    if made:
        parts.append('<div class="figs">' + "".join(
            f'<figure><img src="fig/{e(n)}" alt="{e(c)}"><figcaption>{e(c)}</figcaption></figure>' for n, c in made)
            + "</div>")
    else:
        parts.append("<p>No figures: the run has no predictions, results or clips to draw.</p>")
    parts.append("<h2>Run record</h2>" + _record(run))
    n = int(np.sum([len(p) for p in run.predictions.values()])) if run.predictions else 0
    parts.append(f"<footer>{len(run.results)} result rows, {n} predictions from {len(run.predictions)} "
                 f"detectors. Source folder: {e(run.name)}</footer>")
    return "\n".join(parts)
