"""The documented limits of the engine: nesting depth and derivative order (one place for both).

* :data:`MAX_DEPTH` — an expression may be nested at most 200 levels deep. The same number is
  enforced, before anything recurses, by the parser (the nesting of the text), by expression
  construction (``td.tanh(…)`` and the operators, on the depth of the expression graph), by
  :func:`tensorderiv.derive` and by :func:`tensorderiv.testing.check_derivative`. The engine's own
  walks over graphs are iterative, so derivatives (which are deeper than what they differentiate)
  are not limited by Python's recursion limit.
* :data:`MAX_ORDER` — the highest derivative order the command line (``--order``) and
  :func:`tensorderiv.derive` accept: an order-k derivative of an n-vector function has n**k
  entries. The symbolic work grows polynomially with the order (about k² nodes for a nested
  composition; see :mod:`~tensorderiv.symbolic.differentiate`), and ``derive`` shows progress
  per differentiation.

Both raise :class:`~tensorderiv.core.errors.LimitError`, naming the limit.

Example:
    >>> import tensorderiv as td
    >>> from tensorderiv.symbolic.limits import MAX_DEPTH, depth
    >>> e = td.var("x", (2,))
    >>> for _ in range(3):
    ...     e = td.tanh(e)
    >>> depth(e.node), MAX_DEPTH
    (3, 200)
"""

from __future__ import annotations

import weakref

from ..core.errors import LimitError
from .nodes import Node

__all__ = ["MAX_DEPTH", "MAX_ORDER", "check_depth", "check_order", "depth"]

MAX_DEPTH = 200
"""The deepest nesting of an expression: levels of the text, or of its expression graph."""

MAX_ORDER = 10
"""The highest derivative order accepted (``--order``, ``derive(..., order=k)``)."""

_DEPTH: weakref.WeakKeyDictionary[Node, int] = weakref.WeakKeyDictionary()


def depth(node: Node) -> int:
    """The number of levels below ``node``: 0 for a variable or a constant, 1 for ``tanh(x)``.

    Computed without recursion and remembered per node, so building an expression one
    operation at a time costs O(1) per operation.
    """
    found = _DEPTH.get(node)
    if found is not None:
        return found
    stack: list[tuple[Node, bool]] = [(node, False)]
    while stack:
        n, ready = stack.pop()
        if n in _DEPTH:
            continue
        kids = n.children()
        if ready or not kids:
            _DEPTH[n] = 1 + max((_DEPTH[c] for c in kids), default=-1)
            continue
        stack.append((n, True))
        stack.extend((c, False) for c in kids if c not in _DEPTH)
    return _DEPTH[node]


def check_depth(node: Node, what: str) -> None:
    """Raise :class:`LimitError` when ``node`` is nested deeper than :data:`MAX_DEPTH`."""
    d = depth(node)
    if d > MAX_DEPTH:
        raise LimitError(f"{what} is nested {d} levels deep; the limit is {MAX_DEPTH} "
                         "(tensorderiv.symbolic.limits.MAX_DEPTH): name an intermediate "
                         "result as a variable, or write the expression less deeply nested")


def check_order(order: int, what: str = "order") -> None:
    """Raise :class:`LimitError` for a derivative order above :data:`MAX_ORDER`."""
    if order > MAX_ORDER:
        raise LimitError(f"{what} {order} is above the highest derivative order accepted, "
                         f"{MAX_ORDER} (tensorderiv.symbolic.limits.MAX_ORDER); an order-k "
                         "derivative has size**k entries")
