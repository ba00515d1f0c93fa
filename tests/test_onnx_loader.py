"""ONNX LSTM nodes: every traced direction's h and c at every step against ONNX Runtime
(``onnx.reference`` for layout=1, which ORT refuses), and ``output`` = the graph's first output
as ORT returns it; bad files fail cleanly."""

from __future__ import annotations

import numpy as np
import onnx
import pytest

from engine.errors import ModelFileError
from engine.loaders import load_model
from engine.session import Session
from tests.helpers import (
    FIXTURES,
    assert_clean_error,
    assert_close,
    onnx_lstm_model,
    onnx_lstm_step_states,
    onnx_reference_run,
    run_cli,
)

B, T, D, N = 3, 6, 4, 5


def _weights(seed: int, dirs: int, *, bias=True, peep=False):
    rng = np.random.default_rng(seed)
    w = rng.standard_normal((dirs, 4 * N, D)).astype(np.float32) * 0.6
    r = rng.standard_normal((dirs, 4 * N, N)).astype(np.float32) * 0.6
    b = rng.standard_normal((dirs, 8 * N)).astype(np.float32) * 0.5 if bias else None
    p = rng.standard_normal((dirs, 3 * N)).astype(np.float32) if peep else None
    x = rng.standard_normal((B, T, D)).astype(np.float32) * 2
    return x, w, r, b, p


CASES = {
    "forward": dict(),
    "reverse": dict(direction="reverse"),
    "bidirectional": dict(direction="bidirectional"),
    "no_bias": dict(bias=False, direction="bidirectional"),
    "peepholes": dict(peep=True),
    "peepholes_bidir": dict(peep=True, direction="bidirectional"),
    "clip": dict(clip=0.6),
    "clip_peep_bidir": dict(clip=0.8, peep=True, direction="bidirectional"),
    "seq_lens": dict(lens=[6, 3, 1]),
    "seq_lens_bidir": dict(lens=[2, 6, 4], direction="bidirectional"),
    "seq_lens_reverse_peep": dict(lens=[5, 1, 3], direction="reverse", peep=True, clip=1.0),
    "initial_state": dict(state=True, direction="bidirectional"),
    "initial_state_lens": dict(state=True, lens=[4, 6, 2], direction="bidirectional"),
    "activations": dict(activations=["HardSigmoid", "LeakyRelu", "ScaledTanh"],
                        activation_alpha=[0.3, 0.1, 0.8], activation_beta=[0.45, 1.3]),
    "activations_bidir": dict(direction="bidirectional",
                              activations=["Sigmoid", "Relu", "Tanh", "HardSigmoid", "Affine",
                                           "Softsign"],
                              activation_alpha=[0.25, 0.7], activation_beta=[0.5, 0.1]),
    "input_forget": dict(input_forget=1),
    "input_forget_peep_clip": dict(input_forget=1, peep=True, clip=0.9, direction="bidirectional"),
    "layout1": dict(layout=1),
    "layout1_bidir_state": dict(layout=1, direction="bidirectional", state=True),
}


def _build(case: str, seed: int = 0):
    cfg = dict(CASES[case])
    direction = cfg.get("direction", "forward")
    dirs = 2 if direction == "bidirectional" else 1
    x, w, r, b, p = _weights(seed, dirs, bias=cfg.pop("bias", True), peep=cfg.pop("peep", False))
    lens = cfg.pop("lens", None)
    lens = None if lens is None else np.array(lens, np.int32)
    h0 = c0 = None
    if cfg.pop("state", False):
        rng = np.random.default_rng(seed + 100)
        h0 = rng.standard_normal((dirs, B, N)).astype(np.float32)
        c0 = rng.standard_normal((dirs, B, N)).astype(np.float32)
    return x, w, r, b, p, lens, h0, c0, cfg


def _save(tmp_path, model, name="m.onnx"):
    path = tmp_path / name
    onnx.save(model, str(path))
    return path


