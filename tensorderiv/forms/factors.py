"""The factors of the chain rule along an expression's path, as the notes name them (A.9).

:func:`named_path` walks an expression from its output down to a variable and picks the
quantities the notes name: a layer ``Z = WᵀA`` (a product with other operands, a bias added
to it included) and an activation ``A = f(Z)`` (tanh, sigmoid, relu … of a layer); a scalar
output is the loss ``L``. Where the variable is reached along two paths (``xᵀAx``) there is no
chain, only the derivative itself.

:func:`chain_factors` differentiates each quantity with respect to the one below it: the one
below is replaced by a fresh variable of its shape (nodes are interned, so the subexpression is
found by identity and the rest rebuilt), the derivative taken with ``derive``, and reduced to
its matrix form with the notation of its collapsed array
(:func:`~tensorderiv.forms.collapsed.form_with_notation`), keeping the structure its storage
holds (what it is everywhere). Each definition keeps the user's own text where a segment of
the expression reads as that subexpression.

Example — the notes' one-layer network:
    >>> import numpy as np
    >>> import tensorderiv as td
    >>> e = td.parse("sum(tanh(W.T @ x))", {"W": (3, 2), "x": (3,)})
    >>> kept, names = named_path(e.node, "W", {"W", "x"})
    >>> [names[n] for n in kept], names[e.node]
    (['A1', 'Z1'], 'L')
    >>> W = td.var("W", (3, 2)).node
    >>> rng = np.random.default_rng(0)
    >>> v = {"W": rng.normal(size=(3, 2)), "x": rng.normal(size=3)}
    >>> factors, backward, _ = chain_factors([e.node, *kept, W], names, v, e.text)
    >>> [f.name for f in factors], backward[-1]
    (['∂Z1/∂W', '∂A1/∂Z1', '∂L/∂A1'], '∂L/∂W = x (∂L/∂Z1)ᵀ')
"""

from __future__ import annotations

import ast
import itertools
import math
import re
from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np

from ..core.errors import TensorDerivError
from ..symbolic.derivative import derive
from ..symbolic.evaluate import Program
from ..symbolic.expr import Expr
from ..symbolic.nodes import Apply, Einsum, Node, Sum, Var, walk
from ..symbolic.parse import parse
from ..symbolic.simplify import add, einsum
from .collapsed import chain_rule, form_with_notation
from .matrixform import MatrixForm
from .notation import einsum_notation, matrix_notation

__all__ = ["Factor", "chain_factors", "factor", "named_path"]

_ACTIVATIONS = frozenset({"tanh", "sigmoid", "relu", "softplus", "exp", "sin", "cos", "abs"})
_RULE_WORDS = {
    "outer": "outer product with the notes' transpose",
    "elementwise": "element-wise product ⊙ (Concept 34)",
    "matmul": "matrix product",
    "scale": "scaling by a number",
    "kron": "Kronecker product, 𝐅₁ · g · 𝐅₂ᵀ",
    "einsum": "contraction over the output's indices",
    "broadcast": "the core times g, summed over the constant axes (Concept 29)",
    "zero": "nothing: the factor is zero",
}


@dataclass(frozen=True)
class Factor:
    """One factor of the chain rule, ∂(upper)/∂(lower).

    Attributes:
        name: ``∂Z1/∂W1``.
        of: the upper quantity's name.
        wrt: the lower quantity's name (the variable, for the first factor).
        form: its matrix form, with the notation of its collapsed array.
        rule: how it multiplies, in words.
        step: its line of the backward pass (``∂L/∂W1 = X (∂L/∂Z1)ᵀ``).
    """

    name: str
    of: str
    wrt: str
    form: MatrixForm
    rule: str
    step: str

    @property
    def full_shape(self) -> tuple[int, ...]:
        """The full c-tensor's shape, notes' layout (the lower quantity's axes first)."""
        return self.form.full_shape



