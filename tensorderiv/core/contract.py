"""The chain rule as one contraction (notes Definition 3, A.8.3).

:func:`contract` contracts any number of :class:`~tensorderiv.CTensor` over the labels they share,
in one ``opt_einsum`` contraction with an optimised path. Kronecker deltas are eliminated by
identifying labels (two full axes that read one core axis are one index), redundant axes that are
summed become a factor of their size, and nothing is materialised. Labels may be any hashable:
they are turned into opt_einsum symbols only at the call, so there is no 52-letter limit.

Paths are searched once per structure: repeated contractions with the same equation and core
shapes reuse one path (:mod:`~tensorderiv.core.paths`: a bounded cache of paths, never of
arrays), whose search is chosen by the operand count so that it stays bounded.

Example — the neural-network chain rule ∂L/∂W = ∂Z/∂W · ∂L/∂Z (notes A.61) for Z = Wᵀa:

    >>> import numpy as np
    >>> from tensorderiv import CTensor, contract
    >>> from tensorderiv.core.axes import Axis
    >>> a, g = np.array([1.0, 2.0, 3.0]), np.array([10.0, 20.0])   # g = ∂L/∂Z
    >>> dZ_dW = CTensor(a, [Axis("i", 3, "wrt", "W", 0, 1), Axis("j", 2, "wrt", "W", 1, 1),
    ...                     Axis("z", 2, "of", "Z", 0)], axis_map=(0, 1, 1))  # a_i δ_jz
    >>> dL_dZ = CTensor(g, [Axis("z", 2, "wrt", "Z", 0, 1)])
    >>> contract(dZ_dW, dL_dZ).dense()   # = a gᵀ
    array([[10., 20.],
           [20., 40.],
           [30., 60.]])
"""

from __future__ import annotations

import functools
import math
import operator
from collections.abc import Callable, Hashable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import opt_einsum as oe
from opt_einsum import blas

from .axes import Axis
from .ctensor import CTensor
from .errors import ArgumentError, DenseLimitError, LabelError, OptionError, ShapeError
from .kernels import MatmulSpec, matmul, matmul_spec
from .options import get_dense_limit
from .paths import Path, canonical, choose_optimizer, search
from .paths import cache_info as paths_cache_info
from .symmetric import GramSpec, gram, gram_pattern

__all__ = ["ContractionPlan", "cache_info", "contract", "contract_labelled", "plan_contraction"]


#: a contraction whose naive loop has at most this many multiply-adds runs in numpy's C einsum
_SMALL = 20_000
#: a Gram product (one triangle by ``dsyrk``, then mirrored) pays from about this many
#: multiply-adds of the full product (side² × summed length) on; below it the fixed cost of the
#: weights, the rank-k update and the mirror exceeds the half product saved (measured one core,
#: OpenBLAS: 1.4× slower at 140²·140, even at 256²·256, 0.75× at 200²·800)
GRAM_MIN_WORK = 1 << 24


def cache_info() -> Any:
    """Hits and misses of the path cache (plans are cached by structure: equation and shapes)."""
    return paths_cache_info()


def _matmul_step(einsum_str: str, removed: Iterable[str],
                 size: dict[str, int]) -> Callable[[Any, Any], Any]:
    """A pairwise BLAS contraction as one ``matmul`` between precomputed transposes/reshapes.

    What ``numpy.tensordot`` works out on every call (the axes, permutations and shapes) is
    worked out here once; the call is at most two transposes, two reshapes, one matmul and one
    transpose of the result.
    """
    inputs, result = einsum_str.split("->")
    left, right = inputs.split(",")
    summed = sorted(set(removed), key=left.index)  # tensordot's canonical order
    free_l = [c for c in left if c not in summed]
    free_r = [c for c in right if c not in summed]
    if "".join(free_r + free_l) == result and free_l and free_r:  # swapped: no transpose after
        swapped = _matmul_step(f"{right},{left}->{result}", removed, size)
        return lambda a, b: swapped(b, a)
    perm_l = tuple(left.index(c) for c in free_l + summed)
    perm_r = tuple(right.index(c) for c in summed + free_r)
    shape_l = (math.prod(size[c] for c in free_l), math.prod(size[c] for c in summed))
    shape_r = (shape_l[1], math.prod(size[c] for c in free_r))
    made = "".join(free_l + free_r)
    shape_out = tuple(size[c] for c in made)
    order = tuple(made.index(c) for c in result)
    moves_l, moves_r = perm_l != tuple(range(len(left))), perm_r != tuple(range(len(right)))
    moves_out = order != tuple(range(len(made)))

    def step(a: Any, b: Any) -> Any:
        if moves_l:
            a = a.transpose(perm_l)
        if moves_r:
            b = b.transpose(perm_r)
        c = np.matmul(a.reshape(shape_l), b.reshape(shape_r)).reshape(shape_out)
        return c.transpose(order) if moves_out else c

    return step


