"""Factors of an einsum read as matrices: Hadamard products, ``@`` chains, and their precedence.

A :class:`Factor` is a piece of matrix-notation text with the einsum indices it carries. The
functions here combine factors as the notes do by hand: factors over the same indices into an
element-wise product (canonical order, like factors merged into powers), two factors sharing a
summed index into ``@`` (vectors as columns, matrices ordered as the output's axes), and terms
into a signed sum. :mod:`.matrixtext` drives them over a node graph.

Example:
    >>> x, y = Factor("x", (0,), PREC_ATOM, VAR), Factor("y", (0,), PREC_ATOM, VAR)
    >>> product([y, x, y]).text
    'x * y ** 2'
"""

from __future__ import annotations

from ..symbolic.nodes import Apply, Einsum, Node, Sum, Var
from .naming import Namer

__all__ = ["BUILT", "FUNC", "PREC_ADD", "PREC_ATOM", "PREC_MATMUL", "PREC_MUL", "PREC_POW",
           "PREC_RIGHT", "PREC_UNARY", "SCALAR", "SUM", "VAR", "Factor", "factor_class",
           "hadamard", "is_fill", "join", "matmul", "number", "power", "product", "scaled",
           "shape_text", "split_first_matmul", "split_first_mul", "split_last_matmul"]

PREC_ATOM, PREC_POW, PREC_UNARY, PREC_MUL, PREC_ADD = 100, 80, 70, 60, 50
PREC_MATMUL = 61  # a chain of @: associative, so it needs no parentheses beside another @
PREC_RIGHT = 62  # the right operand of * (or @ after *): Python groups them left to right
# factor classes of the canonical Hadamard order
SCALAR, BUILT, VAR, FUNC, SUM = range(5)


def number(c: float) -> str:
    """A coefficient as text: integers without a decimal point."""
    return repr(int(c)) if float(c).is_integer() and abs(c) < 1e15 else repr(c)


def shape_text(shape: tuple[int, ...]) -> str:
    """A shape as numpy takes it in ``ones(...)``: ``3`` or ``(3, 2)``."""
    return str(shape[0]) if len(shape) == 1 else str(shape)


def is_fill(node: Node) -> bool:
    """True for a constant einsum that fills its shape with one number."""
    return isinstance(node, Einsum) and node.is_constant and len(set(node.out)) == len(node.out)


class Factor:
    """Matrix-notation text, the einsum indices it carries, its precedence and class."""

    __slots__ = ("base", "cls", "idx", "orig", "parts", "power", "prec", "show", "text")

    def __init__(self, text: str, idx: tuple[int, ...], prec: int, cls: int = BUILT,
                 show: str | None = None) -> None:
        self.text, self.idx, self.prec, self.cls = text, idx, prec, cls
        self.show = text if show is None else show  # what it reads as, for the canonical order
        self.base: Factor | None = None  # for b ** k: b, so that b ** -1 * b cancels
        self.power = 1.0
        self.orig: Factor | None = None  # the factor this is the transpose of
        self.parts: tuple[Factor, Factor] | None = None  # (f, g) when this is f @ g

    def t(self) -> Factor:
        """The transpose (a vector or scalar is itself); (f @ g).T is g.T @ f.T, X.T.T is X."""
        if len(self.idx) < 2:
            return self
        if self.orig is not None:
            return self.orig
        if self.parts is not None and all(len(p.idx) == 2 for p in self.parts):
            f, g = self.parts
            new = _matmul_text(g.t(), f.t(), self.idx[::-1])
        else:
            new = Factor(f"{self.a(PREC_ATOM)}.T", self.idx[::-1], PREC_ATOM, self.cls,
                         f"{self.show}.T")
        new.orig = self
        return new

    def key(self) -> tuple[int, int, str]:
        """The canonical sort key: class, then how it reads."""
        return self.cls, len(self.show), self.show

    def a(self, need: int) -> str:
        """The text as an operand that needs precedence ``need``."""
        return Namer.paren(self.text) if self.prec < need else self.text


