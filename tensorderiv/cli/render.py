"""Renderings of a ``derive`` report: text for people, LaTeX for documents, JSON for scripts.

The JSON output (``--format json``) is one object; its keys and their meanings are fixed for the
schema ``tensorderiv.derive/1`` (a new key may be added; none is removed or changes meaning
without a new schema name). Arrays are nested lists in C order; a non-finite number is written as
the string ``"nan"``, ``"inf"`` or ``"-inf"``.

JSON fields:
    schema: always ``"tensorderiv.derive/1"``.
    expression: the expression differentiated, as tensorderiv writes it.
    derivative: the derivative in Leibniz notation, e.g. ``"∂(x.T @ A @ x)/∂x"``.
    wrt: the variables differentiated against, one per differentiation, in axis order
        (the outermost differentiation first).
    order: how many differentiations.
    shapes: each variable's shape, ``{"A": [3, 3], "x": [3]}``.
    output_shape: the expression's shape.
    layout: ``"notes"`` or ``"numerator"``, the order of ``axes``, ``full_shape`` and ``full``.
    matrix_notation: the derivative written with matrices, e.g. ``"(A + A.T) @ x"``, or null.
    einsum: the contraction the derivative evaluates, as nested einsum calls.
    full_shape: the full c-tensor's shape, in the layout.
    axes: the full axes in the layout's order, each ``{"name", "size", "role", "var", "index",
        "copy", "core_axis"}``: ``role`` is ``"wrt"`` or ``"of"``, ``copy`` the differentiation
        a wrt axis belongs to (1 = outermost, 0 for ``of``), ``core_axis`` the stored axis it
        reads (null: constant along it; shared: a Kronecker delta).
    core_shape: the shape actually stored, or null when it was not evaluated.
    structure: the notes' matrix form found, or null: ``{"name", "rule", "formula",
        "chain_rule", "rows", "cols", "note", "shape", "notation"}`` — the structure (``"dense"``,
        ``"diagonal"``, ``"delta"`` …), how it enters a chain rule (``"matmul"``,
        ``"elementwise"``, ``"outer"`` …), the full tensor in terms of the collapsed one (or
        null), the chain rule in words (or null), what rows and columns stand for, why, the
        collapsed shape, and the collapsed array in matrix notation (``"A"`` for ∂Z/∂W with
        Z = WᵀA; null when none can be written).
    structure_note: why there is no matrix form, or null; without ``--at``, also that the
        structure was read off random seed-0 values and holds at that point only (unless the
        derivative reads no variable).
    at: null without ``--at``; else ``{"source": "seed" | "file", "seed", "path", "drawn",
        "values"}``, where ``values`` holds every input used, by variable name (null for one
        with more than ``--max-entries`` entries, listed in ``omitted``), and ``drawn``
        says how each seeded value was drawn.
    matrix_form: with ``--at``, the collapsed form's numbers (notes layout), or null.
    full: with ``--at``, the full tensor in the layout, or null.
    omitted: the arrays left out because they have more than ``--max-entries`` entries
        (default 100,000 for JSON), ``{"full" | "matrix_form" | "at.values.NAME": reason}``;
        ``{}`` when none.
    check: with ``--at``, the finite-difference check ``{"method", "step", "passed",
        "max_abs_error", "tolerance", "checked", "total", "skipped", "reason"}``, else null;
        ``passed`` is false, with ``reason``, when a value is NaN or infinite or a perturbed
        point cannot be evaluated (a non-finite ``max_abs_error`` is the string ``"inf"``).

Example:
    >>> import json
    >>> import tensorderiv as td
    >>> from tensorderiv.cli.report import build_report
    >>> from tensorderiv.cli.render import render_json
    >>> r = build_report(td.derive("sum(x)", "x", shapes={"x": (2,)}), None)
    >>> json.loads(render_json(r))["full_shape"]
    [2]
"""

from __future__ import annotations

import json
import math
from typing import Any

import numpy as np

from ..forms.latex import derivative_latex, latex_or_text, texttt
from .report import STEP, Check, Report, value_key

