"""The error hierarchy of tensorderiv (a leaf module).

Every error a user can meet derives from :class:`TensorDerivError`, and each also derives from
the builtin a Python user would expect (``ValueError``, ``KeyError`` …), so ``except ValueError``
keeps working. Messages name the user's variables, shapes and the rule that was broken.
"""

from __future__ import annotations

__all__ = [
    "ArgumentError",
    "DenseLimitError",
    "DomainError",
    "LabelError",
    "LimitError",
    "OptionError",
    "ParseError",
    "ShapeError",
    "StructureError",
    "TensorDerivError",
    "ValuesError",
]


class TensorDerivError(Exception):
    """Base class of every error raised by tensorderiv."""


class ShapeError(TensorDerivError, ValueError):
    """Sizes that do not fit together (inner sizes of a product, a shared label, a value)."""


class LabelError(TensorDerivError, KeyError):
    """An axis label that is unknown, duplicated or otherwise misused."""

    def __str__(self) -> str:  # KeyError would quote the message; show it plainly.
        return str(self.args[0]) if self.args else ""


class ParseError(TensorDerivError, ValueError):
    """Text that is not an expression of tensorderiv's language; the message shows a caret."""

    def __init__(self, message: str, text: str = "", column: int | None = None) -> None:
        self.text = text
        self.column = column
        if text and column is not None:
            first_line = text.splitlines()[0] if text.splitlines() else text
            shown = first_line if len(first_line) <= 120 else first_line[:117] + "..."
            caret = " " * min(column, len(shown)) + "^"
            message = f"{message}\n  {shown}\n  {caret}"
        super().__init__(message)


class ValuesError(TensorDerivError, ValueError):
    """Missing, extra, wrongly shaped or non-finite values given for evaluation."""


class DomainError(TensorDerivError, ValueError):
    """A function evaluated outside its domain (log of a non-positive entry, a singular inv)."""


class DenseLimitError(TensorDerivError, MemoryError):
    """Materialising a c-tensor would exceed the configured dense budget."""


class StructureError(TensorDerivError, ValueError):
    """A structure was asked for that the tensor does not have, or axes were described wrongly."""


class LimitError(TensorDerivError, ValueError):
    """A documented limit was exceeded: nesting depth, derivative order or a size budget.

    The message names the limit, its value and the constant that holds it.
    """


class OptionError(TensorDerivError, ValueError):
    """A setting or argument given a value it cannot take.

    For example a dense limit that is not a positive byte count, an unknown layout, an empty
    ``wrt``.
    """


class ArgumentError(TensorDerivError, TypeError):
    """An argument of the wrong kind.

    For example a string where an expression is needed, a c-tensor where an expression is, or a
    truth value asked of an expression.
    """
