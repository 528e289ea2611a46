"""check_derivative catches wrong derivatives and names the mistake.

Every "user's answer" here is a hand-derived numpy function (Matrix Cookbook identities, the
notes' A.9 layer derivatives), independent of tensorderiv's engine. For each derivative the right
answer must pass, and wrong versions built from it — transposed (the numerator layout, notes
Clarification 10), sign-flipped, doubled, axes permuted, one path dropped (hand-derived too) —
must fail with the right diagnosis.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pytest
from hypothesis import assume, given
from hypothesis import strategies as st

import tensorderiv as td
from tensorderiv.testing import AUTO_DENSE_MAX, DerivativeCheck, check_derivative
from tensorderiv.testing.check import ATOL_FRACTION, NOISE_ULPS
from tensorderiv.testing.strategies import (
    KINKED,
    STRUCTURES,
    VOCABULARY,
    ctensors,
    domain_values,
    expressions,
    values_for,
)


def _rng(seed: int) -> np.random.Generator:
    return np.random.default_rng(seed)


def _spd(n: int, seed: int) -> np.ndarray:
    m = _rng(seed).standard_normal((n, n))
    return 3.0 * np.eye(n) + 0.3 * m  # well conditioned, not symmetric


@dataclass
class Case:
    """A derivative, the user's hand-derived answer (notes layout), and what can go wrong."""

    id: str
    f: Any  # expression text, td.Expr, or numpy function
    at: Any  # mapping name -> array, or one array
    df: Callable[..., np.ndarray]
    wrt: str | None = None
    order: int = 1
    dropped: Callable[..., np.ndarray] | None = None  # hand-derived with one path left out
    permute: tuple[int, ...] | None = None  # a wrong axis order (notes positions)
    layouts_differ: bool = False  # whether the numerator layout is another array
    options: dict[str, Any] = field(default_factory=dict)

    @property
    def is_callable(self) -> bool:
        return callable(self.f) and not isinstance(self.f, td.Expr)

    def call(self, fn: Callable[..., np.ndarray]) -> np.ndarray:
        return np.asarray(fn(**self.at) if isinstance(self.at, dict) else fn(self.at))


# ---------------------------------------------------------------- hand-derived answers
def _tanh_layer(W: np.ndarray, a: np.ndarray) -> np.ndarray:
    """∂z/∂W for z = tanh(Wᵀa): a_i δ_jk (1 − z_k²), axes (W_i, W_j, z_k) (notes A.68, A.89)."""
    z = np.tanh(W.T @ a)
    return np.einsum("i,jk,k->ijk", a, np.eye(W.shape[1]), 1 - z**2)


def _softmax_jac(z: np.ndarray) -> np.ndarray:
    s = np.exp(z - z.max())
    s /= s.sum()
    return np.diag(s) - np.outer(s, s)  # ∂s_j/∂z_i = s_j(δ_ij − s_i), symmetric


def _hessian_layer(W: np.ndarray, a: np.ndarray) -> np.ndarray:
    t = np.tanh(W.T @ a)
    return np.einsum("ik,jk,k->ij", W, W, -2 * t * (1 - t**2))


def _matrix_square(X: np.ndarray) -> np.ndarray:
    """∂(XX)_kl/∂X_ij = δ_ik X_jl + X_ki δ_jl (Matrix Cookbook 2.4)."""
    eye = np.eye(X.shape[0])
    return np.einsum("ik,jl->ijkl", eye, X) + np.einsum("ki,jl->ijkl", X, eye)


def _matrix_square_dropped(X: np.ndarray) -> np.ndarray:
    return np.einsum("ik,jl->ijkl", np.eye(X.shape[0]), X)


def _inverse(X: np.ndarray) -> np.ndarray:
    """∂(X⁻¹)_kl/∂X_ij = −Y_ki Y_jl (Matrix Cookbook 59)."""
    Y = np.linalg.inv(X)
    return -np.einsum("ki,jl->ijkl", Y, Y)


