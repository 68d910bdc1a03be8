"""The examples in the docstrings of geometry, shallow, infinite, gih and ssl run as doctests: one test per docstring
(so a failure names the function), and one test per module that every public function and class of its
``__all__`` has an example."""

import doctest
import importlib
import inspect
import pkgutil

import pytest
import torch

MODULES = ("geometry", "shallow", "infinite", "gih", "ssl")
FLAGS = doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE


def _module(name: str):
    return importlib.import_module(f"paperlib.{name}")


def _doctests(module) -> list[doctest.DocTest]:
    """The docstrings of ``module`` (and of its classes' members) that hold examples; for a package (``geometry``,
    ``gih``), those of its submodules too, where its functions and classes are defined (each example runs with the
    globals of its own submodule)."""
    modules = [module] + [importlib.import_module(f"{module.__name__}.{info.name}")
                          for info in pkgutil.iter_modules(getattr(module, "__path__", []))]
    return [test for m in modules for test in doctest.DocTestFinder().find(m) if test.examples]


CASES = [pytest.param(name, test.name, id=test.name) for name in MODULES for test in _doctests(_module(name))]


@pytest.mark.parametrize(("name", "test_name"), CASES)
def test_docstring_examples(name, test_name):
    module = _module(name)
    (test,) = [t for t in _doctests(module) if t.name == test_name]  # fresh globals: a copy of the module's
    dtype = torch.get_default_dtype()
    report: list[str] = []
    result = doctest.DocTestRunner(optionflags=FLAGS).run(test, out=report.append)
    assert result.failed == 0, "".join(report)
    assert result.attempted > 0
    assert torch.get_default_dtype() == dtype, "an example changed torch's default dtype"


@pytest.mark.parametrize("name", MODULES)
def test_every_public_name_has_an_example(name):
    """Each function and class of ``__all__`` defined in the module (or, for a package, in one of its submodules)
    has an example in its own docstring; one that the module re-exports from elsewhere
    (``geometry.RankDeficiencyWarning``, from ``paperlib._linalg``) appears in one of the module's examples.
    Constants (``MAX_CURVATURE_DIM``, ``SMOOTH``, ...) carry no docstring."""
    module = _module(name)
    tests = _doctests(module)
    examples = {t.name: len(t.examples) for t in tests}
    sources = "".join(example.source for t in tests for example in t.examples)
    missing = []
    for public in module.__all__:
        obj = getattr(module, public)
        if not (inspect.isroutine(inspect.unwrap(obj)) or inspect.isclass(obj)):
            continue
        home = getattr(obj, "__module__", None) or ""
        if home != module.__name__ and not home.startswith(f"{module.__name__}."):  # not from a submodule either
            if public not in sources:
                missing.append(f"{public} (re-exported from {obj.__module__}: used in no example of {name})")
        elif examples.get(f"{home}.{public}", 0) == 0:
            missing.append(public)
    assert not missing, f"paperlib.{name}: public names without a docstring example: {missing}"
