"""Matrix notation of a node graph: transposes, ``@``, element-wise ``*``, ``diag``, ``outer``.

:class:`MatrixWriter` translates a rank ≤ 2 node into text that numpy evaluates to the node's
numbers, in the notes' layout, or raises :class:`NoMatrixFormError`. Each einsum is read as
matrix products: an index shared by two factors is ``@``, one held by a single factor is a
``sum``, factors over the same indices are a Hadamard product ``*``, a repeated output index is
``diag``, two vectors on the two output axes are ``outer``. When a product of sums does not read
that way, it is multiplied out (``Σ`` distributed over the einsum) and each product is read
alone, as one does by hand with Cookbook rules (∂det(XᵀAX)/∂X, ∂tr((XᵀCX)⁻¹A)/∂X).

Canonical order (so the same expression gives the same text in every process and for any sizes):

* a Hadamard product lists scalars, then factors built by contraction (``outer``, ``@``,
  ``diag``, ``sum``), then variables, then functions, then sums; ties by their text. Equal
  factors merge into a power: ``y * y`` is ``y ** 2``.
* a sum lists constants first, then terms without a transpose before terms with one, then by
  length and text: ``1 - x``, ``A + A.T``.
* shared subexpressions are named by :class:`~.naming.Namer` (``p`` for a softmax, ``u1``, ``u2``
  … otherwise), defined on lines before the result.

Example:
    >>> import tensorderiv as td
    >>> w = MatrixWriter()
    >>> d = td.derive("softmax(z)", "z", shapes={"z": (3,)})
    >>> print(w.namer.finish(w.render(d.node)[0]))
    p = softmax(z)
    diag(p) - outer(p, p)
"""

from __future__ import annotations

from ..symbolic.nodes import Apply, Einsum, Node, Sum, Var
from ..symbolic.simplify import add, einsum
from .naming import Namer

__all__ = ["MatrixWriter", "NoMatrixFormError", "number"]

_FUNC_TEXT = {"lse": "logsumexp"}
_PREC_ATOM, _PREC_POW, _PREC_UNARY, _PREC_MUL, _PREC_ADD = 100, 80, 70, 60, 50
_PREC_MATMUL = 61  # a chain of @: associative, so it needs no parentheses beside another @
_PREC_RIGHT = 62  # the right operand of * (or @ after *): Python groups them left to right
# factor classes of the canonical Hadamard order
_SCALAR, _BUILT, _VAR, _FUNC, _SUM = range(5)
_MAX_EXPANSIONS = 4000  # products of sums multiplied out, per translation
_PREFERRED_EXPANSIONS = 64  # … when multiplying out is tried only because it reads better


class NoMatrixFormError(Exception):
    """Raised inside the translator when a node has no matrix-notation form."""


class _OverBudgetError(NoMatrixFormError):
    """Multiplying out ran past its budget: not a property of the node, so never memoized."""


def number(c: float) -> str:
    """A coefficient as text: integers without a decimal point."""
    return repr(int(c)) if float(c).is_integer() and abs(c) < 1e15 else repr(c)


def _shape_text(shape: tuple[int, ...]) -> str:
    return str(shape[0]) if len(shape) == 1 else str(shape)


def _is_fill(node: Node) -> bool:
    return isinstance(node, Einsum) and node.is_constant and len(set(node.out)) == len(node.out)


class _Factor:
    __slots__ = ("base", "cls", "idx", "power", "prec", "show", "text")

    def __init__(self, text: str, idx: tuple[int, ...], prec: int, cls: int = _BUILT,
                 show: str | None = None) -> None:
        self.text, self.idx, self.prec, self.cls = text, idx, prec, cls
        self.show = text if show is None else show  # what it reads as, for the canonical order
        self.base: _Factor | None = None  # for b ** k: b, so that b ** -1 * b cancels
        self.power = 1.0

    def t(self) -> _Factor:
        if len(self.idx) < 2:
            return self
        return _Factor(f"{self.a(_PREC_ATOM)}.T", self.idx[::-1], _PREC_ATOM, self.cls,
                       f"{self.show}.T")

    def key(self) -> tuple[int, int, str]:
        return self.cls, len(self.show), self.show

    def a(self, need: int) -> str:
        return Namer.paren(self.text) if self.prec < need else self.text


