# ---
# jupyter:
#   jupytext:
#     formats: py:percent
#     text_representation:
#       extension: .py
#       format_name: percent
#   kernelspec:
#     display_name: Python 3
#     language: python
#     name: python3
# ---

# %% [markdown]
# # The lecture notes on matrix derivatives, section by section
#
# This notebook follows Appendix A of the lecture notes (*Matrix Derivatives*, A.1–A.9) and
# reproduces every Definition, Notation and Concept with numbers: the derivative tensorderiv
# computes (a labelled **c-tensor**), the structure it finds, the **collapse** to the notes'
# matrix form, and the layout the notes chose. Every cell *asserts* what the notes claim, so the
# notebook fails if tensorderiv ever disagrees with them.
#
# The convention throughout is the notes' **denominator layout**: the input's axes first, then the
# output's. ∂s/∂v is a column, ∂w/∂s a row, ∂w/∂v is (m×n) with row i ↔ vᵢ and column j ↔ wⱼ.

# %%
import numpy as np

import tensorderiv as td

rng = np.random.default_rng(0)


def fd_gradient(f, x, h=1e-6):
    """Central differences of a scalar function: an oracle independent of tensorderiv."""
    x = np.asarray(x, dtype=float)
    g = np.zeros_like(x)
    for i in np.ndindex(x.shape):
        e = np.zeros_like(x)
        e[i] = h
        g[i] = (f(x + e) - f(x - e)) / (2 * h)
    return g


def fd_jacobian(f, x, h=1e-6):
    """Central differences of any function, in the notes' layout: x's axes, then f's."""
    x = np.asarray(x, dtype=float)
    y = np.asarray(f(x))
    J = np.zeros(x.shape + y.shape)
    for i in np.ndindex(x.shape):
        e = np.zeros_like(x)
        e[i] = h
        J[i] = (np.asarray(f(x + e)) - np.asarray(f(x - e))) / (2 * h)
    return J


# %% [markdown]
# ## A.1 Introduction and Review
#
# ### Concept 1: matrix derivatives relate large volumes of data
#
# A matrix product does many multiplications at once (A.1): wᵀx = Σᵢ xᵢwᵢ.

# %%
w_val, x_val = np.array([1.0, -2.0, 0.5]), np.array([4.0, 1.0, 2.0])
assert np.isclose(w_val @ x_val, sum(x_val[i] * w_val[i] for i in range(3)))  # (A.1)

w, x = td.var("w", (3,)), td.var("x", (3,))
wx = w.T @ x
grad_w = td.derive(wx, w).evaluate({"w": w_val, "x": x_val})
print(grad_w)
assert np.allclose(grad_w.dense(), x_val)  # ∂(wᵀx)/∂w = x: all m derivatives at once

# %% [markdown]
# ### A.1.1 Definition 2: the partial derivative
#
# For f(x, y) = 2x²y, ∂f/∂x = 2(2x)y (A.4): y is held fixed.

# %%
fx, fy = td.var("x", ()), td.var("y", ())
f = 2 * fx**2 * fy
point = {"x": np.array(1.5), "y": np.array(-3.0)}
df_dx = td.derive(f, fx).evaluate(point).dense()
assert np.isclose(df_dx, 2 * (2 * 1.5) * -3.0)  # (A.4)
assert np.isclose(df_dx, fd_gradient(lambda t: 2 * t**2 * -3.0, 1.5))
print("∂f/∂x at (1.5, -3) =", float(df_dx))

# %% [markdown]
# ### Definition 3: the multi-variable chain rule
#
# df/ds = Σᵢ (∂f/∂xᵢ)(∂xᵢ/∂s). Take f(x, y, z) = x·y·z with x = s², y = sin s, z = exp s:
# the total derivative is the sum of one term per path.

# %%
s = td.var("s", ())
x_of_s, y_of_s, z_of_s = s**2, td.sin(s), td.exp(s)
total = td.derive(x_of_s * y_of_s * z_of_s, s).evaluate({"s": np.array(0.7)}).dense()

s0 = 0.7
xs, ys, zs = s0**2, np.sin(s0), np.exp(s0)
partials = [ys * zs, xs * zs, xs * ys]              # ∂f/∂x, ∂f/∂y, ∂f/∂z
inner = [2 * s0, np.cos(s0), np.exp(s0)]            # ∂x/∂s, ∂y/∂s, ∂z/∂s
assert np.isclose(total, sum(p * q for p, q in zip(partials, inner, strict=True)))
print("df/ds =", float(total), "= sum of", len(partials), "paths")

