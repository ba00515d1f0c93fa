"""Breakpoints, watches, forks and session files as a user drives them in the window."""

from __future__ import annotations

import numpy as np
import pytest
from PySide6.QtCore import Qt

from engine import ScopeError, load_model
from gui.debug.forks_panel import EditStateDialog, parse_values
from gui.debug.watches_panel import format_value
from gui.session_files import open_session_dialog, save_session_dialog
from tests.gui.conftest import open_session, sine_input, small_model


@pytest.fixture
def window(shared_window):
    w = shared_window
    open_session(w, small_model(), sine_input(40))
    return w


def test_bad_expression_shows_its_position(window):
    panel = window.breakpoints_panel
    panel.edit.setText("f[3] < foo")
    assert not panel.add_from_edit()
    assert panel.error.isVisible()
    assert "column 7" in panel.error.text() and "unknown name" in panel.error.text()
    assert window.debugging.debugger.breakpoints == []
    assert panel.edit.cursorPosition() == 7
    panel.edit.setText("__import__('os')")
    assert not panel.add_from_edit()
    assert window.debugging.debugger.breakpoints == []


def test_f5_runs_to_each_hit_and_shift_f5_back(window, qtbot):
    s = window.session_model.session
    panel = window.breakpoints_panel
    panel.edit.setText("h[1] * prev(h[1]) < 0")
    assert panel.add_from_edit()
    dbg = window.debugging.debugger
    hits = list(dbg.all_hits()[dbg.breakpoints[0].id])
    assert hits, "the test needs hits"
    assert panel.tree.topLevelItemCount() == 1 and panel.tree.topLevelItem(0).text(2) == str(len(hits))
    assert list(panel.strip.hits) == hits
    seen = []
    for _ in hits:
        qtbot.keyClick(window, Qt.Key_F5)
        seen.append(s.cursor)
    assert seen == hits
    assert f"breakpoint hit at t = {hits[-1]}" in panel.status.text()
    qtbot.keyClick(window, Qt.Key_F5)
    assert s.t == s.steps
    qtbot.keyClick(window, Qt.Key_F5, Qt.ShiftModifier)
    assert s.cursor == [h for h in hits if h < s.steps - 1][-1]
    assert window.timeline.value() == s.t


def test_hits_are_marked_on_the_toolbar_timeline(window, qtbot):
    panel = window.breakpoints_panel
    panel.edit.setText("h[1] * prev(h[1]) < 0")
    assert panel.add_from_edit()
    dbg = window.debugging.debugger
    hits = list(dbg.all_hits()[dbg.breakpoints[0].id])
    assert hits
    # the slider's values are t = inputs read: a hit at position p is t = p + 1
    assert window.timeline.marks.tolist() == [p + 1 for p in sorted(set(hits))]
    assert "breakpoint hits" in window.timeline.toolTip()
    xs = [window.timeline.mark_x(t) for t in window.timeline.marks]
    assert xs == sorted(xs) and 0 <= xs[0] and xs[-1] <= window.timeline.width()
    image = window.timeline.grab().toImage()
    red = [x for x in range(image.width())
           if image.pixelColor(x, image.height() - 2).name() == "#d62728"]
    assert len(red) >= min(len(xs), 3)
    item = panel.tree.topLevelItem(0)
    item.setCheckState(0, Qt.Unchecked)   # disabled: no marks
    # the list is rebuilt after the tick box's change returns, not inside it: clearing the
    # tree there deleted the item Qt was still changing (a segfault seen in CI)
    assert panel.tree.topLevelItem(0) is item
    qtbot.waitUntil(lambda: window.timeline.marks.size == 0, timeout=5000)
    assert panel.tree.topLevelItem(0).checkState(0) == Qt.Unchecked


