"""CTensor arithmetic (issue 11, item 6): every operation against the same one on dense arrays.

The oracle is numpy on ``ct.dense()``; the structural claims (a scaled core, added cores) are
checked on the storage.
"""

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import tensorderiv as td
from tensorderiv import CTensor
from tensorderiv.core.axes import Axis


def _hessian(xv):
    x = td.var("x", (len(xv),))
    return td.derive(td.sum(x ** 4), x, order=2).evaluate({"x": np.asarray(xv, float)})


def _dZ_dW(a, n=2):
    """a_i δ_jk: ∂(Wᵀa)/∂W, a full (m, n, n) tensor stored as m numbers."""
    axes = [Axis(("W", 1, 0), len(a), "wrt", "W", 0, 1), Axis(("W", 1, 1), n, "wrt", "W", 1, 1),
            Axis(("Z", 0, 0), n, "of", "Z", 0)]
    return CTensor(np.asarray(a, float), axes, axis_map=(0, 1, 1), wrt=(("W", (len(a), n)),))


def test_scalar_times_keeps_the_core_and_the_deltas():
    T = _dZ_dW([1.0, 2.0, 3.0])
    for got, want in ((2 * T, 2 * T.dense()), (T * 2.5, 2.5 * T.dense()),
                      (T / 4, T.dense() / 4), (-T, -T.dense()),
                      (np.float64(3) * T, 3 * T.dense())):
        assert isinstance(got, CTensor)
        assert got.axis_map == T.axis_map and got.core.shape == T.core.shape
        assert got.wrt == T.wrt
        np.testing.assert_array_equal(got.dense(), want)


def test_sum_with_identical_axis_maps_adds_cores():
    S, T = _dZ_dW([1.0, 2.0, 3.0]), _dZ_dW([0.5, -1.0, 4.0])
    for got, want in ((S + T, S.dense() + T.dense()), (S - T, S.dense() - T.dense())):
        assert got.axis_map == S.axis_map and got.core.shape == (3,)
        np.testing.assert_array_equal(got.dense(), want)


def test_sum_of_different_structures_keeps_what_they_share():
    H = _hessian([1.0, 2.0, 3.0])                     # diagonal
    ones = CTensor(np.float64(1.0), H.axes, axis_map=(None, None), wrt=H.wrt)
    got = H + ones
    np.testing.assert_array_equal(got.dense(), H.dense() + 1.0)
    zero = td.derive(td.parse("sum(x ** 4)", {"x": (3,), "u": (3,)}), "x", order=2)
    z = td.derive(td.parse("sum(u)", {"x": (3,), "u": (3,)}), "x", order=2).evaluate(
        {"x": np.ones(3), "u": np.ones(3)})
    assert z.is_zero
    h = zero.evaluate({"x": np.array([1.0, 2.0, 3.0]), "u": np.ones(3)})
    assert (h + z).core.shape == h.core.shape         # a zero term is free
    np.testing.assert_array_equal((z - h).dense(), -h.dense())


def test_adding_arrays_and_numbers():
    H = _hessian([1.0, -2.0])
    lam = 0.25
    damped = H + lam * np.eye(2)
    assert isinstance(damped, CTensor)
    np.testing.assert_allclose(damped.dense(), H.dense() + lam * np.eye(2))
    np.testing.assert_allclose((np.eye(2) + H).dense(), H.dense() + np.eye(2))
    np.testing.assert_allclose((1.0 - H).dense(), 1.0 - H.dense())
    np.testing.assert_allclose((H + 3).dense(), H.dense() + 3)
    with pytest.raises(td.ShapeError, match=r"c-tensor of shape \(2, 2\): give the full shape"):
        H + np.ones(3)
    np.testing.assert_allclose((H * np.full((2, 2), 3.0)).dense(), H.dense() * 3.0)
    with pytest.raises(td.ShapeError, match="entry by entry"):
        H * np.ones(3)
    with pytest.raises(TypeError, match="only a number"):
        H / np.ones((2, 2))


def test_labels_must_match_for_a_sum():
    a = CTensor(np.ones((2, 2)), ["i", "j"])
    b = CTensor(np.ones((2, 2)), ["i", "k"])
    with pytest.raises(td.LabelError, match="relabel"):
        a + b
    c = CTensor(np.arange(4.0).reshape(2, 2), ["j", "i"])   # same labels, other order
    np.testing.assert_array_equal((a + c).dense(), 1.0 + np.arange(4.0).reshape(2, 2).T)


def test_numpy_functions_through_array():
    H = _hessian([1.0, 2.0])
    g = np.array([1.0, -1.0])
    np.testing.assert_allclose(np.linalg.solve(H, g), np.linalg.solve(H.dense(), g))
    assert np.allclose(H, np.diag([12.0, 48.0]))
    assert np.allclose(np.sqrt(H), np.sqrt(H.dense()))       # other ufuncs densify
    assert isinstance(np.add(H, H), CTensor)


def test_array_respects_the_dense_budget():
    x = td.var("x", (200,))
    H = td.derive(td.sum(x ** 4), x, order=2).evaluate({"x": np.ones(200)})
    with td.dense_limit(1000), pytest.raises(td.DenseLimitError, match="dense limit"):
        np.asarray(H)
    with td.dense_limit(1000):
        assert (2 * H).core.shape == (200,)            # scaling never materialises
        assert (H - H / 2).core.shape == (200,)


