"""Rich display (issue 10 item 1): short reprs, HTML and LaTeX for every user-facing object.

Each object's ``repr`` is a few lines naming its shape, axes and roles, structure and storage;
its HTML a table with one row per axis; its LaTeX MathJax math. The numbers the displays state
(stored vs full size, structure) are checked against the object itself, computed independently;
a notebook cell per class runs in a real kernel (nbclient) to check the MIME types produced.
"""

from __future__ import annotations

import importlib.util
import math
import re

import numpy as np
import pytest

import tensorderiv as td
from tensorderiv.core.renderers import Rendered, register_renderer, render
from tensorderiv.display.html import preview
from tensorderiv.testing import check_derivative

A_VALUES = np.array([1.0, 2.0, 3.0])


def _dz_dw():
    W, a = td.var("W", (3, 2)), td.var("a", (3,))
    d = td.derive(W.T @ a, W)
    return d, d.evaluate({"W": np.ones((3, 2)), "a": A_VALUES})


def test_a_class_without_a_renderer_has_no_rich_display():
    class Plain(Rendered):
        pass

    assert Plain()._repr_html_() is None and Plain()._repr_latex_() is None
    assert repr(Plain()) == "<Plain>"
    register_renderer("Plain", html=lambda p: "<i>p</i>")
    assert render(Plain(), "html") == "<i>p</i>" and Plain()._repr_latex_() is None


def test_ctensor_repr_states_shape_roles_structure_and_storage():
    _, ct = _dz_dw()
    text = repr(ct)
    lines = text.splitlines()
    assert 1 <= len(lines) <= 3 and len(text) < 300
    # stored vs full numbers, computed here from the object
    full = math.prod(ct.shape)
    assert f"stores {ct.core.size} of {full} numbers" in lines[0]
    assert f"({ct.nbytes} of {ct.dense_nbytes} bytes)" in lines[0]
    assert str(ct.shape) in lines[0] and "∂f/∂W" in lines[0]
    # each axis with its role; the delta pairs W[1] with f[0] (they read one implicit axis)
    assert "W[0] 3 wrt#1 → core 0" in lines[1]
    assert "W[1] 2 wrt#1 → δ₁" in lines[1] and "f[0] 2 of → δ₁" in lines[1]
    assert ct.axis_map[1] == ct.axis_map[2]  # what δ₁ claims
    assert "Kronecker δ between W[1], f[0]" in lines[2]


def test_ctensor_html_is_a_table_of_axes_with_the_matrix_form_and_math():
    _, ct = _dz_dw()
    page = ct._repr_html_()
    rows = re.findall(r"<tr><td>(.*?)</td><td>(\d+)</td><td>(\w+)</td>", page)
    assert rows[:3] == [("W[0]", "3", "wrt"), ("W[1]", "2", "wrt"), ("f[0]", "2", "of")]
    form = ct.matrix_form()
    assert f"<b>{form.structure}</b>" in page and f"<b>{form.rule}</b>" in page
    assert "$$" in page and "\\delta" in page  # the formula, for MathJax
    latex = ct._repr_latex_()
    assert latex.startswith("$") and latex.endswith("$") and "\\frac{\\partial f}" in latex


def test_a_large_ctensor_is_summarised_never_dumped():
    x = td.var("x", (200,))
    ct = td.derive(td.sin(x), x).evaluate({"x": np.linspace(0.0, 1.0, 200)})  # (200, 200)
    assert ct.core.size == 200 and math.prod(ct.shape) == 40_000
    page = ct._repr_html_()
    assert len(page) < 12_000 and "..." in page
    assert len(repr(ct)) < 300
    big = td.CTensor(np.arange(30_000.0).reshape(100, 300), ["i", "j"])
    assert len(big._repr_html_()) < 12_000 and len(repr(big)) < 300
    assert "dense (every axis stored)" in repr(big)


def test_matrix_form_repr_is_short_not_a_dataclass_dump():
    x, A = td.var("x", (4,)), td.var("A", (4, 4))
    form = td.derive(A @ x, A).evaluate({"x": np.arange(4.0), "A": np.eye(4)}).matrix_form()
    text = repr(form)
    assert len(text.splitlines()) == 3 and len(text) < 400
    assert "factors=" not in text and "array(" not in text
    stored = sum(f.size for f in form.factors)
    assert f"{form.structure}, rule {form.rule!r}" in text
    assert f"({stored} of {math.prod(form.full_shape)} numbers)" in text
    assert form.formula() in text and form.chain_text() in text
    assert form._repr_latex_() == f"${form.to_latex()}$"
    page = form._repr_html_()
    assert "<table" in page and form.rows in page and form.note.split(",")[0] in page


def test_expr_and_derivative_displays():
    W, x = td.var("W", (3, 2)), td.var("x", (3,))
    e = td.tanh(W.T @ x)
    assert repr(e) == "Expr('tanh(W.T @ x)', shape=(2,))"
    assert e._repr_latex_() == "$\\tanh\\left(W^\\top x\\right)$"
    assert "<td>W</td><td>(3, 2)</td>" in e._repr_html_()
    d = td.derive(td.sum(e), W, order=2)
    assert repr(d) == ("Derivative('∂²(sum(tanh(W.T @ x)))/∂W²', shape=(3, 2, 3, 2), "
                       "wrt W (3, 2), W (3, 2) | of f ())")
    assert d._repr_latex_().startswith("$\\frac{\\partial^{2}")
    page = d._repr_html_()
    # one row per axis: W's two axes once per differentiation, a scalar output has none
    assert len(re.findall(r"<td>wrt</td>", page)) == 4 and "<td>of</td>" not in page