# ---------------------------------------------------------------------- the path
def _layer(n: Node) -> bool:
    """A product with other operands, Z = WᵀA (the notes' layer), or one plus a bias."""
    if isinstance(n, Sum):  # WᵀA + b: a bias is added (a target, Z − Y, is subtracted)
        return all(c == 1.0 for c, _ in n.terms) and any(
            isinstance(t, Einsum) and len(t.terms) >= 2 for _, t in n.terms)
    return isinstance(n, Einsum) and len(n.terms) >= 2


def _activation(n: Node) -> bool:
    """An activation function of a layer: A = f(Z)."""
    return isinstance(n, Apply) and n.fn in _ACTIVATIONS and _layer(n.arg)


def _path(root: Node, name: str) -> list[Node] | None:
    """The nodes from the root down to the variable, or None where the path branches."""
    path = [root]
    n = root
    while not (isinstance(n, Var) and n.name == name):
        below = [c for c in n.children() if name in c.vars]
        if len(below) != 1:
            return None
        n = below[0]
        path.append(n)
    return path


def _substitute(node: Node, target: Node, var: Var) -> Node:
    """``node`` with ``target`` replaced by ``var`` (the rest rebuilt, simplified)."""
    memo: dict[Node, Node] = {}

    def go(n: Node) -> Node:
        if n is target:
            return var
        if not target.vars <= n.vars or isinstance(n, Var):
            return n
        if n in memo:
            return memo[n]
        if isinstance(n, Einsum):
            out = einsum(n.coef, [(go(t), idx) for t, idx in n.terms], n.out,
                         {i: n.sizes[i] for i in n.out})
        elif isinstance(n, Sum):
            out = add([(c, go(t)) for c, t in n.terms])
        elif isinstance(n, Apply):
            out = Apply.make(n.fn, go(n.arg), n.shape, n.params)
        else:  # pragma: no cover - the node set is closed
            raise TypeError(type(n).__name__)
        memo[n] = out
        return out

    return go(node)


def _names(kept: list[Node], root: Node, wrt: str, taken: set[str]) -> dict[Node, str]:
    """Z1, A1, Z2 … from the variable up (a weight W2 names its layer Z2), the root L."""
    names: dict[Node, str] = {}
    used = set(taken)

    def fresh(base: str) -> str:
        name, k = base, 0
        while name in used:
            k += 1
            name = f"{base}_{k}"
        used.add(name)
        return name

    layer = 0
    for n in reversed(kept):  # from the variable up
        if _layer(n):
            layer += 1
            digits = [re.search(r"(\d+)$", t.name) for t, _ in n.terms if isinstance(t, Var)]
            got = next((int(m.group(1)) for m in digits if m), None)
            layer = got if got is not None else layer
            names[n] = fresh(f"Z{layer}")
        else:
            names[n] = fresh(f"A{layer}")
    if root not in names:
        names[root] = fresh("L" if root.ndim == 0 else "f")
    return names


def _value(node: Node, values: Mapping[str, np.ndarray]) -> np.ndarray:
    program = Program(node)
    return np.asarray(program.run({k: values[k] for k in program.needed}).dense())


def _write(node: Node) -> str:
    text = matrix_notation(Expr(node, "·"))
    return text if text is not None else einsum_notation(node)


def factor(form: MatrixForm, of: str, wrt: str, hessian: bool = False,
           rule: str | None = None) -> Factor:
    """The :class:`Factor` of a form: its name, and how it multiplies, in words."""
    step = chain_rule(form)
    if rule is not None:
        pass
    elif form.derivative and math.prod(form.of_shape) == 1:
        rule = ("the Hessian itself, the derivative of the gradient: a matrix that acts on a "
                "step u as H u (a Newton step solves H u = −g)" if hessian else
                f"nothing: {of} is a scalar, this gradient starts the backward pass")
    elif form.rule == "einsum" and "Σ" not in step:
        rule = "matrix product with the notes' transpose"
    else:
        rule = _RULE_WORDS.get(form.rule, form.rule)
    rule = f"{rule}: {step}" if "itself" not in step else rule
    name = f"∂²{of}/∂{wrt}²" if hessian else f"∂{of}/∂{wrt}"
    short = step.split("  (")[0].split(": the ")[0]
    return Factor(name, of, wrt, form, rule, step if "𝐉" in short else short)


