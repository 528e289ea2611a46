"""P1, P3, P4 on one device: tensorderiv (torch, cupy arrays) against torch.func and JAX.

    bash benchmarks/gpu.sh [--device cuda|cpu] [--small] [--repeat 7] [--dtype float64]
                           [--record | --no-record] [--json benchmarks/gpu.json]

Problems (issue 12):
  P1  H = ∂²/∂w² Σ log(1 + exp(−y ⊙ (X w))), X 4000×1000
  P3  ∂L/∂W1, ∂L/∂W2, ∂L/∂W3 of L = Σ (W3ᵀ tanh(W2ᵀ tanh(W1ᵀ X)) − Y)², all 1024×1024,
      the three gradients in one ``td.compile`` program (one forward pass, one backward sweep)
  P4  H = ∂²/∂x² (xᵀ A x + Σ tanh(B x)), n = 1000

Every system's result is checked against the hand-written closed form (torch, on the device)
before it is timed; times are the median of ``--repeat`` runs after one warm-up, synchronised
with the device. Ratios are to the hand-written torch form of the same run (lower is better).
tensorderiv runs compiled derivatives on torch tensors (and on cupy arrays when cupy is
installed and the device is cuda); torch.func runs hessian/grad eagerly; JAX runs jit-compiled
on the same kind of device (skipped with a note when JAX is absent or has no such device).
On a CUDA device the table is appended to benchmarks/README.md (section "GPU") with the device
named; ``--device cpu --small`` runs the whole path on a CPU in a few seconds (not recorded
unless ``--record``). Nothing is asserted; a failed check is printed as FAIL.
"""

from __future__ import annotations

import argparse
import datetime
import json
import platform
import statistics
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

import tensorderiv as td
from tensorderiv.core import backends
from tensorderiv.core.optional import require

HERE = Path(__file__).resolve().parent
SIZES = {"full": {"P1": (4000, 1000), "P3": 1024, "P4": 1000},
         "small": {"P1": (400, 100), "P3": 64, "P4": 100}}


# ---------------------------------------------------------------- devices
class Device:
    """torch (always), cupy and JAX on one kind of device, and how to wait for each."""

    def __init__(self, kind: str, dtype: str) -> None:
        self.torch = require("torch", "backends")
        self.kind = kind
        self.tdev = self.torch.device("cuda" if kind == "cuda" else "cpu")
        self.tdtype = getattr(self.torch, dtype)
        self.dtype = dtype
        self.notes: list[str] = []
        self.cupy = _import("cupy") if kind == "cuda" else None
        if kind == "cuda" and self.cupy is None:
            self.notes.append("cupy is not installed: no cupy column")
        self.jax = _import("jax")
        self.jdev = None
        if self.jax is None:
            self.notes.append("JAX is not installed: no JAX column")
        else:
            self.jax.config.update("jax_enable_x64", dtype == "float64")
            try:
                self.jdev = self.jax.devices("gpu" if kind == "cuda" else "cpu")[0]
            except RuntimeError as exc:
                self.notes.append(f"JAX has no {kind} device ({exc}): no JAX column")

    @property
    def name(self) -> str:
        if self.kind == "cuda":
            return self.torch.cuda.get_device_name(0)
        return f"CPU ({platform.processor() or platform.machine()}, "\
               f"{self.torch.get_num_threads()} torch threads)"

    def sync(self, out: Any) -> None:
        for x in out if isinstance(out, tuple | list) else [out]:
            lib = backends.backend_of(x)
            if lib == "torch" and x.is_cuda:
                self.torch.cuda.synchronize()
            elif lib == "jax":
                x.block_until_ready()
            elif lib == "cupy":
                self.cupy.cuda.Device().synchronize()

    def to_torch(self, a: np.ndarray) -> Any:
        return self.torch.as_tensor(a, dtype=self.tdtype, device=self.tdev)

    def to_cupy(self, a: np.ndarray) -> Any:
        return self.cupy.asarray(a, dtype=self.dtype)

    def to_jax(self, a: np.ndarray) -> Any:
        return self.jax.device_put(self.jax.numpy.asarray(a, dtype=self.dtype), self.jdev)


