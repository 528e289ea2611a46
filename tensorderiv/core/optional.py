"""Optional dependencies, imported lazily with a message naming the extra to install (a leaf).

Example:
    >>> from tensorderiv.core.optional import require
    >>> require("numpy", "test").__name__
    'numpy'
    >>> require("no_such_module", "plot")  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    ImportError: this feature needs no_such_module; install it with: pip install 'tensorderi...
"""

from __future__ import annotations

import importlib
from types import ModuleType

__all__ = ["EXTRAS", "require"]

#: what each extra of pyproject.toml brings
EXTRAS = {
    "test": ("pytest", "hypothesis", "ruff", "nbclient", "nbformat", "ipykernel", "matplotlib",
             "tqdm"),
    "docs": ("sphinx",),
    "notebooks": ("nbclient", "nbformat", "ipykernel", "matplotlib", "hypothesis", "tqdm"),
    "plot": ("matplotlib",),
    "progress": ("tqdm",),
    "dask": ("dask", "distributed", "array_api_compat"),
    "backends": ("array_api_compat",),
    "jax": ("jax", "array_api_compat"),
}


def require(module: str, extra: str) -> ModuleType:
    """Import ``module``, or raise ImportError saying which extra of tensorderiv brings it."""
    try:
        return importlib.import_module(module)
    except ImportError as exc:
        raise ImportError(f"this feature needs {module.split('.')[0]}; install it with: "
                          f"pip install 'tensorderiv[{extra}]'") from exc
