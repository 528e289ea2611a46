"""Derivatives with respect to intermediate expressions, and zero derivatives (issue 11, 4-5).

Oracles: the chain rule with separately derived pieces (∂L/∂W = ∂Z/∂W · ∂L/∂Z, contracted by
label), finite differences in the held variable, and the notes' closed forms (A.9).
"""

import ast
import operator

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import tensorderiv as td
from tensorderiv.testing.differences import dense as fd_dense

SHAPES = {"W": (3, 2), "X": (3, 4), "Y": (2, 4), "u": (5,)}


def _network():
    W, X, Y = (td.var(n, SHAPES[n]) for n in ("W", "X", "Y"))
    Z = W.T @ X
    A = td.tanh(Z)
    L = td.sum((A - Y) ** 2)
    return W, X, Y, Z, A, L


def _values(seed=0):
    rng = np.random.default_rng(seed)
    return {n: rng.normal(size=SHAPES[n]) for n in ("W", "X", "Y")}


def _as_z_output(ct, name="Z"):
    """∂Z/∂W's output axes labelled as Z's axes in ∂L/∂Z, so that td.contract pairs them."""
    return ct.relabel({a.label: (name, 1, a.index) for a in ct.axes if a.role == "of"})


def test_dA_dZ_is_the_notes_diagonal_one_minus_tanh_squared():
    _, _, _, Z, A, _ = _network()
    v = _values()
    ct = td.derive(A, Z, name="Z").evaluate({"W": v["W"], "X": v["X"]})
    a = np.tanh(v["W"].T @ v["X"])
    assert ct.shape == (2, 4, 2, 4)
    form = ct.matrix_form()
    assert form.structure == "diagonal" and form.rule == "elementwise"    # f'(Z), used with ⊙
    np.testing.assert_allclose(form.array, 1 - a ** 2, rtol=1e-12)


def test_dL_dZ_matches_the_closed_form_and_finite_differences():
    _, _, _, Z, _, L = _network()
    v = _values(1)
    g = td.derive(L, Z, name="Z").evaluate(v).dense()
    z = v["W"].T @ v["X"]
    a = np.tanh(z)
    np.testing.assert_allclose(g, 2 * (a - v["Y"]) * (1 - a ** 2), rtol=1e-12)
    fd = fd_dense(lambda zz: np.sum((np.tanh(zz) - v["Y"]) ** 2), z, 1, 1e-3)
    np.testing.assert_allclose(g, fd, rtol=1e-6, atol=1e-8)


def test_chain_rule_pieces_contract_to_the_full_gradient():
    W, _, _, Z, _, L = _network()
    v = _values(2)
    dL_dZ = td.derive(L, Z, name="Z").evaluate(v)
    dZ_dW = td.derive(Z, W).evaluate({"W": v["W"], "X": v["X"]})
    via_chain = td.contract(_as_z_output(dZ_dW), dL_dZ)        # sums over Z's labels
    direct = td.derive(L, W).evaluate(v)
    assert via_chain.shape == (3, 2)
    np.testing.assert_allclose(via_chain.dense(), direct.dense(), rtol=1e-12, atol=1e-14)
    # and the notes' A.9: ∂L/∂W = X (∂L/∂Z)ᵀ
    np.testing.assert_allclose(direct.dense(), v["X"] @ dL_dZ.dense().T, rtol=1e-12)


def test_held_value_can_be_given_by_name_or_computed():
    _, _, _, Z, _, L = _network()
    v = _values(3)
    d = td.derive(L, Z, name="Z")
    z = v["W"].T @ v["X"]
    computed = d.evaluate(v).dense()
    given_z = d.evaluate({"Z": z, "Y": v["Y"]}).dense()     # no W, X needed
    np.testing.assert_allclose(computed, given_z, rtol=1e-13)
    other = d.evaluate({"Z": z + 1.0, "Y": v["Y"]}).dense()  # the given value wins
    assert not np.allclose(other, computed)
    compiled = d.compile()                                  # held programs built once too
    np.testing.assert_array_equal(compiled(v).dense(), computed)
    np.testing.assert_array_equal(compiled({"Z": z, "Y": v["Y"]}).dense(), given_z)
    # without a name, the held variable is the text in parentheses
    unnamed = td.derive(L, Z)
    assert unnamed.wrt == (("(W.T @ X)", (2, 4)),)
    np.testing.assert_allclose(unnamed.evaluate(v).dense(), computed, rtol=1e-13)


