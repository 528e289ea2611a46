"""What ``tensorderiv derive`` reports about a derivative, as records the renderers print.

:func:`build_report` evaluates a :class:`~tensorderiv.Derivative` once and gathers: its symbolic
matrix form (when :mod:`tensorderiv.forms.notation` can write one), the contraction it evaluates,
the c-tensor's labelled axes and how they are stored, the notes' matrix form, and — when values were
given — the numbers and a finite-difference check of them.

Without values the derivative is still evaluated once, at the seed-0 values of
:func:`~tensorderiv.cli.values.seed_values`, to learn its structure (which axes carry Kronecker
deltas, which are constant); those values are not reported, and unless the derivative reads no
variable (so its value is the same everywhere) ``structure_note`` says that the structure was
read off the numbers at that point and holds there only (``relu(x - 10)`` is zero at most
random points, not everywhere).

:func:`finite_difference_check` is independent of the engine's differentiation: it perturbs one
entry of the variable at a time, in float64, and re-evaluates the derivative of one order lower
(or the expression itself), taking central differences.

Example:
    >>> import tensorderiv as td
    >>> from tensorderiv.cli.report import build_report
    >>> from tensorderiv.cli.values import seed_values
    >>> d = td.derive("x.T @ A @ x", "x", shapes={"x": (3,), "A": (3, 3)})
    >>> r = build_report(d, seed_values(d.of, 0))
    >>> r.full_shape, r.check.passed
    ((3,), True)
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

from ..core.axes import Axis, of_axes, wrt_axes
from ..core.ctensor import CTensor, Layout
from ..core.errors import DomainError, TensorDerivError
from ..forms import notation
from ..forms.collapsed import chain_rule
from ..forms.matrixform import MatrixForm
from ..forms.notation import einsum_notation
from ..symbolic.derivative import Derivative, derive
from ..symbolic.evaluate import Program
from ..symbolic.nodes import Var
from .values import Values, seed_values

__all__ = ["STEP", "AxisRow", "Check", "Report", "Structure", "build_report", "describe_form",
           "finite_difference_check", "symbolic_matrix_form", "value_key"]

STEP = float(np.finfo(np.float64).eps) ** (1 / 5)
"""The step of the central differences, ε^(1/5) ≈ 7.4e-4: h = STEP · max(1, |v| / 1000).

