"""Array backends (numpy, dask, torch, jax) through opt_einsum and core/backends.py, and optional
extras that name themselves when missing."""

import itertools
import subprocess
import sys

import numpy as np
import pytest

import tensorderiv as td
from tensorderiv import CTensor, ValuesError, contract
from tensorderiv.core import backends
from tensorderiv.core.axes import Axis
from tensorderiv.core.optional import require


def test_missing_extra_names_the_pip_command():
    with pytest.raises(ImportError, match=r"pip install 'tensorderiv\[dask\]'"):
        require("tensorderiv_no_such_backend", "dask")


def test_strategies_without_hypothesis_name_the_extra():
    code = ("import sys; sys.modules['hypothesis'] = None\n"
            "try:\n    import tensorderiv.testing.strategies\n"
            "except ImportError as e:\n    print(e)\n")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         timeout=60, check=True).stdout
    assert "needs hypothesis; install it with: pip install 'tensorderiv[test]'" in out


def test_contraction_on_dask_arrays_matches_numpy():
    da = pytest.importorskip("dask.array", reason="the dask extra is not installed")
    rng = np.random.default_rng(0)
    A, B = rng.normal(size=(40, 30)), rng.normal(size=(30, 20))
    a = CTensor(da.from_array(A, chunks=(20, 15)), ["i", "k"])
    b = CTensor(da.from_array(B, chunks=(15, 10)), ["k", "j"])
    out = contract(a, b)
    assert type(out.core).__module__.startswith("dask")  # stays lazy until asked
    np.testing.assert_allclose(np.asarray(out.core.compute()), A @ B)


def test_derivative_on_dask_values_matches_numpy():
    da = pytest.importorskip("dask.array", reason="the dask extra is not installed")
    rng = np.random.default_rng(1)
    X, w = rng.normal(size=(50, 4)), rng.normal(size=4)
    d = td.derive("sum((X @ w) ** 2)", "w", shapes={"X": (50, 4), "w": (4,)})
    lazy = d.evaluate({"X": da.from_array(X, chunks=(25, 4)), "w": da.from_array(w)})
    np.testing.assert_allclose(np.asarray(lazy.core.compute()), 2 * X.T @ (X @ w))


# ---------------------------------------------------------------- torch / jax / cupy arrays
# Each backend's results are compared with numpy's on the same values (numpy is itself checked
# against finite differences and closed forms elsewhere); here also against hand-written forms.

def _jax():
    jax = pytest.importorskip("jax", reason="jax is not installed (it comes with the test extra)")
    jax.config.update("jax_enable_x64", True)  # float64, as numpy
    return jax.numpy.asarray, "jax"


def _torch():
    torch = pytest.importorskip(
        "torch", reason="torch is not installed (never in an extra: pip install torch==2.13.0)")
    return torch.as_tensor, "torch"


BACKENDS = {"jax": _jax, "torch": _torch}


@pytest.fixture(params=sorted(BACKENDS))
def to_backend(request):
    pytest.importorskip("array_api_compat", reason="the backends extra is not installed")
    return BACKENDS[request.param]()


def _assert_stays(out, lib):
    assert backends.backend_of(out) == lib, f"expected a {lib} array, got {type(out)}"


def _logistic(n=40, d=6, seed=0):
    rng = np.random.default_rng(seed)
    X, y, w = rng.normal(size=(n, d)), rng.choice([-1.0, 1.0], size=n), rng.normal(size=d)
    H = td.derive("sum(log(1 + exp(-y * (X @ w))))", "w", order=2,
                  shapes={"X": X.shape, "y": y.shape, "w": w.shape})
    s = 1.0 / (1.0 + np.exp(-y * (X @ w)))
    return H, {"X": X, "y": y, "w": w}, X.T @ ((s * (1 - s))[:, None] * X)


def _mlp(n=24, sizes=(5, 4, 3, 2), seed=1):
    """Gradients of a tanh MLP (len(sizes) - 1 layers, rows are samples) and hand-written
    backprop: loss = Σ (tanh(…tanh(X W1)…) W_L − Y)²."""
    rng = np.random.default_rng(seed)
    X, Y = rng.normal(size=(n, sizes[0])), rng.normal(size=(n, sizes[-1]))
    Ws = [rng.normal(size=(a, b)) / np.sqrt(a) for a, b in itertools.pairwise(sizes)]
    Wv = [td.var(f"W{k}", W.shape) for k, W in enumerate(Ws, start=1)]
    h = td.var("X", X.shape)
    for W in Wv[:-1]:
        h = td.tanh(h @ W)
    loss = td.sum((h @ Wv[-1] - td.var("Y", Y.shape)) ** 2)
    grads = [td.derive(loss, W) for W in Wv]
    acts = [X]
    for W in Ws[:-1]:
        acts.append(np.tanh(acts[-1] @ W))
    delta = 2 * (acts[-1] @ Ws[-1] - Y)  # ∂L/∂(output), then back through each layer
    hand = [acts[-1].T @ delta]
    for k in range(len(Ws) - 2, -1, -1):
        delta = (delta @ Ws[k + 1].T) * (1 - acts[k + 1] ** 2)
        hand.insert(0, acts[k].T @ delta)
    values = {"X": X, "Y": Y, **{f"W{k}": W for k, W in enumerate(Ws, start=1)}}
    return grads, values, hand


