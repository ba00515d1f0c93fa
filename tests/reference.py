"""The tests' own LSTM: plain float64 numpy in the paper's names, written independently of the
engine, for every test that needs a reference the engine did not compute (the math in
docs/architecture.md; Keras gate order i, f, g, o; sigmoid gates, tanh candidate and output)."""

from __future__ import annotations

from collections.abc import Callable, Mapping

import numpy as np

Edit = Callable[[np.ndarray, np.ndarray], tuple[np.ndarray, np.ndarray]]


def sigmoid(z: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-z))


def lstm(x: np.ndarray, kernel: np.ndarray, recurrent: np.ndarray, bias: np.ndarray,
         h0: np.ndarray | None = None, c0: np.ndarray | None = None, *, backward: bool = False,
         edits: Mapping[int, Edit] | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Run x (B, T, D) and return h, c (B, T, N) indexed by input position.

    ``edits`` {position: fn(h, c) -> (h, c)} is applied right after reading that position (a
    fork's state edit); ``backward`` reads the positions from last to first.
    """
    x = np.asarray(x, np.float64)
    kernel, recurrent, bias = (np.asarray(a, np.float64) for a in (kernel, recurrent, bias))
    b, t, _ = x.shape
    n = recurrent.shape[0]
    h = np.zeros((b, n)) if h0 is None else np.asarray(h0, np.float64)
    c = np.zeros((b, n)) if c0 is None else np.asarray(c0, np.float64)
    hs, cs = np.zeros((b, t, n)), np.zeros((b, t, n))
    for pos in (range(t - 1, -1, -1) if backward else range(t)):
        z = x[:, pos] @ kernel + h @ recurrent + bias
        i, f, g, o = sigmoid(z[:, :n]), sigmoid(z[:, n:2 * n]), np.tanh(z[:, 2 * n:3 * n]), sigmoid(z[:, 3 * n:])
        c = f * c + i * g
        h = o * np.tanh(c)
        if edits and pos in edits:
            h, c = edits[pos](h.copy(), c.copy())
        hs[:, pos], cs[:, pos] = h, c
    return hs, cs
