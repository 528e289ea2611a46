"""The worked examples run: every notebook in notebooks/, and the examples of docs/testing.md.

Notebooks are executed top to bottom with nbclient (the kernel named in each notebook) when
nbclient, nbformat and ipykernel are installed, and skipped with the reason otherwise. Whether or
not they can run, each must be valid nbformat-4 JSON with its outputs cleared.
"""

from __future__ import annotations

import doctest
import importlib.util
import json
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = sorted((ROOT / "notebooks").glob("*.ipynb"))
DOCS = [ROOT / "docs" / "testing.md"]  # pages whose >>> examples are meant to run
MISSING = [m for m in ("nbclient", "nbformat", "ipykernel") if importlib.util.find_spec(m) is None]


def _ids(paths: list[Path]) -> list[str]:
    return [p.name for p in paths]


def test_there_is_a_notebook_and_a_testing_page():
    assert "02_testing_backprop.ipynb" in _ids(NOTEBOOKS)
    assert all(p.is_file() for p in DOCS)


@pytest.mark.parametrize("path", NOTEBOOKS, ids=_ids(NOTEBOOKS))
def test_notebook_is_nbformat_4_with_outputs_cleared(path):
    nb = json.loads(path.read_text(encoding="utf-8"))
    assert nb["nbformat"] == 4
    assert nb["cells"], "an empty notebook"
    for k, cell in enumerate(nb["cells"]):
        assert cell["cell_type"] in ("code", "markdown", "raw"), f"cell {k}"
        if cell["cell_type"] == "code":
            assert cell["outputs"] == [], f"cell {k} of {path.name} has outputs; clear them"
            assert cell["execution_count"] is None, f"cell {k} of {path.name} was executed"


@pytest.mark.skipif(bool(MISSING), reason=f"executing notebooks needs {', '.join(MISSING)} "
                    "(pip install nbclient nbformat ipykernel)")
@pytest.mark.parametrize("path", NOTEBOOKS, ids=_ids(NOTEBOOKS))
def test_notebook_runs_top_to_bottom(path):
    import nbformat  # optional: imported only when installed (checked above)
    from nbclient import NotebookClient

    nb = nbformat.read(path, as_version=4)
    nbformat.validate(nb)
    kernel = nb.metadata.get("kernelspec", {}).get("name", "python3")
    client = NotebookClient(nb, timeout=600, kernel_name=kernel,
                            resources={"metadata": {"path": str(path.parent)}})
    client.execute()  # raises CellExecutionError, naming the cell, when one fails
    errors = [o for c in nb.cells if c.cell_type == "code" for o in c.outputs
              if o.get("output_type") == "error"]
    assert not errors


@pytest.mark.parametrize("path", DOCS, ids=_ids(DOCS))
def test_doc_examples_run(path):
    result = doctest.testfile(str(path), module_relative=False, verbose=False,
                              optionflags=doctest.NORMALIZE_WHITESPACE | doctest.ELLIPSIS)
    assert result.failed == 0, f"{result.failed} of {result.attempted} examples failed in {path}"
