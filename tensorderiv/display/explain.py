"""Step-by-step explanations of a derivative, the way the notes show the chain rule (A.9).

:func:`explain` walks the expression from its output down to the variable, names the
intermediate quantities the notes name (a layer ``Z = WᵀA``, an activation ``A = f(Z)``, the
loss ``L``), and differentiates each with respect to the next one below it (the one below held
as a fresh variable of its shape). For every factor it shows the name, the full shape, the
structure found, the collapsed form with its notation and the reason it collapses, and the
multiplication rule it enters the chain rule with (a matrix product with the notes'
transposes, ⊙, an outer product). Then the backward pass, the final matrix form, and two checks:
the chain of collapsed forms, each applied by its rule, against the full contraction of the
derivative, and central differences of the expression.

The result renders as text (``str``, wrapped at 88 columns), HTML (``_repr_html_``) and LaTeX
for MathJax (``_repr_latex_``); nothing needs a LaTeX installation.

Example — one layer of the notes' network:
    >>> import tensorderiv as td
    >>> e = td.explain("sum((tanh(W.T @ A) - Y) ** 2)", "W",
    ...                shapes={"W": (3, 2), "A": (3, 4), "Y": (2, 4)})
    >>> [f.name for f in e.factors]
    ['∂Z1/∂W', '∂A1/∂Z1', '∂L/∂A1']
    >>> e.factors[0].form.notation, e.factors[1].form.notation
    ('A', '1 - tanh(Z1) ** 2')
    >>> print(e.backward[-1])
    ∂L/∂W = A (∂L/∂Z1)ᵀ
    >>> e.chain_error < 1e-12
    True
"""

from __future__ import annotations

import html
import re
import textwrap
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ..core.errors import ArgumentError, DomainError, OptionError, ShapeError, TensorDerivError
from ..forms.collapsed import chain_rule, form_with_notation
from ..forms.factors import Factor, chain_factors, factor, named_path
from ..forms.latex import latex_or_text
from ..forms.matrixform import MatrixForm
from ..forms.notation import matrix_notation
from ..forms.reduce import chain
from ..symbolic.derivative import Derivative, derive
from ..symbolic.evaluate import Program
from ..symbolic.expr import Expr
from ..symbolic.nodes import Apply, Node, Var
from ..symbolic.parse import parse

__all__ = ["Explanation", "Factor", "explain"]

