"""Keras 2 (tf-keras) files with GRU and SimpleRNN layers — reset_after true and false, masks,
Bidirectional, stateful segments, and CuDNNGRU weights converted as Keras 2 converts them —
against the numbers tf-keras computed (fixtures: ``scripts/make_tfkeras_fixtures.py gru``)."""

from __future__ import annotations

import numpy as np
import pytest

from engine import load_model
from engine.cells.gru_cell import GruWeights
from engine.cells.rnn_cell import RnnWeights
from engine.errors import UnsupportedModelError
from tests.helpers import FIXTURES, assert_close, check_trace_against_reference, read_npz, run_cli

KERAS2_GRU = FIXTURES / "keras2" / "gru"
CASES = ["gru_reset_after_masked", "gru_reset_before", "bidirectional_gru", "simplernn_relu",
         "bidirectional_simplernn", "cudnn_gru", "cudnn_bidirectional_gru"]


def test_every_fixture_is_tested():
    assert sorted(p.stem for p in KERAS2_GRU.glob("*.npz")) == sorted([*CASES, "gru_stateful"])


@pytest.mark.parametrize("case", CASES)
def test_a_keras2_file_traces_as_tf_keras_steps_it(case):
    """Output and every direction's h, and a GRU's u, r, n (NaN on masked steps), as tf-keras."""
    ref = read_npz(KERAS2_GRU / f"{case}.npz")
    model = load_model(KERAS2_GRU / f"{case}.h5")
    assert "Keras 2" in model.format
    result = check_trace_against_reference(model, ref)
    for k, layer in enumerate(result.layers):
        expect = GruWeights if f"layer{k}_u" in ref else RnnWeights
        assert isinstance(model.traced_layers[k].weights, expect), layer.name
        for signal in ("u", "r", "n") if expect is GruWeights else ():
            assert_close(layer.signal(signal), ref[f"layer{k}_{signal}"], f"{layer.name} {signal}")


def test_reset_before_reads_keras2s_hard_sigmoid_and_one_bias():
    w = load_model(KERAS2_GRU / "gru_reset_before.h5").traced_layers[0].weights
    assert not w.reset_after and w.shapes()["bias"] == (12,)
    assert "0.2x" in w.gate_activation.name


def test_stateful_gru_segments_equal_one_long_run():
    ref = read_npz(KERAS2_GRU / "gru_stateful.npz")
    model = load_model(KERAS2_GRU / "gru_stateful.h5")
    assert model.traced_layers[0].stateful
    states, hs = None, []
    for k in range(3):
        result = model.trace(ref[f"x_seg{k}"], initial_state=states)
        assert_close(result.output, ref[f"output_seg{k}"], f"segment {k} output")
        states = result.states
        hs.append(result.layer(0).h)
    assert_close(np.concatenate(hs, axis=1), ref["layer0_h"], "carried h over three segments")


def test_cudnn_gru_weights_are_converted_as_keras2_loads_them():
    """CuDNNGRU(4) saved by tf-keras: bias (6N,), kernels in cuDNN's per-gate layout; the
    reference is tf-keras' GRU(reset_after=True) after load_weights converted the file."""
    model = load_model(KERAS2_GRU / "cudnn_gru.h5")
    w = model.traced_layers[0].weights
    assert isinstance(w, GruWeights) and w.reset_after and w.recurrent_bias.shape == (12,)
    assert (w.gate_activation.name, w.cell_activation.name) == ("sigmoid", "tanh")
    assert model.summary()["params"] == 3 * 12 + 4 * 12 + 2 * 12 + (4 * 2 + 2)   # Keras' count
    notes = [note for note in model.warnings if "CuDNNGRU" in note]
    assert len(notes) == 1 and "'cu_dnngru'" in notes[0] and "reset_after=True" in notes[0]
    assert not [note for note in model.warnings if "CuDNNLSTM" in note]


def test_both_directions_of_a_bidirectional_cudnn_gru_are_converted_and_named():
    model = load_model(KERAS2_GRU / "cudnn_bidirectional_gru.h5")
    assert all(info.weights.reset_after for info in model.traced_layers)
    notes = [note for note in model.warnings if "CuDNNGRU" in note]
    assert len(notes) == 1 and "'bi/forward', 'bi/backward'" in notes[0]


def test_cudnn_gru_on_the_command_line(tmp_path):
    ref = read_npz(KERAS2_GRU / "cudnn_gru.npz")
    np.save(tmp_path / "x.npy", ref["x"])
    proc = run_cli("trace", str(KERAS2_GRU / "cudnn_gru.h5"), "--input", str(tmp_path / "x.npy"),
                   "--out", str(tmp_path / "t.npz"))
    assert proc.returncode == 0, proc.stderr
    notes = [line for line in proc.stderr.splitlines() if "CuDNNGRU" in line]
    assert len(notes) == 1 and notes[0].startswith("warning: "), proc.stderr
    with np.load(tmp_path / "t.npz") as data:
        assert_close(data["h"], ref["layer0_h"], "CLI h")
        assert_close(data["u"], ref["layer0_u"], "CLI u")


def _cudnn_gru_arrays(units: int = 2, features: int = 3) -> list[np.ndarray]:
    rng = np.random.default_rng(0)
    return [rng.normal(size=(features, 3 * units)).astype(np.float32),
            rng.normal(size=(units, 3 * units)).astype(np.float32),
            rng.normal(size=6 * units).astype(np.float32)]


def test_the_conversion_regroups_each_gates_blocks_as_tf_keras_transpose_input_does():
    """tf-keras' ``transpose_input(from_cudnn=True)`` is ``k.T.reshape(k.shape, order="F")``
    per gate block; the bias (6N,) becomes its input row and its recurrent row."""
    from engine.loaders.keras_common import build_op
    kernel, recurrent, bias = _cudnn_gru_arrays()
    op = build_op("CuDNNGRU", {"name": "g", "units": 2}, lambda: [kernel, recurrent, bias],
                  lambda part: lambda: [], True, "file.h5", [])
    w = op.weights
    for k, block in enumerate(np.hsplit(kernel, 3)):
        assert np.array_equal(w.kernel[:, 2 * k:2 * k + 2], block.T.reshape(block.shape, order="F"))
    for k, block in enumerate(np.hsplit(recurrent, 3)):
        assert np.array_equal(w.recurrent_kernel[:, 2 * k:2 * k + 2], block.T)
    assert np.array_equal(w.bias, bias[:6]) and np.array_equal(w.recurrent_bias, bias[6:])


def test_cudnn_gru_weights_in_a_reset_before_gru_are_refused_as_keras2_refuses_them():
    from engine.loaders.keras_common import build_op
    with pytest.raises(UnsupportedModelError, match="reset_after=False.*CuDNNGRU"):
        build_op("GRU", {"name": "g", "units": 2, "reset_after": False},
                 lambda: _cudnn_gru_arrays(), lambda part: lambda: [], True, "file.h5", [])
