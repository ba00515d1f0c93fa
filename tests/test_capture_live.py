"""Capture from Keras and torch, against files they wrote (scripts/make_capture_fixtures.py)
and live objects: every traced layer's input, h and c and the model output match the framework;
Keras' fixed input length, weights-only files with --config, TorchScript and checkpoints."""

from __future__ import annotations

import json

import keras
import numpy as np
import pytest
import torch

import engine
from engine.errors import InputFileError
from engine.loaders import load_model
from tests.helpers import FIXTURES, assert_clean_error, assert_close, run_cli, torch_layer_references

CAP = FIXTURES / "capture"


def _npz(path) -> dict[str, np.ndarray]:
    with np.load(path, allow_pickle=False) as data:
        return {k: data[k] for k in data.files}


def _compare(result, ref, what: str) -> None:
    assert_close(result.output, ref["output"], f"{what} output")
    k = 0
    while f"layer{k}_name" in ref:
        layer = result.layer(str(ref[f"layer{k}_name"]))
        np.testing.assert_allclose(layer.x, ref[f"layer{k}_x"], atol=1e-6, rtol=0)
        assert_close(layer.h, ref[f"layer{k}_h"], f"{what} {layer.name} h")
        assert_close(layer.c, ref[f"layer{k}_c"], f"{what} {layer.name} c")
        z = layer.zx + layer.zh + layer.zb      # the gates are what the pre-activations say
        assert_close(layer.i, 1 / (1 + np.exp(-z[:, :, 0])), f"{what} i")
        k += 1
    assert k


@pytest.mark.parametrize("ext", [".keras", ".h5"])
def test_keras_conv1d_lstm_is_captured(ext, tmp_path):
    model = load_model(CAP / f"conv1d_lstm{ext}")
    assert model.summary()["traced_layers"][0]["computed"] == "captured"
    inputs = _npz(CAP / "conv1d_lstm.input.npz")
    _compare(model.trace(inputs["signal"]), _npz(CAP / "conv1d_lstm.ref.npz"), ext)
    out = tmp_path / "t.npz"
    proc = run_cli("trace", str(CAP / f"conv1d_lstm{ext}"), "--input",
                   str(CAP / "conv1d_lstm.input.npz"), "--out", str(out))
    assert proc.returncode == 0, proc.stderr
    assert "warning: cannot compute 'conv' (Conv1D)" in proc.stderr
    with np.load(out) as data:
        assert_close(data["h"], _npz(CAP / "conv1d_lstm.ref.npz")["layer0_h"], "CLI h")


def test_keras_two_inputs(tmp_path):
    model = load_model(CAP / "two_inputs.keras")
    assert model.input_names == ["seq", "h", "c"]
    inputs = _npz(CAP / "two_inputs.input.npz")
    ref = _npz(CAP / "two_inputs.ref.npz")
    result = model.trace(inputs)
    _compare(result, ref, "two inputs")
    assert_close(result.layer(0).h0, inputs["h"], "captured initial state")
    from tests.keras_ref import step_cell  # gates: keras.ops on the layer's own weights
    lstm = keras.saving.load_model(CAP / "two_inputs.keras", compile=False).get_layer("lstm")
    stepped = step_cell(lstm, result.layer(0).x, inputs["h"], inputs["c"])
    for k, gate in enumerate("ifgo"):
        assert_close(result.layer(0).gates[:, :, k], stepped[gate], f"two inputs {gate} from Keras")
    assert_close(result.layer(0).h, stepped["h"], "two inputs h stepped by Keras' cell")
    # --initial-state wins over the state the graph gives
    np.savez(tmp_path / "s.npz", h0=np.zeros((2, 4), np.float32), c0=np.zeros((2, 4), np.float32))
    proc = run_cli("trace", str(CAP / "two_inputs.keras"), "--input", str(CAP / "two_inputs.input.npz"),
                   "--initial-state", str(tmp_path / "s.npz"), "--out", str(tmp_path / "t.npz"))
    assert proc.returncode == 0, proc.stderr
    with np.load(tmp_path / "t.npz") as data:
        assert np.all(data["h0"] == 0)
    np.savez(tmp_path / "part.npz", seq=inputs["seq"], h=inputs["h"])
    assert_clean_error(run_cli("trace", str(CAP / "two_inputs.keras"), "--input",
                               str(tmp_path / "part.npz"), "--out", str(tmp_path / "o.npz")),
                       "missing 'c'")