__all__ = ["JSON_FIELDS", "SCHEMA", "render_json", "render_latex", "render_text"]

SCHEMA = "tensorderiv.derive/1"
JSON_FIELDS = ("schema", "expression", "derivative", "wrt", "order", "shapes", "output_shape",
               "layout", "matrix_notation", "einsum", "full_shape", "axes", "core_shape",
               "structure", "structure_note", "at", "matrix_form", "full", "omitted", "check")
_NONE_FOUND = "(none found; einsum form below)"


def _shape(shape: tuple[int, ...]) -> str:
    return "×".join(map(str, shape)) if shape else "scalar"


def _numbers(a: Any, indent: str = "  ", limit: int = 200) -> str:
    arr = np.asarray(a, dtype=np.float64)
    if arr.size > limit:  # a one-line summary: numpy's own summary grows with the rank
        with np.errstate(all="ignore"):
            lo, hi = float(np.min(arr)), float(np.max(arr))
        return (f"{indent}{arr.size:,} entries (shape {arr.shape}), from {lo:.5g} to {hi:.5g}; "
                f"more than --max-entries {limit:,}, not shown")
    text = np.array2string(arr, precision=5, suppress_small=True, max_line_width=96,
                           threshold=arr.size + 1)
    return "\n".join((indent + line).rstrip() for line in text.splitlines())


def _axis_name(report: Report, k: int) -> str:
    """``x[0]``, or ``x[0]#2`` for the second differentiation's copy when the order is > 1."""
    r = report.axes[k]
    return f"{r.name}#{r.copy}" if r.role == "wrt" and report.order > 1 else r.name


def _core_reading(report: Report, k: int) -> str:
    row = report.axes[k]
    if report.core_shape is None:
        return ""
    if row.core_axis is None:
        return "constant along it (nothing stored)"
    partners = [_axis_name(report, j) for j, r in enumerate(report.axes)
                if j != k and r.core_axis == row.core_axis]
    delta = f"δ with {', '.join(partners)}" if partners else ""
    if row.core_axis >= len(report.core_shape):
        return f"{delta} (nothing stored)"
    return f"core axis {row.core_axis}" + (f", {delta}" if delta else "")


def _check_line(check: Check) -> str:
    if check.passed is None:
        return f"finite differences  not made: {check.skipped}"
    if check.reason is not None:
        return f"finite differences  FAIL: {check.reason}"
    verdict = "pass" if check.passed else "FAIL"
    return (f"finite differences  max |error| {check.max_abs_error:.1e} (tolerance "
            f"{check.tolerance:.1e}), {check.checked} of {check.total} entries perturbed: "
            f"{verdict}")


def _matrix_line(report: Report) -> str:
    """The derivative in matrix notation, else its collapsed form's (the notes' A.9 answers)."""
    if report.matrix_notation:
        return report.matrix_notation
    s = report.structure
    if s is not None and s.notation:
        return f"{s.notation}  (the collapsed form, {s.name}: {s.formula})"
    return _NONE_FOUND


def _hang(text: str) -> str:
    """A multi-line field (named shared parts first) indented under its label."""
    return text.replace("\n", "\n" + " " * 14)


