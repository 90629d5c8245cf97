"""Score clips with registered metrics: per-clip rows plus a summary with bootstrap CIs.

:func:`score_clips` reads each clip once (frames, audio if a metric needs it,
ground truth if a metric needs it, a face track from the analyzer only if a
metric needs ``track``), feeds every selected metric, and returns two pandas
tables:

* ``rows`` — one row per (clip, metric): ``clip_id, path, metric, value, status,
  reason, fix``; status is ``ok``, ``skipped`` (this clip could not be scored:
  no face, no ground truth, too short...), ``unavailable`` (the metric cannot
  run at all: missing weights or reference set; one row with ``clip_id="*"``) or
  ``error`` (the clip could not be read). Set-level metrics (FID, KID, FVD, FMD:
  those that compare with a reference set) give one ``clip_id="*"`` row.
* ``summary`` — one row per metric: corpus ``value`` (the metric's own
  ``compute()``), ``mean`` over clips with a 95% bootstrap ``ci_low/ci_high``,
  ``n``, ``higher_is_better``, ``network``, ``status``, ``reason``, ``fix``.

A metric that is unavailable never stops the others.
"""

from __future__ import annotations

import inspect
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from forgebench.errors import ForgebenchError, InputError
from forgebench.metrics import load_metrics
from forgebench.metrics.base import Clip, Metric, MetricResult, metric_registry
from forgebench.metrics.bootstrap import bootstrap_ci
from forgebench.metrics.inputs import InputItem, discover_inputs, read_image

ROW_COLUMNS = ["clip_id", "path", "metric", "value", "status", "reason", "fix"]
SUMMARY_COLUMNS = [
    "metric",
    "status",
    "value",
    "mean",
    "ci_low",
    "ci_high",
    "n",
    "higher_is_better",
    "network",
    "reason",
    "fix",
]


def is_set_level(cls: type[Metric]) -> bool:
    """True for metrics that compare a whole corpus with a reference set (no per-clip value)."""
    flag = cls.__dict__.get("set_level", None)
    return bool(flag) if flag is not None else "reference_set" in cls.requires


def _precheck(cls: type[Metric], reference: str | Path | None) -> MetricResult | None:
    """An ``unavailable`` result if the metric cannot run at all (missing weights or reference set)."""
    from forgebench.weights import get_entry, weights_available

    for req in sorted(cls.requires):
        if req.startswith("weights:"):
            wname = req.split(":", 1)[1]
            if not weights_available(wname):
                fix = get_entry(wname).fix_command()
                return MetricResult.unavailable(cls.name, cls.higher_is_better, f"weights {wname!r} are missing", fix)
    if "reference_set" in cls.requires and reference is None:
        return MetricResult.unavailable(
            cls.name, cls.higher_is_better, "needs a reference set", "forgebench score ... --reference DIR"
        )
    return None


def _build(cls: type[Metric], reference: str | Path | None, device: str) -> Metric:
    """Instantiate with the options its constructor accepts (reference set, device)."""
    params = inspect.signature(cls.__init__).parameters
    kwargs: dict[str, Any] = {}
    if "reference" in params and reference is not None:
        kwargs["reference"] = reference
    if "device" in params:
        kwargs["device"] = device
    return cls(**kwargs)


def _load_clip(item: InputItem, needs: set[str], max_frames: int | None) -> Clip:
    from forgebench.media.video import read_video

    video = read_video(item.path, max_frames=max_frames, with_audio="audio" in needs)
    clip = Clip(
        item.clip_id,
        frames=video.frames,
        fps=video.fps,
        audio=video.audio,
        audio_rate=video.audio_rate,
        meta={"path": str(item.path)},
    )
    if item.image:
        return _image_clip(item, needs)
    if "reference" in needs and item.reference_path is not None:
        gt = read_video(item.reference_path, max_frames=max_frames, with_audio=False)
        clip.reference = Clip(f"{item.clip_id}:gt", frames=gt.frames, fps=gt.fps)
    if "source_image" in needs and item.source_image is not None:
        clip.source_image = read_image(item.source_image)
    if "track" in needs:
        try:
            from forgebench.media.analyze import analyze_video
        except ImportError as exc:  # the analyzer is optional for metrics that do not need faces
            raise InputError(f"face tracking is not available ({exc})") from None
        clip.track = analyze_video(clip.frames, clip.fps)
    return clip


#: What ``score`` computes on images when no --metrics are given: the metrics of image sets.
IMAGE_METRICS = ("fid", "kid")
_VIDEO_ONLY = {"audio": "speech", "track": "a face track over time", "reference": "a ground-truth clip"}


def _image_clip(item: InputItem, needs: set[str]) -> Clip:
    """A still image as a one-frame clip (frames [1, H, W, 3]), read as pytorch-fid reads it."""
    lack = [what for key, what in _VIDEO_ONLY.items() if key in needs]
    if lack:
        raise InputError(f"{item.path} is an image: the metrics asked for need {' and '.join(lack)} (on images "
                         f"use --metrics {','.join(IMAGE_METRICS)})")
    return Clip(item.clip_id, frames=read_image(item.path)[None], meta={"path": str(item.path), "image": True})


