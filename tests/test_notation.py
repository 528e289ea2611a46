"""Derivatives written back in matrix notation: the text is numpy, and its numbers are right.

The text is evaluated here by a small ast walker over numpy (independent of tensorderiv's own
parser and evaluator) and compared with the derivative's c-tensor in the notes' layout.
"""

import ast

import numpy as np
import pytest
from hypothesis import assume, given
from hypothesis import strategies as st

import tensorderiv as td
from tensorderiv.forms.notation import einsum_notation, matrix_notation
from tensorderiv.testing.strategies import expressions, values_for


def _sigmoid(v):
    return 1 / (1 + np.exp(-v))


def _logsumexp(v, axis=None):
    return np.log(np.exp(v).sum(axis=axis))


def _softmax(v):  # over the last axis, as the expression language's softmax
    e = np.exp(v - v.max(axis=-1, keepdims=True))
    return e / e.sum(axis=-1, keepdims=True)


NUMPY = {
    "exp": np.exp, "log": np.log, "sin": np.sin, "cos": np.cos, "tanh": np.tanh,
    "sigmoid": _sigmoid, "relu": lambda v: np.maximum(v, 0), "step": lambda v: (v > 0) * 1.0,
    "sign": np.sign, "softplus": lambda v: np.logaddexp(0, v), "sqrt": np.sqrt,
    "square": np.square, "abs": np.abs, "sum": np.sum, "diag": np.diag, "outer": np.outer,
    "trace": np.trace, "inv": np.linalg.inv, "det": np.linalg.det,
    "logdet": lambda m: np.linalg.slogdet(m)[1], "logsumexp": _logsumexp, "softmax": _softmax,
    "ones": np.ones, "eye": np.eye,
}
OPS = {ast.Add: np.add, ast.Sub: np.subtract, ast.Mult: np.multiply, ast.Div: np.divide,
       ast.Pow: np.power, ast.MatMult: np.matmul}


def numpy_value(text, values):
    """The value of notation text: lines ``name = expr`` then the result, read with ast."""
    env = dict(values)

    def walk(n):
        if isinstance(n, ast.BinOp):
            return OPS[type(n.op)](walk(n.left), walk(n.right))
        if isinstance(n, ast.UnaryOp) and isinstance(n.op, ast.USub):
            return -walk(n.operand)
        if isinstance(n, ast.Constant):
            return n.value
        if isinstance(n, ast.Name):
            return env[n.id]
        if isinstance(n, ast.Attribute) and n.attr == "T":
            return walk(n.value).T
        if isinstance(n, ast.Tuple):
            return tuple(walk(e) for e in n.elts)
        if isinstance(n, ast.Call):
            kw = {k.arg: walk(k.value) for k in n.keywords}
            return NUMPY[n.func.id](*[walk(a) for a in n.args], **kw)
        raise AssertionError(f"unexpected syntax {ast.dump(n)}")

    *lines, last = ast.parse(text, mode="exec").body
    for line in lines:
        assert isinstance(line, ast.Assign) and len(line.targets) == 1
        name = line.targets[0].id
        assert name not in env, f"{name} is named twice or hides a variable"
        env[name] = walk(line.value)
    assert isinstance(last, ast.Expr)
    return walk(last.value)


SHAPES = {"x": (3,), "A": (3, 3), "B": (3, 3), "X": (3, 3), "z": (3,), "W": (3, 2),
          "a": (3,), "b": (3,), "R": (5, 3), "y": (5,), "w": (3,), "s": ()}

EXPECTED = [
    # the examples
    ("x.T @ A @ x", "x", 1, "(A + A.T) @ x"),
    ("trace(A @ X @ B)", "X", 1, "A.T @ B.T"),
    ("tanh(z)", "z", 1, "diag(1 - tanh(z) ** 2)"),
    # notes A.9: ∂Z/∂A = W, ∂f(Z)/∂Z = diag(f′(Z)), ∂L/∂W = A (∂L/∂Z)ᵀ as an outer product
    ("W.T @ x", "x", 1, "W"),
    # σ′(z) = σ(z)(1 − σ(z)) = σ(z)σ(−z), the form without cancellation
    ("sigmoid(z)", "z", 1, "diag(sigmoid(z) * sigmoid(-z))"),
    ("sum(tanh(W.T @ x))", "W", 1, "outer(x, 1 - tanh(W.T @ x) ** 2)"),
    # Matrix Cookbook
    ("A @ x", "x", 1, "A.T"),
    ("a @ X @ b", "X", 1, "outer(a, b)"),
    ("logdet(X)", "X", 1, "inv(X).T"),
    ("det(X)", "X", 1, "det(X) * inv(X).T"),
    ("x.T @ A @ x", "x", 2, "A + A.T"),
    ("a @ inv(X) @ b", "X", 1, "-outer(inv(X).T @ a, inv(X) @ b)"),
    # least squares and logistic regression
    ("0.5 * sum((R @ w - y) ** 2)", "w", 2, "R.T @ R"),
    ("sum(log(1 + exp(-y * (R @ w))))", "w", 2,
     "R.T @ diag(y ** 2 * sigmoid((R @ w) * y) * sigmoid(-((R @ w) * y))) @ R"),
    # ∂M/∂s has the shape of Mᵀ (notes Definition 17)
    ("s * A", "s", 1, "A.T"),
]


def _values(names, seed=0):
    rng = np.random.default_rng(seed)
    v = {n: rng.normal(size=SHAPES[n]) for n in names}
    if "X" in v:
        v["X"] = v["X"] + 3 * np.eye(3)
    return v


@pytest.mark.parametrize(("text", "wrt", "order", "expected"), EXPECTED,
                         ids=[f"{e[0]}|{e[1]}|{e[2]}" for e in EXPECTED])
def test_matrix_notation_reads_like_the_textbook(text, wrt, order, expected):
    expr = td.parse(text, SHAPES)
    d = td.derive(expr, wrt, order=order)
    got = matrix_notation(d)
    assert got == expected
    vals = _values(expr.variables)
    full = d.evaluate(vals).dense()
    if wrt == "s":  # ∂M/∂s: the notes write it with the shape of Mᵀ
        full = full.T
    np.testing.assert_allclose(numpy_value(got, vals), full, rtol=1e-10, atol=1e-12)


def test_no_matrix_form_for_rank_three():
    d = td.derive("W.T @ x", "W", shapes=SHAPES)  # a (3, 2, 2) c-tensor
    assert matrix_notation(d) is None
    assert "einsum(" in einsum_notation(d.node)


@given(st.data())
def test_matrix_notation_of_random_derivatives_evaluates_to_the_same_numbers(data):
    g = data.draw(expressions(max_depth=2, functions=[
        f for f in ("exp", "sin", "tanh", "sigmoid", "square", "add", "sub", "mul", "sum",
                    "trace", "outer", "dot", "matmul", "T", "diag", "logdet", "inv")]))
    values = data.draw(values_for(g.shapes))
    name = data.draw(st.sampled_from(sorted(g.shapes)))
    d = td.derive(g.expr, name)
    text = matrix_notation(d)
    assume(text is not None)
    want = d.evaluate(values).dense()
    if g.shapes[name] == () and g.expr.ndim == 2:
        want = want.T  # ∂M/∂s has the shape of Mᵀ (notes Definition 17)
    assume(np.all(np.isfinite(want)))
    got = np.asarray(numpy_value(text, values), dtype=float)
    np.testing.assert_allclose(got, want, rtol=1e-8, atol=1e-8 * max(1.0, np.abs(want).max()))
