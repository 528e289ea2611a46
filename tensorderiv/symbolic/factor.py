"""Factoring sums of products: ``Σₖ cₖ · (Π common) · wₖ`` becomes ``(Π common) · (Σₖ cₖ wₖ)``.

Higher derivatives of element-wise functions are sums of contractions that share their large
factors and differ only in small weights over summed indices: the third derivative of
Σ tanh(Wx) is ``Σᵣ W_ri W_rj W_rk (a_r + b_r)`` written as two contractions over the same three
copies of W. :func:`factor_sums` rebuilds a graph so that each such group is one contraction
whose weight is a (cheap) sum, so the expensive product is made once.

Example:
    >>> import tensorderiv as td
    >>> from tensorderiv.symbolic.nodes import Sum
    >>> T = td.derive("sum(tanh(W @ x))", "x", order=3, shapes={"W": (4, 4), "x": (4,)})
    >>> isinstance(T.node, Sum), isinstance(factor_sums(T.node), Sum)
    (True, False)
"""

from __future__ import annotations

from typing import Any

from .nodes import Apply, Einsum, Node, Sum, Var, postorder
from .simplify import add, einsum

__all__ = ["factor_sums"]


def _split(e: Einsum) -> tuple[Any, list[tuple[Node, tuple[int, ...]]], dict[int, int]] | None:
    """(signature of the large factors, the weights renumbered, sizes) or None if not factorable.

    Large factors ("carriers") are the terms that carry an output index; weights are the terms
    over summed indices only. Summed indices are renumbered by first appearance in the sorted
    carriers, so two einsums with the same carriers get the same numbers.
    """
    r = len(e.out)
    if len(set(e.out)) != r:
        return None
    outs = set(e.out)
    carriers = [(t, idx) for t, idx in e.terms if set(idx) & outs]
    weights = [(t, idx) for t, idx in e.terms if not set(idx) & outs]
    if not carriers or not weights:
        return None
    num = {i: p for p, i in enumerate(e.out)}
    carriers.sort(key=lambda ti: (ti[0].digest, tuple(num.get(i, -1) for i in ti[1])))
    for _, idx in carriers:
        for i in idx:
            num.setdefault(i, len(num))
    if any(i not in num for _, idx in weights for i in idx):
        return None
    sig = (tuple((t, tuple(num[i] for i in idx)) for t, idx in carriers), r, e.shape)
    sizes = {num[i]: n for i, n in enumerate(e.sizes) if i in num}
    return sig, [(t, tuple(num[i] for i in idx)) for t, idx in weights], sizes


def _factor(terms: list[tuple[float, Node]]) -> list[tuple[float, Node]]:
    groups: dict[Any, list[tuple[float, Einsum, Any]]] = {}
    rest: list[tuple[float, Node]] = []
    for c, t in terms:
        split = _split(t) if isinstance(t, Einsum) and t.terms else None
        if split is None:
            rest.append((c, t))
        else:
            groups.setdefault(split[0], []).append((c, t, split))
    out = list(rest)
    for sig, members in groups.items():
        if len(members) < 2:
            out.extend((c, t) for c, t, _ in members)
            continue
        carriers, r, _ = sig
        sizes: dict[int, int] = {}
        for _, _, (_, _, sz) in members:
            sizes.update(sz)
        summed = sorted({i for _, _, (_, ws, _) in members for _, idx in ws for i in idx})
        inner = {i: sizes[i] for i in summed}
        parts = [(c * t.coef, einsum(1.0, ws, tuple(summed), inner))
                 for c, t, (_, ws, _) in members]
        weight = add(parts)
        out.append((1.0, Einsum.make(1.0, [*carriers, (weight, tuple(summed))],
                                     tuple(range(r)), sizes)))
    return out


def factor_sums(root: Node) -> Node:
    """``root`` rebuilt with each group of same-factor contractions in a sum made one."""
    new: dict[Node, Node] = {}
    for n in postorder(root):
        if isinstance(n, Var) or (isinstance(n, Einsum) and n.is_constant):
            new[n] = n
        elif isinstance(n, Einsum):
            terms = [(new[t], idx) for t, idx in n.terms]
            same = all(a is t for (a, _), (t, _) in zip(terms, n.terms, strict=True))
            new[n] = n if same else Einsum.make(n.coef, terms, n.out, dict(enumerate(n.sizes)))
        elif isinstance(n, Apply):
            arg = new[n.arg]
            new[n] = n if arg is n.arg else Apply.make(n.fn, arg, n.shape, n.params)
        elif isinstance(n, Sum):
            terms = _factor([(c, new[t]) for c, t in n.terms])
            new[n] = terms[0][1] if len(terms) == 1 and terms[0][0] == 1.0 else Sum.make(terms)
        else:  # pragma: no cover - the node set is closed
            raise TypeError(f"unknown node type {type(n).__name__}")
    return new[root]
