"""Rich display hooks: lower classes ask a registry for their text, HTML and LaTeX (a leaf).

Classes of the lower layers (:class:`~tensorderiv.CTensor`, ``Expr``, ``MatrixForm`` …) inherit
:class:`Rendered`, whose ``__repr__``, ``_repr_html_`` and ``_repr_latex_`` (the IPython display
protocol) look up a renderer registered under the class's name — or a base class's name — by
:mod:`tensorderiv.display` when the package is imported. The lower layers never import the
display code; with nothing registered, ``_repr_html_`` and ``_repr_latex_`` return ``None`` (IPython
then shows the plain text) and ``__repr__`` a bare ``<ClassName>``.

Example:
    >>> from tensorderiv.core.renderers import Rendered, register_renderer
    >>> class Thing(Rendered):
    ...     pass
    >>> Thing()._repr_html_() is None
    True
    >>> register_renderer("Thing", text=lambda t: "a thing", html=lambda t: "<b>a thing</b>")
    >>> Thing(), Thing()._repr_html_()
    (a thing, '<b>a thing</b>')
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Literal

__all__ = ["Kind", "Rendered", "register_renderer", "render"]

Kind = Literal["text", "html", "latex"]
_RENDERERS: dict[tuple[str, str], Callable[[Any], str | None]] = {}


def register_renderer(class_name: str, *, text: Callable[[Any], str | None] | None = None,
                      html: Callable[[Any], str | None] | None = None,
                      latex: Callable[[Any], str | None] | None = None) -> None:
    """Install the renderers of one class (by name; subclasses without their own inherit them)."""
    for kind, fn in (("text", text), ("html", html), ("latex", latex)):
        if fn is not None:
            _RENDERERS[(class_name, kind)] = fn


def render(obj: Any, kind: Kind) -> str | None:
    """The registered rendering of ``obj`` (found along its class's MRO), or None."""
    for cls in type(obj).__mro__:
        fn = _RENDERERS.get((cls.__name__, kind))
        if fn is not None:
            return fn(obj)
    return None


class Rendered:
    """Mixin: ``repr``, ``_repr_html_`` and ``_repr_latex_`` drawn by the registered renderers."""

    __slots__ = ()

    def __repr__(self) -> str:
        text = render(self, "text")
        return text if text is not None else f"<{type(self).__name__}>"

    def _repr_html_(self) -> str | None:
        return render(self, "html")

    def _repr_latex_(self) -> str | None:
        return render(self, "latex")
