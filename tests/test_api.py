"""The public functions take what users hand them (issue 11, items 5-6).

Oracles: the same call made the long way (``d.evaluate(values)`` then the function), numpy on
dense arrays, and closed forms (∂(X⁻¹X)/∂X = 0 exactly, so anything left is rounding).
"""

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import tensorderiv as td
from tensorderiv.cli import app
from tensorderiv.testing import check_derivative


def _well_conditioned(n, seed):
    rng = np.random.default_rng(seed)
    return np.eye(n) + 0.2 * rng.normal(size=(n, n))


# ---------------------------------------------------------------------- numerically zero
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_rounding_zero_is_numerically_zero_never_exactly_zero(seed):
    X = td.var("X", (3, 3))
    ct = td.derive(td.inv(X) @ X, X).evaluate({"X": _well_conditioned(3, seed)})
    peak = float(np.abs(ct.dense()).max())
    assert 0 < peak < 1e-12                    # rounding: the closed form is exactly 0
    assert not ct.is_zero and ct.cancelled > 0.1
    form = ct.matrix_form()
    assert form.structure == "numerically_zero" and form.structure != "zero"
    assert form.rule == "zero" and form.dof == 0
    assert form.max_abs == pytest.approx(peak)
    assert "up to rounding" in form.note and f"{peak:.3g}" in form.note
    assert form.formula() == "𝐓 ≈ 0" and "approx" in form.to_latex()
    np.testing.assert_array_equal(form.expand(), np.zeros((3, 3, 3, 3)))


def test_exact_zero_stays_zero_and_genuine_small_values_are_not_called_zero():
    shapes = {"x": (3,), "u": (2,)}
    zero = td.derive(td.parse("sum(x)", shapes), "u").evaluate({"x": np.ones(3), "u": np.ones(2)})
    assert zero.matrix_form().structure == "zero" and zero.matrix_form().max_abs == 0.0
    tiny = td.derive(td.parse("1e-20 * sum(x ** 2)", shapes), "x").evaluate(
        {"x": np.array([1.0, 2.0, 3.0])})
    assert tiny.matrix_form().structure not in ("zero", "numerically_zero")
    # terms that nearly cancel, but by far more than rounding: still not zero
    near = td.derive(td.parse("sum(x * x) - 0.999999999 * sum(x * x)", shapes), "x").evaluate(
        {"x": np.array([1.0, 2.0, 3.0])})
    assert near.matrix_form().structure not in ("zero", "numerically_zero")
    np.testing.assert_allclose(near.dense(), 2e-9 * np.array([1.0, 2.0, 3.0]), rtol=1e-6)


def test_a_dense_array_within_atol_is_numerically_zero_with_its_largest_entry():
    form = td.reduce(np.full((2, 2), 3e-14), 1, atol=1e-12)
    assert form.structure == "numerically_zero" and form.max_abs == pytest.approx(3e-14)
    assert td.reduce(np.zeros((2, 2)), 1, atol=1e-12).structure == "zero"


# ---------------------------------------------------------------------- reduce and friends
def _layer():
    shapes = {"W": (3, 2), "a": (3,), "y": (2,)}
    rng = np.random.default_rng(7)
    v = {n: rng.normal(size=s) for n, s in shapes.items()}
    return shapes, v


def test_reduce_takes_a_derivative_with_values_and_says_what_to_pass_without():
    shapes, v = _layer()
    d = td.derive("sum((tanh(W.T @ a) - y) ** 2)", "W", shapes=shapes)
    with pytest.raises(td.StructureError, match=r"no values yet.*values=.*d.evaluate\(values\)"):
        td.reduce(d)
    got = td.reduce(d, values=v)
    want = td.reduce(d.evaluate(v))
    assert got.structure == want.structure
    np.testing.assert_array_equal(got.array, want.array)
    value = td.reduce(td.parse("W.T @ a", shapes), values=v)   # an expression's value
    np.testing.assert_allclose(value.array.ravel(), v["W"].T @ v["a"])
    with pytest.raises(td.StructureError, match="derive it first"):
        td.reduce("sum(W)")
    with pytest.raises(td.StructureError, match="holds its numbers already"):
        td.reduce(d.evaluate(v), values=v)


