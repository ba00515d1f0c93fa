"""Window features on a checkpointed run (docs/architecture.md, "Long runs") beyond the views:
session files save and reopen it, and the View-menu docks, breakpoints, watches, forks,
exports and Compare inputs answer without an exception, each with the in-memory run's numbers
or one readable message."""

from __future__ import annotations

import numpy as np
import pytest

from engine import Session, load_model
from engine.debugging.debugger import Debugger
from engine.runs.stepper import XW_BLOCK
from gui.loader_worker import LoadResult
from gui.session_files import open_session_dialog, save_session_dialog
from tests.gui.conftest import settle_span


@pytest.fixture
def small_spans(monkeypatch):
    import gui.session_model as sm_module
    monkeypatch.setattr(sm_module, "SPAN_BYTES", 1)          # the smallest span: 256 positions


def _runs(steps: int = 700, batch: int = 1):
    model = load_model("demo:counter")
    x = np.random.default_rng(3).integers(1, model.vocab_size, (batch, steps))
    return model, Session(model, x), Session(model, x, checkpoint_above=0,
                                             checkpoint_interval=XW_BLOCK)


def _open(make_window, session):
    window = make_window()
    window.resize(1300, 900)
    window.show()
    window.show_loaded(LoadResult(session, session.model.source, "test-input"))
    return window


def _stop(*windows):
    for window in windows:
        window.first_pass.cancel()
        window.first_pass.wait()


def test_save_session_on_a_checkpointed_run_reopens_it_at_the_cursor(make_window, qtbot, tmp_path,
                                                                     small_spans):
    model, mem, ck = _runs()
    w = _open(make_window, ck)
    w.session_model.seek(600)
    settle_span(qtbot, w.session_model)
    w.session_model.select(3, 599)
    w.breakpoints_panel.edit.setText("any(abs(c) > 1.0)")
    w.breakpoints_panel.add_from_edit()
    w.watches_panel.edit.setText("max(h)")
    w.watches_panel.add_from_edit()
    path = tmp_path / "long.lstmscope"
    assert save_session_dialog(w, w.debugging, str(path))
    w2 = make_window()
    assert open_session_dialog(w2, w2.debugging, str(path))
    sm2 = w2.session_model
    assert sm2.checkpointed and sm2.t == 600 and (sm2.selected_unit, sm2.selected_position) == (3, 599)
    a, b = sm2.span()
    assert a <= 599 < b
    mem.seek(600)
    assert sm2.value("c", 3, 599) == float(mem.full().c[0, 599, 3])
    assert [bp.expression for bp in w2.debugging.debugger.breakpoints] == ["any(abs(c) > 1.0)"]
    assert w2.watches_panel.table.rowCount() == 1
    w2.grab()
    assert w.errors == [] and w2.errors == []
    _stop(w, w2)


def test_compare_inputs_on_a_checkpointed_run_compares_the_span(make_window, qtbot, small_spans):
    """Changing one token: the divergence over the span equals the in-memory comparison's
    columns, starts at the changed position, and is drawn at the run's input positions."""
    from engine.debugging.debugger import change_token, compare_inputs
    model, mem, ck = _runs()
    w = _open(make_window, ck)
    w.session_model.seek(400)
    settle_span(qtbot, w.session_model)
    panel = w.compare_panel
    panel.position.setValue(390)
    panel.token.setCurrentIndex(panel.token.findData(int(ck.x[0, 390]) % (model.vocab_size - 1) + 1))
    comp = panel.compare_token()
    assert comp is not None and w.errors == []
    a, b = w.session_model.span()
    assert comp.start == a and comp.divergence.shape[1] == b - a
    ref = compare_inputs(mem, change_token(mem.x, 390, panel.token_id()))
    np.testing.assert_array_equal(comp.divergence, ref.divergence[:, a:b])
    assert comp.first_divergence() == ref.first_divergence() == 390
    xs, ys = panel.div_curve.getData()
    assert xs[0] == a and xs[-1] == b - 1
    assert "390" in panel.summary.text() and "span" in panel.summary.text()
    # a changed position far from the cursor: compared over a span that holds it
    panel.position.setValue(690)
    comp = panel.compare_token()
    assert comp.start <= 690 < comp.start + comp.divergence.shape[1]
    assert comp.first_divergence() == 690
    # a second input of another length is one message, not an exception
    assert panel.compare_with(ck.x[:, :300], "short") is None
    assert "same batch and length" in w.errors[-1]
    _stop(w)


