"""``tensorderiv demo``: the lecture notes' A.9 network, derivative by derivative.

One layer with m = 3 inputs and n = 2 neurons (notes A.9): ``Z = W.T @ A0`` (W is m×n, a column
per neuron, A.62), ``A1 = tanh(Z)`` (the activation f, A.85) and a loss
``L = sum(square(A1 - y)) / 2`` (the notes leave L open, A.59). Each local derivative is computed
by :func:`tensorderiv.derive`, shown full (the c-tensor in the notes' layout) and collapsed (its
matrix form); the chain rule is assembled twice — with the collapsed forms, as the notes do
(∂L/∂Z = f′(Z) ⊙ ∂L/∂A1, Concept 34; ∂L/∂W = A0 (∂L/∂Z)ᵀ, A.61), and with
:func:`tensorderiv.contract` on the full c-tensors — and compared with the derivative of the whole
loss and with central finite differences of L.

Example:
    >>> import io
    >>> from tensorderiv.cli.demo import run_demo
    >>> buf = io.StringIO()
    >>> run_demo(0, buf)
    0
    >>> "∂L/∂W = A0 (∂L/∂Z)ᵀ" in buf.getvalue()
    True
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import IO, Any

import numpy as np

from ..core.axes import Axis
from ..core.contract import contract
from ..core.ctensor import CTensor
from ..core.errors import StructureError, TensorDerivError
from ..symbolic.derivative import derive
from ..symbolic.evaluate import evaluate
from ..symbolic.parse import parse
from .report import describe_form, finite_difference_check

__all__ = ["run_demo"]

M, N = 3, 2
SHAPES = {"W": (M, N), "A0": (M,), "y": (N,), "Z": (N,), "A1": (N,)}
LOSS = "sum(square(tanh(W.T @ A0) - y)) / 2"
_AGREE = 1e-12  # identities that hold exactly, up to rounding


def _named(ct: CTensor, output: str) -> CTensor:
    """The same c-tensor with its output axes named after the quantity they stand for."""
    axes = [Axis((output, 0, a.index), a.size, "of", output, a.index) if a.role == "of" else a
            for a in ct.axes]
    return ct.with_axes(axes)


def _joined(upstream: CTensor, downstream: CTensor) -> CTensor:
    """``upstream`` with its output axes relabelled as ``downstream``'s input axes.

    :func:`contract` then sums over them: the chain rule (notes Definition 3).
    """
    outs = [a for a in upstream.axes if a.role == "of"]
    ins = [a for a in downstream.axes if a.role == "wrt" and a.copy == 1]
    return upstream.relabel({o.label: i.label for o, i in zip(outs, ins, strict=True)})


def _local(text: str, wrt: str, output: str, values: Mapping[str, np.ndarray]) -> CTensor:
    shapes = {k: s for k, s in SHAPES.items() if k in values}
    d = derive(text, wrt, shapes=shapes)
    return _named(d.evaluate({k: values[k] for k in d.variables_allowed}), output)


def _show(a: Any, indent: str = "      ") -> str:
    text = np.array2string(np.asarray(a, dtype=np.float64), precision=5, suppress_small=True)
    return "\n".join((indent + line).rstrip() for line in text.splitlines())


class _Tally:
    """Counts the comparisons made, and which failed."""

    def __init__(self, out: IO[str]) -> None:
        self.out = out
        self.failed: list[str] = []

    def same(self, what: str, a: Any, b: Any, tol: float = _AGREE) -> None:
        diff = float(np.max(np.abs(np.asarray(a) - np.asarray(b)), initial=0.0))
        ok = diff <= tol * max(1.0, float(np.max(np.abs(b), initial=0.0)))
        if not ok:
            self.failed.append(what)
        self.out.write(f"    {what}: {'yes' if ok else 'NO'} (max difference {diff:.1e})\n")


def _section(out: IO[str], title: str, ct: CTensor, meaning: str) -> np.ndarray:
    """Show a local derivative full and collapsed; return the collapsed array."""
    out.write(f"\n{title}\n")
    out.write(f"  full c-tensor {ct.shape} (notes' layout: "
              f"{', '.join(f'{a.var}[{a.index}]' for a in ct.axes)}), "
              f"stored as {ct.nbytes // ct.dtype.itemsize} numbers for {int(np.prod(ct.shape))}:\n")
    out.write(_show(ct.dense(), "      ") + "\n")
    try:
        form = ct.matrix_form()
    except StructureError as exc:
        form, why = None, f"no matrix form: {exc}"
    else:
        why = f"the reducer's {form.structure} form stores more than the c-tensor's core"
    if form is None or np.size(form.array) > ct.core.size:  # the storage already collapses it
        out.write(f"  collapsed: the stored core ({why})\n    {meaning}\n")
        out.write(_show(ct.core) + "\n")
        return np.asarray(ct.core)
    s = describe_form(form)
    out.write(f"  collapsed: {s.name}" + (f", {s.formula}" if s.formula else "") + "\n")
    out.write(f"    {meaning}\n")
    out.write(_show(form.array) + "\n")
    return np.asarray(form.array)


def run_demo(seed: int, out: IO[str]) -> int:
    """Print the walk-through with values drawn from ``seed``; 0 when every check holds, else 1."""
    rng = np.random.default_rng(seed)
    v = {"W": rng.standard_normal((M, N)), "A0": rng.standard_normal(M),
         "y": rng.standard_normal(N)}
    v["Z"] = evaluate(parse("W.T @ A0", SHAPES), {"W": v["W"], "A0": v["A0"]}).dense()
    v["A1"] = evaluate(parse("tanh(Z)", SHAPES), {"Z": v["Z"]}).dense()
    tally = _Tally(out)
    out.write(
        f"The notes' A.9 network: one layer, m = {M} inputs, n = {N} neurons "
        f"(values: seed {seed}, standard normal)\n"
        "  Z  = W.T @ A0                 pre-activation (A.78); W is m×n, one column per neuron\n"
        "  A1 = tanh(Z)                  activation, f = tanh (A.85)\n"
        "  L  = sum(square(A1 - y)) / 2  a loss (the notes leave it open, A.59)\n")
    out.write("  W =\n" + _show(v["W"]) + "\n  A0 =\n" + _show(v["A0"]) + "\n")
    try:
        dZ_dW = _local("W.T @ A0", "W", "Z", v)
        f1 = _section(out, "1. ∂Z/∂W — vector by matrix: a 3-tensor (A.60, A.74)", dZ_dW,
                      "zero off the neuron diagonal, the same A0 on it: ∂Z/∂W → A0 (A.76)")
        tally.same("collapsed ∂Z/∂W equals A0", np.ravel(f1), v["A0"])
        dZ_dA0 = _local("W.T @ A0", "A0", "Z", v)
        f2 = _section(out, "2. ∂Z/∂A0 — vector by vector: a matrix (A.77, A.83)", dZ_dA0,
                      "row j ↔ a_j, column i ↔ z_i: ∂Z/∂A0 = W (Notation 31)")
        tally.same("∂Z/∂A0 equals W", f2, v["W"])
        dA1_dZ = _local("tanh(Z)", "Z", "A1", v)
        f3 = _section(out, "3. ∂A1/∂Z — element-wise: diagonal (A.84, Notation 33)", dA1_dZ,
                      "only the diagonal: ∂A1/∂Z → f′(Z) = 1 − tanh²(Z), used with ⊙ (A.90)")
        tally.same("collapsed ∂A1/∂Z equals 1 − tanh²(Z)", np.ravel(f3),
                   1.0 - np.tanh(v["Z"]) ** 2)
        dL_dA1 = _local("sum(square(A1 - y)) / 2", "A1", "L", v)
        f4 = _section(out, "4. ∂L/∂A1 — scalar by vector: a column (A.59, Notation 26)", dL_dA1,
                      "∂L/∂A1 = A1 − y")
        tally.same("∂L/∂A1 equals A1 − y", np.ravel(f4), v["A1"] - v["y"])

        out.write("\n5. The chain rule, assembled\n")
        g_z = np.ravel(f3) * np.ravel(f4)
        out.write("  ∂L/∂Z = ∂A1/∂Z · ∂L/∂A1 = f′(Z) ⊙ ∂L/∂A1   (Concept 34)\n" + _show(g_z)
                  + "\n")
        dL_dZ = contract(_joined(dA1_dZ, dL_dA1), dL_dA1)
        tally.same("td.contract of the full c-tensors gives the same", dL_dZ.dense(), g_z)
        g_w = np.outer(np.ravel(f1), g_z)
        out.write("  ∂L/∂W = ∂Z/∂W · (∂L/∂Z)ᵀ → ∂L/∂W = A0 (∂L/∂Z)ᵀ   (A.61), an m×n matrix\n"
                  + _show(g_w) + "\n")
        dL_dW = contract(_joined(dZ_dW, dL_dZ), dL_dZ)
        tally.same("td.contract of the full c-tensors gives the same", dL_dW.dense(), g_w)
        whole = derive(LOSS, "W", shapes=SHAPES)
        direct = whole.evaluate({k: v[k] for k in whole.variables_allowed}).dense()
        tally.same(f"td.derive of the whole loss, {LOSS}, gives the same", direct, g_w)

        out.write("\n6. Checked against central finite differences of L (each W entry moved "
                  "by ±h)\n")
        check = finite_difference_check(whole, {k: v[k] for k in whole.variables_allowed}, g_w)
        out.write(f"    max |error| {check.max_abs_error:.1e} (tolerance {check.tolerance:.1e}), "
                  f"{check.checked} of {check.total} entries: "
                  f"{'pass' if check.passed else 'FAIL'}\n")
        if not check.passed:
            tally.failed.append("finite differences")
    except TensorDerivError as exc:  # pragma: no cover - the demo's inputs are fixed and valid
        out.write(f"\nthe demo failed: {exc}\n")
        return 1
    verdict = "all checks hold" if not tally.failed else f"FAILED: {', '.join(tally.failed)}"
    out.write(f"\n{verdict}\n")
    return 0 if not tally.failed else 1
