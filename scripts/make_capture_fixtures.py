"""Write the capture fixtures: models as real frameworks write them, with LSTMs behind ops
LSTM Scope does not compute, and the numbers those frameworks computed on them.

Rerun (seeded, deterministic) with torch==2.13.0, onnx, onnxruntime and keras installed:

    KERAS_BACKEND=numpy python scripts/make_capture_fixtures.py

Per case in tests/fixtures/capture/: the model file, ``NAME.input.npz`` (the model's inputs by
name, what ``--input`` takes) and ``NAME.ref.npz``: ``output`` (the framework's model output),
``meta`` (JSON) and per traced layer k ``layer{k}_name``, ``layer{k}_x`` (what the framework's
LSTM received, batch first), ``layer{k}_h``, ``layer{k}_c`` (B, T, H) at every input position,
computed by the framework itself one step at a time, and for some ``layer{k}_gates``
(B, T, 4, N; i, f, g, o) computed by the framework's own ops from its own weights. An LSTM inside
a ``Loop``/``Scan`` body runs once per iteration: its runs are the samples, run-major.
"""

from __future__ import annotations

import json
import os
import warnings
from pathlib import Path
from typing import List  # noqa: UP035 - TorchScript reads typing.List annotations

import numpy as np

os.environ.setdefault("KERAS_BACKEND", "numpy")
ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "tests" / "fixtures" / "capture"


def _save(name: str, inputs: dict[str, np.ndarray], output: np.ndarray,
          layers: list[tuple], **meta) -> None:
    """``layers``: (name, x, h, c) or (name, x, h, c, gates) per traced layer."""
    np.savez_compressed(OUT / f"{name}.input.npz", **inputs)
    refs = {"output": np.asarray(output, np.float32), "meta": np.array(json.dumps(meta))}
    for k, (lname, x, h, c, *gates) in enumerate(layers):
        refs.update({f"layer{k}_name": np.array(lname), f"layer{k}_x": x,
                     f"layer{k}_h": h, f"layer{k}_c": c})
        if gates:
            refs[f"layer{k}_gates"] = np.asarray(gates[0], np.float32)
    np.savez_compressed(OUT / f"{name}.ref.npz", **refs)


# --- torch ------------------------------------------------------------------------------------
def torch_steps(lstm, x: np.ndarray, h0: np.ndarray | None = None, c0: np.ndarray | None = None):
    """h, c after every input position of a one-layer forward nn.LSTM (batch_first), stepped
    by torch one timestep at a time with the state passed in."""
    import torch
    b, t_len, _ = x.shape
    n = lstm.hidden_size
    hs = np.zeros((b, t_len, n), np.float32)
    cs = np.zeros((b, t_len, n), np.float32)
    state = (torch.zeros(1, b, n) if h0 is None else torch.from_numpy(h0)[None],
             torch.zeros(1, b, n) if c0 is None else torch.from_numpy(c0)[None])
    with torch.no_grad():
        for t in range(t_len):
            _, state = lstm(torch.from_numpy(x[:, t:t + 1]), state)
            hs[:, t], cs[:, t] = state[0][0].numpy(), state[1][0].numpy()
    return hs, cs


def lstm_input(module, run) -> np.ndarray:
    """The input an nn.LSTM receives while ``run()`` runs the model (a forward pre-hook)."""
    seen: dict[str, np.ndarray] = {}

    def hook(mod, args) -> None:          # returns None: the arguments stay as they are
        seen.setdefault("x", args[0].detach().numpy().copy())
    handle = module.register_forward_pre_hook(hook)
    try:
        out = run()
    finally:
        handle.remove()
    return seen["x"], out


