"""MatrixForm: a c-tensor collapsed into the notes' matrices, and how it enters a chain rule.

A :class:`MatrixForm` keeps only the collapsed arrays (``factors``) and the description of how they
fill the full c-tensor (``axis_map``: Kronecker deltas, constant axes, as in
:class:`~tensorderiv.CTensor`). :meth:`MatrixForm.expand` rebuilds the full c-tensor from them,
:attr:`MatrixForm.array` shows the collapsed array in the notes' shape, and
:meth:`MatrixForm.apply` multiplies a downstream derivative by the form *by its rule*, without
expanding it:

==============  ============================================================  =================
rule            ∂L/∂X from g = ∂L/∂Y                                           notes
==============  ============================================================  =================
``zero``        0                                                              —
``scale``       c · g  (c = 1 for the identity)                                —
``elementwise`` d ⊙ g                                                          Concept 34
``outer``       A gᵀ, placed on the axes of X                                  A.61
``matmul``      𝐉 · g, 𝐉 the notes' matrix (rows X, columns Y, A.58 vec)       Definition 13
``kron``        Σ 𝐅₁ 𝐅₂ g over Y's axes (𝐅₁ g 𝐅₂ᵀ for two matrices), rank ≥ 3  —
``broadcast``   the core times g, summed over Y's constant axes                Concept 29
``einsum``      the index formula of :meth:`MatrixForm.formula`, summed        —
==============  ============================================================  =================

Shapes (:attr:`MatrixForm.array`) follow the notes: a gradient has the shape of its variable (a
vector as a column, Definition 9), ∂w/∂s is a row (Definition 11), ∂M/∂s has the shape of Mᵀ
(Definition 17), and anything else is the notes' flattening (A.58: stack the columns): rows =
the input's axes (vec), columns = the output's axes (vec). A second derivative of a scalar puts
the first differentiation on the rows, the second on the columns.

The renderings (:meth:`MatrixForm.formula`, :meth:`MatrixForm.chain_text`, ``str``,
:meth:`MatrixForm.to_latex`) name the variables as the expression does (``wrt_names``,
``of_name``) and set the placeholders in bold — 𝐓 the full c-tensor, 𝐅 (𝐅₁, 𝐅₂ …) the
collapsed arrays, 𝐉 the matrix form — so that none is read as a variable of the expression.
"""

from __future__ import annotations

import ast
import functools
import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np

from ..core.axes import Axis
from ..core.ctensor import expand_core
from ..core.errors import OptionError, ShapeError
from ..core.renderers import Rendered
from .latex import latex_or_text
from .layouts import axis_name, flatten, groups, present, slot_order
from .rules import APPLY, apply_einsum, positions

__all__ = ["RULES", "STRUCTURES", "MatrixForm"]

STRUCTURES = ("zero", "identity", "scaled_identity", "diagonal", "delta", "kron", "redundant",
              "symmetric", "dense", "numerically_zero")
_ZEROS = ("zero", "numerically_zero")
RULES = ("zero", "scale", "elementwise", "outer", "matmul", "kron", "broadcast", "einsum")
_LETTERS = "ijklmnpqrstuvwxyzabcdefgh"
# placeholders in bold (never an ASCII variable name): the c-tensor, its factors, the matrix form
_T, _F, _J = "𝐓", "𝐅", "𝐉"
_SUBSCRIPT = str.maketrans("0123456789", "₀₁₂₃₄₅₆₇₈₉")
_SUPERSCRIPT = str.maketrans("0123456789", "⁰¹²³⁴⁵⁶⁷⁸⁹")


def _outer(factors: Sequence[np.ndarray]) -> np.ndarray:
    out = factors[0]
    for f in factors[1:]:
        out = np.multiply.outer(out, f)
    return out


