"""``bench self-reenact``: every stage is timed, the camera stage included unless it is turned off."""

from __future__ import annotations

import numpy as np

from forgebench.generator.bench_reenact import default_driver, run_self_reenact_bench


def test_the_bench_times_every_stage_and_reproduces_its_driver():
    frames = default_driver(128, 1.0)
    res = run_self_reenact_bench(frames, 25.0)
    stages = res["stages_ms_per_frame"]
    assert set(stages) == {"track driver + camera (a thread beside it)", "retarget", "camera (after tracking)",
                           "render"}
    assert all(v > 0 for v in stages.values())
    assert res["in_process_fps"] > 0 and res["frames"] == len(frames)
    # a self-reenactment of a rendered driver is close to it (a still frame would not be, as it moves)
    still = float(np.mean([np.abs(f.astype(np.int16) - frames[0]).mean() / 255 for f in frames[1:]]))
    assert res["l1_vs_driver"] < 0.8 * still
    off = run_self_reenact_bench(frames, 25.0, camera=False)
    assert set(off["stages_ms_per_frame"]) == {"track driver", "retarget", "render"}