def _import(name: str) -> Any:
    try:
        return __import__(name)
    except ImportError:
        return None


def _median_time(dev: Device, fn: Callable[[], Any], repeat: int) -> float:
    dev.sync(fn())  # warm-up (plans, kernels, jit)
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        dev.sync(fn())
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


# ---------------------------------------------------------------- problems
# Each returns {system: callable returning a tuple of results}, the hand-written reference
# (torch, on the device) and the tolerance.
def p1(dev: Device, size: tuple[int, int]) -> dict[str, Any]:
    n, d = size
    rng = np.random.default_rng(1)
    X = rng.normal(size=(n, d)) / np.sqrt(d)
    y, w = rng.choice([-1.0, 1.0], size=n), rng.normal(size=d)
    H = td.derive("sum(log(1 + exp(-y * (X @ w))))", "w", order=2,
                  shapes={"X": (n, d), "y": (n,), "w": (d,)}).compile()
    torch = dev.torch
    tX, ty, tw = map(dev.to_torch, (X, y, w))

    def hand() -> Any:
        s = torch.sigmoid(tX @ tw)
        return (tX.T @ ((s * (1 - s))[:, None] * tX),)

    def loss(w_: Any) -> Any:
        return torch.nn.functional.softplus(-ty * (tX @ w_)).sum()

    systems: dict[str, Callable[[], Any]] = {
        "tensorderiv (torch)": lambda: (H({"X": tX, "y": ty, "w": tw}).dense(),),
        "torch.func": lambda: (torch.func.hessian(loss)(tw),),
    }
    if dev.cupy is not None:
        cX, cy, cw = map(dev.to_cupy, (X, y, w))
        systems["tensorderiv (cupy)"] = lambda: (H({"X": cX, "y": cy, "w": cw}).dense(),)
    if dev.jdev is not None:
        jax, jnp = dev.jax, dev.jax.numpy
        jX, jy, jw = map(dev.to_jax, (X, y, w))
        jh = jax.jit(jax.hessian(lambda w_: jnp.sum(jnp.logaddexp(0.0, -jy * (jX @ w_)))))
        systems["JAX jit(hessian)"] = lambda: (jh(jw),)
    return {"systems": systems, "hand": hand, "size": f"X {n}×{d}"}


def p3(dev: Device, m: int) -> dict[str, Any]:
    rng = np.random.default_rng(3)
    X, Y = rng.normal(size=(m, m)), rng.normal(size=(m, m))
    Ws = [rng.normal(size=(m, m)) / np.sqrt(m) for _ in range(3)]
    Xv, Yv = td.var("X", (m, m)), td.var("Y", (m, m))
    W1, W2, W3 = (td.var(f"W{k}", (m, m)) for k in (1, 2, 3))
    L = td.sum((W3.T @ td.tanh(W2.T @ td.tanh(W1.T @ Xv)) - Yv) ** 2)
    grads = td.compile(*[td.derive(L, W) for W in (W1, W2, W3)])  # one program, all three
    torch = dev.torch
    tX, tY, tW1, tW2, tW3 = map(dev.to_torch, (X, Y, *Ws))
    values = {"X": tX, "Y": tY, "W1": tW1, "W2": tW2, "W3": tW3}

    def hand() -> Any:  # backprop in the notes' forms: ∂L/∂W = A (∂L/∂Z)ᵀ
        A1 = torch.tanh(tW1.T @ tX)
        A2 = torch.tanh(tW2.T @ A1)
        dO = 2 * (tW3.T @ A2 - tY)
        dZ2 = (tW3 @ dO) * (1 - A2 * A2)
        dZ1 = (tW2 @ dZ2) * (1 - A1 * A1)
        return (tX @ dZ1.T, A1 @ dZ2.T, A2 @ dO.T)

    def loss(W1_: Any, W2_: Any, W3_: Any) -> Any:
        return ((W3_.T @ torch.tanh(W2_.T @ torch.tanh(W1_.T @ tX)) - tY) ** 2).sum()

    g_all = torch.func.grad(loss, argnums=(0, 1, 2))
    systems: dict[str, Callable[[], Any]] = {
        "tensorderiv (torch)": lambda: tuple(g.dense() for g in grads(values)),
        "torch.func": lambda: g_all(tW1, tW2, tW3),
    }
    if dev.cupy is not None:
        cvals = {k: dev.to_cupy(v) for k, v in zip(values, (X, Y, *Ws), strict=True)}
        systems["tensorderiv (cupy)"] = lambda: tuple(g.dense() for g in grads(cvals))
    if dev.jdev is not None:
        jax, jnp = dev.jax, dev.jax.numpy
        jX, jY, jW1, jW2, jW3 = map(dev.to_jax, (X, Y, *Ws))

        def jloss(a: Any, b: Any, c: Any) -> Any:
            return jnp.sum((c.T @ jnp.tanh(b.T @ jnp.tanh(a.T @ jX)) - jY) ** 2)

        jg = jax.jit(jax.grad(jloss, argnums=(0, 1, 2)))
        systems["JAX jit(grad)"] = lambda: jg(jW1, jW2, jW3)
    return {"systems": systems, "hand": hand, "size": f"3 × {m}×{m}", "program": grads}


