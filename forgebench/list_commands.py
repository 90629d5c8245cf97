"""``forgebench list KIND``: what is registered under each name."""

from __future__ import annotations

import argparse
import importlib

# kind -> (module holding the registry, attribute name, what registers the entries: "module" to import or
# "module:function" to call)
REGISTRIES: dict[str, tuple[str, str, tuple[str, ...]]] = {
    "motion": ("forgebench.generator.motion", "motion_registry", ()),
    "metrics": ("forgebench.metrics.base", "metric_registry", ()),
    "detectors": ("forgebench.detectors.base", "detector_registry", ()),
    "perturbations": ("forgebench.benchmarks.perturb", "perturbation_registry", ()),
    "datasets": ("forgebench.benchmarks.datasets", "dataset_registry", ()),
}


def registry_for(kind: str):
    module, attribute, also = REGISTRIES[kind]
    for name in also:
        target, _, function = name.partition(":")
        loaded = importlib.import_module(target)
        if function:
            getattr(loaded, function)()
    return getattr(importlib.import_module(module), attribute)


def cmd_list(args: argparse.Namespace) -> int:
    registry = registry_for(args.kind)
    for name in registry.names():
        cls = registry.get(name)
        doc = (cls.__doc__ or "").strip().splitlines()
        print(f"{name:<20} {doc[0] if doc else ''}")
    return 0


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser("list", help="list registered motion models, metrics, detectors, ...",
                              description="List what can be named in specs and on the command line.")
    p.add_argument("kind", choices=sorted(REGISTRIES))
    p.set_defaults(func=cmd_list)
