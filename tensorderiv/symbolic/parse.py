"""Text → expression, with Python's ``ast`` module (never ``eval`` or ``exec``).

The language is Python's expression syntax restricted to: variable names given in ``shapes``,
real number literals, ``+ - * / ** @``, unary ``-``/``+``, ``.T``, and calls of the vocabulary
(``tanh(x)``, ``sum(x, axis=0)``, ``einsum("ij,jk->ik", A, B)`` …). Anything else — other
attributes, subscripts, lambdas, comprehensions, comparisons, unknown names — raises
:class:`~tensorderiv.ParseError` with a caret under the offending column.

Example:
    >>> import tensorderiv as td
    >>> td.parse("sum(tanh(W.T @ x))", {"W": (3, 2), "x": (3,)})
    Expr('sum(tanh(W.T @ x))', shape=())
    >>> td.parse("x.__class__", {"x": (3,)})
    Traceback (most recent call last):
    ...
    tensorderiv.core.errors.ParseError: attribute '.__class__' is not allowed; only .T (transpose)
    is
      x.__class__
       ^
"""

from __future__ import annotations

import ast
import unicodedata
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from ..core.errors import LimitError, ParseError
from . import expr as E  # noqa: N812 - E is the expression vocabulary
from .limits import MAX_DEPTH
from .subscripts import einsum_

__all__ = ["MAX_DEPTH", "MAX_LENGTH", "VOCABULARY", "parse"]

MAX_LENGTH = 10_000

VOCABULARY: dict[str, Callable[..., E.Expr]] = {
    **{name: getattr(E, name) for name in E.ELEMENTWISE},
    "sum": E.sum, "mean": E.mean, "trace": E.trace, "det": E.det, "logdet": E.logdet,
    "inv": E.inv, "diag": E.diag, "outer": E.outer, "dot": E.dot, "norm": E.norm,
    "softmax": E.softmax, "logsumexp": E.logsumexp, "einsum": einsum_,
}
_AXIS_FUNCTIONS = frozenset({"sum", "mean", "softmax"})
_BINOPS: dict[type, Callable[[Any, Any], Any]] = {
    ast.Add: lambda a, b: a + b,
    ast.Sub: lambda a, b: a - b,
    ast.Mult: lambda a, b: a * b,
    ast.Div: lambda a, b: a / b,
    ast.Pow: lambda a, b: a ** b,
    ast.MatMult: lambda a, b: a @ b,
}
_DESCRIBE = {
    ast.Subscript: "subscripts (x[...])", ast.Lambda: "lambda", ast.ListComp: "comprehensions",
    ast.SetComp: "comprehensions", ast.DictComp: "comprehensions",
    ast.GeneratorExp: "comprehensions", ast.Compare: "comparisons", ast.BoolOp: "and/or",
    ast.IfExp: "conditional expressions", ast.List: "lists", ast.Tuple: "tuples",
    ast.Dict: "dicts", ast.Set: "sets", ast.Starred: "starred arguments",
    ast.JoinedStr: "f-strings", ast.NamedExpr: "assignments (:=)", ast.Await: "await",
}


def _shapes(shapes: Mapping[str, Any] | None) -> dict[str, tuple[int, ...]]:
    return {name: E.sizes(name, s) for name, s in (shapes or {}).items()}


