"""The command line (issue 6): output checked against numbers computed here with numpy, every
kind of bad input refused with one line and exit status 2, nothing in an expression ever run."""

import io
import json
import os
import re
import shlex
import shutil
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

import tensorderiv as td
from tensorderiv.cli import app as cli
from tensorderiv.cli import render as cli_render
from tensorderiv.cli import report as cli_report
from tensorderiv.cli.report import finite_difference_check
from tensorderiv.cli.values import load_values, parse_shape, seed_values
from tensorderiv.core.errors import ShapeError, ValuesError
from tensorderiv.forms import notation
from tensorderiv.forms.latex import to_latex

ROOT = Path(__file__).resolve().parents[1]
QUAD = ["derive", "x.T @ A @ x", "--wrt", "x", "--shape", "x=3", "--shape", "A=3x3"]


def run(capsys, *argv):
    status = cli.main(list(argv))
    out, err = capsys.readouterr()
    return status, out, err


def run_json(capsys, *argv):
    status, out, err = run(capsys, *argv, "--format", "json")
    assert status == 0, err
    assert err == ""
    return json.loads(out)


def shell(*argv, cwd=None):
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    return subprocess.run([sys.executable, "-m", "tensorderiv", *argv], capture_output=True,
                          text=True, cwd=cwd, env=env, timeout=120)


# ------------------------------------------------------------------ the main job, checked
def test_main_job_json_matches_numpy(capsys):
    r = run_json(capsys, *QUAD, "--at", "0")
    assert r["schema"] == "tensorderiv.derive/1"
    assert tuple(r) == cli_render.JSON_FIELDS
    A, x = np.array(r["at"]["values"]["A"]), np.array(r["at"]["values"]["x"])
    # the documented draw: sorted names, one default_rng(seed), standard normal each
    rng = np.random.default_rng(0)
    np.testing.assert_array_equal(A, rng.standard_normal((3, 3)))
    np.testing.assert_array_equal(x, rng.standard_normal(3))
    grad = (A + A.T) @ x                       # Matrix Cookbook (81): ∂xᵀAx/∂x = (A + Aᵀ)x
    np.testing.assert_allclose(np.array(r["full"]), grad, rtol=1e-12, atol=1e-14)
    np.testing.assert_allclose(np.array(r["matrix_form"]), grad[:, None], rtol=1e-12, atol=1e-14)
    assert r["full_shape"] == [3] and r["order"] == 1 and r["wrt"] == ["x"]
    assert r["axes"] == [{"name": "x[0]", "size": 3, "role": "wrt", "var": "x", "index": 0,
                          "copy": 1, "core_axis": 0}]
    assert r["structure"]["shape"] == [3, 1]   # ∂s/∂v is a column (notes Definition 9)
    assert r["check"]["passed"] is True and r["check"]["max_abs_error"] < 1e-8
    assert r["check"]["checked"] == r["check"]["total"] == 3
    assert "einsum(" in r["einsum"]


def test_main_job_text(capsys):
    status, out, err = run(capsys, *QUAD, "--at", "0")
    assert status == 0 and err == "" and "finite differences" in out
    assert out.startswith("∂(x.T @ A @ x)/∂x")
    assert "full shape    (3,)" in out and "contraction   einsum(" in out
    assert re.search(r"finite differences .* 3 of 3 entries perturbed: pass", out)
    if hasattr(notation, "matrix_notation"):
        assert "matrix form   (A + A.T) @ x" in out
    else:
        assert "matrix form   (none found; einsum form below)" in out
    # the printed gradient is (A + Aᵀ)x for the seed-0 values, to the 5 digits shown
    rng = np.random.default_rng(0)
    A, x = rng.standard_normal((3, 3)), rng.standard_normal(3)
    block = out.split("full tensor (3,), notes layout:\n")[1].splitlines()[0]
    shown = np.array([float(t) for t in block.strip(" []").split()])
    np.testing.assert_allclose(shown, (A + A.T) @ x, atol=1e-5)


