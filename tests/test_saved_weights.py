"""Weights as they were saved: Keras 2's CuDNNLSTM layout (two biases, cuDNN's kernel blocks),
converted as Keras 2 converts them on load; Keras 2.1's list-form Sequential and textgenrnn's
weights-only file with its JSON config, whose layers after the LSTMs LSTM Scope does not
compute (traced without the model's output) — against the numbers tf-keras computed
(fixtures by scripts/make_tfkeras_fixtures.py and scripts/make_keras2_saved_fixtures.py)."""

from __future__ import annotations

import json

import h5py
import numpy as np
import pytest

from engine import load_model
from engine.session import Session
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


def test_bidirectional_cudnn_lstm():
    ref = load_reference(KERAS2 / "cudnn_bidirectional.npz")
    model = load_model(KERAS2 / "cudnn_bidirectional.h5")
    assert [w for w in model.warnings if "'bi/forward', 'bi/backward'" in w]
    result = model.trace(ref["x"])
    assert_close(result.output, ref["output"], "cudnn_bidirectional: output")
    _assert_layers(result, ref, "cudnn_bidirectional")


def _no_output_notes(lines: list[str]) -> list[str]:
    return [line for line in lines if "no output" in line]


def _h5_params(path) -> int:
    """Every number the file stores for the model's layers (Keras' count_params)."""
    sizes: list[int] = []
    with h5py.File(path, "r") as f:
        f["model_weights"].visititems(
            lambda _, obj: sizes.append(obj.size) if isinstance(obj, h5py.Dataset) else None)
    return sum(sizes)


def test_textgenrnn_weights_with_their_config_trace_without_output():
    """textgenrnn's architecture: CuDNN weights saved with save_weights, the CPU build's JSON
    config; Concatenate and a custom attention layer follow the LSTMs, which LSTM Scope computes
    from the input (Embedding -> rnn_1 -> rnn_2) and traces; the model's output it cannot."""
    ref = load_reference(KERAS2 / "textgen_cudnn.npz")
    model = load_model(KERAS2 / "textgen_cudnn.hdf5", config=str(KERAS2 / "textgen_cudnn.json"))
    assert [info["computed"] for info in model.summary()["traced_layers"]] == ["native", "native"]
    result = model.trace(ref["x"])
    assert result.output is None
    _assert_layers(result, ref, "textgen_cudnn")
    assert len(_no_output_notes(model.warnings)) == 1
    s = Session(model, ref["x"], layer="rnn_2")
    s.to_end()
    assert_close(s.trace.h, ref["layer1_h"], "session rnn_2 h")


def test_keras21_list_form_traces_up_to_the_layers_it_computes():
    ref = load_reference(KERAS2 / "keras21_list.npz")
    path = KERAS2 / "keras21_list.h5"
    model = load_model(path)
    assert "2.1.6" in model.format and model.runtime is None
    result = model.trace(ref["x"])
    assert result.output is None
    assert result.names == ["lstm_1", "bidirectional_1/forward", "bidirectional_1/backward"]
    _assert_layers(result, ref, "keras21_list")
    assert len(_no_output_notes(model.warnings)) == 1


@pytest.mark.parametrize("case,extra", [("keras21_list", ()),
                                        ("textgen_cudnn", ("--config", "textgen_cudnn.json"))])
def test_traces_without_output_on_the_command_line(case, extra, tmp_path):
    ref = load_reference(KERAS2 / f"{case}.npz")
    np.save(tmp_path / "x.npy", ref["x"])
    model = KERAS2 / ("keras21_list.h5" if case == "keras21_list" else "textgen_cudnn.hdf5")
    args = [str(KERAS2 / a) if a.endswith(".json") else a for a in extra]
    proc = run_cli("trace", str(model), *args, "--input", str(tmp_path / "x.npy"),
                   "--layer", "1", "--out", str(tmp_path / "t.npz"))
    assert proc.returncode == 0, proc.stderr
    notes = _no_output_notes(proc.stderr.splitlines())
    assert len(notes) == 1 and notes[0].startswith("warning: "), proc.stderr
    with np.load(tmp_path / "t.npz") as data:
        assert "output" not in data.files
        assert_close(data["h"], ref["layer1_h"], f"{case}: CLI h")