def _definition(upper_text: str, lower_text: str, name: str, body: Node,
                shapes: Mapping[str, tuple[int, ...]]) -> str:
    """The definition of a quantity in terms of the one below it, as the user wrote it.

    ``upper_text`` with ``lower_text`` replaced by ``name``, if that reads back as ``body``
    (nodes are interned: the same node is the same object); else the notation of ``body``.
    """
    if lower_text and lower_text in upper_text:
        text = upper_text.replace(lower_text, name)
        try:
            if parse(text, dict(shapes)).node is body:
                return text
        except (TensorDerivError, TypeError, ValueError, SyntaxError):
            pass
    return _write(body)


def _segments(text: str, shapes: Mapping[str, tuple[int, ...]]) -> dict[Node, str]:
    """Each subexpression of ``text`` as the user wrote it, by the node it reads as."""
    out: dict[Node, str] = {}
    try:
        tree = ast.parse(text, mode="eval")
    except SyntaxError:
        return out
    for a in ast.walk(tree):
        segment = ast.get_source_segment(text, a) if isinstance(a, ast.expr) else None
        if not segment:
            continue
        try:
            node = parse(segment, dict(shapes)).node
        except (TensorDerivError, TypeError, ValueError, SyntaxError):
            continue
        out.setdefault(node, segment)
    return out


def chain_factors(nodes: list[Node], names: dict[Node, str], values: dict[str, np.ndarray],
             root_text: str) -> tuple[list[Factor], list[str],
                                      list[tuple[str, str, tuple[int, ...]]]]:
    """Each ∂(upper)/∂(lower) along ``nodes`` (the root first, the variable last).

    Returns:
        The factors in the notes' order (the variable's first), the backward pass (one line
        per factor, from the output down) and the definitions ``(name, text, shape)``, lowest
        first.
    """
    written = _segments(root_text, {n.name: n.shape for n in walk(nodes[0])
                                    if isinstance(n, Var)})
    texts = {n: written.get(n) or _write(n) for n in nodes[1:]}
    texts[nodes[0]] = root_text
    factors: list[Factor] = []
    definitions: list[tuple[str, str, tuple[int, ...]]] = []
    vals = dict(values)
    for node in nodes[1:-1]:
        vals[names[node]] = _value(node, values)
    for upper, lower in itertools.pairwise(nodes):
        lower_var = lower if isinstance(lower, Var) else Var.make(names[lower], lower.shape)
        body = _substitute(upper, lower, lower_var) if lower is not lower_var else upper
        shapes = {n.name: n.shape for n in walk(body) if isinstance(n, Var)}
        text = _definition(texts[upper], texts[lower], lower_var.name, body, shapes)
        definitions.append((names[upper], text, upper.shape))
        d = derive(Expr(body, text), lower_var.name)
        form = form_with_notation(d, {k: vals[k] for k in d.variables_allowed},
                                  names={"f": names[upper]}, exact=True)
        factors.append(factor(form, names[upper], lower_var.name))
    factors.reverse()
    definitions.reverse()
    backward = [f.step for f in reversed(factors)]
    return factors, backward, definitions


def named_path(root: Node, name: str, taken: set[str]) -> tuple[list[Node], dict[Node, str]]:
    """The named quantities between the output and the variable ``name``, and every name.

    Returns:
        The quantities strictly between (the output first), and a name for each of them and
        for ``root`` (``L`` for a scalar output, else ``f`` unless it is a layer or an
        activation); none of them is in ``taken``.
    """
    steps = _path(root, name) or []
    named = [n for k, n in enumerate(steps[:-1]) if (_layer(n) or _activation(n))
             and not (n is root and root.ndim == 0)  # a scalar output is the loss, L
             and not (k and isinstance(steps[k - 1], Sum) and _layer(steps[k - 1]))]  # + b
    names = _names(named, root, name, taken)
    return [n for n in named if n is not root], names