# %% [markdown]
# ### A.1.2 Concept 4: Size(∂B/∂A) = Size(B) · Size(A)
#
# A (3×1) and B (2×1), as in (A.6): each Δaᵢ can change each bⱼ, so ∂B/∂A holds 6 derivatives.

# %%
Avec = td.var("A", (3,))
M23 = rng.standard_normal((3, 2))
B = td.tanh(td.var("M", (3, 2)).T @ Avec)
dB_dA = td.derive(B, Avec).evaluate({"A": rng.standard_normal(3), "M": M23})
print(repr(dB_dA))
assert dB_dA.dense().size == 2 * 3  # Size(B) * Size(A)

# %% [markdown]
# ### A.1.3 Concept 5: ΔL ≈ ∂L/∂w ⋆ Δw
#
# The derivative predicts the change of the output for a small change of the input; for a
# vector w the ⋆ is a dot product (made precise by Definition 9 below).

# %%
wv = td.var("w", (4,))
loss = td.sum(td.square(td.tanh(wv)))
w0, dw = rng.standard_normal(4), 1e-4 * rng.standard_normal(4)


def L_np(t):
    return np.sum(np.tanh(t) ** 2)


dL_dw = td.derive(loss, wv).evaluate({"w": w0}).dense()
predicted, actual = dL_dw @ dw, L_np(w0 + dw) - L_np(w0)
print(f"predicted ΔL {predicted:.6e}, actual ΔL {actual:.6e}")
assert np.isclose(predicted, actual, rtol=1e-3)

# %% [markdown]
# ## A.2 Derivative: Scalar/Vector (Gradient)
#
# ### A.2.2 Concept 6: the planar approximation
#
# For f(x) = x², stepping x = 1 → 2 moves f′ from 2 to 4; stepping 1 → 1.01 moves it only to
# 2.02: for small steps the derivative is (nearly) constant.

# %%
xx = td.var("x", ())
fprime = td.derive(xx**2, xx).compile()
slopes = {x0: float(fprime({"x": np.array(x0)}).dense()) for x0 in (1.0, 2.0, 1.01)}
print(slopes)
assert np.isclose(slopes[2.0] - slopes[1.0], 2.0)
assert np.isclose(slopes[1.01] - slopes[1.0], 0.02)

# %% [markdown]
# ### A.2.3 Definition 8: the multivariable chain rule approximation
#
# Δf ≈ Σᵢ (∂f/∂xᵢ) Δxᵢ — the effect of each component, added up.

# %%
v0, dv = rng.standard_normal(3), 1e-5 * rng.standard_normal(3)
vv = td.var("v", (3,))
sv = td.sum(td.exp(vv)) * td.sum(vv)


def s_np(t):
    return np.sum(np.exp(t)) * np.sum(t)


ds_dv = td.derive(sv, vv).evaluate({"v": v0}).dense()
components = [ds_dv[i] * dv[i] for i in range(3)]
assert np.isclose(sum(components), s_np(v0 + dv) - s_np(v0), rtol=1e-4)

# %% [markdown]
# ### Definition 9: ∂s/∂v is an (m×1) column, and Δs = (∂s/∂v)ᵀ Δv
#
# The c-tensor has the one axis of v (0 + 1 axes); its matrix form is a column.

# %%
g = td.derive(sv, vv).evaluate({"v": v0})
form = g.matrix_form()
print(form)
assert g.shape == (3,) and form.array.shape == (3, 1)
assert np.allclose(form.array.ravel(), fd_gradient(s_np, v0), atol=1e-6)
assert np.isclose((form.array.T @ dv.reshape(3, 1)).item(), s_np(v0 + dv) - s_np(v0), rtol=1e-4)
assert "Definition 9" in form.note

# %% [markdown]
# `td.explain` shows the same answer step by step: the full c-tensor, the structure found, the
# collapsed (3×1) column with the reason (Definition 9), and two checks — against the full
# contraction and against central differences.

# %%
ex = td.explain(sv, vv, {"v": v0})
assert ex.final.array.shape == (3, 1) and "Definition 9" in ex.final.note
assert np.allclose(ex.final.array.ravel(), fd_gradient(s_np, v0), atol=1e-6)
assert ex.chain_error < 1e-12 and ex.differences_error < 1e-6
ex

# %% [markdown]
# ## A.3 Derivative: Vector/Scalar
#
# ### Definition 11: ∂w/∂s is a (1×n) row, and Δw = (∂w/∂s)ᵀ Δs
#
# w(s) = s·c for a fixed vector c: each ∂wᵢ/∂s = cᵢ, laid out as a row.