def _build_cases() -> list[Case]:
    x4 = _rng(1).standard_normal(4)
    x3 = _rng(2).standard_normal(3)
    A3 = _rng(3).standard_normal((3, 3))
    A23 = _rng(4).standard_normal((2, 3))
    W32 = _rng(5).standard_normal((3, 2))
    a3 = _rng(6).standard_normal(3)
    X = _spd(3, 7)
    v4, w4 = _rng(8).standard_normal(4), _rng(9).standard_normal(4)
    W_big, a_big = 0.3 * _rng(10).standard_normal((30, 20)), _rng(11).standard_normal(30)
    W, a = td.var("W", (3, 2)), td.var("a", (3,))
    Xv = td.var("X", (3, 3))
    return [
        # ---- expression text and expressions: the truth is td.derive
        Case("text-sum-squares", "sum(x * x)", {"x": x4}, lambda x: 2 * x,
             dropped=lambda x: x),
        Case("text-quadratic-form", "x.T @ A @ x", {"x": x3, "A": A3},
             lambda x, A: (A + A.T) @ x, wrt="x", dropped=lambda x, A: A @ x),
        Case("text-hessian-quadratic", "x.T @ A @ x", {"x": x3, "A": A3},
             lambda x, A: A + A.T, wrt="x", order=2, dropped=lambda x, A: A),
        Case("expr-tanh-layer-W", td.tanh(W.T @ a), {"W": W32, "a": a3}, _tanh_layer,
             wrt="W", permute=(1, 2, 0), layouts_differ=True),
        Case("text-linear-layer-a", "W.T @ a", {"W": W32, "a": a3}, lambda W, a: W, wrt="a",
             layouts_differ=True),  # ∂Z/∂A = W (notes A.9.3)
        Case("text-sigmoid", "sigmoid(x)", {"x": x4},
             lambda x: np.diag(1 / (1 + np.exp(-x)) * (1 - 1 / (1 + np.exp(-x))))),
        Case("text-sum-log", "sum(log(x))", {"x": np.abs(x4) + 0.5}, lambda x: 1 / x),
        Case("text-trace-square", "trace(X @ X)", {"X": X}, lambda X: 2 * X.T,
             dropped=lambda X: X.T, permute=(1, 0)),
        Case("expr-logdet", td.logdet(Xv), {"X": X}, lambda X: np.linalg.inv(X).T,
             permute=(1, 0)),
        Case("text-det", "det(X)", {"X": X},
             lambda X: np.linalg.det(X) * np.linalg.inv(X).T, permute=(1, 0)),
        Case("text-matrix-vector-A", "A @ x", {"A": A23, "x": x3},
             lambda A, x: np.einsum("ik,j->ijk", np.eye(2), x), wrt="A", permute=(1, 0, 2),
             layouts_differ=True),
        Case("text-softmax", "softmax(z)", {"z": x4}, _softmax_jac),
        Case("text-elementwise-product", "x * sin(x)", {"x": x3},
             lambda x: np.diag(np.sin(x) + x * np.cos(x)), dropped=lambda x: np.diag(np.sin(x))),
        Case("text-outer", "outer(x, x)", {"x": x3},
             lambda x: np.einsum("ij,k->ijk", np.eye(3), x) + np.einsum("j,ik->ijk", x, np.eye(3)),
             dropped=lambda x: np.einsum("ij,k->ijk", np.eye(3), x), permute=(1, 0, 2),
             layouts_differ=True),
        Case("text-scalar-wrt", "s * v + s ** 2 * w", {"s": np.array(0.7), "v": v4, "w": w4},
             lambda s, v, w: v + 2 * s * w, wrt="s", dropped=lambda s, v, w: v),
        Case("text-matrix-square", "X @ X", {"X": X}, _matrix_square,
             dropped=_matrix_square_dropped, permute=(1, 0, 2, 3), layouts_differ=True),
        Case("expr-inverse", td.inv(Xv), {"X": X}, _inverse, permute=(1, 0, 2, 3),
             layouts_differ=True),
        Case("text-hessian-exp", "sum(exp(x))", {"x": x4}, lambda x: np.diag(np.exp(x)),
             order=2),
        Case("text-hessian-vector-output", "A @ (x * x)", {"A": A23, "x": x3},
             lambda A, x: 2 * np.einsum("ki,ij->ijk", A, np.eye(3)), wrt="x", order=2,
             dropped=lambda A, x: np.einsum("ki,ij->ijk", A, np.eye(3)), permute=(0, 2, 1),
             layouts_differ=True),
        Case("expr-hessian-layer", td.sum(td.tanh(W.T @ a)), {"W": W32, "a": a3},
             _hessian_layer, wrt="a", order=2),
        Case("text-directional-matrix-square", "X @ X", {"X": X}, _matrix_square,
             dropped=_matrix_square_dropped, permute=(1, 0, 2, 3), layouts_differ=True,
             options={"mode": "directional"}),
        # ---- plain numpy functions: the truth is Richardson-extrapolated differences
        Case("np-cubic", lambda x: np.sum(x**3), x4, lambda x: 3 * x**2),
        Case("np-tanh-layer-W", lambda W, a: np.tanh(W.T @ a), {"W": W32, "a": a3},
             _tanh_layer, wrt="W", permute=(1, 2, 0), layouts_differ=True),
        Case("np-elementwise-product", lambda x: x * np.sin(x), x3,
             lambda x: np.diag(np.sin(x) + x * np.cos(x)), dropped=lambda x: np.diag(np.sin(x))),
        Case("np-det", np.linalg.det, X, lambda X: np.linalg.det(X) * np.linalg.inv(X).T,
             permute=(1, 0)),
        Case("np-affine-sin", lambda x, A: A @ x + np.sin(x), {"x": x3, "A": A3},
             lambda x, A: A.T + np.diag(np.cos(x)), wrt="x", layouts_differ=True,
             dropped=lambda x, A: A.T),
        Case("np-hessian", lambda x: np.sum(np.exp(x) * x), x3,
             lambda x: np.diag((x + 2) * np.exp(x)), order=2),
        Case("np-hessian-vector-output", lambda A, x: A @ (x * x), {"A": A23, "x": x3},
             lambda A, x: 2 * np.einsum("ki,ij->ijk", A, np.eye(3)), wrt="x", order=2,
             permute=(0, 2, 1), layouts_differ=True),
        Case("np-large-layer-directional", lambda W, a: np.tanh(W.T @ a),
             {"W": W_big, "a": a_big}, _tanh_layer, wrt="W", permute=(1, 2, 0),
             layouts_differ=True),
    ]