def _cls(node: Node) -> int:
    if isinstance(node, Var):
        return _VAR
    if isinstance(node, Apply):
        return _FUNC
    if isinstance(node, Sum):
        return _SUM
    return _BUILT


def _power(f: _Factor, k: float) -> _Factor:
    if k == 1:
        return f
    return _Factor(f"{f.a(_PREC_POW + 1)} ** {number(k)}", f.idx, _PREC_POW, f.cls,
                   f"{f.show} ** {number(k)}")


def _product(fs: list[_Factor]) -> _Factor:
    """The Hadamard product of factors over one index set, in canonical order, powers merged.

    ``y * y`` is ``y ** 2``; ``b ** -1 * b`` cancels (both sides are defined only where b ≠ 0).
    """
    first = min(fs, key=_Factor.key)
    oriented = [f if f.idx == first.idx else f.t() for f in fs]
    groups: dict[str, tuple[_Factor, list[float]]] = {}
    for f in oriented:
        b = f.base if f.base is not None and f.base.idx == f.idx else f
        groups.setdefault(b.text, (b, []))[1].append(f.power if b is not f else 1.0)
    merged = [_power(b, sum(ks)) for b, ks in groups.values() if sum(ks) != 0]
    if not merged:  # everything cancelled: keep the product as written
        merged = oriented
    merged.sort(key=_Factor.key)
    if len(merged) == 1:
        return merged[0]
    # * is associative: outer(a, b) * A * B; a product with @ keeps its parentheses, (A @ x) * y
    text = " * ".join(f.a(_PREC_RIGHT if f.prec == _PREC_MATMUL else _PREC_MUL) for f in merged)
    return _Factor(text, first.idx, _PREC_MUL, min(f.cls for f in merged),
                   " * ".join(f.show for f in merged))


def _hadamard(fs: list[_Factor], summed: set[int]) -> list[_Factor]:
    """Merge factors over the same indices into element-wise products.

    Two vectors that alone share a summed index are left for ``@`` (``a @ b``, not
    ``sum(a * b)``).
    """
    holders: dict[int, int] = {}
    for f in fs:
        for i in set(f.idx):
            holders[i] = holders.get(i, 0) + 1
    groups: dict[tuple[int, ...], list[_Factor]] = {}
    keep: list[_Factor] = []
    for f in fs:
        if len(f.idx) == 1 and f.idx[0] in summed and holders[f.idx[0]] == 2:
            keep.append(f)
            continue
        groups.setdefault((*sorted(f.idx), len(f.idx)), []).append(f)
    return keep + [_product(g) for g in groups.values()]


def _matmul(f: _Factor, g: _Factor, s: int, out: tuple[int, ...] = ()) -> _Factor:
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
    return _Factor(f"{f.a(_PREC_MATMUL)} @ {g.a(_PREC_MATMUL)}", idx, _PREC_MATMUL)


def _split_last_matmul(text: str) -> tuple[str, str] | None:
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


def _softmax_argument(node: Apply) -> Node | None:
    """``x`` when ``node`` is ``exp(x - lse(x))`` spread over x's last axis: softmax(x)."""
    if node.fn != "exp" or not isinstance(node.arg, Sum) or len(node.arg.terms) != 2:
        return None
    (c1, t1), (c2, t2) = node.arg.terms
    for (ca, x), (cb, s) in (((c1, t1), (c2, t2)), ((c2, t2), (c1, t1))):
        if ca != 1.0 or cb != -1.0 or not isinstance(s, Einsum) or s.coef != 1.0 \
                or len(s.terms) != 1 or s.out != tuple(range(x.ndim)):
            continue
        lse, idx = s.terms[0]
        if isinstance(lse, Apply) and lse.arg is x and (
                (lse.fn == "lse_last" and idx == s.out[:-1])
                or (lse.fn == "lse" and x.ndim == 1 and idx == ())):
            return x
    return None


