"""Structure plots: a c-tensor drawn as the notes' stack of matrix slices (A.56), with matplotlib.

:func:`plot` draws a c-tensor of rank 1 to 4 — a vector as a column (a row for ∂w/∂s,
Definition 11), a matrix as itself, a 3-tensor as a row of matrix slices along its last axis
(the notes' "stack of matrices", A.56), a 4-tensor as a grid of slices (third axis across,
fourth down). Exact zeros are left blank over a hatched background, so a Kronecker delta shows
as a diagonal and a constant (redundant) axis as equal slices; the figure's title says which
structure the storage holds. A :class:`~tensorderiv.forms.matrixform.MatrixForm` is drawn as
its collapsed array beside the full tensor it stands for. matplotlib is the ``plot`` extra,
imported on the first call.

Example:
    >>> import numpy as np
    >>> import tensorderiv as td
    >>> W, a = td.var("W", (3, 2)), td.var("a", (3,))
    >>> d = td.derive(W.T @ a, W)                                  # ∂Z/∂W = a ⊗ δ
    >>> fig = td.plot(d, {"W": np.ones((3, 2)), "a": np.array([1.0, 2.0, 3.0])})
    >>> [ax.get_title() for ax in fig.axes if ax.get_label() == "slice"]
    ['f[0] = 0', 'f[0] = 1']
    >>> fig.axes[0].get_ylabel(), fig.axes[0].get_xlabel()
    ('W[0]', 'W[1]')
"""

from __future__ import annotations

import math
import textwrap
from collections.abc import Mapping
from typing import Any

import numpy as np

from ..core.axes import Axis
from ..core.ctensor import CTensor
from ..core.errors import OptionError, ShapeError, ValuesError
from ..core.optional import require
from ..forms.matrixform import MatrixForm
from ..symbolic.derivative import Derivative
from ..symbolic.evaluate import evaluate
from ..symbolic.expr import Expr
from .rich import axis_label, ct_form, ct_structure, ct_title, form_name

__all__ = ["MAX_SLICES", "plot"]

#: at most this many slices are drawn along each slicing axis (the title says how many there are)
MAX_SLICES = 8
_ANNOTATE_CELLS = 36  # values are written in the cells of slices this small


def plot(obj: Any, values: Mapping[str, Any] | None = None, *,
         max_slices: int = MAX_SLICES) -> Any:
    """Draw a c-tensor (or a matrix form, a derivative at ``values``, an array) as matrix slices.

    Args:
        obj: a :class:`~tensorderiv.CTensor` of rank 1–4; a ``MatrixForm`` (drawn collapsed,
            beside its full tensor); a derivative or expression (evaluated at ``values``); or an
            array (its axes called ``axis 0``, ``axis 1`` …).
        values: variable name → array, for a derivative or an expression.
        max_slices: the most slices drawn along each slicing axis.

    Returns:
        A ``matplotlib.figure.Figure``; each matrix slice is an axes labelled ``"slice"``
        (``ax.get_label()``), rows along its y axis and columns along its x axis.

    Raises:
        ImportError: without matplotlib (``pip install 'tensorderiv[plot]'``).
        ValuesError: a derivative or expression without values.
        ShapeError: a tensor of rank 0 or above 4.
        ValuesError: an object that is none of these (text: parse it first).
        OptionError: ``max_slices`` below 1.

    Example — ∂(Wᵀa)/∂W, shape (3, 2, 2): a 3×2 slice (rows W[0], columns W[1]) per output entry:
        >>> import numpy as np
        >>> import tensorderiv as td
        >>> W, a = td.var("W", (3, 2)), td.var("a", (3,))
        >>> fig = td.plot(td.derive(W.T @ a, W), {"W": np.ones((3, 2)), "a": np.arange(3.0)})
        >>> len([ax for ax in fig.axes if ax.get_label() == "slice"])
        2
    """
    if isinstance(max_slices, bool) or not isinstance(max_slices, int) or max_slices < 1:
        raise OptionError(f"max_slices must be a positive integer, got {max_slices!r}")
    plt = require("matplotlib.pyplot", "plot")
    if isinstance(obj, Expr):
        if values is None:
            raise ValuesError(f"plotting {obj.text!r} needs values for its variables "
                              f"{list(obj.variables)}: td.plot(expr, {{name: array, ...}})")
        obj = obj.evaluate(values) if isinstance(obj, Derivative) else evaluate(obj, values)
    elif values is not None:
        raise ValuesError(f"values are for a derivative or an expression, not a "
                          f"{type(obj).__name__}")
    fig = plt.figure(layout="constrained")
    plt.close(fig)  # not kept by pyplot: shown once (as the returned value), never leaked
    if isinstance(obj, MatrixForm):
        _plot_form(fig, obj, max_slices)
        return fig
    if not isinstance(obj, CTensor):
        try:
            arr = np.asarray(obj, dtype=float)
        except (TypeError, ValueError) as exc:
            hint = (" (text: parse it first, td.plot(td.parse(text, shapes), values))"
                    if isinstance(obj, str) else "")
            raise ValuesError(
                f"td.plot draws a CTensor, a MatrixForm, a derivative or an expression with "
                f"values, or a numeric array; got a {type(obj).__name__}{hint}: {exc}") from None
        obj = CTensor(arr, [Axis(f"axis {p}", n) for p, n in enumerate(arr.shape)])
    if not 1 <= obj.ndim <= 4:
        raise ShapeError(f"td.plot draws c-tensors of rank 1 to 4; this one has rank "
                         f"{obj.ndim}, shape {obj.shape}")
    names = [axis_label(a) for a in obj.axes]
    row = obj.ndim == 1 and obj.axes[0].role == "of" and bool(obj.wrt)  # ∂w/∂s: a row
    note, size = _draw(fig, obj.dense(), names, max_slices, row)
    fig.set_size_inches(*size)
    form = ct_form(obj)
    found = (f"; matrix form: {form.structure}, chain rule {form.rule}"
             if isinstance(form, MatrixForm) else "")
    fig.suptitle(_wrap(f"{ct_title(obj)} — {ct_structure(obj)}{found}{note}"), fontsize=9)
    return fig


