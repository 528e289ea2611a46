"""Reducers: structure found in c-tensors and dense arrays, collapsed into the notes' forms.

Oracles: the arrays are built with a known structure (tensorderiv.testing.strategies), the full
tensor is compared entry by entry with ``expand()``, chain-rule results with ``td.contract`` on the
compact c-tensors, with ``np.tensordot`` on the dense arrays and with finite differences.
"""

import numpy as np
import pytest
from hypothesis import assume, given
from hypothesis import strategies as st

import tensorderiv as td
from tensorderiv import CTensor
from tensorderiv.core.axes import Axis, of_axes, wrt_axes
from tensorderiv.forms.layouts import flatten
from tensorderiv.forms.matrixform import STRUCTURES
from tensorderiv.testing.strategies import DENSE_STRUCTURES, ctensors, structured_arrays

ATOL, RTOL = 1e-12, 1e-9
rng = np.random.default_rng(20241225)


def red(sa, **kw):
    return td.reduce(sa.array, sa.n_wrt, copies=sa.copies, atol=ATOL, rtol=RTOL, **kw)


def expected(sa):
    """The structure td.reduce names for ``sa``: the one it was built with (structured_arrays
    draws rank ≥ 3 for the collapses that only apply from rank 3 on)."""
    return sa.structure


def assert_expands_to(form, full):
    assert form.full_shape == full.shape
    assert np.abs(form.expand() - full).max(initial=0.0) <= form.tol


# ---- properties: every structure is found, rebuilt, and not claimed once broken ---------------

def test_the_strategies_build_every_structure_the_reducer_names():
    # numerically_zero is rounding left by cancelling terms: tests/test_api.py builds it
    assert set(DENSE_STRUCTURES) == set(STRUCTURES) - {"numerically_zero"}


@pytest.mark.parametrize("kind", DENSE_STRUCTURES)
@given(data=st.data())
def test_each_structure_is_found_and_expands_back(kind, data):
    sa = data.draw(structured_arrays(kind))
    form = red(sa)
    assert form.structure == expected(sa), (form.found, form.tried)
    assert_expands_to(form, sa.array)
    assert form.dof <= sa.array.size


@pytest.mark.parametrize("kind", [k for k in DENSE_STRUCTURES if k != "dense"])
@given(data=st.data())
def test_one_entry_moved_just_past_tol_weakens_the_structure(kind, data):
    sa = data.draw(structured_arrays(kind))
    assume(sa.breaking.any() and expected(sa) == sa.structure)
    form = red(sa)
    where = data.draw(st.sampled_from([tuple(int(i) for i in w) for w in np.argwhere(sa.breaking)]))
    step = 2.0 * (ATOL + RTOL * np.abs(sa.array).max(initial=0.0))  # just above tol
    moved = sa.array.copy()
    moved[where] += step * data.draw(st.sampled_from([-1.0, 1.0]))
    weak = red(type(sa)(moved, sa.n_wrt, sa.copies, sa.structure, sa.breaking))
    assert weak.structure != form.structure, (where, weak.found)
    assert weak.dof > form.dof
    assert_expands_to(weak, moved)


@given(structured_arrays(), st.data())
def test_chain_applies_each_rule_as_the_full_contraction(sa, data):
    assume(sa.copies == 1)
    form = red(sa)
    n_of = sa.array.ndim - sa.n_wrt
    trailing = data.draw(st.sampled_from([(), (2,)]))
    g = rng.normal(size=sa.array.shape[sa.n_wrt:] + trailing)
    want = np.tensordot(sa.array, g, axes=n_of)
    np.testing.assert_allclose(form.apply(g), want, atol=1e-9)
    np.testing.assert_allclose(td.chain(form, g).expand(), want, atol=1e-9)


