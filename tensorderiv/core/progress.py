"""Progress bars for long work: shown after about a second, in a terminal or a notebook only.

:func:`track` wraps the loop of a long computation (evaluating a program node by node, deriving
order by order, the function evaluations of a finite-difference check); :class:`Progress` is the
same for work counted by hand (``bar.update()``). Nothing is drawn until the work has taken
:data:`DELAY` seconds, so quick calls cost a clock reading per step and never draw. Then a bar
is drawn with tqdm (the ``progress`` extra, imported lazily: without it the work stays silent),
as a widget in a notebook (when ipywidgets is installed) or as text on the terminal's stderr. It
stays silent when the output is neither a terminal nor a notebook (a log file, CI), and when
progress is switched off: ``td.set_progress(False)`` or ``with td.progress(False): ...``.

Example:
    >>> from tensorderiv.core.progress import track
    >>> [k * k for k in track(range(4), desc="squaring")]   # fast: nothing is drawn
    [0, 1, 4, 9]
"""

from __future__ import annotations

import importlib.util
import sys
import time
from collections.abc import Iterable, Iterator
from typing import Any, TextIO, TypeVar

from .optional import require
from .options import get_progress

__all__ = ["DELAY", "Progress", "interactive", "track"]

#: seconds of work before a bar is drawn
DELAY = 1.0

T = TypeVar("T")


def _in_notebook() -> bool:
    shell = sys.modules.get("IPython")
    get = getattr(shell, "get_ipython", None)
    ip = get() if get is not None else None
    return ip is not None and type(ip).__name__ == "ZMQInteractiveShell"


def interactive(stream: TextIO | None = None) -> bool:
    """True in a Jupyter kernel, or when ``stream`` (default: stderr) is a terminal."""
    stream = sys.stderr if stream is None else stream
    isatty = getattr(stream, "isatty", None)
    try:
        tty = bool(isatty()) if isatty is not None else False
    except ValueError:  # a closed stream
        tty = False
    return tty or _in_notebook()


class Progress:
    """A progress count that draws a bar only once the work has taken :data:`DELAY` seconds.

    Args:
        total: how many steps the work has (None when unknown).
        desc: what is being done, shown before the bar.
        stream: where a text bar goes (default: ``sys.stderr`` at the time of drawing).
        delay: seconds before drawing (default :data:`DELAY`).

    Example:
        >>> bar = Progress(3, "work")
        >>> for _ in range(3):
        ...     bar.update()
        >>> bar.n, bar.bar is None      # quick: no bar was drawn
        (3, True)
        >>> bar.close()
    """

    __slots__ = ("_start", "bar", "delay", "desc", "n", "off", "stream", "total")

    def __init__(self, total: int | None = None, desc: str = "", *,
                 stream: TextIO | None = None, delay: float | None = None) -> None:
        self.total = total
        self.desc = desc
        self.stream = stream
        self.delay = DELAY if delay is None else float(delay)
        self.n = 0
        self.bar: Any = None
        self.off = not get_progress()  # decided once: a bar never appears half-way if off
        self._start = time.perf_counter()

    def update(self, n: int = 1) -> None:
        """Count ``n`` more steps done; draw or advance the bar when due."""
        self.n += n
        if self.bar is not None:
            self.bar.update(n)
        elif not self.off and time.perf_counter() - self._start >= self.delay:
            self._open()

    def _open(self) -> None:
        self.off = True  # one attempt only
        stream = sys.stderr if self.stream is None else self.stream
        if importlib.util.find_spec("tqdm") is None or not interactive(stream):
            return
        notebook = self.stream is None and _in_notebook()
        if notebook and importlib.util.find_spec("ipywidgets") is not None:
            tqdm = require("tqdm.notebook", "progress").tqdm
        else:
            tqdm = require("tqdm", "progress").tqdm
        self.bar = tqdm(total=self.total, initial=self.n, desc=self.desc, file=stream,
                        leave=False, dynamic_ncols=True)

    def set_total(self, total: int) -> None:
        """Say how many steps there are, once known (the bar, if drawn, shows it)."""
        self.total = int(total)
        if self.bar is not None:
            self.bar.total = self.total
            self.bar.refresh()

    def close(self) -> None:
        """Remove the bar, if one was drawn (safe to call twice)."""
        if self.bar is not None:
            self.bar.close()
            self.bar = None
        self.off = True

    def __enter__(self) -> Progress:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def track(items: Iterable[T], total: int | None = None, desc: str = "") -> Iterator[T]:
    """Yield ``items``, drawing a :class:`Progress` bar if the loop takes long.

    ``total`` defaults to ``len(items)`` when it has one. With progress switched off the items
    are yielded as they are; a quick loop costs a clock reading per item.
    """
    if not get_progress():
        yield from items
        return
    clock = time.perf_counter
    start, done = clock(), 0
    iterator = iter(items)
    for item in iterator:
        yield item
        done += 1
        if clock() - start >= DELAY:
            break
    else:
        return
    if total is None and hasattr(items, "__len__"):
        total = len(items)  # type: ignore[arg-type]
    with Progress(total, desc, delay=0.0) as bar:
        bar.update(done)
        for item in iterator:
            yield item
            bar.update()
