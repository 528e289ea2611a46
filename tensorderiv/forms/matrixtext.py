"""Matrix notation of a node graph: transposes, ``@``, element-wise ``*``, ``diag``, ``outer``.

:class:`MatrixWriter` translates a rank ≤ 2 node into text that numpy evaluates to the node's
numbers, in the notes' layout, or raises :class:`NoMatrixFormError`. Each einsum is read as
matrix products: an index shared by two factors is ``@``, one held by a single factor is a
``sum``, factors over the same indices are a Hadamard product ``*``, a repeated output index is
``diag``, two vectors on the two output axes are ``outer``. When a product of sums does not read
that way, it is multiplied out (``Σ`` distributed over the einsum) and each product is read
alone, as one does by hand with Cookbook rules (∂det(XᵀAX)/∂X, ∂tr((XᵀCX)⁻¹A)/∂X).

Patterns are read back as the notes write them: ``exp(x - lse(x))`` and ``exp(x) / Σ exp(x)``
are ``softmax(x)``, ``sqrt(Σ x ⊙ x)`` is ``norm(x)``, the size-1 axis of an (n, 1) column is
kept rather than summed, a sum over a batch beside a bias column keeps its axis
(``sum(M, axis=1, keepdims=True)``).

Canonical order (so the same expression gives the same text in every process and for any sizes):

* a Hadamard product lists scalars, then factors built by contraction (``outer``, ``@``,
  ``diag``, ``sum``), then variables, then functions, then sums; ties by how they read. Equal
  factors merge into a power (``y * y`` is ``y ** 2``, ``b ** -1 * b`` cancels) and negative
  powers divide (``x / norm(x)``).
* a sum lists constants first, then positive terms, terms without a transpose before terms with
  one, then by length and text: ``1 - x``, ``A + A.T``; a common right or left factor (and a
  common transpose) is taken out: ``(A + A.T) @ x``, ``A @ (softmax(Z) - Y).T``.
* an einsum's factors are sorted by that order before contracting, and the index with the fewest
  holders is contracted first, ties broken by the factors' order, never by node digests (which
  depend on sizes) or object identities.
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

from ..symbolic.functions import softmax_last
from ..symbolic.nodes import Apply, Einsum, Node, Sum, Var
from ..symbolic.simplify import add, einsum
from .naming import Namer
from .products import (
    PREC_ADD,
    PREC_ATOM,
    PREC_MATMUL,
    PREC_MUL,
    PREC_POW,
    Factor,
    factor_class,
    hadamard,
    is_fill,
    join,
    matmul,
    number,
    product,
    scaled,
    shape_text,
    split_first_matmul,
    split_first_mul,
    split_last_matmul,
)

__all__ = ["MatrixWriter", "NoMatrixFormError", "number"]

_FUNC_TEXT = {"lse": "logsumexp"}
_MAX_EXPANSIONS = 500  # products of sums multiplied out, per translation
_PREFERRED_EXPANSIONS = 64  # … when multiplying out is tried only because it reads better


class NoMatrixFormError(Exception):
    """Raised inside the translator when a node has no matrix-notation form."""


class _OverBudgetError(NoMatrixFormError):
    """Multiplying out ran past its budget: not a property of the node, so never memoized."""


def _softmax_written_out(terms: tuple[tuple[Node, tuple[int, ...]], ...],
                         ) -> list[tuple[Node, tuple[int, ...]]]:
    """The terms with ``exp(x) ⊙ … / Σ_last exp(x) ** k`` read as softmax(x) factors."""
    out = list(terms)
    for t, j in terms:
        if not (isinstance(t, Apply) and t.fn == "pow" and t.params[0] < 0
                and float(t.params[0]).is_integer() and isinstance(t.arg, Einsum)
                and t.arg.coef == 1.0 and len(t.arg.terms) == 1):
            continue
        e, k = t.arg.terms[0]
        if not (isinstance(e, Apply) and e.fn == "exp" and len(set(k)) == len(k) == e.ndim
                and t.arg.out == k[:-1]):
            continue
        hits = [n for n, (u, i) in enumerate(out) if u is e and i[:-1] == j
                and len(set(i)) == len(i)]
        if len(hits) != -int(t.params[0]):
            continue
        soft = softmax_last(e.arg)
        for n in hits:
            out[n] = (soft, out[n][1])
        out.remove((t, j))
    return out


def _norm_argument(node: Node) -> Node | None:
    """``x`` when ``node`` is ``Σ x ⊙ x`` over all of x's axes (so sqrt of it is norm(x))."""
    if isinstance(node, Einsum) and node.coef == 1.0 and not node.out and len(node.terms) == 2:
        (a, ia), (b, ib) = node.terms
        if a is b and ia == ib and len(set(ia)) == len(ia) == a.ndim:
            return a
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
                if isinstance(u, Einsum) and not is_fill(u) and (
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
            return node.name, PREC_ATOM
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
            return self._tok(f"softmax({arg})", PREC_ATOM, "p")
        if node.fn == "sqrt" and _norm_argument(node.arg) is not None:
            arg, _ = self.render(_norm_argument(node.arg))  # type: ignore[arg-type]
            return self._tok(f"norm({arg})", PREC_ATOM)
        arg, p = self.render(node.arg)
        if node.fn == "pow" and node.params[0] == -1:
            return self._tok(f"1 / {Namer.paren(arg) if p < PREC_POW else arg}", PREC_MUL)
        if node.fn == "pow":
            base = Namer.paren(arg) if p < PREC_POW + 1 else arg
            return self._tok(f"{base} ** {number(node.params[0])}", PREC_POW)
        if node.fn == "square":
            base = Namer.paren(arg) if p < PREC_POW + 1 else arg
            return self._tok(f"{base} ** 2", PREC_POW)
        if node.fn == "lse_last":
            return self._tok(f"logsumexp({arg}, axis=-1)", PREC_ATOM)
        if node.fn == "logabs":  # from x ** y with an array exponent: the user's vocabulary
            return self._tok(f"log(abs({arg}))", PREC_ATOM)
        if node.fn in ("parity", "parity_grad"):  # a negative base's sign: no matrix text
            raise NoMatrixFormError(f"{node.fn} has no matrix notation")
        return self._tok(f"{_FUNC_TEXT.get(node.fn, node.fn)}({arg})", PREC_ATOM)

    # ------------------------------------------------------------ sums
    def _sum(self, node: Sum) -> tuple[str, int]:
        full = [t for _, t in node.terms if not is_fill(t) and _broadcast_term(t) is None]
        terms = []
        for c, t in node.terms:
            if is_fill(t):
                assert isinstance(t, Einsum)
                terms.append((c * t.coef, number(abs(c * t.coef)), PREC_ATOM, True))
                continue
            inner = _broadcast_term(t)
            text, p = self.render(inner if inner is not None and full else t)
            terms.append((c, self.namer.definition(text) if p in (PREC_MATMUL, PREC_MUL)
                          else text, p, False))
        # terms that read alike (b ** -1 * b cancelled) add up
        merged: dict[tuple[str, bool], list[object]] = {}
        for c, text, p, const in terms:
            if (text, const) in merged:
                merged[(text, const)][0] += c  # type: ignore[operator]
            else:
                merged[(text, const)] = [c, text, p, const]
        terms = [tuple(z) for z in merged.values() if z[0] != 0]  # type: ignore[misc]
        if not terms:
            return f"0 * ones({shape_text(node.shape)})", PREC_MUL
        # constants first, then positive terms, plain before transposed: 1 - x, A + A.T
        def key(z: tuple[float, str, int, bool]) -> tuple[bool, bool, int, int, str]:
            d = self.namer.preview(z[1])
            return (not z[3], z[0] < 0, d.count(".T"), len(d), d)

        terms.sort(key=key)
        # a common right factor: (L1 + L2) @ R
        splits = [split_last_matmul(z[1]) if not z[3] and z[2] == PREC_MATMUL else None
                  for z in terms]
        if len(terms) > 1 and all(s is not None for s in splits) \
                and len({s[1] for s in splits}) == 1:  # type: ignore[index]
            inner = join([(c, s[0], PREC_MUL, False)  # type: ignore[index]
                           for (c, *_), s in zip(terms, splits, strict=True)])
            return self._tok(f"({inner}) @ {splits[0][1]}", PREC_MATMUL)  # type: ignore[index]
        # a common left factor: L @ (R1 - R2), as A @ (softmax(Z) - Y).T
        lefts = [split_first_matmul(z[1]) if not z[3] and z[2] == PREC_MATMUL else None
                 for z in terms]
        if len(terms) > 1 and all(s is not None for s in lefts) \
                and len({s[0] for s in lefts}) == 1:  # type: ignore[index]
            rests = [s[1] for s in lefts]  # type: ignore[index]
            if all(r.endswith(".T") and not r.startswith("-") and split_first_matmul(r) is None
                   for r in rests):  # a common transpose too: A @ (softmax(Z) - Y).T
                inner = join([(c, r[:-2], PREC_ATOM, False)
                              for (c, *_), r in zip(terms, rests, strict=True)])
                return self._tok(f"{lefts[0][0]} @ ({inner}).T",  # type: ignore[index]
                                 PREC_MATMUL)
            inner = join([(c, r, PREC_MATMUL, False)
                          for (c, *_), r in zip(terms, rests, strict=True)])
            return self._tok(f"{lefts[0][0]} @ ({inner})", PREC_MATMUL)  # type: ignore[index]
        # a common first factor of element-wise products: det(M) * (A @ N @ inv(M) + …)
        heads = [split_first_mul(z[1]) if not z[3] and z[2] == PREC_MUL else None
                 for z in terms]
        if len(terms) > 1 and all(h is not None for h in heads) \
                and len({h[0] for h in heads}) == 1:  # type: ignore[index]
            inner = join([(c, h[1], PREC_MUL, False)  # type: ignore[index]
                          for (c, *_), h in zip(terms, heads, strict=True)])
            return self._tok(f"{heads[0][0]} * ({inner})", PREC_MUL)  # type: ignore[index]
        return self._tok(join(terms), PREC_ADD)

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
            return self._einsum_product(node)
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

    def _einsum_product(self, node: Einsum) -> tuple[str, int]:
        if node.is_constant:
            if not node.out:
                return number(node.coef), PREC_ATOM
            if len(set(node.out)) == len(node.out):
                body = f"ones({shape_text(node.shape)})"
            elif len(node.out) == 2:
                body = f"eye({node.shape[0]})"
            else:
                raise NoMatrixFormError("a delta of rank > 2")
            return scaled(node.coef, body, PREC_ATOM)
        factors: list[Factor] = []
        scalars: list[Factor] = []
        for t, idx in _softmax_written_out(node.terms):
            text, p = self.render(t)
            if len(idx) == 2 and idx[0] == idx[1]:  # a diagonal of a matrix
                f = Factor(f"diag({text})", (idx[0],), PREC_ATOM)
            else:
                f = Factor(text, tuple(idx), p, factor_class(t), self.namer.preview(text))
                if isinstance(t, Apply) and t.fn in ("pow", "square"):
                    btext, bp = self.render(t.arg)
                    f.base = Factor(btext, f.idx, bp, factor_class(t.arg),
                                    self.namer.preview(btext))
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
            factors = hadamard(factors, summed)
            still = sorted(s for s in summed if any(s in f.idx for f in factors))
            if not still:
                break
            # contract the index with the fewest holders first: (W2 @ E) * G, then Xb @ (…).T
            def rank(i: int, fs: list[Factor] = factors) -> tuple[object, ...]:
                held = [k for k, f in enumerate(fs) if i in f.idx]
                return len(held), held, tuple(fs[k].idx.index(i) for k in held)

            s = min(still, key=rank)
            holders = [f for f in factors if s in f.idx]
            rest = [f for f in factors if s not in f.idx]
            if len(holders) == 1:
                others = {i for f in rest for i in f.idx}
                new = self._sum_over(holders[0], s, summed - others, spare, node.sizes[s])
            elif len(holders) == 2:
                new = matmul(holders[0], holders[1], s, out)
            elif len(holders) == 3 and sum(len(f.idx) == 1 for f in holders) == 1:
                v = next(f for f in holders if len(f.idx) == 1)
                m1, m2 = (f for f in holders if len(f.idx) == 2)
                m2o = m2 if m2.idx[0] == s else m2.t()
                diag_m2 = Factor(f"diag({v.text}) @ {m2o.a(PREC_MATMUL)}", m2o.idx,
                                 PREC_MATMUL)
                new = matmul(m1, diag_m2, s, out)
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
            return number(node.coef), PREC_ATOM
        text, prec = result.text, result.prec
        if scalars:  # like factors merged: s ** -1 * s cancels, s * s = s ** 2, x / norm(x)
            m = product(scalars if text == "1" and not out else [*scalars, result])
            text, prec = m.text, m.prec
        return self._tok(*scaled(node.coef, text, prec))

    @staticmethod
    def _sum_over(f: Factor, s: int, summed: set[int], spare: list[int], size: int) -> Factor:
        if len(f.idx) == 2 and size == 1 and spare:  # a column's axis of size 1: no sum at all
            j = spare.pop(0)
            return Factor(f.text, tuple(j if i == s else i for i in f.idx), f.prec, f.cls,
                          f.show)
        if len(f.idx) == 1:
            return Factor(f"sum({f.text})", (), PREC_ATOM)
        other = f.idx[1 - f.idx.index(s)]
        if other in summed:  # both axes summed here (``summed``: indices no other factor holds)
            return Factor(f"sum({f.text})", (), PREC_ATOM)
        axis = f.idx.index(s)
        if spare:  # an output axis of size 1: the summed axis kept in its place
            j = spare.pop(0)
            idx = (other, j) if axis == 1 else (j, other)
            return Factor(f"sum({f.text}, axis={axis}, keepdims=True)", idx, PREC_ATOM)
        return Factor(f"sum({f.text}, axis={axis})", (other,), PREC_ATOM)

    @staticmethod
    def _assemble(node: Einsum, factors: list[Factor]) -> Factor:
        """The product of factors that carry only output indices, oriented as the output."""
        out = node.out
        distinct = tuple(dict.fromkeys(out))
        if len(distinct) != len(out):  # a delta in the output: diag of the vector on that index
            if len(out) != 2 or len(factors) > 1:
                raise NoMatrixFormError("a delta beside other axes")
            if factors and len(factors[0].idx) != 1:
                raise NoMatrixFormError("a delta beside a matrix")
            body = f"diag({factors[0].text})" if factors else f"eye({node.shape[0]})"
            return Factor(body, out, PREC_ATOM)
        if not out:
            if factors:
                raise NoMatrixFormError("factors left over in a scalar")
            return Factor("1", (), PREC_ATOM)
        size = dict(zip(out, node.shape, strict=True))
        mats = [f for f in factors if len(f.idx) == 2]
        if len(mats) > 1 or any(len(f.idx) > 2 for f in factors):
            raise NoMatrixFormError("more factors than a matrix expression holds")
        if len(out) == 1:
            if mats:
                raise NoMatrixFormError("a matrix factor in a vector")
            if factors:
                return factors[0]
            return Factor(f"ones({size[out[0]]})", out, PREC_ATOM)
        i, j = out
        vi = next((f for f in factors if f.idx == (i,)), None)
        vj = next((f for f in factors if f.idx == (j,)), None)
        if mats:
            m = mats[0] if mats[0].idx == out else mats[0].t()
            if vi is not None and vj is not None:
                return product([Factor(f"outer({vi.text}, {vj.text})", out, PREC_ATOM), m])
            if vi is not None:
                return Factor(f"diag({vi.text}) @ {m.a(PREC_MATMUL)}", out, PREC_MATMUL)
            if vj is not None:
                return Factor(f"{m.a(PREC_MATMUL)} @ diag({vj.text})", out, PREC_MATMUL)
            return m
        if vi is None and vj is None:
            return Factor(f"ones(({size[i]}, {size[j]}))", out, PREC_ATOM)
        left = vi.text if vi is not None else f"ones({size[i]})"
        right = vj.text if vj is not None else f"ones({size[j]})"
        return Factor(f"outer({left}, {right})", out, PREC_ATOM)