# %%
c_val = np.array([1.0, -2.0, 3.0, 0.5])
sc, cvec = td.var("s", ()), td.var("c", (4,))
dw_ds = td.derive(sc * cvec, sc).evaluate({"s": np.array(2.0), "c": c_val})
form = dw_ds.matrix_form()
print(form.array)
assert form.array.shape == (1, 4)
assert np.allclose(form.array, c_val.reshape(1, 4))
assert np.allclose(form.array.T * 0.1, (2.1 * c_val - 2.0 * c_val).reshape(4, 1))  # Δw = (∂w/∂s)ᵀ Δs
assert "Definition 11" in form.note

# %% [markdown]
# ### Clarification 10: the other convention is the transpose
#
# JAX and PyTorch (and many texts) use the numerator layout: outputs first. The numbers are the
# same, transposed. `dense(layout="numerator")` and `td.to_layout` convert.

# %%
Mx = rng.standard_normal((4, 3))
xv = td.var("x", (3,))
J = td.derive(td.var("M", (4, 3)) @ xv, xv).evaluate({"M": Mx, "x": rng.standard_normal(3)})
assert np.allclose(J.dense(), Mx.T)                       # notes: ∂(Mx)/∂x = Mᵀ, (3×4)
assert np.allclose(J.dense(layout="numerator"), Mx)       # JAX / PyTorch: M, (4×3)
assert np.allclose(td.to_layout(J.dense(), 1, source="notes", target="numerator"), Mx)

# %% [markdown]
# ## A.4 Derivative: Vector/Vector
#
# ### A.4.1 (A.33)–(A.36): one input gives a row, one output a column
#
# Fixing one input vᵢ gives ∂w/∂vᵢ, a row (Definition 11); fixing one output wⱼ gives ∂wⱼ/∂v,
# a column (Definition 9). They are the rows and the columns of ∂w/∂v.

# %%
m, n = 2, 3
P = rng.standard_normal((m, n))
v_val = rng.standard_normal(m)
vv2 = td.var("v", (m,))
w_expr = td.sin(td.var("P", (m, n)).T @ vv2)          # w (n×1)


def w_np(t):
    return np.sin(P.T @ t)


J = td.derive(w_expr, vv2).evaluate({"v": v_val, "P": P}).dense()
for j in range(n):   # column j is the gradient ∂wⱼ/∂v
    assert np.allclose(J[:, j], fd_gradient(lambda t, j=j: w_np(t)[j], v_val), atol=1e-6)
for i in range(m):   # row i is ∂w/∂vᵢ
    e = np.eye(m)[i]
    assert np.allclose(J[i, :], (w_np(v_val + 1e-6 * e) - w_np(v_val - 1e-6 * e)) / 2e-6,
                       atol=1e-6)

# %% [markdown]
# ## A.5 General derivative (Vector/Vector)
#
# ### Concept 12: treat a vector as a scalar, then expand it
#
# Treating v as one "scalar", ∂w/∂v is a row of columns [∂w₁/∂v, …, ∂wₙ/∂v] (A.41); expanding
# each column gives the matrix. The c-tensor does this bookkeeping with labelled axes.

# %%
ct = td.derive(w_expr, vv2).evaluate({"v": v_val, "P": P})
print([(a.var, a.index, a.role) for a in ct.axes])
stacked = np.stack([ct.dense()[:, j] for j in range(n)], axis=1)  # the row of columns
assert np.array_equal(stacked, ct.dense())
assert [a.role for a in ct.axes] == ["wrt", "of"]

# %% [markdown]
# ### Definition 13: ∂w/∂v is (m×n), row i ↔ vᵢ, column j ↔ wⱼ; so ∂(Ax)/∂x = Aᵀ
#
# (A.45): w (3×1), v (2×1) gives a (2×3) matrix.

# %%
form = ct.matrix_form()
print(form.rows, "|", form.cols, "|", form.note)
assert form.array.shape == (m, n) == (2, 3)
assert np.allclose(form.array, fd_jacobian(w_np, v_val), atol=1e-6)
assert "Definition 13" in form.note

Am = rng.standard_normal((4, 3))
x3 = td.var("x", (3,))
dAx = td.derive(td.var("A", (4, 3)) @ x3, x3).evaluate({"A": Am, "x": np.ones(3)})
assert np.allclose(dAx.matrix_form().array, Am.T)   # ∂(Ax)/∂x = Aᵀ

# %% [markdown]
# ### A.5.1 Notation 14: entry (i, j) is ∂wⱼ/∂vᵢ
#
# ### Notation 15: compressed along either axis
#
# Columns are the gradients ∂wⱼ/∂v, rows are the row vectors ∂w/∂vᵢ.

# %%
fd = fd_jacobian(w_np, v_val)
for i in range(m):
    for j in range(n):
        assert np.isclose(form.array[i, j], fd[i, j], atol=1e-6)          # Notation 14
