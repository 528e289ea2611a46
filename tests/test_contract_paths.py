"""Path search is bounded and cached by structure; compiled runs equal opt_einsum's (issue 12).

The search is chosen by the operand count (exhaustive for few, greedy for many), paths are
shared by every contraction of the same structure (equation and core shapes), and the compiled
numpy executor (precomputed matmul/multiply/einsum steps) gives opt_einsum's results.
"""

import numpy as np
import opt_einsum as oe
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import tensorderiv as td
from tensorderiv.core import paths
from tensorderiv.core.contract import _numpy_path
from tensorderiv.symbolic.nodes import Einsum
from tensorderiv.testing.strategies import expressions, values_for


def test_the_search_is_chosen_by_operand_count():
    assert paths.choose_optimizer(2, 10) == "optimal"
    assert paths.choose_optimizer(paths.EXHAUSTIVE, 10**12) == "optimal"
    # a few more operands: a bounded branch search only when the contraction is large
    assert paths.choose_optimizer(paths.EXHAUSTIVE + 1, paths.LARGE) == "branch-2"
    assert paths.choose_optimizer(paths.BRANCHED, 10) == "greedy"
    for n in (paths.BRANCHED + 1, 20, 96):
        assert paths.choose_optimizer(n, 10**15) == "greedy"


def _stacked(layers):
    inner = "x"
    for _ in range(layers):
        inner = f"tanh(A @ {inner})"
    return f"sum({inner})"


def test_many_operand_einsums_are_planned_greedily():
    # the Hessian, built forward, multiplies the chain out (third and higher orders are built
    # forward over reverse and stay small: 7 operands at most for this one)
    d = td.derive(_stacked(6), "x", order=2, shapes={"A": (3, 3), "x": (3,)})
    prog = td.compile(d).program
    plans = [p for n, p in prog.plans.items() if isinstance(n, Einsum)]
    many = [p for p in plans if len(p.operand_shapes) > paths.BRANCHED]
    assert many, "the second derivative of 6 layers has einsums of many operands"
    assert {p.optimizer for p in many} == {"greedy"}
    assert {p.optimizer for p in plans if 2 < len(p.operand_shapes) <= paths.EXHAUSTIVE} <= \
        {"optimal"}


def test_equal_structures_in_different_programs_share_one_search():
    text = "sum(log(1 + exp(-y * (X @ w))))"
    first = td.compile(td.derive(text, "w", order=2,
                                 shapes={"X": (7, 5), "y": (7,), "w": (5,)})).program
    before = paths.cache_info()
    # the same structure under other names: not one node in common, every path a cache hit
    other = td.compile(td.derive(text.replace("X", "Z").replace("w", "v"), "v", order=2,
                                 shapes={"Z": (7, 5), "y": (7,), "v": (5,)})).program
    after = paths.cache_info()
    assert not set(first.order) & set(other.order) - {n for n in first.order
                                                       if getattr(n, "name", None) == "y"}
    searched = [p for p in other.plans.values() if p.path is not None]
    assert searched
    assert after.misses == before.misses
    assert after.hits >= before.hits + len(searched)


@pytest.mark.parametrize(("equation", "shapes"), [
    ("ab,bc->ac", [(3, 4), (4, 5)]),
    ("ab,cb->ac", [(3, 4), (5, 4)]),
    ("b,ab->a", [(4,), (3, 4)]),
    ("a,ab,ac,a->bc", [(6,), (6, 3), (6, 4), (6,)]),
    ("abc,cd,bd->ad", [(2, 3, 4), (4, 5), (3, 5)]),
    ("ab,bc,cd,de,ef->af", [(2, 3), (3, 4), (4, 2), (2, 5), (5, 3)]),
    ("a,b,c->abc", [(2,), (3,), (4,)]),
    ("ab,ab->ba", [(3, 4), (3, 4)]),
    ("a,ba->ab", [(3,), (2, 3)]),
])
def test_numpy_path_equals_einsum(equation, shapes):
    rng = np.random.default_rng(0)
    ops = [rng.normal(size=s) for s in shapes]
    for optimizer in ("optimal", "greedy"):
        path = paths.search(equation, tuple(shapes), optimizer)
        got = _numpy_path(path)(ops)
        np.testing.assert_allclose(got, np.einsum(equation, *ops), rtol=1e-12, atol=1e-12)
        via_oe = oe.contract(equation, *ops, optimize=[tuple(p) for p in path.pairs])
        np.testing.assert_allclose(got, via_oe, rtol=1e-12, atol=1e-12)