def test_window_features_answer_on_a_checkpointed_run(make_window, qtbot, tmp_path, small_spans):
    """Every dock of the View menu, Continue to a breakpoint both ways, a watch, an edited
    state shown over the lanes, and PNG/GIF/CSV exports of the views: no exception, the
    in-memory run's stops, and a readable message where a view needs a run in memory."""
    from gui.debug.forks_panel import EditStateDialog
    from gui.export.figure import export_view
    model, mem, ck = _runs(batch=2)
    w = _open(make_window, ck)
    sm = w.session_model
    sm.seek(300)
    settle_span(qtbot, sm)
    for action in w.view_menu.actions():
        if action.isCheckable() and not action.isChecked():
            action.trigger()
            w.grab()
    w.breakpoints_panel.edit.setText("any(abs(c) > 1.0)")
    assert w.breakpoints_panel.add_from_edit()
    hits = w.breakpoints_panel.tree.topLevelItem(0)       # counted behind the window
    qtbot.waitUntil(lambda: hits.text(2).isdigit(), timeout=20000)
    mem_scan = Debugger(mem, sample=0)
    mem_scan.add_breakpoint("any(abs(c) > 1.0)")
    want_hits = next(iter(mem_scan.all_hits().values()))
    assert int(hits.text(2)) == len(want_hits) > 0
    np.testing.assert_array_equal(next(iter(w.breakpoints_panel._hits.values())), want_hits)
    note = w.input_panel._no_output                       # nor is the whole-run output
    assert note is not None and "trace --steps" in note.textItem.toPlainText()
    w.watches_panel.edit.setText("max(h)")
    assert w.watches_panel.add_from_edit()
    stops = []
    for direction in (1, 1, -1):
        w.run_continue(direction)
        stops.append(ck.t)
    mem_dbg = Debugger(mem, sample=0)
    mem_dbg.add_breakpoint("any(abs(c) > 1.0)")
    mem.seek(300)
    want = []
    for direction in (1, 1, -1):
        mem_dbg.run_to_hit(direction)
        want.append(mem.t)
    assert stops == want and any(0 < t < ck.steps for t in stops)
    dialog = EditStateDialog(w.debugging, w)
    dialog.value.setText("0.5")
    fork = dialog.apply()
    w.debugging.set_overlay(fork.name)
    for k in (650, 20, 400):                       # the overlay follows across spans
        sm.seek(k)
        settle_span(qtbot, sm)
        w.grab()
    w.sample_spin.setValue(1)
    w.act_dark.trigger()
    w.grab()
    for view in ("units", "layer", "cell", "window", "unrolled", "text", "samples"):
        assert export_view(w, view, tmp_path / f"{view}.png", width=500)["format"] == "png"
    export_view(w, "units", tmp_path / "far.gif", positions=range(10, 690, 200), width=300)
    export_view(w, "layer", tmp_path / "layer.csv")
    w.grads.refresh()                   # the gradient views go back through the checkpoints
    assert export_view(w, "grad", tmp_path / "grad.png", width=500)["format"] == "png"
    assert w.errors == []
    _stop(w)


def test_a_gif_across_spans_draws_each_frame_in_its_own_span(make_window, qtbot, small_spans):
    """The window computes a new span behind the cursor; an animation cannot wait for it:
    every frame of a GIF that crosses spans is drawn with the span holding its position."""
    from gui.export.figure import Figure
    model, mem, ck = _runs()
    w = _open(make_window, ck)
    sm = w.session_model
    seen = []
    with Figure(w, "units") as fig:
        for _ in fig.frames(range(100, 700, 150), width=300):
            a, b = sm.span()
            seen.append(a <= ck.cursor < b)
            live = sm.live()
            pos = ck.cursor
            mem.seek(ck.t)
            assert sm.value("h", 2, pos) == float(mem.full().h[0, pos, 2])
            assert np.array_equal(live.h[:, pos - a], mem.full().h[:, pos])
    assert seen == [True] * 4
    assert w.errors == []
    _stop(w)



def test_a_long_load_shows_positions_traced_of_t_with_a_time_estimate(make_window, qtbot,
                                                                      monkeypatch):
    """A long in-memory load reports how far its trace is: the dialog's bar climbs through
    increasing counts to T and its label says "N of T positions" and how long is left."""
    import engine.runs.stepper as stepper
    from gui.load_progress import LoadProgress
    from tests.gui.conftest import open_session, sine_input, small_model
    monkeypatch.setattr(stepper, "PROGRESS_STEPS", 256)
    seen: list[tuple[int, int, str]] = []
    report = LoadProgress.report

    def watched(self, done, total):
        report(self, done, total)
        seen.append((self.bar.value(), self.bar.maximum(), self.labelText()))
    monkeypatch.setattr(LoadProgress, "report", watched)
    window = make_window()
    model = small_model(6, 3)
    open_session(window, model, sine_input(30))
    window.load(None, x=sine_input(3000), wait=True)
    assert window.errors == [] and window.session_model.steps == 3000
    values = [value for value, _, _ in seen]
    assert len(values) >= 5 and values == sorted(set(values)) and values[-1] == 3000
    assert {maximum for _, maximum, _ in seen} == {3000}
    assert "3,000 of 3,000 positions" in seen[-1][2]
    assert any("s left" in text for _, _, text in seen[:-1])
