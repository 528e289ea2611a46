"""CTensor: a labelled c-tensor stored compactly (notes A.8, Definition 23).

A c-tensor of rank r is kept as a *core* array plus an *axis map* that says, for each of the r
full axes, which core axis it reads — or ``None`` when the value is constant along it (a
*redundant* axis, notes Concept 29). Two full axes that read the same core axis form a Kronecker
delta: the full tensor is zero off their diagonal. An index past the core's last axis reads an
implicit axis of ones, so a pure delta (an identity factor) costs no storage at all. Nothing is
materialised until :meth:`CTensor.dense` is asked for.

The full axes are kept in the notes' (denominator) layout: the axes of the variable differentiated
against first (one copy per differentiation, each in the variable's axis order), then the output's
axes in the output's order. ``dense(layout="numerator")`` gives the transposed (JAX/PyTorch) order.

Example: for Z = Wᵀa with W (m×n), ∂Z/∂W is a full (m, n, n) tensor stored as the m values of a:

    >>> import numpy as np
    >>> from tensorderiv import CTensor
    >>> from tensorderiv.core.axes import Axis
    >>> a = np.array([1.0, 2.0, 3.0])
    >>> dZ_dW = CTensor(a, [Axis("i", 3, "wrt", "W", 0, 1), Axis("j", 2, "wrt", "W", 1, 1),
    ...                     Axis("k", 2, "of", "Z", 0)], axis_map=(0, 1, 1))  # a_i δ_jk
    >>> dZ_dW.shape, dZ_dW.nbytes, dZ_dW.dense_nbytes
    ((3, 2, 2), 24, 96)
    >>> dZ_dW.dense()[:, 1, :]
    array([[0., 1.],
           [0., 2.],
           [0., 3.]])
"""

from __future__ import annotations

import math
from collections.abc import Hashable, Sequence
from typing import Any, Literal

import numpy as np

from . import backends
from .arithmetic import CTensorOps
from .axes import Axis, canonical_order
from .errors import DenseLimitError, LabelError, OptionError, ShapeError
from .options import get_dense_limit
from .renderers import Rendered

__all__ = [
    "CTensor",
    "Layout",
    "expand_core",
    "linear_combination",
    "register_matrix_form",
    "restructure",
    "without_deltas",
]

Layout = Literal["notes", "denominator", "numerator"]
_LAYOUTS = ("notes", "denominator", "numerator")

WrtSpec = tuple[tuple[str, tuple[int, ...]], ...]


def _as_axis(a: Axis | Hashable, size: int | None) -> Axis:
    if isinstance(a, Axis):
        return a
    if size is None:
        raise LabelError(f"axis {a!r}: give an Axis, or a core without an axis_map to size it")
    return Axis(a, int(size))


