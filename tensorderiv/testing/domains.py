"""Where an expression and its derivative are defined: what the strategies draw, as plain checks.

Kept apart from :mod:`tensorderiv.testing.strategies` so it needs no Hypothesis: which variables
a function restricts (positive, nonzero, invertible) and :func:`differentiable_at`, the test a
drawn point must pass (no kink, no infinite derivative, everything finite).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ..core.errors import TensorDerivError
from ..symbolic.derivative import derive
from ..symbolic.evaluate import Program, evaluate
from ..symbolic.nodes import Apply, Einsum, Node, Var, walk

__all__ = ["Shapes", "differentiable_at", "needs"]

_POSITIVE = frozenset({"log", "sqrt", "logabs"})  # logabs: the base of x ** y
_KINK_FUNCTIONS = frozenset({"abs", "relu", "sign", "step"})
_INVERTIBLE = frozenset({"inv", "det", "logdet"})


def _direct_var(node: Node) -> tuple[Var, float] | None:
    """The variable a function reads directly (or through a transpose/scale), and the scale."""
    if isinstance(node, Var):
        return node, 1.0
    if isinstance(node, Einsum) and len(node.terms) == 1 and isinstance(node.terms[0][0], Var):
        t, idx = node.terms[0]
        if len(set(idx)) == len(idx) == len(node.out) and set(idx) == set(node.out):
            return t, node.coef
    return None


def needs(node: Node) -> dict[str, set[str]]:
    """What each variable must be for the expression's functions: positive, nonzero, invertible."""
    need: dict[str, set[str]] = {}
    for n in walk(node):
        if not isinstance(n, Apply):
            continue
        found = _direct_var(n.arg)
        if found is None:
            continue
        v, coef = found
        if n.fn in _INVERTIBLE:
            need.setdefault(v.name, set()).add("invertible")
        elif coef > 0 and (n.fn in _POSITIVE or (n.fn == "pow" and not
                                                  float(n.params[0]).is_integer())):
            need.setdefault(v.name, set()).add("positive")
        elif n.fn == "pow" and n.params[0] < 0:
            need.setdefault(v.name, set()).add("nonzero")
    return need



class Shapes(dict):  # type: ignore[type-arg]
    """Variable name → shape, remembering the expression they belong to.

    :func:`expressions` gives its shapes as one, so that :func:`values_for` (given them) draws
    only points where the expression's derivative exists (see :func:`differentiable_at`).
    """

    def __init__(self, shapes: dict[str, tuple[int, ...]], expr: Any = None) -> None:
        super().__init__(shapes)
        self.expr = expr


def differentiable_at(expr: Any, values: dict[str, np.ndarray], margin: float = 0.05) -> bool:
    """True when ``expr`` and its derivative are defined at ``values``, away from every kink.

    The arguments of ``abs``, ``relu``, ``sign`` and ``step`` are at least ``margin`` away from
    0 (their kink), those of ``sqrt`` (``norm`` included) and of fractional powers at least
    ``margin²`` above 0 (the derivative is infinite at 0), and the value and the first
    derivative with respect to every variable evaluate without a domain error to finite numbers.

    Example:
        >>> import numpy as np
        >>> import tensorderiv as td
        >>> e = td.parse("norm(x)", {"x": (2,)})
        >>> differentiable_at(e, {"x": np.zeros(2)}), differentiable_at(e, {"x": np.ones(2)})
        (False, True)
    """
    expr = getattr(expr, "expr", expr)
    kinks = [n for n in walk(expr.node) if isinstance(n, Apply) and (
        n.fn in _KINK_FUNCTIONS or n.fn == "sqrt"
        or (n.fn == "pow" and not float(n.params[0]).is_integer()))]
    try:
        with np.errstate(all="ignore"):
            for n in kinks:
                prog = Program(n.arg)
                arg = np.asarray(prog.run({k: values[k] for k in prog.needed}).dense())
                if n.fn in _KINK_FUNCTIONS and np.any(np.abs(arg) < margin):
                    return False
                if n.fn not in _KINK_FUNCTIONS and np.any(arg < margin ** 2):
                    return False
            if not np.all(np.isfinite(evaluate(expr, values).dense())):
                return False
            for name in expr.variables:
                d = derive(expr, name).evaluate(values)
                if not np.all(np.isfinite(d.core)):
                    return False
    except TensorDerivError:
        return False
    return True
