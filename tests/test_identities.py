"""Closed-form identities: Matrix Cookbook results, the notes' A.9 network, regressions.

Each case states its formula in a comment and checks tensorderiv's derivative (notes' layout:
the variable's axes first, then the output's) against the formula computed with numpy.
"""

import numpy as np
import pytest

import tensorderiv as td

rng = np.random.default_rng(20261126)
n, m, k = 3, 4, 2
A = rng.normal(size=(n, n))
B = rng.normal(size=(n, n))
X = rng.normal(size=(n, n)) + 3 * np.eye(n)  # well conditioned
a, b, x, y = (rng.normal(size=n) for _ in range(4))
R = rng.normal(size=(m, n))  # a data matrix
t = rng.normal(size=m)
lab = np.sign(rng.normal(size=m))  # labels ±1
W = rng.normal(size=(n, k))
onehot = np.eye(k)[1]

inv = np.linalg.inv
det = np.linalg.det


def sig(z):
    return 1 / (1 + np.exp(-z))


def softmax(v):
    e = np.exp(v - v.max())
    return e / e.sum()


VALUES = {"A": A, "B": B, "X": X, "a": a, "b": b, "x": x, "y": y, "R": R, "t": t, "lab": lab,
          "W": W, "onehot": onehot}
SHAPES = {key: v.shape for key, v in VALUES.items()}

I3 = np.eye(n)
Xi = inv(X)
z = W.T @ x

