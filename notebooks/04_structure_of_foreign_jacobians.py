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
# # The structure of foreign Jacobians
#
# `td.reduce` takes any dense derivative — from finite differences, JAX, PyTorch — and finds the
# notes' matrix form in it: a diagonal (f′(Z) with ⊙), a Kronecker delta (∂Z/∂W → A), a Kronecker
# product (∂(AXB)/∂X), symmetry. You say which axes are inputs and in which layout the array is;
# every structure it claims is checked entry by entry against `atol + rtol · max|T|`, so with
# noisy estimates the tolerance is yours to give. This notebook shows what to give.

# %%
import numpy as np

import tensorderiv as td

rng = np.random.default_rng(4)


def jacobian_fd(f, x, h=1e-5):
    """A Jacobian by central differences in the JAX / PyTorch layout: f's axes first, then x's."""
    x = np.asarray(x, dtype=float)
    y0 = np.asarray(f(x))
    J = np.zeros(y0.shape + x.shape)
    for i in np.ndindex(x.shape):
        e = np.zeros_like(x)
        e[i] = h
        J[(..., *i)] = (np.asarray(f(x + e)) - np.asarray(f(x - e))) / (2 * h)
    return J


# %% [markdown]
# ## An element-wise function: a diagonal, and what tolerance to give
#
# The Jacobian of tanh(z) is diag(1 − tanh²z) (notes Concept 32). From differences, the entries off
# the diagonal are exactly zero here, but the diagonal carries the truncation error of the
# differences, about h² ≈ 1e-10 relative.

# %%
z = rng.standard_normal(5)
J = jacobian_fd(np.tanh, z)                     # (5, 5), outputs first
exact = 1 - np.tanh(z) ** 2
print("largest error of the differences:", np.max(np.abs(np.diag(J) - exact)))

form = td.reduce(J, wrt_axes=1, layout="numerator", rtol=1e-6)
print(form.structure, form.rule, form.array.ravel())
assert form.structure == "diagonal" and form.rule == "elementwise"
assert np.allclose(form.array.ravel(), exact, rtol=1e-6)

# %% [markdown]
# ## Redundancy, and what tolerance to give
#
# Off a diagonal, differences are often exactly zero (perturbing one zᵢ leaves the other outputs
# bit for bit the same). Redundancy is different: ∂Z/∂W for Z = WᵀA is the same A on every
# diagonal block (notes A.74–A.76, Concept 29), and differences put a different rounding error into
# each block, so the tolerance decides whether the blocks are "the same". The default `rtol` is
# 1000 machine epsilons (≈ 2e-13), right for exact arrays (a `td.derive` result or an autodiff
# Jacobian) and **too tight** for differences: the blocks stay apart. A sensible tolerance is the
# estimate's relative error: for central differences with step h, about 1e-6 leaves room for h² and
# for rounding (ε·|f|/h ≈ 1e-11).

# %%
m, n = 4, 3
W0, A = rng.standard_normal((m, n)), rng.standard_normal(m)


def layer(W):
    return W.T @ A                 # Z = WᵀA: ∂Z/∂W collapses to A (notes Notation 30)


Jw = jacobian_fd(layer, W0)        # (n, m, n): outputs first
too_tight = td.reduce(Jw, wrt_axes=2, layout="numerator", names=("W", "Z"))
sensible = td.reduce(Jw, wrt_axes=2, layout="numerator", names=("W", "Z"), rtol=1e-6)
print("default rtol:", too_tight.structure, too_tight.array.shape)
print("rtol=1e-6:   ", sensible.structure, sensible.array.shape)
print("what blocked the full collapse with the default:")
print(*[t for t in too_tight.tried if "constant" in t], sep="\n")   # the blocks differ by ~1e-11
assert too_tight.array.shape == (m, n)                       # one A per block, kept apart
assert sensible.structure == "delta" and sensible.rule == "outer"
assert sensible.array.shape == (m, 1)                        # A.76: one A
assert np.allclose(sensible.array.ravel(), A, rtol=1e-6)

# an exact Jacobian (here tensorderiv's own) collapses with the default tolerance
exact_ct = td.derive(td.var("W", (m, n)).T @ td.var("A", (m,)), "W").evaluate({"W": W0, "A": A})
exact_form = td.reduce(exact_ct.dense(), wrt_axes=2, names=("W", "Z"))
assert exact_form.structure == "delta" and np.allclose(exact_form.array.ravel(), A)

# %% [markdown]
# Too loose is wrong too: a tolerance larger than the real structure's scale claims structure that
# is not there. Here a second, independent Jacobian (∂(Mx)/∂x = Mᵀ, M with one small entry) is
# dense, and a loose rtol makes it look zero off a diagonal it does not have.