def test_structure_names_the_users_variables(capsys):
    # ∂(s M)/∂s: the variable is s (no axis carries it), and the matrix shown is the bold 𝐉,
    # never a letter that could be one of the user's variables (here M)
    r = run_json(capsys, "derive", "s * M", "--wrt", "s", "--shape", "s=", "--shape", "M=2x3",
                 "--at", "0")
    s = r["structure"]
    M = np.array(r["at"]["values"]["M"])
    np.testing.assert_array_equal(np.array(r["matrix_form"]), M.T)   # notes Definition 17
    assert (s["rows"], s["cols"], s["shape"]) == ("f[1]", "f[0]", [3, 2])
    assert s["chain_rule"] == "∂L/∂s = tr(M.T · ∂L/∂f)  (the matrix form, notes Definition 17)"
    assert s["notation"] == "M.T"
    status, out, _ = run(capsys, "derive", "s * sum(x)", "--wrt", "s", "--shape", "s=",
                         "--shape", "x=2")
    assert status == 0
    line = next(t for t in out.splitlines() if t.startswith("chain rule"))
    assert line.startswith("chain rule    ∂f/∂s = sum(x): the derivative itself (f is a scalar")
    assert "X" not in line


def test_gradient_of_a_matrix_has_its_rows_and_columns(capsys):
    # ∂ sum(M∘M)/∂M = 2M has the shape of M (notes Definition 18): rows M[0], columns M[1]
    r = run_json(capsys, "derive", "sum(M * M)", "--wrt", "M", "--shape", "M=2x3", "--at", "1")
    M = np.array(r["at"]["values"]["M"])
    assert (r["structure"]["rows"], r["structure"]["cols"]) == ("M[0]", "M[1]")
    np.testing.assert_allclose(np.array(r["matrix_form"]), 2 * M, rtol=1e-15)


def test_a_rank_2_gradient_is_the_plain_matrix_not_a_kronecker_product(capsys):
    r = run_json(capsys, "derive", "sum(tanh(W.T @ a))", "--wrt", "W", "--shape", "W=3x2",
                 "--shape", "a=3", "--at", "0")
    W, a = (np.array(r["at"]["values"][n]) for n in ("W", "a"))
    s = r["structure"]
    assert (s["name"], s["rule"], s["shape"]) == ("dense", "matmul", [3, 2])
    assert (s["rows"], s["cols"]) == ("W[0]", "W[1]")
    np.testing.assert_allclose(np.array(r["matrix_form"]),
                               np.outer(a, 1 - np.tanh(W.T @ a) ** 2), rtol=1e-12)  # A.61
    assert "Σ_∅" not in json.dumps(r, ensure_ascii=False)


def test_values_from_npz_file(capsys, tmp_path):
    A = np.array([[1.0, 2.0, 0.0], [0.0, 3.0, -1.0], [4.0, 0.0, 1.0]])
    x = np.array([1.0, -2.0, 0.5])
    np.savez(tmp_path / "v.npz", A=A, x=x)
    r = run_json(capsys, *QUAD, "--at", str(tmp_path / "v.npz"))
    assert r["at"]["source"] == "file" and r["at"]["drawn"] is None
    np.testing.assert_allclose(r["full"], (A + A.T) @ x, rtol=1e-14)


def test_hessian_is_a_plus_a_transpose(capsys):
    r = run_json(capsys, *QUAD, "--order", "2", "--at", "5")
    A = np.array(r["at"]["values"]["A"])
    np.testing.assert_allclose(r["full"], A + A.T, rtol=1e-13)
    assert [a["copy"] for a in r["axes"]] == [1, 2] and r["check"]["passed"] is True


def test_mixed_derivative_axis_order(capsys):
    # ∂²(xᵀWy)/∂W∂x: d/dx = W y, then d/dW_ij of (W y)_k = δ_ik y_j; axes W, W, x
    r = run_json(capsys, "derive", "x.T @ W @ y", "--wrt", "W", "--wrt", "x", "--shape", "x=3",
                 "--shape", "W=3x2", "--shape", "y=2", "--at", "2")
    y = np.array(r["at"]["values"]["y"])
    expected = np.einsum("ik,j->ijk", np.eye(3), y)
    np.testing.assert_allclose(r["full"], expected, rtol=1e-14)
    assert r["wrt"] == ["W", "x"] and r["full_shape"] == [3, 2, 3]
    assert r["check"]["passed"] is True


