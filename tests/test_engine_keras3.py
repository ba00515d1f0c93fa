"""The engine against real Keras 3, live: every array of the trace within the Contracts'
tolerance, across units, features, activations, bias, direction, stacking, batch, states."""

from __future__ import annotations

import keras
import numpy as np
import pytest

from engine import Session, load_model  # noqa: E402
from tests.helpers import assert_close  # noqa: E402
from tests.keras_ref import layer_input, randomize, step_cell  # noqa: E402

ACTIVATIONS = ["tanh", "sigmoid", "hard_sigmoid", "relu", "linear", "softsign", "elu", "selu",
               "swish", "silu", "gelu", "exponential", "softplus", "relu6", "hard_silu", "mish",
               "leaky_relu", "celu", "log_sigmoid", "hard_tanh", "tanh_shrink", "squareplus",
               "sparse_plus", "sparse_sigmoid", "soft_shrink", "hard_shrink", "softmax", "log_softmax",
               "sparsemax"]


def _save(model, tmp_path, name="m.keras"):
    path = tmp_path / name
    model.save(path)
    return load_model(path)


def _compare_layer(ours, ref, what):
    for key in ("i", "f", "g", "o", "c", "h"):
        assert_close(getattr(ours, key), ref[key], f"{what}.{key}")


def _single_lstm(units, features, steps, batch, seed, _scale=0.5, **kw):
    model = keras.Sequential([keras.Input((steps, features)),
                              keras.layers.LSTM(units, return_sequences=True, **kw)])
    randomize(model, seed, scale=_scale)
    return model


@pytest.mark.parametrize("units,features", [(1, 1), (3, 1), (7, 5), (32, 16), (256, 64)])
def test_sizes_match_keras(tmp_path, units, features):
    # Weights at a trained layer's scale (Glorot-like): with 0.5 everywhere a 320-wide dot product
    # reaches |z| ~ 10, where float32 rounding alone (Keras' and ours alike) is 2e-5 from the
    # float64 truth, beyond the parity bound, whatever the BLAS summation order.
    scale = min(0.5, 1.5 / np.sqrt(features + units))
    model = _single_lstm(units, features, 9, 2, seed=units * 100 + features, _scale=scale)
    x = np.random.default_rng(units).normal(size=(2, 9, features)).astype(np.float32)
    ours = _save(model, tmp_path)
    result = ours.trace(x)
    assert_close(result.output, model.predict(x, verbose=0), "output")
    _compare_layer(result.layer(0), step_cell(model.layers[0], x), "lstm")
    tr = result.layer(0)
    assert tr.i.dtype == np.float32 and tr.h.shape == (2, 9, units)
    assert tr.zx.shape == (2, 9, 4, units) and tr.zb.shape == (4, units)


@pytest.mark.parametrize("name", ACTIVATIONS)
@pytest.mark.parametrize("which", ["activation", "recurrent_activation"])
def test_every_activation_matches_keras(tmp_path, name, which):
    model = keras.Sequential([keras.Input((8, 3)),
                              keras.layers.LSTM(5, return_sequences=True, **{which: name})])
    # exponential feeds exp(c) back into the state; small weights keep it finite
    randomize(model, seed=len(name), scale=0.05 if name == "exponential" else 0.3)
    x = np.random.default_rng(3).normal(size=(2, 8, 3)).astype(np.float32)
    result = _save(model, tmp_path).trace(x)
    assert_close(result.output, model.predict(x, verbose=0), f"{which}={name}")
    _compare_layer(result.layer(0), step_cell(model.layers[0], x), name)


