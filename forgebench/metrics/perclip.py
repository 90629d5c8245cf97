"""The shared shape of metrics that are a mean over clips of one number per clip.

LSE-C, LSE-D, CSIM, the landmark lip-sync score and the pose/motion statistics all
compute one value per clip and report the mean over clips with a 95% bootstrap
interval. :class:`PerClipMean` holds that bookkeeping once: subclasses give
``clip_value(clip) -> (value, details)`` (the functional twin, a plain function in
their module) and the class adds nothing else. A clip that cannot be scored (no
face, too short) is recorded under ``details["skipped"]`` with its reason and does
not count as a value.
"""

from __future__ import annotations

from typing import Any, ClassVar

import numpy as np

from forgebench.errors import ForgebenchError, WeightsUnavailableError
from forgebench.metrics.base import Clip, Metric, MetricResult


def mean_result(
    name: str, higher_is_better: bool, values: list[float], *, network: str | None = None, **details: Any
) -> MetricResult:
    """Mean of per-clip ``values`` with a 95% bootstrap CI (``unavailable`` if there are none)."""
    from forgebench.metrics.bootstrap import bootstrap_ci

    finite = [v for v in values if np.isfinite(v)]
    if not finite:
        skipped = details.get("skipped") or {}
        why = "; ".join(f"{k}: {v}" for k, v in list(skipped.items())[:3]) or "no clips"
        return MetricResult.unavailable(name, higher_is_better, f"no clip could be scored ({why})")
    low, high = bootstrap_ci(finite)
    return MetricResult(
        name=name,
        value=float(np.mean(finite)),
        higher_is_better=higher_is_better,
        n=len(finite),
        ci_low=float(low),
        ci_high=float(high),
        network=network,
        details=details,
    )


class PerClipMean(Metric):
    """Mean over clips of :meth:`clip_value`; state is the per-clip values and skip reasons."""

    network: ClassVar[str | None] = None
    #: registry name of the standard weights the metric needs (None: weights-free)
    weights: ClassVar[str | None] = None

    def __init__(self) -> None:
        self.reset()

    def clip_value(self, clip: Clip) -> tuple[float, dict[str, Any]]:
        raise NotImplementedError

    def update(self, clip: Clip) -> None:
        try:
            value, extra = self.clip_value(clip)
        except WeightsUnavailableError as exc:  # the whole metric is unavailable, not this clip
            self.missing_weights = str(exc)
            return
        except ForgebenchError as exc:  # one bad clip is reported, the others are still scored
            self.skipped[clip.clip_id] = str(exc)
            return
        self.values.append(float(value))
        self.ids.append(clip.clip_id)
        self.per_clip.append(extra)

    def compute(self) -> MetricResult:
        if self.missing_weights and not self.values:
            fix = f"forgebench weights import {self.weights} FILE" if self.weights else ""
            try:
                from forgebench.weights.registry import get_entry

                fix = get_entry(self.weights).fix_command() if self.weights else fix
            except Exception:  # noqa: BLE001 - the fix hint must not hide the reason
                pass
            return MetricResult.unavailable(self.name, self.higher_is_better, self.missing_weights, fix=fix)
        details: dict[str, Any] = {"per_clip": dict(zip(self.ids, self.values, strict=True))}
        if self.skipped:
            details["skipped"] = dict(self.skipped)
        return mean_result(self.name, self.higher_is_better, self.values, network=self.network, **details)

    def reset(self) -> None:
        self.values: list[float] = []
        self.ids: list[str] = []
        self.per_clip: list[dict[str, Any]] = []
        self.skipped: dict[str, str] = {}
        self.missing_weights = ""

    def merge(self, other: Metric) -> None:
        assert isinstance(other, type(self)), f"cannot merge {type(other).__name__} into {type(self).__name__}"
        self.values += other.values
        self.ids += other.ids
        self.per_clip += other.per_clip
        self.skipped.update(other.skipped)
        self.missing_weights = self.missing_weights or other.missing_weights
