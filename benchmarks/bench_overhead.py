"""Fixed cost per call: a compiled gradient against jitted JAX on random small expressions.

Issue 12's target: a compiled program's fixed cost per call on small inputs is at most 5× a
jitted JAX call. This draws ``--count`` random scalar expressions (sides ≤ 3, depth ≤ 3) with
the package's own Hypothesis strategies (``tensorderiv.testing.strategies.expressions`` and
``values_for``), derandomized, so every run draws the same ones. For each, the gradient with
respect to one variable is derived and compiled (``td.compile``), and the same function is
written in ``jax.numpy`` by walking the expression graph (:func:`to_jax`: a ``Var`` is an
argument, an ``Einsum`` is ``jnp.einsum`` with deltas and broadcasts as ``eye``/``ones``
operands, a ``Sum`` is a weighted sum, an ``Apply`` is a function from a small table of jnp
functions) and differentiated by ``jax.jit(jax.grad(...))``. The two gradients are compared
(they agree to rounding) before anything is timed. Each call is timed as the median of
``--runs`` runs of enough calls for a few milliseconds, both interleaved in one process; the
ratio td/JAX per expression is summarised by its median, p80, p90 and max, and the share of
expressions over 5× and over 100×.

    python benchmarks/bench_overhead.py                   # 300 expressions, pinned to one core
    python benchmarks/bench_overhead.py --count 50 --json out.json

Numbers depend on the machine's state: run it on a quiet machine and read the ratios, which
come from the same process.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time
from typing import Any

os.environ.setdefault("OMP_NUM_THREADS", "1")
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
os.environ.setdefault("MKL_NUM_THREADS", "1")
os.environ.setdefault("XLA_FLAGS", "--xla_cpu_multi_thread_eigen=false "
                      "intra_op_parallelism_threads=1")

import numpy as np

import tensorderiv as td
from tensorderiv.symbolic.nodes import Apply, Einsum, Node, Sum, Var

TARGET = 5.0


def _jnp_table(jnp: Any, jax: Any) -> dict[str, Any]:
    """tensorderiv's function names → jax.numpy functions of (x, params)."""
    one = {n: (lambda f: lambda x, p: f(x))(getattr(jnp, n))
           for n in ("exp", "log", "sin", "cos", "tanh", "sign", "sqrt", "abs", "square")}
    return one | {
        "sigmoid": lambda x, p: jax.nn.sigmoid(x),
        "relu": lambda x, p: jax.nn.relu(x),
        "softplus": lambda x, p: jax.nn.softplus(x),
        "step": lambda x, p: (x > 0).astype(x.dtype),
        "pow": lambda x, p: x ** p[0],
        "det": lambda x, p: jnp.linalg.det(x),
        "logdet": lambda x, p: jnp.linalg.slogdet(x)[1],
        "inv": lambda x, p: jnp.linalg.inv(x),
        "lse": lambda x, p: jax.scipy.special.logsumexp(x),
        "lse_last": lambda x, p: jax.scipy.special.logsumexp(x, axis=-1),
        "logabs": lambda x, p: jnp.log(jnp.abs(x)),
    }


class Untranslatable(Exception):  # noqa: N818 - a reason to skip, not an error
    """The expression uses a node the jnp table does not cover."""