def if_conv_lstm() -> None:
    """torch.onnx.export of a scripted conv -> LSTM model branching on a scalar input (the
    sample rate): each branch holds an LSTM node, weights reordered by Slice/Concat/Unsqueeze,
    initial state computed by Expand (both folded or captured)."""
    import torch
    torch.manual_seed(0)

    class Net(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.conv = torch.nn.Conv1d(3, 4, 3, padding=1)
            self.fast = torch.nn.LSTM(4, 5, batch_first=True)
            self.slow = torch.nn.LSTM(4, 5, batch_first=True)

        def forward(self, x, rate):
            y = torch.relu(self.conv(x.transpose(1, 2))).transpose(1, 2)
            if bool(rate > 8000):
                out, _ = self.fast(y)
            else:
                out, _ = self.slow(y * 0.5)
            return out

    net = Net().eval()
    x = np.random.default_rng(1).standard_normal((2, 9, 3)).astype(np.float32)
    torch.onnx.export(torch.jit.script(net), (torch.from_numpy(x), torch.tensor(16000)),
                      str(OUT / "if_conv_lstm.onnx"), dynamo=False, input_names=["x", "rate"],
                      opset_version=17)
    for rate, lstm, lname in ((16000, net.fast, "If/then/LSTM/forward"),
                              (4000, net.slow, "If/else/LSTM_1/forward")):
        with torch.no_grad():
            x_in, out = lstm_input(lstm, lambda r=rate: net(torch.from_numpy(x), torch.tensor(r)).numpy())
        h, c = torch_steps(lstm, x_in)
        _save(f"if_conv_lstm_{rate // 1000}k", {"x": x, "rate": np.array(rate, np.int64)}, out,
              [(lname, x_in, h, c)], model="if_conv_lstm.onnx", torch=torch.__version__)


def lstm_with_state_inputs() -> None:
    """torch.onnx.export of an nn.LSTM whose initial state is a graph input (h0, c0)."""
    import torch
    torch.manual_seed(2)

    class Net(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.lstm = torch.nn.LSTM(3, 4, batch_first=True)

        def forward(self, x, h0, c0):
            return self.lstm(x, (h0, c0))[0]

    net = Net().eval()
    rng = np.random.default_rng(2)
    x = rng.standard_normal((2, 6, 3)).astype(np.float32)
    h0, c0 = (rng.standard_normal((1, 2, 4)).astype(np.float32) for _ in range(2))
    torch.onnx.export(net, tuple(torch.from_numpy(a) for a in (x, h0, c0)),
                      str(OUT / "lstm_state_inputs.onnx"), dynamo=False,
                      input_names=["x", "h0", "c0"], opset_version=17)
    with torch.no_grad():
        out = net(*(torch.from_numpy(a) for a in (x, h0, c0))).numpy()
    h, c = torch_steps(net.lstm, x, h0[0], c0[0])
    _save("lstm_state_inputs", {"x": x, "h0": h0, "c0": c0}, out,
          [("/lstm/LSTM/forward", x, h, c)], model="lstm_state_inputs.onnx", torch=torch.__version__)


def lstm_state_tensor() -> None:
    """torch.onnx.export of an nn.LSTM whose state is one graph input ``state`` (2, 1, B, N),
    split by Gather + Unsqueeze: a state input the graph computes from, zero when not given.
    Two references: with the state given, and without it (torch run from zeros)."""
    import torch
    torch.manual_seed(14)

    class Net(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.lstm = torch.nn.LSTM(3, 4, batch_first=True)

        def forward(self, x, state):
            return self.lstm(x, (state[0], state[1]))[0]

    net = Net().eval()
    rng = np.random.default_rng(14)
    x = rng.standard_normal((2, 6, 3)).astype(np.float32)
    state = rng.normal(0, 0.5, (2, 1, 2, 4)).astype(np.float32)
    torch.onnx.export(net, (torch.from_numpy(x), torch.from_numpy(state)),
                      str(OUT / "lstm_state_tensor.onnx"), dynamo=False, opset_version=17,
                      input_names=["x", "state"], output_names=["y"],
                      dynamic_axes={"x": {0: "B", 1: "T"}, "state": {2: "B"}})
    for case, given in (("given", state), ("zero", np.zeros_like(state))):
        with torch.no_grad():
            out = net(torch.from_numpy(x), torch.from_numpy(given)).numpy()
        h, c = torch_steps(net.lstm, x, given[0, 0], given[1, 0])
        inputs = {"x": x, "state": state} if case == "given" else {"x": x}
        _save(f"lstm_state_tensor_{case}", inputs, out, [("/lstm/LSTM/forward", x, h, c)],
              model="lstm_state_tensor.onnx", torch=torch.__version__)


def lstmcell_export() -> None:
    """torch.onnx.export of an nn.LSTMCell loop: torch writes the cell out as Gemm, Sigmoid,
    Tanh ... (no LSTM node); LSTM Scope says what it found."""
    import torch
    torch.manual_seed(3)

    class Net(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.cell = torch.nn.LSTMCell(3, 4)

        def forward(self, x):
            h = c = torch.zeros(x.shape[0], 4)
            outs = []
            for t in range(x.shape[1]):
                h, c = self.cell(x[:, t], (h, c))
                outs.append(h)
            return torch.stack(outs, 1)

    torch.onnx.export(Net().eval(), (torch.zeros(1, 4, 3),), str(OUT / "lstmcell_export.onnx"),
                      dynamo=False, input_names=["x"], opset_version=17)


def torchscript_and_checkpoint() -> None:
    """A TorchScript archive of a conv -> LSTM model and a suffixless torch.save checkpoint."""
    import torch
    torch.manual_seed(4)

    class Net(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.conv = torch.nn.Conv1d(2, 3, 3, padding=1)
            self.lstm = torch.nn.LSTM(3, 4, batch_first=True)
            self.head = torch.nn.Linear(4, 2)

        def forward(self, x):
            y, _ = self.lstm(torch.tanh(self.conv(x.transpose(1, 2))).transpose(1, 2))
            return self.head(y)

    net = Net().eval()
    x = np.random.default_rng(4).standard_normal((2, 7, 2)).astype(np.float32)
    torch.jit.save(torch.jit.script(net), str(OUT / "scripted_conv_lstm.pt"))
    torch.save({"model_state_dict": net.state_dict(), "epoch": 7}, OUT / "checkpoint")
    with torch.no_grad():
        x_in, out = lstm_input(net.lstm, lambda: net(torch.from_numpy(x)).numpy())
    h, c = torch_steps(net.lstm, x_in)
    _save("scripted_conv_lstm", {"x": x}, out, [("lstm.l0", x_in, h, c)],
          model="scripted_conv_lstm.pt", torch=torch.__version__)


# --- ONNX as its conformance tests write it -------------------------------------------------
def conformance_graph_inputs() -> None:
    """Every LSTM input a graph input (X, W, R, B, sequence_lens, initial_h, initial_c), as
    ONNX's own LSTM conformance models are written; the numbers from ONNX Runtime (c at every
    step from runs on each prefix)."""
    import onnx
    import onnxruntime as ort
    from onnx import TensorProto, helper
    rng = np.random.default_rng(5)
    b, t_len, d, n = 3, 5, 2, 3
    arrays = {"X": rng.standard_normal((t_len, b, d)).astype(np.float32),
              "W": rng.normal(0, 0.5, (1, 4 * n, d)).astype(np.float32),
              "R": rng.normal(0, 0.5, (1, 4 * n, n)).astype(np.float32),
              "B": rng.normal(0, 0.3, (1, 8 * n)).astype(np.float32),
              "sequence_lens": np.array([5, 2, 4], np.int32),
              "initial_h": rng.standard_normal((1, b, n)).astype(np.float32),
              "initial_c": rng.standard_normal((1, b, n)).astype(np.float32)}
    types = {"sequence_lens": TensorProto.INT32}
    node = helper.make_node("LSTM", list(arrays), ["Y", "Y_h", "Y_c"], hidden_size=n, name="lstm")
    graph = helper.make_graph(
        [node], "conformance",
        [helper.make_tensor_value_info(k, types.get(k, TensorProto.FLOAT),
                                       ["T", b, d] if k == "X" else list(v.shape))
         for k, v in arrays.items()],
        [helper.make_tensor_value_info("Y", TensorProto.FLOAT, ["T", 1, b, n]),
         helper.make_tensor_value_info("Y_h", TensorProto.FLOAT, [1, b, n]),
         helper.make_tensor_value_info("Y_c", TensorProto.FLOAT, [1, b, n])])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 14)])
    model.ir_version = 8
    onnx.checker.check_model(model)
    onnx.save(model, OUT / "conformance_inputs.onnx")
    sess = ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"])
    y = sess.run(None, arrays)[0]
    h = np.zeros((b, t_len, n), np.float32)
    c = np.zeros((b, t_len, n), np.float32)
    for t in range(t_len):
        part = dict(arrays, X=np.ascontiguousarray(arrays["X"][:t + 1]),
                    sequence_lens=np.minimum(arrays["sequence_lens"], t + 1).astype(np.int32))
        _, yh, yc = sess.run(None, part)
        h[:, t], c[:, t] = yh[0], yc[0]
    _save("conformance_inputs", arrays, y, [("lstm/forward", arrays["X"].transpose(1, 0, 2), h, c)],
          model="conformance_inputs.onnx", onnxruntime=ort.__version__)


def torch_gates(lstm, x: np.ndarray, h_prev: np.ndarray) -> np.ndarray:
    """i, f, g, o (B, T, 4, N) of a one-layer forward nn.LSTM, from its own weight matrices
    with torch ops in float64, given its input and the h it read at every step."""
    import torch
    w_ih, w_hh = lstm.weight_ih_l0.detach().double(), lstm.weight_hh_l0.detach().double()
    bias = (lstm.bias_ih_l0 + lstm.bias_hh_l0).detach().double()
    z = (torch.from_numpy(x).double() @ w_ih.T + torch.from_numpy(h_prev).double() @ w_hh.T + bias)
    i, f, g, o = z.chunk(4, dim=-1)                     # torch's gate order: i, f, g, o
    return torch.stack([i.sigmoid(), f.sigmoid(), g.tanh(), o.sigmoid()], 2).numpy()


def loop_lstm() -> None:
    """torch.onnx.export of a scripted streaming model: a Python loop over chunks, the LSTM's
    state carried from chunk to chunk, which the exporter writes as an ONNX Loop (weights
    folded by Slice/Concat inside its body). h, c stepped by torch; each run starts from the
    state the previous one ended with."""
    import torch
    torch.manual_seed(11)

    class StreamNet(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.proj = torch.nn.Linear(3, 5)
            self.lstm = torch.nn.LSTM(5, 4)

        def forward(self, chunks: torch.Tensor, h: torch.Tensor, c: torch.Tensor):
            outs: List[torch.Tensor] = []   # noqa: UP006 - TorchScript reads typing.List
            for k in range(chunks.shape[0]):
                y, (h, c) = self.lstm(torch.relu(self.proj(chunks[k])), (h, c))
                outs.append(y)
            return torch.stack(outs), h, c

    net = StreamNet().eval()
    scripted = torch.jit.script(net)
    rng = np.random.default_rng(11)
    m, t_len, b, d, n = 3, 6, 2, 3, 4
    inputs = {"chunks": rng.standard_normal((m, t_len, b, d)).astype(np.float32),
              "h0": rng.normal(0, 0.5, (1, b, n)).astype(np.float32),
              "c0": rng.normal(0, 0.5, (1, b, n)).astype(np.float32)}
    args = tuple(torch.from_numpy(a) for a in inputs.values())
    torch.onnx.export(scripted, args, str(OUT / "loop_lstm.onnx"), dynamo=False, opset_version=17,
                      input_names=list(inputs), output_names=["y", "h", "c"],
                      dynamic_axes={"chunks": {0: "M", 1: "T"}})
    with torch.no_grad():
        out = net(*args)[0].numpy()
        xs = [torch.relu(net.proj(args[0][k])).numpy().transpose(1, 0, 2) for k in range(m)]
    twin = torch.nn.LSTM(5, 4, batch_first=True)     # the same weights, stepped batch first
    twin.load_state_dict(net.lstm.state_dict())
    hs, cs, gates = [], [], []
    h0, c0 = inputs["h0"][0], inputs["c0"][0]
    for x_run in xs:                                   # each run starts where the last ended
        h, c = torch_steps(twin, np.ascontiguousarray(x_run), h0, c0)
        h_prev = np.concatenate([h0[:, None], h[:, :-1]], 1)
        hs.append(h), cs.append(c), gates.append(torch_gates(net.lstm, x_run, h_prev))
        h0, c0 = h[:, -1], c[:, -1]
    _save("loop_lstm", inputs, out, [("Loop/body/LSTM/forward", np.concatenate(xs),
                                      np.concatenate(hs), np.concatenate(cs), np.concatenate(gates))],
          model="loop_lstm.onnx", torch=torch.__version__, runs=m)


def _ort_step_models(w: np.ndarray, r: np.ndarray, b: np.ndarray):
    """Two ONNX Runtime sessions for one direction's weights (ONNX layout, gate order i, o, f,
    c): one LSTM step (X, h, c -> Y_h, Y_c) and the gates of one step written with MatMul, Add,
    Split, Sigmoid and Tanh (X, h -> i, o, f, c)."""
    import onnxruntime as ort
    from onnx import TensorProto, helper, numpy_helper
    n, d = r.shape[2], w.shape[2]
    fl = TensorProto.FLOAT
    inits = [numpy_helper.from_array(a, k) for k, a in (("W", w), ("R", r), ("B", b))]
    step = helper.make_graph(
        [helper.make_node("LSTM", ["X", "W", "R", "B", "", "h", "c"], ["", "Y_h", "Y_c"], hidden_size=n)],
        "step", [helper.make_tensor_value_info("X", fl, [1, None, d]),
                 helper.make_tensor_value_info("h", fl, [1, None, n]),
                 helper.make_tensor_value_info("c", fl, [1, None, n])],
        [helper.make_tensor_value_info("Y_h", fl, None), helper.make_tensor_value_info("Y_c", fl, None)],
        inits)
    gate_inits = [numpy_helper.from_array(np.ascontiguousarray(w[0].T), "Wt"),
                  numpy_helper.from_array(np.ascontiguousarray(r[0].T), "Rt"),
                  numpy_helper.from_array(b[0, :4 * n] + b[0, 4 * n:], "Bsum")]
    gates = helper.make_graph(
        [helper.make_node("MatMul", ["x", "Wt"], ["xw"]), helper.make_node("MatMul", ["hp", "Rt"], ["hr"]),
         helper.make_node("Add", ["xw", "hr"], ["s"]), helper.make_node("Add", ["s", "Bsum"], ["z"]),
         helper.make_node("Split", ["z"], ["zi", "zo", "zf", "zc"], axis=-1, num_outputs=4),
         helper.make_node("Sigmoid", ["zi"], ["i"]), helper.make_node("Sigmoid", ["zo"], ["o"]),
         helper.make_node("Sigmoid", ["zf"], ["f"]), helper.make_node("Tanh", ["zc"], ["g"])],
        "gates", [helper.make_tensor_value_info("x", fl, [None, d]),
                  helper.make_tensor_value_info("hp", fl, [None, n])],
        [helper.make_tensor_value_info(k, fl, None) for k in "ifgo"], gate_inits)

    def session(graph):
        model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 18)])
        model.ir_version = 8
        return ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"])
    return session(step), session(gates)


