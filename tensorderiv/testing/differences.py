"""Numerical derivatives by central differences, for checking derivatives of plain functions.

Central differences in float64 at steps h and h/2, combined by Richardson extrapolation (the
error falls from O(h²) to O(h⁴)); higher orders by differences of the order−1 differences. For
large tensors, :func:`along` gives the derivative contracted with random directions (a
dot-product test) at the cost of a few evaluations, and :func:`contract_with` does the same to a
compact symbolic derivative without materialising it.

Example:
    >>> import numpy as np
    >>> from tensorderiv.testing.differences import dense
    >>> np.round(dense(lambda v: np.sum(v ** 3), np.array([1.0, 2.0]), 1, 1e-3), 8)
    array([ 3., 12.])
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from ..core.axes import Axis
from ..core.contract import contract
from ..core.ctensor import CTensor

__all__ = ["along", "contract_with", "dense", "directions", "richardson"]


def directions(rng: np.random.Generator, x: np.ndarray, order: int,
                n: int) -> list[list[np.ndarray]]:
    """``n`` tuples of ``order`` random directions, each scaled to a largest entry of 1."""
    out = []
    for _ in range(int(n)):
        us = []
        for _ in range(order):
            u = rng.standard_normal(x.shape)
            us.append(u / max(float(np.max(np.abs(u))), 1e-300))
        out.append(us)
    return out


def richardson(g: Callable[[np.ndarray], np.ndarray], x: np.ndarray, u: np.ndarray,
                h: float) -> np.ndarray:
    """The derivative of ``g`` along ``u``: central differences at h and h/2, extrapolated."""
    def central(s: float) -> np.ndarray:
        return (g(x + s * u) - g(x - s * u)) / (2 * s)

    return (4 * central(h / 2) - central(h)) / 3


def dense(g: Callable[[np.ndarray], np.ndarray], x: np.ndarray, order: int,
              eps: float) -> np.ndarray:
    """The order-``order`` derivative, notes layout, by differences of the order−1 one."""
    if order == 0:
        return g(x)

    def inner(y: np.ndarray) -> np.ndarray:
        return dense(g, y, order - 1, eps)

    parts = []
    for i in np.ndindex(x.shape):
        u = np.zeros(x.shape)
        u[i] = 1.0
        parts.append(richardson(inner, x, u, eps * max(1.0, abs(float(x[i])))))
    return np.stack(parts).reshape(x.shape + parts[0].shape)


def along(g: Callable[[np.ndarray], np.ndarray], x: np.ndarray, us: list[np.ndarray],
              eps: float) -> np.ndarray:
    """The derivative contracted with the directions ``us`` (the first on the newest axes)."""
    if not us:
        return g(x)

    def inner(y: np.ndarray) -> np.ndarray:
        return along(g, y, us[1:], eps)

    h = eps * max(1.0, float(np.max(np.abs(x))) if x.size else 1.0)
    return richardson(inner, x, us[0], h)


def contract_with(ct: CTensor, dirs: list[list[np.ndarray]]) -> np.ndarray:
    """Contractions of a compact derivative with direction tuples, never materialising it."""
    out = []
    for us in dirs:
        ops = []
        for c, u in enumerate(us, start=1):
            labels = [a for a in ct.axes if a.role == "wrt" and a.copy == c]
            ops.append(CTensor(u, [Axis(a.label, a.size, "wrt", a.var, a.index, c)
                                   for a in labels]))
        out.append(np.asarray(contract(ct, *ops).dense()))
    return np.stack(out)
