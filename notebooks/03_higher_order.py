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
# # Higher-order derivatives: Hessians, third-order tensors, mixed derivatives
#
# `td.derive(e, x, order=k)` is a c-tensor with k copies of x's axes (the newest
# differentiation first), then the output's: shape `x.shape * k + e.shape`. A derivative is itself
# an expression, so it can be differentiated again, and its value stays compact: Kronecker deltas
# and constant axes are labels, not stored zeros. Every result below is checked against a
# closed form or finite differences.

# %%
import itertools

import numpy as np

import tensorderiv as td

rng = np.random.default_rng(1)

# %% [markdown]
# ## The Hessian of logistic regression, and a Newton step
#
# With examples in the rows of X (N×d), labels y ∈ {−1, +1} and weights w (d),
# L(w) = Σᵢ log(1 + exp(−yᵢ xᵢᵀw)) + ½‖w‖² = Σ softplus(−y ⊙ Xw) + ½‖w‖².
# Closed forms: ∇L = −Xᵀ(y ⊙ σ(−y ⊙ Xw)) + w, ∇²L = Xᵀ diag(σ(Xw)(1 − σ(Xw))) X + I.

# %%
N, d = 40, 3
Xv = rng.standard_normal((N, d))
w_true = np.array([2.0, -1.0, 0.5])
yv = np.where(Xv @ w_true + 0.5 * rng.standard_normal(N) > 0, 1.0, -1.0)

X, y, w = td.var("X", (N, d)), td.var("y", (N,)), td.var("w", (d,))
loss = td.sum(td.softplus(-(y * (X @ w)))) + 0.5 * td.sum(td.square(w))
grad = td.derive(loss, w).compile()
hess = td.derive(loss, w, order=2).compile()


def sigma(t):
    return 1 / (1 + np.exp(-t))


w0 = np.zeros(d)
vals = {"X": Xv, "y": yv, "w": w0}
H = hess(vals)
print(repr(H))
p = sigma(Xv @ w0)
assert H.shape == (d, d)
assert np.allclose(H.dense(), Xv.T @ np.diag(p * (1 - p)) @ Xv + np.eye(d))
assert np.allclose(grad(vals).dense(), -Xv.T @ (yv * sigma(-yv * (Xv @ w0))) + w0)

# %% [markdown]
# Its matrix form: the first differentiation on the rows, the second on the columns; tensorderiv
# finds (and checks) the symmetry between the two copies.

# %%
form = H.matrix_form()
print(form.structure, form.symmetric, form.array.shape)
assert form.array.shape == (d, d) and form.structure == "symmetric" and form.symmetric == ((1, 2),)  # copies 1 and 2
assert np.allclose(form.array, form.array.T)

# %% [markdown]
# Newton's method, w ← w − (∇²L)⁻¹ ∇L, converges in a few steps; each step is checked to lower
# the loss, and at the end the gradient vanishes.

# %%


def L_np(wv):
    return np.sum(np.logaddexp(0, -yv * (Xv @ wv))) + 0.5 * wv @ wv


wk = w0.copy()
for step in range(6):
    v = {"X": Xv, "y": yv, "w": wk}
    g, Hk = grad(v).dense(), hess(v).dense()
    w_next = wk - np.linalg.solve(Hk, g)
    print(f"step {step}: L = {L_np(wk):.6f}, |∇L| = {np.linalg.norm(g):.2e}")
    assert L_np(w_next) <= L_np(wk) + 1e-12
    wk = w_next
assert np.linalg.norm(grad({"X": Xv, "y": yv, "w": wk}).dense()) < 1e-8

# %% [markdown]
# ## A third-order tensor and its symmetry
#
# For f(w) = Σᵢ exp(xᵢᵀw), ∂³f/∂w³ = Σᵢ exp(xᵢᵀw) xᵢ ⊗ xᵢ ⊗ xᵢ: a (d×d×d) c-tensor, symmetric
# under every permutation of its three copies of w's axis.

# %%
f3 = td.sum(td.exp(X @ w))
T3 = td.derive(f3, w, order=3).evaluate({"X": Xv, "w": w_true / 4})
e = np.exp(Xv @ (w_true / 4))
closed = np.einsum("i,ia,ib,ic->abc", e, Xv, Xv, Xv)
print(repr(T3))
assert T3.shape == (d, d, d)
assert np.allclose(T3.dense(), closed)
for perm in itertools.permutations(range(3)):
    assert np.allclose(T3.dense().transpose(perm), T3.dense())
print("symmetric under all", len(list(itertools.permutations(range(3)))), "permutations")

# %% [markdown]
# `td.plot` draws the (d×d×d) third derivative as a stack of d slices along its third copy of w's
# axis; each slice is a symmetric matrix, and slice k's row j equals slice j's row k.

# %%
fig = td.plot(T3)
slices = [ax for ax in fig.axes if ax.get_label() == "slice"]
assert len(slices) == d
drawn = np.stack([np.ma.filled(ax.get_images()[0].get_array(), 0.0) for ax in slices], axis=-1)
assert np.allclose(drawn, closed)
assert all(np.allclose(drawn[:, :, k], drawn[:, :, k].T) for k in range(d))
fig

