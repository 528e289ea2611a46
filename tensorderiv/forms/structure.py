"""Structure in a c-tensor: Kronecker deltas, constant axes, Kronecker factors (notes A.8.3).

:func:`find_structure` reads a c-tensor given as a *core* and an *axis map* — the storage of
:class:`~tensorderiv.CTensor`; a dense array is its own core under the identity map — and finds
the redundancy the notes collapse (Concept 29):

* what the storage already says, exactly: two full axes reading one core axis are a Kronecker
  delta, an axis reading none is constant along it;
* what the values say, within a tolerance: a pair of equal-size core axes off whose diagonal
  every entry is zero (a delta, A.57), a core axis along which the core is constant (A.76), a
  split of the remaining core into Kronecker factors ``F₁ ⊗ F₂`` (a rank-1 test of the core
  reshaped to a matrix), and symmetry between derivative copies (a Hessian).

With ``collapse=False`` — for a c-tensor of rank ≤ 2, whose plain matrix is already the notes'
form — only what a matrix shows is looked for: zero, a delta (a diagonal; with constant values
on it, a multiple of the identity) and symmetry. Constant axes and Kronecker factors are not
collapsed, and those the storage holds are spread back into the core.

**One tolerance rule** for every claim: with ``tol = atol + rtol · max|T|``, a structure is kept
only when the tensor rebuilt from the collapsed arrays matches *every* entry of the input within
``tol``. The collapsed arrays are read off the input, never fitted — the diagonal, the slice at
index 0 along a constant axis, the row and column through the largest entry (the pivot) for a
Kronecker split — so one entry moved off the structure by more than ``tol`` is always seen (for a
Kronecker split, an entry outside the pivot's row and column).

**Cost** is linear in the size of the core: every check streams over it in chunks and stops at
the first chunk that breaks the structure, so a dense tensor is rejected after a few chunks; a
structure that holds is confirmed in one pass per check. Nothing is materialised beyond the core.

Example — the 3-tensor ∂Z/∂W of Z = Wᵀa, given dense, collapses to a (A.74-A.76):

    >>> import numpy as np
    >>> a = np.array([1.0, 2.0, 3.0])
    >>> T = np.einsum("i,jk->ijk", a, np.eye(2))          # ∂z_k/∂W_ij = a_i δ_jk
    >>> s = find_structure(T, (0, 1, 2), T.shape, ["W[0]", "W[1]", "Z[0]"], [1, 1, 0],
    ...                    atol=0.0, rtol=1e-12)
    >>> s.factors[0], s.axis_map                          # a, and a pure delta W[1] = Z[0]
    (array([1., 2., 3.]), (0, 1, 1))
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from ..core.errors import StructureError, ValuesError

__all__ = ["Structure", "find_structure"]

_CHUNK = 1 << 16  # entries per streamed chunk
_MAX_KRON_AXES = 8  # more core axes than this: 2^(k-1) splits is too many to try


@dataclass(frozen=True)
class Structure:
    """What :func:`find_structure` found.

    Attributes:
        factors: the collapsed core as a Kronecker (outer) product of these arrays, in order;
            their axes, concatenated, are the *slots* ``0 … K-1``.
        axis_map: for each full axis, the slot it reads, ``None`` when the tensor is constant
            along it, or a number ``>= K`` for an implicit axis of ones (a pure delta). Two full
            axes reading one slot form a Kronecker delta.
        sizes: the full shape.
        tol: the tolerance every numerical claim was checked against.
        zero: every entry is within ``tol`` of zero.
        symmetric: pairs of derivative copies the tensor is symmetric between.
        found: in words, each structure found and whether it is exact (from the storage) or
            numerical.
        tried: in words, each structure tried that did not hold, and what blocked it.
    """

    factors: tuple[np.ndarray, ...]
    axis_map: tuple[int | None, ...]
    sizes: tuple[int, ...]
    tol: float
    zero: bool = False
    symmetric: tuple[tuple[int, int], ...] = ()
    found: tuple[str, ...] = ()
    tried: tuple[str, ...] = ()

    @property
    def n_slots(self) -> int:
        """How many slots the factors span (K)."""
        return sum(f.ndim for f in self.factors)

    def readers(self) -> dict[int, list[int]]:
        """Slot → the full axes reading it (in order); two or more readers are a delta.

        Example:
            >>> import numpy as np
            >>> Structure((np.ones(2),), (0, 1, 1), (2, 3, 3), 0.0).readers()
            {0: [0], 1: [1, 2]}
        """
        out: dict[int, list[int]] = {}
        for p, s in enumerate(self.axis_map):
            if s is not None:
                out.setdefault(s, []).append(p)
        return out


# ------------------------------------------------------------------------------- small kernels
def _absmax(x: np.ndarray) -> float:
    """The largest |entry|, without an |x| temporary (two passes for real data)."""
    if x.size == 0:
        return 0.0
    if x.dtype.kind == "c":
        return float(np.abs(x).max())
    return float(max(x.max(), -x.min()))


def _argabsmax(x: np.ndarray) -> tuple[int, ...]:
    """The multi-index of the largest |entry| (the first one on ties)."""
    if x.dtype.kind == "c":
        flat = int(np.argmax(np.abs(x)))
    else:
        hi, lo = int(np.argmax(x)), int(np.argmin(x))
        flat = hi if x.flat[hi] >= -x.flat[lo] else lo
    return tuple(int(i) for i in np.unravel_index(flat, x.shape))


def _mismatch(C: np.ndarray, factors: Sequence[np.ndarray], tol: float) -> float | None:
    """None when ``C`` equals the product of ``factors`` (broadcast) within ``tol`` everywhere.

    Otherwise the largest deviation in the first chunk that breaks it. Streams over ``C`` in
    chunks along its longest axis and stops at the first bad chunk.
    """
    if C.size == 0:
        return None
    ax = int(np.argmax(C.shape))
    n = C.shape[ax]
    step = max(1, (_CHUNK * n) // C.size)
    for s in range(0, n, step):
        sl = (slice(None),) * ax + (slice(s, s + step),)
        ref: Any = None
        for f in factors:
            part = f[sl] if f.shape[ax] == n else f
            ref = part if ref is None else ref * part
        d = _absmax(np.asarray(C[sl] - ref))
        if not d <= tol:  # also catches NaN
            return d
    return None


def _off_diagonal(C: np.ndarray, a: int, b: int, tol: float) -> float | None:
    """None when every entry of ``C`` off the (a, b) diagonal is within ``tol`` of zero."""
    V = np.moveaxis(C, (a, b), (0, 1))
    n = V.shape[0]
    for i in range(n):  # row 0 first: a dense tensor is rejected on the first slab
        for part in (V[i, :i], V[i, i + 1:]):
            d = _absmax(part)
            if not d <= tol:
                return d
    return None


def _bipartitions(axes: Sequence[int]) -> Iterator[tuple[list[int], list[int]]]:
    """Every split of ``axes`` into two non-empty groups, the first holding ``axes[0]``."""
    rest = list(axes[1:])
    for k in range(len(rest)):
        for extra in itertools.combinations(rest, k):
            g1 = [axes[0], *extra]
            yield g1, [c for c in axes if c not in g1]


def _keep(F: np.ndarray, fixed: Sequence[int], at: Sequence[int]) -> np.ndarray:
    """``F`` with the axes in ``fixed`` held at the pivot ``at`` (kept as size-1 axes)."""
    return F[tuple(slice(at[c], at[c] + 1) if c in fixed else slice(None)
                   for c in range(F.ndim))]


# ---------------------------------------------------------------------------- the detector
def _normalise(core: np.ndarray, amap: list[int | None], sizes: Sequence[int]
               ) -> tuple[np.ndarray, list[int | None]]:
    """Give every size-1 full axis a core axis of its own; number implicit slots after the core.

    A delta or a constant along a size-1 axis says nothing, so none is kept.
    """
    ndim = core.ndim
    big = 1 << 30
    out: list[int | None] = [s + big if s is not None and s >= ndim else s for s in amap]
    owned: set[int] = set()
    for p, s in enumerate(out):
        if sizes[p] != 1:
            continue
        if s is not None and s < ndim and s not in owned:
            owned.add(s)
            continue
        core = core[..., np.newaxis]
        out[p] = core.ndim - 1
    implicit: dict[int, int] = {}
    for p, s in enumerate(out):
        if s is not None and s >= big:
            out[p] = core.ndim + implicit.setdefault(s, len(implicit))
    return core, out


def _merge_deltas(core: np.ndarray, amap: list[int | None], names: Sequence[str], tol: float,
                  found: list[str], tried: list[str]) -> tuple[np.ndarray, list[int | None]]:
    """Find pairs of core axes the core is diagonal in, and keep only the diagonal."""
    parent = list(range(core.ndim))

    def root(c: int) -> int:
        while parent[c] != c:
            c = parent[c]
        return c

    def who(c: int) -> str:
        return "=".join(names[p] for p, s in enumerate(amap) if s == c)

    for a, b in itertools.combinations(range(core.ndim), 2):
        n = core.shape[a]
        if n < 2 or core.shape[b] != n or root(a) == root(b):
            continue
        bad = _off_diagonal(core, a, b, tol)
        if bad is None:
            parent[root(b)] = root(a)
            found.append(f"δ between {who(a)} and {who(b)} (numerical: every entry off the "
                         f"diagonal is within tol {tol:.3g} of 0)")
        else:
            tried.append(f"δ between {who(a)} and {who(b)}: an entry off the diagonal is "
                         f"{bad:.3g} > tol {tol:.3g}")
    roots: list[int] = []
    for c in range(core.ndim):
        if root(c) not in roots:
            roots.append(root(c))
    if len(roots) == core.ndim:
        return core, amap
    labels = [roots.index(root(c)) for c in range(core.ndim)]
    core = np.einsum(core, labels, list(range(len(roots))))
    ndim_old = len(labels)
    return core, [None if s is None else labels[s] if s < ndim_old else s - ndim_old + len(roots)
                  for s in amap]


def find_structure(
    core: Any,
    axis_map: Sequence[int | None],
    sizes: Sequence[int],
    names: Sequence[str],
    copies: Sequence[int],
    *,
    atol: float,
    rtol: float,
    search: bool = True,
    collapse: bool = True,
) -> Structure:
    """Find the structure of the c-tensor stored as ``core`` + ``axis_map``.

    Args:
        core: the stored values (an array).
        axis_map: for each full axis, the core axis it reads, ``None`` (constant along it), or a
            number past the core's last axis (an implicit axis of ones), as in ``CTensor``.
        sizes: the full shape.
        names: a name for each full axis, for the messages (``"W[0]"``).
        copies: for each full axis, its derivative copy (1, 2 … for ``wrt`` axes, 0 for ``of``).
        atol: absolute tolerance (>= 0).
        rtol: tolerance relative to ``max|T|`` (>= 0).
        search: look for structure in the values; when False only the storage is read (exact).
        collapse: collapse constant axes and Kronecker factors; when False (the module
            docstring) the result spans every axis that is not a delta.

    Returns:
        A :class:`Structure`; its factors and axis map rebuild the input within its ``tol``.

    Raises:
        ValuesError: when the core holds NaN or infinity.
        StructureError: when a tolerance is negative or not finite.

    Example — f′(z) stored on the diagonal (two axes read core axis 0), all values equal:
        >>> import numpy as np
        >>> s = find_structure(np.full(3, 2.0), (0, 0), (3, 3), ["z[0]", "a[0]"], [1, 0],
        ...                    atol=0.0, rtol=1e-12)
        >>> s.factors, s.axis_map      # 2 times a pure delta: a scaled identity
        ((array(2.),), (0, 0))
        >>> s.found[-1]
        'constant along z[0]=a[0] (numerical, within tol 2e-12)'
    """
    for what, t in (("atol", atol), ("rtol", rtol)):
        if not (np.isfinite(t) and t >= 0):
            raise StructureError(f"{what} must be a finite number >= 0, got {t!r}")
    return _find(np.asarray(core), list(axis_map), tuple(int(n) for n in sizes), names, copies,
                 float(atol), float(rtol), search, collapse)


def _spread(core: np.ndarray, amap: list[int | None], sizes: Sequence[int]
            ) -> tuple[np.ndarray, list[int | None]]:
    """Give every constant axis (and every implicit axis read once) a core axis of its own.

    Only deltas stay compact: the core then spans every other full axis.
    """
    count: dict[int, int] = {}
    for s in amap:
        if s is not None:
            count[s] = count.get(s, 0) + 1
    ndim = core.ndim
    out = list(amap)
    for p, s in enumerate(amap):
        if s is None or (s >= ndim and count[s] == 1):
            core = np.broadcast_to(core[..., np.newaxis], (*core.shape, sizes[p]))
            out[p] = core.ndim - 1
    multi = sorted({s for s in amap if s is not None and s >= ndim and count[s] > 1})
    shift = {s: core.ndim + k for k, s in enumerate(multi)}  # implicit axes go after the core
    out = [shift.get(s, t) for s, t in zip(amap, out, strict=True)]
    return core, out  # a broadcast view: the factors are copied out at the end


def _find(core: np.ndarray, amap: list[int | None], sizes: tuple[int, ...],
          names: Sequence[str], copies: Sequence[int], atol: float, rtol: float,
          search: bool, collapse: bool) -> Structure:
    """The detector proper; ``sizes`` are the full axes' sizes (constant axes included)."""
    found: list[str] = []
    tried: list[str] = []
    core, amap = _normalise(core, amap, sizes)
    if not collapse:
        core, amap = _spread(core, amap, sizes)
    readers: dict[int, list[int]] = {}
    for p, s in enumerate(amap):
        if s is not None:
            readers.setdefault(s, []).append(p)
        elif sizes[p] > 1:
            found.append(f"constant along {names[p]} (exact, from the storage)")
    for s, ps in readers.items():
        if len(ps) > 1:
            kind = "with values on the diagonal" if s < core.ndim else "a pure delta"
            found.append(f"δ between {'='.join(names[p] for p in ps)} ({kind}; exact, "
                         "from the storage)")
    scale = _absmax(core)
    if not np.isfinite(scale):
        where = tuple(int(i) for i in np.argwhere(~np.isfinite(core))[0])
        raise ValuesError(f"the c-tensor's stored values hold {core[where]} at core index "
                          f"{where}; structure can only be found in finite values")
    tol = float(atol + rtol * scale)
    if math.prod(sizes) == 0 or (search and scale <= tol):
        return Structure((np.zeros((), dtype=core.dtype),), (None,) * len(sizes), sizes, tol,
                         zero=True, found=(*found, f"zero: every entry is within tol {tol:.3g}"
                                                   " of 0"), tried=tuple(tried))
    if search:
        tried.append(f"zero: the largest entry is {scale:.3g} > tol {tol:.3g}")
    if search and core.ndim >= 2:
        core, amap = _merge_deltas(core, amap, names, tol, found, tried)
    C = core
    # constant core axes: the slice at index 0 along them must rebuild C within tol; without
    # collapse only along a delta (a diagonal with one value on it: a multiple of the identity)
    S: list[int] = []
    F = C
    if search:
        for c in range(C.ndim):
            if C.shape[c] < 2 or (not collapse and sum(s == c for s in amap) < 2):
                continue
            trial = _keep(C, [*S, c], [0] * C.ndim)
            who = "=".join(names[p] for p, s in enumerate(amap) if s == c)
            bad = _mismatch(C, [trial], tol)
            if bad is None:
                S.append(c)
                F = trial
                found.append(f"constant along {who} (numerical, within tol {tol:.3g})")
            else:
                tried.append(f"constant along {who}: an entry differs from the slice at "
                             f"index 0 by {bad:.3g} > tol {tol:.3g}")
    factors = [F]
    owned = [[c for c in range(C.ndim) if c not in S and C.shape[c] > 1]]
    if search and collapse:
        _split_kron(C, factors, owned, amap, names, tol, found, tried)
    symmetric = _symmetry(C, amap, S, copies, names, tol, found, tried) if search else ()
    return _assemble(C, S, factors, owned, amap, sizes, tol, symmetric, found, tried)


