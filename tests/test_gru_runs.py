"""GRU and simple-RNN runs beyond one runner: checkpointed windows bit-identical to the whole
in-memory run (docs/architecture.md, "Long runs"), with masks and both directions; a session
steps, goes back and seeks over one."""

from __future__ import annotations

import numpy as np
import pytest

from engine import Session
from engine.cells.activations import keras_activation
from engine.cells.gru_cell import GruWeights
from engine.cells.rnn_cell import RnnWeights
from engine.runs.checkpoints import CheckpointedRun, Overview
from engine.runs.stepper import XW_BLOCK, DirectionRunner

ARRAYS = ("gates", "zx", "zh", "c", "h")


def weights(kind: str, n: int = 6, d: int = 4, seed: int = 0):
    rng = np.random.default_rng(seed)
    if kind == "rnn":
        return RnnWeights(rng.normal(0, 0.5, (d, n)), rng.normal(0, 0.5, (n, n)), rng.normal(0, 0.3, n),
                          cell_activation=keras_activation("relu"))
    reset_after = kind == "gru"
    return GruWeights(rng.normal(0, 0.5, (d, 3 * n)), rng.normal(0, 0.5, (n, 3 * n)),
                      rng.normal(0, 0.3, 3 * n), reset_after=reset_after,
                      recurrent_bias=rng.normal(0, 0.3, 3 * n) if reset_after else None)


def same(a, b, what=""):
    assert a.shape == b.shape, what
    assert np.array_equal(a, b, equal_nan=True), what


@pytest.mark.parametrize("backward", [False, True])
@pytest.mark.parametrize("kind", ["gru", "gru-reset-before", "rnn"])
def test_checkpointed_windows_are_bit_identical_to_the_whole_run(kind, backward):
    w = weights(kind)
    rng = np.random.default_rng(1)
    t_len = 2 * XW_BLOCK + 37                        # a partial last block and chunk
    x = rng.normal(size=(2, t_len, w.input_dim)).astype(np.float32)
    mask = rng.random((2, t_len)) > 0.15
    full = DirectionRunner("l", w, x, backward=backward, mask=mask)
    full.run()
    ft = full.to_trace()
    run = CheckpointedRun("l", w, x, backward=backward, mask=mask, interval=XW_BLOCK)
    names = [*w.kind.recorded, *(f"z_{p}" for p in w.kind.parts), f"zh_{w.kind.parts[-1]}"]
    for a, b in [(0, t_len), (300, 301), (255, 520), (t_len - 40, t_len), (512, 512)]:
        wt = run.window_trace(a, b)
        for key in ARRAYS:
            same(getattr(wt, key), getattr(ft, key)[:, a:b], f"{key} {a}:{b}")
        for name in names:
            same(run.signal(name, a, b), ft.signal(name)[:, a:b], f"{name} {a}:{b}")
    for p in (0, 256, 511, t_len):
        for got, want in zip(run.state_before(p), full.state_before(p)):
            same(got, want, f"state before p={p}")
    assert run.first_pass()
    ref = Overview.of(ft, run.overview.bucket)
    assert set(ref.lo) == set(w.kind.recorded)
    for name in ref.lo:
        same(run.overview.lo[name], ref.lo[name], f"overview lo {name}")


@pytest.mark.parametrize("kind", ["gru", "rnn"])
def test_a_session_steps_a_gru_as_the_whole_run(kind):
    from engine.capture.foreign_ops import TorchLSTMLayer
    from engine.network.model import Model
    w = weights(kind)
    model = Model(ops=[TorchLSTMLayer(name="l0", forward=w)], source="test", format="pytorch")
    x = np.random.default_rng(2).normal(size=(1, 9, w.input_dim)).astype(np.float32)
    whole = model.trace(x).layer(0)
    s = Session(model, x)
    for _ in range(5):
        s.step()
    s.back()
    s.seek(9)
    same(s.full().h, whole.h, "h")
    assert set(whole.arrays()) >= {"h", "zx", "zh", "zb", "h0"} and "c0" not in whole.arrays()


def test_segments_carry_a_grus_h_as_one_run():
    """A stateful run in segments (``stateful.trace_segments``) equals the whole run: h alone is
    carried, the empty c with it."""
    from engine.capture.foreign_ops import TorchLSTMLayer
    from engine.network.model import Model
    from engine.runs.stateful import join, trace_segments
    w = weights("gru")
    model = Model(ops=[TorchLSTMLayer(name="l0", forward=w)], source="test", format="pytorch")
    x = np.random.default_rng(5).normal(size=(2, 12, w.input_dim)).astype(np.float32)
    whole = model.trace(x).layer(0)
    joined = join(trace_segments(model, [x[:, :5], x[:, 5:9], x[:, 9:]])).layer(0)
    np.testing.assert_allclose(joined.h, whole.h, rtol=1e-6, atol=1e-6)
    assert joined.c.shape == (2, 12, 0)