def ort_steps(w, r, b, x: np.ndarray, backward: bool = False):
    """h, c, gates (B, T, ...) of one direction over x (B, T, D) from zero state, stepped by
    ONNX Runtime one input position at a time (a backward direction from the last position),
    each array at the input position it read."""
    step, gate = _ort_step_models(w, r, b)
    bsz, t_len, _ = x.shape
    n = r.shape[2]
    h = np.zeros((1, bsz, n), np.float32)
    c = np.zeros((1, bsz, n), np.float32)
    hs, cs = np.zeros((bsz, t_len, n), np.float32), np.zeros((bsz, t_len, n), np.float32)
    gs = np.zeros((bsz, t_len, 4, n), np.float32)
    for t in (reversed(range(t_len)) if backward else range(t_len)):
        xt = np.ascontiguousarray(x[:, t])
        gs[:, t] = np.stack(gate.run(list("ifgo"), {"x": xt, "hp": h[0]}), 1)
        h, c = step.run(None, {"X": xt[None], "h": h, "c": c})
        hs[:, t], cs[:, t] = h[0], c[0]
    return hs, cs, gs


def scan_bilstm() -> None:
    """A Scan over a stack of sequences whose body runs a bidirectional LSTM (ONNX helper, as
    ONNX's own Scan examples are written); numbers from ONNX Runtime one step at a time."""
    import onnx
    import onnxruntime as ort
    from onnx import TensorProto, helper, numpy_helper
    rng = np.random.default_rng(12)
    s_len, t_len, b, d, n = 2, 5, 2, 3, 4
    w = rng.normal(0, 0.5, (2, 4 * n, d)).astype(np.float32)
    r = rng.normal(0, 0.5, (2, 4 * n, n)).astype(np.float32)
    bias = rng.normal(0, 0.3, (2, 8 * n)).astype(np.float32)
    fl = TensorProto.FLOAT
    body = helper.make_graph(
        [helper.make_node("LSTM", ["seq", "W", "R", "B"], ["Y", "Y_h"], hidden_size=n,
                          direction="bidirectional", name="bilstm"),
         helper.make_node("ReduceSum", ["Y_h", "axes0"], ["h_sum"], keepdims=0),
         helper.make_node("Add", ["acc_in", "h_sum"], ["acc_out"])],
        "body", [helper.make_tensor_value_info("acc_in", fl, [b, n]),
                 helper.make_tensor_value_info("seq", fl, [t_len, b, d])],
        [helper.make_tensor_value_info("acc_out", fl, [b, n]),
         helper.make_tensor_value_info("Y", fl, [t_len, 2, b, n])])
    scan = helper.make_node("Scan", ["acc0", "seqs"], ["acc", "ys"], num_scan_inputs=1, body=body,
                            name="scan")
    inits = [numpy_helper.from_array(a, k) for k, a in
             (("W", w), ("R", r), ("B", bias), ("acc0", np.zeros((b, n), np.float32)),
              ("axes0", np.array([0], np.int64)))]
    graph = helper.make_graph(
        [scan], "scan_bilstm", [helper.make_tensor_value_info("seqs", fl, [s_len, t_len, b, d])],
        [helper.make_tensor_value_info("ys", fl, [s_len, t_len, 2, b, n]),
         helper.make_tensor_value_info("acc", fl, [b, n])], inits)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    onnx.checker.check_model(model)
    onnx.save(model, OUT / "scan_bilstm.onnx")
    seqs = rng.standard_normal((s_len, t_len, b, d)).astype(np.float32)
    out = ort.InferenceSession(model.SerializeToString(),
                               providers=["CPUExecutionProvider"]).run(None, {"seqs": seqs})[0]
    x = np.concatenate([seqs[k].transpose(1, 0, 2) for k in range(s_len)])   # runs as samples
    layers = []
    for k, direction in enumerate(("forward", "backward")):
        h, c, g = ort_steps(w[k:k + 1], r[k:k + 1], bias[k:k + 1], x, backward=k == 1)
        layers.append((f"scan/body/bilstm/{direction}", x, h, c, g))
    _save("scan_bilstm", {"seqs": seqs}, out, layers, model="scan_bilstm.onnx",
          onnxruntime=ort.__version__, runs=s_len)


