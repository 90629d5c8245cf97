"""``forgebench bench corpus``: corpus throughput on this machine.

Clips per hour: a throw-away corpus of ``--clips`` procedural clips (``--seconds``
long, speech-like audio, builtin identities) per frame size, built by the local
process pool. Inputs are materialised before the clock starts; worker start-up
(imports, model loading) is inside the timing, as in a real build.

Dask efficiency: the same corpus (at the first size) on a LocalCluster of 1 and of
2 single-threaded workers, each worker owning one core (libraries pinned to one
thread); efficiency = T1 / (2 * T2), 1.0 is perfect scaling. The clusters are
started, and every worker warmed on a throw-away clip (imports, face models, the
generator), before the clock starts: that one-off cost per worker is amortised
over thousands of clips in a real build and would otherwise dominate a short
benchmark. Both cold and warm timings are reported.
"""

from __future__ import annotations

import argparse
import json
import math
import tempfile
import time
from pathlib import Path

from forgebench.benchmarks import inputs as inputs_mod
from forgebench.benchmarks.spec import BUILTIN_VARIANTS, Spec


def bench_spec(size: int, clips: int, seconds: float) -> Spec:
    variants = list(BUILTIN_VARIANTS[: min(clips, len(BUILTIN_VARIANTS))])
    seeds = list(range(math.ceil(clips / len(variants))))
    return Spec.model_validate({
        "name": f"bench-{size}", "identities": {"builtin": {"variants": variants}},
        "speech": {"synthetic": {"count": 1, "seconds": seconds}},
        "generators": [{"name": f"procedural-{size}", "kind": "forgebench",
                        "params": {"motion": "procedural", "size": size, "seeds": seeds}}],
    })


def timed_build(spec: Spec, run_dir: Path, executor) -> tuple[float, int]:
    from forgebench.benchmarks.build import build_corpus

    inputs_mod.identities(spec, run_dir)
    inputs_mod.speech(spec, run_dir)
    t0 = time.perf_counter()
    res = build_corpus(spec, run_dir, executor=executor, progress=False)
    seconds = time.perf_counter() - t0
    if res.n_failed:
        raise RuntimeError(f"{res.n_failed} clip(s) failed in the benchmark build: see {run_dir / 'build.log'}")
    return seconds, res.n_done


def _warm_worker(spec_dict: dict, warm_dir: str) -> None:
    """Build a one-clip corpus on this worker (its own folder) so imports and pipelines are loaded."""
    import os

    from forgebench.benchmarks.build import build_corpus
    from forgebench.benchmarks.executors import LocalExecutor

    spec = Spec.model_validate(spec_dict)
    run_dir = Path(warm_dir) / str(os.getpid())
    inputs_mod.identities(spec, run_dir)
    inputs_mod.speech(spec, run_dir)
    executor = LocalExecutor(1, progress=False)
    executor.one_task_per_core = True  # the worker owns one core, as in the timed build
    build_corpus(spec, run_dir, executor=executor, progress=False)


def measure(sizes: list[int], clips: int, seconds: float, jobs: int, dask: bool) -> dict:
    from forgebench.benchmarks.executors import DaskExecutor, LocalExecutor

    out: dict = {"clip_seconds": seconds, "jobs": jobs, "sizes": {}}
    with tempfile.TemporaryDirectory(prefix="forgebench-bench-corpus-") as tmp:
        for size in sizes:
            spec = bench_spec(size, clips, seconds)
            wall, n = timed_build(spec, Path(tmp) / f"local-{size}", LocalExecutor(jobs, progress=False))
            out["sizes"][str(size)] = {"clips": n, "wall_s": round(wall, 2), "clips_per_hour": round(n / wall * 3600)}
        if dask:
            spec = bench_spec(sizes[0], clips, seconds)
            times: dict[tuple[int, bool], float] = {}
            for workers in (1, 2):
                for warm in (False, True):
                    ex = DaskExecutor(workers=workers, progress=False)
                    if warm:  # one clip per worker through the same pipeline configuration, off the clock
                        warm_dir = Path(tmp) / f"warm-{workers}"
                        ex.client.run(_warm_worker, bench_spec(sizes[0], 1, 1.0).model_dump(mode="json"),
                                      str(warm_dir))
                    times[workers, warm], n = timed_build(spec, Path(tmp) / f"dask-{workers}-{warm}", ex)
            out["dask"] = {"size": sizes[0], "clips": n}
            for warm, label in ((False, "cold"), (True, "warm")):
                t1, t2 = times[1, warm], times[2, warm]
                out["dask"][label] = {"t1_s": round(t1, 2), "t2_s": round(t2, 2), "efficiency": round(t1 / (2 * t2), 3)}
    return out


def cmd_bench_corpus(args: argparse.Namespace) -> int:
    import os

    res = measure(args.sizes, args.clips, args.seconds, args.jobs, not args.no_dask)
    print(f"corpus throughput on this machine ({os.cpu_count()} CPUs, {args.jobs} local processes, "
          f"{args.seconds:g} s clips):")
    for size, r in res["sizes"].items():
        print(f"  {size}x{size}: {r['clips']} clips in {r['wall_s']} s -> {r['clips_per_hour']} clips/hour")
    if "dask" in res:
        d = res["dask"]
        for label in ("cold", "warm"):
            r = d[label]
            print(f"  dask at {d['size']}px, {d['clips']} clips, {label} workers: 1 worker {r['t1_s']} s, "
                  f"2 workers {r['t2_s']} s -> scaling efficiency {r['efficiency']:.0%}")
    if args.json:
        from forgebench.atomic import atomic_output

        with atomic_output(args.json) as tmp:
            Path(tmp).write_text(json.dumps(res, indent=2))
    return 0
