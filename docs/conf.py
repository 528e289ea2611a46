"""Sphinx configuration of the tensorderiv documentation site.

Build it (warnings are errors, as in CI's tests/test_docs.py):

    sphinx-build -W -b html docs docs/_build/html

Pages are MyST Markdown; the numbered notebooks are the jupytext percent-format ``.py`` files in
``notebooks/`` (``docs/notebooks`` links to that folder), read by myst-nb through jupytext and
executed during the build, so the site shows their figures, explanations and printed checks (a
failing cell fails the build). The test suite executes each notebook once and builds the site from
those executed copies (``.ipynb`` with outputs, which myst-nb does not run again). The API
reference is generated from the Google-style docstrings (autodoc + napoleon).
"""

from __future__ import annotations

import tensorderiv

project = "tensorderiv"
author = "tensorderiv developers"
copyright = "tensorderiv developers"
release = version = tensorderiv.__version__

extensions = [
    "myst_nb",                 # MyST Markdown pages and notebooks (includes myst_parser)
    "sphinx.ext.autodoc",
    "sphinx.ext.napoleon",
    "sphinx.ext.mathjax",
]

# the notebooks: jupytext percent-format .py files, executed by the test suite, not here
nb_custom_formats = {".py": ["jupytext.reads", {"fmt": "py:percent"}]}
nb_execution_mode = "auto"          # run notebooks that have no outputs yet (the .py sources)
nb_execution_timeout = 180
nb_execution_raise_on_error = True
source_suffix = {".md": "myst-nb", ".py": "myst-nb", ".ipynb": "myst-nb"}
root_doc = "index"
exclude_patterns = ["_build", "conf.py", "**/.ipynb_checkpoints", "**/.hypothesis",
                    "notebooks/__pycache__"]

myst_enable_extensions = ["dollarmath", "colon_fence"]
myst_heading_anchors = 3

autodoc_default_options = {"members": True, "show-inheritance": False}
autodoc_member_order = "bysource"
autodoc_typehints = "description"
napoleon_google_docstring = True
napoleon_numpy_docstring = False

html_theme = "furo"
html_title = f"tensorderiv {release}"
