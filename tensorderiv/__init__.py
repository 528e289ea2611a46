"""tensorderiv: matrix and tensor calculus on labelled c-tensors, in the notes' layout.

Example:
    >>> import numpy as np
    >>> import tensorderiv as td
    >>> from tensorderiv.axes import Axis
    >>> g = td.CTensor(np.array([1.0, 2.0]), [Axis("v", 2, "wrt", "v", 0, 1)], wrt=(("v", (2,)),))
    >>> g.matrix_form().array.shape   # ∂s/∂v is a column
    (2, 1)
"""

from .axes import Axis
from .contract import contract
from .ctensor import CTensor
from .errors import (
    DenseLimitError,
    DomainError,
    LabelError,
    ParseError,
    ShapeError,
    StructureError,
    TensorDerivError,
    ValuesError,
)
from .options import dense_limit, get_dense_limit, set_dense_limit
from .reduce import MatrixForm

__version__ = "0.1.0"

__all__ = [
    "Axis",
    "CTensor",
    "DenseLimitError",
    "DomainError",
    "LabelError",
    "MatrixForm",
    "ParseError",
    "ShapeError",
    "StructureError",
    "TensorDerivError",
    "ValuesError",
    "contract",
    "dense_limit",
    "get_dense_limit",
    "set_dense_limit",
]