def test_derivative_check_displays():
    at = {"x": np.array([1.0, -1.0]), "A": np.array([[1.0, 2.0], [0.0, 3.0]])}
    result = check_derivative("x.T @ A @ x", at, lambda x, A: (A + A.T) @ x, wrt="x")
    text = repr(result)
    assert text.startswith("DerivativeCheck: passed (symbolic, dense), shape (2,)")
    assert f"{result.max_error:.3g}" in text and "\n" not in text
    assert "<td>true derivative</td><td>symbolic</td>" in result._repr_html_()
    assert result._repr_latex_().startswith("$\\max")


NB_MISSING = [m for m in ("nbclient", "nbformat", "ipykernel")
              if importlib.util.find_spec(m) is None]
CELLS = {
    "Expr": "e = W.T @ a\ne",
    "Derivative": "d = td.derive(e, W)\nd",
    "CTensor": "ct = d.evaluate({'W': np.ones((3, 2)), 'a': np.array([1.0, 2.0, 3.0])})\nct",
    "MatrixForm": "ct.matrix_form()",
    "DerivativeCheck": "check_derivative('sum(W.T @ a)', {'W': np.ones((3, 2)), "
                       "'a': np.array([1.0, 2.0, 3.0])}, lambda W, a: np.outer(a, [1, 1]), "
                       "wrt='W')",
}


@pytest.mark.skipif(bool(NB_MISSING), reason=f"needs {', '.join(NB_MISSING)}")
def test_each_class_renders_html_and_latex_in_a_notebook_kernel():
    import nbformat  # optional: imported only when installed (checked above)
    from nbclient import NotebookClient

    setup = ("import numpy as np\nimport tensorderiv as td\n"
             "from tensorderiv.testing import check_derivative\n"
             "W, a = td.var('W', (3, 2)), td.var('a', (3,))")
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_code_cell(setup)]
    nb.cells += [nbformat.v4.new_code_cell(src) for src in CELLS.values()]
    nb.cells.append(nbformat.v4.new_code_cell("td.plot(ct)"))  # a figure, shown once
    NotebookClient(nb, timeout=120, kernel_name="python3").execute()
    figure = nb.cells.pop()
    if importlib.util.find_spec("matplotlib") is not None:
        images = [o for o in figure.outputs if "image/png" in o.get("data", {})]
        assert len(images) == 1, figure.outputs
    for name, cell in zip(CELLS, nb.cells[1:], strict=True):
        results = [o for o in cell.outputs if o.output_type == "execute_result"]
        assert len(results) == 1, f"{name}: {cell.outputs}"
        data = results[0].data
        assert {"text/plain", "text/html", "text/latex"} <= set(data), f"{name}: {set(data)}"
        assert data["text/plain"].startswith(name), name
        assert "<table" in data["text/html"], name
        assert data["text/latex"].startswith("$") and data["text/latex"].endswith("$"), name
    ct_html = nb.cells[3].outputs[0].data["text/html"]
    assert "<td>W[1]</td><td>2</td><td>wrt</td>" in ct_html and "δ₁" in ct_html
    assert "stores 3 of 12 numbers" in nb.cells[3].outputs[0].data["text/plain"]


def test_a_lazy_core_is_described_not_computed():
    da = pytest.importorskip("dask.array")
    lazy = da.ones((4, 3), chunks=2)
    ct = td.CTensor(lazy, ["i", "j"])
    page = ct._repr_html_()
    assert "not computed" in page and "stores 12 of 12 numbers" in repr(ct)
    assert isinstance(ct.core, da.Array)  # still lazy


def test_latex_of_kronecker_factors_has_no_double_subscripts():
    # MathJax rejects F_{1}_{i}; each of the forms below has two or more factors
    W, v = td.var("W", (4, 3)), td.var("v", (3,))
    rng = np.random.default_rng(0)
    ct = td.derive(td.tanh(W @ v), W).evaluate({"W": rng.uniform(-0.5, 0.5, (4, 3)),
                                                "v": np.array([1.0, 2.0, 3.0])})
    form = ct.matrix_form()
    assert len(form.factors) >= 2
    for latex in (form.formula(latex=True), form.to_latex(), ct._repr_latex_(),
                  form._repr_html_()):
        assert not re.search(r"_\{[^{}]*\}_\{", latex), latex
    # a preview shows small values as they are (never rounded to 0)
    assert "e-07" in preview(np.array([1e-7, 1.0]))


def test_long_expressions_are_cut_in_titles_and_importing_stays_light():
    x = td.var("x", (2,))
    e = x
    for _ in range(60):
        e = td.tanh(e) + x
    d = td.derive(td.sum(e), x)
    assert len(d.text) > 500
    page = d._repr_html_()
    assert " … " in page and d.text not in page
    assert len(re.sub(r"\$\$.*?\$\$", "", page)) < 1500  # only the LaTeX carries it whole
    assert len(repr(d)) < 200 and len(repr(e)) < 150 and " … " in repr(e)
    import subprocess
    import sys

    code = ("import sys, tensorderiv; "
            "print([m for m in ('matplotlib', 'tqdm') if m in sys.modules])")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"  # the extras are imported only when used


def test_a_zero_ctensor_says_zero_not_constant():
    # a derivative wrt a declared, unused variable is zero: the repr and HTML must say so
    # (they used to call it "constant along …", true of the storage but hiding the zero)
    x, u = td.var("x", (2,)), td.var("u", (3,))
    ct = td.derive(td.sum(x * x), u).evaluate({"x": np.array([1.0, 2.0])})
    assert not np.any(np.asarray(ct)) and np.asarray(ct).shape == (3,)  # independently: zeros
    assert "structure: zero" in repr(ct)
    assert "structure: zero" in ct._repr_html_()
    nonzero = td.derive(td.sum(x * x), x).evaluate({"x": np.array([1.0, 2.0])})
    assert "zero" not in repr(nonzero)
