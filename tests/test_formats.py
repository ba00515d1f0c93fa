"""Formats are recognised by content, not suffix; ``#prefix`` works for every PyTorch form;
TorchScript archives are read without running them; whole pickled modules are refused."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from engine.errors import ModelFileError
from engine.loaders import load_model
from engine.loaders.sniff import sniff
from tests.helpers import assert_clean_error, assert_close, run_cli, save_scripted, torch_layer_references


class Net(torch.nn.Module):
    """A conv in front of an LSTM, and a second LSTM (a cell) after it."""

    def __init__(self) -> None:
        super().__init__()
        self.conv = torch.nn.Conv1d(3, 4, 3)
        self.lstm = torch.nn.LSTM(4, 5, batch_first=True)
        self.cell = torch.nn.LSTMCell(5, 2)

    def forward(self, x):
        y, _ = self.lstm(self.conv(x.transpose(1, 2)).transpose(1, 2))
        return y


@pytest.fixture(scope="module")
def net():
    torch.manual_seed(0)
    return Net().eval()


def _check_lstm(model, net, x):
    tr = model.trace(x).layer(0)
    ref = torch_layer_references(net.lstm, x)[0]
    assert_close(tr.h, ref["h"], "h")
    assert_close(tr.c, ref["c"], "c")


@pytest.mark.parametrize("legacy", [False, True])
def test_suffixless_checkpoint_opens_with_prefix(tmp_path, net, legacy):
    path = tmp_path / "checkpoint"
    torch.save({"model_state_dict": net.state_dict(), "epoch": 3}, path,
               _use_new_zipfile_serialization=not legacy)
    assert sniff(path) == "torch"
    x = np.random.default_rng(0).standard_normal((2, 6, 4)).astype(np.float32)
    model = load_model(path)
    assert model.layer_names == ["lstm.l0"]
    assert any("conv" in w and "not run" in w for w in model.warnings)
    _check_lstm(model, net, x)
    assert load_model(f"{path}#cell").layer_names == ["cell"]


def test_wrong_suffix_goes_by_content(tmp_path, net):
    path = tmp_path / "weights.h5"            # really a torch.save zip
    torch.save(net.state_dict(), path)
    assert load_model(f"{path}#lstm").format == "pytorch"


def test_torchscript_read_without_running(tmp_path, net, monkeypatch):
    path = tmp_path / "scripted.jit"
    save_scripted(net, path)
    assert sniff(path) == "torchscript"
    monkeypatch.setattr(torch.jit, "load", lambda *a, **k: pytest.fail("ran the archive"))
    model = load_model(path)
    assert model.format == "torchscript"
    x = np.random.default_rng(1).standard_normal((1, 5, 4)).astype(np.float32)
    _check_lstm(model, net, x)
    assert load_model(f"{path}#cell").layer_names == ["cell"]
    assert any("conv" in w and "--trust" in w for w in model.warnings)


def test_whole_pickled_module_is_refused(tmp_path, net):
    path = tmp_path / "whole.pt"
    torch.save(net, path)
    assert_clean_error(run_cli("info", str(path)), "engine.from_torch")


def test_other_formats_by_content(tmp_path):
    from safetensors.numpy import save_file
    path = tmp_path / "blob"
    save_file({"weight_ih_l0": np.zeros((8, 3), np.float32)}, str(path))
    assert sniff(path) == "safetensors"
    junk = tmp_path / "junk"
    junk.write_bytes(b"hello, this is not a model at all")
    assert sniff(junk) is None
    with pytest.raises(ModelFileError, match="not a model format"):
        load_model(junk)


@pytest.mark.parametrize("legacy", [False, True])
def test_training_checkpoint_bookkeeping_is_read_not_run(tmp_path, net, legacy):
    """A training script's checkpoint (zip or legacy pickle): the script's argparse arguments,
    numpy numbers, a numpy array, a path and the optimizer beside a DataParallel state dict
    under a key of its own. Those globals build no code of the file, so the weights open; a
    pickled module beside them stays refused, named."""
    import argparse
    from pathlib import PurePosixPath
    path = tmp_path / "ckpt"
    state = {f"module.{k}": v for k, v in net.state_dict().items()}
    opt = torch.optim.Adam(net.parameters())
    torch.save({"ema": state, "optimizer": opt.state_dict(), "best_loss": np.float64(0.25),
                "seed": np.int64(3), "history": np.zeros(4, np.float32),
                "args": argparse.Namespace(lr=0.1, hidden=5), "out": PurePosixPath("runs/a")}, path,
               _use_new_zipfile_serialization=not legacy)
    model = load_model(path)
    assert model.layer_names == ["module.lstm.l0"]
    x = np.random.default_rng(2).standard_normal((2, 6, 4)).astype(np.float32)
    _check_lstm(model, net, x)
    torch.save({"state_dict": state, "model": net}, tmp_path / "with_module",
               _use_new_zipfile_serialization=not legacy)
    assert_clean_error(run_cli("info", str(tmp_path / "with_module")), "Net", "engine.from_torch")
