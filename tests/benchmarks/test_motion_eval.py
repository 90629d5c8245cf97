"""Held-out evaluation helpers: seam ratios on tracks with known jumps, FMD feature subsets."""

from __future__ import annotations

import numpy as np

from forgebench.benchmarks.motion_eval import FMD_PARTS, edge_jump, seam_zone_jump
from forgebench.metrics.motion import FMD_SIGNALS, motion_window_features
from forgebench.records import MotionTrack

W, K = 20, 4


def _track(x: np.ndarray) -> MotionTrack:
    return MotionTrack(fps=25.0, pose=x[:, :6], expression=x[:, 6:13], gaze=x[:, 13:], valid=np.ones(len(x), bool))


def _smooth_walk(n: int = 120, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    x = np.cumsum(rng.normal(0, 0.01, (n, 15)), axis=0)
    x[:, 5] += 1.0  # scale > 0
    return x


def test_a_jump_at_each_seam_is_seen_by_both_ratios_and_a_plain_walk_is_not():
    x = _smooth_walk()
    assert 0.5 < edge_jump(_track(x), W, K) < 2.0
    assert 0.5 < seam_zone_jump(_track(x), W, K) < 2.0
    jumped = x.copy()
    for s in range(W - K, len(x), W - K):  # window i >= 1 starts at s; its new frames start at s + K
        jumped[s + K :] += 0.2
    assert edge_jump(_track(jumped), W, K) > 5.0
    assert seam_zone_jump(_track(jumped), W, K) > 1.5


def test_a_jump_spread_over_the_overlap_passes_the_seam_ratio_but_not_the_zone_ratio():
    x = _smooth_walk()
    spread = x.copy()
    for s in range(W - K, len(x), W - K):
        ramp = np.clip((np.arange(len(x)) - (s - 1)) / K, 0.0, 1.0)  # 0 before the overlap, 1 after it
        spread += 0.2 * ramp[:, None]
    assert edge_jump(_track(spread), W, K) < 2.0
    assert seam_zone_jump(_track(spread), W, K) > 3.0


def test_fmd_parts_select_the_named_signals():
    # Each subset must pick the std and velocity of its signals (and the mean of expression ones), nothing else.
    x = _smooth_walk(200)
    feats = motion_window_features(_track(x))
    n = len(FMD_SIGNALS)
    assert feats.shape[1] == 3 * n - 7
    head = FMD_PARTS["fmd_head"]
    assert sorted(head) == [0, 1, 2, 3, 4, n, n + 1, n + 2, n + 3, n + 4]
    jaw = FMD_SIGNALS.index("jaw_open")
    mouth = FMD_PARTS["fmd_mouth"]
    assert {jaw, n + jaw, 2 * n} <= set(mouth) and len(mouth) == 9
    face = set(FMD_PARTS["fmd_face"])
    assert len(face) == 21 and not face & set(head) and set(mouth) <= face
    assert FMD_PARTS["fmd"] is None
