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
from forgebench.reports.run_data import MIN_CLIPS, RunData

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
    if len(ok) and (ok["split"] == "test").any():  # bars show one split: test where there is one
        ok = ok[ok["split"].isin(["test", "all"])]
    for metric in list(dict.fromkeys(ok["metric"]))[:4] if len(ok) else []:
        rows = ok[ok["metric"] == metric].drop_duplicates("subject")
        if len(rows) >= 1:
            split = str(rows["split"].iloc[0])
            attempt(f"bars-{_fname(metric)}.png", f"{metric} per subject with 95% intervals (clean condition, "
                    f"{split} split).", MetricBarsDisplay.from_results(rows, metric).draw)
    if run.manifest is not None:
        strip = _strip(run)
        if strip is not None:
            attempt("frames.png", "Sample frames: one clip per generator (and real clips, if any), evenly spaced "
                    "through each clip.", strip.draw, strip.figsize)
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


TASKS = {  # task -> section title, in page order
    "generation": "Motion models compared",
    "detection": "Detection: real vs fake",
    "attribution": "Attribution: which motion model made a clip",
    "provenance": "Provenance: watermark and metadata",
}


def _condition_key(condition: str) -> tuple[int, str]:
    """clean first, then per-generator cells, then perturbations by name and level."""
    rank = 0 if condition == "clean" else 1 if condition.startswith("generator=") else 2 if ":" in condition else 3
    return rank, condition


def _write_table(t: tb.PivotTable, tdir: Path, k: int) -> str:
    stem = f"{k:02d}-{_fname(t.title)}"
    (tdir / f"{stem}.md").write_text(tb.to_markdown(t) + "\n", encoding="utf-8")
    (tdir / f"{stem}.tex").write_text(tb.to_latex(t) + "\n", encoding="utf-8")
    (tdir / f"{stem}.csv").write_text(tb.to_csv(t), encoding="utf-8")
    links = " ".join(f'<a href="tables/{stem}.{x}">{x}</a>' for x in ("md", "tex", "csv"))
    html_table = tb.to_html(t, interval="bracket", table_id=f"table-{k}", show_n=True)
    return html_table + f'<p class="tables-tabs">download: {links}</p>'


def _tables(run: RunData, folder: Path) -> dict[str, list[str]]:
    """HTML tables by task: one per (task, split) with a condition column, plus the cross-generator cells."""
    res = run.results
    if res.empty:
        return {}
    tdir = folder / "tables"
    tdir.mkdir(exist_ok=True)
    out: dict[str, list[str]] = {}
    cross = res["condition"].str.startswith("train=")
    groups: list[tuple[str, str, pd.DataFrame, str | list[str]]] = []
    split_rank = {"test": 0, "all": 1, "val": 2, "train": 3}
    plain = res[~cross]
    for (task, split), sub in sorted(plain.groupby(["task", "split"], sort=False),
                                     key=lambda g: split_rank.get(str(g[0][1]), 9)):
        sub = sub.assign(_c=[_condition_key(c) for c in sub["condition"]]).sort_values("_c", kind="stable")
        index: str | list[str] = ["subject", "condition"] if sub["condition"].nunique() > 1 else "subject"
        groups.append((str(task), f"{task} · {split}", sub.drop(columns="_c"), index, str(split)))
    # Cross-generator cells: one table per metric, conditions ("train=A|test=B") as columns.
    for (task, split, metric), sub in res[cross].groupby(["task", "split", "metric"], sort=False):
        groups.append((str(task), f"{task} · {split} · cross-generator {metric}", sub.assign(metric=sub["condition"]),
                       "subject", str(split)))
    for k, (task, title, sub, index, split) in enumerate(groups, 1):
        try:
            t = tb.pivot(sub, index=index, title=title, min_n=MIN_CLIPS)
            html_table = _write_table(t, tdir, k)
            if split in ("val", "train"):  # thresholds are chosen on val: shown, folded away from the test numbers
                html_table = (f"<details><summary>{e(title)}: the {split} split (thresholds and calibration are "
                              f"chosen on val; the test split above is the result)</summary>{html_table}</details>")
            out.setdefault(task, []).append(html_table)
        except Exception as exc:  # one bad table must not stop the page
            out.setdefault(task, []).append(f'<p class="status-failed">table {e(title)}: {e(str(exc))}</p>')
    return out


def _clips(n: int) -> str:
    return f"{n} clip{'' if n == 1 else 's'}"


