"""Build argparse options from a config dataclass, so defaults live in one place.

Each field becomes ``--field-name`` with the field's type and default; the help
text comes from ``field(metadata={"help": ...})`` (LivePortrait's ``tyro.cli``
idea with the standard library).
"""

from __future__ import annotations

import argparse
import dataclasses
from typing import Any, TypeVar

T = TypeVar("T")


def add_config_arguments(parser: argparse.ArgumentParser, cls: type, skip: tuple[str, ...] = ()) -> None:
    """Add one option per field of dataclass ``cls`` (except ``skip``)."""
    for f in dataclasses.fields(cls):
        if f.name in skip:
            continue
        default = f.default if f.default is not dataclasses.MISSING else f.default_factory()  # type: ignore[misc]
        kwargs: dict[str, Any] = {"default": default, "dest": f.name}
        help_text = f.metadata.get("help", "")
        kwargs["help"] = f"{help_text} (default: {default})" if help_text else f"default: {default}"
        if f.metadata.get("choices"):
            kwargs["choices"] = f.metadata["choices"]
        if isinstance(default, bool):
            kwargs["action"] = argparse.BooleanOptionalAction
        elif f.metadata.get("type"):  # fields whose default is None name their type
            kwargs["type"] = f.metadata["type"]
        elif default is not None:
            kwargs["type"] = type(default)
        parser.add_argument(f"--{f.name.replace('_', '-')}", **kwargs)


def config_from_args(cls: type[T], args: argparse.Namespace, **overrides: Any) -> T:
    """Instantiate ``cls`` from parsed arguments (fields absent from ``args`` keep their defaults)."""
    values = {f.name: getattr(args, f.name) for f in dataclasses.fields(cls) if hasattr(args, f.name)}
    values.update(overrides)
    return cls(**values)


def number(kind: type = int, low: float | None = None, high: float | None = None):  # noqa: ANN201
    """An argparse ``type=``: ``kind`` (int or float) within [low, high]; NaN and infinities are refused.

    A refused value becomes argparse's one-line error, e.g. ``argument --seeds: 0 is below 1``.
    """
    import math

    def parse(text: str):  # noqa: ANN202
        try:
            value = kind(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{text!r} is not {'an integer' if kind is int else 'a number'}") from None
        if isinstance(value, float) and not math.isfinite(value):
            raise argparse.ArgumentTypeError(f"{text!r} is not a finite number")
        if low is not None and value < low:
            raise argparse.ArgumentTypeError(f"{text} is below {low:g}")
        if high is not None and value > high:
            raise argparse.ArgumentTypeError(f"{text} is above {high:g}")
        return value

    parse.__name__ = kind.__name__  # argparse names the type in its messages
    return parse
