"""Shared subexpressions named once: notation text that grows linearly with the expression graph.

An expression graph shares its subexpressions (``norm(norm(x))`` reads ``norm(x)`` twice, its
derivative reads it in every factor), so text written by recursion repeats each shared part in
full and grows exponentially with depth. The renderers here (:mod:`.matrixtext`, the einsum
writer of :mod:`.notation`) give every rendered node a *token*; :meth:`Namer.finish` then inlines
each token used once or short, and names the others on lines before the result, as the notes
name intermediate quantities::

    u1 = norm(x)
    u2 = norm(u1)
    ...

A node is named when it appears at least twice and its inlined text is longer than
:data:`INLINE_LIMIT` characters (a softmax is always named ``p``, as the notes write it). Every
node's text is then its own template plus inlined text of bounded size per reference, so the
total is linear in the graph. Tokens are digests of their text, never of object identities or
array sizes, so the output is the same in every process.

Example:
    >>> namer = Namer(reserved={"x"})
    >>> inner = namer.token("norm(x)", 100)
    >>> outer = namer.token(f"norm({inner}) * {inner}", 60)
    >>> print(namer.finish(f"{outer} + {outer}"))
    u1 = norm(norm(x)) * norm(x)
    u1 + u1
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterable

__all__ = ["INLINE_LIMIT", "Namer"]

INLINE_LIMIT = 24
PREVIEW = 80
_OPEN, _BARE, _PAREN = "\x01", "\x02", "\x03"
_TOKEN = re.compile("\x01([0-9a-f]{16})([\x02\x03])")


class Namer:
    """Tokens for rendered subexpressions, expanded or named by :meth:`finish`.

    Args:
        reserved: names already taken (the expression's variables): names made here avoid them.
    """

    def __init__(self, reserved: Iterable[str] = ()) -> None:
        self.defs: dict[str, tuple[str, str]] = {}  # key -> (text, preferred name prefix)
        self.previews: dict[str, str] = {}  # key -> the start of its expanded text
        self.reserved = set(reserved)

    def token(self, text: str, prec: int, prefix: str = "u") -> str:
        """A token standing for ``text`` (of precedence ``prec``, kept to place parentheses)."""
        if _TOKEN.fullmatch(text):
            return text
        key = hashlib.blake2b(text.encode(), digest_size=8).hexdigest()
        if key not in self.defs:
            self.defs[key] = (text, prefix)
            self.previews[key] = self.preview(text)
        return f"{_OPEN}{key}{_BARE}"

    def preview(self, text: str) -> str:
        """The first :data:`PREVIEW` characters of ``text`` expanded: a key for sorting."""
        def sub(m: re.Match[str]) -> str:
            p = self.previews[m.group(1)]
            return f"({p})" if m.group(2) == _PAREN else p

        return _TOKEN.sub(sub, text)[:PREVIEW]

    @staticmethod
    def paren(text: str) -> str:
        """``text`` in parentheses, or, for a bare token, the token parenthesised if inlined."""
        m = _TOKEN.fullmatch(text)
        if m:
            return f"{_OPEN}{m.group(1)}{_PAREN}"
        return f"({text})"

    def definition(self, text: str) -> str:
        """The text a single token stands for (one level), or ``text`` itself."""
        m = _TOKEN.fullmatch(text)
        return self.defs[m.group(1)][0] if m else text

    @staticmethod
    def is_token(text: str) -> bool:
        """True when ``text`` is a single token."""
        return _TOKEN.fullmatch(text) is not None

    def finish(self, root: str) -> str:
        """The final text: named subexpressions on lines ``name = …`` before the result."""
        order: list[str] = []  # keys reachable from root, parents before children
        seen: set[str] = set()
        stack = [root]
        refs: dict[str, int] = {}
        while stack:
            text = stack.pop()
            for m in _TOKEN.finditer(text):
                key = m.group(1)
                refs[key] = refs.get(key, 0) + 1
                if key not in seen:
                    seen.add(key)
                    order.append(key)
                    stack.append(self.defs[key][0])
        # inlined lengths, children first (a child's key appears in its parent's text only)
        length: dict[str, int] = {}
        named: set[str] = set()
        for key in _children_first(order, self.defs):
            text, prefix = self.defs[key]
            n = len(text)
            for m in _TOKEN.finditer(text):
                k = m.group(1)
                n += (4 if k in named else length[k] + 2) - len(m.group(0))
            length[key] = n
            if refs[key] > 1 and (prefix == "p" or n > INLINE_LIMIT):
                named.add(key)
        names: dict[str, str] = {}
        lines: list[str] = []
        counters: dict[str, int] = {}
        expanded: dict[str, str] = {}

        def sub(m: re.Match[str]) -> str:
            key = m.group(1)
            if key in named:
                return names[key]
            return f"({expanded[key]})" if m.group(2) == _PAREN else expanded[key]

        for key in _children_first(order, self.defs):
            text, prefix = self.defs[key]
            body = _TOKEN.sub(sub, text)
            if key in named:
                names[key] = self._fresh(prefix, counters)
                lines.append(f"{names[key]} = {body}")
            else:
                expanded[key] = body
        return "\n".join([*lines, _TOKEN.sub(sub, root)])

    def _fresh(self, prefix: str, counters: dict[str, int]) -> str:
        while True:
            k = counters.get(prefix, 0) + 1
            counters[prefix] = k
            name = prefix if prefix == "p" and k == 1 else f"{prefix}{k}"
            if name not in self.reserved:
                return name


def _children_first(order: list[str], defs: dict[str, tuple[str, str]]) -> list[str]:
    """``order`` rearranged so each key comes after every key its text refers to."""
    done: set[str] = set()
    out: list[str] = []
    for start in order:
        stack = [(start, False)]
        while stack:
            key, expanded = stack.pop()
            if key in done:
                continue
            if expanded:
                done.add(key)
                out.append(key)
                continue
            stack.append((key, True))
            stack.extend((m.group(1), False) for m in _TOKEN.finditer(defs[key][0])
                         if m.group(1) not in done)
    return out
