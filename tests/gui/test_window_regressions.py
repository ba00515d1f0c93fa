"""What the window's state machine (test_window_machine.py) and people trying the window found,
each as the plain order of actions that shows it."""

from __future__ import annotations

import numpy as np
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QSpinBox

from gui.shown import expected


def _demo_window(make_window, qtbot, name="sine"):
    window = make_window()
    window.load(f"demo:{name}", wait=True)
    qtbot.wait(20)
    return window


def _wait_for_gradients(qtbot, window):
    qtbot.waitUntil(lambda: not window.grads._timer.isActive() and window.grads.jobs.idle()
                    and window.grads.jobs.pending is None, timeout=10000)
    qtbot.wait(20)


def test_a_gradient_of_the_new_model_is_drawn_with_the_new_models_lanes(make_window, qtbot):
    """Layer view opened once, Gradients in front, a lane selected, another demo opened: the
    layer view (behind its tab) drew the new model's |d/dC| with the old model's unit order
    ("index 6 is out of bounds for axis 1 with size 6") after every step."""
    from tests.gui.conftest import bring_to_front
    window = _demo_window(make_window, qtbot, "sine")
    bring_to_front(qtbot, window.layer_dock)
    bring_to_front(qtbot, window.grad_dock)
    window.session_model.select(2, 3)
    _wait_for_gradients(qtbot, window)
    with qtbot.capture_exceptions() as exceptions:
        window.load("demo:counter", wait=True)
        _wait_for_gradients(qtbot, window)
        window.act_step.trigger()
        _wait_for_gradients(qtbot, window)
    assert not exceptions, exceptions[0][1]
    assert window.errors == []


def test_the_text_views_find_button_finds_units(make_window, qtbot):
    from gui.teaching.docks import teaching_widget
    window = _demo_window(make_window, qtbot, "code")
    view = teaching_widget(window, "text", show=True)
    view.feature_edit.setText("in_quotes")
    with qtbot.capture_exceptions() as exceptions:
        view.find_button.click()
    assert not exceptions, exceptions[0][1]
    assert view.matches and view.feature_edit.text() == "in_quotes"


def test_the_cell_inspector_forgets_its_step_when_nothing_is_read(make_window, qtbot):
    """Unit 5 at t = 4 in the inspector, then another model: the cursor is before t = 0 and
    the inspector must not keep naming unit 5 / step 4."""
    from tests.gui.conftest import bring_to_front
    window = _demo_window(make_window, qtbot, "sine")
    bring_to_front(qtbot, window.cell_dock)
    window.session_model.seek(5)
    window.session_model.select(5, 4)
    assert "step 4" in window.cell_inspector.info.text()
    window.load("demo:counter", wait=True)
    qtbot.wait(20)
    inspector = window.cell_inspector
    assert window.session_model.session.cursor is None
    assert "step 4" not in inspector.info.text() and "unit 5" not in inspector.info.text()
    assert inspector.shown() in (None, expected(window.session_model))


def test_compare_inputs_starts_over_after_a_model_switch(make_window, qtbot):
    window = _demo_window(make_window, qtbot, "sine")
    window.session_model.select(2, 3)
    panel = window.compare_panel
    assert panel.compare_noise() is not None
    assert "unit 2" in panel.unit_plot.getAxis("left").labelText
    window.load("demo:counter", wait=True)
    qtbot.wait(20)
    assert "unit 2" not in panel.unit_plot.getAxis("left").labelText
    x_range = panel.div_plot.getViewBox().viewRange()[0]
    assert x_range[1] <= window.session_model.steps + 1       # this run's time axis, not 120
    assert panel.shown() is None


def test_the_compare_cursor_stands_before_the_first_input_when_nothing_is_read(make_window, qtbot):
    window = _demo_window(make_window, qtbot, "sine")
    panel = window.compare_panel
    assert panel.compare_noise() is not None
    assert panel.shown() == expected(window.session_model)     # cursor None, not 0


def test_the_forks_plot_follows_the_cursor_back_to_the_start_and_forgets_the_old_model(make_window, qtbot):
    window = _demo_window(make_window, qtbot, "sine")
    window.session_model.seek(10)
    assert window.forks_panel.perturb(3, 0.5) is not None
    window.session_model.seek(0)
    assert window.forks_panel.shown() in (None, expected(window.session_model))
    window.load("demo:counter", wait=True)
    qtbot.wait(20)
    panel = window.forks_panel
    assert panel.curve_fork.xData is None or len(panel.curve_fork.xData) == 0
    assert "no fork" in panel.info.text()
    title = panel.plot.getPlotItem().titleLabel
    assert not panel.legend.items and not (title.isVisible() and title.text)


