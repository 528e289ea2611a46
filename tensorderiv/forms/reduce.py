"""Reduce a c-tensor to the notes' matrix form, and chain collapsed forms (notes A.2-A.9).

Two entry points give a :class:`~tensorderiv.forms.matrixform.MatrixForm`:

* ``ct.matrix_form()`` on a :class:`~tensorderiv.CTensor`: the deltas and constant axes its
  storage holds are read exactly (the full array is never materialised); the stored core is then
  searched numerically for more;
* :func:`reduce` on any dense array — a JAX or PyTorch Jacobian, a finite-difference estimate —
  with the caller saying which axes are inputs (``wrt_axes``) and in which layout the array is.

Structures found (:mod:`tensorderiv.forms.structure`; every numerical claim is checked entry by
entry against ``tol = atol + rtol · max|T|``): ``zero`` (every entry exactly 0),
``numerically_zero`` (every entry within ``tol`` of 0 but not all 0: rounding, with the largest
entry in ``max_abs``; a c-tensor whose terms cancelled, such as ∂(X⁻¹X)/∂X, is judged against the
size of those terms, ``CTensor.cancelled``), ``identity``, ``scaled_identity``,
``diagonal`` (a delta with values on it: f′(Z), A.57), ``delta`` (δ ⊗ A: ∂Z/∂W → A, A.74-A.76),
``kron`` (A ⊗ B: ∂(AXB)/∂X), ``redundant`` (constant along an axis, Concept 29), ``symmetric``
(between derivative copies: a Hessian) and ``dense`` (the notes' flattening, A.58).

For c-tensors of rank ≤ 2 the notes' plain matrix is the form, with the shapes below; only
``zero``, ``identity``, ``scaled_identity``, ``diagonal`` and ``symmetric`` are claimed there
(a constant gradient or a rank-1 Jacobian is still shown as its matrix). ``delta``, ``kron``
and ``redundant`` collapse what a matrix cannot show, from rank 3 on:

========================  ====================  ==========================================
derivative                full axes             matrix form
========================  ====================  ==========================================
∂s/∂v, v (m)              (m,)                  column (m×1)
∂w/∂s, w (n)              (n,)                  row (1×n)
∂w/∂v                     (m, n)                (m×n), row i ↔ vᵢ, column j ↔ wⱼ
∂s/∂M, M (r×k)            (r, k)                (r×k), the shape of M
∂M/∂s, M (r×k)            (r, k)                (k×r), the shape of Mᵀ
========================  ====================  ==========================================

Example — the notes' A.9 for one layer, Z = WᵀA, A' = f(Z), from dense arrays:

    >>> import numpy as np
    >>> import tensorderiv as td
    >>> A, W = np.array([1.0, 2.0, 3.0]), np.arange(6.0).reshape(3, 2)
    >>> dZ_dW = td.reduce(np.einsum("i,jk->ijk", A, np.eye(2)), wrt_axes=2, names=("W", "Z"))
    >>> dZ_dW.structure, dZ_dW.rule, dZ_dW.array.shape        # collapses to A (m×1)
    ('delta', 'outer', (3, 1))
    >>> g = np.array([10.0, -1.0])                              # ∂L/∂Z
    >>> td.chain(dZ_dW, g).array                                # ∂L/∂W = A (∂L/∂Z)ᵀ, A.61
    array([[10., -1.],
           [20., -2.],
           [30., -3.]])
"""

from __future__ import annotations

import numbers
from collections.abc import Mapping, Sequence
from dataclasses import replace
from typing import Any, Literal

import numpy as np

from ..core.axes import Axis
from ..core.ctensor import CTensor, register_matrix_form
from ..core.errors import ShapeError, StructureError
from ..symbolic.derivative import Derivative
from ..symbolic.evaluate import evaluate
from ..symbolic.expr import Expr
from .layouts import axis_name, groups, shape_note, slot_order
from .matrixform import RULES, STRUCTURES, MatrixForm
from .structure import Structure, find_structure

__all__ = ["RULES", "STRUCTURES", "MatrixForm", "chain", "reduce", "reduce_ctensor", "to_layout"]

LayoutName = Literal["notes", "denominator", "numerator"]
_LAYOUTS = ("notes", "denominator", "numerator")


def _default_rtol(dtype: np.dtype) -> float:
    """1000 machine epsilons: room for rounding, none for a real difference."""
    return 1000.0 * float(np.finfo(dtype).eps) if dtype.kind in "fc" else 1e-12


