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
used several times contributes one term per use, notes Definition 3), a reshaped array.
"""

from __future__ import annotations

import ast
import copy
import itertools
import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from fractions import Fraction
from typing import Any, Literal

import numpy as np

from ..core.ctensor import CTensor
from ..core.errors import DenseLimitError, TensorDerivError
from ..core.options import get_dense_limit
from ..symbolic.derivative import derive
from ..symbolic.evaluate import evaluate
from ..symbolic.expr import Expr
from ..symbolic.parse import parse
from . import differences

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
_MAX_PERMUTED_RANK = 6  # r! axis orders are tried as diagnoses up to this rank
_MAX_OCCURRENCES = 12  # paths tried one at a time; all proper subsets up to 4 occurrences


@dataclass(frozen=True)
class DerivativeCheck:
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


@dataclass(frozen=True)
class _Axes:
    """The derivative's axes: named groups (one per differentiation, then the output)."""

    groups: tuple[tuple[str, int], ...]  # (display name, rank), in the notes' order
    order: int  # how many leading groups are differentiations

    def positions(self, layout: str) -> list[int]:
        """Notes positions in the order of ``layout``."""
        ranks = [r for _, r in self.groups]
        starts = [sum(ranks[:g]) for g in range(len(ranks))]
        order = list(range(len(ranks)))
        if layout == "numerator":
            order = order[self.order:] + order[:self.order]
        return [starts[g] + i for g in order for i in range(ranks[g])]

    def names(self) -> list[str]:
        """``"W axis 0"`` … for each notes position."""
        return [f"{n} axis {i}" for n, r in self.groups for i in range(r)]

    def index(self, idx: tuple[int, ...], layout: str) -> str:
        """An index in ``layout`` order as ``W[1,0], f[2]`` (``f`` alone for a scalar)."""
        ranks = [r for _, r in self.groups]
        order = list(range(len(ranks)))
        if layout == "numerator":
            order = order[self.order:] + order[:self.order]
        parts, k = [], 0
        for g in order:
            name, r = self.groups[g]
            sub = idx[k:k + r]
            k += r
            parts.append(f"{name}[{','.join(map(str, sub))}]" if r else name)
        return ", ".join(parts)


@dataclass
class _Truth:
    """The true derivative, densely (notes layout) or as contractions with directions."""

    values: np.ndarray
    directions: list[list[np.ndarray]] | None  # None: ``values`` is the dense derivative
    xdim: int

    def probe(self, g: np.ndarray) -> np.ndarray:
        """``g`` (notes layout) brought to the form of ``values``."""
        if self.directions is None:
            return g
        out = []
        for us in self.directions:
            r = g
            for u in us:
                r = np.tensordot(u, r, axes=self.xdim)
            out.append(r)
        return np.stack(out)


def _close(got: np.ndarray, ref: np.ndarray, atol: float, rtol: float) -> bool:
    with np.errstate(invalid="ignore", over="ignore"):
        return bool(np.all(np.abs(got - ref) <= atol + rtol * np.abs(ref)))


