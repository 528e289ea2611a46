"""User-facing expressions: variables, numpy-style operators and the function vocabulary.

An :class:`Expr` pairs an index-notation node (:mod:`tensorderiv.symbolic.nodes`) with the text a
person would write for it; operators follow numpy (broadcasting, ``@`` for 1-D and 2-D operands and
batches, ``.T`` reversing axes). Shape errors name the operation in the user's own terms.

Example:
    >>> import tensorderiv as td
    >>> W, x = td.var("W", (3, 2)), td.var("x", (3,))
    >>> e = td.tanh(W.T @ x)
    >>> e.shape, str(e)
    ((2,), 'tanh(W.T @ x)')
    >>> W @ x
    Traceback (most recent call last):
    ...
    tensorderiv.core.errors.ShapeError: W @ x: inner sizes differ (2 vs 3); (a×b)(b×c) needs the
    same b
"""

from __future__ import annotations

import math
import numbers
import operator
import re
from collections.abc import Mapping, Sequence
from typing import Any

from ..core.errors import ArgumentError, DomainError, ParseError, ShapeError
from ..core.renderers import Rendered
from .functions import FUNCTIONS, apply, power, softmax_last
from .limits import check_depth
from .nodes import Einsum, Node, Var, walk
from .simplify import add, constant, einsum, is_zero, scale

__all__ = [
    "ELEMENTWISE",
    "Declared",
    "Expr",
    "abs",
    "as_expr",
    "cos",
    "det",
    "diag",
    "dot",
    "exp",
    "inv",
    "log",
    "logdet",
    "logsumexp",
    "mean",
    "norm",
    "outer",
    "relu",
    "sigmoid",
    "sin",
    "softmax",
    "softplus",
    "sqrt",
    "square",
    "sum",
    "tanh",
    "trace",
    "var",
]

_ATOM, _POW, _UNARY, _MUL, _ADD = 100, 80, 70, 60, 50
_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*\Z")


class Declared(dict[str, tuple[int, ...]]):
    """The variables an expression is written with (name → shape), and its *scope*.

    The scope adds every variable declared alongside them — in the same ``td.parse`` shapes
    mapping, or in the operands it was built from — so that one dict of values for a whole
    model is accepted by each of its expressions and derivatives (a name outside the scope is
    still refused, as a likely misspelling).

    Example:
        >>> import tensorderiv as td
        >>> e = td.parse("W @ x", {"W": (2, 3), "x": (3,), "y": (2,)})
        >>> dict(e.declared), sorted(e.scope)
        ({'W': (2, 3), 'x': (3,)}, ['W', 'x', 'y'])
    """

    __slots__ = ("scope",)

    def __init__(self, used: Mapping[str, tuple[int, ...]],
                 scope: Mapping[str, tuple[int, ...]] | None = None) -> None:
        super().__init__(used)
        self.scope: dict[str, tuple[int, ...]] = {**(scope or {}), **self}


