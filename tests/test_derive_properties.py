"""Derivatives of random expressions over the whole vocabulary against finite differences.

Order 1 is checked against central differences of the expression's value; orders 2 and 3
against central differences of the order-(k−1) derivative, which is evaluated independently.
"""

import numpy as np
from hypothesis import assume, given, settings
from hypothesis import strategies as st

import tensorderiv as td
from tensorderiv.testing.strategies import expressions, values_for


def central_difference(fn, values, name, eps=1e-6):
    x = values[name]
    base = np.asarray(fn(values))
    out = np.zeros(x.shape + base.shape)
    for i in np.ndindex(x.shape):
        h = eps * max(1.0, abs(x[i]))
        up, down = dict(values), dict(values)
        up[name] = x.copy()
        up[name][i] += h
        down[name] = x.copy()
        down[name][i] -= h
        out[i] = (np.asarray(fn(up)) - np.asarray(fn(down))) / (2 * h)
    return out


def _away_from_kinks(g, values):
    for k in g.kinks:
        v = td.evaluate(k, {n: values[n] for n in k.variables}).dense()
        assume(np.all(np.abs(v) > 1e-3))


def _close(got, ref, rtol):
    scale = max(1.0, float(np.max(np.abs(ref))) if ref.size else 1.0)
    assume(np.all(np.isfinite(ref)) and scale < 1e6)
    np.testing.assert_allclose(got, ref, rtol=rtol, atol=rtol * scale)


@st.composite
def problems(draw, max_depth=3):
    g = draw(expressions(max_depth=max_depth))
    values = draw(values_for(g.shapes))
    name = draw(st.sampled_from(sorted(g.shapes)))
    return g, values, name


@given(problems())
def test_first_derivative_matches_central_differences(problem):
    g, values, name = problem
    _away_from_kinks(g, values)
    value = td.evaluate(g.expr, values).dense()
    assume(np.all(np.isfinite(value)))
    d = td.derive(g.expr, name)
    got = d.evaluate(values).dense()
    assert got.shape == g.shapes[name] + g.expr.shape
    ref = central_difference(lambda v: td.evaluate(g.expr, v).dense(), values, name)
    _close(got, ref, 1e-4)


@given(problems(max_depth=2))
def test_second_derivative_matches_differences_of_the_first(problem):
    g, values, name = problem
    _away_from_kinks(g, values)
    first = td.derive(g.expr, name)
    assume(np.all(np.isfinite(first.evaluate(values).dense())))
    got = td.derive(g.expr, name, order=2).evaluate(values).dense()
    assert got.shape == g.shapes[name] * 2 + g.expr.shape
    ref = central_difference(lambda v: first.evaluate(v).dense(), values, name)
    _close(got, ref, 1e-4)


@settings(max_examples=15)
@given(problems(max_depth=2))
def test_third_derivative_matches_differences_of_the_second(problem):
    g, values, name = problem
    _away_from_kinks(g, values)
    second = td.derive(g.expr, name, order=2)
    assume(np.all(np.isfinite(second.evaluate(values).dense())))
    got = td.derive(second, name).evaluate(values).dense()
    assert got.shape == g.shapes[name] * 3 + g.expr.shape
    ref = central_difference(lambda v: second.evaluate(v).dense(), values, name)
    _close(got, ref, 2e-4)


@given(problems(max_depth=2))
def test_compiled_equals_evaluate(problem):
    g, values, name = problem
    _away_from_kinks(g, values)
    d = td.derive(g.expr, name)
    direct = d.evaluate(values)
    compiled = d.compile()
    for _ in range(2):  # the second call runs on the plans built by the first
        again = compiled(values)
        np.testing.assert_array_equal(again.dense(), direct.dense())
        assert again.labels == direct.labels