def test_numerator_layout_puts_the_output_first(capsys):
    r = run_json(capsys, "derive", "W @ x", "--wrt", "W", "--shape", "W=2x3", "--shape", "x=3",
                 "--at", "1", "--layout", "numerator")
    x = np.array(r["at"]["values"]["x"])
    notes = np.einsum("ik,j->ijk", np.eye(2), x)          # ∂(Wx)_k/∂W_ij = δ_ik x_j
    np.testing.assert_allclose(r["full"], notes.transpose(2, 0, 1), rtol=1e-14)
    assert [a["role"] for a in r["axes"]] == ["of", "wrt", "wrt"]
    # the stored form: x once, a delta between W[0] and the output (3 numbers for 12)
    assert r["core_shape"] == [3] and r["axes"][0]["core_axis"] == r["axes"][1]["core_axis"]


def test_without_at_reports_structure_but_no_numbers(capsys):
    r = run_json(capsys, "derive", "W.T @ a", "--wrt", "W", "--shape", "W=3x2", "--shape", "a=3")
    assert r["at"] is None and r["full"] is None and r["check"] is None
    assert r["full_shape"] == [3, 2, 2] and r["core_shape"] == [3]   # a_i δ_jk, notes A.74
    w1, out = r["axes"][1], r["axes"][2]
    assert w1["core_axis"] == out["core_axis"] is not None


def test_big_full_tensor_is_left_out(capsys):
    r = run_json(capsys, *QUAD, "--order", "2", "--at", "0", "--max-entries", "4")
    assert r["full"] is None and r["matrix_form"] is None
    assert set(r["omitted"]) == {"full", "matrix_form", "at.values.A"}  # inputs bounded too
    assert "9 entries" in r["omitted"]["full"] and "9 entries" in r["omitted"]["at.values.A"]
    assert r["at"]["values"]["A"] is None and len(r["at"]["values"]["x"]) == 3
    r = run_json(capsys, *QUAD, "--order", "2", "--at", "0")
    assert r["omitted"] == {} and len(r["full"]) == 3


def test_latex_format(capsys):
    status, out, _ = run(capsys, *QUAD, "--at", "0", "--format", "latex")
    assert status == 0
    assert r"\frac{\partial \left(x^\top A x\right)}{\partial x}" in out
    assert r"\begin{bmatrix}" in out and "% contraction: einsum(" in out
    if hasattr(notation, "matrix_notation"):
        assert r"= \left(A + A^\top\right) x" in out


def test_latex_of_expressions():
    assert to_latex("(A + A.T) @ x") == r"\left(A + A^\top\right) x"
    assert to_latex("inv(X) @ y - 2 * z") == r"X^{-1} y - 2 z"
    assert to_latex("a * b / c") == r"\frac{a \odot b}{c}"
    assert to_latex("sum(x, axis=0)") == r"\operatorname{sum}_{0}\left(x\right)"
    with pytest.raises(ValueError):
        to_latex("x.__class__")


# ------------------------------------------------------------------ the finite-difference check
def test_a_wrong_derivative_fails_the_check_and_exits_1(capsys, monkeypatch):
    real = td.Derivative.evaluate

    def off_by_one_percent(self, values):
        ct = real(self, values)
        return td.CTensor(ct.core * 1.01, ct.axes, ct.axis_map, ct.wrt)

    monkeypatch.setattr(td.Derivative, "evaluate", off_by_one_percent)
    status, out, _ = run(capsys, *QUAD, "--at", "0")
    assert status == 1
    assert re.search(r"finite differences .*: FAIL", out)


def test_check_samples_big_variables():
    d = td.derive("sum(x * x)", "x", shapes={"x": (300,)})
    x = np.linspace(-1, 1, 300)
    c = finite_difference_check(d, {"x": x}, 2 * x, limit=20)
    assert (c.checked, c.total, c.passed) == (20, 300, True)
    wrong = 2 * x
    wrong[np.arange(300)] += 1e-3                        # every entry wrong: any sample sees it
    assert finite_difference_check(d, {"x": x}, wrong, limit=20).passed is False


