"""``forgebench run``: one command from a spec to a report.

Stages, in order, each a function of the run folder:

1. ``corpus`` — build (or resume) the clips and ``manifest.parquet``;
2. ``metrics`` — score each generator's clean fakes with the spec's metrics;
3. ``detectors`` — train each detector (selection on ``val`` only), predict
   ``val`` and ``test``, evaluate with the shared evaluation module. With real
   clips the task is real-vs-fake detection; without them, generator
   attribution (which motion model made a fake), reported as such;
4. ``provenance`` — read the watermark back from every fake, clean and perturbed
   (listed apart from forensic detectors: it reads a mark, it detects nothing);
5. ``report`` — the static site.

``run.json`` records the spec, versions, seeds, weights hashes, timings and each
stage's status and input key. A stage whose key is unchanged and whose status is
``done`` is skipped, so re-running a finished run takes seconds and changes
nothing. A failed stage is recorded with its reason; later stages that do not
need it still run, and the report shows what failed.
"""

from __future__ import annotations

import hashlib
import json
import platform
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from importlib import metadata
from pathlib import Path

import pandas as pd

from forgebench import __version__
from forgebench.atomic import atomic_output
from forgebench.errors import DiskFullError, ForgebenchError, InputError
from forgebench.manifest import read_manifest, resolve_path, write_manifest
from forgebench.results import RESULT_COLUMNS, read_results, results_frame, write_results

STAGES = ("corpus", "metrics", "detectors", "provenance", "report")
PACKAGES = ("torch", "mediapipe", "numpy", "scikit-learn", "pandas", "av", "lpips", "pytorch-fid", "syncnet-python")


@dataclass
class RunOptions:
    """What a run needs beyond its spec."""

    real_dirs: list[Path] = field(default_factory=list)
    allow_commands: bool = False
    executor: object | None = None
    device: str | None = None
    epochs: int | None = None
    n_boot: int = 500
    progress: bool = True


def _log(message: str) -> None:
    print(f"run: {message}", file=sys.stderr, flush=True)


def _write_json(path: Path, data: dict) -> None:
    with atomic_output(path) as tmp:
        tmp.write_text(json.dumps(data, indent=2, default=str))


def _key(*parts: object) -> str:
    return hashlib.sha256(json.dumps(parts, sort_keys=True, default=str).encode()).hexdigest()[:16]


def _git_hash() -> str:
    try:
        root = Path(__file__).resolve().parents[2]
        out = subprocess.run(["git", "-C", str(root), "rev-parse", "--short=12", "HEAD"], capture_output=True,
                             text=True, timeout=5)
        return out.stdout.strip() if out.returncode == 0 else ""
    except (OSError, subprocess.SubprocessError):
        return ""


def _versions() -> dict[str, str]:
    found = {"python": platform.python_version(), "forgebench": __version__}
    for name in PACKAGES:
        try:
            found[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            found[name] = "not installed"
    return found


def _weights_hashes() -> dict[str, str | None]:
    from forgebench.weights.registry import list_entries, weights_available

    return {e.name: (e.sha256 if weights_available(e.name) else None) for e in list_entries()}


class Run:
    """A run folder and its record (``run.json``)."""

    def __init__(self, spec, run_dir: str | Path, options: RunOptions) -> None:
        self.spec, self.options = spec, options
        self.dir = Path(run_dir).resolve()
        self.dir.mkdir(parents=True, exist_ok=True)
        self.record_path = self.dir / "run.json"
        self.record = json.loads(self.record_path.read_text()) if self.record_path.is_file() else {}
        self.record.setdefault("stages", {})
        self.record.update(
            spec={"name": spec.name, "version": str(spec.version), "hash": spec.spec_hash()},
            seeds=[spec.seed], forgebench=__version__, git_hash=_git_hash(), packages=_versions(),
            real_dirs=[str(p) for p in options.real_dirs],
        )
        self.record.setdefault("created", time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()))
        self.results_dir = self.dir / "results"

    @property
    def manifest_path(self) -> Path:
        return self.dir / "manifest.parquet"

    def common(self) -> dict:
        return {"protocol": self.spec.name, "protocol_version": str(self.spec.version),
                "config_hash": self.spec.spec_hash(), "seed": self.spec.seed}

    def save(self) -> None:
        self.record["timings"] = {k: v.get("seconds") for k, v in self.record["stages"].items()}
        _write_json(self.record_path, self.record)

    def stage(self, name: str, key: str, fn: Callable[[], str | None]) -> bool:
        """Run ``fn`` unless this stage is done with the same key; record the outcome."""
        entry = self.record["stages"].get(name, {})
        if entry.get("status") == "done" and entry.get("key") == key:
            _log(f"{name}: done already (skipped)")
            return True
        _log(f"{name} ...")
        t0 = time.perf_counter()
        try:
            note = fn()
            entry = {"status": "done", "key": key, "note": note or ""}
        except DiskFullError:
            raise  # every later stage would fail too: stop, the run resumes from here
        except ForgebenchError as exc:
            entry = {"status": f"failed: {exc}", "key": key}
            _log(f"{name} failed: {exc}")
        entry["seconds"] = round(time.perf_counter() - t0, 2)
        self.record["stages"][name] = entry
        self.save()
        return entry["status"] == "done"

    def write_stage_results(self, name: str, rows: list[dict]) -> None:
        df = results_frame([{**self.common(), **row} for row in rows]) if rows else pd.DataFrame(
            columns=list(RESULT_COLUMNS))
        write_results(df, self.results_dir / f"{name}.csv")

    def collect_results(self) -> pd.DataFrame:
        parts = [read_results(p) for p in sorted(self.results_dir.glob("*.csv"))]
        parts = [p for p in parts if len(p)]
        df = pd.concat(parts, ignore_index=True) if parts else results_frame([])
        write_results(df, self.dir / "results.csv")
        return df


