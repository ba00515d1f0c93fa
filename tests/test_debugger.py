"""Breakpoints, run-to-event and watches against an independent numpy scan of the full trace."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from engine import ScopeError, Session
from engine.debugging.debugger import Breakpoint, Debugger
from engine.debugging.expr import ExprError
from engine.loaders.demos import random_model
from engine.network.layers import LSTM
from engine.network.model import Model

N, D, T = 12, 3, 80


def make(backward=False, batch=1, seed=0, steps=T, scale=2.5):
    base = random_model(N, D, seed=seed)
    model = Model([LSTM("lstm", base.ops[0].weights, return_sequences=True, go_backwards=backward)],
                  source="test")
    x = np.random.default_rng(seed + 100).normal(0, scale, (batch, steps, D)).astype(np.float32)
    return model, x


def in_processing_order(arr, backward):
    return arr[:, ::-1] if backward else arr


def numpy_first_hits(holds: np.ndarray, every_step: bool = False) -> np.ndarray:
    """Processing indices where a condition (T,) hits: becomes true, or holds (every_step)."""
    if every_step:
        return np.flatnonzero(holds)
    before = np.concatenate([[False], holds[:-1]])
    return np.flatnonzero(holds & ~before)


def conditions(tr, backward):
    """Independent numpy versions of a few expressions, (T,) in processing order, any sample."""
    c = in_processing_order(tr.c, backward)
    h = in_processing_order(tr.h, backward)
    f = in_processing_order(tr.f, backward)
    i = in_processing_order(tr.i, backward)
    prev_h = np.concatenate([tr.h0[:, None], h[:, :-1]], axis=1)
    return {
        "any(abs(c) > 1.2)": np.any(np.abs(c) > 1.2, axis=-1).any(axis=0),
        "f[3] < 0.5": (f[:, :, 3] < 0.5).any(axis=0),
        "mean(saturated(i)) > 0.25": (((i <= 0.05) | (i >= 0.95)).mean(axis=-1) > 0.25).any(axis=0),
        "count(abs(h - prev(h)) > 0.3) >= 2":
            (np.sum(np.abs(h - prev_h) > 0.3, axis=-1) >= 2).any(axis=0),
        "any(h * prev(h) < 0)": np.any(h * prev_h < 0, axis=-1).any(axis=0),
    }


@pytest.mark.parametrize("backward", [False, True])
@pytest.mark.parametrize("every_step", [False, True])
def test_run_to_hit_stops_where_numpy_finds_hits(backward, every_step):
    model, x = make(backward, batch=2)
    s = Session(model, x)
    tr = model.trace(x).layer(0)
    for text, holds in conditions(tr, backward).items():
        want = numpy_first_hits(holds, every_step)
        assert 0 < want.size < T, text          # every condition is non-trivial here
        s.reset()
        dbg = Debugger(s)
        bp = dbg.add_breakpoint(text, every_step=every_step)
        got = []
        while True:
            r = dbg.run_to_hit(+1)
            if not r.hit:
                assert s.t == T
                break
            assert r.breakpoints == [bp.id]
            got.append(s.t - 1)
            assert r.position == (T - 1 - (s.t - 1) if backward else s.t - 1)
        assert got == list(want), text
        # backward from the end visits the same hits in reverse
        back = []
        while True:
            r = dbg.run_to_hit(-1)
            if not r.hit:
                assert s.t == 0
                break
            back.append(s.t - 1)
        assert back == [p for p in want[::-1] if p < T - 1], text   # not the step under the cursor
        # all_hits (vectorised over full()) gives the same positions
        pos = dbg.all_hits()[bp.id]
        want_pos = (T - 1 - want) if backward else want
        assert np.array_equal(pos, want_pos), text
        dbg.close()


def test_backward_from_the_end_is_exact():
    model, x = make()
    s = Session(model, x)
    dbg = Debugger(s)
    dbg.add_breakpoint("any(abs(c) > 1.2)")
    hits = list(numpy_first_hits(conditions(model.trace(x).layer(0), False)["any(abs(c) > 1.2)"]))
    s.to_end()
    seen = []
    while dbg.run_to_hit(-1).hit:
        seen.append(s.t - 1)
    # the current step (t-1 = T-1) is not "before" the cursor
    assert seen == [p for p in hits if p < T - 1][::-1]


def test_session_stepped_trace_equals_full_after_runs():
    model, x = make()
    s = Session(model, x)
    dbg = Debugger(s)
    dbg.add_breakpoint("f[3] < 0.5")
    dbg.run_to_hit(+1)
    dbg.run_to_hit(+1)
    k = s.t
    full = s.full()
    assert np.array_equal(s.trace.h[:, :k], full.h[:, :k])
    assert np.isnan(s.trace.h[:, k:]).all()       # the chunk beyond the hit was forgotten


def test_run_to_hit_is_incremental_and_reports_progress():
    model, x = make(steps=2000)
    s = Session(model, x)
    dbg = Debugger(s)
    dbg.add_breakpoint("t == 1500")
    calls = {"n": 0}
    real = s.runner.step

    def counting(p):
        calls["n"] += 1
        real(p)
    s.runner.step = counting
    progress = []
    r = dbg.run_to_hit(+1, progress=lambda done, total: progress.append((done, total)))
    assert r.hit and s.t == 1501
    assert calls["n"] <= 1500 + dbg.CHUNK + (dbg.CHUNK) + 1       # never the whole run per step
    assert progress and progress[-1][1] == 2000
    # should_stop ends the run early where it is
    s.reset()
    n = {"k": 0}

    def stop():
        n["k"] += 1
        return n["k"] > 2
    r = dbg.run_to_hit(+1, should_stop=stop)
    assert r.stopped and not r.hit and s.t == 2 * dbg.CHUNK


def test_observers_hear_one_position_event():
    model, x = make()
    s = Session(model, x)
    events = []
    s.subscribe(lambda ev, sess: events.append((ev, sess.t)))
    dbg = Debugger(s)
    dbg.add_breakpoint("t == 40")
    dbg.run_to_hit(+1)
    assert events == [("position", 41)]


def test_builtin_events():
    model, x = make(scale=1.0)
    x[0, 30, 1] = np.nan
    s = Session(model, x)
    dbg = Debugger(s)
    nan = dbg.add_breakpoint(Breakpoint.nan_inf())
    r = dbg.run_to_hit(+1)
    assert r.hit and r.position == 30 and r.breakpoints == [nan.id]
    assert not dbg.run_to_hit(+1).hit      # stays NaN: it does not "become" true again
    assert list(dbg.all_hits()[nan.id]) == [30]

    model, x = make(scale=3.0)
    tr = model.trace(x).layer(0)
    s = Session(model, x)
    dbg = Debugger(s)
    bound = float(np.quantile(np.abs(tr.c).max(axis=-1), 0.7))
    bp = dbg.add_breakpoint(Breakpoint.c_exceeds(bound))
    want = numpy_first_hits(np.any(np.abs(tr.c[0]) > bound, axis=-1))
    assert np.array_equal(dbg.all_hits()[bp.id], want) and want.size
    dbg.remove_breakpoint(bp.id)

    bp = dbg.add_breakpoint(Breakpoint.sign_change(4))
    h = tr.h[0, :, 4]
    prev = np.concatenate([tr.h0[0, 4:5], h[:-1]])
    assert np.array_equal(dbg.all_hits()[bp.id], numpy_first_hits(h * prev < 0))
    dbg.remove_breakpoint(bp.id)

    bp = dbg.add_breakpoint(Breakpoint.saturates("f", 0.3))
    sat = ((tr.f[0] <= 0.05) | (tr.f[0] >= 0.95)).mean(axis=-1) >= 0.3
    assert np.array_equal(dbg.all_hits()[bp.id], numpy_first_hits(sat))
    dbg.set_every_step(bp.id, True)
    bp_any = Breakpoint.saturates("any", 0.3)
    bp_any.every_step = True
    bp_any = dbg.add_breakpoint(bp_any)
    hits = dbg.all_hits()
    assert set(hits[bp.id]) <= set(hits[bp_any.id]) and len(hits[bp_any.id]) > len(hits[bp.id])
    with pytest.raises(ScopeError, match="unknown gate"):
        Breakpoint.saturates("q")


def test_disabled_and_several_breakpoints():
    model, x = make()
    s = Session(model, x)
    dbg = Debugger(s)
    a = dbg.add_breakpoint("t == 10")
    b = dbg.add_breakpoint("t == 20")
    c = dbg.add_breakpoint("t >= 10 and t <= 10")
    r = dbg.run_to_hit(+1)
    assert s.t == 11 and sorted(r.breakpoints) == sorted([a.id, c.id])
    dbg.set_enabled(b.id, False)
    assert not dbg.run_to_hit(+1).hit and s.t == T
    assert set(dbg.all_hits()) == {a.id, c.id}
    assert list(dbg.hit_positions()) == [10]
    s.seek(11)
    assert sorted(dbg.hits_at()) == sorted([a.id, c.id])


def test_sample_choice():
    model, x = make(batch=3)
    tr = model.trace(x).layer(0)
    s = Session(model, x)
    dbg = Debugger(s, sample=2)
    bp = dbg.add_breakpoint("f[3] < 0.5")
    assert np.array_equal(dbg.all_hits()[bp.id], numpy_first_hits(tr.f[2, :, 3] < 0.5))
    dbg.set_sample(None)
    assert np.array_equal(dbg.all_hits()[bp.id],
                          numpy_first_hits((tr.f[:, :, 3] < 0.5).any(axis=0)))


def test_bad_breakpoints_are_refused_with_position():
    model, x = make()
    dbg = Debugger(Session(model, x))
    with pytest.raises(ExprError, match="column 5"):
        dbg.add_breakpoint("h[0]+zz > 1")
    with pytest.raises(ExprError, match="out of range"):
        dbg.add_breakpoint(f"h[{N}] > 0")
    assert dbg.breakpoints == []


def test_watches_values_and_series():
    model, x = make(batch=2, backward=True)
    tr = model.trace(x).layer(0)
    s = Session(model, x)
    dbg = Debugger(s, sample=1)
    w = dbg.add_watch("mean(f)")
    v = dbg.add_watch("h[0:3]")
    assert dbg.watch_value(w) is None
    s.seek(10)
    pos = T - 10      # backward: the 10th step read input T-10
    np.testing.assert_allclose(dbg.watch_value(w)[0], tr.f[1, pos].mean(), rtol=1e-6)
    np.testing.assert_allclose(dbg.watch_value(v)[0], tr.h[1, pos, 0:3])
    series = dbg.watch_series(w)
    assert series.shape == (1, T)
    np.testing.assert_allclose(series[0, pos:], tr.f[1, pos:].mean(axis=-1), rtol=1e-6)
    assert np.isnan(series[0, :pos]).all()
    full = dbg.watch_series(v, full=True)
    assert full.shape == (1, T, 3)
    np.testing.assert_allclose(full[0], tr.h[1, :, 0:3])
    dbg.remove_watch(w.id)
    assert [x.id for x in dbg.watches] == [v.id]


@settings(max_examples=25, deadline=None)
@given(st.integers(0, 10_000), st.booleans(), st.floats(0.2, 1.5), st.booleans())
def test_property_run_to_hit_matches_scan(seed, backward, bound, every_step):
    model, x = make(backward, seed=seed % 50, steps=40)
    tr = model.trace(x).layer(0)
    c = in_processing_order(tr.c, backward)
    want = numpy_first_hits(np.any(np.abs(c[0]) > bound, axis=-1), every_step)
    s = Session(model, x)
    dbg = Debugger(s)
    dbg.add_breakpoint(f"any(abs(c) > {bound!r})", every_step=every_step)
    got = []
    while dbg.run_to_hit(+1).hit:
        got.append(s.t - 1)
    assert got == list(want)
