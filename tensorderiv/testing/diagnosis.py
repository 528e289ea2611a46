"""Why a derivative is wrong: the comparison's records and the diagnosis of common mistakes.

:func:`~tensorderiv.testing.check_derivative` compares; this module says what the answer is
consistent with — the other layout, permuted axes, a flipped sign, a constant factor, a missing
path (a variable used several times contributes one term per use, notes Definition 3), a
reshaped array — and writes the failure message naming the worst entry by its axes.
"""

from __future__ import annotations

import ast
import itertools
import math
from collections.abc import Mapping
from dataclasses import dataclass
from fractions import Fraction

import numpy as np

from ..core.ctensor import CTensor
from ..core.errors import DenseLimitError, TensorDerivError
from ..symbolic.derivative import derive
from ..symbolic.expr import Expr
from ..symbolic.parse import parse
from . import differences

__all__ = ["Axes", "Truth", "close", "diagnose", "inverse", "path_truths", "report"]

_MAX_PERMUTED_RANK = 6  # r! axis orders are tried as diagnoses up to this rank
_MAX_OCCURRENCES = 12  # paths tried one at a time; all proper subsets up to 4 occurrences

@dataclass(frozen=True)
class Axes:
    """The derivative's axes: named groups (one per differentiation, then the output)."""

    groups: tuple[tuple[str, int], ...]  # (display name, rank), in the notes' order
    order: int  # how many leading groups are differentiations

    def positions(self, layout: str) -> list[int]:
        """Notes positions in the order of ``layout``."""
        ranks = [r for _, r in self.groups]
        starts = [sum(ranks[:g]) for g in range(len(ranks))]
        order = list(range(len(ranks)))
        if layout == "numerator":
            order = order[self.order:] + order[:self.order]
        return [starts[g] + i for g in order for i in range(ranks[g])]

    def names(self) -> list[str]:
        """``"W axis 0"`` … for each notes position."""
        return [f"{n} axis {i}" for n, r in self.groups for i in range(r)]

    def index(self, idx: tuple[int, ...], layout: str) -> str:
        """An index in ``layout`` order as ``W[1,0], f[2]`` (``f`` alone for a scalar)."""
        ranks = [r for _, r in self.groups]
        order = list(range(len(ranks)))
        if layout == "numerator":
            order = order[self.order:] + order[:self.order]
        parts, k = [], 0
        for g in order:
            name, r = self.groups[g]
            sub = idx[k:k + r]
            k += r
            parts.append(f"{name}[{','.join(map(str, sub))}]" if r else name)
        return ", ".join(parts)


@dataclass
class Truth:
    """The true derivative, densely (notes layout) or as contractions with directions."""

    values: np.ndarray
    directions: list[list[np.ndarray]] | None  # None: ``values`` is the dense derivative
    xdim: int

    def probe(self, g: np.ndarray) -> np.ndarray:
        """``g`` (notes layout) brought to the form of ``values``."""
        if self.directions is None:
            return g
        out = []
        for us in self.directions:
            r = g
            for u in us:
                r = np.tensordot(u, r, axes=self.xdim)
            out.append(r)
        return np.stack(out)


def close(got: np.ndarray, ref: np.ndarray, atol: float, rtol: float) -> bool:
    """Every entry within ``atol + rtol·|ref|`` (a nan is never close)."""
    with np.errstate(invalid="ignore", over="ignore"):
        return bool(np.all(np.abs(got - ref) <= atol + rtol * np.abs(ref)))

def inverse(perm: list[int]) -> list[int]:
    """The inverse permutation."""
    inv = [0] * len(perm)
    for p, q in enumerate(perm):
        inv[q] = p
    return inv


# ---------------------------------------------------------------- missing paths
def _occurrences(text: str, name: str) -> list[tuple[int, int]]:
    """Columns ``(start, end)`` of each use of the variable ``name`` in ``text``."""
    try:
        tree = ast.parse(text.strip(), mode="eval")
    except (SyntaxError, RecursionError, MemoryError):
        return []
    spots = [(n.col_offset, n.end_col_offset or n.col_offset) for n in ast.walk(tree)
             if isinstance(n, ast.Name) and n.id == name]
    return sorted(spots)


