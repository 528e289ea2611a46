"""The command line: ``tensorderiv derive`` and ``tensorderiv demo``.

Commands::

    tensorderiv derive EXPR --wrt NAME --shape NAME=SIZES ... [--order K]
                       [--at SEED | --at FILE.npz] [--format text|latex|json]
                       [--layout notes|numerator] [--max-entries N]
    tensorderiv demo [--seed N]

``derive`` prints the derivative's symbolic matrix form where one is known, its structure, the
c-tensor's labelled axes and full shape, and the contraction it evaluates; with ``--at`` also the
numbers (the notes' collapsed form, and the full tensor when it is small) and a central
finite-difference check of them. ``--wrt`` may be repeated for a mixed derivative (the first
named is the outermost differentiation, its axes come first). How ``--at SEED`` draws values and
how ``--at FILE.npz`` is read: :mod:`tensorderiv.cli.values`. The JSON fields:
:mod:`tensorderiv.cli.render` (schema ``tensorderiv.derive/1``) and ``docs/cli.md``.

The expression is read by :func:`tensorderiv.parse` (Python's ``ast``, never ``eval``):
text outside the language is refused before anything runs.

Exit status: 0 on success; 1 when a finite-difference check fails; 2 for bad input (a parse
error, unknown flags, malformed or mismatched shapes, a ``--wrt`` that is not in the
expression, an unreadable or wrong ``.npz``, values outside a function's domain, an expression
nested deeper than :data:`~tensorderiv.symbolic.limits.MAX_DEPTH` or an ``--order`` above
:data:`~tensorderiv.symbolic.limits.MAX_ORDER`), with one line
on stderr (a parse error adds the expression and a caret under the offending column).

Work that takes more than about a second shows a progress line on stderr when stderr is a
terminal, and nothing otherwise.

Example:
    >>> from tensorderiv.cli.app import main
    >>> main(["derive", "sum(x * x)", "--wrt", "y", "--shape", "x=2"])   # the message: stderr
    2
"""

from __future__ import annotations

import argparse
import os
import re
import sys
import threading
import time
from collections.abc import Sequence
from importlib import metadata
from typing import IO, Any, NoReturn

import numpy as np

from ..core.errors import DomainError, ParseError, ShapeError, TensorDerivError, ValuesError
from ..symbolic.derivative import derive
from ..symbolic.expr import var
from ..symbolic.limits import MAX_DEPTH, MAX_ORDER
from .demo import run_demo
from .render import render_json, render_latex, render_text
from .report import build_report
from .values import load_values, parse_shape, seed_values

__all__ = ["PROGRESS_DELAY", "Progress", "build_parser", "main"]

PROGRESS_DELAY = 1.0
"""Seconds of work after which a progress line appears (on a terminal)."""

_RENDER = {"text": render_text, "latex": render_latex, "json": render_json}
_MAX_ENTRIES = {"text": 200, "latex": 200, "json": 100_000}

_DERIVE_EXAMPLES = f"""\
examples:
  tensorderiv derive "x.T @ A @ x" --wrt x --shape x=3 --shape A=3x3 --at 0
  tensorderiv derive "sum(tanh(W.T @ a))" --wrt W --shape W=3x2 --shape a=3
  tensorderiv derive "logdet(S)" --wrt S --shape S=2x2 --at 7 --format latex
  tensorderiv derive "x.T @ A @ x" --wrt x --order 2 --shape x=3 --shape A=3x3 --at 0
  tensorderiv derive "s * sum(x)" --wrt s --wrt x --shape s= --shape x=2 --at vals.npz

shapes: x=3 (a vector), W=3x2 (a matrix), s= or s=() (a scalar).
limits: expressions nested at most {MAX_DEPTH} levels deep, --order at most {MAX_ORDER}.
--at SEED draws standard normal values (positive under log/sqrt/fractional powers,
diagonally dominant under inv/det/logdet); --at FILE.npz reads numpy.savez arrays by name.
An expression that starts with "-" goes after "--": derive --wrt x --shape x=2 -- "-x".
exit status: 0 ok, 1 finite-difference check failed, 2 bad input."""

_DEMO_EXAMPLES = """\
example:
  tensorderiv demo --seed 3

Walks the lecture notes' A.9 network: Z = W.T @ A0, A1 = tanh(Z), L = sum(square(A1 - y)) / 2.
Each local derivative is shown full and collapsed, the chain rule dL/dW = A0 (dL/dZ).T is
assembled, and the result is checked against finite differences."""