def test_builtin_events_and_disable(window):
    panel = window.breakpoints_panel
    dbg = window.debugging.debugger
    panel.ev_sat.setChecked(True)
    assert [b.kind for b in dbg.breakpoints] == ["saturates"]
    panel.sat_frac.setValue(0.5)
    assert [b.params["fraction"] for b in dbg.breakpoints] == [0.5]
    panel.ev_nan.setChecked(True)
    assert sorted(b.kind for b in dbg.breakpoints) == ["nan_inf", "saturates"]
    panel.ev_nan.setChecked(False)
    assert [b.kind for b in dbg.breakpoints] == ["saturates"]
    item = panel.tree.topLevelItem(0)
    item.setCheckState(0, Qt.Unchecked)
    assert not dbg.breakpoints[0].enabled
    panel.tree.setCurrentItem(panel.tree.topLevelItem(0))
    panel.tree.topLevelItem(0).setSelected(True)
    panel.remove_selected()
    assert dbg.breakpoints == [] and not panel.ev_sat.isChecked()


def test_watches_show_engine_values_and_sparklines(window):
    panel = window.watches_panel
    dbg = window.debugging.debugger
    panel.edit.setText("mean(f)")
    assert panel.add_from_edit()
    panel.edit.setText("h[0:3]")
    assert panel.add_from_edit()
    panel.edit.setText("mean(q)")
    assert not panel.add_from_edit() and "column 5" in panel.error.text()
    window.session_model.seek(12)
    tr = window.session_model.session.full()
    assert panel.table.item(0, 1).text() == format_value(tr.f[0, 11].mean(dtype=np.float64))
    assert panel.table.item(1, 1).text().startswith("[")
    panel.update_sparklines()
    spark = panel.table.cellWidget(0, 2)
    assert np.isfinite(spark.values).sum() == 12 and spark.cursor == 11
    np.testing.assert_allclose(spark.values[:12], tr.f[0, :12].mean(axis=-1), rtol=1e-5)
    assert [w.expression for w in dbg.watches] == ["mean(f)", "h[0:3]"]
    window.grab()


def test_edit_state_forks_and_overlay(window):
    window.session_model.seek(10)
    dm = window.debugging
    window.session_model.select(2, 9)
    before = window.session_model.session.full().h.copy()
    dialog = EditStateDialog(dm, window)
    assert dialog.unit.value() == 2
    dialog.what.setCurrentText("h")
    dialog.value.setText("0.9")
    fork = dialog.apply()
    dm.set_overlay(fork.name)
    assert np.array_equal(window.session_model.session.full().h, before)     # original untouched
    panel = window.forks_panel
    assert panel.tree.topLevelItemCount() == 1
    assert panel.tree.topLevelItem(0).checkState(0) == Qt.Checked
    xs, ys = panel.curve_fork.getData()
    assert ys[9] == pytest.approx(0.9)
    assert "‖h_fork − h‖ at step 9" in panel.info.text()
    window.session_model.step(5)
    p = panel.perturb(1, 0.25)
    assert dm.overlay == p.name and dm.debugger.forks.parent_name(p) == fork.name
    assert panel.tree.topLevelItem(0).childCount() == 1
    d = panel.decouple()
    assert d is not None and len(dm.debugger.forks.names()) == 3
    panel.tree.setCurrentItem(panel.tree.topLevelItem(0).child(0))
    panel.undo_selected()
    assert dm.overlay == fork.name and p.name not in dm.debugger.forks.names()
    dialog = EditStateDialog(dm, window)
    dialog.what.setCurrentText("x")
    dialog.unit.setValue(0)
    dialog.value.setText("2.0")
    xf = dialog.apply()
    assert xf.signal("x")[0, 14, 0] == 2.0
    window.grab()


def test_parse_values():
    assert parse_values("0.5") == 0.5
    assert parse_values("[1, 2 3]") == [1.0, 2.0, 3.0]
    with pytest.raises(ScopeError):
        parse_values("abc")


