"""The command line (paperlib.cli, `python -m paperlib`, the `paperlib` script): the registry it runs
(paperlib.chapters.registry), `list`, `reproduce` end to end on the cheapest figures of chapters 2-5 (book preset, an
empty cache), and its errors and exit codes.

The expensive figures (chapters 6-9, minutes each) are not run here on the book preset; every registered figure is
made on the tiny preset in tests/chapters/test_registry.py.
"""

from __future__ import annotations

import importlib
import json
import math
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from paperlib import cli
from paperlib.chapters import registry

ROOT = Path(__file__).resolve().parents[1]
E2E = ["shallow-volume-maps", "infinite-profiles", "curvature-relu-gelu", "toy-xor"]  # the cheapest of chapters 2-5
FIGURES = registry.figures()


def _env(tmp: Path) -> dict:
    # an empty default cache, no progress bars, the package of this checkout
    return {**os.environ, "PAPERLIB_CACHE": str(tmp / "default-cache"), "PAPERLIB_PROGRESS": "0",
            "PYTHONPATH": os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")])}


def _run(tmp: Path, *args: str, timeout: float = 300) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "paperlib", *args], capture_output=True, text=True,
                          timeout=timeout, cwd=tmp, env=_env(tmp))


def _strict_json(path: Path) -> dict:
    def refuse(token):
        raise ValueError(f"{path.name} holds the non-JSON constant {token}")

    return json.loads(path.read_text(encoding="utf-8"), parse_constant=refuse)


def _floats(values) -> torch.Tensor:
    """A JSON array back to a float64 tensor ("nan", "inf", "-inf" strings included)."""
    def conv(v):
        if isinstance(v, list):
            return [conv(u) for u in v]
        return float(v) if isinstance(v, str) else v

    return torch.tensor(conv(values), dtype=torch.float64)


# ------------------------------------------------------------------------------------------------------------------
# the registry and `list`
# ------------------------------------------------------------------------------------------------------------------


def test_registry_entries_have_chapter_description_and_cover_chapters_2_to_9():
    assert set(range(2, 10)) <= {spec.chapter for spec in FIGURES.values()}
    chapters = dict((module, number) for number, module in registry.CHAPTERS)
    for name, spec in FIGURES.items():
        module = spec.draw.__module__.rsplit(".", 1)[-1]
        assert spec.draw.__module__ == f"paperlib.chapters.{module}" and module.endswith("_figures"), name
        chapter_module = module.removesuffix("_figures")
        assert name.startswith(f"{chapter_module}-") and spec.chapter == chapters[chapter_module], name
        assert spec.name == name and spec.function == f"{spec.draw.__module__}.{spec.draw.__name__}", name
        assert isinstance(spec.description, str) and len(spec.description) > 20, name
        assert callable(spec.draw) and callable(spec.source), name
        assert set(spec.presets) <= set(cli.PRESETS), name
        assert (spec.presets == ()) == (spec.chapter <= 4), name  # the closed forms of chapters 2-4 have no preset
        if spec.presets:  # every preset a figure offers is one its experiment module defines
            module_presets = importlib.import_module(f"paperlib.chapters.{chapter_module}").PRESETS
            keys = set(module_presets) if "book" in module_presets else set().union(*map(set, module_presets.values()))
            assert set(spec.presets) <= keys, name
            assert ("hours" in spec.presets) == (spec.chapter >= 7), name  # the hours preset: chapters 7-10
    for old in ("ch5-fig1-sinusoid", "ch6-fig2-mnist", "ch7-fig3", "ch7-fig4", "ch8-fig5", "ch8-fig6",
                "ch9-spectra", "ch9-circles"):
        assert cli.RENAMED[old] in FIGURES
    assert set(cli.RENAMED.values()) <= set(FIGURES)  # every old name points to a figure
    assert set(cli.PRESETS) == {"book", "hours", "paper", "tiny"} and cli.Options is registry.Options


def test_list_prints_every_figure_with_its_chapter_and_presets(tmp_path):
    proc = _run(tmp_path, "list")
    assert proc.returncode == 0, proc.stderr
    lines = proc.stdout.splitlines()
    assert lines[0].split()[:2] == ["figure", "chapter"]
    # one row per figure (name first), then its function, indented, on the next line
    rows = {line.split()[0]: (line.split(), lines[i + 1]) for i, line in enumerate(lines[1:], 1)
            if line and not line[0].isspace() and not line.startswith("`")}
    assert set(rows) == set(FIGURES)
    for name, spec in FIGURES.items():
        row, below = rows[name]
        assert row[1] == str(spec.chapter)
        assert row[2].startswith(spec.presets[0] if spec.presets else "none"), row
        assert below.strip() == f"({spec.function})", below
    assert {int(r[1]) for r, _ in rows.values()} >= set(range(2, 10))