WIDTH = 88
_STEP = float(np.finfo(np.float64).eps) ** (1 / 3)
_MAX_PERTURBED = 64
@dataclass(frozen=True)
class Explanation:
    """A derivative explained step by step; ``str``, ``_repr_html_`` and ``_repr_latex_``.

    Attributes:
        expression: the expression, as written.
        wrt: the variable differentiated against.
        order: how many differentiations.
        shapes: each variable's shape.
        definitions: the intermediate quantities, lowest first, ``(name, text, shape)``.
        factors: the chain rule's factors, in the notes' order (the variable's first).
        backward: the backward pass, one line per factor, from the output down.
        final: the derivative's matrix form.
        notation: the derivative in matrix notation, or None.
        chain_error: the largest difference between the chain of collapsed forms (each
            applied by its rule) and the full contraction of the derivative.
        scale: the largest entry of the derivative (to read the error against).
        differences_error: the largest difference from central differences, or None.
        perturbed: how many entries of the variable were moved for them.
        values_note: where the values came from.
        width: the text's line width.
        values: the values used (drawn ones included, to reproduce the numbers).
    """

    expression: str
    wrt: str
    order: int
    shapes: dict[str, tuple[int, ...]]
    definitions: tuple[tuple[str, str, tuple[int, ...]], ...]
    factors: tuple[Factor, ...]
    backward: tuple[str, ...]
    final: MatrixForm
    notation: str | None
    chain_error: float
    scale: float
    differences_error: float | None
    perturbed: int
    values_note: str
    width: int = WIDTH
    values: dict[str, np.ndarray] = field(default_factory=dict, repr=False, compare=False)

    # ------------------------------------------------------------------ the parts
    @property
    def output(self) -> str:
        """The output's name (``L`` for a scalar loss)."""
        return self.definitions[-1][0] if self.definitions else "f"

    @property
    def derivative_name(self) -> str:
        """``∂L/∂W``, or ``∂²L/∂w²``."""
        if self.order == 1:
            return f"∂{self.output}/∂{self.wrt}"
        sup = str(self.order).translate(str.maketrans("0123456789", "⁰¹²³⁴⁵⁶⁷⁸⁹"))
        return f"∂{sup}{self.output}/∂{self.wrt}{sup}"

    def _sections(self) -> list[tuple[str, list[str]]]:
        """(heading, lines) pairs shared by the renderings."""
        shapes = ", ".join(f"{n}: {_size(s)}" for n, s in self.shapes.items())
        head = [f"{self.derivative_name} for {self.output} = {self.expression}  ({shapes})",
                self.values_note]
        out = [("", head)]
        if len(self.definitions) > 1:
            w = max(len(n) for n, _, _ in self.definitions)
            out.append((f"The path from {self.output} down to {self.wrt} (notes A.9)",
                        [f"{n:<{w}} = {t}   ({_size(s)})" for n, t, s in self.definitions]))
        if self.order == 1 and len(self.factors) > 1:
            prod = " · ".join(f.name for f in self.factors)
            out.append(("Chain rule (notes A.61)", [f"{self.derivative_name} = {prod}"]))
        for k, f in enumerate(self.factors, start=1):
            form = f.form
            wrt_shape = self.shapes.get(f.wrt, form.wrt_shape) if self.order == 2 else \
                form.wrt_shape
            lines = [f"full c-tensor {_size(f.full_shape)} ({f.wrt}: "
                     f"{_size(wrt_shape)}, {f.of}: {_size(form.of_shape)}), notes' layout",
                     f"structure: {form.structure} — {form.formula()}"]
            collapsed = form.notation or "(no matrix notation; the 𝐅 of the formula)"
            lines.append(f"collapsed form: {collapsed}, {_size(np.shape(form.array))}, rows "
                         f"{form.rows}, columns {form.cols}")
            lines.append(f"why: {form.note or 'the notes matrix, nothing to collapse'}")
            if form.structure in ("dense", "symmetric") and form.tried and len(form.axes) > 2:
                lines.append("tried: " + "; ".join(form.tried))
            lines.append(f"multiplies by: {f.rule}")
            out.append((f"{k}. {f.name}", lines))
        if self.order == 1 and len(self.factors) > 1:
            out.append(("Backward pass, from the output down", list(self.backward)))
        final = self.final
        lines = [f"{self.derivative_name}: {final.structure}, "
                 f"{_size(np.shape(final.array))} — {final.note or final.formula()}"]
        if self.notation:
            lines.append(f"{self.derivative_name} = {self.notation}")
        elif final.notation:
            lines.append(f"collapsed: {final.notation}  ({final.formula()})")
        if len(self.factors) > 1 and self.order == 1:
            lines.append(f"by the chain rule: {self.backward[-1]}")
        lines.append("check: " + self.check_text())
        out.append(("Matrix form", lines))
        return out

    def check_text(self) -> str:
        """The checks made and their largest errors, in words."""
        what = ("the chain of collapsed forms, each applied by its rule"
                if len(self.factors) > 1 and self.order == 1 else "the collapsed form, expanded")
        text = (f"{what}, against the full contraction of the derivative: max |error| "
                f"{self.chain_error:.1e} (largest entry {self.scale:.3g})")
        if self.differences_error is not None:
            lower = self.output if self.order == 1 else f"∂{self.output}/∂{self.wrt}"
            text += (f"; central differences of {lower} over {self.perturbed} entries of "
                     f"{self.wrt}: max |error| {self.differences_error:.1e}")
        return text

    # ------------------------------------------------------------------ renderings
    def text(self, width: int | None = None) -> str:
        """The explanation as text, each line wrapped at ``width`` columns (88 by default)."""
        w = width or self.width
        lines: list[str] = []
        for heading, body in self._sections():
            if heading:
                lines += ["", *_wrap(heading, w, "")]
            indent = "  " if heading else ""
            for line in body:
                lines += _wrap(line, w, indent)
        return "\n".join(lines).strip("\n") + "\n"

    def __str__(self) -> str:
        return self.text()

    def __repr__(self) -> str:
        return (f"Explanation({self.derivative_name}, {len(self.factors)} factor"
                f"{'s' * (len(self.factors) != 1)}, check error {self.chain_error:.1e})")

    def _repr_html_(self) -> str:
        parts = ['<div class="tensorderiv-explain" style="font-family: sans-serif">']
        for heading, body in self._sections():
            if heading:
                parts.append(f"<h4 style='margin: 0.6em 0 0.2em'>{html.escape(heading)}</h4>")
            items = "".join(f"<li><code>{html.escape(line)}</code></li>" if "=" in line[:40]
                            else f"<li>{html.escape(line)}</li>" for line in body)
            parts.append(f"<ul style='margin: 0; list-style: none; padding-left: 1em'>{items}"
                         "</ul>")
        parts.append("</div>")
        return "\n".join(parts)

    def _repr_latex_(self) -> str:
        """MathJax-ready LaTeX: an ``aligned`` block of the factors and the result."""
        result = _tex(self.notation) if self.notation else "\\ldots"
        rows = [rf"{_frac(self.output, self.wrt, self.order)} &= {result}"]
        for name, text, _ in self.definitions[:-1] if len(self.definitions) > 1 else []:
            rows.append(rf"{_sym(name)} &= {_tex(text)}")
        for f in self.factors:
            form = f.form
            collapsed = _tex(form.notation) if form.notation else r"\mathbf{F}"
            rows.append(rf"{_frac(f.of, f.wrt, 2 if f.name.startswith('∂²') else 1)} "
                        rf"&\;\to\; {collapsed} \quad \text{{{_text(form.structure)}; "
                        rf"{_text(f.rule)}}}")
        for line in self.backward if len(self.factors) > 1 and self.order == 1 else ():
            rows.append(rf"\text{{{_text(line)}}} &")
        rows.append(rf"\text{{check: max error {self.chain_error:.1e}}} &")
        return "$$\\begin{aligned}" + " \\\\ ".join(rows) + "\\end{aligned}$$"


