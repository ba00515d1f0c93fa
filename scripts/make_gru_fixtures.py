"""Write the GRU and simple-RNN reference fixtures: files made by the frameworks, and the
numbers the frameworks computed on them (docs/architecture.md, "GRU and simple RNN").

Rerun (seeded, deterministic) with torch==2.13.0, Keras 3, onnx and onnxruntime installed (Keras runs on its
numpy backend unless ``KERAS_BACKEND`` says otherwise):

    python scripts/make_gru_fixtures.py

Per case, in tests/fixtures/gru/: the model file and ``NAME.npz`` with ``x`` (B, T, D) batch
first, ``output`` (what the framework returns), ``meta`` (JSON: the case's options) and per
traced direction k ``layer{k}_name``, ``layer{k}_direction`` and ``layer{k}_h`` (B, T, N)
indexed by input position. Each step's h comes from the library itself: torch steps a
one-layer module one position at a time with the state passed in; Keras steps the layer's own
cell (``out, [h] = layer.cell(x[:, t], [h])``) in processing order, carrying h on a masked
step, and the script checks that those steps give the layer's own output. Keras cases also
save ``NAME.h5`` (Keras 3's legacy HDF5 writer). ONNX cases are one GRU or RNN node written
with ``onnx.helper``; their ``Y`` from ONNX Runtime holds every direction's h at every input
position, and ``onnx_input`` is X as the node reads it.
"""

from __future__ import annotations

import argparse
import json
import os
from pathlib import Path

import numpy as np
import torch

os.environ.setdefault("KERAS_BACKEND", "numpy")

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "tests" / "fixtures" / "gru"


def _save_npz(path: Path, **arrays) -> None:
    np.savez_compressed(path, **{k: (np.array(json.dumps(v)) if k == "meta" else v)
                                 for k, v in arrays.items()})


# --- PyTorch ----------------------------------------------------------------------------------
def _torch_module(kind: str, features: int, hidden: int, **options) -> torch.nn.Module:
    if kind == "gru":
        return torch.nn.GRU(features, hidden, batch_first=True, **options)
    return torch.nn.RNN(features, hidden, batch_first=True, **options)


def _torch_steps(module: torch.nn.Module, kind: str, layer: int, reverse: bool,
                 x: np.ndarray) -> np.ndarray:
    """h after every input position of one direction of one layer, stepped by torch."""
    suffix = f"_l{layer}" + ("_reverse" if reverse else "")
    sd = module.state_dict()
    options = {"bias": module.bias}
    if kind == "rnn":
        options["nonlinearity"] = module.nonlinearity
    one = _torch_module(kind, x.shape[2], module.hidden_size, **options)
    with torch.no_grad():
        for name in ("weight_ih", "weight_hh", "bias_ih", "bias_hh"):
            if f"{name}{suffix}" in sd:
                getattr(one, f"{name}_l0").copy_(sd[f"{name}{suffix}"])
    b, t_len, _ = x.shape
    hs = np.zeros((b, t_len, module.hidden_size), np.float32)
    state = torch.zeros(1, b, module.hidden_size)
    order = range(t_len - 1, -1, -1) if reverse else range(t_len)
    with torch.no_grad():
        for t in order:
            _, state = one(torch.from_numpy(x[:, t:t + 1]), state)
            hs[:, t] = state[0].numpy()
    return hs


def torch_case(name: str, kind: str, *, layers: int = 1, bidirectional: bool = False,
               bias: bool = True, nonlinearity: str = "tanh", prefix: str = "", features: int = 3,
               hidden: int = 5, steps: int = 7, batch: int = 2, seed: int = 0) -> None:
    torch.manual_seed(seed)
    options = {"num_layers": layers, "bidirectional": bidirectional, "bias": bias}
    if kind == "rnn":
        options["nonlinearity"] = nonlinearity
    module = _torch_module(kind, features, hidden, **options)
    x = np.random.default_rng(seed).normal(size=(batch, steps, features)).astype(np.float32)
    with torch.no_grad():
        output = module(torch.from_numpy(x))[0].numpy()
    refs: dict = {"x": x, "output": output}
    layer_in, k = x, 0
    for layer in range(layers):
        outs = []
        for reverse in ([False, True] if bidirectional else [False]):
            h = _torch_steps(module, kind, layer, reverse, layer_in)
            base = f"l{layer}" + ("_reverse" if reverse else "")
            refs.update({f"layer{k}_name": np.array(f"{prefix}.{base}" if prefix else base),
                         f"layer{k}_direction": np.array("backward" if reverse else "forward"),
                         f"layer{k}_h": h})
            outs.append(h)
            k += 1
        layer_in = np.concatenate(outs, axis=-1)
    state = module.state_dict()
    if prefix:
        state = {f"{prefix}.{key}": value for key, value in state.items()}
    torch.save(state, OUT / f"{name}.pt")
    meta = {"kind": kind, "layers": layers, "bidirectional": bidirectional, "bias": bias,
            "nonlinearity": nonlinearity, "seed": seed}
    _save_npz(OUT / f"{name}.npz", meta=meta, **refs)