def test_the_gradient_views_never_show_the_previous_models_gradient(make_window, qtbot):
    """Right after another model opens (before its gradient is computed) the Gradients dock
    shows nothing rather than the last model's curves."""
    from tests.gui.conftest import bring_to_front
    window = _demo_window(make_window, qtbot, "sine")
    bring_to_front(qtbot, window.grad_dock)
    _wait_for_gradients(qtbot, window)
    assert window.grad_panel.shown() == expected(window.session_model)
    window.load("demo:counter", wait=True)
    assert window.grad_panel.shown() in (None, expected(window.session_model))
    _wait_for_gradients(qtbot, window)
    assert window.grad_panel.shown() == expected(window.session_model)
    assert np.all(np.isfinite(window.grads.view.dc_abs))


def test_hover_text_shows_characters_not_html_entities(make_window, qtbot):
    """The counter demo reads brackets and quotes: "reads ')' (#2)", never "&#x27;)&#x27;"."""
    window = _demo_window(make_window, qtbot, "counter")
    panel = window.units_panel
    window.session_model.seek(5)
    for position in (2, 40):                     # read, and not read yet (no other HTML in it)
        text = panel.hover_text(0, position)
        panel.info.setText(text)
        panel.hovered.emit(text)
        message = window.statusBar().currentMessage()
        assert "&#" not in message and "&amp;" not in message and "reads '" in message
        assert panel.info.textFormat() == Qt.RichText


def test_a_gif_keeps_every_legend_colour(make_window, qtbot, tmp_path):
    """One palette for every frame, cut from the pixels: the legend's few pixels of 'o' and
    'C' were drawn grey and red. Each signal's line and text colour is kept exactly."""
    from PIL import Image

    from gui.export.figure import Figure
    window = _demo_window(make_window, qtbot, "counter")
    with Figure(window, "units") as figure:
        figure.save_gif(tmp_path / "steps.gif", range(0, 12), width=900)
        pal = figure.palette
    with Image.open(tmp_path / "steps.gif") as gif:
        gif.seek(gif.n_frames - 1)
        drawn = {tuple(c) for c in np.asarray(gif.convert("RGB")).reshape(-1, 3).tolist()}
    for signal in ("f", "i", "o", "c", "h"):
        for colour in (pal.signal(signal), pal.signal_text(signal)):
            rgb = tuple(int(colour[k:k + 2], 16) for k in (1, 3, 5))
            assert rgb in drawn, f"{signal}: {colour} is not drawn in the GIF"


def test_the_gate_saturates_event_fires_on_a_model_whose_forget_gate_saturates(make_window, qtbot):
    """saturated_forget's f stays near 0.0003 in every unit: ticking "gate saturates" marks a
    hit where it starts (position 0), F5 from the start stops there, and the event says its
    number is a share of units, not a gate level."""
    from engine import load_model
    from tests.gui.conftest import open_session
    from tests.helpers import FIXTURES
    window = make_window()
    model = load_model(str(FIXTURES / "failing" / "saturated_forget.keras"))
    open_session(window, model, np.load(FIXTURES / "failing" / "saturated_forget_input.npy"))
    panel = window.breakpoints_panel
    panel.ev_sat.setChecked(True)
    (bp,) = window.debugging.debugger.breakpoints
    assert "of units" in bp.label and "90%" in bp.label
    assert "of units" in panel.sat_frac.text()
    assert list(window.debugging.debugger.all_hits()[bp.id]) == [0]
    window.run_continue(1)
    assert window.session_model.session.cursor == 0


def test_go_to_unit_highlights_the_row_over_heat_strips(make_window, qtbot):
    """1024 units draw as heat strips: Ctrl+U scrolled to the unit, but its highlight lay under
    the opaque strips."""
    window = _demo_window(make_window, qtbot, "wide")
    panel = window.units_panel
    assert window.go_to_unit(500) == ""
    row = int(np.nonzero(panel.order == 500)[0][0])
    assert panel.sel_lane.isVisible() and tuple(panel.sel_lane.getRegion()) == (row, row + 1)
    panel.mode_combo.setCurrentText("heat map")        # strips even when zoomed in
    assert panel.mode == "heat"
    assert panel.sel_lane.isVisible() and panel.sel_lane.zValue() > panel.heat.item.zValue()


