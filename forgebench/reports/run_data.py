"""Reading a run folder for the report, tolerating missing and broken parts.

Expected layout (every part optional)::

    RUN_DIR/run.json                  spec name/version, package versions, seeds, weights hashes,
                                      timings, git hash, stage status {stage: "done" | "failed: why" | "skipped"}
    RUN_DIR/manifest.parquet          the corpus manifest (sample frames)
    RUN_DIR/results.csv               the tidy results table (or results.parquet)
    RUN_DIR/predictions/<detector>.parquet   clip_id, split, label (1 = fake), score [, generator,
                                      perturbation, level, source_id, detector]
    RUN_DIR/predictions/<detector>.frames.parquet   optional per-frame scores: clip_id, frame, score

Whatever cannot be read becomes a line in :attr:`RunData.problems`, shown on the page.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from forgebench.results import RESULT_COLUMNS, read_results

PRED_REQUIRED = ("clip_id", "label", "score")

#: The fewest clips behind a number that the report singles out (bold, headline, "best"). Smaller samples
#: are shown with their intervals and sample sizes, never ranked: AUC on 20 clips still spans about +-0.15.
MIN_CLIPS = 20


@dataclass
class RunData:
    path: Path
    name: str
    record: dict = field(default_factory=dict)
    results: pd.DataFrame = field(default_factory=lambda: pd.DataFrame(columns=list(RESULT_COLUMNS)))
    predictions: dict[str, pd.DataFrame] = field(default_factory=dict)
    frame_scores: dict[str, pd.DataFrame] = field(default_factory=dict)
    manifest: pd.DataFrame | None = None
    problems: list[str] = field(default_factory=list)

    @property
    def stages(self) -> dict[str, str]:
        st = self.record.get("stages", self.record.get("stage_status", {}))
        if isinstance(st, dict):
            return {str(k): (v if isinstance(v, str) else str(v.get("status", v)) if isinstance(v, dict) else str(v))
                    for k, v in st.items()}
        return {}

    @property
    def failed_stages(self) -> dict[str, str]:
        return {k: v for k, v in self.stages.items() if v.startswith("failed")}

    @property
    def created(self) -> str:
        return str(self.record.get("created", self.record.get("started", "")))

    def spec_label(self) -> str:
        spec = self.record.get("spec", {})
        if isinstance(spec, dict):
            name, ver = spec.get("name", ""), spec.get("version", "")
        else:
            name, ver = str(spec), self.record.get("spec_version", self.record.get("version", ""))
        return f"{name} v{ver}" if name and ver != "" else str(name)

    def headline(self) -> str:
        """The best clean test AUC on at least :data:`MIN_CLIPS` clips, for the index page (else why none)."""
        df = self.results
        if df.empty:
            return ""
        ok = df[df["status"] == "ok"]
        auc = ok[(ok["metric"] == "auc") & (ok["condition"] == "clean")]
        if "test" in set(auc["split"]):
            auc = auc[auc["split"] == "test"]
        enough = auc[auc["n"] >= MIN_CLIPS]
        if len(enough):
            r = enough.loc[enough["value"].idxmax()]
            return f"best AUC {r['value']:.3f} ({r['subject']}, {int(r['n'])} clips)"
        if len(auc):
            return f"no headline: AUC on {int(auc['n'].max())} clips (fewer than {MIN_CLIPS})"
        return ""


def _read_table(path: Path) -> pd.DataFrame:
    return pd.read_parquet(path) if path.suffix == ".parquet" else pd.read_csv(path)


def load_run(run_dir: str | Path) -> RunData:
    """Read everything readable in ``run_dir``; never raises for a broken part (see ``problems``)."""
    path = Path(run_dir)
    run = RunData(path=path, name=path.resolve().name)
    rec = path / "run.json"
    if rec.is_file():
        try:
            run.record = json.loads(rec.read_text(encoding="utf-8"))
            if not isinstance(run.record, dict):
                raise ValueError("not a JSON object")
        except (ValueError, OSError) as exc:
            run.record = {}
            run.problems.append(f"run.json is unreadable ({exc}); the run record is not shown")
    else:
        run.problems.append("no run.json: versions, seeds and stage status are unknown")
    res = next((p for p in (path / "results.csv", path / "results.parquet") if p.is_file()), None)
    if res is None:
        run.problems.append("no results.csv: no tables")
    else:
        try:
            run.results = read_results(res)
        except Exception as exc:  # a broken table must not stop the other parts of the report
            run.problems.append(f"{res.name} is unreadable: {exc}")
    preds = path / "predictions"
    for p in sorted(preds.glob("*.parquet")) + sorted(preds.glob("*.csv")):
        is_frames = p.stem.endswith(".frames")
        det = p.stem.removesuffix(".frames")
        try:
            df = _read_table(p)
            need = ("clip_id", "frame", "score") if is_frames else PRED_REQUIRED
            lack = [c for c in need if c not in df.columns]
            if lack:
                raise ValueError(f"lacks the columns {', '.join(lack)}")
        except Exception as exc:
            run.problems.append(f"predictions/{p.name} is unreadable: {exc}")
            continue
        if is_frames:
            run.frame_scores[det] = df
        else:
            run.predictions[det] = df.assign(detector=df["detector"] if "detector" in df else det)
    man = path / "manifest.parquet"
    if man.is_file():
        try:
            from forgebench.manifest import read_manifest

            run.manifest = read_manifest(man)
        except Exception as exc:
            run.problems.append(f"manifest.parquet is unreadable: {exc}")
    return run
