"""CTensor: compact storage, layouts, the notes' rank ≤ 2 matrix forms, errors."""

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import tensorderiv as td
from tensorderiv import CTensor
from tensorderiv.core.axes import Axis, of_axes, wrt_axes
from tensorderiv.testing.strategies import STRUCTURES, ctensors


def test_dZ_dW_stored_as_the_values_of_a():
    # notes A.74-A.76: for Z = Wᵀa, ∂z_k/∂W_ij = a_i δ_jk; stored as the m values of a
    m, n = 4, 3
    a = np.arange(1.0, m + 1)
    ct = CTensor(a, [*wrt_axes("W", (m, n)), *of_axes("Z", (n,))], axis_map=(0, 1, 1),
                 wrt=(("W", (m, n)),))
    assert ct.shape == (m, n, n)
    assert ct.nbytes == a.nbytes and ct.dense_nbytes == m * n * n * 8
    full = np.zeros((m, n, n))
    for i in range(m):
        for j in range(n):
            full[i, j, j] = a[i]
    np.testing.assert_array_equal(ct.dense(), full)
    np.testing.assert_array_equal(np.asarray(ct), full)
    # finite differences of Z(W) = Wᵀa confirm it is ∂Z/∂W in the notes' layout
    W = np.random.default_rng(0).normal(size=(m, n))
    fd = np.zeros((m, n, n))
    for i in range(m):
        for j in range(n):
            E = np.zeros((m, n))
            E[i, j] = 1e-6
            fd[i, j] = ((W + E).T @ a - (W - E).T @ a) / 2e-6
    np.testing.assert_allclose(ct.dense(), fd, atol=1e-8)


@given(ctensors())
def test_compact_dense_compact_round_trip(ct):
    full = ct.dense()
    assert full.shape == ct.shape
    back = CTensor.from_dense(full, ct.axes)
    assert back.is_dense
    np.testing.assert_array_equal(back.dense(), full)
    assert ct.nbytes <= max(ct.dense_nbytes, ct.core.dtype.itemsize)


@given(ctensors())
def test_compact_dense_compact_finds_at_least_the_stored_structure(ct):
    # compact → dense → compact again (td.reduce on the full array): the form rebuilds the
    # array within its tolerance and, from rank 3 on (a matrix stays the notes' plain matrix),
    # keeps no more numbers than the compact storage did
    full = ct.dense()
    form = td.reduce(full, wrt_axes=0)
    assert np.abs(form.expand() - full).max(initial=0.0) <= form.tol
    if ct.ndim >= 3:
        assert form.dof <= max(ct.core.size, 1)


@given(st.sampled_from(STRUCTURES).flatmap(lambda s: ctensors(structure=s)))
def test_structured_storage_is_what_it_claims(ct):
    full = ct.dense()
    for p, c in enumerate(ct.axis_map):
        if c is None:  # redundant: constant along axis p
            np.testing.assert_array_equal(full, np.broadcast_to(
                np.take(full, [0], axis=p), full.shape))
    for p in range(ct.ndim):
        for q in range(p + 1, ct.ndim):
            c = ct.axis_map[p]
            if c is not None and c == ct.axis_map[q]:  # delta: zero off the (p, q) diagonal
                idx = np.indices(full.shape)
                assert np.all(full[idx[p] != idx[q]] == 0)


def _roles(draw_roles, ct):
    axes = [Axis(a.label, a.size, r, "v", i, 1 if r == "wrt" else 0)
            for i, (a, r) in enumerate(zip(ct.axes, draw_roles, strict=False))]
    return CTensor(ct.core, axes, ct.axis_map)


@given(ctensors(), st.lists(st.sampled_from(["of", "wrt"]), min_size=4, max_size=4))
def test_numerator_layout_is_a_permutation_of_the_notes_layout(ct, roles):
    ct = _roles(roles, ct)
    notes, num = ct.dense(), ct.dense(layout="numerator")
    order = ct.layout_order("numerator")
    np.testing.assert_array_equal(num, np.transpose(notes, order))
    outs = [a.size for a in ct.axes if a.role == "of"]
    ins = [a.size for a in ct.axes if a.role == "wrt"]
    assert num.shape == (*outs, *ins) and notes.shape == (*ins, *outs)


def test_axes_given_in_any_order_are_stored_in_the_notes_layout():
    w = Axis("w", 2, "of", "w", 0)
    v = Axis("v", 3, "wrt", "v", 0, 1)
    M = np.arange(6.0).reshape(2, 3)  # given as (w, v)
    ct = CTensor(M, [w, v])
    assert ct.labels == ("v", "w") and ct.shape == (3, 2)
    np.testing.assert_array_equal(ct.dense(), M.T)
    np.testing.assert_array_equal(ct.dense(layout="numerator"), M)


# ---- the notes' five layout cases (A.2-A.7) ----------------------------------------------

