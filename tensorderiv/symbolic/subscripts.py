"""``einsum`` written by the user with numpy's subscripts (``"ij,jk->ik"``), as an expression.

The subscripts are checked against the operands' shapes (every index one size, each output
index on some operand) and turned into an index-notation einsum node; repeated input indices
(a diagonal) are allowed, the ellipsis is not.
"""

from __future__ import annotations

from typing import Any

from ..core.errors import ParseError, ShapeError
from .expr import _ATOM, Expr, _merged, as_expr
from .simplify import einsum

__all__ = ["einsum_"]


def einsum_(subscripts: str, *operands: Any) -> Expr:
    """NumPy's ``einsum`` with explicit or implicit output; repeated input indices allowed.

    Example:
        >>> import tensorderiv as td
        >>> A, B = td.var("A", (2, 3)), td.var("B", (3, 4))
        >>> td.einsum("ij,jk->ik", A, B).shape
        (2, 4)
    """
    ops = [as_expr(o) for o in operands]
    text = f"einsum({subscripts!r}, {', '.join(o.text for o in ops)})"
    spec = subscripts.replace(" ", "")
    if "." in spec:
        raise ParseError(f"{text}: ellipsis (...) is not supported; name every axis")
    lhs, arrow, rhs = spec.partition("->")
    ins = lhs.split(",")
    if len(ins) != len(ops):
        raise ShapeError(f"{text}: {len(ins)} operand subscripts for {len(ops)} operands")
    letters = [c for s in ins for c in s]
    if any(not c.isalpha() for c in letters + list(rhs)):
        raise ParseError(f"{text}: subscripts must be letters")
    if not arrow:
        rhs = "".join(sorted(c for c in set(letters) if letters.count(c) == 1))
    sizes: dict[str, int] = {}
    for s, o in zip(ins, ops, strict=True):
        if len(s) != o.ndim:
            raise ShapeError(f"{text}: subscripts {s!r} name {len(s)} axes but {o.text} has "
                             f"shape {o.shape}")
        for c, n in zip(s, o.shape, strict=True):
            if sizes.setdefault(c, n) != n:
                raise ShapeError(f"{text}: index {c!r} has sizes {sizes[c]} and {n}; inner "
                                 "shapes must match")
    for c in rhs:
        if c not in sizes:
            raise ParseError(f"{text}: output index {c!r} is on no operand")
    if len(set(rhs)) != len(rhs):
        raise ParseError(f"{text}: output subscripts {rhs!r} repeat an index")
    code = {c: k for k, c in enumerate(dict.fromkeys(letters))}
    node = einsum(1.0, [(o.node, tuple(code[c] for c in s)) for s, o in zip(ins, ops,
                                                                            strict=True)],
                  tuple(code[c] for c in rhs))
    return Expr(node, text, _ATOM, _merged(*ops))
