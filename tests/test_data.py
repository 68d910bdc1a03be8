"""paperlib.data: the sinusoid and XOR tasks, grids and data fingerprints."""

import pytest
import torch

from paperlib import cache, data


def test_sinusoid_points_labels_and_seed():
    x, y = data.sinusoid(400, seed=0)
    assert x.shape == (400, 2) and x.dtype == torch.float32
    assert y.shape == (400,) and y.dtype == torch.long
    assert float(x.min()) >= -1 and float(x.max()) <= 1
    xd = x.double()
    assert torch.equal(y, (xd[:, 1] > 0.6 * torch.sin(7 * xd[:, 0] - 1)).long())
    assert 0.3 < float(y.double().mean()) < 0.7
    x2, y2 = data.sinusoid(400, seed=0)
    assert torch.equal(x, x2) and torch.equal(y, y2)
    assert not torch.equal(x, data.sinusoid(400, seed=1)[0])
    assert data.sinusoid(10, dtype=torch.float64)[0].dtype == torch.float64


def test_sinusoid_score_sign_is_the_label():
    x, y = data.sinusoid(200, seed=4, dtype=torch.float64)
    assert torch.equal((data.sinusoid_score(x) > 0).long(), y)


def test_xor():
    x, y = data.xor()
    assert x.tolist() == [[-1, -1], [-1, 1], [1, -1], [1, 1]]
    assert y.tolist() == [0, 1, 1, 0] and y.dtype == torch.long
    assert torch.equal((data.xor_score(x) > 0).long(), y)


def test_grid_layout():
    g = data.grid(-1.0, 1.0, 5)
    assert g.shape == (5, 5) and g.points.shape == (25, 2)
    assert g.extent == (-1.0, 1.0, -1.0, 1.0)
    assert g.spacing == (0.5, 0.5)
    P = g.points
    # row-major: x varies fastest
    assert torch.equal(P[1], torch.tensor([-0.5, -1.0], dtype=torch.float64))
    assert torch.equal(P[5], torch.tensor([-1.0, -0.5], dtype=torch.float64))
    img = g.image(P[:, 0])
    assert torch.equal(img[3], g.xs) and torch.equal(g.image(P)[..., 1][:, 2], g.ys)


def test_fingerprint():
    x, y = data.sinusoid(50)
    fp = cache.fingerprint(x, y)
    assert fp == cache.fingerprint(x.clone(), y.clone()) and len(fp) == 64
    x2 = x.clone()
    x2[0, 0] += 1e-6
    assert cache.fingerprint(x2, y) != fp
    assert cache.fingerprint(x.double(), y) != fp
    assert cache.fingerprint(x, y[:49]) != cache.fingerprint(x, y)


def test_bad_inputs_name_the_argument():
    with pytest.raises(ValueError, match="n must"):
        data.sinusoid(0)
    with pytest.raises(TypeError, match="n must"):
        data.sinusoid(3.5)
    with pytest.raises(TypeError, match="seed"):
        data.sinusoid(10, seed="a")
    with pytest.raises(TypeError, match="dtype"):
        data.sinusoid(10, dtype=torch.long)
    with pytest.raises(TypeError, match="dtype"):
        data.xor(dtype=None)
    with pytest.raises(ValueError, match="size"):
        data.grid(size=1)
    with pytest.raises(ValueError, match="hi"):
        data.grid(1.0, -1.0)
    with pytest.raises(ValueError, match="lo"):
        data.grid(float("nan"), 1.0)
    with pytest.raises(ValueError, match="x must have shape"):
        data.sinusoid_score(torch.zeros(3, 3))
    with pytest.raises(ValueError, match="values"):
        data.grid(size=4).image(torch.zeros(15))
    with pytest.raises(TypeError, match="tensors"):
        cache.fingerprint([1, 2])


def test_package_re_exports_every_public_name_of_its_modules():
    from paperlib.data import cifar, common, digits, gih, toy

    modules = (toy, common, digits, cifar, gih)
    names = [name for module in modules for name in module.__all__]
    assert len(names) == len(set(names))  # no name in two modules
    assert sorted(data.__all__) == sorted(names)
    for module in modules:
        for name in module.__all__:
            assert getattr(data, name) is getattr(module, name), (module.__name__, name)
    assert data._data_dir is common._data_dir  # used by paperlib.cli and the chapters
    assert callable(data.mnist)  # the function, not a module of that name