class CTensor(CTensorOps, Rendered):  # repr and rich display: tensorderiv.display
    """A labelled c-tensor: a compact core array and the full axes it stands for.

    It supports ``+``, ``-``, scalar ``*`` and ``/``, indexing on the full axes, ``.T`` and
    numpy functions through ``__array__``, keeping the compact storage where it can
    (:mod:`tensorderiv.core.arithmetic`).

    Args:
        core: the stored values (any array with ``shape``, ``dtype`` and numpy semantics).
        axes: the full axes, as :class:`~tensorderiv.core.axes.Axis` records (or bare labels when
            ``axis_map`` is omitted; then each label reads the core axis of the same position).
        axis_map: for each full axis, the core axis it reads, or ``None`` for a redundant axis
            (constant along it). Two full axes reading one core axis form a Kronecker delta;
            indices past ``core.ndim`` read implicit axes of ones (pure deltas, no storage).
            Defaults to the identity (a dense tensor).
        wrt: the variables differentiated against, one ``(name, shape)`` per differentiation
            in copy order; empty for a plain value.
        cancelled: when the values are a sum whose terms cancelled to far below their own size
            (∂(X⁻¹X)/∂X), the largest magnitude of those terms, else 0: the scale rounding is
            judged against, so the reducer can say "numerically zero" (never exactly zero).

    A c-tensor returned by ``Derivative.evaluate`` also keeps ``origin``, the derivative and the
    values it came from (None otherwise), so that :meth:`matrix_form` can write the notation of
    the collapsed form; any new c-tensor made from it (arithmetic, new axes) has none.

    The axes are stored in the notes' layout (wrt axes by copy, then output axes); axes given in
    another order are put in that order.
    """

    __slots__ = ("axes", "axis_map", "cancelled", "core", "origin", "wrt")

    def __init__(
        self,
        core: Any,
        axes: Sequence[Axis | Hashable],
        axis_map: Sequence[int | None] | None = None,
        wrt: WrtSpec = (),
        cancelled: float = 0.0,
    ) -> None:
        if not hasattr(core, "shape") or not hasattr(core, "dtype"):
            core = np.asarray(core)
        if backends.dtype_kind(core) not in "fc":
            core = backends.astype(core, backends.float64_like(core))
        axes = list(axes)
        if axis_map is None:
            if len(axes) != core.ndim:
                raise ShapeError(
                    f"{len(axes)} axes given for a core of shape {tuple(core.shape)}; "
                    "without an axis_map each axis reads the core axis at its position"
                )
            axis_map = list(range(core.ndim))
            axes = [_as_axis(a, n) for a, n in zip(axes, core.shape, strict=True)]
        else:
            axis_map = list(axis_map)
            if len(axis_map) != len(axes):
                raise ShapeError(f"axis_map has {len(axis_map)} entries for {len(axes)} axes")
            axes = [_as_axis(a, None) for a in axes]
        labels = [a.label for a in axes]
        if len(set(labels)) != len(labels):
            dup = sorted({repr(x) for x in labels if labels.count(x) > 1})
            raise LabelError(f"duplicate axis label(s) {', '.join(dup)}: labels must be unique "
                             "within a c-tensor")
        read: set[int] = set()
        virtual: dict[int, list[int]] = {}
        for p, (a, c) in enumerate(zip(axes, axis_map, strict=True)):
            if c is None:
                continue
            if c < 0:
                raise ShapeError(f"axis {a.label!r} reads core axis {c}; indices are >= 0")
            if c >= core.ndim:
                virtual.setdefault(c, []).append(p)
                continue
            if core.shape[c] != a.size:
                raise ShapeError(f"axis {a.label!r} has size {a.size} but reads core axis {c} "
                                 f"of size {core.shape[c]}")
            read.add(c)
        if len(read) != core.ndim:
            raise ShapeError(f"core axes {sorted(set(range(core.ndim)) - read)} are read by no "
                             f"full axis (core shape {tuple(core.shape)})")
        # implicit axes of ones: renumber densely past the core; one reader alone is redundant
        for k, (_, ps) in enumerate(sorted(virtual.items())):
            sizes = {axes[p].size for p in ps}
            if len(sizes) > 1:
                raise ShapeError(f"axes {[axes[p].label for p in ps]} form a delta but have "
                                 f"sizes {sorted(sizes)}; a Kronecker delta needs equal sizes")
            for p in ps:
                axis_map[p] = core.ndim + k if len(ps) > 1 else None
        order = canonical_order(axes)
        self.core = core
        self.axes: tuple[Axis, ...] = tuple(axes[p] for p in order)
        self.axis_map: tuple[int | None, ...] = tuple(axis_map[p] for p in order)
        self.wrt: WrtSpec = tuple((str(n), tuple(int(s) for s in sh)) for n, sh in wrt)
        self.cancelled = float(cancelled)
        self.origin: Any = None

    @classmethod
    def _trusted(cls, core: Any, like: CTensor, wrt: WrtSpec | None = None) -> CTensor:
        """``like``'s axes and structure over a new core of the same shape, unvalidated.

        For compiled evaluation, where ``like`` is a template checked once at compile time.
        """
        ct = object.__new__(cls)
        ct.core, ct.axes, ct.axis_map = core, like.axes, like.axis_map
        ct.wrt = like.wrt if wrt is None else wrt
        ct.cancelled, ct.origin = 0.0, None
        return ct

    # ---------------------------------------------------------------- description
    @property
    def shape(self) -> tuple[int, ...]:
        """The full shape, in the notes' layout."""
        return tuple(a.size for a in self.axes)

    @property
    def ndim(self) -> int:
        """The number of full axes (the c of the c-tensor)."""
        return len(self.axes)

    @property
    def labels(self) -> tuple[Hashable, ...]:
        """The labels of the full axes, in the notes' layout."""
        return tuple(a.label for a in self.axes)

    @property
    def dtype(self) -> np.dtype:
        """The dtype of the stored values."""
        return self.core.dtype

    @property
    def nbytes(self) -> int:
        """Bytes actually stored (the core)."""
        return int(self.core.nbytes)

    @property
    def dense_nbytes(self) -> int:
        """Bytes the full array would take."""
        return int(math.prod(self.shape)) * self.core.dtype.itemsize

    @property
    def is_dense(self) -> bool:
        """True when every full axis reads its own core axis (nothing compact)."""
        return sorted(c for c in self.axis_map if c is not None) == list(range(self.ndim))

    @property
    def is_zero(self) -> bool:
        """True when every entry is exactly 0 (a zero derivative stores one 0, nothing more)."""
        core = self.core
        return isinstance(core, np.ndarray) and not np.any(core)

    @property
    def has_deltas(self) -> bool:
        """True when two full axes read one core or implicit axis (a Kronecker delta)."""
        used = [c for c in self.axis_map if c is not None]
        return len(set(used)) != len(used)

    def axis(self, label: Hashable) -> Axis:
        """The axis with this label; :class:`LabelError` naming the known labels otherwise."""
        for a in self.axes:
            if a.label == label:
                return a
        raise LabelError(f"unknown axis label {label!r}; this c-tensor has {list(self.labels)}")

    # ---------------------------------------------------------------- conversions
    def layout_order(self, layout: Layout = "notes") -> list[int]:
        """Positions of the full axes in the given layout."""
        if layout not in _LAYOUTS:
            raise OptionError(f"layout must be one of {_LAYOUTS}, got {layout!r}")
        if layout == "numerator":
            outs = [p for p, a in enumerate(self.axes) if a.role == "of"]
            ins = [p for p, a in enumerate(self.axes) if a.role == "wrt"]
            return outs + ins
        return list(range(self.ndim))

    def dense(self, layout: Layout = "notes", *, limit: int | None = None) -> Any:
        """The full array, materialising deltas and redundant axes.

        It is an array of the core's library, on the core's device: numpy for numpy, a torch
        tensor for torch, a lazy dask array for dask (call ``.compute()``).

        Args:
            layout: ``"notes"`` (or ``"denominator"``): wrt axes first, then output axes.
                ``"numerator"``: output axes first (the JAX / PyTorch order).
            limit: the byte budget; defaults to :func:`tensorderiv.get_dense_limit`.

        Raises:
            DenseLimitError: when the full array would exceed the budget.
        """
        order = self.layout_order(layout)
        budget = get_dense_limit() if limit is None else int(limit)
        if self.dense_nbytes > budget:
            raise DenseLimitError(
                f"the full c-tensor of shape {self.shape} would take {self.dense_nbytes:,} bytes, "
                f"over the dense limit of {budget:,} bytes; work with the compact form "
                f"(.core, {self.nbytes:,} bytes), or raise the limit with "
                "tensorderiv.set_dense_limit(nbytes) or dense(limit=nbytes)"
            )
        sizes = [self.axes[p].size for p in order]
        amap = [self.axis_map[p] for p in order]
        arr = expand_core(self.core, amap, sizes)
        if not backends.is_numpy(arr):
            return arr  # a torch, jax, cupy or dask array stays in its library
        if isinstance(arr, np.ndarray) and arr.flags.c_contiguous and arr.flags.writeable and \
                not np.may_share_memory(arr, self.core):
            return arr  # already a new array (deltas placed): the result is allocated once
        return np.array(arr)

    def __array__(self, dtype: Any = None, copy: bool | None = None) -> np.ndarray:
        """``np.asarray(T)``: the full array in the notes' layout, within the dense budget.

        As for numpy arrays, ``np.asarray`` does not copy what it need not: when the core is
        already the full array (nothing compact), that array itself comes back, and writing
        into it writes into ``T``. ``np.array(T)`` and :meth:`dense` give a new array.
        """
        core = self.core
        if copy is not True and isinstance(core, np.ndarray) and \
                self.axis_map == tuple(range(core.ndim)) and core.shape == self.shape:
            return core if dtype is None else core.astype(dtype, copy=False)
        if copy is False:
            raise ValueError("this c-tensor is compact (deltas or constant axes): its full "
                             "array must be made, so np.asarray(T, copy=False) cannot hold")
        out = backends.to_numpy(self.dense())
        return out if dtype is None else out.astype(dtype)

    @classmethod
    def from_dense(
        cls, array: Any, axes: Sequence[Axis | Hashable], wrt: WrtSpec = ()
    ) -> CTensor:
        """A dense c-tensor from a full array whose axes are given in the array's order."""
        if backends.is_numpy(array) or not hasattr(array, "shape"):
            array = np.asarray(array)
        return cls(array, axes, wrt=wrt)

    def relabel(self, mapping: dict[Hashable, Axis | Hashable]) -> CTensor:
        """A view with some axes renamed; values of ``mapping`` are new labels or whole Axes."""
        new = []
        for a in self.axes:
            if a.label in mapping:
                target = mapping[a.label]
                new.append(target if isinstance(target, Axis) else a.relabel(target))
            else:
                new.append(a)
        unknown = set(mapping) - set(self.labels)
        if unknown:
            raise LabelError(f"cannot relabel unknown axis label(s) {sorted(map(repr, unknown))};"
                             f" this c-tensor has {list(self.labels)}")
        return CTensor(self.core, new, self.axis_map, self.wrt, self.cancelled)

    def with_axes(self, axes: Sequence[Axis], wrt: WrtSpec | None = None) -> CTensor:
        """The same values under new axis records, given in the current (stored) order."""
        if len(axes) != self.ndim:
            raise ShapeError(f"{len(axes)} axes given for a c-tensor of rank {self.ndim}")
        for old, new in zip(self.axes, axes, strict=True):
            if old.size != new.size:
                raise ShapeError(f"axis {new.label!r} has size {new.size}, but the axis it "
                                 f"replaces ({old.label!r}) has size {old.size}")
        return CTensor(self.core, axes, self.axis_map, self.wrt if wrt is None else wrt,
                       self.cancelled)

    def _combine(self, pairs: Sequence[tuple[float, CTensor]]) -> CTensor:
        return linear_combination(pairs)

    def _no_deltas(self) -> CTensor:
        return without_deltas(self)

    def astype(self, dtype: Any) -> CTensor:
        """The same c-tensor with its core cast to ``dtype``."""
        return CTensor(backends.astype(self.core, dtype), self.axes, self.axis_map, self.wrt,
                       self.cancelled)

    def matrix_form(self, **options: Any) -> Any:
        """The notes' matrix form of this c-tensor, a ``MatrixForm`` (see :mod:`~.forms.reduce`).

        The reducer lives downstream, in :mod:`tensorderiv.forms.reduce`, which registers itself
        here through :func:`register_matrix_form` when the package is imported.
        """
        if not _MATRIX_FORM:
            raise RuntimeError("no matrix-form reducer is registered; import tensorderiv")
        return _MATRIX_FORM[0](self, **options)


