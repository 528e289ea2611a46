"""A corpus of textbook derivatives, kept as data: ``(expression, wrt, order)``.

Sources: the Matrix Cookbook (numbers in brackets), SymPy's matrix-derivative tests
(``sympy/matrices/expressions/tests/test_derivatives.py``), the lecture notes (A.2-A.9) and
classic machine-learning losses. Shapes are in :data:`SHAPES`; values from :func:`corpus_values`.
"""

import numpy as np

SHAPES = {
    "x": (3,), "a": (3,), "b": (3,), "c": (3,), "d": (3,), "z": (3,), "w": (3,), "q": (3,),
    "y": (3,), "v": (2,), "k": (2,),
    "A": (3, 3), "B": (3, 3), "C": (3, 3), "D": (3, 3), "X": (3, 3), "P": (3, 3),
    "N": (3, 2), "K": (2, 2), "W": (3, 2), "R": (5, 3), "t": (5,), "r": (5,), "s": (),
    "W1": (3, 4), "b1": (4, 1), "W2": (4, 2), "b2": (2, 1), "Xb": (3, 5), "Yb": (2, 5),
    "Z": (2, 5), "Ab": (3, 5), "xc": (3, 1), "ac": (3, 1), "vc": (2, 1),
}
POSITIVE = {"q", "P"}  # log, sqrt and fractional powers need positive entries
SQUARE = {"A", "B", "C", "D", "X", "K"}  # well conditioned: + 3 I
PROBABILITY = {"t"}  # labels in (0, 1)

