"""Teaching views: the unrolled picture and the coloured text draw the engine's numbers."""

from __future__ import annotations

import numpy as np
import pytest
from PySide6.QtGui import QColor

from engine import Session, load_model
from engine.analyses.teaching import top_links
from engine.loaders.demos import default_demo_input, demo_info
from gui.session_model import SessionModel
from gui.teaching.text_view import TextView
from gui.teaching.unrolled import MAX_ROWS, UnrolledView
from gui.theme import palette
from tests.gui.conftest import sine_input, small_model
from tests.helpers import bidirectional_model, image_of


def _model_for(qtbot, model, x, layer=None) -> SessionModel:
    from gui.app import make_app
    make_app()
    session = Session(model, x, layer=layer)
    sm = SessionModel()
    sm.set_session(session, source="test")
    return sm


def _show(qtbot, widget, size=(1200, 700)):
    qtbot.addWidget(widget)
    widget.resize(*size)
    widget.show()
    qtbot.waitExposed(widget)
    return widget


def _pixel(widget, x: float, y: float) -> tuple[int, int, int]:
    image = widget.grab().toImage()
    ratio = image.devicePixelRatio()
    c = QColor(image.pixel(int(x * ratio), int(y * ratio)))
    return c.red(), c.green(), c.blue()


def test_unrolled_cells_are_the_engines_values(qtbot):
    sm = _model_for(qtbot, small_model(6, 3), sine_input(40))
    view = _show(qtbot, UnrolledView(sm, palette("light")))
    sm.seek(12)
    view.canvas.grab()
    values = sm.session.full().c[0]
    scale = view.scale
    geo = view.canvas.geometry_
    drawn = view.canvas.drawn_cells
    assert drawn, "nothing drawn"
    for (unit, t), colour in drawn.items():
        assert t < 12, "a column not read yet was filled"
        expected = scale.lut[scale.index(np.array([values[t, unit]]))[0]]
        assert (colour.red(), colour.green(), colour.blue()) == tuple(int(c) for c in expected)
    # one whole column per step: the cursor's column holds all 6 units, the next none
    assert {u for u, t in drawn if t == 11} == set(range(6))
    assert not any(t == 12 for _, t in drawn)
    # and on screen: a cell's corner pixel has the engine value's colour
    canvas = view.canvas
    rect = geo.cell_rect(11, 3)
    got = _pixel(canvas, rect.left() + 2, rect.top() + 2)
    want = scale.rgb(float(values[11, 3]))
    assert max(abs(a - b) for a, b in zip(got, want, strict=True)) <= 2
    # another signal is another picture of the engine's numbers
    view.set_signal("f")
    canvas.grab()
    f = sm.session.full().f[0]
    for (unit, t), colour in canvas.drawn_cells.items():
        assert (colour.red(), colour.green(), colour.blue()) == view.scale.rgb(float(f[t, unit]))


def test_unrolled_links_are_the_largest_u_entries(qtbot):
    sm = _model_for(qtbot, small_model(8, 3), sine_input(30))
    view = _show(qtbot, UnrolledView(sm, palette("light")))
    view.set_k(3)
    sm.seek(20)
    view.canvas.grab()
    links = top_links(sm.session.info.weights, "c", 3)
    expected = {(s, d, v) for s, d, v in links.pairs()}
    geo = view.canvas.geometry_
    by_column: dict[int, set] = {}
    for src, dst, t, value in view.canvas.drawn_links:
        by_column.setdefault(t, set()).add((src, dst, value))
    read = [t for t in range(geo.first + 1, geo.first + geo.columns) if t < 20]
    assert read and sorted(by_column) == read
    for t in read:
        assert by_column[t] == expected
    # each unit's links are its |U| largest (self-link excluded), checked against U itself
    u = sm.session.info.weights.recurrent_kernel
    n = 8
    for src, dst, value in expected:
        entries = [u[src, g * n + dst] for g in range(4)]
        assert value == pytest.approx(max(entries, key=abs))


def test_unrolled_hover_shows_every_link_of_a_unit(qtbot):
    sm = _model_for(qtbot, small_model(6, 3), sine_input(30))
    view = _show(qtbot, UnrolledView(sm, palette("light")))
    view.set_k(0)
    sm.seek(10)
    view.canvas.hover = (4, 8)
    view.canvas.grab()
    into = [(s, v) for s, d, t, v in view.canvas.drawn_links if d == 4 and t == 8]
    assert sorted(s for s, _ in into) == [0, 1, 2, 3, 5]
    assert "unit 4" in view.describe(4, 8)


