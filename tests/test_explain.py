"""td.explain: the chain rule step by step, as the notes show it (A.9).

Each explanation is checked for its content (factor names, shapes, structures, notation, rules,
the final form) and its numbers: the final matrix form against finite differences of a plain
numpy function (tensorderiv.testing.differences, independent of the engine), and the reported
check error must be tiny.
"""

import re

import numpy as np
import pytest

import tensorderiv as td
from tensorderiv.forms.collapsed import notation_value
from tensorderiv.testing.differences import dense


def _sigmoid(v):
    return 1 / (1 + np.exp(-v))


def _rng_values(shapes, seed=0):
    rng = np.random.default_rng(seed)
    return {k: rng.normal(size=s) for k, s in shapes.items()}


def _no_hidden_loss(text):
    # a scalar output never gives ∂L/∂L, nor a 𝐉 · ∂L/∂f line that hides what 𝐉 is
    assert "∂L/∂L" not in text and "∂ℒ/∂L" not in text
    for line in text.splitlines():
        if "𝐉 ·" in line:
            assert "𝐉 the matrix form" in line or "𝐉 is the" in line, line


def test_one_layer_of_the_notes_network_with_tanh():
    shapes = {"W": (3, 2), "A": (3, 4), "Y": (2, 4)}
    v = _rng_values(shapes)
    e = td.explain("sum((tanh(W.T @ A) - Y) ** 2)", "W", v, shapes=shapes)
    assert [f.name for f in e.factors] == ["∂Z1/∂W", "∂A1/∂Z1", "∂L/∂A1"]
    assert [d[:2] for d in e.definitions] == [("Z1", "W.T @ A"), ("A1", "tanh(Z1)"),
                                              ("L", "sum((A1 - Y) ** 2)")]
    dZ, dA, dL = e.factors
    # ∂Z/∂W → A, with the δ (notes A.74-A.76), entering as ∂L/∂W = A (∂L/∂Z)ᵀ (A.61)
    assert dZ.full_shape == (3, 2, 2, 4)
    assert (dZ.form.structure, dZ.form.notation) == ("delta", "A")
    assert dZ.form.formula() == "𝐓[i,j,k,l] = A[i,l]·δ[j,k]"
    assert "A.74-A.76" in dZ.form.note
    assert dZ.rule.startswith("matrix product with the notes' transpose: ∂L/∂W = A (∂L/∂Z1)ᵀ")
    assert "A.61" in dZ.rule
    # ∂A/∂Z → f′(Z), used with ⊙ (Concept 34)
    assert dA.full_shape == (2, 4, 2, 4)
    assert (dA.form.structure, dA.form.notation) == ("diagonal", "1 - tanh(Z1) ** 2")
    assert "⊙" in dA.rule and "Concept 34" in dA.rule
    # the loss factor is a gradient, the start of the backward pass
    assert dL.full_shape == (2, 4)
    A1 = np.tanh(v["W"].T @ v["A"])
    np.testing.assert_allclose(notation_value(dL.form.notation, {"A1": A1, "Y": v["Y"]}),
                               2 * (A1 - v["Y"]), rtol=1e-12)
    assert e.backward == ("∂L/∂A1 = " + dL.form.notation,
                          "∂L/∂Z1 = (1 - tanh(Z1) ** 2) ⊙ ∂L/∂A1",
                          "∂L/∂W = A (∂L/∂Z1)ᵀ")
    # the final matrix form, checked: the reported errors and finite differences of numpy
    assert e.final.array.shape == (3, 2)
    assert e.chain_error <= 1e-12 * max(1.0, e.scale)
    assert e.differences_error is not None and e.differences_error < 1e-6
    A, Y = v["A"], v["Y"]
    fd = dense(lambda W: np.sum((np.tanh(W.T @ A) - Y) ** 2), v["W"], 1, 1e-3)
    np.testing.assert_allclose(e.final.array, fd, rtol=1e-7, atol=1e-9)
    text = str(e)
    assert "values: as given" in text and "max |error|" in text
    _no_hidden_loss(text)


def test_the_notes_vector_case_and_a_column_vector_read_the_same():
    for xs in ((3,), (3, 1)):
        shapes = {"W": (3, 2), "x": xs}
        e = td.explain("sum(sigmoid(W.T @ x))", "W", shapes=shapes)
        dZ, dA, _ = e.factors
        assert (dZ.form.notation, dZ.form.rule) == ("x", "outer")
        assert dZ.rule.startswith("outer product with the notes' transpose: ∂L/∂W = x")
        assert dA.form.notation == "sigmoid(Z1) * sigmoid(-Z1)"
        assert e.backward[-1] == "∂L/∂W = x (∂L/∂Z1)ᵀ"
        assert "drawn with numpy.random.default_rng(0)" in e.values_note
        np.testing.assert_array_equal(e.values["x"].shape, xs)
        assert e.chain_error < 1e-12