def test_a_non_finite_derivative_never_passes_the_check():
    # max(worst, nan) ignores a NaN and an infinite value makes the tolerance infinite: neither
    # may pass. The arrays are the analytic derivative of Σx³ (3x²) with one entry spoilt.
    d = td.derive("sum(x ** 3)", "x", shapes={"x": (2, 2)})
    v = {"x": np.array([[1.0, 2.0], [-1.0, 0.5]])}
    assert finite_difference_check(d, v, 3 * v["x"] ** 2).passed is True
    for bad in (np.nan, np.inf, -np.inf):
        analytic = 3 * v["x"] ** 2
        analytic[1, 0] = bad
        c = finite_difference_check(d, v, analytic)
        assert (c.passed, c.max_abs_error) == (False, np.inf)
        assert c.reason == f"the derivative has a non-finite entry: {bad} at x[1,0]"
    # a Jacobian: the entry of the variable and of the output are named
    d = td.derive("W.T @ a", "W", shapes={"W": (3, 2), "a": (3,)})
    v = {"W": np.ones((3, 2)), "a": np.array([1.0, 2.0, 3.0])}
    analytic = np.einsum("i,jk->ijk", v["a"], np.eye(2))       # a_i δ_jk (A.74-A.76)
    assert finite_difference_check(d, v, analytic).passed is True
    analytic[2, 1, 0] = np.nan
    c = finite_difference_check(d, v, analytic)
    assert c.passed is False and c.reason.endswith("nan at W[2,1], output entry 0")


def test_a_non_finite_difference_never_passes_the_check():
    # F = Σ 1e303/x at x₀ = 0 ± h is ±1.7e308: finite, but F(x₀+h) − F(x₀−h) overflows
    d = td.derive("sum(1e303 / x)", "x", shapes={"x": (2,)})
    c = finite_difference_check(d, {"x": np.array([0.0, 1.0])}, np.array([-1.0, -1e303]))
    assert (c.passed, c.max_abs_error) == (False, np.inf)
    assert c.reason == "the central difference is not finite: inf at x[0]"


def test_a_point_that_overflows_when_moved_fails_the_check_and_exits_1(capsys, tmp_path):
    # exp(709.78) = 1.79e308 is finite, exp(709.78 + h) is not: the check cannot be made, and
    # that is a failure (exit 1), never a pass
    x = np.array([709.78, 0.5])
    d = td.derive("sum(exp(x))", "x", shapes={"x": (2,)})
    c = finite_difference_check(d, {"x": x}, np.exp(x))
    assert c.passed is False and re.search(r"cannot check|not finite", c.reason)
    np.savez(tmp_path / "v.npz", x=x)
    argv = ["derive", "sum(exp(x))", "--wrt", "x", "--shape", "x=2",
            "--at", str(tmp_path / "v.npz")]
    status, out, err = run(capsys, *argv)
    assert status == 1 and err == ""
    assert re.search(r"finite differences  FAIL: (cannot check|the central difference)", out)
    np.testing.assert_allclose(
        [float(t) for t in out.split("full tensor (2,), notes layout:\n")[1].split("\n")[0]
         .strip(" []").split()], np.exp(x), rtol=1e-5)
    status, out, _ = run(capsys, *argv, "--format", "json")
    check = json.loads(out)["check"]
    assert status == 1 and check["passed"] is False and check["reason"]


def test_a_nan_derivative_fails_the_check_and_exits_1(capsys, monkeypatch):
    real = td.Derivative.evaluate

    def one_nan(self, values):
        ct = real(self, values)
        core = np.array(ct.core, dtype=np.float64)
        core.flat[1] = np.nan
        return td.CTensor(core, ct.axes, ct.axis_map, ct.wrt)

    monkeypatch.setattr(td.Derivative, "evaluate", one_nan)
    status, out, _ = run(capsys, *QUAD, "--at", "0")
    assert status == 1
    assert "finite differences  FAIL: the derivative has a non-finite entry: nan at x[1]" in out


# ------------------------------------------------------------------ the demo
def test_demo_numbers_match_numpy(capsys):
    status, out, err = run(capsys, "demo", "--seed", "4")
    assert status == 0 and err == "", err
    assert out.rstrip().endswith("all checks hold") and " NO " not in out
    rng = np.random.default_rng(4)                      # the demo's documented draw
    W, A0, y = rng.standard_normal((3, 2)), rng.standard_normal(3), rng.standard_normal(2)
    Z = W.T @ A0
    dL_dZ = (np.tanh(Z) - y) * (1 - np.tanh(Z) ** 2)
    block = out.split("(A.61), an m×n matrix\n")[1]
    shown = np.array([float(t) for t in re.findall(r"-?\d+\.\d*", "\n".join(
        block.splitlines()[:3]))]).reshape(3, 2)
    np.testing.assert_allclose(shown, np.outer(A0, dL_dZ), atol=1e-5)
    for step in ("∂Z/∂W", "∂Z/∂A0", "∂A1/∂Z", "∂L/∂A1", "f′(Z) ⊙ ∂L/∂A1", "A0 (∂L/∂Z)ᵀ"):
        assert step in out