def factor_class(node: Node) -> int:
    """The class of a node's text in the canonical Hadamard order."""
    if isinstance(node, Var):
        return VAR
    if isinstance(node, Apply):
        return FUNC
    if isinstance(node, Sum):
        return SUM
    return BUILT


def power(f: Factor, k: float) -> Factor:
    """``f ** k`` (``f`` itself for k = 1)."""
    if k == 1:
        return f
    return Factor(f"{f.a(PREC_POW + 1)} ** {number(k)}", f.idx, PREC_POW, f.cls,
                   f"{f.show} ** {number(k)}")


def product(fs: list[Factor]) -> Factor:
    """The Hadamard product of factors over one index set, in canonical order, powers merged.

    ``y * y`` is ``y ** 2``; ``b ** -1 * b`` cancels (both sides are defined only where b ≠ 0);
    negative powers divide: ``x / norm(x)``. Scalars (no indices) may join any index set.
    """
    first = min([f for f in fs if f.idx] or fs, key=Factor.key)
    oriented = [f if f.idx == first.idx else f.t() for f in fs]
    groups: dict[str, tuple[Factor, list[float]]] = {}
    for f in oriented:
        b = f.base if f.base is not None and f.base.idx == f.idx else f
        groups.setdefault(b.text, (b, []))[1].append(f.power if b is not f else 1.0)
    merged = [(b, sum(ks)) for b, ks in groups.values() if sum(ks) != 0]
    if not merged:  # everything cancelled: keep the product as written
        merged = [(f, 1.0) for f in oriented]
    merged.sort(key=lambda bk: (bool(bk[0].idx), bk[0].key()))  # scalars first: det(X) * …
    if len(merged) == 1 and merged[0][1] > 0:
        return power(*merged[0])
    # * is associative: outer(a, b) * A * B; a product with @ keeps its parentheses, (A @ x) * y
    num = [power(b, k) for b, k in merged if k > 0]
    text = " * ".join(f.a(PREC_RIGHT if f.prec == PREC_MATMUL else PREC_MUL) for f in num)
    for b, k in merged:
        if k < 0:
            text += f" / {power(b, -k).a(PREC_UNARY)}"
    text = text if num else f"1{text}"
    return Factor(text, first.idx, PREC_MUL, min(b.cls for b, _ in merged), text)


def hadamard(fs: list[Factor], summed: set[int]) -> list[Factor]:
    """Merge factors over the same indices into element-wise products.

    Two vectors that alone share a summed index are left for ``@`` (``a @ b``, not
    ``sum(a * b)``).
    """
    holders: dict[int, int] = {}
    for f in fs:
        for i in set(f.idx):
            holders[i] = holders.get(i, 0) + 1
    groups: dict[tuple[int, ...], list[Factor]] = {}
    keep: list[Factor] = []
    for f in fs:
        if len(f.idx) == 1 and f.idx[0] in summed and holders[f.idx[0]] == 2:
            keep.append(f)
            continue
        groups.setdefault((*sorted(f.idx), len(f.idx)), []).append(f)
    return keep + [product(g) for g in groups.values()]


def matmul(f: Factor, g: Factor, s: int, out: tuple[int, ...] = ()) -> Factor:
    """``f @ g`` over the shared index ``s`` (f oriented to end in s, g to start with it).

    A vector meets a matrix as ``M @ v`` (the notes' column vectors), not ``v @ M``; two
    matrices are ordered so the result's axes come in the output's order (``A.T @ B.T`` rather
    than ``(B @ A).T``).
    """
    if len(f.idx) == 1 and len(g.idx) == 2:
        f, g = g, f
    elif len(f.idx) == 2 and len(g.idx) == 2:
        free_f = next(i for i in f.idx if i != s)
        free_g = next(i for i in g.idx if i != s)
        if free_f in out and free_g in out and out.index(free_f) > out.index(free_g):
            f, g = g, f
    elif len(f.idx) == 1 and len(g.idx) == 1 and f.key() > g.key():
        f, g = g, f
    if len(f.idx) == 2 and f.idx[0] == s:
        f = f.t()
    if len(g.idx) == 2 and g.idx[1] == s:
        g = g.t()
    idx = tuple(i for i in f.idx if i != s) + tuple(i for i in g.idx if i != s)
    return _matmul_text(f, g, idx)


