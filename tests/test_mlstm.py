"""The mLSTM in the engine: the runner against the written spec ``mlstm_cell_step``
(hypothesis), the spec against the recurrent form per head, checkpointed windows
bit-identical to the whole run, a session stepping one, C in the trace's arrays, and its
gradients refused in one line (docs/architecture.md, "mLSTM")."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from engine import Session
from engine.capture.foreign_ops import TorchLSTMLayer
from engine.cells.mlstm_cell import MLSTM_CELL, MlstmWeights, mlstm_cell_step, mlstm_step
from engine.errors import ScopeError
from engine.network.model import Model
from engine.runs.checkpoints import CheckpointedRun, Overview
from engine.runs.stepper import XW_BLOCK, DirectionRunner
from tests.generative import generative_settings

ARRAYS = ("gates", "zx", "zh", "c", "h")


def weights(n: int = 8, heads: int = 2, seed: int = 0, norm: bool = True) -> MlstmWeights:
    rng = np.random.default_rng(seed)
    return MlstmWeights.make(heads, rng.normal(0, 0.4, (3 * n, 2 * heads)),
                             rng.normal(0, 1.0, 2 * heads) + np.r_[np.zeros(heads), np.full(heads, 2.0)],
                             1 + rng.normal(0, 0.3, n) if norm else None)


def same(a, b, what=""):
    assert a.shape == b.shape, what
    assert np.array_equal(a, b, equal_nan=True), what


def zero_state(b: int, w: MlstmWeights) -> np.ndarray:
    return np.zeros((b, w.cell_size), np.float32)


def test_the_cell_step_is_the_recurrent_form_with_its_gates_and_norm():
    """mlstm_cell_step = z_i, z_f from (q, k, v) by the gates' linear maps, ``mlstm_step``
    per head, then a layer norm per head times the weight."""
    w = weights(n=12, heads=3, seed=4)
    rng = np.random.default_rng(5)
    x = rng.normal(size=(2, 5, w.input_dim)).astype(np.float32)
    state = zero_state(2, w)
    c = np.zeros((2, 3, 4, 4), np.float32)
    n = np.zeros((2, 3, 4), np.float32)
    m = np.zeros((2, 3), np.float32)
    for t in range(5):
        q, k, v = (x[:, t, j * 12:(j + 1) * 12].reshape(2, 3, 4) for j in range(3))
        z = x[:, t] @ w.gate_kernel + w.gate_bias
        i, f, c, n, m, h = mlstm_step(q, k, v, z[:, :3], z[:, 3:], c, n, m)
        normed = (h - h.mean(-1, keepdims=True)) / np.sqrt(h.var(-1, keepdims=True) + 1e-5)
        ci, cf, nrm, stab, h_cell, state = mlstm_cell_step(w, x[:, t], np.zeros((2, 12)), state)
        np.testing.assert_allclose(h_cell, (normed * w.norm_weight.reshape(3, 4)).reshape(2, 12),
                                   rtol=1e-5, atol=1e-6)
        same(ci, i)
        same(cf, f)
        same(stab, m)
        same(w.memory(state), c)
        same(nrm, n.reshape(2, 12))
        same(state[:, 12:24], np.repeat(m, 4, axis=-1))


@st.composite
def mlstm_runs(draw):
    heads = draw(st.sampled_from([1, 2, 4]))
    n = heads * draw(st.integers(1, 3))
    w = weights(n=n, heads=heads, seed=draw(st.integers(0, 2**16)), norm=draw(st.booleans()))
    rng = np.random.default_rng(draw(st.integers(0, 2**16)))
    b, t_len = draw(st.integers(1, 3)), draw(st.integers(1, 9))
    x = rng.normal(0, 1.5, (b, t_len, w.input_dim)).astype(np.float32)
    mask = rng.random((b, t_len)) > 0.2 if draw(st.booleans()) else None
    return w, x, mask, draw(st.booleans())


@pytest.mark.generative
@generative_settings(60)
@given(mlstm_runs())
def test_the_runner_steps_the_spec(run):
    """Every recorded array of a run equals the spec chained over the input: i, f repeated
    over each head's units, nrm, stab and C carried in c, zh zero (no recurrent kernel);
    masked steps carry the state, their gates NaN."""
    w, x, mask, backward = run
    runner = DirectionRunner("m", w, x, backward=backward, mask=mask)
    runner.run()
    tr = runner.to_trace()
    b, t_len, _ = x.shape
    h = np.zeros((b, w.units), np.float32)
    state = zero_state(b, w)
    order = range(t_len - 1, -1, -1) if backward else range(t_len)
    dh = w.head_size
    with np.errstate(over="ignore", invalid="ignore"):
        for t in order:
            i, f, nrm, stab, h_new, new_state = mlstm_cell_step(w, x[:, t], h, state)
            ok = np.ones(b, bool) if mask is None else mask[:, t]
            np.testing.assert_allclose(tr.i[ok, t], np.repeat(i, dh, -1)[ok], rtol=1e-6, atol=1e-6)
            np.testing.assert_allclose(tr.f[ok, t], np.repeat(f, dh, -1)[ok], rtol=1e-6, atol=1e-6)
            h = np.where(ok[:, None], h_new, h)
            state = np.where(ok[:, None], new_state, state)
            np.testing.assert_allclose(tr.h[:, t], h, rtol=1e-6, atol=1e-6)
            np.testing.assert_allclose(tr.c[:, t], state, rtol=1e-6, atol=1e-6)
            np.testing.assert_allclose(tr.signal("nrm")[ok, t], nrm[ok], rtol=1e-6, atol=1e-6)
            assert np.isnan(tr.gates[~ok, t]).all()
            assert (tr.zh[ok, t] == 0).all()
    valid = np.ones(x.shape[:2], bool) if mask is None else mask
    same(tr.zx.reshape(x.shape)[valid], x[valid])           # q, k, v read as they are


@pytest.mark.parametrize("backward", [False, True])
def test_checkpointed_windows_are_bit_identical_to_the_whole_run(backward):
    w = weights()
    rng = np.random.default_rng(1)
    t_len = 2 * XW_BLOCK + 37
    x = rng.normal(size=(2, t_len, w.input_dim)).astype(np.float32)
    mask = rng.random((2, t_len)) > 0.15
    full = DirectionRunner("m", w, x, backward=backward, mask=mask)
    full.run()
    ft = full.to_trace()
    run = CheckpointedRun("m", w, x, backward=backward, mask=mask, interval=XW_BLOCK)
    for a, b in [(0, t_len), (300, 301), (255, 520), (t_len - 40, t_len)]:
        wt = run.window_trace(a, b)
        for key in ARRAYS:
            same(getattr(wt, key), getattr(ft, key)[:, a:b], f"{key} {a}:{b}")
        for name in MLSTM_CELL.recorded:
            same(run.signal(name, a, b), ft.signal(name)[:, a:b], f"{name} {a}:{b}")
        same(wt.arrays()["C"], ft.arrays()["C"][:, a:b], f"C {a}:{b}")
    assert run.first_pass()
    ref = Overview.of(ft, run.overview.bucket)
    assert set(ref.lo) == set(MLSTM_CELL.recorded)
    for name in ref.lo:
        same(run.overview.lo[name], ref.lo[name], f"overview lo {name}")


def mlstm_model(w: MlstmWeights) -> Model:
    return Model(ops=[TorchLSTMLayer(name="m", forward=w)], source="test", format="pytorch")


def test_a_session_steps_back_and_seeks_an_mlstm_as_the_whole_run():
    w = weights(n=8, heads=2)
    x = np.random.default_rng(2).normal(size=(1, 9, w.input_dim)).astype(np.float32)
    model = mlstm_model(w)
    whole = model.trace(x).layer(0)
    s = Session(model, x)
    assert s.cell_kind is MLSTM_CELL
    for _ in range(5):
        s.step()
    s.back()
    s.seek(9)
    for name in MLSTM_CELL.recorded:
        same(s.full().signal(name), whole.signal(name), name)
    arrays = whole.arrays()
    assert {"i", "f", "nrm", "stab", "h", "C", "c0", "h0", "zx", "zh", "zb", "x", "mask"} <= set(arrays)
    assert arrays["C"].shape == (1, 9, 2, 4, 4)
    assert arrays["h"].shape == arrays["nrm"].shape == arrays["i"].shape == (1, 9, 8)
    assert arrays["c0"].shape == (1, w.cell_size)
    same(arrays["C"][0, 4], w.memory(whole.c[0, 4]))


def test_a_fork_from_an_edited_memory_reads_it_on():
    """A fork carries C: setting the state before a step changes what follows, and the
    unchanged run reproduces itself from its own state."""
    w = weights()
    x = np.random.default_rng(3).normal(size=(1, 8, w.input_dim)).astype(np.float32)
    whole = DirectionRunner("m", w, x)
    whole.run()
    h3, c3 = whole.state_before(4)
    again = DirectionRunner("m", w, x[:, 4:], h0=h3, c0=c3)
    again.run()
    same(again.h, whole.h[:, 4:])
    edited = c3.copy()
    w.memory(edited)[...] = 0.0
    forked = DirectionRunner("m", w, x[:, 4:], h0=h3, c0=edited)
    forked.run()
    assert not np.allclose(forked.h, whole.h[:, 4:])


def test_the_mlstm_has_no_recurrent_kernel_and_no_gradients_yet():
    w = weights()
    with pytest.raises(ValueError, match="no recurrent kernel"):
        MlstmWeights(w.kernel, np.ones_like(w.recurrent_kernel), w.bias, heads=2,
                     gate_kernel=w.gate_kernel, gate_bias=w.gate_bias)
    assert (w.unit_heads() == np.repeat([0, 1], 4)).all()
    x = np.random.default_rng(4).normal(size=(1, 5, w.input_dim)).astype(np.float32)
    result = mlstm_model(w).trace(x)
    with pytest.raises(ScopeError, match="^layer 'm' is an mLSTM: LSTM Scope does not compute its gradients yet$"):
        result.grad("h[0, 4, 0]")
    for backward in (MLSTM_CELL.step_vjp, MLSTM_CELL.step_extended_vjp):   # the table's own entry
        with pytest.raises(ScopeError, match="^an mLSTM layer: LSTM Scope does not compute its"):
            backward(w, x[0], None, None, None, None)


def test_an_initial_state_carries_the_memory_and_a_wrong_one_says_what_it_holds():
    """c0 of an mLSTM is nrm, stab and C side by side (B, 2N + N·DH): a run from one equals
    the spec from it, and a c0 of another size is refused in one line saying so."""
    from engine.errors import InitialStateError
    w = weights(n=8, heads=2)
    x = np.random.default_rng(6).normal(size=(1, 5, w.input_dim)).astype(np.float32)
    c0 = np.random.default_rng(7).normal(0, 0.5, w.cell_size).astype(np.float32)
    c0[8:16] = np.repeat([0.2, -0.4], 4)                       # one stabiliser per head
    tr = Session(mlstm_model(w), x, initial_state={"m": (None, c0)}).full()
    same(tr.c0[0], c0)
    *_, h, _ = mlstm_cell_step(w, x[:, 0], np.zeros((1, 8), np.float32), c0[None])
    np.testing.assert_allclose(tr.h[0, 0], h[0], rtol=1e-6, atol=1e-6)
    with pytest.raises(InitialStateError, match=r"\(1, 48\) \(batch, nrm \+ stab of 8 units each "
                                                r"\+ 32 of the matrix memory C\)"):
        Session(mlstm_model(w), x, initial_state={"m": (None, np.zeros(16, np.float32))}).full()


def test_info_writes_the_kind_as_users_write_it():
    """``main.py info`` names the cell "mLSTM" (and an sLSTM "sLSTM"), not "MLSTM"."""
    from engine.cli.commands import format_info
    text = format_info(mlstm_model(weights()).summary())
    assert " mLSTM " in text and "MLSTM" not in text