def test_unrolled_many_units_show_a_window_around_the_selection(qtbot):
    sm = _model_for(qtbot, small_model(100, 3), sine_input(20))
    view = _show(qtbot, UnrolledView(sm, palette("light")))
    sm.select(90, -1)
    rows = view.shown_units()
    assert len(rows) == MAX_ROWS and 90 in rows and rows[-1] == 99
    sm.seek(5)
    view.canvas.grab()
    assert {u for u, _ in view.canvas.drawn_cells} == set(rows.tolist())


def test_unrolled_backward_layer_reads_right_to_left(qtbot):
    x = np.random.default_rng(1).normal(size=(1, 30, 2)).astype(np.float32)
    sm = _model_for(qtbot, bidirectional_model(), x, layer="bi/backward")
    view = _show(qtbot, UnrolledView(sm, palette("light")))
    sm.seek(3)                                    # read 29, 28, 27
    view.canvas.grab()
    drawn = view.canvas.drawn_cells
    assert {t for _, t in drawn} == {27, 28, 29}
    # a backward column reads the h of the column to its right
    assert {t for *_, t, _ in view.canvas.drawn_links} == {27, 28}
    c = sm.session.full().c[0]
    for (unit, t), colour in drawn.items():
        assert (colour.red(), colour.green(), colour.blue()) == view.scale.rgb(float(c[t, unit]))


def test_unrolled_wrong_picture_quotes_the_measured_decouple_effect(qtbot):
    model = load_model("demo:counter")
    sm = _model_for(qtbot, model, default_demo_input(demo_info("counter"), model))
    view = _show(qtbot, UnrolledView(sm, palette("light")))
    view.set_wrong(True)
    sm.seek(20)
    view.canvas.grab()
    effect = view.effect()
    assert effect is not None and effect.max_abs > 0.1
    assert view.canvas.geometry_.truth_width < view.canvas.width() * 0.7


def _text_model(qtbot, name="counter"):
    model = load_model(f"demo:{name}")
    return _model_for(qtbot, model, default_demo_input(demo_info(name), model))


def test_text_colours_are_the_engines_values_and_clicks_step(qtbot):
    sm = _text_model(qtbot)
    view = _show(qtbot, TextView(sm, palette("light")))
    view.set_units([1, 4])
    sm.seek(25)
    view.canvas.grab()
    c = sm.session.full().c[0]
    drawn = view.canvas.drawn
    assert {t for _, t in drawn} == set(range(25))
    for (unit, t), colour in drawn.items():
        assert (colour.red(), colour.green(), colour.blue()) == view.scale_for(unit).rgb(float(c[t, unit]))
    layout = view.canvas.layout_
    rect = layout.char_rect(1, 7)                  # unit 4's row, character 7
    got = _pixel(view.canvas, rect.left() + 1, rect.top() + 1)
    want = view.scale_for(4).rgb(float(c[7, 4]))
    assert max(abs(a - b) for a, b in zip(got, want, strict=True)) <= 2
    # click a character: the cursor moves there
    from PySide6.QtCore import QPoint, Qt
    target = layout.char_rect(0, 40).center()
    qtbot.mouseClick(view.canvas, Qt.LeftButton, pos=QPoint(int(target.x()), int(target.y())))
    assert sm.session.cursor == 40


def test_find_units_puts_the_counters_depth_unit_first(qtbot):
    sm = _text_model(qtbot)
    view = _show(qtbot, TextView(sm, palette("light")))
    ranked = view.find("depth('(', ')')")
    assert ranked[0].unit == demo_info("counter").metrics["depth_unit"]
    assert view.rows[0] == ranked[0].unit
    assert view.results.count() == len(ranked)
    assert view.find("nonsense(") == [] and "column" in view.find_info.text()


def test_text_view_explains_itself_for_a_vector_model(qtbot):
    sm = _model_for(qtbot, small_model(4, 3), sine_input(10))
    view = _show(qtbot, TextView(sm, palette("light")))
    assert view.text is None
    assert view.find("col") == []
    view.canvas.grab()
    assert "models that read characters" in view.unavailable_reason()


