"""The command line on a GRU and a simple RNN: ``info`` names the cell, ``trace --out`` writes
the arrays of docs/architecture.md, "GRU and simple RNN" (no c, no c0), ``--state-out`` writes
h0 alone and ``--initial-state`` takes it back; a c0 for a GRU is refused in one line."""

from __future__ import annotations

import numpy as np

from tests.helpers import FIXTURES, assert_clean_error, assert_close, read_npz, run_cli

MODEL = FIXTURES / "gru" / "torch_gru_2layer_bidirectional.pt"
REF = FIXTURES / "gru" / "torch_gru_2layer_bidirectional.npz"


def test_info_names_the_cell_and_its_shapes():
    proc = run_cli("info", str(MODEL))
    assert proc.returncode == 0, proc.stderr
    assert "torch.nn.GRU layer" in proc.stdout
    assert "[1] enc.rnn.l0_reverse   backward GRU  units=5     kernel=(3, 15) recurrent=(5, 15) bias=(2, 15)" \
        in proc.stdout
    rnn = run_cli("info", str(FIXTURES / "gru" / "torch_rnn_2layer_bidirectional.pt"))
    assert "RNN  units=5     kernel=(3, 5) recurrent=(5, 5) bias=(5,)" in rnn.stdout
    assert "rec_act" not in rnn.stdout.split("traced layers:")[1]


def test_trace_writes_the_gru_arrays_and_carries_h0_alone(tmp_path):
    ref = read_npz(REF)
    x = tmp_path / "x.npy"
    np.save(x, ref["x"])
    out, state = tmp_path / "t.npz", tmp_path / "s.npz"
    proc = run_cli("trace", str(MODEL), "--input", str(x), "--layer", "1", "--out", str(out),
                   "--state-out", str(state))
    assert proc.returncode == 0, proc.stderr
    tr = read_npz(out)
    b, t, n = ref["layer1_h"].shape
    assert {k: tr[k].shape for k in ("u", "r", "n", "h", "zx", "zh", "zb", "h0", "mask", "x", "output")} == {
        "u": (b, t, n), "r": (b, t, n), "n": (b, t, n), "h": (b, t, n), "zx": (b, t, 3, n),
        "zh": (b, t, 3, n), "zb": (3, n), "h0": (b, n), "mask": (b, t), "x": (b, t, 3),
        "output": ref["output"].shape}
    assert not {"c", "c0", "i", "f", "g", "o"} & set(tr)
    assert_close(tr["h"], ref["layer1_h"], "h")
    assert_close(tr["output"], ref["output"], "output")
    states = read_npz(state)
    assert set(states) == {"h0", *(f"enc.rnn.{n}/h0" for n in ("l0", "l0_reverse", "l1", "l1_reverse"))}
    again = tmp_path / "t2.npz"
    proc = run_cli("trace", str(MODEL), "--input", str(x), "--out", str(again), "--initial-state", str(state))
    assert proc.returncode == 0, proc.stderr
    assert_close(read_npz(again)["h0"], states["enc.rnn.l0/h0"], "h0 taken back")


def test_a_cell_state_for_a_gru_is_refused_in_one_line(tmp_path):
    ref = read_npz(REF)
    x, state = tmp_path / "x.npy", tmp_path / "s.npz"
    np.save(x, ref["x"])
    np.savez(state, h0=np.zeros((2, 5), np.float32), c0=np.zeros((2, 5), np.float32))
    proc = run_cli("trace", str(MODEL), "--input", str(x), "--out", str(tmp_path / "t.npz"),
                   "--initial-state", str(state))
    assert_clean_error(proc, "enc.rnn.l0", "GRU", "no c0")


def test_grad_writes_no_cell_gradients_and_refuses_a_c_target(tmp_path):
    ref = read_npz(REF)
    x = tmp_path / "x.npy"
    np.save(x, ref["x"])
    out = tmp_path / "g.npz"
    proc = run_cli("grad", str(MODEL), "--input", str(x), "--target", "sumsq(h[:, last, :])",
                   "--out", str(out))
    assert proc.returncode == 0, proc.stderr
    assert set(read_npz(out)) == {"dx", "dh", "dh0", "dx_model", "enc.rnn.l0/dh0", "meta"}
    proc = run_cli("grad", str(MODEL), "--input", str(x), "--target", "sumsq(c[:, last, :])",
                   "--out", str(tmp_path / "c.npz"))
    assert_clean_error(proc, "enc.rnn.l0", "GRU", "no cell state c")


def test_signal_help_names_each_kinds_signals(monkeypatch):
    """``export --help`` said ``--signal {c,h,f,i,o,g}``, the LSTM's alone, while a GRU's
    layer takes h u r n: the help lists every kind's (the first of each is its default)."""
    monkeypatch.setenv("COLUMNS", "400")      # one line per option: argparse wraps no words
    proc = run_cli("export", "--help")
    assert proc.returncode == 0, proc.stderr
    line = next(text for text in proc.stdout.splitlines() if text.strip().startswith("--signal"))
    assert "{c,h,f,i,o,g}" not in proc.stdout
    for kind in ("LSTM c h f i o g", "GRU h u r n", "RNN h"):
        assert kind in line, line


def test_a_gru_refuses_an_lstm_signal_naming_its_own(tmp_path):
    x = tmp_path / "x.npy"
    np.save(x, read_npz(REF)["x"])
    proc = run_cli("export", str(MODEL), "--input", str(x), "--view", "unrolled",
                   "--signal", "c", "--out", str(tmp_path / "u.png"))
    assert_clean_error(proc, "--signal c", "h, u, r, n")
