"""Hessian of the logistic loss: tensorderiv (compiled) against hand-written numpy and JAX.

    python benchmarks/bench_logistic.py [--n 4000] [--d 1000] [--repeat 7]

Reports best-of-``repeat`` wall times and their ratio to the hand-written numpy form
``X.T @ ((s * (1 - s))[:, None] * X)``, the time to derive and compile, and JAX's
``jit(hessian(loss))`` where JAX is installed. Ratios, not absolute times, are the result: the
acceptance bar is tensorderiv / numpy <= 1.3 in the same run. Nothing here is asserted.
"""

from __future__ import annotations

import argparse
import json
import time
import timeit

import numpy as np

import tensorderiv as td


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--n", type=int, default=4000)
    p.add_argument("--d", type=int, default=1000)
    p.add_argument("--repeat", type=int, default=7)
    p.add_argument("--json", action="store_true", help="print one JSON line")
    a = p.parse_args()
    rng = np.random.default_rng(0)
    X = rng.normal(size=(a.n, a.d)) / np.sqrt(a.d)
    y = rng.choice([-1.0, 1.0], size=a.n)
    w = rng.normal(size=a.d)
    values = {"X": X, "y": y, "w": w}

    t0 = time.perf_counter()
    H = td.derive("sum(log(1 + exp(-y * (X @ w))))", "w", order=2,
                  shapes={"X": X.shape, "y": y.shape, "w": w.shape})
    compiled = H.compile()
    derive_ms = (time.perf_counter() - t0) * 1e3
    compiled(values)  # the first call plans the contractions

    def numpy_hessian() -> np.ndarray:
        s = 1.0 / (1.0 + np.exp(-(X @ w)))
        return X.T @ ((s * (1 - s))[:, None] * X)

    err = float(np.max(np.abs(compiled(values).dense() - numpy_hessian())))
    ours = min(timeit.repeat(lambda: compiled(values), number=1, repeat=a.repeat))
    hand = min(timeit.repeat(numpy_hessian, number=1, repeat=a.repeat))
    result = {"n": a.n, "d": a.d, "tensorderiv_s": ours, "numpy_s": hand,
              "ratio_vs_numpy": ours / hand, "derive_compile_ms": derive_ms, "max_abs_err": err}
    try:
        import jax  # an optional comparison, imported only here

        jax.config.update("jax_enable_x64", True)
        jnp = jax.numpy

        def loss(w_, X_, y_):
            return jnp.sum(jnp.logaddexp(0.0, -y_ * (X_ @ w_)))

        jh = jax.jit(jax.hessian(loss))
        Xj, yj, wj = jnp.asarray(X), jnp.asarray(y), jnp.asarray(w)
        jh(wj, Xj, yj).block_until_ready()
        result["jax_s"] = min(timeit.repeat(lambda: jh(wj, Xj, yj).block_until_ready(),
                                            number=1, repeat=a.repeat))
        result["ratio_vs_jax"] = ours / result["jax_s"]
    except ImportError:
        result["jax_s"] = None
    if a.json:
        print(json.dumps(result))
        return
    print(f"logistic-loss Hessian, X {a.n}×{a.d}, best of {a.repeat}")
    print(f"  tensorderiv (compiled) {ours * 1e3:9.2f} ms")
    print(f"  hand-written numpy     {hand * 1e3:9.2f} ms   ratio {ours / hand:.3f} (bar: 1.3)")
    if result["jax_s"] is not None:
        print(f"  JAX jit(hessian)       {result['jax_s'] * 1e3:9.2f} ms   ratio "
              f"{result['ratio_vs_jax']:.3f}")
    else:
        print("  JAX not installed: pip install jax to compare")
    print(f"  derive + compile       {derive_ms:9.2f} ms (bar: 100)")
    print(f"  max |tensorderiv − numpy| = {err:.2e}")


if __name__ == "__main__":
    main()
