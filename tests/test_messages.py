"""Messages that name the true cause, in the user's terms: each refusal below once named the
wrong thing (the wrong tensor, the wrong file, a word from deep inside) or let a bad value
through silently."""

from __future__ import annotations

import io
import json
import re
import shutil
from pathlib import Path

import h5py
import numpy as np
import pytest
import torch

from engine import ScopeError, Session, load_model
from engine.debugging.debugger import Debugger
from engine.debugging.session_file import open_session, save_session
from engine.system.budget import BudgetError
from tests.helpers import FIXTURES, rezip
from tests.test_hostile_inputs import run

H5 = FIXTURES / "keras2" / "lstm_plain.h5"
H5_X = FIXTURES / "keras2" / "lstm_plain.npz"
KERAS3 = FIXTURES / "keras3" / "lstm_last.keras"


def refused(capsys, *args) -> str:
    """Exit 2 with one error line (warnings aside), returned."""
    code, err = run(capsys, *args)
    lines = [line for line in err.strip().splitlines() if not line.startswith("warning:")]
    assert code == 2 and len(lines) == 1 and "Traceback" not in err, err
    return lines[0]


# --- a raw pickle is not a PyTorch file we will unpickle ----------------------------------------
def test_a_raw_pickle_pt_says_it_is_a_pickle_and_what_to_do(tmp_path, capsys):
    import pickle
    path = tmp_path / "raw.pt"
    path.write_bytes(pickle.dumps({"weight_ih_l0": np.zeros((8, 3), np.float32)}))
    line = refused(capsys, "info", path)
    assert "raw.pt" in line and "pickle" in line and "will not unpickle" in line, line
    assert "state_dict" in line and "from_torch" in line, line
    assert "weights_only" not in line, line


# --- grad --target names what it refused -----------------------------------------------------------
def test_a_refused_target_names_what_was_refused(tmp_path, capsys):
    line = refused(capsys, "grad", "demo:small", "--target",
                   "__import__('os').system('echo hi')", "--out", tmp_path / "g.npz")
    assert "__import__('os').system" in line and "'this'" not in line, line
    line = refused(capsys, "grad", "demo:small", "--target", "this.that", "--out", tmp_path / "g.npz")
    assert "'this.that' is not a target" in line and "Attribute" not in line, line
    # the other expression languages name what they refused too
    from engine.analyses.features import Feature
    from engine.debugging.expr import Expr, ExprError
    with pytest.raises(ScopeError, match=r"'__import__\('os'\).system' is not a function"):
        Feature("__import__('os').system('x')")
    with pytest.raises(ExprError, match=r"'__import__\('os'\).system' cannot be called"):
        Expr("__import__('os').system('x')")


# --- a session's input with no steps, or all NaN ------------------------------------------------
def _session_with_input(tmp_path: Path, model_spec: str, x: np.ndarray, saved: np.ndarray) -> Path:
    path = tmp_path / "s.lstmscope"
    save_session(path, Debugger(Session(load_model(model_spec), x)))
    buf = io.BytesIO()
    np.save(buf, saved)
    path.write_bytes(rezip(path.read_bytes(), lambda m: m.__setitem__("input.npy", buf.getvalue())))
    return path


@pytest.mark.parametrize("shape", [(1, 0, 2), (0, 5, 2)])
def test_a_session_input_with_no_steps_says_so(tmp_path, shape):
    path = _session_with_input(tmp_path, "demo:small", np.zeros((1, 5, 2), np.float32),
                               np.zeros(shape, np.float32))
    with pytest.raises(ScopeError, match="the session's input has 0 (steps|samples)") as info:
        open_session(path)
    assert "reshape" not in str(info.value)


def test_a_session_input_all_nan_says_so(tmp_path):
    path = _session_with_input(tmp_path, "demo:small", np.zeros((1, 5, 2), np.float32),
                               np.full((1, 5, 2), np.nan, np.float32))
    session, _, _ = open_session(path)
    assert any("the session's input is all NaN" in w for w in session.warnings), session.warnings
    path = _session_with_input(tmp_path, "demo:counter", np.ones((1, 5), np.int64),
                               np.full((1, 5), np.nan, np.float32))
    with pytest.raises(ScopeError, match="the session's input is all NaN"):
        open_session(path)


# --- an .npz of several arrays and no --key -------------------------------------------------------
def test_an_ambiguous_npz_is_refused_listing_its_arrays(tmp_path, capsys):
    line = refused(capsys, "trace", H5, "--input", H5_X, "--out", tmp_path / "t.npz")
    assert "--key" in line and "x (2, 8, 3)" in line and "output (2, 8, 4)" in line, line
    torch_x = FIXTURES / "torch" / "lstm_1layer.npz"     # its first array is a string
    line = refused(capsys, "trace", FIXTURES / "torch" / "lstm_1layer.pt", "--input", torch_x,
                   "--out", tmp_path / "t.npz")
    assert "--key" in line and "dtype" not in line and "x (2, 7, 3)" in line, line


def test_an_npz_array_picked_by_name_is_said(tmp_path, capsys):
    x = np.load(FIXTURES / "onnx" / "forward.npz")["x"]
    np.savez(tmp_path / "in.npz", X=x, other=np.zeros(3, np.float32))
    code, err = run(capsys, "trace", FIXTURES / "onnx" / "forward.onnx", "--input",
                    tmp_path / "in.npz", "--out", tmp_path / "t.npz")
    assert code == 0, err
    assert "warning: took array 'X'" in err and "in.npz" in err, err
    np.savez(tmp_path / "one.npz", anything=x)          # one array: no choice was made
    code, err = run(capsys, "trace", FIXTURES / "onnx" / "forward.onnx", "--input",
                    tmp_path / "one.npz", "--out", tmp_path / "t.npz")
    assert code == 0 and "took array" not in err, err