columns = [form.array[:, [j]] for j in range(n)]                           # [∂w₁/∂v, …]
rows = [form.array[[i], :] for i in range(m)]                              # [∂w/∂v₁; …]
assert np.array_equal(np.hstack(columns), form.array)                      # Notation 15
assert np.array_equal(np.vstack(rows), form.array)

# %% [markdown]
# ## A.6 Derivative: matrix/scalar
#
# ### Concept 16: a matrix is a column vector of row vectors
#
# ### Definition 17: ∂M/∂s, M (r×k), is the (k×r) matrix: the shape of Mᵀ
#
# M(s) = s·N: every ∂m_ij/∂s = n_ij; the notes lay them out as Mᵀ.

# %%
r, k = 2, 3
N = np.arange(1.0, 7.0).reshape(r, k)
sM = td.var("s", ())
dM_ds = td.derive(sM * td.var("N", (r, k)), sM).evaluate({"s": np.array(0.5), "N": N})
form = dM_ds.matrix_form()
print(form.array)
rows_of_M = [N[i] for i in range(r)]                     # (A.48): M as a column of rows
assert form.array.shape == (k, r)
assert np.array_equal(form.array, np.stack(rows_of_M, axis=1))  # row i of M → column i (A.49)
assert np.array_equal(form.array, N.T)
assert "Definition 17" in form.note

# %% [markdown]
# ## A.7 Derivative: scalar/matrix
#
# ### Definition 18: ∂s/∂M, M (r×k), is (r×k): the shape of M
#
# s = Σ tanh(M)², checked entry by entry against differences.

# %%
Mv = rng.standard_normal((r, k))
Mvar = td.var("M", (r, k))
ds_dM = td.derive(td.sum(td.square(td.tanh(Mvar))), Mvar).evaluate({"M": Mv})
form = ds_dM.matrix_form()
assert form.array.shape == (r, k) == Mv.shape
assert np.allclose(form.array, fd_gradient(lambda t: np.sum(np.tanh(t) ** 2), Mv), atol=1e-6)
assert "Definition 18" in form.note

# %% [markdown]
# ## A.8 Tensors
#
# ### A.8.1 Definition 19: an axis is an index we can move along
#
# ### Concept 20: Axes(∂y/∂x) = Axes(y) + Axes(x)
#
# The c-tensor of ∂y/∂x has one labelled axis per axis of x (role `wrt`) and of y (role `of`).
# A vector/matrix derivative needs 3 axes: more than a matrix.

# %%
sv_, vv_, Mv_ = td.var("s", ()), td.var("v", (3,)), td.var("M", (3, 2))
cases = {
    "∂s/∂v": (td.sum(vv_ * vv_) * sv_, vv_),
    "∂v/∂s": (vv_ * sv_, sv_),
    "∂w/∂v": (td.tanh(vv_), vv_),
    "∂M/∂s": (Mv_ * sv_, sv_),
    "∂s/∂M": (td.sum(Mv_) * sv_, Mv_),
    "∂Z/∂M": (Mv_.T @ vv_, Mv_),          # vector / matrix: a 3-tensor
    "∂M/∂M": (td.tanh(Mv_), Mv_),        # matrix / matrix: a 4-tensor
}
values = {"s": np.array(1.5), "v": rng.standard_normal(3), "M": rng.standard_normal((3, 2))}
for name, (y, xvar) in cases.items():
    d = td.derive(y, xvar)
    ct = d.evaluate({k: values[k] for k in d.variables_allowed})   # the values it uses
    roles = [a.role for a in ct.axes]
    print(f"{name}: axes {ct.ndim} = {len(y.shape)} + {len(xvar.shape)}, roles {roles}")
    assert ct.ndim == len(y.shape) + len(xvar.shape)                       # Concept 20
    assert roles == ["wrt"] * len(xvar.shape) + ["of"] * len(y.shape)      # notes' layout

# %% [markdown]
# ### A.8.2 Clarification 21: two meanings of "dimension"
#
# A (k×1) vector has k entries ("vector dimensions") but one axis ("array dimensions").

# %%
col = np.zeros((5,))
assert col.size == 5 and col.ndim == 1

# %% [markdown]
# ### A.8.3 Definitions 22 and 23: arrays and c-tensors
#
# The 3-tensor of (A.56): two (2×3) matrices stacked front to back, a (2×3×2) block.

# %%
front = np.array([[1, 2, 3], [4, 5, 6]], dtype=float)
back = np.array([[5, 7, 11], [13, 17, 19]], dtype=float)
box = td.CTensor(np.stack([front, back], axis=-1), ["row", "col", "depth"])
print(repr(box))
assert box.shape == (2, 3, 2) and box.ndim == 3
assert np.array_equal(box.dense()[:, :, 0], front) and np.array_equal(box.dense()[:, :, 1], back)

