"""Text renderings of expression graphs: the einsum contractions a derivative evaluates.

:func:`einsum_notation` writes a node graph as nested ``einsum`` calls in numpy's subscript
notation, one per contraction, with element-wise functions by name. Output axes that carry a
Kronecker delta are written with ``δ`` factors (they are never materialised).

Example:
    >>> import tensorderiv as td
    >>> from tensorderiv.forms.notation import einsum_notation
    >>> d = td.derive("sum(tanh(W.T @ x))", "W", shapes={"W": (3, 2), "x": (3,)})
    >>> einsum_notation(d.node)
    "einsum('a,b->ab', x, 1 - square(tanh(einsum('b,ba->a', x, W))))"
"""

from __future__ import annotations

import string

import opt_einsum as oe

from ..symbolic.derivative import Derivative
from ..symbolic.expr import Expr
from ..symbolic.nodes import Apply, Einsum, Node, Sum, Var

__all__ = ["NoMatrixFormError", "einsum_notation", "matrix_notation"]

_LETTERS = string.ascii_lowercase + string.ascii_uppercase


def _letter(i: int) -> str:
    """Index i as a subscript letter: a–z, A–Z, then opt_einsum's unicode symbols (no limit)."""
    return _LETTERS[i] if i < len(_LETTERS) else oe.get_symbol(i)


def _num(c: float) -> str:
    return repr(int(c)) if float(c).is_integer() and abs(c) < 1e15 else repr(c)


def einsum_notation(node: Node) -> str:
    """The node as text: nested ``einsum(...)`` calls, functions by name, sums with signs."""
    if isinstance(node, Var):
        return node.name
    if isinstance(node, Einsum):
        return _einsum(node)
    if isinstance(node, Sum):
        parts = []
        # constants first, then positive terms: 1 - square(y) rather than -square(y) + 1
        ordered = sorted(node.terms, key=lambda ct: (not _is_fill(ct[1]), ct[0] < 0))
        for k, (c, t) in enumerate(ordered):
            body = einsum_notation(t)
            if isinstance(t, Sum):
                body = f"({body})"
            sign = "-" if c < 0 else "+"
            mag = abs(c)
            term = body if mag == 1.0 else f"{_num(mag)} * {body}"
            parts.append((("-" if sign == "-" else "") if k == 0 else f" {sign} ") + term)
        return "".join(parts)
    if isinstance(node, Apply):
        inner = einsum_notation(node.arg)
        if node.fn == "pow":
            return f"({inner}) ** {_num(node.params[0])}"
        if node.fn == "lse":
            return f"logsumexp({inner})"
        if node.fn == "lse_last":
            return f"logsumexp({inner}, axis=-1)"
        return f"{node.fn}({inner})"
    raise TypeError(f"cannot render node type {type(node).__name__}")  # pragma: no cover


def _einsum(node: Einsum) -> str:
    if node.is_constant:
        if not node.out:
            return _num(node.coef)
        if len(set(node.out)) == len(node.out):  # a fill: numpy broadcasting writes it as a scalar
            return _num(node.coef)
    letters = {i: _letter(i) for i in range(len(node.sizes))}
    subs = [("".join(letters[i] for i in idx), einsum_notation(t)) for t, idx in node.terms]
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
        body = f"{_num(node.coef)} * {body}"
    return body


def _is_fill(node: Node) -> bool:
    return isinstance(node, Einsum) and node.is_constant and len(set(node.out)) == len(node.out)


# ---------------------------------------------------------------- matrix notation
class NoMatrixFormError(Exception):
    """Raised inside the translator when a node has no matrix-notation form."""


_FUNC_TEXT = {"lse": "logsumexp"}
_PREC_ATOM, _PREC_POW, _PREC_UNARY, _PREC_MUL, _PREC_ADD = 100, 80, 70, 60, 50
_PREC_MATMUL = 61  # a chain of @: associative, so it needs no parentheses beside another @
_PREC_RIGHT = 62  # the right operand of * (or @ after *): Python groups them left to right


def _paren(text: str, prec: int, need: int) -> str:
    return f"({text})" if prec < need else text


def _shape_text(shape: tuple[int, ...]) -> str:
    return str(shape[0]) if len(shape) == 1 else str(shape)


