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
# # Testing a hand-written backpropagation with `check_derivative` and Hypothesis
#
# We write the backward pass of a 2-layer network by hand, in the layout of the lecture notes, and test
# it the way one tests any code: against an independent oracle, on many random inputs.
#
# **The layout (notes A.9).** A layer computes $Z = W^\mathsf{T} A + W_0$ with $W$ of shape
# $(m \times n)$: $m$ inputs, $n$ neurons, one example per column of $A$. In the notes' (denominator)
# layout a derivative of a scalar loss has the shape of the variable, so
#
# $$\frac{\partial \mathcal{L}}{\partial W} = A \left(\frac{\partial \mathcal{L}}{\partial Z}\right)^\mathsf{T}
# \quad (m \times n), \qquad
# \frac{\partial \mathcal{L}}{\partial A} = W \frac{\partial \mathcal{L}}{\partial Z}, \qquad
# \frac{\partial \mathcal{L}}{\partial Z^1} = \frac{\partial \mathcal{L}}{\partial A^1} * f'(Z^1)$$
#
# (the last one element-wise, notes A.9.4–A.9.5). Other libraries (JAX, PyTorch) use the transposed,
# *numerator* layout for Jacobians; the notes warn about it in Clarification 10, and `check_derivative`
# recognises it.

# %%
import numpy as np
from hypothesis import Phase, given, settings
from hypothesis import strategies as st

from tensorderiv.testing import check_derivative
from tensorderiv.testing.strategies import values_for

# %% [markdown]
# ## The network and its hand-written backward pass
#
# $Z^1 = W_1^\mathsf{T} X + b_1$, $A^1 = \tanh Z^1$, $Z^2 = W_2^\mathsf{T} A^1 + b_2$,
# $\mathcal{L} = \tfrac12 \sum (Z^2 - Y)^2$. The same loss as tensorderiv text is the oracle: its
# derivatives come from `td.derive`, which shares no code with the backward pass below.

# %%
LOSS = "0.5 * sum(square(W2.T @ tanh(W1.T @ X + b1) + b2 - Y))"


def forward(W1, b1, W2, b2, X, Y):
    A1 = np.tanh(W1.T @ X + b1)
    Z2 = W2.T @ A1 + b2
    return 0.5 * np.sum((Z2 - Y) ** 2)


def backward(W1, b1, W2, b2, X, Y):
    """All four gradients, each in the notes' layout (the shape of its variable)."""
    A1 = np.tanh(W1.T @ X + b1)
    dZ2 = W2.T @ A1 + b2 - Y              # ∂L/∂Z²      (n2 × b)
    dW2 = A1 @ dZ2.T                       # A¹ (∂L/∂Z²)ᵀ (n1 × n2), the shape of W2
    db2 = dZ2.sum(axis=1, keepdims=True)   #               (n2 × 1)
    dA1 = W2 @ dZ2                         # W2 ∂L/∂Z²    (n1 × b)
    dZ1 = dA1 * (1 - A1 ** 2)              # element-wise, tanh' = 1 − tanh²
    dW1 = X @ dZ1.T                        # X (∂L/∂Z¹)ᵀ  (m × n1), the shape of W1
    db1 = dZ1.sum(axis=1, keepdims=True)
    return {"W1": dW1, "b1": db1, "W2": dW2, "b2": db2}


# %% [markdown]
# ## One point, two oracles
#
# `check_derivative(f, at, df, wrt=...)` calls `df(**at)` and compares it with the true derivative.
# With the loss as text the truth is symbolic; with the numpy `forward` it is central differences
# with Richardson extrapolation. Both must agree with the backward pass.

# %%
rng = np.random.default_rng(0)
m, n1, n2, b = 3, 4, 2, 5
point = {"W1": rng.standard_normal((m, n1)), "b1": rng.standard_normal((n1, 1)),
         "W2": rng.standard_normal((n1, n2)), "b2": rng.standard_normal((n2, 1)),
         "X": rng.standard_normal((m, b)), "Y": rng.standard_normal((n2, b))}