# -- stages -----------------------------------------------------------------------------------------------------


def stage_corpus(run: Run) -> str:
    from forgebench.benchmarks.build import build_corpus

    result = build_corpus(run.spec, run.dir, real_dirs=run.options.real_dirs,
                          allow_commands=run.options.allow_commands, executor=run.options.executor,
                          progress=run.options.progress)
    if result.n_failed and result.n_failed == len(result.manifest):
        raise InputError(f"every clip failed to build (see {run.dir / 'build.log'})")
    return f"{len(result.manifest)} clips, {result.n_failed} failed"


def stage_metrics(run: Run) -> str:
    from forgebench.metrics.inputs import InputItem
    from forgebench.metrics.score import score_clips

    df = read_manifest(run.manifest_path)
    ok = df[(df["status"] == "ok") & (df["perturbation"] == "none")]
    real = ok[ok["label"] == "real"]
    reference = None
    if len(real):
        reference = run.dir / "reference_clips"
        reference.mkdir(exist_ok=True)
        for row in real.itertuples():  # the reference set is a folder: link the real clips into it
            link = reference / Path(row.path).name
            if not link.exists():
                link.symlink_to(resolve_path(run.manifest_path, row.path))
    rows: list[dict] = []
    for generator, fakes in ok[ok["label"] == "fake"].groupby("generator"):
        items = [InputItem(r.clip_id, resolve_path(run.manifest_path, r.path)) for r in fakes.itertuples()]
        _, summary = score_clips(items, list(run.spec.metrics), reference=reference, progress=run.options.progress)
        for s in summary.itertuples(index=False):
            value = s.value if pd.notna(s.value) else s.mean
            rows.append({"task": "generation", "subject": str(generator), "metric": s.metric, "split": "all",
                         "value": float(value) if pd.notna(value) else float("nan"),
                         "ci_low": s.ci_low, "ci_high": s.ci_high, "n": int(s.n),
                         "higher_is_better": bool(s.higher_is_better), "status": s.status,
                         "note": s.fix or s.reason or ""})
    run.write_stage_results("metrics", rows)
    return f"{len(rows)} metric rows over {ok['generator'].nunique()} generator(s)"


def detection_task(run: Run) -> tuple[str, Path, str]:
    """("detection" | "attribution", manifest to train on, description)."""
    df = read_manifest(run.manifest_path)
    ok = df[df["status"] == "ok"]
    if (ok["label"] == "real").any() and (ok["label"] == "fake").any():
        return "detection", run.manifest_path, "real vs fake"
    gens = sorted(g for g in ok.loc[ok["label"] == "fake", "generator"].unique() if g)
    if len(gens) < 2:
        raise InputError("no real clips and fewer than two generators: nothing to detect or attribute; "
                         "add real videos with --real DIR")
    positive = gens[-1]
    # Attribution: "fake" now means "made by the positive generator", "real" by any other.
    att = ok[ok["label"] == "fake"].copy()
    att["label"] = ["fake" if g == positive else "real" for g in att["generator"]]
    att["is_fake"] = (att["label"] == "fake").astype("int64")
    att["path"] = [str(resolve_path(run.manifest_path, p)) for p in att["path"]]
    path = run.dir / "attribution" / "manifest.parquet"
    write_manifest(att, path)
    return "attribution", path, f"attribution: {positive} (1) vs {', '.join(gens[:-1])} (0)"


