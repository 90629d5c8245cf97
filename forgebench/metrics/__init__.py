"""Metrics: lip sync, FID/KID, FVD, LPIPS, PSNR/SSIM, identity, pose and motion.

Every metric is a :class:`~forgebench.metrics.base.Metric` registered by name in
:data:`~forgebench.metrics.base.metric_registry`. Importing this package is
cheap (no numpy, no torch); :func:`load_metrics` imports the metric modules (torch and friends) so
that they register themselves, which the registry does on its first lookup.
"""

from __future__ import annotations

import importlib
import pkgutil

# Modules in this package that hold helpers or commands, not metrics.
_NOT_METRICS = frozenset(
    {"base", "bench", "bootstrap", "commands", "detection", "frechet", "harness", "inception", "inputs", "score"}
)


def load_metrics() -> list[str]:
    """Import every metric module of this package (they register on import); return the metric names."""
    for info in pkgutil.iter_modules(__path__):
        if info.name not in _NOT_METRICS and not info.name.startswith(("_", "bench")):
            importlib.import_module(f"{__name__}.{info.name}")
    from forgebench.metrics.base import metric_registry

    return metric_registry.names()


__all__ = ["Clip", "Metric", "MetricResult", "load_metrics", "metric_registry", "register_metric"]


def __getattr__(name: str):  # PEP 562: the base classes load on first use
    if name in ("Clip", "Metric", "MetricResult", "metric_registry", "register_metric"):
        from forgebench.metrics import base

        return getattr(base, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
