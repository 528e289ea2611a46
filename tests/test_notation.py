"""Derivatives written back in matrix notation: the text is numpy, and its numbers are right.

The text is evaluated here by a small ast walker over numpy (independent of tensorderiv's own
parser and evaluator) and compared with the derivative's c-tensor in the notes' layout.
"""

import os
import subprocess
import sys

import numpy as np
import pytest
from hypothesis import assume, given
from hypothesis import strategies as st
from notation_corpus import CORPUS, corpus_values
from notation_corpus import SHAPES as CORPUS_SHAPES
from numpy_text import numpy_value

import tensorderiv as td
from tensorderiv.cli import app as cli
from tensorderiv.forms.notation import NotationInputError, einsum_notation, matrix_notation
from tensorderiv.testing.strategies import expressions, values_for

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


# ---------------------------------------------------- the corpus (tests/notation_corpus.py)
def _corpus_case(text, wrt, order):
    d = td.derive(td.parse(text, CORPUS_SHAPES), wrt, order=order)
    vals = corpus_values(d.variables_allowed)
    want = d.evaluate(vals).dense()
    if CORPUS_SHAPES[wrt] == () and d.of.ndim == 2:
        want = want.T  # ∂M/∂s has the shape of Mᵀ (notes Definition 17)
    return d, vals, want


@pytest.mark.parametrize(("text", "wrt", "order"), CORPUS,
                         ids=[f"{t}|{w}|{o}" for t, w, o in CORPUS])
def test_corpus_notation_evaluates_to_the_derivative(text, wrt, order):
    d, vals, want = _corpus_case(text, wrt, order)
    got = matrix_notation(d)
    if got is None:
        pytest.skip("no matrix notation (counted by the coverage test)")
    np.testing.assert_allclose(np.asarray(numpy_value(got, vals), dtype=float), want,
                               rtol=1e-8, atol=1e-10)


def test_corpus_coverage_of_rank_two_derivatives():
    ranked = [(t, w, o) for t, w, o in CORPUS
              if td.derive(td.parse(t, CORPUS_SHAPES), w, order=o).ndim <= 2]
    missing = [c for c in ranked
               if matrix_notation(td.derive(td.parse(c[0], CORPUS_SHAPES), c[1], order=c[2]))
               is None]
    coverage = 1 - len(missing) / len(ranked)
    print(f"matrix notation coverage: {coverage:.3f} of {len(ranked)} rank <= 2 derivatives; "
          f"missing: {missing}")
    assert len(ranked) >= 150
    assert coverage >= 0.95, missing


FAMILIES = [
    # softmax with p named (notes' habit of naming intermediates); cross-entropy as softmax - y
    ("softmax(z)", "z", "p = softmax(z)\ndiag(p) - outer(p, p)"),
    ("logsumexp(z) - y @ z", "z", "softmax(z) - y"),
    ("logsumexp(W.T @ x) - k @ (W.T @ x)", "W", "outer(x, softmax(W.T @ x)) - outer(x, k)"),
    # batched, columns as samples; the loss written with a log-sum-exp per row (numpy's softmax
    # axis, the last) and the softmax written out by hand both read as softmax
    ("sum(log(sum(exp(N.T @ Ab), axis=1))) - sum(Z * (N.T @ Ab))", "N",
     "Ab @ (softmax(N.T @ Ab) - Z).T"),
    ("exp(z) / sum(exp(z))", "z", "p = softmax(z)\ndiag(p) - outer(p, p)"),
    # -y·log softmax(z) is softmax(z) - y only when Σy = 1, which the expression does not say
    ("-y @ log(softmax(z))", "z", "sum(y) * softmax(z) - y"),
    # element-wise functions and Hadamard products inside bilinear forms
    ("a @ sin(X) @ b", "X", "outer(a, b) * cos(X)"),
    ("a @ (A * X * B) @ b", "X", "outer(a, b) * A * B"),
    # Cookbook (49), (57), (51), (116)
    ("det(X)", "X", "det(X) * inv(X).T"),
    ("det(N.T @ A @ N)", "N",
     "det(N.T @ A @ N) * (A @ N @ inv(N.T @ A @ N) + A.T @ N @ inv(N.T @ A @ N).T)"),
    ("trace(X.T @ B @ X @ C)", "X", "B @ X @ C + B.T @ X @ C.T"),
    ("logdet(X)", "X", "inv(X).T"),
    # a bias column (n, 1): the sum over the batch keeps its axis, as a backward pass writes it
    ("sum(relu(W1.T @ Xb + b1))", "b1", "sum(step(b1 + W1.T @ Xb), axis=1, keepdims=True)"),
]


