"""ONNX in the wild, against files torch and ONNX wrote (scripts/make_capture_fixtures.py):
LSTMs inside ``If`` branches captured from ONNX Runtime, weights folded from constant ops,
states / ``sequence_lens`` / W,R,B given as graph inputs, and the CLI's named inputs."""

from __future__ import annotations

import numpy as np
import pytest

from engine.loaders import load_model
from engine.session import Session
from tests.helpers import FIXTURES, assert_clean_error, assert_close, run_cli

pytest.importorskip("onnx")
ort = pytest.importorskip("onnxruntime")

CAP = FIXTURES / "capture"


def _npz(path) -> dict[str, np.ndarray]:
    with np.load(path, allow_pickle=False) as data:
        return {k: data[k] for k in data.files}


def _check(model_file: str, case: str, *, exact_x: bool = True) -> None:
    model = load_model(CAP / model_file)
    inputs = _npz(CAP / f"{case}.input.npz")
    ref = _npz(CAP / f"{case}.ref.npz")
    result = model.trace(inputs)
    assert_close(result.output, ref["output"], f"{case} output")
    k = 0
    while f"layer{k}_name" in ref:
        layer = result.layer(str(ref[f"layer{k}_name"]))
        if exact_x:      # what the framework's LSTM received, to 1e-6
            np.testing.assert_allclose(layer.x, ref[f"layer{k}_x"], atol=1e-6, rtol=0)
        assert_close(layer.h, ref[f"layer{k}_h"], f"{case} {layer.name} h")
        assert_close(layer.c, ref[f"layer{k}_c"], f"{case} {layer.name} c")
        gates = np.stack([layer.i, layer.f, layer.g, layer.o])
        assert np.isfinite(gates[:, layer.mask]).all()
        k += 1
    assert k


@pytest.mark.parametrize("case", ["if_conv_lstm_16k", "if_conv_lstm_4k"])
def test_if_branch_is_captured_from_onnx_runtime(case):
    """A torch export with an If on the sample rate: the LSTM of the branch the input takes is
    traced, named by where it sits; the other branch's LSTM does not run."""
    _check("if_conv_lstm.onnx", case)
    model = load_model(CAP / "if_conv_lstm.onnx")
    assert model.layer_names == ["If/then/LSTM/forward", "If/else/LSTM_1/forward"]
    assert {t["computed"] for t in model.summary()["traced_layers"]} == {"captured"}
    inputs = _npz(CAP / f"{case}.input.npz")
    ran = model.trace(inputs).names
    assert ran == (["If/then/LSTM/forward"] if case.endswith("16k") else ["If/else/LSTM_1/forward"])
    assert model.layer_names[model.default_layer(inputs)] == ran[0]


def test_captured_session_steps_the_full_trace():
    model = load_model(CAP / "if_conv_lstm.onnx")
    inputs = _npz(CAP / "if_conv_lstm_4k.input.npz")
    s = Session(model, inputs, layer="If/else/LSTM_1/forward")
    assert s.inputs is not None and set(s.inputs) == {"x", "rate"}
    s.seek(s.steps)
    np.testing.assert_array_equal(s.runner.h, model.trace(inputs).layer(0).h)


def test_state_inputs_are_honoured_and_missing_ones_warned(tmp_path):
    _check("lstm_state_inputs.onnx", "lstm_state_inputs")
    inputs = _npz(CAP / "lstm_state_inputs.input.npz")
    np.savez(tmp_path / "x_only.npz", x=inputs["x"])
    out = tmp_path / "t.npz"
    proc = run_cli("trace", str(CAP / "lstm_state_inputs.onnx"), "--input",
                   str(tmp_path / "x_only.npz"), "--out", str(out))
    assert proc.returncode == 0, proc.stderr
    assert "'h0'" in proc.stderr and "zero" in proc.stderr
    with np.load(out) as data:
        assert np.all(data["h0"] == 0)
    # --initial-state wins over the state given as graph inputs
    np.savez(tmp_path / "s.npz", h0=np.full((2, 4), 0.5, np.float32), c0=np.zeros((2, 4), np.float32))
    proc = run_cli("trace", str(CAP / "lstm_state_inputs.onnx"), "--input",
                   str(CAP / "lstm_state_inputs.input.npz"), "--initial-state", str(tmp_path / "s.npz"),
                   "--out", str(out))
    assert proc.returncode == 0, proc.stderr
    with np.load(out) as data:
        assert np.all(data["h0"] == 0.5)


def test_conformance_graph_inputs_with_lengths(tmp_path):
    """W, R, B, sequence_lens and the states are all graph inputs, given in the .npz."""
    _check("conformance_inputs.onnx", "conformance_inputs")
    out = tmp_path / "t.npz"
    proc = run_cli("trace", str(CAP / "conformance_inputs.onnx"), "--input",
                   str(CAP / "conformance_inputs.input.npz"), "--out", str(out))
    assert proc.returncode == 0, proc.stderr
    ref = _npz(CAP / "conformance_inputs.ref.npz")
    with np.load(out) as data:
        assert_close(data["c"], ref["layer0_c"], "c")
        np.testing.assert_array_equal(data["mask"].sum(axis=1), [5, 2, 4])


def test_named_input_errors(tmp_path):
    model = str(CAP / "conformance_inputs.onnx")
    inputs = _npz(CAP / "conformance_inputs.input.npz")
    np.savez(tmp_path / "missing.npz", **{k: v for k, v in inputs.items() if k != "sequence_lens"})
    assert_clean_error(run_cli("trace", model, "--input", str(tmp_path / "missing.npz"), "--out",
                               str(tmp_path / "o.npz")), "missing 'sequence_lens'")
    np.savez(tmp_path / "extra.npz", **inputs, bogus=np.zeros(3))
    assert_clean_error(run_cli("trace", model, "--input", str(tmp_path / "extra.npz"), "--out",
                               str(tmp_path / "o.npz")), "'bogus'")
    assert_clean_error(run_cli("trace", model, "--input", str(CAP / "conformance_inputs.input.npz"),
                               "--key", "X", "--out", str(tmp_path / "o.npz")), "--key")


def test_info_says_captured_and_shows_input_shapes():
    proc = run_cli("info", str(CAP / "if_conv_lstm.onnx"), "--input",
                   str(CAP / "if_conv_lstm_16k.input.npz"))
    assert proc.returncode == 0, proc.stderr
    assert "input=captured" in proc.stdout
    assert "x=(2, 9, 4)" in proc.stdout and "(2, 9, 5)" in proc.stdout
    assert "warning:" in proc.stderr and "ONNX Runtime" in proc.stderr


def test_decomposed_lstmcell_says_what_it_found():
    assert_clean_error(run_cli("info", str(CAP / "lstmcell_export.onnx")),
                       "no LSTM node", "Gemm", "Sigmoid", "engine.from_torch")
