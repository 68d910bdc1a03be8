"""The pins live in pyproject.toml; environment.yml must list the same packages at the same versions."""

import re
import tomllib
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]


def _split(req: str) -> tuple[str, str]:
    m = re.fullmatch(r"\s*([A-Za-z0-9_.\-]+)\s*(.*?)\s*", req)
    assert m, req
    return m.group(1).lower().replace("_", "-"), m.group(2).replace(" ", "")


def _pyproject() -> dict[str, str]:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    reqs = list(project["dependencies"])
    for extra in project["optional-dependencies"].values():
        reqs += extra
    return dict(_split(r) for r in reqs)


def test_every_dependency_is_pinned_exactly():
    pins = _pyproject()
    assert pins["torch"] == "==2.13.0"
    assert pins["jupyter-book"].startswith("==1.")  # v2 drops _config.yml/_toc.yml
    for name in ("nbval", "sympy", "matplotlib", "ipywidgets", "jupyterlab", "pytest", "hypothesis"):
        assert name in pins
    assert all(spec.startswith("==") for spec in pins.values()), pins


def test_environment_yml_agrees_with_pyproject():
    env = yaml.safe_load((ROOT / "environment.yml").read_text())
    deps = env["dependencies"]
    assert "conda-forge" in env["channels"]
    assert any(isinstance(d, str) and d.startswith("python=3.11") for d in deps)
    pip = next(d["pip"] for d in deps if isinstance(d, dict) and "pip" in d)
    listed = dict(_split(r) for r in pip if not r.startswith("-e"))
    assert listed == _pyproject()
    assert "-e ." in pip


def test_import_needs_only_torch_numpy_and_scipy():
    """A GPU machine may have torch and the scientific stack only: the book's extras load on first use."""
    import subprocess
    import sys

    code = ("import sys, paperlib, paperlib.geometry, paperlib.train, paperlib.models, paperlib.chapters.toy, "
            "paperlib.chapters.mnist, paperlib.chapters.deep, paperlib.chapters.selfsup, paperlib.chapters.invariance, "
            "paperlib.chapters.curvature, paperlib.chapters.infinite, paperlib.chapters.shallow, paperlib.cli; "
            "print(sorted(m for m in ('sympy', 'matplotlib', 'mpltern', 'pooch', 'mlxtend', 'kornia', 'sklearn') "
            "if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120, check=True)
    assert out.stdout.strip() == "[]", out.stdout