def test_two_layers_with_sigmoid_name_each_quantity_and_check():
    shapes = {"W1": (3, 4), "W2": (4, 2), "X": (3, 5), "Y": (2, 5)}
    v = _rng_values(shapes, seed=2)
    e = td.explain("sum((sigmoid(W2.T @ sigmoid(W1.T @ X)) - Y) ** 2)", "W1", v)
    assert [f.name for f in e.factors] == ["∂Z1/∂W1", "∂A1/∂Z1", "∂Z2/∂A1", "∂A2/∂Z2",
                                           "∂L/∂A2"]
    assert [d[0] for d in e.definitions] == ["Z1", "A1", "Z2", "A2", "L"]
    assert e.definitions[2][1:] == ("W2.T @ A1", (2, 5))
    # ∂Z2/∂A1 collapses to W2 (notes Notation 31: ∂Z/∂A = W)
    dZ2 = e.factors[2]
    assert (dZ2.form.notation, dZ2.full_shape) == ("W2", (4, 5, 2, 5))
    assert "∂L/∂A1 = W2 ∂L/∂Z2" in e.backward
    assert e.factors[0].form.notation == "X"
    assert e.backward[-1] == "∂L/∂W1 = X (∂L/∂Z1)ᵀ"
    assert "∂L/∂W1 = ∂Z1/∂W1 · ∂A1/∂Z1 · ∂Z2/∂A1 · ∂A2/∂Z2 · ∂L/∂A2" in str(e)
    X, W2, Y = v["X"], v["W2"], v["Y"]

    def loss(W1):
        return np.sum((_sigmoid(W2.T @ _sigmoid(W1.T @ X)) - Y) ** 2)

    np.testing.assert_allclose(e.final.array, dense(loss, v["W1"], 1, 1e-3), rtol=1e-7,
                               atol=1e-9)
    assert e.chain_error <= 1e-12 * max(1.0, e.scale)
    # the second layer's weights: a shorter path
    e2 = td.explain("sum((sigmoid(W2.T @ sigmoid(W1.T @ X)) - Y) ** 2)", "W2", v)
    assert [f.name for f in e2.factors] == ["∂Z2/∂W2", "∂A2/∂Z2", "∂L/∂A2"]
    assert e2.factors[0].form.notation == "sigmoid(W1.T @ X)"    # A1, not on W2's path
    assert e2.definitions[0][:2] == ("Z2", "W2.T @ sigmoid(W1.T @ X)")
    _no_hidden_loss(str(e) + str(e2))


def test_a_plain_quadratic_form_is_one_factor_with_the_textbook_answer():
    e = td.explain("x.T @ A @ x", "x", shapes={"x": (3,), "A": (3, 3)})
    assert len(e.factors) == 1 and e.factors[0].name == "∂L/∂x"
    assert e.notation == "(A + A.T) @ x"
    assert e.factors[0].rule.startswith("nothing: L is a scalar")
    text = str(e)
    _no_hidden_loss(text)
    assert "∂L/∂x = (A + A.T) @ x" in text


def test_a_hessian_is_the_derivative_of_the_gradient():
    shapes = {"X": (4, 3), "y": (4,), "w": (3,)}
    v = _rng_values(shapes, seed=5)
    e = td.explain("sum(log(1 + exp(-y * (X @ w))))", "w", v, order=2)
    assert e.order == 2 and e.derivative_name == "∂²L/∂w²"
    assert [f.name for f in e.factors] == ["∂L/∂w", "∂²L/∂w²"]
    assert e.final.structure == "symmetric"
    X, y = v["X"], v["y"]

    def loss(w):
        return np.sum(np.log1p(np.exp(-y * (X @ w))))

    np.testing.assert_allclose(e.final.expand(), dense(loss, v["w"], 2, 1e-3), rtol=1e-6,
                               atol=1e-8)
    assert e.chain_error <= 1e-12 * max(1.0, e.scale)
    assert e.differences_error < 1e-6
    text = str(e)
    check = e.check_text()
    assert "the collapsed form, expanded" in check and "∂L/∂w over 3 entries" in check
    _no_hidden_loss(text)
    assert "the terms with" not in text
    # a diagonal Hessian collapses to its diagonal, written out
    e = td.explain("sum(exp(w))", "w", shapes={"w": (3,)}, order=2)
    assert e.final.structure == "diagonal" and e.final.notation == "exp(w)"


def test_nothing_collapses_reads_well_and_wraps():
    e = td.explain("X @ X", "X", shapes={"X": (3, 3)})
    text = e.text()
    assert "nothing collapses" in text and "tried:" in text
    assert max(len(line) for line in text.splitlines()) <= 88
    assert max(len(line) for line in e.text(width=60).splitlines()) <= 60
    assert e.chain_error < 1e-12 and e.differences_error < 1e-6
    np.testing.assert_allclose(
        e.final.expand(),
        dense(lambda X: X @ X, np.random.default_rng(0).standard_normal((3, 3)), 1, 1e-3),
        rtol=1e-7, atol=1e-9)


