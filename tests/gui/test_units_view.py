"""The units panel as a reader meets it: dense layers as heat-map strips, the input each step
reads under the lanes, the view kept on the cursor, Go to unit."""

from __future__ import annotations

import numpy as np
import pytest
from PySide6.QtCore import QPointF

from engine.loaders.demos import random_model
from tests.gui.conftest import open_session, sine_input


@pytest.fixture
def wide(make_window, qtbot):
    w = make_window()
    w.resize(1366, 768)
    open_session(w, random_model(1024, 16, 1024), sine_input(60, 16))
    qtbot.wait(20)
    return w


def test_1024_units_are_drawn_as_heat_map_strips_with_a_true_hover(wide):
    panel = wide.units_panel
    s = wide.session_model.session
    assert panel.mode == "heat" and panel.heat.item.isVisible()
    assert not any(item.isVisible() for items in panel._live.values() for item in items)
    s.seek(30)
    rgba = panel.heat.rgba
    assert rgba.shape == (1024, 60, 4)
    assert (rgba[:, :30, 3] == 255).all() and (rgba[:, 30:, 3] < 255).all()
    row = 700
    unit = int(panel.order[row])
    scene = panel.vb.mapViewToScene(QPointF(12.0, row + 0.5))
    panel._mouse_moved(scene)
    text = panel.info.text()
    assert f"unit {unit} · t = 12" in text
    for name in ("f", "c", "h"):
        assert f"{float(s.trace.signal(name)[0, 12, unit]):+.4f}" in text
    # the colour of a read cell is the engine's value through the colour map
    lo, hi = panel.heat.levels
    value = float(s.full().h[0, 12, unit])
    assert lo <= value <= hi
    wide.session_model.select(unit, 12)
    assert panel.sel_lane.isVisible() and panel.sel_lane.getRegion() == (row, row + 1)
    assert panel.cursor.value() == s.cursor


def test_filtering_or_zooming_in_brings_the_lanes_back(wide):
    panel = wide.units_panel
    panel.set_filter("0:16")
    assert panel.mode == "lanes" and panel.lane_count() == 16
    panel.set_filter("")
    assert panel.mode == "heat"
    panel.vb.setYRange(100, 120, padding=0)
    assert panel.mode == "lanes"
    panel.reset_view()
    assert panel.mode == "heat"


def test_go_to_unit_scrolls_and_selects_without_filtering(wide):
    wide.go_to_unit(500)
    panel = wide.units_panel
    lo, hi = panel.vb.viewRange()[1]
    assert lo <= 500.5 <= hi and panel.lane_count() == 1024
    assert wide.session_model.selected_unit == 500
    assert panel.mode == "lanes"
    panel.set_filter("0:10")
    wide.go_to_unit(700)                       # hidden by the filter: the filter goes
    assert panel.filter_text == "" and wide.session_model.selected_unit == 700


def test_wheel_zooms_time_only_and_the_cursor_stays_in_view(wide):
    panel = wide.units_panel
    y_before = panel.vb.viewRange()[1]
    panel.vb.scaleBy(x=0.25, center=QPointF(5.0, 0.0))     # what a wheel zoom in time does
    assert panel.vb.viewRange()[1] == y_before
    s = wide.session_model.session
    s.seek(59)
    lo, hi = panel.vb.viewRange()[0]
    assert lo <= s.cursor <= hi


def test_each_step_shows_what_it_reads(make_window):
    w = make_window()
    w.load("demo:counter", wait=True)
    strip = w.units_panel.strip
    sm = w.session_model
    ids = np.asarray(sm.session.x)[0]
    vocab = sm.vocabulary()
    assert strip.kind == "tokens"
    assert strip.tokens.labels[:5] == [sm.token_text(int(k)) for k in ids[:5]]
    assert all(lab in vocab or lab in ("␣", "⏎") for lab in strip.tokens.labels)
    sm.session.seek(5)
    panel = w.units_panel
    scene = panel.vb.mapViewToScene(QPointF(3.0, 0.5))
    panel._mouse_moved(scene)
    assert f"reads '{sm.token_text(int(ids[3]))}'" in panel.info.text().replace("&#x27;", "'")
    inspector = w.cell_inspector
    w.cell_dock.show()
    w.cell_dock.raise_()
    inspector.refresh()
    assert inspector.diagram.reads == sm.input_label(4)
    assert sm.token_text(int(ids[4])) in inspector.diagram.reads


def test_float_inputs_show_a_value_strip(make_window):
    w = make_window()
    open_session(w, random_model(6, 3, 1), sine_input(40))
    strip = w.units_panel.strip
    assert strip.kind == "values" and strip.image.image.shape == (3, 40)
    assert "x = (" in w.session_model.input_label(7)


def test_exports_leave_the_screen_selection_out_unless_asked(make_window):
    from gui.export.figure import Figure, FigureOptions
    w = make_window()
    open_session(w, random_model(6, 3, 1), sine_input(40))
    w.session_model.session.seek(20)
    w.session_model.select(2, 10)
    panel = w.units_panel
    assert panel.sel_lane.isVisible() and panel.sel_step.isVisible()
    with Figure(w, "units", FigureOptions()):
        assert not panel.sel_lane.isVisible() and not panel.sel_step.isVisible()
    assert panel.sel_lane.isVisible() and panel.sel_step.isVisible()
    with Figure(w, "units", FigureOptions(selection=True)):
        assert panel.sel_lane.isVisible()