def _check_layout(layout: str, what: str = "layout") -> None:
    if layout not in _LAYOUTS:
        raise StructureError(f"{what} must be one of {_LAYOUTS} (notes = inputs first, "
                             f"numerator = outputs first, as JAX and PyTorch), got {layout!r}")


def to_layout(array: Any, n_wrt: int | None = None, *, source: LayoutName = "numerator",
              target: LayoutName = "notes") -> np.ndarray:
    """Move a dense derivative between the notes' layout and the numerator layout.

    Args:
        array: the derivative, a dense array; or a :class:`~tensorderiv.CTensor`, whose axes say
            which are inputs (``n_wrt`` and ``source`` are then not needed): its full array in
            ``target``.
        n_wrt: how many of its axes are input (``wrt``) axes.
        source: the layout ``array`` is in: ``"numerator"`` (outputs first, JAX / PyTorch
            ``jacobian``) or ``"notes"`` (inputs first; ``"denominator"`` is the same).
        target: the layout wanted.

    Returns:
        A view of ``array`` with its axes moved.

    Example:
        >>> import numpy as np
        >>> J = np.zeros((2, 3, 4))        # JAX: ∂Y/∂X for Y (2,), X (3, 4)
        >>> to_layout(J, 2).shape          # the notes: X's axes first
        (3, 4, 2)
        >>> to_layout(to_layout(J, 2), 2, source="notes", target="numerator").shape
        (2, 3, 4)
        >>> import tensorderiv as td                     # a c-tensor knows its input axes
        >>> d = td.derive("A @ x", "x", shapes={"A": (2, 3), "x": (3,)})
        >>> to_layout(d.evaluate({"A": np.ones((2, 3)), "x": np.ones(3)}), target="numerator").shape
        (2, 3)
    """
    if isinstance(array, Expr):
        raise StructureError(f"to_layout takes numbers; evaluate {array.text!r} first "
                             "(.evaluate(values)), then pass the c-tensor")
    if n_wrt is not None and (isinstance(n_wrt, bool) or not isinstance(n_wrt, numbers.Integral)):
        raise StructureError(f"to_layout: n_wrt is how many axes of the array are inputs, got "
                             f"{n_wrt!r}; the layouts go by keyword: to_layout(array, n_wrt, "
                             "source='numerator', target='notes')")
    if isinstance(array, CTensor):
        _check_layout(target, "target")
        return array.dense(layout=target)
    if n_wrt is None:
        raise StructureError("to_layout needs n_wrt, how many axes of the array are inputs "
                             "(a CTensor knows it: pass the CTensor)")
    arr = np.asarray(array)
    _check_layout(source, "source")
    _check_layout(target, "target")
    if not 0 <= int(n_wrt) <= arr.ndim:
        raise StructureError(f"n_wrt={n_wrt} input axes, but the array has {arr.ndim} axes "
                             f"(shape {arr.shape})")
    src, dst = (x == "numerator" for x in (source, target))
    if src == dst:
        return arr
    nd, k = arr.ndim, int(n_wrt)
    perm = [*range(nd - k, nd), *range(nd - k)] if src else [*range(k, nd), *range(k)]
    return arr.transpose(perm)


def _wrt_positions(shape: tuple[int, ...], wrt_axes: Any, layout: str) -> list[int]:
    nd = len(shape)
    if wrt_axes is None:
        raise StructureError(
            f"reduce needs to know which axes of the array (shape {shape}) are inputs: give "
            "wrt_axes=k (the first k axes in the notes' layout, the last k in the numerator "
            "layout) or a list of positions")
    if isinstance(wrt_axes, int | np.integer):
        k = int(wrt_axes)
        if not 0 <= k <= nd:
            raise StructureError(f"wrt_axes={k}, but the array has {nd} axes (shape {shape})")
        return list(range(nd - k, nd)) if layout == "numerator" else list(range(k))
    pos = [int(p) for p in wrt_axes]
    bad = [p for p in pos if not -nd <= p < nd]
    if bad:
        raise StructureError(f"wrt_axes {bad} out of range for an array of shape {shape}")
    pos = [p % nd for p in pos]
    if len(set(pos)) != len(pos):
        raise StructureError(f"wrt_axes {list(wrt_axes)} name an axis twice (shape {shape})")
    return pos