@pytest.mark.parametrize(("text", "wrt", "expected"), FAMILIES,
                         ids=[f"{e[0]}|{e[1]}" for e in FAMILIES])
def test_families_read_like_the_textbook(text, wrt, expected):
    d, vals, want = _corpus_case(text, wrt, 1)
    got = matrix_notation(d)
    assert got == expected
    np.testing.assert_allclose(numpy_value(got, vals), want, rtol=1e-8, atol=1e-10)


NOTEBOOK_LOSS = "0.5 * sum(square(W2.T @ tanh(W1.T @ X + b1) + b2 - Y))"  # notebooks/02


# the notebook's backward pass, as the notes write it: dZ2 = Z2 - Y, W2: A1 dZ2ᵀ, b2: Σ dZ2 over
# the batch, dZ1 = (W2 dZ2) ⊙ (1 - A1²), W1: X dZ1ᵀ, b1: Σ dZ1 over the batch
NOTEBOOK_GRADIENTS = {
    "W1": "X @ ((W2 @ (b2 + W2.T @ tanh(b1 + W1.T @ X) - Y)) * (1 - tanh(b1 + W1.T @ X) ** 2)).T",
    "b1": "sum((W2 @ (b2 + W2.T @ tanh(b1 + W1.T @ X) - Y)) * (1 - tanh(b1 + W1.T @ X) ** 2), "
          "axis=1, keepdims=True)",
    "W2": "tanh(b1 + W1.T @ X) @ (b2 + W2.T @ tanh(b1 + W1.T @ X) - Y).T",
    "b2": "sum(b2 + W2.T @ tanh(b1 + W1.T @ X) - Y, axis=1, keepdims=True)",
}


@pytest.mark.parametrize("wrt", ["W1", "b1", "W2", "b2"])
def test_all_four_gradients_of_the_biased_network_have_notation(wrt):
    shapes = {"W1": (3, 4), "b1": (4, 1), "W2": (4, 2), "b2": (2, 1), "X": (3, 5), "Y": (2, 5)}
    d = td.derive(NOTEBOOK_LOSS, wrt, shapes=shapes)
    text = matrix_notation(d)
    assert text == NOTEBOOK_GRADIENTS[wrt]
    rng = np.random.default_rng(1)
    vals = {n: rng.normal(size=s) for n, s in shapes.items()}
    # the hand-written backward pass of the notebook is the oracle
    A1 = np.tanh(vals["W1"].T @ vals["X"] + vals["b1"])
    dZ2 = vals["W2"].T @ A1 + vals["b2"] - vals["Y"]
    dZ1 = (vals["W2"] @ dZ2) * (1 - A1 ** 2)
    want = {"W1": vals["X"] @ dZ1.T, "b1": dZ1.sum(axis=1, keepdims=True), "W2": A1 @ dZ2.T,
            "b2": dZ2.sum(axis=1, keepdims=True)}[wrt]
    np.testing.assert_allclose(numpy_value(text, vals), want, rtol=1e-10, atol=1e-12)


@given(st.data())
def test_notation_of_random_expressions_over_the_whole_vocabulary(data):
    """Softmax, logsumexp, norm, det, inv, einsum … at orders 1 and 2: right, or None."""
    g = data.draw(expressions(max_depth=3))
    values = data.draw(values_for(g.shapes))
    name = data.draw(st.sampled_from(sorted(g.shapes)))
    order = data.draw(st.sampled_from([1, 2]))
    d = td.derive(g.expr, name, order=order)
    text = matrix_notation(d)
    assume(text is not None)
    assert d.ndim <= 2
    try:
        want = d.evaluate(values).dense()
    except td.DomainError:  # e.g. norm at 0: the derivative itself is undefined there
        assume(False)
    if g.shapes[name] == () and g.expr.ndim == 2 and order == 1:
        want = want.T  # ∂M/∂s has the shape of Mᵀ (notes Definition 17)
    assume(np.all(np.isfinite(want)))
    with np.errstate(all="ignore"):
        got = np.asarray(numpy_value(text, values), dtype=float)
    np.testing.assert_allclose(got, want, rtol=1e-7, atol=1e-7 * max(1.0, np.abs(want).max()),
                               err_msg=f"{g.expr.text} wrt {name}, order {order}:\n{text}")


