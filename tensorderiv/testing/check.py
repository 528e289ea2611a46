"""``check_derivative``: test a hand-derived derivative, and say in words what is wrong with it.

The true derivative comes from :func:`tensorderiv.derive` when ``f`` is an expression (or its
text), and from central differences in float64 with Richardson extrapolation when ``f`` is a plain
numpy function — entry by entry for small tensors, along random directions (a dot-product test)
for large ones. Both are compared in the notes' layout: the variable's axes first (once per
differentiation), then the output's axes; ``layout="numerator"`` is the transposed (JAX/PyTorch)
order (notes Clarification 10).

When the answer is wrong, the ``AssertionError`` names the worst entry by its axes
(``W[1,0], f[2]``), the size of the error, and the common mistakes the answer is consistent with:
the other layout, permuted axes, a flipped sign, a constant factor, a missing path (a variable
used several times contributes one term per use, notes Definition 3), a reshaped array (the
diagnosis and the message: :mod:`tensorderiv.testing.diagnosis`).
"""

from __future__ import annotations

import copy
import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np

from ..core.ctensor import CTensor
from ..core.errors import ArgumentError, DomainError, OptionError, TensorDerivError, ValuesError
from ..core.options import get_dense_limit
from ..core.progress import Progress
from ..core.renderers import Rendered
from ..symbolic.derivative import Derivative, derive
from ..symbolic.evaluate import evaluate
from ..symbolic.expr import Expr
from ..symbolic.parse import parse
from . import differences
from .diagnosis import Axes, Truth, close, diagnose, inverse, path_truths, report

__all__ = ["ATOL_FRACTION", "AUTO_DENSE_MAX", "MAX_EPS", "MIN_EPS", "NOISE_ULPS",
           "DerivativeCheck", "check_derivative"]

Layout = Literal["notes", "denominator", "numerator"]
Mode = Literal["auto", "dense", "directional"]

#: ``auto`` differences entry by entry while ``x.size ** order`` is at most this, else directionally
AUTO_DENSE_MAX = 128
#: the default ``atol`` is this fraction of the largest |entry| of the true derivative (small, so
#: that a wrong small entry next to a large one fails; each entry also has ``rtol·|true|``) …
ATOL_FRACTION = 1e-9
#: … plus this many float64 epsilons of max|f(x)|, divided by the step to the power ``order``
NOISE_ULPS = 100.0
#: the range of ``eps`` accepted
MIN_EPS, MAX_EPS = 1e-8, 0.1

@dataclass(frozen=True, repr=False)
class DerivativeCheck(Rendered):  # repr and rich display: tensorderiv.display
    """What a passing :func:`check_derivative` compared.

    Attributes:
        source: ``"symbolic"`` (:func:`tensorderiv.derive`) or ``"differences"``.
        mode: ``"dense"`` (every entry) or ``"directional"`` (contractions with random directions).
        shape: the shape of the derivative in the layout checked.
        max_error: the largest ``|yours − true|`` over the entries (or contractions) compared.
        evaluations: how many times ``f`` was called (0 for symbolic derivatives).
        atol: the absolute tolerance used (the default's value when ``atol=None``).
    """

    source: Literal["symbolic", "differences"]
    mode: Literal["dense", "directional"]
    shape: tuple[int, ...]
    max_error: float
    evaluations: int
    atol: float = 0.0