# %% [markdown]
# `td.plot` draws it the way (A.56) does: a stack of matrix slices, one (2×3) slice per entry of
# the third axis.

# %%
fig = td.plot(box)
slices = [ax for ax in fig.axes if ax.get_label() == "slice"]
assert len(slices) == 2                                                   # front and back
assert [ax.get_title() for ax in slices] == ["depth = 0", "depth = 1"]
assert all(ax.get_images()[0].get_array().shape == (2, 3) for ax in slices)
fig

# %% [markdown]
# ### Turning tensors into matrices: a diagonal to a vector (A.57)
#
# A pattern of zeros lets us keep only the diagonal: `td.reduce` finds it and keeps 3 numbers.

# %%
D = np.diag([3.0, 9.0, 4.0])
form = td.reduce(D, wrt_axes=1)
print(form.structure, form.array.ravel())
assert form.structure == "diagonal"
assert np.array_equal(form.array.ravel(), [3.0, 9.0, 4.0])
assert np.array_equal(form.expand(), D)

# %% [markdown]
# ### Stacking the columns (A.58)
#
# When nothing collapses, the notes flatten by stacking columns: [[1, 2], [3, 4]] → [1, 3, 2, 4].
# `MatrixForm.matrix()` flattens any c-tensor that way: rows vec(input), columns vec(output).

# %%
X2 = td.var("X", (2, 2))
dsdX = td.derive(td.sum(td.var("C", (2, 2)) * X2), X2).evaluate(
    {"C": np.array([[1.0, 2.0], [3.0, 4.0]]), "X": np.zeros((2, 2))})
flat = dsdX.matrix_form().matrix()
print(flat.ravel())
assert np.array_equal(flat.ravel(), [1.0, 3.0, 2.0, 4.0])  # (A.58)

# %% [markdown]
# ### Clarification 24 and 25: contraction is the tensor chain rule
#
# The generalised matrix product is a tensor contraction (numpy's `einsum`). `td.contract`
# contracts c-tensors over the labels they share, with an optimised `opt_einsum` path; this is how
# tensorderiv computes every chain rule — directly, without a fixed notation for 3-tensors.

# %%
m, n = 3, 2
a_val, g_val = rng.standard_normal(m), rng.standard_normal(n)
Wv = td.var("W", (m, n))
dZ_dW = td.derive(Wv.T @ td.var("A", (m,)), Wv).evaluate({"W": np.zeros((m, n)), "A": a_val})
out_label = dZ_dW.axes[-1].label
dL_dZ = td.CTensor(g_val, [td.Axis(out_label, n, "wrt", "Z", 0, 1)])
dL_dW = td.contract(dZ_dW, dL_dZ)
assert np.allclose(dL_dW.dense(), np.einsum("ijk,k->ij", dZ_dW.dense(), g_val))
assert np.allclose(dL_dW.dense(), np.outer(a_val, g_val))   # A (∂L/∂Z)ᵀ, A.61

# %% [markdown]
# ## A.9 Neural Network Derivatives
#
# One layer ℓ: Z = WᵀA with W (m×n) (m inputs, n neurons), A (m×1) the previous layer's
# activations, then A′ = f(Z) elementwise, and a loss L at the end.
#
# ### A.9.1 Notation 26: ∂L/∂A^L has the shape of A^L, (n^L × 1)

# %%
m, n = 4, 3
W_val, A_val = rng.standard_normal((m, n)), rng.standard_normal(m)
Y_val = rng.standard_normal(n)
W, A = td.var("W", (m, n)), td.var("A", (m,))
Z = W.T @ A
AL = td.var("AL", (n,))
L_of_AL = 0.5 * td.sum(td.square(AL - td.var("Y", (n,))))
dL_dAL = td.derive(L_of_AL, AL).evaluate({"AL": np.tanh(W_val.T @ A_val), "Y": Y_val})
assert dL_dAL.matrix_form().array.shape == (n, 1)                         # Notation 26

# %% [markdown]
# ### A.9.2 The weight derivative ∂Z/∂W: Concepts 27 and 28
#
# Focus on one neuron: zᵢ = Wᵢᵀ A, so ∂zᵢ/∂W_ji = a_j (A.68), and another neuron's weights have
# no effect: ∂zᵢ/∂W_jk = 0 for i ≠ k (Concept 28). The full derivative is a 3-tensor (m, n, n).

