"""An xLSTM stack from its saved state dict plus the package's config (``--config``): built as
the package builds it, its sLSTM cells stepped by the engine, every step as the package's own
cell computed it and the stack's output as the live module gives it; what needs CUDA, and
configs or weights that do not describe each other, are refused in one line
(engine/loaders/xlstm_config.py; fixtures by scripts/make_xlstm_fixtures.py)."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
import yaml
from xlstm import (
    mLSTMBlockConfig,
    mLSTMLayerConfig,
    sLSTMBlockConfig,
    sLSTMLayerConfig,
    xLSTMBlockStack,
    xLSTMBlockStackConfig,
)

import engine
from engine import load_model
from engine.cells.slstm_cell import SlstmWeights
from engine.errors import ModelFileError, ScopeError, UnsupportedModelError
from tests.helpers import FIXTURES, assert_clean_error, assert_close, load_reference, run_cli

XLSTM = FIXTURES / "xlstm"
REF = XLSTM / "slstm_h4.npz"


@pytest.mark.parametrize("weights,config", [("slstm_h4.pt", "slstm_h4.yaml"),
                                            ("slstm_h4.safetensors", "slstm_h4.json")])
def test_a_state_dict_with_its_config_traces_as_the_package_steps_it(weights, config):
    ref = load_reference(REF)
    model = load_model(XLSTM / weights, config=str(XLSTM / config))
    assert [type(info.weights) for info in model.traced_layers] == [SlstmWeights] * 2
    assert model.traced_layers[0].weights.heads == 4
    result = model.trace(ref["x"])
    assert_close(result.output, ref["output"], "the stack's output")
    for k in range(2):
        layer = result.layers[k]
        assert layer.name == str(ref[f"layer{k}_name"])
        for signal, key in (("h", "h"), ("c", "c"), ("nrm", "n"), ("stab", "m")):
            assert_close(layer.signal(signal), ref[f"layer{k}_{key}"], f"{layer.name} {signal}")


def test_the_file_and_the_live_module_give_the_same_trace():
    """engine.from_torch on the stack built by hand from the same weights: the same numbers."""
    ref = load_reference(REF)
    meta = ref["meta"]
    stack = xLSTMBlockStack(xLSTMBlockStackConfig(
        slstm_block=sLSTMBlockConfig(slstm=sLSTMLayerConfig(
            backend="vanilla", num_heads=4, conv1d_kernel_size=meta["conv1d_kernel_size"])),
        context_length=meta["context_length"], num_blocks=meta["blocks"],
        embedding_dim=meta["embedding_dim"]))
    stack.load_state_dict(torch.load(XLSTM / "slstm_h4.pt", weights_only=True))
    live = engine.from_torch(stack.eval(), ref["x"], layer=1).result()
    from_file = load_model(XLSTM / "slstm_h4.pt", config=str(XLSTM / "slstm_h4.yaml")).trace(ref["x"])
    for k in range(2):
        assert np.array_equal(live.layers[k].h, from_file.layers[k].h)
        assert np.array_equal(live.layers[k].c, from_file.layers[k].c)


def test_the_command_line_traces_a_state_dict_with_its_config(tmp_path):
    ref = load_reference(REF)
    np.save(tmp_path / "x.npy", ref["x"])
    proc = run_cli("trace", str(XLSTM / "slstm_h4.pt"), "--config", str(XLSTM / "slstm_h4.yaml"),
                   "--input", str(tmp_path / "x.npy"), "--layer", "1", "--out", str(tmp_path / "t.npz"))
    assert proc.returncode == 0, proc.stderr
    with np.load(tmp_path / "t.npz") as data:
        assert_close(data["h"], ref["layer1_h"], "CLI h")
        assert_close(data["nrm"], ref["layer1_n"], "CLI nrm")
        assert_close(data["output"], ref["output"], "CLI output")


def _config(tmp_path, data, name="cfg.yaml"):
    path = tmp_path / name
    path.write_text(yaml.safe_dump(data) if name.endswith(".yaml") else json.dumps(data),
                    encoding="utf-8")
    return str(path)


def _fixture_config() -> dict:
    return yaml.safe_load((XLSTM / "slstm_h4.yaml").read_text(encoding="utf-8"))


@pytest.mark.parametrize("backend", ["cuda", None])
def test_a_config_asking_for_cuda_is_refused_in_one_line(tmp_path, backend):
    """The package's default backend is cuda: a config that names none asks for it too."""
    data = _fixture_config()
    if backend is None:
        del data["slstm_block"]["slstm"]["backend"]
    else:
        data["slstm_block"]["slstm"]["backend"] = backend
    cfg = _config(tmp_path, data)
    with pytest.raises(UnsupportedModelError, match="cuda.*backend: vanilla"):
        load_model(XLSTM / "slstm_h4.pt", config=cfg)
    assert_clean_error(run_cli("info", str(XLSTM / "slstm_h4.pt"), "--config", cfg), "cuda",
                       "backend: vanilla")


