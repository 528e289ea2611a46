"""Fused kernels: a few nodes of a compiled program computed as one step, in one buffer.

The evaluator computes node by node, each into an array of its own. Some patterns of nodes
have a much cheaper joint computation, and :func:`plan_kernels` finds them at compile time (from
the graph alone, for any expression that has the pattern) and gives each a :class:`Kernel`, which
the evaluator runs in place of the pattern's top node on numpy arrays (other array libraries
keep the node-by-node path):

* **A symmetric sum with a Gram product**: ``Σ cₖ tₖ + c · Σₛ A[s,i] w[s] A[s,j]`` where the
  other terms are symmetric as a whole (each term with its transpose at the same coefficient, or
  symmetric itself), as in the Hessian of ``x @ A @ x + sum(tanh(B @ x))``, ``A + Aᵀ + BᵀDB``.
  The other terms are summed into the result's buffer and the Gram product is added to one
  triangle of it by symmetric rank-k updates (``c`` as BLAS's alpha, ``beta = 1``), then
  mirrored: no array for the product, no pass to scale it, no second pass to add it.

A kernel reads the cached values of the nodes it lists in :attr:`Kernel.reads` and makes the
value of its node; the nodes in :attr:`Kernel.absorbs` are not computed on their own.

Example:
    >>> import numpy as np
    >>> import tensorderiv as td
    >>> H = td.derive("x @ A @ x + sum(tanh(B @ x))", "x", order=2,
    ...               shapes={"x": (200,), "A": (200, 200), "B": (200, 200)})
    >>> [k.what for k in plan_kernels(H.compile().program.order).values()]
    ['a symmetric sum of 2 terms with a Gram product added in one triangle']
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from ..core.axes import Axis
from ..core.ctensor import CTensor
from ..core.symmetric import MIN_SIDE, gram, gram_pattern
from .nodes import Einsum, Node, Sum

__all__ = ["Kernel", "plan_kernels"]


@dataclass(frozen=True)
class Kernel:
    """One fused step: computes ``node`` from the cached values of ``reads``.

    Attributes:
        node: the node whose value it makes.
        reads: the nodes whose values it reads (they must be computed before it).
        absorbs: the nodes it computes inside (not computed on their own).
        run: ``run(cache)`` → the node's c-tensor, ``cache`` mapping nodes to c-tensors.
        what: one line for the program's description.
    """

    node: Node
    reads: tuple[Node, ...]
    absorbs: frozenset[Node]
    run: Callable[[Mapping[Node, CTensor]], CTensor]
    what: str


def _letters(n: Einsum) -> str:
    return "".join(chr(ord("a") + i) for i in range(len(n.sizes)))


def _equation(n: Einsum) -> str:
    sym = _letters(n)
    return ",".join("".join(sym[i] for i in idx) for _, idx in n.terms) + "->" + \
        "".join(sym[i] for i in n.out)


def _transpose(t: Node) -> Node:
    """The (interned) node ``tᵀ`` of a matrix node: ``u`` when t is ``uᵀ``, else the einsum."""
    if isinstance(t, Einsum) and t.coef == 1.0 and len(t.terms) == 1 and \
            t.terms[0][0].shape == t.shape[::-1] and t.terms[0][1] == t.out[::-1] and \
            len(set(t.out)) == 2:
        return t.terms[0][0]
    return Einsum.make(1.0, [(t, (0, 1))], (1, 0))


def _array(ct: CTensor) -> Any:
    """The full array of a c-tensor, without a copy when its core already is it."""
    if list(ct.axis_map) == list(range(ct.ndim)):
        return ct.core
    return ct.dense()


def _symmetric_rest(rest: Sequence[tuple[float, Node]]) -> bool:
    """Whether ``Σ c t`` over ``rest`` is symmetric as a whole: each term with its transpose."""
    coef = {t: c for c, t in rest}
    if len(coef) != len(rest):
        return False
    return all(coef.get(_transpose(t)) == c for c, t in rest)


def _gram_sum(n: Sum, readers: Mapping[Node, int], roots: set[Node]) -> Kernel | None:
    if len(n.shape) != 2 or n.shape[0] != n.shape[1] or n.shape[0] < MIN_SIDE:
        return None
    for g_pos, (c_g, g) in enumerate(n.terms):
        if not isinstance(g, Einsum) or not g.terms or readers.get(g, 0) != 1 or g in roots:
            continue
        spec = gram_pattern(_equation(g), [t.shape for t, _ in g.terms])
        if spec is None or len(spec.copies) != 2:
            continue
        copies = {g.terms[k][0] for k in spec.copies}
        if len(copies) != 1:
            continue
        rest = [(c, t) for k, (c, t) in enumerate(n.terms) if k != g_pos]
        if not _symmetric_rest(rest):
            continue
        return _gram_sum_kernel(n, g, c_g, spec, rest)
    return None


def _gram_sum_kernel(n: Sum, g: Einsum, c_g: float, spec: Any,
                     rest: list[tuple[float, Node]]) -> Kernel:
    operands = tuple(t for t, _ in g.terms)
    alpha = c_g * g.coef
    axes = [Axis(p, size) for p, size in enumerate(n.shape)]

    def run(cache: Mapping[Node, CTensor]) -> CTensor:
        cores = [_array(cache[t]) for t in operands]
        dtype = np.result_type(*cores, *[cache[t].core for _, t in rest])
        buf = np.empty(n.shape, dtype=dtype)
        if not rest:
            buf.fill(0.0)
        for k, (c, t) in enumerate(rest):
            arr = _array(cache[t])
            if k == 0:
                np.multiply(arr, c, out=buf) if c != 1.0 else np.copyto(buf, arr)
            elif c == 1.0:
                np.add(buf, arr, out=buf)
            else:
                buf += c * arr
        out = gram(spec, cores, alpha=alpha, into=buf)
        return CTensor(np.ascontiguousarray(out), axes)

    return Kernel(n, operands + tuple(t for _, t in rest), frozenset((g,)), run,
                  f"a symmetric sum of {len(rest)} terms with a Gram product added in one "
                  "triangle")


def plan_kernels(order: Sequence[Node], roots: Sequence[Node] = ()) -> dict[Node, Kernel]:
    """The fused kernels of a program whose nodes, in dependency order, are ``order``.

    A node absorbed into a kernel must be read by that kernel's node alone and not be a root.
    """
    readers: dict[Node, int] = {}
    for node in order:
        for c in set(node.children()):
            readers[c] = readers.get(c, 0) + 1
    top = set(roots)
    kernels: dict[Node, Kernel] = {}
    for node in order:
        if isinstance(node, Sum):
            k = _gram_sum(node, readers, top)
            if k is not None:
                kernels[node] = k
    return kernels
