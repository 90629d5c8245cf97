"""The metric contract (torchmetrics' ``Metric``, cut down to what a corpus needs).

A metric is a class with ``name``, ``higher_is_better`` and ``requires`` and four
methods: ``update(clip)`` adds one clip's evidence to declared state,
``compute()`` turns the state into a :class:`MetricResult`, ``reset()`` clears it,
and ``merge(other)`` adds another instance's state (the Dask reduce). Each metric
module also has plain functions (``x_update``/``x_compute``/``x()``) that hold all
of the maths: the class adds bookkeeping only.

A metric whose standard weights are missing does not compute anything: it
returns ``MetricResult.unavailable(...)`` naming the command that fixes it.
"""

from __future__ import annotations

import copy
import math
from dataclasses import asdict, dataclass, field
from typing import Any, ClassVar

import numpy as np

from forgebench.records import MotionTrack
from forgebench.registry import Registry


@dataclass
class Clip:
    """One video clip as metrics see it.

    ``frames`` [T, H, W, 3] uint8 RGB; ``audio`` float32 mono at ``audio_rate``
    (16 kHz); ``track`` the analyzer's MotionTrack (with landmarks) when the
    metric needs faces; ``reference`` a ground-truth clip for paired metrics
    (LPIPS, PSNR, SSIM); ``source_image`` [H, W, 3] for identity metrics.
    """

    clip_id: str
    frames: np.ndarray | None = None
    fps: float = 25.0
    audio: np.ndarray | None = None
    audio_rate: int = 16000
    track: MotionTrack | None = None
    reference: Clip | None = None
    source_image: np.ndarray | None = None
    meta: dict[str, Any] = field(default_factory=dict)


@dataclass
class MetricResult:
    """A metric's value, or why there is none.

    ``status`` is ``"ok"`` or ``"unavailable"``; an unavailable result has
    ``value=None``, a ``reason`` and, where one exists, the ``fix`` command.
    ``network`` names the exact network and weights version behind the number.
    """

    name: str
    value: float | None
    higher_is_better: bool
    status: str = "ok"
    n: int = 0
    ci_low: float | None = None
    ci_high: float | None = None
    network: str | None = None
    reason: str = ""
    fix: str = ""
    details: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def unavailable(cls, name: str, higher_is_better: bool, reason: str, fix: str = "") -> MetricResult:
        return cls(
            name=name, value=None, higher_is_better=higher_is_better, status="unavailable", reason=reason, fix=fix
        )

    @property
    def ok(self) -> bool:
        return self.status == "ok" and self.value is not None and math.isfinite(self.value)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


class Metric:
    """Base class; subclasses set the class attributes and implement the four methods."""

    name: ClassVar[str] = ""
    higher_is_better: ClassVar[bool] = True
    #: what ``update`` needs from a Clip: any of "frames", "audio", "track",
    #: "reference", "source_image", "reference_set", "weights:<registry name>"
    requires: ClassVar[frozenset[str]] = frozenset()

    def update(self, clip: Clip) -> None:
        raise NotImplementedError

    def compute(self) -> MetricResult:
        raise NotImplementedError

    def reset(self) -> None:
        raise NotImplementedError

    def merge(self, other: Metric) -> None:
        raise NotImplementedError

    def clone(self) -> Metric:
        return copy.deepcopy(self)


def _load_metrics() -> None:
    from forgebench.metrics import load_metrics

    load_metrics()


metric_registry: Registry[Metric] = Registry("metric", Metric, load=_load_metrics)
register_metric = metric_registry.register
