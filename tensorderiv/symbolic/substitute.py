"""Substitution: every occurrence of one node replaced by another, the graph rebuilt simplified.

This is how ``td.derive(expr, sub)`` holds an intermediate expression ``sub`` as an independent
variable at its point of use (∂A/∂Z, ∂L/∂Z of the notes' A.9): each occurrence of the interned
node ``sub`` becomes a fresh variable of its shape, and the result is differentiated as usual.
Nodes are interned, so "occurrence" means the very node; a subexpression that simplification
folded into a larger einsum (``2 * (W.T @ X)`` keeps no ``W.T @ X`` node) does not occur.

Example:
    >>> import tensorderiv as td
    >>> from tensorderiv.symbolic.nodes import Var
    >>> W, X = td.var("W", (3, 2)), td.var("X", (3, 4))
    >>> Z = W.T @ X
    >>> A = td.tanh(Z)
    >>> held = substitute(A.node, Z.node, Var.make("Z", Z.shape))
    >>> sorted(held.vars), held.shape
    (['Z'], (2, 4))
"""

from __future__ import annotations

from .functions import apply
from .nodes import Apply, Einsum, Node, Sum, walk
from .simplify import add, einsum

__all__ = ["occurs", "substitute"]


def occurs(sub: Node, root: Node) -> bool:
    """True when the node ``sub`` is ``root`` or one of the nodes under it."""
    if not sub.vars <= root.vars:
        return False
    return any(n is sub for n in walk(root))


def substitute(root: Node, old: Node, new: Node) -> Node:
    """``root`` with every occurrence of ``old`` replaced by ``new`` (of the same shape)."""
    if old.shape != new.shape:
        raise ValueError(f"substitute: shapes differ, {old.shape} and {new.shape}")
    memo: dict[Node, Node] = {old: new}

    def s(n: Node) -> Node:
        found = memo.get(n)
        if found is not None:
            return found
        if not old.vars <= n.vars:  # old cannot occur under n
            result = n
        elif isinstance(n, Einsum):
            terms = [(s(t), idx) for t, idx in n.terms]
            same = all(a is t for (a, _), (t, _) in zip(terms, n.terms, strict=True))
            result = n if same else einsum(n.coef, terms, n.out, dict(enumerate(n.sizes)))
        elif isinstance(n, Sum):
            terms = [(c, s(t)) for c, t in n.terms]
            same = all(a is t for (_, a), (_, t) in zip(terms, n.terms, strict=True))
            result = n if same else add(terms)
        elif isinstance(n, Apply):
            arg = s(n.arg)
            result = n if arg is n.arg else apply(n.fn, arg, n.params)
        else:  # a variable other than old
            result = n
        memo[n] = result
        return result

    return s(root)