# --- Keras ------------------------------------------------------------------------------------
def keras_steps(layer, x: np.ndarray, h0: np.ndarray | None = None, c0: np.ndarray | None = None):
    """h, c after every input position of a forward keras LSTM layer, computed by Keras: a
    copy of the layer with return_state runs on every prefix."""
    import keras
    cfg = dict(layer.get_config(), return_state=True, return_sequences=False, name="steps")
    twin = keras.layers.LSTM.from_config(cfg)
    twin.build(x.shape)
    twin.set_weights(layer.get_weights())
    b, t_len, _ = x.shape
    hs = np.zeros((b, t_len, layer.units), np.float32)
    cs = np.zeros((b, t_len, layer.units), np.float32)
    state = None if h0 is None else [h0, c0]
    for t in range(t_len):
        _, h, c = twin(x[:, :t + 1], initial_state=state)
        hs[:, t], cs[:, t] = np.asarray(h), np.asarray(c)
    return hs, cs


def keras_models() -> None:
    """A Conv1D -> LSTM model (.keras and .h5), and a two-input model whose second and third
    inputs are the LSTM's initial state."""
    import keras
    from keras import layers as L
    keras.utils.set_random_seed(6)
    inp = keras.Input((None, 3), name="signal")
    y = L.Conv1D(4, 3, padding="same", activation="relu", name="conv")(inp)
    y = L.LSTM(5, return_sequences=True, name="lstm")(y)
    model = keras.Model(inp, L.Dense(2, name="head")(y))
    model.save(OUT / "conv1d_lstm.keras")
    model.save(OUT / "conv1d_lstm.h5")
    x = np.random.default_rng(6).standard_normal((2, 8, 3)).astype(np.float32)
    lstm = model.get_layer("lstm")
    x_in = np.asarray(keras.Model(model.inputs, lstm.input).predict(x, verbose=0))
    h, c = keras_steps(lstm, x_in)
    _save("conv1d_lstm", {"signal": x}, model.predict(x, verbose=0), [("lstm", x_in, h, c)],
          model="conv1d_lstm.keras", keras=keras.__version__)

    keras.utils.set_random_seed(7)
    seq, h_in, c_in = keras.Input((6, 2), name="seq"), keras.Input((4,), name="h"), keras.Input((4,), name="c")
    y = L.LSTM(4, return_sequences=True, name="lstm")(L.Dense(3, name="proj")(seq),
                                                      initial_state=[h_in, c_in])
    model = keras.Model([seq, h_in, c_in], y)
    model.save(OUT / "two_inputs.keras")
    rng = np.random.default_rng(7)
    inputs = {"seq": rng.standard_normal((2, 6, 2)).astype(np.float32),
              "h": rng.standard_normal((2, 4)).astype(np.float32),
              "c": rng.standard_normal((2, 4)).astype(np.float32)}
    lstm = model.get_layer("lstm")
    x_in = np.asarray(keras.Model(model.inputs, lstm.input[0] if isinstance(lstm.input, list)
                                  else lstm.input).predict(list(inputs.values()), verbose=0))
    h, c = keras_steps(lstm, x_in, inputs["h"], inputs["c"])
    _save("two_inputs", inputs, model.predict(list(inputs.values()), verbose=0),
          [("lstm", x_in, h, c)], model="two_inputs.keras", keras=keras.__version__)


def main() -> None:
    OUT.mkdir(parents=True, exist_ok=True)
    warnings.simplefilter("ignore")
    if_conv_lstm()
    lstm_with_state_inputs()
    lstm_state_tensor()
    lstmcell_export()
    torchscript_and_checkpoint()
    conformance_graph_inputs()
    loop_lstm()
    scan_bilstm()
    keras_models()
    print(f"wrote {OUT}")


if __name__ == "__main__":
    main()
