"""The GRU's and the simple RNN's runners against their written specs (``gru_cell.gru_step``,
``rnn_cell.rnn_step``): every recorded step from the state the runner recorded before it, with
reset_after on and off, masks, go_backwards, any activation, run whole or stepped. The vjp
specs against central differences of the forward specs in float64. What the trace records
(zx, zh, zb and z) as docs/architecture.md, "GRU and simple RNN", says."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from engine.cells.activations import keras_activation
from engine.cells.gru_cell import GRU_CELL, GruWeights, gru_step, gru_step_vjp
from engine.cells.rnn_cell import RNN_CELL, RnnWeights, rnn_step, rnn_step_vjp
from engine.runs.gru_stepper import GruRunner, RnnRunner
from engine.runs.stepper import DirectionRunner
from tests.generative import generative_settings
from tests.helpers import assert_close

ACTS = ["tanh", "sigmoid", "hard_sigmoid", "relu", "softsign", "linear"]


@st.composite
def gru_cells(draw):
    n, d = draw(st.integers(1, 9)), draw(st.integers(1, 5))
    rng = np.random.default_rng(draw(st.integers(0, 2**31 - 1)))
    reset_after = draw(st.booleans())
    return GruWeights(rng.normal(0, 0.6, (d, 3 * n)), rng.normal(0, 0.6, (n, 3 * n)),
                      rng.normal(0, 0.3, 3 * n),
                      recurrent_bias=rng.normal(0, 0.3, 3 * n) if reset_after else None,
                      reset_after=reset_after,
                      gate_activation=keras_activation(draw(st.sampled_from(["sigmoid", "hard_sigmoid"]))),
                      cell_activation=keras_activation(draw(st.sampled_from(ACTS))))


@st.composite
def rnn_cells(draw):
    n, d = draw(st.integers(1, 9)), draw(st.integers(1, 5))
    rng = np.random.default_rng(draw(st.integers(0, 2**31 - 1)))
    return RnnWeights(rng.normal(0, 0.6, (d, n)), rng.normal(0, 0.6, (n, n)), rng.normal(0, 0.3, n),
                      cell_activation=keras_activation(draw(st.sampled_from(ACTS))))


@st.composite
def runs(draw, cells):
    w = draw(cells)
    rng = np.random.default_rng(draw(st.integers(0, 2**31 - 1)))
    b, t = draw(st.integers(1, 3)), draw(st.integers(1, 12))
    x = rng.normal(size=(b, t, w.input_dim)).astype(np.float32)
    mask = rng.random((b, t)) > 0.3 if draw(st.booleans()) else None
    h0 = rng.normal(0, 0.5, (b, w.state_size)).astype(np.float32)
    runner = DirectionRunner("spec", w, x, backward=draw(st.booleans()), mask=mask, h0=h0)
    if draw(st.booleans()):
        runner.run()
    else:                          # the debugger's way: one step at a time, same buffers
        for p in range(t):
            runner.step(p)
    return runner


def check_against_spec(r: DirectionRunner, spec) -> None:
    gates = r.weights.kind.gates
    for p in range(r.steps):
        t = r.position(p)
        h_prev, c_prev = r.state_before(p)
        assert c_prev.shape == (r.batch, 0), "no cell state"
        valid = r.mask[:, t]
        *refs, h = spec(r.weights, r.x[:, t], h_prev)
        for k, (name, ref) in enumerate(zip(gates, refs)):
            assert_close(r.gates[valid, t, k], ref[valid], f"{name} at p={p}")
            assert np.all(np.isnan(r.gates[~valid, t, k])), f"{name} masked at p={p}"
        assert_close(r.h[valid, t], h[valid], f"h at p={p}")
        assert np.array_equal(r.h[~valid, t], h_prev[~valid]), "a masked step carries h"
        assert np.all(np.isnan(r.zh[~valid, t])), "a masked step records no zh"


@pytest.mark.generative
@generative_settings(80)
@given(runs(gru_cells()))
def test_the_gru_runner_is_the_spec(runner):
    assert isinstance(runner, GruRunner)
    check_against_spec(runner, gru_step)


@pytest.mark.generative
@generative_settings(60)
@given(runs(rnn_cells()))
def test_the_rnn_runner_is_the_spec(runner):
    assert isinstance(runner, RnnRunner)
    check_against_spec(runner, rnn_step)


@pytest.mark.generative
@generative_settings(40)
@given(runs(gru_cells()))
def test_the_gru_trace_parts_make_its_pre_activations(runner):
    """z_u = zx_u + zh_u + zb_u; z_n adds r . zh_n with reset_after, zh_n itself before; each
    gate is its activation of its z; zh with reset_after is h_{t-1} . U + b_h."""
    tr, w = runner.to_trace(), runner.weights
    valid = tr.mask
    for name, act in (("u", w.gate_activation), ("r", w.gate_activation), ("n", w.cell_activation)):
        assert_close(act(tr.signal(f"z_{name}"))[valid], tr.signal(name)[valid], f"{name} = act(z_{name})")
    if w.reset_after:
        h_prev = np.stack([tr.state_before(t)[0] for t in range(tr.steps)], axis=1)
        rec = (h_prev @ w.recurrent_kernel + w.recurrent_bias).reshape(*h_prev.shape[:2], 3, -1)
        assert_close(tr.zh[valid], rec[valid], "zh = h_{t-1} . U + b_h")
    arrays = tr.arrays()
    assert set(arrays) == {"u", "r", "n", "h", "zx", "zh", "zb", "h0", "mask", "x"}
    assert arrays["zx"].shape == (tr.batch, tr.steps, 3, tr.units) and arrays["zb"].shape == (3, tr.units)


def test_the_rnn_trace_records_h_and_its_one_block():
    rng = np.random.default_rng(1)
    w = RnnWeights(rng.normal(size=(2, 4)), rng.normal(0, 0.5, (4, 4)), rng.normal(size=4))
    r = DirectionRunner("rnn", w, rng.normal(size=(2, 5, 2)))
    r.run()
    tr = r.to_trace()
    assert set(tr.arrays()) == {"h", "zx", "zh", "zb", "h0", "mask", "x"}
    assert tr.zx.shape == (2, 5, 1, 4) and tr.gates.shape == (2, 5, 0, 4)
    assert_close(np.tanh(tr.signal("z_h")), tr.h, "h = tanh(z_h)")


def test_the_tables_name_their_signals_apart_from_the_lstms():
    assert GRU_CELL.recorded == ("u", "r", "n", "h") and GRU_CELL.parts == ("u", "r", "n")
    assert RNN_CELL.recorded == ("h",) and RNN_CELL.parts == ("h",)
    taken = {"z", "zx", "zh", "c", "f", "i", "o", "g"}
    assert not taken & set(GRU_CELL.display_order)
    rng = np.random.default_rng(0)
    w = GruWeights(rng.normal(size=(5, 12)), rng.normal(size=(4, 12)), rng.normal(size=12))
    assert w.shapes() == {"kernel": (5, 12), "recurrent_kernel": (4, 12), "bias": (2, 12)}
    assert w.param_count == 3 * (4 * (5 + 4) + 2 * 4)
    before = GruWeights(w.kernel, w.recurrent_kernel, w.bias, reset_after=False)
    assert before.shapes()["bias"] == (12,) and before.param_count == 3 * (4 * (5 + 4) + 4)


def _central_differences(spec, w, args, dh_new, eps=1e-6):
    """d(dh_new . h_t)/d(each of x, h), by central differences of the float64 spec."""
    def loss(x, h):
        return float(np.dot(dh_new, spec(w, x, h)[-1]))
    grads = []
    for k, arg in enumerate(args):
        grad = np.zeros_like(arg)
        for e in range(arg.size):
            hi, lo = list(args), list(args)
            hi[k], lo[k] = arg.copy(), arg.copy()
            hi[k][e] += eps
            lo[k][e] -= eps
            grad[e] = (loss(*hi) - loss(*lo)) / (2 * eps)
        grads.append(grad)
    return grads


@pytest.mark.generative
@generative_settings(40)
@given(st.one_of(gru_cells(), rnn_cells()), st.integers(0, 2**31 - 1))
def test_the_vjp_specs_are_the_derivatives_of_the_steps(w, seed):
    """The backward specs against central differences of the forward specs in float64
    (smooth activations only: a kink has no central difference)."""
    if w.cell_activation.name in ("relu", "hard_sigmoid") or w.gate_activation.name == "hard_sigmoid":
        w = type(w)(**{**w.__dict__, "gate_activation": keras_activation("sigmoid"),
                       "cell_activation": keras_activation("tanh"), "param_count": 0})
    spec, vjp = (gru_step, gru_step_vjp) if isinstance(w, GruWeights) else (rnn_step, rnn_step_vjp)
    rng = np.random.default_rng(seed)
    args = (rng.normal(size=w.input_dim), rng.normal(size=w.units))
    dh_new = rng.normal(size=w.units)
    for name, grad, fd in zip("xh", vjp(w, *args, dh_new), _central_differences(spec, w, args, dh_new)):
        assert np.allclose(grad, fd, rtol=1e-5, atol=1e-6), f"d{name}"
