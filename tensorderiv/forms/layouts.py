"""The notes' matrix shapes: how a c-tensor's axes become the rows and columns of a matrix.

A gradient has the shape of its variable (a vector as a column, notes Definition 9), ∂w/∂s is a
row (Definition 11), ∂M/∂s has the shape of Mᵀ (Definition 17), and anything else is the notes'
flattening (A.58: stack the columns): rows = the input's axes, columns = the output's axes. A
second derivative of a scalar puts the first differentiation on the rows, the second on the
columns.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np

from ..core.axes import Axis

__all__ = ["axis_name", "flatten", "groups", "present", "shape_note", "slot_order"]


def axis_name(a: Axis) -> str:
    """How an axis is named in messages: ``W[0]``, and ``W[0]#2`` for a second derivative copy.

    Example:
        >>> axis_name(Axis("k", 3, "wrt", "W", 1, 2))
        'W[1]#2'
    """
    base = f"{a.var}[{a.index}]" if a.var is not None else repr(a.label)
    return base + (f"#{a.copy}" if a.copy > 1 else "")


def groups(axes: Sequence[Axis]) -> tuple[list[int], list[int]]:
    """Positions on the rows and on the columns of the notes' matrix.

    Rows are the input (``wrt``) axes, columns the output axes; with no output axes and several
    derivative copies, rows are the first copy and columns the others.

    Example:
        >>> from tensorderiv.core.axes import wrt_axes
        >>> groups([*wrt_axes("x", (3,), copy=1), *wrt_axes("x", (3,), copy=2)])  # a Hessian
        ([0], [1])
    """
    wrt = [p for p, a in enumerate(axes) if a.role == "wrt"]
    of = [p for p, a in enumerate(axes) if a.role == "of"]
    if of or not wrt:
        return wrt, of
    rows = [p for p in wrt if axes[p].copy == axes[wrt[0]].copy]
    return rows, [p for p in wrt if p not in rows]


def flatten(arr: np.ndarray, rows: Sequence[int], cols: Sequence[int]) -> np.ndarray:
    """The notes' flattening (A.58, stack the columns): vec(row axes) by vec(column axes).

    Example:
        >>> import numpy as np
        >>> flatten(np.array([[1, 2], [3, 4]]), [0, 1], [])[:, 0]   # A.58
        array([1, 3, 2, 4])
    """
    shape = arr.shape
    perm = [*reversed(rows), *reversed(cols)]  # C-order of reversed axes = column stacking
    return arr.transpose(perm).reshape(math.prod(shape[p] for p in rows),
                                       math.prod(shape[p] for p in cols))


def _describe(axes: Sequence[Axis], positions: Sequence[int]) -> str:
    if not positions:
        return "—"
    names = ", ".join(axis_name(axes[p]) for p in positions)
    return names if len(positions) == 1 else f"vec({names})"


def shape_note(axes: Sequence[Axis], derivative: bool) -> tuple[str, str, str]:
    """Rows, columns and the notes' reason for the shape of an array over ``axes``.

    Example:
        >>> from tensorderiv.core.axes import of_axes, wrt_axes
        >>> shape_note(of_axes("M", (2, 3)), derivative=True)[2]
        '∂M/∂s has the shape of Mᵀ (k×r), notes Definition 17'
        >>> shape_note(wrt_axes("M", (2, 3)), derivative=True)    # ∂s/∂M
        ('M[0]', 'M[1]', '∂s/∂M has the shape of M, notes Definition 18')
    """
    rows, cols = groups(axes)
    r = len(axes)
    if r == 0:
        return "—", "—", "a scalar"
    if rows and cols:
        if r == 2 and axes[cols[0]].role == "of":
            note = "∂w/∂v is (m×n), row i ↔ vᵢ, column j ↔ wⱼ, notes Definition 13"
        elif r == 2:
            note = "a second derivative: rows the first differentiation, columns the second"
        else:
            note = "the notes' flattening (A.58, stack the columns): rows the input, columns " \
                   "the output"
        return _describe(axes, rows), _describe(axes, cols), note
    if rows:  # a gradient: the variable's own shape (a vector as a column)
        if r == 1:
            return _describe(axes, rows), "—", "∂s/∂v is a column (m×1), notes Definition 9"
        note = "∂s/∂M has the shape of M, notes Definition 18"
        if r == 2:
            return axis_name(axes[0]), axis_name(axes[1]), note
        return (axis_name(axes[0]), f"{', '.join(axis_name(a) for a in axes[1:])} (the array "
                "keeps the variable's shape)", note.replace("M", "T"))
    if not derivative:
        return _describe(axes, [0]), _describe(axes, list(range(1, r))), "a value"
    if r == 1:
        return "—", _describe(axes, cols), "∂w/∂s is a row (1×n), notes Definition 11"
    if r == 2:
        return (axis_name(axes[1]), axis_name(axes[0]),
                "∂M/∂s has the shape of Mᵀ (k×r), notes Definition 17")
    return "—", _describe(axes, cols), "∂T/∂s: a row, the output stacked (A.58)"


def present(arr: np.ndarray, axes: Sequence[Axis], derivative: bool) -> np.ndarray:
    """``arr`` (its axes ``axes``, in the notes' order) in the notes' shape (module docstring).

    Example:
        >>> import numpy as np
        >>> from tensorderiv.core.axes import wrt_axes
        >>> present(np.arange(3.0), wrt_axes("v", (3,)), derivative=True).shape  # a column
        (3, 1)
    """
    rows, cols = groups(axes)
    r = arr.ndim
    if r == 0:
        return arr
    if rows and cols:
        return flatten(arr, rows, cols)
    if rows:
        return arr.reshape(-1, 1) if r == 1 else arr
    if not derivative:
        return arr.reshape(-1, 1) if r == 1 else flatten(arr, [0], list(range(1, r)))
    if r == 1:
        return arr.reshape(1, -1)
    return arr.T if r == 2 else flatten(arr, [], cols)


def slot_order(axis_map: Sequence[int | None], axes: Sequence[Axis], n_slots: int
               ) -> tuple[list[int], list[Axis]]:
    """The core's slots in the order of the first full axis reading each, and those axes.

    Example:
        >>> from tensorderiv.core.axes import of_axes
        >>> order, reps = slot_order((1, None, 0), of_axes("T", (2, 3, 4)), 2)
        >>> order, [a.index for a in reps]
        ([1, 0], [0, 2])
    """
    first: dict[int, int] = {}
    for p, s in enumerate(axis_map):
        if s is not None and s < n_slots:
            first.setdefault(s, p)
    order = sorted(first, key=first.__getitem__)
    return order, [axes[first[s]] for s in order]
