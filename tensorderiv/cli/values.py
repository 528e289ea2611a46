"""The command line's inputs: ``--shape`` specifications and the values of ``--at``.

``--shape NAME=SIZES`` gives a variable's shape: ``x=3`` a vector, ``W=3x2`` a matrix (``3,2``
and ``(3, 2)`` are read too), ``s=`` or ``s=()`` a scalar.

``--at SEED`` draws the values with ``numpy.random.default_rng(SEED)``: the variables in sorted
name order, each ``rng.standard_normal(shape)``, then adjusted where a function needs it:

* a variable under ``log``, ``sqrt``, a negative or fractional power (including a division) is
  drawn as ``|N(0, 1)| + 0.5``, so it is positive and away from zero;
* a square matrix under ``inv``, ``det`` or ``logdet`` has its absolute row sums plus one added to
  its diagonal: strictly diagonally dominant with a positive diagonal, it is invertible and has
  a positive determinant (Gershgorin), and it is not symmetric, so transposes still show.

A variable merely *inside* such an argument (``log(1 - x)``) is adjusted the same way, which may
not be enough; give the values in a file then. ``--at FILE.npz`` reads one array per variable
name (``numpy.savez``), without unpickling anything; every value is used as float64, and an
array for a name the expression does not use is an error (as a value given to
:meth:`~tensorderiv.Derivative.evaluate` for such a name is).

Example:
    >>> from tensorderiv.cli.values import parse_shape
    >>> parse_shape("W=3x2"), parse_shape("s="), parse_shape("x=(3,)")
    (('W', (3, 2)), ('s', ()), ('x', (3,)))
"""

from __future__ import annotations

import keyword
import math
import re
import zipfile
from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np

from ..core.errors import ShapeError, ValuesError
from ..symbolic.expr import Expr
from ..symbolic.functions import FUNCTIONS
from ..symbolic.nodes import Apply, Node, Var
from ..symbolic.parse import VOCABULARY

__all__ = ["MAX_ENTRIES", "Values", "load_values", "parse_shape", "seed_values"]

MAX_ENTRIES = 100_000_000
"""The most entries one variable may have on the command line."""

_SPLIT = re.compile(r"\s*[x×X,]\s*")
_SQUARE_UNDER = frozenset({"inv", "det", "logdet"})


@dataclass(frozen=True)
class Values:
    """The values an evaluation runs at, and where they came from.

    Attributes:
        arrays: variable name → float64 array.
        source: ``"seed"`` or ``"file"``.
        seed: the seed, for ``source == "seed"``.
        path: the file, for ``source == "file"``.
        drawn: for seeded values, variable name → how it was drawn (``"standard normal"`` …).
    """

    arrays: dict[str, np.ndarray]
    source: str
    seed: int | None = None
    path: str | None = None
    drawn: dict[str, str] | None = None


def parse_shape(spec: str) -> tuple[str, tuple[int, ...]]:
    """Read one ``--shape`` argument, ``NAME=SIZES``.

    Raises:
        ShapeError: for a malformed specification, a name that cannot be a variable, or a size
            that is not a positive integer.

    Example:
        >>> parse_shape("x=3")
        ('x', (3,))
        >>> parse_shape("W=3y2")  # doctest: +ELLIPSIS
        Traceback (most recent call last):
        ...
        tensorderiv.core.errors.ShapeError: --shape 'W=3y2': size '3y2' is not a positive
        integer; ...
    """
    how = "write sizes as 3x2 (a matrix), 3 (a vector) or nothing (a scalar, s=)"
    if "=" not in spec:
        raise ShapeError(f"--shape {spec!r}: expected NAME=SIZES, e.g. x=3, W=3x2 or s= (a "
                         "scalar)")
    name, _, sizes = spec.partition("=")
    name = name.strip()
    if not name.isidentifier() or keyword.iskeyword(name) or not name.isascii():
        raise ShapeError(f"--shape {spec!r}: {name!r} is not a variable name (letters, digits "
                         "and _, not starting with a digit)")
    if name in VOCABULARY or name in FUNCTIONS:
        raise ShapeError(f"--shape {spec!r}: {name!r} is the name of a function; choose another "
                         "variable name")
    body = sizes.strip()
    if body.startswith("(") and body.endswith(")"):
        body = body[1:-1].strip().rstrip(",").strip()
    if not body:
        return name, ()
    shape = []
    for part in _SPLIT.split(body):
        if not part.isdigit() or int(part) < 1:
            raise ShapeError(f"--shape {spec!r}: size {part!r} is not a positive integer; {how}")
        shape.append(int(part))
    if math.prod(shape) > MAX_ENTRIES:
        raise ShapeError(f"--shape {spec!r}: {math.prod(shape):,} entries is more than the "
                         f"command line accepts ({MAX_ENTRIES:,})")
    return name, tuple(shape)