# %%
M = np.diag([1.0, 2.0, 3.0]) + 1e-4 * np.triu(np.ones((3, 3)), 1)
Jm = jacobian_fd(lambda x: M @ x, np.ones(3))
honest = td.reduce(Jm, wrt_axes=1, layout="numerator", rtol=1e-6)
loose = td.reduce(Jm, wrt_axes=1, layout="numerator", rtol=1e-3)
print("rtol=1e-6:", honest.structure, "| rtol=1e-3:", loose.structure)
assert honest.structure == "dense" and loose.structure == "diagonal"
assert np.allclose(honest.array, M.T)       # the notes' layout: ∂(Mx)/∂x = Mᵀ

# %% [markdown]
# ## A Kronecker product: ∂(AXB)/∂X
#
# For Y = AXB the Jacobian is, in the notes' layout, B ⊗ Aᵀ (rows vec X, columns vec Y). From
# differences of a plain numpy function:

# %%
Am, Bm = rng.standard_normal((2, 3)), rng.standard_normal((4, 2))
X0 = rng.standard_normal((3, 4))
Jk = jacobian_fd(lambda X: Am @ X @ Bm, X0)          # (2, 2, 3, 4): Y's axes, then X's
kform = td.reduce(Jk, wrt_axes=2, layout="numerator", names=("X", "Y"), rtol=1e-6)
print(kform.structure, [f.shape for f in kform.factors])
assert kform.structure == "kron"
mats = kform.kron_matrices()
assert np.allclose(np.kron(*mats), np.kron(Bm, Am.T), atol=1e-8)
assert np.allclose(kform.matrix(), np.kron(Bm, Am.T), atol=1e-8)

# %% [markdown]
# `td.plot(kform)` draws the collapsed form beside the expanded 4-tensor it stands for, in the
# notes' layout (X's axes first): a grid of (3×4) slices, one per entry of Y's two axes.

# %%
fig = td.plot(kform)
slices = [ax for ax in fig.axes if ax.get_label() == "slice"]
assert len([ax for ax in fig.axes if ax.get_label() == "collapsed"]) == 1
assert len(slices) == 2 * 2                                      # Y is (2×2): a 2-by-2 grid
assert all(ax.get_images()[0].get_array().shape == (3, 4) for ax in slices)
fig

# %% [markdown]
# ## Layouts: numerator (JAX, PyTorch) and the notes'
#
# JAX's `jacobian` and PyTorch's `autograd.functional.jacobian` put the output's axes first (the
# numerator layout); the notes put the input's first. `td.to_layout` moves the axes; `reduce`
# accepts either with `layout=`, and its forms are always in the notes' layout.

# %%
notes = td.to_layout(Jk, 2, source="numerator", target="notes")     # (3, 4, 2, 2)
print(Jk.shape, "->", notes.shape)
assert notes.shape == (*X0.shape, 2, 2)
assert np.array_equal(td.to_layout(notes, 2, source="notes", target="numerator"), Jk)

# the same derivative from tensorderiv, compared in both layouts
X, Av, Bv = td.var("X", (3, 4)), td.var("A", (2, 3)), td.var("B", (4, 2))
ct = td.derive(Av @ X @ Bv, X).evaluate({"X": X0, "A": Am, "B": Bm})
assert np.allclose(ct.dense(), notes, atol=1e-8)
assert np.allclose(ct.dense(layout="numerator"), Jk, atol=1e-8)
from_notes = td.reduce(notes, wrt_axes=2, rtol=1e-6)
assert from_notes.structure == "kron" and np.allclose(from_notes.expand(), kform.expand())

# %% [markdown]
# ## From JAX and PyTorch, when installed
#
# Exact Jacobians from autodiff need no loose tolerance: the default (1000 ε) is right. Neither
# library is a dependency of tensorderiv; each cell runs only when it is installed.

# %%
try:
    import jax
    import jax.numpy as jnp
except ImportError:
    jax = None
    print("JAX is not installed: skipped (pip install jax to run this cell)")

if jax is not None:
    jax.config.update("jax_enable_x64", True)
    Jj = np.asarray(jax.jacobian(lambda W: W.T @ jnp.asarray(A))(jnp.asarray(W0)))
    jform = td.reduce(Jj, wrt_axes=2, layout="numerator", names=("W", "Z"))
    print("JAX:", jform.structure, jform.array.shape)
    assert jform.structure == "delta"
    assert np.allclose(jform.array.ravel(), A)

# %%
try:
    import torch
except ImportError:
    torch = None
    print("PyTorch is not installed: skipped (pip install torch to run this cell)")

if torch is not None:
    At = torch.tensor(A, dtype=torch.float64)
    Jt = torch.autograd.functional.jacobian(lambda W: W.T @ At,
                                            torch.tensor(W0, dtype=torch.float64)).numpy()
    tform = td.reduce(Jt, wrt_axes=2, layout="numerator", names=("W", "Z"))
    print("PyTorch:", tform.structure, tform.array.shape)
    assert tform.structure == "delta"
    assert np.allclose(tform.array.ravel(), A)
