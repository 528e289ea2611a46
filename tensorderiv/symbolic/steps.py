"""A program's numpy run as a list of steps over cores, every structural choice made once.

:class:`Steps` is the compiled form of a whole program on numpy values: the structure of every
intermediate follows from the shapes, so each step is a closure over a kernel chosen in advance
(a contraction's path as direct ``matmul``/``multiply`` calls, an element-wise function, a sum
in as few calls as its terms allow), and a run moves only the cores through a list of slots.
Finiteness (:mod:`~tensorderiv.symbolic.compute`'s checks, with its messages) is proven by
magnitude bounds where it can be: each value's check bounds its entries, each step bounds its
result from its operands' bounds (:data:`RESULT_BOUNDS` for functions), and a result's pass
runs only where the bound does not prove it finite.

Example:
    >>> import numpy as np
    >>> import tensorderiv as td
    >>> x = td.var("x", (3,))
    >>> f = td.compile(td.sum(x * x))
    >>> float(f({"x": np.ones(3)})[0].dense())
    3.0
    >>> type(f.program._compiled["<f8"]).__name__
    'Steps'
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import numpy as np

from ..core import progress
from ..core.contract import ContractionPlan
from ..core.ctensor import CTensor, cancelled_scale, expand_core
from ..core.errors import DomainError
from .compute import add_terms, apply_node, check_result, finite_core
from .functions import FUNCTIONS, describe_argument
from .fuse import Kernel, LiveCores, worth_running
from .nodes import Apply, Einsum, Node, Sum, Var
from .values import measure

__all__ = ["RESULT_BOUNDS", "Steps", "UnplannedError"]


def _numpy_apply(n: Apply) -> Callable[[Any], tuple[np.ndarray, np.ndarray]]:
    """``n.fn`` of a numpy core, its domain checked: (the values, the result).

    The caller checks the result (under its own errstate).
    """
    f = FUNCTIONS[n.fn]
    kernel, domain, params = f.kernel, f.domain, n.params

    def run(values: Any) -> tuple[np.ndarray, np.ndarray]:
        if type(values) is not np.ndarray:  # a contraction to a scalar: checked like an array
            values = np.asarray(values)
        if domain is not None:
            problem = domain(values, params)
            if problem:
                raise DomainError(problem + describe_argument(n.arg))
        return values, np.asarray(kernel(values, params), dtype=values.dtype)

    return run


def _exp_bound(b: float) -> float:
    return math.exp(b) if b < 700.0 else math.inf


#: a bound on each element-wise function's result from a bound b on its argument's magnitude
RESULT_BOUNDS: dict[str, Callable[[float], float]] = {
    "tanh": lambda b: 1.0, "sigmoid": lambda b: 1.0, "sin": lambda b: 1.0,
    "cos": lambda b: 1.0, "step": lambda b: 1.0, "sign": lambda b: 1.0,
    "relu": lambda b: b, "abs": lambda b: b, "softplus": lambda b: b + 1.0,
    "sqrt": lambda b: math.sqrt(b) if b < math.inf else b, "square": lambda b: b * b,
    "exp": _exp_bound,
}


class UnplannedError(Exception):
    """A step whose result's structure differs from the one worked out from the shapes."""


Step = Callable[[list[Any], list[float]], None]


def _same_structure(a: CTensor, b: CTensor) -> bool:
    return a.axis_map == b.axis_map and a.core.shape == b.core.shape


#: a term restructured for a sum is gathered by a precomputed index map up to this many entries
GATHER_MAX = 1 << 16


def _gather_map(term: CTensor, result: CTensor) -> tuple[np.ndarray, bool] | bool | None:
    """How to read ``term``'s core in ``result``'s core layout, as a flat index map.

    ``restructure`` materialises deltas and broadcasts through generic code on every call; the
    map does the same as one gather (index 0 of an extended core is the exact zero off a
    delta's diagonal). False when the result is too large for a map (the general sum runs).
    """
    if math.prod(result.core.shape) > GATHER_MAX:
        return False
    groups = [[p for p, c in enumerate(result.axis_map) if c == k]
              for k in range(result.core.ndim)]
    if any(not g for g in groups):
        return False
    reps = [g[0] for g in groups]
    index = np.arange(1, math.prod(term.core.shape) + 1, dtype=np.intp).reshape(term.core.shape)
    full = expand_core(index, [term.axis_map[p] for p in reps], [term.axes[p].size for p in reps])
    full = np.ascontiguousarray(full)
    if full.shape != result.core.shape:
        return False
    if full.all():
        return full - 1, False
    return full, True


