"""Held-out comparison of motion generators: diffusion checkpoint vs the procedural baseline.

This scores generators, so it lives with the benchmarks (which may run a generator and the metrics
that judge it), not in ``generator/``: a generator never imports what scores it.
``forgebench eval motion`` (:mod:`forgebench.benchmarks.eval_commands`) runs it.

For each held-out audio file and seed both generators make a MotionTrack for a neutral source, then:

* ``sync_r`` — best lagged Pearson r (±5 frames) of ``jaw_open`` with the speech log-RMS envelope
  (:func:`forgebench.metrics.lipsync.lagged_pearson`, :func:`speech_envelope`), the track-level form of
  the landmark lip-sync score; ``sync_excess`` subtracts the mean of a circular-shift null;
* ``jaw_w1`` — 1-Wasserstein distance between the clip's jaw opening above rest and the real clips'
  pooled distribution (an exaggerated flapping mouth scores a high r but a large W1);
* ``silence_jaw`` — mean jaw opening above rest over non-speech frames (should be ~0);
* ``delta_pose``, ``pose_std`` (:mod:`forgebench.metrics.motion`), ``blink_rate`` per minute;
* ``fmd`` — Fréchet Motion Distance of the generated corpus to the real clips' tracks, with a
  bootstrap over generated clips; ``fmd_face``, ``fmd_mouth``, ``fmd_head`` — the same on the window
  features of the 7 expression coefficients, of jaw/mouth width/pucker, and of the head pose only;
* ``edge_jump`` — mean |Δ| of standardised relative motion across window boundaries divided by the
  mean |Δ| inside windows (1 = a boundary is like any other frame);
* ``seam_zone`` — the same ratio over every step of the overlap zones (a cross-fade cannot hide a mismatch
  there by spreading it);
* ``seed_div`` — head-pose std across seeds for the same audio (degrees, mean over frames and axes).

Intervals are 95 % percentile bootstrap CIs over audio files (seeds of one file resampled together). The
column ``diffusion − procedural (paired)`` gives the per-clip difference of the lip-sync scores and jaw W1
with a paired bootstrap (same files and seeds for both models), and the FMD differences over the same file
resamples.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from forgebench.generator.audio_features import AudioFeatures, extract_audio_features
from forgebench.generator.motion.base import MotionGenerator, SourceState
from forgebench.generator.motion.diffusion.space import Reference, to_relative
from forgebench.metrics.bootstrap import bootstrap_ci
from forgebench.metrics.lipsync import lagged_pearson, speech_envelope
from forgebench.metrics.motion import (
    FMD_SIGNALS,
    blink_stats,
    delta_pose,
    fmd_from_features,
    motion_window_features,
    pose_diversity,
)
from forgebench.records import MotionTrack

FPS = 25.0
RATE = 16000
_JAW = 6


def _fmd_columns(signals: tuple[str, ...]) -> np.ndarray:
    """Columns of :func:`motion_window_features` ([std | velocity] per FMD signal, then expression means) that
    describe ``signals``."""
    n = len(FMD_SIGNALS)
    expr = [FMD_SIGNALS[i] for i in range(5, 12)]  # the 7 expression coefficients, in the means block
    cols = [i for i, s in enumerate(FMD_SIGNALS) if s in signals]
    cols += [n + i for i in cols] + [2 * n + expr.index(s) for s in signals if s in expr]
    return np.asarray(sorted(cols))


# FMD on parts of the motion, so that a win in the full FMD can be traced to the head or to the face.
FMD_PARTS = {
    "fmd": None,
    "fmd_mouth": _fmd_columns(("jaw_open", "mouth_width", "pucker")),
    "fmd_face": _fmd_columns(FMD_SIGNALS[5:12]),  # all 7 expression coefficients (mouth, smile, blinks, brows)
    "fmd_head": _fmd_columns(FMD_SIGNALS[0:5]),
}


@dataclass
class EvalResult:
    rows: dict[str, dict[str, tuple[float, float, float]]] = field(default_factory=dict)  # model -> metric -> (v,lo,hi)
    n_audio: int = 0
    n_real: int = 0
    seeds: int = 0
    notes: list[str] = field(default_factory=list)


def jaw_above_rest(track: MotionTrack) -> np.ndarray:
    rel = to_relative(track.features(), Reference.of_track(track))
    return rel[:, _JAW]


def sync_scores(track: MotionTrack, audio: np.ndarray) -> tuple[float, float]:
    """(best-lag r of jaw_open with the speech envelope, r minus the circular-shift null mean)."""
    jaw = track.expr("jaw_open").astype(np.float64)
    env = speech_envelope(audio, RATE, track.fps, track.n_frames)
    r = float(lagged_pearson(jaw, env).max())
    lo = 11
    shifts = np.unique(np.linspace(lo, max(lo + 1, len(jaw) - lo), 30).astype(int))
    null = np.mean([lagged_pearson(jaw, np.roll(env, int(s))).max() for s in shifts])
    return r, r - float(null)


def edge_jump(track: MotionTrack, window: int, context: int = 0) -> float:
    """Mean |Δ| at window seams over mean |Δ| elsewhere, on per-channel standardised features.

    Windows start every ``window - context`` frames; the seam of window i >= 1 is where its ``context``
    inpainted frames meet its new ones (:meth:`DiffusionMotion.sample_relative`).
    """
    x = track.features().astype(np.float64)
    x = (x - x.mean(0)) / np.maximum(x.std(0), 1e-6)
    d = np.abs(np.diff(x, axis=0)).mean(axis=1)  # d[i]: step from frame i to i + 1
    edges = np.arange(window - 1, len(d), window - context)
    if len(edges) == 0:
        return float("nan")
    inside = np.setdiff1d(np.arange(len(d)), edges)
    return float(d[edges].mean() / max(d[inside].mean(), 1e-9))


def seam_zone_jump(track: MotionTrack, window: int, context: int) -> float:
    """Like :func:`edge_jump` but over every step of each overlap zone (the ``context`` frames shared by two
    windows, plus the steps into and out of it): a cross-fade that spreads a mismatch over the overlap
    scores 1 at the seam itself but not here."""
    x = track.features().astype(np.float64)
    x = (x - x.mean(0)) / np.maximum(x.std(0), 1e-6)
    d = np.abs(np.diff(x, axis=0)).mean(axis=1)
    starts = np.arange(window - context, len(d), window - context)
    zone = np.unique(np.concatenate([np.arange(s - 1, s + context) for s in starts] or [np.zeros(0, int)]))
    zone = zone[(zone >= 0) & (zone < len(d))]
    if len(zone) == 0:
        return float("nan")
    inside = np.setdiff1d(np.arange(len(d)), zone)
    return float(d[zone].mean() / max(d[inside].mean(), 1e-9))


def real_tracks(paths: list[str | Path]) -> list[tuple[MotionTrack, np.ndarray]]:
    """(track at 25 fps, 16 kHz audio) of each usable real video (analyzer output cached by content hash)."""
    from forgebench.errors import InputError
    from forgebench.generator.motion.diffusion.data import cached_track, resample_track, video_files
    from forgebench.media.audio import load_audio

    out = []
    for f in video_files(paths):
        try:
            audio = load_audio(f)
            track = cached_track(f)
        except InputError:
            continue
        if track.valid.mean() < 0.5:
            continue
        n = int(round(track.duration * FPS))
        feats, valid = resample_track(track, FPS, n)
        out.append((MotionTrack(fps=FPS, pose=feats[:, :6], expression=feats[:, 6:13], gaze=feats[:, 13:],
                                valid=valid), audio))
    return out


def _per_clip(track: MotionTrack, audio: np.ndarray, features: AudioFeatures | None, real_jaw: np.ndarray | None,
              window: tuple[int, int] | None) -> dict[str, float]:
    from scipy.stats import wasserstein_distance

    r, excess = sync_scores(track, audio)
    jaw = jaw_above_rest(track)
    out = {
        "sync_r": r, "sync_excess": excess,
        "delta_pose": float(delta_pose(track).mean()), "pose_std": float(pose_diversity(track).mean()),
        "blink_rate": blink_stats(track)[0],
    }
    if features is not None:
        silent = ~features.voiced[: track.n_frames]
        out["silence_jaw"] = float(jaw[silent].mean()) if silent.any() else float("nan")
    if real_jaw is not None:
        out["jaw_w1"] = float(wasserstein_distance(jaw[track.valid], real_jaw))
    if window:
        out["edge_jump"] = edge_jump(track, *window)
        out["seam_zone"] = seam_zone_jump(track, *window)
    return out


def evaluate_motion(checkpoint: str | Path | None, audio_files: list[str | Path], real: list[str | Path],
                    seeds: int = 3, cfg: float | None = None, progress: bool = True,
                    controls: dict | None = None) -> EvalResult:
    """Compare ``diffusion`` (from ``checkpoint``) and ``procedural`` on ``audio_files``; see the module docstring.

    ``controls`` are passed to the diffusion generator (e.g. ``{"pose_smooth_s": 0.0}``).
    """
    import sys

    from forgebench.generator.motion.diffusion.generator import DiffusionMotion
    from forgebench.generator.motion.procedural import ProceduralMotion
    from forgebench.media.audio import load_audio
    from forgebench.progress import tqdm

    diffusion = DiffusionMotion(checkpoint)
    models: dict[str, tuple[MotionGenerator, dict]] = {
        "diffusion": (diffusion, {**(controls or {}), **({} if cfg is None else {"cfg": cfg})}),
        "procedural": (ProceduralMotion(), {}),
    }
    window = (diffusion.model.config.window, diffusion.model.config.context)
    reals = real_tracks(real) if real else []
    real_jaw = np.concatenate([jaw_above_rest(t)[t.valid] for t, _ in reals]) if reals else None
    real_feats = np.concatenate([motion_window_features(t) for t, _ in reals]) if reals else None
    source = SourceState.neutral()
    values: dict[str, dict[str, list[float]]] = {m: {} for m in models}
    groups: dict[str, list[int]] = {m: [] for m in models}
    windows: dict[str, list[np.ndarray]] = {m: [] for m in models}
    window_group: dict[str, list[np.ndarray]] = {m: [] for m in models}
    for i, path in enumerate(tqdm(audio_files, desc="eval motion", disable=not progress, file=sys.stderr)):
        audio = load_audio(path)
        features = extract_audio_features(audio, FPS)
        for name, (gen, controls) in models.items():
            poses = []
            for seed in range(seeds):
                track = gen.generate(features, source, seed, **controls)
                poses.append(track.pose[:, :3])
                # The procedural baseline is not windowed: its "edges" at the same frames are the reference ratio.
                for k, v in _per_clip(track, audio, features, real_jaw, window).items():
                    values[name].setdefault(k, []).append(v)
                groups[name].append(i)
                w = motion_window_features(track)
                windows[name].append(w)
                window_group[name].append(np.full(len(w), i))
            div = float(np.std(np.stack(poses), axis=0).mean()) if seeds > 1 else float("nan")
            values[name].setdefault("seed_div", []).extend([div] * seeds)
    result = EvalResult(n_audio=len(audio_files), n_real=len(reals), seeds=seeds)
    fmd_boots: dict[tuple[str, str], np.ndarray] = {}
    for name in models:
        g = np.asarray(groups[name])
        row = {}
        for k, v in values[name].items():
            arr = np.asarray(v, np.float64)
            lo, hi = bootstrap_ci(arr, np.nanmean, groups=g[: len(arr)], n_boot=500)
            row[k] = (float(np.nanmean(arr)), lo, hi)
        if real_feats is not None and len(real_feats) > 1:
            feats, wg = np.concatenate(windows[name]), np.concatenate(window_group[name])
            files = np.unique(wg)
            rng = np.random.default_rng(0)
            picks = [rng.choice(files, len(files)) for _ in range(200)]
            for key, cols in FMD_PARTS.items():
                f, r = (feats, real_feats) if cols is None else (feats[:, cols], real_feats[:, cols])
                boots = [fmd_from_features(np.concatenate([f[wg == i] for i in pick]), r) for pick in picks]
                row[key] = (fmd_from_features(f, r), *np.percentile(boots, [2.5, 97.5]).tolist())
                fmd_boots[(name, key)] = np.asarray(boots)
        result.rows[name] = row
    # Paired differences: both models ran on the same files and seeds, in the same order, so the per-clip
    # difference removes the between-file variation that makes the two columns' intervals wide.
    g = np.asarray(groups["diffusion"])
    diff = {}
    for key in ("sync_r", "sync_excess", "jaw_w1"):
        if key in values["diffusion"] and key in values["procedural"]:
            d = np.asarray(values["diffusion"][key], np.float64) - np.asarray(values["procedural"][key], np.float64)
            diff[key] = (float(np.nanmean(d)), *bootstrap_ci(d, np.nanmean, groups=g[: len(d)], n_boot=500))
    for key in FMD_PARTS:  # the same file resamples for both models (same seed, same files)
        if ("diffusion", key) in fmd_boots:
            d = fmd_boots[("diffusion", key)] - fmd_boots[("procedural", key)]
            diff[key] = (result.rows["diffusion"][key][0] - result.rows["procedural"][key][0],
                         *np.percentile(d, [2.5, 97.5]).tolist())
    if diff:
        result.rows["diffusion − procedural (paired)"] = diff
    if reals:
        rv: dict[str, list[float]] = {}
        for t, audio in reals:
            for k, v in _per_clip(t, audio, None, None, None).items():
                rv.setdefault(k, []).append(v)
        result.rows["real clips"] = {k: (float(np.nanmean(v)), *bootstrap_ci(np.asarray(v), np.nanmean, n_boot=500))
                                     for k, v in rv.items()}
    return result


METRICS = [
    ("sync_r", "↑", "lip sync r (jaw vs envelope)"), ("sync_excess", "↑", "r minus shift-null"),
    ("jaw_w1", "↓", "jaw W1 to real"), ("silence_jaw", "↓", "jaw in silence (IOD)"),
    ("fmd", "↓", "FMD to real"), ("fmd_face", "↓", "FMD, expression only"),
    ("fmd_mouth", "↓", "FMD, mouth only"), ("fmd_head", "↓", "FMD, head pose only"),
    ("delta_pose", "≈real", "ΔP (deg/frame)"), ("pose_std", "≈real", "pose std (deg)"),
    ("blink_rate", "≈real", "blinks/min"), ("edge_jump", "≈1", "window-edge jump ratio"),
    ("seam_zone", "≈1", "overlap-zone step ratio"),
    ("seed_div", ">0", "seed diversity (deg)"),
]


def format_table(result: EvalResult) -> str:
    """Markdown table: one row per metric, one column per model, ``value [lo, hi]``."""
    names = list(result.rows)
    lines = [f"held-out audio files: {result.n_audio}, seeds: {result.seeds}, real clips: {result.n_real}", "",
             "| metric | dir | " + " | ".join(names) + " |", "|---|---|" + "---|" * len(names)]
    for key, direction, label in METRICS:
        cells = []
        for n in names:
            v = result.rows[n].get(key)
            cells.append("—" if v is None or not np.isfinite(v[0]) else f"{v[0]:.3f} [{v[1]:.3f}, {v[2]:.3f}]")
        if any(c != "—" for c in cells):
            lines.append(f"| {label} | {direction} | " + " | ".join(cells) + " |")
    return "\n".join(lines + [""] + result.notes)
