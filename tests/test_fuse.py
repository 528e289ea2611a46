"""Fused kernels (symbolic/fuse.py): patterns of nodes computed as one step, checked as numpy."""

import numpy as np
from hypothesis import assume, given, settings
from hypothesis import strategies as st

import tensorderiv as td
from tensorderiv.core import symmetric
from tensorderiv.core.axes import Axis
from tensorderiv.core.ctensor import CTensor
from tensorderiv.symbolic import fuse
from tensorderiv.symbolic.evaluate import Program
from tensorderiv.symbolic.fuse import _donor, plan_kernels
from tensorderiv.symbolic.nodes import Apply, Einsum, Sum, Var
from tensorderiv.testing import strategies

N = symmetric.MIN_SIDE + 2


def _gram(B: Var, w: Var) -> Einsum:
    """Σ_s B[s,i] w[s] B[s,j], the Gram product of a Hessian."""
    return Einsum.make(1.0, [(B, (0, 1)), (w, (0,)), (B, (0, 2))], (1, 2))


def _t(M):
    return Einsum.make(1.0, [(M, (0, 1))], (1, 0))


@given(st.booleans(), st.integers(0, 2**31 - 1), st.floats(-3, 3).filter(lambda c: abs(c) > 1e-6),
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


# ---------------------------------------------------------------- element-wise steps in place
M = 182  # M*M >= MIN_DONATE entries: large enough for a buffer to be given


def _mlp_values(seed, m=M):
    rng = np.random.default_rng(seed)
    s = 1 / np.sqrt(m)
    return {"W1": rng.normal(size=(m, m)) * s, "W2": rng.normal(size=(m, m)) * s,
            "W3": rng.normal(size=(m, m)) * s, "X": rng.normal(size=(m, m)),
            "Y": rng.normal(size=(m, m))}


@settings(max_examples=4)  # each example is a 182×182 MLP: a few are enough
@given(st.integers(0, 2**31 - 1))
def test_mlp_gradients_with_in_place_steps_equal_backprop_and_leave_inputs_alone(seed):
    v = _mlp_values(seed)
    before = {k: a.copy() for k, a in v.items()}
    L = td.parse("sum((W3.T @ tanh(W2.T @ tanh(W1.T @ X)) - Y)**2)",
                 {k: a.shape for k, a in v.items()})
    f = td.compile(L, *[td.derive(L, w) for w in ("W1", "W2", "W3")])
    kinds = {k.what for k in f.program.kernels.values()}
    assert {"tanh in its argument's buffer", "a sum in a term's buffer",
            "an element-wise product in a term's buffer"} <= kinds
    loss, d1, d2, d3 = f(v)
    W1, W2, W3, X, Y = (before[k] for k in ("W1", "W2", "W3", "X", "Y"))
    H1 = np.tanh(W1.T @ X)
    H2 = np.tanh(W2.T @ H1)
    R = W3.T @ H2 - Y
    G3 = 2 * R
    G2 = (W3 @ G3) * (1 - H2 * H2)
    G1 = (W2 @ G2) * (1 - H1 * H1)
    for got, want in [(loss, np.sum(R * R)), (d1, X @ G1.T), (d2, H1 @ G2.T), (d3, H2 @ G3.T)]:
        np.testing.assert_allclose(got.dense(), want, rtol=1e-10, atol=1e-10)
    for k, a in v.items():
        assert np.array_equal(a, before[k]), f"input {k} was written"


def test_a_root_or_a_value_read_later_is_never_overwritten():
    rng = np.random.default_rng(5)
    v = {"W": rng.normal(size=(M, M)) / 10, "X": rng.normal(size=(M, M))}
    Z = td.parse("W.T @ X", {k: a.shape for k, a in v.items()})
    f = td.compile(Z, td.tanh(Z), td.tanh(Z) * 2.0 + td.tanh(Z) ** 2)
    z, tz, mix = f(v)
    want = v["W"].T @ v["X"]
    np.testing.assert_allclose(z.dense(), want, rtol=1e-12)  # the root Z stays as it was
    np.testing.assert_allclose(tz.dense(), np.tanh(want), rtol=1e-12)
    np.testing.assert_allclose(mix.dense(), 2 * np.tanh(want) + np.tanh(want) ** 2, rtol=1e-12)


def test_a_step_declines_a_buffer_that_is_an_input_and_computes_as_usual():
    X = Var.make("X", (M, M))
    same = Einsum.make(1.0, [(X, (0, 1))], (0, 1))  # a pass-through of the input
    prog = Program(Apply.make("tanh", same, same.shape))
    assert [k.what for k in prog.kernels.values()] == ["tanh in its argument's buffer"]
    x = np.random.default_rng(6).normal(size=(M, M))
    keep = x.copy()
    np.testing.assert_allclose(prog.run({"X": x}).dense(), np.tanh(keep), rtol=1e-14)
    assert np.array_equal(x, keep)


def test_a_buffer_is_given_only_when_nothing_else_holds_it():
    a, b = Var.make("a", (M, M)), Var.make("b", (M, M))
    arr = np.ones((M, M))
    ct = CTensor(arr, [Axis(0, M), Axis(1, M)])
    assert _donor({a: ct}, a, []) is arr
    assert _donor({a: ct}, a, [arr]) is None  # protected (an input, a constant)
    assert _donor({a: ct, b: CTensor(arr.T, [Axis(0, M), Axis(1, M)])}, a, []) is None  # shared
    assert _donor({a: CTensor(arr[:, :10], [Axis(0, M), Axis(1, 10)])}, a, []) is None  # a view
    small = np.ones((3, 3))
    assert _donor({a: CTensor(small, [Axis(0, 3), Axis(1, 3)])}, a, []) is None  # too small
    frozen = np.ones((M, M))
    frozen.flags.writeable = False
    assert _donor({a: CTensor(frozen, [Axis(0, M), Axis(1, M)])}, a, []) is None


def test_in_place_steps_give_what_the_plain_path_gives():
    v = _mlp_values(7)
    L = td.parse("sum((W3.T @ tanh(W2.T @ tanh(W1.T @ X)) - Y)**2)",
                 {k: a.shape for k, a in v.items()})
    f = td.compile(L, td.derive(L, "W1"))
    fused = [ct.dense() for ct in f(v)]
    f.program.kernels.clear()
    plain = [ct.dense() for ct in f(v)]
    for a, b in zip(fused, plain, strict=True):
        np.testing.assert_allclose(a, b, rtol=1e-13, atol=1e-13)


# ---------------------------------------------------------------- any expression
@st.composite
def _problems(draw):
    g = draw(strategies.expressions(max_depth=3))
    values = draw(strategies.values_for(g.shapes))
    return g, values, draw(st.sampled_from(sorted(g.shapes))), draw(st.integers(1, 2))


@settings(max_examples=40)
@given(_problems())
def test_fused_and_plain_evaluation_agree_on_random_expressions(problem):
    # every kernel made to apply at any size, so random small expressions exercise them all;
    # the plain node-by-node path (no kernels) is the reference, and inputs stay untouched
    g, values, wrt, order = problem
    saved = fuse.MIN_DONATE, fuse.MIN_SIDE
    fuse.MIN_DONATE, fuse.MIN_SIDE = 1, 1
    try:
        d = td.derive(g.expr, wrt, order=order)
        outputs = [g.expr, d] if order == 1 else [d]
        f = td.compile(*outputs)
        before = {k: np.array(v, copy=True) for k, v in values.items()}
        try:
            fused = [ct.dense() for ct in f(values)]
        except td.TensorDerivError:
            assume(False)  # a value outside a domain: the plain path says the same
        f.program.kernels.clear()
        f.program._absorbed.clear()
        plain = [ct.dense() for ct in f(values)]
    finally:
        fuse.MIN_DONATE, fuse.MIN_SIDE = saved
    for a, b in zip(fused, plain, strict=True):
        np.testing.assert_allclose(a, b, rtol=1e-12, atol=1e-12)
    for k, v in values.items():
        assert np.array_equal(v, before[k], equal_nan=True), f"input {k} was written"
