"""Independent float64 references for the gradient tests: the model's forward written once
over a tiny array backend, differentiated by jax.grad and by torch autograd.

The forward reads the loaded model's weights (the loaders are checked against the frameworks
elsewhere) and re-implements each op with the backend's own functions; a test first checks
that this forward reproduces the *framework's* recorded output (Keras, torch, ONNX Runtime),
then compares gradients. Total derivatives w.r.t. h_t and c_t come from zero "probe" tensors
added to h_t and c_t right where the cell produces them (before anything reads them).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from engine.capture.foreign_ops import OnnxLSTM, TorchLSTMLayer
from engine.network.layers import (
    LSTM,
    ActivationOp,
    Bidirectional,
    Dense,
    Identity,
    Masking,
    TimeDistributed,
)


class JaxBackend:
    def __init__(self) -> None:
        import jax
        jax.config.update("jax_enable_x64", True)
        import jax.numpy as jnp
        self.jax, self.xp = jax, jnp

    def const(self, a):
        return self.xp.asarray(np.asarray(a, np.float64))

    def sigmoid(self, x):
        return self.jax.nn.sigmoid(x)

    def tanh(self, x):
        return self.xp.tanh(x)

    def clip(self, x, lo, hi):
        return self.xp.clip(x, lo, hi)

    def where(self, m, a, b):
        return self.xp.where(self.xp.asarray(m), a, b)

    def stack(self, xs, axis):
        return self.xp.stack(xs, axis=axis)

    def unstack(self, x, axis):
        # one split, then same-shaped squeezes: eager jax compiles per shape and static index
        return [self.xp.squeeze(a, axis) for a in self.xp.split(x, x.shape[axis], axis=axis)]

    def transpose(self, x, perm):
        return self.xp.transpose(x, perm)

    def concat(self, xs, axis):
        return self.xp.concatenate(xs, axis=axis)

    def maximum0(self, x):
        return self.xp.maximum(x, 0.0)

    def softmax(self, x):
        return self.jax.nn.softmax(x, axis=-1)

    def grad(self, fn, params):
        return self.jax.tree_util.tree_map(np.asarray, self.jax.grad(fn)(params))


class NumpyBackend:
    """Plain float64 numpy: the forward alone, for finite differences."""

    xp = np

    def const(self, a):
        return np.asarray(a, np.float64)

    def sigmoid(self, x):
        return 1.0 / (1.0 + np.exp(-x))

    def tanh(self, x):
        return np.tanh(x)

    def clip(self, x, lo, hi):
        return np.clip(x, lo, hi)

    def where(self, m, a, b):
        return np.where(m, a, b)

    def stack(self, xs, axis):
        return np.stack(xs, axis=axis)

    def concat(self, xs, axis):
        return np.concatenate(xs, axis=axis)

    def unstack(self, x, axis):
        return list(np.moveaxis(x, axis, 0))

    def transpose(self, x, perm):
        return np.transpose(x, perm)

    def maximum0(self, x):
        return np.maximum(x, 0.0)

    def softmax(self, x):
        e = np.exp(x - x.max(axis=-1, keepdims=True))
        return e / e.sum(axis=-1, keepdims=True)


class TorchBackend:
    def __init__(self) -> None:
        import torch
        self.torch = torch

    def const(self, a):
        return self.torch.tensor(np.asarray(a, np.float64))

    def sigmoid(self, x):
        return self.torch.sigmoid(x)

    def tanh(self, x):
        return self.torch.tanh(x)

    def clip(self, x, lo, hi):
        return self.torch.clamp(x, lo, hi)

    def where(self, m, a, b):
        return self.torch.where(self.torch.as_tensor(np.asarray(m)), a, b)

    def stack(self, xs, axis):
        return self.torch.stack(xs, dim=axis)

    def unstack(self, x, axis):
        return list(x.unbind(axis))

    def transpose(self, x, perm):
        return x.permute(*perm)

    def concat(self, xs, axis):
        return self.torch.cat(xs, dim=axis)

    def maximum0(self, x):
        return self.torch.relu(x)          # relu'(0) = 0 as in jax and TensorFlow (clamp gives 1)

    def softmax(self, x):
        return self.torch.softmax(x, dim=-1)

    def grad(self, fn, params):
        torch = self.torch
        flat, paths = [], []

        def walk(node, path):
            if isinstance(node, dict):
                return {k: walk(v, (*path, k)) for k, v in node.items()}
            t = torch.tensor(np.asarray(node, np.float64), requires_grad=True)
            flat.append(t)
            paths.append(path)
            return t
        tensors = walk(params, ())
        value = fn(tensors)
        grads = torch.autograd.grad(value, flat, allow_unused=True)
        out: dict = {}
        for path, t, g in zip(paths, flat, grads, strict=True):
            node = out
            for k in path[:-1]:
                node = node.setdefault(k, {})
            node[path[-1]] = np.zeros(t.shape) if g is None else g.detach().numpy()
        return out


def act(be, a, x):
    name = a.name
    if name in ("tanh", "Tanh"):
        return be.tanh(x)
    if name in ("sigmoid", "Sigmoid"):
        return be.sigmoid(x)
    if name == "hard_sigmoid":
        return be.clip(x / 6.0 + 0.5, 0.0, 1.0)
    if name.startswith("hard_sigmoid (Keras 2"):
        return be.clip(0.2 * x + 0.5, 0.0, 1.0)
    if name in ("relu", "Relu"):
        return be.maximum0(x)
    if name == "linear":
        return x
    raise NotImplementedError(name)


def run_direction(be, w, x, mask, backward, h0, c0, eh, ec):
    """One direction over (B, T, D); h and c per input position (lists), probes added."""
    n, t_len = w.units, x.shape[1]
    k, u, b = be.const(w.kernel), be.const(w.recurrent_kernel), be.const(w.bias)
    peep = None if w.peephole is None else be.const(w.peephole)
    proj = None if w.projection is None else be.const(w.projection)
    h, c = h0, c0
    hs: list[Any] = [None] * t_len
    cs: list[Any] = [None] * t_len
    xs, ehs, ecs = be.unstack(x, 1), be.unstack(eh, 1), be.unstack(ec, 1)
    for t in (range(t_len - 1, -1, -1) if backward else range(t_len)):
        z = xs[t] @ k + h @ u + b
        zi, zf, zg, zo = z[:, :n], z[:, n:2 * n], z[:, 2 * n:3 * n], z[:, 3 * n:]
        if peep is not None:
            zi, zf = zi + peep[0] * c, zf + peep[1] * c
        if w.cell_clip is not None:
            zi, zf, zg = (be.clip(v, -w.cell_clip, w.cell_clip) for v in (zi, zf, zg))
        i = act(be, w.gate_activation, zi)
        f = 1.0 - i if w.input_forget else act(be, w.gate_activation, zf)
        g = act(be, w.cell_activation, zg)
        cn = f * c + i * g
        if mask is not None:
            cn = be.where(mask[:, t:t + 1], cn, c)
        cn = cn + ecs[t]
        if peep is not None:
            zo = zo + peep[2] * cn
        if w.cell_clip is not None:
            zo = be.clip(zo, -w.cell_clip, w.cell_clip)
        hn = act(be, w.gate_activation, zo) * act(be, w.output_activation, cn)
        if proj is not None:
            hn = hn @ proj
        if mask is not None:
            hn = be.where(mask[:, t:t + 1], hn, h)
        hn = hn + ehs[t]
        hs[t], cs[t] = hn, cn
        h, c = hn, cn
    return hs, cs


def forward(be, model, params, ids=None, layer_input=None, concrete_x=None):
    """The model's output and every direction's (hs, cs) from ``params`` (x, h0, c0, eh, ec);
    ``concrete_x`` is the numeric input a leading Masking layer reads its mask from."""
    y, mask = params["x"], None
    if ids is not None:
        mask = np.asarray(ids) != 0 if model.ops[0].mask_zero else None
    states: dict[str, tuple[list, list]] = {}
    ops = model.ops
    if layer_input is not None:
        ops = [model.ops[model.traced_layers[layer_input].op_index]]
    elif ids is not None:
        ops = ops[1:]                     # the Embedding's output is the differentiated input

    def run(name, w, x, m, backward):
        hs, cs = run_direction(be, w, x, m, backward, params["h0"][name], params["c0"][name],
                               params["eh"][name], params["ec"][name])
        states[name] = (hs, cs)
        return hs, cs

    for op in ops:
        if isinstance(op, Masking):
            keep = np.any(np.asarray(concrete_x) != op.mask_value, axis=-1)
            mask = keep
            y = be.where(keep[..., None], y, 0.0 * y)
        elif isinstance(op, Identity):
            pass
        elif isinstance(op, Dense) or (isinstance(op, TimeDistributed) and isinstance(op.inner, Dense)):
            d = op if isinstance(op, Dense) else op.inner
            y = y @ be.const(d.kernel)
            if d.bias is not None:
                y = y + be.const(d.bias)
            y = _out_act(be, d.activation, d.hard_sigmoid, y)
        elif isinstance(op, ActivationOp):
            y = _out_act(be, op.activation, op.hard_sigmoid, y)
        elif isinstance(op, LSTM):
            hs, _ = run(op.name, op.weights, y, mask, op.go_backwards)
            y = _direction_output(be, hs, mask, op.go_backwards, op.return_sequences,
                                  op.zero_output_for_mask, processing_order=True)
            mask = mask if op.return_sequences else None
        elif isinstance(op, Bidirectional):
            f_hs, _ = run(f"{op.name}/forward", op.forward, y, mask, False)
            b_hs, _ = run(f"{op.name}/backward", op.backward, y, mask, True)
            yf = _direction_output(be, f_hs, mask, False, op.return_sequences, True, False)
            yb = _direction_output(be, b_hs, mask, True, op.return_sequences, True, False)
            y = _merge(be, op.merge_mode, yf, yb)
            mask = mask if op.return_sequences else None
        elif isinstance(op, TorchLSTMLayer):
            outs = []
            for name, w, backward in op.traced():
                hs, _ = run(name, w, y, mask, backward)
                outs.append(be.stack(hs, 1))
            y = outs[0] if len(outs) == 1 else be.concat(outs, -1)
        elif isinstance(op, OnnxLSTM):
            outs = []
            for name, w, backward in op.traced():
                hs, _ = run(name, w, y, mask, backward)
                outs.append(_direction_output(be, hs, mask, False, True, True, False))
            y = be.stack(outs, 2)                                      # (B, T, dirs, H)
            if op.layout == 0:
                y = be.transpose(y, (1, 2, 0, 3))                      # (T, dirs, B, H)
        else:
            raise NotImplementedError(type(op).__name__)
    return y, states


def _merge(be, mode, yf, yb):
    if mode == "concat":
        return be.concat([yf, yb], -1)
    if mode == "sum":
        return yf + yb
    if mode == "mul":
        return yf * yb
    if mode == "ave":
        return (yf + yb) / 2.0
    return yf


def _out_act(be, name, hard_sigmoid, y):
    if name in (None, "linear"):
        return y
    if name == "softmax":
        return be.softmax(y)
    if name == "tanh":
        return be.tanh(y)
    if name == "sigmoid":
        return be.sigmoid(y)
    if name == "relu":
        return be.maximum0(y)
    raise NotImplementedError(name)


def _direction_output(be, hs, mask, backward, return_sequences, zero_masked, processing_order):
    t_len = len(hs)
    if not return_sequences:
        return hs[0] if backward else hs[t_len - 1]
    seq = list(hs)
    if zero_masked and mask is not None:
        seq = [be.where(mask[:, t:t + 1], seq[t], 0.0 * seq[t]) for t in range(t_len)]
    if backward and processing_order:
        seq = seq[::-1]
    return be.stack(seq, 1)


def params_for(model, result, x_float) -> dict[str, Any]:
    """Zero probes and the run's initial states for every traced direction of ``result``."""
    p: dict[str, Any] = {"x": np.asarray(x_float, np.float64), "h0": {}, "c0": {}, "eh": {}, "ec": {}}
    for tr in result.layers:
        p["h0"][tr.name] = np.asarray(tr.h0, np.float64)
        p["c0"][tr.name] = np.asarray(tr.c0, np.float64)
        p["eh"][tr.name] = np.zeros(tr.h.shape)
        p["ec"][tr.name] = np.zeros(tr.c.shape)
    return p