@given(st.sampled_from(DENSE_STRUCTURES).flatmap(structured_arrays))
def test_numerator_layout_converts_both_ways(sa):
    num = td.to_layout(sa.array, sa.n_wrt, source="notes", target="numerator")
    n_of = sa.array.ndim - sa.n_wrt
    assert num.shape == sa.array.shape[sa.n_wrt:] + sa.array.shape[:sa.n_wrt]
    np.testing.assert_array_equal(td.to_layout(num, sa.n_wrt), sa.array)
    form = td.reduce(num, sa.n_wrt, layout="numerator", copies=sa.copies, atol=ATOL, rtol=RTOL)
    assert form.structure == expected(sa)
    assert np.abs(form.expand(layout="numerator") - num).max(initial=0) <= form.tol
    wrt_of = flatten(sa.array, list(range(sa.n_wrt)), list(range(sa.n_wrt, sa.array.ndim)))
    np.testing.assert_allclose(form.matrix(layout="numerator"), wrt_of.T, atol=form.tol)
    assert form.matrix().shape == (int(np.prod(sa.array.shape[:sa.n_wrt])),
                                   int(np.prod(sa.array.shape[sa.array.ndim - n_of:])))


@given(ctensors(max_side=3))
def test_compact_storage_reduces_exactly_and_agrees_with_the_dense_array(ct):
    axes = [Axis(a.label, a.size, "wrt" if k % 2 else "of", "v", k, 1 if k % 2 else 0)
            for k, a in enumerate(ct.axes)]
    ct = CTensor(ct.core, axes, ct.axis_map)
    compact = ct.matrix_form(atol=ATOL, rtol=RTOL)
    full = ct.dense()
    assert_expands_to(compact, full)
    n_wrt = sum(a.role == "wrt" for a in ct.axes)
    dense = td.reduce(full, n_wrt, atol=ATOL, rtol=RTOL)
    assert_expands_to(dense, full)
    # the storage and the values say the same thing
    assert (compact.structure, compact.dof) == (dense.structure, dense.dof)


# ---- one example per structure ----------------------------------------------------------------

def test_zero():
    form = td.reduce(np.zeros((2, 3, 4)), wrt_axes=1)
    assert (form.structure, form.rule, form.dof) == ("zero", "zero", 0)
    assert form.formula() == "𝐓 = 0" and form.to_latex().endswith("= 0")
    np.testing.assert_array_equal(form.apply(np.ones((3, 4))), np.zeros(2))
    np.testing.assert_array_equal(form.expand(), np.zeros((2, 3, 4)))


def test_identity_from_storage_and_from_values():
    # ∂X/∂X = δ_ik δ_jl, stored as two pure deltas (no storage at all)
    X = (2, 3)
    ct = CTensor(np.float64(1.0), [*wrt_axes("X", X), *of_axes("X'", X)], axis_map=(0, 1, 0, 1),
                 wrt=(("X", X),))
    for form in (ct.matrix_form(), td.reduce(np.eye(6).reshape(2, 3, 2, 3), 2)):
        assert (form.structure, form.rule) == ("identity", "scale")
        assert form.array.shape == () and form.array == 1.0 and form.dof == 1
        np.testing.assert_array_equal(form.expand(), np.eye(6).reshape(2, 3, 2, 3))
        assert form.to_latex().endswith("= I")
    assert any("exact, from the storage" in f for f in ct.matrix_form().found)


def test_identity_ignores_size_one_axes():
    form = td.reduce(np.eye(3).reshape(3, 1, 3, 1), 2)
    assert form.structure == "identity"
    np.testing.assert_array_equal(form.apply(np.arange(3.0).reshape(3, 1)),
                                  np.arange(3.0).reshape(3, 1))


def test_scaled_identity_is_a_scale():
    form = td.reduce(3.0 * np.eye(4), wrt_axes=1)  # ∂(3x)/∂x
    assert (form.structure, form.rule, float(form.array)) == ("scaled_identity", "scale", 3.0)
    np.testing.assert_array_equal(form.apply(np.arange(4.0)), 3.0 * np.arange(4.0))
    assert "3\\,I" in form.to_latex()


