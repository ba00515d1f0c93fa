"""A run over the memory budget streams ``trace --steps A:B`` for every kind of cell, not only
the LSTM: a GRU (the counter-gru demo, through the command line), an sLSTM and an mLSTM (a
checkpointed session written block by block) write the arrays of the in-memory window, with
their kind's names and shapes, bit for bit."""

from __future__ import annotations

import io
import json

import numpy as np

from engine.cli.commands import run_trace
from engine.output.trace_window import cut_output, cut_trace, output_reversed, output_tail, write_streamed
from engine.runs import checkpoints
from engine.runs.stepper import XW_BLOCK
from engine.session import Session
from tests.test_mlstm import mlstm_model
from tests.test_mlstm import weights as mlstm_weights
from tests.test_slstm import slstm_model
from tests.test_slstm import weights as slstm_weights


def _load(path) -> dict[str, np.ndarray]:
    with np.load(path) as f:
        return {k: f[k] for k in f.files}


def _same_arrays(streamed: dict[str, np.ndarray], whole: dict[str, np.ndarray]) -> None:
    """The cell's arrays bit for bit; the model's output (the layers after the cell applied a
    block at a time, so a Dense's sums may round differently) to float32 precision."""
    assert sorted(streamed) == sorted(whole)
    for name in whole:
        if name != "meta":
            assert streamed[name].shape == whole[name].shape, name
            assert streamed[name].dtype == whole[name].dtype, name
            if name == "output":
                np.testing.assert_allclose(streamed[name], whole[name], rtol=1e-5, atol=1e-5)
            else:
                assert np.array_equal(streamed[name], whole[name], equal_nan=True), name


def test_a_gru_demo_streams_its_window_as_the_in_memory_trace(tmp_path, monkeypatch):
    ids = np.random.default_rng(0).integers(1, 3, size=(2, 700)).astype(np.int64)
    xpath = tmp_path / "ids.npy"
    np.save(xpath, ids)

    def trace(name: str) -> dict[str, np.ndarray]:
        out = tmp_path / f"{name}.npz"
        assert run_trace("demo:counter-gru", str(xpath), str(out), err=io.StringIO(),
                         steps="250:531") == 0
        return _load(out)

    whole = trace("mem")
    monkeypatch.setenv("LSTM_SCOPE_MEMORY_BUDGET", "40K")
    monkeypatch.setattr(checkpoints, "CHUNK_BYTES", 0)     # chunks of XW_BLOCK: 250:531 is 3 blocks
    streamed = trace("streamed")
    monkeypatch.delenv("LSTM_SCOPE_MEMORY_BUDGET")
    assert json.loads(str(streamed["meta"])).get("checkpointed") is True
    assert {"u", "r", "n", "h", "zx", "zh", "zb", "h0"} <= set(whole)
    assert "c" not in whole and "c0" not in whole and "i" not in whole   # a GRU carries h alone
    _same_arrays(streamed, whole)


def _streamed_against_in_memory(tmp_path, model, x: np.ndarray, a: int, b: int) -> dict:
    """The window a:b written by ``write_streamed`` from a checkpointed session and by the
    in-memory trace's cut, both as ``trace`` writes them."""
    result = model.trace(x)
    whole = cut_trace(result, result.layer(0), model, 0, False, a, b)
    session = Session(model, x, checkpoint_above=0, checkpoint_interval=XW_BLOCK)
    assert session.checkpointed and b - a > XW_BLOCK           # written in several blocks
    tail = output_tail(model, 0, False)
    extra = {} if tail is not None else {"output": np.ascontiguousarray(cut_output(
        result.output, x.shape[1], a, b, output_reversed(model, 0, False)))}
    out = tmp_path / "streamed.npz"
    write_streamed(str(out), session, a, b, tail, extra, inputs=[])
    streamed = _load(out)
    _same_arrays(streamed, whole)
    return streamed


def test_an_slstm_streams_c_nrm_stab_as_the_in_memory_trace(tmp_path):
    w = slstm_weights()
    x = np.random.default_rng(1).normal(size=(2, 600, w.input_dim)).astype(np.float32)
    got = _streamed_against_in_memory(tmp_path, slstm_model(w), x, 130, 470)
    assert got["nrm"].shape == got["stab"].shape == (2, 340, w.units)
    assert got["c0"].shape == (2, 3 * w.units)


def test_an_mlstm_streams_its_matrix_memory_as_the_in_memory_trace(tmp_path):
    w = mlstm_weights()
    x = np.random.default_rng(2).normal(size=(2, 600, w.input_dim)).astype(np.float32)
    got = _streamed_against_in_memory(tmp_path, mlstm_model(w), x, 130, 470)
    assert got["C"].shape[:2] == (2, 340)
