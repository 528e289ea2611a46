"""A run has a memory budget (issue 13 item 2): estimated from shapes, refused before any work,
intermediates freed after their last use; peak RSS measured in a subprocess."""

import json
import subprocess
import sys

import numpy as np
import pytest

import tensorderiv as td
from tensorderiv.symbolic.evaluate import Program

MB = 1 << 20

SCRIPT = r"""
import json, sys
import numpy as np
import tensorderiv as td

def kib(field):
    for line in open("/proc/self/status"):
        if line.startswith(field):
            return int(line.split()[1]) * 1024
text, n, budget = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
names = [k for k in "abcdx" if k in text.replace("tanh", "")]
e = td.parse(text, {k: (n,) for k in names})
prog = td.compile(e)
base = kib("VmRSS:")
values = {k: np.full(n, 0.5) for k in names}
with td.dense_limit(budget):
    out = prog(values)[0].core
print(json.dumps({"peak": kib("VmHWM:") - base, "estimate": prog.estimate().peak,
                  "first": float(np.ravel(out)[0])}))
"""


def measure(text, n, budget):
    proc = subprocess.run([sys.executable, "-c", SCRIPT, text, str(n), str(budget)],
                          capture_output=True, text=True, timeout=120, check=True)
    return json.loads(proc.stdout)


@pytest.mark.parametrize(("text", "n", "budget"), [
    ("sum(tanh(tanh(tanh(tanh(tanh(x))))))", 10_000_000, 350 * MB),  # 80 MB a step
    ("a + b + c + d", 5_000_000, 256 * MB),  # four inputs of 40 MB
])
def test_peak_rss_of_a_run_stays_within_its_budget(text, n, budget):
    got = measure(text, n, budget)
    assert got["estimate"] <= budget
    # the interpreter's own growth during a run is far below this fixed margin
    assert got["peak"] <= budget + 64 * MB, got
    # and the intermediates are not all kept: five 80 MB results would be 480 MB on top of x
    if text.startswith("sum"):
        assert got["peak"] < 80 * MB * 5
        assert got["first"] == pytest.approx(float(np.sum(
            np.full(1, np.tanh(np.tanh(np.tanh(np.tanh(np.tanh(0.5)))))))) * n, rel=1e-9)


def test_a_run_over_budget_is_refused_before_any_work_with_the_figures():
    x = td.var("x", (1_000_000,))  # 8 MB
    f = td.compile(td.sum(td.tanh(td.tanh(x))))
    est = f.estimate()
    assert est.inputs == 8_000_000
    assert 16_000_000 <= est.peak <= 48_000_000
    with td.dense_limit(12 * MB), pytest.raises(td.DenseLimitError) as info:
        f({"x": np.zeros(1_000_000)})
    msg = str(info.value)
    assert f"{est.peak:,} bytes" in msg and "8,000,000 bytes" in msg and "set_dense_limit" in msg
    with td.dense_limit(est.peak):
        assert float(f({"x": np.zeros(1_000_000)})[0].dense()) == 0.0


def test_seeded_and_given_inputs_count():
    x = td.var("x", (500_000,))  # 4 MB of input, a scalar result
    prog = Program(td.sum(x).node)
    with td.dense_limit(3 * MB), pytest.raises(td.DenseLimitError, match="the inputs, 4,000,000"):
        prog.run({"x": np.ones(500_000)})


def test_intermediates_are_freed_after_their_last_use():
    x = td.var("x", (1000,))
    chain = td.tanh(td.tanh(td.tanh(td.tanh(x))))
    prog = Program(td.sum(chain).node)
    # five nodes of 8 kB each, but never more than two alive besides the input
    assert prog.estimate().peak <= 8000 * 5
    kept = Program([td.sum(chain).node, chain.node])  # an output is kept to the end
    assert chain.node not in {d for ds in kept._drop for d in ds}


def test_lazy_inputs_are_not_refused_by_the_budget_of_a_run():
    da = pytest.importorskip("dask.array", reason="the dask extra is not installed")
    x = td.var("x", (200_000,))  # 1.6 MB, lazily chunked
    prog = Program(td.sum(td.tanh(x)).node)
    lazy = da.from_array(np.full(200_000, 0.5), chunks=50_000)
    with td.dense_limit(1 * MB):  # numpy inputs of this size would be refused
        out = prog.run({"x": lazy})
        with pytest.raises(td.DenseLimitError):
            prog.run({"x": np.full(200_000, 0.5)})
    assert float(np.asarray(out.core)) == pytest.approx(200_000 * np.tanh(0.5))
