"""The notation of a collapsed matrix form: the notes' answer, written out (issue 11, item 2).

:func:`~tensorderiv.forms.notation.matrix_notation` writes a *full* derivative of rank ≤ 2. A
derivative of rank ≥ 3 has no matrix, but its collapsed form often has one, and that is what the
notes write (A.9):

=====================  =========================  =======================================
derivative             collapsed array            how it enters the chain rule
=====================  =========================  =======================================
∂Z/∂W, Z = WᵀA         ``A`` (δ between W's        ∂L/∂W = A (∂L/∂Z)ᵀ (A.61, A.74-A.76)
                       columns and Z's rows)
∂A/∂Z, A = tanh(Z)     ``1 - tanh(Z) ** 2``        ∂L/∂Z = f′(Z) ⊙ ∂L/∂A (Concept 34)
∂(AXB)/∂X              ``kron(B, A.T)``, factors   ∂L/∂X = Aᵀ · ∂L/∂Y · Bᵀ
                       ``A.T`` and ``B``
=====================  =========================  =======================================

How: the derivative's node is restricted to one entry of each Kronecker delta and of each
constant axis the form found (an einsum with the delta's axes sharing one index, and a mean over
a constant axis, which the simplifier cancels where the axis is constant by construction), and
:func:`~tensorderiv.forms.notation.matrix_notation` writes the result. A Kronecker form is split
into the connected parts of its einsum, one per factor. Every text is then evaluated with numpy
(:func:`notation_value`, an ``ast`` walker, never ``eval``) at the values the form came from and
compared with the collapsed numbers; a text that does not match, or cannot be written, is None.
A vector held as an ``(n, 1)`` column is the notes' vector: its notation is the same as for
``(n,)``, and the comparison ignores axes of size 1.

Example — the notes' ∂Z/∂W = A (A.76) and ∂A/∂Z = f′(Z), used with ⊙:
    >>> import numpy as np
    >>> import tensorderiv as td
    >>> from tensorderiv.forms.collapsed import form_with_notation
    >>> d = td.derive("W.T @ A", "W", shapes={"W": (3, 2), "A": (3, 4)})
    >>> rng = np.random.default_rng(0)
    >>> v = {"W": rng.normal(size=(3, 2)), "A": rng.normal(size=(3, 4))}
    >>> form = form_with_notation(d, v)
    >>> form.structure, form.notation
    ('delta', 'A')
    >>> print(form.formula())
    𝐓[i,j,k,l] = A[i,l]·δ[j,k]
    >>> print(chain_rule(form))
    ∂L/∂W = A (∂L/∂f)ᵀ  (the δ between W[1] and f[0] turns ∂f/∂W into A, notes A.61 and A.76)
    >>> d = td.derive("tanh(Z)", "Z", shapes={"Z": (2, 3)})
    >>> print(chain_rule(form_with_notation(d, {"Z": rng.normal(size=(2, 3))})))
    ∂L/∂Z = (1 - tanh(Z) ** 2) ⊙ ∂L/∂f  (1 - tanh(Z) ** 2 is the diagonal, notes Concept 34)
"""

from __future__ import annotations

import ast
import contextvars
from collections.abc import Callable, Mapping, Sequence
from dataclasses import replace
from typing import Any

import numpy as np

from ..core.ctensor import CTensor, expand_core, register_matrix_form
from ..core.errors import TensorDerivError
from ..symbolic.derivative import Derivative, derive
from ..symbolic.evaluate import Program
from ..symbolic.expr import Expr
from ..symbolic.functions import FUNCTIONS
from ..symbolic.nodes import Einsum, Node, Sum
from ..symbolic.parse import parse
from ..symbolic.simplify import add, einsum
from .layouts import axis_name, groups, slot_order
from .matrixform import MatrixForm
from .notation import matrix_notation
from .reduce import reduce_ctensor

__all__ = ["chain_rule", "collapsed_notation", "delta_text", "form_with_notation",
           "matrix_form_with_notation", "notation_value", "wrap"]


# ---------------------------------------------------------------------- numpy text, evaluated
def _sum(a: Any, axis: int | None = None) -> Any:
    return np.sum(a, axis=axis)


