"""The function table: each primitive's numpy kernel, domain and derivative rule.

Element-wise functions give their derivative as an element-wise node ``g(a, y)`` (``y = f(a)``);
the engine places it on the diagonal (a Kronecker delta, never materialised). Matrix functions
give their local Jacobian in index notation, in the notes' layout: axes of the argument first,
then axes of the result. Adding a function means adding one entry here (:func:`register`).

Conventions at the kinks: relu′(0) = 0 (as JAX and PyTorch) and abs′(0) = sign(0) = 0 (as
PyTorch; JAX's ``grad(jnp.abs)(0.0)`` is 1). Both are subgradients; the derivative itself does
not exist there, so the testing strategies (:mod:`tensorderiv.testing.strategies`) never draw
those points.

Domains: each function's ``domain`` check runs before its kernel, at evaluation and when a
constant argument is folded, so a value outside the domain is a
:class:`~tensorderiv.DomainError` naming the function (and, for a rule's helper node, the
function whose derivative it computes), never a silent ``nan``/``inf`` or a numpy warning.

Example:
    >>> from tensorderiv.symbolic.functions import FUNCTIONS
    >>> sorted(FUNCTIONS)[:5]
    ['abs', 'cos', 'det', 'exp', 'inv']
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Any

import numpy as np

from ..core.backends import ArrayKernel, backend_of
from ..core.errors import DomainError, ValuesError
from .nodes import Apply, Einsum, Node, Sum, Var
from .simplify import add, constant, einsum, is_zero, scale, zero

__all__ = ["FUNCTIONS", "Function", "apply", "as_value", "describe_argument", "jacobian", "mul",
           "power", "register"]

Kernel = Callable[[Any, tuple[Any, ...]], Any]


@dataclass(frozen=True)
class Function:
    """One primitive.

    Attributes:
        name: its name in expressions.
        kernel: ``kernel(values, params)`` on numpy (or numpy-like) arrays.
        elementwise: True when it acts entry by entry.
        rule: for element-wise functions ``rule(a, y, params) -> g`` with g = f′(a);
            otherwise ``rule(node) -> J``, the local Jacobian (argument axes, then result axes).
        domain: ``domain(values, params)`` returns a message when the values are outside the
            function's domain, else ``None``.
        shape: the result shape from the argument shape (matrix functions).
        zero_preserving: f(0) = 0, so it may act on a compact core whose off-diagonals are zero.
        array_kernel: ``array_kernel(xp, values, params)``, the kernel written against an
            array-API namespace ``xp``, used for torch, jax and cupy arrays (on their device);
            ``None`` means numpy (and dask) values only. See :mod:`tensorderiv.core.backends`.
    """

    name: str
    kernel: Kernel
    elementwise: bool
    rule: Callable[..., Node]
    domain: Callable[[Any, tuple[Any, ...]], str | None] | None = None
    shape: Callable[[tuple[int, ...]], tuple[int, ...]] | None = None
    zero_preserving: bool = False
    array_kernel: ArrayKernel | None = None


FUNCTIONS: dict[str, Function] = {}


def register(fn: Function) -> Function:
    """Add a primitive to the table (the one extension surface for new functions)."""
    FUNCTIONS[fn.name] = fn
    return fn


# ---------------------------------------------------------------- node algebra for the rules
def mul(*nodes: Node) -> Node:
    """The element-wise product of same-shape nodes."""
    idx = tuple(range(nodes[0].ndim))
    return einsum(1.0, [(n, idx) for n in nodes], idx)


def _affine(c0: float, c1: float, node: Node) -> Node:
    """``c0 + c1 · node`` element-wise."""
    return add([(c0, constant(1.0, node.shape)), (c1, node)])


def apply(fn: str, arg: Node, params: tuple[Any, ...] = ()) -> Node:
    """``fn(arg)``, simplified: constants are folded and a few identities rewritten."""
    f = FUNCTIONS[fn]
    shape = arg.shape if f.elementwise else f.shape(arg.shape)  # type: ignore[misc]
    if f.elementwise and isinstance(arg, Einsum) and arg.is_constant \
            and len(set(arg.out)) == len(arg.out):
        return constant(_fold(f, arg.coef, params), arg.shape)
    if fn == "log":
        if isinstance(arg, Apply) and arg.fn == "exp":
            return arg.arg
        sp = _softplus_argument(arg)
        if sp is not None:  # log(1 + exp(u)) is softplus(u), which stays finite for large u
            return apply("softplus", sp)
    if fn == "pow":
        p = params[0]
        if p == 1:
            return arg
        if p == 0:
            return constant(1.0, arg.shape)
        if p == 2:
            return apply("square", arg)
    return Apply.make(fn, arg, shape, params)


def _fold(f: Function, value: float, params: tuple[Any, ...]) -> float:
    """``f`` of a constant, its domain checked and no numpy warning let out."""
    v = np.asarray(value, dtype=np.float64)
    problem = f.domain(v, params) if f.domain is not None else None
    if problem:
        raise DomainError(f"{problem} (its argument simplifies to the constant {value:g})")
    with np.errstate(all="ignore"):
        out = float(f.kernel(v, params))
    if not np.isfinite(out):
        raise DomainError(f"{_label(f.name, params)} of the constant {value:g} is {out} (not a "
                          "finite float64 number)")
    return out


def _label(name: str, params: tuple[Any, ...]) -> str:
    """How a node is named in messages: ``log``, or ``x ** -1`` for a power."""
    if name == "pow":
        return f"x ** {params[0]:g}"
    return name


def as_value(name: str, v: Any) -> Any:
    """A value given for variable ``name``, as the evaluator reads it.

    numpy arrays become read-only views (a result never is the caller's own array, and the
    caller's array is never written); masked arrays are refused (their mask would be lost);
    array-likes without numpy's array interface (``ndim``, ``dtype`` with a ``kind``) are read
    with ``numpy.asarray`` or refused with a message. Lazy and GPU arrays (dask, torch …) pass.
    """
    if isinstance(v, np.ma.MaskedArray):
        raise ValuesError(f"variable {name!r}: masked arrays are not supported (the mask would "
                          "be lost); pass x.filled(value) or the unmasked entries")
    if isinstance(v, np.ndarray):
        view = v.view(np.ndarray)
        view.flags.writeable = False
        return view
    dtype = getattr(v, "dtype", None)
    if hasattr(v, "shape") and hasattr(v, "ndim") and (
            isinstance(getattr(dtype, "kind", None), str)
            or backend_of(v) in ("torch", "jax", "cupy", "dask")):  # kept in their library
        return v
    try:
        arr = np.asarray(v)
    except Exception as exc:  # any failure of a foreign object is the caller's to fix
        raise ValuesError(f"variable {name!r}: cannot read {type(v).__name__} as an array "
                          f"({type(exc).__name__}: {exc}); pass a numpy array") from None
    if arr.dtype == object:
        raise ValuesError(f"variable {name!r}: cannot read {type(v).__name__} as an array of "
                          "numbers; pass a numpy array")
    arr.flags.writeable = False
    return arr


def describe_argument(arg: Node) -> str:
    """Where a function's argument comes from, for a domain message: `` (of variable 'x')``."""
    if isinstance(arg, Var):
        return f" (the argument is the variable {arg.name!r})"
    names = ", ".join(repr(n) for n in sorted(arg.vars))
    if not names:
        return ""
    return f" (the argument is computed from the variable{'s' if len(arg.vars) > 1 else ''} " \
        f"{names}; the index is the argument's)"


def _softplus_argument(arg: Node) -> Node | None:
    if not (isinstance(arg, Sum) and len(arg.terms) == 2):
        return None
    (c1, n1), (c2, n2) = arg.terms
    for (ca, a), (cb, b) in (((c1, n1), (c2, n2)), ((c2, n2), (c1, n1))):
        if ca == 1.0 and isinstance(a, Einsum) and a.is_constant and a.coef == 1.0 \
                and len(set(a.out)) == len(a.out) and cb == 1.0 \
                and isinstance(b, Apply) and b.fn == "exp":
            return b.arg
    return None


def jacobian(node: Apply) -> Node:
    """The local Jacobian of ``node`` w.r.t. its argument: axes (arg…, result…)."""
    f = FUNCTIONS[node.fn]
    if f.elementwise:
        g = f.rule(node.arg, node, node.params)
        if is_zero(g):
            return zero(node.arg.shape + node.shape)
        idx = tuple(range(node.ndim))
        return einsum(1.0, [(g, idx)], idx + idx)  # diag(g): a delta, kept symbolic
    return f.rule(node)


# ---------------------------------------------------------------- kernels
def _sigmoid(x: Any, _p: tuple[Any, ...] = ()) -> Any:
    e = np.exp(-np.abs(x))  # never overflows
    return np.where(x >= 0, 1.0 / (1.0 + e), e / (1.0 + e)).astype(x.dtype, copy=False)


def _softplus(x: Any, _p: tuple[Any, ...] = ()) -> Any:
    return np.maximum(x, 0) + np.log1p(np.exp(-np.abs(x)))


def _step(x: Any, _p: tuple[Any, ...] = ()) -> Any:
    return (x > 0).astype(x.dtype)


def _pow(x: Any, p: tuple[Any, ...]) -> Any:
    return np.power(x, p[0])


def _lse(x: Any, _p: tuple[Any, ...] = ()) -> Any:
    m = np.max(x)
    return m + np.log(np.sum(np.exp(x - m)))


def _lse_last(x: Any, _p: tuple[Any, ...] = ()) -> Any:
    m = np.max(x, axis=-1, keepdims=True)
    return (m + np.log(np.sum(np.exp(x - m), axis=-1, keepdims=True)))[..., 0]


_LINALG_DTYPES = (np.dtype(np.float32), np.dtype(np.float64))


def _singular(name: str) -> Callable[[Any, tuple[Any, ...]], str | None]:
    def check(x: Any, p: tuple[Any, ...]) -> str | None:
        # p = (f,) when this node computes the derivative of f (logdet′ and det′ use inv)
        who = f"the derivative of {p[0]}" if p else name
        if x.dtype not in _LINALG_DTYPES:
            return (f"{who} needs float32 or float64 values, got {x.dtype} (numpy.linalg has "
                    f"no {x.dtype} routines); convert the values with .astype(numpy.float64)")
        with np.errstate(all="ignore"):
            c = np.linalg.cond(x)
        if not np.isfinite(c) or c > 1.0 / np.finfo(x.dtype).eps:
            if p:
                return (f"{who} of a singular matrix (condition number {c:.3g}); the "
                        f"derivative of {p[0]} (X⁻ᵀ{' det X' if p[0] == 'det' else ''}) needs an "
                        "invertible matrix")
            return (f"{name} of a singular matrix (condition number {c:.3g}); "
                    f"{name} and its derivative need an invertible matrix")
        return None

    return check


def _positive(name: str) -> Callable[[Any, tuple[Any, ...]], str | None]:
    def check(x: Any, _p: tuple[Any, ...]) -> str | None:
        bad = np.asarray(x <= 0)
        if bad.any():
            at = tuple(int(i) for i in np.argwhere(bad)[0])
            return (f"{name} of a non-positive entry ({float(x[at])!r} at index {at}); "
                    f"{name} needs x > 0")
        return None

    return check


def _nonnegative_sqrt(x: Any, _p: tuple[Any, ...]) -> str | None:
    bad = np.asarray(x < 0)
    if bad.any():
        at = tuple(int(i) for i in np.argwhere(bad)[0])
        return f"sqrt of a negative entry ({float(x[at])!r} at index {at}); sqrt needs x >= 0"
    return None


def _pow_domain(x: Any, p: tuple[Any, ...]) -> str | None:
    e = p[0]
    if float(e).is_integer():
        bad, why = (x == 0, "division by zero; needs x != 0") if e < 0 else (None, "")
    elif e < 0:
        bad, why = x <= 0, "a negative fractional power needs x > 0"
    else:
        bad, why = x < 0, "a fractional power needs x >= 0"
    if len(p) > 1 and p[1] == "log":  # 1/x as log′: log is undefined at x <= 0
        bad, why = x <= 0, "log needs x > 0"
    if bad is None or not np.any(bad):
        return None
    at = tuple(int(i) for i in np.argwhere(np.asarray(bad))[0])
    where = f"{float(x[at])!r} at index {at}"
    if len(p) > 1 and p[1] == "log":
        return f"the derivative of log at a non-positive entry ({where}); {why}"
    if len(p) > 1:  # made by a derivative rule: say which function's derivative
        return (f"the derivative of {p[1]} is not finite here: it needs x ** {e:g} of "
                f"{where} ({why})")
    return f"x ** {e:g} of {where}: {why}"


def _square_matrix(name: str) -> Callable[[tuple[int, ...]], tuple[int, ...]]:
    def shape(s: tuple[int, ...]) -> tuple[int, ...]:
        if len(s) != 2 or s[0] != s[1]:
            raise ValueError(f"{name} needs a square matrix, got shape {s}")
        return () if name in ("det", "logdet") else s

    return shape


def _lse_last_shape(s: tuple[int, ...]) -> tuple[int, ...]:
    if not s:
        raise ValueError("softmax needs at least one axis, got a scalar")
    return s[:-1]


# ---------------------------------------------------------------- the table
def _e(name: str, kernel: Kernel, rule: Callable[..., Node], **kw: Any) -> None:
    register(Function(name, kernel, True, rule, **kw))


def _k(f: Callable[[Any], Any]) -> Kernel:
    return lambda x, _p: f(x)


_e("exp", _k(np.exp), lambda a, y, p: y)
_e("log", _k(np.log), lambda a, y, p: apply("pow", a, (-1.0, "log")), domain=_positive("log"))
_e("sin", _k(np.sin), lambda a, y, p: apply("cos", a), zero_preserving=True)
_e("cos", _k(np.cos), lambda a, y, p: scale(-1.0, apply("sin", a)))
_e("tanh", _k(np.tanh), lambda a, y, p: _affine(1.0, -1.0, apply("square", y)),
   zero_preserving=True)
# σ′ = σ(a)σ(−a) rather than σ(1 − σ): no cancellation, accurate for large a
_e("sigmoid", _sigmoid, lambda a, y, p: mul(y, apply("sigmoid", scale(-1.0, a))))
_e("relu", _k(lambda x: np.maximum(x, 0)), lambda a, y, p: apply("step", a),
   zero_preserving=True)
_e("step", _step, lambda a, y, p: zero(a.shape), zero_preserving=True)
_e("sign", _k(np.sign), lambda a, y, p: zero(a.shape), zero_preserving=True)
_e("softplus", _softplus, lambda a, y, p: apply("sigmoid", a))
_e("sqrt", _k(np.sqrt), lambda a, y, p: scale(0.5, apply("pow", y, (-1.0, "sqrt"))),
   domain=_nonnegative_sqrt, zero_preserving=True)
_e("square", _k(np.square), lambda a, y, p: scale(2.0, a), zero_preserving=True)
_e("abs", _k(np.abs), lambda a, y, p: apply("sign", a), zero_preserving=True)
_e("pow", _pow,
   lambda a, y, p: scale(p[0], apply("pow", a, (p[0] - 1.0, f"x ** {p[0]:g}"))),
   domain=_pow_domain)


# x ** y with an array exponent, as JAX computes it: |x|^y · (−1)^(y·[x < 0]), so a negative
# base with an integer exponent is fine (d/dx = y x^(y−1)), a non-integer one is refused
def _logabs_domain(x: Any, p: tuple[Any, ...]) -> str | None:
    bad = np.asarray(x == 0)
    if bad.any():
        at = tuple(int(i) for i in np.argwhere(bad)[0])
        return (f"{p[0] if p else 'x ** y'} at a zero base (index {at}) with an array exponent: "
                "its derivative is not finite there")
    return None


def _parity_domain(m: Any, p: tuple[Any, ...]) -> str | None:
    bad = np.asarray(m != np.round(m))
    if bad.any():
        at = tuple(int(i) for i in np.argwhere(bad)[0])
        return (f"{p[0] if p else 'x ** y'}: a negative base needs an integer exponent, got "
                f"{float(m[at])!r} at index {at} (a real power of a negative number is complex)")
    return None


def _parity_grad_domain(m: Any, p: tuple[Any, ...]) -> str | None:
    bad = np.asarray(m != 0)
    if bad.any():
        at = tuple(int(i) for i in np.argwhere(bad)[0])
        return (f"the derivative of {p[0] if p else 'x ** y'} with respect to its exponent is "
                f"undefined at a negative base (index {at}): x ** y is defined only at integer "
                "y there")
    return None


_e("logabs", _k(lambda x: np.log(np.abs(x))), lambda a, y, p: apply("pow", a, (-1.0, *p)),
   domain=_logabs_domain)
_e("parity", lambda m, p: np.where(np.mod(np.round(m), 2) == 0, 1.0, -1.0).astype(m.dtype),
   lambda a, y, p: apply("parity_grad", a, p), domain=_parity_domain)
_e("parity_grad", lambda m, p: np.zeros_like(m), lambda a, y, p: zero(a.shape),
   domain=_parity_grad_domain, zero_preserving=True)


def power(a: Node, b: Node, out: tuple[int, ...], text: str) -> Node:
    """``a ** b`` element-wise for an array exponent ``b`` (both already broadcast to ``out``).

    ``|a|^b · (−1)^(b·[a < 0])``: as JAX, finite for a negative base with an integer exponent.
    """
    magnitude = apply("exp", mul(b, apply("logabs", a, (text,))))
    negative = apply("step", scale(-1.0, a))
    return mul(magnitude, apply("parity", mul(b, negative), (text,)))


def _det_rule(node: Apply) -> Node:  # ∂det X/∂Xᵢⱼ = det(X) (X⁻¹)ⱼᵢ
    return einsum(1.0, [(node, ()), (apply("inv", node.arg, ("det",)), (1, 0))], (0, 1))


def _logdet_rule(node: Apply) -> Node:  # ∂log|det X|/∂Xᵢⱼ = (X⁻¹)ⱼᵢ
    return einsum(1.0, [(apply("inv", node.arg, ("logdet",)), (1, 0))], (0, 1))


def _inv_rule(node: Apply) -> Node:  # ∂Yₖₗ/∂Xᵢⱼ = −Yₖᵢ Yⱼₗ, Y = X⁻¹
    return einsum(-1.0, [(node, (2, 0)), (node, (1, 3))], (0, 1, 2, 3))


def _lse_rule(node: Apply) -> Node:  # ∂ lse(x)/∂x = exp(x − lse(x)): softmax over all entries
    x = node.arg
    r = tuple(range(x.ndim))
    spread = einsum(1.0, [(node, ())], r, dict(enumerate(x.shape)))
    return apply("exp", add([(1.0, x), (-1.0, spread)]))


def softmax_last(x: Node) -> Node:
    """``exp(x − lse(x)[…, None])``: softmax over the last axis, finite for any input."""
    lse = apply("lse_last", x)
    r = tuple(range(x.ndim))
    spread = einsum(1.0, [(lse, r[:-1])], r, dict(enumerate(x.shape)))
    return apply("exp", add([(1.0, x), (-1.0, spread)]))


def _lse_last_rule(node: Apply) -> Node:  # ∂ lse(x)ₐ/∂x_{b j} = δₐᵦ softmax(x)_{b j}
    x = node.arg
    r = tuple(range(x.ndim))
    return einsum(1.0, [(softmax_last(x), r)], r + r[:-1])


register(Function("det", lambda x, p: np.linalg.det(x), False, _det_rule,
                  domain=_singular("det"), shape=_square_matrix("det")))
register(Function("logdet", lambda x, p: np.linalg.slogdet(x)[1], False, _logdet_rule,
                  domain=_singular("logdet"), shape=_square_matrix("logdet")))
register(Function("inv", lambda x, p: np.linalg.inv(x), False, _inv_rule,
                  domain=_singular("inv"), shape=_square_matrix("inv")))
register(Function("lse", _lse, False, _lse_rule, shape=lambda s: ()))
register(Function("lse_last", _lse_last, False, _lse_last_rule, shape=_lse_last_shape))


# ---------------------------------------------------------------- kernels for any array library
# The same functions against an array-API namespace xp (torch, jax, cupy: see core/backends.py).
def _xp_sigmoid(xp: Any, x: Any, _p: tuple[Any, ...]) -> Any:
    e = xp.exp(-xp.abs(x))
    return xp.where(x >= 0, 1.0 / (1.0 + e), e / (1.0 + e))


def _xp_relu(xp: Any, x: Any, _p: tuple[Any, ...]) -> Any:
    return xp.where(x > 0, x, xp.zeros_like(x))


def _xp_lse(xp: Any, x: Any, _p: tuple[Any, ...]) -> Any:
    m = xp.max(x)
    return m + xp.log(xp.sum(xp.exp(x - m)))


def _xp_lse_last(xp: Any, x: Any, _p: tuple[Any, ...]) -> Any:
    m = xp.max(x, axis=-1, keepdims=True)
    return (m + xp.log(xp.sum(xp.exp(x - m), axis=-1, keepdims=True)))[..., 0]


def _xp(name: str) -> ArrayKernel:
    return lambda xp, x, _p: getattr(xp, name)(x)


_ARRAY_KERNELS: dict[str, ArrayKernel] = {
    **{n: _xp(n) for n in ("exp", "log", "sin", "cos", "tanh", "sign", "sqrt", "abs", "square")},
    "sigmoid": _xp_sigmoid,
    "relu": _xp_relu,
    "step": lambda xp, x, p: xp.astype(x > 0, x.dtype),
    "softplus": lambda xp, x, p: _xp_relu(xp, x, p) + xp.log1p(xp.exp(-xp.abs(x))),
    "pow": lambda xp, x, p: x ** p[0],
    "det": lambda xp, x, p: xp.linalg.det(x),
    "logdet": lambda xp, x, p: xp.linalg.slogdet(x)[1],
    "inv": lambda xp, x, p: xp.linalg.inv(x),
    "lse": _xp_lse,
    "lse_last": _xp_lse_last,
    "logabs": lambda xp, x, p: xp.log(xp.abs(x)),
    "parity": lambda xp, m, p: xp.where(xp.remainder(xp.round(m), 2) == 0,
                                        xp.ones_like(m), -xp.ones_like(m)),
    "parity_grad": lambda xp, m, p: xp.zeros_like(m),
}
for _name, _kernel in _ARRAY_KERNELS.items():
    FUNCTIONS[_name] = replace(FUNCTIONS[_name], array_kernel=_kernel)
