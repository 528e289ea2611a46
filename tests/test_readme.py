"""The README's sample output is what the code prints now (it was written before the display
change and had gone stale): the notebook-01 cell's ``print(ct.matrix_form())`` and ``ct``."""

import re
from pathlib import Path

import numpy as np

import tensorderiv as td

README = Path(__file__).resolve().parents[1] / "README.md"


def _sample() -> dict[str, list[str]]:
    """The README's ``In:``/``Out:`` sample: each input line → its output lines."""
    block = README.read_text(encoding="utf-8").split("```text\nIn:  ct = td.derive", 1)[1]
    block = "In:  ct = td.derive" + block.split("```", 1)[0]
    out: dict[str, list[str]] = {}
    current = ""
    for line in block.splitlines():
        if line.startswith("In:  "):
            current = line[5:]
            out[current] = []
        elif line.strip():  # "Out: " or a continuation line, both indented by 5
            out[current].append(line[5:])
    return out


def test_readme_notebook_sample_matches_what_the_code_prints():
    sample = _sample()
    assert list(sample) == ["ct = td.derive(W.T @ A, W).evaluate(values); print(ct.matrix_form())",
                            "ct"]
    W, A = td.var("W", (4, 3)), td.var("A", (4,))
    a = np.random.default_rng(0).standard_normal(4)
    ct = td.derive(W.T @ A, W).evaluate({"W": np.ones((4, 3)), "A": a})
    printed = str(ct.matrix_form()).splitlines()
    shown = sample["ct = td.derive(W.T @ A, W).evaluate(values); print(ct.matrix_form())"]
    number = re.compile(r"^\s*\[*\s*-?\d")
    # the words are the code's, line for line; the numbers are the notebook's A (any values)
    assert [s for s in shown if not number.match(s)] == [
        p for p in printed if not number.match(p)]
    assert sum(bool(number.match(s)) for s in shown) == a.size
    assert np.allclose(ct.matrix_form().array.ravel(), a)  # the collapse is A itself (A.76)
    assert sample["ct"] == repr(ct).splitlines()