CASES = _build_cases()


def _numerator(case: Case, g: np.ndarray) -> np.ndarray:
    """The numerator layout of a notes-layout array: output axes first (computed here)."""
    x = case.at[case.wrt] if isinstance(case.at, dict) and case.wrt else (
        next(iter(case.at.values())) if isinstance(case.at, dict) else case.at)
    k = case.order * np.ndim(x)
    return np.transpose(g, [*range(k, g.ndim), *range(k)])


def _wrong(case: Case, kind: str) -> Callable[..., np.ndarray]:
    def fn(*args: Any, **kwargs: Any) -> np.ndarray:
        g = np.asarray(case.df(*args, **kwargs))
        if kind == "sign":
            return -g
        if kind == "doubled":
            return 2 * g
        if kind == "transposed":
            return _numerator(case, g)
        if kind == "permuted":
            return np.transpose(g, case.permute)
        assert case.dropped is not None
        return np.asarray(case.dropped(*args, **kwargs))

    return fn


def _check(case: Case, df: Callable[..., np.ndarray], **extra: Any) -> DerivativeCheck:
    return check_derivative(case.f, case.at, df, wrt=case.wrt, order=case.order,
                            **{**case.options, **extra})


EXPECTED = {
    "sign": r"the sign is flipped",
    "doubled": r"off by a factor of 2\.0",
    "transposed": r"numerator layout: .*\(notes Clarification 10\)",
    "permuted": r"axes permuted",
}


def _params() -> list[Any]:
    out = []
    for c in CASES:
        kinds = ["sign", "doubled"]
        kinds += ["transposed"] if c.layouts_differ else []
        kinds += ["permuted"] if c.permute else []
        kinds += ["dropped"] if c.dropped else []
        out += [pytest.param(c, k, id=f"{c.id}-{k}") for k in kinds]
    return out


def test_the_table_is_big_enough():
    assert len(CASES) >= 20
    assert {c.order for c in CASES} == {1, 2}
    assert sum(c.is_callable for c in CASES) >= 5
    assert sum(isinstance(c.f, str) for c in CASES) >= 5
    assert sum(isinstance(c.f, td.Expr) for c in CASES) >= 3


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_the_right_answer_passes(case):
    result = _check(case, case.df)
    assert result.shape == case.call(case.df).shape
    assert result.source == ("differences" if case.is_callable else "symbolic")
    assert result.max_error <= 1e-5 * max(1.0, float(np.max(np.abs(case.call(case.df)))))


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_the_right_answer_in_the_numerator_layout_passes_when_declared(case):
    num = _wrong(case, "transposed")
    _check(case, num, layout="numerator")
    if case.layouts_differ:  # the notes' array declared as numerator: the other way round
        with pytest.raises(AssertionError, match=r"notes layout: .*Clarification 10"):
            _check(case, case.df, layout="numerator")


