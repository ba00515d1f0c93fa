"""PyTorch state_dicts (.pt) and .safetensors: every traced layer's h and c and the model output
against torch 2.13 itself, within the Contracts' tolerance; bad files fail cleanly."""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pytest
import torch

from engine.errors import ModelFileError
from engine.loaders import load_model
from engine.session import Session
from tests.helpers import (
    FIXTURES,
    ROOT,
    assert_clean_error,
    assert_close,
    load_reference,
    reference_layers,
    run_cli,
    torch_layer_references,
)

RNG = np.random.default_rng(5)
X = RNG.standard_normal((3, 7, 5)).astype(np.float32)


def _save(tmp_path, module, prefix="", name="m.pt"):
    sd = {f"{prefix}{k}": v for k, v in module.state_dict().items()}
    path = tmp_path / name
    torch.save(sd, path)
    return path


def _torch_output(module, x):
    with torch.no_grad():
        if isinstance(module, torch.nn.LSTMCell):
            return torch_layer_references(module, x)[0]["h"]
        if not module.batch_first:
            return module(torch.from_numpy(x).transpose(0, 1))[0].transpose(0, 1).numpy()
        return module(torch.from_numpy(x))[0].numpy()


def _check_against_torch(model, module, x, prefix=""):
    result = model.trace(x)
    refs = torch_layer_references(module, x)
    errors = {}
    assert len(result.layers) == len(refs)
    for layer, ref in zip(result.layers, refs):
        expect = prefix + ref["name"] if ref["name"] else layer.name
        assert layer.name == expect
        assert layer.direction == ref["direction"]
        errors[layer.name + "/h"] = assert_close(layer.h, ref["h"], f"{layer.name} h")
        errors[layer.name + "/c"] = assert_close(layer.c, ref["c"], f"{layer.name} c")
        errors[layer.name + "/gates"] = assert_close(layer.gates, ref["gates"], f"{layer.name} gates")
    errors["output"] = assert_close(result.output, _torch_output(module, x), "output")
    return errors


CASES = {
    "one_layer": dict(num_layers=1),
    "multi_layer": dict(num_layers=3),
    "bidirectional": dict(num_layers=1, bidirectional=True),
    "bidir_multi": dict(num_layers=2, bidirectional=True),
    "no_bias": dict(num_layers=2, bias=False),
    "proj_size": dict(num_layers=2, proj_size=3),
    "proj_bidir": dict(num_layers=2, bidirectional=True, proj_size=3),
}


@pytest.mark.parametrize("case", sorted(CASES))
@pytest.mark.parametrize("batch_first", [True, False])
def test_live_nn_lstm_matches_torch(tmp_path, case, batch_first):
    torch.manual_seed(11)
    # the file does not record batch_first: our input stays batch-major either way
    module = torch.nn.LSTM(5, 8, batch_first=batch_first, **CASES[case]).eval()
    model = load_model(_save(tmp_path, module))
    errors = _check_against_torch(model, module, X)
    n_params = sum(p.numel() for p in module.parameters())
    assert model.param_count == n_params
    assert max(errors.values()) <= 1e-5


def test_prefixed_lstm_names_and_params(tmp_path):
    torch.manual_seed(1)
    module = torch.nn.LSTM(5, 6, num_layers=2, bidirectional=True, batch_first=True)
    model = load_model(_save(tmp_path, module, "lstm."))
    assert model.layer_names == ["lstm.l0", "lstm.l0_reverse", "lstm.l1", "lstm.l1_reverse"]
    _check_against_torch(model, module, X, prefix="lstm.")
    w = model.traced_layers[0].weights
    assert w.shapes()["kernel"] == (5, 24) and w.shapes()["recurrent_kernel"] == (6, 24)
    # both biases kept apart, zb their sum
    b_ih, b_hh = w.bias_parts
    np.testing.assert_array_equal(b_ih, module.bias_ih_l0.detach().numpy())
    np.testing.assert_allclose(w.bias, b_ih + b_hh, rtol=0, atol=0)
    assert w.param_count == 4 * 6 * (5 + 6) + 2 * 4 * 6


def test_proj_size_shapes(tmp_path):
    torch.manual_seed(2)
    module = torch.nn.LSTM(5, 8, proj_size=3, batch_first=True)
    model = load_model(_save(tmp_path, module))
    layer = model.trace(X).layers[0]
    assert layer.h.shape == (3, 7, 3) and layer.c.shape == (3, 7, 8)
    w = model.traced_layers[0].weights
    assert w.projection.shape == (8, 3)
    np.testing.assert_array_equal(w.projection, module.weight_hr_l0.detach().numpy().T)