class Expr(Rendered):  # repr and rich display: tensorderiv.display
    """An expression: an index-notation node and the text it was written as.

    Attributes:
        node: the interned node (:mod:`tensorderiv.symbolic.nodes`).
        text: how a person writes it, e.g. ``"tanh(W.T @ x)"``.
    """

    __slots__ = ("_prec", "declared", "node", "text")
    __array_priority__ = 1000  # numpy scalars defer to our operators
    _depth_limited = True  # expressions as written obey limits.MAX_DEPTH (derivatives may not)

    def __init__(self, node: Node, text: str, prec: int = _ATOM,
                 declared: Mapping[str, tuple[int, ...]] | None = None) -> None:
        if self._depth_limited:
            check_depth(node, f"the expression {text if len(text) <= 60 else text[:57] + '...'}")
        self.node = node
        self.text = text
        self._prec = prec
        # the variables as written, even those that cancel out of the node (x - x), and the
        # scope: those declared alongside them (Declared)
        self.declared: Declared = Declared(
            declared if declared is not None else _node_vars(node),
            getattr(declared, "scope", None))

    # ------------------------------------------------------------ description
    @property
    def shape(self) -> tuple[int, ...]:
        """The shape of the value."""
        return self.node.shape

    @property
    def ndim(self) -> int:
        """The number of axes."""
        return self.node.ndim

    @property
    def variables(self) -> tuple[str, ...]:
        """The names of the variables it is written with, sorted (``x - x`` still has ``x``)."""
        return tuple(sorted(self.declared))

    @property
    def scope(self) -> dict[str, tuple[int, ...]]:
        """Every variable declared alongside this expression's (see :class:`Declared`)."""
        return dict(self.declared.scope)

    def in_scope(self, shapes: Mapping[str, tuple[int, ...]]) -> Expr:
        """The same expression with ``shapes`` (name → shape) added to its scope."""
        scope = {**shapes, **self.declared.scope}
        return Expr(self.node, self.text, self._prec, Declared(self.declared, scope))

    def __str__(self) -> str:
        return self.text

    def __bool__(self) -> bool:
        raise ArgumentError(f"the truth value of the expression {self.text!r} is undefined")

    def _compare(self, other: Any, op: str) -> Any:
        raise ArgumentError(f"{self.text} {op} {other!r}: comparisons are not differentiable and "
                            "not in the language; relu, abs or softplus express a threshold")

    def __lt__(self, other: Any) -> Any:
        return self._compare(other, "<")

    def __le__(self, other: Any) -> Any:
        return self._compare(other, "<=")

    def __gt__(self, other: Any) -> Any:
        return self._compare(other, ">")

    def __ge__(self, other: Any) -> Any:
        return self._compare(other, ">=")

    def _wrap(self, prec: int) -> str:
        return f"({self.text})" if self._prec < prec else self.text

    # ------------------------------------------------------------ operators
    def __add__(self, other: Any) -> Expr:
        return _elementwise("+", self, as_expr(other))

    def __radd__(self, other: Any) -> Expr:
        return _elementwise("+", as_expr(other), self)

    def __sub__(self, other: Any) -> Expr:
        return _elementwise("-", self, as_expr(other))

    def __rsub__(self, other: Any) -> Expr:
        return _elementwise("-", as_expr(other), self)

    def __mul__(self, other: Any) -> Expr:
        return _elementwise("*", self, as_expr(other))

    def __rmul__(self, other: Any) -> Expr:
        return _elementwise("*", as_expr(other), self)

    def __truediv__(self, other: Any) -> Expr:
        return _elementwise("/", self, as_expr(other))

    def __rtruediv__(self, other: Any) -> Expr:
        return _elementwise("/", as_expr(other), self)

    def __pow__(self, other: Any) -> Expr:
        return _power(self, as_expr(other))

    def __rpow__(self, other: Any) -> Expr:
        return _power(as_expr(other), self)

    def __matmul__(self, other: Any) -> Expr:
        return matmul(self, as_expr(other))

    def __rmatmul__(self, other: Any) -> Expr:
        return matmul(as_expr(other), self)

    def __neg__(self) -> Expr:
        return Expr(scale(-1.0, self.node), f"-{self._wrap(_UNARY)}", _UNARY, self.declared)

    def __pos__(self) -> Expr:
        return self

    @property
    def T(self) -> Expr:
        """The axes reversed (numpy's ``.T``)."""
        r = tuple(range(self.ndim))
        return Expr(einsum(1.0, [(self.node, r)], r[::-1]), f"{self._wrap(_ATOM)}.T", _ATOM,
                    self.declared)


def var(name: str, shape: Sequence[int] = ()) -> Expr:
    """A variable: ``shape`` ``()`` for a scalar, ``(n,)`` for a vector, any rank.

    Example:
        >>> import tensorderiv as td
        >>> td.var("A", (2, 3)).shape
        (2, 3)
    """
    if not isinstance(name, str) or not _NAME.match(name):
        raise ParseError(f"variable name {name!r} is not a Python identifier")
    if name in FUNCTIONS or name in _VOCABULARY_NAMES:
        raise ParseError(f"variable name {name!r} is the name of a function")
    return Expr(Var.make(name, sizes(name, shape)), name)