def _needs(node: Node) -> dict[str, set[str]]:
    """Variable name → the functions whose argument it appears in that restrict its values."""
    out: dict[str, set[str]] = {}
    stack: list[tuple[Node, frozenset[str]]] = [(node, frozenset())]
    seen: set[tuple[Node, frozenset[str]]] = set()
    while stack:
        n, under = stack.pop()
        if (n, under) in seen:
            continue
        seen.add((n, under))
        if isinstance(n, Var):
            out.setdefault(n.name, set()).update(under)
            continue
        if isinstance(n, Apply):
            restricts = n.fn in ("log", "sqrt") or n.fn in _SQUARE_UNDER or (
                n.fn == "pow" and (n.params[0] < 0 or not float(n.params[0]).is_integer()))
            if restricts:
                under = under | {n.fn}
        stack.extend((c, under) for c in n.children())
    return out


def seed_values(expr: Expr, seed: int) -> Values:
    """Random values for the variables of ``expr``, drawn as the module docstring says.

    Example:
        >>> import tensorderiv as td
        >>> v = seed_values(td.parse("logdet(A) + sum(log(x))", {"A": (2, 2), "x": (2,)}), 0)
        >>> bool((v.arrays["x"] > 0).all()), v.drawn["A"]
        (True, 'standard normal, made diagonally dominant for logdet')
        >>> float(abs(v.arrays["A"][0, 0])) > float(abs(v.arrays["A"][0, 1]))
        True
    """
    if seed < 0:
        raise ValuesError(f"--at {seed}: a seed is a non-negative integer")
    rng = np.random.default_rng(seed)
    needs = _needs(expr.node)
    arrays: dict[str, np.ndarray] = {}
    drawn: dict[str, str] = {}
    for name, shape in sorted(expr.declared.items()):  # every variable as written
        v = rng.standard_normal(shape)
        how = ["standard normal"]
        positive = sorted(needs.get(name, set()) & {"log", "sqrt", "pow"})
        if positive:
            v = np.abs(v) + 0.5
            how = [f"|standard normal| + 0.5, for {', '.join(positive)}"]
        square = sorted(needs.get(name, set()) & _SQUARE_UNDER)
        if square and v.ndim == 2 and v.shape[0] == v.shape[1]:
            v = v + np.diag(np.abs(v).sum(axis=1) + 1.0)
            how.append(f"made diagonally dominant for {', '.join(square)}")
        arrays[name] = v
        drawn[name] = ", ".join(how)
    return Values(arrays, "seed", seed=seed, drawn=drawn)


def load_values(path: str, shapes: Mapping[str, tuple[int, ...]]) -> Values:
    """Read the values of the variables ``shapes`` names from a ``.npz`` file.

    Nothing is unpickled.

    Raises:
        ValuesError: when the file cannot be read as ``.npz``, lacks a variable, holds an array
            for a name that is not one of ``shapes`` (a misspelt or stale variable would
            otherwise pass unnoticed), or an array of the wrong shape, of a non-real dtype, or
            with a non-finite entry.
    """
    try:
        loaded = np.load(path, allow_pickle=False)
    except FileNotFoundError:
        raise ValuesError(f"--at {path!r}: no such file; --at takes a seed (a non-negative "
                          "integer) or a .npz file") from None
    except OSError as exc:
        raise ValuesError(f"--at {path!r}: cannot read it ({exc.strerror or exc})") from None
    except (ValueError, EOFError, zipfile.BadZipFile):
        raise ValuesError(f"--at {path!r}: not a .npz file (numpy.savez) that can be read "
                          "without unpickling") from None
    if not isinstance(loaded, np.lib.npyio.NpzFile):
        raise ValuesError(f"--at {path!r}: this holds a single array (.npy); save one array "
                          "per variable with numpy.savez(path, x=..., A=...)")
    try:
        with loaded as data:
            names = set(data.files)
            raw = {name: data[name] for name in shapes if name in names}
    except (OSError, ValueError, EOFError, KeyError, zipfile.BadZipFile) as exc:
        reason = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        if "pickle" in reason:
            reason = "it holds an object array, which would need unpickling"
        raise ValuesError(f"--at {path!r}: cannot read its arrays ({reason})") from None
    extra = sorted(names - set(shapes))
    if extra:
        raise ValuesError(f"--at {path!r}: array {', '.join(map(repr, extra))} given, which the "
                          f"expression does not use; its variables are {sorted(shapes)} (remove "
                          f"{'it' if len(extra) == 1 else 'them'} from the file)")
    missing = [n for n in sorted(shapes) if n not in raw]
    if missing:
        held = ", ".join(sorted(names)) or "no arrays"
        raise ValuesError(f"--at {path!r}: no array for {', '.join(map(repr, missing))} (the "
                          f"file holds {held})")
    arrays: dict[str, np.ndarray] = {}
    for name, arr in raw.items():
        if arr.dtype.kind not in "fiub":
            raise ValuesError(f"--at {path!r}: array {name!r} has dtype {arr.dtype}; expected "
                              "real numbers")
        if tuple(arr.shape) != tuple(shapes[name]):
            raise ValuesError(f"--at {path!r}: array {name!r} has shape {tuple(arr.shape)}, but "
                              f"--shape gives {tuple(shapes[name])}")
        arr = np.asarray(arr, dtype=np.float64)
        if not np.isfinite(arr).all():
            raise ValuesError(f"--at {path!r}: array {name!r} has a non-finite entry")
        arrays[name] = arr
    return Values(arrays, "file", path=path)
