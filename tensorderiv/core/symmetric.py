"""Symmetric contractions: Gram products ``Aᵀ diag(w) A`` and cubes, from one triangle, mirrored.

A Hessian is symmetric, and its commonest contraction is ``Σₛ A[s,i] w[s] A[s,j]`` (XᵀDX for the
logistic loss, BᵀDB for Σ tanh(Bx)): two copies of one array that differ only in the output
index they carry. A third derivative of an element-wise function of a product has the same form
with three copies, ``Σₛ w[s] A[s,i] A[s,j] A[s,k]`` (Σ tanh‴(w_s·x) w_s⊗w_s⊗w_s).
:func:`gram_pattern` recognises either in an einsum equation; :func:`gram` computes only what
symmetry requires. Two copies: symmetric rank-k updates (BLAS ``dsyrk`` through scipy when it is
installed) of ``√|w| ⊙ A`` over the rows where w ≥ 0, minus the same over the rows where w < 0;
without scipy, the upper block triangle of ``Aᵀ (w ⊙ A)``; the lower triangle is then mirrored.
Three copies: for each block J of j's, one matrix product ``A[:, J.start:]ᵀ (w A[:,J] ⊙ A)``
written straight into the rows ``T[J.start:, J, :]``, then mirrored (``T[j, i, :] =
T[i, j, :]``). About half the multiply-adds of the full product either way.

Example:
    >>> import numpy as np
    >>> spec = gram_pattern("ab,ac,a->bc", [(5, 3), (5, 3), (5,)])
    >>> spec.copies, spec.weights, spec.summed
    ((0, 1), (2,), 'a')
    >>> A, w = np.arange(15.0).reshape(5, 3), np.linspace(-1, 1, 5)
    >>> np.allclose(gram(spec, [A, A, w]), A.T @ (w[:, None] * A))
    True
    >>> cube = gram_pattern("ab,ac,ad,a->bcd", [(5, 3)] * 3 + [(5,)])
    >>> np.allclose(gram(cube, [A, A, A, w]), np.einsum("ab,ac,ad,a->bcd", A, A, A, w))
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
#: the same for three copies (a d×d×d result): below it the per-slice products cost more
MIN_SIDE_CUBE = 40
_BLOCK = 128
_MIRROR_BLOCK = 64  # a transposed block copy that stays in cache (128 is 2-3x slower)
_BLOCK_CUBE = 8
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
    copies: tuple[int, ...] = ()  # every copy, in output order (first, second[, third])

    @property
    def all_copies(self) -> tuple[int, ...]:
        """Every copy's operand position, in output order (``copies``, else first and second)."""
        return self.copies or (self.first, self.second)

    def worth(self, core_shape: tuple[int, ...]) -> bool:
        """Whether a result of ``core_shape`` is large enough for the triangle to pay."""
        side = MIN_SIDE if len(self.all_copies) == 2 else MIN_SIDE_CUBE
        return bool(core_shape) and core_shape[0] >= side

    def applies(self, cores: Sequence[Any], core_shape: tuple[int, ...]) -> bool:
        """Whether to run :func:`gram` on ``cores``: numpy copies of one array, large enough."""
        first = cores[self.first]
        return isinstance(first, np.ndarray) and all(cores[k] is first for k in self.all_copies) \
            and self.worth(core_shape)


def gram_pattern(equation: str, shapes: Sequence[tuple[int, ...]]) -> GramSpec | None:
    """The :class:`GramSpec` of ``Σ A[s,i] w[s] A[s,j] -> ij`` or ``Σ w A[s,i] A[s,j] A[s,k]``.

    None when ``equation`` is neither (two or three copies of one array, as below).

    The copies must have one shape and terms that differ only at one position, whose letters are
    the output letters (all distinct); every other operand must be over the copies' summed
    letters only. Whether the copies hold the same array is checked when it runs.
    """
    lhs, rhs = equation.split("->")
    terms = lhs.split(",")
    if len(rhs) not in (2, 3) or len(set(rhs)) != len(rhs):
        return None
    for a, ta in enumerate(terms):
        if len(set(ta)) != len(ta):
            continue
        for p in range(len(ta)):
            if ta[p] != rhs[0]:
                continue
            summed = ta[:p] + ta[p + 1:]
            if set(summed) & set(rhs):
                continue
            copies = [a]
            for letter in rhs[1:]:  # the copy that carries each further output letter
                want = ta[:p] + letter + ta[p + 1:]
                found = [b for b in range(len(terms))
                         if b not in copies and terms[b] == want and shapes[b] == shapes[a]]
                if not found:
                    break
                copies.append(found[0])
            if len(copies) != len(rhs):
                continue
            others = [k for k in range(len(terms)) if k not in copies]
            if any(not set(terms[k]) <= set(summed) for k in others):
                continue
            return GramSpec(copies[0], copies[1], p, tuple(others),
                            tuple(terms[k] for k in others), summed, tuple(copies))
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
    for s in range(0, d, _MIRROR_BLOCK):
        e = min(d, s + _MIRROR_BLOCK)
        C[e:, s:e] = C[s:e, e:].T
        if diagonal_blocks:
            blk = C[s:e, s:e]
            blk[...] = np.triu(blk) + np.triu(blk, 1).T
    return C