def test_fixed_input_length_is_enforced(tmp_path):
    m = keras.Sequential([keras.Input((8, 3)), keras.layers.LSTM(4, name="lstm")])
    m.save(tmp_path / "fixed.keras")
    x = np.random.default_rng(0).standard_normal((1, 5, 3)).astype(np.float32)
    with pytest.raises(InputFileError, match="input length"):
        load_model(tmp_path / "fixed.keras").trace(x)
    np.save(tmp_path / "x.npy", x)
    assert_clean_error(run_cli("trace", str(tmp_path / "fixed.keras"), "--input", str(tmp_path / "x.npy"),
                               "--out", str(tmp_path / "t.npz")), "--allow-length")
    proc = run_cli("trace", str(tmp_path / "fixed.keras"), "--input", str(tmp_path / "x.npy"),
                   "--allow-length", "--out", str(tmp_path / "t.npz"))
    assert proc.returncode == 0 and "allowed by --allow-length" in proc.stderr, proc.stderr


def test_weights_only_h5_opens_with_config(tmp_path):
    m = keras.Sequential([keras.Input((None, 3)), keras.layers.LSTM(4, return_sequences=True, name="lstm")])
    m.save_weights(tmp_path / "m.weights.h5")
    (tmp_path / "m.json").write_text(m.to_json())
    x = np.random.default_rng(1).standard_normal((2, 5, 3)).astype(np.float32)
    ours = load_model(tmp_path / "m.weights.h5", config=str(tmp_path / "m.json"))
    assert_close(ours.trace(x).output, m.predict(x, verbose=0), "weights + config")
    proc = run_cli("info", str(tmp_path / "m.weights.h5"), "--config", str(tmp_path / "m.json"))
    assert proc.returncode == 0, proc.stderr
    assert_clean_error(run_cli("info", str(tmp_path / "m.weights.h5")), "--config")


def test_from_keras_live_model():
    keras.utils.set_random_seed(3)
    inp = keras.Input((None, 2))
    y = keras.layers.Conv1D(3, 2, padding="same", name="conv")(inp)
    y = keras.layers.Bidirectional(keras.layers.LSTM(4, return_sequences=True), name="bi")(y)
    m = keras.Model(inp, y)
    x = np.random.default_rng(2).standard_normal((2, 6, 2)).astype(np.float32)
    s = engine.from_keras(m, x)
    assert s.model.layer_names == ["bi/forward", "bi/backward"]
    result = s.result()
    assert_close(result.output, m.predict(x, verbose=0), "from_keras output")
    from tests.keras_ref import layer_input, step_cell
    bi = m.get_layer("bi")
    x_in = layer_input(m, bi, x)
    for layer, keras_layer, backward in ((result.layer(0), bi.forward_layer, False),
                                         (result.layer(1), bi.backward_layer, True)):
        stepped = step_cell(keras_layer, x_in, backward=backward)
        for k, gate in enumerate("ifgo"):
            assert_close(layer.gates[:, :, k], stepped[gate], f"{layer.name} {gate} from Keras")
        assert_close(layer.c, stepped["c"], f"{layer.name} c stepped by Keras' cell")
    s.to_end()
    assert_close(s.trace.h, result.layer(0).h, "session")


# --- torch ----------------------------------------------------------------------------------------


