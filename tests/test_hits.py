"""Why a breakpoint hit (engine.debugging.hits): units and values checked against a plain numpy reading
of the full trace at the step where the debugger stopped."""

from __future__ import annotations

import numpy as np
import pytest

from engine import ScopeError, Session
from engine.debugging.debugger import Breakpoint, Debugger
from engine.debugging.hits import MAX_UNITS
from tests.test_debugger import make


def stop_at_first_hit(text_or_bp, backward=False, batch=2):
    model, x = make(backward, batch=batch)
    s = Session(model, x)
    dbg = Debugger(s)
    bp = dbg.add_breakpoint(text_or_bp)
    r = dbg.run_to_hit(+1)
    assert r.hit
    return s, dbg, bp, r, model.trace(x).layer(0)


@pytest.mark.parametrize("backward", [False, True])
def test_vector_test_names_every_unit_over_the_bound_strongest_first(backward):
    s, dbg, bp, r, tr = stop_at_first_hit("any(abs(c) > 1.2)", backward)
    rep = dbg.explain(bp.id)
    assert rep.position == r.position and rep.breakpoint_id == bp.id
    c = tr.c[rep.sample, r.position]
    want = np.flatnonzero(np.abs(c) > 1.2)
    (cul,) = rep.culprits
    assert cul.subject == "c" and cul.count == want.size and cul.lanes
    assert sorted(cul.units) == sorted(want[np.argsort(-np.abs(c[want]))][:MAX_UNITS])
    assert list(cul.values) == [float(c[u]) for u in cul.units]
    assert list(np.abs(cul.values)) == sorted(np.abs(cul.values), reverse=True)
    # no other sample held the condition earlier than the reported one
    assert not np.any(np.abs(tr.c[:rep.sample, r.position]) > 1.2)


def test_indexed_unit_and_top_level_quantity():
    s, dbg, bp, r, tr = stop_at_first_hit("f[-1] < 0.5")
    rep = dbg.explain(bp.id)
    f_last = float(tr.f[rep.sample, r.position, -1])
    assert rep.units == (tr.units - 1,)
    assert rep.quantity == "f[-1]" and rep.quantity_value == pytest.approx(f_last)
    assert rep.culprits[0].values == (pytest.approx(f_last),)


def test_fraction_condition_reports_its_value_and_the_saturated_units():
    s, dbg, bp, r, tr = stop_at_first_hit("mean(saturated(i)) > 0.25")
    rep = dbg.explain(bp.id)
    i = tr.i[rep.sample, r.position]
    sat = np.flatnonzero((i <= 0.05) | (i >= 0.95))
    assert rep.quantity_value == pytest.approx(sat.size / tr.units)
    assert rep.culprits[0].count == sat.size
    assert set(rep.culprits[0].units) <= set(sat.tolist())


def test_max_names_the_unit_holding_the_maximum():
    s, dbg, bp, r, tr = stop_at_first_hit("max(c) > 1")
    rep = dbg.explain(bp.id)
    c = tr.c[rep.sample, r.position]
    assert rep.units == (int(np.argmax(c)),)
    assert rep.quantity_value == pytest.approx(float(c.max()))


def test_only_the_parts_of_an_or_that_hold_are_explained():
    s, dbg, bp, r, tr = stop_at_first_hit("any(isnan(c)) or f[-1] < 0.5")
    rep = dbg.explain(bp.id)
    assert [c.part for c in rep.culprits] == ["f[-1]"]


def test_nan_breakpoint_puts_the_nan_units_first():
    model, x = make()
    x[0, 5, :] = np.nan
    s = Session(model, x)
    dbg = Debugger(s)
    bp = dbg.add_breakpoint(Breakpoint.nan_inf())
    r = dbg.run_to_hit(+1)
    assert r.hit and r.position == 5
    rep = dbg.explain(bp.id)
    assert rep.culprits and all(np.isnan(v) for c in rep.culprits for v in c.values)
    assert rep.culprits[0].count == s.units


def test_condition_without_units_and_input_features_are_not_lanes():
    s, dbg, bp, r, tr = stop_at_first_hit("t == 5")
    rep = dbg.explain(bp.id)
    assert rep.culprits == () and rep.quantity == "t" and rep.quantity_value == 5
    s.reset()
    bp2 = dbg.add_breakpoint("any(x > 2)")
    r = dbg.run_to_hit(+1)
    rep = dbg.explain(bp2.id) if bp2.id in r.breakpoints else dbg.explain(bp2.id, s.t)
    assert all(not c.lanes for c in rep.culprits) and rep.units == ()


def test_not_holding_and_bad_requests():
    s, dbg, bp, r, tr = stop_at_first_hit("t == 5")
    s.seek(2)
    assert dbg.explain(bp.id).sample is None
    with pytest.raises(ScopeError):
        dbg.explain(99)
    s.seek(0)
    with pytest.raises(ScopeError):
        dbg.explain(bp.id)