def parse(text: str, shapes: Mapping[str, Sequence[int] | int] | None = None) -> E.Expr:
    """Read an expression from text; ``shapes`` maps each variable name to its shape.

    Raises:
        ParseError: for text outside the language, with a caret under the offending column.
        ShapeError: for shapes that do not fit the operations (the message names them).
    """
    if not isinstance(text, str):
        raise ParseError(f"expected expression text, got {type(text).__name__}")
    if len(text) > MAX_LENGTH:
        raise ParseError(f"expression is {len(text):,} characters long; the limit is "
                         f"{MAX_LENGTH:,}")
    if "\n" in text.strip() or "\r" in text:
        raise ParseError("an expression is one line of text", text, text.find("\n"))
    stripped = text.strip()
    if not stripped:
        raise ParseError("empty expression")
    _ascii_outside_strings(stripped)
    try:
        tree = ast.parse(stripped, mode="eval")
    except SyntaxError as exc:
        col = exc.offset - 1 if exc.offset else len(stripped)  # 0: the error is at the end
        if "too many nested" in str(exc.msg):  # Python's own limit, 200 parentheses
            raise ParseError(f"expression is nested too deeply (more than {MAX_DEPTH} levels, "
                             "tensorderiv.symbolic.limits.MAX_DEPTH)", stripped, col) from None
        raise ParseError(f"invalid syntax: {exc.msg}", stripped, col) from None
    except (RecursionError, MemoryError):
        raise ParseError(f"expression is nested too deeply (more than {MAX_DEPTH} levels, "
                         "tensorderiv.symbolic.limits.MAX_DEPTH)") from None
    declared = _shapes(shapes)
    return _Reader(stripped, declared).read(tree.body, 0).in_scope(declared)


# letters of other scripts that look like Latin ones (a few common confusables)
_LOOKALIKE = dict(zip("аеорсухіјѕԁАВЕКМНОРСТХУΑΒΕΖΗΙΚΜΝΟΡΤΥΧνοαρ",
                      "aeopcyxijsdABEKMHOPCTXYABEZHIKMNOPTYXvoap", strict=True))


def _ascii_outside_strings(text: str) -> None:
    """Refuse a non-ASCII character outside a string literal, with a hint.

    Python reads identifiers NFKC-normalised, so ``𝐱`` or ``ｘ`` would silently be ``x``; and a
    Cyrillic ``х`` looks like ``x`` but is another name. Variable names are ASCII.
    """
    quote = ""
    for col, ch in enumerate(text):
        if quote:
            quote = "" if ch == quote else quote
            continue
        if ch in "'\"":
            quote = ch
            continue
        if ch.isascii():
            continue
        code = f"{ch!r} (U+{ord(ch):04X} {unicodedata.name(ch, 'unnamed character')})"
        folded = unicodedata.normalize("NFKC", ch)
        if folded.isascii() and folded.isprintable() and folded != ch:
            hint = (f"it is a compatibility form of {folded!r}, which Python would silently "
                    f"read as {folded!r}; write {folded!r}")
        elif ch in _LOOKALIKE:
            hint = f"it looks like the Latin {_LOOKALIKE[ch]!r} but is another letter"
        else:
            hint = "names and operators are ASCII (write * for ×, - for −)"
        raise ParseError(f"non-ASCII character {code}: {hint}", text, col)