def torch_cases() -> None:
    torch_case("torch_gru_2layer_bidirectional", "gru", layers=2, bidirectional=True, prefix="enc.rnn")
    torch_case("torch_gru_nobias", "gru", bias=False, seed=1)
    torch_case("torch_rnn_2layer_bidirectional", "rnn", layers=2, bidirectional=True, seed=2)


# --- Keras 3 ----------------------------------------------------------------------------------
def _keras_steps(layer, x: np.ndarray, mask: np.ndarray | None, backward: bool) -> np.ndarray:
    """h after every input position of one Keras GRU/SimpleRNN direction, stepped by its cell."""
    b, t_len, _ = x.shape
    h = np.zeros((b, layer.cell.units), np.float32)
    hs = np.zeros((b, t_len, layer.cell.units), np.float32)
    for t in (range(t_len - 1, -1, -1) if backward else range(t_len)):
        _, state = layer.cell(x[:, t], [h], training=False)
        new = np.asarray(state[0] if isinstance(state, (list, tuple)) else state, np.float32)
        if mask is not None:
            new = np.where(mask[:, t:t + 1], new, h)
        h = hs[:, t] = new
    return hs


def keras_case(name: str, build, *, features: int = 3, steps: int = 7, batch: int = 2,
               seed: int = 0, masked: bool = False) -> None:
    import keras
    keras.utils.set_random_seed(seed)
    inputs = keras.Input((steps, features))
    model = keras.Model(inputs, build(keras.layers)(inputs))
    rng = np.random.default_rng(seed)
    for layer in model.layers:        # seeded weights, biases too (Keras starts them at zero)
        layer.set_weights([rng.normal(0, 0.5, w.shape).astype(np.float32) for w in layer.get_weights()])
    x = rng.normal(size=(batch, steps, features)).astype(np.float32)
    if masked:                                  # a Masking layer: the last steps are padding
        x[0, -2:] = 0.0
    output = np.asarray(model.predict(x, verbose=0), np.float32)
    mask = np.any(x != 0.0, axis=-1) if masked else None
    refs: dict = {"x": x, "output": output}
    k = 0
    for layer in model.layers:
        cls = type(layer).__name__
        if cls == "Bidirectional":
            parts = [(f"{layer.name}/forward", layer.forward_layer, False),
                     (f"{layer.name}/backward", layer.backward_layer, True)]
        elif cls in ("GRU", "SimpleRNN"):
            parts = [(layer.name, layer, layer.go_backwards)]
        else:
            continue
        for lname, rnn, backward in parts:
            refs.update({f"layer{k}_name": np.array(lname),
                         f"layer{k}_direction": np.array("backward" if backward else "forward"),
                         f"layer{k}_h": _keras_steps(rnn, x, mask, backward)})
            k += 1
        own = np.asarray(keras.Model(inputs, layer.output).predict(x, verbose=0), np.float32)
        if cls != "Bidirectional" and layer.return_sequences and not layer.go_backwards:
            stepped = refs[f"layer{k - 1}_h"]
            keep = np.ones(stepped.shape[:2], bool) if mask is None else mask
            assert np.allclose(own[keep], stepped[keep], atol=1e-6, rtol=1e-6), name
    model.save(OUT / f"{name}.keras")
    model.save(OUT / f"{name}.h5")
    meta = {"keras": keras.__version__, "backend": keras.backend.backend(), "seed": seed,
            "layers": [type(layer).__name__ for layer in model.layers]}
    _save_npz(OUT / f"{name}.npz", meta=meta, **refs)


def keras_cases() -> None:
    keras_case("keras_gru_reset_after", lambda L: lambda x: L.Dense(2)(
        L.GRU(5, return_sequences=True)(L.Masking()(x))), masked=True)
    keras_case("keras_gru_reset_before", lambda L: lambda x: L.GRU(
        4, reset_after=False, go_backwards=True, recurrent_activation="hard_sigmoid")(x), seed=1)
    keras_case("keras_simplernn", lambda L: lambda x: L.SimpleRNN(
        4, activation="relu", return_sequences=True)(x), seed=2)
    keras_case("keras_bidirectional_gru", lambda L: lambda x: L.Bidirectional(
        L.GRU(4, return_sequences=True))(x), seed=3)