def stage_detectors(run: Run) -> str:
    from forgebench.detectors.evaluation import evaluate_predictions
    from forgebench.detectors.training import predict_manifest, train_detector

    if not run.spec.detectors:
        run.write_stage_results("detectors", [])
        return "the spec names no detectors"
    task, manifest, description = detection_task(run)
    df = read_manifest(manifest)
    rows, notes = [], [description]
    for name in run.spec.detectors:
        out = run.dir / "detectors" / name
        try:
            det, info = train_detector(name, df, manifest, out, seed=run.spec.seed, epochs=run.options.epochs,
                                       device=run.options.device, cache_dir=run.dir / "cache",
                                       progress=run.options.progress)
            pred, frames, skipped = predict_manifest(det, df, manifest, ("val", "test"))
        except ForgebenchError as exc:
            notes.append(f"{name}: {exc}")
            rows.append({"task": task, "subject": name, "metric": "auc", "value": float("nan"),
                         "higher_is_better": True, "status": "unavailable", "note": str(exc)})
            continue
        pred = pred[pred["score"].notna()]
        pred_dir = run.dir / "predictions"
        pred_dir.mkdir(exist_ok=True)
        with atomic_output(pred_dir / f"{name}.parquet") as tmp:
            pred.assign(detector=name).to_parquet(tmp, index=False)
        if frames is not None:
            with atomic_output(pred_dir / f"{name}.frames.parquet") as tmp:
                frames.to_parquet(tmp, index=False)
        table = evaluate_predictions(pred, subject=name, threshold=float(det.threshold_), n_boot=run.options.n_boot,
                                     seed=run.spec.seed, frames=frames)
        for row in table.to_dict("records"):
            rows.append({**row, "task": task})
        notes.append(f"{name}: trained in {info['seconds']:.0f} s, {len(skipped)} clip(s) skipped")
    run.write_stage_results("detectors", rows)
    run.record["task"] = description
    return "; ".join(notes)


def stage_provenance(run: Run) -> str:
    from forgebench.provenance.check import check_paths

    df = read_manifest(run.manifest_path)
    fakes = df[(df["status"] == "ok") & (df["label"] == "fake") & (df["dataset"] == "forgebench")]
    if fakes.empty:
        run.write_stage_results("provenance", [])
        return "no forgebench clips to check"
    paths = [resolve_path(run.manifest_path, p) for p in fakes["path"]]
    table = check_paths(paths, progress=run.options.progress)
    table["condition"] = [f"{p}:{lv}" if p != "none" else "clean" for p, lv in zip(fakes["perturbation"],
                                                                                    fakes["level"])]
    rows = []
    for cond, sub in table.groupby("condition"):
        ok = sub[sub["status"] == "ok"]
        for metric, column in (("watermark_detection_rate", "watermark_present"),
                               ("metadata_present_rate", "metadata_present")):
            rows.append({"task": "provenance", "subject": "forgebench-watermark", "metric": metric, "split": "all",
                         "condition": cond, "value": float(ok[column].astype(bool).mean()) if len(ok) else float("nan"),
                         "n": len(ok), "higher_is_better": True})
    run.write_stage_results("provenance", rows)
    return f"{len(table)} clips checked"


def stage_report(run: Run) -> str:
    from forgebench.reports.site import build_site

    run.collect_results()
    site = build_site([run.dir], run.dir / "site", progress=run.options.progress)
    return str(Path(site))


def run_benchmark(spec, run_dir: str | Path, options: RunOptions | None = None) -> Run:
    """Run every stage of ``spec`` in ``run_dir`` (resuming what is done, holding the folder's lock); return the run."""
    from forgebench.benchmarks.runlock import run_lock

    options = options or RunOptions()
    with run_lock(run_dir):
        return _run_stages(spec, run_dir, options)


def _run_stages(spec, run_dir: str | Path, options: RunOptions) -> Run:
    run = Run(spec, run_dir, options)
    base = (spec.spec_hash(), [str(p) for p in options.real_dirs], __version__)
    corpus_ok = run.stage("corpus", _key("corpus", base), lambda: stage_corpus(run))
    if corpus_ok:
        manifest_hash = hashlib.sha256(run.manifest_path.read_bytes()).hexdigest()[:16]
        run.stage("metrics", _key("metrics", base, manifest_hash, list(spec.metrics)), lambda: stage_metrics(run))
        run.stage("detectors", _key("detectors", base, manifest_hash, list(spec.detectors), options.epochs),
                  lambda: stage_detectors(run))
        run.stage("provenance", _key("provenance", base, manifest_hash), lambda: stage_provenance(run))
    # The report always runs: it shows what failed. Its key covers every stage's outcome.
    outcome = {k: (v.get("status"), v.get("key")) for k, v in run.record["stages"].items() if k != "report"}
    run.record["weights"] = _weights_hashes()
    run.stage("report", _key("report", base, outcome), lambda: stage_report(run))
    return run
