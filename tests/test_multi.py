"""td.compile: many outputs in one program, gradients by reverse accumulation (issue 12 item 1)."""

import numpy as np
import opt_einsum as oe
import pytest
from hypothesis import assume, given
from hypothesis import strategies as st

import tensorderiv as td
from tensorderiv.symbolic.nodes import Apply, Einsum
from tensorderiv.testing.strategies import expressions, values_for

MLP = "sum((W3.T @ tanh(W2.T @ tanh(W1.T @ X)) - Y)**2)"


def mlp_values(n=5, b=4, seed=0):
    rng = np.random.default_rng(seed)
    return {"W1": rng.normal(size=(n, n)) / 2, "W2": rng.normal(size=(n, n)) / 2,
            "W3": rng.normal(size=(n, n)) / 2, "X": rng.normal(size=(n, b)),
            "Y": rng.normal(size=(n, b))}


def backprop(v):
    """The hand-written backward pass (notes A.9): L and ∂L/∂W1, W2, W3."""
    H1 = np.tanh(v["W1"].T @ v["X"])
    H2 = np.tanh(v["W2"].T @ H1)
    R = v["W3"].T @ H2 - v["Y"]
    G3 = 2 * R
    G2 = (v["W3"] @ G3) * (1 - H2**2)
    G1 = (v["W2"] @ G2) * (1 - H1**2)
    return np.sum(R**2), v["X"] @ G1.T, H1 @ G2.T, H2 @ G3.T


def mlp(n=5, b=4):
    shapes = {"W1": (n, n), "W2": (n, n), "W3": (n, n), "X": (n, b), "Y": (n, b)}
    L = td.parse(MLP, shapes)
    return L, [td.derive(L, w) for w in ("W1", "W2", "W3")]


def test_loss_and_three_gradients_match_backprop_in_the_given_order():
    L, grads = mlp()
    v = mlp_values()
    f = td.compile(L, *grads)
    out = f(v)
    assert len(out) == 4 and f.modes == ["value", "reverse", "reverse", "reverse"]
    for got, want in zip(out, backprop(v), strict=True):
        np.testing.assert_allclose(got.dense(), want, rtol=1e-10, atol=1e-12)
    # another order, another call: same numbers
    dW3, value = td.compile(grads[2], L)(v)
    np.testing.assert_allclose(dW3.dense(), backprop(v)[3], rtol=1e-10)
    assert float(value.dense()) == pytest.approx(backprop(v)[0])


def test_shared_subexpressions_are_one_node_each():
    L, grads = mlp()
    f = td.compile(L, *grads)
    order = f.program.order
    tanhs = [n for n in order if isinstance(n, Apply) and n.fn == "tanh"]
    assert len(tanhs) == 2  # the forward pass once, for the loss and all three gradients
    separate = sum(len(td.compile(g).program.order) for g in grads) + \
        len(td.compile(L).program.order)
    assert len(order) < separate
    assert "shared between outputs" in f.description


def _flops(prog):
    total = 0
    for n in prog.order:
        if isinstance(n, Einsum) and not n.is_constant and n in prog.plans:
            plan = prog.plans[n]
            if plan.expression is not None:
                info = oe.contract_path(plan.equation, *plan.operand_shapes, shapes=True)[1]
                total += int(info.opt_cost)
    return total


def test_one_gradient_costs_no_more_than_backprop_contractions():
    n = 40
    L, grads = mlp(n, n)
    v = mlp_values(n, n)
    alone = td.compile(grads[0])
    np.testing.assert_allclose(alone(v)[0].dense(), backprop(v)[1], rtol=1e-9)
    gemm = 2 * n**3  # one n×n matrix product, as opt_einsum counts it
    # backprop computes ∂/∂W1 with 3 forward and 3 backward products; allow O(n²) extras
    assert _flops(alone.program) <= 6 * gemm + 40 * n * n
    everything = td.compile(L, *grads)
    assert _flops(everything.program) <= 8 * gemm + 60 * n * n


def test_single_output_is_a_one_tuple_and_jacobians_keep_their_rules():
    z = td.var("z", (4,))
    J = td.derive(td.tanh(z), z)
    f = td.compile(J)
    (ct,) = f({"z": np.linspace(-1, 1, 4)})
    assert f.modes == ["forward"]
    np.testing.assert_allclose(ct.dense(), np.diag(1 - np.tanh(np.linspace(-1, 1, 4)) ** 2))
    assert ct.nbytes == 4 * 8  # compact: the diagonal only


def test_reverse_mode_refuses_what_it_cannot_build_and_bad_outputs():
    z = td.var("z", (4,))
    with pytest.raises(ValueError, match="mode='reverse'"):
        td.compile(td.derive(td.tanh(z), z), mode="reverse")
    with pytest.raises(TypeError, match="output 0 is a str"):
        td.compile("sum(x)")
    with pytest.raises(td.LabelError, match="'x' has shape"):
        td.compile(td.sum(td.var("x", (2,))), td.sum(td.var("x", (3,))))


SMOOTH = ("tanh", "sin", "exp", "square", "sigmoid", "softplus", "log", "sqrt", "det", "inv",
          "softmax", "norm", "logsumexp", "trace", "sum", "mean", "diag", "outer", "dot", "einsum",
          "add", "sub", "mul", "div", "pow", "matmul", "T", "logdet", "cos")


@st.composite
def gradient_problems(draw):
    g = draw(expressions(functions=SMOOTH, max_depth=3, max_side=3, shape=()))
    values = draw(values_for(g.shapes, low=-1.5, high=1.5))
    return g, values


@given(gradient_problems())
def test_reverse_accumulation_equals_the_forward_rules(problem):
    g, values = problem
    names = sorted(g.shapes)
    derivs = [td.derive(g.expr, n) for n in names]
    try:
        forward = [d.evaluate(values).dense() for d in derivs]
    except td.DomainError:
        assume(False)
    assume(all(np.all(np.isfinite(f)) and np.max(np.abs(f), initial=0) < 1e6 for f in forward))
    got = td.compile(g.expr, *derivs)(values)
    np.testing.assert_allclose(got[0].dense(), td.evaluate(g.expr, values).dense())
    for ct, want in zip(got[1:], forward, strict=True):
        np.testing.assert_allclose(ct.dense(), want, rtol=1e-8, atol=1e-10)


def test_sums_of_contractions_with_one_set_of_factors_become_one_contraction():
    rng = np.random.default_rng(5)
    n = 6
    v = {"W": rng.normal(size=(n, n)) / 2, "x": rng.normal(size=n)}
    T = td.derive("sum(tanh(W @ x))", "x", order=3, shapes={"W": (n, n), "x": (n,)})
    f = td.compile(T)
    big = [m for m in f.program.order if isinstance(m, Einsum) and len(m.shape) == 3]
    assert len(big) == 1  # tanh''' = (1 - t²)(6t² - 2): one weight, one n⁴ contraction
    t = np.tanh(v["W"] @ v["x"])
    c = (1 - t * t) * (6 * t * t - 2)
    want = np.einsum("r,ri,rj,rk->ijk", c, v["W"], v["W"], v["W"])
    np.testing.assert_allclose(f(v)[0].dense(), want, rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(T.evaluate(v).dense(), want, rtol=1e-10, atol=1e-12)
