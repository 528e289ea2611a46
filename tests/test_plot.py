"""Structure plots (issue 10 item 3), compared by structure, never by pixels.

For a few fixed cases: the grid of slices, the axis labels and titles, and the non-zero pattern
of each drawn image against a hand-derived closed form (δ ⊗ a for ∂(Wᵀa)/∂W, δ ⊗ B for
∂(AB)/∂A), rendered with the Agg backend.
"""

from __future__ import annotations

import sys

import numpy as np
import pytest

import tensorderiv as td
from tensorderiv.core.axes import Axis

matplotlib = pytest.importorskip("matplotlib", reason="the plot extra (matplotlib) is missing")
matplotlib.use("Agg")


def _slices(fig):
    return [ax for ax in fig.axes if ax.get_label() == "slice"]


def _drawn(ax):
    """The values drawn and where they are drawn (the blank cells are the exact zeros)."""
    img = ax.images[0].get_array()
    return np.ma.filled(img, 0.0), ~np.ma.getmaskarray(img)


def test_a_3_tensor_is_a_row_of_matrix_slices_with_the_delta_visible():
    W, a = td.var("W", (3, 2)), td.var("a", (3,))
    av = np.array([1.0, -2.0, 3.0])
    fig = td.plot(td.derive(W.T @ a, W), {"W": np.ones((3, 2)), "a": av})
    fig.canvas.draw()  # renders without error
    axs = _slices(fig)
    assert [ax.get_title() for ax in axs] == ["f[0] = 0", "f[0] = 1"]
    assert {(ax.get_ylabel(), ax.get_xlabel()) for ax in axs} == {("W[0]", "W[1]")}
    truth = np.einsum("i,jk->ijk", av, np.eye(2))  # ∂Zₖ/∂Wᵢⱼ = aᵢ δⱼₖ (notes A.74)
    for k, ax in enumerate(axs):
        values, drawn = _drawn(ax)
        np.testing.assert_array_equal(drawn, truth[:, :, k] != 0)
        np.testing.assert_allclose(values, truth[:, :, k])
    title = " ".join(fig._suptitle.get_text().split())
    assert "Kronecker δ between W[1], f[0]" in title
    assert "matrix form: delta, chain rule outer" in title  # ∂Z/∂W collapses to a (A.9)


def test_a_4_tensor_is_a_grid_of_slices():
    A, B = td.var("A", (2, 3)), td.var("B", (3, 2))
    Bv = np.arange(6.0).reshape(3, 2)
    fig = td.plot(td.derive(A @ B, A).evaluate({"A": np.ones((2, 3)), "B": Bv}))
    axs = _slices(fig)
    assert len(axs) == 4
    truth = np.einsum("ik,jl->ijkl", np.eye(2), Bv)  # ∂(AB)ₖₗ/∂Aᵢⱼ = δᵢₖ Bⱼₗ
    for ax in axs:
        k, m = (int(part.split("= ")[1]) for part in ax.get_title().split(", "))
        _, drawn = _drawn(ax)
        np.testing.assert_array_equal(drawn, truth[:, :, k, m] != 0)
    assert sorted(ax.get_title() for ax in axs) == [
        "f[0] = 0, f[1] = 0", "f[0] = 0, f[1] = 1", "f[0] = 1, f[1] = 0", "f[0] = 1, f[1] = 1"]
    # third axis across, fourth down: the grid is 2 by 2
    rows = {ax.get_subplotspec().rowspan.start for ax in axs}
    cols = {ax.get_subplotspec().colspan.start for ax in axs}
    assert rows == cols == {0, 1}


def test_a_hessian_says_it_is_symmetric():
    x, A = td.var("x", (3,)), td.var("A", (3, 3))
    Av = np.array([[2.0, 1.0, 0.0], [1.0, 3.0, 0.0], [0.0, 0.0, 1.0]])
    fig = td.plot(td.derive(x.T @ A @ x, x, order=2), {"x": np.ones(3), "A": Av})
    values, drawn = _drawn(_slices(fig)[0])
    np.testing.assert_allclose(values, Av + Av.T)  # ∂²(xᵀAx)/∂x² = A + Aᵀ
    np.testing.assert_array_equal(drawn, (Av + Av.T) != 0)
    assert "matrix form: symmetric" in " ".join(fig._suptitle.get_text().split())


