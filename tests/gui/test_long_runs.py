"""The window on a checkpointed run: it opens without whole-run arrays, the first pass runs
behind it with a progress bar, and every number the views draw equals the in-memory run's."""

from __future__ import annotations

import numpy as np
import pytest

from engine import Session
from engine.analyses.analysis import cell_breakdown
from engine.cells.cell import STORAGE_GATE_ORDER
from engine.network.layers import LSTM
from engine.network.model import Model
from engine.runs.stepper import XW_BLOCK
from gui.loader_worker import LoadResult
from tests.gui.conftest import bring_to_front, settle_span, small_model


def _runs(backward: bool, steps: int = 1500):
    weights = small_model(6, 3).traced_layers[0].weights
    model = Model([LSTM("lstm", weights, return_sequences=True, go_backwards=backward)],
                  source="test")
    x = np.random.default_rng(4).normal(size=(1, steps, 3)).astype(np.float32)
    mem = Session(model, x)
    ck = Session(model, x, checkpoint_above=0, checkpoint_interval=XW_BLOCK)
    assert ck.checkpointed and not mem.checkpointed
    return mem, ck


def _curve_values(panel, name, session_model):
    """(x, lane y) of the live curves of one signal, NaN gaps dropped."""
    xs, ys = [], []
    for item in panel._live[name]:
        x, y = item.getData()
        if x is not None:
            keep = np.isfinite(y)
            xs.append(x[keep])
            ys.append(y[keep])
    return np.concatenate(xs), np.concatenate(ys)


@pytest.mark.parametrize("backward", [False, True])
def test_a_checkpointed_run_shows_the_in_memory_numbers(make_window, qtbot, monkeypatch, backward):
    import gui.session_model as sm_module
    monkeypatch.setattr(sm_module, "SPAN_BYTES", 1)          # the smallest span: 256 positions
    mem, ck = _runs(backward)
    window = make_window()
    window.show_loaded(LoadResult(ck, "test-model", "test-input"))
    assert window.errors == []
    sm = window.session_model
    assert sm.checkpointed and sm.span()[1] - sm.span()[0] == 256
    qtbot.waitUntil(lambda: window.first_pass.complete, timeout=20000)
    assert ck.store.first_pass_done == ck.steps
    # zoomed out, the whole run is drawn from the overview (min/max per bucket), lanes in order
    panel = window.units_panel
    ov = ck.overview()
    order = panel.order
    want = ((ov.lo["h"][0] + ov.hi["h"][0]) / 2)[:, order].T
    np.testing.assert_array_equal(panel.overview.values, want)
    assert panel.overview.item.isVisible() and panel.vb.state["limits"]["xLimits"][1] >= ck.steps
    for k in (40, 900, 1200, 300):                      # forward, across spans, and back
        sm.seek(k)
        settle_span(qtbot, sm)
        mem.seek(k)
        pos = ck.cursor
        a, b = sm.span()
        assert a <= pos < b
        live = sm.live()
        mem_live = mem.trace
        same = np.array_equal(live.h, mem_live.h[:, a:b], equal_nan=True)
        assert same, f"live h over the span at t={k}"
        for unit in (0, 5):
            assert sm.value("c", unit, pos) == float(mem.full().c[0, pos, unit])
        # the units panel's curves: x is the input position, y the lane of the engine's h
        x, _ = _curve_values(window.units_panel, "h", sm)
        known = ck.known()
        want = np.arange(max(a, known.start), min(b, known.stop))
        assert set(np.unique(x).astype(int)) == set(want)
        # the inspector: the numbers of the cursor's step
        window.session_model.select(2, -1)
        insp = window.cell_inspector
        ref = cell_breakdown(mem.full(), 0, 2, pos)
        assert insp.breakdown is not None and insp.breakdown.position == pos
        for g in STORAGE_GATE_ORDER:
            assert insp.bar_values(g)[:3] == [ref.zx[g], ref.zh[g], ref.zb[g]]
        assert insp.breakdown.c_prev == ref.c_prev and insp.breakdown.h == ref.h
    assert window.errors == []


