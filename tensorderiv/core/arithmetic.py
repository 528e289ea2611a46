"""Arithmetic on c-tensors: ``+``, ``-``, scalar ``*`` and ``/``, indexing, a transposed view.

:class:`CTensorOps` is the mixin :class:`~tensorderiv.CTensor` inherits its operators from. They
keep the compact storage where the result allows it:

* ``c * T``, ``T / c``, ``-T``: the core is scaled; deltas and constant axes are kept.
* ``S + T``, ``S - T`` (the same labels): with identical axis maps the cores are added; otherwise
  the structure both share is kept (:func:`~tensorderiv.core.ctensor.linear_combination`).
  Labels are matched by name, so a term's axis order does not matter; a zero term is free.
* ``T + A`` with a dense array ``A`` of the full shape (notes' layout), or a number: the result is
  dense along every axis ``A`` varies on (a number keeps constant axes constant).
* ``T * A`` and ``A * T`` with an array of the full shape: the entry-wise product, a dense
  c-tensor with ``T``'s axes. ``bool(T)`` is defined for one entry only, as for numpy arrays.
* ``T[i]``, ``T[:, j]`` …: indices on the full axes in the notes' layout. An integer or slice on
  an axis that is constant or owns its core axis stays compact (a CTensor, or a number when no
  axis is left); anything else (an index into a Kronecker delta, fancy indexing) materialises
  the full array within the dense budget and returns a numpy array.
* ``T.T`` and ``T.transpose(*axes)``: numpy's transpose as a compact view. The notes' layout is
  fixed by the axes' roles (inputs first), so the view is a plain labelled tensor: every axis
  takes the role ``"of"`` (its label, variable and index are kept, so :func:`~tensorderiv.contract`
  still matches it) and ``wrt`` is dropped. ``T.dense(layout="numerator")`` is the JAX/PyTorch
  order without leaving the notes' convention.
* numpy functions: ``np.asarray(T)`` (``__array__``) materialises within the dense budget (and,
  as numpy does, returns the core itself when it is already the full array), so
  ``np.allclose(T, A)``, ``np.linalg.solve(H, g)`` work; ufuncs on c-tensors route ``+ - * /``
  here and densify for the rest.

Example — a Newton step with a damped Hessian, H + λI, without ``.dense()`` calls:

    >>> import numpy as np
    >>> import tensorderiv as td
    >>> x = td.var("x", (2,))
    >>> H = td.derive(td.sum(x ** 4), x, order=2).evaluate({"x": np.array([1.0, 2.0])})
    >>> H.core.shape                                  # diagonal: two numbers stored
    (2,)
    >>> (2 * H).core.shape, (H / 4).core.shape, (-H).core.shape
    ((2,), (2,), (2,))
    >>> D = H + 0.5 * np.eye(2)
    >>> np.linalg.solve(D, np.array([1.0, 1.0]))      # ndarray in, ndarray out
    array([0.08      , 0.02061856])
    >>> float(H[1, 1]), H[1].shape, H.T.shape          # an entry; a row (into the delta)
    (48.0, (2,), (2, 2))
    >>> float(td.evaluate(td.sum(x ** 4), {"x": np.array([1.0, 2.0])}))   # one entry: a float
    17.0
"""

from __future__ import annotations

import numbers
from collections.abc import Sequence
from dataclasses import replace
from typing import Any

import numpy as np

from .errors import ArgumentError, LabelError, ShapeError, ValuesError

__all__ = ["CTensorOps"]

_SCALED = {np.multiply: "*", np.true_divide: "/", np.divide: "/"}


def _is_scalar(x: Any) -> bool:
    if isinstance(x, numbers.Number):
        return True
    return isinstance(x, np.generic | np.ndarray) and np.ndim(x) == 0