def test_both_directions_show_the_engines_numbers_with_two_cursors(qtbot):
    from gui.teaching.directions import DirectionsView
    x = np.random.default_rng(1).normal(size=(2, 20, 2)).astype(np.float32)
    model = bidirectional_model()
    sm = _model_for(qtbot, model, x, layer="bi/forward")
    sm.set_sample(1)
    view = _show(qtbot, DirectionsView(sm, palette("light")))
    sm.seek(13)
    view.canvas.grab()
    full = model.trace(x)
    (_, _, fwd), (_, _, bwd), (_, _, merged) = view.canvas.boxes
    f_ref = full.layer("bi/forward").c[1].T
    b_ref = full.layer("bi/backward").c[1].T
    np.testing.assert_array_equal(fwd[:, :13], f_ref[:, :13])
    assert np.isnan(fwd[:, 13:]).all()
    np.testing.assert_array_equal(bwd[:, 7:], b_ref[:, 7:])       # read from the end
    assert np.isnan(bwd[:, :7]).all()
    # merged: columns both directions have read (7..12), the model's own output there
    out = np.concatenate([full.layer("bi/forward").h, full.layer("bi/backward").h], -1)[1].T
    np.testing.assert_allclose(merged[:, 7:13], out[:, 7:13], rtol=1e-6)
    assert np.isnan(merged[:, :7]).all() and np.isnan(merged[:, 13:]).all()
    maps = view.maps()
    assert [m["cursors"][0][0] for m in maps[:2]] == [12, 7]


def test_a_plain_lstm_says_what_the_directions_view_is_for(qtbot):
    from gui.teaching.directions import DirectionsView
    sm = _model_for(qtbot, small_model(4, 3), sine_input(10))
    view = _show(qtbot, DirectionsView(sm, palette("light")))
    assert "plain LSTM" in view.maps()


def test_samples_side_by_side_show_every_samples_numbers(qtbot):
    from gui.teaching.directions import SamplesView
    model = small_model(5, 3)
    x = np.stack([sine_input(25) * (k + 1) for k in range(3)])
    sm = _model_for(qtbot, model, x)
    view = _show(qtbot, SamplesView(sm, palette("light")))
    sm.seek(9)
    view.canvas.grab()
    h = model.trace(x).layer(0).c
    assert len(view.canvas.boxes) == 3
    for b, (title, _, values) in enumerate(view.canvas.boxes):
        assert title.startswith(f"sample {b}")
        np.testing.assert_array_equal(values[:, :9], h[b, :9].T)
        assert np.isnan(values[:, 9:]).all()
    sm.select(3, -1)
    view.set_mode("unit")
    view.canvas.grab()
    (_, _, strip), = view.canvas.boxes
    np.testing.assert_array_equal(strip[:, :9], h[:, :9, 3])
    one = _model_for(qtbot, model, sine_input(10))
    assert "one sample" in SamplesView(one, palette("light")).maps()


def test_samples_side_by_side_mark_the_windows_sample(qtbot):
    """The sample the window shows is the one marked: its map framed and its title saying so
    (one map per sample), its row framed (the selected unit in every sample)."""
    from gui.teaching.directions import SamplesView
    model = small_model(5, 3)
    x = np.stack([sine_input(25) * (k + 1) for k in range(3)])
    sm = _model_for(qtbot, model, x)
    view = _show(qtbot, SamplesView(sm, palette("light")))
    sm.seek(9)
    sm.set_sample(1)
    view.canvas.grab()
    titles = [title for title, _, _ in view.canvas.boxes]
    assert ["selected in the window" in t for t in titles] == [False, True, False]
    assert view.canvas.marked == [view.canvas.boxes[1][1]]
    view.set_mode("unit")
    sm.set_sample(2)
    view.canvas.grab()
    (_, strip, _), = view.canvas.boxes
    (row,) = view.canvas.marked
    assert row.left() == strip.left() and row.width() == strip.width()
    assert abs(row.top() - (strip.top() + 2 * strip.height() / 3)) < 1e-6
    assert abs(row.height() - strip.height() / 3) < 1e-6


