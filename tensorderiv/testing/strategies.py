"""Hypothesis strategies for labelled c-tensors and derivative expressions (public API).

Requires Hypothesis: ``pip install 'tensorderiv[test]'``.

Example:
    >>> from hypothesis import given
    >>> from tensorderiv.testing.strategies import ctensors
    >>> @given(ctensors())
    ... def test_dense_matches_shape(ct):
    ...     assert ct.dense().shape == ct.shape
    >>> test_dense_matches_shape()
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ..core.axes import Axis
from ..core.ctensor import CTensor
from ..core.errors import ArgumentError, OptionError
from ..core.optional import require
from ..symbolic import expr as E  # noqa: N812 - E is the expression vocabulary
from ..symbolic.nodes import Var
from ..symbolic.subscripts import einsum_
from .domains import Shapes, differentiable_at, needs

# Hypothesis is the test extra's: without it this import says what to install
st = require("hypothesis.strategies", "test")
hnp = require("hypothesis.extra.numpy", "test")
assume = require("hypothesis", "test").assume

__all__ = [
    "DENSE_STRUCTURES",
    "KINKED",
    "STRUCTURES",
    "VOCABULARY",
    "GeneratedExpression",
    "Shapes",
    "StructuredArray",
    "ctensors",
    "differentiable_at",
    "domain_values",
    "expressions",
    "labels",
    "shapes",
    "structured_arrays",
    "values_for",
]

STRUCTURES = ("dense", "diagonal", "delta", "redundant", "mixed")


def shapes(min_dims: int = 0, max_dims: int = 3, min_side: int = 1, max_side: int = 4) -> Any:
    """Array shapes with bounded rank and sides."""
    return hnp.array_shapes(min_dims=min_dims, max_dims=max_dims, min_side=min_side,
                            max_side=max_side)


def labels(n: int, alphabet: str = "ijklmnpq") -> Any:
    """``n`` distinct axis labels (short strings, or tuples past the alphabet)."""
    pool = [*alphabet, *((c, k) for c in alphabet for k in range(3))]
    return st.permutations(pool).map(lambda p: list(p[:n]))


def _floats() -> Any:
    return st.floats(-10, 10, allow_nan=False, allow_infinity=False, width=64)


@st.composite
def ctensors(
    draw: Any,
    structure: str = "mixed",
    max_rank: int = 4,
    max_side: int = 4,
    axis_labels: list[Any] | None = None,
    sizes: dict[Any, int] | None = None,
) -> CTensor:
    """Labelled c-tensors stored compactly with the chosen structure.

    Args:
        draw: supplied by Hypothesis.
        structure: ``"dense"``, ``"diagonal"`` (two axes read one core axis), ``"delta"`` (a pure
            Kronecker delta with no storage), ``"redundant"`` (constant along an axis), or
            ``"mixed"`` (any of these, several at once).
        max_rank: the most full axes.
        max_side: the largest axis size.
        axis_labels: labels to use (their number fixes the rank); drawn when omitted.
        sizes: sizes for some labels, so that tensors drawn apart share them.
    """
    if structure not in STRUCTURES:
        raise OptionError(f"structure must be one of {STRUCTURES}, got {structure!r}")
    need = {"dense": 0, "diagonal": 2, "delta": 2, "redundant": 1, "mixed": 0}[structure]
    if axis_labels is None:
        rank = draw(st.integers(max(need, 0), max(max_rank, need)))
        axis_labels = draw(labels(rank))
    rank = len(axis_labels)
    fixed = set(sizes or {})
    sizes = dict(sizes or {})
    for lab in axis_labels:
        if lab not in sizes:
            sizes[lab] = draw(st.integers(1, max_side))
    # decide which full axes share which core (or implicit) axis
    groups: list[list[int]] = [[p] for p in range(rank)]
    kinds = ["core"] * rank
    if structure in ("diagonal", "delta") and rank >= 2:
        p, q = draw(st.permutations(range(rank)))[:2]
        if axis_labels[q] in fixed and sizes[axis_labels[q]] != sizes[axis_labels[p]]:
            raise OptionError(f"labels {axis_labels[p]!r} and {axis_labels[q]!r} have fixed, "
                              "different sizes and cannot share a diagonal")
        sizes[axis_labels[q]] = sizes[axis_labels[p]]
        groups = [g for g in groups if g[0] not in (p, q)] + [[p, q]]
        kinds = ["core"] * (len(groups) - 1) + ["core" if structure == "diagonal" else "ones"]
    elif structure == "redundant" and rank >= 1:
        p = draw(st.integers(0, rank - 1))
        kinds = ["none" if g == [p] else "core" for g in groups]
    elif structure == "mixed":
        merged: list[list[int]] = []
        for p in range(rank):
            lab = axis_labels[p]
            fits = [g for g in merged
                    if lab not in fixed or sizes[axis_labels[g[0]]] == sizes[lab]]
            if fits and draw(st.booleans()) and draw(st.booleans()):
                g = draw(st.sampled_from(fits))
                sizes[axis_labels[p]] = sizes[axis_labels[g[0]]]
                g.append(p)
            else:
                merged.append([p])
        groups = merged
        # a single axis may be redundant; a group of several may be a pure delta (implicit ones)
        kinds = [draw(st.sampled_from(["core", "core", "none" if len(g) == 1 else "ones"]))
                 for g in groups]
    axis_map: list[int | None] = [None] * rank
    core_sides: list[int] = []
    implicit = []
    for g, kind in zip(groups, kinds, strict=True):
        if kind == "none" and len(g) == 1:
            continue
        if kind == "ones":
            implicit.append(g)
            continue
        for p in g:
            axis_map[p] = len(core_sides)
        core_sides.append(sizes[axis_labels[g[0]]])
    for k, g in enumerate(implicit):
        for p in g:
            axis_map[p] = len(core_sides) + k
    core = draw(hnp.arrays(np.float64, tuple(core_sides), elements=_floats()))
    axes = [Axis(lab, sizes[lab]) for lab in axis_labels]
    return CTensor(core, axes, axis_map)


# ---------------------------------------------------------------- random expressions
#: every function of the vocabulary the expression strategy can use
VOCABULARY = (
    "exp", "log", "sin", "cos", "tanh", "sigmoid", "relu", "softplus", "sqrt", "square", "abs",
    "sum", "mean", "trace", "det", "logdet", "inv", "diag", "outer", "dot", "norm", "softmax",
    "logsumexp", "einsum", "add", "sub", "mul", "div", "pow", "matmul", "T",
)
#: functions whose derivative jumps at 0: a test keeps their arguments away from it
KINKED = ("relu", "abs")


class GeneratedExpression:
    """An expression drawn by :func:`expressions`, with what a test needs to check it.

    Attributes:
        expr: the expression.
        shapes: variable name → shape.
        kinks: subexpressions where the expression is not differentiable at 0 (arguments of
            ``relu``/``abs``, values of ``norm``); keep them away from 0 for differences.
    """

    def __init__(self, expr: Any, shapes: dict[str, tuple[int, ...]], kinks: list[Any]) -> None:
        self.expr = expr
        self.shapes = shapes
        self.kinks = kinks

    def __repr__(self) -> str:
        return f"GeneratedExpression({self.expr.text!r}, shapes={self.shapes})"


class _Builder:
    def __init__(self, draw: Any, functions: frozenset[str], max_side: int) -> None:
        self.draw = draw
        self.functions = functions
        self.max_side = max_side
        self.shapes: dict[str, tuple[int, ...]] = {}
        self.kinks: list[Any] = []

    def side(self) -> int:
        return self.draw(st.integers(1, self.max_side))

    def leaf(self, shape: tuple[int, ...]) -> Any:
        same = [n for n, s in self.shapes.items() if s == shape]
        if same and self.draw(st.booleans()):
            name = self.draw(st.sampled_from(same))  # reuse: a variable on several paths
        else:
            name = f"v{len(self.shapes)}"
            self.shapes[name] = shape
        if shape == () and self.draw(st.integers(0, 4)) == 0:
            return E.as_expr(self.draw(st.sampled_from([0.5, 2.0, 3.0, -1.5])))
        return E.var(name, shape)

    def positive(self, shape: tuple[int, ...], depth: int) -> Any:
        return E.square(self.build(shape, depth)) + 1.0

    def invertible(self, n: int, depth: int) -> Any:
        m = self.build((n, n), depth)
        return m @ m.T + E.diag(self.positive((n,), 0) + 1.0)

    def build(self, shape: tuple[int, ...], depth: int) -> Any:
        if depth <= 0:
            return self.leaf(shape)
        fs = self.functions
        options: list[str] = ["leaf"]
        ew = [f for f in E.ELEMENTWISE if f in fs]
        options += ["unary"] * bool(ew) + [o for o in ("add", "sub", "mul", "div", "pow")
                                           if o in fs]
        r = len(shape)
        if r == 0:
            options += [o for o in ("sum", "mean", "dot", "norm", "trace", "det", "logdet",
                                    "logsumexp") if o in fs]
            options += ["batch"] * ("matmul" in fs)
        if r == 1:
            options += [o for o in ("matmul", "softmax", "diag", "sum", "einsum") if o in fs]
        if r == 2:
            options += [o for o in ("outer", "matmul", "T", "einsum", "softmax") if o in fs]
            if shape[0] == shape[1]:
                options += [o for o in ("inv", "diag") if o in fs]
        op = self.draw(st.sampled_from(options))
        d = depth - 1
        b = self.build
        if op == "leaf":
            return self.leaf(shape)
        if op == "unary":
            f = self.draw(st.sampled_from(ew))
            arg = self.positive(shape, d) if f in ("log", "sqrt") else b(shape, d)
            if f in KINKED:
                self.kinks.append(arg)
            return getattr(E, f)(arg)
        if op in ("add", "sub", "mul"):
            left = b(shape, d)
            # numpy broadcasting: a scalar, a trailing vector, or a column (n, 1)
            kinds = [shape, (), shape[-1:]] + ([(shape[0], 1)] if r == 2 else [])
            right = b(self.draw(st.sampled_from(kinds)), d)
            return {"add": left + right, "sub": left - right, "mul": left * right}[op]
        if op == "div":
            return b(shape, d) / self.positive(shape, d)
        if op == "pow":
            p = self.draw(st.sampled_from([2, 3, 0.5, -1.0, 1.5, "variable"]))
            if p == "variable":  # x ** y with y an expression: exp(y log x), x > 0
                return self.positive(shape, d) ** b(shape, d)
            base = self.positive(shape, d) if p not in (2, 3) else b(shape, d)
            return base ** p
        if op in ("sum", "mean") and r == 0:
            src = b((self.side(),) * self.draw(st.integers(1, 2)), d)
            return getattr(E, op)(src)
        if op == "sum":  # r == 1: sum a matrix over one of its axes
            if self.draw(st.booleans()):
                return E.sum(b((shape[0], self.side()), d), axis=1)
            return E.sum(b((self.side(), shape[0]), d), axis=0)
        if op == "batch":  # a batch of matrix products, summed
            n, k, m = self.side(), self.side(), self.side()
            return E.sum(b((2, n, k), d) @ b((2, k, m), d))
        if op == "dot":
            n = self.side()
            return E.dot(b((n,), d), b((n,), d))
        if op == "norm":  # not differentiable at 0, like relu and abs
            out = E.norm(b((self.side(),), d))
            self.kinks.append(out)
            return out
        if op == "trace":
            n = self.side()
            return E.trace(b((n, n), d))
        if op in ("det", "logdet"):
            return getattr(E, op)(self.invertible(self.side(), d))
        if op == "logsumexp":
            return E.logsumexp(b((self.side(),), d))
        if op == "softmax":
            return E.softmax(b(shape, d))
        if op == "diag":
            n = shape[0]
            return E.diag(b((n, n), d) if r == 1 else b((n,), d))
        if op == "inv":
            return E.inv(self.invertible(shape[0], d))
        if op == "outer":
            return E.outer(b((shape[0],), d), b((shape[1],), d))
        if op == "T":
            return b(shape[::-1], d).T
        if op == "matmul":
            k = self.side()
            if r == 1:
                return b((shape[0], k), d) @ b((k,), d)
            return b((shape[0], k), d) @ b((k, shape[1]), d)
        if op == "einsum":
            k = self.side()
            if r == 1 and self.draw(st.booleans()):  # a repeated index: the diagonal
                return einsum_("ii,i->i", b((shape[0], shape[0]), d), b(shape, d))
            if r == 1:
                return einsum_("ik,k->i", b((shape[0], k), d), b((k,), d))
            return einsum_("ik,jk->ij", b((shape[0], k), d), b((shape[1], k), d))
        raise AssertionError(f"unhandled option {op}")  # pragma: no cover


@st.composite
def expressions(
    draw: Any,
    functions: Any = VOCABULARY,
    max_depth: int = 3,
    max_side: int = 3,
    shape: tuple[int, ...] | None = None,
) -> GeneratedExpression:
    """Well-shaped random expressions over a chosen set of functions.

    Arguments of ``log``, ``sqrt``, fractional and negative powers and divisors are built
    positive (``square(e) + 1``), matrices under ``inv``/``det``/``logdet`` as ``M Mᵀ + D`` with
    a positive diagonal D, so every value drawn by :func:`values_for` is inside the domain.

    Args:
        draw: supplied by Hypothesis.
        functions: names from :data:`VOCABULARY` to use.
        max_depth: the deepest nesting of operations.
        max_side: the largest axis size.
        shape: the result's shape; drawn (scalar, vector or matrix) when omitted.

    Example:
        >>> from hypothesis import given, settings
        >>> @settings(max_examples=5)
        ... @given(expressions(max_depth=2))
        ... def test_shapes(g):
        ...     assert set(g.expr.variables) <= set(g.shapes)
        >>> test_shapes()
    """
    fs = frozenset(functions)
    unknown = fs - set(VOCABULARY)
    if unknown:
        raise OptionError(f"unknown functions {sorted(unknown)}; choose from {VOCABULARY}")
    builder = _Builder(draw, fs, max_side)
    if shape is None:
        shape = draw(st.sampled_from([(), (builder.side(),), (builder.side(), builder.side())]))
    depth = draw(st.integers(1, max_depth))
    e = builder.build(tuple(shape), depth)
    if not e.variables:  # a tree of literals: give it a variable to differentiate against
        e = e + builder.leaf(tuple(shape)) if shape else e + E.var("v_last", ())
        builder.shapes.setdefault("v_last", ())
    used = set(e.variables)
    shapes = Shapes({n: s for n, s in builder.shapes.items() if n in used}, e)
    return GeneratedExpression(e, shapes, builder.kinks)


def values_for(shapes: dict[str, tuple[int, ...]], low: float = -2.0, high: float = 2.0) -> Any:
    """Values for the variables of a generated expression: a strategy of name → float64 array.

    Given the ``shapes`` of a :class:`GeneratedExpression` (a :class:`Shapes`), only points where
    the expression's derivative exists are drawn (:func:`differentiable_at`): ``norm`` away from
    0, ``abs``/``relu`` away from their kinks, and so on.

    Example:
        >>> from hypothesis import given, settings
        >>> @settings(max_examples=3)
        ... @given(values_for({"x": (2,)}))
        ... def test_v(v):
        ...     assert v["x"].shape == (2,)
        >>> test_v()
    """
    elements = st.floats(low, high, allow_nan=False, allow_infinity=False, width=64)
    drawn = st.fixed_dictionaries({n: hnp.arrays(np.float64, s, elements=elements)
                                   for n, s in sorted(shapes.items())})
    expr = getattr(shapes, "expr", None)
    if expr is None:
        return drawn
    return drawn.filter(lambda v: differentiable_at(expr, v))


# ---------------------------------------------------------------- structured dense derivatives
DENSE_STRUCTURES = ("zero", "identity", "scaled_identity", "diagonal", "delta", "kron",
                    "redundant", "symmetric", "dense")


class StructuredArray:
    """A dense derivative (notes' layout) with a known structure, from :func:`structured_arrays`.

    Attributes:
        array: the full array, input axes first.
        n_wrt: how many leading axes are input axes.
        copies: how many derivative copies the input axes hold (2 for a Hessian).
        structure: the structure it was built with (a name from :data:`DENSE_STRUCTURES`).
        breaking: a boolean mask of the entries whose change alone breaks that structure.
    """

    def __init__(self, array: np.ndarray, n_wrt: int, copies: int, structure: str,
                 breaking: np.ndarray) -> None:
        self.array = array
        self.n_wrt = n_wrt
        self.copies = copies
        self.structure = structure
        self.breaking = breaking

    def __repr__(self) -> str:
        return (f"StructuredArray({self.structure}, shape={self.array.shape}, "
                f"n_wrt={self.n_wrt}, copies={self.copies})")


def _generic(rng: np.random.Generator, shape: tuple[int, ...]) -> np.ndarray:
    """Values with no accidental structure: magnitudes in [0.5, 2], random signs."""
    return rng.uniform(0.5, 2.0, shape) * rng.choice([-1.0, 1.0], shape)


def _diagonal_mask(shape: tuple[int, ...], p: int, q: int) -> np.ndarray:
    idx = np.indices(shape)
    return idx[p] == idx[q]


@st.composite
def structured_arrays(draw: Any, structure: str | None = None, max_side: int = 3) -> Any:
    """Dense derivatives with one known structure and generic values otherwise.

    The values come from a NumPy generator seeded by Hypothesis, drawn with magnitudes in
    [0.5, 2] and random signs, so (with probability one) the array has the structure asked for
    and nothing stronger: ``td.reduce`` must name exactly ``structure``.

    Args:
        draw: supplied by Hypothesis.
        structure: one of :data:`DENSE_STRUCTURES`; drawn when omitted.
        max_side: the largest axis size (sides of structured axes are at least 2).

    Example:
        >>> from hypothesis import given, settings
        >>> @settings(max_examples=5)
        ... @given(structured_arrays("kron"))
        ... def test_kron(sa):
        ...     assert sa.array.ndim >= 2 and sa.breaking.any()
        >>> test_kron()
    """
    if structure is None:
        structure = draw(st.sampled_from(DENSE_STRUCTURES))
    if structure not in DENSE_STRUCTURES:
        raise OptionError(f"structure must be one of {DENSE_STRUCTURES}, got {structure!r}")
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))

    def side() -> int:
        return draw(st.integers(2, max(2, max_side)))

    copies = 1
    if structure in ("identity", "scaled_identity", "symmetric"):
        var = tuple(side() for _ in range(draw(st.integers(1, 2))))
        n = int(np.prod(var))
        if structure == "symmetric":
            R = _generic(rng, (n, n))
            M, copies = R + R.T, 2
        else:
            c = 1.0 if structure == "identity" else float(_generic(rng, ()) * 1.5 + 0.1)
            M = c * np.eye(n)
        T = M.reshape(var + var)
        breaking = np.ones(T.shape, bool)
        if structure == "symmetric":
            breaking = ~np.eye(n, dtype=bool).reshape(T.shape)
        return StructuredArray(T, len(var) * copies, copies, structure, breaking)
    if structure in ("zero", "dense"):
        shape = tuple(draw(st.integers(1, max_side)) for _ in range(draw(st.integers(0, 4))))
        T = np.zeros(shape) if structure == "zero" else _generic(rng, shape)
        breaking = np.full(shape, structure == "zero")
        return StructuredArray(T, draw(st.integers(0, len(shape))), 1, structure, breaking)
    # a matrix (rank ≤ 2) is shown as the notes' plain matrix: Kronecker, delta and constant-axis
    # collapses are the reducer's business from rank 3 on
    rank = draw(st.integers(3 if structure in ("delta", "kron", "redundant") else 2, 4))
    shape = [side() for _ in range(rank)]
    n_wrt = draw(st.integers(0, rank))
    if structure in ("diagonal", "delta"):
        p, q = sorted(draw(st.permutations(range(rank)))[:2])
        shape[q] = shape[p]
        core_shape = [1 if (k == q or (k == p and structure == "delta")) else shape[k]
                      for k in range(rank)]
        mask = _diagonal_mask(tuple(shape), p, q)
        T = np.where(mask, _generic(rng, tuple(core_shape)), 0.0)
        breaking = ~mask if structure == "diagonal" else np.ones(T.shape, bool)
    elif structure == "redundant":
        p = draw(st.integers(0, rank - 1))
        core_shape = [1 if k == p else shape[k] for k in range(rank)]
        T = np.broadcast_to(_generic(rng, tuple(core_shape)), tuple(shape)).copy()
        breaking = np.ones(T.shape, bool)
    else:  # kron: a split of the axes into two groups, a generic factor on each
        g1 = sorted(draw(st.sets(st.integers(0, rank - 1), min_size=1, max_size=rank - 1)))
        f1 = _generic(rng, tuple(shape[k] if k in g1 else 1 for k in range(rank)))
        f2 = _generic(rng, tuple(1 if k in g1 else shape[k] for k in range(rank)))
        T = f1 * f2
        pivot = np.unravel_index(int(np.argmax(np.abs(T))), T.shape)
        idx = np.indices(T.shape)
        breaking = np.logical_and.reduce([idx[k] != pivot[k] for k in range(rank)])
    return StructuredArray(T, n_wrt, copies, structure, breaking)


# ---------------------------------------------------------------- values for any expression
@st.composite
def domain_values(draw: Any, expr: Any, low: float = -2.0, high: float = 2.0,
                  margin: float = 0.1) -> dict[str, np.ndarray]:
    """Values for the variables of any expression, inside the domain of its functions.

    A variable read directly (or transposed, or scaled by a positive number) by ``log``, ``sqrt``
    or a fractional power is drawn in ``[margin, high]``; by a negative integer power (``1 / x``)
    with magnitude in ``[margin, high]``; by ``inv``, ``det`` or ``logdet`` as a diagonally
    dominant (so invertible, well-conditioned) matrix. Other entries are drawn in
    ``[low, high]``. Points where the value or the derivative is undefined or not finite
    (``log(x - y)`` at x < y, ``norm(x)`` at 0, ``sqrt(x * x)`` at a zero entry) or near a kink
    (the argument of ``abs``/``relu`` within 0.05 of 0) are rejected
    (:func:`differentiable_at`), so keep such expressions rare or Hypothesis reports too many
    rejections.

    Args:
        draw: supplied by Hypothesis.
        expr: a :class:`~tensorderiv.Expr` (or a :class:`GeneratedExpression`).
        low: the smallest unconstrained entry.
        high: the largest entry.
        margin: how far constrained entries stay from 0.

    Example:
        >>> import numpy as np
        >>> import tensorderiv as td
        >>> from hypothesis import given, settings
        >>> e = td.parse("sum(log(x)) + logdet(X) + sum(1 / y)", {"x": (3,), "X": (2, 2),
        ...                                                       "y": (2,)})
        >>> @settings(max_examples=10)
        ... @given(domain_values(e))
        ... def test_in_domain(v):
        ...     assert np.all(v["x"] > 0) and np.all(v["y"] != 0)
        ...     assert np.isfinite(td.evaluate(e, v).dense())
        >>> test_in_domain()
    """
    expr = getattr(expr, "expr", expr)
    if not isinstance(expr, E.Expr):
        raise ArgumentError(f"domain_values needs an expression, got {type(expr).__name__}")
    if not 0 < margin < high:
        raise OptionError(f"need 0 < margin < high, got margin={margin}, high={high}")
    need = needs(expr.node)
    shapes: dict[str, tuple[int, ...]] = {}
    stack, seen = [expr.node], set()
    while stack:
        n = stack.pop()
        if n not in seen:
            seen.add(n)
            if isinstance(n, Var):
                shapes[n.name] = n.shape
            stack.extend(n.children())
    values: dict[str, np.ndarray] = {}
    for name, shape in sorted(shapes.items()):
        kinds = need.get(name, set())
        if kinds & {"positive", "nonzero"}:
            mag = draw(hnp.arrays(np.float64, shape, elements=st.floats(margin, high)))
            sign = 1.0 if "positive" in kinds else \
                draw(hnp.arrays(np.float64, shape, elements=st.sampled_from([-1.0, 1.0])))
            v = mag * sign
        else:
            v = draw(hnp.arrays(np.float64, shape, elements=st.floats(low, high)))
        if "invertible" in kinds:
            n = shape[0]
            v = v + (n * max(abs(low), abs(high)) + margin) * np.eye(n)
        values[name] = v
    assume(differentiable_at(expr, values, margin=min(margin, 0.05)))
    return values