# ------------------------------------------------------------------ help
@pytest.mark.parametrize("argv", [["--help"], ["derive", "--help"], ["demo", "--help"]])
def test_help_has_an_example(capsys, argv):
    status, out, err = run(capsys, *argv)
    assert status == 0 and err == ""
    assert "usage: tensorderiv" in out and "example" in out
    assert "tensorderiv derive" in out or "tensorderiv demo" in out


# ------------------------------------------------------------------ bad input
BAD = [
    (["derive", "x @", "--wrt", "x", "--shape", "x=3"], "invalid syntax"),
    (["derive", "x", "--wrt", "y", "--shape", "x=3"], "not a variable of the expression"),
    (["derive", "x", "--wrt", "x", "--shape", "x=3x"], "is not a positive integer"),
    (["derive", "x", "--wrt", "x", "--shape", "x"], "expected NAME=SIZES"),
    (["derive", "x", "--wrt", "x", "--shape", "x=0"], "is not a positive integer"),
    (["derive", "x", "--wrt", "x", "--shape", "sum=3"], "is the name of a function"),
    (["derive", "x", "--wrt", "x", "--shape", "x=3", "--shape", "x=2"], "a shape already"),
    (["derive", "x", "--wrt", "x", "--shape", "x=3", "--shape", "z=2"], "does not use"),
    (["derive", "W @ x", "--wrt", "x", "--shape", "W=2x2", "--shape", "x=3"], "inner sizes"),
    (["derive", "y", "--wrt", "x", "--shape", "x=3"], "unknown name 'y'"),
    (["derive", "x", "--wrt", "x", "--shape", "x=3", "--bogus"], "unrecognized arguments"),
    (["derive", "x", "--wrt", "x", "--shape", "x=3", "--order", "0"], "positive integer"),
    (["derive", "x", "--wrt", "x", "--shape", "x=3", "--format", "xml"], "invalid choice"),
    (["derive", "x", "--shape", "x=3"], "required: --wrt"),
    (["derive", "x", "--wrt", "x", "--wrt", "x", "--order", "2", "--shape", "x=3"], "not both"),
    (["derive", "log(x)", "--wrt", "x", "--shape", "x=3", "--at", "-1"], "non-negative"),
    (["frobnicate"], "invalid choice"),
    ([], "required: COMMAND"),
]


@pytest.mark.parametrize(("argv", "message"), BAD)
def test_bad_input_is_one_line_and_exit_2(capsys, argv, message):
    status, out, err = run(capsys, *argv)
    assert status == 2
    assert out == ""
    lines = err.splitlines()
    assert lines[0].startswith("tensorderiv") and message in lines[0]
    assert len(lines) == 1 or "^" in lines[-1]      # a parse error adds its expression and caret


def test_parse_error_points_at_the_column(capsys):
    status, _, err = run(capsys, "derive", "sum(x) + x.foo", "--wrt", "x", "--shape", "x=3")
    assert status == 2
    head, expr, caret = err.splitlines()
    assert "attribute '.foo' is not allowed" in head
    assert expr.strip() == "sum(x) + x.foo"
    assert caret.index("^") == expr.index(".foo")


def test_domain_error_at_given_values(capsys, tmp_path):
    np.savez(tmp_path / "neg.npz", x=np.array([1.0, -2.0]))
    status, _, err = run(capsys, "derive", "sum(log(x))", "--wrt", "x", "--shape", "x=2",
                         "--at", str(tmp_path / "neg.npz"))
    # 1/x is defined at −2, but log is not: there is no derivative to report
    assert status == 2 and "log of a non-positive entry" in err and len(err.splitlines()) == 1


