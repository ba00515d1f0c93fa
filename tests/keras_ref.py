"""Reference numbers from real Keras 3: a layer's own output and its cell stepped by Keras.

Gates come from Keras ops on the layer's own variables with Keras' activation functions;
h and c come from stepping ``layer.cell`` — Keras' code, not ours.
"""

from __future__ import annotations

import numpy as np

keras = __import__("keras")


def randomize(model, seed: int, scale: float = 0.5) -> None:
    """Seeded random weights (moderate scale keeps gates away from saturation)."""
    rng = np.random.default_rng(seed)
    for layer in model.layers:
        weights = layer.get_weights()
        if weights:
            layer.set_weights([rng.normal(0, scale, w.shape).astype(np.float32) for w in weights])


def layer_input(model, layer, x):
    sub = keras.Model(model.inputs, layer.input)
    return np.asarray(sub.predict(x, verbose=0))


def step_cell(layer, x, h0=None, c0=None, mask=None, backward=False):
    """Step a Keras LSTM layer's cell; arrays input-aligned (B,T,N): h, c, i, f, g, o."""
    cell = layer.cell
    b, t_len, _ = x.shape
    n = cell.units
    h = np.zeros((b, n), np.float32) if h0 is None else h0.astype(np.float32)
    c = np.zeros((b, n), np.float32) if c0 is None else c0.astype(np.float32)
    out = {k: np.full((b, t_len, n), np.nan, np.float32) for k in ("h", "c", "i", "f", "g", "o")}
    kernel = np.asarray(cell.kernel)
    rec = np.asarray(cell.recurrent_kernel)
    bias = np.asarray(cell.bias) if cell.use_bias else np.zeros(4 * n, np.float32)
    act = keras.activations.get(cell.activation) if not callable(cell.activation) else cell.activation
    ract = cell.recurrent_activation
    order = range(t_len - 1, -1, -1) if backward else range(t_len)
    for t in order:
        xt = x[:, t]
        z = np.asarray(keras.ops.matmul(xt, kernel)) + np.asarray(keras.ops.matmul(h, rec)) + bias
        gates = {"i": np.asarray(ract(z[:, :n])), "f": np.asarray(ract(z[:, n:2 * n])),
                 "g": np.asarray(act(z[:, 2 * n:3 * n])), "o": np.asarray(ract(z[:, 3 * n:]))}
        new_h, (hh, cc) = cell(xt, [h, c], training=False)
        hh, cc = np.asarray(hh), np.asarray(cc)
        keep = np.ones(b, bool) if mask is None else mask[:, t]
        for k, v in gates.items():
            out[k][keep, t] = v[keep]
        h = np.where(keep[:, None], hh, h)
        c = np.where(keep[:, None], cc, c)
        out["h"][:, t] = h
        out["c"][:, t] = c
    return out