def score_clips(
    inputs: Sequence[str | Path] | Sequence[InputItem],
    metrics: Sequence[str] | None = None,
    *,
    reference: str | Path | None = None,
    device: str = "cpu",
    max_frames: int | None = None,
    progress: bool = True,
):
    """Score ``inputs`` (videos, folders, manifests, or InputItems); return ``(rows, summary)`` DataFrames."""
    import pandas as pd

    from forgebench.progress import tqdm

    load_metrics()
    for name in metrics or ():
        metric_registry.get(name)  # unknown names fail first, with suggestions
    items = [i for i in inputs if isinstance(i, InputItem)] or discover_inputs([str(i) for i in inputs])
    all_images = bool(items) and all(i.image for i in items)
    names = list(metrics) if metrics else list(IMAGE_METRICS) if all_images else metric_registry.names()
    classes = [metric_registry.get(n) for n in names]
    if any(i.image for i in items):
        video_only = [c.name for c in classes if c.requires & set(_VIDEO_ONLY)]
        if video_only:
            raise InputError(f"{', '.join(video_only)} cannot score images (they need {', '.join(_VIDEO_ONLY.values())}"
                             f"): on images use --metrics {','.join(IMAGE_METRICS)}")

    results: dict[str, MetricResult] = {}
    active: dict[str, Metric] = {}
    for name, cls in zip(names, classes):
        pre = _precheck(cls, reference)
        if pre is not None:
            results[name] = pre
            continue
        try:
            active[name] = _build(cls, reference, device)
        except ForgebenchError as exc:
            results[name] = MetricResult.unavailable(name, cls.higher_is_better, str(exc))
    needs = set().union(*(m.requires for m in active.values())) if active else set()

    rows: list[dict[str, Any]] = []
    failed: dict[str, dict[str, str]] = {n: {} for n in active}
    for item in tqdm(items, desc="scoring", unit="clip", disable=not progress):
        try:
            clip = _load_clip(item, needs, max_frames)
        except ForgebenchError as exc:
            rows += [_row(item, n, None, "error", str(exc)) for n in active]
            continue
        for name, metric in active.items():
            try:
                metric.update(clip)
            except ForgebenchError as exc:  # set-level metrics raise; per-clip ones record skips themselves
                failed[name][item.clip_id] = str(exc)

    paths = {i.clip_id: str(i.path) for i in items}
    for name, metric in active.items():
        res = metric.compute()
        if failed[name] and res.status == "ok":
            res.details.setdefault("skipped", {}).update(failed[name])
        elif failed[name] and not res.fix:
            res.reason = f"{res.reason} ({next(iter(failed[name].values()))})"
        results[name] = res

    summary = []
    for name in names:
        res = results[name]
        per_clip = res.details.get("per_clip", {}) if res.status == "ok" else {}
        skipped = res.details.get("skipped", {}) if res.status == "ok" else {}
        if res.status != "ok" or is_set_level(metric_registry.get(name)):
            rows.append(
                {
                    "clip_id": "*",
                    "path": "",
                    "metric": name,
                    "value": res.value,
                    "status": res.status,
                    "reason": res.reason,
                    "fix": res.fix,
                }
            )
        rows += [_row(_item(cid, paths), name, v, "ok", "") for cid, v in per_clip.items()]
        rows += [_row(_item(cid, paths), name, None, "skipped", why) for cid, why in skipped.items()]
        vals = np.array(list(per_clip.values()), np.float64)
        lo, hi = (res.ci_low, res.ci_high) if res.ci_low is not None else bootstrap_ci(vals)
        summary.append(
            {
                "metric": name,
                "status": res.status,
                "value": res.value,
                "mean": float(np.nanmean(vals)) if vals.size else None,
                "ci_low": lo if vals.size else None,
                "ci_high": hi if vals.size else None,
                "n": res.n,
                "higher_is_better": res.higher_is_better,
                "network": res.network or "",
                "reason": res.reason,
                "fix": res.fix,
            }
        )
    return pd.DataFrame(rows, columns=ROW_COLUMNS), pd.DataFrame(summary, columns=SUMMARY_COLUMNS)


def _item(clip_id: str, paths: dict[str, str]) -> InputItem:
    return InputItem(clip_id, Path(paths.get(clip_id, "")))


def _row(item: InputItem, metric: str, value: float | None, status: str, reason: str) -> dict[str, Any]:
    return {
        "clip_id": item.clip_id,
        "path": str(item.path),
        "metric": metric,
        "value": value,
        "status": status,
        "reason": reason,
        "fix": "",
    }


def summary_path(output: str | Path) -> Path:
    """``scores.parquet`` -> ``scores.summary.csv`` beside it."""
    output = Path(output)
    return output.with_name(output.stem + ".summary.csv")


def write_scores(rows, summary, output: str | Path) -> tuple[Path, Path]:
    """Write the per-clip Parquet and the summary CSV atomically; return both paths."""
    from forgebench.atomic import atomic_output

    output = Path(output)
    with atomic_output(output) as tmp:
        rows.to_parquet(tmp, index=False)
    with atomic_output(summary_path(output)) as tmp:
        summary.to_csv(tmp, index=False)
    return output, summary_path(output)


def format_summary(summary) -> str:
    """A plain-text table: metric, arrow, value, mean [CI], n, status / fix."""
    lines = [f"{'metric':<18} {'':1} {'value':>10} {'mean [95% CI]':>30} {'n':>5}  status"]
    for r in summary.itertuples(index=False):
        arrow = "↑" if r.higher_is_better else "↓"
        value = f"{r.value:.4g}" if r.value is not None and np.isfinite(r.value) else "-"
        ci = (
            f"{r.mean:.4g} [{r.ci_low:.4g}, {r.ci_high:.4g}]"
            if r.mean is not None and r.ci_low is not None and np.isfinite(r.mean)
            else "-"
        )
        status = r.status if r.status == "ok" else f"{r.status}: {r.reason}" + (f" -> run '{r.fix}'" if r.fix else "")
        lines.append(f"{r.metric:<18} {arrow:1} {value:>10} {ci:>30} {r.n:>5}  {status}")
    return "\n".join(lines)