def _product_step(einsum_str: str, size: dict[str, int]) -> Callable[[Any, Any], Any] | None:
    """A pairwise step that sums nothing (``a,ab->ab``): one broadcast ``numpy.multiply``.

    None when the step sums a letter, repeats one, or an operand's letters are not in the
    result's order (C einsum does those).
    """
    inputs, result = einsum_str.split("->")
    terms = inputs.split(",")
    if len(terms) != 2 or len(set(result)) != len(result) or set("".join(terms)) != set(result):
        return None
    shapes = []
    for term in terms:
        if len(set(term)) != len(term) or [c for c in result if c in term] != list(term):
            return None
        shapes.append(tuple(size[c] if c in term else 1 for c in result))
    left, right = (None if t == result else s for t, s in zip(terms, shapes, strict=True))
    if left is None and right is None:
        return np.multiply
    if left is None:
        return lambda a, b: np.multiply(a, b.reshape(right))
    if right is None:
        return lambda a, b: np.multiply(a.reshape(left), b)
    return lambda a, b: np.multiply(a.reshape(left), b.reshape(right))


def _one_step(equation: str, shapes: Sequence[tuple[int, ...]]) -> Callable[[Sequence[Any]], Any]:
    """A contraction of one or two small operands as one numpy call, chosen once."""
    lhs, rhs = equation.split("->")
    terms = lhs.split(",")
    size = {c: n for term, shape in zip(terms, shapes, strict=True)
            for c, n in zip(term, shape, strict=True)}
    if len(terms) == 2:
        fn = _product_step(equation, size)
        removed = frozenset(lhs.replace(",", "")) - frozenset(rhs)
        verdict = blas.can_blas(terms, rhs, removed)
        if fn is None and verdict and "EINSUM" not in str(verdict):
            fn = _matmul_step(equation, removed, size)
        if fn is not None:
            return lambda cs: fn(cs[0], cs[1])
    return lambda cs: np.einsum(equation, *cs)


def _numpy_path(path: Path) -> Callable[[Sequence[Any]], Any]:
    """A path as a plain loop over numpy calls, every choice made once.

    Each pairwise step is one broadcast ``multiply`` when it sums nothing, one ``matmul``
    between precomputed transposes and reshapes where opt_einsum would call ``tensordot``
    (a BLAS product), and C einsum otherwise; nothing is parsed or dispatched per call.
    """
    size = {c: n for term, shape in zip(path.equation.split("->")[0].split(","), path.shapes,
                                        strict=True)
            for c, n in zip(term, shape, strict=True)}
    plan: list[tuple[tuple[int, ...], Callable[..., Any]]] = []
    for step in path.steps:
        fn = _product_step(step.equation, size)
        if fn is None and step.blas and "EINSUM" not in str(step.blas) and \
                step.equation.count(",") == 1:
            fn = _matmul_step(step.equation, step.removed, size)
        plan.append((step.positions, fn or functools.partial(np.einsum, step.equation)))

    def run(cores: Sequence[Any]) -> Any:
        operands = list(cores)
        for inds, fn in plan:
            operands.append(fn(*[operands.pop(k) for k in inds]))
        return operands[0]

    return run


class _Classes:
    """Union-find over labels: labels identified by a shared core axis (a delta) are one index."""

    def __init__(self) -> None:
        self.parent: dict[Hashable, Hashable] = {}

    def find(self, x: Hashable) -> Hashable:
        self.parent.setdefault(x, x)
        root = x
        while self.parent[root] != root:
            root = self.parent[root]
        while self.parent[x] != root:
            self.parent[x], x = root, self.parent[x]
        return root

    def union(self, a: Hashable, b: Hashable) -> None:
        ra, rb = self.find(a), self.find(b)
        if ra != rb:
            self.parent[rb] = ra