@pytest.mark.parametrize("change,needle", [
    (lambda d: d.update(embedding_dim=16), "shape"),
    (lambda d: d.update(num_blocks=3), "weights of 2 blocks"),
    (lambda d: d.update(num_blocks=10**12), "weights of 2 blocks"),
    (lambda d: d.update(num_blocks=1), "holds"),
    (lambda d: d["slstm_block"]["slstm"].update(conv1d_kernel_size=0), "holds"),
    (lambda d: d.update(colour="red"), "colour"),
    (lambda d: d.update(num_blocks="${blocks}"), "num_blocks"),
    (lambda d: d["slstm_block"]["slstm"].update(num_heads=3), "cannot build|divisible"),
])
def test_a_config_that_does_not_describe_the_weights_is_refused_in_one_line(tmp_path, change, needle):
    data = _fixture_config()
    change(data)
    with pytest.raises(ScopeError, match=needle) as info:
        load_model(XLSTM / "slstm_h4.pt", config=_config(tmp_path, data))
    assert "\n" not in str(info.value)


def test_weights_lacking_a_tensor_of_the_stack_are_refused_in_one_line(tmp_path):
    state = torch.load(XLSTM / "slstm_h4.pt", weights_only=True)
    del state["blocks.1.xlstm.slstm_cell._bias_"]
    torch.save(state, tmp_path / "short.pt")
    with pytest.raises(ModelFileError, match="lacks 'blocks.1.xlstm.slstm_cell._bias_'"):
        load_model(tmp_path / "short.pt", config=str(XLSTM / "slstm_h4.yaml"))


def test_a_stack_past_the_memory_budget_is_refused_before_it_is_built(tmp_path):
    """The meta-device build counts every tensor, buffers too (an mLSTM's causal mask grows
    with context_length squared), before any memory is taken: 2 blocks at 32768 wide would
    take several GB."""
    data = _fixture_config()
    data["embedding_dim"] = 32768
    with pytest.raises(ModelFileError, match="the stack it describes.*budget"):
        load_model(XLSTM / "slstm_h4.pt", config=_config(tmp_path, data))


@pytest.mark.parametrize("text", ["[1, 2]", "slstm_block: [unclosed", "!!python/object:os.system {}",
                                  "{\"a\": "])
def test_a_config_that_is_not_a_mapping_of_settings_is_refused_without_running_it(tmp_path, text):
    path = tmp_path / "cfg.yaml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(ModelFileError, match="cfg.yaml") as info:
        load_model(XLSTM / "slstm_h4.pt", config=str(path))
    assert "\n" not in str(info.value)


def test_a_stack_of_mlstm_and_slstm_blocks_opens_every_cell(tmp_path):
    """The blocks run in the package (pure torch on CPU); the mLSTM and sLSTM cells are traced."""
    cfg = xLSTMBlockStackConfig(
        mlstm_block=mLSTMBlockConfig(mlstm=mLSTMLayerConfig(num_heads=2)),
        slstm_block=sLSTMBlockConfig(slstm=sLSTMLayerConfig(backend="vanilla", num_heads=2)),
        context_length=8, num_blocks=2, embedding_dim=8, slstm_at=[1])
    torch.manual_seed(0)
    stack = xLSTMBlockStack(cfg).eval()
    torch.save(stack.state_dict(), tmp_path / "stack.pt")
    data = {"mlstm_block": {"mlstm": {"num_heads": 2}},
            "slstm_block": {"slstm": {"backend": "vanilla", "num_heads": 2}},
            "context_length": 8, "num_blocks": 2, "embedding_dim": 8, "slstm_at": [1]}
    model = load_model(tmp_path / "stack.pt", config=_config(tmp_path, data, "cfg.json"))
    assert model.layer_names == ["blocks.0.xlstm.mlstm_cell", "blocks.1.xlstm.slstm_cell"]
    x = np.random.default_rng(0).normal(size=(1, 8, 8)).astype(np.float32)
    with torch.no_grad():
        expect = stack(torch.from_numpy(x)).numpy()
    assert_close(model.trace(x).output, expect, "mixed stack output")


def test_config_is_refused_for_a_format_that_has_none(tmp_path):
    with pytest.raises(ModelFileError, match="--config"):
        load_model(FIXTURES / "gru" / "onnx_gru_lbr0.onnx", config=str(XLSTM / "slstm_h4.yaml"))


def test_a_saved_session_reopens_the_stack_with_its_config(tmp_path):
    """A session names its model and --config; reopening builds the stack again, same cursor."""
    from engine import Session
    from engine.debugging.debugger import Debugger
    from engine.debugging.session_file import open_session, save_session
    ref = load_reference(REF)
    model = load_model(XLSTM / "slstm_h4.pt", config=str(XLSTM / "slstm_h4.yaml"))
    session = Session(model, ref["x"], layer=1)
    session.seek(5)
    save_session(tmp_path / "s.lstmscope", Debugger(session))
    again, _, spec = open_session(tmp_path / "s.lstmscope")
    assert spec.model_options == {"config": str(XLSTM / "slstm_h4.yaml")} and again.t == 5
    again.to_end()
    assert_close(again.trace.h, ref["layer1_h"], "reopened h")
