"""What the debugger and the views' engine numbers give on a GRU and a simple RNN: watches and
breakpoints on u r n h and their pre-activations, the built-in breakpoints for the cell's own
gates and states, one cell taken apart (its x·W / h·U / b split and z), per-unit statistics,
and the gradient views' carry product (∏u for a GRU)."""

from __future__ import annotations

import numpy as np
import pytest

from engine import Session, load_model
from engine.analyses.analysis import cell_breakdown, recurrent_blocks, unit_stats
from engine.cells.gru_cell import GRU_CELL
from engine.cells.rnn_cell import RNN_CELL
from engine.debugging.debugger import Breakpoint, Debugger
from engine.debugging.expr import ExprError
from engine.gradients.grad_views import forget_product, forget_record
from tests.helpers import FIXTURES, assert_close, read_npz

GRU = FIXTURES / "gru"


def _session(case: str, suffix: str = ".keras") -> Session:
    return Session(load_model(GRU / f"{case}{suffix}"), read_npz(GRU / f"{case}.npz")["x"])


def test_watches_and_breakpoints_read_the_grus_signals():
    s = _session("keras_gru_reset_after")
    d = Debugger(s)
    d.add_watch("max(u)")
    d.add_watch("z_n[0]")
    s.step()
    s.step()
    full = s.full()
    u_max, z_n = d.watch_values()
    assert_close(u_max, full.signal("u")[:, 1].max(axis=-1), "max(u)")
    assert_close(z_n, full.signal("z_n")[:, 1, 0], "z_n[0]")
    with pytest.raises(ExprError, match="unknown signal 'f'"):
        d.add_watch("max(f)")
    r = full.signal("r")
    level = float(np.nanmax(r[:, 4:])) - 1e-4           # met first at position 4 or later
    expect = next(p for p in range(2, r.shape[1]) if np.nanmax(r[:, p]) > level)
    d.add_breakpoint(f"any(r > {level!r})")
    hit = d.run_to_hit()
    assert hit.hit and hit.position == expect


def test_built_in_breakpoints_follow_the_cell_kind():
    assert Breakpoint.nan_inf(GRU_CELL).expression == "any(isnan(h)) or any(isinf(h))"
    assert "saturated(u)" in Breakpoint.saturates(cell=GRU_CELL).expression
    assert "saturated(f)" in Breakpoint.saturates().expression          # an LSTM's, as before
    with pytest.raises(Exception, match="no gates"):
        Breakpoint.saturates(cell=RNN_CELL)


@pytest.mark.parametrize("case", ["keras_gru_reset_after", "keras_gru_reset_before"])
def test_one_gru_cell_taken_apart(case):
    s = _session(case)
    tr = s.full()
    w = tr.weights
    b = cell_breakdown(tr, 1, 2, 3)
    assert set(b.gates) == {"u", "r", "n"} and np.isnan(b.c) and np.isnan(b.c_prev)
    for g in ("u", "r", "n"):
        assert b.z[g] == pytest.approx(float(tr.signal(f"z_{g}")[1, 3, 2]), rel=1e-6, abs=1e-6)
        assert b.zx[g] == pytest.approx(float(tr.zx[1, 3, "urn".index(g), 2]))
    h_prev = tr.state_before(3)[0][1]
    if w.reset_after:                 # zh_n = h_{t-1}·U_n + b_h: the fan-in sums to it less b_h
        assert b.fan_in["n"].sum() == pytest.approx(b.zh["n"] - w.recurrent_bias[10 + 2], abs=1e-5)
    else:                             # zh_n = (r·h_{t-1})·U_n
        assert b.fan_in["n"].sum() == pytest.approx(b.zh["n"], abs=1e-5)
    assert b.h == pytest.approx(b.gates["u"] * h_prev[2] + (1 - b.gates["u"]) * b.gates["n"], abs=1e-6)
    assert set(recurrent_blocks(tr)) == {"u", "r", "n"}