Differences at h and h/2 are combined by Richardson extrapolation (the h² error cancels, what is
left is O(h⁴), hence ε^(1/5)), so the check holds for correct derivatives at any scale (``sin``
at x = 1000, ``exp`` at 500). The step is absolute up to |v| = 1000 — a function varies on its
own scale, not on the scale of |v| — and relative beyond, so that v ± h stays distinct in
float64; the step actually taken, (v + h) − v, is used."""
NOISE_ULPS = 100.0
"""The rounding allowance of a difference: this many ε of |F| divided by the step."""
_EPS = float(np.finfo(np.float64).eps)

Progress = Callable[[str], None]


@dataclass(frozen=True)
class AxisRow:
    """One full axis of the c-tensor, in the chosen layout's order.

    Attributes:
        name: ``var[index]``, e.g. ``x[0]``; output axes are named after the output (``f``
            unless the expression is a single variable).
        size: its length.
        role: ``"wrt"`` (an axis of a variable differentiated against) or ``"of"`` (the output's).
        var: the variable (or output) name.
        index: which axis of that variable.
        copy: for ``wrt`` axes, which differentiation (1 = the outermost); 0 for ``of``.
        core_axis: the axis of the stored core it reads; ``None`` when the tensor is constant
            along it. Axes sharing a number carry a Kronecker delta; a number past the core's
            last axis is a delta that stores nothing.
    """

    name: str
    size: int
    role: str
    var: str | None
    index: int
    copy: int
    core_axis: int | None


@dataclass(frozen=True)
class Structure:
    """The notes' matrix form that was found (from :meth:`CTensor.matrix_form`).

    Attributes:
        name: the structure (``"dense"``, ``"diagonal"``, ``"delta"`` …).
        rule: how it enters a chain rule (``"matmul"``, ``"elementwise"``, ``"outer"`` …).
        formula: the full tensor 𝐓 in terms of the collapsed 𝐅, e.g. ``𝐓[i,j,k] = 𝐅[i]·δ[j,k]``.
        chain_rule: the chain rule with it, e.g. ``∂L/∂W = 𝐅 (∂L/∂f)ᵀ``.
        rows: what the collapsed array's rows stand for.
        cols: what its columns stand for.
        note: why this shape and this collapse, with the notes' reference.
        shape: the collapsed array's shape.
        notation: the collapsed array in matrix notation (``A`` for ∂Z/∂W, Z = WᵀA), or None.
    """

    name: str
    rule: str
    formula: str | None
    chain_rule: str | None
    rows: str
    cols: str
    note: str
    shape: tuple[int, ...]
    notation: str | None = None


def describe_form(form: Any) -> Structure:
    """The :class:`Structure` of a matrix form (``formula``/``chain_rule`` when it offers them).

    Example:
        >>> import numpy as np
        >>> import tensorderiv as td
        >>> d = td.derive("sum(z * z)", "z", shapes={"z": (3,)})
        >>> describe_form(d.evaluate({"z": np.arange(3.0)}).matrix_form()).shape   # a column
        (3, 1)
    """
    formula = getattr(form, "formula", None)
    chain = chain_rule(form) if isinstance(form, MatrixForm) else None
    return Structure(form.structure, form.rule, formula() if callable(formula) else None,
                     chain, form.rows, form.cols, form.note, tuple(np.shape(form.array)),
                     getattr(form, "notation", None))


@dataclass(frozen=True)
class Check:
    """A central finite-difference check of the derivative's values.

    Attributes:
        passed: whether every checked entry is within ``tolerance``; ``None`` when skipped.
            A non-finite value (in the derivative or in a difference) or a perturbed point that
            cannot be evaluated is never a pass: ``False``, with ``reason``.
        max_abs_error: the largest absolute difference found (``inf`` where a value is not
            finite; ``None`` when none could be computed).
        tolerance: the largest per-entry tolerance used: each entry is allowed
            ``1e-6 · max(1, |entry|)`` plus the estimated error of its difference (the
            Richardson remainder, bounded by |D(h/2) − R|, which follows the local curvature,
            plus ``NOISE_ULPS · ε · |F| / h`` of rounding).
        checked: how many entries of the variable were perturbed.
        total: how many entries it has (at most 256 are perturbed, chosen with seed 0).
        skipped: why no check was made, if none was (the derivative too big to write out).
        reason: why the check failed when the error alone does not say it, else ``None``.
    """

    passed: bool | None
    max_abs_error: float | None = None
    tolerance: float | None = None
    checked: int = 0
    total: int = 0
    skipped: str | None = None
    reason: str | None = None


@dataclass(frozen=True)
class Report:
    """Everything ``derive`` prints; the renderers in :mod:`tensorderiv.cli.render` lay it out."""

    expression: str
    derivative: str
    wrt: tuple[str, ...]
    shapes: dict[str, tuple[int, ...]]
    output_shape: tuple[int, ...]
    layout: str
    matrix_notation: str | None
    einsum: str
    full_shape: tuple[int, ...]
    axes: tuple[AxisRow, ...]
    core_shape: tuple[int, ...] | None
    structure: Structure | None
    structure_note: str | None
    values: Values | None
    matrix_form: Any
    full: np.ndarray | None
    omitted: dict[str, str]
    max_entries: int
    check: Check | None

    @property
    def order(self) -> int:
        """How many differentiations."""
        return len(self.wrt)


def symbolic_matrix_form(derivative: Derivative) -> str | None:
    """The derivative written with matrices (e.g. ``(A + A.T) @ x``), or ``None`` if none is known.

    Example:
        >>> import tensorderiv as td
        >>> d = td.derive("sum(x)", "x", shapes={"x": (2,)})
        >>> symbolic_matrix_form(d) is None or isinstance(symbolic_matrix_form(d), str)
        True
    """
    writer = getattr(notation, "matrix_notation", None)
    if writer is None:
        return None
    try:
        return writer(derivative)
    except TensorDerivError:
        return None


def build_report(
    derivative: Derivative,
    values: Values | None,
    *,
    layout: Layout = "notes",
    max_entries: int = 200,
    progress: Progress | None = None,
) -> Report:
    """Evaluate ``derivative`` and gather what ``derive`` prints about it.

    Args:
        derivative: the derivative.
        values: where to evaluate; ``None`` to report structure only.
        layout: the order of the full tensor's axes (``"notes"`` or ``"numerator"``).
        max_entries: the largest array written out: the full tensor is computed, and the
            matrix form's numbers and the input values kept for output, only when they have
            at most this many entries (``omitted`` says which were left out; an input's key is
            :func:`value_key`).
        progress: called with a short label as the work moves on (for a progress line).

    Raises:
        TensorDerivError: when ``values`` do not fit, or lie outside a function's domain.
    """
    say = progress or (lambda _label: None)
    structure_note = None
    at = values if values is not None else _structure_values(derivative)
    ct: CTensor | None = None
    say("evaluating")
    try:
        _in_domain(derivative, at.arrays)
        ct = derivative.evaluate(at.arrays)
    except DomainError as exc:
        if values is not None:
            raise
        structure_note = f"not evaluated at random values: {exc}"
    axes, core_shape = _axes(derivative, ct, layout)
    form, structure = None, None
    if ct is not None:
        try:
            form = ct.matrix_form()  # with its collapsed notation (ct knows its derivative)
            structure = describe_form(form)
        except TensorDerivError as exc:
            structure_note = str(exc)
        if values is None and derivative.node.vars:  # read off numbers at a random point
            structure_note = _seeded_caveat(structure_note)
    full, check = None, None
    omitted: dict[str, str] = {}
    if values is not None:  # inputs are written out too: bounded like every array
        omitted |= {value_key(n): f"{a.size:,} entries, more than --max-entries "
                    f"{max_entries:,}" for n, a in values.arrays.items() if a.size > max_entries}
    if values is not None and ct is not None:
        sizes = {"full": math.prod(ct.shape)}
        if form is not None:
            sizes["matrix_form"] = int(np.size(form.array))
        omitted |= {k: f"{n:,} entries, more than --max-entries {max_entries:,}"
                    for k, n in sizes.items() if n > max_entries}
        if "full" not in omitted:
            full = ct.dense(layout)
        check = _check(derivative, ct, values.arrays, say)
    return Report(
        expression=derivative.of.text, derivative=derivative.text,
        wrt=tuple(name for name, _ in derivative.wrt),
        shapes=dict(sorted(derivative.variables_allowed.items())),
        output_shape=derivative.of.shape, layout=layout,
        matrix_notation=symbolic_matrix_form(derivative), einsum=einsum_notation(derivative.node),
        full_shape=tuple(a.size for a in axes), axes=axes, core_shape=core_shape,
        structure=structure, structure_note=structure_note, values=values,
        matrix_form=form if values is not None else None,
        full=full, omitted=omitted, max_entries=max_entries, check=check)


def value_key(name: str) -> str:
    """The key in ``Report.omitted`` of the input value of variable ``name``."""
    return f"at.values.{name}"


def _seeded_caveat(note: str | None) -> str:
    caveat = ("structure read off the numbers at random values (seed 0, as --at 0 draws them), "
              "not proved from the expression: it holds at that point only; give --at to see "
              "it at your values")
    return caveat if note is None else f"{note}; {caveat}"


def _in_domain(derivative: Derivative, arrays: Mapping[str, np.ndarray]) -> None:
    """Raise :class:`DomainError` where the expression itself is undefined (log of −2 …).

    The derivative's formula may be defined there (1/x for log x), but not the derivative.
    """
    program = Program(derivative.of.node)
    program.run({k: arrays[k] for k in program.needed})


def _structure_values(derivative: Derivative) -> Values:
    v = seed_values(derivative.of, 0)
    for name, shape in derivative.variables_allowed.items():  # a wrt not in the expression
        v.arrays.setdefault(name, np.zeros(shape))
    return v


def _axes(derivative: Derivative, ct: CTensor | None,
          layout: Layout) -> tuple[tuple[AxisRow, ...], tuple[int, ...] | None]:
    if ct is None:  # not evaluated: the layout's axes, structure unknown
        out = derivative.of.text if isinstance(derivative.of.node, Var) else "f"
        records = [a for copy, (name, shape) in enumerate(derivative.wrt, start=1)
                   for a in wrt_axes(name, shape, copy)]
        outs = list(of_axes(out, derivative.of.shape))
        records = outs + records if layout == "numerator" else records + outs
        return tuple(_row(a, None) for a in records), None
    return (tuple(_row(ct.axes[p], ct.axis_map[p]) for p in ct.layout_order(layout)),
            tuple(ct.core.shape))


def _row(a: Axis, core_axis: int | None) -> AxisRow:
    return AxisRow(f"{a.var}[{a.index}]", a.size, a.role, a.var, a.index, a.copy, core_axis)


def _check(derivative: Derivative, ct: CTensor, arrays: Mapping[str, np.ndarray],
           say: Progress) -> Check:
    try:
        analytic = ct.dense("notes")
    except TensorDerivError as exc:
        return Check(None, skipped=str(exc))
    return finite_difference_check(derivative, arrays, analytic, progress=say)


def _lower(derivative: Derivative) -> Callable[[Mapping[str, np.ndarray]], np.ndarray]:
    """The function the derivative differentiates last: one order lower, dense, notes layout."""
    if derivative.order == 1:
        program = Program(derivative.of.node)
        needed = set(program.needed)
        return lambda v: np.asarray(program.run({k: v[k] for k in needed}).dense())
    lower = derive(derivative.of, tuple(name for name, _ in derivative.wrt[1:])).compile()
    allowed = set(lower.derivative.variables_allowed)
    return lambda v: np.asarray(lower({k: v[k] for k in allowed}).dense())


def finite_difference_check(
    derivative: Derivative,
    values: Mapping[str, np.ndarray],
    analytic: np.ndarray,
    *,
    limit: int = 256,
    progress: Progress | None = None,
) -> Check:
    """Compare ``analytic`` (notes layout) with central differences of the next-lower derivative.

    Each checked entry ``j`` of the outermost variable ``w`` is moved by ``±h`` and ``±h/2``,
    ``h = STEP · max(1, |w_j| / 1000)``; the central differences D(h) and D(h/2) of ``F`` are
    combined by Richardson extrapolation, R = (4 D(h/2) − D(h)) / 3, and R is compared with
    ``analytic[j]``,
    where ``F`` is the expression (first order) or the derivative of order k − 1.

    The check fails (``passed=False`` and a ``reason``) when ``analytic`` or a difference has a
    NaN or an infinity — a comparison with one proves nothing — and when a perturbed point
    cannot be evaluated (the check cannot be made there).

    Example:
        >>> import numpy as np
        >>> import tensorderiv as td
        >>> d = td.derive("sum(x ** 3)", "x", shapes={"x": (2,)})
        >>> v = {"x": np.array([1.0, 2.0])}
        >>> finite_difference_check(d, v, np.array([3.0, 12.0])).passed
        True
        >>> finite_difference_check(d, v, np.array([3.0, 11.0])).max_abs_error > 0.9
        True
        >>> finite_difference_check(d, v, np.array([3.0, np.nan])).reason
        'the derivative has a non-finite entry: nan at x[1]'
    """
    say = progress or (lambda _label: None)
    name = derivative.wrt[0][0]
    base = {k: np.asarray(a, dtype=np.float64) for k, a in values.items()}
    x0 = base[name]
    total = x0.size
    picks = np.arange(total) if total <= limit else \
        np.sort(np.random.default_rng(0).choice(total, size=limit, replace=False))
    rows = np.asarray(analytic, dtype=np.float64).reshape(total, -1)
    bad = np.argwhere(~np.isfinite(rows))
    if bad.size:
        j, k = (int(i) for i in bad[0])
        return Check(False, math.inf, None, 0, total, reason=f"the derivative has a non-finite "
                     f"entry: {rows[j, k]} at {_entry(name, x0.shape, j, rows.shape[1], k)}")
    lower = _lower(derivative)
    scale = max(1.0, float(np.max(np.abs(rows), initial=0.0)))
    worst, j = 0.0, 0
    slack: list[np.ndarray] = []  # per entry: the estimated error of the difference itself
    errors: list[np.ndarray] = []
    try:
        for n, j in enumerate(picks):
            say(f"checking {n + 1}/{len(picks)}")
            v = float(x0.flat[j])
            h = ((v + STEP * max(1.0, abs(v) / 1000.0)) - v) or STEP  # exact in float64
            point = {**base}

            def at(shift: float, j: int = int(j), point: dict[str, np.ndarray] = point
                   ) -> np.ndarray:
                x = x0.copy()
                x.flat[j] += shift
                point[name] = x
                return lower(point).reshape(-1)

            values = {s: at(s) for s in (h, -h, h / 2, -h / 2)}
            with np.errstate(over="ignore", invalid="ignore"):
                d1 = (values[h] - values[-h]) / (2 * h)
                d2 = (values[h / 2] - values[-h / 2]) / h
                fd = (4 * d2 - d1) / 3  # Richardson: the h² error cancels
                f_size = np.max(np.abs(np.stack(list(values.values()))), axis=0)
                # the error left: at most d2's (|d2 − fd|, the local curvature's h²/4 term)
                # plus the rounding of F divided by the step
                est = np.abs(d2 - fd) + NOISE_ULPS * _EPS * f_size / h
            for diff in (d1, d2, fd):  # the first difference that is not finite
                if np.all(np.isfinite(diff)):
                    continue
                k = int(np.argmax(~np.isfinite(diff)))
                return Check(False, math.inf, None, n + 1, total, reason=(
                    f"the central difference is not finite: {diff[k]} at "
                    f"{_entry(name, x0.shape, int(j), rows.shape[1], k)}"))
            scale = max(scale, float(np.max(np.abs(values[h]), initial=0.0)))
            errors.append(np.abs(fd - rows[j]))
            slack.append(est)
            worst = max(worst, float(np.max(errors[-1], initial=0.0)))
    except TensorDerivError as exc:
        return Check(False, None, None, 0, total, reason=f"cannot check: the point moved by "
                     f"±h along {_entry(name, x0.shape, int(j))} cannot be evaluated: {exc}")
    # per entry, so that a wrong small entry next to a large one fails
    tols = [1e-6 * np.maximum(1.0, np.abs(rows[j])) + s for j, s in zip(picks, slack,
                                                                          strict=True)]
    passed = all(bool(np.all(e <= t)) for e, t in zip(errors, tols, strict=True))
    tol = float(max((float(np.max(t, initial=0.0)) for t in tols), default=1e-6 * scale))
    return Check(passed, worst, tol, len(picks), total)


def _entry(name: str, shape: tuple[int, ...], j: int, n_out: int = 1, k: int = 0) -> str:
    """Entry ``j`` of the variable (and ``k`` of the output, when it has several) by index."""
    where = f"{name}[{','.join(map(str, np.unravel_index(j, shape)))}]" if shape else name
    return where if n_out == 1 else f"{where}, output entry {k}"
