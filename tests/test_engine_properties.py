"""Properties of the engine that must hold for any weights, input and position."""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from engine import Session
from engine.cells.activations import keras_activation
from engine.cells.cell import CellWeights
from engine.network.layers import LSTM, Masking
from engine.network.model import Model
from tests.helpers import assert_close

ACTS = ["tanh", "sigmoid", "hard_sigmoid", "relu", "softsign", "linear", "elu"]


@st.composite
def runs(draw):
    units = draw(st.integers(1, 12))
    features = draw(st.integers(1, 6))
    steps = draw(st.integers(1, 15))
    batch = draw(st.integers(1, 3))
    seed = draw(st.integers(0, 2**31 - 1))
    rng = np.random.default_rng(seed)
    act = draw(st.sampled_from(ACTS))
    rec = draw(st.sampled_from(["sigmoid", "hard_sigmoid", "tanh"]))
    use_bias = draw(st.booleans())
    cell = CellWeights(rng.normal(0, 0.6, (features, 4 * units)),
                       rng.normal(0, 0.6, (units, 4 * units)),
                       rng.normal(0, 0.3, 4 * units) if use_bias else np.zeros(4 * units),
                       use_bias=use_bias, gate_activation=keras_activation(rec),
                       cell_activation=keras_activation(act), output_activation=keras_activation(act))
    backward = draw(st.booleans())
    masked = draw(st.booleans())
    ops = ([Masking("masking")] if masked else []) + [
        LSTM("lstm", cell, return_sequences=True, go_backwards=backward)]
    model = Model(ops, source="hypothesis")
    x = rng.normal(size=(batch, steps, features)).astype(np.float32)
    if masked:
        x[rng.random((batch, steps)) < 0.3] = 0.0
    return model, x


@settings(max_examples=60, deadline=None)
@given(runs(), st.data())
def test_stepping_equals_the_full_trace(run, data):
    model, x = run
    full = model.trace(x).layer(0)
    s = Session(model, x)
    while s.t < s.steps:
        s.step(data.draw(st.integers(1, 4)))
    for key in ("i", "f", "g", "o", "c", "h", "zx", "zh"):
        assert np.array_equal(getattr(s.trace, key), getattr(full, key), equal_nan=True), key


@settings(max_examples=60, deadline=None)
@given(runs(), st.data())
def test_back_then_step_is_bit_identical(run, data):
    model, x = run
    s = Session(model, x)
    k = data.draw(st.integers(0, s.steps))
    s.seek(k)
    before = {key: getattr(s.trace, key).copy() for key in ("gates", "zh", "c", "h")}
    j = data.draw(st.integers(0, k))
    s.back(k - j)
    assert s.t == j
    s.seek(k)
    for key, value in before.items():
        assert np.array_equal(getattr(s.trace, key), value, equal_nan=True), key


@settings(max_examples=60, deadline=None)
@given(runs())
def test_preactivation_parts_give_the_gates(run):
    model, x = run
    tr = model.trace(x).layer(0)
    w = tr.weights
    z = tr.zx + tr.zh + tr.zb
    assert_close(w.gate_activation(z[:, :, 0]), tr.i, "i")
    assert_close(w.gate_activation(z[:, :, 1]), tr.f, "f")
    assert_close(w.cell_activation(z[:, :, 2]), tr.g, "g")
    assert_close(w.gate_activation(z[:, :, 3]), tr.o, "o")
    c_prev = np.concatenate([tr.c0[:, None], tr.c[:, :-1]], axis=1)
    if tr.backward:
        c_prev = np.concatenate([tr.c[:, 1:], tr.c0[:, None]], axis=1)
    valid = tr.mask
    assert_close((tr.f * c_prev + tr.i * tr.g)[valid], tr.c[valid], "c")
    assert_close((tr.o * w.output_activation(tr.c))[valid], tr.h[valid], "h")
    assert np.all(np.isnan(tr.i[~valid])) and np.all(np.isnan(tr.zh[~valid]))


@settings(max_examples=40, deadline=None)
@given(runs())
def test_masked_steps_carry_the_state(run):
    model, x = run
    tr = model.trace(x).layer(0)
    order = range(tr.steps - 1, -1, -1) if tr.backward else range(tr.steps)
    h_prev, c_prev = tr.h0, tr.c0
    for t in order:
        skip = ~tr.mask[:, t]
        assert np.array_equal(tr.h[skip, t], h_prev[skip])
        assert np.array_equal(tr.c[skip, t], c_prev[skip])
        h_prev, c_prev = tr.h[:, t], tr.c[:, t]