def test_no_arguments_prints_help_and_exits_2(tmp_path):
    proc = _run(tmp_path)
    assert proc.returncode == 2
    assert "reproduce" in proc.stderr and "list" in proc.stderr


def test_console_script_lists_the_figures(tmp_path):
    script = Path(sys.executable).parent / ("paperlib.exe" if os.name == "nt" else "paperlib")
    assert script.is_file(), f"{script} is missing: run `.venv/bin/pip install -e . --no-deps`"
    proc = subprocess.run([str(script), "list"], capture_output=True, text=True, timeout=120, cwd=tmp_path,
                          env=_env(tmp_path))
    assert proc.returncode == 0, proc.stderr
    assert all(name in proc.stdout for name in FIGURES)


def test_version_prints_the_installed_version_and_exits_0(tmp_path, capsys):
    import importlib.metadata

    import paperlib

    proc = _run(tmp_path, "--version")
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout == f"paperlib {paperlib.__version__}\n"
    assert paperlib.__version__ == importlib.metadata.version("paperlib")  # the installed package's metadata
    assert cli.main(["--version"]) == 0 and capsys.readouterr().out == f"paperlib {paperlib.__version__}\n"


def test_import_paperlib_does_not_import_the_cli_or_matplotlib(tmp_path):
    code = ("import sys, paperlib; a = ('paperlib.cli' in sys.modules, 'matplotlib' in sys.modules); "
            "import paperlib.cli; print(a, 'matplotlib' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120, cwd=tmp_path,
                         env=_env(tmp_path), check=True)
    assert out.stdout.strip() == "(False, False) False"


# ------------------------------------------------------------------------------------------------------------------
# `reproduce` end to end: one run of the cheapest figures of chapters 2-5 from an empty cache
# ------------------------------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def e2e(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("cli")
    out, cache = tmp / "figures" / "new", tmp / "cache"
    proc = _run(tmp, "reproduce", *E2E, "--preset", "book", "--device", "cpu", "--out", str(out),
                "--cache-dir", str(cache), timeout=600)
    return proc, out, cache


