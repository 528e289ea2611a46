"""Short reprs and rich (HTML, LaTeX) displays of expressions, derivatives, c-tensors, matrix forms.

Registered at import time in :mod:`tensorderiv.core.renderers` under each class's name; the
classes' ``__repr__``, ``_repr_html_`` and ``_repr_latex_`` call them. The ``repr`` is one to
three lines: shape, axes with their roles, structure, numbers stored against the full size.
The HTML is a compact table, one row per axis (label, size, role ``wrt``/``of``, which
differentiation, how it is stored: a core axis, a Kronecker delta, constant), then the
structure, the matrix form with its chain rule, the formula as MathJax math, and a summarised
preview of the values. ``_repr_latex_`` is MathJax-renderable ``$…$``.

Example:
    >>> import numpy as np
    >>> import tensorderiv as td
    >>> W, a = td.var("W", (3, 2)), td.var("a", (3,))
    >>> d = td.derive(W.T @ a, W)
    >>> d
    Derivative('∂(W.T @ a)/∂W', shape=(3, 2, 2), wrt W (3, 2) | of f (2,))
    >>> ct = d.evaluate({"W": np.ones((3, 2)), "a": np.array([1.0, 2.0, 3.0])})
    >>> print(repr(ct))
    CTensor ∂f/∂W (3, 2, 2): stores 3 of 12 numbers (24 of 96 bytes)
      axes W[0] 3 wrt#1 → core 0 | W[1] 2 wrt#1 → δ₁ | f[0] 2 of → δ₁
      structure: Kronecker δ between W[1], f[0] (implicit, no storage)
    >>> "<table" in ct._repr_html_() and ct._repr_latex_().startswith("$")
    True
"""

from __future__ import annotations

import html as _html
import math as _math
from typing import Any

import numpy as np

from ..core.ctensor import CTensor
from ..core.renderers import register_renderer
from ..forms.latex import derivative_latex, latex_or_text
from ..forms.layouts import axis_name
from ..forms.matrixform import MatrixForm
from ..symbolic.derivative import Derivative
from ..symbolic.expr import Expr
from .html import block, bmatrix, math, number, pre, preview, table

__all__ = ["FORM_MAX_ENTRIES", "axis_label", "ct_form", "ct_structure", "ct_title",
           "ctensor_storage", "form_name", "full_small", "leibniz"]

#: the HTML of a c-tensor shows its matrix form when the stored core has at most this many
#: entries (the search for structure reads the core)
FORM_MAX_ENTRIES = 1 << 16
_SUPERSCRIPT = str.maketrans("0123456789", "⁰¹²³⁴⁵⁶⁷⁸⁹")
_SUBSCRIPT = str.maketrans("0123456789", "₀₁₂₃₄₅₆₇₈₉")


def leibniz(of: str, wrt: tuple[str, ...]) -> str:
    """``∂f/∂x``, ``∂²f/∂x²`` or ``∂²f/∂W∂x`` (``wrt`` in axis order).

    Example:
        >>> leibniz("L", ("W", "x")), leibniz("f", ("x", "x")), leibniz("f", ())
        ('∂²L/∂W∂x', '∂²f/∂x²', 'f')
    """
    k = len(wrt)
    if k == 0:
        return of
    sup = "" if k == 1 else str(k).translate(_SUPERSCRIPT)
    bottom = f"∂{wrt[0]}{sup}" if len(set(wrt)) == 1 else "".join(f"∂{w}" for w in wrt)
    return f"∂{sup}{of}/{bottom}"


def axis_label(a: Any) -> str:
    """An axis by its variable (``W[0]``, ``W[0]#2`` for a second copy), else by its label."""
    return axis_name(a) if a.var is not None else str(a.label)


def _role(a: Any) -> str:
    return f"wrt#{a.copy}" if a.role == "wrt" and a.copy else a.role


def ctensor_storage(ct: CTensor) -> list[str]:
    """How each full axis is stored: ``core 0``, ``δ₁`` (a delta, shared mark), ``constant``."""
    readers: dict[int, list[int]] = {}
    for p, c in enumerate(ct.axis_map):
        if c is not None:
            readers.setdefault(c, []).append(p)
    deltas = [c for c in sorted(readers) if len(readers[c]) > 1]
    out = []
    for c in ct.axis_map:
        if c is None:
            out.append("constant")
        elif c in deltas:
            out.append("δ" + str(deltas.index(c) + 1).translate(_SUBSCRIPT))
        else:
            out.append(f"core {c}")
    return out


def ct_title(ct: CTensor) -> str:
    """``CTensor ∂f/∂W (3, 2, 2)``: what the c-tensor is the derivative of, and its shape."""
    of = next((a.var for a in ct.axes if a.role == "of" and a.var is not None), "f")
    if not ct.wrt:
        return f"CTensor {ct.shape}"
    return f"CTensor {leibniz(of, tuple(n for n, _ in ct.wrt))} {ct.shape}"


