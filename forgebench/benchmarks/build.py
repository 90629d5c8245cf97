"""The corpus builder: spec -> clips + ``RUN_DIR/manifest.parquet``, deterministic and resumable.

Stages:

1. sweep ``*.partial*`` files left by a killed run; record the resolved spec;
2. materialise inputs (:mod:`~forgebench.benchmarks.inputs`) and scan real sources
   (:mod:`~forgebench.benchmarks.datasets`);
3. plan rows (:func:`~forgebench.benchmarks.plan.plan`, pure);
4. execute rows in stages (a row that reads another clip of the corpus, its ``parent``, runs
   after it: perturbed clips, dubs and reenactments of normalised real segments) through an
   executor (local pool or Dask) with the same task function :func:`~forgebench.benchmarks.tasks.run_row`;
5. write the manifest atomically, rows sorted by clip id.

A killed build (kill -9 at any moment) is resumed by running the same command:
finished clips are skipped (sidecar + hash), nothing half-written survives, and
no worker outlives it (:mod:`~forgebench.benchmarks.lifetime`). One build at a
time writes a run folder (:mod:`~forgebench.benchmarks.runlock`).
Failed rows (corrupt videos, failing commands) are kept in the manifest with
``status="failed"`` and the reason, and logged to ``RUN_DIR/build.log``.

Builtin identities are variants of one person (``synthetic_variant`` column):
identity-disjoint splits over them are formal only.
"""

from __future__ import annotations

import functools
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import pandas as pd

from forgebench.atomic import atomic_output, sweep_partials
from forgebench.benchmarks import inputs as inputs_mod
from forgebench.benchmarks.datasets import SourceClip, scan_dataset
from forgebench.benchmarks.plan import plan
from forgebench.benchmarks.runlock import run_lock
from forgebench.benchmarks.spec import Spec, spec_yaml
from forgebench.benchmarks.tasks import run_row
from forgebench.benchmarks.video_inputs import video_inputs
from forgebench.errors import DiskFullError, InputError, is_disk_full
from forgebench.manifest import COLUMNS, MANIFEST_NAME, write_manifest

EXTRA_COLUMNS = {"family": "string", "donor_id": "string", "synthetic_variant": "bool", "official_split": "string",
                 "av_label": "string", "parent": "string", "origin": "string"}


@dataclass
class BuildResult:
    run_dir: Path
    manifest: pd.DataFrame
    n_planned: int = 0
    n_done: int = 0  # executed in this run
    n_skipped: int = 0  # finished by an earlier run
    n_failed: int = 0
    swept: int = 0
    seconds: float = 0.0
    notes: list[str] = field(default_factory=list)

    def summary(self) -> str:
        return (f"{self.n_planned} clips planned: {self.n_done} made, {self.n_skipped} already done, "
                f"{self.n_failed} failed; {self.seconds:.1f} s; manifest {self.run_dir / MANIFEST_NAME}")


