"""The values of an evaluation checked on entry: names, dtypes, shapes and finiteness.

:func:`check_values` is the one gate between a user's values dict and the evaluator. Every value
is read as the evaluator reads it (:func:`~tensorderiv.symbolic.functions.as_value`: numpy arrays
become read-only views, masked arrays are refused), checked against the variable's declared shape
and for real numbers, integers become float64, and every numpy value the computation reads is
checked for a non-finite entry in one pass (``sum`` without a temporary; the exact search runs only
when that pass is in doubt). Arrays of other libraries are moved to one library
(:func:`~tensorderiv.core.backends.unify`). Plain numpy arrays, the common case, take a short path
with the same checks and messages and no per-value library dispatch.

Example:
    >>> import numpy as np
    >>> arrays, dtype = check_values({"x": np.arange(3)}, {"x": (3,)}, {"x": (3,)}, "x")
    >>> arrays["x"], dtype
    (array([0., 1., 2.]), dtype('float64'))
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

import numpy as np

from ..core import backends
from ..core.errors import ValuesError
from .functions import as_value

__all__ = ["check_values", "measure"]


def _not_finite(name: str, arr: np.ndarray) -> ValuesError | None:
    """The error for the first non-finite entry of ``arr``, or None when all are finite."""
    bad = ~np.isfinite(arr)
    if not bad.any():
        return None  # the one-pass sum overflowed, but every entry is finite
    at = tuple(int(i) for i in np.argwhere(bad)[0])
    return ValuesError(f"variable {name!r} has a non-finite entry ({float(arr[at])!r} at index "
                       f"{at}); values must be finite")


def measure(core: Any) -> float:
    """A bound on the magnitudes of ``core``'s entries, from one pass; -1 when one is not finite.

    Call it under ``numpy.errstate(over="ignore", invalid="ignore")`` (the dot product of
    large finite entries overflows, which is the doubt this resolves).

    One BLAS dot product of the entries with themselves: when it is finite, every entry is, and
    its square root bounds them all; only when it is not (a non-finite entry, or squares beyond
    the largest float) are the entries read again to tell which.
    """
    flat = np.ravel(core)
    squares = float(np.dot(flat, flat))
    if squares < math.inf:
        return math.sqrt(squares)
    if not np.isfinite(flat).all():
        return -1.0
    return float(max(np.max(flat), -np.min(flat)))


def _names(values: Any, needed: Mapping[str, tuple[int, ...]],
           allowed: Mapping[str, tuple[int, ...]], what: str) -> None:
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


def _numpy_values(values: Mapping[str, Any], needed: Mapping[str, tuple[int, ...]],
                  allowed: Mapping[str, tuple[int, ...]],
                  bounds: dict[str, float] | None) -> dict[str, np.ndarray]:
    """The short path: every value a plain numpy array (checks and messages as the long one)."""
    arrays: dict[str, np.ndarray] = {}
    with np.errstate(over="ignore", invalid="ignore"):  # the dot product may overflow
        for name, v in values.items():
            arr = v.view()
            arr.flags.writeable = False  # a result is never the caller's array, nor written
            kind = arr.dtype.kind
            if kind not in "fiub":
                raise ValuesError(f"variable {name!r}: expected real numbers, got dtype "
                                  f"{arr.dtype}")
            if arr.shape != allowed[name]:
                raise ValuesError(f"variable {name!r}: expected shape {allowed[name]}, got "
                                  f"{arr.shape}")
            if kind != "f":
                arr = arr.astype(np.float64)
                arr.flags.writeable = False
            if name in needed:
                bound = measure(arr)  # one pass; the exact search only when it is in doubt
                error = _not_finite(name, arr) if bound < 0 else None
                if error is not None:
                    raise error
                if bounds is not None:
                    bounds[name] = bound
            arrays[name] = arr
    return arrays


def check_values(
    values: Mapping[str, Any],
    needed: Mapping[str, tuple[int, ...]],
    allowed: Mapping[str, tuple[int, ...]],
    what: str,
    bounds: dict[str, float] | None = None,
) -> tuple[dict[str, Any], np.dtype]:
    """Validate ``values`` for an evaluation; return them as arrays and the common dtype.

    ``needed`` are the variables the computation reads, ``allowed`` every variable of the
    expression (a value for one that a derivative no longer reads is accepted and checked).
    ``bounds``, when given, receives a bound on the magnitudes of each needed plain numpy
    value's entries (see :func:`measure`), found by its finiteness check.

    Raises:
        ValuesError: naming the variable and the rule broken (unknown or missing name, dtype,
            shape, a non-finite entry, values from two array libraries).
    """
    if type(values) is dict and values and values.keys() == allowed.keys() and \
            all(type(v) is np.ndarray for v in values.values()):
        arrays = _numpy_values(values, needed, allowed, bounds)
        dtypes = {a.dtype for a in arrays.values()}
        return arrays, dtypes.pop() if len(dtypes) == 1 else np.result_type(*dtypes)
    _names(values, needed, allowed, what)
    arrays = {}
    for name, v in values.items():
        arr = as_value(name, v)
        if backends.dtype_kind(arr) not in "fiub":
            raise ValuesError(f"variable {name!r}: expected real numbers, got dtype {arr.dtype}")
        if tuple(arr.shape) != allowed[name]:
            raise ValuesError(f"variable {name!r}: expected shape {allowed[name]}, got "
                              f"{tuple(arr.shape)}")
        if backends.dtype_kind(arr) != "f":
            arr = backends.astype(arr, backends.float64_like(arr))
        if isinstance(arr, np.ndarray) and name in needed:
            with np.errstate(over="ignore", invalid="ignore"):
                total = arr.sum()  # one pass, no temporary; the exact check only on doubt
            error = None if np.isfinite(total) else _not_finite(name, arr)
            if error is not None:
                raise error
        arrays[name] = arr
    arrays = backends.unify(arrays)
    return arrays, backends.result_dtype(list(arrays.values()))
