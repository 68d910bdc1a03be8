r"""Chapter-free building blocks for shallow maps on planar inputs.

- :func:`draw_hyperplanes` -- the lines :math:`w_j\cdot x + b_j = 0` of a shallow map's hidden units, over a heat
  map.

The figures of chapters 2-4 that use it are in :mod:`paperlib.chapters` (``shallow_figures``,
``infinite_figures``, ``curvature_figures``).
"""

from __future__ import annotations

import numpy as np
import torch
from matplotlib.axes import Axes

from ._util import as_array

__all__ = ["draw_hyperplanes"]


def draw_hyperplanes(
    ax: Axes,
    W: torch.Tensor | np.ndarray,
    b: torch.Tensor | np.ndarray,
    *,
    color: str = "0.25",
    linestyle: str = "--",
    linewidth: float = 0.8,
) -> Axes:
    r"""Draw the lines :math:`w_j\cdot x + b_j = 0` of the hidden units of a shallow map on planar inputs.

    Unit :math:`j` of :math:`\Phi_j = \phi(w_j\cdot x + b_j)/\sqrt n` is most sensitive on its line (for a
    sigmoidal :math:`\phi`), and a ReLU unit switches on there. Each line is clipped to the current axis limits
    (set them first, e.g. by drawing a heat map); units with :math:`w_j = 0` have no line and are skipped. The
    axis limits are left unchanged.

    Args:
        ax: the axes.
        W: ``(n, 2)`` input weights; b: ``(n,)`` biases.
        color, linestyle, linewidth: line style.

    Returns:
        The ``Axes``.
    """
    if not isinstance(ax, Axes):
        raise TypeError(f"ax must be a matplotlib Axes; got {type(ax).__name__}")
    W = as_array(W, "W", ("n", 2))
    b = as_array(b, "b", (W.shape[0],))
    (x0, x1), (y0, y1) = ax.get_xlim(), ax.get_ylim()
    for (w1, w2), bj in zip(W.tolist(), b.tolist()):
        if w1 == 0.0 and w2 == 0.0:
            continue
        if abs(w2) >= abs(w1):  # y as a function of x
            xs = np.array([x0, x1])
            ys = -(bj + w1 * xs) / w2
        else:  # x as a function of y
            ys = np.array([y0, y1])
            xs = -(bj + w2 * ys) / w1
        ax.plot(xs, ys, color=color, linestyle=linestyle, linewidth=linewidth)
    ax.set_xlim(x0, x1)
    ax.set_ylim(y0, y1)
    return ax