_NUMPY: dict[str, Callable[..., Any]] = {
    "sum": _sum, "diag": np.diag, "outer": np.outer, "trace": np.trace, "ones": np.ones,
    "eye": np.eye, "zeros": np.zeros, "kron": np.kron,
    "logsumexp": lambda v: FUNCTIONS["lse"].kernel(v, ()),
}
_OPS: dict[type, Callable[[Any, Any], Any]] = {
    ast.Add: np.add, ast.Sub: np.subtract, ast.Mult: np.multiply, ast.Div: np.divide,
    ast.Pow: np.power, ast.MatMult: np.matmul}


def notation_value(text: str, values: Mapping[str, Any]) -> np.ndarray:
    """The numbers a matrix-notation text stands for, computed with numpy (an ``ast`` walk).

    Functions are the vocabulary's (:data:`~tensorderiv.symbolic.functions.FUNCTIONS`) and
    numpy's ``sum``, ``diag``, ``outer``, ``trace``, ``ones``, ``eye``, ``zeros``, ``kron``. A text
    may name shared parts first, one ``name = …`` line each (as :func:`matrix_notation` writes
    them), the last line being the result.

    Raises:
        ValueError: on syntax outside the notation (an attribute other than ``.T``, a name
            that is neither a value nor a function).

    Example:
        >>> import numpy as np
        >>> notation_value("kron(B, A.T) * 2", {"A": np.eye(2), "B": np.ones((1, 1))}).shape
        (2, 2)
    """

    def walk(n: ast.AST) -> Any:
        if isinstance(n, ast.BinOp) and type(n.op) in _OPS:
            return _OPS[type(n.op)](walk(n.left), walk(n.right))
        if isinstance(n, ast.UnaryOp) and isinstance(n.op, ast.USub):
            return -walk(n.operand)
        if isinstance(n, ast.Constant) and isinstance(n.value, int | float):
            return n.value
        if isinstance(n, ast.Name) and n.id in named:
            return named[n.id]
        if isinstance(n, ast.Name) and n.id in values:
            return np.asarray(values[n.id], dtype=np.float64)
        if isinstance(n, ast.Attribute) and n.attr == "T":
            return np.asarray(walk(n.value)).T
        if isinstance(n, ast.Tuple):
            return tuple(walk(e) for e in n.elts)
        if isinstance(n, ast.Call) and isinstance(n.func, ast.Name):
            args = [walk(a) for a in n.args]
            kw = {k.arg: walk(k.value) for k in n.keywords if k.arg}
            if n.func.id in _NUMPY:
                return _NUMPY[n.func.id](*args, **kw)
            if n.func.id in FUNCTIONS and len(args) == 1 and not kw:
                return FUNCTIONS[n.func.id].kernel(args[0], ())
        raise ValueError(f"not matrix notation: {ast.unparse(n)!r}")

    try:
        body = ast.parse(text).body
    except SyntaxError as exc:
        raise ValueError(f"not matrix notation: {text!r}") from exc
    named: dict[str, Any] = {}
    for line in body[:-1]:  # u1 = …: a shared part, named once
        if not (isinstance(line, ast.Assign) and len(line.targets) == 1
                and isinstance(line.targets[0], ast.Name)):
            raise ValueError(f"not matrix notation: {ast.unparse(line)!r}")
        named[line.targets[0].id] = walk(line.value)
    if not body or not isinstance(body[-1], ast.Expr):
        raise ValueError(f"not matrix notation: {text!r}")
    return np.asarray(walk(body[-1].value), dtype=np.float64)


def _same(value: np.ndarray, want: np.ndarray, exact_scale: bool = True) -> bool:
    """Equal numbers, axes of size 1 aside (a vector is the notes' column or row)."""
    value, want = np.asarray(value, dtype=np.float64), np.asarray(want, dtype=np.float64)
    if value.shape != want.shape:
        if [n for n in value.shape if n != 1] != [n for n in want.shape if n != 1]:
            return False
        value = value.reshape(want.shape)
    if not (np.all(np.isfinite(value)) and np.all(np.isfinite(want))):
        return False
    scale = max(1.0, float(np.max(np.abs(want), initial=0.0)))
    return bool(np.allclose(value, want, rtol=1e-7, atol=1e-9 * scale))


def _checked(text: str | None, want: np.ndarray, values: Mapping[str, Any]) -> str | None:
    if text is None:
        return None
    try:
        got = notation_value(text, values)
    except (ValueError, TypeError, ArithmeticError, np.linalg.LinAlgError):
        return None
    return text if _same(got, want) else None


def _write(node: Node) -> str | None:
    try:
        return matrix_notation(Expr(node, "·"))
    except (TensorDerivError, TypeError, ValueError):
        return None