@pytest.mark.parametrize(("case", "kind"), _params())
def test_a_wrong_answer_is_caught_with_its_diagnosis(case, kind):
    wrong = _wrong(case, kind)
    # the wrong version really differs from the right one (else the test would prove nothing)
    right, bad = case.call(case.df), case.call(wrong)
    assert bad.shape != right.shape or not np.allclose(bad, right, atol=1e-6)
    if kind == "dropped":
        expected = r"no common mistake recognised" if case.is_callable else r"missing path"
    else:
        expected = EXPECTED[kind]
    with pytest.raises(AssertionError, match=expected) as info:
        _check(case, wrong)
    message = str(info.value)
    assert re.search(r"worst (entry|contraction): |yours has shape \(", message)
    if bad.shape == right.shape:
        assert re.search(r"error [\d.e+-]+ > tolerance", message)


def test_the_worst_entry_is_named_by_axis_labels_and_is_the_worst():
    case = next(c for c in CASES if c.id == "expr-tanh-layer-W")
    right = case.call(case.df)
    with pytest.raises(AssertionError) as info:
        _check(case, _wrong(case, "sign"))
    m = re.search(r"worst entry: W\[(\d),(\d)\], f\[(\d)\] \(index \((\d), (\d), (\d)\)\): "
                  r"yours ([-\d.e+]+), true ([-\d.e+]+)", str(info.value))
    assert m, str(info.value)
    i, j, k = (int(m.group(n)) for n in (1, 2, 3))
    assert (i, j, k) == tuple(int(m.group(n)) for n in (4, 5, 6))
    # with −J against J the error 2|J| is worst where |J| is largest
    assert (i, j, k) == np.unravel_index(np.argmax(np.abs(right)), right.shape)
    assert float(m.group(8)) == pytest.approx(right[i, j, k], rel=1e-5)
    assert float(m.group(7)) == pytest.approx(-right[i, j, k], rel=1e-5)


def test_the_worst_entry_is_given_in_the_numerator_layout_when_that_is_declared():
    case = next(c for c in CASES if c.id == "text-matrix-vector-A")
    wrong = _wrong(case, "transposed")
    with pytest.raises(AssertionError, match=r"worst entry: f\[\d\], A\[\d,\d\]"):
        _check(case, lambda A, x: 3 * wrong(A, x), layout="numerator")


def test_directional_mode_is_chosen_above_the_threshold():
    case = next(c for c in CASES if c.id == "np-large-layer-directional")
    assert case.at["W"].size > AUTO_DENSE_MAX
    result = _check(case, case.df)
    assert result.mode == "directional"
    assert result.evaluations == 1 + 6 * 4  # the point, then h and h/2 both ways per direction
    with pytest.raises(AssertionError, match=r"worst contraction: f\[\d+\] along random "):
        _check(case, _wrong(case, "doubled"))
    small = next(c for c in CASES if c.id == "np-cubic")
    assert _check(small, small.df).mode == "dense"
    assert _check(small, small.df).evaluations == 1 + 4 * 4
    assert _check(small, small.df, mode="directional", directions=3).evaluations == 1 + 3 * 4


def test_a_tolerance_is_a_tolerance():
    x = np.array([0.3, -1.2, 2.0])
    f, right = "sum(sin(x))", np.cos
    check_derivative(f, {"x": x}, lambda x: right(x) + 1e-9)
    with pytest.raises(AssertionError, match="no common mistake recognised"):
        check_derivative(f, {"x": x}, lambda x: right(x) + np.array([0.0, 1e-3, 0.0]))
    check_derivative(f, {"x": x}, lambda x: right(x) + np.array([0.0, 1e-3, 0.0]), atol=2e-3)


def test_a_small_derivative_is_checked_as_strictly_as_a_large_one():
    # ∂(1e-7·Σx²)/∂x = 2e-7·x: a zero answer must fail, from differences and from the text
    x = np.ones(3)
    for f, at in ((lambda x: 1e-7 * np.sum(x**2), x), ("0.0000001 * sum(x ** 2)", {"x": x})):
        with pytest.raises(AssertionError, match="zero: yours is zero everywhere"):
            check_derivative(f, at, lambda x: np.zeros(3))
        with pytest.raises(AssertionError, match="off by a factor of 2"):
            check_derivative(f, at, lambda x: 4e-7 * x)
        assert check_derivative(f, at, lambda x: 2e-7 * x).atol < 1e-12
        # an explicit atol is still absolute: 1e-6 is loose enough for the zero answer
        assert check_derivative(f, at, lambda x: np.zeros(3), atol=1e-6).atol == 1e-6
    # the same verdicts at every scale of f: the tolerance moves with the derivative
    x = np.array([0.3, -1.2, 2.0])
    for c in (1e-9, 1.0, 1e9):
        for f, at in ((lambda x, c=c: c * np.sum(np.sin(x)), x),
                      (f"{c!r} * sum(sin(x))", {"x": x})):
            check_derivative(f, at, lambda x, c=c: c * np.cos(x))
            with pytest.raises(AssertionError, match="sign is flipped"):
                check_derivative(f, at, lambda x, c=c: -c * np.cos(x))
            with pytest.raises(AssertionError, match="no common mistake"):
                check_derivative(f, at, lambda x, c=c: c * (np.cos(x) + np.array([0.0, 1e-3, 0.0])))


