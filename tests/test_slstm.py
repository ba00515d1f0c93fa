"""The sLSTM in the engine: the runner against the written spec ``slstm_step`` (hypothesis),
the spec against a plain float64 formula and its vjp against central differences,
checkpointed windows bit-identical to the whole run, a session stepping one, and its signals
(``nrm``, ``stab``) everywhere a signal name is read (docs/architecture.md, "sLSTM")."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from engine import Session
from engine.capture.foreign_ops import TorchLSTMLayer
from engine.cells.slstm_cell import SLSTM_CELL, SlstmWeights, block_diagonal, slstm_step, slstm_step_vjp
from engine.debugging.debugger import RangeEnv, check
from engine.debugging.expr import Expr, ExprError
from engine.network.model import Model
from engine.runs.checkpoints import CheckpointedRun, Overview
from engine.runs.stepper import XW_BLOCK, DirectionRunner
from tests.generative import generative_settings

ARRAYS = ("gates", "zx", "zh", "c", "h")


def weights(n: int = 8, d: int = 5, heads: int = 2, seed: int = 0,
            exp_forget: bool = False) -> SlstmWeights:
    rng = np.random.default_rng(seed)
    hd = n // heads
    blocks = rng.normal(0, 0.6, (heads, hd, 4, hd))
    return SlstmWeights(rng.normal(0, 0.7, (d, 4 * n)), block_diagonal(blocks),
                        rng.normal(0, 0.5, 4 * n), heads=heads, exp_forget=exp_forget)


def same(a, b, what=""):
    assert a.shape == b.shape, what
    assert np.array_equal(a, b, equal_nan=True), what


def reference_run(w: SlstmWeights, x: np.ndarray):
    """The sLSTM in float64 from its definition, unstabilised (C = c·e^m, N = n·e^m), for
    inputs small enough that exp does not overflow: h, c·e^m, n·e^m per step."""
    kern, rec, b = (np.asarray(a, np.float64) for a in (w.kernel, w.recurrent_kernel, w.bias))
    bsz, t_len, _ = x.shape
    n = w.units
    h = np.zeros((bsz, n))
    big_c, big_n = np.zeros((bsz, n)), np.zeros((bsz, n))
    out = []
    for t in range(t_len):
        z = x[:, t] @ kern + h @ rec + b
        z_i, z_f, z_g, z_o = np.split(z, 4, axis=-1)
        f = np.exp(z_f) if w.exp_forget else 1 / (1 + np.exp(-z_f))
        big_c = f * big_c + np.exp(z_i) * np.tanh(z_g)
        big_n = f * big_n + np.exp(z_i)
        h = 1 / (1 + np.exp(-z_o)) * big_c / big_n
        out.append((h, big_c, big_n))
    return out


@pytest.mark.parametrize("exp_forget", [False, True])
def test_the_spec_is_the_unstabilised_slstm(exp_forget):
    w = weights(exp_forget=exp_forget, seed=3)
    x = np.random.default_rng(4).normal(0, 0.5, (2, 7, w.input_dim)).astype(np.float32)
    h = np.zeros((2, w.units), np.float32)
    state = np.zeros((2, 3 * w.units), np.float32)
    for t, (h_ref, c_ref, n_ref) in enumerate(reference_run(w, x)):
        i, f, g, o, c, nrm, stab, h = slstm_step(w, x[:, t], h, state)
        state = np.concatenate([c, nrm, stab], axis=-1)
        np.testing.assert_allclose(h, h_ref, rtol=1e-4, atol=1e-5)
        np.testing.assert_allclose(c * np.exp(stab), c_ref, rtol=1e-4, atol=1e-5)
        np.testing.assert_allclose(nrm * np.exp(stab), n_ref, rtol=1e-4, atol=1e-5)
        assert (i <= 1).all() and (f <= 1).all() and (nrm > 0).all()


@st.composite
def slstm_runs(draw):
    heads = draw(st.sampled_from([1, 2, 4]))
    n = heads * draw(st.integers(1, 3))
    w = weights(n=n, d=draw(st.integers(1, 4)), heads=heads, seed=draw(st.integers(0, 2**16)),
                exp_forget=draw(st.booleans()))
    rng = np.random.default_rng(draw(st.integers(0, 2**16)))
    b, t_len = draw(st.integers(1, 3)), draw(st.integers(1, 9))
    x = rng.normal(0, 1.5, (b, t_len, w.input_dim)).astype(np.float32)
    mask = rng.random((b, t_len)) > 0.2 if draw(st.booleans()) else None
    return w, x, mask, draw(st.booleans())


@pytest.mark.generative
@generative_settings(60)
@given(slstm_runs())
def test_the_runner_steps_the_spec(run):
    """Every recorded array of a run equals the spec chained over the input (masked steps
    carry h and the state, their gates NaN)."""
    w, x, mask, backward = run
    runner = DirectionRunner("s", w, x, backward=backward, mask=mask)
    runner.run()
    tr = runner.to_trace()
    b, t_len, _ = x.shape
    h = np.zeros((b, w.units), np.float32)
    state = np.zeros((b, 3 * w.units), np.float32)
    order = range(t_len - 1, -1, -1) if backward else range(t_len)
    with np.errstate(over="ignore", invalid="ignore"):
        for t in order:
            i, f, g, o, c, nrm, stab, h_new = slstm_step(w, x[:, t], h, state)
            new_state = np.concatenate([c, nrm, stab], axis=-1)
            ok = np.ones(b, bool) if mask is None else mask[:, t]
            for name, want in zip("ifgo", (i, f, g, o)):
                np.testing.assert_allclose(tr.signal(name)[ok, t], want[ok], rtol=1e-6, atol=1e-6)
            h = np.where(ok[:, None], h_new, h)
            state = np.where(ok[:, None], new_state, state)
            np.testing.assert_allclose(tr.h[:, t], h, rtol=1e-6, atol=1e-6)
            np.testing.assert_allclose(tr.c[:, t], state, rtol=1e-6, atol=1e-6)
            assert np.isnan(tr.gates[~ok, t]).all()


@pytest.mark.parametrize("fresh", [False, True])
@pytest.mark.parametrize("exp_forget", [False, True])
def test_the_vjp_spec_matches_central_differences(exp_forget, fresh):
    """Through the stabiliser too (torch differentiates the package's max), from a carried
    state and from a fresh one (n = 0: m = z_i)."""
    w64 = weights(n=4, d=3, heads=2, seed=5, exp_forget=exp_forget)
    for name in ("kernel", "recurrent_kernel", "bias"):       # the weights hold float32; the
        object.__setattr__(w64, name, getattr(w64, name).astype(np.float64))  # check needs 64
    rng = np.random.default_rng(6)
    x, h = rng.normal(size=(2, 3)), rng.normal(0, 0.5, (2, 4))
    state = np.concatenate([rng.normal(size=(2, 4)), rng.uniform(0.5, 2, (2, 4)),
                            rng.normal(0, 0.3, (2, 4))], axis=-1)
    if fresh:
        state[:] = 0
    dh_new, dstate_new = rng.normal(size=(2, 4)), rng.normal(size=(2, 12))

    def loss(x_, h_, s_):
        i, f, g, o, c, nrm, stab, h_t = slstm_step(w64, x_, h_, s_)
        return (h_t * dh_new).sum() + (np.concatenate([c, nrm, stab], axis=-1) * dstate_new).sum()

    dx, dh, dstate, _ = slstm_step_vjp(w64, x, h, state, dh_new, dstate_new)
    eps = 1e-6
    checked = ((0, dx), (1, dh)) if fresh else ((0, dx), (1, dh), (2, dstate))  # n = 0 is a point
    for arg, got in checked:
        vals = [x, h, state]
        num = np.zeros_like(vals[arg])
        for idx in np.ndindex(num.shape):
            up, down = [v.copy() for v in vals], [v.copy() for v in vals]
            up[arg][idx] += eps
            down[arg][idx] -= eps
            num[idx] = (loss(*up) - loss(*down)) / (2 * eps)
        np.testing.assert_allclose(got, num, rtol=1e-5, atol=1e-7)


def reading_preactivations(w: SlstmWeights) -> SlstmWeights:
    """The same cell as a live xlstm cell is: W the identity, x its gate pre-activations."""
    return SlstmWeights(np.eye(4 * w.units, dtype=np.float32), w.recurrent_kernel, w.bias,
                        heads=w.heads, reads_preactivations=True)


def test_a_cell_reading_its_preactivations_copies_x_for_x_times_w():
    """x·I is x: the copy the stepper makes instead of the product gives what the product does."""
    w = reading_preactivations(weights())
    x = np.random.default_rng(3).normal(size=(2, 7, w.input_dim)).astype(np.float32)
    runner = DirectionRunner("s", w, x)
    runner.run()
    same(runner.zx.reshape(2, 7, -1), x)
    h = np.zeros((2, w.units), np.float32)
    state = np.zeros((2, 3 * w.units), np.float32)
    for t in range(7):
        *_, c, nrm, stab, h = slstm_step(w, x[:, t], h, state)
        state = np.concatenate([c, nrm, stab], axis=-1)
        np.testing.assert_allclose(runner.h[:, t], h, rtol=1e-6, atol=1e-6)
    with pytest.raises(ValueError, match="identity"):
        SlstmWeights(np.ones((4 * w.units, 4 * w.units)), w.recurrent_kernel, w.bias, heads=2,
                     reads_preactivations=True)


@pytest.mark.parametrize("identity", [False, True])
@pytest.mark.parametrize("backward", [False, True])
def test_checkpointed_windows_are_bit_identical_to_the_whole_run(backward, identity):
    w = reading_preactivations(weights()) if identity else weights()
    rng = np.random.default_rng(1)
    t_len = 2 * XW_BLOCK + 37
    x = rng.normal(size=(2, t_len, w.input_dim)).astype(np.float32)
    mask = rng.random((2, t_len)) > 0.15
    full = DirectionRunner("s", w, x, backward=backward, mask=mask)
    full.run()
    ft = full.to_trace()
    run = CheckpointedRun("s", w, x, backward=backward, mask=mask, interval=XW_BLOCK)
    names = [*SLSTM_CELL.recorded, "z_i", "z_f", "zh_o"]
    for a, b in [(0, t_len), (300, 301), (255, 520), (t_len - 40, t_len)]:
        wt = run.window_trace(a, b)
        for key in ARRAYS:
            same(getattr(wt, key), getattr(ft, key)[:, a:b], f"{key} {a}:{b}")
        for name in names:
            same(run.signal(name, a, b), ft.signal(name)[:, a:b], f"{name} {a}:{b}")
    assert run.first_pass()
    ref = Overview.of(ft, run.overview.bucket)
    assert set(ref.lo) == set(SLSTM_CELL.recorded)
    for name in ref.lo:
        same(run.overview.lo[name], ref.lo[name], f"overview lo {name}")


def slstm_model(w: SlstmWeights) -> Model:
    return Model(ops=[TorchLSTMLayer(name="s", forward=w)], source="test", format="pytorch")


def test_a_session_steps_back_and_seeks_an_slstm_as_the_whole_run():
    w = weights()
    x = np.random.default_rng(2).normal(size=(1, 9, w.input_dim)).astype(np.float32)
    model = slstm_model(w)
    whole = model.trace(x).layer(0)
    s = Session(model, x)
    assert s.cell_kind is SLSTM_CELL
    for _ in range(5):
        s.step()
    s.back()
    s.seek(9)
    for name in SLSTM_CELL.recorded:
        same(s.full().signal(name), whole.signal(name), name)
    arrays = whole.arrays()
    assert {"i", "f", "g", "o", "c", "nrm", "stab", "h", "c0", "h0", "zx", "zh", "zb"} <= set(arrays)
    assert arrays["c"].shape == arrays["nrm"].shape == arrays["stab"].shape == (1, 9, w.units)
    assert arrays["c0"].shape == (1, 3 * w.units)


def test_the_normalizer_and_stabilizer_are_signals_of_their_own():
    """``nrm`` and ``stab`` read the blocks of the carried state; expressions know them, and
    no other kind's name means them."""
    w = weights()
    x = np.random.default_rng(7).normal(size=(2, 6, w.input_dim)).astype(np.float32)
    tr = slstm_model(w).trace(x).layer(0)
    n = w.units
    same(tr.signal("c"), tr.c[..., :n])
    same(tr.signal("nrm"), tr.c[..., n:2 * n])
    same(tr.signal("stab"), tr.c[..., 2 * n:])
    np.testing.assert_allclose(tr.signal("h"), tr.o * tr.signal("c") / tr.signal("nrm"), rtol=1e-6)
    runner = DirectionRunner("s", w, x)
    runner.run()
    held = Expr("min(nrm) > 0 and max(abs(h - o * c / nrm)) < 1e-5").evaluate(
        RangeEnv(runner, 0, 6, slice(None)))
    assert held.shape == (2, 6) and held.all()
    check("stab > 0", w)
    with pytest.raises(ExprError, match="unknown signal"):
        check("u > 0", w)                     # a GRU's name, not this cell's


def test_units_read_their_own_head_only():
    """U is zero between heads: a change of one head's h moves no other head's gates."""
    w = weights(n=8, heads=4)
    hd = w.head_size
    u = w.recurrent_kernel.reshape(8, 4, 8)
    for j in range(8):
        others = [k for k in range(8) if w.head_of(k) != w.head_of(j)]
        assert not u[j, :, others].any()
        assert u[j, :, w.head_of(j) * hd:(w.head_of(j) + 1) * hd].any()


def test_a_fork_edits_the_cell_state_and_carries_the_normalizer_on():
    """Editing c (one unit or the whole vector) sets C alone; nrm and stab carry on as
    computed, and the rest of the run continues from the edited state."""
    from engine.debugging.debugger import Debugger
    w = weights()
    x = np.random.default_rng(2).normal(size=(1, 9, w.input_dim)).astype(np.float32)
    s = Session(slstm_model(w), x)
    s.seek(9)
    whole = s.full()
    debugger = Debugger(s)
    one = debugger.fork_state("c", value=0.5, unit=1, position=3).to_trace()
    assert one.signal("c")[0, 3, 1] == np.float32(0.5)
    same(one.signal("c")[0, 3, [0, 2]], whole.signal("c")[0, 3, [0, 2]])
    same(one.signal("nrm")[0, 3], whole.signal("nrm")[0, 3])
    same(one.signal("stab")[0, 3], whole.signal("stab")[0, 3])
    assert not np.array_equal(one.h[0, 4:], whole.h[0, 4:])
    every = debugger.fork_state("c", value=np.full(w.units, 0.25, np.float32), position=4).to_trace()
    assert (every.signal("c")[0, 4] == np.float32(0.25)).all()
    same(every.signal("nrm")[0, 4], whole.signal("nrm")[0, 4])
    with pytest.raises(Exception, match="unit"):
        debugger.fork_state("c", value=1.0, unit=w.units, position=3)   # nrm's first column: no unit


def test_sentences_name_the_cell_as_it_is_written():
    """"sLSTM", not "SLSTM": the kind's written name, which the others keep as LSTM, GRU, RNN."""
    from engine.cells.cell import LSTM_CELL
    from engine.cells.gru_cell import GRU_CELL
    assert (SLSTM_CELL.written, LSTM_CELL.written, GRU_CELL.written) == ("sLSTM", "LSTM", "GRU")


def test_an_initial_state_carries_c_nrm_and_stab_and_a_wrong_one_says_so():
    """c0 of an sLSTM is c, nrm, stab side by side (B, 3N); a c0 of N alone is refused in one
    line saying what the 3N are."""
    from engine.errors import InitialStateError
    w = weights(n=4, heads=2)
    x = np.random.default_rng(4).normal(size=(1, 5, w.input_dim)).astype(np.float32)
    model = slstm_model(w)
    c0 = np.concatenate([np.full(4, 0.3), np.full(4, 1.2), np.full(4, -0.5)]).astype(np.float32)
    tr = Session(model, x, initial_state={"s": (np.zeros(4, np.float32), c0)}).full()
    same(tr.c0[0], c0)
    _, f, g, _, c, nrm, _, _ = slstm_step(w, x[:, 0], np.zeros((1, 4), np.float32), c0[None])
    np.testing.assert_allclose(tr.signal("nrm")[0, 0], nrm[0], rtol=1e-6)
    with pytest.raises(InitialStateError, match=r"\(1, 12\) \(batch, c \+ nrm \+ stab of 4 units each\)"):
        Session(model, x, initial_state={"s": (None, np.zeros(4, np.float32))}).full()


def test_info_writes_the_kind_as_users_write_it():
    from engine.cli.commands import format_info
    text = format_info(slstm_model(weights()).summary())
    assert " sLSTM " in text and "SLSTM" not in text