def test_diagonal_collapses_to_f_prime_used_elementwise():
    # notes A.84-A.90: ∂A/∂Z for A = tanh(Z) is diag(f'(Z)), collapsed to f'(Z) (n×1), ⊙ rule
    z = np.array([-1.0, 0.0, 0.5, 2.0])
    fprime = 1 - np.tanh(z) ** 2
    ct = CTensor(fprime, [*wrt_axes("Z", (4,)), *of_axes("A", (4,))], axis_map=(0, 0),
                 wrt=(("Z", (4,)),))
    fd = np.array([(np.tanh(z + 1e-6 * e) - np.tanh(z - 1e-6 * e)) / 2e-6 for e in np.eye(4)])
    for form in (ct.matrix_form(), td.reduce(fd, 1, atol=1e-8)):
        assert (form.structure, form.rule) == ("diagonal", "elementwise")
        assert form.array.shape == (4, 1)
        np.testing.assert_allclose(form.array[:, 0], fprime, atol=1e-8)
        g = np.array([1.0, -2.0, 3.0, 0.5])
        np.testing.assert_allclose(form.apply(g), fprime * g, atol=1e-8)  # Concept 34
    assert "\\operatorname{diag}" in ct.matrix_form().to_latex()


def test_diagonal_between_a_group_of_three_axes():
    d = np.array([1.0, -2.0, 3.0])
    T = np.zeros((3, 3, 3))
    T[range(3), range(3), range(3)] = d
    form = td.reduce(T, 1)
    assert form.structure == "diagonal" and form.n_slots == 1
    np.testing.assert_array_equal(form.factors[0], d)
    assert form.formula() == "𝐓[i,j,k] = 𝐅[i]·δ[i,j,k]"
    np.testing.assert_array_equal(form.expand(), T)


def test_delta_factor_dZ_dW_collapses_to_A():
    # notes A.74-A.76 and Notation 30: ∂Z/∂W for Z = WᵀA (W m×n) is A_i δ_jk, collapsed to A (m×1)
    m, n = 4, 3
    A = rng.normal(size=m)
    ct = CTensor(A, [*wrt_axes("W", (m, n)), *of_axes("Z", (n,))], axis_map=(0, 1, 1),
                 wrt=(("W", (m, n)),))
    W = rng.normal(size=(m, n))
    fd = np.zeros((m, n, n))
    for i in range(m):
        for j in range(n):
            E = np.zeros((m, n))
            E[i, j] = 1e-6
            fd[i, j] = ((W + E).T @ A - (W - E).T @ A) / 2e-6
    for form in (ct.matrix_form(), td.reduce(fd, 2, atol=1e-8)):
        assert (form.structure, form.rule) == ("delta", "outer")
        assert form.array.shape == (m, 1)
        np.testing.assert_allclose(form.array[:, 0], A, atol=1e-8)
        assert form.formula() == "𝐓[i,j,k] = 𝐅[i]·δ[j,k]"
    assert "\\mathbf{T}_{ijk} = \\mathbf{F}_{i}\\,\\delta_{jk}" in ct.matrix_form().to_latex()


def test_kron_dAXB_dX_is_B_kron_A_transposed():
    # ∂(AXB)/∂X: T[i,j,k,l] = A[k,i] B[j,l]; vec(AXB) = (Bᵀ ⊗ A) vec X, so the notes' matrix
    # (rows vec X, columns vec Y) is its transpose B ⊗ Aᵀ
    A, B = rng.normal(size=(2, 3)), rng.normal(size=(4, 5))
    d = td.derive("A @ X @ B", "X", shapes={"A": (2, 3), "X": (3, 4), "B": (4, 5)})
    ct = d.evaluate({"A": A, "X": rng.normal(size=(3, 4)), "B": B})
    for form in (ct.matrix_form(), td.reduce(np.einsum("ki,jl->ijkl", A, B), 2)):
        assert (form.structure, form.rule) == ("kron", "kron")
        assert [f.shape for f in form.factors] == [(3, 2), (4, 5)]
        F1, F2 = form.factors
        s = A[0, 0] / F1[0, 0]  # the factors are fixed up to a scale moved between them
        np.testing.assert_allclose(F1 * s, A.T, atol=1e-12)
        np.testing.assert_allclose(F2 / s, B, atol=1e-12)
        np.testing.assert_allclose(form.matrix(), np.kron(B, A.T), atol=1e-12)
        np.testing.assert_allclose(np.kron(*form.kron_matrices()), np.kron(B, A.T), atol=1e-12)
        G = rng.normal(size=(2, 5))  # ∂L/∂X = Aᵀ G Bᵀ
        np.testing.assert_allclose(form.apply(G), A.T @ G @ B.T, atol=1e-12)
        if form.notation is None:  # from a bare array: placeholders
            assert "𝐅₁ · ∂L/∂Y · 𝐅₂ᵀ" in form.chain_text()
            assert "\\mathbf{F}_{2} \\otimes \\mathbf{F}_{1}" in form.to_latex()
        else:  # from the derivative: the factors by name (issue 11 item 2)
            assert form.notation == "kron(B, A.T)"
            assert "Aᵀ · ∂L/∂f · Bᵀ" in form.chain_text()


