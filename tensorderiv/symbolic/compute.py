"""Each node kind's computation on values, with the checks every result goes through.

Issue 13's hardening, in one place: a function's domain is checked before its kernel runs, its
result's finiteness after (skipped for the functions in :data:`FINITE_ON_FINITE`, whose result
is finite whenever their finite argument is in their domain), and every product's and sum's
finiteness, each a :class:`~tensorderiv.core.errors.DomainError` naming the step.
:func:`apply_node` and :func:`add_terms` act on c-tensors of any array library (the evaluator's
general path); :mod:`~tensorderiv.symbolic.steps` reuses the checks on numpy cores.

Example:
    >>> import numpy as np
    >>> import tensorderiv as td
    >>> from tensorderiv.core.ctensor import CTensor
    >>> x = td.var("x", (2,))
    >>> node = td.tanh(x).node
    >>> apply_node(node, CTensor(np.array([0.0, 1.0]), ["i"])).core
    array([0.        , 0.76159416])
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from ..core import backends
from ..core.axes import Axis
from ..core.ctensor import CTensor, cancelled_scale, linear_combination, without_deltas
from ..core.errors import DomainError
from .functions import FUNCTIONS, describe_argument
from .nodes import Apply

__all__ = ["FINITE_ON_FINITE", "add_terms", "apply_node", "check_result", "finite",
           "finite_core", "positional"]


def positional(shape: tuple[int, ...]) -> list[Axis]:
    """Axes named by position, for a node's value (its axes are the node's own)."""
    return [Axis(p, n) for p, n in enumerate(shape)]


#: element-wise functions whose value is finite wherever a finite argument is in their domain
#: (checked before the kernel runs): their results need no finiteness pass, since every value
#: and intermediate they can be given is finite (each is checked or is one of these)
FINITE_ON_FINITE = frozenset({"sin", "cos", "tanh", "sigmoid", "relu", "step", "sign", "abs",
                              "softplus", "sqrt", "log"})


def apply_node(n: Apply, arg: CTensor) -> CTensor:
    """``n.fn`` of ``arg``, the value of ``n``'s argument, as a c-tensor (checked)."""
    f = FUNCTIONS[n.fn]
    if f.elementwise:
        if not f.zero_preserving:
            arg = without_deltas(arg)
        values = arg.core
    else:
        values = arg.dense()
    out = _apply_values(n, values)
    if f.elementwise:
        return CTensor(out, arg.axes, arg.axis_map)
    return CTensor(out, positional(n.shape))


def _apply_values(n: Apply, values: Any) -> Any:
    """``n.fn`` of ``values`` (a core, or the dense argument): domain and finiteness checked."""
    f = FUNCTIONS[n.fn]
    if isinstance(values, np.generic):  # a contraction to a scalar: checked like an array
        values = np.asarray(values)
    if f.domain is not None and isinstance(values, np.ndarray):
        problem = f.domain(values, n.params)
        if problem:
            raise DomainError(problem + describe_argument(n.arg))
    with np.errstate(over="ignore", under="ignore", invalid="ignore", divide="ignore"):
        out = backends.call_kernel(n.fn, f.kernel, f.array_kernel, values, n.params)
        if isinstance(values, np.ndarray):
            return check_result(n, f, values, np.asarray(out, dtype=values.dtype))
    return out


def check_result(n: Apply, f: Any, values: np.ndarray, out: np.ndarray) -> np.ndarray:
    """``out`` = ``n.fn(values)``, or DomainError naming its first non-finite entry."""
    if not (f.elementwise and n.fn in FINITE_ON_FINITE) and \
            not math.isfinite(np.add.reduce(out, None)):  # one pass; exact check only on doubt
        bad = ~np.isfinite(out)
        if bad.any():
            at = tuple(int(i) for i in np.argwhere(bad)[0])
            seen = f"; the input there is {float(values[at])!r}" if f.elementwise else ""
            if np.isnan(out[at]):
                raise DomainError(f"{n.fn} is undefined (nan) at index {at}{seen}"
                                  f"{describe_argument(n.arg)}")
            raise DomainError(f"{n.fn} overflowed: its result is {float(out[at])!r} at index "
                              f"{at}{seen}; {values.dtype} cannot hold it (rescale the inputs)")
    return out


def finite(ct: CTensor, what: str) -> None:
    """DomainError when ``ct``'s core has a non-finite entry: ``what`` overflowed."""
    finite_core(ct.core, what)


def finite_core(core: Any, what: str) -> None:
    """DomainError when ``core`` has a non-finite entry: ``what`` overflowed."""
    if isinstance(core, np.generic):  # a contraction to a scalar is checked too
        core = np.asarray(core)
    if not isinstance(core, np.ndarray):
        return
    with np.errstate(over="ignore", invalid="ignore"):
        total = core.sum()  # one pass, no temporary; inf/nan propagate (or a rare overflow)
    if np.isfinite(total) or np.all(np.isfinite(core)):
        return
    raise DomainError(f"{what} overflowed to {float(core[~np.isfinite(core)][0])!r}; "
                      f"{core.dtype} cannot hold the result (rescale the inputs)")


def add_terms(pairs: list[tuple[float, CTensor]]) -> CTensor:
    """``Σ cₖ tₖ``; terms of one structure add in place into one new array (no temporaries)."""
    # constant fills (every axis redundant, e.g. the 1 of 1 - tanh²) add as a scalar
    fill = 0.0
    rest = []
    for c, t in pairs:
        if isinstance(t.core, np.ndarray) and t.core.ndim == 0 and \
                all(m is None for m in t.axis_map):
            fill += c * float(t.core)
        else:
            rest.append((c, t))
    if not rest:
        return linear_combination(pairs)
    first = rest[0][1]
    same = all(t.axis_map == first.axis_map and t.core.shape == first.core.shape
               for _, t in rest)
    if not same or not all(isinstance(t.core, np.ndarray) for _, t in rest) or \
            (fill != 0.0 and first.has_deltas):
        return linear_combination(pairs)
    dtype = np.result_type(*[t.core.dtype for _, t in pairs])
    c0, t0 = rest[0]
    core = np.multiply(t0.core, c0, dtype=dtype) if c0 != 1.0 else np.array(t0.core, dtype=dtype)
    for c, t in rest[1:]:
        if c == 1.0:
            core += t.core
        elif c == -1.0:
            core -= t.core
        else:
            core += c * t.core
    if fill != 0.0:
        core += fill
    return CTensor(core, first.axes, first.axis_map, first.wrt, cancelled_scale(core, pairs))