def _mat(node: Node) -> tuple[str, int]:
    """``(text, precedence)`` of a rank ≤ 2 node in matrix notation, or NoMatrixFormError."""
    if node.ndim > 2:
        raise NoMatrixFormError(f"a rank-{node.ndim} intermediate")
    if isinstance(node, Var):
        return node.name, _PREC_ATOM
    if isinstance(node, Apply):
        arg, p = _mat(node.arg)
        if node.fn == "pow":
            return f"{_paren(arg, p, _PREC_POW + 1)} ** {_num(node.params[0])}", _PREC_POW
        if node.fn == "square":
            return f"{_paren(arg, p, _PREC_POW + 1)} ** 2", _PREC_POW
        if node.fn == "lse_last":
            raise NoMatrixFormError("a softmax over the last axis")
        return f"{_FUNC_TEXT.get(node.fn, node.fn)}({arg})", _PREC_ATOM
    if isinstance(node, Sum):
        return _sum_text(node)
    if isinstance(node, Einsum):
        return _einsum_text(node)
    raise NoMatrixFormError(type(node).__name__)  # pragma: no cover


def _split_last_matmul(text: str) -> tuple[str, str] | None:
    """Split ``L @ R`` at its last top-level ``@``."""
    depth = 0
    for k in range(len(text) - 1, -1, -1):
        c = text[k]
        if c == ")":
            depth += 1
        elif c == "(":
            depth -= 1
        elif c == "@" and depth == 0 and text[k - 1] == " ":
            return text[: k - 1], text[k + 2:]
    return None


def _sum_text(node: Sum) -> tuple[str, int]:
    terms = []
    for c, t in node.terms:
        if _is_fill(t):
            assert isinstance(t, Einsum)
            terms.append((c * t.coef, _num(abs(c * t.coef)), _PREC_ATOM, True))
        else:
            text, p = _mat(t)
            terms.append((c, text, p, False))
    # constants first, then plain terms before transposed ones: 1 - x, A + A.T
    terms.sort(key=lambda z: (not z[3], z[1].count(".T"), len(z[1]), z[1]))
    # a common right factor: (L1 + L2) @ R
    splits = [_split_last_matmul(z[1]) if not z[3] and z[2] == _PREC_MATMUL else None
              for z in terms]
    if len(terms) > 1 and all(s is not None for s in splits) \
            and len({s[1] for s in splits}) == 1:  # type: ignore[index]
        inner = _join([(c, s[0], _PREC_MUL, False)  # type: ignore[index]
                       for (c, *_), s in zip(terms, splits, strict=True)])
        return f"({inner}) @ {splits[0][1]}", _PREC_MATMUL  # type: ignore[index]
    return _join(terms), _PREC_ADD


def _join(terms: list[tuple[float, str, int, bool]]) -> str:
    out = []
    for k, (c, text, p, is_const) in enumerate(terms):
        mag = abs(c)
        if is_const:
            body = text
        elif mag == 1.0:
            body = _paren(text, p, _PREC_ADD + 1)
        else:
            body = f"{_num(mag)} * {_paren(text, p, _PREC_RIGHT)}"
        if k == 0:
            out.append(f"-{_paren(body, _PREC_MUL, _PREC_UNARY)}" if c < 0 else body)
        else:
            out.append(f" {'-' if c < 0 else '+'} {body}")
    return "".join(out)


class _Factor:
    __slots__ = ("idx", "prec", "text")

    def __init__(self, text: str, idx: tuple[int, ...], prec: int) -> None:
        self.text, self.idx, self.prec = text, idx, prec

    def t(self) -> _Factor:
        if len(self.idx) < 2:
            return self
        return _Factor(f"{_paren(self.text, self.prec, _PREC_ATOM)}.T", self.idx[::-1],
                       _PREC_ATOM)

    def a(self, need: int) -> str:
        return _paren(self.text, self.prec, need)