class CTensorOps:
    """The operators of a c-tensor (see the module docstring); mixed into ``CTensor``.

    The class using it provides ``core``, ``axes``, ``axis_map``, ``wrt``, ``cancelled``, ``shape``,
    ``labels``, ``dense()``, ``is_zero``, and two hooks: ``_combine(pairs)`` (a linear
    combination of same-label c-tensors) and ``_no_deltas()`` (deltas materialised).
    """

    __slots__ = ()

    # ------------------------------------------------------------------ + and -
    def _same_labels(self, other: Any) -> Any:
        """``other`` with its axes in this c-tensor's order (matched by label)."""
        if set(other.labels) != set(self.labels):  # type: ignore[attr-defined]
            raise LabelError(
                f"cannot add c-tensors with different axes: {list(self.labels)} "  # type: ignore[attr-defined]
                f"and {list(other.labels)}; relabel one (.relabel) or add their arrays "
                "(np.asarray(a) + np.asarray(b))")
        for a in self.axes:  # type: ignore[attr-defined]
            b = other.axis(a.label)
            if a.size != b.size:
                raise ShapeError(f"cannot add c-tensors: axis {a.label!r} has sizes {a.size} "
                                 f"and {b.size}")
        if other.labels == self.labels:  # type: ignore[attr-defined]
            return other
        pos = {lab: p for p, lab in enumerate(other.labels)}
        amap = [other.axis_map[pos[a.label]] for a in self.axes]  # type: ignore[attr-defined]
        return type(self)(other.core, self.axes, amap, self.wrt)  # type: ignore[attr-defined, call-arg]

    def _plus(self, other: Any, sign: float) -> Any:
        me: Any = self
        if isinstance(other, CTensorOps):
            other = me._same_labels(other)
            if other.is_zero and other.core.size == 1:
                return me
            if me.is_zero and me.core.size == 1:
                return other if sign == 1.0 else -other
            return me._combine([(1.0, me), (sign, other)])
        if _is_scalar(other):
            if other == 0:
                return me
            base = me._no_deltas()
            return type(me)(base.core + sign * other, me.axes, base.axis_map, me.wrt)
        arr = np.asarray(other)
        if arr.dtype.kind not in "biufc":  # None, text, objects: not numbers at all
            raise ValuesError(f"cannot add a {type(other).__name__} to a c-tensor: give a "
                              "number, an array of the full shape or a c-tensor")
        if arr.shape != me.shape:
            raise ShapeError(f"cannot add an array of shape {arr.shape} to a c-tensor of shape "
                             f"{me.shape}: give the full shape in the notes' layout (inputs "
                             "first) or a number")
        dense = type(me)(arr, me.axes, None, me.wrt)
        return me._combine([(1.0, me), (sign, dense)])

    def __add__(self, other: Any) -> Any:
        return self._plus(other, 1.0)

    def __radd__(self, other: Any) -> Any:
        return self._plus(other, 1.0)

    def __sub__(self, other: Any) -> Any:
        return self._plus(other, -1.0)

    def __rsub__(self, other: Any) -> Any:
        return (-self)._plus(other, 1.0)

    def __neg__(self) -> Any:
        return self._scaled(-1.0)

    def __pos__(self) -> Any:
        return self

    # ------------------------------------------------------------------ * and / by a number
    def _scaled(self, c: Any) -> Any:
        me: Any = self
        return type(me)(me.core * c, me.axes, me.axis_map, me.wrt, me.cancelled * abs(c))

    def _scalar_only(self, other: Any, op: str) -> None:
        if not _is_scalar(other):
            raise ArgumentError(
                f"a c-tensor {op} {type(other).__name__}: only a number is supported (the core "
                "is scaled); contract c-tensors with td.contract, or use the dense arrays "
                "(np.asarray(ct))")

    def _times_array(self, other: Any) -> Any:
        """The entry-wise product with an array of the full shape (in the notes' layout)."""
        me: Any = self
        arr = np.asarray(other)
        if arr.dtype.kind not in "biuf":
            raise ArgumentError(f"a c-tensor * {type(other).__name__}: give a number, a real "
                                "array of the full shape, or contract c-tensors with td.contract")
        if arr.shape != me.shape:
            raise ShapeError(f"cannot multiply a c-tensor of shape {me.shape} by an array of "
                             f"shape {arr.shape} entry by entry: give the full shape in the "
                             "notes' layout (inputs first) or a number")
        return type(me)(np.asarray(me.dense()) * arr, me.axes, None, me.wrt)

    def __mul__(self, other: Any) -> Any:
        if not _is_scalar(other) and not isinstance(other, CTensorOps) \
                and isinstance(other, np.ndarray | list | tuple):
            return self._times_array(other)
        self._scalar_only(other, "*")
        return self._scaled(other)

    def __rmul__(self, other: Any) -> Any:
        if isinstance(other, list | tuple):
            return self._times_array(other)
        self._scalar_only(other, "*")
        return self._scaled(other)

    def __truediv__(self, other: Any) -> Any:
        self._scalar_only(other, "/")
        me: Any = self
        return type(me)(me.core / other, me.axes, me.axis_map, me.wrt,
                        me.cancelled / abs(other) if other else 0.0)

    # ------------------------------------------------------------------ numpy
    # ndarray + T and np.float64(2) * T come here, so they stay c-tensors
    def __array_ufunc__(self, ufunc: Any, method: str, *inputs: Any, **kwargs: Any) -> Any:
        if method == "__call__" and not kwargs:
            if ufunc is np.negative and len(inputs) == 1:
                return -self
            if ufunc is np.positive and len(inputs) == 1:
                return self
            if len(inputs) == 2:
                a, b = inputs
                if ufunc is np.add:
                    return a + b if isinstance(a, CTensorOps) else b.__radd__(a)
                if ufunc is np.subtract:
                    return a - b if isinstance(a, CTensorOps) else b.__rsub__(a)
                if ufunc is np.multiply and not (_is_scalar(a) or _is_scalar(b)):
                    return a._times_array(b) if isinstance(a, CTensorOps) \
                        else b._times_array(a)
                if ufunc in _SCALED and (_is_scalar(a) or _is_scalar(b)):
                    if ufunc is np.multiply:
                        return a * b if isinstance(a, CTensorOps) else b * a
                    if isinstance(a, CTensorOps):
                        return a / b
        dense = [np.asarray(x) if isinstance(x, CTensorOps) else x for x in inputs]
        if any(isinstance(x, CTensorOps) for x in kwargs.get("out", ())):
            return NotImplemented
        return getattr(ufunc, method)(*dense, **kwargs)

    def _one_entry(self, error: Exception) -> Any:
        """The single entry of a c-tensor of one entry; ``error`` for any other shape."""
        me: Any = self
        if int(np.prod(me.shape)) != 1:
            raise error
        return np.asarray(me.dense()).reshape(())

    def __bool__(self) -> bool:
        """``bool(T)`` for a c-tensor of one entry; ambiguous otherwise, as for numpy arrays."""
        shape = self.shape  # type: ignore[attr-defined]
        return bool(self._one_entry(ArgumentError(
            f"the truth value of a c-tensor of shape {shape} is ambiguous; use np.any(T) or "
            "np.all(T)")))

    def __float__(self) -> float:
        """``float(T)`` for a c-tensor of one entry (a scalar's derivative, a loss value)."""
        shape = self.shape  # type: ignore[attr-defined]
        return float(self._one_entry(ShapeError(
            f"float() needs a c-tensor of one entry, got shape {shape}; index an entry "
            "(T[i, j]) or take the array (np.asarray(T))")))

    # ------------------------------------------------------------------ indexing
    def __getitem__(self, key: Any) -> Any:
        me: Any = self
        keys = list(key) if isinstance(key, tuple) else [key]
        if sum(k is Ellipsis for k in keys) == 1:
            at = keys.index(Ellipsis)
            keys[at:at + 1] = [slice(None)] * (me.ndim - len(keys) + 1)
        simple = all(isinstance(k, slice) or (isinstance(k, numbers.Integral)
                                              and not isinstance(k, bool)) for k in keys)
        if not simple:
            return np.asarray(me.dense())[key]
        if len(keys) > me.ndim:
            raise IndexError(f"too many indices ({len(keys)}) for a c-tensor of shape "
                             f"{me.shape}")
        keys += [slice(None)] * (me.ndim - len(keys))
        for p, k in enumerate(keys):
            if isinstance(k, numbers.Integral) and not -me.shape[p] <= k < me.shape[p]:
                raise IndexError(f"index {k} is out of bounds for axis {p} ({me.axes[p].label!r})"
                                 f" of size {me.shape[p]}")
        core = me.core
        amap = list(me.axis_map)
        axes = list(me.axes)
        drop: list[int] = []
        touched_wrt = False
        for p, k in enumerate(keys):
            c = amap[p]
            if isinstance(k, slice) and k == slice(None):
                continue
            touched_wrt |= axes[p].role == "wrt"
            if c is not None and amap.count(c) > 1:  # an index into a Kronecker delta
                return np.asarray(me.dense())[tuple(keys)]
            if isinstance(k, slice):
                n = len(range(*k.indices(axes[p].size)))
                axes[p] = replace(axes[p], size=n)
                if c is not None:
                    core = core[(slice(None),) * c + (k,)]
                continue
            drop.append(p)
            if c is not None:
                core = core.take(int(k) % axes[p].size, axis=c)
                amap = [x - 1 if x is not None and x > c else x for x in amap]
        keep = [p for p in range(me.ndim) if p not in drop]
        if not keep:
            return np.asarray(core)[()]
        wrt = () if touched_wrt else me.wrt
        return type(me)(core, [axes[p] for p in keep], [amap[p] for p in keep], wrt)

    # ------------------------------------------------------------------ transposed views
    def transpose(self, *axes: int | Sequence[int]) -> Any:
        """The numpy ``transpose``, as a compact view (the module docstring says what it keeps).

        Args:
            *axes: a permutation of the full axes (notes' layout positions); none reverses them.

        Example:
            >>> import numpy as np
            >>> from tensorderiv import CTensor
            >>> T = CTensor(np.arange(6.0).reshape(2, 3), ["i", "j"])
            >>> T.transpose().labels, np.array_equal(T.T, np.asarray(T).T)
            (('j', 'i'), True)
        """
        me: Any = self
        perm: list[int]
        if len(axes) == 1 and not isinstance(axes[0], numbers.Integral):
            perm = [int(p) for p in axes[0]]  # type: ignore[union-attr]
        else:
            perm = [int(p) for p in axes] if axes else list(range(me.ndim))[::-1]  # type: ignore[arg-type]
        if sorted(p % max(me.ndim, 1) for p in perm) != list(range(me.ndim)):
            raise ShapeError(f"transpose{tuple(perm)} is not a permutation of the {me.ndim} "
                             f"axes of a c-tensor of shape {me.shape}")
        perm = [p % me.ndim for p in perm]
        new = [replace(me.axes[p], role="of", copy=0) for p in perm]
        return type(me)(me.core, new, [me.axis_map[p] for p in perm], ())

    @property
    def T(self) -> Any:
        """The axes reversed, as a compact view (see :meth:`transpose`)."""
        return self.transpose()