def _summary(run: RunData) -> str:
    """What the run shows, in plain words, with its sample sizes; never ranks numbers from too few clips."""
    items: list[str] = []
    m = run.manifest
    if m is not None and len(m):
        ok = m[m["status"] == "ok"]
        clean = ok[ok["perturbation"].isin(["none", ""])]
        fakes, reals = clean[clean["label"] == "fake"], clean[clean["label"] == "real"]
        per_gen = ", ".join(f"{n} by {g}" for g, n in fakes.groupby("generator").size().items())
        ids = clean["source_id"].astype(str)
        builtin = ids.str.startswith("builtin:").all()
        text = (f"The corpus holds {_clips(len(clean))}: {len(fakes)} generated ({per_gen or 'none'}) and "
                f"{len(reals)} real, showing {ids.nunique()} identities"
                + (" (variants of one built-in portrait: one real person, so splits by identity are not truly "
                   "identity-disjoint)" if builtin and ids.nunique() > 1 else ""))
        perturbed = ok[~ok["perturbation"].isin(["none", ""])]
        if len(perturbed):
            text += (f"; {len(perturbed)} perturbed copies "
                     f"({', '.join(sorted(perturbed['perturbation'].astype(str).unique()))}) test robustness")
        if (m["status"] != "ok").any():
            text += f"; {int((m['status'] != 'ok').sum())} clips failed to build (see build.log)"
        items.append(text + ".")
        counts = clean.groupby("split").size()
        ids = clean.groupby("split")["source_id"].nunique()
        items.append("Splits by identity (clean clips): " + ", ".join(
            f"{s} {_clips(int(counts.get(s, 0)))} of {int(ids.get(s, 0))} identit"
            f"{'y' if int(ids.get(s, 0)) == 1 else 'ies'}" for s in ("train", "val", "test")) + ".")
    res = run.results[run.results["status"] == "ok"] if len(run.results) else run.results
    tasks = set(res["task"]) if len(res) else set()
    if "attribution" in tasks:
        items.append("There are no real clips, so the detectors were trained to tell the motion models apart "
                     "(attribution), not real from fake; add real videos (--real DIR) for detection.")
    for task in ("detection", "attribution"):
        auc = res[(res["task"] == task) & (res["metric"] == "auc") & (res["condition"] == "clean")]
        if "test" in set(auc["split"]):
            auc = auc[auc["split"] == "test"]
        if not len(auc):
            continue
        n = int(auc["n"].max())
        values = "; ".join(f"{r.subject} {r.value:.2f}" + (f" [{r.ci_low:.2f}, {r.ci_high:.2f}]"
                                                            if np.isfinite(r.ci_low) else "")
                           for r in auc.sort_values("subject").itertuples())
        if n < MIN_CLIPS:
            items.append(f"{task.capitalize()} AUC on the clean test split rests on {_clips(n)}, fewer than the "
                         f"{MIN_CLIPS} this report needs to rank detectors, so none is singled out: {values}.")
        else:
            best = auc.loc[auc["value"].idxmax()]
            items.append(f"{task.capitalize()} on the clean test split ({_clips(n)}): the best AUC is "
                         f"{best['value']:.2f} ({best['subject']}); all: {values}.")
    gen = res[res["task"] == "generation"] if len(res) else res
    if len(gen):
        n = int(gen["n"].max())
        models = ", ".join(sorted(gen["subject"].astype(str).unique()))
        rank = ("" if n >= MIN_CLIPS else f" With fewer than {MIN_CLIPS} clips per model, no value is marked best; "
                "read the intervals.")
        reals = m is not None and bool((m["label"] == "real").any())
        items.append(f"The motion models ({models}) are compared on up to {_clips(n)} each"
                     + (", with the real clips as the reference." if reals else " (no real clips to compare with).")
                     + rank)
    wm = res[(res["task"] == "provenance") & (res["metric"] == "watermark_detection_rate")
             & (res["condition"] == "clean")] if len(res) else res
    if len(wm):
        r = wm.iloc[0]
        items.append(f"The invisible watermark was found in {r['value']:.0%} of the {int(r['n'])} generated clips "
                     "(clean); the provenance table gives it under each perturbation.")
    if not items:
        return ""
    return ('<section id="summary"><h2>What this run shows</h2><ul>' + "".join(f"<li>{e(i)}</li>" for i in items)
            + f"</ul><p class=\"fb-remark\">Tables give each value with its 95% interval and n, the clips behind it. "
              f"Bold marks the best value of a column (within a condition) among values from at least {MIN_CLIPS} "
              "clips.</p></section>")


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


def _test_clips(run: RunData) -> int:
    """Clips on the clean test split of the first detector's predictions (0 without predictions)."""
    for p in run.predictions.values():
        return len(_test_split(p))
    return 0


def _figure_html(made: list[tuple[str, str]]) -> str:
    return '<div class="figs">' + "".join(
        f'<figure><img src="fig/{e(n)}" alt="{e(c)}"><figcaption>{e(c)}</figcaption></figure>' for n, c in made) \
        + "</div>"


def render_run(run: RunData, folder: Path, n_boot: int = 200) -> str:
    """The body of ``runs/<run>/index.html``; figures and tables are written under ``folder``.

    Order: what the run shows (plain words, sample sizes), sample frames of the generated clips, the
    motion-model comparison, then detection (or attribution) and provenance, each as one table with a
    condition column, then the figures, the stages and the run record.
    """
    spec = run.spec_label()
    title = f"{e(spec)} <small>(run folder {e(run.name)})</small>" if spec else f"Run {e(run.name)}"
    parts = [f"<h1>{title}</h1>", _citation(run)]
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
    parts.append(_summary(run))
    strip = [(n, c) for n, c in made if n == "frames.png"]
    if strip:
        parts.append('<h2>Generated clips</h2><div class="strip">' + _figure_html(strip) + "</div>")
    tables = _tables(run, folder)
    for task in [*TASKS, *sorted(set(tables) - set(TASKS))]:
        if task in tables:
            parts.append(f'<h2 id="task-{e(task)}">{e(TASKS.get(task, task))}</h2>' + "\n".join(tables[task]))
    if not tables:
        parts.append("<h2>Results</h2><p>No results table.</p>")
    rest = [(n, c) for n, c in made if n != "frames.png"]
    parts.append("<h2>Figures</h2>")
    test_n = _test_clips(run)
    if rest and 0 < test_n < MIN_CLIPS:
        parts.append(f'<p class="fb-remark">The curves and bars come from {_clips(test_n)} on the test split: they '
                     "show what the report draws, not results to read.</p>")
    parts.append(_figure_html(rest) if rest else "<p>No figures: the run has no predictions or results to draw.</p>")
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
    parts.append("<h2>Run record</h2>" + _record(run))
    n = int(np.sum([len(p) for p in run.predictions.values()])) if run.predictions else 0
    parts.append(f"<footer>{len(run.results)} result rows, {n} predictions from {len(run.predictions)} "
                 f"detectors. Source folder: {e(run.name)}</footer>")
    return "\n".join(p for p in parts if p)
