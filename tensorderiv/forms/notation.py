"""Text renderings of expressions and derivatives: einsum contractions and matrix notation.

:func:`einsum_notation` writes a node graph as nested ``einsum`` calls in numpy's subscript
notation, one per contraction, with element-wise functions by name. Output axes that carry a
Kronecker delta are written with ``δ`` factors (they are never materialised).
:func:`matrix_notation` writes a rank ≤ 2 expression or derivative with matrices, in the notes'
layout (:mod:`.matrixtext` says how, and in which canonical order).

The text is canonical: the same expression gives the same text in every process and for any
sizes. Hadamard products list scalars, then factors built by contraction (``outer``, ``@``,
``diag``, ``sum``), then variables, then functions, then sums, ties broken by how they read;
equal factors merge into powers (``y * y`` is ``y ** 2``, ``b ** -1 * b`` cancels). Sums list
constants, then positive terms, plain before transposed (``1 - x``, ``A + A.T``), and take out a
common left or right factor (``(A + A.T) @ x``). Contractions run in an order fixed by the
factors' text, never by object identities or hashes (:mod:`.products`, :mod:`.matrixtext`).

Both take what a user has at hand: expression text (with ``shapes``), an :class:`~.Expr`, a
:class:`~.Derivative`, or a node; ``wrt=`` differentiates first. Subexpressions that the graph
shares are written once and named on lines before the result (``u1 = …``, ``p = softmax(z)``),
so the text grows linearly with the graph (:mod:`.naming`).

Example:
    >>> import tensorderiv as td
    >>> from tensorderiv.forms.notation import einsum_notation
    >>> d = td.derive("sum(tanh(W.T @ x))", "W", shapes={"W": (3, 2), "x": (3,)})
    >>> einsum_notation(d)
    "einsum('a,b->ab', x, 1 - square(tanh(einsum('b,ba->a', x, W))))"
"""

from __future__ import annotations

import re
import string
from collections.abc import Mapping, Sequence
from typing import Any

import opt_einsum as oe

from ..core.ctensor import CTensor
from ..core.errors import TensorDerivError
from ..symbolic.derivative import Derivative, derive
from ..symbolic.expr import Expr
from ..symbolic.nodes import Apply, Einsum, Node, Sum, Var
from ..symbolic.parse import parse
from .matrixtext import MatrixWriter, NoMatrixFormError
from .naming import Namer
from .products import PREC_ATOM, is_fill, number

_ZERO_FILL = re.compile(r"0 \* ones\((\d+|\([\d, ]+\))\)")

__all__ = ["NoMatrixFormError", "NotationInputError", "einsum_notation", "matrix_notation"]

Shapes = Mapping[str, Sequence[int] | int] | None


class NotationInputError(TensorDerivError, TypeError):
    """An object the notation functions cannot read; the message says what to pass instead."""


_LETTERS = string.ascii_lowercase + string.ascii_uppercase


def _letter(i: int) -> str:
    """Index i as a subscript letter: a–z, A–Z, then opt_einsum's unicode symbols (no limit)."""
    return _LETTERS[i] if i < len(_LETTERS) else oe.get_symbol(i)


def _source(obj: Any, shapes: Shapes, wrt: Any, order: int, fname: str) -> Expr | Node:
    """The expression (or node) that ``obj`` stands for, differentiated when ``wrt`` is given."""
    if isinstance(obj, CTensor):
        if obj.wrt:
            names = ", ".join(repr(n) for n, _ in obj.wrt)
            raise NotationInputError(
                f"{fname} got a CTensor: the numbers of a derivative with respect to {names}, "
                "which does not keep the expression it came from. Pass the Derivative itself: "
                f"d = td.derive(expr, {obj.wrt[0][0]!r}); td.{fname}(d) (and d.evaluate(values) "
                "for the numbers)")
        raise NotationInputError(f"{fname} got a CTensor, which holds numbers only; pass the "
                                 "expression, its text with shapes=, or the Derivative")
    if isinstance(obj, str):
        obj = parse(obj, shapes)
    elif shapes is not None:
        raise NotationInputError(f"{fname}: shapes= is for expression text; an "
                                 f"{type(obj).__name__} already knows its shapes")
    if isinstance(obj, Node):
        if wrt is not None:
            raise NotationInputError(f"{fname}: wrt= needs an expression, not a bare node")
        return obj
    if not isinstance(obj, Expr):
        raise NotationInputError(
            f"{fname} takes expression text (with shapes=), an Expr, a Derivative or a node; got "
            f"{type(obj).__name__}")
    if wrt is not None:
        obj = derive(obj, wrt, order=order)
    return obj


def einsum_notation(expr: Expr | Node | str, shapes: Shapes = None, *, wrt: Any = None,
                    order: int = 1) -> str:
    """The expression as text: nested ``einsum(...)`` calls, functions by name, sums with signs.

    Args:
        expr: expression text, an :class:`~.Expr`, a :class:`~.Derivative` or a node.
        shapes: variable name → shape, for expression text.
        wrt: differentiate first with respect to this variable (``order`` times).
        order: the order of that derivative.

    Returns:
        The text; shared subexpressions are named on lines ``u1 = …`` before the result.

    Raises:
        NotationInputError: for an object it cannot read, such as a :class:`~.CTensor` (numbers
            only): the message says to pass the :class:`~.Derivative` that made it.

    Example:
        >>> import tensorderiv as td
        >>> print(einsum_notation("W.T @ x", {"W": (3, 2), "x": (3,)}, wrt="x"))
        W
    """
    src = _source(expr, shapes, wrt, order, "einsum_notation")
    node = src.node if isinstance(src, Expr) else src
    writer = _EinsumWriter(_variables(src))
    return writer.namer.finish(writer.render(node))