def test_second_order_and_mixed_derivatives_with_a_held_sub():
    W, _, _, Z, _, L = _network()
    v = _values(4)
    z = v["W"].T @ v["X"]
    H = td.derive(L, Z, order=2, name="Z").evaluate(v)
    assert H.shape == (2, 4, 2, 4)

    def grad(zz):
        a = np.tanh(zz)
        return 2 * (a - v["Y"]) * (1 - a ** 2)

    fd = fd_dense(grad, z, 1, 1e-3)
    np.testing.assert_allclose(H.dense(), fd, rtol=1e-6, atol=1e-8)
    # ∂/∂W of ∂L/∂Z with Z held: L depends on W only through Z, so zero, of no storage
    M = td.derive(L, (W, Z), name="Z").evaluate(v)
    assert M.shape == (3, 2, 2, 4) and M.is_zero and M.nbytes <= 8
    # ∂/∂Z of ∂L/∂W, Z held in the gradient: ∂Z/∂W (independent of Z) times ∂²L/∂Z²
    dZ_dW = td.derive(Z, W).evaluate({"W": v["W"], "X": v["X"]}).dense()
    want = np.einsum("abij,pqij->abpq", H.dense(), dZ_dW)
    mixed = td.derive(L, (Z, W), name="Z").evaluate(v)
    assert mixed.shape == (2, 4, 3, 2)
    np.testing.assert_allclose(mixed.dense(), want, rtol=1e-12, atol=1e-14)
    twice = td.derive(td.derive(L, W), Z, name="Z").evaluate(v)
    np.testing.assert_allclose(twice.dense(), want, rtol=1e-12, atol=1e-14)
    # differentiating a derivative again with respect to a sub composes the same way
    again = td.derive(td.derive(L, Z, name="Z"), Z, name="Z").evaluate(v)
    np.testing.assert_allclose(again.dense(), H.dense(), rtol=1e-13)


def test_a_sub_that_is_used_twice_is_held_at_every_use():
    x = td.var("x", (3,))
    s = td.sin(x)
    e = td.sum(s * s) + td.sum(s)                # both uses see the held variable
    xv = np.array([0.1, 0.7, -1.2])
    g = td.derive(e, s, name="s").evaluate({"x": xv}).dense()
    np.testing.assert_allclose(g, 2 * np.sin(xv) + 1, rtol=1e-13)


def test_a_sub_that_does_not_occur_is_a_clear_error():
    W, _, _, Z, _, L = _network()
    with pytest.raises(td.LabelError, match=r"'sin\(W\)'.*does not occur.*W \(3, 2\)"):
        td.derive(L, td.sin(W))
    with pytest.raises(td.LabelError, match="constant"):
        td.derive(L, td.parse("2 * 3"))
    with pytest.raises(td.LabelError, match="already a variable"):
        td.derive(L, Z, name="W")


def test_declared_but_unused_variable_gives_a_zero_ctensor():
    L = td.parse("sum((tanh(W.T @ X) - Y) ** 2)", SHAPES)
    v = {**_values(5), "u": np.ones(5)}
    d = td.derive(L, "u")
    ct = d.evaluate(v)
    assert ct.shape == (5,) and ct.is_zero and ct.nbytes <= 8
    form = ct.matrix_form()
    assert form.structure == "zero" and form.rule == "zero"
    np.testing.assert_array_equal(np.asarray(ct), np.zeros(5))
    # a td.var the expression does not use is zero too, with its own shape
    q = td.var("q", (2, 2))
    zq = td.derive(L, q).evaluate(v)
    assert zq.shape == (2, 2) and zq.is_zero


