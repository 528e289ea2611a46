"""Symmetry is used (issue 12 item 2): a Hessian's Gram product computed from one triangle."""

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import tensorderiv as td
from tensorderiv.core import symmetric
from tensorderiv.core.symmetric import gram, gram_pattern


def test_logistic_hessian_uses_symmetry_and_equals_the_full_product():
    rng = np.random.default_rng(1)
    n, d = 800, 150  # d²·n = 18M multiply-adds: over GRAM_MIN_WORK, where a triangle pays
    v = {"X": rng.normal(size=(n, d)) / 10, "y": rng.choice([-1.0, 1.0], size=n),
         "w": rng.normal(size=d)}
    H = td.derive("sum(log(1 + exp(-y * (X @ w))))", "w", order=2,
                  shapes={k: a.shape for k, a in v.items()})
    f = td.compile(H)
    got = f(v)[0].dense()
    s = 1 / (1 + np.exp(v["y"] * (v["X"] @ v["w"])))
    full = v["X"].T @ ((s * (1 - s))[:, None] * v["X"])
    np.testing.assert_allclose(got, full, rtol=1e-12, atol=1e-14)
    assert np.array_equal(got, got.T)  # mirrored exactly
    assert len(f.program.symmetric) == 1
    assert "symmetric:" in f.description
    # the old path (Derivative.compile) uses the same program, so the same symmetry
    np.testing.assert_allclose(H.compile()(v).dense(), full, rtol=1e-12, atol=1e-14)


@pytest.mark.parametrize("scipy_blas", [True, False])
def test_mixed_sign_weights_with_and_without_scipy(monkeypatch, scipy_blas):
    if not scipy_blas:
        monkeypatch.setattr(symmetric, "_SYRK", [None])  # the half-the-blocks fallback
    rng = np.random.default_rng(2)
    n = 260  # n³ = 17.6M multiply-adds: over GRAM_MIN_WORK
    v = {"x": rng.normal(size=n), "A": rng.normal(size=(n, n)),
         "B": rng.normal(size=(n, n)) / np.sqrt(n)}
    H = td.derive("x @ A @ x + sum(tanh(B @ x))", "x", order=2,
                  shapes={k: a.shape for k, a in v.items()})
    f = td.compile(H)
    t = np.tanh(v["B"] @ v["x"])
    want = v["A"] + v["A"].T + v["B"].T @ ((-2 * t * (1 - t * t))[:, None] * v["B"])
    np.testing.assert_allclose(f(v)[0].dense(), want, rtol=1e-11, atol=1e-12)
    assert len(f.program.symmetric) == 1


def test_small_or_unsymmetric_products_take_the_plain_path():
    assert gram_pattern("ab,bc->ac", [(3, 3), (3, 3)]) is None
    assert gram_pattern("ab,ac->bc", [(3, 4), (3, 5)]) is None  # two different shapes
    assert gram_pattern("ab,ac,b->bc", [(3, 4), (3, 4), (4,)]) is None  # weight on an output
    H = td.derive("sum(tanh(B @ x))", "x", order=2, shapes={"B": (10, 8), "x": (8,)})
    f = td.compile(H)
    f({"B": np.ones((10, 8)), "x": np.zeros(8)})
    assert f.program.symmetric == []  # 8 < MIN_SIDE: not worth a triangle
    H = td.derive("sum(tanh(B @ x))", "x", order=2, shapes={"B": (200, 200), "x": (200,)})
    f = td.compile(H)
    f({"B": np.ones((200, 200)) / 200, "x": np.zeros(200)})
    assert f.program.symmetric == []  # 200³ = 8M < GRAM_MIN_WORK: the full product is faster


@given(st.integers(1, 40), st.integers(1, 300), st.sampled_from(["none", "pos", "mixed"]),
       st.booleans(), st.integers(0, 2**31 - 1))
def test_gram_equals_the_full_computation(N, d, weights, scipy_blas, seed):
    rng = np.random.default_rng(seed)
    A = rng.normal(size=(N, d))
    old = list(symmetric._SYRK)
    try:
        if not scipy_blas:
            symmetric._SYRK[:] = [None]
        if weights == "none":
            spec = gram_pattern("ab,ac->bc", [A.shape, A.shape])
            got, want = gram(spec, [A, A]), A.T @ A
        else:
            w = rng.random(N) if weights == "pos" else rng.normal(size=N)
            spec = gram_pattern("ab,a,ac->bc", [A.shape, w.shape, A.shape])
            got, want = gram(spec, [A, w, A]), A.T @ (w[:, None] * A)
    finally:
        symmetric._SYRK[:] = old
    np.testing.assert_allclose(got, want, rtol=1e-10, atol=1e-10 * max(1.0, np.abs(want).max()))
    assert np.array_equal(got, got.T)