@pytest.mark.parametrize("view", ["unrolled", "text", "directions", "samples"])
def test_teaching_views_export_from_the_window(make_window, tmp_path, view):
    """PNG, SVG and GIF of each teaching view, its dock made on first use."""
    import json
    import xml.etree.ElementTree as ET

    from gui.export.figure import FigureOptions, export_view
    from tests.gui.conftest import open_session
    window = make_window()
    assert not hasattr(window, f"{view}_view")          # not made at startup
    if view == "directions":                            # it applies to a Bidirectional layer
        model = bidirectional_model()
        x = np.random.default_rng(1).normal(size=(1, 30, 2)).astype(np.float32)
    else:
        model = load_model("demo:counter")
        x = default_demo_input(demo_info("counter"), model)
    open_session(window, model, np.stack([x, x[::-1]]) if view == "samples" else x)
    window.go_to_position(20)
    export_view(window, view, tmp_path / "v.png", width=1200, options=FigureOptions(title="T"))
    image = image_of(tmp_path / "v.png")
    assert image.size[0] == 1200
    assert json.loads(image.text["lstm-scope"])["view"] == view
    rgb = np.asarray(image.convert("RGB"))
    assert len({tuple(p) for p in rgb.reshape(-1, 3)[::61]}) > 30         # a real picture
    export_view(window, view, tmp_path / "v.svg")
    root = ET.parse(tmp_path / "v.svg").getroot()
    assert root.tag.endswith("svg")
    result = export_view(window, view, tmp_path / "v.gif", positions=range(18, 21), width=480)
    assert result["frames"] == 3 and window.session_model.session.cursor == 20
    dock = getattr(window, f"{view}_dock")
    assert dock.isAncestorOf(getattr(window, f"{view}_view"))      # inside its scroll area
    assert not window.errors


@pytest.mark.parametrize("view, reason", [("directions", "plain LSTM that reads one way"),
                                          ("samples", "the input holds one sample")])
def test_a_view_that_does_not_apply_is_refused_with_its_reason(make_window, tmp_path, view,
                                                               reason):
    """Not a page of text in a picture: every format is refused, saying why, and nothing is
    written; the export dialog lists the view greyed out with the reason as its tooltip."""
    from PySide6.QtCore import QSettings, Qt

    from engine.errors import ScopeError
    from gui.export.dialog import ExportDialog
    from gui.export.figure import export_view
    from tests.gui.conftest import open_session
    window = make_window()
    open_session(window, small_model(4, 3), sine_input(12))
    for suffix in (".png", ".svg", ".gif", ".npz", ".csv"):
        with pytest.raises(ScopeError, match=reason):
            export_view(window, view, tmp_path / f"v{suffix}")
        assert not (tmp_path / f"v{suffix}").exists()
    dialog = ExportDialog(window, view, QSettings(str(tmp_path / "s.ini"), QSettings.IniFormat))
    combo = dialog.view_combo
    k = combo.findData(view)
    assert not combo.model().item(k).isEnabled()
    assert reason in combo.itemData(k, Qt.ToolTipRole)
    assert combo.currentData() == "units"               # asked for it: the first view that applies
    assert combo.model().item(combo.findData("units")).isEnabled()
    dialog.deleteLater()
    assert not window.errors


def test_view_menu_makes_each_teaching_dock_on_first_use(make_window):
    """On a run every teaching view applies to: two directions, two samples."""
    from tests.gui.conftest import open_session
    from tests.helpers import bidirectional_model
    window = make_window()
    x = np.random.default_rng(0).normal(size=(2, 20, 2)).astype(np.float32)
    open_session(window, bidirectional_model(), x, layer="bi/forward")
    for view in ("unrolled", "text", "directions", "samples"):
        assert not hasattr(window, f"{view}_dock")                  # startup made none of them
        action = window.act_teaching[view]
        assert action in window.view_menu.actions()
        action.trigger()
        dock = getattr(window, f"{view}_dock")
        assert action.isChecked() and not dock.isHidden()
        action.trigger()
        assert dock.isHidden() and not action.isChecked()
    window.act_dark.trigger()                                       # restyled with the window
    assert window.unrolled_view.palette.name == "dark"
    assert window.text_view in window.themed_views()


def test_the_text_views_header_fits_and_says_nothing_of_clicks_on_paper(qtbot):
    from PySide6.QtGui import QImage, QPainter

    from gui.theme import print_palette
    from tests.figure_checks import text_problems
    sm = _text_model(qtbot, "code")
    view = _show(qtbot, TextView(sm, print_palette("light")), size=(700, 500))
    view.set_units([7])
    sm.seek(sm.session.steps)
    canvas = view.canvas
    image = QImage(700, 400, QImage.Format_ARGB32_Premultiplied)
    painter = QPainter(image)
    try:
        canvas.paint_on(painter, 700, 400)
    finally:
        painter.end()
    header = [item for item in canvas.text_items if item.text.startswith("background:")]
    assert header and "characters read" in header[0].text and "click" not in header[0].text
    assert text_problems(canvas.text_items) == []