def check_derivative(
    f: Expr | str | Callable[..., Any],
    at: Mapping[str, Any] | Any,
    df: Callable[..., Any] | Any,
    *,
    wrt: str | Expr | None = None,
    order: int = 1,
    layout: Layout = "notes",
    eps: float = 1e-3,
    atol: float | None = None,
    rtol: float = 1e-5,
    mode: Mode = "auto",
    directions: int = 6,
    seed: int = 0,
    second_point: bool | None = None,
) -> DerivativeCheck:
    """Check ``df``, a hand-derived derivative of ``f``, at the point ``at``.

    Calling convention: with a mapping ``at`` (variable name → array), ``f(**at)`` and
    ``df(**at)``; with a single array ``at``, ``f(at)`` and ``df(at)`` (the variable is called
    ``x``, or ``wrt`` when given as a name). ``df`` returns the order-``order`` derivative with
    respect to ``wrt`` as an array in ``layout``: ``"notes"`` (or ``"denominator"``) puts the
    variable's axes first, once per differentiation, then the output's axes, shape
    ``x.shape * order + f.shape``; ``"numerator"`` puts the output's axes first.

    Args:
        f: a tensorderiv expression, its text (shapes are taken from ``at``), or a numpy function.
        at: the point, as described above; values are used as float64.
        df: the derivative to check: a numpy function, called like ``f``; or its value at
            ``at`` (an array in ``layout``, a ``CTensor``, or a ``Derivative`` to evaluate).
        wrt: the variable's name (or variable); needed when ``at`` has several entries.
        order: how many times ``f`` is differentiated.
        layout: the layout ``df`` returns.
        eps: the relative step of the differences, ``h = eps · max(1, |x|)`` (numpy functions),
            between :data:`MIN_EPS` and :data:`MAX_EPS` (a tiny step would inflate the
            tolerance, which follows the rounding noise of the differences).
        atol: absolute tolerance; entries pass when ``|yours − true| ≤ atol + rtol·|true|``.
            ``None`` (the default) scales it with the true derivative, so that a small
            derivative is checked as strictly as a large one:
            ``atol = ATOL_FRACTION·max|true| + NOISE_ULPS·ε·max|f(x)| / s**order + tiny`` (1e-9
            and 100; ε the float64 epsilon, tiny its smallest normal number, 2.2e-308). The
            second term is the float64 noise of the truth relative to the function's scale:
            ``s = eps`` for differences (the rounding of ``f`` divided by the step),
            ``s = max(1, max|x|)`` for symbolic derivatives.
        rtol: relative tolerance.
        mode: ``"dense"`` compares every entry; ``"directional"`` compares contractions of both
            derivatives with ``directions`` random directions u (for numpy functions the true one
            is the difference ``(f(x+hu) − f(x−hu))/2h``, nested for higher orders); ``"auto"``
            is dense up to :data:`AUTO_DENSE_MAX` probes (``x.size ** order``), and always for
            expressions whose derivative fits in the dense limit.
        directions: how many random directions (or tuples of them, for higher orders).
        seed: the seed of the random directions, so a failure is reproducible.
        second_point: whether to compare at a nearby generic point too (every value moved by
            a seeded random amount; ``df`` must then be a function of the point, not a constant
            answer). ``None`` (the default): a diagnosis is named only when the generic point
            shows the same one (a degenerate point, as Hypothesis shrinks to — zeros, 1×1 —
            then says "no common mistake recognised" rather than a wrong name), and a pass at a
            point with a symmetric matrix among its values must hold at the generic point too
            (a layout mistake, Aᵀ for A, is invisible there). ``True``: a pass must always hold
            at the generic point too. ``False``: the given point only.

    Returns:
        A :class:`DerivativeCheck` record of what was compared.

    Raises:
        AssertionError: when ``df`` differs from the true derivative; the message gives the
            worst entry by axis labels, the error, and the mistakes the answer is consistent with.
        ValueError: for a point or options that do not fit ``f``.

    Example:
        >>> import numpy as np
        >>> from tensorderiv.testing import check_derivative
        >>> A = np.array([[1.0, 2.0], [0.0, 3.0]])
        >>> at = {"x": np.array([1.0, -1.0]), "A": A}
        >>> check_derivative("x.T @ A @ x", at, lambda x, A: (A + A.T) @ x, wrt="x").source
        'symbolic'
        >>> check_derivative(lambda x: np.sin(x), np.array([0.5, 1.0]),
        ...                  lambda x: np.diag(np.cos(x))).mode
        'dense'
        >>> check_derivative("x.T @ A @ x", at, lambda x, A: A @ x, wrt="x")
        ... # doctest: +ELLIPSIS
        Traceback (most recent call last):
        AssertionError: ∂f/∂x does not match ... at the given point: missing path ...
    """
    __tracebackhide__ = True  # pytest shows the message and the caller's frame, not this code
    if layout not in ("notes", "denominator", "numerator"):
        raise OptionError(f"layout must be 'notes', 'denominator' or 'numerator', got {layout!r}")
    layout = "notes" if layout == "denominator" else layout
    if mode not in ("auto", "dense", "directional"):
        raise OptionError(f"mode must be 'auto', 'dense' or 'directional', got {mode!r}")
    if not isinstance(order, int) or isinstance(order, bool) or order < 1:
        raise OptionError(f"order must be a positive integer, got {order!r}")
    if int(directions) < 1:
        raise OptionError("directions must be at least 1")
    if not (isinstance(eps, int | float) and MIN_EPS <= eps <= MAX_EPS):
        raise OptionError(f"eps must be between {MIN_EPS:g} and {MAX_EPS:g}, got {eps!r}: below, "
                          "rounding noise swamps the differences (and would inflate the "
                          "tolerance); above, truncation does")
    for what, tol in (("atol", atol), ("rtol", rtol)):
        if tol is not None and not (np.isfinite(tol) and tol >= 0):
            raise OptionError(f"{what} must be a finite number >= 0, got {tol!r}")
    single = not isinstance(at, Mapping)
    if isinstance(wrt, Expr):
        wrt = wrt.text
    if isinstance(f, str):
        if single:
            raise OptionError("for expression text, give the point as a mapping name → array, "
                              "so that each name has a shape")
        values = _floats(at)
        try:
            f = parse(f, {n: v.shape for n, v in values.items()})
        except TensorDerivError as exc:
            raise _restated(exc) from None
    name = wrt if isinstance(wrt, str) else None
    if single:
        if name is None:
            name = f.variables[0] if isinstance(f, Expr) and len(f.variables) == 1 else "x"
        values = {name: _float_array(name, at)}
    else:
        values = _floats(at)
        if name is None:
            if len(values) != 1:
                raise OptionError(f"give wrt=: the point has several variables {sorted(values)}")
            name = next(iter(values))
    if name not in values:
        raise OptionError(f"wrt={name!r} is not in the point (its variables: {sorted(values)})")
    if not isinstance(f, Expr) and not callable(f):
        raise ArgumentError(f"f must be an expression, its text, or a function; got "
                            f"{type(f).__name__}")
    job = _Job(f, df, name, single, order, layout, eps, atol, rtol, mode, int(directions), seed)
    if not callable(df) and not isinstance(df, Derivative):
        second_point = False  # a value for the given point only: it cannot be asked elsewhere
    first = job.at(values)
    confirm_pass = second_point or (second_point is None and _has_symmetric_matrix(values))
    if first.failed is None and not confirm_pass:
        assert first.record is not None
        return first.record
    if first.failed is None:
        other = _generic_point(job, values)
        if other is None or other.failed is None:
            assert first.record is not None
            return first.record
        raise AssertionError(other.message(job, [], "at a nearby generic point") + "\n  note: "
                             "yours matches at the given point but not at a nearby generic "
                             "point (second_point=True), so the given point is special (a "
                             "symmetric matrix, zeros, equal entries …) and hides the mistake")
    findings = first.diagnose(job)
    if findings and second_point is not False:  # named only when a generic point agrees
        other = _generic_point(job, values)
        if other is not None:
            confirmed = {short for short, _ in other.diagnose(job)} if other.failed else set()
            findings = [(s, lo) for s, lo in findings if s in confirmed]
    raise AssertionError(first.message(job, findings))


