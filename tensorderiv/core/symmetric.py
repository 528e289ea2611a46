"""Symmetric contractions: a Gram product ``Aᵀ diag(w) A`` computed as one triangle, mirrored.

A Hessian is symmetric, and its commonest contraction is ``Σₛ A[s,i] w[s] A[s,j]`` (XᵀDX for the
logistic loss, BᵀDB for Σ tanh(Bx)): two copies of one array that differ only in the output
index they carry. :func:`gram_pattern` recognises it in an einsum equation; :func:`gram` computes
only what symmetry requires: symmetric rank-k updates (BLAS ``dsyrk`` through scipy when it is
installed) of ``√|w| ⊙ A`` over the rows where w ≥ 0, minus the same over the rows where w < 0;
without scipy, the upper block triangle of ``Aᵀ (w ⊙ A)``. The lower triangle is then mirrored.
About half the multiply-adds of the full product.

Example:
    >>> import numpy as np
    >>> spec = gram_pattern("ab,ac,a->bc", [(5, 3), (5, 3), (5,)])
    >>> spec
    GramSpec(first=0, second=1, axis=1, weights=(2,), weight_terms=('a',), summed='a')
    >>> A, w = np.arange(15.0).reshape(5, 3), np.linspace(-1, 1, 5)
    >>> np.allclose(gram(spec, [A, A, w]), A.T @ (w[:, None] * A))
    True
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

__all__ = ["GramSpec", "gram", "gram_pattern"]

#: below this many output rows the plain product is as fast (no blocks, no mirror)
MIN_SIDE = 128
_BLOCK = 128
_SYRK: list[Any] = []


@dataclass(frozen=True)
class GramSpec:
    """Where the Gram product sits in an einsum: the two copies, the output axis, the weights."""

    first: int
    second: int
    axis: int  # the position, in both copies' terms, of the index that becomes an output axis
    weights: tuple[int, ...]  # the other operands, over summed indices only
    weight_terms: tuple[str, ...]
    summed: str  # the copies' summed indices, in the copies' order


def gram_pattern(equation: str, shapes: Sequence[tuple[int, ...]]) -> GramSpec | None:
    """The :class:`GramSpec` of ``equation`` when it is ``Σ A[s,i] w[s] A[s,j] -> ij``, else None.

    The two copies must have one shape and terms that differ only at one position, whose two
    letters are the two output letters; every other operand must be over the copies' summed
    letters only. Whether the two copies hold the same array is checked when it runs.
    """
    lhs, rhs = equation.split("->")
    terms = lhs.split(",")
    if len(rhs) != 2 or rhs[0] == rhs[1]:
        return None
    for a in range(len(terms)):
        for b in range(a + 1, len(terms)):
            ta, tb = terms[a], terms[b]
            if shapes[a] != shapes[b] or len(ta) != len(tb) or len(set(ta)) != len(ta):
                continue
            diff = [p for p in range(len(ta)) if ta[p] != tb[p]]
            if len(diff) != 1:
                continue
            p = diff[0]
            if {ta[p], tb[p]} != set(rhs):
                continue
            summed = ta[:p] + ta[p + 1:]
            if set(summed) & set(rhs):
                continue
            others = [k for k in range(len(terms)) if k not in (a, b)]
            if any(not set(terms[k]) <= set(summed) or rhs[0] in terms[k] or rhs[1] in terms[k]
                   for k in others):
                continue
            # the first copy must carry rhs[0], so the result comes out as rhs orders it
            first, second = (a, b) if ta[p] == rhs[0] else (b, a)
            return GramSpec(first, second, p, tuple(others),
                            tuple(terms[k] for k in others), summed)
    return None


def _syrk() -> Any:
    if not _SYRK:
        try:
            from scipy.linalg import blas  # optional: BLAS dsyrk

            _SYRK.append(blas)
        except ImportError:  # pragma: no cover - depends on the environment
            _SYRK.append(None)
    return _SYRK[0]


def _mirror_upper(C: np.ndarray, diagonal_blocks: bool) -> np.ndarray:
    """Fill the lower triangle of ``C`` from its upper one, block by block.

    ``diagonal_blocks``: whether the diagonal blocks still need it (after ``dsyrk``), or were
    computed whole (the block fallback).
    """
    d = C.shape[0]
    for s in range(0, d, _BLOCK):
        e = min(d, s + _BLOCK)
        C[e:, s:e] = C[s:e, e:].T
        if diagonal_blocks:
            blk = C[s:e, s:e]
            blk[...] = np.triu(blk) + np.triu(blk, 1).T
    return C


def gram(spec: GramSpec, cores: Sequence[Any], used: list[str] | None = None) -> np.ndarray:
    """``Σₛ A[s,i] w[s] A[s,j]`` (w the product of the weights), symmetric, from one triangle."""
    A = np.asarray(cores[spec.first])
    A2 = np.moveaxis(A, spec.axis, -1)
    d = A2.shape[-1]
    N = math.prod(A2.shape[:-1])
    A2 = A2.reshape(N, d)
    w = None
    if spec.weights:
        eq = ",".join(spec.weight_terms) + "->" + spec.summed
        w = np.einsum(eq, *[cores[k] for k in spec.weights]).reshape(N)
    blas = _syrk() if A2.dtype == np.float64 else None
    if blas is not None:
        # Fortran order: BᵀB of a C-ordered (N, d) B is B_f B_fᵀ with B_f = Bᵀ (d, N), trans=0
        if w is None:
            C = blas.dsyrk(1.0, A2.T, trans=0, lower=0)
        else:  # rows of w ≥ 0 add, rows of w < 0 subtract: two rank-k updates, N rows in all
            neg = w < 0
            C = None
            for sign, rows in ((1.0, ~neg), (-1.0, neg)):
                if not rows.any():
                    continue
                part = A2 if rows.all() else A2[rows]
                B = np.multiply(part, np.sqrt(np.abs(w[rows]))[:, None])
                if C is None:
                    C = blas.dsyrk(sign, B.T, trans=0, lower=0)
                else:
                    C = blas.dsyrk(sign, B.T, beta=1.0, c=C, trans=0, lower=0, overwrite_c=1)
        if used is not None:
            used.append("dsyrk")
        return _mirror_upper(np.asarray(C), True)
    B = A2 if w is None else A2 * w[:, None]
    C = np.empty((d, d), dtype=np.result_type(A2, B))
    for s in range(0, d, _BLOCK):
        e = min(d, s + _BLOCK)
        C[:e, s:e] = A2[:, :e].T @ B[:, s:e]
    if used is not None:
        used.append("blocks")
    return _mirror_upper(C, True)  # the diagonal blocks too: exactly symmetric