def test_lstm_cell(tmp_path):
    torch.manual_seed(3)
    cell = torch.nn.LSTMCell(5, 6)
    model = load_model(_save(tmp_path, cell, "cell."))
    assert model.layer_names == ["cell"]
    result = model.trace(X)
    ref = torch_layer_references(cell, X)[0]
    assert_close(result.layers[0].h, ref["h"], "h")
    assert_close(result.layers[0].c, ref["c"], "c")
    assert_close(result.layers[0].gates, ref["gates"], "gates from torch's weights")
    assert_close(result.output, ref["h"], "output")


def test_safetensors_without_torch_import(tmp_path):
    from safetensors.torch import save_file
    torch.manual_seed(4)
    module = torch.nn.LSTM(5, 4, num_layers=2, bidirectional=True, batch_first=True)
    path = tmp_path / "m.safetensors"
    save_file({f"rnn.{k}": v.contiguous() for k, v in module.state_dict().items()}, str(path))
    model = load_model(path)
    assert model.format == "safetensors"
    _check_against_torch(model, module, X, prefix="rnn.")


def test_several_lstms_pick_with_hash(tmp_path):
    torch.manual_seed(5)

    class Seq2Seq(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.emb = torch.nn.Embedding(20, 5)
            self.enc = torch.nn.LSTM(5, 4, batch_first=True)
            self.dec = torch.nn.LSTM(5, 6, num_layers=2, batch_first=True)
            self.out = torch.nn.Linear(6, 20)

    net = Seq2Seq()
    path = _save(tmp_path, net)
    first = load_model(path)
    assert first.layer_names == ["enc.l0"]
    assert any("2 LSTMs" in w and "#" in w for w in first.warnings)
    assert any("emb.weight" in w and "Embedding" in w for w in first.warnings)
    dec = load_model(f"{path}#dec")
    assert dec.layer_names == ["dec.l0", "dec.l1"]
    _check_against_torch(dec, net.dec, X, prefix="dec.")
    with pytest.raises(ModelFileError, match="no LSTM under 'nope'"):
        load_model(f"{path}#nope")


def test_checkpoint_dict_and_session(tmp_path):
    torch.manual_seed(6)
    module = torch.nn.LSTM(5, 4, num_layers=2, bidirectional=True, batch_first=True)
    path = tmp_path / "ckpt.pth"
    torch.save({"epoch": 3, "model_state_dict": module.state_dict()}, path)
    model = load_model(path)
    full = model.trace(X)
    # stepping layer l1_reverse in a Session reproduces the full trace (its input is l0's output)
    s = Session(model, X, layer="l1_reverse")
    s.seek(s.steps)
    np.testing.assert_array_equal(s.runner.h, full.layer("l1_reverse").h)


def test_cli_trace_torch(tmp_path):
    torch.manual_seed(7)
    module = torch.nn.LSTM(5, 4, num_layers=2, bidirectional=True, batch_first=True)
    path = _save(tmp_path, module, "lstm.")
    np.save(tmp_path / "x.npy", X)
    out = tmp_path / "t.npz"
    proc = run_cli("trace", str(path), "--input", str(tmp_path / "x.npy"), "--layer", "lstm.l1_reverse",
                   "--out", str(out))
    assert proc.returncode == 0, proc.stderr
    data = load_reference(out)
    refs = torch_layer_references(module, X)
    assert data["meta"]["direction"] == "backward"
    assert_close(data["h"], refs[3]["h"], "h")
    assert_close(data["c"], refs[3]["c"], "c")
    assert_close(data["output"], _torch_output(module, X), "output")


# --- committed fixtures written by scripts/make_torch_onnx_fixtures.py --------------------------
TORCH_FIXTURES = sorted((FIXTURES / "torch").glob("*.npz")) if (FIXTURES / "torch").exists() else []


def _fixture_model(npz):
    ref = load_reference(npz)
    meta = ref["meta"]
    candidates = [meta.get(k) for k in ("model", "model_file", "file")]
    for c in candidates:
        if c:
            for base in (npz.parent, FIXTURES, FIXTURES.parent.parent):
                if (base / c).exists():
                    return base / c, ref
    for suffix in (".pt", ".pth", ".safetensors", ".onnx"):
        if npz.with_suffix(suffix).exists():
            return npz.with_suffix(suffix), ref
    pytest.fail(f"{npz.name}: model file not found from meta {json.dumps(meta)[:200]}")


def check_fixture(npz):
    """Every traced layer's h and c and the output against the fixture's reference."""
    model_path, ref = _fixture_model(npz)
    spec = str(model_path)
    select = ref["meta"].get("select") or ref["meta"].get("module")
    if select:
        spec = f"{spec}#{select}"
    model = load_model(spec)
    result = model.trace(ref["x"])
    errors = {}
    for k in reference_layers(ref):
        name = str(ref[f"layer{k}_name"]) if f"layer{k}_name" in ref else result.layers[k].name
        layer = result.layer(name)
        if f"layer{k}_direction" in ref:
            assert layer.direction == str(ref[f"layer{k}_direction"])
        for sig in ("h", "c"):
            if f"layer{k}_{sig}" in ref:
                errors[f"{name}/{sig}"] = assert_close(getattr(layer, sig), ref[f"layer{k}_{sig}"],
                                                       f"{npz.name} {name} {sig}")
        if f"layer{k}_mask" in ref:
            np.testing.assert_array_equal(layer.mask, ref[f"layer{k}_mask"].astype(bool))
    errors["output"] = assert_close(result.output, ref["output"], f"{npz.name} output")
    return errors


def test_the_torch_fixtures_are_committed():
    assert TORCH_FIXTURES, "no torch fixtures under tests/fixtures/torch (scripts/ writes them)"


@pytest.mark.parametrize("npz", TORCH_FIXTURES, ids=lambda p: p.stem)
def test_torch_fixture(npz):
    check_fixture(npz)


# --- bad input ------------------------------------------------------------------------------------
def test_cli_state_dict_without_lstm(tmp_path):
    path = tmp_path / "lin.pt"
    torch.save(torch.nn.Linear(3, 2).state_dict(), path)
    assert_clean_error(run_cli("info", str(path)), "no LSTM weights")


def test_cli_recurrent_weights_of_no_known_cell_are_refused(tmp_path):
    """weight_ih with 5 rows for N = 2 is neither an LSTM's 4N, a GRU's 3N nor an RNN's N (a GRU
    opens: tests/test_gru_torch.py)."""
    path = tmp_path / "odd.pt"
    torch.save({"weight_ih_l0": torch.zeros(5, 3), "weight_hh_l0": torch.zeros(5, 2)}, path)
    assert_clean_error(run_cli("info", str(path)), "neither an LSTM's, a GRU's nor an RNN's")


def test_cli_inconsistent_shapes(tmp_path):
    sd = torch.nn.LSTM(3, 4, num_layers=2).state_dict()
    sd["weight_hh_l1"] = torch.zeros(16, 5)
    path = tmp_path / "bad.pt"
    torch.save(sd, path)
    assert_clean_error(run_cli("info", str(path)), "inconsistent")
    sd = torch.nn.LSTM(3, 4, num_layers=2).state_dict()
    sd["weight_ih_l1"] = torch.zeros(16, 7)
    torch.save(sd, path)
    assert_clean_error(run_cli("info", str(path)), "inconsistent", "layer below")


def test_cli_pickled_module_refused(tmp_path):
    path = tmp_path / "whole.pt"
    torch.save(torch.nn.LSTM(3, 4), path)
    assert_clean_error(run_cli("info", str(path)), "state_dict()")


def test_cli_wrong_kind_of_file(tmp_path):
    path = tmp_path / "text.pt"
    path.write_text("this is not a model\n")
    assert_clean_error(run_cli("info", str(path)), "not a readable PyTorch file")
    st = tmp_path / "text.safetensors"
    st.write_text("nope nope nope nope")
    assert_clean_error(run_cli("info", str(st)), "not a readable .safetensors")


def test_missing_torch_gives_install_hint(tmp_path, monkeypatch):
    path = tmp_path / "m.pt"
    torch.save(torch.nn.LSTM(3, 4).state_dict(), path)
    monkeypatch.setitem(sys.modules, "torch", None)      # `import torch` raises ImportError
    with pytest.raises(ModelFileError, match=r"pip install torch==2\.13\.0"):
        load_model(path)


def test_cli_missing_torch_subprocess(tmp_path):
    path = tmp_path / "m.pt"
    torch.save(torch.nn.LSTM(3, 4).state_dict(), path)
    code = (f"import sys; sys.modules['torch'] = None; sys.argv = ['main.py', 'info', {str(path)!r}]; "
            "import runpy; runpy.run_path('main.py', run_name='__main__')")
    proc = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True)
    assert_clean_error(proc, "pip install torch==2.13.0")
