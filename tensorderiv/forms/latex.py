r"""Expression text → LaTeX, read with Python's ``ast`` module (never ``eval``).

The text is the expression language of :mod:`tensorderiv.symbolic.parse` (and the matrix forms
written in it): ``@`` becomes juxtaposition, ``*`` between two non-literals the Hadamard product
``\odot``, ``.T`` a ``^\top``, ``inv(X)`` an ``X^{-1}``, ``/`` a fraction, and functions are set
upright.
Text outside that language raises ``ValueError``; :func:`latex_or_text` falls back to
``\texttt{...}`` instead.

Example:
    >>> from tensorderiv.forms.latex import to_latex
    >>> print(to_latex("(A + A.T) @ x"))
    \left(A + A^\top\right) x
    >>> print(to_latex("sum(tanh(W.T @ x) * y) / 2"))
    \frac{\operatorname{sum}\left(\tanh\left(W^\top x\right) \odot y\right)}{2}
"""

from __future__ import annotations

import ast
import re

__all__ = ["derivative_latex", "latex_or_text", "texttt", "to_latex"]

_ADD, _MUL, _UNARY, _POW, _ATOM = 1, 2, 3, 4, 5
_BUILTIN = {"log": r"\log", "exp": r"\exp", "sin": r"\sin", "cos": r"\cos", "tanh": r"\tanh",
            "det": r"\det"}
_RENAMED = {"trace": r"\operatorname{tr}", "logdet": r"\log\det"}
_NAME = re.compile(r"([A-Za-z]+)_?(\d*)\Z")


def to_latex(text: str) -> str:
    """LaTeX for one expression of the language; ``ValueError`` for text outside it."""
    try:
        tree = ast.parse(text.strip(), mode="eval")
    except (SyntaxError, RecursionError, MemoryError) as exc:
        raise ValueError(f"cannot read {text!r} as an expression") from exc
    return _render(tree.body)[0]


def latex_or_text(text: str) -> str:
    r""":func:`to_latex`, or the text set verbatim when it is not in the language.

    A notation that names shared parts first (``p = softmax(z)`` lines before the result) is set
    as the result followed by "where p = …".

    Example:
        >>> print(latex_or_text("f'(Z) ⊙ g"))
        \texttt{f'(Z) ⊙ g}
        >>> print(latex_or_text("p = exp(z)\np - y"))
        p - y,\quad \text{where } p = \exp\left(z\right)
    """
    *named, result = text.split("\n") if text else [text]
    try:
        parts = []
        for line in named:
            name, sep, value = line.partition(" = ")
            if not sep or not name.isidentifier():
                raise ValueError(line)
            parts.append(f"{to_latex(name)} = {to_latex(value)}")
        shown = to_latex(result)
    except ValueError:
        return texttt(text)
    return shown + (r",\quad \text{where } " + ",\\; ".join(parts) if parts else "")


def texttt(text: str) -> str:
    r"""Text set verbatim in LaTeX (``\texttt``), its special characters escaped.

    Example:
        >>> print(texttt("einsum('ab->a', x_1)"))
        \texttt{einsum('ab->a', x\_1)}
    """
    special = {"\\": r"\textbackslash{}", "{": r"\{", "}": r"\}", "_": r"\_", "%": r"\%",
               "$": r"\$", "#": r"\#", "&": r"\&", "^": r"\^{}", "~": r"\~{}"}
    return r"\texttt{" + "".join(special.get(c, c) for c in text) + "}"


def derivative_latex(of: str, wrt: tuple[str, ...]) -> str:
    r"""The Leibniz fraction for ∂ᵏ(of)/∂wrt…, ``wrt`` in axis order (newest first).

    Example:
        >>> print(derivative_latex("x.T @ A @ x", ("x", "x")))
        \frac{\partial^{2} \left(x^\top A x\right)}{\partial x^{2}}
    """
    body = latex_or_text(of)
    top = r"\partial" if len(wrt) == 1 else rf"\partial^{{{len(wrt)}}}"
    if len(set(wrt)) == 1:
        bottom = rf"\partial {_name(wrt[0])}" + ("" if len(wrt) == 1 else f"^{{{len(wrt)}}}")
    else:
        bottom = " ".join(rf"\partial {_name(w)}" for w in wrt)
    if not _NAME.match(of.strip()):
        body = rf"\left({body}\right)"
    return rf"\frac{{{top} {body}}}{{{bottom}}}"


