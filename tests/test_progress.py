"""Long command-line work shows progress on stderr when it is a terminal (positions done of
the total, rate, time left) and says in one line what it wrote; a pipe or a file gets
neither, so scripts and logs read exactly what they read before."""

from __future__ import annotations

import io

import numpy as np
import pytest

import engine.system.progress as progress
from engine.cli.commands import run_trace
from engine.cli.grad_cli import run_grad


class Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


@pytest.fixture
def eager(monkeypatch):
    """Draw at every block (a real run waits a second and redraws twice a second)."""
    monkeypatch.setattr(progress, "SHOW_AFTER_S", 0.0)
    monkeypatch.setattr(progress, "REDRAW_S", 0.0)


def _input(tmp_path, steps=600):
    path = tmp_path / "x.npy"
    np.save(path, np.random.default_rng(0).normal(size=(1, steps, 1)).astype(np.float32))
    return str(path)


@pytest.mark.parametrize("budget", [None, "60K"])      # in memory, and checkpointed
def test_trace_on_a_terminal_shows_progress_and_what_it_wrote(budget, eager, tmp_path, monkeypatch):
    if budget:
        monkeypatch.setenv("LSTM_SCOPE_MEMORY_BUDGET", budget)
    err = Terminal()
    out = tmp_path / "t.npz"
    assert run_trace("demo", _input(tmp_path), str(out), err=err, steps="100:500") == 0
    with np.load(out) as f:
        assert ("checkpointed" in str(f["meta"])) == bool(budget)
    text = err.getvalue()
    lines = [line.rstrip() for line in text.replace("\r", "\n").splitlines() if line.strip()]
    shown = [line for line in lines if " positions, " in line]
    assert shown and shown[-1].startswith("trace")
    assert "/s, " in shown[-1] and shown[-1].endswith(" left")
    assert lines[-1].startswith(f"wrote {out} (") and "input positions 100:500 of 600" in lines[-1]


def test_grad_on_a_terminal_shows_progress_and_what_it_wrote(eager, tmp_path):
    err = Terminal()
    out = tmp_path / "g.npz"
    assert run_grad("demo", _input(tmp_path), str(out), target="h[0, last, 0]", err=err) == 0
    lines = [line.rstrip() for line in err.getvalue().replace("\r", "\n").splitlines()
             if line.strip()]
    assert any(line.startswith("grad: ") and " positions, " in line for line in lines)
    assert lines[-1].startswith(f"wrote {out}: d ")


def test_a_pipe_gets_no_progress_and_no_closing_line(eager, tmp_path):
    err = io.StringIO()
    assert run_trace("demo", _input(tmp_path), str(tmp_path / "t.npz"), err=err) == 0
    assert err.getvalue() == ""


def test_the_line_counts_positions_rate_and_time_left():
    p = progress.Progress(Terminal(), "trace", 200_000)
    p.done = 120_000
    assert p.line(60.0) == "trace: 120,000 of 200,000 positions, 2,000/s, 40 s left"
    p.done = 20_000
    assert p.line(100.0) == "trace: 20,000 of 200,000 positions, 200/s, 15 min 00 s left"
