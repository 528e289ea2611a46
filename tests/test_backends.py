"""Array backends through opt_einsum, and optional extras that name themselves when missing."""

import subprocess
import sys

import numpy as np
import pytest

import tensorderiv as td
from tensorderiv import CTensor, contract
from tensorderiv.core.optional import require


def test_missing_extra_names_the_pip_command():
    with pytest.raises(ImportError, match=r"pip install 'tensorderiv\[dask\]'"):
        require("tensorderiv_no_such_backend", "dask")


def test_strategies_without_hypothesis_name_the_extra():
    code = ("import sys; sys.modules['hypothesis'] = None\n"
            "try:\n    import tensorderiv.testing.strategies\n"
            "except ImportError as e:\n    print(e)\n")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         timeout=60, check=True).stdout
    assert "needs hypothesis; install it with: pip install 'tensorderiv[test]'" in out


def test_contraction_on_dask_arrays_matches_numpy():
    da = pytest.importorskip("dask.array", reason="the dask extra is not installed")
    rng = np.random.default_rng(0)
    A, B = rng.normal(size=(40, 30)), rng.normal(size=(30, 20))
    a = CTensor(da.from_array(A, chunks=(20, 15)), ["i", "k"])
    b = CTensor(da.from_array(B, chunks=(15, 10)), ["k", "j"])
    out = contract(a, b)
    assert type(out.core).__module__.startswith("dask")  # stays lazy until asked
    np.testing.assert_allclose(np.asarray(out.core.compute()), A @ B)


def test_derivative_on_dask_values_matches_numpy():
    da = pytest.importorskip("dask.array", reason="the dask extra is not installed")
    rng = np.random.default_rng(1)
    X, w = rng.normal(size=(50, 4)), rng.normal(size=4)
    d = td.derive("sum((X @ w) ** 2)", "w", shapes={"X": (50, 4), "w": (4,)})
    lazy = d.evaluate({"X": da.from_array(X, chunks=(25, 4)), "w": da.from_array(w)})
    np.testing.assert_allclose(np.asarray(lazy.core.compute()), 2 * X.T @ (X @ w))