def gram(spec: GramSpec, cores: Sequence[Any], used: list[str] | None = None, *,
         alpha: float = 1.0, into: np.ndarray | None = None) -> np.ndarray:
    """``alpha · Σₛ A[s,i] w[s] A[s,j]`` (w the product of the weights), from one triangle.

    Args:
        spec: the pattern, from :func:`gram_pattern`.
        cores: the operands, as in the equation.
        used: a list to which the method used is appended (``"dsyrk"``, ``"blocks"``,
            ``"slices"``), for reports and tests.
        alpha: a factor applied inside the product (BLAS's alpha): no pass of its own.
        into: a C-ordered symmetric (d, d) array to add the product to, in place (BLAS's
            ``beta = 1``): only one triangle of it is read, and it is returned, whole.

    Returns:
        The result, C-ordered and exactly symmetric (three copies: a (d, d, d) array).
    """
    A = np.asarray(cores[spec.first])
    A2 = np.moveaxis(A, spec.axis, -1)
    d = A2.shape[-1]
    N = math.prod(A2.shape[:-1])
    A2 = A2.reshape(N, d)
    w = None
    if spec.weights:
        eq = ",".join(spec.weight_terms) + "->" + spec.summed
        w = np.einsum(eq, *[cores[k] for k in spec.weights]).reshape(N)
    if len(spec.all_copies) == 3:
        if used is not None:
            used.append("slices")
        out = _cube(A2, w)
        if alpha != 1.0:
            out *= alpha
        return out if into is None else np.add(into, out, out=into)
    blas = _syrk() if A2.dtype == np.float64 else None
    if blas is not None:
        if used is not None:
            used.append("dsyrk")
        # Fortran order: BᵀB of a C-ordered (N, d) B is B_f B_fᵀ with B_f = Bᵀ (d, N), trans=0;
        # a C-ordered symmetric `into` is its own transpose, a Fortran-ordered C for BLAS
        C = None if into is None else into.T
        if w is None:
            C = _syrk_update(blas, alpha, A2, C)
        else:  # rows of w ≥ 0 add, rows of w < 0 subtract: two rank-k updates, N rows in all
            neg = w < 0
            n_neg = int(np.count_nonzero(neg))
            root = np.sqrt(np.abs(w))
            if n_neg in (0, N):  # one sign: one scaled copy, no gather
                B = np.multiply(A2, root[:, None])
                C = _syrk_update(blas, -alpha if n_neg else alpha, B, C)
            else:  # the rows of each sign gathered into one scratch, scaled there in place
                B = np.empty((N, d), dtype=np.float64)
                pos_rows, neg_rows = np.flatnonzero(~neg), np.flatnonzero(neg)
                for sign, rows, part in ((1.0, pos_rows, B[:N - n_neg]),
                                         (-1.0, neg_rows, B[N - n_neg:])):
                    np.take(A2, rows, axis=0, out=part, mode="clip")  # "raise" buffers out
                    part *= root[rows][:, None]
                    C = _syrk_update(blas, sign * alpha, part, C)
        C = _mirror_upper(C, True)
        return C.T  # symmetric: the C-ordered view of the same array
    B = A2 if w is None else A2 * w[:, None]
    C = np.zeros((d, d), dtype=np.result_type(A2, B)) if into is None else into
    for s in range(0, d, _BLOCK):
        e = min(d, s + _BLOCK)
        prod = A2[:, :e].T @ B[:, s:e]
        if alpha != 1.0:
            prod *= alpha
        C[:e, s:e] += prod
    if used is not None:
        used.append("blocks")
    return _mirror_upper(C, True)  # the diagonal blocks too: exactly symmetric


def _syrk_update(blas: Any, alpha: float, B: np.ndarray, C: np.ndarray | None) -> np.ndarray:
    """``C + alpha BᵀB`` in C's upper triangle (Fortran order), C made when None."""
    if C is None:
        return blas.dsyrk(alpha, B.T, trans=0, lower=0)
    return blas.dsyrk(alpha, B.T, beta=1.0, c=C, trans=0, lower=0, overwrite_c=1)


def _cube(A: np.ndarray, w: np.ndarray | None) -> np.ndarray:
    """``T[i,j,k] = Σₛ w[s] A[s,i] A[s,j] A[s,k]`` from the half i ≥ j (blocks of j), mirrored.

    For each block J of j's, the rows ``T[J.start:, J, :]``, seen as a matrix over (i, (j,k)),
    are one product ``A[:, J.start:]ᵀ K`` with ``K[s,(j,k)] = w[s] A[s,j] A[s,k]``, written by
    BLAS in place; then ``T[J, i, :] = T[i, J, :]`` for i past the block, copies of whole rows
    (k is the innermost axis, so the mirror never transposes element by element).
    """
    N, d = A.shape
    Aw = A if w is None else A * w[:, None]
    dtype = np.result_type(A, Aw)
    out = np.empty((d, d, d), dtype=dtype)
    buf = np.empty((N, min(d, _BLOCK_CUBE), d), dtype=dtype)  # one scratch for every block
    for s in range(0, d, _BLOCK_CUBE):
        e = min(d, s + _BLOCK_CUBE)
        K = np.multiply(Aw[:, s:e, None], A[:, None, :], out=buf[:, :e - s])
        rows = out[s:, s:e, :].reshape(d - s, (e - s) * d)  # a view: (j, k) are contiguous
        np.matmul(A[:, s:].T, K.reshape(N, (e - s) * d), out=rows)
    for s in range(0, d, _BLOCK_CUBE):
        e = min(d, s + _BLOCK_CUBE)
        out[s:e, e:, :] = out[e:, s:e, :].transpose(1, 0, 2)
    return out