# ---------------------------------------------------------------------- the collapsed node
def _restricted(node: Node, form: MatrixForm, keep_units: bool) -> Node:
    """The node at one entry of each delta and of each constant axis: the collapsed core.

    Its axes are the form's slots in :func:`~tensorderiv.forms.layouts.slot_order` (size-1
    slots dropped unless ``keep_units``).
    """
    K = form.n_slots
    order, _ = slot_order(form.axis_map, form.axes, K)
    fresh = K
    idx: list[int] = []
    sizes: dict[int, int] = {}
    coef = 1.0
    pure: dict[int, int] = {}
    for s, a in zip(form.axis_map, form.axes, strict=True):
        if s is None or s >= K:  # a constant axis, or a delta holding only ones: its mean
            if s is not None and s in pure:
                idx.append(pure[s])
                continue
            i, fresh = fresh, fresh + 1
            if s is not None:
                pure[s] = i
            coef /= a.size
        else:
            i = s
        idx.append(i)
        sizes[i] = a.size
    out = [s for s in order if keep_units or sizes.get(s, 1) > 1]

    def go(n: Node) -> Node:
        if isinstance(n, Sum):
            return add([(c, go(t)) for c, t in n.terms])
        return einsum(coef, [(n, tuple(idx))], out, sizes)

    return go(node)


def _transposed(form: MatrixForm) -> bool:
    """The notes show this form's 2-D core transposed (∂M/∂s has the shape of Mᵀ)."""
    _, reps = slot_order(form.axis_map, form.axes, form.n_slots)
    rows, _ = groups(reps)
    return form.derivative and not rows and len(reps) == 2


def _atom(text: str) -> bool:
    try:
        body = ast.parse(text, mode="eval").body
    except SyntaxError:
        return False
    return isinstance(body, ast.Name | ast.Call | ast.Attribute) or (
        isinstance(body, ast.Constant) and not text.startswith("-"))


def wrap(text: str) -> str:
    """``text`` in parentheses unless it is a name, a call or a transpose (to sit beside ⊙, ·)."""
    return text if _atom(text) else f"({text})"


def _generic(derivative: Derivative, restricted: Node, form: MatrixForm,
             values: Mapping[str, Any]) -> bool:
    """The structure holds near ``values`` too, not by a coincidence of these values.

    A structure read from the numbers (a diagonal that is constant at all-ones values, a row of
    relu′ that happens to be all 0) collapses more than the derivative does; its notation
    would hold at this point only. So the full derivative is evaluated again at values moved a
    little at random, and rebuilt from the collapsed node there.
    """
    rng = np.random.default_rng(20240601)
    moved = {k: np.asarray(v, dtype=np.float64) for k, v in values.items()
             if k in derivative.variables_allowed}
    moved = {k: v + 0.05 * (1.0 + np.abs(v)) * rng.standard_normal(np.shape(v))
             for k, v in moved.items()}
    try:
        full = np.asarray(derivative.evaluate(moved).dense())
        program = Program(restricted)
        core = np.asarray(program.run({k: moved[k] for k in program.needed}).dense())
    except (TensorDerivError, ValueError, ArithmeticError):
        return False
    rebuilt = np.asarray(expand_core(core.reshape(form.core().shape), form.axis_map,
                                     form.full_shape))
    return _same(rebuilt, full)


def _single(derivative: Derivative, form: MatrixForm, values: Mapping[str, Any]
            ) -> tuple[str | None, str | None]:
    """(array text, core text) for a one-factor form.

    The core text only when it has the core's axes (size-1 ones included), so that it can
    stand for 𝐅 in the index formula.
    """
    core = form.core()
    for keep in (True, False):
        restricted = _restricted(derivative.node, form, keep)
        text = _write(restricted)
        core_text = _checked(text, core, values)
        if core_text is None or not _generic(derivative, restricted, form, values):
            continue
        if _transposed(form) and core.ndim == 2:
            whole = _checked(f"{wrap(core_text)}.T", form.array, values)
        else:
            whole = _checked(core_text, form.array, values)
        exact = keep and notation_value(core_text, values).shape == core.shape
        return whole, core_text if exact else None
    return None, None