def _gathered(core: Any, gather: tuple[np.ndarray, bool], dtype: np.dtype) -> np.ndarray:
    """``core`` read through a map of :func:`_gather_map`: a new array of ``dtype``."""
    index, zeros = gather
    flat = np.asarray(core, dtype=dtype).reshape(-1)
    if zeros:
        flat = np.concatenate((np.zeros(1, dtype=dtype), flat))
    return flat[index]


#: a sum of at most this many entries is computed out of place, term by term (the fewest calls)
SMALL_SUM = 4096


def _small_sum(s: int, rest: list[tuple[float, int]], fill: float, cancel: int | None,
               terms: list[tuple[float, int, CTensor]], proven: float) -> Step:
    """A small sum of same-structure terms and constant fills: a few numpy calls, no copies."""
    (c0, j0), more = rest[0], rest[1:]
    weights = [(abs(c), j) for c, j in rest]
    extra = abs(fill)

    def step(buf: list[Any], bnd: list[float]) -> None:
        core = buf[j0]
        if c0 != 1.0:
            core = core * c0
        for c, j in more:
            if c == 1.0:
                core = core + buf[j]
            elif c == -1.0:
                core = core - buf[j]
            else:
                core = core + c * buf[j]
        if fill != 0.0:
            core = core + fill
        if core is buf[j0] or type(core) is not np.ndarray:
            core = np.array(core)  # a new array (never an operand's)
        b = extra
        for w, j in weights:
            b += w * bnd[j]
        _store_sum(buf, bnd, s, core, b, proven, cancel, terms)
    return step


def _store(buf: list[Any], bnd: list[float], s: int, core: Any, b: float, proven: float,
           what: str) -> None:
    """Store a step's result in slot ``s`` with a bound on its magnitudes.

    ``b`` is the bound its operands give; where it does not prove the result finite, the result
    is measured (one pass) and a non-finite entry refused as an overflow of ``what``.
    """
    if not b < proven:
        b = measure(core)
        if b < 0:
            finite_core(core, what)
    buf[s] = core
    bnd[s] = b


def _store_sum(buf: list[Any], bnd: list[float], s: int, core: Any, b: float, proven: float,
               cancel: int | None, terms: Sequence[tuple[float, int, CTensor]]) -> None:
    """Store a sum's result, its bound and an output's cancellation record.

    The bound is measured (one pass) where ``b`` does not prove the result finite.
    """
    _store(buf, bnd, s, core, b, proven, "a sum of finite values")
    if cancel is not None:  # an output: how far its terms cancelled (reduce's tolerance)
        buf[cancel] = cancelled_scale(
            core, [(c, CTensor._trusted(buf[j], t)) for c, j, t in terms])


def _fused(kernel: Kernel, fallback: Step | None, s: int, slot: Mapping[Node, int],
           structure: Mapping[Node, CTensor], cancel: int | None) -> Step:
    """A step that runs a fused kernel (symbolic/fuse.py), or ``fallback`` when it declines."""
    result = structure[kernel.node]

    def step(buf: list[Any], bnd: list[float]) -> None:
        done = kernel.run(LiveCores(buf, slot, structure), buf[-1])
        if done is None and fallback is not None:
            return fallback(buf, bnd)
        if done is None or not _same_structure(done, result):
            raise UnplannedError(kernel.what)  # pragma: no cover - kernels keep the structure
        _store(buf, bnd, s, done.core, math.inf, math.inf, kernel.what)  # always measured
        if cancel is not None:  # an output sum's cancellation record
            buf[cancel] = done.cancelled
    return step


def _aliases(order: Sequence[Node], structure: Mapping[Node, CTensor]
             ) -> dict[Node, tuple[Node, float]]:
    """Products that repeat an earlier one but for the coefficient: node → (earlier, ratio)."""
    first: dict[tuple[Any, ...], Einsum] = {}
    found: dict[Node, tuple[Node, float]] = {}
    for n in order:
        if not isinstance(n, Einsum) or n.is_constant or n.coef == 0.0:
            continue
        key = (n.terms, n.out, n.sizes)
        m = first.setdefault(key, n)
        if m is not n and structure[m].axis_map == structure[n].axis_map and \
                structure[m].core.shape == structure[n].core.shape:
            found[n] = (m, n.coef / m.coef)
    return found