@st.composite
def _problems(draw):
    # sides up to 8 too: contractions past the small-einsum limit run the planned path
    g = draw(expressions(max_depth=3, max_side=draw(st.sampled_from([3, 8]))))
    return g, draw(values_for(g.shapes)), draw(st.sampled_from(sorted(g.shapes)))


@settings(max_examples=40, deadline=None)
@given(_problems(), st.integers(1, 2))
def test_compiled_numpy_steps_equal_the_general_path(problem, order):
    """The step list (cores only, kernels chosen once) gives what the general path (c-tensors,
    opt_einsum's own executor) gives, for any derivative."""
    g, values, wrt = problem
    f = td.compile(td.derive(g.expr, wrt, order=order))
    try:
        fast = f.program.run(values)
    except td.TensorDerivError as exc:  # a refusal must be the same refusal on both paths
        with pytest.raises(type(exc)):
            f.program.run(values, backend="numpy")
        return
    assert f.program._compiled.get("<f8") is not None  # the step list ran, not a fallback
    general = f.program.run(values, backend="numpy")
    assert fast.axis_map == general.axis_map and fast.axes == general.axes
    np.testing.assert_allclose(fast.dense(), general.dense(), rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize(("text", "x", "match"), [
    ("sum(tanh(x * x))", 1e200, "product|overflowed"),  # hidden by tanh unless checked
    ("sum(tanh(x @ A @ x))", 1e160, "product|overflowed"),
    ("sum(exp(x))", 800.0, "exp overflowed"),
    ("sum(tanh(x * x + x * x))", 1e154, "overflowed"),  # each term finite, their sum is not
])
def test_compiled_runs_still_refuse_every_overflow(text, x, match):
    """Finiteness passes are skipped only where magnitude bounds prove a result finite: an
    overflow anywhere, even one a later tanh would hide, is still refused by name."""
    values = {"x": np.full(3, x), "A": np.eye(3)}
    shapes = {"x": (3,), "A": (3, 3)}
    e = td.parse(text, {k: s for k, s in shapes.items() if k in text})
    f = td.compile(e, td.derive(e, "x"))
    with pytest.raises(td.DomainError, match=match):
        f({k: v for k, v in values.items() if k in e.variables})
    small = {k: (v / x if k == "x" else v) for k, v in values.items() if k in e.variables}
    value, grad = f(small)  # the same program on tame values: no refusal, and every check skipped
    assert np.isfinite(value.dense()).all() and np.isfinite(grad.dense()).all()


def test_float32_bounds_are_float32s():
    """A bound that proves float64 results finite does not prove float32 ones: 1e20² overflows
    float32 (max 3.4e38) and must be refused even though it is far below float64's limit."""
    e = td.parse("sum(tanh(x * x))", {"x": (3,)})
    f = td.compile(e)
    with pytest.raises(td.DomainError, match="overflowed"):
        f({"x": np.full(3, 1e20, dtype=np.float32)})
    (value,) = f({"x": np.full(3, 0.5, dtype=np.float32)})
    assert value.core.dtype == np.float32
    np.testing.assert_allclose(float(value.dense()), 3 * np.tanh(0.25), rtol=1e-6)


def test_a_product_repeated_but_for_its_coefficient_is_computed_once():
    """The logistic Hessian reads y·(Xw) (for σ) and −y·(Xw) (for σ(−·)): the second is the first
    negated, not a second matrix-vector product, and the first is kept alive until then."""
    rng = np.random.default_rng(3)
    X, y, w = rng.normal(size=(6, 4)), rng.choice([-1.0, 1.0], size=6), rng.normal(size=4)
    H = td.derive("sum(log(1 + exp(-y * (X @ w))))", "w", order=2,
                  shapes={"X": X.shape, "y": y.shape, "w": w.shape})
    f = td.compile(H)
    (got,) = f({"X": X, "y": y, "w": w})
    steps = f.program._compiled["<f8"].steps
    assert sum(1 for step, _ in steps if step is not None and "_scaled" in step.__qualname__) == 1
    s = 1 / (1 + np.exp(y * (X @ w)))
    np.testing.assert_allclose(got.dense(), X.T @ ((s * (1 - s))[:, None] * X), rtol=1e-12)