def check_derivative(
    f: Expr | str | Callable[..., Any],
    at: Mapping[str, Any] | Any,
    df: Callable[..., Any],
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
        df: the derivative to check (a numpy function, called like ``f``).
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
        raise ValueError(f"layout must be 'notes', 'denominator' or 'numerator', got {layout!r}")
    layout = "notes" if layout == "denominator" else layout
    if mode not in ("auto", "dense", "directional"):
        raise ValueError(f"mode must be 'auto', 'dense' or 'directional', got {mode!r}")
    if not isinstance(order, int) or isinstance(order, bool) or order < 1:
        raise ValueError(f"order must be a positive integer, got {order!r}")
    if int(directions) < 1:
        raise ValueError("directions must be at least 1")
    if not (isinstance(eps, int | float) and MIN_EPS <= eps <= MAX_EPS):
        raise ValueError(f"eps must be between {MIN_EPS:g} and {MAX_EPS:g}, got {eps!r}: below, "
                         "rounding noise swamps the differences (and would inflate the "
                         "tolerance); above, truncation does")
    for what, tol in (("atol", atol), ("rtol", rtol)):
        if tol is not None and not (np.isfinite(tol) and tol >= 0):
            raise ValueError(f"{what} must be a finite number >= 0, got {tol!r}")
    single = not isinstance(at, Mapping)
    if isinstance(wrt, Expr):
        wrt = wrt.text
    if isinstance(f, str):
        if single:
            raise ValueError("for expression text, give the point as a mapping name → array, "
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
                raise ValueError(f"give wrt=: the point has several variables {sorted(values)}")
            name = next(iter(values))
    if name not in values:
        raise ValueError(f"wrt={name!r} is not in the point (its variables: {sorted(values)})")
    if not isinstance(f, Expr) and not callable(f):
        raise TypeError(f"f must be an expression, its text, or a function; got "
                        f"{type(f).__name__}")
    job = _Job(f, df, name, single, order, layout, eps, atol, rtol, mode, int(directions), seed)
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
            truth = _Truth(ct.dense() if dense else differences.contract_with(ct, dirs), dirs,
                           x.ndim)
            step = max(1.0, _absmax(x))
            source: Literal["symbolic", "differences"] = "symbolic"
            evaluations = 0
            fdesc = f"{f.text!r}"
        else:
            counter = [0]

            def g(y: np.ndarray) -> np.ndarray:
                counter[0] += 1
                out = self.call(f, {**values, name: y})
                if not np.all(np.isfinite(out)):
                    raise ValueError(f"f is not finite at a point within h = eps·max(1, |x|) "
                                     f"of the given {name}; lower eps (now {eps:g})")
                return out

            f0 = g(x)
            out_shape, f_scale, step = f0.shape, _absmax(f0), eps
            dense = self.mode == "dense" or (self.mode == "auto"
                                             and x.size ** order <= AUTO_DENSE_MAX)
            if dense:
                truth = _Truth(differences.dense(g, x, order, eps), None, x.ndim)
            else:
                dirs = differences.directions(rng, x, order, self.directions)
                along = [differences.along(g, x, us, eps) for us in dirs]
                truth = _Truth(np.stack(along), dirs, x.ndim)
            source, evaluations = "differences", counter[0]
            fdesc = getattr(f, "__name__", type(f).__name__)
        out_name = "f" if name != "f" else "out"
        groups = [(name if order == 1 else f"{name}{_sup(c, paren=True)}", x.ndim)
                  for c in range(1, order + 1)]
        axes = _Axes((*groups, (out_name, len(out_shape))), order)
        what = (f"∂{out_name}/∂{name}" if order == 1 else
                f"∂{_sup(order)}{out_name}/∂{name}{_sup(order)}")
        if not (math.isfinite(f_scale) and np.all(np.isfinite(truth.values))):
            raise ValueError(f"check_derivative: {fdesc} or its true derivative is not finite at "
                             f"the given {name}; check at a point inside the domain")
        atol = self.atol
        if atol is None:
            atol = (ATOL_FRACTION * _absmax(truth.values)
                    + NOISE_ULPS * _EPS * f_scale / step ** order + _TINY)
        raw = self.df(values[name]) if self.single else self.df(**values)
        if np.iscomplexobj(raw):
            user = np.asarray(np.real(raw), dtype=np.float64)
            complex_answer = True
        else:
            user = np.asarray(raw, dtype=np.float64)
            complex_answer = False
        notes_shape = x.shape * order + tuple(out_shape)
        to_notes = _inverse(axes.positions(self.layout))
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
            if _close(got, truth.values, atol, self.rtol):
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
    truth: _Truth
    axes: _Axes
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
        paths = _path_truths(job.f, job.name, self.values, job.order, self.truth) \
            if isinstance(job.f, Expr) else []
        return _diagnose(self.user, self.truth, self.axes, job.layout, self.notes_shape,
                         self.atol, job.rtol, paths)

    def message(self, job: _Job, findings: list[tuple[str, str]] | None = None,
                where: str = "at the given point") -> str:
        """The failure message (diagnosed here unless ``findings`` are given)."""
        if findings is None:
            findings = self.diagnose(job)
        text = _report(self.what, self.fdesc, self.user, self.truth, self.axes, job.layout,
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
        raise ValueError(f"{name}: masked arrays are not supported (the mask would be lost)")
    if np.iscomplexobj(v):
        raise ValueError(f"{name}: the point must be real, got complex values")
    return np.array(v, dtype=np.float64)


def _sup(k: int, paren: bool = False) -> str:
    s = str(k).translate(str.maketrans("0123456789", "⁰¹²³⁴⁵⁶⁷⁸⁹"))
    return f"⁽{s}⁾" if paren else s


def _inverse(perm: list[int]) -> list[int]:
    inv = [0] * len(perm)
    for p, q in enumerate(perm):
        inv[q] = p
    return inv


# ---------------------------------------------------------------- missing paths
def _occurrences(text: str, name: str) -> list[tuple[int, int]]:
    """Columns ``(start, end)`` of each use of the variable ``name`` in ``text``."""
    try:
        tree = ast.parse(text.strip(), mode="eval")
    except (SyntaxError, RecursionError, MemoryError):
        return []
    spots = [(n.col_offset, n.end_col_offset or n.col_offset) for n in ast.walk(tree)
             if isinstance(n, ast.Name) and n.id == name]
    return sorted(spots)


def _path_truths(f: Expr, name: str, values: Mapping[str, np.ndarray], order: int,
                 truth: _Truth) -> list[tuple[str, str, np.ndarray]]:
    """Derivatives with some uses of ``name`` in ``f`` held constant (paths left out).

    A use held constant is a path left out of the total derivative (notes Definition 3). For
    order k ≥ 2 two answers are possible: the use held constant throughout, or left out of the
    first derivative only, which was then differentiated correctly (as when a Hessian is taken of
    a gradient that missed a path); both are returned.
    """
    text = f.text.strip()
    spots = _occurrences(text, name)
    if not 2 <= len(spots) <= _MAX_OCCURRENCES:
        return []
    shapes = {n: v.shape for n, v in values.items()}
    try:
        if parse(text, shapes).node is not f.node:  # the text does not round-trip: skip
            return []
    except (TensorDerivError, TypeError, ValueError):
        return []
    held = f"{name}_held"
    while held in shapes:
        held += "_"
    at = {**values, held: values[name]}
    m = len(spots)
    out = []
    for k in range(1, m) if m <= 4 else range(1, 2):
        for subset in itertools.combinations(range(m), k):
            new = text
            for j in sorted(subset, reverse=True):
                new = new[:spots[j][0]] + held + new[spots[j][1]:]
            cols = ", ".join(str(spots[j][0]) for j in subset)
            marks = "".join("^" if any(spots[j][0] == c for j in subset) else " "
                            for c in range(len(text))).rstrip()
            uses = f"the use of {name} at column {cols}" if k == 1 else \
                f"the uses of {name} at columns {cols}"
            show = f"(a variable used several times contributes one term per use, notes " \
                f"Definition 3):\n      {text}\n      {marks}"
            try:
                e = parse(new, {**shapes, held: values[name].shape})
                used = {n: v for n, v in at.items() if n in e.variables or n == name}
                q = _dense_or_probed(derive(e, name, order=order).evaluate(used), truth)
                out.append(("missing path", f"missing path: yours equals the derivative with "
                            f"{uses} held constant — the path through it is left out {show}", q))
                if order == 1:
                    continue
                later = [p for p in itertools.product((name, held), repeat=order - 1)]
                q = sum(_dense_or_probed(derive(e, (*p, name)).evaluate(used), truth)
                        for p in later)
                out.append(("missing path", f"missing path in the first derivative: yours "
                            f"equals the derivative of a first derivative with {uses} held "
                            f"constant, differentiated correctly after that {show}", q))
            except (TensorDerivError, DenseLimitError, ValueError):
                continue
    return out


def _dense_or_probed(ct: CTensor, truth: _Truth) -> np.ndarray:
    if truth.directions is None:
        return ct.dense()
    return differences.contract_with(ct, truth.directions)


# ---------------------------------------------------------------- diagnosis
def _scale_words(c: float) -> tuple[str, str]:
    """A fitted factor in words: ``(short, long)``."""
    nice = float(f"{c:.6g}")
    if nice == -1.0:
        return "the sign is flipped", "the sign is flipped: yours is −1 × the true derivative"
    frac = Fraction(c).limit_denominator(16)
    simple = (f" (= {frac})" if frac.denominator > 1 and len(repr(nice)) > 6
              and abs(float(frac) - c) <= 1e-6 * abs(c) else "")
    short = f"off by a factor of {nice!r}{simple}"
    return short, f"{short}: yours is {nice:g} × the true derivative"


def _fit(got: np.ndarray, ref: np.ndarray) -> float | None:
    den = float(np.vdot(ref, ref))
    return float(np.vdot(got, ref)) / den if den > 0 and np.isfinite(den) else None


def _describe_order(perm_labels: list[str], axes: _Axes, layout: str) -> tuple[str, str]:
    """An order of the axes in words: ``(short, long)``."""
    names = axes.names()
    exp = [names[p] for p in axes.positions(layout)]
    other = [names[p] for p in axes.positions("numerator" if layout == "notes" else "notes")]
    if perm_labels == other and other != exp:
        if layout == "notes":
            return ("numerator layout (the transpose)",
                    "numerator layout: yours has the output's axes first, the JAX/PyTorch "
                    "order — the transpose of the notes' layout (notes Clarification 10); "
                    "transpose it, or pass layout='numerator' if that is the layout you meant")
        return ("notes layout (the transpose)",
                "notes layout: yours has the variable's axes first, the notes' (denominator) "
                "order — the transpose of the numerator layout (notes Clarification 10); pass "
                "layout='notes', or transpose it")
    moved = [i for i, (a, b) in enumerate(zip(perm_labels, exp, strict=True)) if a != b]
    extra = ""
    if len(moved) == 2:
        a, b = perm_labels[moved[0]].rsplit(" axis ", 1)[0], exp[moved[0]].rsplit(" axis ", 1)[0]
        ranks = dict(axes.groups)
        if a == b and ranks.get(a) == 2:
            extra = f" — the two axes of {a} are swapped (you returned the transpose of {a})"
    return ("axes permuted", f"axes permuted: yours has its axes in the order "
            f"({', '.join(perm_labels)}); the {layout} layout is ({', '.join(exp)}){extra}")


def _diagnose(user: np.ndarray, truth: _Truth, axes: _Axes, layout: str,
              notes_shape: tuple[int, ...], atol: float, rtol: float,
              paths: list[tuple[str, str, np.ndarray]]) -> list[tuple[str, str]]:
    """The common mistakes ``user`` is consistent with: ``(short, long)`` descriptions."""
    ref = truth.values
    if not np.all(np.isfinite(user)):
        return [("non-finite entries", "yours has non-finite entries (nan or inf)")]
    ref_zero = _close(np.zeros_like(ref), ref, atol, rtol)
    found: list[tuple[str, str]] = []
    user_zero = _close(user, np.zeros_like(user), atol, 0.0)
    if user.size and user_zero and not ref_zero:
        found.append(("zero", "zero: yours is zero everywhere, the true derivative is not"))
    names = axes.names()
    identity = _inverse(axes.positions(layout))
    rank = len(notes_shape)
    perms: list[list[int]] = []
    other = _inverse(axes.positions("notes" if layout == "numerator" else "numerator"))
    if user.ndim == rank:
        cands = (itertools.permutations(range(rank)) if rank <= _MAX_PERMUTED_RANK
                 else [identity, other])
        perms = [list(p) for p in cands if tuple(user.shape[q] for q in p) == notes_shape]
        # simplest first: the expected order, the other layout, then any other order; only the
        # simplest class that explains the answer is reported (a symmetry of the true derivative,
        # such as a δ, can make several orders fit equally well)
        perms.sort(key=lambda p: 0 if p == identity else 1 if p == other else 2)
    best = 3
    for p in perms:
        rank_class = 0 if p == identity else 1 if p == other else 2
        if rank_class > best:
            break
        mine = truth.probe(user.transpose(p))
        c = 1.0 if _close(mine, ref, atol, rtol) else _fit(mine, ref)
        if c is None or (c != 1.0 and (ref_zero or user_zero)) or \
                not _close(mine, c * ref, atol, rtol * abs(c)):
            continue
        words = []
        if p != identity:
            inv = _inverse(p)
            words.append(_describe_order([names[inv[q]] for q in range(rank)], axes, layout))
        if float(f"{c:.6g}") != 1.0:
            words.append(_scale_words(c))
        if words:
            best = rank_class
            found.append((" and ".join(w[0] for w in words), "; and ".join(w[1] for w in words)))
    if not perms and not user_zero and user.size == math.prod(notes_shape):
        for lay in (layout, "numerator" if layout == "notes" else "notes"):
            shape = tuple(notes_shape[q] for q in axes.positions(lay))
            mine = truth.probe(user.reshape(shape).transpose(_inverse(axes.positions(lay))))
            if _close(mine, ref, atol, rtol):
                note = "" if lay == layout else f" (that is the {lay} layout)"
                found.append(("reshaped", f"reshaped: yours has the right entries in shape "
                              f"{user.shape}; reshape it to {shape}{note}"))
                break
    if perms and perms[0] == identity:
        mine = truth.probe(user.transpose(identity))
        found.extend((short, long) for short, long, q in paths if _close(mine, q, atol, rtol))
    return found


def _report(what: str, fdesc: str, user: np.ndarray, truth: _Truth, axes: _Axes, layout: str,
            expected: tuple[int, ...], to_notes: list[int], findings: list[tuple[str, str]],
            atol: float, rtol: float, how: str) -> str:
    """The failure message: where, by how much, and the diagnosis."""
    shorts = list(dict.fromkeys(short for short, _ in findings))
    summary = "; ".join(shorts) if findings else "no common mistake recognised"
    lines = [f"{what} does not match the true derivative of {fdesc} at the given point: "
             f"{summary}"]
    names = axes.names()
    lines.append(f"  {layout} layout: shape {expected}, axes "
                 f"({', '.join(names[p] for p in axes.positions(layout))})")
    if user.shape != expected:
        lines.append(f"  yours has shape {user.shape}")
    else:
        ref = truth.values
        mine = truth.probe(user.transpose(to_notes))
        tol = atol + rtol * np.abs(ref)
        with np.errstate(invalid="ignore", over="ignore"):
            err = np.abs(mine - ref)
            excess = np.where(np.isnan(err), np.inf, err / tol)
        k = tuple(int(i) for i in np.unravel_index(int(np.argmax(excess)), excess.shape))
        if truth.directions is None:
            idx = tuple(k[p] for p in _inverse(to_notes))
            where = f"worst entry: {axes.index(idx, layout)} (index {idx})"
        else:
            out_name, out_rank = axes.groups[-1]
            entry = f"{out_name}[{','.join(map(str, k[1:]))}]" if out_rank else out_name
            where = (f"worst contraction: {entry} along random direction {k[0] + 1} of "
                     f"{len(truth.directions)}")
        lines.append(f"  {where}: yours {mine[k]:.6g}, true {ref[k]:.6g}, error {err[k]:.3g} "
                     f"> tolerance {tol[k]:.3g}")
        bad = int(np.sum(~(err <= tol)))
        norm = float(np.linalg.norm(ref))
        rel = (f"; relative error {float(np.linalg.norm(mine - ref)) / norm:.3g} in norm"
               if norm > 0 and np.all(np.isfinite(mine)) else "")
        lines.append(f"  {bad} of {ref.size} compared values differ{rel}")
    for _, long in findings:
        lines.append(f"  diagnosis: {long}")
    if not findings:
        checked = "the other layout, permuted axes, a flipped sign, a constant factor, a reshape"
        checked += ", missing paths" if how.startswith("symbolic") else ""
        lines.append(f"  diagnosis: no common mistake recognised (checked: {checked})")
    lines.append(f"  true derivative: {how}")
    return "\n".join(lines)