def sizes(name: str, shape: Any) -> tuple[int, ...]:
    """A shape given by a user, checked: integers (not text, floats or bools), each >= 1.

    An integer alone is a vector's length. ``"12"`` is refused rather than read as ``(1, 2)``,
    and ``3.7`` rather than truncated to 3.
    """
    items = (shape,) if isinstance(shape, numbers.Integral) and not isinstance(shape, bool) \
        else shape
    how = "a tuple of integer sizes, e.g. (3, 2)"
    if isinstance(items, str | bytes) or not hasattr(items, "__iter__"):
        raise ShapeError(f"variable {name!r}: shape must be {how}, got {shape!r}")
    out = []
    for n in items:
        if isinstance(n, bool | str | bytes):
            raise ShapeError(f"variable {name!r}: shape must be {how}, got {shape!r}")
        try:
            out.append(operator.index(n))
        except TypeError:
            raise ShapeError(f"variable {name!r}: shape must be {how}, got {shape!r} (size "
                             f"{n!r} is not an integer)") from None
    if any(n < 1 for n in out):
        raise ShapeError(f"variable {name!r}: every size must be >= 1, got shape {tuple(out)}")
    return tuple(out)


def _node_vars(node: Node) -> dict[str, tuple[int, ...]]:
    """The variables a node reads, with their shapes."""
    return {n.name: n.shape for n in walk(node) if isinstance(n, Var)}


def _merged(*exprs: Expr) -> Declared:
    """The variables of several operands; one name with two shapes is a ShapeError.

    The scopes are joined too; a name the scopes give two shapes leaves the scope.
    """
    out: dict[str, tuple[int, ...]] = {}
    for e in exprs:
        for name, shape in e.declared.items():
            if out.setdefault(name, shape) != shape:
                raise ShapeError(f"variable {name!r} is used with two shapes, {out[name]} and "
                                 f"{shape}; one name must keep one shape")
    scope: dict[str, tuple[int, ...]] = {}
    clash: set[str] = set()
    for e in exprs:
        for name, shape in e.declared.scope.items():
            if scope.setdefault(name, shape) != shape:
                clash.add(name)
    return Declared(out, {n: s for n, s in scope.items() if n not in clash})


def as_expr(value: Any) -> Expr:
    """An :class:`Expr` from an expression or a real number literal."""
    if isinstance(value, Expr):
        return value
    if isinstance(value, numbers.Real) and not isinstance(value, bool):
        try:
            v = float(value)
        except OverflowError:
            v = math.inf
        if not math.isfinite(v):
            shown = str(value) if len(str(value)) <= 20 else f"{str(value)[:17]}..."
            raise DomainError(f"literal {shown} is not a finite float64 number")
        text = repr(int(v)) if v.is_integer() and -1e15 < v < 1e15 else repr(v)
        return Expr(constant(v), text, _ATOM if v >= 0 else _UNARY)
    raise ArgumentError(f"cannot use {type(value).__name__} {value!r} in an expression; "
                        "make a variable with td.var(name, shape)")


def _literal(e: Expr) -> float | None:
    n = e.node
    if isinstance(n, Einsum) and n.is_constant and n.ndim == 0:
        return n.coef
    return None


# ------------------------------------------------------------------ broadcasting
def broadcast_shape(a: Expr, b: Expr, op: str) -> tuple[int, ...]:
    """NumPy's broadcast shape of two operands, or a ShapeError naming the operation."""
    r = max(a.ndim, b.ndim)
    sa = (1,) * (r - a.ndim) + a.shape
    sb = (1,) * (r - b.ndim) + b.shape
    out = []
    for x, y in zip(sa, sb, strict=True):
        if x != y and 1 not in (x, y):
            raise ShapeError(
                f"{a._wrap(_MUL)} {op} {b._wrap(_MUL)}: shapes {a.shape} and {b.shape} do not "
                "broadcast; numpy broadcasting needs equal sizes or 1 on each trailing axis"
            )
        out.append(max(x, y))
    return tuple(out)


def _aligned(node: Node, target: tuple[int, ...], fresh: list[int]) -> tuple[Node, tuple[int, ...]]:
    """The term placing ``node`` in ``target``: trailing axes aligned, size-1 axes summed away."""
    offset = len(target) - node.ndim
    idx = []
    for k, n in enumerate(node.shape):
        d = k + offset
        if n == target[d]:
            idx.append(d)
        else:  # n == 1: a size-1 axis summed is the same as squeezed
            idx.append(fresh[0])
            fresh[0] += 1
    return node, tuple(idx)


def _spread(node: Node, target: tuple[int, ...]) -> Node:
    fresh = [len(target)]
    term = _aligned(node, target, fresh)
    return einsum(1.0, [term], tuple(range(len(target))), dict(enumerate(target)))