def _hadamard(fs: list[_Factor], summed: set[int]) -> list[_Factor]:
    """Merge factors over the same indices into element-wise products.

    Two vectors that alone share a summed index are left for ``@`` (``a @ b``, not
    ``sum(a * b)``).
    """
    holders: dict[int, int] = {}
    for f in fs:
        for i in set(f.idx):
            holders[i] = holders.get(i, 0) + 1
    out: list[_Factor] = []
    for f in fs:
        if len(f.idx) == 1 and f.idx[0] in summed and holders[f.idx[0]] == 2:
            out.append(f)
            continue
        for k, g in enumerate(out):
            if set(g.idx) == set(f.idx) and len(g.idx) == len(f.idx):
                f2 = f if f.idx == g.idx else f.t()
                out[k] = _Factor(f"{g.a(_PREC_MUL)} * {f2.a(_PREC_RIGHT)}", g.idx, _PREC_MUL)
                break
        else:
            out.append(f)
    return out


def _matmul(f: _Factor, g: _Factor, s: int, out: tuple[int, ...] = ()) -> _Factor:
    """``f @ g`` over the shared index ``s`` (f oriented to end in s, g to start with it).

    A vector meets a matrix as ``M @ v`` (the notes' column vectors), not ``v @ M``; two
    matrices are ordered so the result's axes come in the output's order (``A.T @ B.T`` rather
    than ``(B @ A).T``).
    """
    if len(f.idx) == 1 and len(g.idx) == 2:
        f, g = g, f
    elif len(f.idx) == 2 and len(g.idx) == 2:
        free_f = next(i for i in f.idx if i != s)
        free_g = next(i for i in g.idx if i != s)
        if free_f in out and free_g in out and out.index(free_f) > out.index(free_g):
            f, g = g, f
    if len(f.idx) == 2 and f.idx[0] == s:
        f = f.t()
    if len(g.idx) == 2 and g.idx[1] == s:
        g = g.t()
    idx = tuple(i for i in f.idx if i != s) + tuple(i for i in g.idx if i != s)
    return _Factor(f"{f.a(_PREC_MATMUL)} @ {g.a(_PREC_MATMUL)}", idx, _PREC_MATMUL)


