"""The chain rule of each matrix form, applied without expanding it (notes A.61, Concept 34).

``APPLY[rule](form, g)`` multiplies ∂L/∂Y = ``g`` (notes layout, Y the form's output) by a
:class:`~tensorderiv.forms.matrixform.MatrixForm` whose rule is ``rule`` and gives ∂L/∂X;
:func:`apply_einsum` does it for any form, as one contraction of the collapsed factors with
``g`` (the deltas as shared labels). ``MatrixForm.apply`` picks one; the table of rules is in
:mod:`tensorderiv.forms.matrixform`'s docstring. The form is typed ``Any`` here because this
module sits below the class that uses it.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import opt_einsum as oe

from ..core.ctensor import expand_core

__all__ = ["APPLY", "apply_einsum", "positions"]


# ---------------------------------------------------------------------- the rules, one each
def positions(form: Any) -> tuple[list[int], list[int]]:
    """The positions of the input (``wrt``) axes and of the output axes of a form."""
    return ([p for p, a in enumerate(form.axes) if a.role == "wrt"],
            [p for p, a in enumerate(form.axes) if a.role == "of"])


def _apply_zero(form: Any, g: np.ndarray) -> np.ndarray:
    return np.zeros(form.wrt_shape + g.shape[len(form.of_shape):], dtype=np.result_type(
        form.factors[0], g))


def _apply_scale(form: Any, g: np.ndarray) -> np.ndarray:  # c · g (identity pairing)
    return form.core().reshape(()) * g


def _apply_elementwise(form: Any, g: np.ndarray) -> np.ndarray:  # d ⊙ g (Concept 34)
    wrt, _ = positions(form)
    d = expand_core(form.core(), [form.axis_map[p] for p in wrt], form.wrt_shape)
    return np.asarray(d).reshape(d.shape + (1,) * (g.ndim - d.ndim)) * g


def _apply_outer(form: Any, g: np.ndarray) -> np.ndarray:  # A gᵀ (A.61)
    wrt, of = positions(form)
    K = form.n_slots
    partner = {form.axis_map[q]: i for i, q in enumerate(of)}
    perm = [form.axis_map[p] if form.axis_map[p] < K else K + partner[form.axis_map[p]]  # type: ignore[operator]
            for p in wrt]
    perm += list(range(K + len(of), K + g.ndim))
    return np.multiply.outer(form.core(), g).transpose(perm)


def _apply_matmul(form: Any, g: np.ndarray) -> np.ndarray:  # M · vec(g)
    return np.tensordot(form.expand(), g, axes=len(form.of_shape))


def apply_einsum(form: Any, g: np.ndarray) -> np.ndarray:
    """Any form: one contraction of the factors with ``g``, deltas as shared labels."""
    wrt, of = positions(form)
    ids: dict[Any, int] = {}

    def lab(x: Any) -> int:
        return ids.setdefault(x, len(ids))

    operands: list[Any] = []
    off = 0
    for f in form.factors:
        operands += [f, [lab(("s", s)) for s in range(off, off + f.ndim)]]
        off += f.ndim
    trailing = [lab(("t", i)) for i in range(g.ndim - len(of))]
    g_labels = [lab(("s", form.axis_map[q]) if form.axis_map[q] is not None else ("free", q))
                for q in of]
    operands += [g, g_labels + trailing]
    present_labels = {x for k in range(1, len(operands), 2) for x in operands[k]}
    out: list[int] = []
    for p in wrt:
        s = form.axis_map[p]
        if s is not None and ids.get(("s", s)) in present_labels and ids[("s", s)] not in out:
            out.append(ids[("s", s)])
    out += trailing
    core = oe.contract(*operands, out)
    amap: list[int | None] = []
    implicit: dict[int, int] = {}
    for p in wrt:
        s = form.axis_map[p]
        if s is None:
            amap.append(None)
        elif ids.get(("s", s)) in out:
            amap.append(out.index(ids[("s", s)]))
        else:
            amap.append(len(out) + implicit.setdefault(s, len(implicit)))
    amap += [out.index(t) for t in trailing]
    sizes = form.wrt_shape + g.shape[len(of):]
    return np.array(expand_core(np.asarray(core), amap, sizes))


APPLY: dict[str, Callable[[Any, np.ndarray], np.ndarray]] = {
    "zero": _apply_zero,
    "scale": _apply_scale,
    "elementwise": _apply_elementwise,
    "outer": _apply_outer,
    "matmul": _apply_matmul,
}
