"""The gradient views draw the engine's numbers: saliency strip, |d target / d C| map, the
carousel, memory horizons in the statistics table, the vanishing/exploding badge, forks."""

from __future__ import annotations

import numpy as np

from engine import load_model
from engine.cli.commands import resolve_input
from engine.gradients.grad_views import forget_product, memory_horizon
from tests.gui.conftest import bring_to_front, open_session, sine_input, small_model
from tests.helpers import image_of


def _counter(window):
    model = load_model("demo:counter")
    return open_session(window, model, resolve_input(model, None, None))


def test_views_follow_the_cursor_target(shared_window, qtbot):
    window = shared_window
    bring_to_front(qtbot, window.layer_dock)
    session = _counter(window)
    grads = window.grads
    window.session_model.seek(31)
    window.session_model.select(2, 30)
    grads.refresh()
    view = grads.view
    assert view.target == "h[0, 30, 2]" and view.position == 30
    g = session.grad("h[0, 30, 2]")
    np.testing.assert_array_equal(view.saliency, g.saliency(0))
    # the saliency strip under the input
    heights = window.input_panel.sal_item.opts["height"]
    np.testing.assert_allclose(heights, np.nan_to_num(g.saliency(0)))
    # the layer view's gradient map: log10 |dC| in lane order
    lv = window.layer_view
    assert "dC" in lv.heat
    with np.errstate(divide="ignore"):
        ref = np.log10(np.abs(g.dc[0][:, lv.order].T))
    data = lv.heat["dC"].data
    finite = np.isfinite(ref)
    np.testing.assert_allclose(data[finite], ref[finite], rtol=1e-6)
    assert np.isnan(data[:, 31:]).all()                 # nothing after the target matters
    # horizons in the statistics table (sortable numbers)
    hz = memory_horizon(g.dc[0], session.full(), 30)
    for unit in range(session.units):
        v = lv.stat_value(unit, "horizon")
        assert (np.isinf(v) and np.isinf(hz[unit])) or v == hz[unit]
    # a gradient that leaves the horizons as they were leaves their cells (and the sorting)
    # alone: each step's gradient used to re-create and re-sort every row
    col = lv.columns.index("horizon")          # the statistics of the run's cell kind
    cells = [lv.table.item(r, col) for r in range(lv.table.rowCount())]
    grads.changed.emit()
    assert [lv.table.item(r, col) for r in range(lv.table.rowCount())] == cells
    # the carousel of the selected unit (the Gradients dock draws once it is in front)
    bring_to_front(qtbot, window.grad_dock)
    panel = window.grad_panel
    x, y = panel.prod_curve.getData()                   # a log axis: pyqtgraph holds log10
    np.testing.assert_allclose(10.0 ** y[:31], forget_product(session.full(), 0, 30)[:31, 2],
                               rtol=1e-9)
    assert "ok" in panel.badge.text()


def test_a_slow_gradient_is_computed_behind_the_window(make_window, qtbot):
    """Once a refresh has cost more than SLOW_MS (a long run's backward pass), a step leaves
    the gradient to the worker thread: the step returns with the last answer still shown, and
    the new one arrives equal to the one computed on the spot."""
    import threading

    window = make_window()
    session = _counter(window)
    grads = window.grads
    window.session_model.seek(20)
    grads.refresh()
    before = grads.view
    assert before.target == "h[0, 19, 0]" or before.position == 19
    grads._slow = True
    release = threading.Event()
    plain = session.grad
    session.grad = lambda text, *stop: (release.wait(20), plain(text, *stop))[1]   # as the worker calls it
    window.session_model.seek(31)
    qtbot.wait(grads._timer.interval() + 50)          # the debounced refresh has fired
    assert grads.view is before and not grads.jobs.idle()
    release.set()
    qtbot.waitUntil(lambda: grads.view is not before, timeout=20000)
    assert grads.view.position == 30
    np.testing.assert_array_equal(grads.view.saliency, plain(grads.view.target).saliency(0))
    assert window.errors == []


def test_custom_target_error_and_exploding_badge(make_window, qtbot):
    window = make_window()
    bring_to_front(qtbot, window.grad_dock)
    _counter(window)
    window.grads.set_mode("custom", "h[0, 999, 0]")
    assert window.grads.view is None and "out of range" in window.grad_panel.info.text()
    window.grads.set_mode("custom", "sumsq(output[:, last])")
    assert window.grads.view is not None and window.grads.error == ""


def test_fork_saliency_is_drawn_dashed(shared_window, qtbot):
    window = shared_window
    bring_to_front(qtbot, window.layer_dock)
    _counter(window)
    window.session_model.seek(40)
    window.session_model.select(2, 39)
    dm = window.debugging
    fork = dm.debugger.fork_state("c", value=0.0, unit=2, position=20)
    dm.set_overlay(fork.name)
    window.grads.refresh()
    view = window.grads.view
    assert view.fork == fork.name
    assert not np.allclose(view.fork_saliency, view.saliency)
    bring_to_front(qtbot, window.grad_dock)
    x, y = window.grad_panel.fork_curve.getData()
    np.testing.assert_array_equal(y, view.fork_saliency)


