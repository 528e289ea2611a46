"""Contraction-path search against evaluation: order 3 of stacked ``tanh(A @ ·)`` layers.

Issue 12's case: the third derivative of ``sum(tanh(A @ tanh(A @ … tanh(A @ x))))`` (L layers, a
4-vector) made einsums of up to 96 operands; opt_einsum's exhaustive searches are exponential in
that count, so the path search once took 7.8 s of a 12 s evaluation. tensorderiv picks the
optimizer by operand count (exhaustive for few, greedy beyond) and caches plans by structure
(equation and shapes), so this prints, per depth: derive time, the time of the first evaluation,
the part of it spent in ``opt_einsum.contract_path`` (path search), a second evaluation (plans
reused), the largest operand count, and the share of the first evaluation that path search took.
The third derivative is checked against JAX (``jacfwd`` three times) when it is installed.

    python benchmarks/bench_paths.py            # depths 4, 8, 16 on a 4-vector
    python benchmarks/bench_paths.py 16 --n 24  # chosen depths and vector size
"""

from __future__ import annotations

import json
import os
import sys
import time
from typing import Any

import numpy as np
import opt_einsum as oe

import tensorderiv as td

contract_module = sys.modules["tensorderiv.core.contract"]  # (td.contract is a function)


def text(layers: int) -> str:
    """``sum(tanh(A @ tanh(A @ … x)))`` with ``layers`` layers."""
    inner = "x"
    for _ in range(layers):
        inner = f"tanh(A @ {inner})"
    return f"sum({inner})"


class PathClock:
    """Time spent searching paths while active: the cache misses of ``core.paths.search``.

    Wraps the ``search`` that ``core/contract.py`` calls; a miss is a search (opt_einsum's path
    optimizer and the pairwise steps), a hit is a dictionary lookup and is not counted.
    """

    def __init__(self) -> None:
        self.total = 0.0
        self.calls = 0
        self._orig = contract_module.search

    def __enter__(self) -> PathClock:
        orig = self._orig

        def timed(*args: Any, **kwargs: Any) -> Any:
            misses = orig.cache_info().misses
            t0 = time.perf_counter()
            try:
                return orig(*args, **kwargs)
            finally:
                if orig.cache_info().misses != misses:
                    self.total += time.perf_counter() - t0
                    self.calls += 1

        contract_module.search = timed
        return self

    def __exit__(self, *exc: object) -> None:
        contract_module.search = self._orig


def jax_third(layers: int, A: np.ndarray, x: np.ndarray) -> np.ndarray | None:
    """The third derivative by JAX (``jacfwd`` three times), or None when JAX is missing."""
    try:
        import jax
    except ImportError:
        return None
    jax.config.update("jax_enable_x64", True)

    def f(x: Any) -> Any:
        h = x
        for _ in range(layers):
            h = jax.numpy.tanh(A @ h)
        return h.sum()

    return np.asarray(jax.jacfwd(jax.jacfwd(jax.grad(f)))(x))


def measure(layers: int, n: int = 4, seed: int = 0) -> dict[str, Any]:
    """One depth: times in seconds and the path-search share (see the module docstring)."""
    rng = np.random.default_rng(seed)
    A, x = rng.normal(size=(n, n)) / np.sqrt(n), rng.normal(size=n)
    td.core.paths.search.cache_clear()  # every depth pays its own searches
    t0 = time.perf_counter()
    d = td.derive(text(layers), "x", order=3, shapes={"A": (n, n), "x": (n,)})
    t_derive = time.perf_counter() - t0
    with PathClock() as clock:
        t0 = time.perf_counter()
        f = td.compile(d)
        got = f({"A": A, "x": x})[0].dense()
        t_first = time.perf_counter() - t0
    t0 = time.perf_counter()
    f({"A": A, "x": x})
    t_second = time.perf_counter() - t0
    plans = f.program.plans.values()
    most = max((len(p.operand_shapes) for p in plans), default=0)
    return {"got": got, "A": A, "x": x, "layers": layers, "n": n, "derive_s": t_derive,
            "first_s": t_first,
            "path_s": clock.total, "path_calls": clock.calls, "second_s": t_second,
            "most_operands": most,
            "path_share": clock.total / t_first if t_first else 0.0}


def check(r: dict[str, Any]) -> bool:
    """Compare a measured third derivative with JAX's (after all timing: JAX's compiler
    threads would otherwise share the core); False when JAX is not installed."""
    ref = jax_third(r["layers"], r.pop("A"), r.pop("x"))
    got = r.pop("got")
    if ref is not None:
        np.testing.assert_allclose(got, ref, rtol=1e-8, atol=1e-10)
    r["checked"] = ref is not None
    return r["checked"]


def lines(records: list[dict[str, Any]]) -> list[str]:
    """The records as Markdown lines (the README's section)."""
    rows = ["| layers | n | derive | first call | of it path search (searches) | share | second "
            "call | most operands |", "|---|---|---|---|---|---|---|---|"]
    for r in records:
        rows.append(f"| {r['layers']} | {r.get('n', 4)} | {r['derive_s'] * 1e3:.0f} ms | "
                    f"{r['first_s'] * 1e3:.0f} ms"
                    f" | {r['path_s'] * 1e3:.0f} ms ({r['path_calls']}) | {r['path_share']:.0%} | "
                    f"{r['second_s'] * 1e3:.1f} ms | {r['most_operands']} |")
    return rows


def main(argv: list[str]) -> int:
    """Print one line per depth (``--json FILE`` also writes the records)."""
    out, n = None, 4
    if "--json" in argv:
        k = argv.index("--json")
        out, argv = argv[k + 1], argv[:k] + argv[k + 2:]
    if "--n" in argv:
        k = argv.index("--n")
        n, argv = int(argv[k + 1]), argv[:k] + argv[k + 2:]
    depths = [int(a) for a in argv] or [4, 8, 16]
    if hasattr(os, "sched_setaffinity"):  # one core, as the suite's workers
        os.sched_setaffinity(0, {sorted(os.sched_getaffinity(0))[-1]})
    print(f"opt_einsum {oe.__version__}; order 3 of stacked tanh(A @ ·) on a {n}-vector")
    print("layers  derive   first-call  path-search (calls)  share  second-call  most-operands")
    records = [measure(k, n) for k in depths]
    for k, r in zip(depths, records, strict=True):
        check(r)
        print(f"{k:6d}  {r['derive_s']:6.2f}s  {r['first_s']:9.3f}s  {r['path_s']:9.3f}s "
              f"({r['path_calls']:4d})  {r['path_share']:5.1%}  {r['second_s'] * 1e3:9.2f}ms  "
              f"{r['most_operands']:5d}  {'checked against JAX' if r['checked'] else ''}")
    if out:
        with open(out, "w") as fh:
            json.dump(records, fh, indent=1)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
