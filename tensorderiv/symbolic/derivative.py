"""``derive``: derivatives of any order as expressions, evaluated in the notes' layout.

A :class:`Derivative` is itself an expression, so it can be differentiated again. Its value is a
:class:`~tensorderiv.CTensor` whose axes are, in order, the variable's axes once per
differentiation (the newest first), then the output's axes:
``np.asarray(td.derive(e, "x", order=k, shapes=s).evaluate(v)).shape == x.shape * k + e.shape``.
``wrt=(W, x)`` gives the mixed derivative ∂²L/∂W∂x, axes W then x then L.

Example:
    >>> import numpy as np
    >>> import tensorderiv as td
    >>> d = td.derive("x.T @ A @ x", "x", shapes={"x": (2,), "A": (2, 2)})
    >>> A = np.array([[1.0, 2.0], [3.0, 4.0]])
    >>> d.evaluate({"x": np.array([1.0, 1.0]), "A": A}).dense()   # (A + Aᵀ) x
    array([ 7., 13.])
    >>> H = td.derive(d, "x")                                        # A + Aᵀ
    >>> H.evaluate({"x": np.zeros(2), "A": A}).dense()
    array([[2., 5.],
           [5., 8.]])
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from ..core.axes import Axis
from ..core.ctensor import CTensor
from ..core.errors import LabelError
from .differentiate import derivative
from .evaluate import Program
from .expr import Expr
from .limits import check_order
from .nodes import Var
from .parse import parse

__all__ = ["Compiled", "Derivative", "derive"]

_SUPERSCRIPT = str.maketrans("0123456789", "⁰¹²³⁴⁵⁶⁷⁸⁹")


class Derivative(Expr):
    """A derivative: an expression whose value is a c-tensor in the notes' layout.

    Attributes:
        of: the expression differentiated (never itself a derivative).
        wrt: the variables differentiated against, ``(name, shape)`` in axis order (newest
            differentiation first).
    """

    __slots__ = ("_program", "of", "variables_allowed", "wrt")
    _depth_limited = False  # deeper than what it differentiates; the engine walks iteratively

    def __init__(self, node: Any, of: Expr, wrt: tuple[tuple[str, tuple[int, ...]], ...],
                 allowed: Mapping[str, tuple[int, ...]]) -> None:
        super().__init__(node, _notation(of, wrt), declared=allowed)
        self.of = of
        self.wrt = wrt
        self.variables_allowed = dict(allowed)
        self._program: Program | None = None

    @property
    def order(self) -> int:
        """How many differentiations."""
        return len(self.wrt)

    def _axes(self) -> list[Axis]:
        axes: list[Axis] = []
        for copy, (name, shape) in enumerate(self.wrt, start=1):
            axes.extend(Axis((name, copy, i), n, "wrt", name, i, copy)
                        for i, n in enumerate(shape))
        out = self.of.text if isinstance(self.of.node, Var) else "f"
        axes.extend(Axis((out, 0, i), n, "of", out, i) for i, n in enumerate(self.of.shape))
        return axes

    def _run(self, program: Program, values: Mapping[str, Any]) -> CTensor:
        ct = program.run(values)
        return ct.with_axes(self._axes(), wrt=self.wrt)

    def evaluate(self, values: Mapping[str, Any]) -> CTensor:
        """The derivative's value at ``values`` (variable name → array), notes' layout."""
        return self._run(self._new_program(), values)

    def compile(self) -> Compiled:
        """A callable that evaluates many times, its contraction plans built once."""
        return Compiled(self)

    def _new_program(self) -> Program:
        return Program(self.node, self.variables_allowed, f"'{self.text}'")


class Compiled:
    """``compiled(values)``: a derivative evaluated with its plans built on the first call.

    Example:
        >>> import numpy as np
        >>> import tensorderiv as td
        >>> f = td.derive("sum(x ** 3)", "x", shapes={"x": (2,)}).compile()
        >>> f({"x": np.array([1.0, 2.0])}).dense()
        array([ 3., 12.])
    """

    def __init__(self, derivative: Derivative) -> None:
        self.derivative = derivative
        self.program = derivative._new_program()

    def __call__(self, values: Mapping[str, Any]) -> CTensor:
        """Evaluate at ``values`` (variable name → array)."""
        return self.derivative._run(self.program, values)

    def __repr__(self) -> str:
        return f"Compiled({self.derivative.text!r}, {len(self.program.plans)} plans)"


def _notation(of: Expr, wrt: Sequence[tuple[str, tuple[int, ...]]]) -> str:
    k = len(wrt)
    top = "∂" if k == 1 else f"∂{str(k).translate(_SUPERSCRIPT)}"
    names = [n for n, _ in wrt]
    if len(set(names)) == 1:
        bottom = f"∂{names[0]}" + ("" if k == 1 else str(k).translate(_SUPERSCRIPT))
    else:
        bottom = "".join(f"∂{n}" for n in names)
    return f"{top}({of.text})/{bottom}"


def _resolve(expr: Expr, w: Any, variables: Mapping[str, tuple[int, ...]]) -> Var:
    if isinstance(w, Expr):
        if not isinstance(w.node, Var):
            raise TypeError(f"wrt must be a variable, got the expression {w.text!r}")
        return w.node
    if isinstance(w, str):
        if w not in variables:
            raise LabelError(f"cannot differentiate {expr.text!r} with respect to {w!r}: it is "
                             f"not a variable of the expression (its variables: "
                             f"{', '.join(sorted(variables)) or 'none'})")
        return Var.make(w, variables[w])
    raise TypeError(f"wrt must be a variable or its name, got {type(w).__name__}")


def derive(
    expr: Expr | str,
    wrt: Any,
    *,
    shapes: Mapping[str, Sequence[int] | int] | None = None,
    order: int = 1,
) -> Derivative:
    """The derivative of ``expr`` with respect to ``wrt``, of order ``order``.

    Args:
        expr: an expression, a derivative (to differentiate again), or expression text.
        wrt: a variable or its name; a tuple of them for a mixed derivative (``(W, x)`` gives
            ∂²/∂W∂x, axes W, x, then the output's).
        shapes: variable name → shape, for expression text.
        order: how many times to differentiate (with a single ``wrt``).

    Returns:
        A :class:`Derivative`; ``.evaluate(values)`` gives its c-tensor in the notes' layout.
    """
    if isinstance(expr, str):
        expr = parse(expr, shapes)
    elif shapes is not None:
        raise TypeError("shapes is for expression text; an Expr already knows its shapes")
    if not isinstance(expr, Expr):
        raise TypeError(f"derive takes an expression or its text, got {type(expr).__name__}")
    if not isinstance(order, int) or isinstance(order, bool) or order < 1:
        raise ValueError(f"order must be a positive integer, got {order!r}")
    if isinstance(expr, Derivative):
        check_order(expr.order + (len(wrt) if isinstance(wrt, tuple | list) else order))
    else:
        check_order(len(wrt) if isinstance(wrt, tuple | list) else order)
    if isinstance(expr, Derivative):
        base, chain, allowed = expr.of, expr.wrt, dict(expr.variables_allowed)
    else:
        base, chain = expr, ()
        allowed = dict(expr.declared)
    variables = dict(allowed)
    targets = list(wrt) if isinstance(wrt, tuple | list) else [wrt] * order
    if isinstance(wrt, tuple | list) and order != 1:
        raise ValueError("give either a tuple wrt (a mixed derivative) or order, not both")
    if not targets:
        raise ValueError("wrt is empty; name at least one variable to differentiate against")
    node = expr.node
    for w in reversed(targets):  # the last named is differentiated first
        x = _resolve(base, w, variables)
        if x.name in variables and variables[x.name] != x.shape:
            raise LabelError(f"variable {x.name!r} has shape {variables[x.name]} in the "
                             f"expression but {x.shape} in wrt")
        allowed.setdefault(x.name, x.shape)
        node = derivative(node, x)
        chain = ((x.name, x.shape), *chain)
    return Derivative(node, base, chain, allowed)