def _name(name: str) -> str:
    """A variable's name: ``x_1`` → x₁ (a subscript), ``x1`` → ``mathit{x1}`` (kept apart)."""
    m = _NAME.match(name)
    if m is None:
        return texttt(name)
    letters, digits = m.groups()
    base = letters if len(letters) == 1 else rf"\mathrm{{{letters}}}"
    if digits and "_" not in name:  # x1 is not x_1: both may be variables of one expression
        return rf"\mathit{{{name}}}"
    return base + (f"_{{{digits}}}" if digits else "")


def _wrap(rendered: tuple[str, int], prec: int) -> str:
    text, p = rendered
    return rf"\left({text}\right)" if p < prec else text


def _number(value: object) -> str:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ValueError(f"literal {value!r} is not a number")
    text = repr(value)
    if "e" in text:
        mant, exp = text.split("e")
        return rf"{mant} \cdot 10^{{{int(exp)}}}"
    return text


def _render(node: ast.AST) -> tuple[str, int]:
    if isinstance(node, ast.Name):
        return _name(node.id), _ATOM
    if isinstance(node, ast.Constant):
        return _number(node.value), _ATOM
    if isinstance(node, ast.Attribute):
        if node.attr != "T":
            raise ValueError(f"attribute .{node.attr} is not in the language")
        return _wrap(_render(node.value), _ATOM) + r"^\top", _POW
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.USub | ast.UAdd):
        sign = "-" if isinstance(node.op, ast.USub) else "+"
        return sign + _wrap(_render(node.operand), _UNARY), _UNARY
    if isinstance(node, ast.BinOp):
        return _binop(node)
    if isinstance(node, ast.Call) and isinstance(node.func, ast.Name):
        return _call(node)
    raise ValueError(f"{type(node).__name__} is not in the language")


def _binop(node: ast.BinOp) -> tuple[str, int]:
    left, right = _render(node.left), _render(node.right)
    if isinstance(node.op, ast.Add | ast.Sub):
        op = "+" if isinstance(node.op, ast.Add) else "-"
        return f"{_wrap(left, _ADD)} {op} {_wrap(right, _MUL if op == '-' else _ADD)}", _ADD
    if isinstance(node.op, ast.Div):
        return rf"\frac{{{left[0]}}}{{{right[0]}}}", _ATOM
    if isinstance(node.op, ast.Pow):
        return rf"{_wrap(left, _ATOM)}^{{{right[0]}}}", _POW
    if isinstance(node.op, ast.MatMult):
        return f"{_wrap(left, _MUL)} {_wrap(right, _UNARY)}", _MUL
    if isinstance(node.op, ast.Mult):
        literal = isinstance(node.left, ast.Constant) or isinstance(node.right, ast.Constant)
        op = " " if literal else r" \odot "
        return f"{_wrap(left, _MUL)}{op}{_wrap(right, _UNARY)}", _MUL
    raise ValueError(f"operator {type(node.op).__name__} is not in the language")


def _call(node: ast.Call) -> tuple[str, int]:
    name = node.func.id  # type: ignore[attr-defined]
    args = list(node.args)
    sub = ""
    if name == "einsum" and args and isinstance(args[0], ast.Constant):
        sub = "_{" + texttt(str(args[0].value)) + "}"
        args = args[1:]
    for kw in node.keywords:
        if kw.arg != "axis":
            raise ValueError(f"keyword {kw.arg}= is not in the language")
        sub = "_{" + _render(kw.value)[0] + "}"
    inner = ", ".join(_render(a)[0] for a in args)
    if name == "inv" and len(args) == 1:
        return _wrap(_render(args[0]), _ATOM) + "^{-1}", _POW
    head = _BUILTIN.get(name) or _RENAMED.get(name) or rf"\operatorname{{{name}}}"
    return rf"{head}{sub}\left({inner}\right)", _ATOM
