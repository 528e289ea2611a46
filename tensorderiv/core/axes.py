"""Labelled axes of a c-tensor (a leaf module).

An :class:`Axis` says which index of which variable an axis of a c-tensor stands for: a
*label* unique within the tensor (any hashable), its *size*, its *role* — ``"of"`` for an axis of
the differentiated output (the numerator) or ``"wrt"`` for an axis of the variable differentiated
against (the denominator) — the variable's name and axis, and, for ``wrt`` axes of an order-k
derivative, which of the k differentiations (``copy``, counted from 1) it belongs to.

Example:
    >>> from tensorderiv.core.axes import Axis, wrt_axes
    >>> [a.label for a in wrt_axes("W", (3, 2), copy=1)]
    [('W', 1, 0), ('W', 1, 1)]
    >>> Axis("i", 3).role
    'of'
"""

from __future__ import annotations

import itertools
from collections.abc import Hashable, Sequence
from dataclasses import dataclass, replace
from typing import Literal

from .errors import ShapeError, StructureError

__all__ = ["Axis", "Role", "canonical_order", "fresh_label", "of_axes", "wrt_axes"]

Role = Literal["of", "wrt"]

_counter = itertools.count()


@dataclass(frozen=True)
class Axis:
    """One labelled axis of a c-tensor.

    Attributes:
        label: any hashable, unique within its tensor; tensors that share a label are contracted
            over it by :func:`tensorderiv.contract`.
        size: the axis length.
        role: ``"of"`` (numerator, an axis of the output) or ``"wrt"`` (denominator).
        var: the name of the variable the axis belongs to, if any.
        index: which axis of that variable (0-based).
        copy: for ``wrt`` axes, which differentiation (1 for the first) it belongs to; 0 for ``of``.
    """

    label: Hashable
    size: int
    role: Role = "of"
    var: str | None = None
    index: int = 0
    copy: int = 0

    def __post_init__(self) -> None:
        if self.role not in ("of", "wrt"):
            raise StructureError(f"axis {self.label!r}: role must be 'of' or 'wrt', "
                                 f"got {self.role!r}")
        if int(self.size) < 0:
            raise ShapeError(f"axis {self.label!r}: size must be >= 0, got {self.size}")

    def relabel(self, label: Hashable) -> Axis:
        """Return the same axis under another label."""
        return replace(self, label=label)

    def describe(self) -> str:
        """Say in words what the axis stands for, e.g. ``wrt W[axis 0] (3), derivative 1``."""
        who = f"{self.var}[axis {self.index}]" if self.var is not None else repr(self.label)
        extra = f", derivative {self.copy}" if self.role == "wrt" and self.copy else ""
        return f"{self.role} {who} ({self.size}){extra}"


def wrt_axes(var: str, shape: Sequence[int], copy: int = 1) -> tuple[Axis, ...]:
    """The denominator axes of variable ``var`` for differentiation number ``copy``."""
    return tuple(
        Axis((var, copy, i), int(n), "wrt", var, i, copy) for i, n in enumerate(shape)
    )


def of_axes(var: str, shape: Sequence[int]) -> tuple[Axis, ...]:
    """The numerator axes of an output called ``var``."""
    return tuple(Axis((var, 0, i), int(n), "of", var, i, 0) for i, n in enumerate(shape))


def canonical_order(axes: Sequence[Axis]) -> list[int]:
    """Positions of ``axes`` in the notes' (denominator) order: wrt axes by copy, then outputs.

    The sort is stable, so axes that tie keep their given order.
    """
    def key(p: int) -> tuple[int, int]:
        a = axes[p]
        return (0, a.copy) if a.role == "wrt" else (1, 0)

    return sorted(range(len(axes)), key=key)


def fresh_label(prefix: str = "_") -> tuple[str, int]:
    """A label no user code has made: ``(prefix, n)`` with a process-wide counter."""
    return (prefix, next(_counter))
