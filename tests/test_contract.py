"""The chain rule as one contraction: compact contraction equals np.einsum of dense forms."""

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import tensorderiv as td
from tensorderiv import CTensor, contract
from tensorderiv.core.axes import Axis, of_axes, wrt_axes
from tensorderiv.core.contract import cache_info
from tensorderiv.testing.strategies import ctensors

POOL = list("abcdefg")


@st.composite
def contraction_problems(draw):
    sizes = {lab: draw(st.integers(1, 3)) for lab in POOL}
    n = draw(st.integers(1, 3))
    tensors = []
    for _ in range(n):
        labs = draw(st.lists(st.sampled_from(POOL), min_size=0, max_size=4, unique=True))
        tensors.append(draw(ctensors(axis_labels=labs, sizes=sizes)))
    return tensors


def _einsum_dense(tensors, out):
    letters = {lab: chr(ord("a") + POOL.index(lab)) for lab in POOL}
    eq = ",".join("".join(letters[x] for x in t.labels) for t in tensors)
    eq += "->" + "".join(letters[x] for x in out)
    return np.einsum(eq, *[t.dense() for t in tensors])


@given(contraction_problems())
def test_compact_contraction_equals_einsum_of_dense(tensors):
    result = contract(*tensors)
    expected = _einsum_dense(tensors, result.labels)
    np.testing.assert_allclose(result.dense(), expected, rtol=1e-12, atol=1e-9)


@given(contraction_problems(), st.data())
def test_explicit_out_and_keep(tensors, data):
    labels = sorted({lab for t in tensors for lab in t.labels})
    out = data.draw(st.permutations(labels).map(lambda p: p[: len(p) // 2 + 1]))
    result = contract(*tensors, out=out)
    np.testing.assert_allclose(result.dense(), _einsum_dense(tensors, result.labels),
                               rtol=1e-12, atol=1e-9)


def test_neural_network_chain_rule_A61():
    # ∂L/∂W = ∂Z/∂W · ∂L/∂Z = A (∂L/∂Z)ᵀ for Z = WᵀA (notes A.61, A.76)
    rng = np.random.default_rng(1)
    m, n = 4, 3
    A, g = rng.normal(size=m), rng.normal(size=n)
    dZ_dW = CTensor(A, [*wrt_axes("W", (m, n)), *of_axes("Z", (n,))], axis_map=(0, 1, 1),
                    wrt=(("W", (m, n)),))
    dL_dZ = CTensor(g, [Axis(("Z", 0, 0), n, "wrt", "Z", 0, 1)], wrt=(("Z", (n,)),))
    dL_dW = contract(dZ_dW, dL_dZ)
    assert dL_dW.shape == (m, n) and dL_dW.wrt == (("W", (m, n)),)
    np.testing.assert_allclose(dL_dW.dense(), np.outer(A, g))
    # the same by finite differences of L(W) = gᵀ(WᵀA)
    W = rng.normal(size=(m, n))
    fd = np.array([[(g @ ((W + E).T @ A) - g @ ((W - E).T @ A)) / 2e-6
                    for E in [np.eye(m)[i][:, None] * np.eye(n)[j] * 1e-6 for j in range(n)]]
                   for i in range(m)])
    np.testing.assert_allclose(dL_dW.dense(), fd, atol=1e-7)


def test_deltas_are_not_materialised():
    n = 2000  # a dense identity would be 32 MB; the implicit delta costs nothing
    eye = CTensor(np.float64(1.0), [Axis("i", n), Axis("j", n)], axis_map=(0, 0))
    assert eye.nbytes == 8 and eye.has_deltas
    v = CTensor(np.arange(n, dtype=float), ["j"])
    out = contract(eye, v)
    assert out.labels == ("i",)
    np.testing.assert_array_equal(out.dense(), np.arange(n))
    # trace of the identity: a summed delta class with no core is a factor of its size
    assert float(contract(eye, out=[]).dense()) == n


def test_more_than_52_labels():
    k = 60  # a chain of 60 matrix products uses 61 labels in one contraction
    chain = [CTensor(np.eye(2), [("l", i), ("l", i + 1)]) for i in range(k)]
    res = contract(*chain)
    assert res.labels == (("l", 0), ("l", k))
    np.testing.assert_array_equal(res.dense(), np.eye(2))


def test_plans_are_cached():
    a = CTensor(np.ones((3, 4)), ["p", "q"])
    b = CTensor(np.ones((4, 5)), ["q", "r"])
    contract(a, b)
    before = cache_info().hits
    for _ in range(3):
        contract(CTensor(np.ones((3, 4)), ["p", "q"]), CTensor(np.ones((4, 5)), ["q", "r"]))
    assert cache_info().hits == before + 3


def test_size_mismatch_names_labels_sizes_and_rule():
    a = CTensor(np.ones((3, 4)), ["i", "k"])
    b = CTensor(np.ones((5, 2)), ["k", "j"])
    with pytest.raises(td.ShapeError,
                       match=r"label 'k': size 4 in operand 0 but 5 in operand 1; inner shapes "
                             r"must match"):
        contract(a, b)


def test_unknown_labels_in_keep_and_out():
    a = CTensor(np.ones(3), ["i"])
    with pytest.raises(td.LabelError, match="keep names unknown label 'z'"):
        contract(a, keep=["z"])
    with pytest.raises(td.LabelError, match="output label 'z' is on no operand"):
        contract(a, out=["z"])
    with pytest.raises(td.LabelError, match="duplicate label in out"):
        contract(a, out=["i", "i"])


def test_keep_gives_elementwise_products():
    x, y = np.arange(3.0), np.arange(3.0) + 1
    res = contract(CTensor(x, ["i"]), CTensor(y, ["i"]), keep=["i"])
    np.testing.assert_array_equal(res.dense(), x * y)