def to_jax(node: Node, names: list[str], jnp: Any, jax: Any) -> Any:
    """A function of the variables (in ``names`` order) computing ``node`` with jax.numpy."""
    table = _jnp_table(jnp, jax)

    def build(n: Node, env: dict[str, Any], memo: dict[Node, Any]) -> Any:
        if n in memo:
            return memo[n]
        if isinstance(n, Var):
            out = env[n.name]
        elif isinstance(n, Sum):
            out = sum(c * build(t, env, memo) for c, t in n.terms)
        elif isinstance(n, Apply):
            if n.fn not in table:
                raise Untranslatable(n.fn)
            out = table[n.fn](build(n.arg, env, memo), n.params)
        elif isinstance(n, Einsum):
            ops: list[Any] = []
            subs: list[list[int]] = []
            for t, idx in n.terms:
                ops.append(build(t, env, memo))
                subs.append(list(idx))
            out_idx: list[int] = []
            fresh = max([*n.out, *(i for _, idx in n.terms for i in idx)], default=-1) + 1
            on_terms = {i for _, idx in n.terms for i in idx}
            for i in n.out:
                size = n.sizes[i]
                if i in out_idx:  # a repeated output index: a Kronecker delta
                    ops.append(jnp.eye(size))
                    subs.append([i, fresh])
                    out_idx.append(fresh)
                    fresh += 1
                    continue
                if i not in on_terms:  # on no term: a broadcast
                    ops.append(jnp.ones(size))
                    subs.append([i])
                    on_terms.add(i)
                out_idx.append(i)
            if not ops:
                out = jnp.asarray(n.coef)
            else:
                args: list[Any] = []
                for op, s in zip(ops, subs, strict=True):
                    args += [op, s]
                out = n.coef * jnp.einsum(*args, out_idx)
        else:  # pragma: no cover - the node set is closed
            raise Untranslatable(type(n).__name__)
        memo[n] = out
        return out

    def f(*arrays: Any) -> Any:
        return build(node, dict(zip(names, arrays, strict=True)), {})

    return f


def draw(count: int, seed: int = 12) -> list[tuple[Any, dict[str, np.ndarray], str]]:
    """``count`` (expression, values, wrt) triples, the same on every run (derandomized)."""
    hypothesis = __import__("hypothesis")
    st = hypothesis.strategies
    strategies = __import__("tensorderiv.testing.strategies", fromlist=["expressions"])
    found: list[Any] = []

    @st.composite
    def problems(draw_: Any) -> Any:
        g = draw_(strategies.expressions(max_depth=3, shape=()))
        return g, draw_(strategies.values_for(g.shapes)), draw_(st.sampled_from(sorted(g.shapes)))

    @hypothesis.settings(max_examples=count, derandomize=True, database=None, deadline=None,
                         phases=[hypothesis.Phase.generate], suppress_health_check=list(
                             hypothesis.HealthCheck))
    @hypothesis.seed(seed)
    @hypothesis.given(problems())
    def collect(problem: Any) -> None:
        if len(found) < count:
            found.append(problem)

    collect()
    return [(g.expr, v, wrt) for g, v, wrt in found]


def _per_call(fn: Any, floor: float = 2e-3) -> tuple[int, float]:
    t0 = time.perf_counter()
    fn()
    one = max(time.perf_counter() - t0, 1e-7)
    k = max(1, min(2000, int(floor / one)))
    return k, one


def _time(fn: Any, k: int) -> float:
    t0 = time.perf_counter()
    for _ in range(k):
        fn()
    return (time.perf_counter() - t0) / k


