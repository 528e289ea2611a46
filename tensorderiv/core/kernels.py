"""Direct kernels for common contractions: a matrix product as one BLAS call, C-ordered result.

opt_einsum computes a two-operand product such as ``ab,ac->bc`` (``Aᵀ B``) through ``tensordot``,
which returns a transposed (Fortran-ordered) view. The product itself is as fast, but every
element-wise pass that later mixes it with C-ordered arrays (``R - Y``, ``tanh``, ``G ⊙ (1 - H²)``)
walks one of them against its memory order, several times slower than a contiguous pass: in a
3-layer MLP's backward pass those passes cost more than a matrix product. :func:`matmul_spec`
recognises an equation that is one matrix (or matrix–vector) product, and :func:`matmul` runs it
with ``np.matmul`` on transposed views where needed (BLAS takes the transposes as flags, so
nothing is copied), ordered so that the result comes out C-contiguous in the output's axis order.

Example:
    >>> import numpy as np
    >>> spec = matmul_spec("ab,ac->bc", [(4, 2), (4, 3)])
    >>> spec
    MatmulSpec(first=0, transpose_first=True, transpose_second=False)
    >>> A, B = np.arange(8.0).reshape(4, 2), np.arange(12.0).reshape(4, 3)
    >>> C = matmul(spec, [A, B])
    >>> np.allclose(C, A.T @ B), C.flags.c_contiguous
    (True, True)
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

__all__ = ["MatmulSpec", "matmul", "matmul_spec"]


@dataclass(frozen=True)
class MatmulSpec:
    """How to run a two-operand product as ``M1 @ M2`` with ``np.matmul``.

    Attributes:
        first: which operand (0 or 1) is ``M1``: the one that carries the output's first letter.
            The other is ``M2``, a matrix (contracted index first) or a vector.
        transpose_first: ``M1`` is that operand transposed (its contracted index came first).
        transpose_second: ``M2`` is the other operand transposed (its contracted index came
            last).
    """

    first: int
    transpose_first: bool
    transpose_second: bool


def matmul_spec(equation: str, shapes: Sequence[tuple[int, ...]]) -> MatmulSpec | None:
    """The :class:`MatmulSpec` when ``equation`` is one matrix or matrix–vector product.

    That is: two operands of rank 1 or 2 with one letter in common, summed, and every other
    letter in the output once: ``(f, k)·(k, g) → (f, g)`` in any arrangement of each operand's
    letters, or ``(f, k)·(k) → (f)``. Anything else (a batch letter, an outer product, a trace,
    a full contraction) gives None.
    """
    lhs, rhs = equation.split("->")
    terms = lhs.split(",")
    if len(terms) != 2 or len(shapes) != 2 or not 1 <= len(rhs) <= 2:
        return None
    if any(len(t) not in (1, 2) or len(set(t)) != len(t) for t in terms) or \
            len(set(rhs)) != len(rhs):
        return None
    shared = set(terms[0]) & set(terms[1])
    if len(shared) != 1 or shared & set(rhs):
        return None
    (k,) = shared
    free = [c for t in terms for c in t if c != k]
    if sorted(free) != sorted(rhs):
        return None
    first = 0 if rhs[0] in terms[0] else 1
    m1, m2 = terms[first], terms[1 - first]
    if len(m1) != 2 or len(m2) != len(rhs):  # M1 is (f, k); M2 is (k, g) or, alone, (k)
        return None
    return MatmulSpec(first, m1[0] == k, len(m2) == 2 and m2[1] == k)


def matmul(spec: MatmulSpec, cores: Sequence[Any]) -> Any:
    """Run the product of :func:`matmul_spec` on two arrays; the result is C-contiguous."""
    a, b = cores[spec.first], cores[1 - spec.first]
    return np.matmul(a.T if spec.transpose_first else a, b.T if spec.transpose_second else b)