def check_case(tmp_path, case: str) -> dict[str, float]:
    x, w, r, b, p, lens, h0, c0, attrs = _build(case)
    layout = attrs.get("layout", 0)
    hh = None if h0 is None else (h0 if layout == 0 else h0.transpose(1, 0, 2))
    cc = None if c0 is None else (c0 if layout == 0 else c0.transpose(1, 0, 2))
    proto = onnx_lstm_model(w, r, b, p=p, lens=lens, h0=hh, c0=cc, **attrs)
    feed = x if layout == 1 else x.transpose(1, 0, 2)
    ref_outputs = onnx_reference_run(proto, {"X": np.ascontiguousarray(feed)})
    model = load_model(_save(tmp_path, proto))
    result = model.trace(x)
    errors = {}
    for k, (ours, ref) in enumerate(zip(result.outputs, ref_outputs)):
        errors[f"out{k}"] = assert_close(ours, ref, f"{case} graph output {k}")
    assert result.output.shape == ref_outputs[0].shape
    refs = onnx_lstm_step_states(x, w, r, b, lens=lens, h0=h0, c0=c0, p=p, **attrs)
    assert len(result.layers) == len(refs)
    for layer, (h_ref, c_ref) in zip(result.layers, refs):
        errors[f"{layer.name}/h"] = assert_close(layer.h, h_ref, f"{case} {layer.name} h")
        errors[f"{layer.name}/c"] = assert_close(layer.c, c_ref, f"{case} {layer.name} c")
        if lens is not None:
            np.testing.assert_array_equal(layer.mask, np.arange(T)[None, :] < lens[:, None])
    return errors


@pytest.mark.parametrize("case", sorted(CASES))
def test_live_lstm_node(tmp_path, case):
    errors = check_case(tmp_path, case)
    assert max(errors.values()) <= 1e-5


def test_names_shapes_and_mapping(tmp_path):
    x, w, r, b, p, *_ = _weights(1, 2, peep=True)
    model = load_model(_save(tmp_path, onnx_lstm_model(w, r, b, p=p, direction="bidirectional",
                                                       name="enc")))
    assert model.layer_names == ["enc/forward", "enc/backward"]
    assert [i.direction for i in model.traced_layers] == ["forward", "backward"]
    cw = model.traced_layers[1].weights
    # gate blocks: ONNX i, o, f, c -> canonical i, f, g, o
    for canon, onnx_block in ((0, 0), (1, 2), (2, 3), (3, 1)):
        np.testing.assert_array_equal(cw.kernel[:, canon * N:(canon + 1) * N],
                                      w[1, onnx_block * N:(onnx_block + 1) * N].T)
        np.testing.assert_array_equal(cw.recurrent_kernel[:, canon * N:(canon + 1) * N],
                                      r[1, onnx_block * N:(onnx_block + 1) * N].T)
    wb, rb = cw.bias_parts
    np.testing.assert_array_equal(cw.bias, wb + rb)
    np.testing.assert_array_equal(cw.peephole[1], p[1, 2 * N:])     # forget peephole: P block 2
    np.testing.assert_array_equal(cw.peephole[2], p[1, N:2 * N])    # output peephole: P block 1
    assert cw.param_count == 4 * N * (D + N) + 8 * N + 3 * N


def test_clip_changes_the_result(tmp_path):
    """The clip case is not vacuous: without clipping the numbers differ."""
    x, w, r, b, _, _, _, _, attrs = _build("clip")
    clipped = load_model(_save(tmp_path, onnx_lstm_model(w, r, b, **attrs), "c.onnx")).trace(x)
    free = load_model(_save(tmp_path, onnx_lstm_model(w, r, b), "f.onnx")).trace(x)
    assert np.abs(clipped.output - free.output).max() > 1e-2


def test_first_output_may_be_y_h_and_weights_from_constants(tmp_path):
    from onnx import TensorProto, helper, numpy_helper
    x, w, r, b, *_ = _weights(2, 1)
    consts = [helper.make_node("Constant", [], [name], value=numpy_helper.from_array(arr, name + "_t"))
              for name, arr in (("W", w), ("R", r), ("B", b))]
    node = helper.make_node("LSTM", ["X", "W", "R", "B"], ["", "Y_h"], hidden_size=N, name="l")
    graph = helper.make_graph(consts + [node], "g",
                              [helper.make_tensor_value_info("X", TensorProto.FLOAT, [T, B, D])],
                              [helper.make_tensor_value_info("Y_h", TensorProto.FLOAT, None)])
    proto = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 14)])
    proto.ir_version = 8
    ref = onnx_reference_run(proto, {"X": x.transpose(1, 0, 2).copy()})[0]
    result = load_model(_save(tmp_path, proto)).trace(x)
    assert result.output.shape == (1, B, N)
    assert_close(result.output, ref, "Y_h")


