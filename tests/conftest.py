"""Hypothesis profiles (``ci``, deterministic, loaded when CI=true; ``dev``, the default), and
the notebooks executed once per session (for tests/test_notebooks.py and the docs site)."""

import os
from pathlib import Path

import pytest
from hypothesis import HealthCheck, settings

settings.register_profile(
    "ci", derandomize=True, deadline=None, max_examples=40, print_blob=True,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
settings.register_profile(
    "dev", deadline=None, max_examples=60,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci" if os.environ.get("CI") else "dev"))


@pytest.fixture(scope="session")
def executed_notebook():
    """A function: a notebook's path → the notebook executed top to bottom (run once, cached).

    A failing cell raises nbclient's CellExecutionError (naming the cell) on every request.
    Needs jupytext, nbformat, nbclient and ipykernel; callers skip without them.
    """
    done: dict[Path, object] = {}

    def run(path: Path):
        if path not in done:
            import jupytext  # optional: callers check they are installed
            import nbformat
            from nbclient import NotebookClient

            nb = jupytext.read(path)
            nbformat.validate(nb)
            client = NotebookClient(nb, timeout=120, kernel_name="python3",
                                    resources={"metadata": {"path": str(path.parent)}})
            try:
                client.execute()
                done[path] = nb
            except Exception as exc:  # kept, so every test that needs it fails the same way
                done[path] = exc
        if isinstance(done[path], Exception):
            raise done[path]
        return done[path]

    return run
