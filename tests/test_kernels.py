"""Direct kernels (core/kernels.py): a matrix product through np.matmul, C-ordered, as einsum."""

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import tensorderiv as td
from tensorderiv.core.kernels import matmul, matmul_spec


@st.composite
def _products(draw):
    """A random matrix or matrix–vector product equation in any letter arrangement."""
    f, k, g = "xyz"
    vector = draw(st.booleans())
    m1 = draw(st.sampled_from([f + k, k + f]))
    m2 = k if vector else draw(st.sampled_from([k + g, g + k]))
    out = f if vector else draw(st.sampled_from([f + g, g + f]))
    terms = [m1, m2] if draw(st.booleans()) else [m2, m1]
    sizes = {c: draw(st.integers(1, 6)) for c in "xyz"}
    return f"{terms[0]},{terms[1]}->{out}", [tuple(sizes[c] for c in t) for t in terms]


@given(_products(), st.integers(0, 2**31 - 1))
def test_every_matrix_product_arrangement_equals_einsum_and_is_c_ordered(case, seed):
    equation, shapes = case
    spec = matmul_spec(equation, shapes)
    assert spec is not None, equation
    rng = np.random.default_rng(seed)
    ops = [rng.normal(size=s) for s in shapes]
    got = matmul(spec, ops)
    np.testing.assert_allclose(got, np.einsum(equation, *ops), rtol=1e-12, atol=1e-12)
    assert got.flags.c_contiguous


@pytest.mark.parametrize("equation", [
    "ab,ab->ab",    # element-wise (a batch letter)
    "ab,cd->abcd",  # outer product
    "ab,ab->",      # full contraction
    "a,a->",        # dot product: a scalar, left to einsum
    "aa,ab->b",     # a diagonal
    "abc,cd->abd",  # rank 3
    "ab,bc,cd->ad",  # three operands
    "ab,bc->abc",   # a shared letter kept
    "ab,b->ab",     # scaling
])
def test_other_contractions_are_not_taken_for_a_matrix_product(equation):
    shapes = [tuple(3 for _ in t) for t in equation.split("->")[0].split(",")]
    assert matmul_spec(equation, shapes) is None


def test_a_transposed_product_in_a_program_is_c_ordered_and_right():
    # Wᵀ H: opt_einsum's tensordot would give a transposed (Fortran-ordered) view, which makes
    # every later element-wise pass with a C-ordered array (here - Y) walk memory out of order
    rng = np.random.default_rng(0)
    v = {"W": rng.normal(size=(5, 4)), "H": rng.normal(size=(5, 3)), "Y": rng.normal(size=(4, 3))}
    e = td.parse("W.T @ H - Y", {k: a.shape for k, a in v.items()})
    f = td.compile(e)
    (got,) = f(v)
    np.testing.assert_allclose(got.dense(), v["W"].T @ v["H"] - v["Y"], rtol=1e-13)
    prods = [p for p in f.program.plans.values() if p.direct is not None]
    assert [p.equation for p in prods] == ["ab,ac->bc"]
    assert prods[0].run([v["W"], v["H"]]).core.flags.c_contiguous