def _torch_export(tmp_path, module, x, name="t.onnx"):
    import torch
    path = tmp_path / name
    import warnings
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.onnx.export(module, (torch.from_numpy(x),), str(path), dynamo=False,
                          input_names=["x"], opset_version=17)
    return path


def test_torch_exported_stack_with_linear(tmp_path):
    """torch.onnx.export of LSTM(2 layers, bidirectional, batch_first) + Linear: several LSTM nodes
    with Transpose/Reshape/Expand... between. Output vs ORT, each layer's h and c vs torch."""
    import torch

    from tests.helpers import torch_layer_references
    torch.manual_seed(0)

    class Net(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.lstm = torch.nn.LSTM(D, N, num_layers=2, bidirectional=True, batch_first=True)
            self.fc = torch.nn.Linear(2 * N, 3)

        def forward(self, x):
            return self.fc(self.lstm(x)[0])

    net = Net().eval()
    x = np.random.default_rng(3).standard_normal((B, T, D)).astype(np.float32)
    path = _torch_export(tmp_path, net, x)
    import onnxruntime as ort
    ref = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"]).run(None, {"x": x})[0]
    model = load_model(path)
    assert not model.warnings
    result = model.trace(x)
    assert_close(result.output, ref, "graph output")
    refs = torch_layer_references(net.lstm, x)
    assert len(result.layers) == 4
    for layer, tref in zip(result.layers, refs):
        assert layer.direction == tref["direction"]
        assert_close(layer.h, tref["h"], f"{layer.name} h")
        assert_close(layer.c, tref["c"], f"{layer.name} c")
    # the debugger steps layer 3 on the graph's own input to that node
    s = Session(model, x, layer=3)
    s.seek(s.steps)
    np.testing.assert_array_equal(s.runner.h, result.layers[3].h)


def _erf_graph(tmp_path):
    from onnx import TensorProto, helper, numpy_helper
    x, w, r, b, *_ = _weights(4, 1)
    inits = [numpy_helper.from_array(a, n) for n, a in (("W", w), ("R", r), ("B", b))]
    nodes = [helper.make_node("LSTM", ["X", "W", "R", "B"], ["Y"], hidden_size=N, name="l"),
             helper.make_node("Erf", ["Y"], ["Z"])]
    graph = helper.make_graph(nodes, "g", [helper.make_tensor_value_info("X", TensorProto.FLOAT, None)],
                              [helper.make_tensor_value_info("Z", TensorProto.FLOAT, None)], initializer=inits)
    proto = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 14)])
    proto.ir_version = 8
    return _save(tmp_path, proto), proto, x, w, r, b


def test_unrunnable_graph_is_captured_from_onnx_runtime(tmp_path):
    """An op the engine does not compute (Erf): ONNX Runtime runs the graph, ``output`` is its
    output, the LSTM steps on what ORT fed it; --layer-input still traces the LSTM alone."""
    path, proto, x, w, r, b = _erf_graph(tmp_path)
    model = load_model(path)
    assert any("Erf" in w_ and "ONNX Runtime" in w_ for w_ in model.warnings)
    assert model.summary()["traced_layers"][0]["computed"] == "captured"
    xt = x.transpose(1, 0, 2).copy()
    z_ref = onnx_reference_run(proto, {"X": xt})[0]
    result = model.trace(xt)              # the model's own input: ONNX layout (T, B, D)
    assert_close(result.output, z_ref, "Z")
    h_ref, c_ref = onnx_lstm_step_states(x, w, r, b)[0]
    assert_close(result.layers[0].h, h_ref, "h")
    assert_close(result.layers[0].c, c_ref, "c")
    np.testing.assert_allclose(result.layers[0].x, x, atol=1e-6)
    y_ref = onnx_reference_run(onnx_lstm_model(w, r, b, outputs=("Y",)), {"X": xt})[0]
    assert_close(model.trace(x, layer_input=0).output, y_ref, "Y")


