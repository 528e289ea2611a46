"""Collapsed forms have notation (issue 11, item 2): the notes' answers, checked with numpy.

Every text is evaluated here by this file's own ast walker over numpy (independent of the
package's) and compared with the collapsed array the reducer found; the full c-tensor rebuilt
from the notation is compared with the derivative's, which finite differences check.
"""

import json

import numpy as np
import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st
from numpy_text import numpy_value

import tensorderiv as td
from tensorderiv.cli import main
from tensorderiv.forms.collapsed import chain_rule, form_with_notation
from tensorderiv.testing import check_derivative
from tensorderiv.testing.strategies import expressions, values_for


def _values(shapes, seed=0):
    rng = np.random.default_rng(seed)
    return {k: rng.normal(size=s) for k, s in shapes.items()}


# (expression, wrt, shapes, expected collapsed notation, structure, rule)
CASES = [
    # notes A.74-A.76: ∂Z/∂W → A (δ between W's columns and Z's rows), vector and batch
    ("W.T @ a", "W", {"W": (3, 2), "a": (3,)}, "a", "delta", "outer"),
    ("W.T @ A", "W", {"W": (3, 2), "A": (3, 4)}, "A", "delta", "einsum"),
    # (n, 1) columns are the notes' vectors: the same notation as (n,)
    ("W.T @ a", "W", {"W": (3, 2), "a": (3, 1)}, "a", "delta", "outer"),
    ("A @ x", "x", {"A": (3, 3), "x": (3, 1)}, "A.T", "dense", "matmul"),
    ("x.T @ A @ x", "x", {"A": (3, 3), "x": (3, 1)}, "(A + A.T) @ x", "dense", "matmul"),
    # notes A.84-A.90: ∂f(Z)/∂Z → f′(Z), used with ⊙ (Concept 34), vector and batch
    ("tanh(Z)", "Z", {"Z": (3, 4)}, "1 - tanh(Z) ** 2", "diagonal", "elementwise"),
    ("tanh(z)", "z", {"z": (3,)}, "1 - tanh(z) ** 2", "diagonal", "elementwise"),
    ("sigmoid(Z)", "Z", {"Z": (2, 3)}, "sigmoid(Z) * sigmoid(-Z)", "diagonal", "elementwise"),
    ("exp(Z)", "Z", {"Z": (2, 3)}, "exp(Z)", "diagonal", "elementwise"),
    ("x * y", "x", {"x": (3,), "y": (3,)}, "y", "diagonal", "elementwise"),
    # scaled identity, a delta times a vector, Z = A W (δ on the other side)
    ("3 * X", "X", {"X": (2, 2)}, "3", "scaled_identity", "scale"),
    ("outer(x, y)", "x", {"x": (3,), "y": (2,)}, "y", "delta", "einsum"),
    ("A @ W", "W", {"A": (4, 3), "W": (3, 2)}, "A.T", "delta", "einsum"),
    # ∂(AXB)/∂X: the Kronecker factors by name; the notes' matrix is B ⊗ Aᵀ
    ("A @ X @ B", "X", {"A": (2, 3), "X": (3, 4), "B": (4, 2)}, "kron(B, A.T)", "kron", "kron"),
    # ∂M/∂s has the shape of Mᵀ (Definition 17)
    ("s * M", "s", {"s": (), "M": (2, 3)}, "M.T", "dense", "matmul"),
]


@pytest.mark.parametrize(("text", "wrt", "shapes", "want", "structure", "rule"), CASES,
                         ids=[f"{c[0]}|{c[1]}|{c[2]}" for c in CASES])
def test_collapsed_notation_is_the_notes_answer_and_evaluates_to_the_collapsed_array(
        text, wrt, shapes, want, structure, rule):
    d = td.derive(text, wrt, shapes=shapes)
    v = _values(shapes)
    form = form_with_notation(d, v)
    assert (form.structure, form.rule, form.notation) == (structure, rule, want)
    got = numpy_value(form.notation, v)
    arr = np.asarray(form.array)
    # a vector is the notes' column (or row): only axes of size 1 may differ
    assert [n for n in got.shape if n > 1] == [n for n in arr.shape if n > 1]
    np.testing.assert_allclose(got.reshape(arr.shape), arr, rtol=1e-10, atol=1e-12)
    # and the collapse is faithful: expanded, it is the derivative, as finite differences of
    # the expression (evaluated by numpy, not by the engine) confirm
    check_derivative(lambda **kw: numpy_value(text, kw), v, lambda **kw: form.expand(), wrt=wrt)