_MATRIX_FORM: list[Any] = []


def register_matrix_form(reducer: Any) -> None:
    """Install the function that :meth:`CTensor.matrix_form` calls (done by ``reduce.py``)."""
    _MATRIX_FORM[:] = [reducer]


def expand_core(core: Any, axis_map: Sequence[int | None], sizes: Sequence[int]) -> Any:
    """Materialise a compact core into the full axes ``axis_map`` describes, in that order.

    Each core axis read by several full axes is placed on their diagonal (exact zeros elsewhere,
    even beside an infinite entry); a full axis that reads no core axis is broadcast.

    Example:
        >>> import numpy as np
        >>> expand_core(np.array([1.0, 2.0]), [0, 0], [2, 2])
        array([[1., 0.],
               [0., 2.]])
    """
    if not backends.is_numpy(core):
        return _expand_any(core, axis_map, sizes)
    # the distinct sources, in the order the full axes first read them
    sources: list[int] = []
    for c in axis_map:
        if c is not None and c not in sources:
            sources.append(c)
    size_of = {c: n for c, n in zip(axis_map, sizes, strict=True) if c is not None}
    # the core laid out over the sources (implicit axes of ones broadcast in)
    real = [c for c in sources if c < core.ndim]
    if sorted(real) != list(range(core.ndim)):
        raise ShapeError(f"axis map {list(axis_map)} does not read every axis of a core of "
                         f"shape {tuple(core.shape)}")
    arr = core.transpose(real) if real else core
    shape = [size_of[c] if c < core.ndim else 1 for c in sources]
    arr = arr.reshape(shape)
    arr = np.broadcast_to(arr, [size_of[c] for c in sources])
    full_kept = [c for c in axis_map if c is not None]
    if len(full_kept) == len(sources):  # no deltas: a transpose and broadcasts
        order = [sources.index(c) for c in full_kept]
        arr = np.transpose(arr, order) if order != list(range(len(order))) else arr
    else:  # deltas: place the values on the diagonals of a zero array
        out = np.zeros([size_of[c] for c in full_kept], dtype=core.dtype)
        grids = np.ix_(*[np.arange(size_of[c]) for c in sources]) if sources else ()
        out[tuple(grids[sources.index(c)] for c in full_kept)] = arr
        arr = out
    shape_full = [n if c is not None else 1 for c, n in zip(axis_map, sizes, strict=True)]
    arr = arr.reshape(shape_full)
    if any(c is None for c in axis_map):
        arr = np.broadcast_to(arr, tuple(sizes))
    return arr