def test_seeded_values_outside_the_domain_say_what_to_do(capsys):
    status, out, err = run(capsys, "derive", "sum(log(1 - x))", "--wrt", "x", "--shape", "x=3",
                           "--at", "0")
    assert status == 2 and out == "" and len(err.splitlines()) == 1
    assert "log of a non-positive entry" in err and "--at FILE.npz" in err
    status, out, _ = run(capsys, "derive", "sum(log(1 - x))", "--wrt", "x", "--shape", "x=3")
    assert status == 0 and "not evaluated at random values" in out    # structure only: no error


@pytest.mark.parametrize(("make", "message"), [
    (lambda p: None, "no such file"),
    (lambda p: p.write_text("not a zip"), "not a .npz file"),
    (lambda p: np.save(p.with_suffix(".npy"), np.ones(3)) or p.with_suffix(".npy").rename(p),
     "single array"),
    (lambda p: np.savez(p, x=np.ones(3)), "no array for 'A'"),
    (lambda p: np.savez(p, x=np.ones(2), A=np.eye(3)), "has shape (2,), but --shape gives (3,)"),
    (lambda p: np.savez(p, x=np.array(["a", "b", "c"]), A=np.eye(3)), "expected real numbers"),
    (lambda p: np.savez(p, x=np.array([1, None, 2], dtype=object), A=np.eye(3)), "unpickling"),
    (lambda p: np.savez(p, x=np.array([1.0, np.inf, 2.0]), A=np.eye(3)), "non-finite"),
    (lambda p: np.savez(p, x=np.ones(3), A=np.eye(3), unused=np.zeros(7)),
     "array 'unused' given, which the expression does not use; its variables are ['A', 'x']"),
    (lambda p: np.savez(p, x=np.ones(3), A=np.eye(3), y=np.ones(3), B=np.eye(2)),
     "array 'B', 'y' given"),
])
def test_bad_npz(capsys, tmp_path, make, message):
    path = tmp_path / "values.npz"
    make(path)
    status, out, err = run(capsys, *QUAD, "--at", str(path))
    assert status == 2 and out == ""
    assert len(err.splitlines()) == 1 and message in err


# ------------------------------------------------------------------ never executed
HOSTILE = [
    pytest.param("__import__('os').system('touch X')", id="import-system"),
    pytest.param("().__class__", id="class"),
    pytest.param("().__class__.__bases__[0].__subclasses__()", id="subclasses"),
    pytest.param("lambda: __import__('os').system('touch X')", id="lambda"),
    pytest.param("x.__class__.__init__.__globals__", id="globals"),
    pytest.param("x.T.T.T.__dict__", id="attribute-chain"),
    pytest.param("open('X', 'w')", id="open"),
    pytest.param("exec(\"open('X', 'w')\")", id="exec"),
    pytest.param("[__import__('os').system('touch X') for _ in x]", id="comprehension"),
    pytest.param("sum(x) if __import__('os').system('touch X') else x", id="conditional"),
    pytest.param("(y := __import__('os'))", id="walrus"),
    pytest.param("x" + " + x" * 40_000, id="160k-chars"),
    pytest.param("(" * 5000 + "x" + ")" * 5000, id="5000-parentheses"),
    pytest.param("(" * 1000 + "x" + ")" * 1000, id="1000-parentheses"),
    pytest.param("tanh(" * 400 + "x" + ")" * 400, id="400-calls-deep"),
]


@pytest.mark.parametrize("expression", HOSTILE)
def test_hostile_expressions_are_refused_and_never_run(capsys, monkeypatch, tmp_path,
                                                       expression):
    monkeypatch.chdir(tmp_path)
    calls = []
    monkeypatch.setattr(os, "system", lambda *a: calls.append(a) or 0)
    status, out, err = run(capsys, "derive", expression, "--wrt", "x", "--shape", "x=3")
    assert status == 2 and out == ""
    assert err.startswith("tensorderiv: error: ") and "Traceback" not in err
    assert len(err.splitlines()) in (1, 3)
    assert calls == [] and not (tmp_path / "X").exists()


@pytest.mark.parametrize("expression", HOSTILE[:2] + HOSTILE[-3:-1])
def test_hostile_expressions_in_a_real_process(tmp_path, expression):
    p = shell("derive", expression, "--wrt", "x", "--shape", "x=3", cwd=tmp_path)
    assert p.returncode == 2 and p.stdout == ""
    assert p.stderr.startswith("tensorderiv: error: ") and "Traceback" not in p.stderr
    assert not (tmp_path / "X").exists()


