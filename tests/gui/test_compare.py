"""Compare two inputs in the window: numbers come from the engine's two runs."""

from __future__ import annotations

import numpy as np

from engine import Session
from engine.debugging.debugger import add_noise
from tests.gui.conftest import open_session, sine_input, small_model


def test_noisy_copy_divergence_matches_two_engine_runs(shared_window):
    w = shared_window
    model = small_model()
    x = sine_input(25)
    open_session(w, model, x)
    panel = w.compare_panel
    panel.sigma.setValue(0.2)
    panel.seed.setValue(3)
    w.session_model.select(2, -1)
    comp = panel.compare_noise()
    b = Session(model, add_noise(w.session_model.session.x, 0.2, 3))
    b.to_end()
    a = w.session_model.session.full()
    expected = np.sqrt(((a.h.astype(np.float64) - b.trace.h) ** 2).sum(-1))
    assert np.allclose(comp.divergence, expected)
    xs, ys = panel.div_curve.getData()
    assert np.allclose(ys, expected[0])
    _, hb = panel.curve_b.getData()
    assert np.allclose(hb, b.trace.h[0, :, 2])
    assert "diverge first at t = 0" in panel.summary.text()


def test_mismatched_second_input_is_reported(shared_window, tmp_path):
    w = shared_window
    open_session(w, small_model(), sine_input(25))
    assert w.compare_panel.compare_with(sine_input(10), "short") is None
    assert "same batch and length" in w.errors[-1]


def test_fork_overlay_draws_the_forks_state_over_the_lanes(shared_window):
    w = shared_window
    open_session(w, small_model(), sine_input(25))
    w.session_model.seek(10)
    dm = w.debugging
    fork = dm.debugger.perturb(unit=1, delta=0.5)
    dm.set_overlay(fork.name)
    items = w.units_panel._overlay_items
    assert len(items) == 2                            # C and h, every lane in one curve each
    xs, ys = items[1].getData()
    lane_rows = len(w.units_panel.order)
    assert len(xs) == lane_rows * (25 + 1)
    expected = w.units_panel._scaler.to_lane("h", fork.signal("h")[0], w.units_panel.order)
    assert np.allclose(ys.reshape(lane_rows, 26)[:, :25], expected, equal_nan=True)
    dm.set_overlay("")
    assert w.units_panel._overlay_items == []


def test_fork_overlay_follows_the_curves_into_heat_mode(shared_window):
    """In heat mode the lanes are colour strips and their curves hide; a fork's dashed
    curves drawn over those strips striped the whole panel (seen on demo:text, 64 units)."""
    w = shared_window
    open_session(w, small_model(), sine_input(25))
    w.session_model.seek(10)
    dm = w.debugging
    panel = w.units_panel
    dm.set_overlay(dm.debugger.perturb(unit=1, delta=0.5).name)
    panel.mode_combo.setCurrentText("heat map")
    assert panel.mode == "heat"
    assert [item.isVisible() for item in panel._overlay_items] == [False, False]
    dm.set_overlay(dm.debugger.perturb(unit=2, delta=0.5).name)   # a new fork in heat mode
    assert [item.isVisible() for item in panel._overlay_items] == [False, False]
    panel.mode_combo.setCurrentText("lanes")
    assert panel.mode == "lanes"
    assert [item.isVisible() for item in panel._overlay_items] == [True, True]