def _elementwise(op: str, a: Expr, b: Expr) -> Expr:
    target = broadcast_shape(a, b, op)
    prec = _ADD if op in "+-" else _MUL
    text = f"{a._wrap(prec)} {op} {b._wrap(prec + 1)}"
    if op in "+-":
        node = add([(1.0, _spread(a.node, target)),
                    (1.0 if op == "+" else -1.0, _spread(b.node, target))])
    elif op == "*":
        fresh = [len(target)]
        node = einsum(1.0, [_aligned(a.node, target, fresh), _aligned(b.node, target, fresh)],
                      tuple(range(len(target))), dict(enumerate(target)))
    else:  # "/"
        lit = _literal(b)
        if lit == 0.0:
            raise DomainError(f"{text}: division by the literal 0")
        if is_zero(b.node):
            raise DomainError(f"{text}: division by zero ({b.text} is identically 0)")
        recip = constant(1.0 / lit) if lit is not None else apply("pow", b.node, (-1.0,))
        fresh = [len(target)]
        node = einsum(1.0, [_aligned(a.node, target, fresh), _aligned(recip, target, fresh)],
                      tuple(range(len(target))), dict(enumerate(target)))
    return Expr(node, text, prec, _merged(a, b))


def _power(a: Expr, b: Expr) -> Expr:
    text = f"{a._wrap(_POW + 1)} ** {b._wrap(_POW)}"
    p = _literal(b)
    if p is not None:
        return Expr(apply("pow", a.node, (p,)), text, _POW, _merged(a, b))
    base = _literal(a)
    if base is not None:
        if base <= 0:
            raise DomainError(f"{text}: a literal base must be positive, got {base:g}")
        return Expr(apply("exp", scale(math.log(base), b.node)), text, _POW, _merged(a, b))
    target = broadcast_shape(a, b, "**")
    return Expr(power(_spread(a.node, target), _spread(b.node, target), target, text), text,
                _POW, _merged(a, b))


def matmul(a: Expr, b: Expr) -> Expr:
    """NumPy's ``a @ b``: 1-D and 2-D operands, and batches of matrices."""
    text = f"{a._wrap(_MUL)} @ {b._wrap(_MUL + 1)}"
    if a.ndim == 0 or b.ndim == 0:
        raise ShapeError(f"{text}: @ needs arrays with at least one axis, got shapes {a.shape} "
                         f"and {b.shape}; use * for a scalar")
    ka, kb = a.shape[-1], b.shape[0] if b.ndim == 1 else b.shape[-2]
    if ka != kb:
        raise ShapeError(f"{text}: inner sizes differ ({ka} vs {kb}); (a×b)(b×c) needs the "
                         "same b")
    if a.ndim <= 2 and b.ndim <= 2:
        ia = (0, 1) if a.ndim == 2 else (1,)
        ib = (1, 2) if b.ndim == 2 else (1,)
        out = tuple(i for i in (0, 2) if (i == 0 and a.ndim == 2) or (i == 2 and b.ndim == 2))
        return Expr(einsum(1.0, [(a.node, ia), (b.node, ib)], out), text, _MUL, _merged(a, b))
    # batches: broadcast the leading axes, contract the last of a with the second-last of b
    if a.ndim == 1 or b.ndim == 1:
        raise ShapeError(f"{text}: mixing a vector with a batch of matrices (shapes {a.shape} "
                         f"and {b.shape}) is not supported; add the axis explicitly")
    batch_a, batch_b = Expr(constant(0.0, a.shape[:-2]), "a"), Expr(constant(0.0, b.shape[:-2]),
                                                                     "b")
    batch = broadcast_shape(batch_a, batch_b, "@") if a.ndim > 2 or b.ndim > 2 else ()
    r = len(batch)
    i, j, k = r, r + 1, r + 2
    fresh = [r + 3]
    ta = _aligned(a.node, (*batch, a.shape[-2], ka), fresh)
    tb = _aligned(b.node, (*batch, kb, b.shape[-1]), fresh)
    ta = (ta[0], (*ta[1][:-2], i, j))
    tb = (tb[0], (*tb[1][:-2], j, k))
    return Expr(einsum(1.0, [ta, tb], (*range(r), i, k)), text, _MUL, _merged(a, b))