def reduce(
    x: Any,
    wrt_axes: int | Sequence[int] | None = None,
    *,
    layout: LayoutName = "notes",
    copies: int = 1,
    atol: float = 0.0,
    rtol: float | None = None,
    names: tuple[str, str] = ("X", "Y"),
    search: bool = True,
    values: Mapping[str, Any] | None = None,
) -> MatrixForm:
    """The notes' matrix form of a derivative: its structure, collapsed, with its chain rule.

    Args:
        x: a dense array (anything ``np.asarray`` takes: a JAX or PyTorch Jacobian, a
            finite-difference estimate), a :class:`~tensorderiv.CTensor` (then ``wrt_axes``,
            ``layout``, ``copies`` and ``names`` come from its axes), or a
            :class:`~tensorderiv.Derivative` with ``values`` (it is evaluated there first).
        wrt_axes: which axes are inputs: ``k`` for the first ``k`` axes in the notes' layout
            (the last ``k`` in the numerator layout), or their positions in ``x`` (in the input
            variable's axis order).
        layout: ``"notes"`` (inputs first) or ``"numerator"`` (outputs first: JAX, PyTorch).
        copies: how many differentiations the input axes hold (2 for a Hessian: the first half
            of ``wrt_axes`` is the first differentiation).
        atol: absolute tolerance of the numerical checks.
        rtol: tolerance relative to the largest entry; defaults to 1000 machine epsilons of the
            array's dtype. For estimates (finite differences) give their relative error.
        names: the names of the input and the output variable, for the renderings.
        search: look for structure in the values; False keeps only what a CTensor's storage
            says (exact) and, for a dense array, gives the notes' flattening.
        values: for a Derivative (or an expression), the point to evaluate it at (variable
            name → array).

    Returns:
        A :class:`~tensorderiv.forms.matrixform.MatrixForm`, its axes in the notes' layout.

    Raises:
        StructureError: when ``wrt_axes``, ``layout``, ``copies`` or a tolerance is not valid.
        ValuesError: when the array holds NaN or infinity.

    Example — a JAX-style Jacobian (outputs first) of Y = 3·X, X (2×2):
        >>> import numpy as np
        >>> J = 3.0 * np.eye(4).reshape(2, 2, 2, 2)      # ∂Y_kl/∂X_ij at [k, l, i, j]
        >>> form = reduce(J, wrt_axes=2, layout="numerator")
        >>> form.structure, form.rule, float(form.array)
        ('scaled_identity', 'scale', 3.0)
        >>> np.array_equal(form.expand(layout="numerator"), J)
        True

    Example — a Derivative with the values to evaluate it at:
        >>> import tensorderiv as td
        >>> d = td.derive("sum(tanh(W.T @ a))", "W", shapes={"W": (3, 2), "a": (3,)})
        >>> v = {"W": np.zeros((3, 2)), "a": np.array([1.0, 2.0, 3.0])}
        >>> td.reduce(d, values=v).array.shape       # ∂L/∂W has W's shape
        (3, 2)
    """
    x = _evaluated(x, values)
    if isinstance(x, CTensor):
        if wrt_axes is not None or copies != 1:
            raise StructureError("a CTensor's axes already say which are inputs and which "
                                 "derivative copy each belongs to; call reduce(ct) without "
                                 "wrt_axes and copies")
        return x.matrix_form(atol=atol, rtol=rtol, search=search)  # with notation when known
    if isinstance(x, MatrixForm):
        raise StructureError("reduce takes an array or a CTensor; this is already a MatrixForm "
                             "(its .expand() is the array)")
    _check_layout(layout)
    arr = np.asarray(x)
    if arr.dtype.kind not in "fc":
        arr = arr.astype(np.float64)
    wrt = _wrt_positions(arr.shape, wrt_axes, layout)
    if int(copies) < 1 or len(wrt) % int(copies):
        raise StructureError(f"copies={copies} must be >= 1 and divide the {len(wrt)} input "
                             "axes into equal derivative copies")
    of = [p for p in range(arr.ndim) if p not in wrt]
    per = len(wrt) // int(copies) if wrt else 1
    x_name, y_name = names
    axes = [Axis((x_name, 1 + k // per, k % per), arr.shape[p], "wrt", x_name, k % per,
                 1 + k // per) for k, p in enumerate(wrt)]
    axes += [Axis((y_name, 0, k), arr.shape[p], "of", y_name, k) for k, p in enumerate(of)]
    core = arr.transpose([*wrt, *of])
    return _form(core, list(range(arr.ndim)), axes, True, atol, rtol, search,
                 (x_name,) * int(copies), y_name)


def _evaluated(x: Any, values: Mapping[str, Any] | None) -> Any:
    """A Derivative or expression evaluated at ``values``; a clear error for what cannot be."""
    if isinstance(x, Expr):
        if values is None:
            kind = "Derivative" if isinstance(x, Derivative) else "expression"
            raise StructureError(
                f"reduce needs numbers: the {kind} {x.text!r} has no values yet; call "
                "td.reduce(d, values={name: array, ...}) or reduce its c-tensor, "
                "td.reduce(d.evaluate(values))")
        return x.evaluate(values) if isinstance(x, Derivative) else evaluate(x, values)
    if values is not None:
        raise StructureError(f"values= is for a Derivative or an expression; reduce got a "
                             f"{type(x).__name__}, which holds its numbers already")
    if isinstance(x, str):
        raise StructureError(f"reduce takes numbers, got the text {x!r}; derive it first: "
                             "td.reduce(td.derive(text, wrt, shapes=...), values=...)")
    return x


def _chain_factor(f: Any, k: int, atol: float, rtol: float | None) -> Any:
    """A chain factor as chain takes it: a c-tensor is reduced; an expression refused."""
    if isinstance(f, CTensor):
        return reduce_ctensor(f, atol=atol, rtol=rtol)
    if isinstance(f, Expr):
        raise StructureError(f"chain: factor {k + 1} is {f.text!r}, which has no values yet; "
                             "pass its c-tensor (.evaluate(values)) or its form "
                             "(td.reduce(d, values=...))")
    return f


def reduce_ctensor(ct: CTensor, *, atol: float = 0.0, rtol: float | None = None,
                   search: bool = True) -> MatrixForm:
    """The notes' matrix form of a c-tensor, from its compact storage (never materialised).

    This is what :meth:`CTensor.matrix_form` calls; the options are those of :func:`reduce`.

    Example — ∂Z/∂W for Z = Wᵀa stored as the values of a (A.74-A.76):
        >>> import numpy as np
        >>> from tensorderiv import CTensor
        >>> from tensorderiv.core.axes import of_axes, wrt_axes
        >>> ct = CTensor(np.array([1.0, 2.0, 3.0]), [*wrt_axes("W", (3, 2)), *of_axes("Z", (2,))],
        ...              axis_map=(0, 1, 1), wrt=(("W", (3, 2)),))
        >>> form = ct.matrix_form()
        >>> form.structure, form.rule, form.array.T
        ('delta', 'outer', array([[1., 2., 3.]]))
    """
    derivative = bool(ct.wrt) or any(a.role == "wrt" for a in ct.axes)
    core = np.asarray(ct.core)
    if ct.cancelled and search:  # rounding is judged against the terms that cancelled
        atol = atol + (_default_rtol(core.dtype) if rtol is None else rtol) * ct.cancelled
    return _form(core, list(ct.axis_map), list(ct.axes), derivative, atol, rtol, search,
                 *_names(ct))


def _names(ct: CTensor) -> tuple[tuple[str, ...], str]:
    """The variables differentiated against (from the wrt spec, else the axes) and the output.

    The spec names a scalar variable too, which has no axes; an output with no named axis is
    ``f``, as the engine calls an expression's output.
    """
    wrt = tuple(name for name, _ in ct.wrt)
    if not wrt:
        by_copy = {a.copy: a.var for a in ct.axes if a.role == "wrt" and a.var is not None}
        wrt = tuple(by_copy[c] for c in sorted(by_copy))
    of = next((a.var for a in ct.axes if a.role == "of" and a.var is not None), "f")
    return wrt, of


def _form(core: np.ndarray, amap: list[int | None], axes: list[Axis], derivative: bool,
          atol: float, rtol: float | None, search: bool, wrt_names: tuple[str, ...],
          of_name: str) -> MatrixForm:
    """Find the structure and build the form; rank ≤ 2 keeps the notes' plain matrix.

    A c-tensor of rank ≤ 2 is shown as the notes' matrix (the module docstring's table): only
    zero, a diagonal, a multiple of the identity and symmetry are claimed there, since a
    Kronecker or constant-axis collapse of a matrix hides the shape the notes give it.
    """
    rtol = _default_rtol(core.dtype) if rtol is None else rtol
    s = find_structure(core, amap, [a.size for a in axes], [axis_name(a) for a in axes],
                       [a.copy if a.role == "wrt" else 0 for a in axes], atol=atol, rtol=rtol,
                       search=search, collapse=len(axes) > 2)
    structure, rule = _classify(s, axes)
    peak = float(np.max(np.abs(core))) if core.size else 0.0
    if structure == "zero" and peak > 0:  # within tol of 0, yet not 0: never claim exact zero
        structure = "numerically_zero"
    _, reps = slot_order(s.axis_map, axes, s.n_slots)
    rows, cols, why = shape_note(reps, derivative)
    if structure == "numerically_zero":
        note = (f"zero up to rounding: the largest entry is {peak:.3g}, within tol {s.tol:.3g} "
                "of 0 but not exactly 0")
    else:
        note = _collapse_note(structure, s, axes)
    if structure in ("dense", "symmetric", "kron"):  # the array spans every axis: say its shape
        note = f"{note}; {why}" if note else why
    form = MatrixForm(structure, rule, s.factors, s.axis_map, tuple(axes), rows, cols, note,
                      s.tried, s.found, s.tol, derivative, s.symmetric, wrt_names, of_name, peak)
    order = form._kron_order()
    if order is not None:
        names = form._factor_names()
        kron = " ⊗ ".join(names[k] for k in order)
        form = replace(form, note=f"{note}; the notes' matrix is {kron}, each factor's matrix "
                                  "with rows its inputs and columns its outputs")
    return form


def _classify(s: Structure, axes: Sequence[Axis]) -> tuple[str, str]:
    """The structure's name and its chain rule, strongest first.

    Axes of size 1 take no part: a delta or a constant along one says nothing.
    """
    if s.zero:
        return "zero", "zero"
    big = {p for p, a in enumerate(axes) if a.size > 1}
    if not big:  # a single number
        return "dense", "matmul" if axes else "scale"
    K = s.n_slots
    readers = {t: [p for p in ps if p in big] for t, ps in s.readers().items()}
    rows, cols = ([p for p in g if p in big] for g in groups(axes))
    valued = any(len(ps) > 1 for t, ps in readers.items() if t < K)
    pure = any(t >= K and ps for t, ps in readers.items())
    paired = len(rows) == len(cols) and all(
        s.axis_map[r] is not None and s.axis_map[r] == s.axis_map[c]
        and len(readers[s.axis_map[r]]) == 2  # type: ignore[index]
        for r, c in zip(rows, cols, strict=True))
    if paired and all(f.size == 1 for f in s.factors):
        c = complex(s.factors[0].reshape(-1)[0]) if len(s.factors) == 1 else None
        return ("identity" if c == 1 else "scaled_identity"), "scale"
    if valued:
        return "diagonal", "elementwise" if paired else "einsum"
    if pure:
        return "delta", "outer" if _outer_ok(s, axes, readers, big) else "einsum"
    if sum(f.size > 1 for f in s.factors) > 1:
        return "kron", "kron"
    if any(s.axis_map[p] is None for p in big):
        return "redundant", "broadcast"
    return ("symmetric" if s.symmetric else "dense"), "matmul"


def _outer_ok(s: Structure, axes: Sequence[Axis], readers: dict[int, list[int]],
              big: set[int]) -> bool:
    """δ ⊗ A where A lives on input axes only and each delta ties one input to one output."""
    K = s.n_slots
    if any(s.axis_map[p] is None for p in big) or not any(axes[p].role == "of" for p in big):
        return False
    for t, ps in readers.items():
        roles = sorted(axes[p].role for p in ps)
        if t < K and roles not in ([], ["wrt"]):
            return False
        if t >= K and roles != ["of", "wrt"]:
            return False
    return True


def _collapse_note(structure: str, s: Structure, axes: Sequence[Axis]) -> str:
    names = [axis_name(a) for a in axes]
    deltas = ["=".join(names[p] for p in ps) for ps in s.readers().values() if len(ps) > 1]
    const = [names[p] for p, t in enumerate(s.axis_map) if t is None]
    return {
        "zero": "every entry is 0",
        "identity": f"the identity (δ between {', '.join(deltas)})" if deltas else "",
        "scaled_identity": f"a multiple of the identity (δ between {', '.join(deltas)})",
        "diagonal": f"zero off the diagonal of {', '.join(deltas)}, kept as the diagonal "
                    "(notes A.57, Concept 29)",
        "delta": f"a Kronecker-delta factor: zero off the diagonal of {', '.join(deltas)} and "
                 "the same on it, collapsed to the rest (notes A.74-A.76)",
        "kron": f"a Kronecker product of {len(s.factors)} factors (.factors)",
        "redundant": f"constant along {', '.join(const)}, collapsed to one slice (Concept 29)",
        "symmetric": "symmetric between derivative copies "
                     + ", ".join(f"{a} and {b}" for a, b in s.symmetric)
                     + "; nothing collapses",
        "dense": "nothing collapses" if len(axes) > 2 else "",
    }[structure]


def chain(*forms: MatrixForm | Any, atol: float = 0.0, rtol: float | None = None) -> MatrixForm:
    """The chain rule on collapsed forms, each applied by its rule (notes A.61).

    In the notes' order, ``chain(∂Z/∂W, ∂A/∂Z, ∂L/∂A)`` is ∂L/∂W = ∂Z/∂W · (∂A/∂Z · ∂L/∂A):
    each factor's output is the next one's input. It is evaluated from the right, so with a
    gradient last (backpropagation) every intermediate is a gradient, the size of a variable, and
    no collapsed form is expanded unless its rule is ``matmul`` (then it is dense already).

    Args:
        *forms: :class:`MatrixForm` objects or c-tensors (from ``derive(...).evaluate``, reduced
            here); the last may instead be a dense array in the notes' layout (a gradient ∂L/∂Y
            in Y's shape).
        atol: absolute tolerance for reducing the result.
        rtol: relative tolerance for reducing the result.

    Returns:
        The product's matrix form: inputs of the first factor, outputs of the last.

    Raises:
        ShapeError: when a factor's output shape is not the next factor's input shape.

    Example — ∂L/∂Z = f′(Z) ⊙ ∂L/∂A (Concept 34), with f′(Z) from a diagonal ∂A/∂Z:
        >>> import numpy as np
        >>> import tensorderiv as td
        >>> dA_dZ = td.reduce(np.diag([0.5, 2.0]), wrt_axes=1)
        >>> td.chain(dA_dZ, np.array([4.0, 3.0])).array.ravel()
        array([2., 6.])
    """
    if not forms:
        raise StructureError("chain needs at least one factor")
    forms = tuple(_chain_factor(f, k, atol, rtol) for k, f in enumerate(forms))
    *inner, last = forms
    for k, f in enumerate(inner):
        if not isinstance(f, MatrixForm):
            raise StructureError(f"chain: factor {k + 1} is a {type(f).__name__}; only the last "
                                 "factor may be an array, the others are MatrixForms or "
                                 "CTensors (reduce them first: td.reduce(array, wrt_axes=k))")
    acc = last.expand() if isinstance(last, MatrixForm) else np.asarray(last, dtype=float)
    if not inner:
        return last if isinstance(last, MatrixForm) else reduce(acc, 0, atol=atol, rtol=rtol)
    for k in range(len(inner) - 1, -1, -1):
        f = inner[k]
        n_of = len(f.of_shape)
        if acc.shape[:n_of] != f.of_shape:
            nxt = forms[k + 1]
            given = nxt.wrt_shape if isinstance(nxt, MatrixForm) else acc.shape
            raise ShapeError(
                f"chain: factor {k + 1} ({f.structure}, rule {f.rule!r}) has output shape "
                f"{f.of_shape}, but factor {k + 2} is with respect to shape {given}; in the "
                "notes' order ∂L/∂W = ∂Z/∂W · ∂L/∂Z each factor's output is the next one's "
                "input (A.61)")
        acc = f.apply(acc)
    first = inner[0]
    axes = [a for a in first.axes if a.role == "wrt"]
    trailing = acc.shape[len(axes):]
    if isinstance(last, MatrixForm) and len(last.of_shape) == len(trailing):
        axes += [a for a in last.axes if a.role == "of"]
        out = last.of_name
    else:
        axes += [Axis(("Y", 0, k), n, "of", "Y", k) for k, n in enumerate(trailing)]
        out = "Y" if trailing else "L"  # a gradient last: the product is ∂L/∂X
    return _form(acc, list(range(acc.ndim)), axes, True, atol, rtol, True, first.wrt_names, out)


register_matrix_form(reduce_ctensor)