def test_the_default_tolerance_follows_the_documented_rule():
    x = np.array([0.3, -1.2, 2.0])
    eps64 = np.finfo(np.float64).eps
    fx, true = abs(np.sum(np.sin(x))), np.max(np.abs(np.cos(x)))
    symbolic = check_derivative("sum(sin(x))", {"x": x}, lambda x: np.cos(x))
    assert symbolic.atol == pytest.approx(ATOL_FRACTION * true + NOISE_ULPS * eps64 * fx / 2.0)
    fd = check_derivative(lambda x: np.sum(np.sin(x)), x, np.cos, eps=1e-3)
    assert fd.atol == pytest.approx(ATOL_FRACTION * true + NOISE_ULPS * eps64 * fx / 1e-3,
                                    rel=1e-6)
    hessian = check_derivative(lambda x: np.sum(np.sin(x)), x, lambda x: np.diag(-np.sin(x)),
                               order=2, eps=1e-2)
    assert hessian.atol == pytest.approx(ATOL_FRACTION * np.max(np.abs(np.sin(x)))
                                         + NOISE_ULPS * eps64 * fx / 1e-4, rel=1e-4)
    # a derivative below the smallest normal float64 is 0 to the differences (found by
    # Hypothesis: f(x) = 5e-324·x); it is not a mistake
    check_derivative(lambda x: x * 5e-324, np.array([0.0]), lambda x: np.array([[5e-324]]))
    with pytest.raises(ValueError, match="atol must be a finite number >= 0"):
        check_derivative("sum(x)", {"x": x}, lambda x: np.ones(3), atol=-1.0)
    with pytest.raises(ValueError, match="rtol must be a finite number >= 0"):
        check_derivative("sum(x)", {"x": x}, lambda x: np.ones(3), rtol=float("nan"))


def test_reshaped_and_zero_answers_are_named():
    x = np.array([0.5, 1.5, -1.0])
    with pytest.raises(AssertionError, match=r"reshaped: .*shape \(3, 1\)"):
        check_derivative(lambda x: np.sum(x**2), x, lambda x: (2 * x)[:, None])
    with pytest.raises(AssertionError, match=r"zero: yours is zero everywhere"):
        check_derivative("sum(x ** 2)", {"x": x}, lambda x: np.zeros(3))


def test_a_fraction_is_shown_as_a_fraction():
    x = np.array([0.5, 1.5, -1.0])
    with pytest.raises(AssertionError, match=r"off by a factor of 0\.333333 \(= 1/3\)"):
        check_derivative(lambda x: np.sum(x**3), x, lambda x: x**2)


def test_bad_calls_are_value_errors():
    x = np.ones(3)
    with pytest.raises(ValueError, match="give wrt="):
        check_derivative("sum(x * y)", {"x": x, "y": x}, lambda x, y: y)
    with pytest.raises(ValueError, match="as a mapping"):
        check_derivative("sum(x)", x, lambda x: x)
    with pytest.raises(ValueError, match="layout must be"):
        check_derivative("sum(x)", {"x": x}, lambda x: x, layout="columns")
    with pytest.raises(ValueError, match="not in the point"):
        check_derivative("sum(x)", {"x": x}, lambda x: x, wrt="z")
    with pytest.raises(ValueError, match="not finite"), np.errstate(invalid="ignore"):
        check_derivative(lambda x: np.sum(np.log(x)), np.array([1e-5, 1.0]), lambda x: 1 / x)


# ---------------------------------------------------------------- properties (Hypothesis)
SMOOTH = tuple(f for f in VOCABULARY if f not in (*KINKED, "norm"))


@st.composite
def smooth_problems(draw):
    g = draw(expressions(functions=SMOOTH, max_depth=2, max_side=3))
    values = draw(values_for(g.shapes, low=-1.5, high=1.5))
    name = draw(st.sampled_from(sorted(g.shapes)))
    return g, values, name


