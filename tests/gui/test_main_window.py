"""The main window as a user drives it: keys, scrubbing, layers, hover, bad files, pixels."""

from __future__ import annotations

import sys

import numpy as np
import pytest
from PySide6.QtCore import QPointF, Qt

from engine.cli.commands import resolve_input
from tests.gui.conftest import open_session, sine_input, small_model, stacked_model


@pytest.fixture
def window(shared_window):
    w = shared_window
    open_session(w, small_model(), sine_input())
    return w


def test_shortcuts_move_the_cursor(window, qtbot):
    s = window.session_model.session
    qtbot.keyClick(window, Qt.Key_F10)
    assert s.t == 1
    qtbot.keyClick(window, Qt.Key_Right)
    assert s.t == 2
    qtbot.keyClick(window, Qt.Key_F10, Qt.ShiftModifier)
    assert s.t == 1
    qtbot.keyClick(window, Qt.Key_Left)
    assert s.t == 0
    qtbot.keyClick(window, Qt.Key_End)
    assert s.t == s.steps
    qtbot.keyClick(window, Qt.Key_Home)
    assert s.t == 0
    qtbot.keyClick(window, Qt.Key_F5)
    assert s.t == s.steps
    qtbot.keyClick(window, Qt.Key_Home)
    qtbot.keyClick(window, Qt.Key_Space)
    assert window.play_timer.isActive()
    qtbot.waitUntil(lambda: s.t >= 2, timeout=10000)
    qtbot.keyClick(window, Qt.Key_Space)
    assert not window.play_timer.isActive()


def test_scrubbing_and_stepping_agree_with_the_session(window):
    s = window.session_model.session
    window.timeline.setValue(17)
    assert s.t == 17 and window.units_panel.cursor.value() == 16
    window.session_model.step(3)
    assert window.timeline.value() == 20 == s.t
    assert "t = 19 · 20 of 30 read" in window.status_label.text()
    window.go_to_position(4)
    assert s.t == 5 and s.cursor == 4


def test_lanes_match_units_and_the_chosen_layer(make_window):
    w = make_window()
    open_session(w, stacked_model(), sine_input(12))
    assert w.units_panel.lane_count() == 5
    assert w.layer_combo.count() == 2
    w.layer_combo.setCurrentIndex(1)
    assert w.session_model.session.layer_index == 1
    assert w.units_panel.lane_count() == 3
    assert w.units_panel.axis.tickStrings([0.5, 2.5], 1, 1) == ["unit 0", "unit 2"]
    assert "units N = 3" in w.badges.texts()["units"]
    assert "(5, 12)" in w.badges.texts()["kernel"] and "(3, 12)" in w.badges.texts()["recurrent_kernel"]


def test_hover_reports_the_engine_value(window, qtbot):
    s = window.session_model.session
    s.seek(10)
    panel = window.units_panel
    row = 2
    unit = int(panel.order[row])
    scene = panel.vb.mapViewToScene(QPointF(7.0, row + 0.5))
    panel._mouse_moved(scene)
    text = panel.info.text()
    assert f"unit {unit}" in text and "t = 7" in text
    expected = s.trace.f[0, 7, unit]
    assert f"{expected:+.4f}" in text
    assert panel.describe_point(unit, 7)["h"] == pytest.approx(float(s.trace.h[0, 7, unit]))
    assert panel.describe_point(unit, 20)["h"] is None        # not read yet


def test_click_selects_a_unit_and_step_in_every_panel(window, qtbot):
    panel = window.units_panel
    comparison = window.compare_panel.compare_noise()
    window.session_model.select(3, 9)
    assert panel.sel_lane.isVisible() and panel.sel_lane.getRegion() == (3, 4)
    assert panel.sel_step.value() == 9
    inspector = window.cell_inspector              # the cell diagram shows that unit at that step
    assert (inspector.unit, inspector.pinned, inspector.unit_spin.value()) == (3, 9, 3)
    assert window.cell_dock.isVisible()
    assert window.layer_view.perturb_unit.value() == 3
    _, h_a = window.compare_panel.curve_a.getData()
    assert np.array_equal(h_a, comparison.a.h[0, :, 3])
    assert "unit 3" in window.compare_panel.unit_plot.getAxis("left").labelText