def test_redundant_gradient_constant_along_an_axis_of_a_3_tensor():
    # s = Σ_ijk v_ij T_ijk: ∂s/∂T[i,j,k] = v_ij for every k — constant along T's third axis
    v = np.array([[1.0, -2.0, 0.5], [3.0, 0.0, 2.0]])
    full = np.repeat(v[:, :, None], 4, axis=2)
    form = td.reduce(full, 3, names=("T", "s"))
    assert (form.structure, form.rule) == ("redundant", "broadcast")
    np.testing.assert_array_equal(form.array, v)
    assert "constant along T[2]" in form.note
    np.testing.assert_array_equal(form.expand(), full)


def test_a_constant_gradient_of_a_matrix_keeps_the_shape_of_the_matrix():
    # ∂s/∂M has the shape of M (notes Definition 18), even when it is constant along an axis:
    # s = vᵀ M 1, ∂s/∂M[i,j] = v_i. The rank-2 notes' matrix is the form, not a broadcast column.
    v = np.array([1.0, -2.0, 0.5])
    full = np.repeat(v[:, None], 4, axis=1)
    form = td.reduce(full, 2, names=("M", "s"))
    assert (form.structure, form.rule) == ("dense", "matmul")
    np.testing.assert_array_equal(form.array, full)
    assert (form.rows, form.cols) == ("M[0]", "M[1]")
    np.testing.assert_array_equal(form.apply(np.float64(2.0)), 2.0 * full)


def test_sum_of_squares_gradient_is_the_matrix_with_rows_and_columns_named():
    # ∂ sum(M∘M)/∂M = 2M, constant at M = 1: still the 2×3 matrix, rows M[0], columns M[1]
    d = td.derive("sum(M*M)", "M", shapes={"M": (2, 3)})
    form = d.evaluate({"M": np.ones((2, 3))}).matrix_form()
    assert (form.structure, form.rows, form.cols) == ("dense", "M[0]", "M[1]")
    np.testing.assert_array_equal(form.array, np.full((2, 3), 2.0))
    assert "∂f/∂M: dense" in str(form) and "rows: M[0]; columns: M[1]" in str(form)


def test_a_rank_1_gradient_matrix_is_not_called_a_kronecker_product():
    # ∂ sum(tanh(Wᵀa))/∂W = a (1 − tanh²(Wᵀa))ᵀ (notes A.61) is an outer product of two vectors;
    # as a rank-2 c-tensor its form is the plain matrix with the shape of W
    a, W = np.array([1.0, 2.0, 3.0]), np.arange(6.0).reshape(3, 2) / 10
    d = td.derive("sum(tanh(W.T @ a))", "W", shapes={"W": (3, 2), "a": (3,)})
    form = d.evaluate({"W": W, "a": a}).matrix_form()
    want = np.outer(a, 1 - np.tanh(W.T @ a) ** 2)
    assert (form.structure, form.rule) == ("dense", "matmul")
    np.testing.assert_allclose(form.array, want, rtol=1e-13)
    assert (form.rows, form.cols) == ("W[0]", "W[1]")
    text = str(form) + form.chain_text()
    assert "kron" not in text and "Σ_∅" not in text and "Σ" not in text
    # a scalar's gradient is the answer itself: the text says what 𝐉 is (never 𝐉 · ∂L/∂f)
    # and a derivative's form is written out by name (issue 11 item 2)
    assert form.chain_text() == ("∂f/∂W = outer(a, 1 - tanh(W.T @ a) ** 2): the gradient itself "
                                 "(f is a scalar, so nothing downstream multiplies it; the 3×2 "
                                 "matrix form)")
    bare = td.reduce(np.asarray(form.array), 2)  # numbers alone: the placeholder, explained
    assert bare.chain_text().startswith("∂Y/∂X = 𝐉: the gradient itself (Y is a scalar")
    # the same matrix given dense, and a dense rank-1 Jacobian ∂(a·sum(x))/∂x = 1 aᵀ
    assert td.reduce(want, 2).structure == "dense"
    assert td.reduce(np.outer(np.ones(3), a), 1).structure == "dense"