def test_chain_takes_ctensors_and_to_layout_takes_a_ctensor():
    shapes, v = _layer()
    W, a = td.var("W", shapes["W"]), td.var("a", shapes["a"])
    dZ_dW = td.derive(W.T @ a, W).evaluate({"W": v["W"], "a": v["a"]})   # y: not declared
    g = np.array([0.5, -2.0])                                   # ∂L/∂Z
    via_ct = td.chain(dZ_dW, g).array
    via_form = td.chain(td.reduce(dZ_dW), g).array
    np.testing.assert_array_equal(via_ct, via_form)
    np.testing.assert_allclose(via_ct, np.outer(v["a"], g))     # A.61: ∂L/∂W = a gᵀ
    with pytest.raises(td.StructureError, match=r"no values yet.*\.evaluate\(values\)"):
        td.chain(td.derive(W.T @ a, W), g)
    J = td.derive(td.parse("W.T @ a", shapes), "a").evaluate(v)
    np.testing.assert_array_equal(td.to_layout(J, target="numerator"), v["W"].T)
    np.testing.assert_array_equal(td.to_layout(J), v["W"])
    with pytest.raises(td.StructureError, match="evaluate"):
        td.to_layout(td.derive(td.parse("W.T @ a", shapes), "a"))
    with pytest.raises(td.StructureError, match="n_wrt"):
        td.to_layout(np.ones((2, 3)))


def test_evaluate_takes_text_expressions_and_derivatives():
    shapes, v = _layer()
    text = "sum((tanh(W.T @ a) - y) ** 2)"
    want = np.sum((np.tanh(v["W"].T @ v["a"]) - v["y"]) ** 2)
    assert float(td.evaluate(text, v).dense()) == pytest.approx(want)      # shapes from values
    d = td.derive(text, "y", shapes=shapes)
    np.testing.assert_allclose(td.evaluate(d, v).dense(),
                               -2 * (np.tanh(v["W"].T @ v["a"]) - v["y"]))
    with pytest.raises(TypeError, match="a value already"):
        td.evaluate(d.evaluate(v), v)


def test_contract_and_derive_name_what_to_pass():
    shapes, v = _layer()
    d = td.derive("sum(W)", "W", shapes=shapes)
    with pytest.raises(TypeError, match=r"d.evaluate\(values\)"):
        td.contract(d)
    with pytest.raises(TypeError, match=r"td\.reduce"):
        td.derive(d.evaluate(v), "W")


def test_command_line_differentiates_against_a_declared_unused_variable(capsys):
    status = app.main(["derive", "sum(x)", "--wrt", "z", "--shape", "x=3", "--shape", "z=2",
                       "--at", "0"])
    out = capsys.readouterr().out
    assert status == 0
    assert "structure     zero" in out and "[0. 0.]" in out and ": pass" in out
    status = app.main(["derive", "inv(X) @ X", "--wrt", "X", "--shape", "X=2x2", "--at", "0"])
    out = capsys.readouterr().out
    assert status == 0 and "numerically_zero" in out and "up to rounding" in out


def test_check_derivative_takes_a_derivative_its_ctensor_or_its_array():
    at = {"x": np.array([1.0, 2.0]), "A": np.array([[1.0, 2.0], [0.0, 3.0]])}
    d = td.derive("x.T @ A @ x", "x", shapes={"x": (2,), "A": (2, 2)})
    truth = (at["A"] + at["A"].T) @ at["x"]
    for df in (d, d.evaluate(at), truth, lambda x, A: (A + A.T) @ x):
        assert check_derivative("x.T @ A @ x", at, df, wrt="x").source == "symbolic"
    with pytest.raises(AssertionError, match="does not match"):
        check_derivative("x.T @ A @ x", at, at["A"] @ at["x"], wrt="x")   # a missing path
    J = td.derive("A @ x", "x", shapes={"x": (2,), "A": (2, 2)}).evaluate(at)
    check_derivative("A @ x", at, J, wrt="x", layout="numerator")       # its own layout
    check_derivative("A @ x", at, at["A"], wrt="x", layout="numerator")


def test_the_readme_example_of_this_api_runs_and_prints_what_it_says():
    text = (Path(__file__).resolve().parents[1] / "README.md").read_text()
    section = text.split("## Intermediates, zeros, c-tensor arithmetic", 1)[1]
    code = section.split("```python\n", 1)[1].split("```", 1)[0]
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True, cwd=Path(__file__).resolve().parents[1]).stdout.splitlines()
    assert out == ["True", "True", "[-0.32 -0.32 -0.32]", "numerically_zero True"]
