"""Layer view: heat-map columns, statistics and what-if differences are the engine's."""

from __future__ import annotations

import numpy as np
import pytest

from engine.analyses.analysis import input_blocks, recurrent_blocks, unit_stats
from tests import reference
from tests.gui.conftest import bring_to_front, open_session, sine_input, small_model


def test_heat_columns_fill_in_and_match_trace(make_window, qtbot):
    window = make_window()
    bring_to_front(qtbot, window.layer_dock)
    window.layer_view.set_signal_visible("z_f", True)
    session = open_session(window, small_model(6, 3), sine_input(40))
    lv = window.layer_view
    assert set(lv.heat) == {"f", "i", "o", "g", "c", "h", "z_f", "dC"}   # dC: the gradient map
    assert np.isnan(lv.heat["h"].data).all()
    window.session_model.step(13)
    full = session.full()
    order = lv.order
    for name, heat in lv.heat.items():
        if name == "dC":
            continue                                # the gradient map: tests/gui/test_grad_views.py
        ref = full.signal(name)[0]                  # (T, N)
        np.testing.assert_array_equal(heat.data[:, :13], ref[:13, order].T)
        assert np.isnan(heat.data[:, 13:]).all()
    window.session_model.back(3)
    assert np.isnan(lv.heat["c"].data[:, 10:]).all()
    np.testing.assert_array_equal(lv.heat["c"].data[:, 9], full.c[0, 9, order])
    assert lv.heat["h"].cursor.value() == session.cursor == 9


def test_rows_follow_units_panel_order(make_window, qtbot):
    window = make_window()
    bring_to_front(qtbot, window.layer_dock)
    session = open_session(window, small_model(8, 3), sine_input(30))
    window.units_panel.set_sort("variance")
    window.session_model.step(4)
    order = window.units_panel.order
    assert not np.array_equal(order, np.arange(8))
    lv = window.layer_view
    np.testing.assert_array_equal(lv.order, order)
    np.testing.assert_array_equal(lv.heat["f"].data[:, 3], session.full().f[0, 3, order])


def test_stats_and_kernels_match_engine(make_window, qtbot):
    window = make_window()
    bring_to_front(qtbot, window.layer_dock)
    session = open_session(window, small_model(6, 3), sine_input(40))
    lv = window.layer_view
    st = unit_stats(session.full(), 0)
    for unit in range(6):
        assert lv.stat_value(unit, "mean h") == pytest.approx(float(st.mean["h"][unit]), abs=0)
        assert lv.stat_value(unit, "var C") == pytest.approx(float(st.variance["c"][unit]), abs=0)
        assert lv.stat_value(unit, "sat f") == pytest.approx(float(st.saturation["f"][unit]))
        assert lv.stat_value(unit, "dead") == int(st.dead[unit])
        hl = float(st.half_life[unit])
        assert lv.stat_value(unit, "half-life f") == (pytest.approx(hl) if np.isfinite(hl) else np.inf)
    lv.table.sortItems(2)      # var h, ascending
    shown = [lv.table.item(r, 2).value for r in range(6)]
    assert shown == sorted(shown)
    rec = recurrent_blocks(session.full().weights, lv.order)
    inp = input_blocks(session.full().weights, lv.order)
    np.testing.assert_array_equal(lv.kernel_images["U_g"].image, rec["g"])
    np.testing.assert_array_equal(lv.kernel_images["W_o"].image, inp["o"])


def _h(w, x, u=None, edit=None):
    """h (T, N) of the shared reference LSTM for one sequence; ``edit`` (position, unit, delta)
    adds delta to that unit's h right after that position (a perturb fork)."""
    def bump(h, c):
        h[:, edit[1]] += edit[2]
        return h, c
    edits = {edit[0]: bump} if edit is not None else None
    u = w.recurrent_kernel if u is None else u
    return reference.lstm(x[None], w.kernel, u, w.bias, edits=edits)[0][0]


