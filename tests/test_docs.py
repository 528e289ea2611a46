"""The documentation site builds with warnings as errors, and every example on its pages runs.

The build is the documented command, ``sphinx-build -W -b html docs docs/_build/html``, run in a
subprocess into a temporary folder; it needs sphinx, myst-nb, furo and jupytext (the ``docs``
extra, and the ``test`` extra too, which is all CI installs) and is skipped with the reason
without them. The ``>>>`` examples of every page in docs/ run as doctests here, and the
docstring examples of the API reference run under ``pytest --doctest-modules``.
"""

from __future__ import annotations

import doctest
import importlib.util
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

import tensorderiv as td
from tensorderiv.symbolic.parse import VOCABULARY

ROOT = Path(__file__).resolve().parents[1]
DOCS = ROOT / "docs"
PAGES = sorted(DOCS.glob("*.md"))
WITHOUT_EXAMPLES = {"cli.md", "api.md"}  # console transcripts; directives over docstrings
SITE = ["index", "quickstart", "conventions", "ctensors", "reducers", "expressions", "testing",
        "cli", "scale", "display", "api", "notebooks/01_the_notes",
        "notebooks/02_testing_backprop", "notebooks/03_higher_order",
        "notebooks/04_structure_of_foreign_jacobians"]
MISSING = [m for m in ("sphinx", "myst_nb", "furo", "jupytext")
           if importlib.util.find_spec(m) is None]
KERNEL_MISSING = [m for m in ("nbclient", "nbformat", "ipykernel")
                  if importlib.util.find_spec(m) is None]
NOTEBOOKS = sorted((ROOT / "notebooks").glob("[0-9][0-9]_*.py"))


def _ids(paths: list[Path]) -> list[str]:
    return [p.name for p in paths]


@pytest.fixture(scope="module")
def site(tmp_path_factory, executed_notebook) -> Path:
    if MISSING:
        pytest.skip(f"building the docs needs {', '.join(MISSING)} (pip install -e '.[docs]')")
    # the pages as they are, and the notebooks as the session executed them (tests/conftest.py):
    # executed .ipynb files are not run again by myst-nb, so the notebooks run once per session
    src = tmp_path_factory.mktemp("docs")
    shutil.copytree(DOCS, src, dirs_exist_ok=True, symlinks=False,
                    ignore=shutil.ignore_patterns("_build", "notebooks"))
    (src / "notebooks").mkdir()
    if KERNEL_MISSING:  # the documented build executes them itself
        for path in NOTEBOOKS:
            shutil.copy(path, src / "notebooks" / path.name)
    else:
        import nbformat  # optional: checked above
        for path in NOTEBOOKS:
            nbformat.write(executed_notebook(path), src / "notebooks" / f"{path.stem}.ipynb")
    out = tmp_path_factory.mktemp("html")
    run = subprocess.run([sys.executable, "-m", "sphinx", "-W", "-b", "html", "-q",
                          str(src), str(out)], capture_output=True, text=True, cwd=ROOT,
                         timeout=300)
    assert run.returncode == 0, f"sphinx-build -W failed:\n{run.stdout}\n{run.stderr}"
    return out


def test_site_builds_with_warnings_as_errors_and_has_every_page(site):
    for page in SITE:
        assert (site / f"{page}.html").is_file(), f"no page {page}.html"


def test_site_pages_carry_their_content(site):
    def read(page: str) -> str:
        return (site / f"{page}.html").read_text(encoding="utf-8")

    api = read("api")
    for name in ["tensorderiv.derive", "tensorderiv.CTensor", "tensorderiv.reduce",
                 "tensorderiv.testing.check_derivative", "tensorderiv.testing.strategies"]:
        assert f'id="{name}' in api, f"the API reference has no entry for {name}"
    conventions = read("conventions")
    for item in ["Definition 9", "Definition 11", "Definition 13", "Definition 17",
                 "Definition 18", "Concept 20", "Concept 29", "Concept 34", "JAX", "PyTorch",
                 "SymPy", "matrixcalculus.org"]:
        assert item in conventions, f"the conventions page does not mention {item}"
    display = read("display")
    for item in ["Seeing the answers", "td.explain", "td.plot", "Progress on long work",
                 "∂L/∂W = A (∂L/∂Z)ᵀ", "DerivativeCheck"]:
        assert item in display, f"the display page does not mention {item}"
    notes = read("notebooks/01_the_notes")
    assert "A.9 Neural Network Derivatives" in notes and "Definition 13" in notes
    assert "allclose" in notes  # the notebook's code cells are rendered
    # and their outputs: printed checks, td.plot's figures, td.explain's explanations
    assert "∂L/∂W = A (∂L/∂Z1)ᵀ" in notes
    assert notes.count("<img ") >= 2, "notebook 01's figures are not on its page"
    assert "tensorderiv-explain" in notes
    higher = read("notebooks/03_higher_order")
    assert "symmetric under all 6 permutations" in higher


def test_the_build_command_is_documented():
    command = "sphinx-build -W -b html docs docs/_build/html"
    assert command in (DOCS / "conf.py").read_text(encoding="utf-8")
    assert command in (DOCS / "index.md").read_text(encoding="utf-8")


@pytest.mark.parametrize("path", PAGES, ids=_ids(PAGES))
def test_page_examples_run(path):
    result = doctest.testfile(str(path), module_relative=False, verbose=False,
                              optionflags=doctest.NORMALIZE_WHITESPACE | doctest.ELLIPSIS)
    assert result.failed == 0, f"{result.failed} of {result.attempted} examples failed in {path}"
    if path.name not in WITHOUT_EXAMPLES:
        assert result.attempted > 0, f"{path.name} has no runnable example"


def test_api_reference_covers_every_public_name():
    api = (DOCS / "api.md").read_text(encoding="utf-8")
    undocumented = [n for n in td.__all__ if f"tensorderiv.{n}\n" not in api]
    assert not undocumented, f"add these public names to docs/api.md: {undocumented}"


def test_expression_page_lists_the_whole_vocabulary():
    page = (DOCS / "expressions.md").read_text(encoding="utf-8")
    missing = [n for n in VOCABULARY if f"`{n}(" not in page]
    assert not missing, f"docs/expressions.md does not list {missing}"