def test_a_scalar_variable_is_named_from_the_wrt_spec():
    # ∂(s M)/∂s = M has no axis of s: the name comes from ct.wrt, never a stand-in "X"
    M = np.arange(6.0).reshape(2, 3)
    ct = td.derive("s * M", "s", shapes={"s": (), "M": (2, 3)}).evaluate({"s": 1.5, "M": M})
    form = ct.matrix_form()
    np.testing.assert_array_equal(form.array, M.T)          # the shape of Mᵀ, Definition 17
    assert (form.rows, form.cols) == ("f[1]", "f[0]")
    # ∂L/∂s = Σ_ij M_ij g_ij = tr(𝐉 g), 𝐉 = Mᵀ the matrix shown
    assert form.chain_text() == ("∂L/∂s = tr(M.T · ∂L/∂f)  (the matrix form, notes "
                                 "Definition 17)")  # named (issue 11 item 2)
    g = np.array([[1.0, 0.0, -1.0], [2.0, 1.0, 0.5]])
    assert float(form.apply(g)) == pytest.approx(np.trace(form.array @ g))
    assert str(form).startswith("∂f/∂s: dense")
    assert "\\frac{\\partial f}{\\partial s}" in form.to_latex()
    for text in (str(form), form.chain_text()):
        assert "X" not in text and " M " not in text and "M ·" not in text
    ct = td.derive("s * sum(x)", "s", shapes={"s": (), "x": (2,)}).evaluate(
        {"s": 2.0, "x": np.array([0.25, 0.5])})
    assert ct.matrix_form().chain_text().startswith("∂f/∂s = sum(x): the derivative itself")


def test_the_downstream_loss_is_not_one_of_the_named_variables():
    a, g = np.array([1.0, 2.0, 3.0]), np.array([10.0, -1.0])
    dZ_dW = td.reduce(np.einsum("i,jk->ijk", a, np.eye(2)), 2, names=("W", "Z"))
    product = td.chain(dZ_dW, g)                       # ∂L/∂W = a gᵀ (A.61): its output is L
    np.testing.assert_array_equal(product.array, np.outer(a, g))
    assert str(product).startswith("∂L/∂W: dense")
    assert product.chain_text().startswith("∂L/∂W = 𝐉: the gradient itself (L is a scalar")
    assert "∂L/∂L" not in product.chain_text() and "∂ℒ" not in product.chain_text()
    form = td.reduce(np.diag([1.0, 2.0]), 1, names=("L", "A"))
    assert form.chain_text() == "∂ℒ/∂L = 𝐅 ⊙ ∂ℒ/∂A  (𝐅 the diagonal, notes Concept 34)"


def test_higher_derivatives_are_named_by_each_differentiation():
    d = td.derive("s * sum(x)", ("s", "x"), shapes={"s": (), "x": (2,)})
    form = d.evaluate({"s": 2.0, "x": np.array([0.25, 0.5])}).matrix_form()
    assert str(form).startswith("∂²f/∂s∂x: ")
    assert form.chain_text().startswith("∂²f/∂s∂x = ones(2): the second derivative itself (f "
                                        "is a scalar")
    assert "∂L/∂f" not in form.chain_text() and "the terms with" not in form.chain_text()
    A = rng.normal(size=(3, 3))
    H = td.derive("x.T @ A @ x", "x", shapes={"x": (3,), "A": (3, 3)}, order=2).evaluate(
        {"x": rng.normal(size=3), "A": A}).matrix_form()
    assert str(H).startswith("∂²f/∂x²: symmetric")
    assert "\\frac{\\partial^{2} f}{\\partial x^{2}}" in H.to_latex()