CASES = [
    # --- traces (Matrix Cookbook §2.5) ---
    # ∂tr(X)/∂X = I
    ("trace(X)", "X", 1, lambda: I3),
    # ∂tr(AX)/∂X = Aᵀ
    ("trace(A @ X)", "X", 1, lambda: A.T),
    # ∂tr(XA)/∂X = Aᵀ
    ("trace(X @ A)", "X", 1, lambda: A.T),
    # ∂tr(AXB)/∂X = AᵀBᵀ
    ("trace(A @ X @ B)", "X", 1, lambda: A.T @ B.T),
    # ∂tr(AXᵀB)/∂X = BA
    ("trace(A @ X.T @ B)", "X", 1, lambda: B @ A),
    # ∂tr(XᵀAX)/∂X = (A + Aᵀ)X
    ("trace(X.T @ A @ X)", "X", 1, lambda: (A + A.T) @ X),
    # ∂tr(XXᵀ)/∂X = 2X
    ("trace(X @ X.T)", "X", 1, lambda: 2 * X),
    # ∂tr(X²)/∂X = 2Xᵀ
    ("trace(X @ X)", "X", 1, lambda: 2 * X.T),
    # ∂tr(AXBX)/∂X = AᵀXᵀBᵀ + BᵀXᵀAᵀ
    ("trace(A @ X @ B @ X)", "X", 1, lambda: A.T @ X.T @ B.T + B.T @ X.T @ A.T),
    # ∂tr(X⁻¹)/∂X = −(X⁻²)ᵀ
    ("trace(inv(X))", "X", 1, lambda: -(Xi @ Xi).T),
    # ∂tr(AX⁻¹B)/∂X = −(X⁻¹BAX⁻¹)ᵀ
    ("trace(A @ inv(X) @ B)", "X", 1, lambda: -(Xi @ B @ A @ Xi).T),
    # --- bilinear and quadratic forms (§2.4) ---
    # ∂(aᵀx)/∂x = a
    ("a @ x", "x", 1, lambda: a),
    # ∂(xᵀAx)/∂x = (A + Aᵀ)x
    ("x @ A @ x", "x", 1, lambda: (A + A.T) @ x),
    # ∂²(xᵀAx)/∂x² = A + Aᵀ
    ("x @ A @ x", "x", 2, lambda: A + A.T),
    # ∂(aᵀXb)/∂X = abᵀ
    ("a @ X @ b", "X", 1, lambda: np.outer(a, b)),
    # ∂(aᵀXᵀb)/∂X = baᵀ
    ("a @ X.T @ b", "X", 1, lambda: np.outer(b, a)),
    # ∂(bᵀXᵀXc)/∂X = X(bcᵀ + cbᵀ), c = y
    ("b @ X.T @ X @ y", "X", 1, lambda: X @ (np.outer(b, y) + np.outer(y, b))),
    # ∂(Ax)/∂x = Aᵀ (notes Definition 13: row i ↔ xᵢ, column j ↔ (Ax)ⱼ)
    ("A @ x", "x", 1, lambda: A.T),
    # ∂(xᵀx)/∂x = 2x
    ("x @ x", "x", 1, lambda: 2 * x),
    # ∂(xᵀAy)/∂x∂y (mixed, axes x then y) = A
    ("x @ A @ y", ("x", "y"), 1, lambda: A),
    # --- norms ---
    # ∂‖x‖₂/∂x = x/‖x‖₂
    ("norm(x)", "x", 1, lambda: x / np.linalg.norm(x)),
    # ∂‖X‖_F/∂X = X/‖X‖_F
    ("norm(X)", "X", 1, lambda: X / np.linalg.norm(X)),
    # ∂²‖x‖₂/∂x² = (I − x̂x̂ᵀ)/‖x‖₂
    ("norm(x)", "x", 2, lambda: (I3 - np.outer(x, x) / (x @ x)) / np.linalg.norm(x)),
    # ∂‖Ax − b‖²/∂x = 2Aᵀ(Ax − b)
    ("sum((A @ x - b) ** 2)", "x", 1, lambda: 2 * A.T @ (A @ x - b)),
    # --- determinants (§2.1.2) ---
    # ∂det(X)/∂X = det(X) X⁻ᵀ
    ("det(X)", "X", 1, lambda: det(X) * Xi.T),
    # ∂log|det X|/∂X = X⁻ᵀ
    ("logdet(X)", "X", 1, lambda: Xi.T),
    # ∂det(AXB)/∂X = det(AXB) X⁻ᵀ (A, B square and invertible)
    ("det(A @ X @ B)", "X", 1, lambda: det(A @ X @ B) * Xi.T),
    # ∂²log|det X|/∂Xᵢⱼ∂Xₖₗ = −(X⁻¹)ⱼₖ (X⁻¹)ₗᵢ
    ("logdet(X)", "X", 2, lambda: -np.einsum("jk,li->ijkl", Xi, Xi)),
    # --- inverses (§2.2) ---
    # ∂(X⁻¹)ₖₗ/∂Xᵢⱼ = −(X⁻¹)ₖᵢ (X⁻¹)ⱼₗ
    ("inv(X)", "X", 1, lambda: -np.einsum("ki,jl->ijkl", Xi, Xi)),
    # ∂(aᵀX⁻¹b)/∂X = −X⁻ᵀabᵀX⁻ᵀ
    ("a @ inv(X) @ b", "X", 1, lambda: -Xi.T @ np.outer(a, b) @ Xi.T),
    # --- the notes' A.9 network, Z = WᵀA with A = x here ---
    # ∂Z/∂W: ∂zₖ/∂Wᵢⱼ = xᵢ δⱼₖ (A.74-A.76)
    ("W.T @ x", "W", 1, lambda: np.einsum("i,jk->ijk", x, np.eye(k))),
    # ∂Z/∂A = W (A.83, Notation 31)
    ("W.T @ x", "x", 1, lambda: W),
    # ∂tanh(Z)/∂Z = diag(1 − tanh²(Z)) (Notation 33)
    ("tanh(x)", "x", 1, lambda: np.diag(1 - np.tanh(x) ** 2)),
    # ∂σ(Z)/∂Z = diag(σ(Z)(1 − σ(Z)))
    ("sigmoid(x)", "x", 1, lambda: np.diag(sig(x) * (1 - sig(x)))),
    # ∂relu(Z)/∂Z = diag(step(Z)), relu′(0) = 0
    ("relu(x)", "x", 1, lambda: np.diag((x > 0).astype(float))),
    # ∂L/∂W = A (∂L/∂Z)ᵀ, L = Σ tanh(WᵀA) (A.61)
    ("sum(tanh(W.T @ x))", "W", 1, lambda: np.outer(x, 1 - np.tanh(z) ** 2)),
    # --- least squares ---
    # ∂ ½‖Rw − t‖²/∂w = Rᵀ(Rw − t)
    ("0.5 * sum((R @ x - t) ** 2)", "x", 1, lambda: R.T @ (R @ x - t)),
    # ∂² ½‖Rw − t‖²/∂w² = RᵀR
    ("0.5 * sum((R @ x - t) ** 2)", "x", 2, lambda: R.T @ R),
    # --- logistic regression, labels ±1 ---
    # ∇ Σ log(1 + exp(−yᵢ rᵢᵀw)) = −Rᵀ(y ⊙ σ(−y ⊙ Rw))
    ("sum(log(1 + exp(-lab * (R @ x))))", "x", 1,
     lambda: -R.T @ (lab * sig(-lab * (R @ x)))),
    # ∇² = Rᵀ diag(σ(s)(1 − σ(s))) R, s = y ⊙ Rw
    ("sum(log(1 + exp(-lab * (R @ x))))", "x", 2,
     lambda: R.T @ np.diag(sig(lab * (R @ x)) * (1 - sig(lab * (R @ x)))) @ R),
    # --- softmax regression (one sample, one-hot y) ---
    # L = logsumexp(Wᵀx) − yᵀWᵀx: ∂L/∂W = x (softmax(Wᵀx) − y)ᵀ
    ("logsumexp(W.T @ x) - onehot @ (W.T @ x)", "W", 1,
     lambda: np.outer(x, softmax(z) - onehot)),
    # softmax regression Hessian: ∂²L/∂Wᵢⱼ∂Wₖₗ = xᵢ xₖ (diag(p) − ppᵀ)ⱼₗ, p = softmax(Wᵀx)
    ("logsumexp(W.T @ x) - onehot @ (W.T @ x)", "W", 2,
     lambda: np.einsum("i,k,jl->ijkl", x, x, np.diag(softmax(z)) - np.outer(softmax(z),
                                                                           softmax(z)))),
    # ∂² logsumexp(v)/∂v² = diag(p) − ppᵀ, p = softmax(v)
    ("logsumexp(x)", "x", 2, lambda: np.diag(softmax(x)) - np.outer(softmax(x), softmax(x))),
    # ∂softmax(v)/∂v = diag(p) − ppᵀ (symmetric, so both layouts agree)
    ("softmax(x)", "x", 1, lambda: np.diag(softmax(x)) - np.outer(softmax(x), softmax(x))),
    # ∂/∂x Σ yⱼ log softmax(Wᵀx)ⱼ = W (y − softmax(Wᵀx) Σy)  (cross-entropy gradient)
    ("sum(onehot * log(softmax(W.T @ x)))", "x", 1,
     lambda: W @ (onehot - softmax(z) * onehot.sum())),
    # --- element-wise and reductions ---
    # ∂ Σ exp(x)/∂x = exp(x)
    ("sum(exp(x))", "x", 1, lambda: np.exp(x)),
    # ∂ mean(X)/∂X = 1/(n²)
    ("mean(X)", "X", 1, lambda: np.full((n, n), 1 / n**2)),
    # ∂(aᵀ diag(x) b)/∂x = a ⊙ b
    ("a @ diag(x) @ b", "x", 1, lambda: a * b),
    # ∂ sum(softplus(x))/∂x = σ(x)
    ("sum(softplus(x))", "x", 1, lambda: sig(x)),
    # ∂ Σ sin(x) cos(x) /∂x = cos²(x) − sin²(x) = cos(2x)
    ("sum(sin(x) * cos(x))", "x", 1, lambda: np.cos(2 * x)),
    # ∂ Σ √(x²+1)/∂x = x/√(x²+1)
    ("sum(sqrt(x ** 2 + 1))", "x", 1, lambda: x / np.sqrt(x**2 + 1)),
    # --- third order ---
    # ∂³ Σ xᵢ³ /∂x³ = 6 δᵢⱼₖ
    ("sum(x ** 3)", "x", 3, lambda: 6 * np.einsum("i,ij,ik->ijk", np.ones(n), I3, I3)),
    # ∂³ (aᵀx)³ /∂x³ = 6 a ⊗ a ⊗ a
    ("(a @ x) ** 3", "x", 3, lambda: 6 * np.einsum("i,j,k->ijk", a, a, a)),
]


@pytest.mark.parametrize(("text", "wrt", "order", "expected"), CASES,
                         ids=[f"{c[0]}|{c[1]}|{c[2]}" for c in CASES])
def test_identity(text, wrt, order, expected):
    d = td.derive(text, tuple(wrt) if isinstance(wrt, tuple) else wrt, shapes=SHAPES,
                  order=order)
    expr = td.parse(text, SHAPES)
    got = np.asarray(d.evaluate({v: VALUES[v] for v in expr.variables}))
    want = expected()
    names = wrt if isinstance(wrt, tuple) else (wrt,) * order
    assert got.shape == sum((SHAPES[v] for v in names), ()) + expr.shape == want.shape
    np.testing.assert_allclose(got, want, rtol=1e-9, atol=1e-9)


def test_there_are_at_least_forty_identities():
    assert len(CASES) >= 40