def _components(node: Einsum) -> list[tuple[list[int], list[int]]] | None:
    """The einsum's terms split into parts that share no index: (term numbers, out positions)."""
    parent = list(range(len(node.terms)))

    def find(k: int) -> int:
        while parent[k] != k:
            k = parent[k]
        return k

    owner: dict[int, int] = {}
    for k, (_, idx) in enumerate(node.terms):
        for i in idx:
            if i in owner:
                parent[find(k)] = find(owner[i])
            else:
                owner[i] = k
    if len(set(node.out)) != len(node.out) or any(i not in owner for i in node.out):
        return None
    parts: dict[int, tuple[list[int], list[int]]] = {}
    for k in range(len(node.terms)):
        parts.setdefault(find(k), ([], []))[0].append(k)
    for p, i in enumerate(node.out):
        parts[find(owner[i])][1].append(p)
    return list(parts.values())


def _kron(node: Node, form: MatrixForm, values: Mapping[str, Any]
          ) -> tuple[tuple[str, ...], tuple[np.ndarray, ...], str | None] | None:
    """Per-factor texts (slot orientation), their values, and ``kron(...)`` of the notes' matrix."""
    if not isinstance(node, Einsum):
        return None
    parts = _components(node)
    if parts is None or len(parts) != len(form.factors):
        return None
    start = np.cumsum([0] + [f.ndim for f in form.factors])
    texts: list[str] = []
    arrays: list[np.ndarray] = []
    for k in range(len(form.factors)):
        mine = {p for p, s in enumerate(form.axis_map)
                if s is not None and start[k] <= s < start[k + 1]}
        part = next((pt for pt in parts if set(pt[1]) == mine), None)
        if part is None:
            return None
        first = {form.axis_map[p]: p for p in sorted(mine, reverse=True)}
        out = [node.out[first[s]] for s in range(start[k], start[k + 1])]
        coef = node.coef if k == 0 else 1.0
        sub = einsum(coef, [node.terms[t] for t in part[0]], out,
                     {i: node.sizes[i] for i in out})
        text = _write(sub)
        if text is None:
            return None
        texts.append(text)
        arrays.append(notation_value(text, values))
    if not _same(np.asarray(form.core()), _outer(arrays)):
        return None
    order = form._kron_order()
    whole = None
    if order is not None:
        mats = []
        for k in order:  # each factor's matrix: rows its inputs, columns its outputs
            mine = sorted(p for p, s in enumerate(form.axis_map)
                          if s is not None and start[k] <= s < start[k + 1])
            wrt = [p for p in mine if form.axes[p].role == "wrt"]
            in_order = [form.axis_map[p] - start[k] for p in mine]  # type: ignore[operator]
            if len(mine) != 2 or len(wrt) != 1 or in_order not in ([0, 1], [1, 0]):
                mats = []
                break
            mats.append(texts[k] if in_order == [0, 1] else f"{wrap(texts[k])}.T")
        whole = _checked(f"kron({', '.join(mats)})", form.array, values) if mats else None
    return tuple(texts), tuple(arrays), whole


def _outer(arrays: Sequence[np.ndarray]) -> np.ndarray:
    out = arrays[0]
    for a in arrays[1:]:
        out = np.multiply.outer(out, a)
    return out


def _squeezed(derivative: Derivative, values: Mapping[str, Any]
              ) -> tuple[Derivative, dict[str, np.ndarray]] | None:
    """The same derivative with every ``(n, 1)`` column read as the notes' vector ``(n,)``."""
    shapes = dict(derivative.variables_allowed)
    new = {k: tuple(n for n in s if n != 1) for k, s in shapes.items()}
    if new == shapes:
        return None
    try:
        expr = parse(derivative.of.text, new)
        names = tuple(name for name, _ in derivative.wrt)
        d = derive(expr, names if len(names) > 1 else names[0])
    except (TensorDerivError, TypeError, ValueError):
        return None
    return d, {k: np.reshape(np.asarray(v, dtype=np.float64), new[k])
               for k, v in values.items() if k in new}


def _annotated(derivative: Derivative, form: MatrixForm,
               values: Mapping[str, Any]) -> MatrixForm:
    if form.structure == "zero":  # zero near these values too, not by coincidence
        text = "0" if form.array.ndim == 0 else f"zeros({tuple(form.array.shape)})"
        zero = einsum(0.0, [], tuple(range(len(form.axes))),
                      {k: a.size for k, a in enumerate(form.axes)})
        generic = _generic(derivative, zero, replace(form, axis_map=tuple(
            range(len(form.axes))), factors=(np.zeros(form.full_shape),)), values)
        return replace(form, notation=text if generic else None)
    text, core_text = _single(derivative, form, values)
    if len(form.factors) == 1:
        return replace(form, notation=text, factor_notation=(core_text,) if core_text else ())
    found = _kron(derivative.node, form, values)
    if found is None:  # the core as one array: its product of factors, written whole
        return replace(form, notation=text)
    texts, arrays, whole = found
    return replace(form, notation=whole or text, factor_notation=texts, factors=arrays)


