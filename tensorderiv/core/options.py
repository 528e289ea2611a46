"""Run-time options of tensorderiv (a leaf module).

The byte budget above which a compact c-tensor refuses to materialise, and whether long work
may show a progress bar.

Example:
    >>> import tensorderiv as td
    >>> td.get_dense_limit()
    1073741824
    >>> with td.dense_limit(10):
    ...     td.get_dense_limit()
    10
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

__all__ = ["dense_limit", "get_dense_limit", "get_progress", "progress", "set_dense_limit",
           "set_progress"]

_DENSE_LIMIT = [1 << 30]  # bytes; 1 GiB by default


def get_dense_limit() -> int:
    """Return the byte budget for materialising a full (dense) c-tensor."""
    return _DENSE_LIMIT[0]


def set_dense_limit(nbytes: int) -> None:
    """Set the byte budget for materialising a full c-tensor (default 1 GiB)."""
    if int(nbytes) <= 0:
        raise ValueError(f"the dense limit must be a positive number of bytes, got {nbytes!r}")
    _DENSE_LIMIT[0] = int(nbytes)


@contextmanager
def dense_limit(nbytes: int) -> Iterator[None]:
    """Temporarily set the dense budget, restoring the previous value on exit."""
    previous = get_dense_limit()
    set_dense_limit(nbytes)
    try:
        yield
    finally:
        _DENSE_LIMIT[0] = previous


_PROGRESS = [True]  # progress bars for long work (core/progress.py), when interactive


def get_progress() -> bool:
    """Whether long work may show a progress bar (only ever in a terminal or a notebook).

    Example:
        >>> import tensorderiv as td
        >>> td.get_progress()
        True
    """
    return _PROGRESS[0]


def set_progress(enabled: bool) -> None:
    """Allow (True, the default) or forbid progress bars for long work.

    Example:
        >>> import tensorderiv as td
        >>> td.set_progress(False); td.get_progress()
        False
        >>> td.set_progress(True)
    """
    _PROGRESS[0] = bool(enabled)


@contextmanager
def progress(enabled: bool = True) -> Iterator[None]:
    """Temporarily allow or forbid progress bars (``with td.progress(False): ...``).

    Example:
        >>> import tensorderiv as td
        >>> with td.progress(False):
        ...     td.get_progress()
        False
        >>> td.get_progress()
        True
    """
    previous = get_progress()
    set_progress(enabled)
    try:
        yield
    finally:
        _PROGRESS[0] = previous