def _expand_any(core: Any, axis_map: Sequence[int | None], sizes: Sequence[int]) -> Any:
    """:func:`expand_core` for any array library (torch, jax, cupy, dask).

    Each core axis sits at the first full axis that reads it, and each delta keeps the diagonal
    of an identity (a ``where``, so exact zeros beside an infinite entry).
    """
    xp = backends.namespace(core)
    first: dict[int, int] = {}
    for p, c in enumerate(axis_map):
        if c is not None:
            first.setdefault(c, p)
    real = sorted((c for c in first if c < core.ndim), key=first.__getitem__)
    if sorted(real) != list(range(core.ndim)):
        raise ShapeError(f"axis map {list(axis_map)} does not read every axis of a core of "
                         f"shape {tuple(core.shape)}")
    if real != sorted(real):
        core = xp.permute_dims(core, tuple(real))
    rank = len(axis_map)
    zero = backends.constant_like(0.0, core, core.dtype)
    arr = xp.reshape(core, tuple(sizes[p] if axis_map[p] in first and first[axis_map[p]] == p
                                 and axis_map[p] < core.ndim else 1 for p in range(rank)))
    for p, c in enumerate(axis_map):
        if c is not None and first[c] != p:  # a delta between full axes first[c] and p
            shape = [1] * rank
            shape[first[c]] = shape[p] = sizes[p]
            mask = xp.reshape(backends.eye_like(core, sizes[p]), tuple(shape)) != 0
            arr = xp.where(mask, arr, zero)  # exact zeros off the diagonal, even beside inf
    return xp.broadcast_to(arr, tuple(sizes))