def ct_structure(ct: CTensor) -> str:
    """The structure the storage holds, in words: zero, deltas (stored or implicit), constant axes.

    Example — a derivative with respect to a declared variable the expression does not use:
        >>> import numpy as np
        >>> import tensorderiv as td
        >>> x, u = td.var("x", (2,)), td.var("u", (3,))
        >>> ct_structure(td.derive(td.sum(x), u).evaluate({"x": np.ones(2)}))
        'zero (every entry is 0; nothing stored but one 0)'
    """
    if ct.is_zero and ct.core.size <= 1:
        return "zero (every entry is 0; nothing stored but one 0)"
    if ct.is_zero:
        return "zero (every entry is 0)"
    readers: dict[int, list[int]] = {}
    for p, c in enumerate(ct.axis_map):
        if c is not None:
            readers.setdefault(c, []).append(p)
    parts = []
    for c in sorted(readers):
        ps = readers[c]
        if len(ps) > 1:
            where = "implicit, no storage" if c >= ct.core.ndim else f"on core axis {c}"
            parts.append(f"Kronecker δ between {', '.join(axis_label(ct.axes[p]) for p in ps)} "
                         f"({where})")
    const = [axis_label(a) for a, c in zip(ct.axes, ct.axis_map, strict=True) if c is None]
    if const:
        parts.append(f"constant along {', '.join(const)} (redundant, notes Concept 29)")
    return "; ".join(parts) or "dense (every axis stored)"


def _ct_text(ct: CTensor) -> str:
    full = _math.prod(ct.shape)
    axes = " | ".join(f"{axis_label(a)} {a.size} {_role(a)} → {s}"
                      for a, s in zip(ct.axes, ctensor_storage(ct), strict=True))
    return "\n".join([
        f"{ct_title(ct)}: stores {_math.prod(ct.core.shape):,} of {full:,} numbers "
        f"({ct.nbytes:,} of {ct.dense_nbytes:,} bytes)",
        f"  axes {axes or '— (a scalar)'}",
        f"  structure: {ct_structure(ct)}",
    ])


def ct_form(ct: CTensor) -> MatrixForm | str | None:
    """The matrix form of a derivative's c-tensor, a reason it is not shown, or None."""
    if not ct.wrt or not isinstance(ct.core, np.ndarray):
        return None
    if ct.core.size > FORM_MAX_ENTRIES:
        return f"matrix form not searched for a display: {ct.core.size:,} stored numbers"
    try:
        return ct.matrix_form()
    except Exception as exc:  # a display must never raise; say why instead
        return f"no matrix form: {exc}"


def _ct_html(ct: CTensor) -> str:
    rows = [[axis_label(a), a.size, a.role, a.copy if a.role == "wrt" else "—", s]
            for a, s in zip(ct.axes, ctensor_storage(ct), strict=True)]
    full = _math.prod(ct.shape)
    parts = [
        table(["axis", "size", "role", "differentiation", "stored as"], rows),
        f"<div>structure: {_html.escape(ct_structure(ct))}</div>",
        f"<div>stores {_math.prod(ct.core.shape):,} of {full:,} numbers "
        f"({ct.nbytes:,} of {ct.dense_nbytes:,} bytes), {_html.escape(str(ct.dtype))}</div>",
    ]
    form = ct_form(ct)
    if isinstance(form, MatrixForm):
        parts.append(_form_parts(form))
    elif form:
        parts.append(f"<div>{_html.escape(form)}</div>")
    shown = ct.dense() if full <= 4 * 64 and isinstance(ct.core, np.ndarray) else None
    parts.append("<div>values" + (" (notes' layout)" if shown is not None else
                                  f" stored (core {tuple(ct.core.shape)})") + ":</div>")
    if shown is None and not isinstance(ct.core, np.ndarray):  # lazy (dask): never computed
        parts.append(pre(f"{type(ct.core).__name__} of shape {tuple(ct.core.shape)}, "
                         f"{ct.dtype}, not computed"))
    else:
        parts.append(pre(preview(shown if shown is not None else ct.core)))
    return block(ct_title(ct), parts)


def _ct_latex(ct: CTensor) -> str:
    form = ct_form(ct)
    if isinstance(form, MatrixForm):
        return f"${form.to_latex()}$"
    if full_small(ct):
        return f"${bmatrix(ct.dense())}$"
    return "$" + r"\mathbf{T}\in\mathbb{R}^{" + r"\times".join(map(str, ct.shape)) + "}$"


def full_small(ct: CTensor) -> bool:
    """Whether the full c-tensor is a matrix small enough to print."""
    return ct.ndim <= 2 and all(n <= 8 for n in ct.shape) and isinstance(ct.core, np.ndarray)


# ------------------------------------------------------------------ matrix forms
def form_name(form: MatrixForm) -> str:
    """``∂Z/∂W`` for a derivative's matrix form, the output's name for a plain value."""
    return leibniz(form.of_name, form.wrt_names) if form.derivative else form.of_name


def _form_text(form: MatrixForm) -> str:
    full = _math.prod(form.full_shape)
    stored = sum(int(f.size) for f in form.factors)
    head = (f"MatrixForm {form_name(form)}: {form.structure}, rule {form.rule!r}; full "
            f"{form.full_shape} collapsed to {form.array.shape} ({stored:,} of {full:,} numbers)")
    return "\n".join([head, f"  {form.formula()}", f"  {form.chain_text()}"])


