"""The closed set of expression nodes: frozen, interned, in index notation.

Four node types make every expression and every derivative:

* :class:`Var` — a named variable of a fixed shape.
* :class:`Einsum` — ``coef · Σ Π termₖ[idxₖ]`` with numbered indices; an output index repeated
  is a Kronecker delta between those output axes, and an output index on no term is a broadcast.
  Literals, fills and identities are einsums with no terms.
* :class:`Sum` — a weighted sum of same-shape nodes.
* :class:`Apply` — a function from the table in :mod:`tensorderiv.symbolic.functions` (element-wise,
  or a matrix function such as ``det``) with numeric parameters.

Nodes are hash-consed: building a node equal to a live one returns that very object, so equality
is identity and hashing is O(1); subexpressions shared in a graph are shared objects, which the
evaluator computes once. Nodes know their shape and the variables they depend on.

Example:
    >>> from tensorderiv.symbolic.nodes import Var, Einsum
    >>> x = Var.make("x", (3,))
    >>> x is Var.make("x", (3,))
    True
    >>> Einsum.make(1.0, ((x, (0,)), (x, (0,))), ()).shape   # xᵀx
    ()
"""

from __future__ import annotations

import hashlib
import threading
import weakref
from collections.abc import Callable, Iterator, Sequence
from typing import Any, ClassVar

__all__ = ["Apply", "Einsum", "Node", "Sum", "Var", "postorder", "walk"]

Term = tuple["Node", tuple[int, ...]]


class Node:
    """Base of the node types: interning, a deterministic digest, shape and free variables."""

    __slots__ = ("__weakref__", "_digest", "_hash", "nesting", "shape", "vars")
    _table: ClassVar[weakref.WeakValueDictionary[Any, Node]] = weakref.WeakValueDictionary()
    _lock: ClassVar[threading.Lock] = threading.Lock()  # one node per key, whatever the threads
    kind: ClassVar[str] = "node"

    shape: tuple[int, ...]
    vars: frozenset[str]
    nesting: int
    """How deeply functions nest in this node: 0 without any, 1 for ``tanh(A @ x)`` (and for
    its derivative ``1 - tanh(A @ x) ** 2``), 2 for ``tanh(tanh(x))`` or ``log(1 + exp(x))``."""

    @classmethod
    def _intern(cls, key: tuple[Any, ...], init: Any) -> Any:
        found = Node._table.get(key)
        if found is not None:
            return found
        node = object.__new__(cls)
        init(node)
        parts = [cls.kind] + [
            (p._digest if isinstance(p, Node) else repr(p)) for p in _walk_key(key[1:])
        ]
        raw = "|".join(map(str, parts)).encode()
        node._digest = hashlib.blake2b(raw, digest_size=8).hexdigest()
        node._hash = hash(node._digest)
        with Node._lock:  # another thread may have interned the same key since the look-up
            return Node._table.setdefault(key, node)

    def __hash__(self) -> int:
        return self._hash

    def __eq__(self, other: object) -> bool:
        return self is other

    def __reduce__(self) -> Any:
        raise TypeError("expression nodes are interned and not picklable; pickle the text")

    @property
    def ndim(self) -> int:
        """The number of axes."""
        return len(self.shape)

    def children(self) -> tuple[Node, ...]:
        """The nodes this node reads."""
        return ()

    @property
    def digest(self) -> str:
        """A structural digest, the same in every process (used for canonical orders)."""
        return self._digest


def _walk_key(items: Any) -> list[Any]:
    out: list[Any] = []
    for it in items:
        if isinstance(it, tuple):
            out.append("(")
            out.extend(_walk_key(it))
            out.append(")")
        else:
            out.append(it)
    return out


class Var(Node):
    """A named variable of a fixed shape."""

    __slots__ = ("name",)
    kind = "var"
    name: str

    @classmethod
    def make(cls, name: str, shape: Sequence[int]) -> Var:
        """The variable ``name`` of ``shape`` (the same object for the same name and shape)."""
        shape = tuple(int(n) for n in shape)

        def init(n: Var) -> None:
            n.name, n.shape, n.vars, n.nesting = name, shape, frozenset((name,)), 0

        return cls._intern(("var", name, shape), init)