def test_logistic_hessian_on_backend_equals_numpy(to_backend):
    conv, lib = to_backend
    H, values, hand = _logistic()
    ours = H.compile()({k: conv(v) for k, v in values.items()})
    _assert_stays(ours.core, lib)
    dense = ours.dense()
    _assert_stays(dense, lib)
    np.testing.assert_allclose(backends.to_numpy(dense), H.evaluate(values).dense(), rtol=1e-12)
    np.testing.assert_allclose(backends.to_numpy(dense), hand, rtol=1e-10)


def test_mlp_gradients_on_backend_equal_numpy(to_backend):
    conv, lib = to_backend
    grads, values, hand = _mlp()
    for g, expected in zip(grads, hand, strict=True):
        out = g.evaluate({k: conv(v) for k, v in values.items()}).dense()
        _assert_stays(out, lib)
        np.testing.assert_allclose(backends.to_numpy(out), expected, rtol=1e-10, atol=1e-12)


def test_numpy_values_join_the_backend_of_the_others(to_backend):
    conv, lib = to_backend
    H, values, hand = _logistic(seed=3)
    out = H.evaluate({"X": conv(values["X"]), "y": values["y"], "w": values["w"]}).dense()
    _assert_stays(out, lib)
    np.testing.assert_allclose(backends.to_numpy(out), hand, rtol=1e-10)


def test_ctensor_with_deltas_densifies_on_its_backend(to_backend):
    conv, lib = to_backend
    rng = np.random.default_rng(2)
    a = rng.normal(size=(3, 2))  # core axes (i, j); full axes i, j, k, l with δ_jl, δ_km implicit
    axes = [Axis("i", 3, "wrt", "W", 0, 1), Axis("j", 2, "wrt", "W", 1, 1),
            Axis("k", 4, "of", "Z", 0), Axis("l", 2, "of", "Z", 1), Axis("m", 4, "of", "Z", 2),
            Axis("r", 5, "of", "Z", 3)]
    amap = (0, 1, 2, 1, 2, None)
    expected = np.einsum("ij,jl,km->ijklm", a, np.eye(2), np.eye(4))[..., None].repeat(5, -1)
    ct = CTensor(conv(a), axes, amap)
    assert ct.has_deltas
    for layout in ("notes", "numerator"):
        ref = CTensor(a, axes, amap).dense(layout)
        out = ct.dense(layout)
        _assert_stays(out, lib)
        np.testing.assert_array_equal(backends.to_numpy(out), ref)
    np.testing.assert_array_equal(backends.to_numpy(ct.dense()), expected)
    np.testing.assert_array_equal(np.asarray(ct), expected)  # asked for numpy: numpy


@pytest.mark.parametrize("fn", ["exp", "tanh", "sigmoid", "relu", "softplus", "sqrt", "abs",
                                "sin", "cos", "square", "log"])
def test_elementwise_kernels_on_backend_equal_numpy(to_backend, fn):
    conv, lib = to_backend
    x = td.var("x", (5,))
    g = td.derive(td.sum(getattr(td, fn)(x) * x), x)  # the kernel and its derivative's kernels
    v = np.array([0.3, 1.7, 0.05, 2.5, 0.9])
    out = g.evaluate({"x": conv(v)}).dense()
    _assert_stays(out, lib)
    np.testing.assert_allclose(backends.to_numpy(out), g.evaluate({"x": v}).dense(), rtol=1e-12)


@pytest.mark.parametrize("make", [td.det, td.logdet, lambda A: td.sum(td.inv(A)), td.logsumexp,
                                  lambda A: td.sum(td.softmax(A) * A)],
                         ids=["det", "logdet", "inv", "logsumexp", "softmax"])
def test_matrix_kernels_on_backend_equal_numpy(to_backend, make):
    conv, lib = to_backend
    A = td.var("A", (3, 3))
    g = td.derive(make(A), A)
    v = np.random.default_rng(4).normal(size=(3, 3)) + 3 * np.eye(3)
    out = g.evaluate({"A": conv(v)}).dense()
    _assert_stays(out, lib)
    np.testing.assert_allclose(backends.to_numpy(out), g.evaluate({"A": v}).dense(),
                               rtol=1e-10, atol=1e-13)