def test_filter_and_sort_reorder_lanes(window):
    panel = window.units_panel
    panel.set_filter("1:4")
    assert panel.order.tolist() == [1, 2, 3]
    panel.set_filter("top 2")
    assert panel.lane_count() == 2
    panel.set_filter("0,5")
    assert panel.order.tolist() == [0, 5]
    panel.set_filter("")
    panel.set_sort("variance")
    var = np.nanvar(window.session_model.full().h[0], axis=0)
    assert panel.order.tolist() == np.argsort(-var, kind="stable").tolist()
    assert panel.go_to_unit(int(panel.order[-1]))


def test_bad_file_leaves_the_previous_model_loaded(window, tmp_path):
    before = window.session_model.session
    bad = tmp_path / "broken.keras"
    bad.write_bytes(b"not a zip")
    window.load(str(bad), wait=True)
    assert window.session_model.session is before
    assert window.errors and "broken.keras" in window.errors[-1]
    window.load(str(tmp_path / "missing.h5"), wait=True)
    assert window.session_model.session is before and "no such file" in window.errors[-1]


def test_a_file_on_which_hdf5_loops_forever_gives_a_message(window, monkeypatch):
    """The window's load goes through the reader process: a real HDF5 hang (the library
    spins on a corrupt attribute heap) ends in a message, the previous model stays
    (docs/architecture.md, "Files in, files out")."""
    import time

    from tests.helpers import FIXTURES
    monkeypatch.setenv("LSTM_SCOPE_READ_TIMEOUT", "1")
    before = window.session_model.session
    start = time.monotonic()
    window.load(str(FIXTURES / "hostile" / "gcol_object_size.h5"), wait=True)
    assert time.monotonic() - start < 30
    assert window.session_model.session is before
    assert window.errors and "gcol_object_size.h5" in window.errors[-1]
    assert "no progress" in window.errors[-1]


def test_background_load_of_a_demo(make_window, qtbot):
    w = make_window()
    w.load("demo:wide", wait=True)
    qtbot.waitUntil(lambda: w.session_model.ready, timeout=20000)
    assert w.units_panel.lane_count() == 1024
    assert w.session_model.source == "demo:wide"


def test_screenshot_at_step_k_is_not_blank(window, tmp_path):
    window.session_model.seek(15)
    image = window.units_panel.glw.grab().toImage()
    path = tmp_path / "shot.png"
    assert image.save(str(path))
    w, h = image.width(), image.height()
    pixels = np.array([[image.pixelColor(x, y).lightness() for x in range(0, w, 7)]
                       for y in range(0, h, 7)])
    assert pixels.std() > 10
    # left of the cursor there are drawn curves, the unread part shows only faint ghosts
    assert len(np.unique(pixels)) > 20


def test_settings_remember_recent_files_and_theme(window, tmp_path):
    window._remember("/data/a.keras")
    window._remember("/data/b.keras")
    window._remember("/data/a.keras")
    assert window._recent()[:2] == ["/data/a.keras", "/data/b.keras"]
    window.act_dark.setChecked(True)
    window.toggle_theme()
    assert window.settings.value("theme") == "dark"


def test_an_exception_in_a_slot_is_one_line_in_the_window_which_keeps_working(window):
    from PySide6.QtGui import QAction

    from gui.app import install_excepthook

    def broken_slot() -> None:
        raise ValueError("bad value\nsecond line of detail")
    action = QAction("broken", window)
    action.triggered.connect(broken_slot)
    before = sys.excepthook
    restore = install_excepthook(window.report_error)
    try:
        action.trigger()
    finally:
        restore()
    assert sys.excepthook is before
    assert window.errors == ["ValueError: bad value"]
    t = window.session_model.t
    window.act_step.trigger()                     # still usable
    assert window.session_model.t == t + 1