@given(smooth_problems())
def test_symbolic_derivatives_pass_against_differences_and_their_negation_fails(problem):
    g, values, name = problem
    value = td.evaluate(g.expr, values).dense()
    right = td.derive(g.expr, name).evaluate(values).dense()
    scale = max(1.0, float(np.max(np.abs(right))) if right.size else 1.0)
    assume(np.all(np.isfinite(value)) and np.all(np.isfinite(right)) and scale < 1e4)

    def f(**v):
        return td.evaluate(g.expr, v).dense()

    def df(**v):  # a function of the point, as df is documented to be (a second, generic
        return td.derive(g.expr, name).evaluate(v).dense()  # point confirms a diagnosis)

    tol = {"atol": 1e-5 * scale, "rtol": 1e-4}
    result = check_derivative(f, values, df, wrt=name, **tol)
    assert result.source == "differences"
    if np.max(np.abs(right)) > 1e-2:
        with pytest.raises(AssertionError, match=r"the sign is flipped|no common mistake"):
            check_derivative(f, values, lambda **v: -df(**v), wrt=name, **tol)
        with pytest.raises(AssertionError, match="the sign is flipped"):  # the point alone
            check_derivative(f, values, lambda **v: -right, wrt=name, second_point=False,
                             **tol)


@st.composite
def linear_maps(draw):
    """A linear f(x) = ⟨x, J⟩ whose derivative in the notes' layout is exactly J."""
    ct = draw(ctensors(structure=draw(st.sampled_from(STRUCTURES)), max_rank=4, max_side=3))
    J = np.ascontiguousarray(ct.dense())
    assume(J.ndim >= 1)
    rx = draw(st.integers(1, J.ndim))
    x = draw(st.lists(st.floats(-2, 2), min_size=int(np.prod(J.shape[:rx])),
                      max_size=int(np.prod(J.shape[:rx]))))
    return J, rx, np.array(x).reshape(J.shape[:rx])


@given(linear_maps(), st.sampled_from(["dense", "directional"]), st.data())
def test_linear_maps_permuted_axes_are_caught_and_recognised(problem, mode, data):
    J, rx, x = problem
    assume(J.ndim >= 2)

    def f(x):
        return np.tensordot(x, J, axes=rx)

    check_derivative(f, x, lambda x: J, mode=mode)
    p = data.draw(st.permutations(range(J.ndim)).map(lambda p: p if p != sorted(p) else p[::-1]))
    wrong = J.transpose(p)
    assume(wrong.shape != J.shape or not np.allclose(wrong, J, atol=1e-6))
    with pytest.raises(AssertionError) as info:
        check_derivative(f, x, lambda x: wrong, mode=mode)
    assert "no common mistake recognised" not in str(info.value)


@given(linear_maps(), st.sampled_from([-1.0, 2.0, 0.5, 3.0, -0.25]))
def test_linear_maps_scaled_answers_name_the_factor(problem, c):
    J, rx, x = problem
    assume(np.max(np.abs(J)) > 1e-3)
    want = "the sign is flipped" if c == -1.0 else f"off by a factor of {c!r}"
    with pytest.raises(AssertionError, match=re.escape(want)):
        check_derivative(lambda x: np.tensordot(x, J, axes=rx), x, lambda x: c * J)


DOMAIN_EXPRESSIONS = [
    ("sum(log(x)) + sum(sqrt(y))", {"x": (3,), "y": (2,)}, {"x": "positive", "y": "positive"}),
    ("logdet(X) + trace(inv(X.T) @ A)", {"X": (3, 3), "A": (3, 3)}, {"X": "invertible"}),
    ("det(X) * sum(1 / v)", {"X": (2, 2), "v": (3,)}, {"X": "invertible", "v": "nonzero"}),
    ("sum(x ** 1.5) + sum(2 * x)", {"x": (4,)}, {"x": "positive"}),
]


@pytest.mark.parametrize(("text", "shapes", "kinds"), DOMAIN_EXPRESSIONS,
                         ids=[t for t, _, _ in DOMAIN_EXPRESSIONS])
def test_domain_values_stay_in_the_domain_and_derivatives_check(text, shapes, kinds):
    e = td.parse(text, shapes)

    @given(domain_values(e))
    def run(values):
        for name, kind in kinds.items():
            v = values[name]
            if kind == "positive":
                assert np.all(v > 0)
            elif kind == "nonzero":
                assert np.all(v != 0)
            else:  # invertible, and well away from singular
                assert np.linalg.cond(v) < 1e3
        name = sorted(shapes)[0]
        right = td.derive(e, name).evaluate(values).dense()
        scale = max(1.0, float(np.max(np.abs(right))))

        def f(**v):
            return td.evaluate(e, v).dense()

        check_derivative(f, values, lambda **v: right, wrt=name, eps=1e-4, atol=1e-5 * scale,
                         rtol=1e-4, second_point=False)  # right: an answer at this point only

    run()