def test_a_jump_answers_while_the_next_span_is_computed_behind_it(make_window, qtbot, monkeypatch):
    """The cursor leaves the drawn span: the jump returns at once, the read-outs and the
    inspector give the run's numbers from its kept states, the views keep their span, and the
    span around the cursor arrives from the worker thread (docs/architecture.md, "Long runs")."""
    import threading

    import gui.session_model as sm_module
    monkeypatch.setattr(sm_module, "SPAN_BYTES", 1)          # the smallest span: 256 positions
    mem, ck = _runs(False)
    window = make_window()
    window.show_loaded(LoadResult(ck, "test-model", "test-input"))
    qtbot.waitUntil(lambda: window.first_pass.complete, timeout=20000)
    sm = window.session_model
    sm.seek(10)
    old = sm.span()
    run = ck.store
    run._cache.clear()
    release = threading.Event()
    plain = run._run_chunk
    monkeypatch.setattr(run, "_run_chunk", lambda j: (release.wait(20), plain(j))[1])
    notes = []
    sm.notice.connect(notes.append)
    sm.seek(1300)                     # returns although no chunk can be computed yet
    mem.seek(1300)
    pos = ck.cursor
    assert sm.span() == old and not sm.span_settled()
    assert any("computing positions" in n for n in notes)
    for unit in (0, 4):
        assert sm.value("c", unit, pos) == float(mem.full().c[0, pos, unit])
    window.session_model.select(2, -1)
    ref = cell_breakdown(mem.full(), 0, 2, pos)
    insp = window.cell_inspector
    assert insp.breakdown is not None and insp.breakdown.h == ref.h
    window.grab()                     # views on the old span with the cursor outside it
    release.set()
    settle_span(qtbot, sm)
    a, b = sm.span()
    assert a <= pos < b and (a, b) != old
    assert notes[-1] == f"positions {a:,}–{b - 1:,} shown"      # "computing…" replaced
    np.testing.assert_array_equal(sm.live().h, mem.trace.h[:, a:b])
    assert window.errors == []


def test_a_jump_past_the_first_pass_waits_for_the_worker_not_the_window(make_window, qtbot,
                                                                        monkeypatch):
    """Before the first pass reaches a position, reading it computes every chunk before it: the
    window leaves that to the span worker (read-outs NaN, the inspector says it is computing)
    and shows the numbers when the span arrives."""
    import threading

    import gui.session_model as sm_module
    monkeypatch.setattr(sm_module, "SPAN_BYTES", 1)
    mem, ck = _runs(False)
    window = make_window()
    monkeypatch.setattr(window.first_pass, "start", lambda session: None)    # no first pass
    window.grads.enabled = False        # nor a gradient, which computes every chunk too
    window.resize(1300, 900)
    window.show()
    window.show_loaded(LoadResult(ck, "test-model", "test-input"))
    bring_to_front(qtbot, window.cell_dock)
    sm = window.session_model
    sm.span()
    release = threading.Event()
    plain = ck.store._run_chunk
    monkeypatch.setattr(ck.store, "_run_chunk", lambda j: (release.wait(20), plain(j))[1])
    window.session_model.select(2, -1)
    sm.seek(1400)
    mem.seek(1400)
    pos = ck.cursor
    assert not ck.ready(pos)
    assert np.isnan(sm.value("h", 3, pos))
    insp = window.cell_inspector
    assert insp.breakdown is None and "computing" in insp.info.text()
    release.set()
    settle_span(qtbot, sm)
    assert ck.ready(pos) and sm.value("h", 3, pos) == float(mem.full().h[0, pos, 3])
    qtbot.waitUntil(lambda: insp.breakdown is not None, timeout=5000)
    assert insp.breakdown.h == cell_breakdown(mem.full(), 0, 2, pos).h
    assert window.errors == []


def test_the_first_pass_can_be_cancelled_and_the_run_still_answers(make_window, qtbot):
    mem, ck = _runs(False)
    window = make_window()
    window.first_pass.cancel()
    window.show_loaded(LoadResult(ck, "test-model", "test-input"))
    window.first_pass.cancel()
    qtbot.waitUntil(lambda: not window.first_pass.running, timeout=20000)
    window.session_model.seek(1400)
    settle_span(qtbot, window.session_model)
    mem.seek(1400)
    assert window.session_model.value("h", 3, 1399) == float(mem.full().h[0, 1399, 3])
    assert window.errors == []