CORPUS = [
    # ---- linear and quadratic forms (Cookbook (69)-(90); notes A.2-A.5)
    ("a @ x", "x", 1), ("x @ a", "x", 1), ("A @ x", "x", 1), ("x @ A", "x", 1),
    ("x @ x", "x", 1), ("x.T @ A @ x", "x", 1), ("x.T @ A @ x", "x", 2),
    ("x.T @ A @ x", "A", 1), ("a @ X @ b", "X", 1), ("a @ X.T @ b", "X", 1),
    ("a @ X.T @ X @ b", "X", 1), ("b @ X.T @ D @ X @ c", "X", 1),
    ("(B @ x + b) @ C @ (D @ x + d)", "x", 1), ("sum((A @ x - b) ** 2)", "x", 1),
    ("sum((A @ x - b) ** 2)", "x", 2), ("(A @ x - b) @ C @ (A @ x - b)", "x", 1),
    ("(A @ x - b) @ C @ (A @ x - b)", "x", 2), ("norm(x)", "x", 1), ("norm(x - a)", "x", 1),
    ("norm(X)", "X", 1), ("norm(x) ** 2", "x", 1), ("sum(X ** 2)", "X", 1),
    ("a @ x + b @ x", "x", 1), ("A @ x + b", "x", 1), ("A @ (x * x)", "x", 1),
    ("x * a", "x", 1), ("A @ B @ x", "x", 1), ("x @ A @ x * (a @ x)", "x", 1),
    ("W.T @ x", "x", 1), ("W.T @ x", "W", 1), ("s * A", "s", 1), ("s * x", "s", 1),
    ("s * s * A", "s", 1), ("exp(s) * a", "s", 1),
    ("(x @ x) * a", "x", 1), ("B @ A @ x", "x", 1), ("x @ A @ B @ x", "x", 1),
    # ---- traces (Cookbook (99)-(121); SymPy)
    ("trace(X)", "X", 1), ("trace(A @ X)", "X", 1), ("trace(X @ A)", "X", 1),
    ("trace(A @ X @ B)", "X", 1), ("trace(A @ X.T @ B)", "X", 1), ("trace(X.T @ A)", "X", 1),
    ("trace(X.T)", "X", 1), ("trace(X @ X)", "X", 1), ("trace(X @ B @ X)", "X", 1),
    ("trace(X.T @ X)", "X", 1), ("trace(X @ X.T)", "X", 1), ("trace(X.T @ B @ X)", "X", 1),
    ("trace(X @ B @ X.T)", "X", 1), ("trace(B @ X @ X.T)", "X", 1),
    ("trace(A @ X @ B @ X)", "X", 1), ("trace(X.T @ B @ X @ C)", "X", 1),
    ("trace(B.T @ X.T @ C @ X @ B)", "X", 1), ("trace(X @ X @ X)", "X", 1),
    ("trace(A @ X @ B @ X.T @ C)", "X", 1), ("sum(A * X)", "X", 1), ("trace(X) ** 2", "X", 1),
    ("trace(X @ X) * trace(X)", "X", 1), ("trace(A @ X) * trace(B @ X)", "X", 1),
    ("trace(X.T @ X) ** 0.5", "X", 1), ("trace(X + A)", "X", 1), ("trace(s * X)", "s", 1),
    # ---- determinants (Cookbook (49)-(58))
    ("det(X)", "X", 1), ("logdet(X)", "X", 1), ("det(inv(X))", "X", 1),
    ("det(A @ X @ B)", "X", 1), ("det(N.T @ A @ N)", "N", 1), ("det(N.T @ N)", "N", 1),
    ("logdet(N.T @ N)", "N", 1), ("logdet(N.T @ A @ N)", "N", 1), ("det(X @ X)", "X", 1),
    ("logdet(X @ X.T)", "X", 1), ("det(X.T)", "X", 1), ("logdet(A @ X)", "X", 1),
    ("det(X) ** 2", "X", 1), ("logdet(X) * trace(X)", "X", 1), ("det(s * A)", "s", 1),
    ("logdet(X + A)", "X", 1), ("det(N.T @ P @ N)", "N", 1), ("logdet(inv(X))", "X", 1),
    # ---- inverses (Cookbook (59)-(64), (124)-(127))
    ("a @ inv(X) @ b", "X", 1), ("trace(A @ inv(X) @ B)", "X", 1), ("trace(inv(X))", "X", 1),
    ("trace(inv(X) @ A)", "X", 1), ("trace(inv(N.T @ C @ N) @ K)", "N", 1),
    ("trace(inv(X.T @ C @ X) @ (X.T @ B @ X))", "X", 1), ("a @ inv(X + A) @ b", "X", 1),
    ("x @ inv(A) @ x", "x", 1), ("inv(X) @ a", "a", 1), ("a @ inv(X) @ inv(X) @ b", "X", 1),
    ("trace(inv(X @ X))", "X", 1), ("sum(inv(X))", "X", 1), ("trace(inv(X) @ A @ inv(X))", "X", 1),
    ("a @ inv(s * A) @ b", "s", 1), ("v @ inv(N.T @ N) @ v", "N", 1),
    # ---- element-wise functions and Hadamard products in bilinear forms
    ("a @ sin(X) @ b", "X", 1), ("a @ exp(X) @ b", "X", 1), ("a @ tanh(X) @ b", "X", 1),
    ("a @ (A * X * B) @ b", "X", 1), ("a @ (X * X) @ b", "X", 1), ("a @ (A * X) @ b", "X", 1),
    ("sum(sin(X))", "X", 1), ("sum(exp(A @ X))", "X", 1), ("sum(log(q))", "q", 1),
    ("sum(X * A * X)", "X", 1), ("a @ sigmoid(X) @ b", "X", 1), ("a @ (X ** 3) @ b", "X", 1),
    ("tanh(z)", "z", 1), ("sigmoid(z)", "z", 1), ("exp(z)", "z", 1), ("sin(z)", "z", 1),
    ("relu(z)", "z", 1), ("softplus(z)", "z", 1), ("z * z", "z", 1), ("a * z", "z", 1),
    ("square(z)", "z", 1), ("sqrt(q)", "q", 1), ("log(q)", "q", 1), ("q ** 3", "q", 1),
    ("abs(z)", "z", 1), ("z / q", "q", 1), ("cos(A @ x)", "x", 1), ("sum(exp(z))", "z", 2),
    ("sum(tanh(z))", "z", 2), ("sum(sigmoid(z))", "z", 2), ("z * sin(z)", "z", 1),
    # ---- softmax, log-softmax, cross-entropy, logsumexp
    ("softmax(z)", "z", 1), ("log(softmax(z))", "z", 1), ("logsumexp(z)", "z", 1),
    ("logsumexp(z)", "z", 2), ("-y @ log(softmax(z))", "z", 1), ("logsumexp(z) - y @ z", "z", 1),
    ("-k @ log(softmax(W.T @ x))", "W", 1), ("-k @ log(softmax(W.T @ x))", "x", 1),
    ("softmax(A @ x)", "x", 1), ("softmax(z) @ a", "z", 1), ("logsumexp(A @ x)", "x", 1),
    ("logsumexp(X)", "X", 1),
    ("-sum(Z * log(softmax(N.T @ Ab)))", "N", 1), ("logsumexp(W.T @ x) - k @ (W.T @ x)", "W", 1),
    ("softmax(z) @ softmax(z)", "z", 1), ("-sum(Z * log(softmax(N.T @ Ab)))", "Ab", 1),
    ("logsumexp(z)", "z", 1), ("log(sum(exp(z))) - y @ z", "z", 1),
    ("exp(z) / sum(exp(z))", "z", 1),
    ("sum(log(sum(exp(N.T @ Ab), axis=1))) - sum(Z * (N.T @ Ab))", "N", 1),
    # ---- logistic losses
    ("sum(log(1 + exp(-r * (R @ w))))", "w", 1), ("sum(log(1 + exp(-r * (R @ w))))", "w", 2),
    ("-sum(t * log(sigmoid(R @ w)) + (1 - t) * log(1 - sigmoid(R @ w)))", "w", 1),
    ("-sum(t * log(sigmoid(R @ w)) + (1 - t) * log(1 - sigmoid(R @ w)))", "w", 2),
    ("log(sigmoid(a @ x))", "x", 1), ("log(1 - sigmoid(a @ x))", "x", 1),
    ("sum(softplus(R @ w))", "w", 1), ("-t @ log(sigmoid(R @ w))", "w", 1),
    ("-(1 - t) @ log(1 - sigmoid(R @ w))", "w", 1), ("log(sigmoid(w @ x))", "w", 2),
    # ---- least squares and regression
    ("0.5 * sum((R @ w - r) ** 2)", "w", 1), ("0.5 * sum((R @ w - r) ** 2)", "w", 2),
    ("0.5 * sum((R @ w - r) ** 2) + 0.5 * w @ w", "w", 1), ("mean((R @ w - r) ** 2)", "w", 1),
    ("norm(R @ w - r)", "w", 1), ("sum(abs(R @ w - r))", "w", 1),
    # ---- neural networks (notes A.9), with and without a bias column
    ("sum(tanh(W.T @ x))", "W", 1), ("tanh(W.T @ x)", "x", 1), ("sigmoid(w @ x)", "w", 1),
    ("0.5 * sum(square(W2.T @ tanh(W1.T @ Xb + b1) + b2 - Yb))", "W1", 1),
    ("0.5 * sum(square(W2.T @ tanh(W1.T @ Xb + b1) + b2 - Yb))", "b1", 1),
    ("0.5 * sum(square(W2.T @ tanh(W1.T @ Xb + b1) + b2 - Yb))", "W2", 1),
    ("0.5 * sum(square(W2.T @ tanh(W1.T @ Xb + b1) + b2 - Yb))", "b2", 1),
    ("0.5 * sum(square(W2.T @ tanh(W1.T @ Xb) - Yb))", "W1", 1),
    ("0.5 * sum(square(W2.T @ tanh(W1.T @ Xb) - Yb))", "W2", 1),
    ("0.5 * sum(square(W2.T @ tanh(W1.T @ Xb) - Yb))", "Xb", 1),
    ("sum(relu(W1.T @ Xb + b1))", "b1", 1), ("sum(sigmoid(W1.T @ Xb + b1))", "W1", 1),
    ("0.5 * sum(square(W.T @ tanh(A @ x) - v))", "W", 1),
    ("0.5 * sum(square(W.T @ tanh(A @ x) - v))", "A", 1),
    ("0.5 * sum(square(W.T @ tanh(A @ x) - v))", "x", 1),
    ("0.5 * sum(square(W @ tanh(W.T @ x) - x))", "W", 1), ("sum(tanh(W.T @ xc))", "W", 1),
    ("sum(tanh(W.T @ xc))", "xc", 1), ("sum(xc.T @ A @ xc)", "xc", 1), ("sum(ac.T @ xc)", "xc", 1),
    ("sum(xc * xc)", "xc", 1), ("0.5 * sum((W.T @ xc - vc) ** 2)", "W", 1),
    ("0.5 * sum((R @ W - outer(r, v)) ** 2)", "W", 1), ("sum(softplus(W.T @ x))", "x", 2),
]


def corpus_values(names, seed=0):
    """Generic values: square matrices well conditioned, positive where a log needs it."""
    rng = np.random.default_rng(seed)
    out = {}
    for n in names:
        shape = SHAPES[n]
        v = rng.normal(size=shape)
        if n in POSITIVE:
            v = np.abs(v) + 0.5
            if len(shape) == 2:
                v = v @ v.T + np.eye(shape[0])
        if n in SQUARE:
            v = v + 3 * np.eye(shape[0])
        if n in PROBABILITY:
            v = rng.uniform(0.1, 0.9, size=shape)
        out[n] = v
    return out
