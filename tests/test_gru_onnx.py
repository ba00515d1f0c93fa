"""ONNX ``GRU`` (linear_before_reset 0 and 1, forward, reverse, bidirectional, sequence_lens,
initial_h) and ``RNN`` nodes (fixtures from scripts/make_gru_fixtures.py) against ONNX Runtime,
within the Contracts' tolerance; what the engine does not step is refused in one line."""

from __future__ import annotations

import numpy as np
import pytest

from engine.cells.gru_cell import GruWeights
from engine.cells.rnn_cell import RnnWeights
from engine.errors import ScopeError
from engine.loaders import load_model
from tests.helpers import FIXTURES, assert_close, read_npz

GRU = FIXTURES / "gru"
CASES = ["onnx_gru_lbr0", "onnx_gru_lbr1_bidirectional", "onnx_gru_reverse_initial_h",
         "onnx_rnn_bidirectional"]


@pytest.mark.parametrize("case", CASES)
def test_an_onnx_node_traces_as_onnx_runtime_runs_it(case):
    ref = read_npz(GRU / f"{case}.npz")
    model = load_model(GRU / f"{case}.onnx")
    result = model.trace(ref["x"])
    assert_close(result.output, ref["output"], "Y")
    lengths = "lbr1" in case                   # sample 0 stops two steps early
    k = 0
    while f"layer{k}_name" in ref:
        layer = result.layers[k]
        assert layer.name == str(ref[f"layer{k}_name"])
        assert layer.direction == str(ref[f"layer{k}_direction"])
        valid = layer.mask
        assert valid.all() != lengths
        assert_close(layer.h[valid], ref[f"layer{k}_h"][valid], f"{layer.name} h")
        k += 1
    assert k == len(result.layers)
    expect = RnnWeights if "rnn" in case else GruWeights
    assert all(isinstance(layer.weights, expect) for layer in result.layers)


def test_linear_before_reset_is_the_reset_after_form():
    w0 = load_model(GRU / "onnx_gru_lbr0.onnx").traced_layers[0].weights
    w1 = load_model(GRU / "onnx_gru_lbr1_bidirectional.onnx").traced_layers[0].weights
    assert not w0.reset_after and not w0.recurrent_bias.any()
    assert w1.reset_after and w1.recurrent_bias.any()


def test_a_clipped_gru_is_refused_naming_the_node_and_the_option(tmp_path):
    import onnx
    model = onnx.load(GRU / "onnx_gru_lbr0.onnx")
    model.graph.node[0].attribute.append(onnx.helper.make_attribute("clip", 2.0))
    onnx.save(model, tmp_path / "clip.onnx")
    with pytest.raises(ScopeError) as err:
        load_model(tmp_path / "clip.onnx")
    message = str(err.value)
    assert "gru_node" in message and "clip" in message and "\n" not in message


@pytest.mark.parametrize("kind", ["GRU", "RNN"])
def test_a_torch_export_runs_natively_and_each_direction_is_torchs(tmp_path, kind):
    """torch.onnx.export of a 2-layer bidirectional nn.GRU / nn.RNN (relu) and a Linear: GRU or
    RNN nodes with Transpose/Reshape/Concat between, run by the engine; output vs ONNX Runtime,
    each layer's h vs the module's own."""
    import warnings

    import onnxruntime as ort
    import torch
    torch.manual_seed(0)
    rnn = (torch.nn.GRU(3, 4, num_layers=2, bidirectional=True, batch_first=True) if kind == "GRU"
           else torch.nn.RNN(3, 4, num_layers=2, bidirectional=True, batch_first=True, nonlinearity="relu"))

    class Net(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.rnn, self.fc = rnn, torch.nn.Linear(8, 2)

        def forward(self, x):
            return self.fc(self.rnn(x)[0])

    net = Net().eval()
    x = np.random.default_rng(3).standard_normal((2, 7, 3)).astype(np.float32)
    path = tmp_path / "t.onnx"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.onnx.export(net, (torch.from_numpy(x),), str(path), dynamo=False, input_names=["x"],
                          opset_version=17)
    ref = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"]).run(None, {"x": x})[0]
    model = load_model(path)
    result = model.trace(x)
    assert_close(result.output, ref, "graph output")
    assert len(result.layers) == 4
    with torch.no_grad():
        seq = rnn(torch.from_numpy(x))[0].numpy()
    assert_close(np.concatenate([result.layers[2].h, result.layers[3].h], axis=-1), seq, "last layer h")