def test_to_token_takes_a_character_of_the_text_demo(make_window, qtbot):
    from engine.debugging.debugger import change_token
    w = make_window()
    w.resize(1366, 768)
    w.load("demo:text", wait=True)
    qtbot.waitUntil(lambda: w.session_model.ready and w.session_model.demo is not None, timeout=20000)
    panel = w.compare_panel
    vocab = w.session_model.vocabulary()
    assert panel.token.isVisible() and not panel.sigma.isVisible()
    panel.position.setValue(4)
    x = np.asarray(w.session_model.session.x)
    assert f"'{w.session_model.token_text(int(x[0, 4]))}'" in panel.now.text()
    panel.token.setEditText("z")
    assert panel.token_id() == vocab.index("z")
    panel.token.setEditText(" ")
    assert panel.token_id() == vocab.index(" ")
    panel.token.setEditText("#3")
    assert panel.token_id() == 3
    panel.token.setEditText("z")
    comp = panel.compare_token()
    b = Session(w.session_model.model, change_token(x, 4, vocab.index("z")))
    expected = np.sqrt(((comp.a.h.astype(np.float64) - b.full().h) ** 2).sum(-1))
    assert np.allclose(comp.divergence, expected)
    assert "token at 4 → z" in panel.summary.text()
    panel.token.setEditText("not a token")
    assert panel.compare_token() is None and "not a token of this model" in w.errors[-1]
    # at the bottom of a 1366 x 768 window the two plots sit side by side, each readable
    w.compare_dock.raise_()
    qtbot.wait(50)
    for widget in (panel.div_widget, panel.unit_widget):
        assert widget.height() >= 120 and widget.width() >= 220
    assert panel.height() <= panel.parentWidget().height()     # nothing scrolled out of the dock
    assert panel.div_widget.y() == panel.unit_widget.y()


def test_compare_plots_follow_a_theme_switch(make_window):
    """The Compare inputs dock's plots stayed white with black axes in the dark theme (it was
    not among the themed views); its axis titles, set again per comparison, too."""
    from PySide6.QtGui import QColor

    from gui.theme import palette
    w = make_window()
    open_session(w, small_model(), sine_input(25))
    w.act_dark.setChecked(True)
    w.toggle_theme()
    try:
        dark = palette("dark")
        panel = w.compare_panel
        for widget, plot in ((panel.div_widget, panel.div_plot), (panel.unit_widget, panel.unit_plot)):
            assert widget.backgroundBrush().color().name() == QColor(dark.background).name()
            assert plot.getAxis("bottom").textPen().color().name() == QColor(dark.foreground).name()
        assert panel.compare_with(sine_input(25) + 0.1, "shifted") is not None
        left = panel.unit_plot.getAxis("left")
        assert left.labelText.startswith("h of unit")
        assert QColor(left.labelStyle["color"]).name() == QColor(dark.foreground).name()
    finally:
        w.act_dark.setChecked(False)
        w.toggle_theme()


def test_forks_plot_and_watch_sparklines_follow_a_theme_switch(make_window):
    """The Forks dock's plot (pyqtgraph's white default) and the Watches dock's sparklines
    (painted with the palette they were made with) stayed light in the dark theme."""
    from PySide6.QtGui import QColor

    from gui.theme import palette
    w = make_window()
    open_session(w, small_model(), sine_input(25))
    w.session_model.seek(10)
    w.watches_panel.edit.setText("mean(h)")
    assert w.watches_panel.add_from_edit()
    w.debugging.set_overlay(w.debugging.debugger.perturb(unit=1, delta=0.5).name)
    w.act_dark.setChecked(True)
    w.toggle_theme()
    try:
        dark = palette("dark")
        plot = w.forks_panel.plot
        assert plot.backgroundBrush().color().name() == QColor(dark.background).name()
        axis = plot.getPlotItem().getAxis("bottom")
        assert axis.textPen().color().name() == QColor(dark.foreground).name()
        spark = w.watches_panel.table.cellWidget(0, 2)
        assert spark.pal.background == dark.background
    finally:
        w.act_dark.setChecked(False)
        w.toggle_theme()


def test_compare_axes_show_the_values_not_a_scaled_prefix(shared_window):
    """h is unitless: pyqtgraph's automatic SI prefix wrote '‖h_a − h_b‖ (x0.001)' over ticks
    0–200 for a divergence of 0.2 (demo sine, noise σ 0.1), as the other docks do not."""
    w = shared_window
    open_session(w, small_model(), sine_input(25))
    panel = w.compare_panel
    assert panel.compare_with(sine_input(25) + 0.001, "shifted") is not None
    for plot in (panel.div_plot, panel.unit_plot):
        plot.getViewBox().autoRange()             # the y range a repaint would take
        axis = plot.getAxis("left")
        assert axis.autoSIPrefixScale == 1.0
        assert "(x0" not in axis.labelString()
