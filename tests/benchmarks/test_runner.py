"""`forgebench run` on the tiny spec: every stage recorded, a re-run skips all of them and changes nothing."""

from __future__ import annotations

import json

from forgebench.benchmarks.runner import STAGES, RunOptions, run_benchmark
from forgebench.benchmarks.spec import load_spec
from forgebench.results import read_results


def test_tiny_run_then_rerun_is_a_no_op(tmp_path):
    spec = load_spec("tiny")
    run = run_benchmark(spec, tmp_path / "run", RunOptions(progress=False, n_boot=50))
    record = json.loads((tmp_path / "run" / "run.json").read_text())
    assert set(record["stages"]) == set(STAGES)
    assert all(v["status"] == "done" for v in record["stages"].values()), record["stages"]
    results = read_results(tmp_path / "run" / "results.csv")
    assert {"generation", "provenance"} <= set(results["task"])
    assert (results["protocol"] == "tiny").all()
    assert (tmp_path / "run" / "site" / "index.html").is_file()
    before = {p: p.stat().st_mtime_ns for p in (tmp_path / "run").rglob("*") if p.is_file()}

    run_benchmark(spec, tmp_path / "run", RunOptions(progress=False, n_boot=50))
    after = {p: p.stat().st_mtime_ns for p in (tmp_path / "run").rglob("*") if p.is_file()}
    changed = [p.name for p in before if after.get(p) != before[p]]
    assert changed == []  # every stage done with the same inputs: nothing is rewritten
    assert run.record["stages"]["corpus"]["note"].startswith("9 clips")