@dataclass(frozen=True)
class ContractionPlan:
    """A contraction worked out from structure alone (labels, axis maps, core shapes).

    ``run(cores)`` evaluates it on cores of those shapes; the path inside is searched once (and
    shared by every plan of the same structure), so a compiled derivative pays for planning
    only when it is compiled.
    """

    equation: str
    path: Path | None  # None when nothing is contracted (the operand passes through)
    factor: float
    axis_map: tuple[int | None, ...]
    out_axes: tuple[Axis, ...]
    passthrough: bool
    core_shape: tuple[int, ...] = ()
    operand_shapes: tuple[tuple[int, ...], ...] = ()
    scalars: tuple[int, ...] = ()
    symmetric: GramSpec | None = None
    small: bool = False  # few multiply-adds in all: numpy's C einsum, no path
    template: CTensor | None = None  # the result's axes, checked once
    operand_order: tuple[int, ...] = ()  # the cores' order in :attr:`path` (normal order)
    gram_pays: bool = False  # large enough that the symmetric path beats the full product

    @functools.cached_property
    def expression(self) -> Any:
        """opt_einsum's compiled expression of :attr:`path` (for other array libraries)."""
        if self.path is None:
            return None
        expression = oe.contract_expression(self.path.equation, *self.path.shapes,
                                            optimize=[tuple(p) for p in self.path.pairs])
        order = self.operand_order
        return lambda *cores, **kw: expression(*[cores[k] for k in order], **kw)

    @functools.cached_property
    def _numpy(self) -> Callable[[Sequence[Any]], Any]:
        run, order = _numpy_path(self.path), self.operand_order
        if order == tuple(range(len(order))):
            return run
        return lambda cores: run([cores[k] for k in order])

    @property
    def optimizer(self) -> str | None:
        """The path search that planned this contraction (None when nothing is contracted)."""
        return None if self.path is None else self.path.optimizer
    direct: MatmulSpec | None = None  # one matrix product: np.matmul, C-ordered result

    def original_operand(self, k: int) -> int:
        """The position among the operands given of the k-th core in :attr:`equation`."""
        kept = [j for j in range(len(self.operand_shapes) + len(self.scalars))
                if j not in self.scalars]
        return kept[k]

    def run(self, cores: Sequence[Any], backend: str = "auto") -> CTensor:
        """Contract ``cores`` (one per operand, in order) into the result c-tensor.

        Raises:
            DenseLimitError: when the result's core alone would exceed the dense budget.
        """
        if not self.passthrough and len(cores) > len(self.scalars):
            itemsize = max(getattr(c, "dtype", np.dtype("f8")).itemsize for c in cores)
            need = math.prod(self.core_shape) * itemsize
            if need > get_dense_limit():
                raise DenseLimitError(
                    f"the contraction {self.equation} would make an array of shape "
                    f"{self.core_shape} ({need:,} bytes), over the dense limit of "
                    f"{get_dense_limit():,} bytes; use smaller sizes or raise the limit with "
                    "tensorderiv.set_dense_limit(nbytes)")
        factor = self.factor
        template = self.template
        if self.scalars:
            for k in self.scalars:
                factor = factor * cores[k]
            cores = [c for k, c in enumerate(cores) if k not in self.scalars]
            if not cores:  # every operand a scalar
                return CTensor(np.asarray(factor), self.out_axes, self.axis_map)
        sym = self.symmetric
        if sym is not None and self.gram_pays and sym.applies(cores, self.core_shape):
            core = gram(sym, cores)  # one triangle, mirrored (a Hessian's XᵀDX)
        elif self.passthrough:
            core = cores[0]
        elif self.direct is not None and backend == "auto" and \
                type(cores[0]) is np.ndarray and type(cores[1]) is np.ndarray:
            core = matmul(self.direct, cores)  # no transposed view from tensordot
        elif self.small and backend == "auto" and all(type(c) is np.ndarray for c in cores):
            core = np.einsum(self.equation, *cores)  # tiny: C einsum beats planning overhead
        elif backend == "auto" and all(type(c) is np.ndarray for c in cores):
            core = self._numpy(cores)
        else:
            core = self.expression(*cores, backend=backend)
        if isinstance(factor, np.ndarray | np.generic):
            factor = factor.item() if getattr(factor, "size", 1) == 1 else factor
        # a scalar operand of another library (a torch tensor, on any device) stays a factor of
        # that library: it is multiplied in, never compared (a "meta" tensor has no value)
        if not isinstance(factor, int | float) or factor != 1.0:
            fresh = isinstance(core, np.ndarray) and core.flags.writeable and \
                not self.passthrough and not any(np.may_share_memory(core, c) for c in cores)
            if fresh:  # scale the new array in place: no second array of the result's size
                with np.errstate(over="ignore", invalid="ignore"):  # the evaluator checks
                    np.multiply(core, factor, out=core, casting="unsafe")
            else:
                with np.errstate(over="ignore", invalid="ignore"):
                    core = core * factor
        if template is not None and getattr(core, "shape", None) == template.core.shape:
            return CTensor._trusted(core, template)
        return CTensor(core, self.out_axes, self.axis_map)

    def numpy_kernel(self, copies_identical: bool = False) -> Callable[[Sequence[Any]], Any]:
        """The contraction as a function of numpy cores alone, every choice made here, once.

        For compiled programs: the path (C einsum, the planned path, or the symmetric Gram
        product when ``copies_identical`` says its two copies are one array) and the scaling are
        fixed, so a call does only the arithmetic. It does not check the dense limit (a
        program checks its whole run's peak, which bounds every result, before it starts).
        """
        scalars, factor0 = self.scalars, self.factor
        keep = [k for k in range(len(self.operand_shapes) + len(scalars)) if k not in scalars]
        sym = self.symmetric
        contract: Callable[[Sequence[Any]], Any]
        if not keep:
            return lambda cores: np.asarray(math.prod([factor0, *(cores[k] for k in scalars)]))
        if sym is not None and self.gram_pays and copies_identical:
            contract = functools.partial(gram, sym)
        elif self.passthrough:
            contract = operator.itemgetter(0)
        elif self.small and len(keep) <= 2:  # one step: multiply, matmul or C einsum
            contract = _one_step(self.equation, self.operand_shapes)
        elif self.small and len(keep) == 3:  # C einsum is slow over more operands
            equation = self.equation
            contract = lambda cs: np.einsum(equation, *cs)  # noqa: E731
        else:
            contract = self._numpy
        if not scalars and factor0 == 1.0:
            return contract  # nothing to scale: the contraction itself
        fresh = len(keep) >= 2  # a product of two or more arrays is a new array: scaled in place

        def run(cores: Sequence[Any]) -> Any:
            factor = factor0
            if scalars:
                for k in scalars:
                    factor = factor * cores[k]
                factor = float(factor)
                cores = [cores[k] for k in keep]
            core = contract(cores)
            if factor != 1.0:
                if fresh and type(core) is np.ndarray:
                    np.multiply(core, factor, out=core, casting="unsafe")
                else:
                    core = core * factor
            return core

        return run

    def temporary_elements(self) -> int:
        """Elements of the intermediates made on the way to the result (an upper estimate).

        Two intermediates are alive at a step at most (its operand and its result), so this is
        the sum of the two largest intermediate results, the final one excluded.
        """
        if self.path is None:
            return 0
        made = sorted((step.size for step in self.path.steps[:-1]), reverse=True)
        return sum(made[:2])