@pytest.mark.parametrize("backward", [False, True])
def test_gradient_views_of_a_checkpointed_run_equal_the_in_memory_ones(make_window, qtbot,
                                                                       monkeypatch, backward):
    """The gradient views go back through the checkpoints (Session.grad): the saliency, |dC|,
    forget products, horizons and verdict equal the in-memory run's; the layer view's dC map
    shows the span's columns; a step computes them behind the window."""
    import gui.session_model as sm_module
    from engine.gradients.grad_views import forget_product, grad_health, memory_horizon
    monkeypatch.setattr(sm_module, "SPAN_BYTES", 1)
    mem, ck = _runs(backward)
    window = make_window()
    bring_to_front(qtbot, window.layer_dock)
    window.show_loaded(LoadResult(ck, "test-model", "test-input"))
    sm, grads = window.session_model, window.grads
    sm.seek(900)
    settle_span(qtbot, sm)
    sm.select(3, -1)
    grads.refresh()
    view = grads.view
    assert view is not None and grads.error == ""
    mem.seek(900)
    pos = ck.cursor
    assert view.target == f"h[0, {pos}, 3]" and view.position == pos
    g = mem.grad(view.target)
    np.testing.assert_array_equal(view.result.dc, g.dc)
    np.testing.assert_array_equal(view.saliency, g.saliency(0))
    np.testing.assert_array_equal(view.forget_product, forget_product(mem.full(), 0, pos)[:, 3])
    np.testing.assert_array_equal(view.horizon, memory_horizon(g.dc[0], mem.full(), pos))
    assert view.health == grad_health(g, mem.full(), 0, pos)
    a, b = sm.span()
    heat = window.layer_view.heat["dC"]
    with np.errstate(divide="ignore"):
        want = np.log10(np.abs(g.dc[0][a:b][:, window.layer_view.order].T))
    finite = np.isfinite(want)
    np.testing.assert_allclose(heat.data[finite], want[finite], rtol=1e-6)
    sm.seek(1200)                     # a step: computed behind the window, then shown
    settle_span(qtbot, sm)
    qtbot.waitUntil(lambda: grads.view is not view and grads.view.position == ck.cursor,
                    timeout=20000)
    stepped = grads.view
    grads.set_mode("c")               # another target from the panel: behind the window too
    assert grads.view is stepped and not grads.jobs.idle()
    qtbot.waitUntil(lambda: grads.view.target.startswith("c["), timeout=20000)
    np.testing.assert_array_equal(grads.view.result.dc, mem.grad(grads.view.target).dc)
    assert window.errors == []


def test_breakpoints_and_forks_in_the_window_agree_with_the_in_memory_run(make_window, qtbot):
    """Continue (F5) forward and backward to a breakpoint, then fork the state there and show
    it over the lanes: the same stops and the same fork numbers on both kinds of run."""
    results = []
    for kind in ("memory", "checkpointed"):
        mem, ck = _runs(False, steps=600)
        session = mem if kind == "memory" else ck
        if kind == "memory":
            session.full()
            session.result()
        window = make_window()
        bring_to_front(qtbot, window.layer_dock)
        window.show_loaded(LoadResult(session, "test-model", "test-input"))
        dm = window.debugging
        dm.debugger.add_breakpoint("any(abs(c) > 1.2)")
        stops = []
        for direction in (+1, +1, +1, -1):
            r = dm.continue_run(direction, show_progress=False)
            stops.append((r.hit, session.t))
        fork = dm.debugger.fork_state("h", unit=1, value=0.0)
        fork.ensure(session.steps)
        dm.set_overlay(fork.name)
        overlay = window.units_panel._overlay_arrays
        assert overlay is not None and overlay["h"].shape == (1, session.steps, 6)
        results.append((stops, fork.diff("h"), overlay["c"]))
        assert window.errors == []
        window.first_pass.cancel()
        window.first_pass.wait()
    (stops_m, diff_m, c_m), (stops_c, diff_c, c_c) = results
    assert stops_m == stops_c and any(hit for hit, _ in stops_m)
    np.testing.assert_array_equal(diff_c, diff_m)
    np.testing.assert_array_equal(c_c, c_m)


def test_the_loader_opens_a_run_over_the_budget_as_a_checkpointed_run(make_window, qtbot, monkeypatch):
    from tests.gui.conftest import open_session, sine_input
    window = make_window()
    model = small_model(6, 3)
    open_session(window, model, sine_input(30))
    monkeypatch.setattr("engine.session.DEFAULT_BUDGET_BYTES", 64 * 1024)   # a 2000-step trace is more
    x = sine_input(2000)
    window.load(None, x=x, wait=True)
    sm = window.session_model
    assert window.errors == [] and sm.checkpointed and sm.steps == 2000
    qtbot.waitUntil(lambda: window.first_pass.complete, timeout=20000)
    sm.seek(1500)
    settle_span(qtbot, sm)
    mem = Session(model, x, checkpoint_above=2**40)
    assert sm.value("f", 4, 1499) == float(mem.full().f[0, 1499, 4])
    assert window.units_panel.overview.item.isVisible()