# ---------------------------------------------------------------- determinism and tidiness
def test_like_factors_merge_into_powers():
    assert matrix_notation("y * y * x", {"x": (3,), "y": (3,)}) == "x * y ** 2"


_DETERMINISM_SCRIPT = """
import tensorderiv as td
n, m = {sizes}
cases = [
    ("sum(log(1 + exp(-y * (R @ w))))", "w", 2, {{"y": (n,), "R": (n, m), "w": (m,)}}),
    ("sum(sigmoid(y * (R @ w)) * y * y)", "w", 1, {{"y": (n,), "R": (n, m), "w": (m,)}}),
    ("-sum(t * log(sigmoid(R @ w)) + (1 - t) * log(1 - sigmoid(R @ w)))", "w", 2,
     {{"t": (n,), "R": (n, m), "w": (m,)}}),
    ("0.5 * sum(square(W2.T @ tanh(W1.T @ X + b1) + b2 - Y))", "W1", 1,
     {{"W1": (m, n), "b1": (n, 1), "W2": (n, 2), "b2": (2, 1), "X": (m, 3), "Y": (2, 3)}}),
    ("trace(inv(X.T @ C @ X) @ (X.T @ B @ X))", "X", 1, {{"X": (m, m), "C": (m, m), "B": (m, m)}}),
    ("softmax(A @ x)", "x", 1, {{"A": (n, m), "x": (m,)}}),
]
for text, wrt, order, shapes in cases:
    d = td.derive(text, wrt, shapes=shapes, order=order)
    print(repr(td.matrix_notation(d)))
    print(repr(td.einsum_notation(d)))
"""


def _notation_in_process(seed, sizes):
    env = {**os.environ, "PYTHONHASHSEED": str(seed)}
    return subprocess.Popen([sys.executable, "-c", _DETERMINISM_SCRIPT.format(sizes=sizes)],
                            env=env, stdout=subprocess.PIPE, text=True)


def test_notation_is_the_same_in_every_process():
    procs = {(seed, sizes): _notation_in_process(seed, sizes)  # run side by side
             for seed, sizes in [(0, (5, 3)), (1, (5, 3)), (12345, (5, 3)), (7, (4, 2))]}
    runs = {}
    for key, proc in procs.items():
        runs[key], _ = proc.communicate(timeout=120)
        assert proc.returncode == 0, key
    first = runs[(0, (5, 3))]
    assert "None" not in first.splitlines()[0::2]
    for key, text in runs.items():
        if key[1] == (5, 3):
            assert text == first, key
    # other sizes: the matrix notation is the same text (sizes do not enter these forms)
    assert runs[(7, (4, 2))].splitlines()[0::2] == first.splitlines()[0::2]


# ---------------------------------------------------------------- bounded output
@pytest.mark.parametrize("f", ["norm", "softmax"])
def test_deep_nesting_prints_linearly(f):
    text = "x"
    for _ in range(20):
        text = f"{f}({text})"
    expr = td.parse(text, {"x": (3,)})
    d = td.derive(expr, "x")
    outputs = [einsum_notation(expr), einsum_notation(d), matrix_notation(expr),
               matrix_notation(d)]
    assert all(o is None or len(o) < 100_000 for o in outputs), [len(o or "") for o in outputs]
    assert "u1 = " in einsum_notation(d)  # the shared inner parts are named, not repeated
    vals = {"x": np.array([0.3, -1.2, 2.0])}
    for o, want in ((outputs[2], expr), (outputs[3], d)):
        if o is not None:
            value = want.evaluate(vals) if want is d else td.evaluate(want, vals)
            np.testing.assert_allclose(numpy_value(o, vals), np.asarray(value.dense()),
                                       rtol=1e-8, atol=1e-12)