# --- ONNX -------------------------------------------------------------------------------------
def onnx_case(name: str, kind: str, *, direction: str = "forward", layout: int = 0,
              linear_before_reset: int = 0, lengths: bool = False, initial_h: bool = False,
              features: int = 3, hidden: int = 4, steps: int = 6, batch: int = 2, seed: int = 0) -> None:
    import onnx
    import onnxruntime as ort
    from onnx import TensorProto, helper, numpy_helper
    rng = np.random.default_rng(seed)
    dirs = 2 if direction == "bidirectional" else 1
    blocks = 3 if kind == "GRU" else 1
    w = rng.normal(0, 0.5, (dirs, blocks * hidden, features)).astype(np.float32)
    r = rng.normal(0, 0.5, (dirs, blocks * hidden, hidden)).astype(np.float32)
    b = rng.normal(0, 0.3, (dirs, 2 * blocks * hidden)).astype(np.float32)
    inits = [numpy_helper.from_array(w, "W"), numpy_helper.from_array(r, "R"),
             numpy_helper.from_array(b, "B")]
    x = rng.normal(size=(batch, steps, features)).astype(np.float32)
    inputs = ["X", "W", "R", "B", "", ""]
    if lengths:
        lens = np.array([steps - 2, steps][:batch], np.int32)
        inits.append(numpy_helper.from_array(lens, "lens"))
        inputs[4] = "lens"
    if initial_h:
        h0 = rng.normal(0, 0.5, (dirs, batch, hidden) if layout == 0 else (batch, dirs, hidden))
        inits.append(numpy_helper.from_array(h0.astype(np.float32), "h0"))
        inputs[5] = "h0"
    while inputs[-1] == "":
        inputs.pop()
    attrs = {"hidden_size": hidden, "direction": direction, "layout": layout}
    if kind == "GRU":
        attrs["linear_before_reset"] = linear_before_reset
    node = helper.make_node(kind, inputs, ["Y", "Y_h"], name=f"{kind.lower()}_node", **attrs)
    xdims = [None, None, features]
    graph = helper.make_graph([node], f"{kind.lower()}_graph",
                              [helper.make_tensor_value_info("X", TensorProto.FLOAT, xdims)],
                              [helper.make_tensor_value_info("Y", TensorProto.FLOAT, [None] * 4),
                               helper.make_tensor_value_info("Y_h", TensorProto.FLOAT, [None] * 3)],
                              inits)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 14)])
    model.ir_version = 8
    onnx.checker.check_model(model)
    onnx.save(model, OUT / f"{name}.onnx")
    sess = ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"])
    seq = np.ascontiguousarray(x if layout == 1 else x.transpose(1, 0, 2))
    y = sess.run(None, {"X": seq})[0]
    refs = {"x": x, "onnx_input": seq, "output": y}
    by_input = y if layout == 1 else y.transpose(2, 0, 1, 3)          # (B, T, dirs, N)
    names = {"forward": ["forward"], "reverse": ["backward"],
             "bidirectional": ["forward", "backward"]}[direction]
    for k, part in enumerate(names):
        refs.update({f"layer{k}_name": np.array(f"{node.name}/{part}"),
                     f"layer{k}_direction": np.array(part), f"layer{k}_h": by_input[:, :, k]})
    meta = {"kind": kind, "direction": direction, "layout": layout, "seed": seed,
            "linear_before_reset": linear_before_reset, "lengths": lengths,
            "initial_h": initial_h, "onnxruntime": ort.__version__}
    _save_npz(OUT / f"{name}.npz", meta=meta, **refs)


def onnx_cases() -> None:
    onnx_case("onnx_gru_lbr0", "GRU", seed=4)
    onnx_case("onnx_gru_lbr1_bidirectional", "GRU", direction="bidirectional",
              linear_before_reset=1, lengths=True, seed=5)
    # ONNX Runtime 1.x computes no GRU or RNN with layout=1 ("Batchwise recurrent operations
    # are not supported"), so every case here is layout 0
    onnx_case("onnx_gru_reverse_initial_h", "GRU", direction="reverse", linear_before_reset=1,
              initial_h=True, seed=6)
    onnx_case("onnx_rnn_bidirectional", "RNN", direction="bidirectional", initial_h=True, seed=7)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.parse_args()
    OUT.mkdir(parents=True, exist_ok=True)
    torch_cases()
    keras_cases()
    onnx_cases()


if __name__ == "__main__":
    main()
