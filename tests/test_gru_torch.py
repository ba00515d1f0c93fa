"""PyTorch ``nn.GRU`` / ``nn.RNN`` state dicts (fixtures from scripts/make_gru_fixtures.py) and
live modules (``engine.from_torch``: ``nn.GRU``, ``nn.GRUCell``, ``nn.RNN`` tanh and relu,
``nn.RNNCell``) against torch 2.13 itself, within the Contracts' tolerance."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from engine import from_torch
from engine.cells.gru_cell import GRU_CELL, GruWeights
from engine.cells.rnn_cell import RNN_CELL, RnnWeights
from engine.loaders import load_model
from tests.helpers import FIXTURES, assert_close, check_trace_against_reference, read_npz

GRU = FIXTURES / "gru"
CASES = ["torch_gru_2layer_bidirectional", "torch_gru_nobias", "torch_rnn_2layer_bidirectional"]


@pytest.mark.parametrize("case", CASES)
def test_a_state_dict_traces_as_torch_steps_it(case):
    ref = read_npz(GRU / f"{case}.npz")
    model = load_model(GRU / f"{case}.pt")
    result = check_trace_against_reference(model, ref)
    kind = GRU_CELL if "gru" in case else RNN_CELL
    assert all(layer.weights.kind is kind for layer in result.layers)
    if "rnn" in case:
        assert any("nonlinearity" in w and "tanh is assumed" in w for w in model.warnings)


def test_a_torch_gru_maps_its_gates_onto_the_engine_layout():
    """PyTorch's r, z, n rows become the blocks u (= z), r, n, transposed."""
    model = load_model(GRU / "torch_gru_nobias.pt")
    w = model.ops[0].forward
    assert isinstance(w, GruWeights) and w.reset_after and not w.use_bias
    sd = torch.load(GRU / "torch_gru_nobias.pt", weights_only=True)
    w_ir, w_iz, w_in = sd["weight_ih_l0"].numpy().reshape(3, 5, -1)
    assert np.array_equal(w.gate_block(w.kernel, "u"), w_iz.T)
    assert np.array_equal(w.gate_block(w.kernel, "r"), w_ir.T)
    assert np.array_equal(w.gate_block(w.kernel, "n"), w_in.T)
    assert w.shapes() == {"kernel": (3, 15), "recurrent_kernel": (5, 15)}
    assert w.param_count == 15 * 3 + 15 * 5                  # weight_ih (15, 3) + weight_hh (15, 5)


def _gru_gates(module: torch.nn.GRU, x: np.ndarray) -> dict[str, np.ndarray]:
    """r, z, n of a one-layer torch GRU at every step, by torch's documented formulas."""
    w_ih, w_hh = module.weight_ih_l0.detach(), module.weight_hh_l0.detach()
    b_ih, b_hh = module.bias_ih_l0.detach(), module.bias_hh_l0.detach()
    h = torch.zeros(x.shape[0], module.hidden_size)
    out = {"u": [], "r": [], "n": []}
    for t in range(x.shape[1]):
        gi = torch.from_numpy(x[:, t]) @ w_ih.T + b_ih
        gh = h @ w_hh.T + b_hh
        i_r, i_z, i_n = gi.chunk(3, 1)
        h_r, h_z, h_n = gh.chunk(3, 1)
        r, z = torch.sigmoid(i_r + h_r), torch.sigmoid(i_z + h_z)
        n = torch.tanh(i_n + r * h_n)
        h = (1 - z) * n + z * h
        for key, value in (("u", z), ("r", r), ("n", n)):
            out[key].append(value.numpy())
    return {k: np.stack(v, axis=1) for k, v in out.items()}


class _Net(torch.nn.Module):
    def __init__(self, rnn: torch.nn.Module) -> None:
        super().__init__()
        self.rnn = rnn
        self.head = torch.nn.Linear(rnn.hidden_size * (2 if getattr(rnn, "bidirectional", False) else 1), 2)

    def forward(self, x):
        if isinstance(self.rnn, (torch.nn.GRUCell, torch.nn.RNNCell)):
            h, hs = None, []
            for t in range(x.shape[1]):
                h = self.rnn(x[:, t], h)
                hs.append(h)
            return self.head(torch.stack(hs, 1))
        return self.head(self.rnn(x)[0])


@pytest.mark.parametrize("make", [
    lambda: torch.nn.GRU(4, 6, num_layers=2, bidirectional=True, batch_first=True),
    lambda: torch.nn.GRUCell(4, 6),
    lambda: torch.nn.RNN(4, 6, nonlinearity="relu", batch_first=True, bidirectional=True),
    lambda: torch.nn.RNN(4, 6, num_layers=2, batch_first=True),
    lambda: torch.nn.RNNCell(4, 6, nonlinearity="relu"),
], ids=["gru-2layer-bidirectional", "grucell", "rnn-relu-bidirectional", "rnn-tanh-2layer", "rnncell-relu"])
def test_a_live_module_is_captured_and_stepped_as_torch_runs_it(make):
    torch.manual_seed(3)
    net = _Net(make()).eval()
    x = np.random.default_rng(3).normal(size=(2, 8, 4)).astype(np.float32)
    s = from_torch(net, x)
    result = s.result()
    with torch.no_grad():
        assert_close(result.output, net(torch.from_numpy(x)).numpy(), "output")
    rnn = net.rnn
    expect = RnnWeights if isinstance(rnn, (torch.nn.RNN, torch.nn.RNNCell)) else GruWeights
    assert all(isinstance(layer.weights, expect) for layer in result.layers)
    if isinstance(rnn, (torch.nn.GRU, torch.nn.RNN)):
        with torch.no_grad():
            seq = rnn(torch.from_numpy(x))[0].numpy()
        n = rnn.hidden_size
        last = [layer for layer in result.layers if layer.name.startswith(f"rnn.l{rnn.num_layers - 1}")]
        assert_close(np.concatenate([layer.h for layer in last], axis=-1), seq[..., :n * len(last)], "h")
    if isinstance(rnn, torch.nn.RNNCell):
        assert result.layers[0].weights.cell_activation.name == "relu"


def test_the_recorded_gru_gates_are_torchs():
    torch.manual_seed(4)
    gru = torch.nn.GRU(3, 5, batch_first=True)
    x = np.random.default_rng(4).normal(size=(2, 6, 3)).astype(np.float32)
    layer = from_torch(_Net(gru).eval(), x).result().layers[0]
    with torch.no_grad():
        gates = _gru_gates(gru, x)
    for name in ("u", "r", "n"):
        assert_close(layer.signal(name), gates[name], name)