@pytest.mark.parametrize("go_backwards", [False, True])
@pytest.mark.parametrize("return_sequences", [False, True])
@pytest.mark.parametrize("use_bias", [False, True])
def test_direction_bias_and_returns(tmp_path, go_backwards, return_sequences, use_bias):
    model = keras.Sequential([keras.Input((11, 4)), keras.layers.LSTM(
        6, return_sequences=return_sequences, go_backwards=go_backwards, use_bias=use_bias)])
    randomize(model, seed=7)
    x = np.random.default_rng(5).normal(size=(3, 11, 4)).astype(np.float32)
    ours = _save(model, tmp_path)
    result = ours.trace(x)
    assert_close(result.output, model.predict(x, verbose=0), "output")
    tr = result.layer(0)
    assert tr.direction == ("backward" if go_backwards else "forward")
    _compare_layer(tr, step_cell(model.layers[0], x, backward=go_backwards), "lstm")
    expected = 4 * (6 * (4 + 6) + (6 if use_bias else 0))
    assert ours.traced_layers[0].weights.param_count == expected == model.count_params()


def test_stacked_embedding_dense(tmp_path):
    model = keras.Sequential([
        keras.Input((10,), dtype="int32"), keras.layers.Embedding(20, 6),
        keras.layers.LSTM(8, return_sequences=True), keras.layers.Dropout(0.5),
        keras.layers.LSTM(5, return_sequences=True, go_backwards=True),
        keras.layers.LSTM(4), keras.layers.Dense(3), keras.layers.Activation("softmax")])
    randomize(model, seed=11)
    x = np.random.default_rng(2).integers(0, 20, size=(2, 10)).astype(np.int32)
    ours = _save(model, tmp_path)
    result = ours.trace(x)
    assert result.names == [lay.name for lay in model.layers if isinstance(lay, keras.layers.LSTM)]
    assert_close(result.output, model.predict(x, verbose=0), "output")
    for k, layer in enumerate(lay for lay in model.layers if isinstance(lay, keras.layers.LSTM)):
        lx = layer_input(model, layer, x)
        assert_close(result.layer(k).x, lx, f"{layer.name}.x")
        _compare_layer(result.layer(k), step_cell(layer, lx, backward=layer.go_backwards), layer.name)
    assert ours.param_count == model.count_params()


def test_initial_states_match_keras(tmp_path):
    layer = keras.layers.LSTM(5, return_sequences=True)
    model = keras.Sequential([keras.Input((7, 3)), layer])
    randomize(model, seed=21)
    rng = np.random.default_rng(8)
    x = rng.normal(size=(2, 7, 3)).astype(np.float32)
    h0, c0 = (rng.normal(size=(2, 5)).astype(np.float32) for _ in range(2))
    ref = np.asarray(layer(x, initial_state=[h0, c0]))
    result = _save(model, tmp_path).trace(x, initial_state=(h0, c0))
    assert_close(result.output, ref, "output with initial state")
    tr = result.layer(0)
    assert_close(tr.h0, h0, "h0")
    _compare_layer(tr, step_cell(layer, x, h0, c0), "lstm")


def test_return_state_functional(tmp_path):
    inp = keras.Input((6, 2))
    seq, h, c = keras.layers.LSTM(4, return_sequences=True, return_state=True)(inp)
    model = keras.Model(inp, [seq, h, c])
    randomize(model, seed=3)
    x = np.random.default_rng(1).normal(size=(1, 6, 2)).astype(np.float32)
    refs = model.predict(x, verbose=0)
    result = _save(model, tmp_path).trace(x)
    for ours, ref, what in zip(result.outputs, refs, ("seq", "h", "c")):
        assert_close(ours, ref, what)


def test_session_steps_equal_the_trace(tmp_path):
    model = _single_lstm(6, 3, 12, 2, seed=5)
    x = np.random.default_rng(9).normal(size=(2, 12, 3)).astype(np.float32)
    ours = _save(model, tmp_path)
    full = ours.trace(x).layer(0)
    s = Session(ours, x)
    assert s.t == 0 and s.cursor is None
    s.step()
    assert s.t == 1 and s.cursor == 0
    assert np.array_equal(s.trace.h[:, 0], full.h[:, 0])
    assert np.all(np.isnan(s.trace.h[:, 1:]))
    s.seek(10)
    s.back(3)
    assert s.t == 7
    s.to_end()
    for key in ("i", "f", "g", "o", "c", "h", "zx", "zh"):
        assert np.array_equal(getattr(s.trace, key), getattr(full, key)), key
