"""Fused kernels (symbolic/fuse.py): patterns of nodes computed as one step, checked as numpy."""

import numpy as np
from hypothesis import given
from hypothesis import strategies as st

import tensorderiv as td
from tensorderiv.core import symmetric
from tensorderiv.symbolic.evaluate import Program
from tensorderiv.symbolic.fuse import plan_kernels
from tensorderiv.symbolic.nodes import Einsum, Sum, Var

N = symmetric.MIN_SIDE + 2


def _gram(B: Var, w: Var) -> Einsum:
    """Σ_s B[s,i] w[s] B[s,j], the Gram product of a Hessian."""
    return Einsum.make(1.0, [(B, (0, 1)), (w, (0,)), (B, (0, 2))], (1, 2))


def _t(M):
    return Einsum.make(1.0, [(M, (0, 1))], (1, 0))


@given(st.booleans(), st.integers(0, 2**31 - 1), st.floats(-3, 3).filter(lambda c: c != 0),
       st.sampled_from(["A+A.T", "A.T+A", "none", "2A+2A.T-C-C.T"]))
def test_symmetric_sum_with_a_gram_product_equals_numpy(scipy_blas, seed, c, rest):
    old = list(symmetric._SYRK)
    try:
        if not scipy_blas:
            symmetric._SYRK[:] = [None]  # the half-the-blocks fallback
        _check_symmetric_sum(seed, c, rest)
    finally:
        symmetric._SYRK[:] = old


def _check_symmetric_sum(seed, c, rest):
    rng = np.random.default_rng(seed)
    A, C, B, w = (Var.make(n, s) for n, s in
                  [("A", (N, N)), ("C", (N, N)), ("B", (7, N)), ("w", (7,))])
    terms = {"A+A.T": [(1.0, A), (1.0, _t(A))], "A.T+A": [(1.0, _t(A)), (1.0, A)],
             "none": [], "2A+2A.T-C-C.T": [(2.0, A), (-1.0, C), (2.0, _t(A)), (-1.0, _t(C))]}
    root = Sum.make([*terms[rest], (c, _gram(B, w))])
    prog = Program(root)
    assert [k.what for k in prog.kernels.values()] == [
        f"a symmetric sum of {len(terms[rest])} terms with a Gram product added in one triangle"]
    v = {"A": rng.normal(size=(N, N)), "C": rng.normal(size=(N, N)),
         "B": rng.normal(size=(7, N)), "w": rng.normal(size=7)}
    v = {k: a for k, a in v.items() if k in prog.needed}
    got = prog.run(v).dense()
    Av, Cv, Bv, wv = (v.get(k) for k in "ACBw")
    want = {"A+A.T": lambda: Av + Av.T, "A.T+A": lambda: Av + Av.T, "none": lambda: 0.0,
            "2A+2A.T-C-C.T": lambda: 2 * Av + 2 * Av.T - Cv - Cv.T}[rest]()
    want = want + c * Bv.T @ (wv[:, None] * Bv)
    np.testing.assert_allclose(got, want, rtol=1e-11, atol=1e-11 * np.abs(want).max())
    assert np.array_equal(got, got.T)


def test_no_kernel_when_the_rest_is_not_symmetric_or_the_product_is_shared():
    A, B, w = Var.make("A", (N, N)), Var.make("B", (7, N)), Var.make("w", (7,))
    G = _gram(B, w)
    assert plan_kernels(Program(Sum.make([(1.0, A), (1.0, G)])).order) == {}  # A alone
    assert plan_kernels(Program(Sum.make([(1.0, A), (2.0, _t(A)), (1.0, G)])).order) == {}
    both = Sum.make([(1.0, A), (1.0, _t(A)), (1.0, G)])
    assert plan_kernels(Program([both, G]).order, [both, G]) == {}  # G is an output too
    other = Sum.make([(1.0, G), (1.0, _t(G))])
    assert plan_kernels(Program([both, other]).order) == {}  # G read twice
    small = Var.make("S", (5, 5))
    assert plan_kernels(Program(Sum.make([(1.0, small), (1.0, _t(small)), (
        1.0, _gram(Var.make("b", (3, 5)), Var.make("u", (3,))))])).order) == {}  # too small


def test_hessian_through_the_kernel_equals_the_closed_form_and_the_plain_path():
    rng = np.random.default_rng(4)
    v = {"x": rng.normal(size=N), "A": rng.normal(size=(N, N)),
         "B": rng.normal(size=(N, N)) / np.sqrt(N)}
    H = td.derive("x @ A @ x + sum(tanh(B @ x))", "x", order=2,
                  shapes={k: a.shape for k, a in v.items()})
    f = td.compile(H)
    assert len(f.program.kernels) == 1
    got = f(v)[0].dense()
    t = np.tanh(v["B"] @ v["x"])
    want = v["A"] + v["A"].T + v["B"].T @ ((-2 * t * (1 - t * t))[:, None] * v["B"])
    np.testing.assert_allclose(got, want, rtol=1e-11, atol=1e-12)
    f.program.kernels.clear()  # the node-by-node path gives the same
    f.program._absorbed.clear()
    np.testing.assert_allclose(f(v)[0].dense(), got, rtol=1e-12, atol=1e-12)
