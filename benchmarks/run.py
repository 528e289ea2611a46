"""The tensorderiv benchmark suite: P1–P6 of issue 12 against hand-written numpy, JAX and PyTorch.

    python benchmarks/run.py            # three sizes per problem, a few minutes on one core
    python benchmarks/run.py --quick    # tiny sizes: a smoke run of every check (seconds)
    python benchmarks/run.py --only P1,P3 --runs 7 --systems td,jax

Every (problem, size, system) runs in its own subprocess, pinned to one core
(``os.sched_setaffinity``, OMP/MKL/OpenBLAS thread counts set to 1 before numpy is imported,
``threadpoolctl`` when installed) with ``OPENBLAS_CORETYPE``/``OPENBLAS_L2_SIZE`` unset and a
fixed glibc mmap threshold so freed memory leaves the process. In it:

1. the system's callable is built, timing derive and compile apart from the first call;
2. its result is checked against the hand-written numpy closed form (a mismatch stops the run);
3. peak memory above the inputs is measured for the hand-written form and for the system, one
   call each, from ``VmHWM`` reset through ``/proc/self/clear_refs``;
4. the hand-written form and the system are timed interleaved over ``--runs`` runs (each run
   loops enough calls for 20 ms), giving the median and min–max per call and the ratio of
   medians, from the same process.

Systems: ``td`` (tensorderiv's compiled program), ``jax`` (``jax.jit``) and ``torch``
(``torch.func``), the last two when installed (``pip install 'tensorderiv[bench]'``) and skipped
with a note otherwise. Results go to ``benchmarks/results/latest.json``, a log–log plot of time
against size (``latest.png``, one line per system) and the table in ``benchmarks/README.md``.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import platform
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
RESULTS = HERE / "results"
README = HERE / "README.md"
START, END = "<!-- results:start -->", "<!-- results:end -->"

#: issue 12's targets, at the largest size: (what, ratio bound or None, absolute bound in s)
TARGETS: dict[str, tuple[str, float | None, float | None]] = {
    "P1": ("≤ 0.8× (stretch 0.6×)", 0.8, None),
    "P2c": ("O(m), < 1 ms", None, 1e-3),
    "P2d": ("≤ 1.1× time and peak memory", 1.1, None),
    "P3": ("≤ 1.0×", 1.0, None),
    "P3w1": ("≤ 0.8× the whole backward pass", 0.8, None),
    "P4": ("≤ 0.8×", 0.8, None),
    "P5": ("≤ 1.0×", 1.0, None),
    "P6c": ("O(n)", None, None),
    "P6d": ("≤ 1.1× time and peak memory", 1.1, None),
    "O1": ("≤ 1.2× at d = 200", 1.2, None),
}
BUILD_TARGET_MS = 50.0


# ---------------------------------------------------------------- the worker (one subprocess)
def _pin() -> None:
    """One core, one thread: called before numpy is imported."""
    try:
        cpus = sorted(os.sched_getaffinity(0))
        os.sched_setaffinity(0, {cpus[-1]})
    except (AttributeError, OSError):  # pragma: no cover - not Linux
        pass


def _kib(field: str) -> int:
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith(field):
                return int(line.split()[1])
    return 0


def _reset_peak() -> bool:
    try:
        with open("/proc/self/clear_refs", "w") as f:
            f.write("5")
        return True
    except OSError:
        return False


def _peak_mb(fn: Any, values: Any) -> float | None:
    """Peak resident memory above the current level during one call, in MB."""
    import gc

    gc.collect()
    if not _reset_peak():
        return None
    base = _kib("VmRSS:")
    out = fn(values)
    peak = _kib("VmHWM:")
    del out
    gc.collect()
    return (peak - base) / 1024.0


def _calls_per_run(fn: Any, values: Any, floor: float = 0.02) -> int:
    t = time.perf_counter()
    fn(values)
    one = time.perf_counter() - t
    return max(1, min(10000, int(floor / max(one, 1e-7))))


def _time_runs(fn: Any, values: Any, k: int) -> float:
    t = time.perf_counter()
    for _ in range(k):
        fn(values)
    return (time.perf_counter() - t) / k


def _check(key: str, got: tuple[Any, ...], ref: tuple[Any, ...], rtol: float) -> float:
    import numpy as np

    if len(got) != len(ref):
        raise AssertionError(f"{key}: {len(got)} results, the closed form has {len(ref)}")
    worst = 0.0
    for k, (g, r) in enumerate(zip(got, ref, strict=True)):
        g, r = np.asarray(g, dtype=np.float64), np.asarray(r, dtype=np.float64)
        if g.shape != r.shape:
            raise AssertionError(f"{key} result {k}: shape {g.shape}, closed form {r.shape}")
        scale = float(np.max(np.abs(r))) if r.size else 0.0
        err = float(np.max(np.abs(g - r))) if r.size else 0.0
        worst = max(worst, err / max(scale, 1e-300))
        if err > rtol * max(scale, 1e-12) + 1e-12:
            raise AssertionError(f"{key} result {k}: max |error| {err:.3e} against the closed "
                                 f"form (scale {scale:.3e}, rtol {rtol})")
    return worst


def worker(spec: dict[str, Any]) -> None:
    """Pin, then run :func:`measure` for each size of ``spec``, printing one record a line."""
    _pin()
    try:
        from threadpoolctl import threadpool_limits

        threadpool_limits(1)
    except ImportError:
        pass
    for size in spec["sizes"]:
        try:
            rec = measure({**spec, "size": size})
        except Exception as exc:  # reported in the table; the run goes on
            rec = {"problem": spec["problem"], "size": size, "system": spec["system"],
                   "error": f"{type(exc).__name__}: {exc}"[:300]}
        print("RESULT " + json.dumps(rec), flush=True)


def measure(spec: dict[str, Any]) -> dict[str, Any]:
    """Build, check, measure and time one (problem, size, system); return the record."""
    import numpy as np

    sys.path.insert(0, str(HERE))
    from problems import HAND, PROBLEMS

    p = PROBLEMS[spec["problem"]]
    system, size, runs = spec["system"], spec["size"], spec["runs"]
    floor = spec.get("floor", 0.02)
    values = p.make(size, np.random.default_rng(12))
    hand = HAND.get(p.key, p.closed)
    rec: dict[str, Any] = {"problem": p.key, "size": size, "system": system}
    if system == "td":
        import tensorderiv as td

        td.set_dense_limit(1 << 36)  # the benchmark measures; the budget is tested elsewhere
        t0 = time.perf_counter()
        _what, fn = p.td(values)
        rec["build_ms"] = (time.perf_counter() - t0) * 1e3
        desc = getattr(fn, "description", None)
        if desc:
            rec["description"] = str(desc)
    else:
        t0 = time.perf_counter()
        fn = p.peers[system](values)
        rec["build_ms"] = (time.perf_counter() - t0) * 1e3
    t0 = time.perf_counter()
    got = fn(values)
    rec["first_call_ms"] = (time.perf_counter() - t0) * 1e3
    rec["rel_err"] = _check(p.key, tuple(got), p.closed(values), p.rtol)
    del got
    rec["hand_peak_mb"] = _peak_mb(hand, values)
    rec["peak_mb"] = _peak_mb(fn, values)
    k_hand, k_sys = _calls_per_run(hand, values, floor), _calls_per_run(fn, values, floor)
    hand_t, sys_t = [], []
    for _ in range(runs):
        hand_t.append(_time_runs(hand, values, k_hand))
        sys_t.append(_time_runs(fn, values, k_sys))
    rec["hand_s"] = [statistics.median(hand_t), min(hand_t), max(hand_t)]
    rec["sys_s"] = [statistics.median(sys_t), min(sys_t), max(sys_t)]
    rec["ratio"] = rec["sys_s"][0] / rec["hand_s"][0]
    rec["runs"], rec["calls_per_run"] = runs, [k_hand, k_sys]
    return rec


# ---------------------------------------------------------------- the driver
def _env() -> dict[str, str]:
    env = dict(os.environ)
    for var in ("OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE"):  # they slow numpy's BLAS here
        env.pop(var, None)
    for var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS",
                "NUMEXPR_NUM_THREADS", "VECLIB_MAXIMUM_THREADS"):
        env[var] = "1"
    env["XLA_FLAGS"] = "--xla_cpu_multi_thread_eigen=false intra_op_parallelism_threads=1"
    env["MALLOC_MMAP_THRESHOLD_"] = "65536"  # freed arrays go back to the OS: honest peaks
    env["PYTHONPATH"] = os.pathsep.join([str(HERE.parent), env.get("PYTHONPATH", "")])
    return env


def run_sizes(spec: dict[str, Any], timeout: float) -> list[dict[str, Any]]:
    """Run :func:`worker` for every size in a fresh pinned subprocess; one record per size."""
    cmd = [sys.executable, str(Path(__file__).resolve()), "--worker", json.dumps(spec)]
    out: dict[int, dict[str, Any]] = {}
    error = None
    try:
        proc = subprocess.run(cmd, env=_env(), capture_output=True, text=True, timeout=timeout,
                              check=False)
        stdout, stderr = proc.stdout, proc.stderr
        if proc.returncode:
            error = " | ".join((stderr or stdout).strip().splitlines()[-3:])
    except subprocess.TimeoutExpired as exc:
        stdout, stderr = exc.stdout or "", ""
        stdout = stdout.decode() if isinstance(stdout, bytes) else stdout
        error = f"timed out after {timeout:.0f} s"
    for line in stdout.splitlines():
        if line.startswith("RESULT "):
            rec = json.loads(line[len("RESULT "):])
            out[rec["size"]] = rec
    base = {k: spec[k] for k in ("problem", "system")}
    return [out.get(s, {**base, "size": s, "error": error or "no result"})
            for s in spec["sizes"]]


def available(system: str) -> bool:
    """Whether a peer system is installed (found without importing it)."""
    return importlib.util.find_spec(system) is not None


def machine() -> str:
    """The CPU model and core count, for the README."""
    name = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    name = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    return f"{name}, {os.cpu_count()} cores (one used), {platform.system()}"


def _ms(s: float) -> str:
    ms = s * 1e3
    if ms < 0.01:
        return f"{ms * 1e3:.2f} µs"
    return f"{ms:.3g} ms" if ms < 100 else f"{ms:.0f} ms"


def _fmt_t(t: list[float] | None) -> str:
    if not t:
        return "—"
    return f"{_ms(t[0])} [{_ms(t[1])}–{_ms(t[2])}]"


def _mb(x: float | None) -> str:
    return "—" if x is None else f"{x:.1f}"


def table(records: list[dict[str, Any]], systems: list[str]) -> list[str]:
    """Markdown rows: one per (problem, size), numpy and tensorderiv timings, peer ratios."""
    peers = [s for s in systems if s != "td"]
    head = ("| problem | size | numpy median [min–max] | tensorderiv median [min–max] | "
            "td/numpy | derive+compile | first call | peak MB numpy / td | "
            + " | ".join(f"{s}/numpy" for s in peers) + " |")
    rows = [head, "|" + "---|" * (8 + len(peers))]
    keyed = {(r["problem"], r["size"], r["system"]): r for r in records}
    seen: list[tuple[str, int]] = []
    for r in records:
        if (r["problem"], r["size"]) not in seen:
            seen.append((r["problem"], r["size"]))
    for prob, size in seen:
        r = keyed.get((prob, size, "td"), {})
        if "error" in r:
            rows.append(f"| {prob} | {size} | — | error: {r['error'][:80]} |" + " |" * 6)
            continue
        cells = [prob, str(size), _fmt_t(r.get("hand_s")), _fmt_t(r.get("sys_s")),
                 f"{r['ratio']:.2f}×" if "ratio" in r else "—",
                 f"{r['build_ms']:.1f} ms" if "build_ms" in r else "—",
                 f"{r['first_call_ms']:.1f} ms" if "first_call_ms" in r else "—",
                 f"{_mb(r.get('hand_peak_mb'))} / {_mb(r.get('peak_mb'))}"]
        for s in peers:
            q = keyed.get((prob, size, s))
            if q is None:
                cells.append("n/a")
            elif "error" in q:
                cells.append("error")
            else:
                cells.append(f"{q['ratio']:.2f}×")
        rows.append("| " + " | ".join(cells) + " |")
    return rows


def verdicts(records: list[dict[str, Any]]) -> list[str]:
    """Markdown rows: each target at the largest size, met or missed and by how much."""
    rows = ["| problem | target | measured (largest size) | met |", "|---|---|---|---|"]
    for prob, (text, ratio, absolute) in TARGETS.items():
        mine = [r for r in records if r["problem"] == prob and r["system"] == "td"
                and "ratio" in r]
        if not mine:
            continue
        r = max(mine, key=lambda q: q["size"])
        parts, ok = [], True
        if ratio is not None:
            parts.append(f"{r['ratio']:.2f}×")
            ok = ok and r["ratio"] <= ratio
            if prob in ("P2d", "P6d") and r.get("hand_peak_mb") and r.get("peak_mb"):
                mem = r["peak_mb"] / max(r["hand_peak_mb"], 1e-9)
                parts.append(f"memory {mem:.2f}×")
                ok = ok and mem <= ratio
        if absolute is not None:
            parts.append(_ms(r["sys_s"][0]))
            ok = ok and r["sys_s"][0] < absolute
        if prob == "P6c":
            small = min(mine, key=lambda q: q["size"])
            growth = (r["sys_s"][0] / small["sys_s"][0]) / (r["size"] / small["size"])
            parts.append(f"time/size grows {growth:.2f}× over the sizes")
            ok = growth < 2.0
        verdict = "yes" if ok else "**no**"
        if not ok and ratio is not None:
            verdict += f" (+{(r['ratio'] / ratio - 1) * 100:.0f}%)"
        rows.append(f"| {prob} (size {r['size']}) | {text} | {', '.join(parts)} | {verdict} |")
    builds = [r for r in records if r["system"] == "td" and "build_ms" in r]
    if builds:
        worst = max(builds, key=lambda q: q["build_ms"])
        ok = worst["build_ms"] <= BUILD_TARGET_MS
        rows.append(f"| derive + compile, every problem | ≤ {BUILD_TARGET_MS:.0f} ms | worst "
                    f"{worst['build_ms']:.1f} ms ({worst['problem']}, size {worst['size']}) | "
                    f"{'yes' if ok else '**no**'} |")
    return rows


def plot(records: list[dict[str, Any]], path: Path) -> bool:
    """Time against size, log–log, one panel per problem and one line per system."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return False
    probs = list(dict.fromkeys(r["problem"] for r in records))
    cols = 4
    rows = (len(probs) + cols - 1) // cols
    fig, axes = plt.subplots(rows, cols, figsize=(4 * cols, 3.2 * rows), squeeze=False)
    for ax, prob in zip(axes.flat, probs, strict=False):
        mine = [r for r in records if r["problem"] == prob and "sys_s" in r]
        lines: dict[str, list[tuple[int, float]]] = {}
        for r in mine:
            lines.setdefault(r["system"], []).append((r["size"], r["sys_s"][0]))
            if r["system"] == "td":
                lines.setdefault("numpy", []).append((r["size"], r["hand_s"][0]))
        for name, pts in lines.items():
            pts.sort()
            ax.loglog([p[0] for p in pts], [p[1] for p in pts], marker="o",
                      label={"td": "tensorderiv"}.get(name, name))
        ax.set_title(prob)
        ax.set_xlabel("size")
        ax.set_ylabel("seconds per call")
        ax.legend(fontsize=7)
    for ax in list(axes.flat)[len(probs):]:
        ax.axis("off")
    fig.tight_layout()
    fig.savefig(path, dpi=90)
    plt.close(fig)
    return True