def test_from_torch_finds_every_lstm_at_any_depth():
    torch.manual_seed(0)

    class Net(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.conv = torch.nn.Conv1d(3, 4, 3, padding=1)
            self.enc = torch.nn.Sequential(torch.nn.LSTM(4, 5, num_layers=2, bidirectional=True))
            self.cell = torch.nn.LSTMCell(10, 3)

        def forward(self, x, scale):
            y = self.conv(x.transpose(1, 2)).permute(2, 0, 1) * scale       # (T, B, C)
            y, _ = self.enc(y)
            h = c = torch.zeros(y.shape[1], 3)
            outs = []
            for t in range(y.shape[0]):
                h, c = self.cell(y[t], (h, c))
                outs.append(h)
            return torch.stack(outs, 1)

    net = Net().eval()
    x = torch.randn(2, 7, 3)
    s = engine.from_torch(net, (x, torch.tensor(0.5)))
    assert s.model.layer_names == ["enc.0.l0", "enc.0.l0_reverse", "enc.0.l1", "enc.0.l1_reverse", "cell"]
    result = s.result()
    with torch.no_grad():
        assert_close(result.output, net(x, torch.tensor(0.5)).numpy(), "module output")
        lstm_in = (net.conv(x.transpose(1, 2)).permute(2, 0, 1) * 0.5).numpy().transpose(1, 0, 2)
    twin = torch.nn.LSTM(4, 5, num_layers=2, bidirectional=True, batch_first=True)
    twin.load_state_dict(net.enc[0].state_dict())
    for layer, ref in zip(result.layers, torch_layer_references(twin, lstm_in)):
        assert_close(layer.h, ref["h"], f"{layer.name} h")
        assert_close(layer.c, ref["c"], f"{layer.name} c")
        assert_close(layer.gates, ref["gates"], f"{layer.name} gates from torch's weights")
    np.testing.assert_allclose(result.layer(0).x, lstm_in, atol=1e-6, rtol=0)
    # the LSTMCell: its captured input is what the hook saw; h, c, gates from torch itself
    with torch.no_grad():
        enc_out = net.enc(torch.from_numpy(lstm_in).transpose(0, 1))[0].transpose(0, 1).numpy()
    cell = result.layer("cell")
    np.testing.assert_allclose(cell.x, enc_out, atol=1e-6, rtol=0)
    ref = torch_layer_references(net.cell, cell.x)[0]
    assert_close(cell.h, ref["h"], "cell h")
    assert_close(cell.c, ref["c"], "cell c")
    assert_close(cell.gates, ref["gates"], "cell gates from torch's weights")


def test_torchscript_and_checkpoint_fixtures(tmp_path):
    ref = _npz(CAP / "scripted_conv_lstm.ref.npz")
    for spec in (CAP / "scripted_conv_lstm.pt", f"{CAP / 'checkpoint'}#lstm"):
        model = load_model(spec)
        result = model.trace(ref["layer0_x"], layer_input="lstm.l0")
        assert_close(result.layer(0).h, ref["layer0_h"], f"{spec} h")
        assert_close(result.layer(0).c, ref["layer0_c"], f"{spec} c")
        assert any("conv" in w and "head" in w for w in model.warnings)
    meta = json.loads(str(ref["meta"]))
    assert meta["model"] == "scripted_conv_lstm.pt"


def test_torchscript_runs_only_with_trust(tmp_path):
    """Without --trust the archive's code never runs (its LSTM reads its own input); with it,
    the scripted module runs and the LSTM's input is captured."""
    model = str(CAP / "scripted_conv_lstm.pt")
    ref = _npz(CAP / "scripted_conv_lstm.ref.npz")
    out = tmp_path / "t.npz"
    proc = run_cli("trace", model, "--input", str(CAP / "scripted_conv_lstm.input.npz"), "--out", str(out))
    assert proc.returncode == 2 and "--trust" in proc.stderr
    proc = run_cli("trace", model, "--trust", "--input", str(CAP / "scripted_conv_lstm.input.npz"),
                   "--out", str(out))
    assert proc.returncode == 0, proc.stderr
    with np.load(out) as data:
        np.testing.assert_allclose(data["x"], ref["layer0_x"], atol=1e-6, rtol=0)
        assert_close(data["h"], ref["layer0_h"], "TorchScript h")
        assert_close(data["c"], ref["layer0_c"], "TorchScript c")
        assert_close(data["output"], ref["output"], "TorchScript output")