@dataclass(frozen=True, eq=False, repr=False)
class MatrixForm(Rendered):  # repr and rich display: tensorderiv.display
    """A c-tensor collapsed into the notes' matrix form.

    Attributes:
        structure: what was found, one of :data:`STRUCTURES`.
        rule: how it enters a chain rule, one of :data:`RULES` (module docstring).
        factors: the collapsed arrays; the core is their Kronecker (outer) product, whose axes
            are the *slots* the ``axis_map`` refers to.
        axis_map: for each full axis (notes' layout), the slot it reads, ``None`` when constant
            along it, or a number past the last slot for a pure Kronecker delta; two axes reading
            one slot form a delta.
        axes: the full axes, in the notes' layout (inputs, by derivative copy, then outputs).
        rows: what the rows of :attr:`array` stand for.
        cols: what its columns stand for.
        note: why this shape and this collapse (the notes' reference).
        tried: each structure tried that did not hold, and what blocked it.
        found: each structure found, exact (from the storage) or numerical (within ``tol``).
        tol: the tolerance of the numerical checks (``atol + rtol · max|T|``).
        derivative: False for a plain value (no input axes, not a derivative).
        max_abs: the largest entry magnitude; for ``numerically_zero`` (every entry within ``tol``
            of 0 but not all exactly 0: rounding, as in ∂(X⁻¹X)/∂X) it says how far from 0.
        symmetric: pairs of derivative copies the tensor is symmetric between.
        wrt_names: the variables differentiated against, one per differentiation (outermost
            first), for the renderings; a scalar variable has no axes to carry its name.
        of_name: the output's name, for the renderings (``f`` for an expression's output).
        notation: the collapsed array (:attr:`array`) in matrix notation, numpy text, when it is
            known (:mod:`tensorderiv.forms.collapsed` writes it from the derivative); the
            renderings then show it in place of 𝐉 (and of 𝐅 for a single factor).
        factor_notation: each factor in matrix notation (its own axis order), or ``()``.

    Example:
        >>> import numpy as np
        >>> import tensorderiv as td
        >>> form = td.reduce(np.diag([1.0, 2.0, 3.0]), wrt_axes=1)   # ∂f(z)/∂z
        >>> form.structure, form.rule, form.array.ravel()
        ('diagonal', 'elementwise', array([1., 2., 3.]))
        >>> np.array_equal(form.expand(), np.diag([1.0, 2.0, 3.0]))
        True
    """

    structure: str
    rule: str
    factors: tuple[np.ndarray, ...]
    axis_map: tuple[int | None, ...]
    axes: tuple[Axis, ...]
    rows: str
    cols: str
    note: str
    tried: tuple[str, ...] = ()
    found: tuple[str, ...] = ()
    tol: float = 0.0
    derivative: bool = True
    symmetric: tuple[tuple[int, int], ...] = ()
    wrt_names: tuple[str, ...] = ()
    of_name: str = "Y"
    max_abs: float = 0.0
    notation: str | None = None
    factor_notation: tuple[str, ...] = ()

    # ------------------------------------------------------------------ shapes and sizes
    @property
    def full_shape(self) -> tuple[int, ...]:
        """The full c-tensor's shape, notes' layout."""
        return tuple(a.size for a in self.axes)

    @property
    def wrt_shape(self) -> tuple[int, ...]:
        """The sizes of the input axes (all derivative copies)."""
        return tuple(a.size for a in self.axes if a.role == "wrt")

    @property
    def of_shape(self) -> tuple[int, ...]:
        """The sizes of the output axes."""
        return tuple(a.size for a in self.axes if a.role == "of")

    @property
    def n_slots(self) -> int:
        """How many axes the core (the product of the factors) has."""
        return sum(f.ndim for f in self.factors)

    @property
    def dof(self) -> int:
        """How many free numbers describe the tensor (a weaker structure needs more).

        The stored entries, less one per extra Kronecker factor (a scale moves between them);
        for a symmetric tensor, the entries on and above the diagonal.
        """
        if self.structure in _ZEROS:
            return 0
        n = sum(int(f.size) for f in self.factors)
        n -= len(self.factors) - 1  # a scale moves freely between Kronecker factors
        if self.structure == "symmetric":
            c1 = self.symmetric[0][0]
            block = math.prod(a.size for a in self.axes if a.role == "wrt" and a.copy == c1)
            n = n // (block * block) * (block * (block + 1) // 2)
        return n

    def _slot_order(self) -> tuple[list[int], list[Axis]]:
        return slot_order(self.axis_map, self.axes, self.n_slots)

    def core(self) -> np.ndarray:
        """The collapsed core: the outer product of the factors, over the slots."""
        return _outer(self.factors)

    @functools.cached_property
    def array(self) -> np.ndarray:
        """The collapsed array in the notes' shape (what :attr:`rows` and :attr:`cols` name).

        For ``kron`` this is the product of the factors, which :attr:`factors` keeps apart.
        """
        order, axes = self._slot_order()
        return present(self.core().transpose(order), axes, self.derivative)

    # ------------------------------------------------------------------ the full c-tensor
    def expand(self, layout: Literal["notes", "numerator"] = "notes") -> np.ndarray:
        """The full c-tensor, rebuilt from the collapsed arrays.

        Args:
            layout: ``"notes"`` (inputs first, then outputs) or ``"numerator"`` (outputs first,
                the JAX / PyTorch order).

        Example:
            >>> import numpy as np
            >>> import tensorderiv as td
            >>> J = np.arange(6.0).reshape(2, 3)              # ∂y/∂x, JAX order (y 2, x 3)
            >>> form = td.reduce(J, 1, layout="numerator")
            >>> form.expand().shape, form.expand("numerator").shape
            ((3, 2), (2, 3))
        """
        full = np.array(expand_core(self.core(), self.axis_map, self.full_shape))
        return full.transpose(self._layout_order(layout))

    def _layout_order(self, layout: str) -> list[int]:
        if layout in ("notes", "denominator"):
            return list(range(len(self.axes)))
        if layout == "numerator":
            return ([p for p, a in enumerate(self.axes) if a.role == "of"]
                    + [p for p, a in enumerate(self.axes) if a.role == "wrt"])
        raise OptionError(f"layout must be 'notes' or 'numerator', got {layout!r}")

    def matrix(self, layout: Literal["notes", "numerator"] = "notes") -> np.ndarray:
        """The full c-tensor as the notes' matrix, rows vec(inputs), columns vec(outputs) (A.58).

        ``layout="numerator"`` gives its transpose, the Jacobian matrix. This materialises.

        Example:
            >>> import numpy as np
            >>> import tensorderiv as td
            >>> form = td.reduce(np.einsum("i,jk->ijk", np.ones(2), np.eye(3)), 2)  # ∂(Wᵀa)/∂W
            >>> form.matrix().shape, form.matrix("numerator").shape    # rows vec(W), A.74
            ((6, 3), (3, 6))
        """
        wrt = [p for p, a in enumerate(self.axes) if a.role == "wrt"]
        of = [p for p, a in enumerate(self.axes) if a.role == "of"]
        M = flatten(self.expand(), wrt, of)
        self._layout_order(layout)  # validates the name
        return M.T if layout == "numerator" else M

    def _kron_order(self) -> list[int] | None:
        """Factor indices in Kronecker order (first varies slowest), or None (see below)."""
        K = self.n_slots
        amap = self.axis_map
        if len(self.factors) < 2 or any(t is None or t >= K for t in amap) \
                or len(set(amap)) != len(amap):
            return None
        owner = [k for k, f in enumerate(self.factors) for _ in range(f.ndim)]
        wrt, of = positions(self)

        def blocks(ps: list[int]) -> list[int] | None:
            seq = [owner[amap[p]] for p in ps]  # type: ignore[index]
            out = [k for i, k in enumerate(seq) if i == 0 or seq[i - 1] != k]
            return out if len(set(out)) == len(out) else None

        bw, bo = blocks(wrt), blocks(of)
        if bw is None or bw != bo or len(bw) != len(self.factors):
            return None
        return bw[::-1]  # column stacking: the first block varies fastest, so it comes last

    def kron_matrices(self) -> list[np.ndarray] | None:
        """For ``kron``: the factors' matrices whose Kronecker product is :meth:`matrix`.

        Each factor's matrix has rows its inputs and columns its outputs (A.58). None when the
        factors do not sit in blocks that allow it.

        Example — ∂(AXB)/∂X is B ⊗ Aᵀ in the notes' layout:
            >>> import numpy as np
            >>> import tensorderiv as td
            >>> A, B = np.array([[1.0, 2.0]]), np.array([[1.0, 0.0, 3.0], [2.0, 1.0, 1.0]])
            >>> form = td.reduce(np.einsum("ki,jl->ijkl", A, B), wrt_axes=2)
            >>> mats = form.kron_matrices()
            >>> np.allclose(np.kron(*mats), np.kron(B, A.T))
            True
        """
        order = self._kron_order()
        if order is None:
            return None
        start = np.cumsum([0] + [f.ndim for f in self.factors])
        mats = []
        for k in order:
            mine = [p for p, t in enumerate(self.axis_map)
                    if start[k] <= t < start[k + 1]]  # type: ignore[operator]
            F = self.factors[k].transpose([self.axis_map[p] - start[k] for p in mine])  # type: ignore[operator]
            rows = [i for i, p in enumerate(mine) if self.axes[p].role == "wrt"]
            mats.append(flatten(F, rows, [i for i in range(len(mine)) if i not in rows]))
        return mats

    # ------------------------------------------------------------------ the chain rule
    def apply(self, g: Any) -> np.ndarray:
        """Multiply a downstream derivative by this form, by its rule (the chain rule, A.61).

        Args:
            g: ∂L/∂Y in the notes' layout, Y this form's output: an array whose leading axes
                have :attr:`of_shape` (any trailing axes are carried along).

        Returns:
            ∂L/∂X, an array of shape ``wrt_shape + trailing``.

        Raises:
            ShapeError: when ``g``'s leading axes are not this form's output axes.

        Example — ∂L/∂W = A (∂L/∂Z)ᵀ from the collapsed ∂Z/∂W = A (notes A.61):
            >>> import numpy as np
            >>> import tensorderiv as td
            >>> a, g = np.array([1.0, 2.0]), np.array([3.0, 4.0, 5.0])
            >>> form = td.reduce(np.einsum("i,jk->ijk", a, np.eye(3)), 2)
            >>> form.rule, form.apply(g)
            ('outer', array([[ 3.,  4.,  5.],
                   [ 6.,  8., 10.]]))
        """
        g = np.asarray(g)
        n_of = len(self.of_shape)
        if g.shape[:n_of] != self.of_shape:
            raise ShapeError(
                f"the chain rule ∂L/∂X = ∂Y/∂X · ∂L/∂Y needs ∂L/∂Y to lead with the output "
                f"shape {self.of_shape} of this {self.structure} form (rule {self.rule!r}), "
                f"got an array of shape {g.shape}"
            )
        rows_cols = groups(self.axes)
        wrt_of = positions(self)
        # by the rule where rows are X and columns Y (not a Hessian's copies) and no size-1
        # axis hides in the core; the one contraction otherwise (the same numbers)
        by_rule = rows_cols == wrt_of and 1 not in self.full_shape
        return (APPLY.get(self.rule, apply_einsum) if by_rule else apply_einsum)(self, g)

    # ------------------------------------------------------------------ rendering
    def _letters(self) -> list[str]:
        return [_LETTERS[p] if p < len(_LETTERS) else f"i{p}" for p in range(len(self.axes))]

    def _factor_names(self, latex: bool = False) -> list[str]:
        """The collapsed arrays' names: bold, so that none is a user's variable (ASCII).

        Their notation instead, when known (in parentheses unless a name or a call).
        """
        if self.factor_notation and not latex:
            return [_wrap(t) for t in self.factor_notation]
        if len(self.factors) == 1:
            f = self.factors[0]
            if f.ndim == 0:
                return [f"{float(np.real(f)):.4g}"]
            return ["\\mathbf{F}" if latex else _F]
        if latex:
            return [f"\\mathbf{{F}}_{{{k + 1}}}" for k in range(len(self.factors))]
        return [_F + str(k + 1).translate(_SUBSCRIPT) for k in range(len(self.factors))]

    def formula(self, latex: bool = False) -> str:
        r"""The full c-tensor 𝐓 in index notation, e.g. ``𝐓[i,j,k] = 𝐅[i]·δ[j,k]``.

        𝐓 and the collapsed arrays 𝐅 (𝐅₁, 𝐅₂ … for Kronecker factors) are set in bold, so that
        they are never read as a variable of the expression.

        Example:
            >>> import numpy as np
            >>> import tensorderiv as td
            >>> print(td.reduce(np.diag([1.0, 2.0]), 1).formula())
            𝐓[i,j] = 𝐅[i]·δ[i,j]
            >>> print(td.reduce(np.diag([1.0, 2.0]), 1).formula(latex=True))
            \mathbf{T}_{ij} = \mathbf{F}_{i}\,\delta_{ij}
        """
        tname = "\\mathbf{T}" if latex else _T
        if self.structure in _ZEROS:
            return f"{tname} = 0" if self.structure == "zero" else f"{tname} ≈ 0"
        let = self._letters()
        first: dict[int, int] = {}
        for p, s in enumerate(self.axis_map):
            if s is not None:
                first.setdefault(s, p)

        def idx(ls: Sequence[str]) -> str:
            if not ls:
                return ""
            return ("_{" + "".join(ls) + "}") if latex else ("[" + ",".join(ls) + "]")

        terms, off = [], 0
        for name, f in zip(self._factor_names(latex), self.factors, strict=True):
            ls = [let[first[s]] for s in range(off, off + f.ndim)]
            name = f"{{{name}}}" if latex and "_" in name and ls else name  # no F_{1}_{i}
            terms.append(name + (idx(ls) if ls else ""))
            off += f.ndim
        for s in sorted(first):
            readers = [p for p, t in enumerate(self.axis_map) if t == s]
            if len(readers) > 1:
                terms.append(("\\delta" if latex else "δ") + idx([let[p] for p in readers]))
        if terms and terms[0] in ("1", "1.0") and len(terms) > 1:
            terms = terms[1:]
        rhs = ("\\," if latex else "·").join(terms)
        const = [let[p] for p, s in enumerate(self.axis_map) if s is None]
        tail = ""
        if const:
            tail = (f"\\quad(\\text{{constant along }}{','.join(const)})" if latex
                    else f"   (constant along {','.join(const)})")
        return f"{tname}{idx(let)} = {rhs}{tail}"

    def _names(self) -> tuple[str, str]:
        """The input (the outermost differentiation's variable) and the output, by name."""
        return (self.wrt_names[0] if self.wrt_names else "X"), self.of_name

    def _leibniz(self, top: str, latex: bool = False) -> str:
        """``∂top/∂x``, ``∂²top/∂x²`` or ``∂²top/∂s∂x`` over this form's differentiations."""
        wrt = self.wrt_names
        k = len(wrt)
        if k == 0:
            return top
        if latex:
            d = "\\partial" if k == 1 else f"\\partial^{{{k}}}"
            bottom = (f"\\partial {wrt[0]}" + ("" if k == 1 else f"^{{{k}}}")
                      if len(set(wrt)) == 1 else "\\,".join(f"\\partial {w}" for w in wrt))
            return f"\\frac{{{d} {top}}}{{{bottom}}}"
        sup = "" if k == 1 else str(k).translate(_SUPERSCRIPT)
        bottom = f"∂{wrt[0]}{sup}" if len(set(wrt)) == 1 else "".join(f"∂{w}" for w in wrt)
        return f"∂{sup}{top}/{bottom}"

    def chain_text(self) -> str:
        """How this form enters the chain rule, in the notes' words (``∂L/∂W = 𝐅 (∂L/∂Z)ᵀ``).

        The variables are named as in the expression; the collapsed arrays are the bold 𝐅 of
        :meth:`formula`, and 𝐉 is the matrix form itself (:attr:`array`). The loss downstream
        is L, or ℒ where a variable or the output is called L. For a second
        derivative this is the term of ∂²L through ∂L/∂(output); the terms with
        ∂²L/∂(output)² come from the first derivatives. A derivative of a scalar output is the
        answer itself: the text says so and what it is (never ``𝐉 · ∂L/∂f`` nor ∂L/∂L). With
        :attr:`notation` known, it stands in place of 𝐅 and 𝐉.

        Example:
            >>> import numpy as np
            >>> import tensorderiv as td
            >>> td.reduce(np.diag([1.0, 2.0]), 1, names=("Z", "A")).chain_text()
            '∂L/∂Z = 𝐅 ⊙ ∂L/∂A  (𝐅 the diagonal, notes Concept 34)'
        """
        _, y = self._names()
        wrt, of = positions(self)
        if self.derivative and math.prod(self.of_shape) == 1:  # a scalar (or 1×1): the answer
            return self._scalar_text(y)
        loss = "ℒ" if "L" in (*self.wrt_names, y) else "L"  # never one of the named variables
        lhs = self._leibniz(loss)
        g = f"∂{loss}/∂{y}"
        why = ""
        F = self._factor_names()[0]
        if self.rule == "zero":
            return f"{lhs} gets nothing from this path (0)"
        if self.rule == "scale":
            c = F if self.factors[0].ndim == 0 else self.notation or _J
            eq = f"{lhs} = {g}" if self.structure == "identity" else f"{lhs} = {c} · {g}"
        elif self.rule == "elementwise":
            d = f"{self.factor_notation[0]} is" if self.factor_notation else F
            eq, why = f"{lhs} = {F} ⊙ {g}", f"{d} the diagonal, notes Concept 34"
        elif self.rule == "outer":
            eq, why = f"{lhs} = {F} ({g})ᵀ", "notes A.61"
        elif self.rule == "matmul":
            eq, why = self._matmul_text(lhs, g, wrt, of)
        else:
            eq, why = self._kron_text(lhs, g) or (self._index_text(lhs, g, wrt, of), "")
        if len(self.wrt_names) > 1:
            eq += f" + the terms with ∂²{loss}/∂{y}²"
        return f"{eq}  ({why})" if why else eq

    def _scalar_text(self, y: str) -> str:
        """A derivative of a scalar is the answer itself: say what it is, never 𝐉 · ∂L/∂L."""
        k, names = len(self.wrt_names), set(self.wrt_names)
        shape = "×".join(map(str, self.array.shape)) or "1×1"
        what = ("gradient" if k == 1 and self.wrt_shape else "derivative" if k == 1
                else "Hessian" if k == 2 and len(names) == 1 else "second derivative" if k == 2
                else f"derivative of order {k}")
        F = self._factor_names()[0]
        if self.rule == "zero":
            body, desc = "0", "every entry is 0"
        elif self.structure in ("identity", "scaled_identity"):
            body, desc = ("I" if self.structure == "identity" else f"{F} I"), "a multiple of I"
        elif self.rule == "elementwise":
            d = self.factor_notation[0] if self.factor_notation else F
            body, desc = f"diag({d})", f"the diagonal is the {shape} array"
        elif self.notation is not None:
            body, desc = self.notation, f"the {shape} matrix form"
        elif self.array.size == 1:
            body, desc = f"{float(np.real(self.array.reshape(-1)[0])):.4g}", "a number"
        else:
            body = _J
            desc = f"{_J} is the {shape} matrix form: rows {self.rows}, columns {self.cols}"
        return (f"{self._leibniz(y)} = {body}: the {what} itself ({y} is a scalar, so nothing "
                f"downstream multiplies it; {desc})")

    def _matmul_text(self, lhs: str, g: str, wrt: list[int], of: list[int]) -> tuple[str, str]:
        """∂L/∂X = 𝐉 · ∂L/∂Y with 𝐉 the matrix shown, in each of the notes' shapes."""
        rows, _ = groups(self.axes)
        J = _wrap(self.notation) if self.notation else _J
        name = "" if self.notation else f"{_J} "
        if self.derivative and not wrt and len(of) == 2:  # ∂M/∂s has the shape of Mᵀ
            return f"{lhs} = tr({J} · {g})", f"{name}the matrix form, notes Definition 17"
        # the matrix form stacks a group of several axes as a vector only across from outputs
        left = f"vec({lhs})" if of and len(rows) > 1 else lhs
        right = f"vec({g})" if len(of) > 1 else g
        vec = ", A.58" if "vec" in left + right else ""
        return f"{left} = {J} · {right}", f"{name}the matrix form{vec}"

    def _kron_text(self, lhs: str, g: str) -> tuple[str, str] | None:
        """``∂L/∂X = 𝐅₁ · ∂L/∂Y · 𝐅₂ᵀ`` for two matrix factors, else None."""
        order = self._kron_order() if self.rule == "kron" else None
        if order is None or len(order) != 2 or not len(self.wrt_shape) == len(self.of_shape) == 2:
            return None
        a, b = (self._factor_names()[k] for k in order)
        return f"{lhs} = {_sup_t(b)} · {g} · {_sup_t(a, True)}", f"the notes' matrix is {a} ⊗ {b}"

    def _index_text(self, lhs: str, g: str, wrt: list[int], of: list[int]) -> str:
        """The chain rule in index notation, summed over the output's indices."""
        let = self._letters()
        i = ",".join(let[p] for p in wrt)
        k = ",".join(let[p] for p in of)
        rhs = self.formula().split(" = ", 1)[1].split("   (")[0]
        left = f"{lhs}[{i}]" if i else lhs
        if not k:
            return f"{left} = {rhs} · {g}"
        return f"{left} = Σ_{k.replace(',', '')} {rhs} · {g}[{k}]"

    def __str__(self) -> str:
        _, y = self._names()
        wrt = ", ".join(f"{axis_name(a)} ({a.size})" for a in self.axes if a.role == "wrt")
        of = ", ".join(f"{axis_name(a)} ({a.size})" for a in self.axes if a.role == "of")
        lines = [
            f"{self._leibniz(y)}: {self.structure} — {self.formula()}",
            f"  full c-tensor {self.full_shape}, notes' layout: wrt {wrt or '—'} | of {of or '—'}",
            f"  collapsed to {self.array.shape}"
            + (f" = {self.notation}" if self.notation else "")
            + f", rule {self.rule!r}: {self.chain_text()}",
            f"  rows: {self.rows}; columns: {self.cols}",
            f"  note: {self.note}",
        ]
        if self.tried and self.structure in ("dense", "symmetric"):
            lines.append("  nothing collapses: " + "; ".join(self.tried))
        body = np.array2string(self.array, precision=4, threshold=64)
        return "\n".join([*lines, *("  " + line for line in body.splitlines())])

    def to_latex(self) -> str:
        r"""A LaTeX rendering: ``\frac{\partial Y}{\partial X} = …`` with the collapsed array.

        Example:
            >>> import numpy as np
            >>> import tensorderiv as td
            >>> td.reduce(2.0 * np.eye(2), wrt_axes=1).to_latex()
            '\\frac{\\partial Y}{\\partial X} = 2\\,I'
        """
        _, y = self._names()
        head = self._leibniz(y, latex=True)
        if self.structure in _ZEROS:
            return f"{head} = 0" if self.structure == "zero" else f"{head} \\approx 0"
        if self.structure == "identity":
            return f"{head} = I"
        if self.structure == "scaled_identity":
            return f"{head} = {self._factor_names()[0]}\\,I"
        mat = latex_or_text(self.notation) if self.notation else _bmatrix(self.array)
        if self.structure in ("dense", "symmetric"):
            return f"{head} = {mat}"
        if self.rule == "elementwise":
            return f"{head} = \\operatorname{{diag}}(\\mathbf{{F}}),\\quad \\mathbf{{F}} = {mat}"
        body = self.formula(latex=True)
        order = self._kron_order() if self.structure == "kron" else None
        if order is not None:
            names = self._factor_names(latex=True)
            kron = " \\otimes ".join(names[k] for k in order)
            return f"{head} = {kron}\\quad({body})"
        if len(self.factors) > 1 or self.factors[0].ndim == 0:
            return f"{head}:\\quad {body}"
        return f"{head}:\\quad {body},\\quad \\mathbf{{F}} = {mat}"