def update_readme(lines: list[str]) -> None:
    """Replace the results block of benchmarks/README.md."""
    text = README.read_text() if README.exists() else f"# Benchmarks\n\n{START}\n{END}\n"
    if START not in text:
        text += f"\n{START}\n{END}\n"
    head, rest = text.split(START, 1)
    _, tail = rest.split(END, 1)
    README.write_text(head + START + "\n" + "\n".join(lines) + "\n" + END + tail)


#: the two measurements that are not problems: the fixed cost per call against jitted JAX on
#: random small expressions (bench_overhead.py) and path search against evaluation
#: (bench_paths.py), each its own script, run here in a subprocess pinned like the workers
EXTRAS = ("OV", "PS")
OV_TARGET = 5.0


def _pinned_python(script: str, args: list[str], timeout: float) -> str:
    """Run a benchmark script (it pins itself to one core) with the workers' environment."""
    done = subprocess.run([sys.executable, str(HERE / script), *args], capture_output=True,
                          text=True, timeout=timeout, env=_env(), check=False)
    if done.returncode != 0:
        raise RuntimeError(done.stderr.strip().splitlines()[-1] if done.stderr.strip() else
                           f"{script} exited {done.returncode}")
    return done.stdout


def run_extras(extras: list[str], quick: bool, timeout: float,
               out: Path) -> tuple[list[str], list[str]]:
    """Run OV and PS; their README sections and their rows of the targets table."""
    sys.path.insert(0, str(HERE))
    lines: list[str] = []
    rows: list[str] = []
    if "OV" in extras and available("jax"):
        path = out / f"{'quick' if quick else 'latest'}-overhead.json"
        try:
            text = _pinned_python("bench_overhead.py", [
                "--count", "20" if quick else "300", "--runs", "5", "--json",
                str(path)], timeout)
            print(text, flush=True)
            import bench_overhead

            summary = json.loads(path.read_text())["summary"]
            lines += ["", "**OV** fixed cost per call against jitted JAX, random small "
                      "expressions (`benchmarks/bench_overhead.py`): ",
                      *bench_overhead.lines(summary)]
            ok = summary["median"] <= OV_TARGET
            rows.append(f"| OV ({summary['count']} random expressions) | median ≤ "
                        f"{OV_TARGET:.0f}× a jitted JAX call | median {summary['median']:.2f}×, "
                        f"p80 {summary['p80']:.1f}×, over 5×: {summary['over_5x']:.0%}, over "
                        f"100×: {summary['over_100x']:.0%} | {'yes' if ok else '**no**'} |")
        except (RuntimeError, subprocess.TimeoutExpired) as exc:
            lines += ["", f"OV failed: {exc}"]
    elif "OV" in extras:
        lines += ["", "OV skipped: jax is not installed (pip install 'tensorderiv[bench]')."]
    if "PS" in extras:
        path = out / f"{'quick' if quick else 'latest'}-paths.json"
        try:
            recs = []
            runs = [(["2", "4"], "4")] if quick else [(["4", "8", "16"], "4"), (["16"], "24")]
            for depths, n in runs:  # tiny vectors, then evaluation that is not tiny
                text = _pinned_python("bench_paths.py", [*depths, "--n", n, "--json",
                                                         str(path)], timeout)
                print(text, flush=True)
                recs += json.loads(path.read_text())
            import bench_paths

            lines += ["", "**PS** contraction-path search against evaluation: order 3 of "
                      "stacked `tanh(A @ ·)` on an n-vector (`benchmarks/bench_paths.py`):", "",
                      *bench_paths.lines(recs)]
            path.write_text(json.dumps(recs, indent=1))
            deepest = max(recs, key=lambda r: (r["layers"], -r["n"]))
            big = max(recs, key=lambda r: (r["n"], r["layers"]))
            rows.append(f"| PS ({deepest['layers']} layers, order 3) | path search bounded "
                        f"(optimizer by operand count, plans cached by structure) | "
                        f"n = {deepest['n']}: {deepest['path_s'] * 1e3:.0f} ms of a "
                        f"{deepest['first_s'] * 1e3:.0f} ms first call "
                        f"({deepest['path_share']:.0%}); n = {big['n']}: "
                        f"{big['path_share']:.0%}; later calls search nothing | "
                        f"{'yes' if big['path_share'] <= 0.5 else '**no**'}, see the note |")
        except (RuntimeError, subprocess.TimeoutExpired) as exc:
            lines += ["", f"PS failed: {exc}"]
    return lines, rows