def test_save_and_open_session(window, tmp_path, make_window):
    # a model with a real file behind it, so the hash is checked
    src = tmp_path / "m.keras"
    import shutil

    from tests.test_session_file import BI
    shutil.copy(BI, src)
    model = load_model(str(src), allow_length=True)     # T=25, the file fixes 7: kept on reopen
    w = make_window()
    x = np.random.default_rng(0).normal(size=(2, 25, 3)).astype(np.float32)
    s = open_session(w, model, x, layer=1)
    w.session_model.source = str(src)
    w.sample_spin.setValue(1)
    w.session_model.seek(9)
    w.breakpoints_panel.edit.setText("any(abs(c) > 0.2)")
    w.breakpoints_panel.add_from_edit()
    w.watches_panel.edit.setText("max(h)")
    w.watches_panel.add_from_edit()
    w.forks_panel.perturb(0, 0.3)
    path = tmp_path / "s.lstmscope"
    assert save_session_dialog(w, w.debugging, str(path))
    w2 = make_window()
    assert open_session_dialog(w2, w2.debugging, str(path))
    s2 = w2.session_model.session
    assert s2.t == 9 and s2.layer_index == 1 and w2.session_model.sample == 1
    assert [b.expression for b in w2.debugging.debugger.breakpoints] == ["any(abs(c) > 0.2)"]
    assert w2.watches_panel.table.rowCount() == 1
    assert w2.forks_panel.tree.topLevelItemCount() == 1 and w2.debugging.overlay
    assert np.array_equal(s2.x, s.x)
    with open(src, "ab") as fh:
        fh.write(b"x")
    w3 = make_window()
    assert not open_session_dialog(w3, w3.debugging, str(path))
    assert w3.errors and "changed since" in w3.errors[-1]


def test_a_stop_names_the_unit_and_value_and_selects_that_lane(window, qtbot):
    s = window.session_model.session
    panel = window.breakpoints_panel
    full = s.full()
    bound = float(np.sort(np.abs(full.c[0]).max(axis=0))[-2])   # some units cross it, not all
    panel.edit.setText(f"any(abs(c) > {bound!r})")
    assert panel.add_from_edit()
    window.units_panel.set_filter("0:1")
    qtbot.keyClick(window, Qt.Key_F5)
    pos = s.cursor
    c = full.c[0, pos]
    crossing = np.flatnonzero(np.abs(c) > bound)
    strongest = int(crossing[np.argmax(np.abs(c[crossing]))])
    assert window.session_model.selected_unit == strongest
    assert window.session_model.selected_position == pos
    assert f"c[{strongest}] = {c[strongest]:+.4g}" in panel.status.text()
    assert f"c[{strongest}]" in window.statusBar().currentMessage()
    # the lane is shown: a filter that hid it was cleared, and it lies inside the view
    units = window.units_panel
    row = int(np.flatnonzero(units.order == strongest)[0])
    lo, hi = units.vb.viewRange()[1]
    assert lo <= row + 0.5 <= hi and units.sel_lane.isVisible()


def test_edit_dialog_shows_the_current_value_and_forks_follow_the_edited_unit(window):
    sm, dm = window.session_model, window.debugging
    sm.seek(sm.session.position_to_t(6))
    sm.select(1, 6)
    dialog = EditStateDialog(dm, window)
    dialog.what.setCurrentText("c")
    dialog.unit.setValue(3)
    c_now = float(sm.session.full().c[0, 6, 3])
    assert dialog.current.text() == f"c[3] = {c_now:+.6g}"
    dialog.unit.setValue(-1)
    assert dialog.current.text().startswith("c = [") and f"{c_now:+.4g}" in dialog.current.text()
    dialog.unit.setValue(3)
    dialog.value.setText(str(c_now + 2.0))
    fork = dialog.apply()
    dm.set_overlay(fork.name)
    panel = window.forks_panel
    # the plot follows unit 3 (not the selected unit 1) in c, and names both curves
    xs, ys = panel.curve_fork.getData()
    assert ys[6] == pytest.approx(c_now + 2.0)
    labels = [label.text for _, label in panel.legend.items]
    assert labels == ["c[3] original", f"c[3] {fork.name}"]
    # h at the edited step is unchanged: the wording says the edit acts from the next step
    text = panel.info.text()
    assert "‖h_fork − h‖ at step 6: 0" in text and "changes from the next step on" in text
    sm.step(1)
    assert "changes from the next step on" not in panel.info.text()
    assert float(panel.info.text().split("at step 7: ")[1].split()[0]) > 0


