"""Weights as they were saved: Keras 2's CuDNNLSTM layout (two biases, cuDNN's kernel blocks),
converted as Keras 2 converts them on load — against the numbers tf-keras computed with the
converted weights (fixtures by scripts/make_tfkeras_fixtures.py)."""

from __future__ import annotations

import numpy as np

from engine import load_model
from tests.helpers import FIXTURES, assert_close, load_reference, reference_layers, run_cli

KERAS2 = FIXTURES / "keras2"
TRACED = ("x", "i", "f", "g", "o", "c", "h", "zx", "zh", "h0", "c0")


def _assert_layers(result, ref, case: str) -> None:
    for k in reference_layers(ref):
        tr = result.layer(str(ref[f"layer{k}_name"]))
        assert tr.direction == str(ref[f"layer{k}_direction"])
        for key in TRACED:
            assert_close(getattr(tr, key), ref[f"layer{k}_{key}"], f"{case}: layer{k}.{key}")
        assert_close(tr.zb, ref[f"layer{k}_zb"], f"{case}: layer{k}.zb")


def test_cudnn_lstm_is_converted_as_keras2_loads_it():
    """CuDNNLSTM(4) saved by tf-keras: bias (8N,), kernels in cuDNN's per-gate layout. The
    reference is tf-keras' own LSTM after load_weights converted that file."""
    ref = load_reference(KERAS2 / "cudnn_lstm.npz")
    model = load_model(KERAS2 / "cudnn_lstm.h5")
    info = model.traced_layers[0]
    assert info.weights.bias.shape == (16,)
    assert model.summary()["params"] == 3 * 16 + 4 * 16 + 2 * 16     # Keras counts both biases
    notes = [w for w in model.warnings if "CuDNNLSTM" in w]
    assert len(notes) == 1 and "'cu_dnnlstm'" in notes[0] and "Keras 2" in notes[0]
    result = model.trace(ref["x"])
    assert_close(result.output, ref["output"], "cudnn_lstm: output")
    _assert_layers(result, ref, "cudnn_lstm")


def test_cudnn_lstm_on_the_command_line(tmp_path):
    np.save(tmp_path / "x.npy", load_reference(KERAS2 / "cudnn_lstm.npz")["x"])
    proc = run_cli("trace", str(KERAS2 / "cudnn_lstm.h5"), "--input", str(tmp_path / "x.npy"),
                   "--out", str(tmp_path / "t.npz"))
    assert proc.returncode == 0, proc.stderr
    notes = [line for line in proc.stderr.splitlines() if "CuDNNLSTM" in line]
    assert len(notes) == 1 and notes[0].startswith("warning: "), proc.stderr