def test_matrix_structure_is_still_found_at_rank_2():
    assert td.reduce(np.zeros((3, 2)), 1).structure == "zero"
    assert td.reduce(np.eye(3), 1).structure == "identity"
    assert td.reduce(2.5 * np.eye(3), 1).structure == "scaled_identity"
    assert td.reduce(np.diag([1.0, 2.0, 3.0]), 1).structure == "diagonal"
    assert td.reduce(np.array([[1.0, 2.0], [2.0, 5.0]]), 2, copies=2).structure == "symmetric"
    # a constant diagonal stored compactly is a multiple of the identity
    ct = CTensor(np.full(3, 2.0), [*wrt_axes("z", (3,)), *of_axes("a", (3,))], axis_map=(0, 0))
    assert ct.matrix_form().structure == "scaled_identity"


def test_symmetric_hessian_and_what_blocks_a_collapse():
    # ∂²(xᵀ A x)/∂x² = A + Aᵀ (Matrix Cookbook 81)
    A = rng.normal(size=(3, 3))
    d = td.derive(td.derive("x.T @ A @ x", "x", shapes={"x": (3,), "A": (3, 3)}), "x")
    ct = d.evaluate({"x": rng.normal(size=3), "A": A})
    form = ct.matrix_form()
    assert (form.structure, form.rule, form.symmetric) == ("symmetric", "matmul", ((1, 2),))
    np.testing.assert_allclose(form.array, A + A.T)
    assert form.dof == 6
    assert any(t.startswith("δ between") and "off the diagonal" in t for t in form.tried)
    H = A + A.T
    H[0, 1] += 1e-3
    broken = td.reduce(H, 2, copies=2)
    assert broken.structure == "dense"
    assert any("mirror by 0.001" in t for t in broken.tried)


def test_dense_is_the_notes_flattening_with_rows_and_columns_named():
    T = rng.normal(size=(2, 3, 4))
    form = td.reduce(T, 2, names=("W", "Z"))
    assert (form.structure, form.rule) == ("dense", "matmul")
    assert form.array.shape == (6, 4)
    np.testing.assert_array_equal(form.array[:, 1], T[:, :, 1].ravel(order="F"))  # A.58
    assert (form.rows, form.cols) == ("vec(W[0], W[1])", "Z[0]")
    assert "A.58" in form.note
    assert "\\begin{bmatrix}" in form.to_latex()
    text = str(form)
    assert "∂Z/∂W: dense" in text and "nothing collapses" in text


def test_search_false_keeps_only_what_the_storage_says():
    ct = CTensor(np.full(3, 2.0), [*wrt_axes("z", (3,)), *of_axes("a", (3,))], axis_map=(0, 0))
    assert ct.matrix_form().structure == "scaled_identity"
    exact = ct.matrix_form(search=False)
    assert exact.structure == "diagonal" and exact.tried == ()
    assert td.reduce(np.eye(3), 1, search=False).structure == "dense"


# ---- the notes' A.9 results and the chain rule -------------------------------------------------

def _layer(m=4, n=3):
    """Z = WᵀA₀, A = tanh(Z), L = ½|A - y|² as compact c-tensors sharing labels."""
    A0, W, y = rng.normal(size=m), rng.normal(size=(m, n)), rng.normal(size=n)
    Z = W.T @ A0
    A = np.tanh(Z)
    dZ_dW = CTensor(A0, [*wrt_axes("W", (m, n)), Axis("z", n, "of", "Z", 0)], axis_map=(0, 1, 1),
                    wrt=(("W", (m, n)),))
    dZ_dA0 = CTensor(W, [Axis("a0", m, "wrt", "A0", 0, 1), Axis("z", n, "of", "Z", 0)])
    dA_dZ = CTensor(1 - A ** 2, [Axis("z", n, "wrt", "Z", 0, 1), Axis("a", n, "of", "A", 0)],
                    axis_map=(0, 0))
    dL_dA = CTensor(A - y, [Axis("a", n, "wrt", "A", 0, 1)])

    def loss(W_):
        return 0.5 * np.sum((np.tanh(W_.T @ A0) - y) ** 2)

    return A0, W, dZ_dW, dZ_dA0, dA_dZ, dL_dA, loss


