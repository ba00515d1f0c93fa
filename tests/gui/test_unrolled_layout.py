"""The unrolled view as a teacher puts it on a slide: the coupling shows at every cursor
position and width, in both directions, and no text is cut or overlaps another."""

from __future__ import annotations

import numpy as np
import pytest
from PySide6.QtGui import QImage, QPainter

from engine import Session, load_model
from engine.loaders.demos import default_demo_input, demo_info
from gui.session_model import SessionModel
from gui.teaching.unrolled import UnrolledView
from gui.theme import print_palette
from tests.figure_checks import text_problems, uneven_label_problems
from tests.gui.conftest import sine_input, small_model
from tests.helpers import bidirectional_model


def _view(qtbot, model, x, layer=None, width=900) -> UnrolledView:
    from gui.app import make_app
    make_app()
    sm = SessionModel()
    sm.set_session(Session(model, x, layer=layer), source="test")
    view = UnrolledView(sm, print_palette("light"))
    qtbot.addWidget(view)
    view.resize(width, 500)
    return view


def _paint(view: UnrolledView, width: int | None = None) -> None:
    """Paint the canvas as a figure does: at its figure size (or ``width`` wide)."""
    size = view.canvas.figure_size()
    w = width or size.width()
    image = QImage(w, size.height(), QImage.Format_ARGB32_Premultiplied)
    painter = QPainter(image)
    try:
        view.canvas.paint_on(painter, w, size.height())
    finally:
        painter.end()


def _read_before_cursor(view: UnrolledView) -> list[int]:
    session = view.session_model.session
    cursor = session.cursor
    back = 1 if session.backward else -1             # where the columns read before are
    drawn = {t for _, t in view.canvas.drawn_cells}
    return [t for t in (cursor + back, cursor + 2 * back) if t in drawn]


@pytest.mark.parametrize("width", [360, 700, 1280])
@pytest.mark.parametrize("layer", ["bi/forward", "bi/backward"])
def test_two_read_columns_and_their_links_at_every_cursor(qtbot, width, layer):
    x = np.random.default_rng(1).normal(size=(1, 12, 2)).astype(np.float32)
    view = _view(qtbot, bidirectional_model(), x, layer=layer)
    session = view.session_model.session
    for t in range(1, session.steps + 1):
        view.session_model.seek(t)
        _paint(view, width)
        read = t - 1                           # read columns before the cursor's
        assert len(_read_before_cursor(view)) == min(2, read), (t, width)
        cursor = session.cursor
        if read >= 1:
            assert any(tt == cursor for *_, tt, _ in view.canvas.drawn_links), (t, width)
        cells = {(u, tt) for u, tt in view.canvas.drawn_cells}
        for column in {tt for _, tt in cells}:   # a read column is drawn whole
            assert {u for u, tt in cells if tt == column} == set(range(session.units))


@pytest.mark.parametrize("held", [range(20, 26), range(20, 34)])
def test_a_held_grid_stays_still_while_columns_fill_in(qtbot, held):
    view = _view(qtbot, small_model(6, 3), sine_input(40))
    view.canvas.hold(held)
    firsts = set()
    for position in held:
        view.session_model.seek(view.session_model.session.position_to_t(position))
        _paint(view)
        firsts.add(view.canvas.geometry_.first)
        assert len(_read_before_cursor(view)) == 2
    assert len(firsts) == 1
    view.canvas.hold(None)


@pytest.mark.parametrize("widget_width", [360, 900, 1920])
@pytest.mark.parametrize("wrong", [False, True])
def test_no_text_is_cut_or_overlaps(qtbot, widget_width, wrong):
    model = load_model("demo:counter")
    view = _view(qtbot, model, default_demo_input(demo_info("counter"), model), width=widget_width)
    view.set_wrong(wrong)
    view.session_model.seek(31)
    _paint(view)
    items = view.canvas.text_items
    texts = " ".join(item.text for item in items)
    assert "coupled through U" in texts and "unit 5" in texts
    if wrong:
        assert "independent copies" in texts and "units = time steps" in texts
    assert text_problems(items) == []
    assert "hover" not in texts                      # a figure is static


@pytest.mark.parametrize("size", [(1500, 200), (900, 300), (600, 250), (1500, 400)])
@pytest.mark.parametrize("demo", ["sine", "counter"])
def test_no_text_overlaps_in_a_short_dock(qtbot, size, demo):
    """On screen the dock is short and wide: cells shrink to 12 px, narrower than a value
    label ("-0.62"), so the first label reaches into the "x_t" row label and the last one
    into the colour bar's words under it. Painted at the widget's own size, as on screen."""
    model = load_model(f"demo:{demo}")
    view = _view(qtbot, model, default_demo_input(demo_info(demo), model), width=size[0])
    view.resize(*size)
    view.session_model.seek(4)
    image = QImage(*size, QImage.Format_ARGB32_Premultiplied)
    painter = QPainter(image)
    try:
        view.canvas.paint_on(painter, *size)
    finally:
        painter.end()
    texts = " ".join(item.text for item in view.canvas.text_items)
    assert "x_t" in texts and "linear" in texts
    assert text_problems(view.canvas.text_items) == []


def test_sixty_four_units_all_drawn_in_a_figure(qtbot):
    model = load_model("demo:text")
    view = _view(qtbot, model, default_demo_input(demo_info("text"), model), width=896)
    view.session_model.seek(view.session_model.session.steps)
    _paint(view)
    rows = {u for u, _ in view.canvas.drawn_cells}
    assert rows == set(range(64))
    geo = view.canvas.geometry_
    height = view.canvas.figure_size().height()
    assert geo.top + 64 * geo.cell_h < height
    assert all(item.rect.bottom() <= height for item in view.canvas.text_items)
    assert text_problems(view.canvas.text_items) == []


