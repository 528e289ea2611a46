"""Simplifying constructors: every node is built through these, so expressions stay canonical.

The rules, applied as nodes are made (so a derivative costs what its hand-written form costs):

* **delta elimination** — an einsum term that is itself an einsum is inlined; an output index it
  repeats (a Kronecker delta) identifies the parent's indices, so deltas become shared labels;
* **zero propagation** — a zero factor makes the einsum zero; zero terms leave a sum;
* **constant folding** — scalar literals become coefficients; equal constant fills add up;
* **like terms** — sum terms that differ only by a coefficient are merged, nested sums flattened;
* **no-ops** — an einsum that returns its single term unchanged is that term;
* **held factors** — a product marked ``held`` (see :func:`hold`), or one of more than
  ``INLINE_MAX_TERMS`` factors, is not inlined: its parents read it as one shared node;
* **shared deltas** — where functions nest, a sum whose terms all carry the same deltas becomes
  the deltas around one sum of the compact terms, so the sum keeps its diagonal structure.

Example:
    >>> from tensorderiv.symbolic.nodes import Var
    >>> from tensorderiv.symbolic.simplify import einsum, add, identity
    >>> x = Var.make("x", (3,))
    >>> d = einsum(1.0, [(identity((3,)), (0, 1)), (x, (1,))], (0,))   # δᵢⱼ xⱼ
    >>> d is x
    True
    >>> add([(2.0, x), (3.0, x)]).coef   # 2x + 3x = 5x
    5.0
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Sequence

from ..core.errors import DomainError
from .nodes import Einsum, Node, Sum

__all__ = ["HOLD_NESTING", "INLINE_MAX_TERMS", "add", "constant", "einsum", "hold", "identity",
           "is_zero", "scale", "zero"]

HOLD_NESTING = 2
"""Derivative factors whose functions nest at least this deep are held (see :func:`hold`)."""

INLINE_MAX_TERMS = 8
"""A child einsum of more terms is kept as one shared node rather than inlined (its deltas are
still taken up), so repeated differentiation grows polynomially, not exponentially."""


def zero(shape: Sequence[int]) -> Node:
    """The zero tensor of ``shape``."""
    r = len(shape)
    return Einsum.make(0.0, (), tuple(range(r)), dict(enumerate(shape)))


def constant(value: float, shape: Sequence[int] = ()) -> Node:
    """A tensor of ``shape`` filled with ``value`` (a literal when ``shape`` is ``()``)."""
    r = len(shape)
    return Einsum.make(float(value), (), tuple(range(r)), dict(enumerate(shape)))


def identity(shape: Sequence[int]) -> Node:
    """δ for ``shape``: a tensor of shape ``shape + shape``, 1 where both halves agree."""
    r = len(shape)
    return Einsum.make(1.0, (), tuple(range(r)) * 2, dict(enumerate(shape)))


def is_zero(node: Node) -> bool:
    """True for a node built as zero."""
    return isinstance(node, Einsum) and node.coef == 0.0


def scale(c: float, node: Node) -> Node:
    """``c · node``."""
    r = node.ndim
    return einsum(c, [(node, tuple(range(r)))], tuple(range(r)))


class _Unify:
    def __init__(self) -> None:
        self.parent: dict[int, int] = {}

    def find(self, i: int) -> int:
        while self.parent.get(i, i) != i:
            i = self.parent[i]
        return i

    def union(self, a: int, b: int) -> None:
        ra, rb = self.find(a), self.find(b)
        if ra != rb:
            self.parent[max(ra, rb)] = min(ra, rb)


def einsum(
    coef: float,
    terms: Sequence[tuple[Node, Sequence[int]]],
    out: Sequence[int],
    sizes: dict[int, int] | None = None,
) -> Node:
    """``coef · Σ Π termₖ[idxₖ] → out``, simplified (see the module docstring).

    Indices are any integers; an index on no term needs its size in ``sizes``.
    """
    sizes = dict(sizes or {})
    for node, idx in terms:
        for i, n in zip(idx, node.shape, strict=True):
            sizes.setdefault(i, n)
    shape = tuple(sizes[i] for i in out)
    if coef == 0.0 or any(is_zero(t) for t, _ in terms):
        return zero(shape)
    fresh = itertools.count(max([*sizes, -1]) + 1)
    uf = _Unify()
    flat: list[tuple[Node, tuple[int, ...]]] = []
    for node, idx in terms:
        idx = tuple(idx)
        if isinstance(node, Sum) and len(node.terms) == 1:
            c, node = node.terms[0]
            coef *= c
        if isinstance(node, Einsum) and (node.held or len(node.terms) > INLINE_MAX_TERMS):
            # a big or held product stays one shared node (inlining it into every parent copies
            # its terms into each, and derivatives of derivatives grow exponentially); only its
            # deltas are taken up by the parent, through a compact node without them
            m = {}
            for ci, pi in zip(node.out, idx, strict=True):
                if ci in m:
                    uf.union(m[ci], pi)
                else:
                    m[ci] = pi
            uniq = tuple(m)
            if len(uniq) != len(node.out):
                node = _compact(node, uniq)
            flat.append((node, tuple(m[ci] for ci in uniq)))
            continue
        if isinstance(node, Einsum):
            coef *= node.coef
            m: dict[int, int] = {}
            for ci, pi in zip(node.out, idx, strict=True):
                if ci in m:
                    uf.union(m[ci], pi)  # a delta in the child: the parent's indices are one
                else:
                    m[ci] = pi
            for ci, n in enumerate(node.sizes):
                if ci not in m:
                    m[ci] = next(fresh)
                    sizes[m[ci]] = n
            flat.extend((cn, tuple(m[c] for c in cidx)) for cn, cidx in node.terms)
        else:
            flat.append((node, idx))
    if not math.isfinite(coef):
        raise DomainError(f"a constant factor overflowed to {coef} (float64 holds up to "
                          "about 1.8e308); rescale the literals")
    flat = [(n, tuple(uf.find(i) for i in idx)) for n, idx in flat]
    out = tuple(uf.find(i) for i in out)
    # a summed index on no term and not in the output: the summand is constant along it
    used = {i for _, idx in flat for i in idx} | set(out)
    for i in {uf.find(i) for i in sizes} - used:
        coef *= sizes[i]
    if len(flat) == 1 and coef == 1.0:
        node, idx = flat[0]
        if idx == out and len(set(idx)) == len(idx):
            return node
    # a canonical term order, so that equal products intern to one node
    pos = {i: p for p, i in enumerate(out)}
    flat.sort(key=lambda t: (t[0].digest, tuple(pos.get(i, -1) for i in t[1])))
    return Einsum.make(coef, flat, out, {i: sizes[i] for i in out})


def _compact(node: Einsum, uniq: tuple[int, ...]) -> Node:
    """``node`` without its output deltas (each repeated output index once)."""
    if node.coef == 1.0 and len(node.terms) == 1 and node.terms[0][1] == uniq \
            and len(set(uniq)) == len(uniq):
        return node.terms[0][0]  # a held single factor: the factor itself
    return Einsum.make(node.coef, node.terms, uniq, {ci: node.sizes[ci] for ci in uniq},
                       held=node.held)


def hold(node: Node) -> Node:
    """``node`` marked to stay one shared node in the einsums that read it (see ``held``).

    Only a product of two or more factors with functions nested at least ``HOLD_NESTING`` deep
    is held (the products of one layer of functions stay flat, as the notes write them, and
    their contraction paths are optimised as one); anything else is returned as it is.

    Example:
        >>> from tensorderiv.symbolic.nodes import Var
        >>> x, y = Var.make("x", (3,)), Var.make("y", (3,))
        >>> from tensorderiv.symbolic.nodes import Apply
        >>> u = Apply.make("tanh", Apply.make("tanh", x, (3,)), (3,))
        >>> xu = hold(einsum(1.0, [(x, (0,)), (u, (0,))], (0,)))
        >>> len(einsum(2.0, [(xu, (0,)), (y, (0,))], (0,)).terms)   # 2 (x⊙u)⊙y, not 2 x⊙u⊙y
        2
    """
    if not isinstance(node, Einsum) or node.held or len(node.terms) < 2 \
            or node.nesting < HOLD_NESTING:
        return node
    return Einsum.make(node.coef, node.terms, node.out, dict(enumerate(node.sizes)), held=True)


def add(terms: Sequence[tuple[float, Node]]) -> Node:
    """``Σ cₖ · nodeₖ`` with like terms merged, zeros dropped and nested sums flattened."""
    if not terms:
        raise ValueError("add needs at least one term")
    shape = terms[0][1].shape
    acc: dict[Node, float] = {}

    def put(c: float, n: Node) -> None:
        if c == 0.0 or is_zero(n):
            return
        if isinstance(n, Sum):
            for c2, n2 in n.terms:
                put(c * c2, n2)
            return
        if isinstance(n, Einsum) and n.coef != 1.0:
            c, n = c * n.coef, einsum(1.0, n.terms, n.out, dict(enumerate(n.sizes)))
        acc[n] = acc.get(n, 0.0) + c

    for c, n in terms:
        if n.shape != shape:
            raise ValueError(f"cannot add shapes {shape} and {n.shape}")
        put(float(c), n)
    items = [(c, n) for n, c in acc.items() if c != 0.0]
    if any(not math.isfinite(c) for c, _ in items):
        raise DomainError("a constant coefficient overflowed (float64 holds up to about "
                          "1.8e308); rescale the literals")
    if not items:
        return zero(shape)
    if len(items) == 1:
        c, n = items[0]
        return n if c == 1.0 else scale(c, n)
    shared = None
    if max(n.nesting for _, n in items) >= HOLD_NESTING:
        shared = _shared_deltas([n for _, n in items])
    if shared is not None:
        # every term carries the same Kronecker deltas: sum their compact forms once and put
        # the deltas around the sum, so the sum keeps the structure (a diagonal Hessian stays
        # diagonal, and the next derivative need not treat its axes one by one); done where
        # functions nest, as derivatives of derivatives do (one layer keeps its sums as written)
        g = max(shared) + 1
        inner = add([(c, einsum(1.0, [(n, shared)], tuple(range(g)))) for c, n in items])
        return einsum(1.0, [(inner, tuple(range(g)))], shared)
    items.sort(key=lambda t: t[1].digest)
    return Sum.make(items)


def _shared_deltas(nodes: Sequence[Node]) -> tuple[int, ...] | None:
    """Output labels (one per axis, equal where every node has a delta) or None if none."""
    keys: list[tuple[int, ...]] = []
    for p in range(nodes[0].ndim):
        keys.append(tuple(n.out[p] if isinstance(n, Einsum) else p for n in nodes))
    first: dict[tuple[int, ...], int] = {}
    labels = tuple(first.setdefault(k, len(first)) for k in keys)
    return labels if len(first) < len(labels) else None