def test_a_name_never_declared_is_still_an_error_listing_the_variables():
    L = td.parse("sum((tanh(W.T @ X) - Y) ** 2)", SHAPES)
    with pytest.raises(td.LabelError,
                       match=r"'V'.*not a variable of the expression.*W \(3, 2\).*u \(5,\)"):
        td.derive(L, "V")


def test_values_for_every_declared_variable_are_accepted_by_each_expression():
    shapes = {"W1": (3, 4), "b1": (4,), "W2": (4, 2), "x": (3,), "y": (2,)}
    hidden = td.parse("tanh(W1.T @ x + b1)", shapes)
    loss = td.parse("sum((W2.T @ tanh(W1.T @ x + b1) - y) ** 2)", shapes)
    rng = np.random.default_rng(6)
    v = {n: rng.normal(size=s) for n, s in shapes.items()}
    for e in (hidden, loss):
        for name in sorted(e.variables):
            g = td.derive(e, name).evaluate(v)           # one dict for all: no complaint
            assert g.shape == shapes[name] + e.shape
    assert td.evaluate(hidden, v).shape == (4,)
    assert td.evaluate(2 * hidden, v).shape == (4,)     # the scope survives operations
    with pytest.raises(td.ValuesError, match="'W3'"):
        td.derive(hidden, "W1").evaluate({**v, "W3": np.ones(2)})   # a misspelling


@given(st.integers(1, 3), st.integers(1, 3), st.integers(0, 2**31 - 1))
def test_property_derivative_wrt_sub_composes_to_the_chain_rule(m, n, seed):
    """For Z = W x (any sizes), ∂L/∂W (direct) equals ∂Z/∂W contracted with ∂L/∂Z (held)."""
    rng = np.random.default_rng(seed)
    W, x = td.var("W", (m, n)), td.var("x", (n,))
    Z = W @ x
    L = td.sum(td.sigmoid(Z) * td.sin(Z))
    v = {"W": rng.normal(size=(m, n)), "x": rng.normal(size=n)}
    dL_dZ = td.derive(L, Z, name="Z").evaluate(v)
    dZ_dW = td.derive(Z, W).evaluate(v)
    chained = td.contract(_as_z_output(dZ_dW), dL_dZ).dense()
    np.testing.assert_allclose(chained, td.derive(L, W).evaluate(v).dense(),
                               rtol=1e-10, atol=1e-12)


def test_a_sub_can_be_named_by_its_text():
    L = td.parse("sum((tanh(W.T @ X) - Y) ** 2)", SHAPES)
    v = _values(8)
    by_text = td.derive(L, "W.T @ X", name="Z").evaluate(v).dense()
    _, _, _, Z, _, _ = _network()
    np.testing.assert_array_equal(by_text, td.derive(L, Z, name="Z").evaluate(v).dense())
    with pytest.raises(td.LabelError, match=r"'X @ W': it is not a variable"):
        td.derive(L, "X @ W")                  # does not parse with these shapes


# products are inlined and sums flattened as they are built: the sub is found there too
FORMS = [
    ("sum(Z)", lambda z, y: np.ones_like(z)),
    ("sum(Z * Z)", lambda z, y: 2 * z),
    ("sum(3 * Z * Y)", lambda z, y: 3 * y),
    ("trace(Z @ Z.T)", lambda z, y: 2 * z),
    ("sum(Z.T @ Y)", lambda z, y: np.broadcast_to(y.sum(axis=1, keepdims=True), z.shape)),
    ("sum(tanh(Z) * Z)", lambda z, y: np.tanh(z) + z * (1 - np.tanh(z) ** 2)),
    ("sum(exp(Z - Y + 1))", lambda z, y: np.exp(z - y + 1)),
]


@pytest.mark.parametrize(("text", "closed_form"), FORMS, ids=[f[0] for f in FORMS])
def test_a_sub_folded_into_products_and_sums_is_still_held(text, closed_form):
    W, X, Y = (td.var(n, SHAPES[n]) for n in ("W", "X", "Y"))
    Z = W.T @ X
    names = {"Z": Z, "Y": Y, "sum": td.sum, "trace": td.trace, "tanh": td.tanh, "exp": td.exp}
    L = _build(text, names)
    v = _values(9)
    z = v["W"].T @ v["X"]
    sub = Z - Y if "Z - Y" in text else Z
    got = td.derive(L, sub, name="S").evaluate({k: v[k] for k in L.variables}).dense()
    np.testing.assert_allclose(got, closed_form(z, v["Y"]), rtol=1e-12)


