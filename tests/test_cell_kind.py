"""The LSTM's cell-kind table (engine.cells.cell.LSTM_CELL) agrees with the engine it describes: its
names are the trace's, its orders are orders of the same names, its specs are the written ones,
its badges are shapes the weights report."""

from __future__ import annotations

import numpy as np

from engine.cells.cell import (
    LSTM_CELL,
    STORAGE_GATE_ORDER,
    CellWeights,
    lstm_step,
    lstm_step_extended,
    lstm_step_extended_vjp,
    lstm_step_vjp,
)
from engine.runs.stepper import DirectionRunner


def _weights() -> CellWeights:
    rng = np.random.default_rng(0)
    return CellWeights(rng.normal(size=(2, 12)), rng.normal(size=(3, 12)), rng.normal(size=12))


def test_an_lstm_cell_names_its_kind():
    assert _weights().kind is LSTM_CELL


def test_every_signal_of_the_table_is_a_signal_of_the_trace():
    w = _weights()
    runner = DirectionRunner("k", w, np.ones((1, 4, 2), np.float32))
    runner.run()
    trace = runner.to_trace()
    assert LSTM_CELL.gates == STORAGE_GATE_ORDER
    assert sorted(LSTM_CELL.display_order) == sorted(LSTM_CELL.recorded)
    assert sorted(LSTM_CELL.diagram_gates) == sorted(LSTM_CELL.gates)
    assert set(LSTM_CELL.ratio_gates) < set(LSTM_CELL.gates)
    assert LSTM_CELL.display_gates == tuple(n for n in LSTM_CELL.display_order if n in LSTM_CELL.gates)
    for name in LSTM_CELL.ratio_gates:     # what scales another signal has the gate activation
        assert w.activation_of(name) is w.gate_activation
    for name in LSTM_CELL.recorded:
        assert trace.signal(name).shape == (1, 4, 3), name
        assert LSTM_CELL.signal(name).name == name


def test_the_table_holds_the_written_specs_and_real_badges():
    assert (LSTM_CELL.step, LSTM_CELL.step_extended) == (lstm_step, lstm_step_extended)
    assert (LSTM_CELL.step_vjp, LSTM_CELL.step_extended_vjp) == (lstm_step_vjp, lstm_step_extended_vjp)
    shapes = _weights().shapes()
    assert [b.key for b in LSTM_CELL.badges] == ["kernel", "recurrent_kernel", "bias"]
    assert all(b.key in shapes for b in LSTM_CELL.badges)


def test_labels_and_symbols_read_as_the_window_writes_them():
    assert LSTM_CELL.labels()["c"] == "C  cell state"
    assert LSTM_CELL.symbols()["c"] == "C"
    assert LSTM_CELL.display_order == ("f", "i", "o", "g", "c", "h")


def test_a_run_says_its_cell_kind_at_every_level():
    """The traced layer, its trace and the session each answer ``cell_kind``: what a view reads
    its signals from, per run."""
    from engine import Session, load_model

    model = load_model("demo")
    session = Session(model, np.zeros((1, 5, model.traced_layers[0].input_dim), np.float32))
    assert model.traced_layers[0].cell_kind is LSTM_CELL
    assert session.cell_kind is LSTM_CELL
    assert session.full().cell_kind is LSTM_CELL


def test_the_overview_holds_the_signals_of_its_cell_kind():
    from engine.runs.checkpoints import CheckpointedRun

    w = _weights()
    run = CheckpointedRun("k", w, np.ones((1, 64, 2), np.float32))
    assert tuple(run.overview.lo) == LSTM_CELL.recorded
    assert tuple(run.overview.hi) == LSTM_CELL.recorded