# ------------------------------------------------------------------ the vocabulary
def _unary(name: str) -> Any:
    def f(x: Any) -> Expr:
        x = as_expr(x)
        return Expr(apply(name, x.node), f"{name}({x.text})", _ATOM, x.declared)

    f.__name__ = name
    f.__qualname__ = name
    f.__doc__ = f"Element-wise ``{name}``."
    return f


exp = _unary("exp")
log = _unary("log")
sin = _unary("sin")
cos = _unary("cos")
tanh = _unary("tanh")
sigmoid = _unary("sigmoid")
relu = _unary("relu")
softplus = _unary("softplus")
sqrt = _unary("sqrt")
square = _unary("square")
abs = _unary("abs")  # the vocabulary's name shadows the builtin here
ELEMENTWISE = ("exp", "log", "sin", "cos", "tanh", "sigmoid", "relu", "softplus", "sqrt",
               "square", "abs")


def _axis(x: Expr, axis: int | None, fname: str) -> int | None:
    if axis is None:
        return None
    if not isinstance(axis, int) or isinstance(axis, bool):
        raise ArgumentError(f"{fname}({x.text}, axis={axis!r}): axis must be an integer")
    if not -x.ndim <= axis < x.ndim:
        raise ShapeError(f"{fname}({x.text}, axis={axis}): axis out of range for shape {x.shape}"
                         f" ({x.ndim} axes)")
    return axis % x.ndim


def sum(x: Any, axis: int | None = None) -> Expr:
    """The sum of all entries, or along one axis (numpy semantics)."""
    x = as_expr(x)
    ax = _axis(x, axis, "sum")
    r = tuple(range(x.ndim))
    out = () if ax is None else tuple(i for i in r if i != ax)
    text = f"sum({x.text})" if ax is None else f"sum({x.text}, axis={axis})"
    return Expr(einsum(1.0, [(x.node, r)], out), text, _ATOM, x.declared)


def mean(x: Any, axis: int | None = None) -> Expr:
    """The mean of all entries, or along one axis."""
    x = as_expr(x)
    ax = _axis(x, axis, "mean")
    n = math.prod(x.shape) if ax is None else x.shape[ax]
    s = sum(x, axis)
    text = f"mean({x.text})" if ax is None else f"mean({x.text}, axis={axis})"
    return Expr(scale(1.0 / n, s.node), text, _ATOM, x.declared)


def _square(x: Expr, fname: str) -> None:
    if x.ndim != 2 or x.shape[0] != x.shape[1]:
        raise ShapeError(f"{fname}({x.text}): needs a square matrix, got shape {x.shape}")


def trace(x: Any) -> Expr:
    """The trace of a square matrix."""
    x = as_expr(x)
    _square(x, "trace")
    return Expr(einsum(1.0, [(x.node, (0, 0))], ()), f"trace({x.text})", _ATOM, x.declared)


def _matrix_fn(name: str) -> Any:
    def f(x: Any) -> Expr:
        x = as_expr(x)
        _square(x, name)
        return Expr(apply(name, x.node), f"{name}({x.text})", _ATOM, x.declared)

    f.__name__ = name
    f.__qualname__ = name
    f.__doc__ = {"det": "The determinant of a square matrix.",
                 "logdet": "``log |det X|`` of a square matrix.",
                 "inv": "The inverse of a square matrix."}[name]
    return f


det = _matrix_fn("det")
logdet = _matrix_fn("logdet")
inv = _matrix_fn("inv")


def diag(x: Any) -> Expr:
    """NumPy's ``diag``: a vector becomes a diagonal matrix, a square matrix its diagonal."""
    x = as_expr(x)
    if x.ndim == 1:
        return Expr(einsum(1.0, [(x.node, (0,))], (0, 0)), f"diag({x.text})", _ATOM, x.declared)
    if x.ndim == 2:
        _square(x, "diag")
        return Expr(einsum(1.0, [(x.node, (0, 0))], (0,)), f"diag({x.text})", _ATOM, x.declared)
    raise ShapeError(f"diag({x.text}): needs a vector or a square matrix, got shape {x.shape}")


def outer(a: Any, b: Any) -> Expr:
    """The outer product of two vectors."""
    a, b = as_expr(a), as_expr(b)
    if a.ndim != 1 or b.ndim != 1:
        raise ShapeError(f"outer({a.text}, {b.text}): needs two vectors, got shapes {a.shape} "
                         f"and {b.shape}")
    return Expr(einsum(1.0, [(a.node, (0,)), (b.node, (1,))], (0, 1)),
                f"outer({a.text}, {b.text})", _ATOM, _merged(a, b))


