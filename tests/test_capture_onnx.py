"""ONNX in the wild, against files torch and ONNX wrote (scripts/make_capture_fixtures.py):
LSTMs inside ``If`` branches captured from ONNX Runtime, weights folded from constant ops,
states / ``sequence_lens`` / W,R,B given as graph inputs, and the CLI's named inputs."""

from __future__ import annotations

import numpy as np
import onnx
import onnxruntime as ort
import pytest

from engine.errors import ScopeError
from engine.loaders import load_model
from engine.session import Session
from tests.helpers import (
    FIXTURES,
    assert_clean_error,
    assert_close,
    check_captured_trace,
    read_npz,
    run_cli,
)

CAP = FIXTURES / "capture"


def _check(model_file: str, case: str, *, exact_x: bool = True) -> None:
    check_captured_trace(CAP / model_file, CAP / f"{case}.input.npz", CAP / f"{case}.ref.npz",
                         exact_x=exact_x)


@pytest.mark.parametrize("case", ["if_conv_lstm_16k", "if_conv_lstm_4k"])
def test_if_branch_is_captured_from_onnx_runtime(case):
    """A torch export with an If on the sample rate: the LSTM of the branch the input takes is
    traced, named by where it sits; the other branch's LSTM does not run."""
    _check("if_conv_lstm.onnx", case)
    model = load_model(CAP / "if_conv_lstm.onnx")
    assert model.layer_names == ["If/then/LSTM/forward", "If/else/LSTM_1/forward"]
    assert {t["computed"] for t in model.summary()["traced_layers"]} == {"captured"}
    inputs = read_npz(CAP / f"{case}.input.npz")
    ran = model.trace(inputs).names
    assert ran == (["If/then/LSTM/forward"] if case.endswith("16k") else ["If/else/LSTM_1/forward"])
    assert model.layer_names[model.default_layer(inputs)] == ran[0]


def test_captured_session_steps_the_full_trace():
    model = load_model(CAP / "if_conv_lstm.onnx")
    inputs = read_npz(CAP / "if_conv_lstm_4k.input.npz")
    s = Session(model, inputs, layer="If/else/LSTM_1/forward")
    assert s.inputs is not None and set(s.inputs) == {"x", "rate"}
    s.seek(s.steps)
    np.testing.assert_array_equal(s.runner.h, model.trace(inputs).layer(0).h)


def test_state_inputs_are_honoured_and_missing_ones_warned(tmp_path):
    _check("lstm_state_inputs.onnx", "lstm_state_inputs")
    inputs = read_npz(CAP / "lstm_state_inputs.input.npz")
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


@pytest.mark.parametrize("case", ["lstm_state_tensor_given", "lstm_state_tensor_zero"])
def test_one_state_tensor_split_by_the_graph(case, tmp_path, monkeypatch):
    """A torch export whose state is one input split by Gather + Unsqueeze: given, it is the
    LSTM's state; missing, it starts at zero with a warning (never an error, never silent), in
    numpy and through ONNX Runtime alike."""
    _check("lstm_state_tensor.onnx", case)
    model = load_model(CAP / "lstm_state_tensor.onnx")
    assert model.optional_inputs == ["state"]
    inputs = read_npz(CAP / f"{case}.input.npz")
    ref = read_npz(CAP / f"{case}.ref.npz")
    if case.endswith("zero"):
        model.trace(inputs)
        assert "the model input 'state' is not given: it starts at zero" in model.warnings
        np.save(tmp_path / "x.npy", inputs["x"])         # a plain array is the model's x
        proc = run_cli("trace", str(CAP / "lstm_state_tensor.onnx"), "--input", str(tmp_path / "x.npy"),
                       "--out", str(tmp_path / "t.npz"))
        assert proc.returncode == 0, proc.stderr
        assert "'state' is not given: it starts at zero" in proc.stderr
        with np.load(tmp_path / "t.npz") as data:
            assert_close(data["h"], ref["layer0_h"], "CLI h from a zero state")
    # the same graph run by ONNX Runtime (as when it holds an op the engine does not compute)
    from engine.loaders import onnx_model
    monkeypatch.setattr(onnx_model._GraphRunner, "problem", lambda self: "ops (forced)")
    captured = load_model(CAP / "lstm_state_tensor.onnx")
    assert captured.runtime is not None and captured.optional_inputs == ["state"]
    result = captured.trace(inputs)
    assert_close(result.layer(0).h, ref["layer0_h"], f"{case} h through ONNX Runtime")
    assert_close(result.layer(0).c, ref["layer0_c"], f"{case} c through ONNX Runtime")