def p4(dev: Device, n: int) -> dict[str, Any]:
    rng = np.random.default_rng(4)
    x = rng.normal(size=n)
    A, B = rng.normal(size=(n, n)) / np.sqrt(n), rng.normal(size=(n, n)) / np.sqrt(n)
    H = td.derive("x @ A @ x + sum(tanh(B @ x))", "x", order=2,
                  shapes={"x": (n,), "A": (n, n), "B": (n, n)}).compile()
    torch = dev.torch
    tx, tA, tB = map(dev.to_torch, (x, A, B))

    def hand() -> Any:  # A + Aᵀ + Bᵀ diag(−2 t (1 − t²)) B, t = tanh(B x)
        t = torch.tanh(tB @ tx)
        return (tA + tA.T + tB.T @ ((-2 * t * (1 - t * t))[:, None] * tB),)

    def f(x_: Any) -> Any:
        return x_ @ tA @ x_ + torch.tanh(tB @ x_).sum()

    systems: dict[str, Callable[[], Any]] = {
        "tensorderiv (torch)": lambda: (H({"x": tx, "A": tA, "B": tB}).dense(),),
        "torch.func": lambda: (torch.func.hessian(f)(tx),),
    }
    if dev.cupy is not None:
        cx, cA, cB = map(dev.to_cupy, (x, A, B))
        systems["tensorderiv (cupy)"] = lambda: (H({"x": cx, "A": cA, "B": cB}).dense(),)
    if dev.jdev is not None:
        jax, jnp = dev.jax, dev.jax.numpy
        jx, jA, jB = map(dev.to_jax, (x, A, B))
        jh = jax.jit(jax.hessian(lambda x_: x_ @ jA @ x_ + jnp.sum(jnp.tanh(jB @ x_))))
        systems["JAX jit(hessian)"] = lambda: (jh(jx),)
    return {"systems": systems, "hand": hand, "size": f"n = {n}"}


PROBLEMS = {"P1": p1, "P3": p3, "P4": p4}


# ---------------------------------------------------------------- running and recording
def _relative_error(got: tuple[Any, ...], ref: tuple[Any, ...]) -> float:
    worst = 0.0
    for g, r in zip(got, ref, strict=True):
        g, r = backends.to_numpy(g), backends.to_numpy(r)
        worst = max(worst, float(np.max(np.abs(g - r)) / max(np.max(np.abs(r)), 1e-300)))
    return worst