def test_info_counts_the_parameters_of_layers_it_does_not_compute():
    """BatchNormalization (moving statistics included, as Keras counts them), Conv1D and a
    custom layer count their weights, so the total is Keras' count_params()."""
    ref = load_reference(KERAS2 / "keras21_list.npz")
    model = load_model(KERAS2 / "keras21_list.h5")
    layers = {layer["name"]: layer["params"] for layer in model.summary()["layers"]}
    assert layers["batch_normalization_1"] == 4 * 6 and layers["conv1d_1"] == 3 * 6 * 4 + 4
    assert layers["global_max_pooling1d_1"] == 0
    total = ref["meta"]["params"]
    assert model.summary()["params"] == total == _h5_params(KERAS2 / "keras21_list.h5")
    info = run_cli("info", str(KERAS2 / "keras21_list.h5"))
    assert info.returncode == 0, info.stderr
    assert f"params:  {total:,}" in info.stdout and "Conv1D                     76" in info.stdout
    ref = load_reference(KERAS2 / "textgen_cudnn.npz")
    model = load_model(KERAS2 / "textgen_cudnn.hdf5", config=str(KERAS2 / "textgen_cudnn.json"))
    assert {layer["name"]: layer["params"] for layer in model.summary()["layers"]}["attention"] == 17
    assert model.summary()["params"] == ref["meta"]["params"]


# --- ONNX: com.microsoft DynamicQuantizeLSTM ---------------------------------------------------
ONNX_FIXTURES = FIXTURES / "onnx"


def _quantized_gap(ref) -> float:
    """ONNX Runtime's quantized Y against the float cell (ORT's float LSTM on the dequantized
    weights): the difference the note reports, measured here on the fixture's input."""
    return float(np.abs(ref["output"] - ref["float_output"]).max())


def test_dynamic_quantize_lstm_traces_the_float_cell():
    """onnxruntime's quantize_dynamic made the node: int8 W, R with per-channel scales and zero
    points. The trace is the float cell on the dequantized weights (ONNX Runtime's float LSTM on
    them is the reference); output is ONNX Runtime's quantized graph output, and one note says
    how far that is from the float cell on this input."""
    ref = load_reference(ONNX_FIXTURES / "quantized_bilstm.npz")
    model = load_model(ONNX_FIXTURES / "quantized_bilstm.onnx")
    assert model.layer_names == ["bilstm_quant/forward", "bilstm_quant/backward"]
    assert model.summary()["params"] == 2 * (4 * 6 * 5 + 4 * 6 * 6 + 8 * 6)
    result = model.trace(ref["onnx_input"])       # the graph's own input, (T, B, D)
    assert_close(result.output, ref["output"], "ONNX Runtime's quantized Y")
    for k in reference_layers(ref):
        tr = result.layer(str(ref[f"layer{k}_name"]))
        assert tr.direction == str(ref[f"layer{k}_direction"])
        assert_close(tr.h, ref[f"layer{k}_h"], f"float cell layer{k}.h")
        assert_close(tr.c, ref[f"layer{k}_c"], f"float cell layer{k}.c")
    gap = _quantized_gap(ref)
    assert 1e-4 < gap < 2e-2          # int8 weights and activations: close, not equal
    notes = [n for n in model.capture(ref["onnx_input"]).notes if "DynamicQuantizeLSTM" in n]
    assert len(notes) == 1 and "float cell" in notes[0] and f"{gap:.2g}" in notes[0], notes


def test_dynamic_quantize_lstm_on_the_command_line(tmp_path):
    ref = load_reference(ONNX_FIXTURES / "quantized_bilstm.npz")
    np.save(tmp_path / "x.npy", ref["onnx_input"])
    proc = run_cli("trace", str(ONNX_FIXTURES / "quantized_bilstm.onnx"), "--input",
                   str(tmp_path / "x.npy"), "--layer", "1", "--out", str(tmp_path / "t.npz"))
    assert proc.returncode == 0, proc.stderr
    notes = [line for line in proc.stderr.splitlines() if "DynamicQuantizeLSTM" in line]
    assert len(notes) == 1 and f"{_quantized_gap(ref):.2g}" in notes[0], proc.stderr
    with np.load(tmp_path / "t.npz") as data:
        assert_close(data["h"], ref["layer1_h"], "CLI float cell h")
        assert_close(data["output"], ref["output"], "CLI output")
    np.save(tmp_path / "lx.npy", ref["x"])      # the LSTM's own input, batch first
    proc = run_cli("trace", str(ONNX_FIXTURES / "quantized_bilstm.onnx"), "--input",
                   str(tmp_path / "lx.npy"),
                   "--layer", "0", "--layer-input", "--out", str(tmp_path / "u.npz"))
    assert proc.returncode == 0, proc.stderr
    with np.load(tmp_path / "u.npz") as data:
        assert_close(data["h"], ref["layer0_h"], "CLI --layer-input float cell h")