@dataclass
class _Job:
    """What is checked, and how; :meth:`at` checks it at one point."""

    f: Any
    df: Callable[..., Any]
    name: str
    single: bool
    order: int
    layout: str
    eps: float
    atol: float | None
    rtol: float
    mode: str
    directions: int
    seed: int

    def call(self, fn: Callable[..., Any], vals: Mapping[str, np.ndarray]) -> np.ndarray:
        out = fn(vals[self.name]) if self.single else fn(**vals)
        return np.asarray(out, dtype=np.float64)

    def at(self, values: dict[str, np.ndarray]) -> _Point:
        """Compare at ``values``: ``failed`` is ``None`` on a pass."""
        name, order, eps = self.name, self.order, self.eps
        x = values[name]
        rng = np.random.default_rng(self.seed)
        f = self.f
        if isinstance(f, Expr):
            used = {n: v for n, v in values.items() if n in f.variables or n == name}
            f_scale = _value_scale(f, values)
            try:
                ct = derive(f, name, order=order).evaluate(used)
            except TensorDerivError as exc:
                raise _restated(exc) from None
            out_shape = f.shape
            dense = self.mode == "dense" or (self.mode == "auto"
                                             and ct.dense_nbytes <= get_dense_limit())
            dirs = None if dense else differences.directions(rng, x, order, self.directions)
            truth = Truth(ct.dense() if dense else differences.contract_with(ct, dirs), dirs,
                           x.ndim)
            step = max(1.0, _absmax(x))
            source: Literal["symbolic", "differences"] = "symbolic"
            evaluations = 0
            fdesc = f"{f.text!r}"
        else:
            counter = [0]
            bar = Progress(desc=f"check_derivative: differences in {name}")  # a bar if long

            def g(y: np.ndarray) -> np.ndarray:
                counter[0] += 1
                bar.update()
                out = self.call(f, {**values, name: y})
                if not np.all(np.isfinite(out)):
                    raise DomainError(f"f is not finite at a point within h = eps·max(1, |x|) "
                                      f"of the given {name}; lower eps (now {eps:g})")
                return out

            f0 = g(x)
            out_shape, f_scale, step = f0.shape, _absmax(f0), eps
            dense = self.mode == "dense" or (self.mode == "auto"
                                             and x.size ** order <= AUTO_DENSE_MAX)
            bar.set_total(1 + ((4 * x.size) ** order if dense else self.directions * 4 ** order))
            if dense:
                truth = Truth(differences.dense(g, x, order, eps), None, x.ndim)
            else:
                dirs = differences.directions(rng, x, order, self.directions)
                along = [differences.along(g, x, us, eps) for us in dirs]
                truth = Truth(np.stack(along), dirs, x.ndim)
            bar.close()
            source, evaluations = "differences", counter[0]
            fdesc = getattr(f, "__name__", type(f).__name__)
        out_name = "f" if name != "f" else "out"
        groups = [(name if order == 1 else f"{name}{_sup(c, paren=True)}", x.ndim)
                  for c in range(1, order + 1)]
        axes = Axes((*groups, (out_name, len(out_shape))), order)
        what = (f"∂{out_name}/∂{name}" if order == 1 else
                f"∂{_sup(order)}{out_name}/∂{name}{_sup(order)}")
        if not (math.isfinite(f_scale) and np.all(np.isfinite(truth.values))):
            raise DomainError(f"check_derivative: {fdesc} or its true derivative is not finite at "
                              f"the given {name}; check at a point inside the domain")
        atol = self.atol
        if atol is None:
            atol = (ATOL_FRACTION * _absmax(truth.values)
                    + NOISE_ULPS * _EPS * f_scale / step ** order + _TINY)
        df = self.df
        if isinstance(df, Derivative):  # a Derivative: evaluated here, in the layout asked for
            df = df.evaluate({k: v for k, v in values.items() if k in df.variables_allowed})
        if isinstance(df, CTensor):
            raw = df.dense(layout=self.layout)
        elif not callable(df):
            raw = df  # the derivative's value at the given point
        else:
            raw = df(values[name]) if self.single else df(**values)
        if np.iscomplexobj(raw):
            user = np.asarray(np.real(raw), dtype=np.float64)
            complex_answer = True
        else:
            user = np.asarray(raw, dtype=np.float64)
            complex_answer = False
        notes_shape = x.shape * order + tuple(out_shape)
        to_notes = inverse(axes.positions(self.layout))
        expected = tuple(notes_shape[p] for p in axes.positions(self.layout))
        how = ("symbolic (tensorderiv.derive)" if source == "symbolic" else
               f"central differences with Richardson extrapolation, h = {eps:g}·max(1, "
               f"|{name}|), {evaluations} evaluations of f")
        how += "" if dense else (f"; compared along {self.directions} random directions (seed "
                                 f"{self.seed})")
        point = _Point(what, fdesc, user, truth, axes, expected, to_notes, notes_shape, atol,
                       how, dict(values), None, None)
        if complex_answer:
            point.failed = "complex"
            return point
        if user.shape == expected:
            got = truth.probe(user.transpose(to_notes))
            if close(got, truth.values, atol, self.rtol):
                err = float(np.max(np.abs(got - truth.values))) if got.size else 0.0
                point.record = DerivativeCheck(source, "dense" if dense else "directional",
                                               expected, err, evaluations, atol)
                return point
        point.failed = "mismatch"
        return point