def collapsed_notation(derivative: Derivative, form: MatrixForm,
                       values: Mapping[str, Any]) -> MatrixForm:
    """``form`` with the notation of its collapsed arrays (``notation``, ``factor_notation``).

    Args:
        derivative: the derivative the form came from (``td.derive``).
        form: its matrix form at ``values`` (``derivative.evaluate(values).matrix_form()``).
        values: the values it was evaluated at; every text is checked against them.

    Returns:
        A copy of ``form``: ``notation`` the collapsed array (:attr:`MatrixForm.array`) as numpy
        text, or None when none can be written; ``factor_notation`` each factor's text, in the
        core's orientation (a Kronecker form's factors rescaled to these texts' values, which
        moves a scale between them and leaves their product as it was). Variables held as
        ``(n, 1)`` columns are written as the notes' vectors, as for ``(n,)``.
    """
    out = _annotated(derivative, form, values)
    squeezed = _squeezed(derivative, values)
    if squeezed is None:
        return out
    d2, v2 = squeezed
    try:
        form2 = _annotated(d2, d2.evaluate(v2).matrix_form(), v2)
    except TensorDerivError:
        return out
    # the notes' vector is the user's column too: the text must hold with either
    text = _checked(_checked(form2.notation, form.array, v2), form.array, values)
    if text is None:
        return out
    same = len(form2.factors) == len(out.factors) and all(
        _same(a, b) for a, b in zip(form2.factors, out.factors, strict=True))
    if same and form2.factor_notation and all(
            _checked(t, f, values) and notation_value(t, values).shape == f.shape
            for t, f in zip(form2.factor_notation, out.factors, strict=True)):
        return replace(out, notation=text, factor_notation=form2.factor_notation)
    return replace(out, notation=text)


def form_with_notation(derivative: Derivative, values: Mapping[str, Any], *,
                       names: Mapping[str, str] | None = None,
                       exact: bool = False) -> MatrixForm:
    """Evaluate ``derivative`` at ``values``, reduce it, and write its collapsed notation.

    Args:
        derivative: a derivative from ``td.derive``.
        values: variable name → array.
        names: new names for the output's axes (``{"f": "Z"}``), for the renderings.
        exact: when the c-tensor's storage holds structure (deltas, constant axes), keep only
            that (what the derivative is everywhere) and do not search the values for more
            (what it may also be at these values: relu′ constant along a row of one sign).

    Example:
        >>> import numpy as np
        >>> import tensorderiv as td
        >>> d = td.derive("A @ X @ B", "X", shapes={"A": (2, 3), "X": (3, 4), "B": (4, 2)})
        >>> rng = np.random.default_rng(1)
        >>> form = form_with_notation(d, {k: rng.normal(size=s) for k, s in
        ...                                [("A", (2, 3)), ("X", (3, 4)), ("B", (4, 2))]})
        >>> form.structure, form.notation, form.factor_notation
        ('kron', 'kron(B, A.T)', ('A.T', 'B'))
    """
    ct = derivative.evaluate({k: v for k, v in values.items()
                              if k in derivative.variables_allowed})
    if names:
        ct = ct.with_axes([replace(a, var=names.get(a.var, a.var)) if a.role == "of" else a
                           for a in ct.axes], wrt=ct.wrt)
    stored = ct.has_deltas or any(c is None for c in ct.axis_map)
    ct.origin = None  # the notation is written once, below (with the names and options here)
    form = ct.matrix_form(search=not (exact and stored))
    if names and form.of_name in names:  # a scalar output has no axis to carry its name
        form = replace(form, of_name=names[form.of_name])
    return collapsed_notation(derivative, form, values)


# ---------------------------------------------------------------------- in words
def delta_text(form: MatrixForm) -> str:
    """The Kronecker deltas the collapse drops, by axis (``δ between W[1] and Z[0]``), or ""."""
    readers: dict[int, list[int]] = {}
    for p, s in enumerate(form.axis_map):
        if s is not None and form.axes[p].size > 1:
            readers.setdefault(s, []).append(p)
    ties = [" and ".join(axis_name(form.axes[p]) for p in ps)
            for ps in readers.values() if len(ps) > 1]
    return f"the δ between {'; '.join(ties)}" if ties else ""


