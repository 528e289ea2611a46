"""Substitution: every occurrence of one node replaced by another, the graph rebuilt simplified.

This is how ``td.derive(expr, sub)`` holds an intermediate expression ``sub`` as an independent
variable at its point of use (∂A/∂Z, ∂L/∂Z of the notes' A.9): each occurrence of ``sub`` becomes
a fresh variable of its shape, and the result is differentiated as usual.

An occurrence is the interned node itself, or what simplification made of it inside a larger
node, since products are inlined and sums flattened as they are built:

* a product ``sub`` (an einsum) inside a larger einsum: its factors, with its summed indices
  summed there and nowhere else, up to a renaming of indices (so ``Zᵀ`` is found as ``Z``
  transposed) and a constant factor (``2 * Z`` holds ``Z`` as ``V``, giving ``2 V``);
* a sum ``sub`` inside a larger sum: its terms, with coefficients in the same ratio.

Example:
    >>> import tensorderiv as td
    >>> from tensorderiv.symbolic.nodes import Var
    >>> W, X = td.var("W", (3, 2)), td.var("X", (3, 4))
    >>> Z = W.T @ X
    >>> V = Var.make("Z", Z.shape)
    >>> sorted(substitute(td.tanh(Z).node, Z.node, V).vars)
    ['Z']
    >>> sorted(substitute(td.sum(Z * Z).node, Z.node, V).vars)   # Z inlined twice: found twice
    ['Z']
"""

from __future__ import annotations

from .functions import apply
from .nodes import Apply, Einsum, Node, Sum, Term
from .simplify import add, einsum

__all__ = ["substitute"]


def substitute(root: Node, old: Node, new: Node) -> Node:
    """``root`` with every occurrence of ``old`` replaced by ``new`` (of the same shape).

    When ``old`` occurs nowhere, ``root`` itself is returned (``new`` is then not in its vars).
    """
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
            coef, terms = n.coef, list(n.terms)
            if isinstance(old, Einsum) and old.terms:
                coef, terms = _replace_products(old, new, coef, terms, n.out)
            rebuilt = [(s(t), idx) for t, idx in terms]
            same = coef == n.coef and len(rebuilt) == len(n.terms) and all(
                a is t for (a, _), (t, _) in zip(rebuilt, n.terms, strict=True))
            # sizes only of the indices left: one on no term would be summed as a constant
            live = {i for _, idx in rebuilt for i in idx} | set(n.out)
            result = n if same else einsum(coef, rebuilt, n.out,
                                           {i: n.sizes[i] for i in live})
        elif isinstance(n, Sum):
            pairs = list(n.terms)
            if isinstance(old, Sum):
                pairs = _replace_terms(old, new, pairs)
            rebuilt_pairs = [(c, s(t)) for c, t in pairs]
            same = len(rebuilt_pairs) == len(n.terms) and all(
                a is t and c == d for (c, a), (d, t) in zip(rebuilt_pairs, n.terms, strict=True))
            result = n if same else add(rebuilt_pairs)
        elif isinstance(n, Apply):
            arg = s(n.arg)
            result = n if arg is n.arg else apply(n.fn, arg, n.params)
        else:  # a variable other than old
            result = n
        memo[n] = result
        return result

    return s(root)


def _replace_products(old: Einsum, new: Node, coef: float, terms: list[Term],
                      out: tuple[int, ...]) -> tuple[float, list[Term]]:
    """Replace each inlined copy of the product ``old`` among ``terms`` by ``new``."""
    if len(set(old.out)) != len(old.out):  # a delta in old's output: unification loses it
        return coef, terms
    on_terms = {i for _, idx in old.terms for i in idx}
    if any(i not in on_terms for i in old.out):  # a broadcast output axis: nothing to match
        return coef, terms
    summed = [i for i in range(len(old.sizes)) if i not in old.out]
    while True:
        match = _match(old, terms, out, summed)
        if match is None:
            return coef, terms
        used, m = match
        terms = [t for q, t in enumerate(terms) if q not in used]
        terms.append((new, tuple(m[o] for o in old.out)))
        coef = coef / old.coef


_Match = tuple[set[int], dict[int, int]]


def _match(old: Einsum, terms: list[Term], out: tuple[int, ...],
           summed: list[int]) -> _Match | None:
    """Positions of ``terms`` that are ``old``'s factors, and old's index → the parent's index."""

    def search(k: int, used: list[int], m: dict[int, int]) -> _Match | None:
        if k == len(old.terms):
            images = [m[i] for i in summed]
            others = {j for q, (_, idx) in enumerate(terms) if q not in used for j in idx}
            kept = {m[o] for o in old.out}
            if len(set(images)) != len(images) or any(
                    x in others or x in out or x in kept for x in images):
                return None  # old's summed indices must be summed in these factors alone
            return set(used), m
        node, idx = old.terms[k]
        for q, (t, tidx) in enumerate(terms):
            if q in used or t is not node:
                continue
            trial = dict(m)
            if all(trial.setdefault(a, b) == b for a, b in zip(idx, tidx, strict=True)):
                found = search(k + 1, [*used, q], trial)
                if found is not None:
                    return found
        return None

    return search(0, [], {})


def _replace_terms(old: Sum, new: Node, pairs: list[tuple[float, Node]]
                   ) -> list[tuple[float, Node]]:
    """Replace the terms of ``old`` among ``pairs`` (coefficients in one ratio) by ``new``."""
    if len(old.terms) > len(pairs):
        return pairs
    coefs = {t: c for c, t in pairs}
    c0, t0 = old.terms[0]
    if t0 not in coefs:
        return pairs
    ratio = coefs[t0] / c0
    if not all(t in coefs and coefs[t] == ratio * c for c, t in old.terms):
        return pairs
    drop = {t for _, t in old.terms}
    return [(c, t) for c, t in pairs if t not in drop] + [(ratio, new)]