# ---------------------------------------------------------------- three copies (a cube)
@given(st.integers(1, 12), st.integers(1, 30), st.sampled_from(["none", "one", "two"]),
       st.booleans(), st.integers(0, 2**31 - 1))
def test_cube_equals_einsum(N, d, weights, two_summed, seed):
    # T[i,j,k] = Σ_s w[s] A[s,i] A[s,j] A[s,k], the summed index s possibly two axes (s, t)
    rng = np.random.default_rng(seed)
    s = "st" if two_summed else "s"
    shape = (N, 2, d) if two_summed else (N, d)
    A = rng.normal(size=shape)
    terms = [s + "i", s + "j", s + "k"]
    ops, shapes = [A, A, A], [shape] * 3
    if weights != "none":
        w = rng.normal(size=shape[:-1])
        terms.insert(1, s)
        ops.insert(1, w)
        shapes.insert(1, w.shape)
    if weights == "two":  # a second weight over the first summed letter only
        v = rng.normal(size=(N,))
        terms.append("s")
        ops.append(v)
        shapes.append(v.shape)
    equation = ",".join(terms) + "->ijk"
    spec = gram_pattern(equation, shapes)
    assert spec is not None and len(spec.copies) == 3
    got = gram(spec, ops)
    want = np.einsum(equation, *ops)
    np.testing.assert_allclose(got, want, rtol=1e-10, atol=1e-10 * max(1.0, np.abs(want).max()))
    for perm in [(1, 0, 2), (0, 2, 1), (2, 1, 0)]:
        np.testing.assert_allclose(got, got.transpose(perm), rtol=1e-12, atol=1e-12)


def test_cube_patterns_need_three_copies_of_one_shape_and_weights_off_the_output():
    assert gram_pattern("ab,ac,ad->bcd", [(3, 4)] * 3).copies == (0, 1, 2)
    assert gram_pattern("ab,ac,ad->bcd", [(3, 4), (3, 4), (3, 5)]) is None  # shapes differ
    assert gram_pattern("ab,ac,bd->bcd", [(3, 3)] * 3) is None  # not one summed letter
    assert gram_pattern("ab,ac,ad,b->bcd", [(3, 4)] * 3 + [(4,)]) is None  # weight on an output
    assert gram_pattern("ab,ac,ad->bcc", [(3, 4)] * 3) is None  # repeated output letter


def test_third_derivative_uses_the_cube_and_equals_the_closed_form():
    rng = np.random.default_rng(3)
    n = symmetric.MIN_SIDE_CUBE + 3
    v = {"x": rng.normal(size=n), "W": rng.normal(size=(n, n)) / np.sqrt(n)}
    T = td.derive("sum(tanh(W @ x))", "x", order=3, shapes={k: a.shape for k, a in v.items()})
    f = td.compile(T)
    got = f(v)[0].dense()
    t = np.tanh(v["W"] @ v["x"])
    c = (1 - t * t) * (6 * t * t - 2)  # tanh'''
    want = np.einsum("a,ab,ac,ad->bcd", c, v["W"], v["W"], v["W"])
    np.testing.assert_allclose(got, want, rtol=1e-11, atol=1e-12)
    assert len(f.program.symmetric) == 1
    small = td.compile(td.derive("sum(tanh(W @ x))", "x", order=3,
                                 shapes={"W": (8, 8), "x": (8,)}))
    small({"W": np.ones((8, 8)) / 8, "x": np.zeros(8)})
    assert small.program.symmetric == []  # 8 < MIN_SIDE_CUBE: the plain contraction


@given(st.integers(1, 20), st.integers(1, 200), st.sampled_from(["none", "pos", "neg", "mixed"]),
       st.booleans(), st.floats(-2, 2), st.integers(0, 2**31 - 1))
def test_gram_with_alpha_into_a_symmetric_array(N, d, weights, scipy_blas, alpha, seed):
    rng = np.random.default_rng(seed)
    A = rng.normal(size=(N, d))
    S = rng.normal(size=(d, d))
    S = S + S.T
    w = {"none": np.ones(N), "pos": rng.random(N), "neg": -rng.random(N),
         "mixed": rng.normal(size=N)}[weights]
    old = list(symmetric._SYRK)
    try:
        if not scipy_blas:
            symmetric._SYRK[:] = [None]
        spec = gram_pattern("ab,a,ac->bc", [A.shape, w.shape, A.shape])
        got = gram(spec, [A, w, A], alpha=alpha, into=S.copy())
    finally:
        symmetric._SYRK[:] = old
    want = S + alpha * A.T @ (w[:, None] * A)
    np.testing.assert_allclose(got, want, rtol=1e-10, atol=1e-10 * max(1.0, np.abs(want).max()))
    assert np.array_equal(got, got.T) and got.flags.c_contiguous