@dataclass
class _Point:
    """The comparison at one point."""

    what: str
    fdesc: str
    user: np.ndarray
    truth: Truth
    axes: Axes
    expected: tuple[int, ...]
    to_notes: list[int]
    notes_shape: tuple[int, ...]
    atol: float
    how: str
    values: dict[str, np.ndarray]
    failed: str | None
    record: DerivativeCheck | None

    def diagnose(self, job: _Job) -> list[tuple[str, str]]:
        """The common mistakes yours is consistent with here."""
        if self.failed == "complex":
            return [("complex", "yours is complex; a derivative of a real function is real "
                     "(drop the imaginary part where it is a rounding artefact)")]
        paths = path_truths(job.f, job.name, self.values, job.order, self.truth) \
            if isinstance(job.f, Expr) else []
        return diagnose(self.user, self.truth, self.axes, job.layout, self.notes_shape,
                         self.atol, job.rtol, paths)

    def message(self, job: _Job, findings: list[tuple[str, str]] | None = None,
                where: str = "at the given point") -> str:
        """The failure message (diagnosed here unless ``findings`` are given)."""
        if findings is None:
            findings = self.diagnose(job)
        text = report(self.what, self.fdesc, self.user, self.truth, self.axes, job.layout,
                       self.expected, self.to_notes, findings, self.atol, job.rtol, self.how)
        return text.replace(" at the given point", f" {where}", 1)


