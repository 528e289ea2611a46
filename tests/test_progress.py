"""Progress on long work (issue 10 item 4): drawn only when interactive, switchable off.

Never timed: the delay before a bar is drawn is set to 0 (every step is "slow"), and a terminal
is a fake stream that says it is a TTY. What is checked is where a bar appears and what it
counts (the program's nodes, the differentiations, the check's evaluations of f).
"""

from __future__ import annotations

import importlib.util
import io
import re
import sys

import numpy as np
import pytest

import tensorderiv as td
from tensorderiv.core import progress as progress_module
from tensorderiv.core.progress import Progress, interactive, track
from tensorderiv.symbolic.evaluate import Program
from tensorderiv.testing import check_derivative

pytest.importorskip("tqdm", reason="progress bars need the progress extra (tqdm)")


class FakeTTY(io.StringIO):
    def isatty(self) -> bool:
        return True


@pytest.fixture
def tty(monkeypatch):
    """Call it in the test (pytest's capture resets stderr after fixtures): stderr becomes a
    terminal, and every step counts as slow."""
    stream = FakeTTY()
    monkeypatch.setattr(progress_module, "DELAY", 0.0)

    def make() -> FakeTTY:
        monkeypatch.setattr(sys, "stderr", stream)
        return stream

    return make


def test_a_slow_loop_draws_a_bar_on_a_terminal(tty):
    terminal = tty()
    assert interactive(terminal) and not interactive(io.StringIO())
    assert list(track(range(5), desc="slow steps")) == [0, 1, 2, 3, 4]
    assert "slow steps" in terminal.getvalue() and "/5" in terminal.getvalue()


def test_silent_when_not_interactive_or_switched_off(monkeypatch, tty):
    terminal = tty()
    with td.progress(False):
        assert list(track(range(3), desc="off")) == [0, 1, 2]
    assert terminal.getvalue() == ""
    td.set_progress(False)
    try:
        assert not td.get_progress()
        list(track(range(3), desc="off"))
    finally:
        td.set_progress(True)
    assert terminal.getvalue() == ""
    log = io.StringIO()  # a log file: not a terminal
    monkeypatch.setattr(sys, "stderr", log)
    assert list(track(range(3), desc="logged")) == [0, 1, 2]
    assert log.getvalue() == ""


def test_quick_work_draws_nothing(monkeypatch):
    stream = FakeTTY()
    monkeypatch.setattr(sys, "stderr", stream)
    monkeypatch.setattr(progress_module, "DELAY", 3600.0)  # nothing takes an hour here
    with Progress(3, "quick") as bar:
        for _ in range(3):
            bar.update()
        assert bar.bar is None
    assert stream.getvalue() == ""


def test_without_tqdm_long_work_stays_silent(monkeypatch, tty):
    terminal = tty()
    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec",
                        lambda name, *a: None if name == "tqdm" else real(name, *a))
    assert list(track(range(3), desc="no tqdm")) == [0, 1, 2]
    assert terminal.getvalue() == ""


def test_evaluation_counts_the_program_nodes(tty):
    terminal = tty()
    W, x = td.var("W", (3, 2)), td.var("x", (3,))
    e = td.sum(td.tanh(W.T @ x))
    value = td.evaluate(e, {"W": np.ones((3, 2)), "x": np.arange(3.0)})
    assert float(value.dense()) == pytest.approx(2 * np.tanh(3.0))  # the result is unchanged
    nodes = len(Program(e.node).order)
    out = terminal.getvalue()
    assert "evaluating 'sum(tanh(W.T @ x))'" in out and f"/{nodes}" in out


def test_derive_counts_the_differentiations(tty):
    terminal = tty()
    x = td.var("x", (2,))
    td.derive(td.sum(td.exp(x)), x, order=3)
    assert "deriving" in terminal.getvalue() and "/3" in terminal.getvalue()


def test_a_finite_difference_check_counts_the_evaluations_of_f(tty):
    terminal = tty()
    result = check_derivative(lambda x: np.sin(x), np.array([0.5, 1.0, 2.0]),
                              lambda x: np.diag(np.cos(x)))
    out = terminal.getvalue()
    assert "check_derivative: differences in x" in out
    # the bar's total is the number of evaluations the check made: 1 + (4·3)¹
    assert result.evaluations == 13
    assert max(int(n) for n in re.findall(r"/(\d+)", out)) == result.evaluations
    directional = check_derivative(lambda x: np.sum(x ** 3), np.arange(20.0), lambda x: 3 * x ** 2,
                                   mode="directional", directions=2)
    assert directional.evaluations == 1 + 2 * 4


@pytest.mark.skipif(any(importlib.util.find_spec(m) is None
                        for m in ("nbclient", "nbformat", "ipykernel")),
                    reason="needs nbclient, nbformat and ipykernel")
def test_a_notebook_kernel_is_interactive_and_shows_the_bar():
    import nbformat  # optional: imported only when installed (checked above)
    from nbclient import NotebookClient

    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_code_cell(
        "from tensorderiv.core import progress\nprogress.DELAY = 0.0\n"
        "print(progress.interactive())\n"
        "_ = list(progress.track(range(4), desc='in a notebook'))")]
    NotebookClient(nb, timeout=120, kernel_name="python3").execute()
    outputs = nb.cells[0].outputs
    printed = "".join(o.get("text", "") for o in outputs if o.get("name") == "stdout")
    assert printed.strip() == "True"
    shown = "".join(o.get("text", "") for o in outputs if o.get("name") == "stderr")
    widgets = [o for o in outputs if o.output_type == "display_data"]
    assert "in a notebook" in shown or widgets  # text bar, or a widget when ipywidgets is there