def test_function_without_array_kernel_names_itself(to_backend):
    conv, _ = to_backend
    with pytest.raises(ValuesError, match=r"function 'cube' has only a numpy kernel"):
        backends.call_kernel("cube", lambda x, p: x**3, None, conv(np.ones(2)), ())


def test_values_from_two_libraries_are_refused():
    torch = pytest.importorskip("torch", reason="torch is not installed")
    jnp = pytest.importorskip("jax.numpy", reason="jax is not installed")
    pytest.importorskip("array_api_compat", reason="the backends extra is not installed")
    x, y = td.var("x", (2,)), td.var("y", (2,))
    with pytest.raises(ValuesError, match=r"variable 'y' is a jax array but others are torch"):
        td.evaluate(x + y, {"x": torch.ones(2), "y": jnp.ones(2)})


def test_dense_of_a_dask_ctensor_stays_lazy():
    da = pytest.importorskip("dask.array", reason="the dask extra is not installed")
    a = np.arange(6.0).reshape(3, 2)
    axes = [Axis("i", 3), Axis("j", 2), Axis("k", 2)]
    ct = CTensor(da.from_array(a, chunks=(2, 1)), axes, (0, 1, 1))
    out = ct.dense()
    assert backends.backend_of(out) == "dask"
    np.testing.assert_array_equal(out.compute(), np.einsum("ij,jk->ijk", a, np.eye(2)))


def test_float32_values_stay_float32_on_backend():
    torch = pytest.importorskip("torch", reason="torch is not installed")
    pytest.importorskip("array_api_compat", reason="the backends extra is not installed")
    H, values, hand = _logistic(seed=7)
    out = H.evaluate({k: torch.as_tensor(v, dtype=torch.float32) for k, v in values.items()})
    assert out.core.dtype == torch.float32
    np.testing.assert_allclose(out.dense().numpy(), hand, rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize("lib", sorted(BACKENDS))
def test_random_derivatives_on_backend_equal_numpy(lib):
    """Property: any derivative, evaluated on torch/jax arrays, is numpy's, in that library."""
    hypothesis = pytest.importorskip("hypothesis", reason="the test extra is not installed")
    pytest.importorskip("array_api_compat", reason="the backends extra is not installed")
    strategies = pytest.importorskip("tensorderiv.testing.strategies")
    conv, name = BACKENDS[lib]()
    st = hypothesis.strategies

    @st.composite
    def problems(draw):
        g = draw(strategies.expressions(max_depth=3))
        return g, draw(strategies.values_for(g.shapes)), draw(st.sampled_from(sorted(g.shapes)))

    @hypothesis.settings(max_examples=15, deadline=None)
    @hypothesis.given(problems())
    def check(problem):
        g, values, wrt = problem
        d = td.derive(g.expr, wrt)
        ref = d.evaluate(values).dense()
        hypothesis.assume(np.all(np.isfinite(ref)))
        out = d.evaluate({k: conv(v) for k, v in values.items()}).dense()
        _assert_stays(out, name)
        np.testing.assert_allclose(backends.to_numpy(out), ref, rtol=1e-9, atol=1e-9)

    check()


def test_torch_results_stay_on_a_device_that_has_no_data():
    """torch's "meta" device holds shapes but no values, so any silent copy to numpy (or to
    another device) raises: results that come back on "meta" never left the device."""
    torch = pytest.importorskip("torch", reason="torch is not installed")
    pytest.importorskip("array_api_compat", reason="the backends extra is not installed")

    def meta(v):
        return torch.as_tensor(v).to("meta")

    H, values, hand = _logistic(seed=8)
    mixed = {"X": meta(values["X"]), "y": values["y"], "w": values["w"]}  # numpy joins "meta"
    for vals in ({k: meta(v) for k, v in values.items()}, mixed):
        out = H.compile()(vals).dense()
        assert out.device.type == "meta" and tuple(out.shape) == hand.shape
    grads, values, hand = _mlp(seed=9)
    for g, expected in zip(grads, hand, strict=True):
        out = g.evaluate({k: meta(v) for k, v in values.items()}).dense()
        assert out.device.type == "meta" and tuple(out.shape) == expected.shape
    A = td.var("A", (3, 3))
    every = td.sum(td.sigmoid(A) + td.softplus(A) + td.relu(A) + td.inv(A)) + td.logdet(A) \
        + td.det(A) + td.logsumexp(A) + td.sum(td.softmax(A) * td.sqrt(td.exp(A)))
    out = td.derive(every, A, order=2).evaluate({"A": meta(np.eye(3))}).dense()
    assert out.device.type == "meta" and tuple(out.shape) == (3, 3, 3, 3)