class Einsum(Node):
    """``coef · Σ Π termₖ[idxₖ]`` over numbered indices, output axes ``out``.

    Attributes:
        coef: a scalar factor.
        terms: ``(node, indices)`` pairs; an index repeated within a term takes a diagonal.
        out: the output indices; repeated ones carry a Kronecker delta, ones on no term broadcast.
        sizes: the size of each index, by number.
        held: True for a product the simplifier keeps as one shared node instead of inlining it
            into the einsums that read it (only its deltas are taken up by them). Derivatives
            hold the chain-rule factor they pass down, so that differentiating again follows the
            chain of shared factors instead of expanding it into ever longer products.
    """

    __slots__ = ("coef", "held", "out", "sizes", "terms")
    kind = "einsum"
    coef: float
    terms: tuple[Term, ...]
    out: tuple[int, ...]
    sizes: tuple[int, ...]
    held: bool

    @classmethod
    def make(
        cls,
        coef: float,
        terms: Sequence[Term],
        out: Sequence[int],
        sizes: dict[int, int] | None = None,
        held: bool = False,
    ) -> Einsum:
        """Build an einsum node as given (no simplification; see :mod:`~.symbolic.simplify`).

        ``sizes`` is needed only for indices on no term.
        """
        known: dict[int, int] = dict(sizes or {})
        for node, idx in terms:
            if len(idx) != node.ndim:
                raise ValueError(f"einsum term has {len(idx)} indices for a node of rank "
                                 f"{node.ndim}")
            for i, n in zip(idx, node.shape, strict=True):
                if known.setdefault(i, n) != n:
                    raise ValueError(f"einsum index {i} has sizes {known[i]} and {n}")
        for i in out:
            if i not in known:
                raise ValueError(f"einsum output index {i} has no size")
        # number indices by first appearance (out, then terms) so equal einsums intern together
        order: dict[int, int] = {}
        for i in list(out) + [i for _, idx in terms for i in idx]:
            order.setdefault(i, len(order))
        c_terms = tuple((node, tuple(order[i] for i in idx)) for node, idx in terms)
        c_out = tuple(order[i] for i in out)
        c_sizes = tuple(known[i] for i in sorted(order, key=order.get))
        coef = float(coef)
        shape = tuple(c_sizes[i] for i in c_out)

        def init(n: Einsum) -> None:
            n.coef, n.terms, n.out, n.sizes, n.shape = coef, c_terms, c_out, c_sizes, shape
            n.held = bool(held)
            n.vars = frozenset().union(*(t.vars for t, _ in c_terms))
            n.nesting = max((t.nesting for t, _ in c_terms), default=0)

        key = ("einsum", coef, c_terms, c_out, c_sizes)
        return cls._intern((*key, "held") if held else key, init)

    def children(self) -> tuple[Node, ...]:
        """The term nodes."""
        return tuple(t for t, _ in self.terms)

    @property
    def is_constant(self) -> bool:
        """True for an einsum of no terms (a literal, a fill or an identity)."""
        return not self.terms


class Sum(Node):
    """``Σ coefₖ · termₖ`` over nodes of one shape."""

    __slots__ = ("terms",)
    kind = "sum"
    terms: tuple[tuple[float, Node], ...]

    @classmethod
    def make(cls, terms: Sequence[tuple[float, Node]]) -> Sum:
        """Build a sum node as given (no simplification)."""
        terms = tuple((float(c), t) for c, t in terms)
        if not terms:
            raise ValueError("a sum needs at least one term")
        shape = terms[0][1].shape
        for _, t in terms:
            if t.shape != shape:
                raise ValueError(f"sum of shapes {shape} and {t.shape}")

        def init(n: Sum) -> None:
            n.terms, n.shape = terms, shape
            n.vars = frozenset().union(*(t.vars for _, t in terms))
            n.nesting = max(t.nesting for _, t in terms)

        return cls._intern(("sum", terms), init)

    def children(self) -> tuple[Node, ...]:
        """The summed nodes."""
        return tuple(t for _, t in self.terms)


ALGEBRAIC = frozenset({"square", "pow", "sign", "step", "parity_grad"})
"""Functions that do not count towards :attr:`Node.nesting`: the derivative formulas write
``tanh′(z) = 1 − tanh(z)²`` or ``√z′ = 1/(2√z)``, which are no deeper than ``tanh(z)``."""


class Apply(Node):
    """A function of the table applied to one node, with numeric parameters."""

    __slots__ = ("arg", "fn", "params")
    kind = "apply"
    fn: str
    arg: Node
    params: tuple[Any, ...]

    @classmethod
    def make(cls, fn: str, arg: Node, shape: Sequence[int], params: tuple[Any, ...] = ()) -> Apply:
        """Build ``fn(arg; params)`` whose result has ``shape`` (given by the function table)."""
        shape = tuple(int(n) for n in shape)

        def init(n: Apply) -> None:
            n.fn, n.arg, n.params, n.shape, n.vars = fn, arg, params, shape, arg.vars
            n.nesting = arg.nesting + (fn not in ALGEBRAIC)

        return cls._intern(("apply", fn, arg, params, shape), init)

    def children(self) -> tuple[Node, ...]:
        """The argument."""
        return (self.arg,)


def walk(root: Node) -> Iterator[Node]:
    """Every node under ``root`` (itself included), each once, in no particular order."""
    stack, seen = [root], set()
    while stack:
        n = stack.pop()
        if n in seen:
            continue
        seen.add(n)
        yield n
        stack.extend(n.children())


def postorder(roots: Node | Sequence[Node],
              keep: Callable[[Node], bool] | None = None) -> list[Node]:
    """The nodes under ``roots`` in dependency order (each after what it reads), once each.

    Iterative, so depth is no limit. ``keep`` prunes: a node it rejects is left out with
    everything reached only through it.

    Example:
        >>> x = Var.make("x", (3,))
        >>> xx = Einsum.make(1.0, ((x, (0,)), (x, (0,))), ())
        >>> [n.kind for n in postorder(xx)]
        ['var', 'einsum']
    """
    start = list(roots) if isinstance(roots, list | tuple) else [roots]
    seen: set[Node] = set()
    out: list[Node] = []
    stack: list[tuple[Node, bool]] = [(r, False) for r in reversed(start)]
    while stack:
        n, done = stack.pop()
        if done:
            out.append(n)
            continue
        if n in seen or (keep is not None and not keep(n)):
            continue
        seen.add(n)
        stack.append((n, True))
        stack.extend((c, False) for c in reversed(n.children()) if c not in seen)
    return out