def _form_parts(form: MatrixForm) -> str:
    slots = [("—" if s is None else f"slot {s}") for s in form.axis_map]
    rows = [[axis_label(a), a.size, a.role, a.copy if a.role == "wrt" else "—", s]
            for a, s in zip(form.axes, slots, strict=True)]
    full = _math.prod(form.full_shape)
    stored = sum(int(f.size) for f in form.factors)
    return "".join([
        f"<div>matrix form: <b>{_html.escape(form.structure)}</b>, chain rule "
        f"<b>{_html.escape(form.rule)}</b>, {stored:,} of {full:,} numbers kept</div>",
        table(["axis", "size", "role", "differentiation", "collapsed to"], rows),
        pre(form.formula() + "\n" + form.chain_text()),
        f"<div>rows: {_html.escape(form.rows)}; columns: {_html.escape(form.cols)}</div>",
        f"<div>note: {_html.escape(form.note)}</div>",
        math(form.to_latex()),
        f"<div>collapsed array {form.array.shape}:</div>",
        pre(preview(form.array)),
    ])


def _form_html(form: MatrixForm) -> str:
    return block(f"MatrixForm {form_name(form)}", [_form_parts(form)])


# ------------------------------------------------------------------ expressions, derivatives
def _latex(text: str) -> str:
    return latex_or_text(text)


def _short(text: str, limit: int = 120) -> str:
    """Long expression text cut in the middle, for titles and table cells."""
    return text if len(text) <= limit else text[: limit // 2 - 1] + " … " + text[-limit // 2 + 2:]


def _expr_text(e: Expr) -> str:
    return f"Expr({_short(e.text)!r}, shape={e.shape})"


def _expr_html(e: Expr) -> str:
    rows = [[n, s] for n, s in sorted(e.declared.items())]
    return block(f"Expr {_short(e.text)}", [
        math(_latex(e.text)),
        f"<div>shape {e.shape}</div>",
        table(["variable", "shape"], rows),
    ])


def _expr_latex(e: Expr) -> str:
    return f"${_latex(e.text)}$"


def _of_name(d: Derivative) -> str:
    return "f" if d.of.text not in d.variables_allowed else d.of.text


def _derivative_text(d: Derivative) -> str:
    wrt = ", ".join(f"{n} {s}" for n, s in d.wrt)
    return (f"Derivative({_short(d.text)!r}, shape={d.shape}, wrt {wrt} | of {_of_name(d)} "
            f"{d.of.shape})")


def _derivative_html(d: Derivative) -> str:
    rows = [[f"{name}[{i}]", n, "wrt", copy, "its variable"]
            for copy, (name, shape) in enumerate(d.wrt, start=1) for i, n in enumerate(shape)]
    rows += [[f"{_of_name(d)}[{i}]", n, "of", "—", _short(d.of.text, 60)]
             for i, n in enumerate(d.of.shape)]
    return block(f"Derivative {_short(d.text)}", [
        math(_derivative_latex(d)),
        f"<div>order {d.order}; c-tensor shape {d.shape} in the notes' layout (the variable's "
        "axes once per differentiation, then the output's)</div>",
        table(["axis", "size", "role", "differentiation", "of"], rows),
        "<div>evaluate(values) gives its compact c-tensor</div>",
    ])


def _derivative_latex(d: Derivative) -> str:
    return derivative_latex(d.of.text, tuple(n for n, _ in d.wrt))


# ------------------------------------------------------------------ derivative checks
def _check_text(c: Any) -> str:
    return (f"DerivativeCheck: passed ({c.source}, {c.mode}), shape {c.shape}, max error "
            f"{c.max_error:.3g} (atol {c.atol:.3g}), {c.evaluations} evaluations of f")


def _check_html(c: Any) -> str:
    rows = [["result", "passed"], ["true derivative", c.source], ["compared", c.mode],
            ["shape", c.shape], ["max |yours − true|", f"{c.max_error:.3g}"],
            ["atol", f"{c.atol:.3g}"], ["evaluations of f", c.evaluations]]
    return block("DerivativeCheck", [table(["", ""], rows), math(_check_math(c))])


def _check_math(c: Any) -> str:
    return (r"\max\lvert \text{yours} - \text{true} \rvert = " + number(c.max_error)
            + r" \le " + number(c.atol) + r" + \text{rtol}\,\lvert\text{true}\rvert")


def _check_latex(c: Any) -> str:
    return f"${_check_math(c)}$"


register_renderer("CTensor", text=_ct_text, html=_ct_html, latex=_ct_latex)
register_renderer("MatrixForm", text=_form_text, html=_form_html,
                  latex=lambda f: f"${f.to_latex()}$")
register_renderer("Expr", text=_expr_text, html=_expr_html, latex=_expr_latex)
register_renderer("Derivative", text=_derivative_text, html=_derivative_html,
                  latex=lambda d: f"${_derivative_latex(d)}$")
register_renderer("DerivativeCheck", text=_check_text, html=_check_html, latex=_check_latex)
