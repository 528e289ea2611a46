"""How a collapsed form enters a chain rule: one function per rule of a MatrixForm.

Each function takes a collapsed form (anything shaped like
:class:`~tensorderiv.forms.matrixform.MatrixForm`: ``factors``, ``axis_map``, ``axes`` and the
shapes and arrays built from them, see :class:`Form`) and a downstream derivative ``g`` = ∂L/∂Y,
and returns ∂L/∂X without expanding the full c-tensor where the rule allows it.
:meth:`MatrixForm.apply <tensorderiv.forms.matrixform.MatrixForm.apply>` chooses the function by
the form's rule and falls back to :func:`apply_einsum`, the one contraction that serves any form.
It imports only :mod:`tensorderiv.core`.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Protocol

import numpy as np
import opt_einsum as oe

from ..core.axes import Axis
from ..core.ctensor import expand_core

__all__ = ["APPLY", "Form", "apply_einsum", "positions"]


class Form(Protocol):
    """What the rules read from a collapsed form (a :class:`~tensorderiv.MatrixForm`)."""

    factors: tuple[np.ndarray, ...]
    axis_map: tuple[int | None, ...]
    axes: tuple[Axis, ...]

    @property
    def wrt_shape(self) -> tuple[int, ...]: ...  # noqa: D102

    @property
    def of_shape(self) -> tuple[int, ...]: ...  # noqa: D102

    @property
    def n_slots(self) -> int: ...  # noqa: D102

    def core(self) -> np.ndarray: ...  # noqa: D102

    def expand(self, layout: Any = "notes") -> np.ndarray: ...  # noqa: D102


# ---------------------------------------------------------------------- the rules, one each
def positions(form: Form) -> tuple[list[int], list[int]]:
    """The positions of the input (``wrt``) axes and of the output (``of``) axes, in order.

    Example:
        >>> import numpy as np
        >>> import tensorderiv as td
        >>> positions(td.reduce(np.ones((2, 3)), wrt_axes=1))
        ([0], [1])
    """
    return ([p for p, a in enumerate(form.axes) if a.role == "wrt"],
            [p for p, a in enumerate(form.axes) if a.role == "of"])


def _apply_zero(form: Form, g: np.ndarray) -> np.ndarray:
    return np.zeros(form.wrt_shape + g.shape[len(form.of_shape):], dtype=np.result_type(
        form.factors[0], g))


def _apply_scale(form: Form, g: np.ndarray) -> np.ndarray:  # c · g (identity pairing)
    return form.core().reshape(()) * g


def _apply_elementwise(form: Form, g: np.ndarray) -> np.ndarray:  # d ⊙ g (Concept 34)
    wrt, _ = positions(form)
    d = expand_core(form.core(), [form.axis_map[p] for p in wrt], form.wrt_shape)
    return np.asarray(d).reshape(d.shape + (1,) * (g.ndim - d.ndim)) * g


def _apply_outer(form: Form, g: np.ndarray) -> np.ndarray:  # A gᵀ (A.61)
    wrt, of = positions(form)
    K = form.n_slots
    partner = {form.axis_map[q]: i for i, q in enumerate(of)}
    perm = [form.axis_map[p] if form.axis_map[p] < K else K + partner[form.axis_map[p]]  # type: ignore[operator]
            for p in wrt]
    perm += list(range(K + len(of), K + g.ndim))
    return np.multiply.outer(form.core(), g).transpose(perm)


def _apply_matmul(form: Form, g: np.ndarray) -> np.ndarray:  # M · vec(g)
    return np.tensordot(form.expand(), g, axes=len(form.of_shape))


def apply_einsum(form: Form, g: np.ndarray) -> np.ndarray:
    """Any form: one contraction of the factors with ``g``, deltas as shared labels.

    Example — the same numbers as expanding the c-tensor and contracting it:
        >>> import numpy as np
        >>> import tensorderiv as td
        >>> form = td.reduce(np.einsum("i,jk->ijk", np.array([1.0, 2.0]), np.eye(3)), 2)
        >>> g = np.array([3.0, 4.0, 5.0])
        >>> np.allclose(apply_einsum(form, g), np.tensordot(form.expand(), g, axes=1))
        True
    """
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


APPLY: dict[str, Callable[[Form, np.ndarray], np.ndarray]] = {
    "zero": _apply_zero,
    "scale": _apply_scale,
    "elementwise": _apply_elementwise,
    "outer": _apply_outer,
    "matmul": _apply_matmul,
}
