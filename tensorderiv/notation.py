"""Text renderings of expression graphs: the einsum contractions a derivative evaluates.

:func:`einsum_notation` writes a node graph as nested ``einsum`` calls in numpy's subscript
notation, one per contraction, with element-wise functions by name. Output axes that carry a
Kronecker delta are written with ``δ`` factors (they are never materialised).

Example:
    >>> import tensorderiv as td
    >>> from tensorderiv.notation import einsum_notation
    >>> d = td.derive("sum(tanh(W.T @ x))", "W", shapes={"W": (3, 2), "x": (3,)})
    >>> einsum_notation(d.node)
    "einsum('a,b->ab', x, 1 - square(tanh(einsum('b,ba->a', x, W))))"
"""

from __future__ import annotations

import string

from .nodes import Apply, Einsum, Node, Sum, Var

__all__ = ["einsum_notation"]

_LETTERS = string.ascii_lowercase + string.ascii_uppercase


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
    letters = {i: _LETTERS[i % len(_LETTERS)] for i in range(len(node.sizes))}
    subs = [("".join(letters[i] for i in idx), einsum_notation(t)) for t, idx in node.terms]
    out, deltas, used = [], [], set()
    extra = len(node.sizes)
    for i in node.out:
        if i in used:  # a delta between output axes: a fresh letter and a δ factor
            new = _LETTERS[extra % len(_LETTERS)]
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