# --- loader errors blame the tensor that is wrong -----------------------------------------------
def test_a_missing_keras_kernel_is_named(tmp_path, capsys):
    path = tmp_path / "m.h5"
    shutil.copy(H5, path)
    with h5py.File(path, "r+") as h5:
        group = h5["model_weights/lstm"]
        names = [n.decode() if isinstance(n, bytes) else str(n) for n in group.attrs["weight_names"]]
        group.attrs["weight_names"] = [n for n in names if "/kernel" not in n]
    line = refused(capsys, "info", path)
    assert "kernel is missing" in line and "recurrent kernel has shape" not in line, line


def test_a_wrong_weight_hh_is_explained_by_itself(tmp_path, capsys):
    state = dict(torch.load(FIXTURES / "torch" / "lstm_1layer.pt", weights_only=True))
    rows, cols = state["weight_hh_l0"].shape
    state["weight_hh_l0"] = torch.zeros(rows, cols + 1)
    torch.save(state, tmp_path / "m.pt")
    line = refused(capsys, "info", tmp_path / "m.pt")
    assert f"weight_hh ({rows}, {cols + 1})" in line and f"{cols} columns" in line, line
    assert "weight_ih" not in line, line
    state["weight_hh_l0"] = torch.zeros(rows + 4, cols)
    torch.save(state, tmp_path / "m.pt")
    line = refused(capsys, "info", tmp_path / "m.pt")
    assert f"weight_ih has {rows} rows" in line and f"weight_hh has {rows + 4}" in line, line


def test_a_kernel_that_disagrees_with_its_config_blames_the_model(tmp_path, capsys):
    def wider(members):
        config = json.loads(members["config.json"])
        config["config"]["layers"][0]["config"]["batch_shape"] = [None, 8, 5]
        members["config.json"] = json.dumps(config).encode()
    path = tmp_path / "m.keras"
    path.write_bytes(rezip(KERAS3.read_bytes(), wider))
    np.save(tmp_path / "x5.npy", np.zeros((1, 8, 5), np.float32))
    line = refused(capsys, "trace", path, "--input", tmp_path / "x5.npy", "--out", tmp_path / "t.npz")
    assert "m.keras" in line and "x5.npy" not in line, line
    assert re.search(r"kernel \(3, \d+\) reads 3 features", line) and "declares 5" in line, line


# --- limits that say what they accept -------------------------------------------------------------
def test_width_names_what_can_be_drawn():
    from PySide6.QtCore import QSize

    from gui.export.figure import MAX_PNG_PIXELS, Figure, max_width
    logical = QSize(1280, 714)
    widest = max_width(logical)
    assert widest * round(714 * widest / 1280) <= MAX_PNG_PIXELS
    assert (widest + 8) * round(714 * (widest + 8) / 1280) > MAX_PNG_PIXELS
    Figure._check_width(widest, logical)
    with pytest.raises(ScopeError, match=f"at most {widest:,} px wide"):
        Figure._check_width(20000, logical)


@pytest.mark.parametrize("text", ["lots", "-5G", "0", "5Q", "nan"])
def test_a_budget_that_is_not_a_size_is_refused(capsys, monkeypatch, text):
    monkeypatch.setenv("LSTM_SCOPE_MEMORY_BUDGET", text)
    line = refused(capsys, "info", "demo:small")
    assert f"LSTM_SCOPE_MEMORY_BUDGET={text}" in line and "512M" in line, line


@pytest.mark.parametrize(("field", "value", "needle"), [
    ("version", 0, "version"), ("version", -1, "version"),
    ("trust", "yes", "trust"), ("trust", 1, "trust")])
def test_session_version_and_trust_are_checked(tmp_path, field, value, needle):
    path = tmp_path / "s.lstmscope"
    save_session(path, Debugger(Session(load_model("demo:small"), np.zeros((1, 5, 2), np.float32))))

    def edit(members):
        meta = json.loads(members["session.json"])
        if field == "version":
            meta["version"] = value
        else:
            meta["model"]["options"]["trust"] = value
        members["session.json"] = json.dumps(meta).encode()
    path.write_bytes(rezip(path.read_bytes(), edit))
    with pytest.raises(ScopeError, match=needle):
        open_session(path)


def test_the_budget_counts_what_conversion_allocates(tmp_path, monkeypatch):
    from engine.system.inputs import read_input
    path = tmp_path / "x.npy"
    np.save(path, np.zeros((1, 300_000, 2), np.uint8))      # 600 KB, 2.4 MB as float32
    monkeypatch.setenv("LSTM_SCOPE_MEMORY_BUDGET", "1M")
    with pytest.raises(BudgetError, match="float32"):
        read_input(path)


def test_a_fifo_input_is_named_in_good_english(tmp_path, capsys):
    import os
    fifo = tmp_path / "x.npy"
    os.mkfifo(fifo)
    line = refused(capsys, "trace", H5, "--input", fifo, "--out", tmp_path / "t.npz")
    assert "give an input file saved on disk" in line, line
