"""Array backends: which library holds a value, and the engine's few array operations in its terms.

Values may be numpy arrays, dask arrays (lazy, chunked), or the arrays of torch, jax or cupy
(on any device). The contractions go through opt_einsum, which infers the backend from the arrays.
Everything else the engine does to a value — a function's kernel, a constant, an identity for a
Kronecker delta, a dtype cast — is dispatched here, so a result stays in the library (and on the
device) of its inputs: nothing is converted to numpy unless asked (:func:`to_numpy`).

numpy arrays use numpy. Other arrays use the array-API namespace that ``array-api-compat`` gives
for them (the ``backends`` extra; the ``dask`` extra brings it too); a function's element-wise
kernel there is its ``array_kernel`` (``array_kernel(xp, values, params)``, see
:class:`tensorderiv.symbolic.functions.Function`). dask arrays keep the numpy kernels, whose
ufuncs dask implements lazily. This is a leaf of ``core/``: it imports only ``errors`` and
``optional``.

Example:
    >>> import numpy as np
    >>> from tensorderiv.core import backends
    >>> backends.backend_of(np.ones(2)), backends.backend_of(2.0)
    ('numpy', 'numpy')
    >>> backends.dtype_kind(np.arange(3))
    'i'
    >>> backends.eye_like(np.ones(2, dtype=np.float32), 2).dtype
    dtype('float32')
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from typing import Any

import numpy as np

from .errors import ValuesError
from .optional import require

__all__ = [
    "ArrayKernel",
    "astype",
    "backend_of",
    "call_kernel",
    "constant_like",
    "dtype_kind",
    "eye_like",
    "float64_like",
    "is_numpy",
    "namespace",
    "native_dtype",
    "numpy_dtype",
    "reference",
    "result_dtype",
    "to_numpy",
    "unify",
]

#: ``array_kernel(xp, values, params)``: a function's kernel written against an array-API namespace
ArrayKernel = Callable[[Any, Any, tuple[Any, ...]], Any]

_ROOTS = {"jaxlib": "jax", "numpy": "numpy", "builtins": "numpy"}


def backend_of(x: Any) -> str:
    """The library that holds ``x``, the root of its type's module (numpy for Python numbers).

    One of ``'numpy'``, ``'dask'``, ``'torch'``, ``'jax'``, ``'cupy'`` … .
    """
    if isinstance(x, np.ndarray | np.generic):
        return "numpy"
    root = type(x).__module__.split(".")[0]
    return _ROOTS.get(root, root)


def is_numpy(x: Any) -> bool:
    """True for numpy arrays and scalars (and Python numbers)."""
    return backend_of(x) == "numpy"


def namespace(x: Any) -> Any:
    """The array-API namespace for ``x``: numpy itself for numpy, else ``array-api-compat``'s."""
    if is_numpy(x):
        return np
    compat = require("array_api_compat", "backends")
    return compat.array_namespace(x)


def _device(x: Any) -> Any:
    if is_numpy(x):
        return None
    return require("array_api_compat", "backends").device(x)


def dtype_kind(x: Any) -> str:
    """The numpy one-letter kind of ``x``'s dtype (``'f'``, ``'i'``, ``'u'``, ``'b'``, ``'c'``)."""
    dt = x.dtype
    kind = getattr(dt, "kind", None)
    if isinstance(kind, str):
        return kind
    if getattr(dt, "is_complex", False):  # torch dtypes have flags, not kinds
        return "c"
    if getattr(dt, "is_floating_point", False):
        return "f"
    name = str(dt)
    if name.endswith("bool"):
        return "b"
    return "u" if "uint" in name else "i"


def numpy_dtype(dt: Any) -> np.dtype:
    """The numpy dtype that stands for any library's dtype (``torch.float32`` → float32)."""
    if isinstance(dt, np.dtype):
        return dt
    try:
        return np.dtype(dt)
    except TypeError:
        return np.dtype(str(dt).rsplit(".", 1)[-1])