def render_text(report: Report) -> str:
    """The report for a person reading a terminal."""
    shapes = "  ".join(f"{n}: {_shape(s)}" for n, s in report.shapes.items())
    lines = [f"{report.derivative}    ({shapes})", ""]
    lines.append(f"matrix form   {_hang(_matrix_line(report))}")
    if report.structure is not None:
        s = report.structure
        lines.append(f"structure     {s.name}" + (f": {s.formula}" if s.formula else ""))
        value = f" = {_hang(s.notation)}" if s.notation else ""
        lines.append(f"collapsed     {_shape(s.shape)}{value}, rows {s.rows}, columns {s.cols}")
        lines.append(f"chain rule    {s.chain_rule or s.rule}")
        lines.append(f"why           {s.note}")
        if report.structure_note:
            lines.append(f"caveat        {report.structure_note}")
    elif report.structure_note:
        lines.append(f"structure     no matrix form: {report.structure_note}")
    first = "the variables' axes first" if report.layout == "notes" else "the output's axes first"
    lines.append(f"full shape    {report.full_shape}, {report.layout} layout ({first})")
    names = [_axis_name(report, k) for k in range(len(report.axes))]
    width = max(map(len, names), default=0)
    for k, r in enumerate(report.axes):
        role = f"wrt {r.var}" if r.role == "wrt" else f"of {r.var}"
        lead = "axes          " if k == 0 else " " * 14
        lines.append(f"{lead}{names[k]:<{width}}  size {r.size:<3} {role:<8} "
                     f"{_core_reading(report, k)}".rstrip())
    if not report.axes:
        lines.append("axes          none (a scalar)")
    if report.core_shape is not None:
        stored, full = math.prod(report.core_shape), math.prod(report.full_shape)
        lines.append(f"stored        {stored:,} number{'s' * (stored != 1)} for {full:,} "
                     f"entr{'ies' if full != 1 else 'y'}")
    lines.append(f"contraction   {_hang(report.einsum)}")
    if report.values is None:
        return "\n".join(lines) + "\n"
    v = report.values
    lines += ["", f"at seed {v.seed}" if v.source == "seed" else f"at {v.path}"]
    for name, arr in v.arrays.items():
        how = f"  ({v.drawn[name]})" if v.drawn else ""
        lines += [f"  {name}{how}", _numbers(arr, "    ", limit=report.max_entries)]
    lines.append("")
    if report.matrix_form is not None:
        arr = np.asarray(report.matrix_form.array)
        where = "; the notes' layout" if report.layout != "notes" else ""
        cut = "; summarised, see --max-entries" if "matrix_form" in report.omitted else ""
        lines += [f"value, matrix form ({_shape(arr.shape)}, {report.matrix_form.structure}"
                  f"{where}{cut}):", _numbers(arr, limit=report.max_entries)]
    else:
        lines.append(f"value, matrix form: none ({report.structure_note})")
    if report.full is not None:
        lines += [f"full tensor {report.full_shape}, {report.layout} layout:",
                  _numbers(report.full)]
    elif "full" in report.omitted:
        lines.append(f"full tensor {report.full_shape}: not shown ({report.omitted['full']})")
    if report.check is not None:
        lines.append(_check_line(report.check))
    return "\n".join(lines) + "\n"


def _bmatrix(a: Any) -> str:
    """A matrix, or a vector as a column (the notes' vectors are columns)."""
    if np.ndim(a) > 2:
        return texttt(f"array of shape {np.shape(a)}")
    arr = np.asarray(a, dtype=np.float64)
    arr = arr.reshape(-1, 1) if arr.ndim < 2 else arr
    body = r" \\ ".join(" & ".join(f"{x:.6g}" for x in row) for row in arr)
    return r"\begin{bmatrix} " + body + r" \end{bmatrix}"