def test_random_sizes_and_values_keep_the_notation_right():
    rng = np.random.default_rng(7)
    for _ in range(6):
        m, n, b = (int(k) for k in rng.integers(2, 5, size=3))
        for text, wrt, shapes, want in [
                ("W.T @ A", "W", {"W": (m, n), "A": (m, b)}, "A"),
                ("relu(Z)", "Z", {"Z": (m, b)}, "step(Z)"),
                ("A @ X @ B", "X", {"A": (b, m), "X": (m, n), "B": (n, b)}, "kron(B, A.T)")]:
            v = {k: rng.normal(size=s) for k, s in shapes.items()}
            form = form_with_notation(td.derive(text, wrt, shapes=shapes), v)
            if text != "relu(Z)":  # relu′ may show more structure at a point (a row of 0s)
                assert form.notation == want
            np.testing.assert_allclose(numpy_value(form.notation, v).reshape(form.array.shape),
                                       form.array, rtol=1e-10, atol=1e-12)


def test_kronecker_factors_are_named_and_rescaled_to_them():
    shapes = {"A": (2, 3), "X": (3, 4), "B": (4, 2)}
    v = _values(shapes, seed=3)
    form = form_with_notation(td.derive("A @ X @ B", "X", shapes=shapes), v)
    assert form.factor_notation == ("A.T", "B")
    for text, factor in zip(form.factor_notation, form.factors, strict=True):
        np.testing.assert_allclose(numpy_value(text, v), factor, rtol=1e-12)
    assert form.formula() == "𝐓[i,j,k,l] = A.T[i,k]·B[j,l]"
    assert chain_rule(form) == "∂L/∂X = Aᵀ · ∂L/∂f · Bᵀ  (the notes' matrix is B ⊗ A.T)"
    g = np.random.default_rng(0).normal(size=(2, 2))              # ∂L/∂(AXB)
    np.testing.assert_allclose(form.apply(g), v["A"].T @ g @ v["B"].T, rtol=1e-12)


def test_the_chain_rule_reads_as_the_notes_write_it():
    v = _values({"W": (3, 2), "A": (3, 4)})
    names = {"f": "Z"}
    form = form_with_notation(td.derive("W.T @ A", "W", shapes={"W": (3, 2), "A": (3, 4)}), v,
                              names=names)
    assert form.formula() == "𝐓[i,j,k,l] = A[i,l]·δ[j,k]"            # the δ stated
    assert chain_rule(form).startswith("∂L/∂W = A (∂L/∂Z)ᵀ  (the δ between W[1] and Z[0]")
    g = np.random.default_rng(1).normal(size=(2, 4))                 # ∂L/∂Z
    np.testing.assert_allclose(form.apply(g), v["A"] @ g.T, rtol=1e-12)   # A (∂L/∂Z)ᵀ
    form = form_with_notation(td.derive("tanh(Z)", "Z", shapes={"Z": (2, 4)}), {"Z": g},
                              names={"f": "A"})
    assert chain_rule(form) == ("∂L/∂Z = (1 - tanh(Z) ** 2) ⊙ ∂L/∂A  (1 - tanh(Z) ** 2 is "
                                "the diagonal, notes Concept 34)")


def test_a_notation_that_cannot_be_written_is_none():
    # ∂σ(WᵀA)/∂W keeps a rank-3 core: no matrix notation, and none is claimed
    shapes = {"W": (3, 2), "A": (3, 4)}
    form = form_with_notation(td.derive("sigmoid(W.T @ A)", "W", shapes=shapes), _values(shapes))
    assert form.notation is None and form.factor_notation == ()
    assert "𝐅" in form.formula()


def test_the_command_line_prints_the_collapsed_form_instead_of_none_found(capsys):
    assert main(["derive", "W.T @ A", "--wrt", "W", "--shape", "W=3x2", "--shape", "A=3x4"]) == 0
    out = capsys.readouterr().out
    assert "none found" not in out
    assert "matrix form   A  (the collapsed form, delta: 𝐓[i,j,k,l] = A[i,l]·δ[j,k])" in out
    assert "chain rule    ∂L/∂W = A (∂L/∂f)ᵀ" in out
    # a column vector gets the vector's notation
    assert main(["derive", "W.T @ x", "--wrt", "W", "--shape", "W=3x2", "--shape", "x=3x1"]) == 0
    assert "matrix form   x  (the collapsed form" in capsys.readouterr().out
    assert main(["derive", "tanh(Z)", "--wrt", "Z", "--shape", "Z=3x4", "--format", "json"]) == 0
    s = json.loads(capsys.readouterr().out)["structure"]
    assert s["notation"] == "1 - tanh(Z) ** 2" and "⊙" in s["chain_rule"]