def test_conformance_graph_inputs_with_lengths(tmp_path):
    """W, R, B, sequence_lens and the states are all graph inputs, given in the .npz."""
    _check("conformance_inputs.onnx", "conformance_inputs")
    out = tmp_path / "t.npz"
    proc = run_cli("trace", str(CAP / "conformance_inputs.onnx"), "--input",
                   str(CAP / "conformance_inputs.input.npz"), "--out", str(out))
    assert proc.returncode == 0, proc.stderr
    ref = read_npz(CAP / "conformance_inputs.ref.npz")
    with np.load(out) as data:
        assert_close(data["c"], ref["layer0_c"], "c")
        np.testing.assert_array_equal(data["mask"].sum(axis=1), [5, 2, 4])


def test_named_input_errors(tmp_path):
    model = str(CAP / "conformance_inputs.onnx")
    inputs = read_npz(CAP / "conformance_inputs.input.npz")
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
    # the model's input is named as the graph takes it, not shaped like the LSTM's
    assert "input:   x, rate (the model's own; onnxruntime captures each LSTM's input)" in proc.stdout
    assert "x=(2, 9, 4)" in proc.stdout and "(2, 9, 5)" in proc.stdout
    assert "warning:" in proc.stderr and "ONNX Runtime" in proc.stderr


def test_decomposed_lstmcell_says_what_it_found():
    assert_clean_error(run_cli("info", str(CAP / "lstmcell_export.onnx")),
                       "no LSTM node", "Gemm", "Sigmoid", "engine.from_torch")


def _nested_graphs():
    """An LSTM two If levels deep (then/then) and another inside a Loop body, W/R/B stored in
    the outer graph (subgraphs read outer-scope constants)."""
    from onnx import TensorProto, helper, numpy_helper
    rng = np.random.default_rng(9)
    d, n = 3, 4
    inits = [numpy_helper.from_array(rng.normal(0, 0.5, s).astype(np.float32), name) for name, s in
             (("W", (1, 4 * n, d)), ("R", (1, 4 * n, n)), ("B", (1, 8 * n)),
              ("W2", (1, 4 * n, d)), ("R2", (1, 4 * n, n)))]

    def lstm(name, w, r, out, b=""):
        return helper.make_node("LSTM", ["X", w, r, b] if b else ["X", w, r], ["", out],
                                hidden_size=n, name=name)

    def branch(name, nodes, out):
        return helper.make_graph(nodes, name, [], [helper.make_tensor_value_info(out, TensorProto.FLOAT, None)])

    inner = helper.make_node("If", ["flag"], ["inner_out"], name="inner",
                             then_branch=branch("t2", [lstm("deep", "W", "R", "h_deep", "B")], "h_deep"),
                             else_branch=branch("e2", [lstm("other", "W2", "R2", "h_other")], "h_other"))
    outer = helper.make_node("If", ["flag"], ["Y"], name="outer",
                             then_branch=branch("t1", [inner], "inner_out"),
                             else_branch=branch("e1", [lstm("shallow", "W2", "R2", "h_sh")], "h_sh"))
    body = helper.make_graph(
        [lstm("step", "W", "R", "h_step"), helper.make_node("Identity", ["c_in"], ["c_out"])], "body",
        [helper.make_tensor_value_info("i", TensorProto.INT64, []),
         helper.make_tensor_value_info("c_in", TensorProto.BOOL, [])],
        [helper.make_tensor_value_info("c_out", TensorProto.BOOL, []),
         helper.make_tensor_value_info("h_step", TensorProto.FLOAT, None)])
    loop = helper.make_node("Loop", ["M", ""], ["stacked"], name="loop", body=body)
    graph = helper.make_graph(
        [outer, loop], "nested",
        [helper.make_tensor_value_info("X", TensorProto.FLOAT, ["T", "B", d]),
         helper.make_tensor_value_info("flag", TensorProto.BOOL, []),
         helper.make_tensor_value_info("M", TensorProto.INT64, [])],
        [helper.make_tensor_value_info("Y", TensorProto.FLOAT, None),
         helper.make_tensor_value_info("stacked", TensorProto.FLOAT, None)], inits)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    return model