def path_truths(f: Expr, name: str, values: Mapping[str, np.ndarray], order: int,
                 truth: Truth) -> list[tuple[str, str, np.ndarray]]:
    """Derivatives with some uses of ``name`` in ``f`` held constant (paths left out).

    A use held constant is a path left out of the total derivative (notes Definition 3). For
    order k ≥ 2 two answers are possible: the use held constant throughout, or left out of the
    first derivative only, which was then differentiated correctly (as when a Hessian is taken of
    a gradient that missed a path); both are returned.
    """
    text = f.text.strip()
    spots = _occurrences(text, name)
    if not 2 <= len(spots) <= _MAX_OCCURRENCES:
        return []
    shapes = {n: v.shape for n, v in values.items()}
    try:
        if parse(text, shapes).node is not f.node:  # the text does not round-trip: skip
            return []
    except (TensorDerivError, TypeError, ValueError):
        return []
    held = f"{name}_held"
    while held in shapes:
        held += "_"
    at = {**values, held: values[name]}
    m = len(spots)
    out = []
    for k in range(1, m) if m <= 4 else range(1, 2):
        for subset in itertools.combinations(range(m), k):
            new = text
            for j in sorted(subset, reverse=True):
                new = new[:spots[j][0]] + held + new[spots[j][1]:]
            cols = ", ".join(str(spots[j][0]) for j in subset)
            marks = "".join("^" if any(spots[j][0] == c for j in subset) else " "
                            for c in range(len(text))).rstrip()
            uses = f"the use of {name} at column {cols}" if k == 1 else \
                f"the uses of {name} at columns {cols}"
            show = f"(a variable used several times contributes one term per use, notes " \
                f"Definition 3):\n      {text}\n      {marks}"
            try:
                e = parse(new, {**shapes, held: values[name].shape})
                used = {n: v for n, v in at.items() if n in e.variables or n == name}
                q = _dense_or_probed(derive(e, name, order=order).evaluate(used), truth)
                out.append(("missing path", f"missing path: yours equals the derivative with "
                            f"{uses} held constant — the path through it is left out {show}", q))
                if order == 1:
                    continue
                later = [p for p in itertools.product((name, held), repeat=order - 1)]
                q = sum(_dense_or_probed(derive(e, (*p, name)).evaluate(used), truth)
                        for p in later)
                out.append(("missing path", f"missing path in the first derivative: yours "
                            f"equals the derivative of a first derivative with {uses} held "
                            f"constant, differentiated correctly after that {show}", q))
            except (TensorDerivError, DenseLimitError, ValueError):
                continue
    return out


def _dense_or_probed(ct: CTensor, truth: Truth) -> np.ndarray:
    if truth.directions is None:
        return ct.dense()
    return differences.contract_with(ct, truth.directions)


# ---------------------------------------------------------------- diagnosis
def _scale_words(c: float) -> tuple[str, str]:
    """A fitted factor in words: ``(short, long)``."""
    nice = float(f"{c:.6g}")
    if nice == -1.0:
        return "the sign is flipped", "the sign is flipped: yours is −1 × the true derivative"
    frac = Fraction(c).limit_denominator(16)
    simple = (f" (= {frac})" if frac.denominator > 1 and len(repr(nice)) > 6
              and abs(float(frac) - c) <= 1e-6 * abs(c) else "")
    short = f"off by a factor of {nice!r}{simple}"
    return short, f"{short}: yours is {nice:g} × the true derivative"


def _fit(got: np.ndarray, ref: np.ndarray) -> float | None:
    den = float(np.vdot(ref, ref))
    return float(np.vdot(got, ref)) / den if den > 0 and np.isfinite(den) else None


def _describe_order(perm_labels: list[str], axes: Axes, layout: str) -> tuple[str, str]:
    """An order of the axes in words: ``(short, long)``."""
    names = axes.names()
    exp = [names[p] for p in axes.positions(layout)]
    other = [names[p] for p in axes.positions("numerator" if layout == "notes" else "notes")]
    if perm_labels == other and other != exp:
        if layout == "notes":
            return ("numerator layout (the transpose)",
                    "numerator layout: yours has the output's axes first, the JAX/PyTorch "
                    "order — the transpose of the notes' layout (notes Clarification 10); "
                    "transpose it, or pass layout='numerator' if that is the layout you meant")
        return ("notes layout (the transpose)",
                "notes layout: yours has the variable's axes first, the notes' (denominator) "
                "order — the transpose of the numerator layout (notes Clarification 10); pass "
                "layout='notes', or transpose it")
    moved = [i for i, (a, b) in enumerate(zip(perm_labels, exp, strict=True)) if a != b]
    extra = ""
    if len(moved) == 2:
        a, b = perm_labels[moved[0]].rsplit(" axis ", 1)[0], exp[moved[0]].rsplit(" axis ", 1)[0]
        ranks = dict(axes.groups)
        if a == b and ranks.get(a) == 2:
            extra = f" — the two axes of {a} are swapped (you returned the transpose of {a})"
    return ("axes permuted", f"axes permuted: yours has its axes in the order "
            f"({', '.join(perm_labels)}); the {layout} layout is ({', '.join(exp)}){extra}")


