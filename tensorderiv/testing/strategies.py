"""Hypothesis strategies for labelled c-tensors and derivative expressions (public API).

Requires Hypothesis: ``pip install 'tensorderiv[test]'``.

Example:
    >>> from hypothesis import given
    >>> from tensorderiv.testing.strategies import ctensors
    >>> @given(ctensors())
    ... def test_dense_matches_shape(ct):
    ...     assert ct.dense().shape == ct.shape
    >>> test_dense_matches_shape()
"""

from __future__ import annotations

from typing import Any

try:
    from hypothesis import strategies as st
    from hypothesis.extra import numpy as hnp
except ImportError as exc:  # pragma: no cover - exercised only without the extra
    raise ImportError(
        "tensorderiv.testing.strategies needs Hypothesis; install the test extra: "
        "pip install 'tensorderiv[test]'"
    ) from exc

import numpy as np

from ..axes import Axis
from ..ctensor import CTensor

__all__ = ["STRUCTURES", "ctensors", "labels", "shapes"]

STRUCTURES = ("dense", "diagonal", "delta", "redundant", "mixed")


def shapes(min_dims: int = 0, max_dims: int = 3, min_side: int = 1, max_side: int = 4) -> Any:
    """Array shapes with bounded rank and sides."""
    return hnp.array_shapes(min_dims=min_dims, max_dims=max_dims, min_side=min_side,
                            max_side=max_side)


def labels(n: int, alphabet: str = "ijklmnpq") -> Any:
    """``n`` distinct axis labels (short strings, or tuples past the alphabet)."""
    pool = [*alphabet, *((c, k) for c in alphabet for k in range(3))]
    return st.permutations(pool).map(lambda p: list(p[:n]))


def _floats() -> Any:
    return st.floats(-10, 10, allow_nan=False, allow_infinity=False, width=64)


@st.composite
def ctensors(
    draw: Any,
    structure: str = "mixed",
    max_rank: int = 4,
    max_side: int = 4,
    axis_labels: list[Any] | None = None,
    sizes: dict[Any, int] | None = None,
) -> CTensor:
    """Labelled c-tensors stored compactly with the chosen structure.

    Args:
        draw: supplied by Hypothesis.
        structure: ``"dense"``, ``"diagonal"`` (two axes read one core axis), ``"delta"`` (a pure
            Kronecker delta with no storage), ``"redundant"`` (constant along an axis), or
            ``"mixed"`` (any of these, several at once).
        max_rank: the most full axes.
        max_side: the largest axis size.
        axis_labels: labels to use (their number fixes the rank); drawn when omitted.
        sizes: sizes for some labels, so that tensors drawn apart share them.
    """
    if structure not in STRUCTURES:
        raise ValueError(f"structure must be one of {STRUCTURES}, got {structure!r}")
    need = {"dense": 0, "diagonal": 2, "delta": 2, "redundant": 1, "mixed": 0}[structure]
    if axis_labels is None:
        rank = draw(st.integers(max(need, 0), max(max_rank, need)))
        axis_labels = draw(labels(rank))
    rank = len(axis_labels)
    fixed = set(sizes or {})
    sizes = dict(sizes or {})
    for lab in axis_labels:
        if lab not in sizes:
            sizes[lab] = draw(st.integers(1, max_side))
    # decide which full axes share which core (or implicit) axis
    groups: list[list[int]] = [[p] for p in range(rank)]
    kinds = ["core"] * rank
    if structure in ("diagonal", "delta") and rank >= 2:
        p, q = draw(st.permutations(range(rank)))[:2]
        if axis_labels[q] in fixed and sizes[axis_labels[q]] != sizes[axis_labels[p]]:
            raise ValueError(f"labels {axis_labels[p]!r} and {axis_labels[q]!r} have fixed, "
                             "different sizes and cannot share a diagonal")
        sizes[axis_labels[q]] = sizes[axis_labels[p]]
        groups = [g for g in groups if g[0] not in (p, q)] + [[p, q]]
        kinds = ["core"] * (len(groups) - 1) + ["core" if structure == "diagonal" else "ones"]
    elif structure == "redundant" and rank >= 1:
        p = draw(st.integers(0, rank - 1))
        kinds = ["none" if g == [p] else "core" for g in groups]
    elif structure == "mixed":
        merged: list[list[int]] = []
        for p in range(rank):
            lab = axis_labels[p]
            fits = [g for g in merged
                    if lab not in fixed or sizes[axis_labels[g[0]]] == sizes[lab]]
            if fits and draw(st.booleans()) and draw(st.booleans()):
                g = draw(st.sampled_from(fits))
                sizes[axis_labels[p]] = sizes[axis_labels[g[0]]]
                g.append(p)
            else:
                merged.append([p])
        groups = merged
        # a single axis may be redundant; a group of several may be a pure delta (implicit ones)
        kinds = [draw(st.sampled_from(["core", "core", "none" if len(g) == 1 else "ones"]))
                 for g in groups]
    axis_map: list[int | None] = [None] * rank
    core_sides: list[int] = []
    implicit = []
    for g, kind in zip(groups, kinds, strict=True):
        if kind == "none" and len(g) == 1:
            continue
        if kind == "ones":
            implicit.append(g)
            continue
        for p in g:
            axis_map[p] = len(core_sides)
        core_sides.append(sizes[axis_labels[g[0]]])
    for k, g in enumerate(implicit):
        for p in g:
            axis_map[p] = len(core_sides) + k
    core = draw(hnp.arrays(np.float64, tuple(core_sides), elements=_floats()))
    axes = [Axis(lab, sizes[lab]) for lab in axis_labels]
    return CTensor(core, axes, axis_map)
