"""One registry class for everything that is chosen by name.

Detectors, metrics, motion generators, dataset adapters and perturbations each
get one :class:`Registry` instance (lm-eval ``api/registry.py``, mmengine): the
registry checks the base class, refuses duplicate names and suggests close names
on a miss, so a typo in a spec or on the command line gets a useful one-liner.

>>> class Base: ...
>>> things = Registry("thing", Base)
>>> @things.register("alpha")
... class Alpha(Base): ...
>>> things.get("alpha") is Alpha
True
>>> things.names()
['alpha']
"""

from __future__ import annotations

import difflib
from collections.abc import Callable, Iterator
from typing import Generic, TypeVar

from forgebench.errors import ForgebenchError

T = TypeVar("T")


class UnknownNameError(ForgebenchError, KeyError):
    """A name that is not registered; the message lists close matches."""

    def __str__(self) -> str:  # KeyError would quote the message
        return str(self.args[0])


class Registry(Generic[T]):
    """A name -> class mapping for one kind of component.

    Args:
        kind: what is registered, used in messages ("detector", "metric", ...).
        base: every registered class must subclass it.
        load: optional function that imports the modules whose classes register themselves; it runs once,
            on the first lookup, so that importing a part (as the command line does to build its options)
            does not import every implementation and its heavy libraries.
    """

    def __init__(self, kind: str, base: type, load: Callable[[], object] | None = None) -> None:
        self.kind = kind
        self.base = base
        self._entries: dict[str, type[T]] = {}
        self._load = load

    def _loaded(self) -> dict[str, type[T]]:
        if self._load is not None:
            load, self._load = self._load, None
            try:
                load()
            except BaseException:
                self._load = load  # a failed import is retried (and fails loudly) on the next lookup
                raise
        return self._entries

    def register(self, name: str) -> Callable[[type[T]], type[T]]:
        """Class decorator: ``@registry.register("name")``."""

        def decorate(cls: type[T]) -> type[T]:
            if not (isinstance(cls, type) and issubclass(cls, self.base)):
                raise TypeError(f"{cls!r} is not a {self.base.__name__}; cannot register it as a {self.kind}")
            if name in self._entries and self._entries[name] is not cls:
                raise ValueError(f"a {self.kind} named {name!r} is already registered ({self._entries[name].__name__})")
            self._entries[name] = cls
            cls.registry_name = name  # type: ignore[attr-defined]
            return cls

        return decorate

    def get(self, name: str) -> type[T]:
        """The class registered as ``name``; an :class:`UnknownNameError` suggests close names."""
        try:
            return self._loaded()[name]
        except KeyError:
            close = difflib.get_close_matches(name, self._entries, n=3)
            hint = f" Did you mean {', '.join(close)}?" if close else ""
            raise UnknownNameError(
                f"unknown {self.kind} {name!r}.{hint} Known: {', '.join(self.names()) or 'none'}."
            ) from None

    def build(self, name: str, **params: object) -> T:
        """Instantiate the class registered as ``name`` with ``params``."""
        return self.get(name)(**params)

    def names(self) -> list[str]:
        return sorted(self._loaded())

    def __contains__(self, name: object) -> bool:
        return name in self._loaded()

    def __iter__(self) -> Iterator[str]:
        return iter(self.names())

    def __len__(self) -> int:
        return len(self._loaded())
