"""tensorderiv: matrix and tensor calculus on labelled c-tensors, in the notes' layout.

Example:
    >>> import numpy as np
    >>> import tensorderiv as td
    >>> W, x = td.var("W", (3, 2)), td.var("x", (3,))
    >>> g = td.derive(td.sum(td.tanh(W.T @ x)), W)
    >>> g.evaluate({"W": np.zeros((3, 2)), "x": np.array([1.0, 2.0, 3.0])}).shape
    (3, 2)

The chain rule step by step, as the notes show it (A.9) — ∂Z/∂W collapses to the input:
    >>> e = td.explain("sum(tanh(W.T @ x))", "W", shapes={"W": (3, 2), "x": (3,)})
    >>> e.factors[0].name, e.factors[0].form.notation, e.backward[-1]
    ('∂Z1/∂W', 'x', '∂L/∂W = x (∂L/∂Z1)ᵀ')
"""

from .core.axes import Axis
from .core.contract import contract
from .core.ctensor import CTensor
from .core.errors import (
    ArgumentError,
    DenseLimitError,
    DomainError,
    LabelError,
    LimitError,
    OptionError,
    ParseError,
    ShapeError,
    StructureError,
    TensorDerivError,
    ValuesError,
)
from .core.options import (
    dense_limit,
    get_dense_limit,
    get_progress,
    progress,
    set_dense_limit,
    set_progress,
)
from .display import plot
from .display.explain import explain
from .forms.notation import einsum_notation, matrix_notation
from .forms.reduce import MatrixForm, chain, reduce, to_layout
from .symbolic.derivative import Compiled, Derivative, derive, evaluate
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
from .symbolic.multi import MultiCompiled, compile
from .symbolic.parse import parse
from .symbolic.subscripts import einsum_ as einsum

__version__ = "0.1.0"

__all__ = [
    "ArgumentError",
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
    "MultiCompiled",
    "OptionError",
    "ParseError",
    "ShapeError",
    "StructureError",
    "TensorDerivError",
    "ValuesError",
    "abs",
    "chain",
    "compile",
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
    "explain",
    "get_dense_limit",
    "get_progress",
    "inv",
    "log",
    "logdet",
    "logsumexp",
    "matrix_notation",
    "mean",
    "norm",
    "outer",
    "parse",
    "plot",
    "progress",
    "reduce",
    "relu",
    "set_dense_limit",
    "set_progress",
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