def test_unit_statistics_and_the_carry_product_of_a_gru():
    s = _session("keras_gru_reset_after")
    tr = s.full()
    stats = unit_stats(tr, 1)
    assert set(stats.saturation) == {"u", "r", "n"} and set(stats.mean) == {"u", "r", "n", "h"}
    assert np.all(stats.half_life > 0)
    prod = forget_product(tr, 1, 4)
    u = tr.signal("u")[1].astype(np.float64)
    assert_close(prod[2], u[3] * u[4], "product of u after position 2 up to 4")
    assert np.all(np.isnan(prod[5:]))


def test_a_simple_rnn_has_no_carry_gate():
    s = _session("keras_simplernn")
    tr = s.full()
    assert np.all(np.isnan(unit_stats(tr, 0).half_life))
    assert np.all(np.isnan(forget_product(tr, 0, None)))
    # as the window reads it (through the run's store, held or checkpointed): no carry either
    for run in (s, Session(s.model, s.x, checkpoint_above=0)):
        record = forget_record(run)
        assert np.all(np.isnan(forget_product(record, 0, None)))
        assert np.all(np.isnan(forget_product(record, 0, 3, unit=1)))
    b = cell_breakdown(tr, 0, 1, 2)
    assert b.gates == {} and set(b.z) == {"h"}
    assert b.h == pytest.approx(max(b.z["h"], 0.0), abs=1e-6)             # relu


def test_the_cell_and_lanes_numbers_of_a_gru():
    from engine.output.export import ViewContext, cell_arrays, cell_table, lane_table
    s = _session("keras_gru_reset_after")
    tr = s.full()
    ctx = ViewContext(view="cell", model="m", layer=tr.name, direction=tr.direction, sample=1,
                      t=tr.steps, steps=tr.steps, cursor=tr.steps - 1, units=list(range(tr.units)),
                      unit=2, position=3)
    arrays = cell_arrays(tr, ctx)
    assert {"u", "r", "n", "h", "h_prev", "zx", "zh", "zb", "z", "fan_in"} <= set(arrays)
    assert not {"c", "c_prev", "i", "f"} & set(arrays)
    assert arrays["zx"].shape == (3,) and arrays["fan_in"].shape == (3, tr.units)
    header, rows = cell_table(tr, ctx)
    assert [r[1] for r in rows if r[0] == "gate"] == ["u", "r", "n"]
    header, rows = lane_table(tr, ctx)
    assert header == ["t", "unit", "read", "u", "r", "n", "h"]


def test_the_strongest_links_of_a_gru_gate_are_its_block_of_u():
    from engine.analyses.teaching import link_matrix
    w = _session("keras_gru_reset_after").full().weights
    assert np.array_equal(link_matrix(w, "r"), w.gate_block(w.recurrent_kernel, "r"))
    assert link_matrix(w, "h").shape == (w.units, w.units)


def test_forks_of_a_gru_and_its_session_file(tmp_path):
    from engine.debugging.session_file import open_session, save_session
    from engine.errors import ScopeError
    s = _session("keras_gru_reset_after")
    d = Debugger(s)
    d.add_watch("max(u)")
    s.seek(4)
    whole = s.full().h
    edited = d.fork_state("h", value=0.5, unit=1)
    assert edited.signal("h")[:, 3, 1].tolist() == [0.5, 0.5]
    assert np.abs(d.perturb(2, 0.1).signal("h")[:, 4:] - whole[:, 4:]).max() > 0
    decoupled = d.decouple()
    w = s.full().weights
    u = decoupled.weights.recurrent_kernel.reshape(w.units, 3, w.units)
    assert np.array_equal(u, u * np.eye(w.units)[:, None, :])      # only each unit's own h
    with pytest.raises(ScopeError, match="GRU: it has no cell state c"):
        d.fork_state("c", value=0.5, unit=1)
    save_session(tmp_path / "s.lstmscope", d)
    s2, d2, _ = open_session(tmp_path / "s.lstmscope")
    assert s2.t == 4 and list(d2.forks.forks) == list(d.forks.forks)
    assert_close(d2.forks.forks[edited.name].signal("h"), edited.signal("h"), "fork reopened")