def test_notes_A9_shapes_and_rules_by_name():
    A0, W, dZ_dW, dZ_dA0, dA_dZ, dL_dA, _ = _layer()
    f = dL_dA.matrix_form()  # Notation 26: (n^L × 1)
    assert f.array.shape == (3, 1) and f.rule == "matmul"
    f = dZ_dW.matrix_form()  # Notation 30: A^{ℓ-1}, (m^ℓ × 1)
    assert (f.structure, f.rule, f.array.shape) == ("delta", "outer", (4, 1))
    np.testing.assert_array_equal(f.array[:, 0], A0)
    f = dZ_dA0.matrix_form()  # Notation 31: W^ℓ, (m^ℓ × n^ℓ)
    assert (f.structure, f.rule) == ("dense", "matmul")
    np.testing.assert_array_equal(f.array, W)
    f = dA_dZ.matrix_form()  # Notation 33 and A.90: f'(Z), used with ⊙
    assert (f.structure, f.rule, f.array.shape) == ("diagonal", "elementwise", (3, 1))


def test_chain_gives_dL_dW_equal_to_the_full_contraction_and_finite_differences():
    A0, W, dZ_dW, _, dA_dZ, dL_dA, loss = _layer()
    forms = [t.matrix_form() for t in (dZ_dW, dA_dZ, dL_dA)]
    got = td.chain(*forms)
    full = td.contract(dZ_dW, dA_dZ, dL_dA).dense()
    assert got.full_shape == (4, 3) and got.array.shape == (4, 3)
    np.testing.assert_allclose(got.array, full, atol=1e-12)
    fd = np.zeros_like(W)
    for idx in np.ndindex(*W.shape):
        E = np.zeros_like(W)
        E[idx] = 1e-6
        fd[idx] = (loss(W + E) - loss(W - E)) / 2e-6
    np.testing.assert_allclose(got.expand(), fd, atol=1e-7)
    # A.61 step by step: ∂L/∂Z = f'(Z) ⊙ ∂L/∂A, then ∂L/∂W = A (∂L/∂Z)ᵀ
    dL_dZ = td.chain(forms[1], forms[2])
    np.testing.assert_allclose(td.chain(forms[0], dL_dZ).array, np.outer(A0, dL_dZ.array),
                               atol=1e-12)
    assert "(∂L/∂Z)ᵀ" in forms[0].chain_text()


def test_chain_refuses_factors_whose_shapes_do_not_meet():
    _, _, dZ_dW, dZ_dA0, _, _, _ = _layer()
    with pytest.raises(td.ShapeError, match=r"factor 1 \(delta, rule 'outer'\) has output shape "
                                            r"\(3,\), but factor 2 is with respect to shape \(4,"):
        td.chain(dZ_dW.matrix_form(), dZ_dA0.matrix_form())
    with pytest.raises(td.StructureError, match="factor 1 is a ndarray"):
        td.chain(np.ones(3), dZ_dW.matrix_form())
    with pytest.raises(td.ShapeError, match=r"lead with the output shape \(3,\)"):
        dZ_dW.matrix_form().apply(np.ones(4))


# ---- never materialising a compact c-tensor ----------------------------------------------------