def _variables(src: Expr | Node) -> set[str]:
    """Names the named subexpressions must avoid: every variable the user declared."""
    if isinstance(src, Expr):
        return set(src.node.vars) | set(src.declared)
    return set(src.vars)


class _EinsumWriter:
    def __init__(self, reserved: set[str]) -> None:
        self.namer = Namer(reserved)
        self.memo: dict[Node, str] = {}

    def render(self, node: Node) -> str:
        found = self.memo.get(node)
        if found is None:
            found = self._render(node)
            if not isinstance(node, Var):
                found = self.namer.token(found, 0)
            self.memo[node] = found
        return found

    def _render(self, node: Node) -> str:
        if isinstance(node, Var):
            return node.name
        if isinstance(node, Einsum):
            return self._einsum(node)
        if isinstance(node, Sum):
            parts = []
            # constants first, then positive terms: 1 - square(y) rather than -square(y) + 1
            ordered = sorted(node.terms, key=lambda ct: (not is_fill(ct[1]), ct[0] < 0))
            for k, (c, t) in enumerate(ordered):
                body = self.render(t)
                if isinstance(t, Sum):
                    body = Namer.paren(body)
                sign = "-" if c < 0 else "+"
                mag = abs(c)
                term = body if mag == 1.0 else f"{number(mag)} * {body}"
                parts.append((("-" if sign == "-" else "") if k == 0 else f" {sign} ") + term)
            return "".join(parts)
        if isinstance(node, Apply):
            inner = self.render(node.arg)
            if node.fn == "pow":
                return f"({inner}) ** {number(node.params[0])}"
            if node.fn == "lse":
                return f"logsumexp({inner})"
            if node.fn == "lse_last":
                return f"logsumexp({inner}, axis=-1)"
            return f"{node.fn}({inner})"
        raise TypeError(f"cannot render node type {type(node).__name__}")  # pragma: no cover

    def _einsum(self, node: Einsum) -> str:
        if node.is_constant:
            if not node.out:
                return number(node.coef)
            if len(set(node.out)) == len(node.out):  # a fill: numpy broadcasting, a scalar
                return number(node.coef)
        letters = {i: _letter(i) for i in range(len(node.sizes))}
        subs = [("".join(letters[i] for i in idx), self.render(t)) for t, idx in node.terms]
        out, deltas, used = [], [], set()
        extra = len(node.sizes)
        for i in node.out:
            if i in used:  # a delta between output axes: a fresh letter and a δ factor
                new = _letter(extra)
                extra += 1
                deltas.append(f"δ({letters[i]},{new})")
                out.append(new)
            else:
                used.add(i)
                out.append(letters[i])
        spec = ",".join(s for s, _ in subs) + "->" + "".join(out)
        body = f"einsum({spec!r}, {', '.join(t for _, t in subs)})" if subs else "1"
        if deltas:
            body = f"{body} ⊗ {' ⊗ '.join(deltas)}"
        if node.coef == -1.0:
            body = f"-{body}"
        elif node.coef != 1.0:
            body = f"{number(node.coef)} * {body}"
        return body


def matrix_notation(expr: Expr | Node | str, shapes: Shapes = None, *, wrt: Any = None,
                    order: int = 1) -> str | None:
    """An expression or derivative written in matrix notation, in the notes' layout.

    Uses transposes, ``@``, element-wise ``*``, ``diag``, ``outer``, ``trace``, ``inv``,
    ``softmax`` (over the last axis) and the vocabulary's functions; ``ones(n)`` and ``eye(n)``
    stand for numpy's. The text is numpy: evaluated, it gives the derivative's numbers (a
    derivative of a matrix by a scalar with the shape of the matrix's transpose, notes Def. 17).
    Shared subexpressions are named on lines before the result. Returns ``None`` when the
    result has more than two axes or the contraction does not read as matrix products (then
    :func:`einsum_notation` is the form to show); never a wrong text.

    Args:
        expr: expression text, an :class:`~.Expr`, a :class:`~.Derivative` or a node.
        shapes: variable name → shape, for expression text.
        wrt: differentiate first with respect to this variable (``order`` times).
        order: the order of that derivative.

    Example:
        >>> import tensorderiv as td
        >>> matrix_notation(td.derive("x.T @ A @ x", "x", shapes={"x": (3,), "A": (3, 3)}))
        '(A + A.T) @ x'
        >>> matrix_notation("trace(A @ X @ B)", {"A": (2, 2), "X": (2, 2), "B": (2, 2)}, wrt="X")
        'A.T @ B.T'
        >>> matrix_notation(td.derive("tanh(z)", "z", shapes={"z": (3,)}))
        'diag(1 - tanh(z) ** 2)'
        >>> print(matrix_notation("softmax(z)", {"z": (3,)}, wrt="z"))
        p = softmax(z)
        diag(p) - outer(p, p)
    """
    src = _source(expr, shapes, wrt, order, "matrix_notation")
    node = src.node if isinstance(src, Expr) else src
    writer = MatrixWriter(_variables(src))
    try:
        text, prec = writer.render(node)
    except NoMatrixFormError:
        return None
    if isinstance(src, Derivative) and len(src.wrt) == 1 and not src.wrt[0][1] \
            and src.of.ndim == 2:
        # ∂M/∂s has the shape of Mᵀ (Def. 17)
        text = f"{text if prec >= PREC_ATOM else Namer.paren(text)}.T"
    zero = _ZERO_FILL.fullmatch(text)
    if zero:  # a zero derivative (a declared variable the expression does not use)
        text = f"zeros({zero.group(1)})"
    return writer.namer.finish(text)