# %%
dZdW = td.derive(Z, W).evaluate({"W": W_val, "A": A_val})
T = dZdW.dense()                                   # axes (W row j, W column k, Z entry i)
print(repr(dZdW))
assert T.shape == (m, n, n)                        # Concept 20: 2 + 1 axes
for i in range(n):
    assert np.allclose(T[:, i, i], A_val)          # (A.68)/(A.70): ∂zᵢ/∂Wᵢ = A
    for kk in range(n):
        if kk != i:
            assert np.all(T[:, kk, i] == 0)        # (A.71)/(A.72): Concept 28
assert np.allclose(T, fd_jacobian(lambda w: w.T @ A_val, W_val), atol=1e-6)

# %% [markdown]
# ### (A.74) and Concept 29: the two redundancies
#
# Treating each Wₖ as one "scalar", ∂Z/∂W is a diagonal matrix of vectors A (A.74). Two
# redundancies: **every element off the diagonal is 0**, and **every element on the diagonal is
# the same** (A). The c-tensor never stored them: its core is A alone, and its axis map makes
# W's column axis and Z's axis one Kronecker delta.

# %%
blocks = [[T[:, kk, i] for i in range(n)] for kk in range(n)]          # (A.74) as blocks
off_diagonal_zero = all(np.all(blocks[kk][i] == 0) for kk in range(n) for i in range(n) if kk != i)
diagonal_same = all(np.array_equal(blocks[i][i], blocks[0][0]) for i in range(n))
assert off_diagonal_zero and diagonal_same                               # Concept 29
print("stored:", dZdW.core.shape, dZdW.nbytes, "bytes; full:", dZdW.shape, dZdW.dense_nbytes, "bytes")
assert dZdW.core.shape == (m,) and np.allclose(dZdW.core, A_val)
assert dZdW.axis_map[1] == dZdW.axis_map[2]                               # the delta W[1] = Z[0]

# %% [markdown]
# ### (A.75)–(A.76) and Notation 30: the collapse ∂Z/∂W → A
#
# First the diagonal goes to a column of A's (A.75), then the repeated A's combine into one A
# (A.76): the (m×1) matrix form. `ct.matrix_form()` reads it from the storage; `td.reduce` finds
# the same from the dense 3-tensor alone.

# %%
column_of_As = np.stack([blocks[i][i] for i in range(n)])                # (A.75)
assert np.allclose(column_of_As, np.tile(A_val, (n, 1)))
form = dZdW.matrix_form()
print(form)
assert form.structure == "delta" and form.rule == "outer"
assert form.array.shape == (m, 1) and np.allclose(form.array.ravel(), A_val)   # (A.76)
from_dense = td.reduce(T, wrt_axes=2, names=("W", "Z"))
assert from_dense.structure == "delta" and np.allclose(from_dense.array.ravel(), A_val)

# %% [markdown]
# `td.plot(form)` draws the collapse: the (m×1) column A on the left, the full (m×n×n) 3-tensor
# of (A.74) on the right as n slices — each slice zero except the column where W's column index
# equals Z's index, and that column is A every time.

# %%
fig = td.plot(form)
collapsed_ax = [ax for ax in fig.axes if ax.get_label() == "collapsed"]
slices = [ax for ax in fig.axes if ax.get_label() == "slice"]
assert len(collapsed_ax) == 1 and len(slices) == n
assert collapsed_ax[0].get_images()[0].get_array().shape == (m, 1)
for kk, ax in enumerate(slices):                                          # slice kk: column kk is A
    drawn = np.ma.filled(ax.get_images()[0].get_array(), 0.0)
    assert np.allclose(drawn, T[:, :, kk])
fig

# %% [markdown]
# The collapsed A enters the chain rule with the notes' transposes:
# ∂L/∂W = A (∂L/∂Z)ᵀ (A.61), an (m×n) matrix with the shape of W.

# %%
gZ = rng.standard_normal(n)
assert np.allclose(form.apply(gZ), np.outer(A_val, gZ))
assert np.allclose(form.apply(gZ), np.einsum("jki,i->jk", T, gZ))

# %% [markdown]
# ### A.9.3 Notation 31: ∂Z/∂A^(ℓ−1) = W, (m×n)
#
# ∂zᵢ/∂aⱼ = W_ji sits in row j, column i of ∂Z/∂A — exactly where W_ji sits in W.

# %%
dZdA = td.derive(Z, A).evaluate({"W": W_val, "A": A_val})
form = dZdA.matrix_form()
assert form.array.shape == (m, n)
assert np.allclose(form.array, W_val)                                     # Notation 31
assert np.allclose(form.array, fd_jacobian(lambda a: W_val.T @ a, A_val), atol=1e-6)

# %% [markdown]
# ### A.9.4 Concept 32 and Notation 33: ∂A/∂Z is diagonal, f′(z) on the diagonal
#
# Each activation depends only on its own pre-activation: ∂aⱼ/∂zᵢ = 0 for i ≠ j.

