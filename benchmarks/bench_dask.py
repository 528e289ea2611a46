"""The logistic-loss Hessian on a dask.distributed cluster: time against rows at fixed d.

    python benchmarks/bench_dask.py [--d 100] [--rows 250000 500000 1000000 2000000]
        [--chunk-rows 25000] [--workers 2] [--memory-limit 300MB] [--scheduler ADDRESS]
        [--json benchmarks/bench_dask.json]

X (rows × d) is drawn lazily with ``dask.array.random`` in row chunks on the workers, so it never
exists whole in any one process; at the larger sizes it is several times one worker's memory
budget (``--memory-limit``, enforced by each worker's nanny). For each size it derives and
compiles H = ∂²/∂w² Σ log(1 + exp(−y ⊙ (X w))) once, computes it on the cluster, checks it against
the hand-written closed form Xᵀ diag(s(1 − s)) X computed on the same cluster, and reports both
times, their ratio and the time per row. Without ``--scheduler`` it starts a LocalCluster bound to
127.0.0.1 (workers in their own processes, one thread each) and closes it at the end; with
``--scheduler tcp://host:8786`` it runs on that existing cluster instead (see docs/scale.md).
Nothing here is asserted; it prints a table and writes a JSON record.
"""

from __future__ import annotations

import argparse
import json
import platform
import time
from pathlib import Path

import numpy as np

import tensorderiv as td
from tensorderiv.core.optional import require

LOSS = "sum(log(1 + exp(-y * (X @ w))))"


def _bytes(text: str) -> int:
    units = {"kb": 10**3, "mb": 10**6, "gb": 10**9, "kib": 2**10, "mib": 2**20, "gib": 2**30}
    t = text.strip().lower()
    for unit in sorted(units, key=len, reverse=True):
        if t.endswith(unit):
            return int(float(t[: -len(unit)]) * units[unit])
    return int(t)


def run_size(client, da, n: int, d: int, chunk: int, seed: int) -> dict:
    rng = da.random.default_rng(seed)
    X = rng.standard_normal((n, d), chunks=(chunk, d)) / np.sqrt(d)
    y = da.where(rng.standard_normal(n, chunks=chunk) >= 0, 1.0, -1.0)
    w = np.random.default_rng(seed).normal(size=d)

    t0 = time.perf_counter()
    compiled = td.derive(LOSS, "w", order=2, shapes={"X": (n, d), "y": (n,), "w": (d,)}).compile()
    graph = compiled({"X": X, "y": y, "w": w}).dense()  # lazy: nothing is computed yet
    build_s = time.perf_counter() - t0

    t0 = time.perf_counter()
    ours = client.compute(graph).result()
    ours_s = time.perf_counter() - t0

    s = 1.0 / (1.0 + da.exp(-(X @ w)))  # y = ±1 does not change s(1 − s)
    t0 = time.perf_counter()
    hand = client.compute(X.T @ ((s * (1 - s))[:, None] * X)).result()
    hand_s = time.perf_counter() - t0
    err = float(np.max(np.abs(ours - hand)) / max(np.max(np.abs(hand)), 1e-300))
    return {"rows": n, "d": d, "chunks": int(X.numblocks[0]), "X_bytes": n * d * 8,
            "derive_compile_build_s": build_s, "tensorderiv_s": ours_s, "hand_dask_s": hand_s,
            "ratio_vs_hand": ours_s / hand_s, "us_per_row": ours_s / n * 1e6,
            "max_rel_err": err, "checked": err < 1e-8}


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--d", type=int, default=100)
    p.add_argument("--rows", type=int, nargs="+", default=[250_000, 500_000, 1_000_000, 2_000_000])
    p.add_argument("--chunk-rows", type=int, default=25_000)
    p.add_argument("--workers", type=int, default=2)
    p.add_argument("--memory-limit", default="300MB", help="per worker (local cluster only)")
    p.add_argument("--scheduler", default=None, help="address of an existing cluster's scheduler")
    p.add_argument("--json", default=str(Path(__file__).with_name("bench_dask.json")))
    a = p.parse_args()
    da = require("dask.array", "dask")
    distributed = require("distributed", "dask")

    if a.scheduler:
        cluster = None
        client = distributed.Client(a.scheduler)
    else:
        cluster = distributed.LocalCluster(
            n_workers=a.workers, threads_per_worker=1, processes=True, host="127.0.0.1",
            dashboard_address=None, memory_limit=a.memory_limit)
        client = distributed.Client(cluster)
    try:
        workers = client.scheduler_info()["workers"]
        budget = min(w["memory_limit"] for w in workers.values()) or _bytes(a.memory_limit)
        run_size(client, da, 2 * a.chunk_rows, a.d, a.chunk_rows, seed=0)  # warm the workers
        rows = []
        print(f"logistic Hessian on {len(workers)} workers, memory budget {budget / 1e6:.0f} MB "
              f"each, d = {a.d}, {a.chunk_rows} rows a chunk")
        head = (f"{'rows':>10} {'X MB':>8} {'X/budget':>8} {'chunks':>6} {'ours s':>8} "
                f"{'hand s':>8} {'ratio':>6} {'us/row':>7} {'check':>6}")
        print(head)
        for n in a.rows:
            r = run_size(client, da, n, a.d, a.chunk_rows, seed=n)
            r["X_over_worker_budget"] = r["X_bytes"] / budget
            rows.append(r)
            print(f"{n:>10} {r['X_bytes'] / 1e6:>8.0f} {r['X_over_worker_budget']:>8.1f} "
                  f"{r['chunks']:>6} {r['tensorderiv_s']:>8.2f} {r['hand_dask_s']:>8.2f} "
                  f"{r['ratio_vs_hand']:>6.2f} {r['us_per_row']:>7.2f} "
                  f"{'ok' if r['checked'] else 'FAIL':>6}", flush=True)
        record = {"benchmark": "bench_dask", "loss": LOSS, "workers": len(workers),
                  "worker_memory_limit_bytes": budget, "cluster": a.scheduler or "LocalCluster",
                  "machine": platform.platform(), "python": platform.python_version(),
                  "results": rows}
        Path(a.json).write_text(json.dumps(record, indent=2) + "\n")
        print(f"wrote {a.json}")
    finally:
        client.close()
        if cluster is not None:
            cluster.close()


if __name__ == "__main__":
    main()