def test_indexing_on_full_axes_in_the_notes_layout():
    T = _dZ_dW([1.0, 2.0, 3.0])
    D = T.dense()
    row = T[1]                              # an own core axis: stays compact
    assert isinstance(row, CTensor) and row.axis_map == (0, 0)
    np.testing.assert_array_equal(row.dense(), D[1])
    np.testing.assert_array_equal(T[0:2].dense(), D[0:2])
    np.testing.assert_array_equal(T[..., 1], D[..., 1])          # into a delta: an array
    assert T[2, 1, 1] == D[2, 1, 1] and T[2, 0, 1] == 0.0
    np.testing.assert_array_equal(T[[0, 2]], D[[0, 2]])          # fancy: an array
    with pytest.raises(IndexError, match="out of bounds"):
        T[3]
    b = CTensor(np.array([1.0, 2.0]), [Axis("i", 2), Axis("j", 3)], axis_map=(0, None))
    np.testing.assert_array_equal(b[:, 1].dense(), np.asarray(b)[:, 1])
    assert b[:, 1:].core.shape == (2,)                           # a constant axis stays so


def test_transposed_view():
    T = _dZ_dW([1.0, 2.0, 3.0])
    V = T.T
    assert V.shape == (2, 2, 3) and V.core.shape == T.core.shape and V.wrt == ()
    np.testing.assert_array_equal(V.dense(), T.dense().T)
    np.testing.assert_array_equal(T.transpose(2, 0, 1).dense(), T.dense().transpose(2, 0, 1))
    J = td.derive(td.parse("A @ x", {"A": (2, 3), "x": (3,)}), "x").evaluate(
        {"A": np.arange(6.0).reshape(2, 3), "x": np.ones(3)})
    np.testing.assert_array_equal(J.T.dense(), J.dense(layout="numerator"))   # the Jacobian
    with pytest.raises(td.ShapeError, match="permutation"):
        T.transpose(0, 0, 1)


# ---------------------------------------------------------------------- properties
@st.composite
def _ctensors(draw, axis_maps=None):
    """A compact c-tensor on labels i, j, k (sizes 1-3) with a random structure."""
    n = draw(st.integers(1, 3))
    kind = draw(st.sampled_from(["dense", "diag", "const", "delta"]))
    rng = np.random.default_rng(draw(st.integers(0, 2**31 - 1)))
    axes = [Axis("i", n), Axis("j", n), Axis("k", 2)]
    if kind == "dense":
        core, amap = rng.normal(size=(n, n, 2)), (0, 1, 2)
    elif kind == "diag":
        core, amap = rng.normal(size=(n, 2)), (0, 0, 1)
    elif kind == "const":
        core, amap = rng.normal(size=(n,)), (0, None, None)
    else:
        core, amap = rng.normal(size=(2,)), (1, 1, 0)
    return CTensor(core, axes, axis_map=amap)


@given(_ctensors(), st.sampled_from([0.0, -2.5, -1.0, 0.5, 3.0]) | st.floats(0.01, 3), st.data())
def test_property_arithmetic_matches_dense_arithmetic(T, c, data):
    S = data.draw(_ctensors().filter(lambda s: s.shape == T.shape))
    D, E = T.dense(), S.dense()
    np.testing.assert_allclose((T + S).dense(), D + E, atol=1e-12)
    np.testing.assert_allclose((T - S).dense(), D - E, atol=1e-12)
    np.testing.assert_allclose((c * T).dense(), c * D, atol=1e-12)
    np.testing.assert_allclose((-T).dense(), -D)
    if c != 0:
        np.testing.assert_allclose((T / c).dense(), D / c, rtol=1e-12)
    np.testing.assert_allclose((T + c).dense(), D + c, atol=1e-12)
    np.testing.assert_allclose((T + E).dense(), D + E, atol=1e-12)
    assert (c * T).core.shape == T.core.shape
    i = data.draw(st.integers(0, T.shape[0] - 1))
    got = T[i]
    np.testing.assert_allclose(got.dense() if isinstance(got, CTensor) else got, D[i])
    np.testing.assert_allclose(T.T.dense(), D.T)


def test_float_of_a_one_entry_ctensor_and_a_clear_error_otherwise():
    # float(td.evaluate(scalar expr)) used to raise TypeError ("not 'CTensor'")
    x = td.var("x", (3,))
    a = np.array([0.5, -1.0, 2.0])
    value = td.evaluate(td.sum(td.tanh(x)), {"x": a})
    assert isinstance(float(value), float) and np.isclose(float(value), np.tanh(a).sum())
    g = td.derive(td.sum(x * x), x).evaluate({"x": a})          # ∂/∂x = 2x, independently
    assert np.isclose(float(g[1:2]), 2 * a[1])
    with pytest.raises(td.ShapeError, match=r"one entry, got shape \(3,\)"):
        float(g)


def test_asarray_shares_the_core_when_nothing_is_compact_as_numpy_does():
    x = td.var("x", (3,))
    t = td.evaluate(x * 2.0, {"x": np.array([1.0, 2.0, 3.0])})
    assert np.asarray(t) is t.core  # no copy: the core is the full array
    assert not np.shares_memory(np.array(t), t.core)  # np.array and dense() copy
    assert not np.shares_memory(t.dense(), t.core)
    h = td.derive(td.sum(x * x), x, order=2).evaluate({"x": np.ones(3)})  # a delta: compact
    np.testing.assert_array_equal(np.asarray(h), 2 * np.eye(3))
    with pytest.raises(ValueError, match="compact"):
        np.asarray(h, copy=False)