def measure(count: int, runs: int) -> dict[str, Any]:
    """Draw, check and time; returns the per-expression records and the summary."""
    import jax

    jax.config.update("jax_enable_x64", True)
    jnp = jax.numpy
    records: list[dict[str, Any]] = []
    skipped: dict[str, int] = {}
    for expr, values, wrt in draw(count):
        names = sorted(values)
        try:
            jf = to_jax(expr.node, names, jnp, jax)
            g = jax.jit(jax.grad(jf, argnums=names.index(wrt)))
            args = [jnp.asarray(values[n]) for n in names]
            ref = np.asarray(g(*args).block_until_ready())
        except Untranslatable as exc:
            skipped[f"no jnp kernel for {exc}"] = skipped.get(f"no jnp kernel for {exc}", 0) + 1
            continue
        if not np.all(np.isfinite(ref)):
            skipped["JAX's gradient is not finite"] = skipped.get(
                "JAX's gradient is not finite", 0) + 1
            continue
        t0 = time.perf_counter()
        f = td.compile(td.derive(expr, wrt))
        build = time.perf_counter() - t0
        try:
            got = f(values)[0].dense()
        except td.TensorDerivError as exc:  # a domain refusal where JAX returns a number
            key = f"refused by tensorderiv ({type(exc).__name__})"
            skipped[key] = skipped.get(key, 0) + 1
            continue
        np.testing.assert_allclose(got, ref, rtol=1e-7, atol=1e-9,
                                   err_msg=f"{expr.text} w.r.t. {wrt}")

        def td_call(f: Any = f, values: dict[str, np.ndarray] = values) -> Any:
            return f(values)

        def jax_call(g: Any = g, args: list[Any] = args) -> Any:
            return g(*args).block_until_ready()

        k_td, _ = _per_call(td_call)
        k_jax, _ = _per_call(jax_call)
        t_td, t_jax = [], []
        for _ in range(runs):
            t_td.append(_time(td_call, k_td))
            t_jax.append(_time(jax_call, k_jax))
        a, b = statistics.median(t_td), statistics.median(t_jax)
        records.append({"expr": expr.text, "wrt": wrt, "nodes": len(f.program.order),
                        "td_s": a, "jax_s": b, "ratio": a / b, "build_s": build})
    ratios = sorted(r["ratio"] for r in records)

    def q(p: float) -> float:
        return float(np.quantile(ratios, p)) if ratios else float("nan")

    summary = {
        "count": len(records), "drawn": count, "skipped": skipped,
        "median": q(0.5), "p80": q(0.8), "p90": q(0.9), "max": max(ratios, default=float("nan")),
        "over_5x": sum(r > TARGET for r in ratios) / max(len(ratios), 1),
        "over_100x": sum(r > 100 for r in ratios) / max(len(ratios), 1),
        "td_median_us": statistics.median(r["td_s"] for r in records) * 1e6 if records else None,
        "jax_median_us": statistics.median(r["jax_s"] for r in records) * 1e6 if records else None,
        "nodes_median": statistics.median(r["nodes"] for r in records) if records else None,
    }
    return {"summary": summary, "records": records}


def lines(summary: dict[str, Any]) -> list[str]:
    """The summary as Markdown lines (the README's section)."""
    s = summary
    skipped = ", ".join(f"{n} {k}" for k, n in sorted(s["skipped"].items())) or "none"
    return [
        f"{s['count']} random scalar expressions (of {s['drawn']} drawn; skipped: {skipped}), "
        f"gradient by `td.compile` against `jax.jit(jax.grad(...))`, checked equal first:",
        "",
        "| median td/JAX | p80 | p90 | max | over 5× | over 100× | td per call (median) | "
        "JAX per call (median) | program nodes (median) |",
        "|---|---|---|---|---|---|---|---|---|",
        f"| {s['median']:.2f}× | {s['p80']:.2f}× | {s['p90']:.2f}× | {s['max']:.1f}× | "
        f"{s['over_5x']:.0%} | {s['over_100x']:.0%} | {s['td_median_us']:.1f} µs | "
        f"{s['jax_median_us']:.1f} µs | {s['nodes_median']:.0f} |",
    ]


def main(argv: list[str] | None = None) -> int:
    """Run the comparison, print the summary (and the worst cases), write JSON if asked."""
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--count", type=int, default=300)
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--json", default=None, help="write the records and summary here")
    ap.add_argument("--no-pin", action="store_true", help="do not pin to one core")
    args = ap.parse_args(argv)
    if not args.no_pin and hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, {sorted(os.sched_getaffinity(0))[-1]})
    result = measure(args.count, args.runs)
    print("\n".join(lines(result["summary"])))
    worst = sorted(result["records"], key=lambda r: -r["ratio"])[:5]
    print("\nworst ratios:")
    for r in worst:
        print(f"  {r['ratio']:6.1f}×  td {r['td_s'] * 1e6:7.1f} µs  jax {r['jax_s'] * 1e6:6.1f} µs"
              f"  {r['nodes']:3d} nodes  ∂/∂{r['wrt']} {r['expr'][:70]}")
    if args.json:
        with open(args.json, "w") as fh:
            json.dump(result, fh, indent=1)
    return 0


if __name__ == "__main__":
    sys.exit(main())