def _split_kron(C: np.ndarray, factors: list[np.ndarray], owned: list[list[int]],
                amap: Sequence[int | None], names: Sequence[str], tol: float,
                found: list[str], tried: list[str]) -> None:
    """Split factors into Kronecker factors while the product still rebuilds ``C`` within tol."""

    def who(axes: Sequence[int]) -> str:
        return ", ".join("=".join(names[p] for p, s in enumerate(amap) if s == c) for c in axes)

    k = 0
    while k < len(factors):
        g = owned[k]
        if len(g) > _MAX_KRON_AXES:
            tried.append(f"Kronecker factors of {who(g)}: not tried, {len(g)} axes give "
                         f"2^{len(g) - 1} splits")
            k += 1
            continue
        if len(g) < 2:
            k += 1
            continue
        F = factors[k]
        piv = _argabsmax(F)
        least = np.inf
        for g1, g2 in _bipartitions(g):
            u = _keep(F, g2, piv)
            v = _keep(F, g1, piv) / F[piv]
            trial = [*factors[:k], u, v, *factors[k + 1:]]
            bad = _mismatch(C, trial, tol)
            if bad is None:
                found.append(f"Kronecker factors over ({who(g1)}) ⊗ ({who(g2)}) (numerical: "
                             f"rank 1 within tol {tol:.3g})")
                factors[k:k + 1] = [u, v]
                owned[k:k + 1] = [g1, g2]
                break
            least = min(least, bad)
        else:
            n_splits = 2 ** (len(g) - 1) - 1
            tried.append(f"Kronecker factors of ({who(g)}): none of the {n_splits} splits is "
                         f"rank 1 — each has an entry off the fit through the largest entry by "
                         f"more than tol {tol:.3g} (least seen {least:.3g})")
            k += 1