# ---------------------------------------------------------------------- helpers for the text
def _size(shape: Sequence[int]) -> str:
    return "×".join(map(str, shape)) if len(shape) else "scalar"


def _wrap(line: str, width: int, indent: str) -> list[str]:
    return textwrap.wrap(line, width=width, initial_indent=indent,
                         subsequent_indent=indent + "    ", break_on_hyphens=False) or [""]


def _text(s: str) -> str:
    r"""Text safe inside MathJax's ``\\text{}`` (no braces, backslashes or dollars)."""
    table = str.maketrans({"{": "(", "}": ")", "\\": "/", "$": "S", "#": "no.", "%": "pct",
                           "&": "and", "^": "^", "_": "_"})
    return s.translate(table)


def _sym(name: str) -> str:
    m = re.fullmatch(r"([A-Za-z]+)(\d*)", name)
    if m is None:
        return rf"\text{{{_text(name)}}}"
    letters, digits = m.groups()
    base = letters if len(letters) == 1 else rf"\mathrm{{{letters}}}"
    return base + (f"_{{{digits}}}" if digits else "")


def _frac(of: str, wrt: str, order: int) -> str:
    if order == 1:
        return rf"\frac{{\partial {_sym(of)}}}{{\partial {_sym(wrt)}}}"
    return rf"\frac{{\partial^{{{order}}} {_sym(of)}}}{{\partial {_sym(wrt)}^{{{order}}}}}"


def _tex(text: str) -> str:
    out = latex_or_text(text)
    return out if not out.startswith("\\texttt") else rf"\text{{{_text(text)}}}"


