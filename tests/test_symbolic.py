"""Tests of the paperlib.symbolic package itself: every public name of its modules is re-exported, as the same object.

The derivations are tested module by module: tests/test_symbolic_geometry.py, test_symbolic_shallow.py,
test_symbolic_infinite.py and test_symbolic_gih.py."""

from __future__ import annotations

from paperlib import symbolic as S
from paperlib.symbolic import geometry, gih, infinite, shallow


def test_package_re_exports_every_public_name_of_its_modules():
    modules = (geometry, shallow, infinite, gih)
    names = [name for module in modules for name in module.__all__]
    assert len(names) == len(set(names))  # no name in two modules
    assert sorted(S.__all__) == sorted(names)
    for module in modules:
        for name in module.__all__:
            assert getattr(S, name) is getattr(module, name), (module.__name__, name)
    assert S.s is infinite.s and S.sigma is gih.sigma and S.zeta is infinite.zeta