@pytest.mark.parametrize("edit,needle", [
    ("scale_shape", "zero point"), ("scale_input", "not stored in the file")])
def test_malformed_dynamic_quantize_lstm_is_refused_in_one_line(edit, needle, tmp_path):
    import onnx
    from onnx import TensorProto, helper, numpy_helper
    proto = onnx.load(str(ONNX_FIXTURES / "quantized_bilstm.onnx"))
    inits = {i.name: i for i in proto.graph.initializer}
    if edit == "scale_shape":
        inits["W_scale"].CopyFrom(numpy_helper.from_array(np.ones(3, np.float32), "W_scale"))
    else:       # the scale becomes a graph input: not a weight LSTM Scope can read
        proto.graph.initializer.remove(inits["R_scale"])
        proto.graph.input.append(helper.make_tensor_value_info("R_scale", TensorProto.FLOAT, [2, 24]))
    path = tmp_path / "bad.onnx"
    onnx.save(proto, path)
    proc = run_cli("info", str(path))
    assert proc.returncode == 2 and "Traceback" not in proc.stderr, proc.stderr
    assert "bilstm_quant" in proc.stderr and needle in proc.stderr, proc.stderr


def test_without_keras_the_lstms_before_a_concatenate_trace_without_output(monkeypatch):
    """A Keras 3 graph Keras would run (Dense -> LSTM, then a Concatenate with a skip branch):
    with Keras missing, the engine computes Dense -> LSTM itself instead of refusing, once."""
    import sys
    ref = load_reference(FIXTURES / "keras3" / "functional_branches.npz")
    model = load_model(FIXTURES / "keras3" / "functional_branches.keras")
    assert model.runtime is not None and model.partial
    monkeypatch.setitem(sys.modules, "keras", None)
    result = model.trace(ref["x"])
    assert model.runtime is None and result.output is None
    tr = result.layer("lstm")
    for key in ("x", "i", "f", "g", "o", "c", "h"):
        assert_close(getattr(tr, key), ref[f"layer0_{key}"], f"functional_branches: {key}")
    notes = _no_output_notes(model.warnings)
    assert len(notes) == 1 and "Keras cannot run" in notes[0] and "pip install keras" in notes[0]
    model.trace(ref["x"])
    assert len(_no_output_notes(model.warnings)) == 1          # said once


def test_an_lstm_after_the_layers_it_computes_is_named_with_what_it_reads(tmp_path):
    """rnn_2 edited to read the Concatenate: the run reaches rnn_1 only; asking for rnn_2 names
    what stops it, and --layer-input traces it."""
    config = json.loads((KERAS2 / "textgen_cudnn.json").read_text())
    entries = config["config"]["layers"]
    layers = {entry["name"]: entry for entry in entries}
    entries.insert(3, entries.pop(4))          # rnn_concat before rnn_2, in graph order
    layers["rnn_2"]["inbound_nodes"] = [[["rnn_concat", 0, 0, {}]]]
    layers["rnn_concat"]["inbound_nodes"] = [[["embedding", 0, 0, {}], ["rnn_1", 0, 0, {}]]]
    layers["attention"]["inbound_nodes"] = [[["rnn_2", 0, 0, {}]]]
    (tmp_path / "edited.json").write_text(json.dumps(config))
    ref = load_reference(KERAS2 / "textgen_cudnn.npz")
    np.save(tmp_path / "x.npy", ref["x"])
    args = ["trace", str(KERAS2 / "textgen_cudnn.hdf5"), "--config", str(tmp_path / "edited.json")]
    proc = run_cli(*args, "--input", str(tmp_path / "x.npy"), "--layer", "rnn_2",
                   "--out", str(tmp_path / "t.npz"))
    assert proc.returncode == 2 and "Traceback" not in proc.stderr, proc.stderr
    assert "'rnn_concat' (Concatenate)" in proc.stderr.splitlines()[-1] and \
        "--layer-input" in proc.stderr.splitlines()[-1], proc.stderr
    proc = run_cli(*args, "--input", str(tmp_path / "x.npy"), "--layer", "rnn_1",
                   "--out", str(tmp_path / "t.npz"))
    assert proc.returncode == 0, proc.stderr
    np.save(tmp_path / "lx.npy", ref["layer1_x"])
    proc = run_cli(*args, "--input", str(tmp_path / "lx.npy"), "--layer", "rnn_2",
                   "--layer-input", "--out", str(tmp_path / "u.npz"))
    assert proc.returncode == 0, proc.stderr
    with np.load(tmp_path / "u.npz") as data:
        assert_close(data["h"], ref["layer1_h"], "rnn_2 on its own input")