# ---------------------------------------------------------------------- values
def _seeded(expr: Expr, seed: int = 0) -> tuple[dict[str, np.ndarray], str]:
    """Seeded values for the variables of ``expr``, and a note saying how they were drawn.

    Standard normal; positive (|N| + 0.5) under log, sqrt or a fractional power, and diagonally
    dominant under inv, det or logdet.
    """
    under: dict[str, set[str]] = {}
    stack: list[tuple[Node, frozenset[str]]] = [(expr.node, frozenset())]
    while stack:
        n, fns = stack.pop()
        if isinstance(n, Var):
            under.setdefault(n.name, set()).update(fns)
            continue
        if isinstance(n, Apply) and (n.fn in ("log", "sqrt", "inv", "det", "logdet") or (
                n.fn == "pow" and not float(n.params[0]).is_integer())):
            fns = fns | {n.fn}
        stack.extend((c, fns) for c in n.children())
    rng = np.random.default_rng(seed)
    values: dict[str, np.ndarray] = {}
    for name, shape in sorted(expr.declared.items()):
        v = rng.standard_normal(shape)
        fns = under.get(name, set())
        if fns & {"log", "sqrt", "pow"}:
            v = np.abs(v) + 0.5
        if fns & {"inv", "det", "logdet"} and v.ndim == 2 and v.shape[0] == v.shape[1]:
            v = v + np.diag(np.abs(v).sum(axis=1) + 1.0)
        values[name] = v
    return values, (f"values: none given, so drawn with numpy.random.default_rng({seed}) "
                    "(standard normal; |N| + 0.5 under log and sqrt, diagonally dominant "
                    "under inv and det)")


# ---------------------------------------------------------------------- checks
def _differences(lower: Callable[[dict[str, np.ndarray]], np.ndarray],
                 values: Mapping[str, np.ndarray], name: str, analytic: np.ndarray
                 ) -> tuple[float, int]:
    """Central differences of ``lower`` along entries of ``name``, against ``analytic``."""
    base = {k: np.asarray(v, dtype=np.float64) for k, v in values.items()}
    x0 = base[name]
    rows = np.asarray(analytic, dtype=np.float64).reshape(max(x0.size, 1), -1)
    picks = np.arange(x0.size)
    if x0.size > _MAX_PERTURBED:
        picks = np.sort(np.random.default_rng(0).choice(x0.size, _MAX_PERTURBED, replace=False))
    worst = 0.0
    for j in picks:
        h = _STEP * max(1.0, abs(float(x0.flat[j])))
        shifted = []
        for sign in (1.0, -1.0):
            x = x0.copy()
            x.flat[j] += sign * h
            shifted.append(np.asarray(lower({**base, name: x}), dtype=np.float64).reshape(-1))
        fd = (shifted[0] - shifted[1]) / (2 * h)
        worst = max(worst, float(np.max(np.abs(fd - rows[j]), initial=0.0)))
    return worst, len(picks)


