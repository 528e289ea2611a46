"""Evaluation: an expression graph becomes c-tensors through opt_einsum contractions.

Each node is computed once per evaluation (shared subexpressions included) into a compact
:class:`~tensorderiv.CTensor`: einsums become one contraction each, with Kronecker deltas as label
identifications and broadcasts as redundant axes; element-wise functions act on the compact core
when that is exact; sums keep the structure their terms share.

Values are checked (names, shapes, finiteness) and every function's domain and every result's
finiteness are checked as they are computed, for numpy arrays. Lazy arrays (dask) stay lazy:
those value checks would force them, so they are skipped and happen only in numpy's own terms
when the result is computed.

A :class:`Program` is the compiled form: the nodes in dependency order and, for each einsum, a
:class:`~tensorderiv.core.contract.ContractionPlan` worked out from the shapes when it is
compiled. A run on numpy values goes through a :class:`~tensorderiv.symbolic.steps.Steps` list
made once per dtype (cores only, every structural choice made in advance, finiteness passes
skipped where magnitude bounds prove a result finite); other arrays take the general path, node
by node on c-tensors.

Example:
    >>> import numpy as np
    >>> import tensorderiv as td
    >>> A, x = td.var("A", (2, 2)), td.var("x", (2,))
    >>> td.evaluate(A @ x, {"A": np.eye(2), "x": np.array([1.0, 2.0])}).dense()
    array([1., 2.])
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from ..core import backends
from ..core.axes import Axis
from ..core.contract import ContractionPlan, plan_contraction
from ..core.ctensor import CTensor
from ..core.errors import DenseLimitError
from ..core.options import get_dense_limit
from ..core.progress import track
from .compute import add_terms, apply_node, finite, positional
from .expr import Expr
from .functions import FUNCTIONS
from .fuse import plan_kernels
from .nodes import Apply, Einsum, Node, Sum, Var, postorder
from .steps import Steps, UnplannedError
from .values import check_values

__all__ = ["Estimate", "Program", "check_values", "evaluate"]


def _constant(n: Einsum, dtype: np.dtype, like: Any = None) -> CTensor:
    groups: dict[int, int] = {}
    axis_map: list[int | None] = []
    for i in n.out:
        if n.out.count(i) > 1:
            axis_map.append(groups.setdefault(i, len(groups)))
        else:
            axis_map.append(None)
    return CTensor(backends.constant_like(n.coef, like, dtype), positional(n.shape), axis_map)


def _fake(shape: Sequence[int], dtype: np.dtype) -> np.ndarray:
    """An array of ``shape`` that takes no memory (zero strides): structure without values."""
    return np.broadcast_to(np.zeros((), dtype=dtype), tuple(shape))


def _elementwise_structure(arg: CTensor, zero_preserving: bool) -> tuple[list[int | None], int]:
    """The axis map and core size of an element-wise function's result (as :func:`_apply`)."""
    if zero_preserving or not arg.has_deltas:
        return list(arg.axis_map), math.prod(arg.core.shape)
    amap: list[int | None] = []
    k = 0
    for c in arg.axis_map:
        amap.append(None if c is None else k)
        k += c is not None
    return amap, math.prod(a.size for a, c in zip(arg.axes, arg.axis_map, strict=True)
                           if c is not None)


def _sum_structure(parts: Sequence[CTensor]) -> tuple[list[int | None], tuple[int, ...]]:
    """The axis map and core shape :func:`linear_combination` gives these terms."""
    first = parts[0]
    if all(t.axis_map == first.axis_map and t.core.shape == first.core.shape for t in parts):
        return list(first.axis_map), tuple(first.core.shape)
    keys: dict[tuple[Any, ...], list[int]] = {}
    for p in range(first.ndim):
        if all(t.axis_map[p] is None for t in parts):
            continue
        key = tuple(t.axis_map[p] if t.axis_map[p] is not None else ("none", p) for t in parts)
        keys.setdefault(key, []).append(p)
    amap: list[int | None] = [None] * first.ndim
    for k, g in enumerate(keys.values()):
        for p in g:
            amap[p] = k
    return amap, tuple(first.axes[g[0]].size for g in keys.values())


@dataclass(frozen=True)
class Estimate:
    """A compiled program's memory estimate for one dtype, worked out from shapes alone.

    Attributes:
        peak: the estimated peak bytes of a run: the inputs, every live intermediate (each freed
            after its last use), the outputs, and the temporaries of the step at the peak.
        inputs: the bytes of the input arrays (seeded or given), counted in ``peak``.
        largest: the bytes of the largest single array a step makes, and ``largest_shape`` its
            core shape and ``largest_what`` the step that makes it.
    """

    peak: int
    inputs: int
    largest: int
    largest_shape: tuple[int, ...]
    largest_what: str


