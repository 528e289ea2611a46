"""benchmarks/gpu.sh's Python side: it runs end to end on a CPU at tiny sizes (when torch is
installed; CI has no torch and no GPU) with every result checked, and records into the README's
GPU section without disturbing the rest."""

import importlib.util
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def _bench_gpu():
    spec = importlib.util.spec_from_file_location("bench_gpu", ROOT / "benchmarks" / "bench_gpu.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_record_fills_the_gpu_section_and_keeps_the_others(tmp_path):
    bench = _bench_gpu()
    readme = tmp_path / "README.md"
    readme.write_text(f"# Benchmarks\n\n## CPU\n\nx\n\n## GPU\n\nintro\n\n{bench.PLACEHOLDER}\n"
                      "\n## Later\n\ny\n")
    bench.record(readme, "Device A — 2026-01-01", "| t1 |")
    bench.record(readme, "Device B — 2026-01-02", "| t2 |")
    text = readme.read_text()
    assert bench.PLACEHOLDER not in text
    gpu = text[text.index("## GPU"):text.index("## Later")]
    assert gpu.index("### Device A") < gpu.index("| t1 |") < gpu.index("### Device B")
    assert "| t2 |" in gpu and text.startswith("# Benchmarks\n\n## CPU\n\nx\n")
    assert text.endswith("## Later\n\ny\n")


def test_the_committed_readme_has_a_gpu_section():
    text = (ROOT / "benchmarks" / "README.md").read_text()
    assert "\n## GPU\n" in text


def test_gpu_benchmark_runs_on_cpu_at_tiny_sizes():
    pytest.importorskip("torch", reason="torch is not installed (pip install torch==2.13.0)")
    pytest.importorskip("array_api_compat", reason="the backends extra is not installed")
    bench = _bench_gpu()
    dev = bench.Device("cpu", "float64")
    rows = bench.run(dev, {"P1": (40, 6), "P3": 6, "P4": 8}, repeat=1)
    systems = {(r["problem"], r["system"]) for r in rows}
    for p in ("P1", "P3", "P4"):
        assert {(p, "tensorderiv (torch)"), (p, "torch.func"), (p, "hand-written torch")} <= systems
    assert all(r["checked"] for r in rows), [r for r in rows if not r["checked"]]
    assert "| P3 | 3 × 6×6 | tensorderiv (torch) |" in bench.table(rows)


def test_gpu_p3_is_one_compiled_program_for_the_three_gradients():
    pytest.importorskip("torch", reason="torch is not installed (pip install torch==2.13.0)")
    pytest.importorskip("array_api_compat", reason="the backends extra is not installed")
    bench = _bench_gpu()
    prob = bench.p3(bench.Device("cpu", "float64"), 5)
    program = prob["program"]
    assert len(program.outputs) == 3 and program.modes == ["reverse"] * 3
    got = prob["systems"]["tensorderiv (torch)"]()
    for g, r in zip(got, prob["hand"](), strict=True):
        assert float(abs(g - r).max()) <= 1e-12 * max(1.0, float(abs(r).max()))