def _symmetry(C: np.ndarray, amap: Sequence[int | None], S: Sequence[int],
              copies: Sequence[int], names: Sequence[str], tol: float,
              found: list[str], tried: list[str]) -> tuple[tuple[int, int], ...]:
    """Copy pairs the tensor is symmetric between (checked only where C is the full tensor)."""
    axis_of: dict[int, list[int]] = {}
    for p, c in enumerate(copies):
        if c:
            axis_of.setdefault(c, []).append(p)
    if len(axis_of) < 2:
        return ()
    if S or any(s is None or s >= C.ndim for s in amap) or len(set(amap)) != len(amap):
        tried.append("symmetry between derivative copies: not checked, the tensor collapses "
                     "further")
        return ()
    out = []
    for c1, c2 in itertools.combinations(sorted(axis_of), 2):
        a1, a2 = axis_of[c1], axis_of[c2]
        if [C.shape[amap[p]] for p in a1] != [C.shape[amap[p]] for p in a2]:  # type: ignore[index]
            continue
        perm = list(range(C.ndim))
        for p, q in zip(a1, a2, strict=True):
            perm[amap[p]], perm[amap[q]] = amap[q], amap[p]  # type: ignore[call-overload]
        bad = _mismatch(C, [C.transpose(perm)], tol)
        if bad is None:
            out.append((c1, c2))
            found.append(f"symmetric between derivative copies {c1} and {c2} (numerical, "
                         f"within tol {tol:.3g})")
        else:
            tried.append(f"symmetry between derivative copies {c1} and {c2}: an entry differs "
                         f"from its mirror by {bad:.3g} > tol {tol:.3g}")
    return tuple(out)


