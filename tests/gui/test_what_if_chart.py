"""The layer view's what-if chart is made when its tab is first shown (gui/panels/layer_pages.py,
``WhatIfPage.chart``), and then shows exactly what a chart made with the window shows: the
fork's difference, its levels and title, the cursor, the theme."""

from __future__ import annotations

import numpy as np

from tests.gui.conftest import bring_to_front, open_session, sine_input, small_model


def _chart_state(lv) -> tuple:
    image = lv.diff_image.image
    return (None if image is None else np.nan_to_num(image, nan=9e9).tolist(),
            None if image is None else np.asarray(lv.diff_image.levels).tolist(),
            np.asarray(lv.diff_bar.levels()).tolist(),
            lv.diff_plot.titleLabel.text, [tuple(r) for r in lv.diff_plot.getViewBox().viewRange()],
            lv.diff_cursor.value(), lv.diff_cursor.pen.color().getRgb(), lv.diff_cursor.pen.widthF(),
            lv.diff_glw.backgroundBrush().color().getRgb(), lv.diff_info.text())


def _window(make_window, qtbot, *, chart_first: bool):
    """A window that decouples, steps and switches theme, its what-if chart made with the
    window (``chart_first``, as every window made it before) or only when its tab is shown
    after all of that."""
    w = make_window()
    lv = w.layer_view
    if chart_first:
        lv.what_if_page.chart       # noqa: B018 - made now, before any run
    bring_to_front(qtbot, w.layer_dock)
    open_session(w, small_model(6, 3), sine_input(30))
    if not chart_first:
        assert not lv.what_if_page.has_chart()       # nothing made behind its tab
    w.forks_panel.decouple()                     # the Forks dock: the layer view follows its overlay
    w.session_model.step(12)
    w.act_dark.trigger()
    assert lv.what_if_page.has_chart() == chart_first
    lv.tabs.setCurrentIndex(2)
    qtbot.wait(10)
    assert lv.what_if_page.has_chart()
    w.settings.setValue("theme", "light")        # the next window (same settings) starts light too
    return w


def test_a_chart_made_late_shows_what_one_made_with_the_window_shows(make_window, qtbot):
    early = _window(make_window, qtbot, chart_first=True)
    late = _window(make_window, qtbot, chart_first=False)
    assert _chart_state(late.layer_view) == _chart_state(early.layer_view)
    assert "minus the real run" in late.layer_view.diff_plot.titleLabel.text
    assert early.errors == [] and late.errors == []


def test_a_window_opens_without_the_what_if_chart_and_makes_it_when_asked(make_window, qtbot):
    w = make_window()
    open_session(w, small_model(4, 3), sine_input(20))
    page = w.layer_view.what_if_page
    assert not page.has_chart()
    plot = w.layer_view.diff_plot           # a reader (a test, an export) makes it at once
    assert page.has_chart() and plot is page.plot