def test_real_process_main_job_and_errors(tmp_path):
    ok = shell(*QUAD, "--at", "0", "--format", "json")
    assert ok.returncode == 0 and ok.stderr == ""          # stderr is a pipe: no progress line
    r = json.loads(ok.stdout)
    A, x = np.array(r["at"]["values"]["A"]), np.array(r["at"]["values"]["x"])
    np.testing.assert_allclose(r["full"], (A + A.T) @ x, rtol=1e-12)
    for argv in (["derive", "x", "--wrt", "x", "--shape", "x=3", "--nope"],
                 ["derive", "x", "--wrt", "x", "--shape", "x=3q"],
                 [*QUAD, "--at", str(tmp_path / "missing.npz")]):
        p = shell(*argv)
        assert p.returncode == 2 and len(p.stderr.splitlines()) == 1
        assert "Traceback" not in p.stderr
    assert shell("demo").returncode == 0


def _readme_main_job():
    """The README's main job: the ``tensorderiv …`` command of its set-up block, as argv."""
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    line = next(t for t in readme.splitlines() if t.startswith("pip install . && tensorderiv "))
    return shlex.split(line.split("&&", 1)[1])


def test_the_installed_console_script_runs_help_and_the_main_job():
    exe = shutil.which("tensorderiv")
    if exe is None:
        pytest.skip("the tensorderiv console script is not on PATH; 'pip install .' puts it there")
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}  # the installed package
    shown = subprocess.run([exe, "--help"], capture_output=True, text=True, env=env, timeout=120)
    assert shown.returncode == 0 and shown.stderr == ""
    assert "derive" in shown.stdout and "demo" in shown.stdout
    argv = _readme_main_job()
    assert argv[0] == "tensorderiv" and "--at" in argv
    job = subprocess.run([exe, *argv[1:]], capture_output=True, text=True, env=env, timeout=120)
    assert job.returncode == 0 and job.stderr == ""
    assert re.search(r"finite differences .* 3 of 3 entries perturbed: pass", job.stdout)
    rng = np.random.default_rng(0)                 # --at 0: A, then x, standard normal
    A, x = rng.standard_normal((3, 3)), rng.standard_normal(3)
    block = job.stdout.split("full tensor (3,), notes layout:\n")[1].splitlines()[0]
    np.testing.assert_allclose([float(t) for t in block.strip(" []").split()], (A + A.T) @ x,
                               atol=1e-5)           # Matrix Cookbook (81), to the digits shown


# ------------------------------------------------------------------ progress
class FakeTerminal(io.StringIO):
    def isatty(self):
        return True


def test_progress_is_quiet_off_a_terminal():
    stream = io.StringIO()
    with cli.Progress(stream, delay=0.0, interval=0.01) as say:
        say("evaluating")
        time.sleep(0.1)
    assert stream.getvalue() == ""


def test_progress_on_a_terminal_shows_elapsed_time_then_erases():
    stream = FakeTerminal()
    with cli.Progress(stream, delay=0.02, interval=0.01) as say:
        say("evaluating")
        time.sleep(0.2)
    text = stream.getvalue()
    assert re.search(r"evaluating \(\d+\.\d s\)", text)
    assert text.endswith("\r\033[K")


def test_progress_waits_for_the_delay():
    stream = FakeTerminal()
    with cli.Progress(stream, delay=5.0, interval=0.01):
        time.sleep(0.05)
    assert stream.getvalue() == ""


def _slow_check(monkeypatch):
    real = cli_report.finite_difference_check

    def slow(*args, **kwargs):
        time.sleep(0.3)
        return real(*args, **kwargs)

    monkeypatch.setattr(cli_report, "finite_difference_check", slow)
    monkeypatch.setattr(cli, "PROGRESS_DELAY", 0.05)


def test_slow_derive_shows_progress_on_a_terminal(monkeypatch, capsys):
    _slow_check(monkeypatch)
    terminal = FakeTerminal()
    monkeypatch.setattr(sys, "stderr", terminal)
    assert cli.main([*QUAD, "--at", "0", "--format", "json"]) == 0
    assert "evaluating (" in terminal.getvalue()
    json.loads(capsys.readouterr().out)                 # stdout is untouched by the progress