@pytest.mark.parametrize("f", ["norm", "softmax"])
def test_command_line_output_of_deep_nesting_is_bounded(f, capsys):
    text = "x"
    for _ in range(20):
        text = f"{f}({text})"
    for fmt in ("text", "json", "latex"):
        status = cli.main(["derive", f"sum({text})", "--wrt", "x", "--shape", "x=3",
                           "--format", fmt])
        out = capsys.readouterr().out
        assert status == 0 and 0 < len(out) < 100_000, (fmt, len(out))


def _nested(f, depth):
    text = "x"
    for _ in range(depth):
        text = f"{f}({text})"
    return td.derive(text, "x", shapes={"x": (3,)})


@pytest.mark.parametrize("f", ["norm", "softmax", "tanh"])
def test_notation_length_grows_linearly_with_depth(f):
    lengths = {k: (len(einsum_notation(_nested(f, k))), len(matrix_notation(_nested(f, k)) or ""))
               for k in (10, 20, 40)}
    for which in (0, 1):
        a, b, c = (lengths[k][which] for k in (10, 20, 40))
        assert c <= 2.5 * b and b <= 2.5 * max(a, 1), lengths  # doubling depth ~doubles text


def test_shared_names_avoid_the_variables():
    shapes = {"u1": (3,), "p": (3,)}
    text = matrix_notation("softmax(softmax(u1) * p)", shapes, wrt="u1")
    assert text is not None
    vals = {"u1": np.array([0.1, 0.5, -0.3]), "p": np.array([1.0, 2.0, 0.5])}
    d = td.derive("softmax(softmax(u1) * p)", "u1", shapes=shapes)
    np.testing.assert_allclose(numpy_value(text, vals), d.evaluate(vals).dense(), rtol=1e-10)


# ---------------------------------------------------------------- what users hand in
def test_entry_points_take_text_expr_and_derivative():
    shapes = {"x": (3,), "A": (3, 3)}
    d = td.derive("x.T @ A @ x", "x", shapes=shapes)
    assert matrix_notation(d) == "(A + A.T) @ x"
    assert td.matrix_notation("x.T @ A @ x", shapes, wrt="x") == "(A + A.T) @ x"
    assert td.matrix_notation(td.parse("A @ x", shapes)) == "A @ x"
    assert td.matrix_notation("A @ x", shapes=shapes) == "A @ x"
    H = td.derive(d, "x")
    assert td.einsum_notation(H) == td.einsum_notation(H.node)
    assert td.matrix_notation(H) == "A + A.T"
    assert td.einsum_notation("x.T @ A @ x", shapes, wrt="x", order=2) == td.einsum_notation(H)


def test_a_ctensor_gets_an_error_saying_what_to_pass():
    shapes = {"W": (3, 2), "x": (3,)}
    ct = td.derive("sum(tanh(W.T @ x))", "W", shapes=shapes).evaluate(
        {"W": np.zeros((3, 2)), "x": np.ones(3)})
    for f in (td.matrix_notation, td.einsum_notation):
        with pytest.raises(NotationInputError, match=r"Pass the Derivative itself.*'W'"):
            f(ct)
    with pytest.raises(td.TensorDerivError, match="takes expression text"):
        td.matrix_notation(3.0)
    with pytest.raises(td.TensorDerivError, match="shapes= is for expression text"):
        td.matrix_notation(td.parse("A @ x", {"x": (3,), "A": (3, 3)}), {"x": (3,)})


def test_a_zero_derivative_reads_zeros_of_its_shape():
    # issue 11 item 5: a declared variable the expression does not use gives zeros(...)
    shapes = {"W": (2, 3), "x": (3,), "u": (4,)}
    loss, out = td.parse("sum(tanh(W @ x))", shapes), td.parse("W @ x", shapes)
    for expr, want in ((loss, "zeros(4)"), (out, "zeros((4, 2))")):
        d = td.derive(expr, "u")
        assert matrix_notation(d) == want
        v = {k: np.ones(s) for k, s in shapes.items()}
        np.testing.assert_array_equal(numpy_value(want, v), np.zeros(d.evaluate(v).shape))
