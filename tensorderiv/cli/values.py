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
import os
import re
import stat
import zipfile
import zlib
from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np

from ..core.errors import ShapeError, ValuesError
from ..core.options import get_dense_limit
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
        if not re.fullmatch(r"[0-9]+", part) or int(part) < 1:  # ASCII digits only
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
            restricts = n.fn in ("log", "sqrt", "logabs") or n.fn in _SQUARE_UNDER or (
                n.fn == "pow" and (n.params[0] < 0 or not float(n.params[0]).is_integer()))
            if restricts:  # logabs: the base of x ** y with an array exponent
                under = under | {"pow" if n.fn == "logabs" else n.fn}
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

    Nothing is unpickled, and nothing is decompressed before its header is checked: the file
    must be a regular file (a FIFO or a device is refused before it is opened), every member a
    ``.npy`` array whose header declares a real dtype and exactly the shape ``--shape`` gives,
    within the dense budget (:func:`tensorderiv.get_dense_limit`); only then is the data read,
    and no more of it than the header declares (a zip bomb is refused from its headers).

    Raises:
        ValuesError: when the file cannot be read as ``.npz``, lacks a variable, holds an array
            for a name that is not one of ``shapes`` (a misspelt or stale variable would
            otherwise pass unnoticed), a member that is not a ``.npy`` array, or an array of the
            wrong shape, of a non-real dtype, or with a non-finite entry.
    """
    where = f"--at {path!r}"
    try:
        info = os.stat(path)
    except FileNotFoundError:
        raise ValuesError(f"{where}: no such file; --at takes a seed (a non-negative "
                          "integer) or a .npz file") from None
    except OSError as exc:
        raise ValuesError(f"{where}: cannot read it ({exc.strerror or exc})") from None
    if not stat.S_ISREG(info.st_mode):
        kind = "a directory" if stat.S_ISDIR(info.st_mode) else \
            "a FIFO (named pipe)" if stat.S_ISFIFO(info.st_mode) else "not a regular file"
        raise ValuesError(f"{where}: this is {kind}; --at takes a regular .npz file "
                          "(numpy.savez)")
    try:
        with open(path, "rb") as fh:
            head = fh.read(6)
            if head == b"\x93NUMPY":
                raise ValuesError(f"{where}: this holds a single array (.npy); save one array "
                                  "per variable with numpy.savez(path, x=..., A=...)")
            fh.seek(0)
            if not zipfile.is_zipfile(fh):
                raise ValuesError(f"{where}: not a .npz file (numpy.savez) that can be read "
                                  "without unpickling")
            fh.seek(0)
            with zipfile.ZipFile(fh) as zf:
                members = _members(zf, where)
                _check_names(set(members), shapes, where)
                arrays = {name: _read_member(zf, members[name], name, shapes[name], where)
                          for name in sorted(shapes)}
    except OSError as exc:
        raise ValuesError(f"{where}: cannot read it ({exc.strerror or exc})") from None
    except (zipfile.BadZipFile, EOFError, zlib.error, NotImplementedError) as exc:
        raise ValuesError(f"{where}: the archive is damaged ({_first_line(exc)})") from None
    return Values(arrays, "file", path=path)


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


def _members(zf: zipfile.ZipFile, where: str) -> dict[str, zipfile.ZipInfo]:
    """Variable name → its member, for the ``NAME.npy`` members; any other member is refused."""
    out: dict[str, zipfile.ZipInfo] = {}
    for member in zf.infolist():
        if member.is_dir():
            continue
        if not member.filename.endswith(".npy"):
            raise ValuesError(f"{where}: member {member.filename!r} is not a .npy array; a .npz "
                              "file holds one NAME.npy per variable (numpy.savez)")
        out[member.filename[:-4]] = member
    return out


def _check_names(names: set[str], shapes: Mapping[str, tuple[int, ...]], where: str) -> None:
    extra = sorted(names - set(shapes))
    if extra:
        raise ValuesError(f"{where}: array {', '.join(map(repr, extra))} given, which the "
                          f"expression does not use; its variables are {sorted(shapes)} (remove "
                          f"{'it' if len(extra) == 1 else 'them'} from the file)")
    missing = [n for n in sorted(shapes) if n not in names]
    if missing:
        held = ", ".join(sorted(names)) or "no arrays"
        raise ValuesError(f"{where}: no array for {', '.join(map(repr, missing))} (the "
                          f"file holds {held})")


def _read_member(zf: zipfile.ZipFile, member: zipfile.ZipInfo, name: str,
                 shape: tuple[int, ...], where: str) -> np.ndarray:
    """One array: its ``.npy`` header checked first, then at most the declared data read."""
    fmt = np.lib.format
    with zf.open(member) as fp:
        try:
            version = fmt.read_magic(fp)
            if version == (1, 0):
                declared, fortran, dtype = fmt.read_array_header_1_0(fp)
            elif version == (2, 0):
                declared, fortran, dtype = fmt.read_array_header_2_0(fp)
            else:
                raise ValueError(f".npy format version {version} is not supported")
        except (ValueError, EOFError, SyntaxError, TypeError) as exc:
            raise ValuesError(f"{where}: member {member.filename!r} is not a .npy array "
                              f"({_first_line(exc)})") from None
        if dtype.hasobject:
            raise ValuesError(f"{where}: array {name!r} holds objects, which would need "
                              "unpickling; save real numbers")
        if dtype.kind not in "fiub":
            raise ValuesError(f"{where}: array {name!r} has dtype {dtype}; expected real "
                              "numbers")
        if tuple(declared) != tuple(shape):
            raise ValuesError(f"{where}: array {name!r} has shape {tuple(declared)}, but "
                              f"--shape gives {tuple(shape)}")
        nbytes = math.prod(shape) * max(dtype.itemsize, 8)  # read, then held as float64
        if nbytes > get_dense_limit():
            raise ValuesError(f"{where}: array {name!r} declares {nbytes:,} bytes (as float64), "
                              f"more than the budget of {get_dense_limit():,} bytes "
                              "(tensorderiv.set_dense_limit)")
        count = math.prod(shape)
        raw = fp.read(count * dtype.itemsize)  # never more than the header declared
        if len(raw) != count * dtype.itemsize:
            raise ValuesError(f"{where}: array {name!r} is truncated: its header declares "
                              f"{count * dtype.itemsize:,} bytes of data, the file holds "
                              f"{len(raw):,}")
    arr = np.frombuffer(raw, dtype=dtype)
    arr = arr.reshape(shape[::-1]).T if fortran else arr.reshape(shape)
    arr = np.array(arr, dtype=np.float64)
    if not np.isfinite(arr).all():
        at = tuple(int(i) for i in np.argwhere(~np.isfinite(arr))[0])
        raise ValuesError(f"{where}: array {name!r} has a non-finite entry ({arr[at]!r} at "
                          f"index {at})")
    return arr