def dot(a: Any, b: Any) -> Expr:
    """NumPy's ``dot`` for scalars, vectors and matrices."""
    a, b = as_expr(a), as_expr(b)
    if a.ndim == 0 or b.ndim == 0:
        e = a * b
    else:
        if a.ndim > 2 or b.ndim > 2:
            raise ShapeError(f"dot({a.text}, {b.text}): arrays of rank > 2 are not supported; "
                             "use einsum")
        e = matmul(a, b)
    return Expr(e.node, f"dot({a.text}, {b.text})", _ATOM, e.declared)


def norm(x: Any) -> Expr:
    """The 2-norm of a vector, the Frobenius norm of a matrix (of all entries in general)."""
    x = as_expr(x)
    r = tuple(range(x.ndim))
    ss = einsum(1.0, [(x.node, r), (x.node, r)], ())
    return Expr(apply("sqrt", ss), f"norm({x.text})", _ATOM, x.declared)


def softmax(x: Any, axis: int = -1) -> Expr:
    """Softmax over the last axis, finite for inputs of any magnitude."""
    x = as_expr(x)
    if x.ndim == 0:
        raise ShapeError(f"softmax({x.text}): needs at least one axis, got a scalar")
    if _axis(x, axis, "softmax") != x.ndim - 1:
        raise ShapeError(f"softmax({x.text}, axis={axis}): only the last axis is supported; "
                         "transpose first, e.g. softmax(X.T).T for the columns")
    return Expr(softmax_last(x.node), f"softmax({x.text})", _ATOM, x.declared)


def logsumexp(x: Any) -> Expr:
    """``log Σ exp(xᵢ)`` over all entries, computed stably."""
    x = as_expr(x)
    return Expr(apply("lse", x.node), f"logsumexp({x.text})", _ATOM, x.declared)


# a runnable example for each function of the vocabulary, checked against numpy: name → (the
# value a of x, the call, what numpy gives)
_EX = "\n\n    Example — against numpy:" + "".join("\n        >>> " + line for line in (
    "import numpy as np", "import tensorderiv as td", "a = np.array({}); x = td.var('x', a.shape)",
    "bool(np.allclose(td.evaluate(td.{}, {{'x': a}}), {}))")) + "\n        True\n"
_M, _S = "[[2.0, 1.0], [1.0, 3.0]]", "np.exp(a - a.max())"
_EXAMPLES = {n: ("[0.5, 2.0]", f"{n}(x)", r) for n, r in zip(ELEMENTWISE, (
    "np.exp(a)", "np.log(a)", "np.sin(a)", "np.cos(a)", "np.tanh(a)", "1 / (1 + np.exp(-a))",
    "np.maximum(a, 0)", "np.log1p(np.exp(a))", "np.sqrt(a)", "a * a", "np.abs(a)"), strict=True)}
_EXAMPLES |= {"sum": (_M, "sum(x, axis=0)", "a.sum(axis=0)"), "mean": (_M, "mean(x)", "a.mean()"),
              "trace": (_M, "trace(x)", "np.trace(a)"), "diag": (_M, "diag(x)", "np.diag(a)"),
              "det": (_M, "det(x)", "np.linalg.det(a)"), "inv": (_M, "inv(x)", "np.linalg.inv(a)"),
              "logdet": (_M, "logdet(x)", "np.log(np.linalg.det(a))"),
              "outer": ("[1.0, 2.0]", "outer(x, 2 * x)", "np.outer(a, 2 * a)"),
              "dot": (_M, "dot(x, x)", "a @ a"), "norm": (_M, "norm(x)", "np.linalg.norm(a)"),
              "softmax": ("[1.0, 1000.0]", "softmax(x)", f"{_S} / {_S}.sum()"),
              "logsumexp": ("[1.0, 2.0]", "logsumexp(x)", "np.log(np.exp(a).sum())")}
for _name, _ex in _EXAMPLES.items():
    globals()[_name].__doc__ += _EX.format(*_ex)


_VOCABULARY_NAMES = frozenset({
    *ELEMENTWISE, "sum", "mean", "trace", "det", "logdet", "inv", "diag", "outer", "dot", "norm",
    "softmax", "logsumexp", "einsum",
})
