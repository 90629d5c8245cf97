from __future__ import annotations

import pytest

from forgebench.registry import Registry, UnknownNameError


class Base:
    def __init__(self, **params):
        self.params = params


def test_register_get_build_and_list():
    reg = Registry("thing", Base)

    @reg.register("alpha")
    class Alpha(Base):
        pass

    assert reg.get("alpha") is Alpha and reg.names() == ["alpha"] and "alpha" in reg
    assert reg.build("alpha", x=1).params == {"x": 1}


def test_duplicates_wrong_base_and_suggestions():
    reg = Registry("thing", Base)
    reg.register("alpha")(type("A", (Base,), {}))
    with pytest.raises(ValueError, match="already registered"):
        reg.register("alpha")(type("B", (Base,), {}))
    with pytest.raises(TypeError):
        reg.register("gamma")(int)
    with pytest.raises(UnknownNameError, match="Did you mean alpha"):
        reg.get("alpah")


def test_load_runs_once_on_the_first_lookup_and_retries_after_a_failure():
    calls = []
    reg = Registry("thing", Base, load=lambda: calls.append(1) or reg.register("late")(type("L", (Base,), {})))
    reg.register("early")(type("E", (Base,), {}))  # registering does not load
    assert calls == []
    assert reg.names() == ["early", "late"] and "late" in reg and len(reg) == 2 and calls == [1]
    failing = Registry("thing", Base, load=lambda: 1 / 0)
    for _ in range(2):  # a failed import is not remembered as done
        with pytest.raises(ZeroDivisionError):
            failing.get("x")