def test_layout_ds_dv_is_a_column():
    g = np.array([1.0, 2.0, 3.0])
    form = CTensor(g, wrt_axes("v", (3,)), wrt=(("v", (3,)),)).matrix_form()
    assert form.array.shape == (3, 1)  # Definition 9
    np.testing.assert_array_equal(form.array[:, 0], g)


def test_layout_dw_ds_is_a_row():
    d = np.array([1.0, 2.0])
    form = CTensor(d, of_axes("w", (2,)), wrt=(("s", ()),)).matrix_form()
    assert form.array.shape == (1, 2)  # Definition 11
    np.testing.assert_array_equal(form.array[0], d)


def test_layout_dw_dv_rows_are_inputs_columns_outputs():
    # ∂(Ax)/∂x = Aᵀ: row i ↔ xᵢ, column j ↔ (Ax)ⱼ (Definition 13)
    A = np.arange(6.0).reshape(2, 3)  # x (3) -> w (2)
    jac_numerator = A  # ∂wⱼ/∂xᵢ at [j, i]
    ct = CTensor(jac_numerator, [*of_axes("w", (2,)), *wrt_axes("x", (3,))], wrt=(("x", (3,)),))
    form = ct.matrix_form()
    assert form.array.shape == (3, 2)
    np.testing.assert_array_equal(form.array, A.T)


def test_layout_ds_dM_has_the_shape_of_M():
    G = np.arange(6.0).reshape(2, 3)
    form = CTensor(G, wrt_axes("M", (2, 3)), wrt=(("M", (2, 3)),)).matrix_form()
    assert form.array.shape == (2, 3)  # Definition 18
    np.testing.assert_array_equal(form.array, G)


def test_layout_dM_ds_has_the_shape_of_M_transposed():
    D = np.arange(6.0).reshape(2, 3)  # ∂m_ij/∂s at [i, j]
    form = CTensor(D, of_axes("M", (2, 3)), wrt=(("s", ()),)).matrix_form()
    assert form.array.shape == (3, 2)  # Definition 17
    np.testing.assert_array_equal(form.array, D.T)
    np.testing.assert_array_equal(form.expand(), D)


# ---- errors -------------------------------------------------------------------------------

def test_dense_refuses_over_budget_with_size_and_remedy():
    big = CTensor(np.ones(1000), [Axis("i", 1000), Axis("j", 1000), Axis("k", 1000)],
                  axis_map=(0, None, None))
    with pytest.raises(td.DenseLimitError, match=r"8,000,000,000 bytes.*set_dense_limit"):
        big.dense()
    with td.dense_limit(10**10):
        assert td.get_dense_limit() == 10**10
    assert td.get_dense_limit() == 1 << 30
    with pytest.raises(td.DenseLimitError, match="dense limit of 100 bytes"):
        CTensor(np.ones(20), ["i"]).dense(limit=100)


def test_duplicate_label_is_refused():
    with pytest.raises(td.LabelError, match=r"duplicate axis label\(s\) 'i'"):
        CTensor(np.ones((2, 2)), ["i", "i"])


def test_size_mismatch_with_the_core_is_refused():
    with pytest.raises(td.ShapeError, match="axis 'j' has size 3 but reads core axis 0 of size 2"):
        CTensor(np.ones(2), [Axis("i", 2), Axis("j", 3)], axis_map=(0, 0))


def test_unknown_label_lookup_names_the_known_ones():
    with pytest.raises(td.LabelError, match=r"unknown axis label 'z'.*\['i'\]"):
        CTensor(np.ones(2), ["i"]).axis("z")


@st.composite
def layout_cases(draw):
    """One of the notes' five rank ≤ 2 cases, with random sizes and values."""
    m, n = draw(st.integers(2, 5)), draw(st.integers(2, 5))
    case = draw(st.sampled_from(["ds/dv", "dw/ds", "dw/dv", "ds/dM", "dM/ds"]))
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    if case == "ds/dv":
        axes, wrt, want = wrt_axes("v", (m,)), (("v", (m,)),), (m, 1)
    elif case == "dw/ds":
        axes, wrt, want = of_axes("w", (n,)), (("s", ()),), (1, n)
    elif case == "dw/dv":
        axes, wrt, want = [*wrt_axes("v", (m,)), *of_axes("w", (n,))], (("v", (m,)),), (m, n)
    elif case == "ds/dM":
        axes, wrt, want = wrt_axes("M", (m, n)), (("M", (m, n)),), (m, n)
    else:
        axes, wrt, want = of_axes("M", (m, n)), (("s", ()),), (n, m)
    full = rng.normal(size=tuple(a.size for a in axes))
    return case, CTensor(full, axes, wrt=wrt), full, want


@given(layout_cases())
def test_the_five_layout_cases(case):
    name, ct, full, want = case
    form = ct.matrix_form()
    assert form.array.shape == want, name
    # row i ↔ the input's index, column j ↔ the output's (notes Definition 13, 17, 18)
    expected = full.T if name == "dM/ds" else full.reshape(want)
    np.testing.assert_array_equal(form.array, expected)
    np.testing.assert_array_equal(form.expand(), full)