def restructure(ct: CTensor, groups: Sequence[Sequence[int]]) -> CTensor:
    """The same c-tensor with a finer structure: full axes in one group share one core axis.

    Every pair grouped here must already share a core axis in ``ct``; positions in no group are
    redundant and must be redundant in ``ct``. Deltas between groups are materialised, redundant
    axes that join a group are broadcast.
    """
    reps = [g[0] for g in groups]
    need = math.prod(ct.axes[p].size for p in reps) * ct.core.dtype.itemsize
    if need > get_dense_limit():
        raise DenseLimitError(
            f"materialising a delta of the c-tensor {ct.shape} needs {need:,} bytes, over the "
            f"dense limit of {get_dense_limit():,} bytes; raise it with "
            "tensorderiv.set_dense_limit(nbytes)")
    core = expand_core(ct.core, [ct.axis_map[p] for p in reps], [ct.axes[p].size for p in reps])
    axis_map: list[int | None] = [None] * ct.ndim
    for k, g in enumerate(groups):
        for p in g:
            axis_map[p] = k
    if backends.is_numpy(core):
        core = np.ascontiguousarray(core)
    return CTensor(core, ct.axes, axis_map, ct.wrt)


def without_deltas(ct: CTensor) -> CTensor:
    """``ct`` with every delta materialised (redundant axes stay compact)."""
    if not ct.has_deltas:
        return ct
    return restructure(ct, [[p] for p, c in enumerate(ct.axis_map) if c is not None])


