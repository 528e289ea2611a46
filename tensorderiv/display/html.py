"""Small HTML and LaTeX pieces of the rich displays: tables, array previews, math (a leaf).

Everything user-given is escaped; arrays are summarised (numpy's own summary past
:data:`PREVIEW_ENTRIES` entries), never dumped.

Example:
    >>> table(["axis", "size"], [["x<0>", 3]])[-61:]
    '<tbody><tr><td>x&lt;0&gt;</td><td>3</td></tr></tbody></table>'
    >>> preview(__import__("numpy").arange(100.0)).splitlines()[0]
    '[ 0.  1.  2. ... 97. 98. 99.]'
"""

from __future__ import annotations

import html
from collections.abc import Iterable, Sequence
from typing import Any

import numpy as np

__all__ = ["PREVIEW_ENTRIES", "block", "bmatrix", "math", "number", "pre", "preview", "table"]

#: arrays with more entries than this are summarised (first and last few along each axis)
PREVIEW_ENTRIES = 64
_STYLE = ("<style>.td-repr{border-collapse:collapse;font-size:90%;margin:2px 0}"
          ".td-repr th,.td-repr td{padding:1px 8px;text-align:left;border-bottom:1px solid #ddd}"
          ".td-box{font-family:sans-serif}.td-box pre{margin:2px 0}</style>")


def table(header: Sequence[str], rows: Iterable[Sequence[Any]]) -> str:
    """A compact HTML table, every cell escaped."""
    head = "".join(f"<th>{html.escape(str(h))}</th>" for h in header)
    body = "".join("<tr>" + "".join(f"<td>{html.escape(str(c))}</td>" for c in row) + "</tr>"
                   for row in rows)
    return (f'<table class="td-repr"><thead><tr>{head}</tr></thead>'
            f"<tbody>{body}</tbody></table>")


def preview(a: Any) -> str:
    """The array as numpy prints it, summarised past :data:`PREVIEW_ENTRIES` entries."""
    return np.array2string(np.asarray(a), precision=4, threshold=PREVIEW_ENTRIES, edgeitems=3)


def math(latex: str | None) -> str:
    """Display math for MathJax (``$$…$$``), or nothing."""
    return f"<div>$${latex}$$</div>" if latex else ""


def block(title: str, parts: Iterable[str]) -> str:
    """The whole display: a bold title line, then the parts (already HTML)."""
    return (f'{_STYLE}<div class="td-box"><b>{html.escape(title)}</b>'
            + "".join(parts) + "</div>")


def pre(text: str) -> str:
    """Preformatted text, escaped."""
    return f"<pre>{html.escape(text)}</pre>"


def number(x: float) -> str:
    r"""A number for LaTeX: ``1.5``, ``2.2 \cdot 10^{-16}``."""
    text = f"{float(x):.3g}"
    if "e" in text:
        mant, exp = text.split("e")
        return rf"{mant} \cdot 10^{{{int(exp)}}}"
    return text


def bmatrix(a: Any, limit: int = 8) -> str:
    r"""A small array as a LaTeX ``bmatrix``; a larger one (or rank > 2) as ``\in\mathbb{R}^{…}``.

    Example:
        >>> bmatrix([[1.0, 0.0], [0.0, 2.5]]), bmatrix(__import__("numpy").zeros((3, 9, 2)))
        ('\\begin{bmatrix}1 & 0 \\\\ 0 & 2.5\\end{bmatrix}', '\\in\\mathbb{R}^{3\\times9\\times2}')
    """
    a = np.asarray(a)
    if a.ndim == 0:
        return number(float(np.real(a)))
    if a.ndim > 2 or max(a.shape) > limit:
        return r"\in\mathbb{R}^{" + r"\times".join(str(n) for n in a.shape) + "}"
    rows = [" & ".join(number(float(np.real(v))) for v in row) for row in np.atleast_2d(a)]
    return r"\begin{bmatrix}" + r" \\ ".join(rows) + r"\end{bmatrix}"