def run(dev: Device, sizes: dict[str, Any], repeat: int) -> list[dict[str, Any]]:
    tol = 1e-8 if dev.dtype == "float64" else 1e-3
    rows = []
    for name, make in PROBLEMS.items():
        t0 = time.perf_counter()
        prob = make(dev, sizes[name])
        setup_s = time.perf_counter() - t0
        ref = prob["hand"]()
        hand_s = _median_time(dev, prob["hand"], repeat)
        rows.append({"problem": name, "size": prob["size"], "system": "hand-written torch",
                     "median_s": hand_s, "ratio": 1.0, "max_rel_err": 0.0, "checked": True})
        for system, fn in prob["systems"].items():
            err = _relative_error(fn(), ref)
            t = _median_time(dev, fn, repeat)
            rows.append({"problem": name, "size": prob["size"], "system": system,
                         "median_s": t, "ratio": t / hand_s, "max_rel_err": err,
                         "checked": err < tol})
        rows[-1 - len(prob["systems"])]["setup_s"] = setup_s
    return rows


def table(rows: list[dict[str, Any]]) -> str:
    lines = ["| problem | size | system | median ms | ratio to hand-written | check |",
             "|---|---|---|---:|---:|---|"]
    for r in rows:
        lines.append(f"| {r['problem']} | {r['size']} | {r['system']} | "
                     f"{r['median_s'] * 1e3:.3f} | {r['ratio']:.2f}× | "
                     f"{'ok' if r['checked'] else 'FAIL'} ({r['max_rel_err']:.1e}) |")
    return "\n".join(lines)


def record(readme: Path, heading: str, body: str) -> None:
    """Append ``body`` under ``heading`` at the end of the README's "## GPU" section."""
    text = readme.read_text() if readme.exists() else "# Benchmarks\n"
    block = f"\n### {heading}\n\n{body}\n"
    if "\n## GPU" not in text:
        text = text.rstrip("\n") + "\n\n## GPU\n" + block
    else:
        start = text.index("\n## GPU") + 1
        nxt = text.find("\n## ", start)  # the next section, if any
        end = len(text) if nxt < 0 else nxt + 1
        section = text[start:end].replace(PLACEHOLDER, "").rstrip("\n") + "\n" + block
        text = text[:start] + section + ("\n" + text[end:] if end < len(text) else "")
    readme.write_text(text)


PLACEHOLDER = "GPU numbers have not been recorded yet."


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--device", choices=("cuda", "cpu"), default="cuda")
    p.add_argument("--small", action="store_true", help="small sizes (a quick end-to-end run)")
    p.add_argument("--repeat", type=int, default=7)
    p.add_argument("--dtype", choices=("float64", "float32"), default="float64")
    p.add_argument("--record", action=argparse.BooleanOptionalAction, default=None,
                   help="append the table to benchmarks/README.md (default: on cuda only)")
    p.add_argument("--readme", default=str(HERE / "README.md"))
    p.add_argument("--json", default=str(HERE / "gpu.json"))
    a = p.parse_args()
    dev = Device(a.device, a.dtype)
    if a.device == "cuda" and not dev.torch.cuda.is_available():
        raise SystemExit("no CUDA device is visible to torch; use --device cpu for a CPU run")
    sizes = SIZES["small" if a.small else "full"]
    print(f"device: {dev.name}; {a.dtype}; median of {a.repeat}")
    for note in dev.notes:
        print(f"note: {note}")
    rows = run(dev, sizes, a.repeat)
    text = table(rows)
    print(text)
    versions = {m: getattr(_import(m), "__version__", None) for m in ("torch", "jax", "cupy")}
    Path(a.json).write_text(json.dumps(
        {"benchmark": "gpu", "device": dev.name, "dtype": a.dtype, "repeat": a.repeat,
         "small": a.small, "versions": versions, "notes": dev.notes, "results": rows},
        indent=2) + "\n")
    print(f"wrote {a.json}")
    if a.record if a.record is not None else a.device == "cuda":
        day = datetime.date.today().isoformat()
        notes = "".join(f"\n- {n}" for n in dev.notes)
        versions_txt = ", ".join(f"{k} {v}" for k, v in versions.items() if v)
        body = (f"{a.dtype}, median of {a.repeat} after a warm-up; ratios to hand-written torch "
                f"on the same device ({versions_txt}).{notes}\n\n{text}")
        record(Path(a.readme), f"{dev.name} — {day}{' (small sizes)' if a.small else ''}", body)
        print(f"recorded in {a.readme}")


if __name__ == "__main__":
    main()