def main(argv: list[str] | None = None) -> int:
    """The command line (see the module docstring)."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="tiny sizes: a smoke run")
    ap.add_argument("--runs", type=int, default=5, help="timed runs per measurement (>= 5)")
    ap.add_argument("--only", default="", help="comma-separated problems (P1,P2c,P2d,P3,...)")
    ap.add_argument("--systems", default="td,jax,torch", help="td,jax,torch")
    ap.add_argument("--timeout", type=float, default=900.0, help="seconds per subprocess")
    ap.add_argument("--no-readme", action="store_true", help="do not rewrite README.md")
    ap.add_argument("--out", default=str(RESULTS), help="folder for the JSON and the plot")
    ap.add_argument("--worker", help=argparse.SUPPRESS)
    a = ap.parse_args(argv)
    if a.worker:
        worker(json.loads(a.worker))
        return 0
    sys.path.insert(0, str(HERE))
    from problems import PROBLEMS

    runs = max(5, a.runs)
    mode = "quick" if a.quick else "default"
    chosen = [k.strip() for k in a.only.split(",") if k.strip()] or list(PROBLEMS)
    unknown = [k for k in chosen if k not in PROBLEMS and k not in EXTRAS]
    if unknown:
        ap.error(f"unknown problem(s) {unknown}; known: {list(PROBLEMS)}")
    systems = [s.strip() for s in a.systems.split(",") if s.strip()]
    notes = []
    for s in [s for s in systems if s != "td"]:
        if not available(s):
            notes.append(f"{s} is not installed: its column is skipped "
                         "(pip install 'tensorderiv[bench]')")
            systems.remove(s)
    for n in notes:
        print("note:", n)
    extras = [k for k in EXTRAS if k in chosen or not a.only]
    chosen = [k for k in chosen if k not in EXTRAS]
    records: list[dict[str, Any]] = []
    failed = False
    for key in chosen:
        p = PROBLEMS[key]
        for s in systems:
            if s != "td" and s not in p.peers:
                continue
            spec = {"problem": key, "sizes": list(p.sizes[mode]), "system": s, "runs": runs,
                    "floor": 0.002 if a.quick else 0.02}
            for rec in run_sizes(spec, a.timeout):
                records.append(rec)
                size = rec["size"]
                if "error" in rec:
                    failed = failed or s == "td"
                    print(f"{key:5s} {p.size_label}={size:<8d} {s:6s} ERROR {rec['error']}")
                    continue
                print(f"{key:5s} {p.size_label}={size:<8d} {s:6s} {_fmt_t(rec['sys_s']):32s} "
                      f"numpy {_fmt_t(rec['hand_s']):32s} ratio {rec['ratio']:6.2f}  "
                      f"build {rec['build_ms']:7.1f} ms  first {rec['first_call_ms']:8.1f} ms  "
                      f"peak {_mb(rec['hand_peak_mb'])}/{_mb(rec['peak_mb'])} MB", flush=True)
    out = Path(a.out)
    out.mkdir(parents=True, exist_ok=True)
    meta = {"machine": machine(), "python": platform.python_version(), "mode": mode,
            "runs": runs, "date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
            "notes": notes}
    # a smoke run or a run of some problems only keeps the full run's record and plot
    stem = "quick" if a.quick else "partial" if a.only else "latest"
    (out / f"{stem}.json").write_text(json.dumps({"meta": meta, "records": records}, indent=1))
    plotted = plot(records, out / f"{stem}.png")
    lines = [f"Latest run: {meta['date']}, {meta['machine']}, Python {meta['python']}, "
             f"{runs} runs per measurement, mode {mode}.", ""]
    lines += [f"Note: {n}." for n in notes] + ([""] if notes else [])
    extra_lines, extra_verdicts = run_extras(extras, a.quick, a.timeout, out)
    lines += [*table(records, systems), *extra_lines, "", "Targets (issue 12), largest size:", ""]
    lines += verdicts(records) + extra_verdicts
    if plotted:
        lines += ["", f"![time against size](results/{stem}.png)"]
    print("\n".join(lines))
    if not a.no_readme and not a.quick and not a.only:
        update_readme(lines)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