# %% [markdown]
# And against an independent oracle: central differences of the Hessian along each eᵢ.

# %%
hess3 = td.derive(f3, w, order=2).compile()
h = 1e-5
fd = np.stack([(hess3({"X": Xv, "w": w_true / 4 + h * ei}).dense()
                - hess3({"X": Xv, "w": w_true / 4 - h * ei}).dense()) / (2 * h)
               for ei in np.eye(d)])
assert np.allclose(T3.dense(), fd, rtol=1e-6, atol=1e-6)

# %% [markdown]
# ## A mixed derivative ∂²L/∂W∂x
#
# For L = Σⱼ tanh(zⱼ), z = Wᵀx, `wrt=(W, x)` gives the axes of W, then x, then L's (none):
# shape (m, n, m). With t = tanh(z): ∂L/∂W_ij = xᵢ(1 − tⱼ²), so
# ∂²L/∂W_ij∂x_p = δᵢₚ(1 − tⱼ²) − 2 xᵢ tⱼ(1 − tⱼ²) W_pj.

# %%
m, n = 4, 3
Wv, xv = rng.standard_normal((m, n)), rng.standard_normal(m)
W, x = td.var("W", (m, n)), td.var("x", (m,))
Lwx = td.sum(td.tanh(W.T @ x))
mixed = td.derive(Lwx, (W, x)).evaluate({"W": Wv, "x": xv})
t = np.tanh(Wv.T @ xv)
closed = (np.einsum("ip,j->ijp", np.eye(m), 1 - t**2)
          - 2 * np.einsum("i,j,pj->ijp", xv, t * (1 - t**2), Wv))
print(repr(mixed))
assert mixed.shape == (m, n, m)
assert np.allclose(mixed.dense(), closed)

# the other order, ∂²L/∂x∂W, holds the same numbers with the axes swapped (Schwarz)
other = td.derive(Lwx, (x, W)).evaluate({"W": Wv, "x": xv})
assert np.allclose(other.dense().transpose(1, 2, 0), mixed.dense())

# %% [markdown]
# ## A Hessian too big to hold densely, used through its compact form
#
# For W (120×100) the Hessian of L = Σ tanh(Wᵀx) has (120·100)² = 144 million entries:
# 1.15 GB as float64, over the default dense budget (`td.get_dense_limit()`, 1 GiB). Its
# c-tensor is compact: the two copies of W's column axis are one Kronecker delta
# (∂²L/∂W_ij∂W_kl = xᵢ x_k f″(zⱼ) δⱼₗ), so only an (m, n, m) core is stored.

# %%
m, n = 120, 100
Wv, xv = 0.1 * rng.standard_normal((m, n)), rng.standard_normal(m)
W, x = td.var("W", (m, n)), td.var("x", (m,))
Lbig = td.sum(td.tanh(W.T @ x))
Hbig = td.derive(Lbig, W, order=2).evaluate({"W": Wv, "x": xv})
print(repr(Hbig))
print(f"stored {Hbig.nbytes / 1e6:.1f} MB; dense {Hbig.dense_nbytes / 1e9:.2f} GB")
assert Hbig.dense_nbytes > td.get_dense_limit() > Hbig.nbytes

try:
    Hbig.dense()
    refused = None
except td.DenseLimitError as err:
    refused = err
print("refused:", type(refused).__name__, "-", refused)
assert isinstance(refused, td.DenseLimitError)

with td.dense_limit(16 * 2**20):   # a tighter budget for this block only: still refused
    try:
        Hbig.dense()
        raise AssertionError("the dense Hessian should have been refused")
    except td.DenseLimitError:
        pass

# %% [markdown]
# A Hessian-vector product H·V contracts the second copy of W's axes with V. `td.contract` does it
# on the compact core, over the labels the two share, without materialising H.

# %%
V = rng.standard_normal((m, n))
second = [a for a in Hbig.axes if a.copy == 2]
Vct = td.CTensor(V, [td.Axis(a.label, a.size) for a in second])
HV = td.contract(Hbig, Vct)
print(repr(HV))
assert HV.shape == (m, n)

# closed form: H V = x ⊗ (f″(z) ⊙ Vᵀx), f″ = −2 tanh (1 − tanh²)
z = Wv.T @ xv
fpp = -2 * np.tanh(z) * (1 - np.tanh(z) ** 2)
assert np.allclose(HV.dense(), np.outer(xv, fpp * (V.T @ xv)))

# and an independent oracle: central differences of the gradient along V
gbig = td.derive(Lbig, W).compile()
h = 1e-5
fd_hv = (gbig({"W": Wv + h * V, "x": xv}).dense()
         - gbig({"W": Wv - h * V, "x": xv}).dense()) / (2 * h)
assert np.allclose(HV.dense(), fd_hv, rtol=1e-5, atol=1e-6)
print("H·V from the compact Hessian matches differences of the gradient")
