"""Labels a figure must carry: every lane of a units export names its unit."""

from __future__ import annotations

from PySide6.QtGui import QImage, QPainter
from PySide6.QtWidgets import QApplication

from gui.export.figure import Figure, FigureOptions
from tests.gui.conftest import open_session, sine_input, small_model


def _axis_texts(axis) -> list[str]:
    """The tick labels pyqtgraph would draw on ``axis`` at its current size and font."""
    image = QImage(10, 10, QImage.Format_ARGB32_Premultiplied)
    painter = QPainter(image)
    try:
        specs = axis.generateDrawSpecs(painter)
    finally:
        painter.end()
    return [] if specs is None else [text for _, _, text in specs[2]]


def test_a_units_figure_labels_every_lane_in_the_print_font(make_window):
    window = make_window()
    open_session(window, small_model(units=6), sine_input(30))
    window.go_to_position(17)
    QApplication.processEvents()
    with Figure(window, "units", FigureOptions()) as fig:
        fig.set_scale(1.5)                 # the print palette: a larger font than the screen's
        fig.sync()
        texts = _axis_texts(window.units_panel.axis)
    assert texts == [f"unit {k}" for k in range(6)]


def test_a_long_runs_time_axis_labels_its_first_step(make_window):
    """Half a step from the axis' end, the label of t = 0 reached past it and pyqtgraph
    dropped it: a figure of a long run began its time axis at 20."""
    from tests.figure_checks import tick_label_problems
    window = make_window()
    open_session(window, small_model(units=6), sine_input(165))
    window.go_to_position(100)
    QApplication.processEvents()
    for view, glw in (("units", window.units_panel.glw), ("layer", window.layer_view.glw)):
        with Figure(window, view, FigureOptions()) as fig:
            fig.set_scale(1.5)
            fig.sync()
            assert tick_label_problems(glw) == [], view


def test_a_figure_leaves_out_the_selected_lane(make_window):
    """The selected lane's band is the user's pointer on screen: hidden when the figure
    begins, the restyle at the figure's scale showed it again (a yellow band in the export
    of a window where a unit had been clicked)."""
    window = make_window()
    open_session(window, small_model(units=6), sine_input(30))
    window.go_to_position(17)
    window.session_model.select(1, -1)
    QApplication.processEvents()
    assert window.units_panel.sel_lane.isVisible()
    with Figure(window, "units", FigureOptions()) as fig:
        fig.image(900)
        fig.set_scale(1.5)
        fig.sync()
        assert not window.units_panel.sel_lane.isVisible()
    assert window.units_panel.sel_lane.isVisible()          # back on screen afterwards


def test_a_units_heat_map_figure_says_what_its_colours_mean(make_window):
    from gui.export.figure import build_header
    window = make_window()
    open_session(window, small_model(units=6), sine_input(30))
    window.units_panel.mode_combo.setCurrentText("heat map")
    QApplication.processEvents()
    assert window.units_panel.mode == "heat"
    with Figure(window, "units", FigureOptions()) as fig:
        fig.set_scale(1.0)
        header = build_header(window, "units", fig.context(), fig.options, fig.palette, 1000)
        parts = list(header.parts)
        header.deleteLater()
    lo, hi = window.units_panel.heat.levels
    legend = [p for p in parts if p.startswith("colour:")]
    assert legend and "output h" in legend[0] and "blue" in legend[0] and "red" in legend[0]
    assert f"{hi:.2g}" in legend[0] and not any(p == "f forget gate" for p in parts)
    assert _axis_texts(window.units_panel.axis) == [f"unit {k}" for k in range(6)]


def test_a_log_axis_labels_each_decade_once(qtbot):
    """Tall enough for every decade to be a major tick, pyqtgraph's minor level (1..9 per
    decade) holds the decades again: each was labelled twice at one place (a figure's text
    drawn twice; the layout check read it as two texts overlapping)."""
    import pyqtgraph as pg

    from gui.widgets.plot_style import DecadeAxis
    widget = pg.GraphicsLayoutWidget()
    qtbot.addWidget(widget)
    plot = widget.addPlot(axisItems={"left": DecadeAxis("left")})
    plot.setLogMode(y=True)
    plot.plot([0, 1, 2], [1e-3, 1e-2, 1.0])
    widget.resize(400, 600)
    widget.show()
    qtbot.waitExposed(widget)
    plot.setYRange(-3.2, 0.2, padding=0)
    QApplication.processEvents()
    texts = _axis_texts(plot.getAxis("left"))
    assert sorted(texts) == sorted(set(texts)) and {"1", "10⁻¹", "10⁻²", "10⁻³"} <= set(texts)