class BuildLog:
    """Append-only text log (``RUN_DIR/build.log``), one timestamped line per event."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def __call__(self, message: str) -> None:
        stamp = datetime.now(tz=UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
        with self.path.open("a", encoding="utf-8") as f:
            f.write(f"{stamp} {message}\n")


def scan_real(spec: Spec, real_dirs: list[str | Path]) -> list[SourceClip]:
    clips: list[SourceClip] = []
    for src in spec.real:
        clips.extend(scan_dataset(src.adapter, src.path, **src.params))
    for d in real_dirs:
        clips.extend(scan_dataset("generic", d))
    return clips


def check_generators(spec: Spec) -> None:
    """Fail before any work when a forgebench generator names an unregistered motion model."""
    from forgebench.generator.motion import motion_registry

    for g in spec.generators:
        if g.kind in ("forgebench", "dubbing") and g.params.motion not in motion_registry:
            raise InputError(f"generator {g.name!r}: motion model {g.params.motion!r} is not available in this "
                             f"install (known: {', '.join(motion_registry.names())}); remove it from the spec or "
                             "install the version that provides it")


def build_corpus(spec: Spec, run_dir: str | Path, *, real_dirs: list[str | Path] | None = None,
                 allow_commands: bool = False, executor=None, progress: bool = True) -> BuildResult:
    """Build (or resume) the corpus of ``spec`` in ``run_dir``; see the module docstring.

    The run folder is locked for the build (:func:`~forgebench.benchmarks.runlock.run_lock`): a second
    writer stops with :class:`~forgebench.benchmarks.runlock.RunBusyError`.

    A full disk anywhere (a clip, an input, the log, the manifest) stops the build
    with :class:`DiskFullError`: finished clips stay, the clip being written is
    removed by its atomic writer, and the same call resumes once space is freed.
    """
    try:
        with run_lock(run_dir):
            return _build(spec, run_dir, real_dirs=real_dirs, allow_commands=allow_commands, executor=executor,
                          progress=progress)
    except OSError as exc:
        if not is_disk_full(exc):
            raise
        raise DiskFullError(f"no space left on the device holding {run_dir}: free space and rerun the same "
                            "command to resume (finished clips are kept)") from None


def _build(spec: Spec, run_dir: str | Path, *, real_dirs: list[str | Path] | None, allow_commands: bool,
           executor, progress: bool) -> BuildResult:
    from forgebench.benchmarks.executors import LocalExecutor

    t0 = time.perf_counter()
    run = Path(run_dir).resolve()
    run.mkdir(parents=True, exist_ok=True)
    log = BuildLog(run / "build.log")
    swept = sweep_partials(run)
    log(f"build {spec.name} v{spec.version} (spec hash {spec.spec_hash()}); swept {swept} partial file(s)")
    with atomic_output(run / "spec.yaml") as tmp:
        tmp.write_text(spec_yaml(spec), encoding="utf-8")
    check_generators(spec)
    needs_inputs = any(g.kind in ("forgebench", "command", "reenactment", "dubbing") for g in spec.generators)
    real = scan_real(spec, list(real_dirs or []))
    idents = inputs_mod.identities(spec, run, real) if needs_inputs else []
    audios = inputs_mod.speech(spec, run, real) if needs_inputs else []
    videos = video_inputs(spec, real)
    without = [name for name, items in videos.items() if not items]
    for name in without:
        log(f"generator {name} has no videos: no clips from it")
    rows = plan(spec, idents, audios, real, videos)
    log(f"planned {len(rows)} rows ({len(idents)} identities, {len(audios)} speech tracks)")

    executor = executor or LocalExecutor(1, progress=progress)
    task = functools.partial(run_row, run_dir=str(run), allow_commands=allow_commands,
                             one_core=getattr(executor, "one_task_per_core", False))
    results: dict[str, dict] = {}
    with executor:
        # In stages: a row that reads another clip of the corpus (its parent: a perturbed clip's original, a dub
        # of a normalised real segment) runs after it; a row whose parent failed fails with that reason.
        pending = list(rows)
        while pending:
            runnable, waiting, before = [], [], len(results)
            for r in pending:
                parent = r.get("parent") or ""
                if not parent:
                    runnable.append(r)
                elif parent not in results:
                    waiting.append(r)
                elif results[parent]["status"] != "ok":
                    results[r["clip_id"]] = {"clip_id": r["clip_id"], "status": "failed", "skipped": False,
                                             "reason": f"parent clip {parent} failed", "content_sha256": "",
                                             "duration": 0.0}
                else:
                    runnable.append(r)
            if not runnable and len(results) == before:
                raise InputError(f"clip {waiting[0]['clip_id']} depends on {waiting[0]['parent']}, which is not "
                                 "planned")
            _run(executor, task, runnable, results, log,
                 "perturb" if runnable and all(r["kind"] == "perturb" for r in runnable) else "clips")
            pending = waiting

    manifest = assemble(rows, results)
    write_manifest(manifest, run / MANIFEST_NAME)
    res = BuildResult(run, manifest, n_planned=len(rows), swept=swept,
                      n_skipped=sum(bool(r.get("skipped")) for r in results.values()),
                      n_failed=int((manifest["status"] == "failed").sum()))
    res.n_done = len(rows) - res.n_skipped - res.n_failed
    res.seconds = time.perf_counter() - t0
    for name in without:
        res.notes.append(f"generator {name!r} found no videos (it takes real clips: give the spec real: sources or "
                         "--real DIR, or its own video folders), so it made no clips")
    if idents and all(i.synthetic_variant for i in idents):
        res.notes.append("all identities are builtin variants of ONE person: splits are not identity-disjoint in "
                         "any real sense")
    log(res.summary())
    return res


def _run(executor, task, rows: list[dict], results: dict[str, dict], log: BuildLog, desc: str) -> None:
    for rec in executor.map(task, rows, desc=desc):
        results[rec["clip_id"]] = rec
        if rec["status"] == "failed":
            log(f"FAILED {rec['clip_id']}: {rec['reason']}")


def assemble(rows: list[dict], results: dict[str, dict]) -> pd.DataFrame:
    """Planned rows + task results -> the manifest frame (columns of COLUMNS, then extras), sorted by clip id."""
    records = []
    for r in rows:
        res = results[r["clip_id"]]
        rec = {k: r[k] for k in (*COLUMNS, *EXTRA_COLUMNS) if k in r}
        rec.update(status=res["status"], reason=res["reason"], content_sha256=res["content_sha256"],
                   duration=res["duration"])
        records.append(rec)
    df = pd.DataFrame.from_records(records, columns=[*COLUMNS, *EXTRA_COLUMNS])
    df = df.astype({**COLUMNS, **EXTRA_COLUMNS})
    return df.sort_values("clip_id", kind="stable").reset_index(drop=True)
