"""paperlib.plot.shallow: the chapter-free building block of the shallow-network figures (the hidden units'
hyperplanes). The figures of chapters 2-4 are tested with their chapters, in tests/chapters/."""

import matplotlib.pyplot as plt
import numpy as np
import pytest
import torch

from paperlib import plot


def test_draw_hyperplanes_keeps_limits():
    _, ax = plt.subplots()
    ax.set_xlim(-1, 1)
    ax.set_ylim(-3, 3)
    plot.draw_hyperplanes(ax, np.array([[1.0, 1.0]]), np.array([0.0]), color="k")
    assert ax.get_xlim() == (-1, 1) and ax.get_ylim() == (-3, 3)
    assert len(ax.get_lines()) == 1


def test_draw_hyperplanes_lie_on_the_lines_and_skip_zero_weights():
    _, ax = plt.subplots()
    ax.set_xlim(-2, 2)
    ax.set_ylim(-2, 2)
    W = torch.tensor([[1.0, 0.0], [0.0, 2.0], [1.0, -1.0], [0.0, 0.0]], dtype=torch.float64)
    b = torch.tensor([0.5, -1.0, 0.25, 3.0], dtype=torch.float64)
    plot.draw_hyperplanes(ax, W, b)
    assert len(ax.get_lines()) == 3  # the unit with w = 0 has no line
    for line, (w, bj) in zip(ax.get_lines(), zip(W[:3].numpy(), b[:3].numpy())):
        xs, ys = (np.asarray(v, dtype=float) for v in line.get_data())
        np.testing.assert_allclose(w[0] * xs + w[1] * ys + bj, 0.0, atol=1e-12)
        assert line.get_linestyle() == "--"


def test_draw_hyperplanes_bad_input():
    _, ax = plt.subplots()
    with pytest.raises(TypeError, match="ax"):
        plot.draw_hyperplanes("ax", torch.ones(1, 2), torch.zeros(1))
    with pytest.raises(ValueError, match="W"):
        plot.draw_hyperplanes(ax, torch.ones(2), torch.zeros(2))
    with pytest.raises(ValueError, match="b"):
        plot.draw_hyperplanes(ax, torch.ones(2, 2), torch.zeros(1))
