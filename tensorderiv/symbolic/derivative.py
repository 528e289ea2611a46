"""``derive``: derivatives of any order as expressions, evaluated in the notes' layout.

A :class:`Derivative` is itself an expression, so it can be differentiated again. Its value is a
:class:`~tensorderiv.CTensor` whose axes are, in order, the variable's axes once per
differentiation (the newest first), then the output's axes:
``np.asarray(td.derive(e, "x", order=k, shapes=s).evaluate(v)).shape == x.shape * k + e.shape``.
``wrt=(W, x)`` gives the mixed derivative ∂²L/∂W∂x, axes W then x then L. ``wrt`` may also be a
subexpression (``td.derive(L, W.T @ X)``: ∂L/∂Z of the notes' A.9, Z held as a variable where it
is used), and a declared variable the expression does not use gives zero.

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

import numpy as np

from ..core.axes import Axis
from ..core.ctensor import CTensor
from ..core.errors import ArgumentError, LabelError, OptionError, TensorDerivError
from ..core.progress import track
from .differentiate import derivative
from .evaluate import Program
from .evaluate import evaluate as evaluate_expr
from .expr import Declared, Expr
from .limits import check_order
from .nodes import Node, Var
from .parse import parse
from .reverse import adjoints
from .simplify import HOLD_NESTING
from .substitute import substitute

TAYLOR_ORDER = 3
"""From this order on, derivatives of a scalar through nested functions are built forward over
reverse (see ``derive``); lower orders keep the forward form the notation is written from."""

__all__ = ["Compiled", "Derivative", "derive", "evaluate"]

_SUPERSCRIPT = str.maketrans("0123456789", "⁰¹²³⁴⁵⁶⁷⁸⁹")


class Derivative(Expr):
    """A derivative: an expression whose value is a c-tensor in the notes' layout.

    Attributes:
        of: the expression differentiated (never itself a derivative).
        wrt: the variables differentiated against, ``(name, shape)`` in axis order (newest
            differentiation first).
        held: the subexpressions held as variables (``derive(expr, sub)``), ``(name, sub)``
            pairs; a held value not given to :meth:`evaluate` is computed from the others.
    """

    __slots__ = ("_program", "held", "of", "variables_allowed", "wrt")
    _depth_limited = False  # deeper than what it differentiates; the engine walks iteratively

    def __init__(self, node: Any, of: Expr, wrt: tuple[tuple[str, tuple[int, ...]], ...],
                 allowed: Mapping[str, tuple[int, ...]],
                 held: tuple[tuple[str, Expr], ...] = ()) -> None:
        super().__init__(node, _notation(of, wrt), declared=Declared(allowed, allowed))
        self.of = of
        self.wrt = wrt
        self.variables_allowed = dict(allowed)
        self.held = held
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

    def _run(self, program: Program, values: Mapping[str, Any],
             held: Sequence[tuple[str, Program]] = ()) -> CTensor:
        if held and isinstance(values, Mapping):
            names = {n for n, _ in held}
            given = {k: v for k, v in values.items() if k not in names}
            values = dict(values)
            for name, sub in held:
                if name not in values:  # the held subexpression's value, from the others
                    values[name] = np.asarray(sub.run(given).dense())
        out = program.run(values).with_axes(self._axes(), wrt=self.wrt)
        out.origin = (self, values)  # matrix_form() writes the collapsed notation from these
        return out

    def _held_programs(self) -> list[tuple[str, Program]]:
        names = {n for n, _ in self.held}
        allowed = {k: v for k, v in self.variables_allowed.items() if k not in names}
        return [(n, Program(e.node, allowed, f"'{e.text}' (held as {n})")) for n, e in self.held]

    def evaluate(self, values: Mapping[str, Any]) -> CTensor:
        """The derivative's value at ``values`` (variable name → array), notes' layout.

        Values may be given for every variable declared with the expression (the same shapes
        mapping), used or not; a held subexpression's value is computed from the variables it
        is written with unless it is given by its name.
        """
        return self._run(self._new_program(), values, self._held_programs())

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
        self.held = derivative._held_programs()

    def __call__(self, values: Mapping[str, Any]) -> CTensor:
        """Evaluate at ``values`` (variable name → array)."""
        return self.derivative._run(self.program, values, self.held)

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


def _listing(expr: Expr, variables: Mapping[str, tuple[int, ...]]) -> str:
    return (f"the variables of {expr.text!r}: "
            + (", ".join(f"{n} {variables[n]}" for n in sorted(variables)) or "none"))


def _resolve(expr: Expr, w: Any, variables: Mapping[str, tuple[int, ...]]) -> Var | Expr:
    """A variable to differentiate against, or a subexpression (an Expr) to hold as one."""
    if isinstance(w, Expr):
        return w.node if isinstance(w.node, Var) else w
    if isinstance(w, str):
        why = ""
        if w not in variables and not w.isidentifier():
            try:  # the text of a subexpression, read with the expression's variables
                sub = parse(w, variables)
                return sub.node if isinstance(sub.node, Var) else sub
            except TensorDerivError as exc:
                why = f"; read as an expression: {str(exc).splitlines()[0]}"
        if w not in variables:
            raise LabelError(f"cannot differentiate {expr.text!r} with respect to {w!r}: it is "
                             f"not a variable of the expression, nor declared with it "
                             f"({_listing(expr, variables)}){why}; pass a variable, its "
                             "name, or a subexpression (an Expr or its text) of the expression")
        return Var.make(w, variables[w])
    raise ArgumentError(f"wrt must be a variable, its name, or a subexpression (an Expr) of the "
                        f"expression, got {type(w).__name__}")


def _hold(base: Expr, node: Node, sub: Expr, name: str | None,
          variables: Mapping[str, tuple[int, ...]]) -> tuple[str, Node]:
    """Replace ``sub`` in ``node`` by a fresh variable; its name and the new node."""
    if not sub.node.vars:
        raise LabelError(f"cannot differentiate {base.text!r} with respect to {sub.text!r}: it "
                         "is a constant; pass a variable or a subexpression that has variables")
    held = name if name is not None else f"({sub.text})"
    if held in variables:
        raise LabelError(f"cannot hold {sub.text!r} as {held!r}: that is already a variable of "
                         f"{base.text!r}; give it another name with name=")
    replaced = substitute(node, sub.node, Var.make(held, sub.shape))
    if held not in replaced.vars:
        raise LabelError(f"cannot differentiate {base.text!r} with respect to {sub.text!r}: it "
                         f"does not occur in the expression ({_listing(base, variables)}); pass "
                         "a variable, or a subexpression of it)")
    return held, replaced


def derive(
    expr: Expr | str,
    wrt: Any,
    *,
    shapes: Mapping[str, Sequence[int] | int] | None = None,
    order: int = 1,
    name: str | None = None,
) -> Derivative:
    """The derivative of ``expr`` with respect to ``wrt``, of order ``order``.

    ``wrt`` may be a variable, or a subexpression of ``expr`` (∂A/∂Z, ∂L/∂Z in the notes'
    A.9): then it is held as an independent variable of its shape at its point of use — every
    occurrence of it in what is differentiated at that step is replaced by a fresh variable,
    which is then differentiated against. Its value is computed from the other variables'
    values, or given under its name. Steps go from the last named to the first, so
    ``wrt=(Z, W)`` is ∂/∂Z of ∂L/∂W (Z held in the gradient: ∂Z/∂W · ∂²L/∂Z², the same as
    ``derive(derive(L, W), Z)``), while ``wrt=(W, Z)`` differentiates ∂L/∂Z with Z held, so a W
    that enters only through Z gives zero.

    With respect to a declared variable that ``expr`` does not use (declared in the same shapes
    mapping, or a ``td.var`` passed in), the derivative is zero: a c-tensor with no storage,
    structure ``zero``.

    Args:
        expr: an expression, a derivative (to differentiate again), or expression text.
        wrt: a variable, its name, or a subexpression (an ``Expr``, or its text such as
            ``"W.T @ X"``); a tuple of them for a mixed derivative (``(W, x)`` gives ∂²/∂W∂x,
            axes W, x, then the output's).
        shapes: variable name → shape, for expression text.
        order: how many times to differentiate (with a single ``wrt``).
        name: the name a held subexpression's variable takes (its value can be given under
            it); defaults to its text in parentheses, e.g. ``"(W.T @ X)"``.

    Returns:
        A :class:`Derivative`; ``.evaluate(values)`` gives its c-tensor in the notes' layout.

    Raises:
        LabelError: ``wrt`` names no declared variable, or is a subexpression that does not
            occur in ``expr`` (the message lists the expression's variables).

    Example — the notes' A.9 layer, Z = WᵀX, A = tanh(Z), L = Σ(A − Y)²:
        >>> import numpy as np
        >>> import tensorderiv as td
        >>> s = {"W": (3, 2), "X": (3, 4), "Y": (2, 4)}
        >>> W, X, Y = (td.var(n, sh) for n, sh in s.items())
        >>> Z = W.T @ X
        >>> L = td.sum((td.tanh(Z) - Y) ** 2)
        >>> dL_dZ = td.derive(L, Z, name="Z")
        >>> dL_dZ.text
        '∂(sum((tanh(W.T @ X) - Y) ** 2))/∂Z'
        >>> v = {"W": np.ones((3, 2)) / 10, "X": np.ones((3, 4)), "Y": np.zeros((2, 4))}
        >>> g = dL_dZ.evaluate(v).dense()            # 2 (A − Y) ⊙ (1 − A²), Z's shape
        >>> A = np.tanh(v["W"].T @ v["X"])
        >>> np.allclose(g, 2 * A * (1 - A ** 2))
        True
        >>> td.derive(td.parse("sum(x)", {"x": (2,), "u": (3,)}), "u").evaluate(
        ...     {"x": np.ones(2), "u": np.ones(3)}).is_zero         # declared, unused: zero
        True
    """
    if isinstance(expr, str):
        expr = parse(expr, shapes)
    elif shapes is not None:
        raise ArgumentError("shapes is for expression text; an Expr already knows its shapes")
    if not isinstance(expr, Expr):
        raise ArgumentError(f"derive takes an expression, a Derivative or expression text, got "
                            f"{type(expr).__name__}; to check a CTensor's numbers use "
                            "td.check_derivative, to collapse it td.reduce")
    if not isinstance(order, int) or isinstance(order, bool) or order < 1:
        raise OptionError(f"derive: order must be a positive integer (how many times to "
                          f"differentiate), got {order!r}")
    if isinstance(expr, Derivative):
        check_order(expr.order + (len(wrt) if isinstance(wrt, tuple | list) else order))
    else:
        check_order(len(wrt) if isinstance(wrt, tuple | list) else order)
    if isinstance(expr, Derivative):
        base, chain, allowed = expr.of, expr.wrt, dict(expr.variables_allowed)
        held = list(expr.held)
    else:
        base, chain = expr, ()
        allowed = dict(expr.scope)
        held = []
    variables = dict(allowed)
    targets = list(wrt) if isinstance(wrt, tuple | list) else [wrt] * order
    if isinstance(wrt, tuple | list) and order != 1:
        raise OptionError("give either a tuple wrt (a mixed derivative) or order, not both")
    if not targets:
        raise OptionError("wrt is empty; name at least one variable to differentiate against")
    resolved = [_resolve(base, w, variables) for w in targets]
    subs = {r.node for r in resolved if isinstance(r, Expr)}
    if name is not None and len(subs) != 1:
        raise OptionError(f"name= names one held subexpression, but wrt holds {len(subs)}")
    node = expr.node
    # a third or higher derivative of a scalar through nested functions is built forward over
    # reverse, as Taylor arithmetic would: the gradient by reverse accumulation with each
    # adjoint one shared node, then forward derivatives of it with the chain's Jacobians shared
    # too, so the graph grows polynomially with the order and no step contracts more than
    # the result needs (multiplied out, it grew about 10x per order through matrix products)
    taylor = (not isinstance(expr, Derivative) and len(resolved) >= TAYLOR_ORDER
              and node.ndim == 0 and node.nesting >= HOLD_NESTING
              and all(isinstance(r, Var) for r in resolved))
    # a sub held before (differentiating a derivative again) keeps its variable
    by_node: dict[Node, Var] = {e.node: Var.make(n, e.shape) for n, e in held}
    for step, r in enumerate(track(resolved[::-1], desc="deriving")):  # the last named first
        if isinstance(r, Expr):  # held where it occurs in what is differentiated now
            x = by_node.get(r.node)
            if x is None:
                held_name, node = _hold(base, node, r, name, variables)
                x = by_node[r.node] = Var.make(held_name, r.shape)
                held.append((held_name, r))
                allowed[held_name] = variables[held_name] = r.shape
            else:
                node = substitute(node, r.node, x)
        else:
            x = r
        if x.name in variables and variables[x.name] != x.shape:
            raise LabelError(f"variable {x.name!r} has shape {variables[x.name]} in the "
                             f"expression but {x.shape} in wrt")
        allowed.setdefault(x.name, x.shape)
        if taylor and step == 0:
            (node,) = adjoints(node, [x], held=True)
        else:
            node = derivative(node, x, hold_dense=taylor)
        chain = ((x.name, x.shape), *chain)
    return Derivative(node, base, chain, allowed, tuple(held))


def evaluate(expr: Expr | str, values: Mapping[str, Any], *,
             shapes: Mapping[str, Sequence[int] | int] | None = None) -> CTensor:
    """The value of an expression, a derivative, or expression text, as a c-tensor.

    Args:
        expr: an :class:`~tensorderiv.Expr`, a :class:`Derivative` (its value in the notes'
            layout), or text (its shapes are ``shapes``, else those of ``values``).
        values: variable name → array; any variable declared with the expression may be given.
        shapes: variable name → shape, for text.

    Example:
        >>> import numpy as np
        >>> import tensorderiv as td
        >>> td.evaluate("sum(x ** 2)", {"x": np.array([1.0, 2.0])}).dense()
        array(5.)
        >>> d = td.derive("sum(x ** 2)", "x", shapes={"x": (2,)})
        >>> td.evaluate(d, {"x": np.array([1.0, 2.0])}).dense()
        array([2., 4.])
    """
    if isinstance(expr, str):
        if shapes is None and isinstance(values, Mapping):
            shapes = {k: tuple(np.shape(v)) for k, v in values.items()}
        expr = parse(expr, shapes)
    if isinstance(expr, Derivative):
        return expr.evaluate(values)
    if isinstance(expr, Expr):
        return evaluate_expr(expr, values)
    if isinstance(expr, CTensor):
        raise ArgumentError("this is a CTensor, a value already; evaluate takes an expression, a "
                            "Derivative or expression text")
    raise ArgumentError(f"evaluate takes an expression, a Derivative or expression text, got "
                        f"{type(expr).__name__}")