def test_legend_names_the_gate_block_of_u(qtbot):
    view = _view(qtbot, small_model(6, 3), sine_input(20))
    assert "four gate blocks (i, f, g, o)" in view.canvas.legend_text()
    view.set_signal("f")
    assert "forget gate f block" in view.canvas.legend_text()


@pytest.mark.parametrize("units", [12, 64, 1024])
def test_the_wrong_pictures_label_every_unit_at_one_size(qtbot, units):
    """The last unit's label ("unit 63", "unit 1023") is drawn as large as "unit 0" in both
    wrong pictures, and clear of the "⋮" that stands for the units left out."""
    view = _view(qtbot, small_model(units, 3), sine_input(8), width=1920)
    view.set_wrong(True)
    view.session_model.seek(5)
    _paint(view)
    items = view.canvas.text_items
    last = [i for i in items if i.text == f"unit {units - 1}"]
    assert len(last) >= 2, [i.text for i in items]       # the chain's and the copies' label
    assert uneven_label_problems(items) == []
    assert text_problems(items) == []


@pytest.mark.parametrize("units", [6, 32])
def test_the_legend_explains_every_kind_of_link_drawn(qtbot, units):
    """Links into the cursor's column are drawn bold and older ones faint; with many units
    only the columns nearest the cursor get links. The legend drawn says both (a teacher saw
    bold and faint lines, and read columns without any, that nothing explained)."""
    view = _view(qtbot, small_model(units, 3), sine_input(30), width=1920)
    view.session_model.seek(20)
    _paint(view)
    canvas = view.canvas
    cursor = view.session_model.session.cursor
    legend = " ".join(i.text for i in canvas.text_items if i.text.startswith("lines:"))
    linked = {t for *_, t, _ in canvas.drawn_links}
    assert cursor in linked
    if linked - {cursor}:                                   # older links drawn, fainter
        assert "bold into the cursor's column" in legend and "faint" in legend, legend
    read = {t for _, t in canvas.drawn_cells if t <= cursor and t - 1 in
            {tt for _, tt in canvas.drawn_cells}}
    if read - linked:                                       # read columns left without links
        assert "none further back" in legend, (sorted(read - linked), legend)


def test_the_legend_wraps_between_words_not_inside_abs_u(qtbot):
    """The legend as drawn, wrapped at any width a figure gives it, never ends a line on an
    opening "|" ("thickness = |" above "U| come from": Qt may break after a bar)."""
    from PySide6.QtGui import QTextLayout, QTextOption

    from gui.teaching.common import view_font
    model = load_model("demo:counter")
    view = _view(qtbot, model, default_demo_input(demo_info("counter"), model), width=1920)
    view.session_model.seek(31)
    _paint(view)
    legend = next(i for i in view.canvas.text_items if i.text.startswith("lines:"))
    font = view_font(view.palette, 0.85)
    option = QTextOption()
    option.setWrapMode(QTextOption.WordWrap)
    opened = []
    for width in range(200, int(legend.box.width()) + 1, 5):
        layout = QTextLayout(legend.text, font)
        layout.setTextOption(option)
        layout.beginLayout()
        while True:
            line = layout.createLine()
            if not line.isValid():
                break
            line.setLineWidth(width)
            end = legend.text[:line.textStart() + line.textLength()].rstrip().replace("\u2060", "")
            if end.endswith("|") and not end.endswith("U|"):
                opened.append((width, end[-20:]))
        layout.endLayout()
    assert opened == [], opened[:3]


def test_a_window_of_a_wide_layer_says_links_from_outside_it_are_left_out(qtbot):
    """100 units show as a window of 64: a unit's strongest sources are mostly outside it, so
    few of the "2 strongest per unit" are drawn; the legend drawn says why."""
    view = _view(qtbot, small_model(100, 3), sine_input(12), width=1920)
    view.session_model.seek(6)
    _paint(view)
    legend = " ".join(i.text for i in view.canvas.text_items if i.text.startswith("lines:"))
    shown = set(view.canvas.geometry_.rows.tolist())
    links = view.links()
    cursor = view.session_model.session.cursor
    wanted = {(int(a), b) for b in shown
              for a, value in zip(links.source[b], links.value[b], strict=True) if value != 0}
    drawn = {(a, b) for a, b, t, _ in view.canvas.drawn_links if t == cursor}
    missing = wanted - drawn                 # strongest links that have nowhere to start
    assert missing and all(a not in shown for a, _ in missing)
    assert "(self-links not drawn, nor links from the 36 units outside the window)" in legend, legend


def test_with_no_links_asked_the_legend_explains_no_lines(qtbot):
    """--links 0 draws no line through U; the legend drawn said how to read the lines and
    promised "0 strongest per unit". It says the links are left out and that U still couples."""
    view = _view(qtbot, small_model(6, 3), sine_input(20), width=1920)
    view.set_k(0)
    view.session_model.seek(10)
    _paint(view)
    legend = " ".join(i.text for i in view.canvas.text_items if i.text.startswith("lines:")
                      or "not drawn" in i.text)
    assert view.canvas.drawn_links == []
    assert "strongest per unit" not in legend and "thickness" not in legend, legend
    assert "links through U not drawn" in legend, legend
