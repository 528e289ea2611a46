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

* **Element-wise steps in a dead buffer**: an element-wise step (a bounded function such as
  tanh, a sum of same-structure terms and fills such as ``1 − H²``, an element-wise product or
  scaling such as ``G ⊙ (1 − H²)``) whose argument is a fresh array of this run read by no later
  step writes its result into that array (``np.tanh(z, out=z)``, in-place adds and products)
  instead of allocating a new one. Each such kernel checks, when it runs, that the buffer is the
  program's own (not an input, a constant, or shared with a live value) and otherwise declines,
  and the step runs as usual.

A kernel reads the cached values of the nodes it lists in :attr:`Kernel.reads` and makes the
value of its node (or None: declined); the nodes in :attr:`Kernel.absorbs` are not computed on
their own.

Example:
    >>> import numpy as np
    >>> import tensorderiv as td
    >>> H = td.derive("x @ A @ x + sum(tanh(B @ x))", "x", order=2,
    ...               shapes={"x": (200,), "A": (200, 200), "B": (200, 200)})
    >>> [k.what for k in plan_kernels(H.compile().program.order).values()]
    ['a symmetric sum of 2 terms with a Gram product added in one triangle']
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from ..core.axes import Axis
from ..core.ctensor import CTensor, cancelled_scale
from ..core.symmetric import MIN_SIDE, gram, gram_pattern
from .functions import FUNCTIONS
from .nodes import Apply, Einsum, Node, Sum, Var

Cache = Mapping[Node, CTensor]
#: element-wise functions that are finite on finite inputs and are one numpy ufunc: computed in
#: place, they lose no input a domain or overflow message would need
_BOUNDED: dict[str, Any] = {"tanh": np.tanh, "sin": np.sin, "cos": np.cos}
#: below this many entries a new array is cheap, and the checks would cost more than they save
MIN_DONATE = 1 << 15

__all__ = ["Kernel", "LiveCores", "plan_kernels", "worth_running"]


@dataclass(frozen=True)
class Kernel:
    """One fused step: computes ``node`` from the cached values of ``reads``.

    Attributes:
        node: the node whose value it makes.
        reads: the nodes whose values it reads (they must be computed before it).
        absorbs: the nodes it computes inside (not computed on their own).
        run: ``run(cache, protected)`` → the node's c-tensor, or None when it declines (the
            step then runs as usual); ``cache`` maps the live nodes to their c-tensors and
            ``protected`` lists arrays never to be written (the inputs, the constants).
        what: one line for the program's description.
    """

    node: Node
    reads: tuple[Node, ...]
    absorbs: frozenset[Node]
    run: Callable[[Cache, Sequence[Any]], CTensor | None]
    what: str


class LiveCores(Mapping[Node, CTensor]):
    """The live values of a compiled numpy run (a slot list of cores) seen as a kernel's cache.

    Each value is its core over the node's compile-time structure; a freed slot is not live.
    """

    def __init__(self, buf: Sequence[Any], slot: Mapping[Node, int],
                 structure: Mapping[Node, CTensor]) -> None:
        self._buf, self._slot, self._structure = buf, slot, structure

    def __getitem__(self, node: Node) -> CTensor:
        core = self._buf[self._slot[node]]
        if core is None:
            raise KeyError(node)
        return CTensor._trusted(core, self._structure[node])

    def __iter__(self) -> Any:
        return (n for n, j in self._slot.items() if self._buf[j] is not None)

    def __len__(self) -> int:
        return sum(1 for _ in self)


def worth_running(kernel: Kernel, structure: Mapping[Node, CTensor]) -> bool:
    """Whether ``kernel`` can pay at these shapes: an in-place step needs a big enough buffer."""
    if kernel.absorbs:
        return True
    return math.prod(structure[kernel.node].core.shape) >= MIN_DONATE


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
        if spec is None or len(spec.all_copies) != 2:
            continue
        copies = {g.terms[k][0] for k in spec.all_copies}
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

    def run(cache: Cache, protected: Sequence[Any] = ()) -> CTensor:
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


def _donor(cache: Cache, node: Node, protected: Sequence[Any]) -> np.ndarray | None:
    """The array of ``node``'s value when this step may overwrite it, else None.

    It must be a writeable, C-contiguous numpy array that owns its memory, large enough, and
    share memory with no protected array and no other live value.
    """
    core = cache[node].core
    if type(core) is not np.ndarray or core.size < MIN_DONATE or not core.flags.owndata or \
            not core.flags.writeable or not core.flags.c_contiguous:
        return None
    if any(np.may_share_memory(core, p) for p in protected):
        return None
    for m, ct in cache.items():
        if m is not node and isinstance(ct.core, np.ndarray) and ct.core.size and \
                np.may_share_memory(core, ct.core):
            return None
    return core


def _fill(ct: CTensor) -> bool:
    """A constant fill: a scalar core on every axis (the 1 of ``1 − H²``)."""
    return isinstance(ct.core, np.ndarray) and ct.core.ndim == 0 and \
        all(m is None for m in ct.axis_map)


