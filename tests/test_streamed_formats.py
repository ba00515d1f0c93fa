"""A run over the memory budget streams ``trace --steps A:B`` for every format, not only Keras:
a PyTorch state dict (one layer and a stack), an ONNX model, a captured model (a graph whose
LSTM input only ONNX Runtime computes) and a live module. The window is checkpointed, its
arrays are the in-memory window's bit for bit, and its values are the framework's."""

from __future__ import annotations

import io
import json
from pathlib import Path

import numpy as np
import pytest
import torch

from engine.cli.commands import run_trace
from engine.system.budget import BudgetError

FIXTURES = Path(__file__).parent / "fixtures"
SMALL = "100K"         # far below any of these traces, above the model's output (h of each layer)


def _input(tmp_path, steps=700, features=3) -> tuple[np.ndarray, str]:
    x = np.random.default_rng(0).normal(size=(2, steps, features)).astype(np.float32)
    path = tmp_path / "x.npy"
    np.save(path, x)
    return x, str(path)


def _trace(tmp_path, model: str, x: str, name: str, **kw) -> dict[str, np.ndarray]:
    out = tmp_path / f"{name}.npz"
    assert run_trace(model, x, str(out), err=io.StringIO(), **kw) == 0
    with np.load(out) as f:
        return {k: f[k] for k in f.files}


def _streamed_equals_in_memory(tmp_path, monkeypatch, model: str, x: str, steps: str, **kw):
    whole = _trace(tmp_path, model, x, "mem", steps=steps, **kw)
    monkeypatch.setenv("LSTM_SCOPE_MEMORY_BUDGET", SMALL)
    streamed = _trace(tmp_path, model, x, "streamed", steps=steps, **kw)
    monkeypatch.delenv("LSTM_SCOPE_MEMORY_BUDGET")
    assert json.loads(str(streamed["meta"])).get("checkpointed") is True
    assert "checkpointed" not in json.loads(str(whole["meta"]))
    assert sorted(streamed) == sorted(whole)
    for name in whole:
        if name != "meta":
            assert streamed[name].shape == whole[name].shape, name
            assert np.array_equal(streamed[name], whole[name], equal_nan=True), name
    return streamed


def _close(ours: np.ndarray, ref: np.ndarray, what: str) -> None:
    np.testing.assert_allclose(ours, ref, rtol=1e-5, atol=1e-5, err_msg=what)


@pytest.mark.parametrize("layers", [1, 2])
def test_a_pytorch_state_dict_streams_its_window_exact_against_torch(layers, tmp_path, monkeypatch):
    torch.manual_seed(layers)
    lstm = torch.nn.LSTM(3, 6, num_layers=layers, batch_first=True)
    path = tmp_path / "lstm.pt"
    torch.save(lstm.state_dict(), path)
    x, xpath = _input(tmp_path)
    got = _streamed_equals_in_memory(tmp_path, monkeypatch, str(path), xpath, "250:531")
    with torch.no_grad():
        y = lstm(torch.from_numpy(x))[0].numpy()
    _close(got["output"], y[:, 250:531], "output")   # the stack's output, for layer l0
    if layers == 1:
        _close(got["h"], y[:, 250:531], "h")
        _close(got["h0"], y[:, 249], "h0: the state before the window")


def test_an_onnx_model_streams_its_window_exact_against_onnx_runtime(tmp_path, monkeypatch):
    import onnxruntime as ort
    model = str(FIXTURES / "onnx" / "forward.onnx")
    x, xpath = _input(tmp_path)
    got = _streamed_equals_in_memory(tmp_path, monkeypatch, model, xpath, "600:700")
    sess = ort.InferenceSession(model, providers=["CPUExecutionProvider"])
    y = sess.run(None, {"X": np.ascontiguousarray(x.transpose(1, 0, 2))})[0]   # (T, 1, B, H)
    _close(got["output"], y, "output (ONNX layout 0: the whole Y)")
    _close(got["h"], y[600:700, 0].transpose(1, 0, 2), "h")


def _captured_graph(path: Path, steps: int, features: int = 3, units: int = 5) -> None:
    import onnx

    from engine.bench.capture_figures import _graph
    proto = _graph(steps, features, units)
    proto.graph.input[0].type.tensor_type.shape.dim[0].dim_value = 2
    onnx.save(proto, str(path))


def test_a_captured_model_streams_its_window(tmp_path, monkeypatch):
    import onnxruntime as ort
    path = tmp_path / "conv_lstm.onnx"
    _captured_graph(path, steps=700)
    x, xpath = _input(tmp_path)
    got = _streamed_equals_in_memory(tmp_path, monkeypatch, str(path), xpath, "100:357")
    sess = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    y = sess.run(None, {"x": x})[0]                       # (T, 1, B, H)
    _close(got["h"], y[100:357, 0].transpose(1, 0, 2), "h against ONNX Runtime's Y")


def test_a_live_module_streams_a_checkpointed_window_exact_against_torch(tmp_path):
    from engine.live import torch_model
    from engine.output.trace_window import write_streamed
    from engine.session import Session

    class Net(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.inp = torch.nn.Linear(3, 4)
            self.lstm = torch.nn.LSTM(4, 6, batch_first=True)

        def forward(self, x):
            return self.lstm(torch.tanh(self.inp(x)))[0]
    torch.manual_seed(0)
    net = Net()
    x, _ = _input(tmp_path)
    model = torch_model(net, x)
    session = Session(model, x, checkpoint_above=0)
    assert session.checkpointed
    out = tmp_path / "live.npz"
    write_streamed(str(out), session, 300, 650, None, {}, inputs=[])
    with torch.no_grad():
        y = net(torch.from_numpy(x)).numpy()
    with np.load(out) as f:
        _close(f["h"], y[:, 300:650], "h")
        _close(f["h0"], y[:, 299], "h0")
    _close(model.output_only(x), y, "the module's output")


def test_an_output_that_does_not_fit_either_is_refused_with_what_fits(tmp_path, monkeypatch):
    lstm = torch.nn.LSTM(3, 6, batch_first=True)
    path = tmp_path / "lstm.pt"
    torch.save(lstm.state_dict(), path)
    _, xpath = _input(tmp_path)
    monkeypatch.setenv("LSTM_SCOPE_MEMORY_BUDGET", "20K")    # h alone is 2 x 700 x 6 x 4 bytes
    with pytest.raises(BudgetError, match="at most about .* steps at a time"):
        run_trace(str(path), xpath, str(tmp_path / "t.npz"), err=io.StringIO(), steps="1:5")
    assert not (tmp_path / "t.npz").exists()
