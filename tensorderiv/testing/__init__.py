"""Tools for testing derivatives: checks and Hypothesis strategies (public API), a top layer.

It may import the core, symbolic and forms layers, never the command line.

:func:`check_derivative` needs only numpy. ``tensorderiv.testing.strategies`` needs Hypothesis
(the ``test`` extra); it is imported only when asked for.

Example:
    >>> import numpy as np
    >>> from tensorderiv.testing import check_derivative
    >>> check_derivative("sum(x ** 3)", {"x": np.array([1.0, 2.0])}, lambda x: 3 * x ** 2).shape
    (2,)
"""

from .check import AUTO_DENSE_MAX, DerivativeCheck, check_derivative

__all__ = ["AUTO_DENSE_MAX", "DerivativeCheck", "check_derivative"]