def test_what_ifs_tab_before_any_fork_says_what_it_will_show_over_the_run(make_window, qtbot):
    """Before any fork the tab drew an empty axis around the cursor line at -0.5 (-500..-100,
    x0.001): it must span the run's steps and units, with a title saying what will appear."""
    window = make_window()
    bring_to_front(qtbot, window.layer_dock)
    open_session(window, small_model(6, 3), sine_input(40))
    lv = window.layer_view
    lv.tabs.setCurrentIndex(2)
    qtbot.wait(10)
    assert lv.diff_fork == "" and lv.diff_data.size == 0
    (x0, x1), (y0, y1) = lv.diff_plot.getViewBox().viewRange()
    assert x0 == pytest.approx(-0.5) and x1 == pytest.approx(39.5)
    assert y0 == pytest.approx(0) and y1 == pytest.approx(6)
    assert "fork" in lv.diff_plot.titleLabel.text and "real run" in lv.diff_plot.titleLabel.text


def test_decouple_difference_matches_numpy(make_window, qtbot):
    window = make_window()
    bring_to_front(qtbot, window.layer_dock)
    x = sine_input(25)
    session = open_session(window, small_model(6, 3), x)
    lv = window.layer_view
    fork = lv.decouple()
    assert fork is not None and "decouple" in fork.describe()
    assert window.debugging.overlay == fork.name
    w = session.full().weights
    n = w.units
    u = np.array(w.recurrent_kernel) * np.tile(np.eye(n), (1, 4))
    ref = _h(w, x, u) - _h(w, x)
    np.testing.assert_allclose(lv.diff_data, ref[:, lv.order].T, atol=2e-5)
    np.testing.assert_array_equal(lv.diff_data, fork.diff("h")[0][:, lv.order].T)
    assert "minus the real run" in lv.diff_plot.titleLabel.text


def test_perturb_difference_matches_numpy(make_window, qtbot):
    window = make_window()
    bring_to_front(qtbot, window.layer_dock)
    x = sine_input(25)
    session = open_session(window, small_model(6, 3), x)
    window.session_model.step(9)
    lv = window.layer_view
    assert lv.perturb_step.value() == 8
    fork = lv.perturb(2, 8, 0.75)
    assert fork is not None and fork.edit.kind == "perturb"
    ref = _h(session.full().weights, x, edit=(8, 2, 0.75)) - _h(session.full().weights, x)
    np.testing.assert_allclose(lv.diff_data, ref[:, lv.order].T, atol=2e-5)
    assert np.all(lv.diff_data[:, :8] == 0)
    assert np.count_nonzero(lv.diff_data[:, 9]) > 1        # every unit moves from t+1 on
    lv.diff_combo.setCurrentText("c")
    np.testing.assert_array_equal(lv.diff_data, fork.diff("c")[0][:, lv.order].T)


def test_layer_view_shows_what_each_step_reads_under_the_maps(make_window, qtbot):
    from tests.gui.conftest import open_session, sine_input, small_model
    w = make_window()
    bring_to_front(qtbot, w.layer_dock)
    open_session(w, small_model(), sine_input(30))
    view = w.layer_view
    assert view.strip is not None and view.strip.kind == "values"
    items = [view.glw.ci.getItem(r, 0) for r in range(len(view.heat) + 1)]
    assert items[-1] is view.strip.plot                  # the last row, under every map
    assert view.strip.plot.getAxis("bottom").isVisible()
    w.session_model.seek(12)
    assert view.strip.cursor.value() == 11
    image = view.strip.image.image
    np.testing.assert_allclose(image, np.asarray(w.session_model.session.x)[0].T)


def test_behind_its_tab_the_layer_view_waits_until_clicked(make_window, qtbot):
    """Opening a model builds only what is on screen: the Layer view behind the Input tab
    builds nothing (and follows no steps) until its tab comes to the front, then shows the
    engine's numbers at the cursor."""
    from tests.gui.conftest import bring_to_front
    window = make_window()
    bring_to_front(qtbot, window.input_dock)
    session = open_session(window, small_model(6, 3), sine_input(40))
    lv = window.layer_view
    window.session_model.step(7)
    assert lv.heat == {} and lv._stale
    bring_to_front(qtbot, window.layer_dock)
    assert not lv._stale and "c" in lv.heat
    np.testing.assert_array_equal(lv.heat["c"].data[:, :7], session.full().c[0][:7][:, lv.order].T)
    assert np.isnan(lv.heat["c"].data[:, 7:]).all()


