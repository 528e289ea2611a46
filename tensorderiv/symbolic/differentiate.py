"""Symbolic differentiation: product and chain rules as contractions, deltas kept symbolic.

``derivative(node, x)`` is a node of shape ``x.shape + node.shape`` — the notes' (denominator)
layout: the variable's axes first, then the output's. The rules, per node type:

* a variable: δ (an identity einsum, no storage) for itself, zero for any other;
* an einsum: the product rule — one einsum per factor that depends on x, with that factor
  replaced by its derivative (its new leading axes join the output);
* a sum: the sum of the derivatives;
* a function: the chain rule — the argument's derivative contracted with the local Jacobian
  from the function table.

A variable reached along several paths gets the total derivative, the sum over paths (notes
Definitions 2–3), because each path contributes a term. Differentiating the result again gives
higher orders; the newest differentiation's axes come first.

Example:
    >>> import tensorderiv as td
    >>> from tensorderiv.symbolic.differentiate import derivative
    >>> x = td.var("x", (3,))
    >>> derivative((x * x).node, x.node).shape    # 2 diag(x): (3, 3)
    (3, 3)
"""

from __future__ import annotations

from .functions import jacobian
from .nodes import Apply, Einsum, Node, Sum, Var
from .simplify import add, einsum, identity, zero

__all__ = ["derivative"]


def derivative(node: Node, x: Var) -> Node:
    """∂node/∂x as a node of shape ``x.shape + node.shape`` (simplified as it is built)."""
    memo: dict[Node, Node] = {}
    rx = x.ndim

    def d(n: Node) -> Node:
        found = memo.get(n)
        if found is not None:
            return found
        if x.name not in n.vars:
            result = zero(x.shape + n.shape)
        elif isinstance(n, Var):
            result = identity(x.shape)
        elif isinstance(n, Einsum):
            base = len(n.sizes)
            v = tuple(range(base, base + rx))
            sizes = dict(enumerate(n.sizes)) | dict(zip(v, x.shape, strict=True))
            parts = []
            for k, (t, idx) in enumerate(n.terms):
                if x.name not in t.vars:
                    continue
                terms = list(n.terms)
                terms[k] = (d(t), v + idx)
                parts.append((1.0, einsum(n.coef, terms, v + n.out, sizes)))
            result = add(parts) if parts else zero(x.shape + n.shape)
        elif isinstance(n, Sum):
            result = add([(c, d(t)) for c, t in n.terms])
        elif isinstance(n, Apply):
            ra, rn = n.arg.ndim, n.ndim
            v = tuple(range(rx))
            a = tuple(range(rx, rx + ra))
            o = tuple(range(rx + ra, rx + ra + rn))
            result = einsum(1.0, [(d(n.arg), v + a), (jacobian(n), a + o)], v + o)
        else:  # pragma: no cover - the node set is closed
            raise TypeError(f"no derivative rule for node type {type(n).__name__}")
        memo[n] = result
        return result

    return d(node)
