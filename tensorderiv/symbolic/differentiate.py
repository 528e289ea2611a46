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

Higher orders stay polynomial in size. Where functions nest (``tanh(tanh(x))``), the factor the
chain rule passes down is *held* (:func:`~.simplify.hold`): it stays one shared node instead of
being multiplied out into its parents, so the next differentiation reads ∂uᵢ = ∂uᵢ₋₁ · f′(uᵢ₋₁)
link by link, as forward-mode Taylor arithmetic does. Only compact factors are held (along
element-wise chains, where the deltas leave one copy of the axes) and only where the product
keeps the factor's axes: a dense Jacobian held would make the next order build a tensor of one
more full rank before contracting it, so it is multiplied out and the contraction path is
optimised over the whole product. From the third order on, ``derive`` builds a scalar's
derivatives forward over reverse (:mod:`~.reverse` with held adjoints, then this function with
``hold_dense``), where holding dense Jacobians is right. A 30-deep tanh chain has 121, 238, 558,
904, 1,338 and 1,831 nodes at orders 1–6 (multiplied out it had 96, 135, 366, 1,622 and 8,329 at
orders 1–5).

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
from .simplify import add, einsum, hold, identity, zero

__all__ = ["derivative"]


def derivative(node: Node, x: Var, *, hold_dense: bool = False) -> Node:
    """∂node/∂x as a node of shape ``x.shape + node.shape`` (simplified as it is built).

    The graph is walked with an explicit stack (children before parents), so a deep graph is
    not limited by Python's recursion limit. ``hold_dense`` holds dense chain-rule factors too
    (Jacobians through matrix products): right when differentiating a reverse-mode gradient
    again, whose adjoints contract those Jacobians with vectors (see ``derive``).
    """
    memo: dict[Node, Node] = {}
    rx = x.ndim
    stack: list[tuple[Node, bool]] = [(node, False)]
    while stack:
        n, ready = stack.pop()
        if n in memo:
            continue
        pending = [] if ready or x.name not in n.vars else \
            [c for c in n.children() if c not in memo and x.name in c.vars]
        if pending:
            stack.append((n, True))
            stack.extend((c, False) for c in pending)
            continue
        memo[n] = _rule(n, x, rx, memo, hold_dense)
    return memo[node]


def _hold_compact(node: Node, rx: int, dense: bool) -> Node:
    """``node`` held where it is compact, else ``node`` as it is.

    Compact: a Jacobian along an element-wise chain, whose deltas leave no more distinct axes
    than the variable or the function's argument has. A dense Jacobian (through a matrix
    product) is multiplied out instead: held, its next derivative would be built as a tensor of
    one more full rank before it is contracted.
    """
    if isinstance(node, Einsum) and (dense or len(set(node.out)) <= max(rx, node.ndim - rx)):
        return hold(node)
    return node


def _rule(n: Node, x: Var, rx: int, memo: dict[Node, Node], dense: bool) -> Node:
    """∂n/∂x from the derivatives of n's children (in ``memo``)."""

    def d(c: Node) -> Node:
        found = memo.get(c)
        return found if found is not None else zero(x.shape + c.shape)

    if x.name not in n.vars:
        return zero(x.shape + n.shape)
    if isinstance(n, Var):
        return identity(x.shape)
    if isinstance(n, Einsum):
        base = len(n.sizes)
        v = tuple(range(base, base + rx))
        sizes = dict(enumerate(n.sizes)) | dict(zip(v, x.shape, strict=True))
        parts = []
        for k, (t, idx) in enumerate(n.terms):
            if x.name not in t.vars:
                continue
            terms = list(n.terms)
            # a factor's derivative is held where the product keeps all its axes (an
            # element-wise product along a chain): the product then stays as long as it was,
            # order after order; where the product sums over the factor's axes, holding would
            # make the next order build the unsummed tensor, so it is multiplied out there
            dt = d(t)
            terms[k] = (_hold_compact(dt, rx, dense) if set(idx) <= set(n.out) else dt, v + idx)
            parts.append((1.0, einsum(n.coef, terms, v + n.out, sizes)))
        return add(parts) if parts else zero(x.shape + n.shape)
    if isinstance(n, Sum):
        return add([(c, d(t)) for c, t in n.terms])
    if isinstance(n, Apply):
        ra, rn = n.arg.ndim, n.ndim
        v = tuple(range(rx))
        a = tuple(range(rx, rx + ra))
        o = tuple(range(rx + ra, rx + ra + rn))
        # the argument's derivative is held (kept one shared node): the next differentiation
        # then reads the chain ∂uᵢ = ∂uᵢ₋₁ · f′(uᵢ₋₁) link by link, and a k-th derivative of a
        # nested composition has a polynomial number of nodes, not one product per path
        da = d(n.arg)
        return einsum(1.0, [(_hold_compact(da, rx, dense), v + a), (jacobian(n), a + o)], v + o)
    raise TypeError(f"no derivative rule for node type {type(n).__name__}")  # pragma: no cover