def native_dtype(like: Any, dtype: Any) -> Any:
    """``dtype`` (a numpy dtype or any library's) as the dtype of ``like``'s library."""
    if like is None or backend_of(like) != "torch":
        return numpy_dtype(dtype) if not hasattr(dtype, "is_floating_point") else dtype
    if hasattr(dtype, "is_floating_point"):  # already a torch dtype
        return dtype
    return getattr(namespace(like), numpy_dtype(dtype).name)


def float64_like(x: Any) -> Any:
    """The float64 dtype of ``x``'s library."""
    return np.float64 if is_numpy(x) else namespace(x).float64


def astype(x: Any, dtype: Any) -> Any:
    """``x`` cast to ``dtype`` in its own library (a no-op when it already has it)."""
    dtype = native_dtype(x, dtype)
    if x.dtype == dtype:
        return x
    if hasattr(x, "astype"):
        return x.astype(dtype)
    return namespace(x).astype(x, dtype)


def result_dtype(arrays: list[Any]) -> np.dtype:
    """The common dtype of ``arrays``, as a numpy dtype whatever the library (float64 if none)."""
    if not arrays:
        return np.dtype("f8")
    if all(hasattr(a.dtype, "kind") for a in arrays):  # numpy dtypes (numpy, dask, jax, cupy)
        return np.result_type(*[a.dtype for a in arrays])
    return numpy_dtype(namespace(arrays[0]).result_type(*arrays))


def reference(arrays: Iterable[Any]) -> Any:
    """The first value that is not a numpy array (constants are made like it), else ``None``."""
    return next((a for a in arrays if not is_numpy(a)), None)


def unify(arrays: Mapping[str, Any]) -> dict[str, Any]:
    """The values in one library.

    numpy values among the arrays of another library (a torch tensor and a numpy vector, say)
    move to that library and device; dask mixes with numpy as it is.

    Raises:
        ValuesError: when the values come from two non-numpy libraries.
    """
    ref = reference(arrays.values())
    if ref is None:
        return dict(arrays)
    lib = backend_of(ref)
    out: dict[str, Any] = {}
    for name, a in arrays.items():
        if is_numpy(a) and lib != "dask":
            a = namespace(ref).asarray(a, device=_device(ref))
        elif not is_numpy(a) and backend_of(a) != lib:
            raise ValuesError(f"variable {name!r} is a {backend_of(a)} array but others are "
                              f"{lib} arrays; give all values in one library (numpy mixes)")
        out[name] = a
    return out


def constant_like(value: Any, like: Any, dtype: Any) -> Any:
    """A 0-d array of ``value`` in ``like``'s library and device (numpy when ``like`` is None)."""
    if like is None or backend_of(like) == "dask":
        return np.asarray(value, dtype=dtype)
    return namespace(like).asarray(value, dtype=native_dtype(like, dtype), device=_device(like))


def eye_like(x: Any, n: int) -> Any:
    """The n×n identity in ``x``'s library, dtype and device."""
    if is_numpy(x):
        return np.eye(n, dtype=x.dtype)
    return namespace(x).eye(n, dtype=x.dtype, device=_device(x))


def to_numpy(x: Any) -> np.ndarray:
    """``x`` as a numpy array (computing a dask array, copying from a device)."""
    if is_numpy(x):
        return np.asarray(x)
    lib = backend_of(x)
    if lib == "dask":
        return np.asarray(x.compute())
    if lib == "torch":
        return x.detach().cpu().numpy()
    if lib == "cupy":
        return x.get()
    return np.asarray(x)


def call_kernel(name: str, kernel: Callable[..., Any], array_kernel: ArrayKernel | None,
                values: Any, params: tuple[Any, ...]) -> Any:
    """Run function ``name`` on ``values`` in their own library.

    numpy and dask arrays go to the numpy ``kernel``; the others to ``array_kernel`` with the
    array's own namespace.

    Raises:
        ValuesError: when the function has no kernel for the values' library.
    """
    if is_numpy(values) or backend_of(values) == "dask":
        return kernel(values, params)
    if array_kernel is None:
        raise ValuesError(f"function {name!r} has only a numpy kernel, so it cannot act on "
                          f"{backend_of(values)} arrays; register it with an array_kernel "
                          "(tensorderiv.symbolic.functions.Function) or give numpy values")
    return array_kernel(namespace(values), values, params)
