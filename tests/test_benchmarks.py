"""Smoke test of the benchmark suite: every problem's tensorderiv result matches its closed form.

The suite (benchmarks/run.py) checks each result against the hand-written numpy closed form before
timing it; this runs those same checks at tiny sizes, in-process, with no timing.
"""

import sys
from pathlib import Path

import numpy as np
import pytest

BENCH = Path(__file__).resolve().parent.parent / "benchmarks"
sys.path.insert(0, str(BENCH))

import problems  # noqa: E402
import run  # noqa: E402


@pytest.mark.parametrize("key", list(problems.PROBLEMS))
def test_problem_matches_closed_form(key):
    p = problems.PROBLEMS[key]
    size = p.sizes["quick"][0]
    values = p.make(size, np.random.default_rng(3))
    _, fn = p.td(values)
    got = fn(values)
    run._check(key, tuple(got), p.closed(values), p.rtol)


def test_check_catches_a_wrong_result():
    p = problems.PROBLEMS["P4"]
    values = p.make(4, np.random.default_rng(0))
    (H,) = p.closed(values)
    with pytest.raises(AssertionError, match="max \\|error\\|"):
        run._check("P4", (H + 1e-3,), (H,), p.rtol)


def test_tables_from_records():
    rec = {"problem": "P4", "size": 10, "system": "td", "sys_s": [2e-3, 1e-3, 3e-3],
           "hand_s": [4e-3, 3e-3, 5e-3], "ratio": 0.5, "build_ms": 3.0, "first_call_ms": 4.0,
           "hand_peak_mb": 1.0, "peak_mb": 1.0}
    rows = run.table([rec], ["td"])
    assert "0.50×" in rows[2]
    assert any("| yes |" in r for r in run.verdicts([rec]))
