"""Regressions found in review: each test failed before its fix."""

import numpy as np
import pytest

import tensorderiv as td


def test_softmax_on_another_axis_is_a_tensorderiv_error_with_the_way_round_it():
    X = td.var("X", (2, 3))
    with pytest.raises(td.ShapeError, match=r"only the last axis.*softmax\(X\.T\)\.T"):
        td.softmax(X, axis=0)
    # the way round it gives numpy's column softmax
    a = np.array([[1.0, 2.0, 0.5], [3.0, -1.0, 0.0]])
    cols = np.asarray(td.evaluate(td.softmax(X.T).T, {"X": a}))
    assert np.allclose(cols, np.exp(a) / np.exp(a).sum(axis=0))


def _diag_ct():
    v = td.var("v", (2,))
    return td.derive(td.exp(v), v).evaluate({"v": np.array([0.0, 1.0])})


@pytest.mark.parametrize("other", [None, "a", {"x": 1}])
def test_adding_a_non_number_says_so(other):
    # it used to claim "cannot add an array of shape ()", a wrong reason
    with pytest.raises(td.ValuesError, match=f"cannot add a {type(other).__name__}"):
        _diag_ct() + other
    with pytest.raises(td.ValuesError):
        other - _diag_ct()
    ct = _diag_ct()  # numbers still add: exp′ = exp on the diagonal, independently
    assert np.allclose(ct + 1, np.diag(np.exp([0.0, 1.0])) + 1)


def test_derive_order_that_is_not_a_positive_integer_is_an_option_error():
    x = td.var("x", (2,))
    for bad in (0, -1, 2.5, True):
        with pytest.raises(td.OptionError, match=f"order must be a positive integer.*{bad!r}"):
            td.derive(td.sum(x * x), x, order=bad)


def test_to_layout_with_a_layout_name_in_the_n_wrt_place_is_refused():
    # to_layout(ct, "numerator") used to ignore the word and return the notes' layout silently;
    # with an array, it failed inside int() ("invalid literal for int()")
    ct = _diag_ct()
    with pytest.raises(td.StructureError, match="the layouts go by keyword"):
        td.to_layout(ct, "numerator")
    with pytest.raises(td.StructureError, match="the layouts go by keyword"):
        td.to_layout(np.ones((2, 3)), "notes")
    J = np.arange(6.0).reshape(2, 3)  # ∂y/∂x in JAX order (y 2, x 3): the notes' is Jᵀ
    assert np.array_equal(td.to_layout(J, 1), J.T)