@pytest.mark.parametrize("answer", ["No", "Yes"])
def test_a_session_saved_with_trust_asks_before_running_code(make_window, tmp_path, monkeypatch,
                                                            answer):
    """The window opens a session saved with --trust only after the person confirms running
    the model's code again; declined, it opens without and its warnings say so."""
    from PySide6.QtWidgets import QMessageBox

    from engine import Session
    from engine.debugging.debugger import Debugger
    from engine.debugging.session_file import TRUST_NOTE, save_session
    from tests.helpers import record_code_runs, scripted_lstm_archive
    archive = scripted_lstm_archive(tmp_path / "scripted.pt")
    model = load_model(str(archive), trust=True)
    x = np.random.default_rng(1).standard_normal((1, 6, 3)).astype(np.float32)
    path = tmp_path / "s.lstmscope"
    save_session(path, Debugger(Session(model, x)))
    calls = record_code_runs(monkeypatch)
    asked: list[str] = []

    def question(parent, title, text, *args, **kwargs):
        asked.append(text)
        return getattr(QMessageBox.StandardButton, answer)
    monkeypatch.setattr(QMessageBox, "question", question)
    w = make_window()
    assert open_session_dialog(w, w.debugging, str(path))
    assert len(asked) == 1 and "own code" in asked[0]
    warnings = w.session_model.session.warnings
    if answer == "Yes":
        assert calls == [str(archive)] and TRUST_NOTE not in warnings
    else:
        assert calls == [] and TRUST_NOTE in warnings


def test_a_right_click_on_the_forks_plot_opens_pyqtgraphs_menu(window, qtbot):
    """The forks plot offers pyqtgraph's menu (zoom, axes, export) and builds it on the first
    right-click, not with the window (gui/widgets/plot_menus.py)."""
    from PySide6.QtWidgets import QApplication

    from tests.gui.conftest import bring_to_front
    bring_to_front(qtbot, window.forks_dock)
    view = window.forks_panel.plot
    box = view.getPlotItem().getViewBox()
    assert box.menu is None
    centre = view.mapFromScene(box.sceneBoundingRect().center())
    qtbot.mouseClick(view.viewport(), Qt.RightButton, pos=centre)
    qtbot.waitUntil(lambda: QApplication.activePopupWidget() is not None, timeout=5000)
    menu = QApplication.activePopupWidget()
    assert menu is box.menu
    texts = [a.text() for a in menu.actions()]
    assert "View All" in texts and "Plot Options" in texts and "Export..." in texts
    menu.close()


def test_a_stop_on_shift_f5_selects_only_that_units_row_in_the_statistics(window, qtbot):
    """Shift+F5 stops back at a hit with Shift still held: the unit's row of the layer view's
    statistics was selected as a Shift-click would (a range from the last anchor, or nothing),
    and a later test of the same process inherited the Shift (Qt keeps the last modifiers)."""
    from tests.gui.conftest import bring_to_front
    bring_to_front(qtbot, window.layer_dock)
    sm = window.session_model
    table = window.layer_view.table
    sm.select(5, -1)          # an anchor row a Shift-selection would extend from
    panel = window.breakpoints_panel
    panel.edit.setText("any(abs(c) > 0.0)")
    assert panel.add_from_edit()
    sm.seek(sm.steps)
    qtbot.keyClick(window, Qt.Key_F5, Qt.ShiftModifier)
    unit = sm.selected_unit
    assert sm.session.cursor is not None and unit >= 0 and unit != 5
    rows = {i.row() for i in table.selectedIndexes()}
    assert [int(table.item(r, 0).value) for r in rows] == [unit]
