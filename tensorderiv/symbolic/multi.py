"""Many outputs, one program: ``td.compile(L, g1, g2, …)``, the loss and its gradients at once.

:func:`compile` takes expressions and derivatives and returns one callable that evaluates them
all in a single pass over the union of their expression graphs: nodes are interned, so a
subexpression shared by several outputs (the forward pass, and the backward quantities that
several gradients share) is one node and is computed once. The results come back as a tuple in
the order given, each in the notes' layout: the equivalent of ``jax.value_and_grad(argnums=…)``.

A first derivative of a scalar (a gradient) is built by reverse accumulation
(:mod:`~tensorderiv.symbolic.reverse`): every contraction is one that backpropagation makes for
the same quantity, and all gradients of one expression come from one backward sweep. Higher
derivatives and Jacobians keep the forward rules of :func:`~tensorderiv.derive`, whose products
are planned as whole contractions (and use symmetry where the copies are symmetric).

Example:
    >>> import numpy as np
    >>> import tensorderiv as td
    >>> L = td.parse("sum(tanh(W.T @ x))", {"W": (3, 2), "x": (3,)})
    >>> f = td.compile(L, td.derive(L, "W"), td.derive(L, "x"))
    >>> W, x = np.full((3, 2), 0.1), np.array([1.0, 2.0, 3.0])
    >>> value, dW, dx = f({"W": W, "x": x})
    >>> g = 1 - np.tanh(W.T @ x) ** 2
    >>> np.allclose(dW.dense(), np.outer(x, g)), np.allclose(dx.dense(), W @ g)
    (True, True)
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Literal

from ..core.axes import Axis
from ..core.ctensor import CTensor
from ..core.errors import ArgumentError, LabelError, OptionError
from .derivative import Derivative
from .evaluate import Estimate, Program
from .expr import Expr
from .factor import factor_sums
from .nodes import Node, Var
from .reverse import adjoints

__all__ = ["MultiCompiled", "compile"]

Mode = Literal["auto", "reverse", "forward"]


def _output_axes(e: Expr) -> tuple[list[Axis], tuple[tuple[str, tuple[int, ...]], ...]]:
    if isinstance(e, Derivative):
        return e._axes(), e.wrt
    name = e.text if isinstance(e.node, Var) else "f"
    return [Axis((name, 0, p), n, "of", name, p) for p, n in enumerate(e.shape)], ()


def _is_gradient(e: Expr) -> bool:
    return isinstance(e, Derivative) and e.order == 1 and e.of.shape == ()


class MultiCompiled:
    """``f(values)``: a tuple of c-tensors, one per output given to :func:`compile`.

    Attributes:
        outputs: the expressions and derivatives, in order.
        program: the one :class:`~tensorderiv.symbolic.evaluate.Program` over all of them.
        modes: per output, ``"reverse"`` (gradient by reverse accumulation), ``"forward"``
            (the derivative's own rules) or ``"value"``.
    """

    def __init__(self, outputs: tuple[Expr, ...], roots: list[Node], modes: list[str],
                 allowed: Mapping[str, tuple[int, ...]]) -> None:
        self.outputs = outputs
        self.modes = modes
        what = "td.compile(" + ", ".join(f"'{e.text}'" for e in outputs) + ")"
        self.program = Program(roots, allowed, what)
        self._axes = [_output_axes(e) for e in outputs]
        self._templates: list[Any] = [None] * len(outputs)

    def __call__(self, values: Mapping[str, Any]) -> tuple[CTensor, ...]:
        """Evaluate every output at ``values`` (variable name → array), in one pass."""
        results = self.program.run_all(values)
        out = []
        for k, ct in enumerate(results):
            tmpl = self._templates[k]
            if tmpl is not None and tmpl[0] == (ct.core.shape, ct.axis_map, ct.axes):
                out.append(CTensor._trusted(ct.core, tmpl[1]))  # checked on an earlier call
                continue
            axes, wrt = self._axes[k]
            named = ct.with_axes(axes, wrt=wrt)
            self._templates[k] = ((ct.core.shape, ct.axis_map, ct.axes), named)
            out.append(named)
        return tuple(out)

    def estimate(self, dtype: Any = "f8") -> Estimate:
        """The memory estimate of a run (peak bytes, inputs included), from the shapes."""
        return self.program.estimate(dtype)

    @property
    def description(self) -> str:
        """What the program computes and how: outputs, modes, nodes shared, memory estimate."""
        counts: dict[Node, int] = {}
        for r in self.program.roots:
            for n in Program(r).order:
                counts[n] = counts.get(n, 0) + 1
        shared = sum(1 for c in counts.values() if c > 1)
        est = self.estimate()
        lines = [f"{len(self.outputs)} output(s), {len(self.program.order)} nodes "
                 f"({shared} shared between outputs), peak about {est.peak:,} bytes "
                 f"(inputs {est.inputs:,})"]
        lines += [f"  {k}: {e.text} [{m}]"
                  for k, (e, m) in enumerate(zip(self.outputs, self.modes, strict=True))]
        lines += [line for line in self.program.description().splitlines()
                  if line.startswith("symmetric")]
        return "\n".join(lines)

    def __repr__(self) -> str:
        return f"MultiCompiled({len(self.outputs)} outputs, {len(self.program.order)} nodes)"


def compile(*outputs: Expr, mode: Mode = "auto") -> MultiCompiled:
    """Compile expressions and derivatives into one callable returning a tuple, in order.

    Args:
        *outputs: expressions (:class:`~tensorderiv.Expr`) and derivatives
            (:func:`~tensorderiv.derive`), e.g. a loss and its gradients.
        mode: ``"auto"`` builds each gradient (a first derivative of a scalar) by reverse
            accumulation and every other derivative by its own rules; ``"forward"`` uses each
            derivative as derived; ``"reverse"`` asks for reverse accumulation and refuses an
            output it does not apply to.

    Returns:
        A :class:`MultiCompiled`; calling it on a values dict returns one c-tensor per output.

    Raises:
        TypeError: when an output is not an expression.
        LabelError: when two outputs give one variable two shapes.
    """
    if not outputs:
        raise ArgumentError("compile needs at least one expression or derivative")
    if mode not in ("auto", "reverse", "forward"):
        raise OptionError(f"mode must be 'auto', 'reverse' or 'forward', got {mode!r}")
    allowed: dict[str, tuple[int, ...]] = {}
    for k, e in enumerate(outputs):
        if not isinstance(e, Expr):
            raise ArgumentError(f"compile takes expressions and derivatives; output {k} is a "
                                f"{type(e).__name__}")
        declared = e.variables_allowed if isinstance(e, Derivative) else e.declared
        for name, shape in declared.items():
            if allowed.setdefault(name, shape) != shape:
                raise LabelError(f"variable {name!r} has shape {allowed[name]} in one output "
                                 f"and {shape} in '{e.text}'")
    # one reverse sweep per differentiated expression, for all the gradients asked of it
    sweeps: dict[Node, list[Var]] = {}
    for e in outputs:
        if mode != "forward" and _is_gradient(e):
            name, shape = e.wrt[0]
            sweeps.setdefault(e.of.node, [])
            v = Var.make(name, shape)
            if v not in sweeps[e.of.node]:
                sweeps[e.of.node].append(v)
        elif mode == "reverse" and isinstance(e, Derivative):
            raise OptionError(f"mode='reverse' builds gradients (first derivatives of a scalar); "
                              f"'{e.text}' is not one")
    grads: dict[tuple[Node, Var], Node] = {}
    for root, xs in sweeps.items():
        for x, g in zip(xs, adjoints(root, xs), strict=True):
            grads[(root, x)] = g
    roots: list[Node] = []
    modes: list[str] = []
    for e in outputs:
        if mode != "forward" and _is_gradient(e):
            name, shape = e.wrt[0]
            roots.append(grads[(e.of.node, Var.make(name, shape))])
            modes.append("reverse")
        else:
            roots.append(factor_sums(e.node) if isinstance(e, Derivative) else e.node)
            modes.append("forward" if isinstance(e, Derivative) else "value")
    return MultiCompiled(tuple(outputs), roots, modes, allowed)