def test_slow_derive_is_quiet_off_a_terminal(monkeypatch, capsys):
    _slow_check(monkeypatch)
    status, out, err = run(capsys, *QUAD, "--at", "0")
    assert status == 0 and err == "" and "finite differences" in out


# ------------------------------------------------------------------ inputs
@pytest.mark.parametrize(("spec", "expected"), [
    ("x=3", ("x", (3,))), ("W=3x2", ("W", (3, 2))), ("W=3,2", ("W", (3, 2))),
    ("W=(3, 2)", ("W", (3, 2))), ("T=2x3x4", ("T", (2, 3, 4))), ("s=", ("s", ())),
    ("s=()", ("s", ())), (" s = ( ) ", ("s", ())), ("x=(3,)", ("x", (3,))),
])
def test_parse_shape(spec, expected):
    assert parse_shape(spec) == expected


@pytest.mark.parametrize("spec", ["x", "=3", "1x=3", "x=3x", "x=-1", "x=2.5", "class=3",
                                  "exp=3", "x=99999x99999"])
def test_parse_shape_refuses(spec):
    with pytest.raises(ShapeError, match="--shape"):
        parse_shape(spec)


def test_seeded_values_fit_their_functions():
    e = td.parse("logdet(S) + sum(inv(S) @ v) + sum(log(u)) + sum(sqrt(w)) + sum(x / u)",
                 {"S": (4, 4), "v": (4,), "u": (3,), "w": (3,), "x": (3,)})
    for seed in range(30):
        v = seed_values(e, seed).arrays
        assert (v["u"] >= 0.5).all() and (v["w"] >= 0.5).all()
        assert np.linalg.det(v["S"]) > 0 and np.linalg.cond(v["S"]) < 1e3
        assert not np.allclose(v["S"], v["S"].T)          # not symmetric: transposes still show
        assert (v["x"] < 0).any() or seed > 0             # x itself is plain standard normal
    rng = np.random.default_rng(11)
    draws = {n: rng.standard_normal(s) for n, s in
             [("S", (4, 4)), ("u", (3,)), ("v", (4,)), ("w", (3,)), ("x", (3,))]}
    v = seed_values(e, 11)
    np.testing.assert_array_equal(v.arrays["v"], draws["v"])
    np.testing.assert_array_equal(v.arrays["u"], np.abs(draws["u"]) + 0.5)
    S = draws["S"] + np.diag(np.abs(draws["S"]).sum(axis=1) + 1.0)
    np.testing.assert_array_equal(v.arrays["S"], S)


def test_load_values_casts_and_refuses_other_arrays(tmp_path):
    np.savez(tmp_path / "v.npz", x=np.arange(3, dtype=np.int32))
    v = load_values(str(tmp_path / "v.npz"), {"x": (3,)})
    assert list(v.arrays) == ["x"] and v.arrays["x"].dtype == np.float64
    np.testing.assert_array_equal(v.arrays["x"], [0.0, 1.0, 2.0])
    with pytest.raises(ValuesError, match="no array for 'y'"):
        load_values(str(tmp_path / "v.npz"), {"x": (3,), "y": ()})
    # an array the expression does not use is refused, as evaluate refuses such a value
    np.savez(tmp_path / "w.npz", x=np.ones(3), other=np.ones(2))
    with pytest.raises(ValuesError, match=r"array 'other' given, which the expression does not "
                                          r"use; its variables are \['x'\]"):
        load_values(str(tmp_path / "w.npz"), {"x": (3,)})
    d = td.derive("sum(x)", "x", shapes={"x": (3,)})
    with pytest.raises(ValuesError, match="value given for 'other'"):
        d.evaluate({"x": np.ones(3), "other": np.ones(2)})


# ------------------------------------------------------------------ the JSON schema is documented
def _documented_fields(text):
    section = text.split("JSON fields:")[1]
    return tuple(re.findall(r"^    (\w+): ", section, flags=re.M))


def test_json_fields_are_documented_in_the_module():
    assert _documented_fields(cli_render.__doc__) == cli_render.JSON_FIELDS


def test_json_fields_are_documented_in_docs():
    doc = (ROOT / "docs" / "cli.md").read_text().split("## JSON")[1]
    listed = tuple(re.findall(r"^\| `(\w+)` \|", doc, flags=re.M))
    assert listed == cli_render.JSON_FIELDS
    assert "tensorderiv.derive/1" in doc