# ---------------------------------------------------------------- issue 13: cannot be fooled
def _sigmoid(z):
    return 1.0 / (1.0 + np.exp(-z))


def test_a_wrong_small_entry_next_to_a_large_one_fails():
    x = np.array([0.5, -1.0, 2.0])
    wrong = np.array([1e6, 1.9, 0.1])
    for f, at in (("1000000 * x[0] + x[1] + x[2]".replace("x[0]", "sum(x * e0)")
                   .replace("x[1]", "sum(x * e1)").replace("x[2]", "sum(x * e2)"), None),
                  (lambda x: 1e6 * x[0] + x[1] + x[2], x)):
        if at is None:
            e = np.eye(3)
            at = {"x": x, "e0": e[0], "e1": e[1], "e2": e[2]}
            with pytest.raises(AssertionError, match="2 of 3 compared values differ"):
                check_derivative(f, at, lambda x, **_: wrong, wrt="x")
            check_derivative(f, at, lambda x, **_: np.array([1e6, 1.0, 1.0]), wrt="x")
        else:
            with pytest.raises(AssertionError, match="2 of 3 compared values differ"):
                check_derivative(f, at, lambda x: wrong)
            check_derivative(f, at, lambda x: np.array([1e6, 1.0, 1.0]))


def test_complex_and_non_finite_answers_fail():
    x = np.array([0.5, -1.0])
    with pytest.raises(AssertionError, match="yours is complex"):
        check_derivative("sum(x * x)", {"x": x}, lambda x: 2 * x + 5j)
    with pytest.raises(AssertionError, match="complex"):  # even with a zero imaginary part
        check_derivative("sum(x * x)", {"x": x}, lambda x: (2 * x).astype(complex))
    with pytest.raises(AssertionError, match="non-finite"):
        check_derivative("sum(x * x)", {"x": x}, lambda x: np.array([np.nan, -2.0]))
    with pytest.raises(AssertionError):
        check_derivative(lambda x: np.sum(x * x), x, lambda x: np.array([np.inf, -2.0]))


def test_eps_cannot_inflate_the_tolerance():
    x = np.array([0.5, -1.0])
    for eps in (1e-15, 1e-9, 0.5, 0.0, -1.0):
        with pytest.raises(ValueError, match="eps must be between"):
            check_derivative(lambda x: np.sum(x * x), x, lambda x: 2 * x, eps=eps)
    r = check_derivative(lambda x: np.sum(x * x), x, lambda x: 2 * x, eps=1e-8)
    assert r.atol < 1e-3


def test_a_layout_mistake_fails_at_a_symmetric_point():
    A = np.array([[2.0, 1.0], [1.0, 3.0]])  # symmetric: A and Aᵀ agree here
    at = {"x": np.array([1.0, -1.0]), "A": A}
    check_derivative("A @ x", at, lambda x, A: A.T, wrt="x")  # notes layout: Aᵀ
    with pytest.raises(AssertionError, match=r"nearby generic point.*hides the mistake"):
        check_derivative("A @ x", at, lambda x, A: A, wrt="x")  # the numerator layout
    with pytest.raises(AssertionError, match="nearby generic point"):
        check_derivative(lambda x, A: A @ x, at, lambda x, A: A, wrt="x")
    check_derivative("A @ x", at, lambda x, A: A, wrt="x", second_point=False)  # as before


@pytest.mark.parametrize(("f", "at", "wrong", "wrt"), [
    # a missing tanh′ (shrunk to 1×1), a missing (1 − σ) (shrunk to w = 0), a column gradient
    ("sum(tanh(W.T @ a))", {"W": np.array([[0.7]]), "a": np.array([1.3])},
     lambda W, a: np.outer(a, np.ones(1)), "W"),
    ("sum(sigmoid(w * x))", {"w": np.zeros(2), "x": np.array([1.0, 2.0])},
     lambda w, x: _sigmoid(w * x) * x, "w"),
    ("sum(x * x)", {"x": np.zeros(3)}, lambda x: (2 * x + 1)[:, None], "x"),
])
def test_degenerate_points_never_get_a_wrong_diagnosis(f, at, wrong, wrt):
    with pytest.raises(AssertionError) as info:
        check_derivative(f, at, wrong, wrt=wrt)
    first = str(info.value).splitlines()[0]
    assert "off by a factor" not in first and "sign is flipped" not in first, first