def _prefers_expansion(node: Einsum) -> bool:
    """True when a sum factor holds an identity or a broadcast numpy would not make.

    ``p (δ - p 1ᵀ)`` reads as ``diag(p) - outer(p, p)``; a bias column ``b`` (n, 1) beside an
    (n, m) term stays as it is (numpy broadcasts it).
    """
    for t, _ in node.terms:
        if isinstance(t, Sum):
            for _, u in t.terms:
                if isinstance(u, Einsum) and not _is_fill(u) and (
                        len(set(u.out)) != len(u.out)
                        or (set(u.out) - {i for _, idx in u.terms for i in idx}
                            and _broadcast_term(u) is None)):
                    return True
    return False


def _broadcast_term(node: Node) -> Node | None:
    """The node numpy broadcasts to ``node``, when ``node`` is a plain broadcast of it."""
    if not isinstance(node, Einsum) or len(node.terms) != 1 or node.coef != 1.0 \
            or len(set(node.out)) != len(node.out):
        return None
    t, idx = node.terms[0]
    if t.ndim > node.ndim or len(set(idx)) != len(idx):
        return None
    offset = node.ndim - t.ndim
    for k, i in enumerate(idx):
        o = node.out[offset + k]
        if i != o and not (t.shape[k] == 1 and i not in node.out and o not in idx):
            return None
    return t