def test_go_to_unit_selects_the_units_row_in_the_statistics(make_window, qtbot):
    from tests.gui.conftest import bring_to_front
    window = _demo_window(make_window, qtbot, "text")
    bring_to_front(qtbot, window.layer_dock)
    window.go_to_unit(40)
    table = window.layer_view.table
    rows = {i.row() for i in table.selectedIndexes()}
    assert [int(table.item(r, 0).value) for r in rows] == [40]


def test_go_to_step_accepts_return(make_window, qtbot):
    """Ctrl+G, type a position, Return: the cursor goes there (the dialog once ignored Return)."""
    from PySide6.QtCore import QTimer
    from PySide6.QtWidgets import QApplication, QInputDialog
    window = _demo_window(make_window, qtbot, "sine")
    typed = []

    def answer():
        dialog = next(w for w in QApplication.topLevelWidgets()
                      if isinstance(w, QInputDialog) and w.isVisible())
        spin = dialog.findChild(QSpinBox)
        spin.selectAll()
        qtbot.keyClicks(spin, "37")
        qtbot.keyClick(spin, Qt.Key_Return)
        typed.append(True)
    QTimer.singleShot(200, answer)
    window.act_goto_step.trigger()
    assert typed and window.session_model.session.cursor == 37


def test_the_reads_row_says_when_it_shows_every_kth_input_and_keeps_the_one_read(make_window, qtbot):
    """demo:code's 165 characters do not fit one per step: the row showed about every third
    without saying so, and the cursor line was drawn over the character being read."""
    from gui.panels.input_strip import CursorFrame
    window = _demo_window(make_window, qtbot, "code")
    window.resize(1024, 640)
    qtbot.wait(50)
    window.session_model.seek(80)
    strip = window.units_panel.strip
    axis = window.units_panel.input_plot.getAxis("bottom")
    assert strip.every > 1
    assert f"every {strip.every}" in axis.labelText.replace("nd ", " ").replace("rd ", " ").replace(
        "th ", " ") and "of 165 inputs" in axis.labelText
    assert strip.tokens.cursor == 79 and isinstance(strip.cursor, CursorFrame)
    window.units_panel.vb.setXRange(70, 90, padding=0)        # zoomed in: every character
    qtbot.wait(20)
    assert strip.every == 1 and "every" not in axis.labelText


def test_a_long_status_hint_never_runs_into_the_position_text(make_window, qtbot):
    window = _demo_window(make_window, qtbot, "code")
    window.resize(1024, 640)
    qtbot.wait(50)
    bar = window.statusBar()
    hint = "   ·   ".join(["units filter '0:8' cleared to show unit 30"] * 3
                          + ["Code: try stepping to t = 81 (Ctrl+G)"])
    bar.showMessage(hint, 10000)
    shown = bar.shown_message()
    assert shown.endswith("…") and bar.toolTip() == hint and bar.currentMessage() == hint
    assert bar.fontMetrics().horizontalAdvance(shown) <= min(
        w.geometry().left() for w in (window.status_label, window.warnings_badge, window.first_pass)
        if w.isVisible())


def test_the_dark_themes_unticked_check_boxes_are_outlined_visibly(make_window, qtbot):
    """Fusion outlines an unticked box in the window colour darkened: on the dark window it
    nearly vanished. Its border must stand out from the window (WCAG 1.4.11: 3:1)."""
    from PySide6.QtWidgets import QApplication

    from gui.theme import DARK_CHECK_BORDER, DARK_QT_ROLES, contrast
    window = _demo_window(make_window, qtbot, "sine")
    window.act_dark.setChecked(True)
    window.toggle_theme()
    try:
        sheet = QApplication.instance().styleSheet()
        assert "indicator:unchecked" in sheet and DARK_CHECK_BORDER in sheet
        assert contrast(DARK_CHECK_BORDER, DARK_QT_ROLES["Window"]) >= 3.0
    finally:
        window.act_dark.setChecked(False)
        window.toggle_theme()
    assert QApplication.instance().styleSheet() == ""