def test_cancel_during_a_stuck_model_read_keeps_the_window_and_its_model(make_window, qtbot,
                                                                          monkeypatch):
    """A model file whose HDF5 metadata never finishes reading (a corrupt heap loops forever):
    the progress dialog's Cancel kills the reader process at once, the previous model stays,
    no error dialog appears, and the next load works."""
    import time

    from engine.loaders import h5read
    from tests.helpers import FIXTURES
    monkeypatch.setenv("LSTM_SCOPE_READ_TIMEOUT", "60")
    window = make_window()
    window.load("demo:sine", wait=True)      # a bundled demo is read in-process: before the patch
    before = window.session_model.session
    assert before is not None and window.errors == []
    monkeypatch.setattr(h5read, "READER", "tests.children:stuck_reader")   # the reader's process
    window.load(str(FIXTURES / "keras2" / "lstm_plain.h5"))
    qtbot.waitUntil(lambda: bool(h5read._ACTIVE), timeout=10000)
    qtbot.waitUntil(lambda: window._progress is not None and window._progress.isVisible(),
                    timeout=5000)
    start = time.monotonic()
    from PySide6.QtWidgets import QPushButton
    button = window._progress.findChild(QPushButton)
    qtbot.mouseClick(button, Qt.LeftButton)   # the dialog's own Cancel button
    qtbot.waitUntil(lambda: not h5read._ACTIVE, timeout=5000)
    assert time.monotonic() - start < 5
    assert not window._progress.isVisible()
    window.loader.wait(10000)
    qtbot.wait(50)
    assert window.session_model.session is before and window.errors == []
    assert not window.loader.running, "the cancelled load's thread is still running"
    monkeypatch.undo()
    window.load("demo:counter", wait=True)
    assert window.session_model.session is not before and window.errors == []



def test_opening_another_model_keeps_none_of_the_last_runs_buffers(make_window):
    """engine.system.buffers keeps a dropped run's big arrays for the next run of their size;
    once another model is open, the last model's run goes back to the system instead."""
    import gc

    from engine import load_model
    from engine.system import buffers
    window = make_window()
    sine = load_model("demo:sine")
    x = np.sin(np.arange(20_000, dtype=np.float32) * np.float32(0.05))[None, :, None]
    x = np.repeat(x, sine.input_features, axis=2)
    open_session(window, sine, x)
    counter = load_model("demo:counter")
    open_session(window, counter, resolve_input(counter, None, None))
    window.grads.jobs.cancel()
    gc.collect()
    assert buffers.held_bytes() == 0


def test_view_menu_keys_switch_the_theme_open_the_unrolled_view_and_reset_the_layout(window, qtbot):
    """The View menu's commands had no keys (seen in a new user's walk-through): Ctrl+Shift+D
    switches the theme, Ctrl+Shift+U shows the unrolled view, Ctrl+Shift+R puts docks back."""
    before = window.theme
    qtbot.keyClick(window, Qt.Key_D, Qt.ControlModifier | Qt.ShiftModifier)
    assert window.theme != before and window.act_dark.isChecked() == (window.theme == "dark")
    qtbot.keyClick(window, Qt.Key_D, Qt.ControlModifier | Qt.ShiftModifier)
    assert window.theme == before
    unrolled = window.act_teaching["unrolled"]
    assert not unrolled.isChecked()
    qtbot.keyClick(window, Qt.Key_U, Qt.ControlModifier | Qt.ShiftModifier)
    assert unrolled.isChecked()
    window.input_dock.setFloating(True)
    qtbot.keyClick(window, Qt.Key_R, Qt.ControlModifier | Qt.ShiftModifier)
    assert not window.input_dock.isFloating()
    assert not window.errors


def test_no_plot_builds_a_context_menu_before_it_is_asked_for(window):
    """pyqtgraph builds a ViewBox's menu in its constructor, a few milliseconds for each of
    the window's plots; a plot offering none is made without it and the one offering it builds
    it on the first right-click (gui/widgets/plot_menus.py, tested with the forks plot)."""
    import pyqtgraph as pg

    from gui.widgets.plot_menus import LazyMenuViewBox
    boxes = [item for view in window.findChildren(pg.GraphicsView) for item in view.scene().items()
             if isinstance(item, pg.ViewBox)]
    assert len(boxes) >= 10
    assert [b for b in boxes if b.menu is not None] == []
    offered = [b for b in boxes if b.menuEnabled()]
    assert offered and all(isinstance(b, LazyMenuViewBox) for b in offered)