def test_lstm_nodes_at_any_depth(tmp_path):
    proto = _nested_graphs()
    path = tmp_path / "nested.onnx"
    onnx.save(proto, str(path))
    model = load_model(path)
    assert model.layer_names == ["outer/then/inner/then/deep/forward", "outer/then/inner/else/other/forward",
                                 "outer/else/shallow/forward", "loop/body/step/forward"]
    x = np.random.default_rng(10).standard_normal((5, 2, 3)).astype(np.float32)
    inputs = {"X": x, "flag": np.array(True), "M": np.array(2, np.int64)}
    ref = ort.InferenceSession(proto.SerializeToString(), providers=["CPUExecutionProvider"]).run(None, inputs)
    result = model.trace(inputs)
    assert result.names == ["outer/then/inner/then/deep/forward",       # the branch this input takes
                            "loop/body/step/forward"]
    assert_close(result.output, ref[0], "If output")
    assert_close(result.layer(0).h[:, -1], ref[0][0], "deep LSTM's last h = the branch's Y_h")
    np.testing.assert_array_equal(result.layer(0).x, x.transpose(1, 0, 2))
    loop = model.trace(inputs).layer("loop/body/step/forward")    # two runs, run-major
    assert loop.h.shape == (4, 5, 4)
    assert_close(loop.h[:, -1].reshape(2, 2, 4), ref[1][:, 0], "Loop body's Y_h per iteration")
    np.testing.assert_array_equal(loop.x, np.concatenate([x.transpose(1, 0, 2)] * 2))
    np.savez(tmp_path / "in.npz", **inputs)
    proc = run_cli("trace", str(path), "--input", str(tmp_path / "in.npz"), "--layer",
                   "loop/body/step/forward", "--out", str(tmp_path / "t.npz"))
    assert proc.returncode == 0, proc.stderr
    assert "ran 2 time(s) inside Loop 'loop'" in proc.stderr
    with np.load(tmp_path / "t.npz") as data:
        assert_close(data["h"], loop.h, "CLI Loop h")


def test_streaming_loop_export_is_captured_run_by_run():
    """A torch export of a streaming model (a Loop over chunks, the LSTM's state carried from
    chunk to chunk): every run is captured with the state it started from; h, c against torch
    stepped run by run, gates against torch's own weights."""
    _check("loop_lstm.onnx", "loop_lstm")
    model = load_model(CAP / "loop_lstm.onnx")
    assert model.layer_names == ["Loop/body/LSTM/forward"]
    inputs = read_npz(CAP / "loop_lstm.input.npz")
    layer = model.trace(inputs).layer(0)
    assert_close(layer.h0[:2], inputs["h0"][0], "first run starts from h0")
    assert_close(layer.h0[2:4], layer.h[:2, -1], "second run starts where the first ended")
    assert any("ran 3 time(s) inside Loop" in n for n in model.capture(inputs).notes)


def test_scan_body_bidirectional_lstm():
    """A Scan whose body runs a bidirectional LSTM: both directions of every iteration, h, c
    and gates against ONNX Runtime stepped one position at a time."""
    _check("scan_bilstm.onnx", "scan_bilstm")
    model = load_model(CAP / "scan_bilstm.onnx")
    assert model.layer_names == ["scan/body/bilstm/forward", "scan/body/bilstm/backward"]


