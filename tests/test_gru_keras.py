"""Keras 3 ``GRU`` (reset_after true and false, go_backwards, masks), ``SimpleRNN`` (relu) and
``Bidirectional(GRU)`` in ``.keras`` and legacy ``.h5`` files (fixtures from
scripts/make_gru_fixtures.py) against Keras itself, within the Contracts' tolerance."""

from __future__ import annotations

import numpy as np
import pytest

from engine.cells.gru_cell import GruWeights
from engine.cells.rnn_cell import RnnWeights
from engine.loaders import load_model
from tests.helpers import FIXTURES, assert_close, check_trace_against_reference, read_npz

GRU = FIXTURES / "gru"
CASES = ["keras_gru_reset_after", "keras_gru_reset_before", "keras_simplernn", "keras_bidirectional_gru"]


@pytest.mark.parametrize("suffix", [".keras", ".h5"])
@pytest.mark.parametrize("case", CASES)
def test_a_keras_file_traces_as_keras_steps_it(case, suffix):
    ref = read_npz(GRU / f"{case}.npz")
    model = load_model(GRU / f"{case}{suffix}")
    result = check_trace_against_reference(model, ref)
    expect = RnnWeights if "simplernn" in case else GruWeights
    assert all(isinstance(layer.weights, expect) for layer in result.layers)


def test_reset_after_and_its_bias_rows_are_read_from_the_file():
    after = load_model(GRU / "keras_gru_reset_after.keras").traced_layers[0].weights
    before = load_model(GRU / "keras_gru_reset_before.keras").traced_layers[0].weights
    assert after.reset_after and after.shapes()["bias"] == (2, 15)
    assert after.param_count == 3 * (5 * (3 + 5) + 2 * 5)            # Keras' count
    assert not before.reset_after and before.shapes()["bias"] == (12,)
    assert before.gate_activation.name == "hard_sigmoid"


def test_a_masked_gru_step_carries_h_and_records_no_gates():
    ref = read_npz(GRU / "keras_gru_reset_after.npz")
    layer = load_model(GRU / "keras_gru_reset_after.keras").trace(ref["x"]).layers[0]
    assert not layer.mask[0, -2:].any() and layer.mask[1].all()
    assert np.all(np.isnan(layer.gates[0, -2:])) and np.all(np.isnan(layer.zh[0, -2:]))
    assert np.array_equal(layer.h[0, -1], layer.h[0, -3])


def test_a_gru_after_a_layer_the_engine_does_not_compute_is_captured(tmp_path):
    """Conv1D -> Bidirectional(GRU) called with initial states: Keras runs the model in its
    worker, each direction's input and its own h0 are captured, the engine steps the GRUs."""
    import keras

    from tests.keras_ref import randomize
    inp = keras.Input((6, 3))
    conv = keras.layers.Conv1D(3, 2, padding="same", name="conv")(inp)
    h_f = keras.layers.Dense(4, name="h_f")(keras.layers.GlobalAveragePooling1D()(conv))
    h_b = keras.layers.Dense(4, name="h_b")(keras.layers.GlobalMaxPooling1D()(conv))
    seq = keras.layers.Bidirectional(keras.layers.GRU(4, return_sequences=True), name="bi")(
        conv, initial_state=[h_f, h_b])
    model = keras.Model(inp, seq)
    randomize(model, seed=31)
    model.save(tmp_path / "m.keras")
    x = np.random.default_rng(17).normal(size=(2, 6, 3)).astype(np.float32)
    ours = load_model(tmp_path / "m.keras")
    result = ours.trace(x)
    assert_close(result.output, model.predict(x, verbose=0), "captured Bidirectional(GRU)")
    states = keras.Model(inp, [h_f, h_b]).predict(x, verbose=0)
    assert_close(result.layer("bi/forward").h0, states[0], "forward h0")
    assert_close(result.layer("bi/backward").h0, states[1], "backward h0")
