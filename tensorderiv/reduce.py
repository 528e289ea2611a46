"""Matrix forms of c-tensors, in the notes' shapes (notes A.2–A.7, A.8.3).

:class:`MatrixForm` is what a reduction returns: the collapsed ``array`` in the notes' shape, the
``structure`` found, the ``rule`` for using it in a chain rule, and :meth:`MatrixForm.expand`,
which gives back the full c-tensor (notes layout) exactly.

For c-tensors of rank ≤ 2 the notes fix the shapes:

========================  ====================  ==========================================
derivative                full axes             matrix form
========================  ====================  ==========================================
∂s/∂v, v (m)              (m,)                  column (m×1)
∂w/∂s, w (n)              (n,)                  row (1×n)
∂w/∂v                     (m, n)                (m×n), row i ↔ vᵢ, column j ↔ wⱼ
∂s/∂M, M (r×k)            (r, k)                (r×k), the shape of M
∂M/∂s, M (r×k)            (r, k)                (k×r), the shape of Mᵀ
========================  ====================  ==========================================

Example:
    >>> import numpy as np
    >>> from tensorderiv import CTensor
    >>> from tensorderiv.axes import of_axes
    >>> dM_ds = CTensor(np.arange(6.0).reshape(2, 3), of_axes("M", (2, 3)), wrt=(("s", ()),))
    >>> dM_ds.matrix_form().array.shape   # the shape of Mᵀ
    (3, 2)
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from .ctensor import CTensor, register_matrix_form
from .errors import StructureError

__all__ = ["MatrixForm", "reduce_ctensor"]


@dataclass(frozen=True)
class MatrixForm:
    """A c-tensor collapsed into a matrix (or vector) of the notes.

    Attributes:
        array: the collapsed array, in the notes' shape.
        structure: what was found: ``"dense"``, ``"zero"``, ``"diagonal"`` …
        rule: how it enters a chain rule: ``"matmul"``, ``"elementwise"``, ``"outer"`` …
        rows: in words, what the rows of ``array`` stand for.
        cols: in words, what the columns stand for.
        note: why this form, or what blocked a stronger collapse.
        full_shape: the shape of the full c-tensor in the notes' layout.
    """

    array: np.ndarray
    structure: str
    rule: str
    rows: str
    cols: str
    note: str
    full_shape: tuple[int, ...]
    _perm: tuple[int, ...] = field(default=(), repr=False)

    def expand(self) -> np.ndarray:
        """The full c-tensor (notes layout) this form stands for."""
        perm_shape = tuple(self.full_shape[p] for p in self._perm)
        arr = np.asarray(self.array).reshape(perm_shape)
        return np.transpose(arr, np.argsort(self._perm)) if self._perm else arr.reshape(())

    def __str__(self) -> str:
        return (f"{self.structure} matrix form {self.array.shape} ({self.rule}); rows: {self.rows};"
                f" columns: {self.cols}\n{self.array}")


def _names(axes: list[Any]) -> str:
    return ", ".join(f"{a.var}[{a.index}]" if a.var is not None else repr(a.label)
                     for a in axes) or "—"


def _small_form(ct: CTensor) -> MatrixForm:
    """The notes' layout for c-tensors of rank ≤ 2 (no structure search)."""
    ins = [p for p, a in enumerate(ct.axes) if a.role == "wrt"]
    outs = [p for p, a in enumerate(ct.axes) if a.role == "of"]
    full = ct.dense()
    is_derivative = bool(ct.wrt) or bool(ins)
    if ct.ndim == 0:
        return MatrixForm(full, "dense", "scale", "—", "—", "a scalar", (), ())
    if ct.ndim == 1:
        if ins or not is_derivative:  # ∂s/∂v, or a plain vector (the notes' vectors are columns)
            return MatrixForm(full.reshape(-1, 1), "dense", "matmul", _names([ct.axes[0]]), "—",
                              "∂s/∂v is a column (m×1), notes Definition 9", ct.shape, (0,))
        return MatrixForm(full.reshape(1, -1), "dense", "matmul", "—", _names([ct.axes[0]]),
                          "∂w/∂s is a row (1×n), notes Definition 11", ct.shape, (0,))
    # rank 2
    if len(outs) == 2 and is_derivative:  # ∂M/∂s has the shape of Mᵀ (Definition 17)
        return MatrixForm(full.T, "dense", "matmul", _names([ct.axes[1]]), _names([ct.axes[0]]),
                          "∂M/∂s has the shape of Mᵀ (k×r), notes Definition 17", ct.shape,
                          (1, 0))
    if len(ins) == 2:
        same_copy = ct.axes[0].copy == ct.axes[1].copy
        note = ("∂s/∂M has the shape of M, notes Definition 18" if same_copy
                else "a second derivative: rows the first differentiation, columns the second")
    elif len(ins) == 1:
        note = "∂w/∂v is (m×n), row i ↔ vᵢ, column j ↔ wⱼ, notes Definition 13"
    else:
        note = "a matrix value"
    return MatrixForm(full, "dense", "matmul", _names([ct.axes[0]]), _names([ct.axes[1]]), note,
                      ct.shape, (0, 1))


def reduce_ctensor(ct: CTensor) -> MatrixForm:
    """The notes' matrix form of a c-tensor (rank ≤ 2 so far)."""
    if ct.ndim <= 2:
        return _small_form(ct)
    raise StructureError(
        f"c-tensor of shape {ct.shape} has rank {ct.ndim}; matrix forms are defined for rank ≤ 2"
    )


register_matrix_form(reduce_ctensor)