class _Reader:
    def __init__(self, text: str, shapes: dict[str, tuple[int, ...]]) -> None:
        self.text = text
        self.shapes = shapes
        self.vars: dict[str, E.Expr] = {}

    def fail(self, message: str, node: ast.AST) -> ParseError:
        return ParseError(message, self.text, getattr(node, "col_offset", 0))

    def read(self, node: ast.AST, depth: int) -> E.Expr:
        if depth > MAX_DEPTH:
            raise self.fail(f"expression is nested too deeply (more than {MAX_DEPTH} levels, "
                            "tensorderiv.symbolic.limits.MAX_DEPTH)", node)
        if isinstance(node, ast.BinOp):
            # a left-nested chain (a + b + c …) is read as a loop: it is long, not deep
            spine: list[ast.BinOp] = []
            cur: ast.expr = node
            while isinstance(cur, ast.BinOp):
                spine.append(cur)
                cur = cur.left
            acc = self.read(cur, depth + 1)
            for b in reversed(spine):
                op = _BINOPS.get(type(b.op))
                if op is None:
                    raise self.fail(f"operator {type(b.op).__name__} is not supported; use "
                                    "+ - * / ** @", b)
                right = self.read(b.right, depth + 1)
                try:
                    acc = op(acc, right)
                except (TypeError, ArithmeticError) as exc:  # e.g. a float overflow
                    raise self.fail(f"{type(exc).__name__}: {exc}", b) from None
                except LimitError as exc:
                    raise self.fail(str(exc), b) from None
            return acc
        if isinstance(node, ast.UnaryOp):
            if isinstance(node.op, ast.USub):
                return -self.read(node.operand, depth + 1)
            if isinstance(node.op, ast.UAdd):
                return +self.read(node.operand, depth + 1)
            raise self.fail(f"unary {type(node.op).__name__} is not supported; only - and +",
                            node)
        if isinstance(node, ast.Constant):
            v = node.value
            if isinstance(v, bool) or not isinstance(v, int | float):
                raise self.fail(f"literal {v!r} is not a real number", node)
            return E.as_expr(v)
        if isinstance(node, ast.Name):
            return self.name(node)
        if isinstance(node, ast.Attribute):
            if node.attr != "T":
                raise self.fail(f"attribute '.{node.attr}' is not allowed; only .T (transpose) "
                                "is", _After(node.value))
            return self.read(node.value, depth + 1).T
        if isinstance(node, ast.Call):
            return self.call(node, depth)
        what = _DESCRIBE.get(type(node), type(node).__name__)
        plural = what.split(" (")[0].endswith("s") and what != "await"
        raise self.fail(f"{what} {'are' if plural else 'is'} not part of the expression language",
                        node)

    def name(self, node: ast.Name) -> E.Expr:
        name = node.id
        if name in self.vars:
            return self.vars[name]
        if name not in self.shapes:
            if name in VOCABULARY:
                raise self.fail(f"{name!r} is a function; call it, e.g. {name}(x)", node)
            known = ", ".join(sorted(self.shapes)) or "none"
            raise self.fail(f"unknown name {name!r}; give its shape (variables with shapes: "
                            f"{known})", node)
        self.vars[name] = E.var(name, self.shapes[name])
        return self.vars[name]

    def call(self, node: ast.Call, depth: int) -> E.Expr:
        if not isinstance(node.func, ast.Name):
            raise self.fail("only the vocabulary's functions can be called, by name (e.g. "
                            "tanh(x))", node.func)
        fname = node.func.id
        fn = VOCABULARY.get(fname)
        if fn is None:
            raise self.fail(f"unknown function {fname!r}; known: {', '.join(sorted(VOCABULARY))}",
                            node.func)
        kwargs: dict[str, int] = {}
        for kw in node.keywords:
            if kw.arg != "axis" or fname not in _AXIS_FUNCTIONS:
                target = kw.value if kw.arg is None else kw
                allowed = "axis= (for sum, mean, softmax)"
                raise self.fail(f"keyword {kw.arg or '**'}= is not allowed in {fname}(); only "
                                f"{allowed}", target)
            kwargs["axis"] = self.axis_literal(kw.value)
        positional = list(node.args)
        if fname in _AXIS_FUNCTIONS and len(positional) == 2 and "axis" not in kwargs:
            kwargs["axis"] = self.axis_literal(positional.pop())  # numpy's sum(x, 0)
        args: list[Any] = []
        for k, a in enumerate(positional):
            if fname == "einsum" and k == 0:
                if not (isinstance(a, ast.Constant) and isinstance(a.value, str)):
                    raise self.fail('einsum needs its subscripts as a string first, e.g. '
                                    'einsum("ij,jk->ik", A, B)', a)
                args.append(a.value)
            else:
                args.append(self.read(a, depth + 1))
        try:
            return fn(*args, **kwargs)
        except (TypeError, LimitError) as exc:
            raise self.fail(str(exc), node) from None

    def axis_literal(self, v: ast.expr) -> int:
        """An ``axis`` argument: an integer literal, possibly negative."""
        sign, inner = 1, v
        if isinstance(inner, ast.UnaryOp) and isinstance(inner.op, ast.USub):
            sign, inner = -1, inner.operand
        if not (isinstance(inner, ast.Constant) and isinstance(inner.value, int)
                and not isinstance(inner.value, bool)):
            raise self.fail("axis takes an integer literal, e.g. sum(X, axis=0)", v)
        return sign * inner.value


class _After:
    """Points the caret just after a node (at the dot of an attribute)."""

    def __init__(self, node: ast.expr) -> None:
        self.col_offset = node.end_col_offset if node.end_col_offset is not None \
            else node.col_offset