def _build(text, names):
    """The expression ``text`` over Exprs (the test's own tiny reader of these forms)."""
    ops = {ast.Add: operator.add, ast.Sub: operator.sub, ast.Mult: operator.mul,
           ast.MatMult: operator.matmul}

    def go(n):
        if isinstance(n, ast.BinOp):
            return ops[type(n.op)](go(n.left), go(n.right))
        if isinstance(n, ast.Call):
            return names[n.func.id](*[go(a) for a in n.args])
        if isinstance(n, ast.Attribute):
            return go(n.value).T
        if isinstance(n, ast.Constant):
            return n.value
        return names[n.id]

    return go(ast.parse(text, mode="eval").body)


@given(st.lists(st.sampled_from(range(len(FORMS) - 1)), min_size=1, max_size=3),
       st.integers(0, 2**31 - 1))
def test_property_held_sub_in_folded_forms_composes_to_the_chain_rule(picks, seed):
    """L = a sum of forms in Z = WᵀX: ∂L/∂W (direct) = ∂Z/∂W contracted with ∂L/∂Z (held)."""
    W, X, Y = (td.var(n, SHAPES[n]) for n in ("W", "X", "Y"))
    Z = W.T @ X
    names = {"Z": Z, "Y": Y, "sum": td.sum, "trace": td.trace, "tanh": td.tanh, "exp": td.exp}
    L = _build(FORMS[picks[0]][0], names)
    for k in picks[1:]:
        L = L + _build(FORMS[k][0], names)
    v = {k: x for k, x in _values(seed).items() if k in L.variables}
    dL_dZ = td.derive(L, Z, name="Z").evaluate(v)
    dZ_dW = td.derive(Z, W).evaluate({"W": v["W"], "X": v["X"]})
    chained = td.contract(_as_z_output(dZ_dW), dL_dZ).dense()
    np.testing.assert_allclose(chained, td.derive(L, W).evaluate(v).dense(), rtol=1e-9,
                               atol=1e-12)


def test_backpropagation_of_a_biased_two_layer_network_by_held_subs():
    """The notes' A.9 with (n, 1) bias columns: each δ = ∂L/∂Zₖ from derive, by closed form."""
    s = {"W1": (3, 4), "b1": (4, 1), "W2": (4, 2), "b2": (2, 1), "X": (3, 5), "Y": (2, 5)}
    Z1 = td.parse("W1.T @ X + b1", s)
    Z2 = td.parse("W2.T @ tanh(W1.T @ X + b1) + b2", s)
    L = td.parse("sum((W2.T @ tanh(W1.T @ X + b1) + b2 - Y) ** 2)", s)
    rng = np.random.default_rng(10)
    v = {k: rng.normal(size=sh) for k, sh in s.items()}
    a1 = np.tanh(v["W1"].T @ v["X"] + v["b1"])
    z2 = v["W2"].T @ a1 + v["b2"]
    d2 = td.derive(L, Z2).evaluate(v).dense()
    np.testing.assert_allclose(d2, 2 * (z2 - v["Y"]), rtol=1e-12)
    d1 = td.derive(L, Z1).evaluate(v).dense()
    np.testing.assert_allclose(d1, (v["W2"] @ d2) * (1 - a1 ** 2), rtol=1e-12)
    # the parameters' gradients from the deltas (A.61 and the bias broadcast)
    np.testing.assert_allclose(td.derive(L, "W1").evaluate(v).dense(), v["X"] @ d1.T,
                               rtol=1e-12)
    np.testing.assert_allclose(td.derive(L, "b1").evaluate(v).dense(),
                               d1.sum(axis=1, keepdims=True), rtol=1e-12)