_PLAIN = str.maketrans("𝐓𝐅𝐉", "TFJ")  # the bold placeholders: not in matplotlib's fonts


def _wrap(text: str) -> str:
    return "\n".join(textwrap.wrap(text.translate(_PLAIN), 80))


def _plot_form(fig: Any, form: MatrixForm, max_slices: int) -> None:
    left, right = fig.subfigures(1, 2, width_ratios=[1, 2])
    arr = np.asarray(form.array)
    arr2 = arr.reshape(-1, 1) if arr.ndim < 2 else arr
    ax = left.subplots()
    _cell(ax, arr2, _scale(arr2))
    ax.set_label("collapsed")
    ax.set_title(f"collapsed: {form.structure} ({form.rule})", fontsize=9)
    ax.set_ylabel(_wrap(form.rows), fontsize=8)
    ax.set_xlabel(_wrap(form.cols), fontsize=8)
    names = [axis_label(a) for a in form.axes]
    full = form.expand()
    if full.ndim == 0 or full.ndim > 4:
        right.text(0.5, 0.5, f"full tensor of rank {full.ndim}, shape {full.shape}",
                   ha="center")
        note, size = "", (4.0, 3.0)
    else:
        row = full.ndim == 1 and form.axes[0].role == "of" and form.derivative
        note, size = _draw(right, full, names, max_slices, row)
    right.suptitle(f"full c-tensor {form.full_shape}{note}", fontsize=9)
    fig.suptitle(_wrap(f"{form_name(form)}: {form.formula()}"), fontsize=10)
    fig.set_size_inches(size[0] * 1.5 + 1.0, size[1] + 0.5)


def _scale(arr: np.ndarray) -> float:
    m = float(np.max(np.abs(arr))) if arr.size else 0.0
    return m if m > 0 and math.isfinite(m) else 1.0


def _draw(fig: Any, full: np.ndarray, names: list[str], max_slices: int,
          row: bool) -> tuple[str, tuple[float, float]]:
    """Draw ``full`` (rank 1–4) as slices on ``fig``; a note on slices left out, and a size."""
    r = full.ndim
    if r == 1:
        full = full.reshape(1, -1) if row else full.reshape(-1, 1)
        names = ["", names[0]] if row else [names[0], ""]
    across = full.shape[2] if r >= 3 else 1
    down = full.shape[3] if r == 4 else 1
    na, nd = min(across, max_slices), min(down, max_slices)
    h, w = full.shape[0], full.shape[1]
    cell = 0.45 if max(h, w) <= 12 else 4.0 / max(h, w)
    fig_w = max(3.0, na * (w * cell + 0.9) + 1.4)
    fig_h = max(2.5, nd * (h * cell + 0.9) + 1.0)
    axs = np.atleast_2d(fig.subplots(nd, na, squeeze=False))
    m = _scale(full)
    image = None
    for d in range(nd):
        for k in range(na):
            index = (slice(None), slice(None), *([k] if r >= 3 else []), *([d] if r == 4 else []))
            ax = axs[d, k]
            image = _cell(ax, full[index], m, annotate=na * nd <= 4)
            ax.set_label("slice")
            ax.set_ylabel(names[0])
            ax.set_xlabel(names[1])
            title = [f"{names[2]} = {k}"] if r >= 3 else []
            title += [f"{names[3]} = {d}"] if r == 4 else []
            ax.set_title(", ".join(title), fontsize=9)
    if image is not None:
        fig.colorbar(image, ax=axs.ravel().tolist(), shrink=0.8).ax.set_label("colorbar")
    left_out = [f"{n} of {total} slices along {names[p]}"
                for p, n, total in ((2, na, across), (3, nd, down)) if n < total]
    note = f" (drawn: the first {'; '.join(left_out)})" if left_out else ""
    return note, (fig_w, fig_h)


def _cell(ax: Any, mat: np.ndarray, m: float, annotate: bool = True) -> Any:
    """One matrix: exact zeros blank over a hatched background, values on a diverging scale."""
    patches = require("matplotlib.patches", "plot")
    h, w = mat.shape
    ax.add_patch(patches.Rectangle((-0.5, -0.5), w, h, hatch="///", fill=False,
                                   edgecolor="0.75", linewidth=0, zorder=0))
    image = ax.imshow(np.ma.masked_equal(mat, 0.0), cmap="RdBu_r", vmin=-m, vmax=m,
                      interpolation="nearest", zorder=1)
    ax.set_xlim(-0.5, w - 0.5)
    ax.set_ylim(h - 0.5, -0.5)
    if max(h, w) <= 12:
        ax.set_xticks(range(w))
        ax.set_yticks(range(h))
    if annotate and h * w <= _ANNOTATE_CELLS:
        for (i, j), v in np.ndenumerate(mat):
            if v != 0:
                ax.text(j, i, f"{v:.3g}", ha="center", va="center", fontsize=7, zorder=2)
    return image
