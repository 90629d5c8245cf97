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
