"""Keras 3 ``GRU`` (reset_after true and false, go_backwards, masks), ``SimpleRNN`` (relu) and
``Bidirectional(GRU)`` in ``.keras`` and legacy ``.h5`` files (fixtures from
scripts/make_gru_fixtures.py) against Keras itself, within the Contracts' tolerance."""

from __future__ import annotations

import numpy as np
import pytest

from engine.cells.gru_cell import GruWeights
from engine.cells.rnn_cell import RnnWeights
from engine.loaders import load_model
from tests.helpers import FIXTURES, assert_close, read_npz

GRU = FIXTURES / "gru"
CASES = ["keras_gru_reset_after", "keras_gru_reset_before", "keras_simplernn", "keras_bidirectional_gru"]


@pytest.mark.parametrize("suffix", [".keras", ".h5"])
@pytest.mark.parametrize("case", CASES)
def test_a_keras_file_traces_as_keras_steps_it(case, suffix):
    ref = read_npz(GRU / f"{case}.npz")
    model = load_model(GRU / f"{case}{suffix}")
    result = model.trace(ref["x"])
    assert_close(result.output, ref["output"], "output")
    k = 0
    while f"layer{k}_name" in ref:
        layer = result.layers[k]
        assert layer.name == str(ref[f"layer{k}_name"])
        assert layer.direction == str(ref[f"layer{k}_direction"])
        assert_close(layer.h, ref[f"layer{k}_h"], f"{layer.name} h")
        k += 1
    assert k == len(result.layers)
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
