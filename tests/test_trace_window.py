"""``trace --steps A:B`` and traces bigger than the memory budget: a window's arrays are the
whole run's cut to it (h0, c0 the state just before it), and a run over the budget is
checkpointed and streamed to the same bits, or refused with a line saying what would work."""

from __future__ import annotations

import io
import json
from pathlib import Path

import numpy as np
import pytest

from engine.cli.commands import run_trace
from engine.system.budget import BudgetError

KERAS3 = Path(__file__).parent / "fixtures" / "keras3"


def _input(tmp_path, steps=700, seed=0, gaps=False):
    x = np.random.default_rng(seed).normal(size=(2, steps, 3)).astype(np.float32)
    if gaps:                        # masked steps (Masking's value 0) inside the run
        x[0, 100:140] = 0.0
        x[1, 500:520] = 0.0
    path = tmp_path / f"x{seed}.npy"
    np.save(path, x)
    return str(path)


def _trace(tmp_path, model, x, name, **kw):
    out = tmp_path / f"{name}.npz"
    assert run_trace(str(KERAS3 / model), x, str(out), err=io.StringIO(),
                     options={"allow_length": True}, **kw) == 0
    with np.load(out) as f:
        return {k: f[k] for k in f.files}


def _same(a, b, what):
    assert a.shape == b.shape, what
    assert np.array_equal(a, b, equal_nan=True), what


@pytest.mark.parametrize("model", ["lstm_dense_activation_dropout.keras", "masking_go_backwards.keras",
                                   "go_backwards_seq.keras"])
def test_a_window_is_the_whole_run_cut_in_memory_and_streamed(model, tmp_path, monkeypatch):
    x = _input(tmp_path, gaps="masking" in model)
    full = _trace(tmp_path, model, x, "full")
    steps = full["h"].shape[1]
    backward = json.loads(str(full["meta"]))["direction"] == "backward"
    for a, b in [(0, steps), (250, 531), (600, steps)]:
        window = _trace(tmp_path, model, x, f"w{a}", steps=f"{a}:{b}")
        monkeypatch.setenv("LSTM_SCOPE_MEMORY_BUDGET", "40K")    # the whole trace does not fit
        streamed = _trace(tmp_path, model, x, f"s{a}", steps=f"{a}:{b}")
        monkeypatch.delenv("LSTM_SCOPE_MEMORY_BUDGET")
        assert json.loads(str(streamed["meta"]))["checkpointed"] is True
        assert json.loads(str(window["meta"]))["steps"] == [a, b]
        first = b - 1 if backward else a
        before = first + 1 if backward else first - 1
        for name in ("i", "f", "g", "o", "c", "h", "zx", "zh", "x", "mask"):
            _same(window[name], full[name][:, a:b], f"{name} {a}:{b}")
            _same(streamed[name], window[name], f"streamed {name} {a}:{b}")
        for name in ("h0", "c0"):
            want = full[name] if before in (-1, steps) else full[name[0]][:, before]
            _same(window[name], want, f"{name} {a}:{b}")
            _same(streamed[name], want, f"streamed {name} {a}:{b}")
        out = full["output"]
        if out.ndim == 3:
            cut = out[:, steps - b:steps - a] if backward else out[:, a:b]
        else:
            cut = out                     # a last-step output is the run's
        _same(window["output"], cut, f"output {a}:{b}")
        np.testing.assert_allclose(streamed["output"], cut, rtol=1e-5, atol=1e-5)


def test_a_model_whose_output_needs_whole_runs_is_refused_with_what_works(tmp_path, monkeypatch):
    x = _input(tmp_path)
    out = tmp_path / "t.npz"
    monkeypatch.setenv("LSTM_SCOPE_MEMORY_BUDGET", "40K")
    with pytest.raises(BudgetError, match="at most about .* steps at a time"):
        run_trace(str(KERAS3 / "bidirectional_concat.keras"), x, str(out), err=io.StringIO(),
                  options={"allow_length": True})
    assert not out.exists()
    # a plain LSTM on its own input streams, its output being its own
    assert run_trace(str(KERAS3 / "go_backwards_seq.keras"), x, str(out), layer_input=True,
                     err=io.StringIO(), steps="10:300", options={"allow_length": True}) == 0
    with np.load(out) as f:
        assert f["h"].shape == (2, 290, 4)
        assert json.loads(str(f["meta"]))["checkpointed"] is True
        np.testing.assert_array_equal(f["output"], f["h"][:, ::-1])


@pytest.mark.parametrize("text", ["5:5", "800:900", "1:2:3", "a:b", "7"])
def test_bad_ranges_are_one_line(text, tmp_path):
    x = _input(tmp_path, steps=50)
    with pytest.raises(Exception) as info:
        run_trace(str(KERAS3 / "lstm_last.keras"), x, str(tmp_path / "t.npz"),
                  err=io.StringIO(), steps=text, options={"allow_length": True})
    assert type(info.value).__name__ in ("ScopeError", "BudgetError")
    assert "\n" not in str(info.value)


def test_grad_over_the_budget_goes_through_the_checkpoints(tmp_path, monkeypatch):
    from engine.cli.grad_cli import run_grad
    x = _input(tmp_path)
    model = str(KERAS3 / "masking_go_backwards.keras")
    opts = {"allow_length": True}
    run_grad(model, x, str(tmp_path / "mem.npz"), target="sumsq(h[:, last, :])",
             err=io.StringIO(), options=opts)
    monkeypatch.setenv("LSTM_SCOPE_MEMORY_BUDGET", "300K")   # the trace does not fit, dh dc dx do
    err = io.StringIO()
    run_grad(model, x, str(tmp_path / "ck.npz"), target="sumsq(h[:, last, :])", err=err,
             options=opts)
    assert "checkpointed run" in err.getvalue()
    with np.load(tmp_path / "mem.npz") as m, np.load(tmp_path / "ck.npz") as c:
        for name in ("dx", "dh", "dc", "dh0", "dc0"):
            np.testing.assert_allclose(c[name], m[name], rtol=1e-5, atol=1e-5, err_msg=name)
    with pytest.raises(Exception, match="model output"):
        run_grad(model, x, str(tmp_path / "o.npz"), target="sumsq(output)", err=io.StringIO(),
                 options=opts)
    assert not (tmp_path / "o.npz").exists()
