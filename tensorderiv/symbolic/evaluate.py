"""Evaluation: an expression graph becomes c-tensors through opt_einsum contractions.

Each node is computed once per evaluation (shared subexpressions included) into a compact
:class:`~tensorderiv.CTensor`: einsums become one contraction each, with Kronecker deltas as label
identifications and broadcasts as redundant axes; element-wise functions act on the compact core
when that is exact; sums keep the structure their terms share.

Values are checked (names, shapes, finiteness) and every function's domain and every result's
finiteness are checked as they are computed, for numpy arrays. Lazy arrays (dask) stay lazy:
those value checks would force them, so they are skipped and happen only in numpy's own terms
when the result is computed.

A :class:`Program` is the compiled form: the nodes in dependency order and, for each einsum, a
:class:`~tensorderiv.core.contract.ContractionPlan` worked out on the first run and reused after.

Example:
    >>> import numpy as np
    >>> import tensorderiv as td
    >>> A, x = td.var("A", (2, 2)), td.var("x", (2,))
    >>> td.evaluate(A @ x, {"A": np.eye(2), "x": np.array([1.0, 2.0])}).dense()
    array([1., 2.])
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

from ..core.axes import Axis
from ..core.contract import ContractionPlan, plan_contraction
from ..core.ctensor import CTensor, linear_combination, without_deltas
from ..core.errors import DomainError, ValuesError
from .expr import Expr
from .functions import FUNCTIONS, as_value, describe_argument
from .nodes import Apply, Einsum, Node, Sum, Var

__all__ = ["Program", "check_values", "evaluate"]


def _positional(shape: tuple[int, ...]) -> list[Axis]:
    return [Axis(p, n) for p, n in enumerate(shape)]


def check_values(
    values: Mapping[str, Any],
    needed: Mapping[str, tuple[int, ...]],
    allowed: Mapping[str, tuple[int, ...]],
    what: str,
) -> tuple[dict[str, np.ndarray], np.dtype]:
    """Validate ``values`` for an evaluation; return them as arrays and the common dtype.

    ``needed`` are the variables the computation reads, ``allowed`` every variable of the
    expression (a value for one that a derivative no longer reads is accepted and checked).
    """
    if not isinstance(values, Mapping):
        raise ValuesError(f"values must be a mapping from variable names to arrays, got "
                          f"{type(values).__name__}")
    extra = sorted(set(values) - set(allowed))
    if extra:
        raise ValuesError(f"value given for {', '.join(map(repr, extra))}, which {what} does "
                          f"not use; its variables are {sorted(allowed) or 'none'}")
    missing = sorted(set(needed) - set(values))
    if missing:
        listed = ", ".join(f"{n!r} (shape {needed[n]})" for n in missing)
        raise ValuesError(f"missing value for {listed}, needed to evaluate {what}")
    arrays: dict[str, np.ndarray] = {}
    for name, v in values.items():
        arr = as_value(name, v)
        if arr.dtype.kind not in "fiub":
            raise ValuesError(f"variable {name!r}: expected real numbers, got dtype {arr.dtype}")
        if tuple(arr.shape) != allowed[name]:
            raise ValuesError(f"variable {name!r}: expected shape {allowed[name]}, got "
                              f"{tuple(arr.shape)}")
        if arr.dtype.kind != "f":
            arr = arr.astype(np.float64)
        if isinstance(arr, np.ndarray):
            bad = ~np.isfinite(arr)
            if bad.any():
                at = tuple(int(i) for i in np.argwhere(bad)[0])
                raise ValuesError(f"variable {name!r} has a non-finite entry "
                                  f"({float(arr[at])!r} at index {at}); values must be finite")
        arrays[name] = arr
    dtype = np.result_type(*[a.dtype for a in arrays.values()]) if arrays else np.dtype("f8")
    return arrays, dtype


def _order(root: Node) -> list[Node]:
    """The nodes under ``root`` in dependency order (each after what it reads), once each."""
    seen: set[Node] = set()
    out: list[Node] = []
    stack: list[tuple[Node, bool]] = [(root, False)]
    while stack:
        n, done = stack.pop()
        if done:
            out.append(n)
            continue
        if n in seen:
            continue
        seen.add(n)
        stack.append((n, True))
        stack.extend((c, False) for c in reversed(n.children()) if c not in seen)
    return out


def _constant(n: Einsum, dtype: np.dtype) -> CTensor:
    groups: dict[int, int] = {}
    axis_map: list[int | None] = []
    for i in n.out:
        if n.out.count(i) > 1:
            axis_map.append(groups.setdefault(i, len(groups)))
        else:
            axis_map.append(None)
    return CTensor(np.asarray(n.coef, dtype=dtype), _positional(n.shape), axis_map)


def _apply(n: Apply, arg: CTensor) -> CTensor:
    f = FUNCTIONS[n.fn]
    if f.elementwise:
        if not f.zero_preserving:
            arg = without_deltas(arg)
        values = arg.core
    else:
        values = arg.dense()
    if f.domain is not None and isinstance(values, np.ndarray):
        problem = f.domain(values, n.params)
        if problem:
            raise DomainError(problem + describe_argument(n.arg))
    with np.errstate(over="ignore", under="ignore", invalid="ignore", divide="ignore"):
        out = f.kernel(values, n.params)
    if isinstance(values, np.ndarray):
        out = np.asarray(out, dtype=values.dtype)
        bad = ~np.isfinite(out)
        if bad.any():
            at = tuple(int(i) for i in np.argwhere(bad)[0])
            seen = f"; the input there is {float(values[at])!r}" if f.elementwise else ""
            if np.isnan(out[at]):
                raise DomainError(f"{n.fn} is undefined (nan) at index {at}{seen}"
                                  f"{describe_argument(n.arg)}")
            raise DomainError(f"{n.fn} overflowed: its result is {float(out[at])!r} at index "
                              f"{at}{seen}; {values.dtype} cannot hold it (rescale the inputs)")
    if f.elementwise:
        return CTensor(out, arg.axes, arg.axis_map)
    return CTensor(out, _positional(n.shape))


def _finite(ct: CTensor, what: str) -> None:
    core = ct.core
    if isinstance(core, np.ndarray) and not np.all(np.isfinite(core)):
        raise DomainError(f"{what} overflowed to {float(core[~np.isfinite(core)][0])!r}; "
                          f"{core.dtype} cannot hold the result (rescale the inputs)")


class Program:
    """A node compiled for repeated evaluation: dependency order and contraction plans.

    Example:
        >>> import numpy as np
        >>> import tensorderiv as td
        >>> x = td.var("x", (3,))
        >>> from tensorderiv.symbolic.evaluate import Program
        >>> prog = Program(td.sum(x * x).node)
        >>> float(prog.run({"x": np.ones(3)}).dense())
        3.0
    """

    def __init__(self, node: Node, allowed: Mapping[str, tuple[int, ...]] | None = None,
                 what: str = "the expression") -> None:
        self.node = node
        self.order = _order(node)
        self.needed = {n.name: n.shape for n in self.order if isinstance(n, Var)}
        self.allowed = dict(allowed) if allowed is not None else dict(self.needed)
        self.what = what
        self.plans: dict[Node, ContractionPlan] = {}

    def run(self, values: Mapping[str, Any], backend: str = "auto") -> CTensor:
        """Evaluate on ``values``, a mapping from variable names to arrays."""
        arrays, dtype = check_values(values, self.needed, self.allowed, self.what)
        cache: dict[Node, CTensor] = {}
        for n in self.order:
            if isinstance(n, Var):
                cache[n] = CTensor(arrays[n.name], _positional(n.shape))
            elif isinstance(n, Einsum):
                if n.is_constant:
                    cache[n] = _constant(n, dtype)
                    continue
                ops = [(cache[t], idx) for t, idx in n.terms]
                plan = self.plans.get(n)
                if plan is None:
                    plan = plan_contraction(ops, n.out, _positional(n.shape), coefficient=n.coef)
                    self.plans[n] = plan
                cache[n] = plan.run([t.core for t, _ in ops], backend=backend)
                _finite(cache[n], "a product (einsum) of finite values")
            elif isinstance(n, Sum):
                cache[n] = linear_combination([(c, cache[t]) for c, t in n.terms])
                _finite(cache[n], "a sum of finite values")
            elif isinstance(n, Apply):
                cache[n] = _apply(n, cache[n.arg])
            else:  # pragma: no cover - the node set is closed
                raise TypeError(f"cannot evaluate node type {type(n).__name__}")
        result = cache[self.node]
        if result.core.dtype != dtype and isinstance(result.core, np.ndarray):
            result = result.astype(dtype)
        return result


def evaluate(expr: Expr, values: Mapping[str, Any]) -> CTensor:
    """The value of an expression, as a c-tensor whose axes are the output's (role ``of``).

    Example:
        >>> import numpy as np
        >>> import tensorderiv as td
        >>> x = td.var("x", (2,))
        >>> td.evaluate(td.sum(x ** 2), {"x": np.array([1.0, 2.0])}).dense()
        array(5.)
    """
    prog = Program(expr.node, expr.declared, f"'{expr.text}'")
    ct = prog.run(values)
    name = expr.text if isinstance(expr.node, Var) else "f"
    axes = [Axis((name, 0, p), n, "of", name, p) for p, n in enumerate(expr.shape)]
    return ct.with_axes(axes)