def _has_symmetric_matrix(values: Mapping[str, np.ndarray]) -> bool:
    """True when a value holds a symmetric square matrix (n ≥ 2) on its last two axes."""
    for v in values.values():
        if v.ndim >= 2 and v.shape[-1] == v.shape[-2] >= 2 \
                and np.array_equal(v, np.swapaxes(v, -1, -2)):
            return True
    return False


def _generic_point(job: _Job, values: dict[str, np.ndarray]) -> _Point | None:
    """The comparison at a nearby generic point: every value moved by a small random amount.

    Symmetric matrices, zeros and equal entries are broken, so a mistake they hide shows. The
    move is 10% of (1 + |value|), then 1% and 0.1% if ``f`` is undefined there; ``None`` when
    no such point can be evaluated.
    """
    rng = np.random.default_rng([job.seed, 13])
    noise = {n: rng.standard_normal(v.shape) for n, v in values.items()}
    for size in (0.1, 0.01, 0.001):
        moved = {n: v + size * (1.0 + np.abs(v)) * noise[n] for n, v in values.items()}
        try:
            return job.at(moved)
        except (TensorDerivError, ValueError, ArithmeticError):
            continue
    return None


# ---------------------------------------------------------------- the true derivative
_EPS = float(np.finfo(np.float64).eps)
_TINY = float(np.finfo(np.float64).tiny)  # below it float64 has no relative precision left


def _absmax(a: Any) -> float:
    """The largest |entry| of ``a`` (0 for an empty array; inf when one is not finite)."""
    a = np.asarray(a, dtype=np.float64)
    return float(np.max(np.abs(a), initial=0.0)) if not np.isnan(a).any() else math.inf


def _value_scale(f: Expr, values: Mapping[str, np.ndarray]) -> float:
    """max|f(x)| from the compact value of ``f``; a DomainError where ``f`` is undefined."""
    try:  # f itself must be defined at the point, even where its derivative's formula is
        ct = evaluate(f, {n: v for n, v in values.items() if n in f.variables})
    except TensorDerivError as exc:
        raise _restated(exc) from None
    return _absmax(ct.core)


def _restated(exc: TensorDerivError) -> TensorDerivError:
    """The same error (its class kept, so ``except td.DomainError`` works), said by the checker."""
    new = copy.copy(exc)
    new.args = (f"check_derivative: {exc}",)
    return new


def _floats(at: Mapping[str, Any]) -> dict[str, np.ndarray]:
    return {str(n): _float_array(str(n), v) for n, v in at.items()}


def _float_array(name: str, v: Any) -> np.ndarray:
    """A value of the point as float64; masked or complex values are refused, not cast."""
    if isinstance(v, np.ma.MaskedArray):
        raise ValuesError(f"{name}: masked arrays are not supported (the mask would be lost)")
    if np.iscomplexobj(v):
        raise ValuesError(f"{name}: the point must be real, got complex values")
    return np.array(v, dtype=np.float64)


def _sup(k: int, paren: bool = False) -> str:
    s = str(k).translate(str.maketrans("0123456789", "⁰¹²³⁴⁵⁶⁷⁸⁹"))
    return f"⁽{s}⁾" if paren else s
