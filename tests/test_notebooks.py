"""The numbered notebooks in notebooks/ run top to bottom, and print what they promise.

The notebooks are kept as text: jupytext percent-format ``.py`` files (no ``.ipynb`` in the tree).
Each is read with jupytext and executed with nbclient in a ``python3`` kernel; a failing cell (every
cell of notebook 01 asserts what the lecture notes claim) fails the test and names the cell. The
execution needs jupytext, nbclient, nbformat and ipykernel (the ``test`` extra); without them the
execution tests skip with the reason, and the text checks still run.
"""

from __future__ import annotations

import base64
import importlib.util
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOK_DIR = ROOT / "notebooks"
NOTEBOOKS = sorted(NOTEBOOK_DIR.glob("[0-9][0-9]_*.py"))
EXPECTED = ["01_the_notes.py", "02_testing_backprop.py", "03_higher_order.py",
            "04_structure_of_foreign_jacobians.py"]
MISSING = [m for m in ("jupytext", "nbclient", "nbformat", "ipykernel")
           if importlib.util.find_spec(m) is None]
needs_kernel = pytest.mark.skipif(
    bool(MISSING), reason=f"executing notebooks needs {', '.join(MISSING)} "
    "(pip install -e '.[test]')")

# a few lines each notebook must print (stdout of its cells), so a silently emptied cell fails
OUTPUTS = {
    "01_the_notes.py": ["∂L/∂W₁ = X (∂L/∂Z¹)ᵀ: chained forms, the whole derivative and differences",
                        "∂Z¹/∂W₁  delta     rule outer       collapsed (4, 1)",
                        "∂A¹/∂Z¹  diagonal  rule elementwise collapsed (3, 1)",
                        "stored: (4,) 32 bytes; full: (4, 3, 3) 288 bytes",
                        "∂Z1/∂W   → A  (delta)", "∂A1/∂Z1  → 1 - tanh(Z1) ** 2  (diagonal)",
                        "∂L/∂W = A (∂L/∂Z1)ᵀ"],
    "02_testing_backprop.py": ["the hand-written backward pass agrees with tensorderiv",
                               "axes permuted", "missing path"],
    "03_higher_order.py": ["symmetric under all 6 permutations", "stored 11.5 MB; dense 1.15 GB",
                           "refused: DenseLimitError",
                           "H·V from the compact Hessian matches differences of the gradient"],
    "04_structure_of_foreign_jacobians.py": ["default rtol: diagonal (4, 3)",
                                             "rtol=1e-6:    delta (4, 1)",
                                             "rtol=1e-6: dense | rtol=1e-3: diagonal"],
}

# how many td.plot figures (image/png) and td.explain explanations (text/html) each one shows
FIGURES = {"01_the_notes.py": 2, "02_testing_backprop.py": 0, "03_higher_order.py": 1,
           "04_structure_of_foreign_jacobians.py": 1}
EXPLAINED = {"01_the_notes.py": 2, "02_testing_backprop.py": 0, "03_higher_order.py": 0,
             "04_structure_of_foreign_jacobians.py": 0}


def _ids(paths: list[Path]) -> list[str]:
    return [p.name for p in paths]


def test_the_four_notebooks_are_kept_as_text():
    assert _ids(NOTEBOOKS) == EXPECTED
    assert not list(NOTEBOOK_DIR.glob("*.ipynb")), "keep notebooks as jupytext .py files only"
    for path in NOTEBOOKS:
        text = path.read_text(encoding="utf-8")
        assert "format_name: percent" in text and "name: python3" in text, path.name
        assert text.count("# %% [markdown]") >= 3, f"{path.name}: too few markdown cells"