def _matmul_text(f: Factor, g: Factor, idx: tuple[int, ...]) -> Factor:
    new = Factor(f"{f.a(PREC_MATMUL)} @ {g.a(PREC_MATMUL)}", idx, PREC_MATMUL)
    new.parts = (f, g)
    return new


def split_first_mul(text: str) -> tuple[str, str] | None:
    """Split ``h * rest`` at its first top-level ``*`` (never inside a power ``**``).

    A rest wholly in parentheses loses them when it holds no top-level sum.
    """
    depth = 0
    for k, c in enumerate(text):
        if c == "(":
            depth += 1
        elif c == ")":
            depth -= 1
        elif depth == 0 and text.startswith(" * ", k) and not text.startswith(" ** ", k):
            head, rest = text[:k], text[k + 3:]
            if head.startswith("-"):
                return None
            if rest.startswith("(") and _closing(rest) == len(rest) - 1 \
                    and " + " not in _top_level(rest[1:-1]) \
                    and " - " not in _top_level(rest[1:-1]):
                rest = rest[1:-1]
            return head, rest
    return None


def _closing(text: str) -> int:
    """The index of the parenthesis that closes ``text[0]``."""
    depth = 0
    for k, c in enumerate(text):
        depth += (c == "(") - (c == ")")
        if depth == 0:
            return k
    return -1


def _top_level(text: str) -> str:
    """``text`` with everything inside parentheses removed."""
    out, depth = [], 0
    for c in text:
        if c == "(":
            depth += 1
        elif c == ")":
            depth -= 1
        elif depth == 0:
            out.append(c)
    return "".join(out)


def split_last_matmul(text: str) -> tuple[str, str] | None:
    """Split ``L @ R`` at its last top-level ``@``."""
    depth = 0
    for k in range(len(text) - 1, -1, -1):
        c = text[k]
        if c == ")":
            depth += 1
        elif c == "(":
            depth -= 1
        elif c == "@" and depth == 0 and text[k - 1] == " ":
            return text[: k - 1], text[k + 2:]
    return None


def split_first_matmul(text: str) -> tuple[str, str] | None:
    """Split ``L @ R`` at its first top-level ``@``."""
    depth = 0
    for k, c in enumerate(text):
        if c == "(":
            depth += 1
        elif c == ")":
            depth -= 1
        elif c == "@" and depth == 0 and text[k - 1] == " ":
            return text[: k - 1], text[k + 2:]
    return None


def join(terms: list[tuple[float, str, int, bool]]) -> str:
    """Signed terms ``(coef, text, precedence, is_constant)`` as ``a - 2 * b + c``."""
    out = []
    for k, (c, text, p, is_const) in enumerate(terms):
        mag = abs(c)
        if is_const:
            body = text
        elif mag == 1.0:
            # a sum added needs no parentheses (a + b - c); one subtracted does: a - (b - c)
            body = Namer.paren(text) if p < (PREC_ADD + 1 if c < 0 else PREC_ADD) else text
        else:
            body = f"{number(mag)} * {Namer.paren(text) if p < PREC_RIGHT else text}"
        if k == 0 and c < 0:
            if mag == 1.0 and not is_const:
                body = Namer.paren(text) if p < PREC_UNARY else text
            out.append(f"-{body}")
        elif k == 0:
            out.append(body)
        else:
            out.append(f" {'-' if c < 0 else '+'} {body}")
    return "".join(out)


def scaled(coef: float, text: str, prec: int) -> tuple[str, int]:
    """``coef * text`` with its precedence (``-text`` for -1, ``text`` for 1)."""
    if coef == 1.0:
        return text, prec
    wrapped = Namer.paren(text)
    if coef == -1.0:
        return f"-{wrapped if prec < PREC_UNARY else text}", PREC_UNARY
    return f"{number(coef)} * {wrapped if prec < PREC_RIGHT else text}", PREC_MUL