class MatrixWriter:
    """Translates nodes to matrix notation, each node once (shared ones by token).

    Args:
        reserved: variable names, which the names of shared subexpressions avoid.
    """

    def __init__(self, reserved: set[str] | frozenset[str] = frozenset()) -> None:
        self.namer = Namer(reserved)
        self.memo: dict[Node, tuple[str, int] | NoMatrixFormError] = {}
        self.expansions = 0
        self.limit = _MAX_EXPANSIONS

    def render(self, node: Node) -> tuple[str, int]:
        """``(text, precedence)`` of a rank ≤ 2 node, or NoMatrixFormError."""
        found = self.memo.get(node)
        if found is None:
            try:
                found = self._render(node)
            except _OverBudgetError:
                raise
            except NoMatrixFormError as e:
                found = e
            self.memo[node] = found
        if isinstance(found, NoMatrixFormError):
            raise found
        return found

    def _tok(self, text: str, prec: int, prefix: str = "u") -> tuple[str, int]:
        return self.namer.token(text, prec, prefix), prec

    def _render(self, node: Node) -> tuple[str, int]:
        if node.ndim > 2:
            raise NoMatrixFormError(f"a rank-{node.ndim} intermediate")
        if isinstance(node, Var):
            return node.name, _PREC_ATOM
        if isinstance(node, Apply):
            return self._apply(node)
        if isinstance(node, Sum):
            return self._sum(node)
        if isinstance(node, Einsum):
            return self._einsum(node)
        raise NoMatrixFormError(type(node).__name__)  # pragma: no cover

    def _apply(self, node: Apply) -> tuple[str, int]:
        x = _softmax_argument(node)
        if x is not None:
            arg, _ = self.render(x)
            return self._tok(f"softmax({arg})", _PREC_ATOM, "p")
        arg, p = self.render(node.arg)
        if node.fn == "pow":
            base = Namer.paren(arg) if p < _PREC_POW + 1 else arg
            return self._tok(f"{base} ** {number(node.params[0])}", _PREC_POW)
        if node.fn == "square":
            base = Namer.paren(arg) if p < _PREC_POW + 1 else arg
            return self._tok(f"{base} ** 2", _PREC_POW)
        if node.fn == "lse_last":
            return self._tok(f"logsumexp({arg}, axis=-1)", _PREC_ATOM)
        return self._tok(f"{_FUNC_TEXT.get(node.fn, node.fn)}({arg})", _PREC_ATOM)

    # ------------------------------------------------------------ sums
    def _sum(self, node: Sum) -> tuple[str, int]:
        full = [t for _, t in node.terms if not _is_fill(t) and _broadcast_term(t) is None]
        terms = []
        for c, t in node.terms:
            if _is_fill(t):
                assert isinstance(t, Einsum)
                terms.append((c * t.coef, number(abs(c * t.coef)), _PREC_ATOM, True))
                continue
            inner = _broadcast_term(t)
            text, p = self.render(inner if inner is not None and full else t)
            terms.append((c, self.namer.definition(text) if p == _PREC_MATMUL else text, p,
                          False))
        # terms that read alike (b ** -1 * b cancelled) add up
        merged: dict[tuple[str, bool], list[object]] = {}
        for c, text, p, const in terms:
            if (text, const) in merged:
                merged[(text, const)][0] += c  # type: ignore[operator]
            else:
                merged[(text, const)] = [c, text, p, const]
        terms = [tuple(z) for z in merged.values() if z[0] != 0]  # type: ignore[misc]
        if not terms:
            return f"0 * ones({_shape_text(node.shape)})", _PREC_MUL
        # constants first, then positive terms, plain before transposed: 1 - x, A + A.T
        def key(z: tuple[float, str, int, bool]) -> tuple[bool, bool, int, int, str]:
            d = self.namer.preview(z[1])
            return (not z[3], z[0] < 0, d.count(".T"), len(d), d)

        terms.sort(key=key)
        # a common right factor: (L1 + L2) @ R
        splits = [_split_last_matmul(z[1]) if not z[3] and z[2] == _PREC_MATMUL else None
                  for z in terms]
        if len(terms) > 1 and all(s is not None for s in splits) \
                and len({s[1] for s in splits}) == 1:  # type: ignore[index]
            inner = _join([(c, s[0], _PREC_MUL, False)  # type: ignore[index]
                           for (c, *_), s in zip(terms, splits, strict=True)])
            return self._tok(f"({inner}) @ {splits[0][1]}", _PREC_MATMUL)  # type: ignore[index]
        return self._tok(_join(terms), _PREC_ADD)

    # ------------------------------------------------------------ einsums
    def _einsum(self, node: Einsum) -> tuple[str, int]:
        if _prefers_expansion(node):  # p (δ - p 1ᵀ) reads better as diag(p) - outer(p, p)
            saved = self.limit
            self.limit = min(saved, self.expansions + _PREFERRED_EXPANSIONS)
            try:
                expanded = self._distribute(node)
                if expanded is not None:
                    return self.render(expanded)
            except NoMatrixFormError:
                pass
            finally:
                self.limit = saved
        try:
            return self._product(node)
        except NoMatrixFormError:
            expanded = self._distribute(node)
            if expanded is None:
                raise
            return self.render(expanded)

    def _distribute(self, node: Einsum) -> Node | None:
        """The einsum with its first sum factor multiplied out, or None."""
        for k, (t, idx) in enumerate(node.terms):
            if not isinstance(t, Sum):
                continue
            self.expansions += len(t.terms)
            if self.expansions > self.limit:
                raise _OverBudgetError("too many products to multiply out")
            sizes = dict(enumerate(node.sizes))
            parts = []
            for c, tk in t.terms:
                terms = [*node.terms[:k], (tk, idx), *node.terms[k + 1:]]
                parts.append((c, einsum(node.coef, terms, node.out, sizes)))
            return add(parts)
        return None

    def _product(self, node: Einsum) -> tuple[str, int]:
        if node.is_constant:
            if not node.out:
                return number(node.coef), _PREC_ATOM
            if len(set(node.out)) == len(node.out):
                body = f"ones({_shape_text(node.shape)})"
            elif len(node.out) == 2:
                body = f"eye({node.shape[0]})"
            else:
                raise NoMatrixFormError("a delta of rank > 2")
            return _scaled(node.coef, body, _PREC_ATOM)
        factors: list[_Factor] = []
        scalars: list[_Factor] = []
        for t, idx in node.terms:
            text, p = self.render(t)
            if len(idx) == 2 and idx[0] == idx[1]:  # a diagonal of a matrix
                f = _Factor(f"diag({text})", (idx[0],), _PREC_ATOM)
            else:
                f = _Factor(text, tuple(idx), p, _cls(t), self.namer.preview(text))
                if isinstance(t, Apply) and t.fn in ("pow", "square"):
                    btext, bp = self.render(t.arg)
                    f.base = _Factor(btext, f.idx, bp, _cls(t.arg), self.namer.preview(btext))
                    f.power = 2.0 if t.fn == "square" else float(t.params[0])
            (factors if f.idx else scalars).append(f)
        out = node.out
        # a canonical factor order (the node's own follows digests, which depend on sizes)
        factors.sort(key=lambda f: (*f.key(), tuple(out.index(i) if i in out else -1
                                                       for i in f.idx)))
        on_terms = {i for _, idx in node.terms for i in idx}
        spare = [i for i in out if i not in on_terms and node.sizes[i] == 1]
        summed = {i for f in factors for i in f.idx} - set(out)
        while True:
            factors = _hadamard(factors, summed)
            still = sorted(s for s in summed if any(s in f.idx for f in factors))
            if not still:
                break
            # contract the index with the fewest holders first: (W2 @ E) * G, then Xb @ (…).T
            def rank(i: int, fs: list[_Factor] = factors) -> tuple[object, ...]:
                held = [k for k, f in enumerate(fs) if i in f.idx]
                return len(held), held, tuple(fs[k].idx.index(i) for k in held)

            s = min(still, key=rank)
            holders = [f for f in factors if s in f.idx]
            rest = [f for f in factors if s not in f.idx]
            if len(holders) == 1:
                others = {i for f in rest for i in f.idx}
                new = self._sum_over(holders[0], s, summed - others, spare)
            elif len(holders) == 2:
                new = _matmul(holders[0], holders[1], s, out)
            elif len(holders) == 3 and sum(len(f.idx) == 1 for f in holders) == 1:
                v = next(f for f in holders if len(f.idx) == 1)
                m1, m2 = (f for f in holders if len(f.idx) == 2)
                m2o = m2 if m2.idx[0] == s else m2.t()
                scaled = _Factor(f"diag({v.text}) @ {m2o.a(_PREC_MATMUL)}", m2o.idx,
                                 _PREC_MATMUL)
                new = _matmul(m1, scaled, s, out)
            else:
                raise NoMatrixFormError(f"index shared by {len(holders)} factors")
            summed -= {i for f in holders for i in f.idx} - set(new.idx)
            if not new.idx:
                scalars.append(new)
                factors = rest
            else:
                factors = [*rest, new]
        result = self._assemble(node, factors)
        if not out and not scalars:
            return number(node.coef), _PREC_ATOM
        text, prec = result.text, result.prec
        if scalars:
            m = _product(scalars)  # like scalars merged: s ** -1 * s cancels, s * s = s ** 2
            head = m.a(_PREC_RIGHT if m.prec == _PREC_MATMUL else _PREC_MUL)
            if text == "1" and not out:
                return self._tok(*_scaled(node.coef, m.text, m.prec))
            text = f"{head} * {Namer.paren(text) if prec < _PREC_RIGHT else text}"
            prec = _PREC_MUL
        return self._tok(*_scaled(node.coef, text, prec))

    @staticmethod
    def _sum_over(f: _Factor, s: int, summed: set[int], spare: list[int]) -> _Factor:
        if len(f.idx) == 1:
            return _Factor(f"sum({f.text})", (), _PREC_ATOM)
        other = f.idx[1 - f.idx.index(s)]
        if other in summed:  # both axes summed here (``summed``: indices no other factor holds)
            return _Factor(f"sum({f.text})", (), _PREC_ATOM)
        axis = f.idx.index(s)
        if spare:  # an output axis of size 1: the summed axis kept in its place
            j = spare.pop(0)
            idx = (other, j) if axis == 1 else (j, other)
            return _Factor(f"sum({f.text}, axis={axis}, keepdims=True)", idx, _PREC_ATOM)
        return _Factor(f"sum({f.text}, axis={axis})", (other,), _PREC_ATOM)

    @staticmethod
    def _assemble(node: Einsum, factors: list[_Factor]) -> _Factor:
        """The product of factors that carry only output indices, oriented as the output."""
        out = node.out
        distinct = tuple(dict.fromkeys(out))
        if len(distinct) != len(out):  # a delta in the output: diag of the vector on that index
            if len(out) != 2 or len(factors) > 1:
                raise NoMatrixFormError("a delta beside other axes")
            if factors and len(factors[0].idx) != 1:
                raise NoMatrixFormError("a delta beside a matrix")
            body = f"diag({factors[0].text})" if factors else f"eye({node.shape[0]})"
            return _Factor(body, out, _PREC_ATOM)
        if not out:
            if factors:
                raise NoMatrixFormError("factors left over in a scalar")
            return _Factor("1", (), _PREC_ATOM)
        size = dict(zip(out, node.shape, strict=True))
        mats = [f for f in factors if len(f.idx) == 2]
        if len(mats) > 1 or any(len(f.idx) > 2 for f in factors):
            raise NoMatrixFormError("more factors than a matrix expression holds")
        if len(out) == 1:
            if mats:
                raise NoMatrixFormError("a matrix factor in a vector")
            if factors:
                return factors[0]
            return _Factor(f"ones({size[out[0]]})", out, _PREC_ATOM)
        i, j = out
        vi = next((f for f in factors if f.idx == (i,)), None)
        vj = next((f for f in factors if f.idx == (j,)), None)
        if mats:
            m = mats[0] if mats[0].idx == out else mats[0].t()
            if vi is not None and vj is not None:
                return _product([_Factor(f"outer({vi.text}, {vj.text})", out, _PREC_ATOM), m])
            if vi is not None:
                return _Factor(f"diag({vi.text}) @ {m.a(_PREC_MATMUL)}", out, _PREC_MATMUL)
            if vj is not None:
                return _Factor(f"{m.a(_PREC_MATMUL)} @ diag({vj.text})", out, _PREC_MATMUL)
            return m
        if vi is None and vj is None:
            return _Factor(f"ones(({size[i]}, {size[j]}))", out, _PREC_ATOM)
        left = vi.text if vi is not None else f"ones({size[i]})"
        right = vj.text if vj is not None else f"ones({size[j]})"
        return _Factor(f"outer({left}, {right})", out, _PREC_ATOM)


def _join(terms: list[tuple[float, str, int, bool]]) -> str:
    out = []
    for k, (c, text, p, is_const) in enumerate(terms):
        mag = abs(c)
        if is_const:
            body = text
        elif mag == 1.0:
            body = Namer.paren(text) if p < _PREC_ADD + 1 else text
        else:
            body = f"{number(mag)} * {Namer.paren(text) if p < _PREC_RIGHT else text}"
        if k == 0 and c < 0:
            if mag == 1.0 and not is_const:
                body = Namer.paren(text) if p < _PREC_UNARY else text
            out.append(f"-{body}")
        elif k == 0:
            out.append(body)
        else:
            out.append(f" {'-' if c < 0 else '+'} {body}")
    return "".join(out)


def _scaled(coef: float, text: str, prec: int) -> tuple[str, int]:
    if coef == 1.0:
        return text, prec
    wrapped = Namer.paren(text)
    if coef == -1.0:
        return f"-{wrapped if prec < _PREC_UNARY else text}", _PREC_UNARY
    return f"{number(coef)} * {wrapped if prec < _PREC_RIGHT else text}", _PREC_MUL