def test_a_factor_is_named_only_when_a_generic_point_agrees():
    at = {"w": np.zeros(2), "x": np.array([1.0, 2.0])}  # σ′(0) = 1/4 = σ(0)/2 only at w = 0
    with pytest.raises(AssertionError, match="off by a factor of 2"):
        check_derivative("sum(sigmoid(w * x))", at, lambda w, x: _sigmoid(w * x) * x,
                         wrt="w", second_point=False)
    with pytest.raises(AssertionError, match="off by a factor of 2"):  # a true factor stays
        check_derivative("sum(sigmoid(w * x))", at,
                         lambda w, x: 2 * _sigmoid(w * x) * _sigmoid(-w * x) * x, wrt="w")


def test_a_failure_shows_the_message_not_the_checker_source(tmp_path):
    import subprocess
    import sys
    test = tmp_path / "test_user.py"
    test.write_text("import numpy as np\nfrom tensorderiv.testing import check_derivative\n\n"
                    "def test_mine():\n"
                    "    check_derivative('sum(x * x)', {'x': np.ones(2)}, lambda x: x)\n")
    out = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider",
                          str(test)], capture_output=True, text=True, cwd=tmp_path,
                         timeout=120).stdout
    assert "off by a factor of 0.5" in out and "def test_mine" in out
    assert "job = _Job(" not in out and "__tracebackhide__" not in out
    assert len(out.splitlines()) < 60, out


# wrong derivatives that must all fail: (f, point, wrong df, wrt)
_A = np.array([[1.0, 2.0], [0.5, 3.0]])
_S = np.array([[2.0, 1.0], [1.0, 3.0]])
_x = np.array([0.4, -0.7])
MUTANTS = [
    ("1000000 * sum(x * e) + sum(x)", {"x": _x, "e": np.array([1.0, 0.0])},
     lambda x, e: np.array([1e6 + 1, 1.9]), "x"),
    ("sum(x * x)", {"x": _x}, lambda x: 2 * x + 5j, "x"),
    ("sum(x * x)", {"x": _x}, lambda x: 2 * x + 1e-3, "x"),
    ("A @ x", {"A": _S, "x": _x}, lambda A, x: A + 0 * A.T, "x"),
    ("A @ x", {"A": _A, "x": _x}, lambda A, x: A, "x"),
    ("x.T @ A @ x", {"A": _S, "x": _x}, lambda A, x: 2 * A @ x + 0 * x, "x"),
    ("x.T @ A @ x", {"A": _A, "x": _x}, lambda A, x: A @ x, "x"),
    ("sum(log(x))", {"x": np.array([0.5, 2.0])}, lambda x: 1 / x + 1e-4, "x"),
    ("sum(sin(x))", {"x": np.array([1000.0, 1.0])}, lambda x: np.cos(x) * 1.0001, "x"),
    ("sum(exp(x))", {"x": np.array([5.0, 1.0])}, lambda x: np.exp(x) + np.array([0, 1e-3]),
     "x"),
    ("sum(tanh(W.T @ a))", {"W": np.array([[0.7]]), "a": np.array([1.3])},
     lambda W, a: np.outer(a, np.ones(1)), "W"),
    ("sum(sigmoid(w * x))", {"w": np.array([0.3, -0.2]), "x": np.array([1.0, 2.0])},
     lambda w, x: _sigmoid(w * x) * x, "w"),
    ("logdet(A)", {"A": _A}, lambda A: np.linalg.inv(A), "A"),
    ("trace(A @ A)", {"A": _S}, lambda A: 2 * A, "A"),  # 2Aᵀ: equal only because A = Aᵀ
    ("sum(x * x)", {"x": np.zeros(2)}, lambda x: (2 * x)[:, None], "x"),
]


@pytest.mark.parametrize(("f", "at", "wrong", "wrt"), MUTANTS,
                         ids=[f"{k}:{m[0]}" for k, m in enumerate(MUTANTS)])
def test_every_mutant_fails(f, at, wrong, wrt):
    with pytest.raises(AssertionError):
        check_derivative(f, at, wrong, wrt=wrt)
    # and from differences of a numpy version of f, where one is easy to write
    expr = td.parse(f, {n: v.shape for n, v in at.items()})
    if not all(n == wrt or n in expr.variables for n in at):
        return
    with pytest.raises(AssertionError):
        check_derivative(lambda **v: td.evaluate(expr, v).dense(), at, wrong, wrt=wrt)
