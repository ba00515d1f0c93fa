"""sLSTM gradients (docs/architecture.md, "sLSTM"): ``layer_backward`` through a recorded run
equals the vjp spec chained over it (masks, both directions), and through a live xlstm stack
equals torch autograd through the package's own vanilla cell in float64, for 1, 2 and 4 heads."""

from __future__ import annotations

import numpy as np
import pytest
import torch

import engine
from engine.cells.slstm_cell import slstm_step_vjp
from engine.gradients.grad_layer import layer_backward
from engine.runs.stepper import DirectionRunner
from tests.helpers import assert_close
from tests.test_slstm import weights
from tests.test_slstm_torch import fixture_stack


@pytest.mark.parametrize("backward", [False, True])
@pytest.mark.parametrize("exp_forget", [False, True])
def test_the_backward_is_the_vjp_spec_chained_over_the_run(backward, exp_forget):
    w = weights(n=6, heads=3, seed=4, exp_forget=exp_forget)
    rng = np.random.default_rng(5)
    b, t_len = 2, 9
    x = rng.normal(size=(b, t_len, w.input_dim)).astype(np.float32)
    mask = np.ones((b, t_len), bool)
    mask[1, 3] = mask[0, 6] = False
    runner = DirectionRunner("s", w, x, backward=backward, mask=mask)
    runner.run()
    tr = runner.to_trace()
    dh_ext = rng.normal(size=tr.h.shape).astype(np.float32)
    dc_ext = rng.normal(size=tr.c.shape).astype(np.float32)
    got = layer_backward(tr, dh_ext, dc_ext)

    carry_h = np.zeros((b, w.units))
    carry_s = np.zeros((b, 3 * w.units))
    dx = np.zeros(x.shape)
    order = range(t_len) if backward else range(t_len - 1, -1, -1)
    for t in order:
        h_prev, s_prev = tr.state_before(t)
        dh, ds = dh_ext[:, t] + carry_h, dc_ext[:, t] + carry_s
        dx_t, dh_prev, ds_prev, ds_t = slstm_step_vjp(w, x[:, t], h_prev, s_prev, dh, ds)
        ok = mask[:, t][:, None]
        dx[:, t] = np.where(ok, dx_t, 0)
        assert_close(got.dc[:, t][mask[:, t]], ds_t[mask[:, t]], f"dc at {t}")
        carry_h = np.where(ok, dh_prev, dh)
        carry_s = np.where(ok, ds_prev, ds)
    assert_close(got.dx, dx, "dx")
    assert_close(got.dh0, carry_h, "dh0")
    assert_close(got.dc0, carry_s, "dc0")


@pytest.mark.parametrize("heads", [1, 2, 4])
def test_gradients_match_torch_autograd_through_the_package(heads):
    """d sumsq(h[:, last]) / d (each cell's input) against torch autograd through the package's
    vanilla sLSTM cell in float64, fed the same input the stack gave it."""
    stack, x, _ = fixture_stack(heads)
    result = engine.from_torch(stack, x).result()
    for k, block in enumerate(stack.blocks):
        cell = block.xlstm.slstm_cell
        trace = result.layer(k)
        ours = result.grad("sumsq(h[:, last, :])", layer=k)
        cell64 = cell.double()
        inp = torch.tensor(trace.x, dtype=torch.float64, requires_grad=True)
        out, _ = cell64(inp)                                     # (B, heads, T, hd)
        h = out.permute(0, 2, 1, 3).reshape(inp.shape[0], inp.shape[1], -1)
        assert_close(trace.h, h.detach().numpy(), f"layer {k} forward in float64")
        (h[:, -1] ** 2).sum().backward()
        cell.float()
        assert_close(ours.dx, inp.grad.numpy(), f"layer {k} d/dx")


def test_a_target_on_c_reads_the_cell_state_alone():
    """c[...] of an sLSTM is its cell state, the first block of the carried c, nrm, stab."""
    w = weights(n=4, heads=2, seed=8)
    x = np.random.default_rng(9).normal(size=(1, 5, w.input_dim)).astype(np.float32)
    from tests.test_slstm import slstm_model
    result = slstm_model(w).trace(x)
    g = result.grad("sum(c[0, 2, :])")
    assert np.isclose(g.value, float(result.layer(0).signal("c")[0, 2].sum()))
    dc = np.zeros_like(result.layer(0).c)
    dc[0, 2, :4] = 1
    want = layer_backward(result.layer(0), None, dc)
    assert_close(g.dx, want.dx, "dx")


def test_a_checkpointed_runs_gradient_equals_the_in_memory_one():
    """Chunk by chunk, the carried c, nrm, stab gradients join as the whole run's do."""
    from engine import Session
    from engine.runs.stepper import XW_BLOCK
    from tests.test_slstm import slstm_model
    w = weights(n=4, heads=2, seed=10)
    x = np.random.default_rng(11).normal(size=(1, 2 * XW_BLOCK + 37, w.input_dim)).astype(np.float32)
    model = slstm_model(w)
    whole, chunked = Session(model, x), Session(model, x, checkpoint_above=1)
    assert chunked.checkpointed and not whole.checkpointed
    for target in ("sumsq(h[:, last, :])", "sum(c[0, 300, :])"):
        a, b = whole.grad(target), chunked.grad(target)
        assert a.dc.shape == (1, x.shape[1], 4) and a.dc0.shape == (1, 4)
        for name in ("dh", "dc", "dh0", "dc0"):
            assert np.array_equal(getattr(a, name), getattr(b, name)), f"{target} {name}"
        assert_close(b.dx, a.dx, f"{target} dx")


def test_a_watch_reads_the_gradient_on_the_cell_state():
    """grad(c) in an expression is d target / d C (N wide): a unit past N is refused when the
    expression is checked, not when it runs."""
    from engine import Session
    from engine.debugging.debugger import check
    from engine.debugging.expr import ExprError
    from tests.test_slstm import slstm_model
    w = weights(n=4, heads=2, seed=12)
    x = np.random.default_rng(13).normal(size=(1, 6, w.input_dim)).astype(np.float32)
    s = Session(slstm_model(w), x)
    s.seek(6)
    check("grad_norm(c) > 0", w)
    with pytest.raises(ExprError):
        check("grad(c)[5] > 0", w)                 # nrm's second column, not a unit
    assert s.grad("sumsq(h[:, last, :])").dc.shape == (1, 6, 4)