def linear_combination(pairs: Sequence[tuple[float, CTensor]]) -> CTensor:
    """``Σ cₖ · tₖ`` of c-tensors with the same axes, keeping the structure they all share.

    Two full axes stay one core axis only when they share one in every term; an axis stays
    redundant only when it is redundant in every term.

    Example:
        >>> import numpy as np
        >>> from tensorderiv.core.axes import Axis
        >>> ij = [Axis("i", 2), Axis("j", 2)]
        >>> eye = CTensor(np.float64(1.0), ij, axis_map=(0, 0))   # δᵢⱼ, no storage
        >>> ones = CTensor(np.float64(1.0), ij, axis_map=(None, None))
        >>> linear_combination([(2.0, eye), (1.0, ones)]).dense()
        array([[3., 1.],
               [1., 3.]])
    """
    first = pairs[0][1]
    for _, t in pairs:
        if t.labels != first.labels or t.shape != first.shape:
            raise ShapeError(f"cannot add c-tensors with axes {list(first.labels)} "
                             f"{first.shape} and {list(t.labels)} {t.shape}")
    if all(t.axis_map == first.axis_map and t.core.shape == first.core.shape for _, t in pairs):
        core = pairs[0][0] * first.core
        for c, t in pairs[1:]:
            core = core + c * t.core
        return CTensor(core, first.axes, first.axis_map, first.wrt, cancelled_scale(core, pairs))
    keys: dict[tuple[Any, ...], list[int]] = {}
    for p in range(first.ndim):
        if all(t.axis_map[p] is None for _, t in pairs):
            continue
        key = tuple(t.axis_map[p] if t.axis_map[p] is not None else ("none", p) for _, t in pairs)
        keys.setdefault(key, []).append(p)
    groups = list(keys.values())
    core = None
    for c, t in pairs:
        part = restructure(t, groups).core * c
        core = part if core is None else core + part
    axis_map: list[int | None] = [None] * first.ndim
    for k, g in enumerate(groups):
        for p in g:
            axis_map[p] = k
    return CTensor(core, first.axes, axis_map, first.wrt, cancelled_scale(core, pairs))


_CANCELLED = 1.5e-8  # √ε of float64: a sum this far below its terms is rounding, or near it


def cancelled_scale(core: Any, pairs: Sequence[tuple[float, CTensor]]) -> float:
    """The largest magnitude of the terms when their sum is far below it (else 0).

    Only for real numpy cores (a lazy core is not forced); two passes over each core, no copies.
    """
    if not isinstance(core, np.ndarray) or core.size == 0 or core.dtype.kind != "f":
        return 0.0
    peak = max(float(core.max()), -float(core.min()))
    if not peak < np.inf:
        return 0.0
    terms = 0.0
    for c, t in pairs:
        tc = t.core
        if isinstance(tc, np.ndarray) and tc.size and tc.dtype.kind == "f":
            size = max(float(tc.max()), -float(tc.min()), t.cancelled)
            terms = max(terms, abs(c) * size)
    return terms if peak <= _CANCELLED * terms else 0.0