def plan_contraction(
    operands: Sequence[tuple[CTensor, Sequence[Hashable]]],
    out: Sequence[Hashable],
    out_axes: Sequence[Axis] | None = None,
    *,
    coefficient: float = 1.0,
    optimize: str = "auto",
) -> ContractionPlan:
    """Work out the contraction :func:`contract_labelled` performs, without running it."""
    classes = _Classes()
    sizes: dict[Hashable, tuple[int, int]] = {}  # label -> (size, operand position) for messages
    for k, (t, labels) in enumerate(operands):
        if len(labels) != t.ndim:
            raise ShapeError(f"operand {k}: {len(labels)} labels for a c-tensor of rank {t.ndim}")
        reader: dict[int, Hashable] = {}  # core or implicit axis -> first label reading it
        for lab, ax, c in zip(labels, t.axes, t.axis_map, strict=True):
            seen = sizes.get(lab)
            if seen is not None and seen[0] != ax.size:
                raise ShapeError(
                    f"label {lab!r}: size {seen[0]} in operand {seen[1]} but {ax.size} in operand"
                    f" {k}; inner shapes must match (notes A.1: (a×b)(b×c) needs the same b)"
                )
            sizes.setdefault(lab, (ax.size, k))
            classes.find(lab)
            if c is not None:
                if c in reader:
                    classes.union(reader[c], lab)
                else:
                    reader[c] = lab
    for p, lab in enumerate(out):
        if lab not in sizes:
            if out_axes is None:
                raise LabelError(f"output label {lab!r} is on no operand; known labels: "
                                 f"{sorted(map(repr, sizes))}")
            sizes[lab] = (out_axes[p].size, -1)  # a broadcast (or a pure delta) in the result
            classes.find(lab)
    symbols: dict[Hashable, str] = {}

    def sym(root: Hashable) -> str:
        if root not in symbols:
            symbols[root] = oe.get_symbol(len(symbols))
        return symbols[root]

    terms, shapes, supported, scalars = [], [], set(), []
    some_array = any(t.core.ndim for t, _ in operands)
    for k, (t, labels) in enumerate(operands):
        if t.core.ndim == 0 and some_array:
            scalars.append(k)  # a scalar core (a fill, a pure delta): a factor, not an operand
            continue
        core_roots: list[Hashable] = [None] * t.core.ndim
        for lab, c in zip(labels, t.axis_map, strict=True):
            if c is not None and c < t.core.ndim:
                core_roots[c] = classes.find(lab)
        supported.update(core_roots)
        terms.append("".join(sym(r) for r in core_roots))
        shapes.append(tuple(int(n) for n in t.core.shape))
    out_roots = [classes.find(lab) for lab in out]
    out_core: list[Hashable] = []
    for r in out_roots:
        if r in supported and r not in out_core:
            out_core.append(r)
    # summed classes that no core carries: the summand is constant along them
    factor = coefficient
    summed = {classes.find(lab) for lab in sizes} - set(out_roots)
    for r in summed - supported:
        factor *= sizes[r][0]
    rhs = "".join(sym(r) for r in out_core)
    equation = ",".join(terms) + "->" + rhs
    passthrough = len(terms) == 1 and terms[0] == rhs
    letters = {c: n for term, shape in zip(terms, shapes, strict=True)
               for c, n in zip(term, shape, strict=True)}
    if optimize == "auto":  # bounded: exhaustive for few operands, greedy for many (paths.py)
        optimize = choose_optimizer(len(terms), math.prod(letters.values()))
    path, order = None, tuple(range(len(terms)))
    if not passthrough:  # searched in a normal operand order: one search per structure
        key, key_shapes, order = canonical(equation, shapes)
        path = search(key, key_shapes, optimize)
    # an output class no core carries is a pure delta when several output axes share it
    # (an implicit axis of ones), and redundant (constant) when only one does
    axis_map: list[int | None] = []
    implicit: dict[Hashable, int] = {}
    for r in out_roots:
        if r in supported:
            axis_map.append(out_core.index(r))
        elif out_roots.count(r) > 1:
            axis_map.append(implicit.setdefault(r, len(out_core) + len(implicit)))
        else:
            axis_map.append(None)
    if out_axes is None:
        first: dict[Hashable, Axis] = {}
        for t, labels in operands:
            for lab, ax in zip(labels, t.axes, strict=True):
                first.setdefault(lab, ax.relabel(lab))
        out_axes = [first[lab] for lab in out]
    core_shape = tuple(sizes[r][0] for r in out_core)
    symmetric = None if passthrough else gram_pattern(equation, shapes)
    small = len(terms) <= 4 and math.prod(letters.values()) <= _SMALL
    # two copies (dsyrk): only from GRAM_MIN_WORK multiply-adds on; three (a cube): from its side
    gram_pays = symmetric is not None and symmetric.worth(core_shape) and (
        len(symmetric.all_copies) == 3 or
        core_shape[0] ** 2 * math.prod(letters[c] for c in symmetric.summed) >= GRAM_MIN_WORK)
    fake = np.broadcast_to(np.zeros(()), core_shape)
    template = CTensor(fake, out_axes, axis_map)
    return ContractionPlan(equation, path, factor, tuple(axis_map), tuple(out_axes),
                           passthrough, core_shape, tuple(shapes), tuple(scalars), symmetric,
                           small, template, gram_pays=gram_pays, operand_order=order,
                           direct=None if passthrough else matmul_spec(equation, shapes))