def test_a_structure_that_holds_only_at_these_values_gets_no_notation():
    # at Z = 1 every f′(z) is the same, so the reducer finds a multiple of the identity; that
    # collapse is a coincidence of the values, and no notation is claimed for it
    d = td.derive("tanh(Z)", "Z", shapes={"Z": (2, 3)})
    form = form_with_notation(d, {"Z": np.ones((2, 3))})
    assert form.structure == "scaled_identity" and form.notation is None
    form = form_with_notation(d, _values({"Z": (2, 3)}))
    assert form.structure == "diagonal" and form.notation == "1 - tanh(Z) ** 2"


def test_the_renderings_of_a_form_show_its_notation():
    d = td.derive("W.T @ A", "W", shapes={"W": (3, 2), "A": (3, 4)})
    form = form_with_notation(d, _values({"W": (3, 2), "A": (3, 4)}), names={"f": "Z"})
    assert "collapsed to (3, 4) = A, rule 'einsum'" in str(form)
    assert form.to_latex().endswith("\\mathbf{F} = A")


@settings(deadline=None, max_examples=40)
@given(st.data())
def test_collapsed_notation_of_random_derivatives_is_never_wrong(data):
    # any rank: the collapsed array's notation, when one is written, has its numbers
    g = data.draw(expressions(max_depth=2, functions=[
        "exp", "tanh", "sigmoid", "square", "add", "sub", "mul", "sum", "outer", "matmul", "T",
        "diag", "trace"]))
    values = data.draw(values_for(g.shapes))
    name = data.draw(st.sampled_from(sorted(g.shapes)))
    d = td.derive(g.expr, name)
    ct = d.evaluate(values)
    assume(np.all(np.isfinite(ct.core)))
    form = form_with_notation(d, values)
    assume(form.notation is not None)
    arr = np.asarray(form.array)
    got = numpy_value(form.notation, values)
    assert [n for n in got.shape if n > 1] == [n for n in arr.shape if n > 1], form.notation
    scale = max(1.0, float(np.abs(arr).max(initial=0.0)))
    np.testing.assert_allclose(got.reshape(arr.shape), arr, rtol=1e-8, atol=1e-8 * scale)
    assert len(form.factor_notation) in (0, len(form.factors))
    for text, factor in zip(form.factor_notation, form.factors, strict=False):
        np.testing.assert_allclose(numpy_value(text, values).reshape(factor.shape), factor,
                                   rtol=1e-8, atol=1e-8 * scale)


@pytest.mark.parametrize(("text", "wrt"), [("sum(exp(v0) @ exp(v1))", "v1"),
                                           ("sum(v0 @ v1)", "v0")])
def test_found_by_the_property_a_vector_text_must_hold_for_the_users_columns(text, wrt):
    # with size-1 axes the text written for the notes' vectors (diag(v), sum(v, axis=1))
    # can read differently on the user's (n, 1, …) arrays; then it is not claimed
    shapes = {"v0": (2, 1, 1), "v1": (2, 1, 2)}
    v = _values(shapes, seed=11)
    form = form_with_notation(td.derive(text, wrt, shapes=shapes), v)
    if form.notation is not None:
        got = numpy_value(form.notation, v)
        assert [n for n in got.shape if n > 1] == [n for n in form.array.shape if n > 1]
        np.testing.assert_allclose(got.reshape(form.array.shape), form.array, rtol=1e-10)


def test_every_matrix_form_of_a_derivative_carries_its_notation():
    # ct.matrix_form() and td.reduce(d, values=...) write it too, not only the CLI and explain
    shapes = {"W": (3, 2), "A": (3, 4)}
    d = td.derive("W.T @ A", "W", shapes=shapes)
    v = _values(shapes)
    ct = d.evaluate(v)
    for form in (ct.matrix_form(), td.reduce(d, values=v), td.reduce(ct)):
        assert (form.structure, form.notation) == ("delta", "A")
        np.testing.assert_allclose(numpy_value(form.notation, v), np.asarray(form.array).ravel()
                                   .reshape(np.shape(numpy_value(form.notation, v))))
    z = {"Z": _values({"Z": (2, 3)})["Z"]}
    form = td.derive("tanh(Z)", "Z", shapes={"Z": (2, 3)}).evaluate(z).matrix_form()
    assert (form.structure, form.rule, form.notation) == ("diagonal", "elementwise",
                                                          "1 - tanh(Z) ** 2")
    # numbers made from it are no longer the derivative: no notation is claimed for them
    assert (2 * ct).matrix_form().notation is None
