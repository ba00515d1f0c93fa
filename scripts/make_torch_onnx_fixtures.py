"""Write the PyTorch and ONNX reference fixtures: files made by those libraries, and the
numbers those libraries computed on them.

Rerun (seeded, deterministic) with torch==2.13.0, onnx and onnxruntime installed:

    python scripts/make_torch_onnx_fixtures.py

Per case: the model file (``NAME.pt`` / ``NAME.safetensors`` / ``NAME.onnx``) and ``NAME.npz``
with ``x`` (B,T,D) batch-major, ``output`` (what the framework returns), ``meta`` (JSON), and
per traced direction k ``layer{k}_name``, ``layer{k}_direction``, ``layer{k}_h``, ``layer{k}_c``
(B,T,H) indexed by input position. h and c at every step come from the library itself: torch
steps a one-layer nn.LSTM one timestep at a time with the state passed in; ONNX Runtime runs
the node on every prefix (forward) or suffix (reverse) and reports Y_h / Y_c.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np
import onnx
import onnxruntime as ort
import torch
from onnx import TensorProto, helper, numpy_helper

ROOT = Path(__file__).resolve().parents[1]


def _save_npz(path: Path, **arrays) -> None:
    np.savez_compressed(path, **{k: (np.array(json.dumps(v)) if k == "meta" else v)
                                 for k, v in arrays.items()})


# --- PyTorch ----------------------------------------------------------------------------------
def _torch_step_reference(lstm: torch.nn.LSTM, layer: int, reverse: bool, x: np.ndarray):
    """h, c after every input position of one direction of one layer, stepped by torch."""
    suffix = f"_l{layer}" + ("_reverse" if reverse else "")
    sd = lstm.state_dict()
    hidden, proj = lstm.hidden_size, lstm.proj_size
    cell = torch.nn.LSTM(x.shape[2], hidden, batch_first=True, bias=lstm.bias, proj_size=proj)
    with torch.no_grad():
        for name in ("weight_ih", "weight_hh", "bias_ih", "bias_hh", "weight_hr"):
            if f"{name}{suffix}" in sd:
                getattr(cell, f"{name}_l0").copy_(sd[f"{name}{suffix}"])
    b, t_len, _ = x.shape
    h_size = proj or hidden
    hs = np.zeros((b, t_len, h_size), np.float32)
    cs = np.zeros((b, t_len, hidden), np.float32)
    state = (torch.zeros(1, b, h_size), torch.zeros(1, b, hidden))
    order = range(t_len - 1, -1, -1) if reverse else range(t_len)
    with torch.no_grad():
        for t in order:
            _, state = cell(torch.from_numpy(x[:, t:t + 1]), state)
            hs[:, t], cs[:, t] = state[0][0].numpy(), state[1][0].numpy()
    return hs, cs


def _torch_case(out: Path, name: str, *, layers=1, bidirectional=False, bias=True, proj=0,
                prefix="", features=3, hidden=5, steps=7, batch=2, seed=0, safetensors=False) -> None:
    torch.manual_seed(seed)
    lstm = torch.nn.LSTM(features, hidden, num_layers=layers, bidirectional=bidirectional,
                         bias=bias, batch_first=True, proj_size=proj)
    x = np.random.default_rng(seed).normal(size=(batch, steps, features)).astype(np.float32)
    with torch.no_grad():
        output = lstm(torch.from_numpy(x))[0].numpy()
    refs: dict = {"x": x, "output": output}
    layer_in = x
    names = []
    k = 0
    for layer in range(layers):
        outs = []
        for reverse in ([False, True] if bidirectional else [False]):
            h, c = _torch_step_reference(lstm, layer, reverse, layer_in)
            base = f"l{layer}" + ("_reverse" if reverse else "")
            lname = f"{prefix}.{base}" if prefix else base
            names.append(lname)
            refs.update({f"layer{k}_name": np.array(lname),
                         f"layer{k}_direction": np.array("backward" if reverse else "forward"),
                         f"layer{k}_h": h, f"layer{k}_c": c, f"layer{k}_x": layer_in})
            outs.append(h)
            k += 1
        layer_in = np.concatenate(outs, axis=-1)
    assert np.allclose(layer_in, output, atol=1e-6), name     # stepping reproduces nn.LSTM
    state = {(f"{prefix}." if prefix else "") + key: v for key, v in lstm.state_dict().items()}
    if prefix:   # a larger module: a Linear head beside the LSTM
        head = torch.nn.Linear(hidden * (2 if bidirectional else 1) if not proj else proj, 2)
        state.update({f"head.{key}": v for key, v in head.state_dict().items()})
    if safetensors:
        from safetensors.torch import save_file
        save_file({key: v.contiguous() for key, v in state.items()}, out / f"{name}.safetensors")
    else:
        torch.save(state, out / f"{name}.pt")
    meta = {"case": name, "torch": torch.__version__, "layers": layers, "bidirectional": bidirectional,
            "bias": bias, "proj_size": proj, "prefix": prefix, "traced_layers": names}
    _save_npz(out / f"{name}.npz", meta=meta, **refs)


# --- ONNX ---------------------------------------------------------------------------------------
def _onnx_graph(w, r, b, p, *, direction, clip=None, hidden=4):
    inputs = ["X", "W", "R", "B" if b is not None else "", "", "", "", "P" if p is not None else ""]
    while inputs and inputs[-1] == "":
        inputs.pop()
    attrs = {"hidden_size": hidden, "direction": direction}
    if clip is not None:
        attrs["clip"] = clip
    node = helper.make_node("LSTM", inputs, ["Y", "Y_h", "Y_c"], name="lstm_node", **attrs)
    inits = [numpy_helper.from_array(w, "W"), numpy_helper.from_array(r, "R")]
    if b is not None:
        inits.append(numpy_helper.from_array(b, "B"))
    if p is not None:
        inits.append(numpy_helper.from_array(p, "P"))
    graph = helper.make_graph(
        [node], "lstm_graph",
        [helper.make_tensor_value_info("X", TensorProto.FLOAT, [None, None, w.shape[2]])],
        [helper.make_tensor_value_info(n, TensorProto.FLOAT, [None] * k)
         for n, k in (("Y", 4), ("Y_h", 3), ("Y_c", 3))],
        inits)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 14)])
    model.ir_version = 8
    onnx.checker.check_model(model)
    return model


def _onnx_case(out: Path, name: str, *, direction="forward", bias=True, peephole=False, clip=None,
               features=3, hidden=4, steps=6, batch=2, seed=0) -> None:
    rng = np.random.default_rng(seed)
    dirs = 2 if direction == "bidirectional" else 1
    w = rng.normal(0, 0.5, (dirs, 4 * hidden, features)).astype(np.float32)
    r = rng.normal(0, 0.5, (dirs, 4 * hidden, hidden)).astype(np.float32)
    b = rng.normal(0, 0.3, (dirs, 8 * hidden)).astype(np.float32) if bias else None
    p = rng.normal(0, 0.3, (dirs, 3 * hidden)).astype(np.float32) if peephole else None
    model = _onnx_graph(w, r, b, p, direction=direction, clip=clip, hidden=hidden)
    onnx.save(model, out / f"{name}.onnx")
    sess = ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"])
    x = rng.normal(size=(batch, steps, features)).astype(np.float32)
    seq = np.ascontiguousarray(x.transpose(1, 0, 2))                  # layout 0: (T, B, D)
    y = sess.run(None, {"X": seq})[0]
    refs = {"x": x, "onnx_input": seq, "output": y}
    names = ["lstm_node/forward", "lstm_node/backward"][:dirs] if direction != "reverse" \
        else ["lstm_node/backward"]
    for k, lname in enumerate(names):
        backward = lname.endswith("backward")
        d = 1 if direction == "bidirectional" and backward else 0
        h = np.zeros((batch, steps, hidden), np.float32)
        c = np.zeros((batch, steps, hidden), np.float32)
        for t in range(steps):
            part = seq[t:] if backward else seq[:t + 1]               # reverse reads from the end
            _, yh, yc = sess.run(None, {"X": np.ascontiguousarray(part)})
            h[:, t], c[:, t] = yh[d], yc[d]
        assert np.allclose(h.transpose(1, 0, 2), y[:, d], atol=1e-6), name
        refs.update({f"layer{k}_name": np.array(lname),
                     f"layer{k}_direction": np.array("backward" if backward else "forward"),
                     f"layer{k}_h": h, f"layer{k}_c": c})
    meta = {"case": name, "onnx": onnx.__version__, "onnxruntime": ort.__version__,
            "direction": direction, "bias": bias, "peephole": peephole, "clip": clip,
            "traced_layers": names}
    _save_npz(out / f"{name}.npz", meta=meta, **refs)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--out", default=str(ROOT / "tests" / "fixtures"))
    args = parser.parse_args()
    torch_dir, onnx_dir = Path(args.out) / "torch", Path(args.out) / "onnx"
    torch_dir.mkdir(parents=True, exist_ok=True)
    onnx_dir.mkdir(parents=True, exist_ok=True)
    _torch_case(torch_dir, "lstm_1layer", seed=1)
    _torch_case(torch_dir, "lstm_3layer_bidirectional", layers=3, bidirectional=True, seed=2)
    _torch_case(torch_dir, "lstm_nobias", bias=False, seed=3)
    _torch_case(torch_dir, "lstm_proj", proj=3, hidden=6, seed=4)
    _torch_case(torch_dir, "module_prefix", prefix="lstm", layers=2, seed=5)
    _torch_case(torch_dir, "lstm_safetensors", layers=2, bidirectional=True, seed=6, safetensors=True)
    _onnx_case(onnx_dir, "forward", seed=1)
    _onnx_case(onnx_dir, "reverse", direction="reverse", seed=2)
    _onnx_case(onnx_dir, "bidirectional", direction="bidirectional", seed=3)
    _onnx_case(onnx_dir, "no_bias", bias=False, seed=4)
    _onnx_case(onnx_dir, "peephole_clip", peephole=True, clip=0.5, direction="bidirectional", seed=5)
    print(f"wrote fixtures to {torch_dir} and {onnx_dir}")


if __name__ == "__main__":
    main()