def test_export_the_gradient_view(shared_window, tmp_path):
    """File → Export of the Gradients view: a picture of the dock, and the engine's numbers."""
    import json

    from gui.export.figure import export_view
    window = shared_window
    session = _counter(window)
    window.session_model.seek(31)
    window.session_model.select(2, 30)
    window.grads.refresh()
    result = export_view(window, "grad", tmp_path / "g.png", width=900)
    assert result["width"] == 900
    meta = json.loads(image_of(tmp_path / "g.png").text["lstm-scope"])
    assert meta["view"] == "grad" and meta["target"] == "h[0, 30, 2]"
    export_view(window, "grad", tmp_path / "g.npz")
    g = session.grad("h[0, 30, 2]")
    with np.load(tmp_path / "g.npz") as data:
        np.testing.assert_array_equal(data["dc"], g.dc[0])
        np.testing.assert_array_equal(data["saliency"], g.saliency(0).astype(np.float32))
        assert int(data["unit"]) == 2
    export_view(window, "grad", tmp_path / "g.csv")
    header = (tmp_path / "g.csv").read_text().splitlines()[0]
    assert header == "t,unit,saliency,dh,dc,forget_product"


def test_a_gradients_figure_has_thick_lines_the_tokens_and_decade_ticks(shared_window, qtbot):
    from PySide6.QtGui import QImage, QPainter
    from PySide6.QtWidgets import QApplication

    from gui.export.figure import Figure, FigureOptions
    window = shared_window
    bring_to_front(qtbot, window.grad_dock)
    _counter(window)
    window.session_model.seek(31)
    window.session_model.select(2, 30)
    window.grads.refresh()
    panel = window.grad_panel
    with Figure(window, "grad", FigureOptions()) as fig:
        fig.set_scale(1920 / fig.size().width())        # a slide's width
        fig.sync()
        for curve in (panel.sal_curve, panel.grad_curve, panel.prod_curve):
            assert curve.opts["pen"].widthF() >= 2.0      # device px: 2-3 on the slide
        assert panel.strip.kind == "tokens" and panel.strip.plot.isVisible()
        QApplication.processEvents()                    # the plots' ranges laid out
        image = QImage(10, 10, QImage.Format_ARGB32_Premultiplied)
        painter = QPainter(image)
        try:
            specs = panel.cec_plot.getAxis("left").generateDrawSpecs(painter)
        finally:
            painter.end()
        texts = [text for _, _, text in specs[2]]
        assert texts and all(t == "1" or t == "10" or t.startswith("10⁻") for t in texts)


def test_the_carousel_legend_reads_in_both_print_themes(shared_window, qtbot):
    """The legend's words are the theme's foreground (they were pyqtgraph's black on a dark
    figure) and name the derivative as the axes do."""
    from PySide6.QtGui import QColor

    from gui.export.figure import Figure, FigureOptions
    from gui.theme import print_palette
    window = shared_window
    bring_to_front(qtbot, window.grad_dock)
    _counter(window)
    window.session_model.seek(31)
    window.grads.refresh()
    legend = window.grad_panel.cec_plot.legend
    for theme in ("dark", "light"):
        with Figure(window, "grad", FigureOptions(theme=theme)) as fig:
            fig.image(640)
            want = QColor(print_palette(theme).foreground)
            labels = [label for _, label in legend.items]
            assert [label.text for label in labels] == ["|∂target/∂C_t|",
                                                        "product of f back to the target"]
            for label in labels:                  # the colour as the label's HTML paints it
                assert want.name() in label.item.toHtml().lower(), theme


def test_the_gradient_waits_while_no_view_that_draws_it_is_on_screen(make_window, qtbot):
    """The saliency strip, the Gradients dock and the layer view draw the gradient: with all
    three behind another tab a step computes nothing (a long run's backward pass is costly and
    its result large); bringing one to the front computes the cursor's target. The Gradients
    dock behind a tab draws no curves either, and shows the latest gradient when in front."""
    window = make_window()
    session = _counter(window)
    grads = window.grads
    qtbot.waitUntil(lambda: grads.view is not None, timeout=10000)   # the strip is in front
    bring_to_front(qtbot, window.compare_dock)
    asked = []
    plain = session.grad
    session.grad = lambda text, *stop: (asked.append(text), plain(text, *stop))[1]
    window.session_model.seek(31)
    qtbot.wait(grads._timer.interval() + 100)          # the debounced refresh has come and gone
    assert asked == [] and grads.view.position != 30
    assert window.grad_panel.sal_curve.getData()[1] is None or \
        len(window.grad_panel.sal_curve.getData()[1]) == 0         # it was never in front
    bring_to_front(qtbot, window.grad_dock)
    qtbot.waitUntil(lambda: grads.view.position == 30, timeout=10000)
    assert asked == [grads.view.target] and window.errors == []
    qtbot.waitUntil(lambda: window.grad_panel.shown() is not None, timeout=10000)
    np.testing.assert_array_equal(window.grad_panel.sal_curve.getData()[1], grads.view.saliency)


def test_switching_the_theme_twice_keeps_the_gradient_grid_and_the_window(make_window):
    """The grids' heights read their row spacing; Qt reads an unset spacing from the style it
    cached on first use, which the next theme's application style sheet deletes: the second
    switch crashed the process (a segfault in QGraphicsGridLayout.verticalSpacing)."""
    window = make_window()
    open_session(window, small_model(), sine_input(25))
    grid = window.grad_panel.glw
    heights = []
    for dark in (True, False, True, False):
        window.act_dark.setChecked(dark)
        window.toggle_theme()
        heights.append(grid.minimumHeight())
    assert heights[:2] == heights[2:] and window.errors == []     # each theme, the same grid
