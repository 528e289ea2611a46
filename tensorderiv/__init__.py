"""tensorderiv: matrix and tensor calculus on labelled c-tensors, in the notes' layout.

Example:
    >>> import numpy as np
    >>> import tensorderiv as td
    >>> W, x = td.var("W", (3, 2)), td.var("x", (3,))
    >>> g = td.derive(td.sum(td.tanh(W.T @ x)), W)
    >>> g.evaluate({"W": np.zeros((3, 2)), "x": np.array([1.0, 2.0, 3.0])}).shape
    (3, 2)
"""

from .core.axes import Axis
from .core.contract import contract
from .core.ctensor import CTensor
from .core.errors import (
    DenseLimitError,
    DomainError,
    LabelError,
    LimitError,
    ParseError,
    ShapeError,
    StructureError,
    TensorDerivError,
    ValuesError,
)
from .core.options import dense_limit, get_dense_limit, set_dense_limit
from .forms.notation import einsum_notation, matrix_notation
from .forms.reduce import MatrixForm, chain, reduce, to_layout
from .symbolic.derivative import Compiled, Derivative, derive
from .symbolic.evaluate import evaluate
from .symbolic.expr import (
    Expr,
    abs,
    cos,
    det,
    diag,
    dot,
    exp,
    inv,
    log,
    logdet,
    logsumexp,
    mean,
    norm,
    outer,
    relu,
    sigmoid,
    sin,
    softmax,
    softplus,
    sqrt,
    square,
    sum,
    tanh,
    trace,
    var,
)
from .symbolic.expr import einsum_ as einsum
from .symbolic.parse import parse

__version__ = "0.1.0"

__all__ = [
    "Axis",
    "CTensor",
    "Compiled",
    "DenseLimitError",
    "Derivative",
    "DomainError",
    "Expr",
    "LabelError",
    "LimitError",
    "MatrixForm",
    "ParseError",
    "ShapeError",
    "StructureError",
    "TensorDerivError",
    "ValuesError",
    "abs",
    "chain",
    "contract",
    "cos",
    "dense_limit",
    "derive",
    "det",
    "diag",
    "dot",
    "einsum",
    "einsum_notation",
    "evaluate",
    "exp",
    "get_dense_limit",
    "inv",
    "log",
    "logdet",
    "logsumexp",
    "matrix_notation",
    "mean",
    "norm",
    "outer",
    "parse",
    "reduce",
    "relu",
    "set_dense_limit",
    "sigmoid",
    "sin",
    "softmax",
    "softplus",
    "sqrt",
    "square",
    "sum",
    "tanh",
    "to_layout",
    "trace",
    "var",
]