def _loss(form: MatrixForm) -> str:
    return "ℒ" if "L" in (*form.wrt_names, form.of_name) else "L"


def _batched_delta(form: MatrixForm) -> str | None:
    """``∂L/∂W = F (∂L/∂Z)ᵀ`` and kin: a delta form of two wrt and two output axes, one δ."""
    wrt = [p for p, a in enumerate(form.axes) if a.role == "wrt"]
    of = [p for p, a in enumerate(form.axes) if a.role == "of"]
    if form.structure != "delta" or len(form.factors) != 1 or form.factors[0].ndim != 2 \
            or len(wrt) != 2 or len(of) != 2 or form.notation is None:
        return None
    K = form.n_slots
    amap = form.axis_map
    f_wrt = [k for k, p in enumerate(wrt) if amap[p] is not None and amap[p] < K]  # type: ignore[operator]
    f_of = [k for k, q in enumerate(of) if amap[q] is not None and amap[q] < K]  # type: ignore[operator]
    if len(f_wrt) != 1 or len(f_of) != 1 or amap[wrt[1 - f_wrt[0]]] != amap[of[1 - f_of[0]]] \
            or amap[wrt[1 - f_wrt[0]]] is None or amap[wrt[f_wrt[0]]] == amap[of[f_of[0]]]:
        return None
    loss = _loss(form)
    F, g = wrap(form.notation), f"∂{loss}/∂{form.of_name}"
    gt = f"({g})ᵀ"
    # R[i,j] = Σ_l F[i,l] g[..]: where the F-axis sits among W's axes and the δ among Z's
    a, d = f_wrt[0], 1 - f_of[0]
    rhs = {(0, 0): f"{F} {gt}", (0, 1): f"{F} {g}", (1, 0): f"{g} {F}ᵀ",
           (1, 1): f"{gt} {F}ᵀ"}[(a, d)]
    return f"{form._leibniz(loss)} = {rhs}"


def chain_rule(form: MatrixForm) -> str:
    """How the form enters the chain rule, with its notation in place of 𝐅 (notes A.61, A.90).

    A delta form of a batch (∂Z/∂W for Z = WᵀA, A a matrix) is written as the matrix product
    the notes use, ``∂L/∂W = A (∂L/∂Z)ᵀ``; the other rules are
    :meth:`~tensorderiv.forms.matrixform.MatrixForm.chain_text`'s.
    """
    batched = _batched_delta(form)
    if batched is not None:
        why = delta_text(form)
        return (f"{batched}  ({why} turns ∂{form.of_name}/∂{form._names()[0]} into "
                f"{form.notation}, notes A.61 and A.76)")
    if form.rule == "outer" and form.notation is not None:
        why = delta_text(form)
        text = form.chain_text().split("  (")[0]
        return (f"{text}  ({why} turns ∂{form.of_name}/∂{form._names()[0]} into "
                f"{form.notation}, notes A.61 and A.76)")
    return form.chain_text()


# ---------------------------------------------------------------------- ct.matrix_form()
_WRITING = contextvars.ContextVar("tensorderiv.writing_collapsed_notation", default=False)


def matrix_form_with_notation(ct: CTensor, **options: Any) -> MatrixForm:
    """:meth:`CTensor.matrix_form`: the reducer's form, with its notation when it can be written.

    A c-tensor from ``Derivative.evaluate`` knows its derivative and values (``ct.origin``), so
    its form carries the notation of the collapsed array (:func:`collapsed_notation`); any other
    c-tensor gets the reducer's form as it is.

    Example:
        >>> import numpy as np
        >>> import tensorderiv as td
        >>> d = td.derive("W.T @ A", "W", shapes={"W": (3, 2), "A": (3, 4)})
        >>> ct = d.evaluate({"W": np.ones((3, 2)), "A": np.arange(12.0).reshape(3, 4)})
        >>> form = ct.matrix_form()
        >>> form.structure, form.notation
        ('delta', 'A')
    """
    form = reduce_ctensor(ct, **options)
    origin = ct.origin
    if origin is None or _WRITING.get():  # the notation's own checks reduce other c-tensors
        return form
    token = _WRITING.set(True)
    try:
        return collapsed_notation(origin[0], form, origin[1])
    except TensorDerivError:
        return form
    finally:
        _WRITING.reset(token)


register_matrix_form(matrix_form_with_notation)