def test_y_scale_reads_each_lane_band(make_window, qtbot):
    w = make_window()
    w.resize(1366, 768)
    session = open_session(w, random_model(6, 3, 2), sine_input(40) * 4)
    panel = w.units_panel
    panel.set_filter("0:3")
    assert not panel.plot.getAxis("right").isVisible()
    panel.scale_box.setChecked(True)
    qtbot.wait(20)
    axis = panel.lane_scale.axis
    assert axis.isVisible() and panel.lane_scale.guides.isVisible()
    assert "gates" in axis.labelText and "C" in axis.labelText
    lo, hi = panel.vb.viewRange()[1]
    ticks = axis.tickValues(lo, hi, panel.vb.height())[0][1]
    full = session.full()
    for row, unit in enumerate(panel.order):
        top = row + 0.08
        assert any(abs(t - top) < 1e-6 for t in ticks)
        gate, c_top, h_top = axis.tickStrings([top], 1, 1)[0].split(" │ ")
        assert gate == "1"
        assert float(c_top) == pytest.approx(float(np.nanmax(np.abs(full.c[0, :, unit]))), rel=2e-3)
        assert float(h_top) == pytest.approx(float(np.nanmax(np.abs(full.h[0, :, unit]))), rel=2e-3)
        mid = axis.tickStrings([row + 0.5], 1, 1)[0]
        assert mid == "0.5 │ 0 │ 0"
    # the input strip under the lanes keeps the same time axis (same right margin)
    right = panel.vb.sceneBoundingRect().right()
    assert abs(panel.strip.vb.sceneBoundingRect().right() - right) <= 1.0
    panel.set_signal_visible("c", False)
    assert "C" not in axis.labelText and len(axis.tickStrings([0.08], 1, 1)[0].split(" │ ")) == 2
    panel.scale_box.setChecked(False)
    assert not axis.isVisible()


def test_a_long_run_in_memory_keeps_the_curve_items_few_and_exact(make_window):
    """A long run held in memory: at most MAX_CHUNKS curve items per signal and kind (16
    positions each made 2 x 6 x 1,250 items for 20,000 steps, and 225,000 for 300,000 — minutes
    to build), and a step still draws the engine's numbers, the future as ghosts."""
    from gui.panels.units_curves import MAX_CHUNKS
    w = make_window()
    steps = 20_000
    open_session(w, random_model(4, 3, 7), sine_input(steps, 3))
    panel, sm = w.units_panel, w.session_model
    panel.mode_combo.setCurrentText("lanes")
    assert all(len(items) <= MAX_CHUNKS for items in panel._live.values())
    for k in (7_001, 7_002, 19_999, 150):
        sm.seek(k)
        full = sm.session.full()
        xs, ys = [], []
        for item in panel._live["h"]:
            x, y = item.getData()
            if x is not None:
                keep = np.isfinite(y)
                xs.append(x[keep])
                ys.append(y[keep])
        x = np.concatenate(xs)
        assert x.max() == k - 1 and set(np.unique(x).astype(int)) == set(range(k))
        lane = panel._scaler.to_lane("h", full.h[0, :k], panel.order)      # (rows, k)
        assert set(np.concatenate(ys).tolist()) == set(lane.astype(np.float32).ravel().tolist())
    assert w.errors == []


def test_a_run_wider_than_an_image_draws_block_means_and_auto_follows_the_zoom(make_window):
    """pyqtgraph cannot render an RGBA image wider than 32,767 columns (it crashed the window):
    heat strips of a longer run average blocks of positions; "auto" draws them while more than
    a few steps share a pixel and comes back to curves when zoomed in."""
    from gui.panels.heat_strips import MAX_COLUMNS, block_means
    values = np.arange(10, dtype=np.float32)[None, :].repeat(2, 0)
    values[1, 3] = np.nan
    np.testing.assert_array_equal(block_means(values, 4), [[1.5, 5.5, 8.5], [1.0, 5.5, 8.5]])
    w = make_window()
    w.resize(1366, 768)
    w.show()
    steps = 40_000
    open_session(w, random_model(4, 3, 7), sine_input(steps, 3))
    panel, sm = w.units_panel, w.session_model
    sm.seek(25_001)
    panel.reset_view()
    w.grab()
    assert panel.mode == "heat"                       # 40,000 steps on ~900 px
    heat = panel.heat
    assert heat.block == 5 and heat.rgba.shape[1] == steps // 5 <= MAX_COLUMNS
    read, ghost = heat.rgba[0, 4_999, 3], heat.rgba[0, 5_001, 3]      # block 5000 holds 25,000
    assert (read, ghost, heat.rgba[0, 5_000, 3]) == (heat.read_alpha, heat.ghost_alpha, heat.read_alpha)
    panel.vb.setXRange(24_900, 25_100, padding=0)
    w.grab()
    assert panel.mode == "lanes"
    assert w.errors == []