def test_large_compact_tensors_reduce_without_materialising():
    m, n = 40, 50_000  # ∂Z/∂W in full: 40·50000·50000 entries, 800 GB
    a = rng.normal(size=m)
    dZ_dW = CTensor(a, [*wrt_axes("W", (m, n)), *of_axes("Z", (n,))], axis_map=(0, 1, 1),
                    wrt=(("W", (m, n)),))
    k = 200_000  # ∂A/∂Z in full: 320 GB
    fp = rng.uniform(0.1, 1.0, size=k)
    dA_dZ = CTensor(fp, [*wrt_axes("Z", (k,)), *of_axes("A", (k,))], axis_map=(0, 0))
    with td.dense_limit(10 * k * 8):
        with pytest.raises(td.DenseLimitError):
            dZ_dW.dense()
        with pytest.raises(td.DenseLimitError):
            dA_dZ.dense()
        form = dZ_dW.matrix_form()
        assert (form.structure, form.rule, form.array.shape) == ("delta", "outer", (m, 1))
        g = rng.normal(size=n)
        np.testing.assert_allclose(form.apply(g), np.outer(a, g))  # A (∂L/∂Z)ᵀ, A.61
        diag = dA_dZ.matrix_form()
        assert (diag.structure, diag.rule, diag.array.shape) == ("diagonal", "elementwise", (k, 1))
        h = rng.normal(size=k)
        np.testing.assert_allclose(td.chain(diag, h).array[:, 0], fp * h)
        assert "zero off the diagonal of Z[0]=A[0]" in str(diag)


# ---- errors say what was expected --------------------------------------------------------------

def test_reduce_errors_name_the_axes_and_the_fix():
    T = np.ones((2, 3, 4))
    with pytest.raises(td.StructureError, match=r"which axes of the array \(shape \(2, 3, 4\)\)"):
        td.reduce(T)
    with pytest.raises(td.StructureError, match=r"wrt_axes=5, but the array has 3 axes"):
        td.reduce(T, 5)
    with pytest.raises(td.StructureError, match=r"wrt_axes \[0, -3\] name an axis twice"):
        td.reduce(T, [0, -3])
    with pytest.raises(td.StructureError, match=r"wrt_axes \[7\] out of range"):
        td.reduce(T, [7])
    with pytest.raises(td.StructureError, match="layout must be one of"):
        td.reduce(T, 1, layout="rows")
    with pytest.raises(td.StructureError, match="copies=2 must be >= 1 and divide the 3 input"):
        td.reduce(T, 3, copies=2)
    with pytest.raises(td.StructureError, match="atol must be a finite number >= 0"):
        td.reduce(T, 1, atol=-1.0)
    with pytest.raises(td.StructureError, match="without wrt_axes"):
        td.reduce(CTensor(np.ones(2), ["i"]), 1)
    with pytest.raises(td.StructureError, match="already a MatrixForm"):
        td.reduce(td.reduce(T, 1))
    bad = T.copy()
    bad[1, 2, 3] = np.nan
    with pytest.raises(td.ValuesError, match=r"nan at core index \(1, 2, 3\)"):
        td.reduce(bad, 1)
    with pytest.raises(td.StructureError, match="n_wrt=4 input axes"):
        td.to_layout(T, 4)


def test_wrt_axes_by_position_and_in_numerator_layout():
    J = rng.normal(size=(5, 2, 3))  # JAX: ∂Y/∂X, Y (5,), X (2, 3)
    a = td.reduce(J, 2, layout="numerator")
    b = td.reduce(J, [1, 2])
    c = td.reduce(np.moveaxis(J, 0, 2), 2)
    for f in (a, b):
        np.testing.assert_array_equal(f.expand(), c.expand())
        assert f.wrt_shape == (2, 3) and f.of_shape == (5,)
    np.testing.assert_array_equal(a.expand(layout="numerator"), J)


def test_the_form_keeps_its_own_numbers_not_a_view_of_the_input():
    a = np.array([1.0, 2.0, 3.0])
    T = np.einsum("i,jk->ijk", a, np.eye(2))
    form = td.reduce(T, 2)
    T[:] = 0.0
    np.testing.assert_array_equal(form.expand(), np.einsum("i,jk->ijk", a, np.eye(2)))


def test_a_float32_jacobian_gets_a_float32_tolerance():
    # a JAX-style float32 Jacobian of Y = A X B (numerator layout: Y's axes first)
    A, B = rng.normal(size=(3, 4)), rng.normal(size=(5, 2))
    J = np.einsum("ki,jl->klij", A, B).astype(np.float32)
    form = td.reduce(J, 2, layout="numerator")
    assert form.structure == "kron"
    assert form.tol == pytest.approx(1000 * np.finfo(np.float32).eps * np.abs(J).max())
    assert np.abs(form.expand(layout="numerator") - J).max() <= form.tol
