"""Numerical structure detection costs time linear in the tensor's size.

Times ``td.reduce`` on dense arrays of 10⁵, 10⁶ and 10⁷ entries, for a structure that must be
rejected everywhere (a random tensor: every check stops early), for structures that hold (each
check then streams over every entry once) and for a structure broken only at its last entry (the
worst case), and prints seconds and nanoseconds per entry; a ns/entry that does not grow down a
column is linear cost. Then a compact c-tensor far too large to
materialise is reduced from its storage.

Run: ``python benchmarks/bench_reduce.py`` (add ``--quick`` to stop at 10⁶).
"""

import sys
import time

import numpy as np

import tensorderiv as td
from tensorderiv import CTensor
from tensorderiv.core.axes import of_axes, wrt_axes

rng = np.random.default_rng(0)


def dense(n):  # rank 4, random: nothing holds
    return rng.normal(size=(10, 10, 10, n // 1000)), 2, 1


def kron(n):  # ∂(AXB)/∂X, T[i,j,k,l] = A[k,i] B[j,l]: one Kronecker split, verified in full
    A, B = rng.normal(size=(10, 10)), rng.normal(size=(10, n // 1000))
    return np.einsum("ki,jl->ijkl", A, B), 2, 1


def near_kron(n):  # the worst case: a Kronecker product broken only at its very last entry,
    T, k, c = kron(n)  # so the split is streamed to the end before it is rejected
    T[-1, -1, -1, -1] += 1.0
    return T, k, c


def delta(n):  # ∂Z/∂W for Z = WᵀA, T[i,j,k] = A[i] δ_jk: a delta and a constant axis
    return np.einsum("i,jk->ijk", rng.normal(size=n // 100), np.eye(10)), 2, 1


def symmetric(n):  # a Hessian: symmetric between its two derivative copies, nothing collapses
    k = round(n ** 0.5)
    R = rng.normal(size=(k, k))
    return R + R.T, 2, 2


def best_of(f, repeat=3):
    times = []
    for _ in range(repeat):
        t = time.perf_counter()
        out = f()
        times.append(time.perf_counter() - t)
    return min(times), out


def main() -> None:
    sizes = [10**5, 10**6] if "--quick" in sys.argv else [10**5, 10**6, 10**7]
    print(f"{'structure':>10} {'entries':>12} {'seconds':>10} {'ns/entry':>9}  found")
    for make in (dense, kron, near_kron, delta, symmetric):
        for n in sizes:
            T, n_wrt, copies = make(n)
            td.reduce(T[:2], n_wrt, copies=copies)  # warm up
            secs, form = best_of(lambda T=T, k=n_wrt, c=copies: td.reduce(T, k, copies=c))
            print(f"{make.__name__:>10} {T.size:>12,} {secs:>10.4f} {1e9 * secs / T.size:>9.2f}"
                  f"  {form.structure}")
            del T
    # a compact c-tensor: ∂Z/∂W with W (10⁶ × 10⁴), 10¹⁴ entries in full, 10⁶ stored
    m, n = 10**6, 10**4
    ct = CTensor(rng.normal(size=m), [*wrt_axes("W", (m, n)), *of_axes("Z", (n,))],
                 axis_map=(0, 1, 1), wrt=(("W", (m, n)),))
    with td.dense_limit(10**8):
        secs, form = best_of(ct.matrix_form)
    print(f"compact ∂Z/∂W: full {m * n * n:.0e} entries, core {ct.core.size:,}: {secs:.4f} s, "
          f"{1e9 * secs / ct.core.size:.2f} ns per stored entry -> {form.structure} "
          f"{form.array.shape}, rule {form.rule!r}")


if __name__ == "__main__":
    main()
