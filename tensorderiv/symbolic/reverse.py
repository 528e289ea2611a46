"""Reverse accumulation: gradients as backpropagation builds them, sharing the backward pass.

``adjoints(root, xs)`` gives ∂root/∂x for each variable x as a node of shape
``x.shape + root.shape`` (the notes' layout, as :func:`~.differentiate.derivative` gives it), built
from the output side: the adjoint of the root is δ (1 for a scalar), and each node's adjoint is the
sum, over the nodes that read it, of their adjoint contracted with the local derivative:

* an einsum ``coef · Π tₖ[idxₖ] → out``: term k's adjoint is ``coef · ā[out] Π_{j≠k} tⱼ[idxⱼ]``
  with output ``idxₖ`` (a repeated index there is a delta, an index on no term a broadcast);
* a sum: each term's adjoint is its coefficient times the sum's;
* an element-wise function: the adjoint times f′(arg), entry by entry; any other function:
  the adjoint contracted with its Jacobian.

Each adjoint is a node of its own (an einsum built as given, not inlined into its readers), so the
evaluator computes it once and the order of the work is backprop's: for a chain, every product
is (matrix) × (adjoint) from the output side, never a product of two Jacobians. All requested
gradients of one root come from one sweep and share every adjoint they have in common.

Example:
    >>> import numpy as np
    >>> import tensorderiv as td
    >>> from tensorderiv.symbolic.reverse import adjoints
    >>> from tensorderiv.symbolic.evaluate import Program
    >>> W, x = td.var("W", (3, 2)), td.var("x", (3,))
    >>> (g,) = adjoints(td.sum(td.tanh(W.T @ x)).node, [W.node])
    >>> v = {"W": np.ones((3, 2)) * 0.1, "x": np.array([1.0, 2.0, 3.0])}
    >>> np.allclose(Program(g).run(v).dense(),
    ...             np.outer(v["x"], 1 - np.tanh(v["W"].T @ v["x"]) ** 2))
    True
"""

from __future__ import annotations

from collections.abc import Sequence

from .functions import FUNCTIONS, jacobian
from .nodes import Apply, Einsum, Node, Sum, Var, postorder
from .simplify import add, identity, is_zero, zero

__all__ = ["adjoints"]


def _product(coef: float, terms: list[tuple[Node, tuple[int, ...]]], out: tuple[int, ...],
             sizes: dict[int, int], held: bool = False) -> Node | None:
    """``coef · Π terms → out`` as its own node (None when a factor is zero)."""
    if coef == 0.0 or any(is_zero(t) for t, _ in terms):
        return None
    # constant fills (the root's adjoint 1, a broadcast's ones) are factors, not operands,
    # wherever the other terms or the output carry their indices
    kept = []
    for k, (t, idx) in enumerate(terms):
        others = {i for j, (_, jdx) in enumerate(terms) if j != k for i in jdx} | set(out)
        if isinstance(t, Einsum) and t.is_constant and len(set(t.out)) == len(t.out) and \
                set(idx) <= others:
            coef *= t.coef
        else:
            kept.append((t, idx))
    terms = kept  # none left: a constant fill of the output's shape
    if len(terms) == 1 and coef == 1.0 and terms[0][1] == out and len(set(out)) == len(out):
        return terms[0][0]
    used = {i for _, idx in terms for i in idx} | set(out)
    return Einsum.make(coef, terms, out, {i: n for i, n in sizes.items() if i in used},
                       held=held and len(terms) > 1)


def adjoints(root: Node, xs: Sequence[Var], *, held: bool = False) -> list[Node]:
    """∂root/∂x for each x in ``xs``, by one reverse sweep (shape ``x.shape + root.shape``).

    ``held`` marks the adjoints held (:func:`~.simplify.hold`), so that differentiating the
    gradients again keeps each adjoint one shared node (forward over reverse, as for Hessians).
    """
    wanted = frozenset(x.name for x in xs)
    order = postorder(root, lambda n: bool(n.vars & wanted))
    rE = root.ndim
    pending: dict[Node, list[tuple[float, Node]]] = {root: [(1.0, identity(root.shape))]}
    found: dict[Node, Node] = {}
    for n in reversed(order):
        parts = pending.pop(n, None)
        if not parts:
            continue
        bar = add(parts)
        if isinstance(n, Var):
            found[n] = bar
            continue
        if is_zero(bar):
            continue
        for child, contribution in _backward(n, bar, rE, root.shape, wanted, held):
            pending.setdefault(child, []).append(contribution)
    return [found.get(x, zero(x.shape + root.shape)) for x in xs]


def _backward(n: Node, bar: Node, rE: int, extra: tuple[int, ...],
              wanted: frozenset[str], held: bool) -> list[tuple[Node, tuple[float, Node]]]:
    """(child, (coefficient, adjoint contribution)) for each child of ``n`` on a wanted path."""
    out: list[tuple[Node, tuple[float, Node]]] = []
    if isinstance(n, Einsum):
        base = len(n.sizes)
        E = tuple(range(base, base + rE))
        sizes = dict(enumerate(n.sizes)) | dict(zip(E, extra, strict=True))
        for k, (t, idx) in enumerate(n.terms):
            if not (t.vars & wanted):
                continue
            terms = [(bar, n.out + E)] + [n.terms[j] for j in range(len(n.terms)) if j != k]
            node = _product(n.coef, terms, tuple(idx) + E, sizes, held)
            if node is not None:
                out.append((t, (1.0, node)))
    elif isinstance(n, Sum):
        out.extend((t, (c, bar)) for c, t in n.terms if t.vars & wanted)
    elif isinstance(n, Apply):
        f = FUNCTIONS[n.fn]
        r = n.ndim
        if f.elementwise:
            g = f.rule(n.arg, n, n.params)
            idx = tuple(range(r))
            E = tuple(range(r, r + rE))
            sizes = dict(zip(idx + E, n.shape + extra, strict=True))
            node = _product(1.0, [(bar, idx + E), (g, idx)], idx + E, sizes, held)
        else:
            J = jacobian(n)
            ra = n.arg.ndim
            a, o = tuple(range(ra)), tuple(range(ra, ra + r))
            E = tuple(range(ra + r, ra + r + rE))
            sizes = dict(zip(a + o + E, n.arg.shape + n.shape + extra, strict=True))
            node = _product(1.0, [(J, a + o), (bar, o + E)], a + E, sizes, held)
        if node is not None:
            out.append((n.arg, (1.0, node)))
    return out