# ---------------------------------------------------------------------- explain
def explain(
    expr: Expr | str,
    wrt: str | Expr,
    values: Mapping[str, Any] | None = None,
    *,
    shapes: Mapping[str, Sequence[int] | int] | None = None,
    order: int = 1,
    width: int = WIDTH,
) -> Explanation:
    """The derivative of ``expr`` with respect to ``wrt``, explained step by step (notes A.9).

    Args:
        expr: an expression, or its text (then ``shapes`` gives the variables' shapes).
        wrt: the variable, or its name.
        values: where to evaluate (variable name → array); without them, values are drawn with
            ``numpy.random.default_rng(0)`` and the explanation says so.
        shapes: variable name → shape, for expression text (taken from ``values`` when not
            given).
        order: 1 for the chain rule through the intermediate quantities; 2 for a Hessian,
            explained as the derivative of the gradient.
        width: the line width of the text rendering.

    Returns:
        An :class:`Explanation`; print it, or let a notebook render it (HTML, LaTeX).

    Raises:
        TensorDerivError: when the expression, the variable or the values do not fit.

    Example:
        >>> import tensorderiv as td
        >>> e = td.explain("x.T @ A @ x", "x", shapes={"x": (3,), "A": (3, 3)})
        >>> e.notation, e.chain_error < 1e-12, e.differences_error < 1e-6
        ('(A + A.T) @ x', True, True)
    """
    if isinstance(expr, Derivative):
        raise ArgumentError("explain takes the expression and the variable, e.g. "
                            f"td.explain({expr.of.text!r}, {expr.wrt[0][0]!r}); this is a "
                            "derivative")
    if isinstance(expr, str) and shapes is None and values is not None:
        shapes = {k: np.shape(v) for k, v in values.items()}  # the values say the shapes
    e = parse(expr, shapes) if isinstance(expr, str) else expr
    if not isinstance(e, Expr):
        raise ArgumentError(f"explain takes an expression or its text, got {type(e).__name__}")
    name = wrt.node.name if isinstance(wrt, Expr) and isinstance(wrt.node, Var) else wrt
    if not isinstance(name, str):
        raise ArgumentError(f"wrt must be a variable or its name, got {wrt!r}")
    if order not in (1, 2):
        raise OptionError(f"explain shows order 1 (the chain rule) or 2 (a Hessian), got {order}")
    d = derive(e, name, order=order)
    if values is None:
        vals, note = _seeded(e)
    else:
        vals = {k: np.asarray(v, dtype=np.float64) for k, v in values.items()}
        note = "values: as given"
        missing = sorted(set(e.declared) - set(vals))
        if missing:
            raise ShapeError(f"explain {e.text!r}: no value for {', '.join(missing)}; give "
                             "every variable a value, or none to draw them")
    root = e.node
    kept, names = named_path(root, name, set(d.variables_allowed))
    out_name = names[root]
    chain_nodes = [root, *kept, Var.make(name, d.wrt[0][1])]  # order 2: the Hessian alone
    factors, backward, definitions = (chain_factors(chain_nodes, names, vals, e.text)
                                      if order == 1 else ([], [], []))
    final = form_with_notation(d, vals, names={"f": out_name})
    full = np.asarray(d.evaluate({k: vals[k] for k in d.variables_allowed if k in vals}).dense())
    if order == 2:
        grad = derive(e, name)
        g_form = form_with_notation(grad, vals, names={"f": out_name})
        factors = [factor(g_form, out_name, name, rule="nothing yet: the gradient, "
                           "differentiated again in step 2"),
                   factor(final, out_name, name, hessian=True)]
        definitions = [(out_name, e.text, e.shape)]
    if len(factors) > 1 and order == 1:
        product = chain(*[f.form for f in factors])
        rebuilt = product.expand()
    else:
        rebuilt = final.expand()
    chain_error = float(np.max(np.abs(rebuilt - full), initial=0.0))
    lower: Callable[[dict[str, np.ndarray]], np.ndarray]
    if order == 1:
        program = Program(root)
        lower = lambda v: program.run({k: v[k] for k in program.needed}).dense()  # noqa: E731
    else:
        compiled = derive(e, name).compile()
        allowed = compiled.derivative.variables_allowed
        lower = lambda v: compiled({k: v[k] for k in allowed}).dense()  # noqa: E731
    try:
        fd_error, perturbed = _differences(lower, vals, name, full)
    except (DomainError, TensorDerivError):
        fd_error, perturbed = None, 0
    return Explanation(
        expression=e.text, wrt=name, order=order, shapes=dict(sorted(e.declared.items())),
        definitions=tuple(definitions) or ((out_name, e.text, e.shape),),
        factors=tuple(factors) or (factor(final, out_name, name, hessian=order == 2),),
        backward=tuple(backward) or (chain_rule(final),), final=final,
        notation=matrix_notation(d), chain_error=chain_error,
        scale=float(np.max(np.abs(full), initial=0.0)), differences_error=fd_error,
        perturbed=perturbed, values_note=note, width=width, values=vals)
