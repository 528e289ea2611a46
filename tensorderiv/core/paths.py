"""Contraction paths: a bounded search, cached by structure, and its pairwise steps.

An einsum of many operands is contracted two at a time; which pairs, in which order, is its path.
Finding the best path is exponential in the operand count, so the search is chosen by that count
(:func:`choose_optimizer`): exhaustive (``optimal``) for up to :data:`EXHAUSTIVE` operands, a
bounded branch search for up to :data:`BRANCHED` operands when the contraction is large enough
that a better path pays, and ``greedy`` (polynomial) beyond or when the contraction is small.
Paths are cached by structure, the equation and the core shapes (:func:`search`), never by node
identity, with the operands in a normal order (:func:`canonical`): equal contractions in
different programs, or at different places of one, share one search. The search calls
opt_einsum's path optimizers directly and writes the pairwise steps itself, without building
opt_einsum's ``PathInfo`` report.

Example:
    >>> p = search("ab,bc,cd->ad", ((2, 3), (3, 4), (4, 5)), "optimal")
    >>> [s.equation for s in p.steps]
    ['bc,ab->ca', 'ca,cd->ad']
    >>> choose_optimizer(3, 60), choose_optimizer(40, 10**9)
    ('optimal', 'greedy')
"""

from __future__ import annotations

import functools
import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import NamedTuple

from opt_einsum import blas, get_symbol, paths

__all__ = ["BRANCHED", "EXHAUSTIVE", "LARGE", "Path", "Step", "cache_info", "canonical",
           "choose_optimizer", "search"]

#: up to this many operands the path search is exhaustive (opt_einsum's ``optimal``)
EXHAUSTIVE = 4
#: up to this many operands a large contraction gets a bounded branch search (``branch-2``)
BRANCHED = 8
#: a contraction is large when its naive loop (the product of all index sizes) reaches this
LARGE = 1 << 20


def choose_optimizer(operands: int, naive: int) -> str:
    """The path search for ``operands`` operands whose naive loop has ``naive`` iterations.

    Exhaustive for few operands; ``branch-2`` for a few more when the contraction is large (its
    cost then dwarfs the search); ``greedy`` otherwise, whose cost grows polynomially with the
    operand count, so the search stays a bounded part of the work however many operands come.
    """
    if operands <= EXHAUSTIVE:
        return "optimal"
    if operands <= BRANCHED and naive >= LARGE:
        return "branch-2"
    return "greedy"


class Step(NamedTuple):
    """One pairwise (or single-operand) contraction of a path.

    Attributes:
        positions: the operands it takes from the current list (popped in this order, the
            result appended at the end), as opt_einsum's ``contraction_list`` has them.
        equation: its einsum equation.
        removed: the indices it sums.
        blas: opt_einsum's verdict on whether it is a BLAS product (``"GEMM"``, …) or False.
        size: the number of entries of its result.
    """

    positions: tuple[int, ...]
    equation: str
    removed: frozenset[str]
    blas: str | bool
    size: int


@dataclass(frozen=True)
class Path:
    """A contraction's path: the pairs (for opt_einsum) and its steps."""

    equation: str
    shapes: tuple[tuple[int, ...], ...]
    optimizer: str
    pairs: tuple[tuple[int, ...], ...]
    steps: tuple[Step, ...]


@functools.lru_cache(maxsize=4096)
def search(equation: str, shapes: tuple[tuple[int, ...], ...], optimizer: str) -> Path:
    """The path of ``equation`` over cores of ``shapes`` by ``optimizer``, cached by structure."""
    lhs, output = equation.split("->")
    terms = lhs.split(",")
    size: dict[str, int] = {}
    for term, shape in zip(terms, shapes, strict=True):
        size.update(zip(term, shape, strict=True))
    sets = [frozenset(t) for t in terms]
    out_set = frozenset(output)
    if len(terms) <= 2:
        pairs: Sequence[tuple[int, ...]] = [tuple(range(len(terms)))]
    else:
        pairs = paths.get_path_fn(optimizer)(sets, out_set, size, None)
    remaining = list(terms)
    steps = []
    last = len(pairs) - 1
    for k, pair in enumerate(pairs):
        positions = tuple(sorted(pair, reverse=True))
        inputs = [remaining.pop(p) for p in positions]
        taken = [sets.pop(p) for p in positions]
        contracted = frozenset().union(*taken)
        kept = out_set.union(*sets)  # what the output and the operands still to come need
        out_inds = contracted & kept
        removed = contracted - out_inds
        sets.append(out_inds)
        if k == last:
            result = output
        else:  # tensordot's order: fewest transpositions
            joined = "".join(inputs)
            result = "".join(sorted(out_inds, key=joined.find))
        remaining.append(result)
        verdict = blas.can_blas(inputs, "".join(out_inds), removed) if len(inputs) == 2 \
            else False
        steps.append(Step(positions, ",".join(inputs) + "->" + result, removed, verdict,
                          math.prod(size[c] for c in result)))
    return Path(equation, shapes, optimizer, tuple(tuple(p) for p in pairs), tuple(steps))


def canonical(equation: str, shapes: Sequence[tuple[int, ...]]
              ) -> tuple[str, tuple[tuple[int, ...], ...], tuple[int, ...]]:
    """``equation`` with its operands in a normal order and its letters renamed in order.

    Operands are ordered by rank (highest first) and then shape, stably, and letters renamed by
    first appearance, so the same contraction written with its operands in another order (as
    two programs whose variables are named differently write it) has one key in the path
    cache. Returns the equation, the shapes in that order, and the order (``order[k]`` is the
    original position of the k-th operand).

    Example:
        >>> canonical("a,ab,b->a", [(7,), (7, 5), (5,)])
        ('ab,b,a->a', ((7, 5), (5,), (7,)), (1, 2, 0))
    """
    lhs, output = equation.split("->")
    terms = lhs.split(",")
    order = tuple(sorted(range(len(terms)), key=lambda k: (-len(terms[k]), shapes[k])))
    names: dict[str, str] = {}
    for c in "".join(terms[k] for k in order) + output:
        if c not in names:
            names[c] = get_symbol(len(names))
    rename = str.maketrans(names)
    text = ",".join(terms[k].translate(rename) for k in order) + "->" + output.translate(rename)
    return text, tuple(tuple(shapes[k]) for k in order), order


def cache_info() -> object:
    """Hits and misses of the path cache (``functools.lru_cache`` statistics)."""
    return search.cache_info()