class _ParserExitError(Exception):
    """Raised instead of ``sys.exit`` so that :func:`main` returns a status."""

    def __init__(self, status: int, message: str = "") -> None:
        super().__init__(message)
        self.status = status
        self.message = message


class _Parser(argparse.ArgumentParser):
    """argparse, with its errors as one line (exit status 2) and no ``sys.exit``."""

    def error(self, message: str) -> NoReturn:
        raise _ParserExitError(2, f"{self.prog}: error: {message} (see {self.prog} --help)")

    def exit(self, status: int = 0, message: str | None = None) -> NoReturn:
        raise _ParserExitError(status, (message or "").strip())


def _positive_int(text: str) -> int:
    if not re.fullmatch(r"\s*\d+\s*", text) or int(text) < 1:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {text!r}")
    return int(text)


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of the ``tensorderiv`` command.

    Example:
        >>> build_parser().parse_args(["derive", "sum(x)", "--wrt", "x", "--shape", "x=2"]).order
        1
    """
    parser = _Parser(prog="tensorderiv", allow_abbrev=False,
                     description="Matrix and tensor derivatives in the lecture notes' layout.",
                     epilog="example:\n  tensorderiv derive \"x.T @ A @ x\" --wrt x --shape x=3 "
                            "--shape A=3x3 --at 0\n  tensorderiv demo",
                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--version", action="version", version=f"tensorderiv {_version()}")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    d = commands.add_parser(
        "derive", allow_abbrev=False, help="differentiate an expression",
        description="Differentiate EXPR with respect to a variable; print the derivative's\n"
                    "matrix form, structure, axes and contraction and, with --at, its numbers\n"
                    "checked against finite differences.",
        epilog=_DERIVE_EXAMPLES, formatter_class=argparse.RawDescriptionHelpFormatter)
    d.add_argument("expression", metavar="EXPR",
                   help="the expression, e.g. \"x.T @ A @ x\" (quote it for the shell)")
    d.add_argument("--wrt", action="append", required=True, metavar="NAME",
                   help="the variable to differentiate against; repeat for a mixed derivative")
    d.add_argument("--shape", action="append", default=[], metavar="NAME=SIZES",
                   help="a variable's shape: x=3, W=3x2, s= (scalar); once per variable")
    d.add_argument("--order", type=_positive_int, default=1, metavar="K",
                   help=f"differentiate K times (default 1, at most {MAX_ORDER})")
    d.add_argument("--at", metavar="SEED|FILE.npz",
                   help="evaluate at seeded random values or at the arrays of a .npz file")
    d.add_argument("--format", choices=tuple(_RENDER), default="text",
                   help="output format (default text); json is schema tensorderiv.derive/1")
    d.add_argument("--layout", choices=("notes", "numerator"), default="notes",
                   help="axis order of the full tensor: notes (variable's axes first, the "
                        "default) or numerator (the output's first, as JAX/PyTorch)")
    d.add_argument("--max-entries", type=_positive_int, metavar="N",
                   help="write out arrays of at most N entries (default 200; 100,000 for "
                        "json)")
    d.set_defaults(run=_run_derive)
    m = commands.add_parser(
        "demo", allow_abbrev=False, help="walk the notes' A.9 neural-network example",
        description="The notes' A.9 network, derivative by derivative, with the chain rule\n"
                    "assembled and checked.",
        epilog=_DEMO_EXAMPLES, formatter_class=argparse.RawDescriptionHelpFormatter)
    m.add_argument("--seed", type=int, default=0, help="seed of the values (default 0)")
    m.set_defaults(run=_run_demo)
    return parser


def _version() -> str:
    try:
        return metadata.version("tensorderiv")
    except metadata.PackageNotFoundError:  # run from a source tree that is not installed
        return "(not installed)"


def _shapes(specs: Sequence[str]) -> dict[str, tuple[int, ...]]:
    shapes: dict[str, tuple[int, ...]] = {}
    for spec in specs:
        name, shape = parse_shape(spec)
        if name in shapes:
            raise ShapeError(f"--shape {spec!r}: {name!r} was given a shape already "
                             f"({'×'.join(map(str, shapes[name])) or 'scalar'})")
        shapes[name] = shape
    return shapes


def _run_derive(args: argparse.Namespace, out: IO[str], err: IO[str]) -> int:
    shapes = _shapes(args.shape)
    if len(args.wrt) > 1 and args.order != 1:
        raise ValuesError("give either several --wrt (a mixed derivative) or --order, not both")
    wrt: Any = tuple(args.wrt) if len(args.wrt) > 1 else args.wrt[0]
    derivative = derive(args.expression, wrt, shapes=shapes, order=args.order)
    unused = sorted(set(shapes) - {*derivative.of.declared, *(n for n, _ in derivative.wrt)})
    if unused:
        raise ShapeError(f"--shape given for {', '.join(map(repr, unused))}, which "
                         f"{derivative.of.text!r} does not use")
    values = None
    if args.at is not None:
        at = args.at.strip()
        if re.fullmatch(r"[+-]?\d+", at):
            values = seed_values(derivative.of, int(at))
            for name, shape in derivative.wrt:  # declared, unused: the derivative is zero
                if name not in values.arrays:
                    values.arrays[name] = seed_values(var(name, shape), int(at)).arrays[name]
                    if values.drawn is not None:
                        values.drawn[name] = "standard normal (not used: the derivative is 0)"
        else:
            values = load_values(args.at, derivative.variables_allowed)
    try:
        with Progress(err) as progress:
            report = build_report(derivative, values, layout=args.layout,
                                  max_entries=args.max_entries or _MAX_ENTRIES[args.format],
                                  progress=progress)
    except DomainError as exc:
        if values is None or values.source != "seed":
            raise
        raise DomainError(f"{exc} (at the values drawn from seed {values.seed}; give values "
                          "that fit with --at FILE.npz)") from None
    out.write(_RENDER[args.format](report))
    return 1 if report.check is not None and report.check.passed is False else 0


def _run_demo(args: argparse.Namespace, out: IO[str], err: IO[str]) -> int:
    with Progress(err):
        return run_demo(args.seed, out)


def _one_line(exc: BaseException) -> str:
    """The error's message on one line; a parse error keeps its expression and caret lines."""
    text = str(exc) or type(exc).__name__
    if isinstance(exc, ParseError):
        return text
    return " ".join(part.strip() for part in text.splitlines() if part.strip())


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line with ``argv`` (default ``sys.argv[1:]``); return the exit status.

    Example:
        >>> main(["derive", "x", "--wrt", "x", "--shape", "x=2", "--format", "json"])
        ... # doctest: +ELLIPSIS
        {
          "schema": "tensorderiv.derive/1",
        ...
        0
    """
    out, err = sys.stdout, sys.stderr
    try:
        args = build_parser().parse_args(argv)
        # numpy's RuntimeWarnings would print internal paths; every result is checked for
        # finiteness and every domain by the engine, which says what went wrong in our words
        with np.errstate(all="ignore"):
            return args.run(args, out, err)
    except _ParserExitError as exc:
        if exc.message:
            print(exc.message, file=err if exc.status else out)
        return exc.status
    except (TensorDerivError, ValueError, TypeError, MemoryError, RecursionError) as exc:
        print(f"tensorderiv: error: {_one_line(exc)}", file=err)
        return 2
    except BrokenPipeError:  # the reader went away (| head): stop quietly
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return 0


class Progress:
    """A progress line on ``stream`` for work that outlasts ``delay`` seconds.

    Nothing is written unless ``stream.isatty()``; the line is erased when the work ends. Call
    the object with a short label to say what is being done.

    Example:
        >>> import io
        >>> quiet = io.StringIO()           # not a terminal
        >>> with Progress(quiet, delay=0.0) as say:
        ...     say("evaluating")
        ...     time.sleep(0.05)
        >>> quiet.getvalue()
        ''
    """

    def __init__(self, stream: IO[str], delay: float | None = None, interval: float = 0.2,
                 label: str = "working") -> None:
        self.stream = stream
        self.delay = PROGRESS_DELAY if delay is None else delay
        self.interval = interval
        self.label = label
        self.shown = False
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._start = 0.0

    def __call__(self, label: str) -> None:
        """Say what is being done now (shown on the next refresh)."""
        self.label = label

    def __enter__(self) -> Progress:
        self._start = time.monotonic()
        if _is_terminal(self.stream):
            self._thread = threading.Thread(target=self._run, name="tensorderiv-progress",
                                            daemon=True)
            self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join()
        if self.shown:
            self.stream.write("\r\033[K")
            self.stream.flush()

    def _run(self) -> None:
        if self._stop.wait(self.delay):
            return
        frames = "|/-\\"
        k = 0
        while True:
            elapsed = time.monotonic() - self._start
            self.stream.write(f"\r\033[K{frames[k % 4]} {self.label} ({elapsed:.1f} s)")
            self.stream.flush()
            self.shown = True
            k += 1
            if self._stop.wait(self.interval):
                return


def _is_terminal(stream: IO[str]) -> bool:
    try:
        return bool(stream.isatty())
    except (AttributeError, ValueError):  # no isatty, or a closed stream
        return False