def test_a_long_map_keeps_few_tiles_and_a_step_repaints_its_own(qtbot):
    """A long run's map is cut into at most MAX_TILES images (256-step tiles made 9,400 images
    for 300,000 steps); writing a column re-renders the tile that holds it, with its value."""
    import pyqtgraph as pg

    from engine.cells.cell import LSTM_CELL
    from gui.panels.heat_maps import MAX_TILES, TILE, HeatPlot
    from gui.theme import LIGHT
    widget = pg.GraphicsLayoutWidget()
    qtbot.addWidget(widget)
    plot = widget.addPlot()
    heat = HeatPlot(plot, "h", LIGHT, LSTM_CELL)
    heat.set_data(np.zeros((3, 1000), np.float32), (-1.0, 1.0))
    assert heat.tile == TILE and len(heat.tiles) == 4
    steps = 40_000
    heat.set_data(np.zeros((3, steps), np.float32), (-1.0, 1.0), start=100)
    assert len(heat.tiles) <= MAX_TILES and heat.tile * len(heat.tiles) >= steps
    heat.set_column(100 + 30_000, np.array([0.5, -0.5, 1.0], np.float32))
    k = 30_000 // heat.tile
    column = heat.tiles[k].image[:, 30_000 - k * heat.tile]
    np.testing.assert_array_equal(column, [0.5, -0.5, 1.0])


def test_the_gradient_map_has_no_gaps_where_steps_were_read(make_window, qtbot):
    from engine import load_model
    from engine.loaders.demos import default_demo_input, demo_info
    from gui.widgets.plot_style import decade_text
    window = make_window()
    bring_to_front(qtbot, window.layer_dock)
    model = load_model("demo:code")
    open_session(window, model, default_demo_input(demo_info("code"), model))
    window.session_model.seek(101)
    window.grads.refresh()
    lv = window.layer_view
    dc = window.grads.view.dc_abs[:101]
    assert (dc == 0).any()                # exact zeros on read steps: once white gaps
    data = lv.heat["dC"].data[:, :101]
    assert not np.isnan(data).any()
    lo, _ = lv.heat["dC"].levels
    assert np.all(data[(dc[:, lv.order].T == 0)] == lo)          # drawn as the scale's bottom
    ticks = lv.colour_bars["dC"].getAxis("right")._tickLevels[0]
    assert ticks and all(text.startswith(("1", "10")) for _, text in ticks)
    assert [decade_text(k) for k in (-6, -1, 0, 1)] == ["10⁻⁶", "10⁻¹", "1", "10"]


def test_the_gradient_bar_is_labelled_for_the_gradient_that_arrived(make_window, qtbot):
    """The gradient comes after the maps are built (the window's debounce, a worker): its
    colour bar took the new levels but kept the decades labelled for the empty map's, so the
    same figure showed other labels depending on when the gradient came."""
    from engine import load_model
    from engine.loaders.demos import default_demo_input, demo_info
    window = make_window()
    bring_to_front(qtbot, window.layer_dock)
    model = load_model("demo:code")
    open_session(window, model, default_demo_input(demo_info("code"), model))
    window.session_model.seek(101)
    window.grads.refresh()
    lv = window.layer_view

    def ticks():
        return [text for _, text in lv.colour_bars["dC"].getAxis("right")._tickLevels[0]]
    arrived = ticks()
    lv.rebuild(force=True)                  # built with the gradient there from the start
    assert arrived == ticks()
    lo, hi = lv.heat["dC"].levels
    assert hi > -1 and lo == hi - 6         # this run's peak: not the empty map's 10⁰ … 10⁻⁶


def test_unit_ticks_leave_the_edges_to_the_neighbouring_maps():
    from PySide6.QtGui import QFont

    from gui.app import make_app
    from gui.panels.heat_maps import UnitTicks
    make_app()
    axis = UnitTicks(np.arange(32))
    font = QFont()
    font.setPointSizeF(12)
    axis.setStyle(tickFont=font)
    (step, rows), = axis.tickValues(0, 32, 70.0)
    assert rows == [10.5, 20.5]                 # not 0 and 30 at the map's edges