def _sup_t(name: str, transpose: bool = False) -> str:
    """``A.T`` as ``Aᵀ``; with ``transpose``, the name transposed (``A.T`` → A, ``B`` → Bᵀ)."""
    plain = name[:-2] if name.endswith(".T") and name[:-2].isidentifier() else None
    if transpose:
        return plain if plain is not None else f"{name}ᵀ"
    return f"{plain}ᵀ" if plain is not None else name


def _wrap(text: str) -> str:
    """``text`` in parentheses unless it is a name, a call, a transpose or a number."""
    try:
        body = ast.parse(text, mode="eval").body
    except SyntaxError:
        return f"({text})"
    atom = isinstance(body, ast.Name | ast.Call | ast.Attribute | ast.Constant)
    return text if atom and not text.startswith("-") else f"({text})"


def _bmatrix(a: np.ndarray, limit: int = 12) -> str:
    if a.ndim == 0:
        return f"{float(np.real(a)):.4g}"
    if a.ndim > 2 or max(a.shape) > limit:
        return "\\in\\mathbb{R}^{" + "\\times".join(str(n) for n in a.shape) + "}"
    rows = [" & ".join(f"{float(np.real(v)):.4g}" for v in row) for row in np.atleast_2d(a)]
    return "\\begin{bmatrix}" + " \\\\ ".join(rows) + "\\end{bmatrix}"