def diagnose(user: np.ndarray, truth: Truth, axes: Axes, layout: str,
              notes_shape: tuple[int, ...], atol: float, rtol: float,
              paths: list[tuple[str, str, np.ndarray]]) -> list[tuple[str, str]]:
    """The common mistakes ``user`` is consistent with: ``(short, long)`` descriptions."""
    ref = truth.values
    if not np.all(np.isfinite(user)):
        return [("non-finite entries", "yours has non-finite entries (nan or inf)")]
    ref_zero = close(np.zeros_like(ref), ref, atol, rtol)
    found: list[tuple[str, str]] = []
    user_zero = close(user, np.zeros_like(user), atol, 0.0)
    if user.size and user_zero and not ref_zero:
        found.append(("zero", "zero: yours is zero everywhere, the true derivative is not"))
    names = axes.names()
    identity = inverse(axes.positions(layout))
    rank = len(notes_shape)
    perms: list[list[int]] = []
    other = inverse(axes.positions("notes" if layout == "numerator" else "numerator"))
    if user.ndim == rank:
        cands = (itertools.permutations(range(rank)) if rank <= _MAX_PERMUTED_RANK
                 else [identity, other])
        perms = [list(p) for p in cands if tuple(user.shape[q] for q in p) == notes_shape]
        # simplest first: the expected order, the other layout, then any other order; only the
        # simplest class that explains the answer is reported (a symmetry of the true derivative,
        # such as a δ, can make several orders fit equally well)
        perms.sort(key=lambda p: 0 if p == identity else 1 if p == other else 2)
    best = 3
    for p in perms:
        rank_class = 0 if p == identity else 1 if p == other else 2
        if rank_class > best:
            break
        mine = truth.probe(user.transpose(p))
        c = 1.0 if close(mine, ref, atol, rtol) else _fit(mine, ref)
        if c is None or (c != 1.0 and (ref_zero or user_zero)) or \
                not close(mine, c * ref, atol, rtol * abs(c)):
            continue
        words = []
        if p != identity:
            inv = inverse(p)
            words.append(_describe_order([names[inv[q]] for q in range(rank)], axes, layout))
        if float(f"{c:.6g}") != 1.0:
            words.append(_scale_words(c))
        if words:
            best = rank_class
            found.append((" and ".join(w[0] for w in words), "; and ".join(w[1] for w in words)))
    if not perms and not user_zero and user.size == math.prod(notes_shape):
        for lay in (layout, "numerator" if layout == "notes" else "notes"):
            shape = tuple(notes_shape[q] for q in axes.positions(lay))
            mine = truth.probe(user.reshape(shape).transpose(inverse(axes.positions(lay))))
            if close(mine, ref, atol, rtol):
                note = "" if lay == layout else f" (that is the {lay} layout)"
                found.append(("reshaped", f"reshaped: yours has the right entries in shape "
                              f"{user.shape}; reshape it to {shape}{note}"))
                break
    if perms and perms[0] == identity:
        mine = truth.probe(user.transpose(identity))
        found.extend((short, long) for short, long, q in paths if close(mine, q, atol, rtol))
    return found


def report(what: str, fdesc: str, user: np.ndarray, truth: Truth, axes: Axes, layout: str,
            expected: tuple[int, ...], to_notes: list[int], findings: list[tuple[str, str]],
            atol: float, rtol: float, how: str) -> str:
    """The failure message: where, by how much, and the diagnosis."""
    shorts = list(dict.fromkeys(short for short, _ in findings))
    summary = "; ".join(shorts) if findings else "no common mistake recognised"
    lines = [f"{what} does not match the true derivative of {fdesc} at the given point: "
             f"{summary}"]
    names = axes.names()
    lines.append(f"  {layout} layout: shape {expected}, axes "
                 f"({', '.join(names[p] for p in axes.positions(layout))})")
    if user.shape != expected:
        lines.append(f"  yours has shape {user.shape}")
    else:
        ref = truth.values
        mine = truth.probe(user.transpose(to_notes))
        tol = atol + rtol * np.abs(ref)
        with np.errstate(invalid="ignore", over="ignore"):
            err = np.abs(mine - ref)
            excess = np.where(np.isnan(err), np.inf, err / tol)
        k = tuple(int(i) for i in np.unravel_index(int(np.argmax(excess)), excess.shape))
        if truth.directions is None:
            idx = tuple(k[p] for p in inverse(to_notes))
            where = f"worst entry: {axes.index(idx, layout)} (index {idx})"
        else:
            out_name, out_rank = axes.groups[-1]
            entry = f"{out_name}[{','.join(map(str, k[1:]))}]" if out_rank else out_name
            where = (f"worst contraction: {entry} along random direction {k[0] + 1} of "
                     f"{len(truth.directions)}")
        lines.append(f"  {where}: yours {mine[k]:.6g}, true {ref[k]:.6g}, error {err[k]:.3g} "
                     f"> tolerance {tol[k]:.3g}")
        bad = int(np.sum(~(err <= tol)))
        norm = float(np.linalg.norm(ref))
        rel = (f"; relative error {float(np.linalg.norm(mine - ref)) / norm:.3g} in norm"
               if norm > 0 and np.all(np.isfinite(mine)) else "")
        lines.append(f"  {bad} of {ref.size} compared values differ{rel}")
    for _, long in findings:
        lines.append(f"  diagnosis: {long}")
    if not findings:
        checked = "the other layout, permuted axes, a flipped sign, a constant factor, a reshape"
        checked += ", missing paths" if how.startswith("symbolic") else ""
        lines.append(f"  diagnosis: no common mistake recognised (checked: {checked})")
    lines.append(f"  true derivative: {how}")
    return "\n".join(lines)

