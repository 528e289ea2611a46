"""An independent oracle for notation text: the text read with ``ast`` and computed with numpy.

Shared by the notation tests (full derivatives) and the collapsed-form tests. It knows nothing of
tensorderiv: every function is numpy's own, so a notation that evaluates to the derivative's
numbers here is right by an outside computation. Lines ``name = expr`` before the result name
shared parts, as ``matrix_notation`` writes them.
"""

import ast

import numpy as np


def _sigmoid(v):
    return 1 / (1 + np.exp(-v))


def _logsumexp(v, axis=None):
    return np.log(np.exp(v).sum(axis=axis))


def _softmax(v):  # over the last axis, as the expression language's softmax
    e = np.exp(v - v.max(axis=-1, keepdims=True))
    return e / e.sum(axis=-1, keepdims=True)


NUMPY = {
    "exp": np.exp, "log": np.log, "sin": np.sin, "cos": np.cos, "tanh": np.tanh,
    "sigmoid": _sigmoid, "relu": lambda v: np.maximum(v, 0), "step": lambda v: (v > 0) * 1.0,
    "sign": np.sign, "logabs": lambda v: np.log(np.abs(v)),
    "parity": lambda v: np.where(np.mod(np.round(v), 2) == 0, 1.0, -1.0),
    "softplus": lambda v: np.logaddexp(0, v), "sqrt": np.sqrt,
    "square": np.square, "abs": np.abs, "sum": np.sum, "diag": np.diag, "outer": np.outer,
    "trace": np.trace, "inv": np.linalg.inv, "det": np.linalg.det,
    "logdet": lambda m: np.linalg.slogdet(m)[1], "logsumexp": _logsumexp, "softmax": _softmax,
    "ones": np.ones, "zeros": np.zeros, "eye": np.eye, "norm": np.linalg.norm, "kron": np.kron,
}
OPS = {ast.Add: np.add, ast.Sub: np.subtract, ast.Mult: np.multiply, ast.Div: np.divide,
       ast.Pow: np.power, ast.MatMult: np.matmul}


def numpy_value(text, values):
    """The value of notation text: lines ``name = expr`` then the result, read with ast."""
    env = dict(values)

    def walk(n):
        if isinstance(n, ast.BinOp):
            return OPS[type(n.op)](walk(n.left), walk(n.right))
        if isinstance(n, ast.UnaryOp) and isinstance(n.op, ast.USub):
            return -walk(n.operand)
        if isinstance(n, ast.Constant):
            return n.value
        if isinstance(n, ast.Name):
            return env[n.id]
        if isinstance(n, ast.Attribute) and n.attr == "T":
            return walk(n.value).T
        if isinstance(n, ast.Tuple):
            return tuple(walk(e) for e in n.elts)
        if isinstance(n, ast.Call):
            kw = {k.arg: walk(k.value) for k in n.keywords}
            return NUMPY[n.func.id](*[walk(a) for a in n.args], **kw)
        raise AssertionError(f"unexpected syntax {ast.dump(n)}")

    *lines, last = ast.parse(text, mode="exec").body
    for line in lines:
        assert isinstance(line, ast.Assign) and len(line.targets) == 1
        name = line.targets[0].id
        assert name not in env, f"{name} is named twice or hides a variable"
        env[name] = walk(line.value)
    assert isinstance(last, ast.Expr)
    return np.asarray(walk(last.value), dtype=float)