def _signature(ops: Sequence[tuple[CTensor, Any]]) -> tuple[Any, ...]:
    return tuple((t.core.shape, t.axis_map) for t, _ in ops)


class Program:
    """Nodes compiled for repeated evaluation: one dependency order, plans and a memory budget.

    ``Program(node)`` evaluates one node; ``Program([n1, n2, …])`` evaluates several in one pass
    (:meth:`run_all`), each shared subexpression once. Compiling works out, from the shapes
    alone, the structure of every intermediate, its contraction plan, and the run's peak memory
    (:meth:`estimate`). A run refuses, before any work, when that peak exceeds the budget
    (:func:`tensorderiv.get_dense_limit`, 1 GiB by default; the inputs count), and frees each
    intermediate after its last use.

    Example:
        >>> import numpy as np
        >>> import tensorderiv as td
        >>> x = td.var("x", (3,))
        >>> from tensorderiv.symbolic.evaluate import Program
        >>> prog = Program(td.sum(x * x).node)
        >>> float(prog.run({"x": np.ones(3)}).dense())
        3.0
        >>> prog.estimate().inputs
        24
    """

    def __init__(self, node: Node | Sequence[Node],
                 allowed: Mapping[str, tuple[int, ...]] | None = None,
                 what: str = "the expression") -> None:
        self.roots: list[Node] = list(node) if isinstance(node, list | tuple) else [node]
        self.node = self.roots[0]
        self.order = postorder(self.roots)
        self.needed = {n.name: n.shape for n in self.order if isinstance(n, Var)}
        self.allowed = dict(allowed) if allowed is not None else dict(self.needed)
        self.what = what
        self.plans: dict[Node, ContractionPlan] = {}
        self._signatures: dict[Node, tuple[Any, ...]] = {}
        self._constants: dict[tuple[Node, str], CTensor] = {}
        self._estimates: dict[str, Estimate] = {}
        self._structure: dict[str, dict[Node, CTensor]] = {}  # per dtype: each node's template
        self._compiled: dict[str, Steps | None] = {}  # per dtype: the numpy step list
        self._inputs: dict[Node, CTensor] = {}
        self.kernels = plan_kernels(self.order, self.roots)  # fused steps, numpy runs only
        self._absorbed = {m for k in self.kernels.values() for m in k.absorbs}
        last: dict[Node, int] = {}
        for i, n in enumerate(self.order):
            for c in n.children() + (self.kernels[n].reads if n in self.kernels else ()):
                last[c] = i
        keep = set(self.roots)
        drop: list[list[Node]] = [[] for _ in self.order]
        for c, i in last.items():
            if c not in keep:
                drop[i].append(c)
        self._drop = drop
        self.estimate()  # the plans and the memory estimate, from the shapes alone

    # ------------------------------------------------------------ compile: shapes only
    def _constant(self, n: Einsum, dtype: np.dtype, like: Any = None) -> CTensor:
        if like is not None:  # another library's array (and device): built for it, not cached
            return _constant(n, dtype, like)
        key = (n, dtype.str)
        ct = self._constants.get(key)
        if ct is None:
            ct = self._constants[key] = _constant(n, dtype)
        return ct

    def _plan(self, n: Einsum, ops: list[tuple[CTensor, Any]]) -> ContractionPlan:
        sig = _signature(ops)
        plan = self.plans.get(n)
        if plan is None or self._signatures[n] != sig:
            plan = plan_contraction(ops, n.out, positional(n.shape), coefficient=n.coef)
            self.plans[n], self._signatures[n] = plan, sig
        return plan

    def estimate(self, dtype: Any = np.float64) -> Estimate:
        """The memory estimate of a run in ``dtype`` (see :class:`Estimate`); plans as a side."""
        dtype = np.dtype(dtype)
        found = self._estimates.get(dtype.str)
        if found is not None:
            return found
        item = dtype.itemsize
        shapes: dict[Node, CTensor] = {}
        live = inputs = peak = largest = 0
        largest_shape: tuple[int, ...] = ()
        largest_what = ""
        owned: dict[Node, int] = {}
        for i, n in enumerate(self.order):
            temp = 0
            if isinstance(n, Var):
                shapes[n] = CTensor(_fake(n.shape, dtype), positional(n.shape))
                inputs += math.prod(n.shape) * item
                out = 0
            elif isinstance(n, Einsum) and n.is_constant:
                shapes[n] = ct = self._constant(n, dtype)
                out = ct.nbytes
            elif isinstance(n, Einsum):
                ops = [(shapes[t], idx) for t, idx in n.terms]
                plan = self._plan(n, ops)
                shapes[n] = CTensor(_fake(plan.core_shape, dtype), plan.out_axes, plan.axis_map)
                out = 0 if plan.passthrough and plan.factor == 1.0 else \
                    math.prod(plan.core_shape) * item
                temp = plan.temporary_elements() * item
            elif isinstance(n, Sum):
                parts = [shapes[t] for _, t in n.terms]
                amap, core = _sum_structure(parts)
                shapes[n] = CTensor(_fake(core, dtype), parts[0].axes, amap)
                out = math.prod(core) * item
                temp = out  # a restructured term, or the product c·t before it is added
            elif isinstance(n, Apply):
                f = FUNCTIONS[n.fn]
                arg = shapes[n.arg]
                if f.elementwise:
                    amap, size = _elementwise_structure(arg, f.zero_preserving)
                    if amap == list(arg.axis_map):
                        shapes[n] = CTensor(_fake(arg.core.shape, dtype), arg.axes, amap)
                    else:
                        dims = [a.size for a, c in zip(arg.axes, amap, strict=True)
                                if c is not None]
                        shapes[n] = CTensor(_fake(dims, dtype), arg.axes, amap)
                    out = size * item
                    temp = out + (0 if amap == list(arg.axis_map) else out)  # kernel scratch
                else:
                    shapes[n] = CTensor(_fake(n.shape, dtype), positional(n.shape))
                    out = math.prod(n.shape) * item
                    temp = out + arg.dense_nbytes  # the dense argument and kernel scratch
            else:  # pragma: no cover - the node set is closed
                raise TypeError(f"cannot evaluate node type {type(n).__name__}")
            if out > largest:
                largest, largest_shape = out, tuple(shapes[n].core.shape)
                largest_what = _describe(n, self.plans.get(n))
            peak = max(peak, inputs + live + out + temp)
            live += out
            owned[n] = out
            for d in self._drop[i]:
                live -= owned.pop(d, 0)
        est = Estimate(peak, inputs, largest, largest_shape, largest_what)
        self._estimates[dtype.str] = est
        self._structure[dtype.str] = shapes
        return est

    def check_budget(self, dtype: Any = np.float64) -> Estimate:
        """The estimate, or :class:`DenseLimitError` with the figures when over the budget."""
        est = self.estimate(dtype)
        budget = get_dense_limit()
        if est.peak > budget:
            raise DenseLimitError(
                f"evaluating {self.what} would need about {est.peak:,} bytes at its peak "
                f"(the inputs, {est.inputs:,} bytes, included; its largest array, of shape "
                f"{est.largest_shape} ({est.largest:,} bytes), comes from {est.largest_what}), "
                f"over the dense limit of {budget:,} bytes that bounds a whole run; use smaller "
                "sizes or raise the limit with tensorderiv.set_dense_limit(nbytes)")
        return est

    @property
    def symmetric(self) -> list[Node]:
        """The einsum nodes whose result is symmetric and computed from one triangle.

        Each is a Gram product ``Σ A[s,i] w[s] A[s,j]`` of one node with itself (a Hessian's
        XᵀDX: a symmetric rank-k update, or half the blocks filled and mirrored), or a cube
        ``Σ w[s] A[s,i] A[s,j] A[s,k]`` of three copies (a third derivative's: half the rows
        filled and mirrored).
        """
        found = []
        for n, plan in self.plans.items():
            sym = plan.symmetric
            if sym is None or not plan.gram_pays or not isinstance(n, Einsum):
                continue
            copies = [n.terms[plan.original_operand(k)][0] for k in sym.all_copies]
            if all(c is copies[0] for c in copies):
                found.append(n)
        return found

    def description(self) -> str:
        """How the program computes: nodes, contractions, symmetry used, memory estimate."""
        est = self.estimate()
        einsums = [n for n in self.order if isinstance(n, Einsum) and not n.is_constant]
        lines = [f"{len(self.roots)} output(s), {len(self.order)} nodes, {len(einsums)} "
                 f"contractions; peak about {est.peak:,} bytes (inputs {est.inputs:,})"]
        for n in self.symmetric:
            how = "symmetric rank-k update or half the blocks" if n.ndim == 2 else \
                "half the rows, one BLAS product per block"
            lines.append(f"symmetric: {self.plans[n].equation} computed from one triangle "
                         f"({how}) and mirrored")
        return "\n".join(lines)

    # ------------------------------------------------------------ run
    def run(self, values: Mapping[str, Any], backend: str = "auto") -> CTensor:
        """Evaluate the (first) node on ``values``, a mapping from variable names to arrays."""
        return self.run_all(values, backend)[0]

    def run_all(self, values: Mapping[str, Any], backend: str = "auto") -> tuple[CTensor, ...]:
        """Evaluate every node given at compile time, in that order, in one pass."""
        bounds: dict[str, float] = {}
        arrays, dtype = check_values(values, self.needed, self.allowed, self.what, bounds)
        numpy = dtype.kind == "f" and all(type(a) is np.ndarray for a in arrays.values())
        if numpy:  # lazy or device arrays (dask, …) hold no memory here
            est = self._estimates.get(dtype.str)
            if est is None or est.peak > get_dense_limit():
                self.check_budget(dtype)
        # numpy's overflow warnings stay inside: every result is checked and a non-finite one
        # raises DomainError naming the step, so a warning would only repeat it in numpy's words
        with np.errstate(over="ignore", invalid="ignore", divide="ignore", under="ignore"):
            if numpy and backend == "auto":
                steps = self._compiled.get(dtype.str, False)
                if steps is False:
                    steps = self._compiled[dtype.str] = self._compile_steps(dtype)
                if steps is not None:
                    try:
                        return steps.run(arrays, dtype, self.what, bounds)
                    except UnplannedError:  # pragma: no cover - the estimate mirrors every step
                        self._compiled[dtype.str] = None
            return self._run_all(arrays, dtype, backend)

    def _compile_steps(self, dtype: np.dtype) -> Steps | None:
        """The numpy step list for ``dtype``: structure fixed from the shapes, cores only."""
        self.estimate(dtype)
        structure = self._structure[dtype.str]
        try:
            return Steps(self.order, self.roots, self._drop, self.plans,
                         lambda n: self._constant(n, dtype), structure, dtype,
                         self.kernels if dtype == np.float64 else None)
        except UnplannedError:
            return None

    def _run_all(self, arrays: Mapping[str, Any], dtype: np.dtype,
                 backend: str) -> tuple[CTensor, ...]:
        cache: dict[Node, CTensor] = {}
        drop = self._drop
        like = backends.reference(arrays.values())  # torch, jax, cupy: constants follow them
        fused = self.kernels if like is None and dtype == np.float64 else {}
        protected = [*arrays.values(), *(c.core for c in self._constants.values())] if fused \
            else []  # arrays a fused kernel must never write into
        for i, n in enumerate(track(self.order, desc=f"evaluating {self.what}")):  # bar if long
            if fused and n in self._absorbed:
                continue  # computed inside a fused kernel
            done = fused[n].run(cache, protected) if n in fused else None  # None: declined
            if done is not None:
                cache[n] = done
                finite(done, fused[n].what)
            elif isinstance(n, Var):
                tmpl = self._inputs.get(n)
                if tmpl is None:
                    tmpl = self._inputs[n] = CTensor(_fake(n.shape, dtype), positional(n.shape))
                cache[n] = CTensor._trusted(arrays[n.name], tmpl)  # shape checked above
            elif isinstance(n, Einsum):
                if n.is_constant:
                    cache[n] = self._constant(n, dtype, like)
                else:
                    ops = [(cache[t], idx) for t, idx in n.terms]
                    plan = self._plan(n, ops)
                    cache[n] = plan.run([t.core for t, _ in ops], backend=backend)
                    finite(cache[n], "a product (einsum) of finite values")
            elif isinstance(n, Sum):
                cache[n] = add_terms([(c, cache[t]) for c, t in n.terms])
                finite(cache[n], "a sum of finite values")
            elif isinstance(n, Apply):
                cache[n] = apply_node(n, cache[n.arg])
            else:  # pragma: no cover - the node set is closed
                raise TypeError(f"cannot evaluate node type {type(n).__name__}")
            for d in drop[i]:
                cache.pop(d, None)  # an absorbed node was never cached
        out = []
        for r in self.roots:
            result = cache[r]
            if result.core.dtype != dtype and isinstance(result.core, np.ndarray):
                result = result.astype(dtype)
            out.append(result)
        return tuple(out)


def _describe(n: Node, plan: ContractionPlan | None) -> str:
    if isinstance(n, Einsum) and plan is not None:
        return f"the contraction {plan.equation}"
    if isinstance(n, Apply):
        return f"{n.fn}(…)"
    return f"a {n.kind}"


def evaluate(expr: Expr, values: Mapping[str, Any]) -> CTensor:
    """The value of an expression, as a c-tensor whose axes are the output's (role ``of``).

    Example:
        >>> import numpy as np
        >>> import tensorderiv as td
        >>> x = td.var("x", (2,))
        >>> td.evaluate(td.sum(x ** 2), {"x": np.array([1.0, 2.0])}).dense()
        array(5.)
    """
    prog = Program(expr.node, expr.scope, f"'{expr.text}'")
    ct = prog.run(values)
    name = expr.text if isinstance(expr.node, Var) else "f"
    axes = [Axis((name, 0, p), n, "of", name, p) for p, n in enumerate(expr.shape)]
    return ct.with_axes(axes)