def _assemble(C: np.ndarray, S: Sequence[int], factors: list[np.ndarray],
              owned: list[list[int]], amap: Sequence[int | None], sizes: tuple[int, ...],
              tol: float, symmetric: tuple[tuple[int, int], ...], found: list[str],
              tried: list[str]) -> Structure:
    """Number the slots factor by factor and map the full axes onto them."""
    trivial = [c for c in range(C.ndim) if c not in S and C.shape[c] == 1]
    owned = [sorted(g) for g in owned]
    owned[0] = sorted([*owned[0], *trivial])
    slot_of: dict[int, int] = {}
    compact = []
    for F, g in zip(factors, owned, strict=True):
        drop = tuple(c for c in range(C.ndim) if c not in g)
        compact.append(np.array(np.squeeze(F, axis=drop)))  # a copy: no view of the input
        for c in g:
            slot_of[c] = len(slot_of)
    K = len(slot_of)
    count: dict[int, int] = {}
    for s in amap:
        if s is not None:
            count[s] = count.get(s, 0) + 1
    implicit: dict[int, int] = {}
    out: list[int | None] = []
    for s in amap:
        if s is None:
            out.append(None)
        elif s in slot_of:
            out.append(slot_of[s])
        elif count[s] > 1:  # a constant axis (or an implicit one) read by several: a pure delta
            out.append(K + implicit.setdefault(s, len(implicit)))
        else:
            out.append(None)
    return Structure(tuple(compact), tuple(out), sizes, tol, False, symmetric, tuple(found),
                     tuple(tried))