def test_vectors_are_columns_and_dw_ds_a_row():
    x = td.var("x", (3,))
    fig = td.plot(td.derive(td.sum(x * x), x), {"x": np.array([1.0, 0.0, 2.0])})
    values, drawn = _drawn(_slices(fig)[0])
    np.testing.assert_allclose(values, [[2.0], [0.0], [4.0]])  # 2x, a column (Definition 9)
    assert drawn.ravel().tolist() == [True, False, True]
    s, v = td.var("s"), td.var("v", (2,))
    fig = td.plot(td.derive(s * v, s), {"s": np.float64(2.0), "v": np.array([3.0, 4.0])})
    values, _ = _drawn(_slices(fig)[0])
    np.testing.assert_allclose(values, [[3.0, 4.0]])  # ∂w/∂s is a row (Definition 11)


def test_a_matrix_form_is_drawn_beside_its_full_tensor():
    W, a = td.var("W", (3, 2)), td.var("a", (3,))
    form = td.derive(W.T @ a, W).evaluate(
        {"W": np.ones((3, 2)), "a": np.array([1.0, 2.0, 3.0])}).matrix_form()
    fig = td.plot(form)
    assert len(fig.subfigs) == 2
    collapsed = [ax for ax in fig.axes if ax.get_label() == "collapsed"]
    assert len(collapsed) == 1 and "delta (outer)" in collapsed[0].get_title()
    np.testing.assert_allclose(_drawn(collapsed[0])[0], form.array)
    full = form.expand()
    for k, ax in enumerate(_slices(fig)):
        np.testing.assert_array_equal(_drawn(ax)[1], full[:, :, k] != 0)
    title = " ".join(fig._suptitle.get_text().split())
    assert form.formula().split("=")[1].strip().replace("𝐅", "F") in title


def test_redundant_axes_arrays_and_the_slice_cap():
    const = td.CTensor(np.array([1.0, 2.0]), [Axis("i", 2), Axis("j", 3)], axis_map=(0, None))
    fig = td.plot(const)
    values, _ = _drawn(_slices(fig)[0])
    np.testing.assert_allclose(values, [[1.0] * 3, [2.0] * 3])  # equal columns
    assert "constant along j" in " ".join(fig._suptitle.get_text().split())
    fig = td.plot(np.eye(3))
    ax = _slices(fig)[0]
    assert (ax.get_ylabel(), ax.get_xlabel()) == ("axis 0", "axis 1")
    np.testing.assert_array_equal(_drawn(ax)[1], np.eye(3, dtype=bool))
    fig = td.plot(np.ones((2, 2, 10)), max_slices=4)
    assert len(_slices(fig)) == 4
    assert "first 4 of 10 slices along axis 2" in " ".join(fig._suptitle.get_text().split())


def test_bad_input_says_what_to_do(monkeypatch):
    x = td.var("x", (2,))
    with pytest.raises(td.ValuesError, match="needs values for its variables"):
        td.plot(td.derive(td.sum(x), x))
    with pytest.raises(td.ShapeError, match="rank 1 to 4; this one has rank 5"):
        td.plot(np.ones((1, 1, 1, 1, 1)))
    with pytest.raises(ValueError, match="max_slices must be a positive integer, got 0"):
        td.plot(np.eye(2), max_slices=0)
    monkeypatch.setitem(sys.modules, "matplotlib.pyplot", None)  # as if not installed
    with pytest.raises(ImportError, match=r"tensorderiv\[plot\]"):
        td.plot(np.eye(2))


def test_plot_refuses_text_and_objects_it_cannot_draw_with_a_tensorderiv_error():
    # text used to fail inside numpy ("could not convert string to float")
    with pytest.raises(td.ValuesError, match=r"got a str \(text: parse it first"):
        td.plot("sum(x * x)")
    with pytest.raises(td.ValuesError, match="got a dict"):
        td.plot({"x": 1})
    with pytest.raises(td.TensorDerivError, match="max_slices"):
        td.plot(np.eye(2), max_slices=0)