def test_loop_inside_an_if_branch(tmp_path):
    """A Loop in the then-branch: captured through both owners when the branch is taken; when
    it is not, the LSTM did not run, and the message says so."""
    from onnx import TensorProto, helper, numpy_helper
    rng = np.random.default_rng(13)
    d, n = 2, 3
    inits = [numpy_helper.from_array(rng.normal(0, 0.5, s).astype(np.float32), k)
             for k, s in (("W", (1, 4 * n, d)), ("R", (1, 4 * n, n)))]
    body = helper.make_graph(
        [helper.make_node("LSTM", ["X", "W", "R"], ["", "h_step"], hidden_size=n, name="lstm"),
         helper.make_node("Identity", ["c_in"], ["c_out"])], "body",
        [helper.make_tensor_value_info("i", TensorProto.INT64, []),
         helper.make_tensor_value_info("c_in", TensorProto.BOOL, [])],
        [helper.make_tensor_value_info("c_out", TensorProto.BOOL, []),
         helper.make_tensor_value_info("h_step", TensorProto.FLOAT, None)])
    then = helper.make_graph([helper.make_node("Loop", ["M", ""], ["hs"], name="loop", body=body)],
                             "then", [], [helper.make_tensor_value_info("hs", TensorProto.FLOAT, None)])
    other = helper.make_graph([helper.make_node("Identity", ["X"], ["same"])], "else", [],
                              [helper.make_tensor_value_info("same", TensorProto.FLOAT, None)])
    graph = helper.make_graph(
        [helper.make_node("If", ["flag"], ["Y"], name="if", then_branch=then, else_branch=other)],
        "if_loop", [helper.make_tensor_value_info("X", TensorProto.FLOAT, ["T", "B", d]),
                    helper.make_tensor_value_info("flag", TensorProto.BOOL, []),
                    helper.make_tensor_value_info("M", TensorProto.INT64, [])],
        [helper.make_tensor_value_info("Y", TensorProto.FLOAT, None)], inits)
    proto = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    proto.ir_version = 8
    onnx.save(proto, str(tmp_path / "if_loop.onnx"))
    model = load_model(tmp_path / "if_loop.onnx")
    assert model.layer_names == ["if/then/loop/body/lstm/forward"]
    x = rng.standard_normal((4, 2, d)).astype(np.float32)
    inputs = {"X": x, "flag": np.array(True), "M": np.array(3, np.int64)}
    ref = ort.InferenceSession(proto.SerializeToString(), providers=["CPUExecutionProvider"]).run(None, inputs)
    layer = model.trace(inputs).layer(0)
    assert layer.h.shape == (6, 4, n)
    assert_close(layer.h[:, -1].reshape(3, 2, n), ref[0][:, 0], "Y_h of every iteration")
    skipped = dict(inputs, flag=np.array(False))
    assert model.trace(skipped).names == []
    with pytest.raises(ScopeError, match="does not run for this input"):
        Session(model, skipped, layer=0)


def test_session_file_keeps_named_inputs_and_needs_the_runtime(tmp_path, monkeypatch):
    import shutil
    import sys

    from engine.debugging.debugger import Debugger
    from engine.debugging.session_file import open_session, save_session
    src = tmp_path / "m.onnx"
    shutil.copy(CAP / "if_conv_lstm.onnx", src)
    inputs = read_npz(CAP / "if_conv_lstm_4k.input.npz")
    s = Session(load_model(src), inputs, layer="If/else/LSTM_1/forward")
    s.seek(4)
    out = tmp_path / "s.lstmscope"
    save_session(out, Debugger(s))
    s2, _, data = open_session(out)
    assert set(data.x) == {"x", "rate"} and int(data.x["rate"]) == 4000
    assert s2.t == 4 and np.array_equal(s2.trace.h[:, :4], s.trace.h[:, :4])
    monkeypatch.setitem(sys.modules, "onnxruntime", None)
    with pytest.raises(Exception, match="pip install onnxruntime"):
        open_session(out)