# %%
Zv = td.var("Z", (n,))
z_val = W_val.T @ A_val
dAdZ = td.derive(td.tanh(Zv), Zv).evaluate({"Z": z_val})
full = dAdZ.dense()
fprime_z = 1 - np.tanh(z_val) ** 2
assert np.allclose(full, np.diag(fprime_z))                               # Notation 33
assert np.all(full[~np.eye(n, dtype=bool)] == 0)                          # Concept 32
print("stored", dAdZ.core.shape, "of", dAdZ.shape)

# %% [markdown]
# ### A.9.5 Concept 34: a diagonal matrix times a vector is an element-wise product
#
# The diagonal collapses to the column f′(Z) (A.90), which enters the chain rule with ⊙:
# R Q = R ⊙ Q.

# %%
form = dAdZ.matrix_form()
print(form.structure, form.rule)
assert form.structure == "diagonal" and form.rule == "elementwise"
assert np.allclose(form.array.ravel(), fprime_z)                          # (A.90)
Q = rng.standard_normal(n)
assert np.allclose(np.diag(fprime_z) @ Q, fprime_z * Q)                   # Concept 34
assert np.allclose(form.apply(Q), fprime_z * Q)
assert np.allclose(td.chain(form, Q).array.ravel(), fprime_z * Q)

# %% [markdown]
# ## The whole A.9 network
#
# Two layers, Z¹ = W₁ᵀX, A¹ = tanh Z¹, Z² = W₂ᵀA¹, A² = sigmoid Z², L = ½‖A² − Y‖².
# Each factor is derived and collapsed on its own — ∂Z/∂W → A, ∂A/∂Z → f′(Z) with ⊙,
# ∂Z²/∂A¹ → W₂ — and chained in the notes' order with `td.chain`. The result must equal
# tensorderiv's derivative of the whole loss and finite differences of a numpy forward pass.

# %%
m0, n1, n2 = 4, 3, 2
vals = {"W1": rng.standard_normal((m0, n1)), "W2": rng.standard_normal((n1, n2)),
        "X": rng.standard_normal(m0), "Y": rng.standard_normal(n2)}
W1, W2, X, Y = (td.var(k, v.shape) for k, v in vals.items())
Z1 = W1.T @ X
A1 = td.tanh(Z1)
Z2 = W2.T @ A1
A2 = td.sigmoid(Z2)
L = 0.5 * td.sum(td.square(A2 - Y))

# the values of the forward pass, and each factor of the chain as a collapsed form
z1 = vals["W1"].T @ vals["X"]
a1 = np.tanh(z1)
z2 = vals["W2"].T @ a1
a2 = 1 / (1 + np.exp(-z2))
vZ1, vA1, vZ2, vA2 = (td.var(nm, v.shape) for nm, v in
                      [("Z1", z1), ("A1", a1), ("Z2", z2), ("A2", a2)])
point = {**vals, "Z1": z1, "A1": a1, "Z2": z2, "A2": a2}


def collapsed(y, wrt):
    """The derivative of one factor at the forward pass, collapsed to its matrix form."""
    d = td.derive(y, wrt)
    return d.evaluate({k: point[k] for k in d.variables_allowed}).matrix_form()


factors = {
    "∂Z¹/∂W₁": collapsed(W1.T @ X, W1),
    "∂A¹/∂Z¹": collapsed(td.tanh(vZ1), vZ1),
    "∂Z²/∂A¹": collapsed(W2.T @ vA1, vA1),
    "∂A²/∂Z²": collapsed(td.sigmoid(vZ2), vZ2),
    "∂L/∂A²": collapsed(0.5 * td.sum(td.square(vA2 - Y)), vA2),
}
for name, f in factors.items():
    print(f"{name:8s} {f.structure:9s} rule {f.rule:11s} collapsed {f.array.shape}")

assert factors["∂Z¹/∂W₁"].structure == "delta"                          # → X (A.76)
assert np.allclose(factors["∂Z¹/∂W₁"].array.ravel(), vals["X"])
assert factors["∂A¹/∂Z¹"].rule == "elementwise"                          # → f′(Z¹) with ⊙
assert np.allclose(factors["∂A¹/∂Z¹"].array.ravel(), 1 - a1**2)
assert np.allclose(factors["∂Z²/∂A¹"].array, vals["W2"])                 # → W₂ (Notation 31)
assert factors["∂A²/∂Z²"].rule == "elementwise"
assert np.allclose(factors["∂A²/∂Z²"].array.ravel(), a2 * (1 - a2))