def _einsum_text(node: Einsum) -> tuple[str, int]:
    if node.is_constant:
        if not node.out:
            return _num(node.coef), _PREC_ATOM
        if len(set(node.out)) == len(node.out):
            body = f"ones({_shape_text(node.shape)})"
        elif len(node.out) == 2:
            body = f"eye({node.shape[0]})"
        else:
            raise NoMatrixFormError("a delta of rank > 2")
        return _scaled(node.coef, body, _PREC_ATOM)
    factors: list[_Factor] = []
    scalars: list[str] = []
    for t, idx in node.terms:
        text, p = _mat(t)
        if len(idx) == 2 and idx[0] == idx[1]:  # a diagonal of a matrix
            f = _Factor(f"diag({text})", (idx[0],), _PREC_ATOM)
        else:
            f = _Factor(text, tuple(idx), p)
        if not f.idx:
            scalars.append(f.a(_PREC_MUL))
        else:
            factors.append(f)
    out = node.out
    summed = {i for f in factors for i in f.idx} - set(out)
    while True:
        factors = _hadamard(factors, summed)
        still = [s for s in sorted(summed) if any(s in f.idx for f in factors)]
        if not still:
            break
        s = still[0]
        holders = [f for f in factors if s in f.idx]
        rest = [f for f in factors if s not in f.idx]
        if len(holders) == 1:
            (f,) = holders
            if len(f.idx) == 1:
                new = _Factor(f"sum({f.text})", (), _PREC_ATOM)
            else:
                axis = f.idx.index(s)
                other = f.idx[1 - axis]
                new = _Factor(f"sum({f.text}, axis={axis})", (other,), _PREC_ATOM)
        elif len(holders) == 2:
            new = _matmul(holders[0], holders[1], s, out)
        elif len(holders) == 3 and sum(len(f.idx) == 1 for f in holders) == 1:
            v = next(f for f in holders if len(f.idx) == 1)
            m1, m2 = (f for f in holders if len(f.idx) == 2)
            m2o = m2 if m2.idx[0] == s else m2.t()
            scaled = _Factor(f"diag({v.text}) @ {m2o.a(_PREC_MATMUL)}", m2o.idx, _PREC_MATMUL)
            new = _matmul(m1, scaled, s, out)
        else:
            raise NoMatrixFormError(f"index shared by {len(holders)} factors")
        summed.discard(s)
        if not new.idx:
            scalars.append(new.a(_PREC_MUL))
            factors = rest
        else:
            factors = [*rest, new]
    # what is left carries only output indices
    distinct = tuple(dict.fromkeys(out))
    if len(distinct) != len(out):  # a delta in the output: diag of the vector on that index
        if len(out) != 2 or len(factors) > 1:
            raise NoMatrixFormError("a delta beside other axes")
        body = f"diag({factors[0].text})" if factors else f"eye({node.shape[0]})"
        result = _Factor(body, out, _PREC_ATOM)
    elif not factors and not out:
        result = _Factor("1", (), _PREC_ATOM)
        if scalars:
            return _scaled(node.coef, " * ".join(scalars), _PREC_MUL)
    elif not factors:
        result = _Factor(f"ones({_shape_text(node.shape)})", out, _PREC_ATOM)
    elif len(factors) == 1:
        result = factors[0]
        if set(result.idx) != set(out):
            raise NoMatrixFormError("a broadcast output axis")
    elif len(factors) == 2 and all(len(f.idx) == 1 for f in factors) and len(out) == 2:
        a, b = sorted(factors, key=lambda f: out.index(f.idx[0]))
        result = _Factor(f"outer({a.text}, {b.text})", out, _PREC_ATOM)
    elif len(factors) == 2 and len(out) == 2:
        v = next((f for f in factors if len(f.idx) == 1), None)
        m = next((f for f in factors if len(f.idx) == 2), None)
        if v is None or m is None:
            raise NoMatrixFormError("factors that do not form a matrix product")
        m = m if m.idx == out else m.t()
        if v.idx[0] == out[0]:
            result = _Factor(f"diag({v.text}) @ {m.a(_PREC_MATMUL)}", out, _PREC_MATMUL)
        else:
            result = _Factor(f"{m.a(_PREC_MATMUL)} @ diag({v.text})", out, _PREC_MATMUL)
    else:
        raise NoMatrixFormError("more factors than a matrix expression holds")
    if len(result.idx) == 2 and result.idx != out:
        result = result.t()
    text, prec = result.text, result.prec
    if scalars:
        text = " * ".join([*scalars, _paren(text, prec, _PREC_RIGHT)])
        prec = _PREC_MUL
    return _scaled(node.coef, text, prec)


def _scaled(coef: float, text: str, prec: int) -> tuple[str, int]:
    if coef == 1.0:
        return text, prec
    if coef == -1.0:
        return f"-{_paren(text, prec, _PREC_UNARY)}", _PREC_UNARY
    return f"{_num(coef)} * {_paren(text, prec, _PREC_RIGHT)}", _PREC_MUL


def matrix_notation(expr: Expr) -> str | None:
    """An expression or derivative written in matrix notation, in the notes' layout.

    Uses transposes, ``@``, element-wise ``*``, ``diag``, ``outer``, ``trace``, ``inv`` and the
    vocabulary's functions; ``ones(n)`` and ``eye(n)`` stand for numpy's. Returns ``None`` when
    the result has more than two axes or the contraction does not read as matrix products (then
    :func:`einsum_notation` is the form to show).

    Example:
        >>> import tensorderiv as td
        >>> matrix_notation(td.derive("x.T @ A @ x", "x", shapes={"x": (3,), "A": (3, 3)}))
        '(A + A.T) @ x'
        >>> matrix_notation(td.derive("trace(A @ X @ B)", "X",
        ...                           shapes={"A": (2, 2), "X": (2, 2), "B": (2, 2)}))
        'A.T @ B.T'
        >>> matrix_notation(td.derive("tanh(z)", "z", shapes={"z": (3,)}))
        'diag(1 - tanh(z) ** 2)'
    """
    try:
        text, prec = _mat(expr.node)
    except NoMatrixFormError:
        return None
    if isinstance(expr, Derivative) and len(expr.wrt) == 1 and not expr.wrt[0][1] \
            and expr.of.ndim == 2:
        text = f"{_paren(text, prec, _PREC_ATOM)}.T"  # ∂M/∂s has the shape of Mᵀ (Def. 17)
    return text