def test_notebook_01_follows_the_notes_section_by_section():
    text = (NOTEBOOK_DIR / "01_the_notes.py").read_text(encoding="utf-8")
    headings = [line for line in text.splitlines() if re.match(r"# #+ ", line)]
    joined = "\n".join(headings)
    for section in range(1, 10):
        assert re.search(rf"A\.{section}\b", joined), f"no heading for section A.{section}"
    for item in ["Definition 2", "Definition 3", "Definition 8", "Definition 9", "Definition 11",
                 "Definition 13", "Definition 17", "Definition 18", "Definition 19",
                 "Definitions 22 and 23", "Notation 14", "Notation 15", "Notation 26",
                 "Notation 30", "Notation 31", "Notation 33", "Concept 1", "Concept 4",
                 "Concept 5", "Concept 6", "Concept 12", "Concept 16", "Concept 20",
                 "Concepts 27 and 28", "Concept 29", "Concept 32", "Concept 34",
                 "The whole A.9 network"]:
        assert item in joined, f"notebook 01 has no heading for {item}"
    # the plots and step-by-step explanations are real cells now, not placeholders
    assert "<!-- plot:" not in text and "<!-- explain:" not in text
    assert text.count("td.plot(") >= 2 and text.count("td.explain(") >= 2


@needs_kernel
@pytest.mark.parametrize("path", NOTEBOOKS, ids=_ids(NOTEBOOKS))
def test_notebook_runs_top_to_bottom(path, executed_notebook):
    # executed once per session (tests/conftest.py); the docs site is built from the same run.
    # A failing cell raises CellExecutionError here, naming the cell.
    nb = executed_notebook(path)
    assert nb.metadata["kernelspec"]["name"] == "python3"
    outputs = [o for c in nb.cells if c.cell_type == "code" for o in c.outputs]
    assert not [o for o in outputs if o.get("output_type") == "error"]
    printed = "".join(o.get("text", "") for o in outputs if o.get("output_type") == "stream")
    for line in OUTPUTS[path.name]:
        assert line in printed, f"{path.name} did not print {line!r}"
    # what the notebook shows, beyond print: td.plot's figures as PNGs, td.explain as HTML
    shown = [o.get("data", {}) for o in outputs if o.get("output_type") == "execute_result"]
    pngs = [d for d in shown if "image/png" in d]
    assert len(pngs) == FIGURES[path.name], f"{path.name}: {len(pngs)} figures shown"
    assert all(base64.b64decode(d["image/png"])[:8] == b"\x89PNG\r\n\x1a\n" for d in pngs)
    explained = [d for d in shown if "tensorderiv-explain" in d.get("text/html", "")]
    assert len(explained) == EXPLAINED[path.name], f"{path.name}: {len(explained)} explanations"
    for d in explained:
        assert "Matrix form" in d["text/html"] and "check:" in d["text/html"]
        assert d["text/plain"].startswith("Explanation(∂L/∂")


def test_the_readme_shows_what_a_notebook_cell_really_displays():
    import numpy as np

    import tensorderiv as td

    text = (ROOT / "README.md").read_text(encoding="utf-8")
    section = text.split("## Notebooks and docs", 1)[1].split("\n## ", 1)[0]
    block = section.split("```text\n", 1)[1].split("```", 1)[0]
    rng = np.random.default_rng(0)
    W, A, Y = td.var("W", (4, 3)), td.var("A", (4,)), td.var("Y", (3,))
    values = {"W": rng.standard_normal((4, 3)), "A": rng.standard_normal(4)}
    ct = td.derive(W.T @ A, W).evaluate(values)
    shown = repr(ct).splitlines()
    shown += td.explain(0.5 * td.sum(td.square(td.tanh(W.T @ A) - Y)), W).text(
        width=200).splitlines()
    shown = [line.strip() for line in shown]
    claimed = [re.sub(r"^Out\[\d\]: ", "", line).strip() for line in block.splitlines()
               if line.strip() and not line.startswith("In [")]
    assert len(claimed) >= 6
    for line in claimed:
        assert line in shown, f"the README shows {line!r}, which the code does not print"