def test_html_and_latex_renderings():
    e = td.explain("sum(tanh(W.T @ A))", "W", shapes={"W": (3, 2), "A": (3, 4)})
    page = e._repr_html_()
    assert page.startswith('<div class="tensorderiv-explain"') and "<h4" in page
    assert "1. ∂Z1/∂W" in page and "A (∂L/∂Z1)ᵀ" in page and "<script" not in page
    tex = e._repr_latex_()
    assert tex.startswith("$$\\begin{aligned}") and tex.endswith("\\end{aligned}$$")
    assert "\\frac{\\partial Z_{1}}{\\partial W} &\\;\\to\\; A" in tex
    assert "1 - \\tanh\\left(\\mathit{Z1}\\right)^{2}" in tex  # Z1, not Z_1 (issue 13 item 10)
    # MathJax-safe: balanced braces, no text-mode macros MathJax lacks
    depth = 0
    for c in re.sub(r"\\[{}]", "", tex):
        depth += {"{": 1, "}": -1}.get(c, 0)
        assert depth >= 0
    assert depth == 0 and "\\texttt" not in tex and "\\textbackslash" not in tex
    assert repr(e).startswith("Explanation(∂L/∂W, 3 factors")


def test_a_variable_called_L_is_never_the_loss():
    e = td.explain("sum(L * tanh(x))", "x", shapes={"L": (3,), "x": (3,)})
    text = str(e)
    assert e.output != "L" and "∂L/∂L" not in text
    assert [f.name for f in e.factors] == [f"∂{e.output}/∂x"]


def test_bad_input_is_refused_clearly():
    with pytest.raises(td.TensorDerivError, match="no value for"):
        td.explain("x.T @ A @ x", "x", {"x": np.ones(3)}, shapes={"x": (3,), "A": (3, 3)})
    with pytest.raises(ValueError, match="order 1"):
        td.explain("sum(x)", "x", shapes={"x": (2,)}, order=3)
    d = td.derive("sum(x)", "x", shapes={"x": (2,)})
    with pytest.raises(TypeError, match=r"td\.explain"):
        td.explain(d, "x")


def test_a_layer_with_a_bias_column_is_one_quantity():
    shapes = {"W": (3, 2), "A": (3, 4), "b": (2, 1), "Y": (2, 4)}
    v = _rng_values(shapes, seed=4)
    e = td.explain("sum((tanh(W.T @ A + b) - Y) ** 2)", "W", v)
    assert [d[:2] for d in e.definitions] == [("Z1", "W.T @ A + b"), ("A1", "tanh(Z1)"),
                                              ("L", "sum((A1 - Y) ** 2)")]
    assert e.factors[0].form.notation == "A" and e.backward[-1] == "∂L/∂W = A (∂L/∂Z1)ᵀ"
    A, b, Y = v["A"], v["b"], v["Y"]
    fd = dense(lambda W: np.sum((np.tanh(W.T @ A + b) - Y) ** 2), v["W"], 1, 1e-3)
    np.testing.assert_allclose(e.final.array, fd, rtol=1e-7, atol=1e-9)
    assert e.chain_error <= 1e-12 * max(1.0, e.scale)
    # ∂L/∂b: the path goes through the bias, ∂Z1/∂b collapses to a sum over the batch
    e = td.explain("sum((tanh(W.T @ A + b) - Y) ** 2)", "b", v)
    assert [f.name for f in e.factors] == ["∂Z1/∂b", "∂A1/∂Z1", "∂L/∂A1"]
    fd = dense(lambda b: np.sum((np.tanh(v["W"].T @ A + b) - Y) ** 2), b, 1, 1e-3)
    np.testing.assert_allclose(e.final.array, fd, rtol=1e-7, atol=1e-9)
    assert e.chain_error <= 1e-12 * max(1.0, e.scale)


def test_relu_keeps_the_structure_that_holds_everywhere():
    # relu′ = step is piecewise constant: at some values a whole row has one sign, and the
    # numbers alone would collapse further; the explanation keeps the diagonal the derivative
    # has everywhere (notes Concept 32), f′(Z) = step(Z), used with ⊙
    for seed in range(4):
        shapes = {"W": (3, 2), "A": (3, 4)}
        v = _rng_values(shapes, seed=seed)
        e = td.explain("sum(relu(W.T @ A))", "W", v)
        dA = e.factors[1]
        assert (dA.form.structure, dA.form.notation) == ("diagonal", "step(Z1)")
        assert "⊙" in dA.rule
        fd = dense(lambda W, A=v["A"]: np.sum(np.maximum(W.T @ A, 0)), v["W"], 1, 1e-5)
        np.testing.assert_allclose(e.final.array, fd, rtol=1e-6, atol=1e-8)
