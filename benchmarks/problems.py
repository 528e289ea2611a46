"""The benchmark problems P1–P6 (issue 12): data, hand-written numpy closed forms, and builders.

Each :class:`Problem` knows its sizes (three per mode), how to make seeded data for a size, the
hand-written numpy closed form (the reference every system is checked against and timed beside),
and how to build the callable of each system: ``td`` (tensorderiv, compiled), ``jax`` (jitted)
and ``torch`` (``torch.func``). A builder returns a function of the values dict that returns a
tuple of arrays, compared entry by entry with the closed form's tuple.

Nothing here imports jax or torch at module level: the worker imports them only when asked.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

Values = dict[str, np.ndarray]
Builder = Callable[[dict[str, tuple[int, ...]]], Callable[[Values], tuple[Any, ...]]]


@dataclass
class Problem:
    """One benchmark problem; ``sizes[mode]`` are three size parameters (ints)."""

    key: str
    title: str
    sizes: dict[str, tuple[int, ...]]
    size_label: str
    make: Callable[[int, np.random.Generator], Values]
    closed: Callable[[Values], tuple[np.ndarray, ...]]
    td: Callable[[Values], Any]  # returns (build_info, callable)
    peers: dict[str, Callable[[Values], Callable[[Values], tuple[Any, ...]]]] = field(
        default_factory=dict)
    rtol: float = 1e-8
    note: str = ""


def _shapes(values: Values) -> dict[str, tuple[int, ...]]:
    return {k: tuple(v.shape) for k, v in values.items()}


def _td() -> Any:
    import tensorderiv as td

    return td


def _compile(*exprs: Any) -> Callable[[Values], Any]:
    """``td.compile`` of several outputs (one program); separate programs before it existed."""
    td = _td()
    if hasattr(td, "compile"):
        return td.compile(*exprs)
    fns = [e.compile() if isinstance(e, td.Derivative) else (lambda v, e=e: td.evaluate(e, v))
           for e in exprs]
    if len(fns) == 1:
        return fns[0]
    return lambda v: tuple(f(v) for f in fns)


def _jax() -> Any:
    import jax

    jax.config.update("jax_enable_x64", True)
    return jax


def _torch() -> Any:
    import torch

    torch.set_num_threads(1)
    return torch


def _jax_call(fn: Any, names: list[str]) -> Callable[[Values], tuple[Any, ...]]:
    jax = _jax()
    cache: dict[int, Any] = {}

    def call(values: Values) -> tuple[Any, ...]:
        key = id(values)
        if key not in cache:  # the arrays move to the device once, outside the timing
            cache.clear()
            cache[key] = [jax.numpy.asarray(values[n]) for n in names]
        out = fn(*cache[key])
        out = out if isinstance(out, tuple) else (out,)
        return tuple(o.block_until_ready() for o in jax.tree_util.tree_leaves(out))

    return call


def _torch_call(fn: Any, names: list[str]) -> Callable[[Values], tuple[Any, ...]]:
    torch = _torch()
    cache: dict[int, Any] = {}

    def call(values: Values) -> tuple[Any, ...]:
        key = id(values)
        if key not in cache:
            cache.clear()
            cache[key] = [torch.from_numpy(values[n]) for n in names]
        out = fn(*cache[key])
        return out if isinstance(out, tuple) else (out,)

    return call


# ---------------------------------------------------------------- P1 logistic Hessian
P1_TEXT = "sum(log(1 + exp(-y * (X @ w))))"


def _p1_make(d: int, rng: np.random.Generator) -> Values:
    n = 4 * d
    return {"X": rng.normal(size=(n, d)) / np.sqrt(d), "y": rng.choice([-1.0, 1.0], size=n),
            "w": rng.normal(size=d)}


def _p1_closed(v: Values) -> tuple[np.ndarray, ...]:
    X, y, w = v["X"], v["y"], v["w"]
    s = 1.0 / (1.0 + np.exp(y * (X @ w)))
    return (X.T @ ((y * y * s * (1.0 - s))[:, None] * X),)


def _p1_td(v: Values) -> Any:
    td = _td()
    H = td.derive(P1_TEXT, "w", order=2, shapes=_shapes(v))
    return H, _dense_of(_compile(H))


def _p1_jax(v: Values) -> Any:
    jax = _jax()
    jnp = jax.numpy

    def loss(w, X, y):
        return jnp.sum(jnp.log(1 + jnp.exp(-y * (X @ w))))

    return _jax_call(jax.jit(jax.hessian(loss)), ["w", "X", "y"])


def _p1_torch(v: Values) -> Any:
    torch = _torch()

    def loss(w, X, y):
        return torch.sum(torch.log(1 + torch.exp(-y * (X @ w))))

    return _torch_call(torch.func.hessian(loss), ["w", "X", "y"])


def _dense_of(fn: Callable[[Values], Any]) -> Callable[[Values], tuple[Any, ...]]:
    def call(values: Values) -> tuple[Any, ...]:
        out = fn(values)
        out = out if isinstance(out, tuple) else (out,)
        return tuple(np.asarray(o) for o in out)  # the full array (no copy when it is the core)

    return call


def _compact_of(fn: Callable[[Values], Any]) -> Callable[[Values], tuple[Any, ...]]:
    def call(values: Values) -> tuple[Any, ...]:
        out = fn(values)
        out = out if isinstance(out, tuple) else (out,)
        return tuple(o.core for o in out)

    return call


# ---------------------------------------------------------------- P2 ∂(Wᵀa)/∂W
def _p2_make(m: int, rng: np.random.Generator) -> Values:
    return {"W": rng.normal(size=(m, m)), "a": rng.normal(size=m)}


def _p2c_closed(v: Values) -> tuple[np.ndarray, ...]:
    return (v["a"].copy(),)  # the m values of a: the whole of ∂(Wᵀa)/∂W, a_i δ_jk


def _p2d_closed(v: Values) -> tuple[np.ndarray, ...]:
    a = v["a"]
    m, n = v["W"].shape
    out = np.zeros((m, n, n))
    r = np.arange(n)
    out[:, r, r] = a[:, None]
    return (out,)


def _p2_derivative(v: Values) -> Any:
    return _td().derive("W.T @ a", "W", shapes=_shapes(v))


def _p2c_td(v: Values) -> Any:
    d = _p2_derivative(v)
    return d, _compact_of(_compile(d))


def _p2d_td(v: Values) -> Any:
    d = _p2_derivative(v)
    return d, _dense_of(_compile(d))


def _p2d_jax(v: Values) -> Any:
    jax = _jax()
    # numerator layout (n, m, n) in JAX; moved to the notes' (m, n, n) inside the jitted call
    f = jax.jit(lambda W, a: jax.numpy.moveaxis(jax.jacrev(lambda W_: W_.T @ a)(W), 0, 2))
    return _jax_call(f, ["W", "a"])


def _p2d_torch(v: Values) -> Any:
    torch = _torch()

    def f(W, a):
        return torch.func.jacrev(lambda W_: W_.T @ a)(W).permute(1, 2, 0)

    return _torch_call(f, ["W", "a"])


# ---------------------------------------------------------------- P3 3-layer tanh MLP
P3_TEXT = "sum((W3.T @ tanh(W2.T @ tanh(W1.T @ X)) - Y)**2)"


def _p3_make(n: int, rng: np.random.Generator) -> Values:
    s = 1.0 / np.sqrt(n)
    return {"W1": rng.normal(size=(n, n)) * s, "W2": rng.normal(size=(n, n)) * s,
            "W3": rng.normal(size=(n, n)) * s, "X": rng.normal(size=(n, n)),
            "Y": rng.normal(size=(n, n))}


def _p3_backprop(v: Values) -> tuple[np.ndarray, ...]:
    W1, W2, W3, X, Y = v["W1"], v["W2"], v["W3"], v["X"], v["Y"]
    H1 = np.tanh(W1.T @ X)
    H2 = np.tanh(W2.T @ H1)
    R = W3.T @ H2 - Y
    G3 = 2.0 * R
    dW3 = H2 @ G3.T
    G2 = (W3 @ G3) * (1.0 - H2 * H2)
    dW2 = H1 @ G2.T
    G1 = (W2 @ G2) * (1.0 - H1 * H1)
    dW1 = X @ G1.T
    return np.sum(R * R), dW1, dW2, dW3


def _p3w1_closed(v: Values) -> tuple[np.ndarray, ...]:
    # the reference for the check is dW1; the time it is compared with is the whole backward
    # pass (the yardstick: one gradient against backprop computing all three)
    return (_p3_backprop(v)[1],)


def _p3w1_hand(v: Values) -> tuple[np.ndarray, ...]:
    return _p3_backprop(v)


def _p3_td(v: Values) -> Any:
    td = _td()
    L = td.parse(P3_TEXT, _shapes(v))
    grads = [td.derive(L, w) for w in ("W1", "W2", "W3")]
    return grads, _dense_of(_compile(L, *grads))


def _p3w1_td(v: Values) -> Any:
    td = _td()
    g = td.derive(P3_TEXT, "W1", shapes=_shapes(v))
    return g, _dense_of(_compile(g))


def _p3_jax_loss() -> Any:
    jnp = _jax().numpy

    def loss(W1, W2, W3, X, Y):
        return jnp.sum((W3.T @ jnp.tanh(W2.T @ jnp.tanh(W1.T @ X)) - Y) ** 2)

    return loss


def _p3_jax(v: Values) -> Any:
    jax = _jax()
    f = jax.jit(jax.value_and_grad(_p3_jax_loss(), argnums=(0, 1, 2)))
    return _jax_call(f, ["W1", "W2", "W3", "X", "Y"])


def _p3w1_jax(v: Values) -> Any:
    jax = _jax()
    return _jax_call(jax.jit(jax.grad(_p3_jax_loss(), argnums=0)), ["W1", "W2", "W3", "X", "Y"])


def _p3_torch_loss() -> Any:
    torch = _torch()

    def loss(W1, W2, W3, X, Y):
        return torch.sum((W3.T @ torch.tanh(W2.T @ torch.tanh(W1.T @ X)) - Y) ** 2)

    return loss


def _p3_torch(v: Values) -> Any:
    torch = _torch()
    f = torch.func.grad_and_value(_p3_torch_loss(), argnums=(0, 1, 2))

    def call(*args: Any) -> tuple[Any, ...]:
        grads, value = f(*args)
        return (value, *grads)

    return _torch_call(call, ["W1", "W2", "W3", "X", "Y"])


def _p3w1_torch(v: Values) -> Any:
    torch = _torch()
    return _torch_call(torch.func.grad(_p3_torch_loss(), argnums=0),
                       ["W1", "W2", "W3", "X", "Y"])


# ---------------------------------------------------------------- P4 xᵀAx + Σ tanh(Bx), order 2
P4_TEXT = "x @ A @ x + sum(tanh(B @ x))"


def _p4_make(n: int, rng: np.random.Generator) -> Values:
    return {"x": rng.normal(size=n), "A": rng.normal(size=(n, n)),
            "B": rng.normal(size=(n, n)) / np.sqrt(n)}


def _p4_closed(v: Values) -> tuple[np.ndarray, ...]:
    A, B, x = v["A"], v["B"], v["x"]
    t = np.tanh(B @ x)
    d2 = -2.0 * t * (1.0 - t * t)
    return (A + A.T + B.T @ (d2[:, None] * B),)


def _p4_td(v: Values) -> Any:
    td = _td()
    H = td.derive(P4_TEXT, "x", order=2, shapes=_shapes(v))
    return H, _dense_of(_compile(H))


def _p4_jax(v: Values) -> Any:
    jax = _jax()
    jnp = jax.numpy
    f = jax.jit(jax.hessian(lambda x, A, B: x @ A @ x + jnp.sum(jnp.tanh(B @ x))))
    return _jax_call(f, ["x", "A", "B"])


def _p4_torch(v: Values) -> Any:
    torch = _torch()
    f = torch.func.hessian(lambda x, A, B: x @ A @ x + torch.sum(torch.tanh(B @ x)))
    return _torch_call(f, ["x", "A", "B"])


# ---------------------------------------------------------------- P5 Σ tanh(Wx), order 3
P5_TEXT = "sum(tanh(W @ x))"


def _p5_make(n: int, rng: np.random.Generator) -> Values:
    return {"x": rng.normal(size=n), "W": rng.normal(size=(n, n)) / np.sqrt(n)}


def _p5_closed(v: Values) -> tuple[np.ndarray, ...]:
    W, x = v["W"], v["x"]
    n = x.shape[0]
    t = np.tanh(W @ x)
    c = (1.0 - t * t) * (6.0 * t * t - 2.0)  # tanh'''
    K = (W[:, :, None] * W[:, None, :]).reshape(n, n * n)
    return (((c[:, None] * W).T @ K).reshape(n, n, n),)


def _p5_td(v: Values) -> Any:
    td = _td()
    T = td.derive(P5_TEXT, "x", order=3, shapes=_shapes(v))
    return T, _dense_of(_compile(T))


def _p5_jax(v: Values) -> Any:
    jax = _jax()
    f = jax.jit(jax.jacfwd(jax.hessian(lambda x, W: jax.numpy.sum(jax.numpy.tanh(W @ x)))))
    return _jax_call(f, ["x", "W"])


def _p5_torch(v: Values) -> Any:
    torch = _torch()
    f = torch.func.jacfwd(torch.func.hessian(lambda x, W: torch.sum(torch.tanh(W @ x))))
    return _torch_call(f, ["x", "W"])


# ---------------------------------------------------------------- P6 ∂tanh(z)/∂z
def _p6_make(n: int, rng: np.random.Generator) -> Values:
    return {"z": rng.normal(size=n)}


def _p6c_closed(v: Values) -> tuple[np.ndarray, ...]:
    t = np.tanh(v["z"])
    return (1.0 - t * t,)


def _p6d_closed(v: Values) -> tuple[np.ndarray, ...]:
    t = np.tanh(v["z"])
    return (np.diag(1.0 - t * t),)


def _p6c_td(v: Values) -> Any:
    d = _td().derive("tanh(z)", "z", shapes=_shapes(v))
    return d, _compact_of(_compile(d))


def _p6d_td(v: Values) -> Any:
    d = _td().derive("tanh(z)", "z", shapes=_shapes(v))
    return d, _dense_of(_compile(d))


def _p6d_jax(v: Values) -> Any:
    jax = _jax()
    return _jax_call(jax.jit(jax.jacfwd(jax.numpy.tanh)), ["z"])


def _p6d_torch(v: Values) -> Any:
    torch = _torch()
    return _torch_call(torch.func.jacfwd(torch.tanh), ["z"])


# ---------------------------------------------------------------- O1 small logistic Hessian
def _o1_make(d: int, rng: np.random.Generator) -> Values:
    return {"X": rng.normal(size=(d, d)) / np.sqrt(d), "y": rng.choice([-1.0, 1.0], size=d),
            "w": rng.normal(size=d)}


PROBLEMS: dict[str, Problem] = {p.key: p for p in [
    Problem("P1", "Hessian of the logistic loss (X n×d, n = 4d)",
            {"default": (100, 300, 1000), "quick": (10, 20, 40)}, "d",
            _p1_make, _p1_closed, _p1_td, {"jax": _p1_jax, "torch": _p1_torch}),
    Problem("P2c", "∂(Wᵀa)/∂W compact (m = n)",
            {"default": (200, 800, 2000), "quick": (5, 10, 20)}, "m",
            _p2_make, _p2c_closed, _p2c_td, {}, note="O(m): a's m values"),
    Problem("P2d", "∂(Wᵀa)/∂W dense (m = n)",
            {"default": (100, 200, 400), "quick": (5, 10, 20)}, "m",
            _p2_make, _p2d_closed, _p2d_td, {"jax": _p2d_jax, "torch": _p2d_torch},
            note="dense is m·n² entries: m = n = 2000 would be 64 GB, so the largest is 400"),
    Problem("P3", "MLP loss and ∂/∂W1, W2, W3 (all N×N, batch N)",
            {"default": (128, 512, 1024), "quick": (8, 16, 24)}, "N",
            _p3_make, _p3_backprop, _p3_td, {"jax": _p3_jax, "torch": _p3_torch}, rtol=1e-7),
    Problem("P3w1", "MLP ∂/∂W1 alone (ratio to the whole backward pass)",
            {"default": (128, 512, 1024), "quick": (8, 16, 24)}, "N",
            _p3_make, _p3w1_closed, _p3w1_td, {"jax": _p3w1_jax, "torch": _p3w1_torch},
            rtol=1e-7, note="timed against numpy backprop computing all three gradients"),
    Problem("P4", "Hessian of xᵀAx + Σ tanh(Bx)",
            {"default": (100, 300, 1000), "quick": (5, 10, 20)}, "n",
            _p4_make, _p4_closed, _p4_td, {"jax": _p4_jax, "torch": _p4_torch}),
    Problem("P5", "third derivative of Σ tanh(Wx)",
            {"default": (20, 50, 100), "quick": (3, 5, 8)}, "n",
            _p5_make, _p5_closed, _p5_td, {"jax": _p5_jax, "torch": _p5_torch}),
    Problem("P6c", "∂tanh(z)/∂z compact",
            {"default": (1000, 10000, 1000000), "quick": (5, 10, 20)}, "n",
            _p6_make, _p6c_closed, _p6c_td, {}, note="O(n): tanh′ on the diagonal"),
    Problem("P6d", "∂tanh(z)/∂z dense",
            {"default": (1000, 3000, 10000), "quick": (5, 10, 20)}, "n",
            _p6_make, _p6d_closed, _p6d_td, {"jax": _p6d_jax, "torch": _p6d_torch}),
    Problem("O1", "per-call overhead: logistic Hessian, X d×d",
            {"default": (20, 50, 200), "quick": (4, 6, 8)}, "d",
            _o1_make, _p1_closed, _p1_td, {"jax": _p1_jax, "torch": _p1_torch}),
]}

#: the hand-written function timed beside a system, when it is not the closed form itself
HAND: dict[str, Callable[[Values], tuple[np.ndarray, ...]]] = {"P3w1": _p3w1_hand}
