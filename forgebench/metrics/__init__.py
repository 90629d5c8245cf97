"""Metrics: lip sync, FID/KID, FVD, LPIPS, PSNR/SSIM, identity, pose and motion.

Every metric is a :class:`~forgebench.metrics.base.Metric` registered by name in
:data:`~forgebench.metrics.base.metric_registry`. Importing this package is
cheap; :func:`load_metrics` imports the metric modules (torch and friends) so
that they register themselves.
"""

from __future__ import annotations

import importlib
import pkgutil

from forgebench.metrics.base import Clip, Metric, MetricResult, metric_registry, register_metric

# Modules in this package that hold helpers or commands, not metrics.
_NOT_METRICS = frozenset(
    {"base", "bench", "bootstrap", "commands", "detection", "frechet", "harness", "inception", "inputs", "score"}
)


def load_metrics() -> list[str]:
    """Import every metric module of this package (they register on import); return the metric names."""
    for info in pkgutil.iter_modules(__path__):
        if info.name not in _NOT_METRICS and not info.name.startswith(("_", "bench")):
            importlib.import_module(f"{__name__}.{info.name}")
    return metric_registry.names()


__all__ = ["Clip", "Metric", "MetricResult", "load_metrics", "metric_registry", "register_metric"]
