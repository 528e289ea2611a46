"""Run-time options of tensorderiv (a leaf module).

Only one option so far: the byte budget above which a compact c-tensor refuses to materialise.

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

__all__ = ["dense_limit", "get_dense_limit", "set_dense_limit"]

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