# %% [markdown]
# Backpropagation, right to left, in the notes' shapes: ∂L/∂Z² = f′(Z²) ⊙ ∂L/∂A²,
# ∂L/∂A¹ = W₂ ∂L/∂Z², ∂L/∂Z¹ = f′(Z¹) ⊙ ∂L/∂A¹, and ∂L/∂W₁ = X (∂L/∂Z¹)ᵀ.

# %%
dL_dW1 = td.chain(*factors.values())
print(dL_dW1.array.shape)

# the same by hand, with the notes' formulas
dZ2 = a2 * (1 - a2) * (a2 - vals["Y"])
dA1 = vals["W2"] @ dZ2
dZ1 = (1 - a1**2) * dA1
by_hand = np.outer(vals["X"], dZ1)                                        # A (∂L/∂Z)ᵀ

whole = td.derive(L, W1).evaluate(vals)


def loss_np(w1):
    h = np.tanh(w1.T @ vals["X"])
    out = 1 / (1 + np.exp(-(vals["W2"].T @ h)))
    return 0.5 * np.sum((out - vals["Y"]) ** 2)


assert dL_dW1.array.shape == (m0, n1)                                     # the shape of W₁
assert np.allclose(dL_dW1.array, by_hand)
assert np.allclose(whole.dense(), by_hand)
assert np.allclose(whole.dense(), fd_gradient(loss_np, vals["W1"]), atol=1e-7)
print("∂L/∂W₁ = X (∂L/∂Z¹)ᵀ: chained forms, the whole derivative and differences agree")

# %% [markdown]
# `td.explain(L, W1)` does all of this in one call, as A.9 does it: the path from L down to W₁,
# each factor's name, full shape, structure, collapsed form and the reason it collapses, the rule
# it multiplies by (⊙, a matrix product with the notes' transposes, an outer product), the
# backward pass, and the check against the full contraction and against differences. Here the
# layer's input is X, so ∂Z¹/∂W₁ collapses to X and ∂L/∂W₁ = X (∂L/∂Z¹)ᵀ.

# %%
ex = td.explain(L, W1, vals)
names = [f.name for f in ex.factors]
assert names == ["∂Z1/∂W1", "∂A1/∂Z1", "∂Z2/∂A1", "∂A2/∂Z2", "∂L/∂A2"]
dZ1dW1, dA1dZ1, dZ2dA1 = ex.factors[:3]
assert dZ1dW1.form.structure == "delta" and dZ1dW1.form.notation == "X"    # ∂Z/∂W → A (A.76)
assert dA1dZ1.form.structure == "diagonal" and "⊙" in dA1dZ1.rule        # ∂A/∂Z → f′(Z), ⊙
assert np.allclose(dA1dZ1.form.array.ravel(), 1 - a1**2)
assert dZ2dA1.form.notation == "W2"                                      # ∂Z²/∂A¹ → W₂
assert ex.backward[-1] == "∂L/∂W1 = X (∂L/∂Z1)ᵀ"                          # ∂L/∂W = A (∂L/∂Z)ᵀ
assert np.allclose(ex.final.array, by_hand)
assert ex.chain_error < 1e-12 and ex.differences_error < 1e-6
ex

# %% [markdown]
# In the notes' own letters — one layer Z = WᵀA, A¹ = tanh Z, with the layer's input A as the
# variable it is in A.9 — the explanation reads ∂Z/∂W → A, ∂A/∂Z → f′(Z) with ⊙, and
# ∂L/∂W = A (∂L/∂Z)ᵀ.

# %%
Y1 = td.var("Y", (n,))
one = {"W": W_val, "A": A_val, "Y": rng.standard_normal(n)}
ex1 = td.explain(0.5 * td.sum(td.square(td.tanh(W.T @ A) - Y1)), W, one)
for f in ex1.factors:
    print(f"{f.name:8s} → {f.form.notation}  ({f.form.structure})")
print(ex1.backward[-1])
assert [f.form.notation for f in ex1.factors[:2]] == ["A", "1 - tanh(Z1) ** 2"]
assert "⊙" in ex1.factors[1].rule and ex1.backward[-1] == "∂L/∂W = A (∂L/∂Z1)ᵀ"
assert ex1.chain_error < 1e-12 and ex1.differences_error < 1e-6

# %% [markdown]
# The same holds for the second layer's weights, ∂L/∂W₂ = A¹ (∂L/∂Z²)ᵀ, and the whole derivative
# is symbolic, so it can be printed as a matrix formula:

# %%
dL_dW2 = td.derive(L, W2).evaluate(vals).dense()
assert np.allclose(dL_dW2, np.outer(a1, dZ2))
print(td.matrix_notation(td.derive(L, W2)))