def test_capture_without_onnxruntime_names_the_install(tmp_path, monkeypatch):
    import sys
    path, *_ , x, w, r, b = _erf_graph(tmp_path)
    monkeypatch.setitem(sys.modules, "onnxruntime", None)
    model = load_model(path)
    with pytest.raises(Exception, match="pip install onnxruntime"):
        model.trace(x.transpose(1, 0, 2))


def test_session_uses_initial_state_and_lengths(tmp_path):
    x, w, r, b, p, lens, h0, c0, attrs = _build("initial_state_lens")
    model = load_model(_save(tmp_path, onnx_lstm_model(w, r, b, lens=lens, h0=h0, c0=c0, **attrs)))
    full = model.trace(x)
    for k in range(2):
        s = Session(model, x, layer=k)
        s.seek(s.steps)
        np.testing.assert_array_equal(s.runner.h, full.layers[k].h)
        np.testing.assert_array_equal(s.runner.mask, full.layers[k].mask)


def test_cli_trace_onnx(tmp_path):
    x, w, r, b, p, lens, h0, c0, attrs = _build("seq_lens_bidir")
    path = _save(tmp_path, onnx_lstm_model(w, r, b, lens=lens, **attrs))
    np.save(tmp_path / "x.npy", x)
    out = tmp_path / "t.npz"
    proc = run_cli("trace", str(path), "--input", str(tmp_path / "x.npy"), "--layer", "lstm/backward",
                   "--out", str(out))
    assert proc.returncode == 0, proc.stderr
    with np.load(out) as data:
        ref = onnx_lstm_step_states(x, w, r, b, lens=lens, **attrs)[1]
        assert_close(data["h"], ref[0], "h")
        assert_close(data["c"], ref[1], "c")
        assert np.isnan(data["i"][~data["mask"]]).all()


# --- committed fixtures written by scripts/make_torch_onnx_fixtures.py --------------------------
# (quantized_bilstm is captured from ONNX Runtime: tests/test_saved_weights.py)
ONNX_FIXTURES = sorted(p for p in (FIXTURES / "onnx").glob("*.npz") if p.stem != "quantized_bilstm")


def test_the_onnx_fixtures_are_committed():
    assert ONNX_FIXTURES, "no ONNX fixtures under tests/fixtures/onnx (scripts/ writes them)"


@pytest.mark.parametrize("npz", ONNX_FIXTURES, ids=lambda p: p.stem)
def test_onnx_fixture(npz):
    from tests.test_torch_loader import check_fixture
    check_fixture(npz)


# --- bad input ------------------------------------------------------------------------------------
def test_cli_graph_without_lstm(tmp_path):
    from onnx import TensorProto, helper
    graph = helper.make_graph([helper.make_node("Relu", ["X"], ["Y"])], "g",
                              [helper.make_tensor_value_info("X", TensorProto.FLOAT, None)],
                              [helper.make_tensor_value_info("Y", TensorProto.FLOAT, None)])
    path = _save(tmp_path, helper.make_model(graph))
    assert_clean_error(run_cli("info", str(path)), "no LSTM node", "Relu")


def test_cli_not_an_onnx_file(tmp_path):
    path = tmp_path / "junk.onnx"
    path.write_bytes(b"\x00\x01 definitely not protobuf \xff\xfe" * 10)
    assert_clean_error(run_cli("info", str(path)), "junk.onnx")


def test_cli_inconsistent_lstm_shapes(tmp_path):
    x, w, r, b, *_ = _weights(5, 1)
    path = _save(tmp_path, onnx_lstm_model(w, r[:, :, :3], b, hidden_size=N))
    assert_clean_error(run_cli("info", str(path)), "LSTM node")
    path = _save(tmp_path, onnx_lstm_model(w, r, b[:, :5]), "b.onnx")
    assert_clean_error(run_cli("info", str(path)), "B (1, 5)")


def test_hash_selector_is_for_torch_only(tmp_path):
    x, w, r, b, *_ = _weights(6, 1)
    path = _save(tmp_path, onnx_lstm_model(w, r, b))
    with pytest.raises(ModelFileError, match="--layer"):
        load_model(f"{path}#lstm")