for name in ["W1", "b1", "W2", "b2"]:
    def grad(name=name, **v):
        return backward(**v)[name]

    symbolic = check_derivative(LOSS, point, grad, wrt=name)
    numeric = check_derivative(forward, point, grad, wrt=name)
    print(f"{name}: shape {symbolic.shape}, symbolic error {symbolic.max_error:.1e}, "
          f"difference error {numeric.max_error:.1e} ({numeric.evaluations} evaluations)")


# %% [markdown]
# ## Many points: a Hypothesis test
#
# Sizes and values are drawn at random; `values_for` (from `tensorderiv.testing.strategies`) draws
# a float64 array for each variable. A failing example would be shrunk to a small one and reported
# with `check_derivative`'s diagnosis.

# %%
@st.composite
def networks(draw):
    m, n1, n2, b = (draw(st.integers(1, 4)) for _ in range(4))
    shapes = {"W1": (m, n1), "b1": (n1, 1), "W2": (n1, n2), "b2": (n2, 1),
              "X": (m, b), "Y": (n2, b)}
    return draw(values_for(shapes))


def make_test(backward):
    # no 'explain' phase: it re-runs a failing example under a tracer (10 s here) to point at
    # lines, and check_derivative's message already says what is wrong
    @settings(max_examples=25, deadline=None, derandomize=True,
              phases=[Phase.generate, Phase.shrink])
    @given(networks(), st.sampled_from(["W1", "b1", "W2", "b2"]))
    def test_backward(point, name):
        check_derivative(LOSS, point, lambda **v: backward(**v)[name], wrt=name)

    return test_backward


make_test(backward)()
print("the hand-written backward pass agrees with tensorderiv on every drawn network")


# %% [markdown]
# ## A deliberately wrong gradient, and its diagnosis
#
# A common slip: writing the weight gradient as $(\partial \mathcal{L}/\partial Z)\,A^\mathsf{T}$, the
# $(n \times m)$ matrix PyTorch would store, instead of the notes' $A\,(\partial \mathcal{L}/\partial Z)^\mathsf{T}$
# $(m \times n)$. Hypothesis finds it at once and `check_derivative` says what it is.

# %%
def wrong_backward(W1, b1, W2, b2, X, Y):
    grads = backward(W1, b1, W2, b2, X, Y)
    A1 = np.tanh(W1.T @ X + b1)
    dZ1 = (W2 @ (W2.T @ A1 + b2 - Y)) * (1 - A1 ** 2)
    grads["W1"] = dZ1 @ X.T                # (n1 × m): the transpose of the notes' layout
    return grads


try:
    make_test(wrong_backward)()
except AssertionError as error:
    message = str(error)
print(message)

# %% [markdown]
# The message names the mistake (here the two axes of `W1` are swapped: for a scalar loss the
# notes' and the numerator layout coincide, so the transpose shows as permuted axes), the worst entry
# by its axis labels, and by how much it is off.
#
# A second slip, a missing path: if the loss used `W1` twice — say a tied decoder,
# $\mathcal{L} = \tfrac12\lVert W_1 \tanh(W_1^\mathsf{T} x) - x\rVert^2$ — the gradient is the sum of one term per
# use (notes Definition 3). Forgetting the encoder's term is recognised too:

# %%
TIED = "0.5 * sum(square(W1 @ tanh(W1.T @ x) - x))"


def tied_decoder_only(W1, x):
    a = np.tanh(W1.T @ x)
    r = W1 @ a - x
    return np.outer(r, a)                  # ∂L/∂W1 through the decoder's W1 only


tied_point = {"W1": rng.standard_normal((4, 3)), "x": rng.standard_normal(4)}
try:
    check_derivative(TIED, tied_point, tied_decoder_only, wrt="W1")
except AssertionError as error:
    print(error)


# %% [markdown]
# Adding the encoder's path, $x\,\big((W_1^\mathsf{T} r) * (1 - a^2)\big)^\mathsf{T}$, fixes it:

# %%
def tied_full(W1, x):
    a = np.tanh(W1.T @ x)
    r = W1 @ a - x
    return np.outer(r, a) + np.outer(x, (W1.T @ r) * (1 - a ** 2))


check_derivative(TIED, tied_point, tied_full, wrt="W1")