def render_latex(report: Report) -> str:
    """The report as a LaTeX fragment (``amsmath``): equations, with the rest as comments."""
    d = derivative_latex(report.expression, report.wrt)
    rhs = latex_or_text(report.matrix_notation) if report.matrix_notation else None
    lines = [f"% {report.derivative}: " + ", ".join(
        f"{n} {_shape(s)}" for n, s in report.shapes.items())]
    collapsed = report.structure.notation if report.structure is not None else None
    if rhs is None and collapsed:  # the collapsed array, e.g. ∂Z/∂W → A (notes A.76)
        lines += [r"\[", f"  {d} \\longrightarrow {latex_or_text(collapsed)}", r"\]",
                  f"% the collapsed form ({report.structure.name}): "  # type: ignore[union-attr]
                  f"{report.structure.formula}"]  # type: ignore[union-attr]
    else:
        lines += [r"\[", f"  {d} = {rhs}" if rhs else f"  {d}", r"\]"]
    if rhs is None and not collapsed:
        lines.append(f"% matrix form: {_NONE_FOUND}")
    if report.structure is not None:
        lines.append(f"% structure: {report.structure.name}, {report.structure.note}")
    elif report.structure_note:
        lines.append(f"% structure: no matrix form: {report.structure_note}")
    lines.append(f"% full shape {report.full_shape} ({report.layout} layout), axes "
                 + ", ".join(r.name for r in report.axes))
    lines.append(f"% contraction: {report.einsum}")
    if report.values is not None:
        parts = [rf"{latex_or_text(n)} = {_bmatrix(a) if np.ndim(a) else f'{float(a):.6g}'}"
                 for n, a in report.values.arrays.items()
                 if value_key(n) not in report.omitted]
        parts += [rf"\text{{{n}: not shown ({report.omitted[value_key(n)]})}}"
                  for n in report.values.arrays if value_key(n) in report.omitted]
        lines += [r"\[", "  " + r",\quad ".join(parts), r"\]"]
        form = report.matrix_form
        if form is not None and "matrix_form" in report.omitted:
            lines.append(f"% matrix form: not shown ({report.omitted['matrix_form']})")
        elif form is not None:
            lines += [r"\[", f"  {d} = {_bmatrix(form.array)}", r"\]"]
            to_latex = getattr(form, "to_latex", None)
            if callable(to_latex) and form.structure != "dense":
                lines += [f"% collapsed from the full tensor: {form.structure}",
                          r"\[", f"  {to_latex()}", r"\]"]
        if report.check is not None:
            lines.append("% " + _check_line(report.check))
    return "\n".join(lines) + "\n"


def _plain(x: Any) -> Any:
    """Arrays → nested lists of floats, non-finite numbers → strings, recursively."""
    if isinstance(x, np.ndarray | np.generic):
        return _plain(x.tolist())
    if isinstance(x, dict):
        return {str(k): _plain(v) for k, v in x.items()}
    if isinstance(x, list | tuple):
        return [_plain(v) for v in x]
    if isinstance(x, float) and not math.isfinite(x):
        return "nan" if math.isnan(x) else ("inf" if x > 0 else "-inf")
    return x


def to_json_object(report: Report) -> dict[str, Any]:
    """The report as the ``tensorderiv.derive/1`` object (plain Python values)."""
    s, v, c = report.structure, report.values, report.check
    obj: dict[str, Any] = {
        "schema": SCHEMA, "expression": report.expression, "derivative": report.derivative,
        "wrt": list(report.wrt), "order": report.order,
        "shapes": {n: list(sh) for n, sh in report.shapes.items()},
        "output_shape": list(report.output_shape), "layout": report.layout,
        "matrix_notation": report.matrix_notation, "einsum": report.einsum,
        "full_shape": list(report.full_shape),
        "axes": [{"name": r.name, "size": r.size, "role": r.role, "var": r.var,
                  "index": r.index, "copy": r.copy, "core_axis": r.core_axis}
                 for r in report.axes],
        "core_shape": None if report.core_shape is None else list(report.core_shape),
        "structure": None if s is None else {
            "name": s.name, "rule": s.rule, "formula": s.formula, "chain_rule": s.chain_rule,
            "rows": s.rows, "cols": s.cols, "note": s.note, "shape": list(s.shape),
            "notation": s.notation},
        "structure_note": report.structure_note,
        "at": None if v is None else {
            "source": v.source, "seed": v.seed, "path": v.path, "drawn": v.drawn,
            "values": {n: None if value_key(n) in report.omitted else a
                       for n, a in v.arrays.items()}},
        "matrix_form": None if report.matrix_form is None or "matrix_form" in report.omitted
        else report.matrix_form.array,
        "full": report.full, "omitted": dict(report.omitted),
        "check": None if c is None else {
            "method": "central differences", "step": STEP, "passed": c.passed,
            "max_abs_error": c.max_abs_error, "tolerance": c.tolerance, "checked": c.checked,
            "total": c.total, "skipped": c.skipped, "reason": c.reason},
    }
    assert tuple(obj) == JSON_FIELDS  # the schema's key order is part of its stability
    return _plain(obj)


def render_json(report: Report) -> str:
    """The report as ``tensorderiv.derive/1`` JSON (fields in the module docstring)."""
    return json.dumps(to_json_object(report), indent=2, ensure_ascii=False, allow_nan=False) + "\n"