def contract_labelled(
    operands: Sequence[tuple[CTensor, Sequence[Hashable]]],
    out: Sequence[Hashable],
    out_axes: Sequence[Axis] | None = None,
    *,
    coefficient: float = 1.0,
    optimize: str = "auto",
    backend: str = "auto",
) -> CTensor:
    """Contract c-tensors whose full axes are renamed by ``operands[k][1]``.

    A label may stand on several axes of one operand (a diagonal, as in ``"ii->"``) and several
    times in ``out`` (the result then carries a delta between those axes). Labels not in ``out``
    are summed. This is the engine under :func:`contract` and the expression evaluator.
    """
    plan = plan_contraction(operands, out, out_axes, coefficient=coefficient, optimize=optimize)
    return plan.run([t.core for t, _ in operands], backend=backend)


def contract(
    *tensors: CTensor,
    keep: Iterable[Hashable] = (),
    out: Sequence[Hashable] | None = None,
    optimize: str = "auto",
    backend: str = "auto",
) -> CTensor:
    """Contract c-tensors over the labels they share (the chain rule), in one einsum.

    Args:
        *tensors: the c-tensors; their axis labels say which axes are one index.
        keep: shared labels to keep rather than sum (an element-wise, Hadamard product over them).
        out: the result's labels explicitly; every other label is summed. By default a label is
            kept when exactly one tensor has it, or when it is in ``keep``.
        optimize: an ``opt_einsum`` path strategy (``"auto"``, ``"greedy"``, ``"optimal"`` …).
        backend: the ``opt_einsum`` backend for the cores (``"auto"`` infers it: numpy, dask …).

    Returns:
        The contracted :class:`CTensor`, its axes in the notes' layout (wrt axes first), each
        axis's role and origin taken from the tensor it came from.

    Raises:
        ShapeError: when a shared label has two sizes ("inner shapes must match", notes A.1).
        LabelError: when ``keep`` or ``out`` names a label no tensor has.
    """
    if not tensors:
        raise OptionError("contract needs at least one c-tensor")
    count: dict[Hashable, int] = {}
    for t in tensors:
        if not isinstance(t, CTensor):
            raise ArgumentError(f"contract takes CTensors, got {type(t).__name__}; evaluate a "
                                "Derivative first (d.evaluate(values)), or wrap an array with "
                                "CTensor(array, labels)")
        for lab in t.labels:
            count[lab] = count.get(lab, 0) + 1
    keep = list(keep)
    for lab in keep:
        if lab not in count:
            raise LabelError(f"keep names unknown label {lab!r}; labels: {list(count)}")
    if out is None:
        out = [lab for lab, n in count.items() if n == 1 or lab in keep]
    else:
        out = list(out)
        if len(set(out)) != len(out):
            raise LabelError(f"duplicate label in out={out!r}: each result axis needs its own "
                             "label")
    result = contract_labelled([(t, t.labels) for t in tensors], out, optimize=optimize,
                               backend=backend)
    # Which variables the result is a derivative with respect to: those whose wrt axes survive,
    # and the scalar ones (no axes to survive) of the innermost factor, which the notes write
    # first (∂L/∂s = ∂Z/∂s · ∂L/∂Z).
    alive = {a.var for a in result.axes if a.role == "wrt"}
    wrt: list[tuple[str, tuple[int, ...]]] = []
    inner = next((t for t in tensors if t.wrt), None)
    for t in tensors:
        for spec in t.wrt:
            keep_it = spec[0] in alive or (t is inner and math.prod(spec[1]) == 1)
            if keep_it and spec not in wrt:
                wrt.append(spec)
    return CTensor(result.core, result.axes, result.axis_map, tuple(wrt))
