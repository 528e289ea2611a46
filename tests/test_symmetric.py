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
