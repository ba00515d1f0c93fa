"""Gradients through GRU and simple-RNN runs: the backward pass (``grad_gru``) against the vjp
specs chained over the run (hypothesis: masks, both directions, reset_after on and off, any
activation), and whole-model gradients against torch autograd in float64 for ``nn.GRU`` and
``nn.RNN`` state dicts."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from hypothesis import given
from hypothesis import strategies as st

from engine.cells.gru_cell import GruWeights, gru_step_vjp
from engine.cells.rnn_cell import rnn_step_vjp
from engine.gradients.grad_layer import Cut, layer_backward
from engine.loaders import load_model
from tests.generative import generative_settings
from tests.helpers import FIXTURES, assert_close, read_npz
from tests.test_gru_spec import gru_cells, rnn_cells, runs


def spec_backward(r, dh_ext: np.ndarray):
    """The layer's backward from the one-step vjp spec alone, in reverse processing order; a
    masked step passes dh through unchanged."""
    vjp = gru_step_vjp if isinstance(r.weights, GruWeights) else rnn_step_vjp
    dx = np.zeros((r.batch, r.steps, r.weights.input_dim), np.float32)
    dh_all = np.zeros_like(dh_ext)
    carry = np.zeros((r.batch, r.units), np.float32)
    for p in reversed(range(r.steps)):
        t = r.position(p)
        h_prev, _ = r.state_before(p)
        dh = dh_ext[:, t] + carry
        dx_t, dh_prev = vjp(r.weights, r.x[:, t], h_prev, dh)
        valid = r.mask[:, t][:, None]
        dx[:, t] = np.where(valid, dx_t, 0.0)
        dh_all[:, t] = dh
        carry = np.where(valid, dh_prev, dh)
    return dx, dh_all, carry


@pytest.mark.generative
@generative_settings(60)
@given(runs(st.one_of(gru_cells(), rnn_cells())), st.integers(0, 2**31 - 1))
def test_the_backward_pass_is_the_vjp_spec(runner, seed):
    rng = np.random.default_rng(seed)
    dh_ext = rng.normal(size=(runner.batch, runner.steps, runner.units)).astype(np.float32)
    ours = layer_backward(runner.to_trace(), dh_ext)
    dx, dh, dh0 = spec_backward(runner, dh_ext)
    assert_close(ours.dx, dx, "dx")
    assert_close(ours.dh, dh, "dh (total)")
    assert_close(ours.dh0, dh0, "dh0")
    assert ours.dc.shape == (runner.batch, runner.steps, 0) and ours.dc0.shape == (runner.batch, 0)


def test_a_hand_set_h_passes_no_gradient_into_its_step():
    from engine.runs.stepper import DirectionRunner
    rng = np.random.default_rng(0)
    w = GruWeights(rng.normal(size=(2, 9)), rng.normal(size=(3, 9)), rng.normal(size=9))
    r = DirectionRunner("g", w, rng.normal(size=(1, 5, 2)))
    r.run()
    dh_ext = np.zeros((1, 5, 3), np.float32)
    dh_ext[0, 4] = 1.0
    cut = layer_backward(r.to_trace(), dh_ext, cuts=[Cut(4, "h")])
    assert not cut.dx.any() and not cut.dh0.any() and cut.dh[0, 4].all()


def _torch_module(case: str, meta: dict) -> torch.nn.Module:
    sd = torch.load(FIXTURES / "gru" / f"{case}.pt", weights_only=True)
    sd = {k.split("rnn.", 1)[-1]: v.double() for k, v in sd.items()}
    x_dim = sd["weight_ih_l0"].shape[1]
    hidden = sd["weight_hh_l0"].shape[1]
    options = {"num_layers": meta["layers"], "bidirectional": meta["bidirectional"],
               "bias": meta["bias"], "batch_first": True}
    module = (torch.nn.GRU(x_dim, hidden, **options) if meta["kind"] == "gru"
              else torch.nn.RNN(x_dim, hidden, nonlinearity=meta["nonlinearity"], **options))
    module.load_state_dict(sd)
    return module.double()


@pytest.mark.parametrize("case,target", [
    (case, target) for case in ("torch_gru_2layer_bidirectional", "torch_gru_nobias",
                                "torch_rnn_2layer_bidirectional")
    for target in ("sumsq(output[:, last])", "mean(output)")] + [("torch_gru_nobias", "h[1, 2, 3]")])
def test_gradients_match_torch_autograd(case, target):
    import json
    ref = read_npz(FIXTURES / "gru" / f"{case}.npz")
    meta = json.loads(str(ref["meta"]))
    result = load_model(FIXTURES / "gru" / f"{case}.pt").trace(ref["x"])
    ours = result.grad(target, layer=0)
    module = _torch_module(case, meta)
    x = torch.from_numpy(ref["x"].astype(np.float64)).requires_grad_(True)
    out = module(x)[0]
    if target.startswith("sumsq"):
        value = (out[:, -1] ** 2).sum()
    elif target.startswith("mean"):
        value = out.mean()
    else:                      # a one-layer, one-direction module: its h is its output
        value = out[1, 2, 3]
    (dx,) = torch.autograd.grad(value, x)
    assert_close(ours.dx_model, dx.numpy(), f"{case} {target}: dx_model")