@pytest.mark.slow
def test_reproduce_writes_valid_png_pdf_and_json(e2e):
    proc, out, cache = e2e
    assert proc.returncode == 0, proc.stderr[-3000:]
    written = sorted(p.name for p in out.iterdir())
    assert written == sorted(f"{n}.{ext}" for n in E2E for ext in ("png", "pdf", "json"))  # no temporary files
    for name in E2E:
        assert (out / f"{name}.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
        pdf = (out / f"{name}.pdf").read_bytes()
        assert pdf[:5] == b"%PDF-" and b"%%EOF" in pdf[-1024:]
        doc = _strict_json(out / f"{name}.json")
        assert doc["figure"] == name and doc["chapter"] == FIGURES[name].chapter
        assert doc["function"] == FIGURES[name].function
        assert doc["files"] == [f"{name}.png", f"{name}.pdf"] and doc["device"] == "cpu"
        assert str(out / f"{name}.json") in proc.stdout
    assert (cache / "train").is_dir()  # the training went through the cache


@pytest.mark.slow
def test_json_of_a_closed_form_holds_the_numbers_of_the_package(e2e):
    from paperlib import infinite, shallow

    _, out, _ = e2e
    doc = _strict_json(out / "infinite-profiles.json")
    assert doc["preset"] is None and "settings" not in doc
    r = _floats(doc["numbers"]["radius"])
    x = torch.stack([r, torch.zeros_like(r)], 1)
    curve = doc["numbers"]["curves"]["sigmoid"]["sigma=2,zeta=1"]
    torch.testing.assert_close(_floats(curve["log_volume"]),
                               infinite.log_volume_element(x, "sigmoid", sigma=2.0, zeta=1.0, device="cpu"))
    torch.testing.assert_close(_floats(curve["ricci"]), infinite.ricci_scalar(x, "sigmoid", sigma=2.0, zeta=1.0,
                                                                              device="cpu"))

    maps = _strict_json(out / "shallow-volume-maps.json")["numbers"]
    t = _floats(maps["t"])
    lv = shallow.log_volume_element(*shallow.random_network(2, 100, seed=100), torch.cartesian_prod(t, t), "sigmoid",
                                    device="cpu")
    torch.testing.assert_close(_floats(maps["log_volume"]["sigmoid"]["100"]), lv.reshape(121, 121))

    curv = _strict_json(out / "curvature-relu-gelu.json")["numbers"]
    W, b = shallow.random_network(2, 8, seed=3)
    torch.testing.assert_close(_floats(curv["W"]), W)
    grid_x, grid_y = _floats(curv["grid"]["xs"]), _floats(curv["grid"]["ys"])
    points = torch.stack(torch.meshgrid(grid_y, grid_x, indexing="ij")[::-1], -1).reshape(-1, 2)
    R = shallow.ricci_scalar(W, b, points, "gelu", method="gauss", degenerate="nan", device="cpu")
    torch.testing.assert_close(_floats(curv["ricci"]["gelu"]), R.reshape(61, 61), equal_nan=True)


@pytest.mark.slow
def test_json_of_an_experiment_holds_its_settings_and_numbers(e2e):
    from paperlib.chapters import toy, toy_figures

    _, out, cache = e2e
    doc = _strict_json(out / "toy-xor.json")
    assert doc["preset"] == "book" and doc["function"] == "paperlib.chapters.toy_figures.xor"
    assert doc["settings"] == cli.jsonable(toy.PRESETS["xor"]["book"].to_dict())
    assert doc["options"]["cache_dir"] == str(cache)
    xo = toy.xor("book", cli.Options(cache_dir=str(cache), progress=False))  # the same call, now from the cache
    assert all(run.training.source == "cache" for run in xo.runs.values())
    numbers = doc["numbers"]
    for w in xo.settings.hidden:
        snap = xo.run((w, 0)).final
        torch.testing.assert_close(_floats(numbers["final_snapshots"][str(w)]["log_volume"]), snap.log_volume[0])
        torch.testing.assert_close(_floats(numbers["final_snapshots"][str(w)]["probability"]), snap.probability)
        gain = xo.gains(boundary="final", labels=[(w, s) for s in xo.settings.seeds])
        torch.testing.assert_close(_floats(numbers["gain_final_boundary"][str(w)]["gain"]), gain)
    assert numbers["final_accuracy"] == {f"{w}-{s}": r.final.accuracy for (w, s), r in xo.runs.items()}
    # and the numbers are those of the chapter's figure function, drawn from the same experiment
    assert cli.jsonable(toy_figures.xor(xo).numbers) == {**numbers, "settings": doc["settings"]}


# ------------------------------------------------------------------------------------------------------------------
# errors
# ------------------------------------------------------------------------------------------------------------------


def test_unknown_figure_names_close_matches_and_exits_2(tmp_path):
    proc = _run(tmp_path, "reproduce", "toy-xro", "--out", str(tmp_path / "out"))
    assert proc.returncode == 2
    assert "unknown figure 'toy-xro'" in proc.stderr and "toy-xor" in proc.stderr
    assert not (tmp_path / "out").exists()  # refused before anything was done
    proc = _run(tmp_path, "reproduce", "ch5-xor", "--out", str(tmp_path / "out"))  # the name before paperlib 0.2
    assert proc.returncode == 2
    assert "unknown figure 'ch5-xor'; did you mean toy-xor" in proc.stderr
    assert not (tmp_path / "out").exists()


def test_unknown_preset_exits_2(tmp_path):
    proc = _run(tmp_path, "reproduce", "toy-xor", "--preset", "huge", "--out", str(tmp_path / "out"))
    assert proc.returncode == 2
    assert "huge" in proc.stderr and "book" in proc.stderr and "paper" in proc.stderr
    # a closed form has no paper preset: the error names the presets it has (none)
    proc = _run(tmp_path, "reproduce", "infinite-profiles", "--preset", "paper", "--out", str(tmp_path / "out"))
    assert proc.returncode == 2
    assert "'infinite-profiles' has no preset 'paper'" in proc.stderr and "none (closed form)" in proc.stderr
    assert not (tmp_path / "out").exists()
    # the hours preset exists for chapters 7-10 only: asking a chapter-5 figure for it names the presets it has
    proc = _run(tmp_path, "reproduce", "toy-xor", "--preset", "hours", "--out", str(tmp_path / "out"))
    assert proc.returncode == 2
    assert "'toy-xor' has no preset 'hours'" in proc.stderr and "book, paper, tiny" in proc.stderr
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize("where", ["under-a-file", "a-file"])
def test_unwritable_output_folder_exits_2_naming_it(tmp_path, where):
    blocker = tmp_path / "blocker"
    blocker.write_text("a file, not a folder")
    out = blocker / "figures" if where == "under-a-file" else blocker
    proc = _run(tmp_path, "reproduce", "infinite-profiles", "--out", str(out))
    assert proc.returncode == 2
    assert f"output folder {out}" in proc.stderr
    assert "Traceback" not in proc.stderr


@pytest.mark.parametrize("given_by", ["--cache-dir", "PAPERLIB_CACHE"])
def test_unwritable_cache_folder_exits_2_naming_the_command_line_options(tmp_path, given_by):
    blocker = tmp_path / "blocker"
    blocker.write_text("a file, not a folder")
    cache = blocker / "cache"
    args = ["reproduce", "toy-xor", "--out", str(tmp_path / "out")]
    env = _env(tmp_path)
    if given_by == "--cache-dir":
        args += ["--cache-dir", str(cache)]
    else:
        env["PAPERLIB_CACHE"] = str(cache)
    proc = subprocess.run([sys.executable, "-m", "paperlib", *args], capture_output=True, text=True, timeout=120,
                          cwd=tmp_path, env=env)
    assert proc.returncode == 2, proc.stderr[-3000:]
    err = proc.stderr
    assert f"cache folder {cache}" in err and given_by in err.split(";")[0]  # the folder, and where it came from
    assert "--cache-dir" in err and "PAPERLIB_CACHE" in err and "--no-cache" in err  # the ways out, as typed here
    assert "cache_dir=" not in err and "cache=False" not in err  # not the Python keywords of paperlib.cache
    assert "Traceback" not in err


class _Stop(Exception):
    pass


def _stop_at(monkeypatch, module, name: str) -> dict:
    """Replace ``module.name`` by a recorder of its arguments that stops the figure there: ``seen["options"]`` is the
    :class:`paperlib.chapters.Options` it was given (by position or keyword), ``seen["preset"]`` its preset."""
    seen = {}

    def record(*args, **kwargs):
        seen.update(kwargs)
        seen["preset"] = args[0] if args else kwargs.get("preset")
        given = [a for a in args if isinstance(a, registry.Options)]
        if given:
            seen["options"] = given[0]
        raise _Stop(name)

    monkeypatch.setattr(module, name, record)
    return seen


@pytest.mark.parametrize("figure, module, entry", [
    ("toy-xor", "toy", "xor"), ("toy-sinusoid", "toy", "sinusoid"), ("toy-deep-layers", "toy", "deep_mlp"),
    ("mnist-line", "mnist", "run"), ("mnist-authors-init", "mnist", "run"), ("mnist-relu", "mnist", "run"),
    ("deep-line", "deep", "run"), ("selfsup-probe", "selfsup", "run"), ("selfsup-views", "selfsup", "views"),
    ("invariance-spectra", "invariance", "run")])
@pytest.mark.parametrize("cache", [True, False])
def test_the_cache_switch_reaches_every_chapter_entry_point(monkeypatch, figure, module, entry, cache):
    import importlib

    monkeypatch.setattr(registry, "_MEMO", {})
    seen = _stop_at(monkeypatch, importlib.import_module(f"paperlib.chapters.{module}"), entry)
    options = cli.Options(device="cpu", cache_dir="/unused", cache=cache, progress=False, num_threads=2, workers=1)
    with pytest.raises(_Stop):
        registry.make(figure, "book", options)
    assert seen["options"].cache is cache and seen["options"].cache_dir == "/unused"
    assert seen["options"] == options  # the device, progress, threads, workers and data options too


def test_no_cache_skips_the_cache_check_and_passes_cache_false(tmp_path, monkeypatch, capsys):
    from paperlib.chapters import toy

    blocker = tmp_path / "blocker"
    blocker.write_text("a file, not a folder")
    args = ["reproduce", "toy-xor", "--cache-dir", str(blocker / "cache"), "--out", str(tmp_path / "out")]
    monkeypatch.setattr(registry, "_MEMO", {})
    seen = _stop_at(monkeypatch, toy, "xor")
    assert cli.main(args) == 2 and "--no-cache" in capsys.readouterr().err and not seen  # checked, nothing run
    with pytest.raises(_Stop):  # the cache is not used, so an unusable cache folder is no error
        cli.main([*args, "--no-cache"])
    assert seen["options"].cache is False and seen["preset"] == "book"


def test_the_flags_reach_the_chapter_entry_point(tmp_path, monkeypatch, capsys):
    from paperlib.chapters import toy

    monkeypatch.setattr(registry, "_MEMO", {})
    seen = _stop_at(monkeypatch, toy, "xor")
    with pytest.raises(_Stop):
        cli.main(["reproduce", "toy-xor", "--preset", "tiny", "--device", "cpu", "--no-cache", "--data-dir",
                  str(tmp_path / "data"), "--no-download", "--no-progress", "--threads", "2", "--workers", "3",
                  "--out", str(tmp_path / "out")])
    assert seen["preset"] == "tiny"
    assert seen["options"] == cli.Options(device="cpu", cache=False, cache_dir=None, data_dir=str(tmp_path / "data"),
                                          download=False, progress=False, num_threads=2, workers=3)
    for flag in ("--threads", "--workers"):
        assert cli.main(["reproduce", "toy-xor", flag, "0", "--out", str(tmp_path / "refused")]) == 2
        assert f"{flag} must be a positive integer" in capsys.readouterr().err
    assert not (tmp_path / "refused").exists()  # refused before anything was done


@pytest.mark.slow
def test_no_cache_writes_nothing_under_the_cache_folder_and_computes_the_same_numbers(tmp_path, e2e):
    _, cached_out, _ = e2e
    out = tmp_path / "out"
    proc = _run(tmp_path, "reproduce", "toy-xor", "--no-cache", "--device", "cpu", "--out", str(out), timeout=600)
    assert proc.returncode == 0, proc.stderr[-3000:]
    default_cache = Path(_env(tmp_path)["PAPERLIB_CACHE"])
    assert not default_cache.exists() or [p for p in default_cache.rglob("*")] == []  # nothing read, nothing written
    doc = _strict_json(out / "toy-xor.json")
    assert doc["options"]["cache"] is False and doc["options"]["cache_dir"] is None
    assert doc["numbers"] == _strict_json(cached_out / "toy-xor.json")["numbers"]  # trained again, the same run


def test_paper_preset_without_cifar10_exits_3_before_any_training(tmp_path):
    cache, data = tmp_path / "cache", tmp_path / "data"
    data.mkdir()
    proc = _run(tmp_path, "reproduce", "deep-line", "--preset", "paper", "--cache-dir", str(cache), "--data-dir",
                str(data), "--no-download", "--out", str(tmp_path / "out"), timeout=120)
    assert proc.returncode == 3, proc.stderr[-3000:]
    assert "CIFAR-10" in proc.stderr and str(data) in proc.stderr and "fetch_cifar10" in proc.stderr
    assert "Traceback" not in proc.stderr
    assert [p for p in cache.rglob("*") if p.is_file()] == []  # nothing trained, nothing cached
    assert list((tmp_path / "out").iterdir()) == []


def test_cuda_asked_for_without_cuda_exits_2(tmp_path, monkeypatch, capsys):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    code = cli.main(["reproduce", "infinite-profiles", "--device", "cuda", "--out", str(tmp_path / "out")])
    assert code == 2 and "CUDA is not available" in capsys.readouterr().err


# ------------------------------------------------------------------------------------------------------------------
# the pieces
# ------------------------------------------------------------------------------------------------------------------


def test_jsonable_keeps_json_strict():
    import numpy as np

    value = {(7, 6): torch.tensor([1.0, float("nan"), float("inf"), -float("inf")]), 3: np.float32(0.5),
             "a": (1, True, None)}
    assert cli.jsonable(value) == {"7-6": [1.0, "nan", "inf", "-inf"], "3": 0.5, "a": [1, True, None]}
    json.dumps(cli.jsonable(value), allow_nan=False)
    with pytest.raises(TypeError, match="object"):
        cli.jsonable(object())


def test_a_failed_write_leaves_neither_file_nor_temporary(tmp_path):
    target = tmp_path / "fig.png"

    def broken(fh):
        fh.write(b"half a figure")
        raise RuntimeError("disk full")

    with pytest.raises(RuntimeError, match="disk full"):
        cli._atomic_write(target, broken)
    assert list(tmp_path.iterdir()) == []
    cli._atomic_write(target, lambda fh: fh.write(b"whole"))
    assert target.read_bytes() == b"whole" and list(tmp_path.iterdir()) == [target]


# ------------------------------------------------------------------------------------------------------------------
# what a reader sees on the figures
# ------------------------------------------------------------------------------------------------------------------


def _texts(fig) -> str:
    return " ".join(t.get_text() for t in fig.findobj(lambda a: hasattr(a, "get_text") and a.get_text()))


def test_shallow_volume_maps_labels_its_axes_and_says_what_white_is():
    import matplotlib
    import numpy as np

    matplotlib.use("Agg")
    drawn = registry.make("shallow-volume-maps", None, cli.Options(device="cpu"))
    [(_, fig)], numbers = drawn.figures, drawn.numbers
    axes = np.array(fig.axes[:12]).reshape(3, 4)
    assert [ax.get_xlabel() for ax in axes[-1]] == ["$x_1$"] * 4
    assert [ax.get_ylabel() for ax in axes[:, 0]] == ["$x_2$"] * 3
    assert "white: volume element 0" in _texts(fig) and r"-\infty" in _texts(fig)
    # what is white: exactly the cells where the log volume element is -inf (ReLU, n = 3: < 2 units active)
    relu3 = numbers["log_volume"]["relu"][3]
    assert bool(torch.isneginf(relu3).any()) and not bool(torch.isnan(relu3).any())
    mesh = axes[2, 0].collections[0]
    assert (np.ma.getmaskarray(mesh.get_array()).reshape(121, 121) == torch.isneginf(relu3).T.numpy()).all()
    assert all(bool(torch.isfinite(m).all()) for a in ("erf", "sigmoid") for m in numbers["log_volume"][a].values())
    matplotlib.pyplot.close(fig)


def test_curvature_unit_circle_gives_the_unit_of_its_angle():
    import matplotlib

    matplotlib.use("Agg")
    drawn = registry.make("curvature-unit-circle", None, cli.Options(device="cpu"))
    [(_, fig)], numbers = drawn.figures, drawn.numbers
    assert numbers["angle_unit"] == "radians" and float(numbers["angle"][-1]) == pytest.approx(2 * math.pi)
    for ax in fig.axes:
        assert "(radians)" in ax.get_xlabel()
        assert ax.get_xticks() == pytest.approx([k * math.pi / 3 for k in range(7)])
        assert [t.get_text() for t in ax.get_xticklabels()][-1] == r"$2\pi$"
    assert sorted(t.get_text() for t in fig.legends[0].get_texts()) == ["bias 0", "bias 1"]
    matplotlib.pyplot.close(fig)


@pytest.mark.slow
def test_toy_xor_has_a_legend_of_its_boundary_and_classes(e2e, monkeypatch):
    import matplotlib

    matplotlib.use("Agg")
    _, _, cache = e2e
    monkeypatch.setattr(registry, "_MEMO", {})
    drawn = registry.make("toy-xor", "book", cli.Options(device="cpu", cache_dir=str(cache), progress=False))
    [(_, fig)] = drawn.figures  # read from the cache
    [legend] = fig.legends
    texts = [t.get_text() for t in legend.get_texts()]
    assert "decision boundary" in texts[0] and "class 0" in texts[1] and "class 1" in texts[2]
    assert [h.get_markerfacecolor() for h in legend.legend_handles[1:]] == ["white", "black"]  # as scatter_data
    assert legend.legend_handles[0].get_color() == "red"
    matplotlib.pyplot.close(fig)


@pytest.mark.parametrize("notebook, function, figure", [
    ("02_shallow_networks", "volume_maps_figure", "shallow-volume-maps"),
    ("04_curvature", "unit_circle_figure", "curvature-unit-circle"),
    ("05_toy_networks", "xor_figure", "toy-xor")])
def test_the_chapter_and_the_cli_draw_the_figure_with_one_function(notebook, function, figure):
    """The chapter calls the registered figure function (the one the command line runs) once, and that function
    draws with the building block."""
    import inspect

    spec = FIGURES[figure]
    module = spec.draw.__module__.rsplit(".", 1)[-1]
    cells = json.loads((ROOT / "book" / f"{notebook}.ipynb").read_text(encoding="utf-8"))["cells"]
    code = ["".join(c["source"]) for c in cells if c["cell_type"] == "code"]
    assert sum(f"{module}.{spec.draw.__name__}(" in c for c in code) == 1
    assert f"{function}(" in inspect.getsource(spec.draw)
