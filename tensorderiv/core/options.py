"""Run-time options of tensorderiv (a leaf module), kept per context.

Each option has a process-wide default (``set_*``) and a per-context override (the ``with``
form), held in a :mod:`contextvars` variable: a ``with td.dense_limit(n):`` block in one thread or
asyncio task is not seen by another, and leaving the block restores exactly what was there, even
when blocks in different threads overlap. The options: the byte budget above which a compact
c-tensor refuses to materialise, and whether long work may show a progress bar.

Example:
    >>> import tensorderiv as td
    >>> td.get_dense_limit()
    1073741824
    >>> with td.dense_limit(10):
    ...     td.get_dense_limit()
    10
    >>> td.get_dense_limit()
    1073741824
"""

from __future__ import annotations

import contextvars
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Generic, TypeVar

from .errors import OptionError

__all__ = ["Option", "dense_limit", "get_dense_limit", "get_progress", "progress",
           "set_dense_limit", "set_progress"]

T = TypeVar("T")
_UNSET = object()


class Option(Generic[T]):
    """One setting: a process-wide default and a per-context override.

    Args:
        name: the option's name, used in error messages.
        default: the process-wide default.
        check: validates and normalises a new value (raises :class:`OptionError` when it is bad).
    """

    def __init__(self, name: str, default: T, check: Callable[[object], T]) -> None:
        self.name, self._check = name, check
        self._default = check(default)
        self._lock = threading.Lock()
        self._var: contextvars.ContextVar[object] = contextvars.ContextVar(
            f"tensorderiv.{name}", default=_UNSET)

    def get(self) -> T:
        """The value in force here: this context's override, else the process-wide default."""
        value = self._var.get()
        return self._default if value is _UNSET else value  # type: ignore[return-value]

    def set_default(self, value: object) -> None:
        """Change the process-wide default (seen by every context without an override)."""
        checked = self._check(value)
        with self._lock:
            self._default = checked

    @contextmanager
    def override(self, value: object) -> Iterator[None]:
        """Use ``value`` in this context (thread, task) until the block ends."""
        token = self._var.set(self._check(value))
        try:
            yield
        finally:
            self._var.reset(token)


def _positive_bytes(nbytes: object) -> int:
    try:
        value = int(nbytes)  # type: ignore[call-overload]
    except (TypeError, ValueError):
        value = 0
    if isinstance(nbytes, bool) or value <= 0 or value != nbytes:
        raise OptionError(
            f"the dense limit must be a positive whole number of bytes, got {nbytes!r}")
    return value


DENSE_LIMIT: Option[int] = Option("dense_limit", 1 << 30, _positive_bytes)  # bytes; 1 GiB


def get_dense_limit() -> int:
    """Return the byte budget for materialising a full (dense) c-tensor, in this context."""
    return DENSE_LIMIT.get()


def set_dense_limit(nbytes: int) -> None:
    """Set the process-wide byte budget for materialising a full c-tensor (default 1 GiB)."""
    DENSE_LIMIT.set_default(nbytes)


@contextmanager
def dense_limit(nbytes: int) -> Iterator[None]:
    """Set the dense budget for this thread or task only, restoring it on exit."""
    with DENSE_LIMIT.override(nbytes):
        yield


PROGRESS: Option[bool] = Option("progress", True, bool)  # bars for long work, when interactive


def get_progress() -> bool:
    """Whether long work may show a progress bar (only ever in a terminal or a notebook).

    Example:
        >>> import tensorderiv as td
        >>> td.get_progress()
        True
    """
    return PROGRESS.get()


def set_progress(enabled: bool) -> None:
    """Allow (True, the default) or forbid progress bars for long work, process-wide.

    Example:
        >>> import tensorderiv as td
        >>> td.set_progress(False); td.get_progress()
        False
        >>> td.set_progress(True)
    """
    PROGRESS.set_default(enabled)


@contextmanager
def progress(enabled: bool = True) -> Iterator[None]:
    """Allow or forbid progress bars in this thread or task (``with td.progress(False): ...``).

    Example:
        >>> import tensorderiv as td
        >>> with td.progress(False):
        ...     td.get_progress()
        False
        >>> td.get_progress()
        True
    """
    with PROGRESS.override(enabled):
        yield