def test_the_breakpoints_list_keeps_a_few_rows_beside_the_text_view(make_window, qtbot):
    """1366x768 with the Text view open: the Breakpoints list was squeezed to its header; the
    dock now scrolls and the list keeps room for four rows."""
    window = _demo_window(make_window, qtbot, "code")
    window.resize(1366, 768)
    window.show_teaching("text", True)
    window.breakpoints_dock.raise_()
    qtbot.wait(100)
    rows = 5 * window.breakpoints_panel.tree.fontMetrics().height()     # header and four rows
    for view in (window.breakpoints_panel.tree, window.watches_panel.table,
                 window.forks_panel.tree, window.layer_view.table):
        assert view.minimumHeight() >= rows and view.height() >= rows


def test_stepping_with_a_fork_keeps_its_legend_and_title_and_extends_its_curve(make_window, qtbot):
    """The legend and title are set when the fork or unit shown changes, not re-made at every
    step (each re-make laid the plot out again: time every step paid)."""
    window = _demo_window(make_window, qtbot, "sine")
    window.session_model.seek(10)
    panel = window.forks_panel
    fork = panel.perturb(3, 0.5)
    assert fork is not None
    name = fork.name
    labels = [label for _, label in panel.legend.items]
    title = panel.plot.getPlotItem().titleLabel.text
    assert [label.text for label in labels] == ["h[3] original", f"h[3] {name}"]
    for _ in range(3):
        window.session_model.step(1)
    assert [label for _, label in panel.legend.items] == labels      # the same items, kept
    assert panel.plot.getPlotItem().titleLabel.text == title
    known = np.isfinite(panel.curve_fork.yData)
    assert known.all() and panel.shown() == expected(window.session_model)
    window.session_model.select(5, None)     # another unit is not the perturbed one: same plot
    assert [label.text for _, label in panel.legend.items] == ["h[3] original", f"h[3] {name}"]


def test_the_forks_dock_fits_its_width_at_1366x768_legend_included(make_window, qtbot):
    """At 1366×768 the Forks panel was wider than its dock (a row of five buttons, a one-line
    fork description), so it scrolled sideways and the plot's legend was cut at the right."""
    from PySide6.QtWidgets import QScrollArea

    from tests.gui.conftest import bring_to_front
    window = _demo_window(make_window, qtbot, "text")
    window.resize(1366, 768)
    window.reset_layout()
    window.resize(1366, 768)
    window.session_model.seek(11)
    panel = window.forks_panel
    assert panel.perturb(3, 0.5) is not None
    bring_to_front(qtbot, window.forks_dock)
    qtbot.wait(50)
    area = window.forks_dock.findChild(QScrollArea)
    assert panel.width() <= area.viewport().width(), (panel.width(), area.viewport().width())
    assert not area.horizontalScrollBar().isVisible()
    view = panel.plot.getPlotItem().getViewBox()
    legend = panel.legend.mapRectToScene(panel.legend.boundingRect())
    assert panel.legend.items and view.sceneBoundingRect().contains(legend)
    assert panel.plot.width() <= area.viewport().width()


def test_time_axes_never_scale_their_numbers(make_window, qtbot):
    """Before a model is loaded the units lanes' time axis spans about ±0.5, and pyqtgraph's
    automatic SI prefix titled it 'time step t (input position) (x0.001)' over ticks −400…400
    (seen in a real window while a demo loaded): input positions are whole numbers, read as is."""
    window = make_window()
    axes = [window.units_panel.input_plot.getAxis("bottom"),
            window.grad_panel.strip.plot.getAxis("bottom")]
    for axis in axes:
        axis.setRange(-0.5, 0.5)
        axis.updateAutoSIPrefix()
        assert "x0.001" not in axis.labelString(), axis.labelString()
        assert axis.autoSIPrefixScale == 1.0, axes.index(axis)


def test_the_code_demos_token_letters_never_overlap_in_the_input_panel(make_window, qtbot):
    """165 characters over a laptop's width: a letter that would touch a neighbour's is left
    out (the next zoom or a wider window shows it), never drawn into it."""
    from engine import load_model
    from engine.loaders.demos import default_demo_input, demo_info
    from tests.figure_checks import plot_texts, text_problems
    from tests.gui.conftest import open_session
    from tests.gui.test_layout import _fit
    w = make_window()
    model = load_model("demo:code")
    open_session(w, model, default_demo_input(demo_info("code"), model))
    for size in ((1366, 768), (1920, 1080)):
        _fit(w, qtbot, size)
        letters = [t for t in plot_texts(w.input_panel.glw) if len(t.text) == 1]
        assert len(letters) > 40, size                      # most letters still shown
        overlaps = [p for p in text_problems(letters) if "overlaps" in p]
        assert overlaps == [], f"{size}: {overlaps[:3]}"