def _scaled(s: int, src: int, ratio: float, proven: float) -> Step:
    """The step of a product that is an earlier one times ``ratio``."""
    def step(buf: list[Any], bnd: list[float]) -> None:
        core = np.negative(buf[src]) if ratio == -1.0 else np.multiply(buf[src], ratio)
        _store(buf, bnd, s, core, abs(ratio) * bnd[src], proven,
               "a product (einsum) of finite values")
    return step


class Steps:
    """A program's numpy run as a list of steps over cores, every structural choice made once.

    The structure of every intermediate (its axes, axis map and core shape) follows from the
    shapes alone, so it is worked out when the program is compiled (``Program.estimate``);
    a run then moves only the cores through a list of slots, one per node: each step reads its
    operands' slots, calls a kernel chosen in advance (a contraction's path, an element-wise
    function, an in-place sum) and checks its result as the general path does, and each
    slot is freed after its last use. Only the outputs become c-tensors, over templates.
    """

    def __init__(self, order: Sequence[Node], roots: Sequence[Node],
                 drop: Sequence[Sequence[Node]], plans: Mapping[Node, ContractionPlan],
                 constant: Callable[[Einsum], CTensor], structure: Mapping[Node, CTensor],
                 dtype: np.dtype, kernels: Mapping[Node, Kernel] | None = None) -> None:
        slot = {n: i for i, n in enumerate(order)}
        self.size = len(order)
        # a bound on a result's magnitudes below this proves its entries finite in ``dtype``
        # (eight orders of magnitude of room for rounding)
        proven = float(np.finfo(dtype).max) * 1e-8
        self.inputs: list[tuple[int, str]] = []
        self.constants: list[tuple[int, Any]] = []
        self.constant_bounds: list[tuple[int, float]] = []
        steps: list[tuple[Step | None, tuple[int, ...]]] = []
        self.outputs: list[tuple[int, CTensor, int | None]] = []
        extra: dict[Node, int] = {}  # an output sum's cancelled scale goes to a slot of its own
        for r in roots:
            if isinstance(r, Sum) and r not in extra:
                extra[r] = self.size + len(extra)
        # a product equal to an earlier one but for its coefficient (y·(Xw) and −y·(Xw), as a
        # derivative makes them) is that one scaled: the earlier one then lives until it is read
        aliases = _aliases(order, structure)
        frees = [[slot[d] for d in ds] for ds in drop]
        freed_at = {d: k for k, ds in enumerate(frees) for d in ds}
        for n, (m, _) in aliases.items():
            j = freed_at.get(slot[m])
            if j is not None and j < slot[n]:  # keep the earlier product until n reads it
                frees[j].remove(slot[m])
                frees[slot[n]].append(slot[m])
                freed_at[slot[m]] = slot[n]
        # fused kernels (symbolic/fuse.py) where they pay, and none that reads an aliased
        # product (an in-place kernel could overwrite it before its alias reads it)
        sources = {m for m, _ in aliases.values()}
        kernels = {n: k for n, k in (kernels or {}).items() if worth_running(k, structure)
                   and n not in aliases and not (set(k.reads) & sources)}
        absorbed = {m for k in kernels.values() for m in k.absorbs}
        for i, n in enumerate(order):
            s = slot[n]
            free = tuple(frees[i])
            if n in absorbed:  # computed inside a fused kernel
                steps.append((None, free))
                continue
            if n in aliases:
                m, ratio = aliases[n]
                steps.append((_scaled(s, slot[m], ratio, proven), free))
                continue
            if isinstance(n, Var):
                self.inputs.append((s, n.name))
                steps.append((None, free))  # loaded before the steps (one step per node)
                continue
            if isinstance(n, Einsum) and n.is_constant:
                self.constants.append((s, constant(n).core))
                self.constant_bounds.append((s, abs(float(constant(n).core))))
                steps.append((None, free))
                continue
            if isinstance(n, Einsum):
                step = self._einsum(n, plans[n], s, [slot[t] for t, _ in n.terms], proven)
            elif isinstance(n, Sum):
                step = self._sum(n, structure, s, slot, extra.get(n), dict(self.constants),
                                 proven)
            elif isinstance(n, Apply):
                step = self._apply(n, structure[n.arg], structure[n], s, slot[n.arg], proven)
            else:  # pragma: no cover - the node set is closed
                raise UnplannedError(type(n).__name__)
            if n in kernels:
                k = kernels[n]
                step = _fused(k, None if k.absorbs else step, s, slot, structure,
                              extra.get(n))
            steps.append((step, free))
        self.steps = steps
        self.outputs = [(slot[r], structure[r], extra.get(r)) for r in roots]
        self.slots = self.size + len(extra)

    @staticmethod
    def _einsum(n: Einsum, plan: ContractionPlan, s: int, args: list[int],
                proven: float) -> Step:
        sym = plan.symmetric
        copies = [] if sym is None else \
            [n.terms[plan.original_operand(k)][0] for k in sym.all_copies]
        same = bool(copies) and all(c is copies[0] for c in copies)
        kernel = plan.numpy_kernel(same)
        # |result| <= |coefficient| · (terms summed) · Π max(1, |operand|): every partial sum
        # of every pairwise step is bounded so too, so a finite bound proves them all finite
        letters = dict(zip("".join(plan.equation.split("->")[0].split(",")),
                           [n for shape in plan.operand_shapes for n in shape], strict=True))
        summed = math.prod(letters.values()) / max(1, math.prod(
            letters[c] for c in set(plan.equation.split("->")[1])))
        scale = abs(plan.factor) * summed

        def step(buf: list[Any], bnd: list[float]) -> None:
            core = kernel([buf[a] for a in args])
            b = scale
            for a in args:
                x = bnd[a]
                if x > 1.0:
                    b *= x
            _store(buf, bnd, s, core, b, proven, "a product (einsum) of finite values")
        return step

    @staticmethod
    def _apply(n: Apply, arg: CTensor, result: CTensor, s: int, a: int,
               proven: float) -> Step:
        f = FUNCTIONS[n.fn]
        as_core = arg.axis_map == tuple(range(arg.core.ndim)) if not f.elementwise else \
            f.zero_preserving or not arg.has_deltas
        bound = RESULT_BOUNDS.get(n.fn) if f.elementwise else None
        if as_core:  # the function acts on the argument's core itself
            kernel = _numpy_apply(n)

            def step(buf: list[Any], bnd: list[float]) -> None:
                values, out = kernel(buf[a])
                b = math.inf if bound is None else bound(bnd[a])
                if not b < proven:
                    b = measure(out)
                    if b < 0:
                        check_result(n, f, values, out)  # raises, naming the entry
                buf[s] = out
                bnd[s] = b
        else:  # deltas to materialise, or a compact argument to make dense: the general path
            def step(buf: list[Any], bnd: list[float]) -> None:
                ct = apply_node(n, CTensor._trusted(buf[a], arg))
                if not _same_structure(ct, result):  # pragma: no cover - mirrors estimate()
                    raise UnplannedError(n.fn)
                buf[s] = ct.core
                bnd[s] = math.inf if bound is None else bound(bnd[a])
        return step

    @staticmethod
    def _sum(n: Sum, structure: Mapping[Node, CTensor], s: int, slot: Mapping[Node, int],
             cancel: int | None, constants: Mapping[int, Any], proven: float) -> Step:
        result = structure[n]
        terms = [(c, slot[t], structure[t]) for c, t in n.terms]
        def is_fill(t: CTensor) -> bool:  # a constant over axes (a scalar result has none)
            return t.core.ndim == 0 and bool(t.axis_map) and all(m is None for m in t.axis_map)

        fills = [(c, j) for c, j, t in terms if is_fill(t)]
        rest: list[tuple[float, int, Any]] = []  # (coefficient, slot, gather map or None)
        for c, j, t in terms:
            if is_fill(t):
                continue
            gather = None if _same_structure(t, result) else _gather_map(t, result)
            if gather is False:
                rest = []
                break
            rest.append((c, j, gather))
        if not rest or (fills and result.has_deltas):  # the general sum (restructures)
            def general(buf: list[Any], bnd: list[float]) -> None:
                ct = add_terms([(c, CTensor._trusted(buf[j], t)) for c, j, t in terms])
                b = measure(ct.core)
                if b < 0:
                    finite_core(ct.core, "a sum of finite values")
                if not _same_structure(ct, result):
                    raise UnplannedError("sum")
                buf[s] = ct.core
                bnd[s] = b
                if cancel is not None:
                    buf[cancel] = ct.cancelled
            return general
        (c0, j0, g0), more = rest[0], rest[1:]
        every = [j for _, j, _ in rest] + [j for _, j in fills]
        fixed = [(c, constants[j]) for c, j in fills if j in constants]
        if math.prod(result.core.shape) <= SMALL_SUM and len(fixed) == len(fills) and \
                all(g is None for _, _, g in rest):
            return _small_sum(s, [(c, j) for c, j, _ in rest],
                              sum(c * float(v) for c, v in fixed), cancel, terms, proven)

        weights = [(abs(c), j) for c, j, _ in rest] + [(abs(c), j) for c, j in fills]
        if len(rest) == 2 and not fills and g0 is None and rest[1][2] is None and \
                (c0, rest[1][0]) in ((1.0, 1.0), (1.0, -1.0)) and cancel is None:
            j1 = rest[1][1]
            op = np.add if rest[1][0] == 1.0 else np.subtract

            def pair(buf: list[Any], bnd: list[float]) -> None:  # a ± b: one new array
                core = op(buf[j0], buf[j1])
                _store(buf, bnd, s, core, bnd[j0] + bnd[j1], proven, "a sum of finite values")
            return pair

        def step(buf: list[Any], bnd: list[float]) -> None:
            dtype = np.result_type(*[buf[j].dtype for j in every])
            t0 = buf[j0] if g0 is None else _gathered(buf[j0], g0, dtype)
            if g0 is not None:
                core = t0 if c0 == 1.0 else np.multiply(t0, c0, out=t0)
            else:
                core = np.multiply(t0, c0, dtype=dtype) if c0 != 1.0 else \
                    np.array(t0, dtype=dtype)
            for c, j, g in more:
                t = buf[j] if g is None else _gathered(buf[j], g, dtype)
                if c == 1.0:
                    core += t
                elif c == -1.0:
                    core -= t
                else:
                    core += c * t
            fill = 0.0
            for c, j in fills:
                fill += c * float(buf[j])
            if fill != 0.0:
                core += fill
            b = 0.0
            for w, j in weights:  # |Σ cₖ tₖ| <= Σ |cₖ| |tₖ|
                b += w * bnd[j]
            _store_sum(buf, bnd, s, core, b, proven, cancel, terms)
        return step

    def run(self, arrays: Mapping[str, Any], dtype: np.dtype, what: str,
            bounds: Mapping[str, float]) -> tuple[CTensor, ...]:
        """The outputs' c-tensors for these (checked, numpy) values.

        ``bounds`` bound the values' magnitudes (from their finiteness check; a missing one is
        unknown). Each step bounds its result from its operands' bounds; where that bound
        proves the result finite its finiteness pass is skipped, elsewhere it runs (and gives
        the result's bound).
        """
        buf: list[Any] = [None] * (self.slots + 1)
        for s, name in self.inputs:
            buf[s] = arrays[name]
        for s, core in self.constants:
            buf[s] = core
        # the last slot: the arrays a fused kernel must never write into (the inputs, even
        # after their slots are freed, and the constants)
        buf[-1] = [*(buf[s] for s, _ in self.inputs), *(core for _, core in self.constants)]
        bnd = [math.inf] * self.slots
        for s, name in self.inputs:
            bnd[s] = bounds.get(name, math.inf)
        for s, b in self.constant_bounds:
            bnd[s] = b
        steps = self.steps
        clock = time.perf_counter
        start = clock()
        for k, (step, free) in enumerate(steps):
            if step is not None:
                step(buf, bnd)
            for d in free:
                buf[d] = None
            if clock() - start >= progress.DELAY:  # a long run: the rest under a progress bar
                with progress.Progress(len(steps), f"evaluating {what}", delay=0.0) as bar:
                    bar.update(k + 1)
                    for step, free in steps[k + 1:]:
                        if step is not None:
                            step(buf, bnd)
                        for d in free:
                            buf[d] = None
                        bar.update()
                break
        out = []
        for s, tmpl, cancel in self.outputs:
            core = buf[s]
            if core.dtype != dtype and isinstance(core, np.ndarray):
                core = core.astype(dtype)
            ct = CTensor._trusted(core, tmpl)
            if cancel is not None:
                ct.cancelled = buf[cancel]
            out.append(ct)
        return tuple(out)