def _apply_in_place(n: Apply) -> Kernel:
    ufunc = _BOUNDED[n.fn]
    zero_preserving = FUNCTIONS[n.fn].zero_preserving

    def run(cache: Cache, protected: Sequence[Any]) -> CTensor | None:
        arg = cache[n.arg]
        if not zero_preserving and arg.has_deltas:
            return None
        core = _donor(cache, n.arg, protected)
        if core is None:
            return None
        ufunc(core, out=core)
        return CTensor(core, arg.axes, arg.axis_map)

    return Kernel(n, (n.arg,), frozenset(), run, f"{n.fn} in its argument's buffer")


def _sum_in_place(n: Sum, donors: list[Node]) -> Kernel:
    def run(cache: Cache, protected: Sequence[Any]) -> CTensor | None:
        pairs = [(c, cache[t]) for c, t in n.terms]
        fill = sum(c * float(ct.core) for c, ct in pairs if _fill(ct))
        rest = [(c, t, ct) for (c, ct), (_, t) in zip(pairs, n.terms, strict=True)
                if not _fill(ct)]
        if not rest:
            return None
        first = rest[0][2]
        if any(ct.axis_map != first.axis_map or ct.core.shape != first.core.shape or
               type(ct.core) is not np.ndarray or ct.core.dtype != first.core.dtype
               for _, _, ct in rest) or (fill != 0.0 and first.has_deltas):
            return None
        found = next(((k, core) for k, (_, t, _) in enumerate(rest) if t in donors
                      for core in [_donor(cache, t, protected)] if core is not None), None)
        if found is None:
            return None
        k, core = found
        c_d, _, ct_d = rest[k]
        # the terms' sizes for the cancellation record, the donor's before it is overwritten
        size = CTensor(np.array([core.max(), core.min()]), [Axis(0, 2)],
                       cancelled=ct_d.cancelled)
        sized = [(c, size if ct is ct_d else ct) for c, ct in pairs]
        if c_d != 1.0:
            np.multiply(core, c_d, out=core)
        for j, (c, _, ct) in enumerate(rest):
            if j == k:
                continue
            if c == 1.0:
                np.add(core, ct.core, out=core)
            elif c == -1.0:
                np.subtract(core, ct.core, out=core)
            else:
                core += c * ct.core
        if fill != 0.0:
            core += fill
        return CTensor(core, first.axes, first.axis_map, first.wrt, cancelled_scale(core, sized))

    return Kernel(n, n.children(), frozenset(), run, "a sum in a term's buffer")


def _product_in_place(n: Einsum, donors: list[Node]) -> Kernel:
    axes = [Axis(p, size) for p, size in enumerate(n.shape)]
    identity = tuple(range(n.ndim))

    def run(cache: Cache, protected: Sequence[Any]) -> CTensor | None:
        factor = n.coef
        arrays = []
        for t, _ in n.terms:
            ct = cache[t]
            if _fill(ct):
                factor *= float(ct.core)
            elif tuple(ct.axis_map) == identity and type(ct.core) is np.ndarray:
                arrays.append((t, ct.core))
            else:
                return None
        core = next((c for t, _ in arrays if t in donors
                     for c in [_donor(cache, t, protected)] if c is not None), None)
        if core is None or any(a.dtype != core.dtype for _, a in arrays):
            return None
        skipped = False
        for _, a in arrays:
            if a is core and not skipped:
                skipped = True
                continue
            np.multiply(core, a, out=core)
        if factor != 1.0:
            np.multiply(core, factor, out=core)
        return CTensor(core, axes)

    return Kernel(n, n.children(), frozenset(), run, "an element-wise product in a term's buffer")


def _elementwise_einsum(n: Einsum) -> bool:
    """Every term indexed exactly as the output, no index repeated: an element-wise product."""
    return bool(n.terms) and len(set(n.out)) == len(n.out) and \
        all(idx == n.out or (t.ndim == 0) for t, idx in n.terms)


def plan_kernels(order: Sequence[Node], roots: Sequence[Node] = ()) -> dict[Node, Kernel]:
    """The fused kernels of a program whose nodes, in dependency order, are ``order``.

    A node absorbed into a kernel must be read by that kernel's node alone and not be a root; a
    buffer given to a step must belong to a node that no later step reads and that is not a
    root (whether the array itself may be written is checked when the kernel runs).
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
    absorbed = {m for k in kernels.values() for m in k.absorbs}
    last: dict[Node, int] = {}
    for i, node in enumerate(order):
        if node in absorbed:
            continue
        for c in kernels[node].reads if node in kernels else node.children():
            last[c] = i
    for i, node in enumerate(order):
        if node in kernels or node in absorbed or math.prod(node.shape) < MIN_DONATE:
            continue
        donors = [c for c in dict.fromkeys(node.children())
                  if last.get(c) == i and c not in top and c.shape == node.shape and
                  not isinstance(c, Var) and not (isinstance(c, Einsum) and c.is_constant)]
        if not donors:
            continue
        if isinstance(node, Apply) and node.fn in _BOUNDED and FUNCTIONS[node.fn].elementwise:
            kernels[node] = _apply_in_place(node)
        elif isinstance(node, Sum):
            kernels[node] = _sum_in_place(node, donors)
        elif isinstance(node, Einsum) and _elementwise_einsum(node):
            kernels[node] = _product_in_place(node, donors)
    return kernels
