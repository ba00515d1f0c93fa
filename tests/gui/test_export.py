"""Export from the window: every view to every format, offscreen, checked by reading the files."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET

import numpy as np
import pytest
from PySide6.QtWidgets import QApplication

from engine.errors import ScopeError
from gui.export import gif as gif_module
from gui.export.dialog import ExportDialog, ExportRequest
from gui.export.figure import ExportCancelled, Figure, FigureOptions, default_width, export_view
from gui.theme import DARK, SIGNAL_COLOURS
from tests.figure_checks import svg_problems
from tests.gui.conftest import exported_window, open_session, sine_input, small_model
from tests.helpers import csv_rows, image_of

VIEWS = ("units", "layer", "cell", "window")
SVG = "{http://www.w3.org/2000/svg}"


@pytest.fixture
def window(make_window):
    w = make_window()
    open_session(w, small_model(units=6), sine_input(30))
    w.go_to_position(17)
    QApplication.processEvents()
    return w


def colour_share(path, hex_colour: str, tolerance: int = 40) -> float:
    """Fraction of pixels within ``tolerance`` (per channel) of a colour."""
    rgb = np.asarray(image_of(path).convert("RGB"), np.int16)
    target = np.array([int(hex_colour[k:k + 2], 16) for k in (1, 3, 5)], np.int16)
    return float(np.mean(np.all(np.abs(rgb - target) <= tolerance, axis=-1)))


def distinct_colours(path) -> int:
    rgb = np.asarray(image_of(path).convert("RGB"))
    return len(np.unique(rgb.reshape(-1, 3)[::7], axis=0))


@pytest.mark.parametrize("view", VIEWS)
def test_svg_is_xml_with_lanes_as_vector_paths(window, tmp_path, view):
    path = tmp_path / f"{view}.svg"
    export_view(window, view, path, options=FigureOptions(caption="A caption"))
    root = ET.parse(path).getroot()
    assert root.tag == f"{SVG}svg"
    meta = json.loads(root.find(f"{SVG}metadata").text)
    assert meta["view"] == view and meta["caption"] == "A caption"
    texts = [t.text or "" for t in root.iter(f"{SVG}text")]
    assert "A caption" in texts                               # text stays text, not pixels
    if view != "units":
        return
    # each gate colour strokes paths; the f paths hold at least one point per lane and step read
    points = 0
    for group in root.iter(f"{SVG}g"):
        if group.get("stroke", "").lower() == SIGNAL_COLOURS["f"].lower():
            for item in list(group.iter(f"{SVG}path")) + list(group.iter(f"{SVG}polyline")):
                points += (item.get("d") or item.get("points") or "").count(",")
    assert points >= 6 * 18, points


def test_window_svg_draws_its_menu_bar_and_no_broken_path(window, tmp_path):
    """Lanes of a chunk not read yet wrote an empty path, which SVG renderers refuse; the menu
    bar's titles lay under its background, which only a clip kept off them."""
    window.go_to_position(5)                  # positions 16..29: a chunk of curves not read
    QApplication.processEvents()
    path = tmp_path / "window.svg"
    export_view(window, "window", path)
    assert svg_problems(path) == []
    texts = "".join(t.text or "" for t in ET.parse(path).getroot().iter(f"{SVG}text"))
    assert all(title in texts for title in ("ile", "iew", "elp"))    # F̲ile: the mnemonic apart


def test_the_layer_figure_names_its_gradient_maps_target(window, tmp_path):
    """The gradient map is |∂target/∂C_t|: the figure says of what, as the gradient view does
    (its words under the picture and its metadata), and says nothing once the map is hidden."""
    from gui.export.views import VIEWS
    from gui.signals import GRADIENT_MAP
    export_view(window, "layer", tmp_path / "l.png", width=400)
    meta = json.loads(image_of(tmp_path / "l.png").text["lstm-scope"])
    target = window.grads.view.target
    assert target and meta["target"] == target
    ctx = VIEWS["layer"].context(window, "")
    words = VIEWS["layer"].explanation_for(ctx, 6, window.session_model.cell_kind)
    assert f"∂target/∂C_t| for the target {target}" in words
    window.layer_view.set_signal_visible(GRADIENT_MAP, False)
    assert VIEWS["layer"].context(window, "").target == ""


def test_unit_filter_limits_the_lanes_and_the_data(window, tmp_path):
    window.units_panel.set_filter("2:4")
    export_view(window, "units", tmp_path / "u.npz")
    with np.load(tmp_path / "u.npz") as data:
        assert data["units"].tolist() == [2, 3] and data["h"].shape == (1, 30, 2)


def test_print_theme_is_put_back_to_the_users_theme(window, tmp_path):
    window.act_dark.setChecked(True)
    window.toggle_theme()
    export_view(window, "units", tmp_path / "u.png")
    assert colour_share(tmp_path / "u.png", "#ffffff", 3) > 0.3    # printed on white
    for view in window.themed_views():
        assert view.palette == DARK
    dark = window.units_panel.glw.grab().toImage()
    assert dark.pixelColor(5, 5).lightness() < 80                 # the screen stays dark


def test_hidden_layer_view_is_brought_up_to_date(window, tmp_path):
    window.input_dock.raise_()                  # the layer view's tab is behind it
    QApplication.processEvents()
    window.session_model.step(3)                        # steps taken while hidden
    with Figure(window, "layer") as fig:
        fig.image(400)
        assert window.layer_dock.isVisible()
        heat = window.layer_view.heat["h"]
        assert np.isfinite(heat.data[:, 19]).all()


def test_dialog_defaults_and_remembered_choices(window):
    dialog = ExportDialog(window, "units", window.settings)
    assert dialog.width_spin.value() == default_width(window, "units")
    # only widths that can be drawn are offered
    from gui.export.figure import MAX_PNG_PIXELS
    widest = dialog.width_spin.maximum()
    assert default_width(window, "units") < widest < 20000
    assert widest * widest * window.units_panel.height() // max(1, window.units_panel.width()) \
        <= 1.1 * MAX_PNG_PIXELS
    dialog.format_combo.setCurrentIndex(dialog.format_combo.findData(".gif"))
    assert dialog.width_spin.value() == default_width(window, "units") // 2
    assert dialog.anim_row.isEnabled()
    dialog.format_combo.setCurrentIndex(dialog.format_combo.findData(".csv"))
    assert not dialog.width_spin.isEnabled() and not dialog.title_edit.isEnabled()
    dialog.format_combo.setCurrentIndex(dialog.format_combo.findData(".svg"))
    dialog.title_edit.setText("Slide 3")
    dialog.theme_combo.setCurrentIndex(dialog.theme_combo.findData("dark"))
    request = dialog.request()
    assert (request.view, request.suffix, request.width) == ("units", ".svg", None)
    assert request.options.title == "Slide 3" and request.options.theme == "dark"
    again = ExportDialog(window, "cell", window.settings)
    assert again.format_combo.currentData() == ".svg"
    assert again.title_edit.text() == "Slide 3"
    assert again.view_combo.currentData() == "cell"


def test_window_exporter_reports_failures_and_keeps_running(window, tmp_path):
    request = ExportRequest(view="units", suffix=".png", width=600, options=FigureOptions())
    assert window.exporter.run(request, str(tmp_path / "missing" / "x.png")) is None
    assert window.errors and "missing" in window.errors[-1]
    result = window.exporter.run(request, str(tmp_path / "ok.png"))
    assert result["width"] == 600 and (tmp_path / "ok.png").exists()
    assert "Exported" in window.statusBar().currentMessage()


# --- what an export must leave as it found it ---------------------------------------------------
def test_export_keeps_zoom_docks_and_pinned_step(window, tmp_path):
    window.units_panel.vb.setRange(xRange=(5, 12), yRange=(1, 3), padding=0)
    window.layer_dock.close()
    window.session_model.select(2, 9)                         # pins the inspector on step 9
    assert window.cell_inspector.pinned == 9
    export_view(window, "units", tmp_path / "u.png")
    export_view(window, "layer", tmp_path / "l.png")
    export_view(window, "cell", tmp_path / "c.gif", positions=range(0, 3), width=300)
    (x0, x1), (y0, y1) = window.units_panel.vb.viewRange()
    assert (x0, x1) == pytest.approx((5, 12)) and (y0, y1) == pytest.approx((1, 3))
    assert not window.layer_dock.isVisible()          # closed before, closed after
    assert window.cell_inspector.pinned == 9 and window.session_model.t == 18


def test_layer_tab_behind_another_stays_behind_it(window, tmp_path):
    from PySide6.QtWidgets import QTabBar

    def front_tab() -> str:
        for bar in window.findChildren(QTabBar):
            names = [bar.tabText(i) for i in range(bar.count())]
            if "Layer view" in names:
                return bar.tabText(bar.currentIndex())
        return ""
    window.input_dock.raise_()
    QApplication.processEvents()
    assert front_tab() == "Input and output"
    export_view(window, "layer", tmp_path / "l.png")
    QApplication.processEvents()
    assert front_tab() == "Input and output"
    assert image_of(tmp_path / "l.png").size[0] > 500


def test_backward_layer_animates_in_reading_order(make_window, tmp_path):
    from engine.network.layers import LSTM
    from engine.network.model import Model
    base = small_model(units=4)
    layer = next(op for op in base.ops if isinstance(op, LSTM))
    backward = Model([LSTM("back", layer.weights, return_sequences=True, go_backwards=True)],
                     source="backward")
    w = make_window()
    open_session(w, backward, sine_input(12))
    w.go_to_position(8)                               # read 11, 10, 9, 8
    assert w.session_model.t == 4
    path = tmp_path / "b.npz"
    export_view(w, "units", path)
    with np.load(path) as data:
        assert data["read"].tolist() == [False] * 8 + [True] * 4
    seen = []
    with Figure(w, "units") as fig:
        for _ in fig.frames(range(3, 7), width=200):
            seen.append(w.session_model.session.cursor)
    assert seen == [6, 5, 4, 3]


def test_projected_lstm_opens_and_exports(make_window, tmp_path):
    from engine.cells.cell import CellWeights
    from engine.network.layers import LSTM
    from engine.network.model import Model
    rng = np.random.default_rng(0)
    weights = CellWeights(rng.normal(0, .5, (3, 24)).astype(np.float32),
                          rng.normal(0, .5, (2, 24)).astype(np.float32), np.zeros(24, np.float32),
                          projection=rng.normal(0, .5, (6, 2)).astype(np.float32))
    w = make_window()
    open_session(w, Model([LSTM("p", weights, return_sequences=True)], source="proj"), sine_input(15))
    w.session_model.step(5)
    w.units_panel.set_sort("variance")
    for view in VIEWS:
        export_view(w, view, tmp_path / f"{view}.png", width=400)
    export_view(w, "units", tmp_path / "p.npz")
    with np.load(tmp_path / "p.npz") as data:
        assert data["h"].shape == (1, 15, 2) and data["c"].shape == (1, 15, 6)
    assert not w.errors


def test_file_export_menu_end_to_end(window, tmp_path, monkeypatch):
    """File → Export current view…: dialog, save dialog (suggested name), file, status bar."""
    from PySide6.QtWidgets import QDialog, QFileDialog

    from gui.export import dialog as export_dialog
    chosen = {}

    def fake_exec(dialog):
        dialog.format_combo.setCurrentIndex(dialog.format_combo.findData(".gif"))
        dialog.first_spin.setValue(2)
        dialog.last_spin.setValue(4)
        dialog.width_spin.setValue(320)
        return QDialog.Accepted

    def fake_save(parent, title, suggested, filters):
        chosen["suggested"] = suggested
        return str(tmp_path / "slide"), filters        # no suffix typed: it is added
    monkeypatch.setattr(export_dialog.ExportDialog, "exec", fake_exec)
    monkeypatch.setattr(QFileDialog, "getSaveFileName", fake_save)
    window.settings.setValue("export/dir", str(tmp_path))
    window.act_export.trigger()
    assert chosen["suggested"].endswith("test-model-units-t17.gif")
    gif = image_of(tmp_path / "slide.gif")
    assert gif.n_frames == 3 and gif.size[0] == 320
    assert "3 frames" in window.statusBar().currentMessage()
    assert window.settings.value("export/format") == ".gif"


def test_colour_table_maps_every_palette_colour_near_itself():
    rng = np.random.default_rng(0)
    frame = rng.integers(0, 256, (40, 60, 3), dtype=np.uint8)
    frame[:10] = (255, 255, 255)
    palette = gif_module.shared_palette([frame])
    assert 1 < len(palette) <= 255
    table = gif_module.colour_table(palette)
    idx = gif_module.index_frame(palette[None].astype(np.uint8), table)[0]
    assert np.abs(palette[idx].astype(int) - palette.astype(int)).max() <= 8
    white = gif_module.index_frame(np.full((1, 1, 3), 255, np.uint8), table)[0, 0]
    assert tuple(palette[white]) == (255, 255, 255)


@pytest.mark.parametrize("view", ["cell", "units", "layer"])
def test_a_print_figure_takes_no_colour_from_the_window_theme(window, tmp_path, view):
    """The same light figure before and after the application's palette went dark (as a dark
    window sets it for its dialogs): the figure's theme is passed in, not the application's
    (the cell diagram's frame was drawn dark)."""
    from PySide6.QtCore import QEvent

    from gui.theme import qt_palette
    # both pictures after a first one: the first export of the lanes draws no "unit k" axis
    # labels and later ones do (as the golden pictures were made; not the theme's doing)
    export_view(window, view, tmp_path / "first.png", width=500)
    export_view(window, view, tmp_path / "light.png", width=500)
    app = QApplication.instance()
    app.setPalette(qt_palette("dark"))
    QApplication.sendPostedEvents(None, QEvent.Type.ApplicationPaletteChange)
    try:
        export_view(window, view, tmp_path / "dark-app.png", width=500)
        assert window.palette().color(window.palette().ColorRole.Window).lightness() < 80
    finally:
        app.setPalette(qt_palette("light"))
    before = np.asarray(image_of(tmp_path / "light.png").convert("RGB"))
    after = np.asarray(image_of(tmp_path / "dark-app.png").convert("RGB"))
    assert before.shape == after.shape
    assert int(np.any(before != after, axis=-1).sum()) == 0



def test_a_window_shows_its_own_theme_from_the_start(make_window, tmp_path):
    """The theme saved in the window's settings is applied when the window starts (it was
    applied only by run_app), and a second window in the process is not left dark by the first."""
    from PySide6.QtCore import QSettings
    from PySide6.QtGui import QPalette

    from gui.main_window import MainWindow
    from gui.theme import DARK_QT_ROLES, qt_palette

    def window_colour(theme: str) -> str:
        settings = QSettings(str(tmp_path / f"{theme}.ini"), QSettings.IniFormat)
        settings.setValue("theme", theme)
        window = MainWindow(settings=settings, report_error=lambda *a: None)
        try:
            assert window.theme == theme
            return window.palette().color(window.palette().ColorRole.Window).name()
        finally:
            window.close()
            window.deleteLater()
    first = make_window()
    first.act_dark.setChecked(True)
    first.toggle_theme()                            # the application went dark with it
    assert window_colour("light") == qt_palette("light").color(QPalette.Window).name()
    assert window_colour("dark") == DARK_QT_ROLES["Window"]


# --- tests that only export: one window for all of them (the last in this file, so that
# the window lives only while they run) ----------------------------------------------------
@pytest.fixture(scope="module")
def _one_window(tmp_path_factory):
    """The ``window`` fixture's window, built once for the tests below that only export from
    it (a window costs about a second of CPU to build and open). An export puts back what it
    touched (test_export_keeps_zoom_docks_and_pinned_step, test_print_theme_is_put_back_...);
    an SVG export is left out: it keeps the lanes drawn as whole paths."""
    yield from exported_window(tmp_path_factory.mktemp("one-window"), small_model(units=6),
                               sine_input(30))


@pytest.fixture
def export_window(_one_window):
    """The shared window at the cursor the ``window`` fixture sets, with no error reported."""
    _one_window.go_to_position(17)
    QApplication.processEvents()
    yield _one_window
    assert _one_window.errors == []


@pytest.mark.parametrize("view", VIEWS)
def test_png_at_the_requested_width_is_a_real_picture(export_window, tmp_path, view):
    window = export_window
    path = tmp_path / f"{view}.png"
    result = export_view(window, view, path, width=1500, options=FigureOptions(title="My title"))
    image = image_of(path)
    assert image.size[0] == 1500 and result["width"] == 1500
    assert distinct_colours(path) > 40                       # not blank, not one flat colour
    if view != "cell":
        assert colour_share(path, "#d62728", 30) > 0.0005    # the red cursor line is drawn
    assert colour_share(path, SIGNAL_COLOURS["f"]) > 0.0001       # f: in lanes, boxes or labels
    meta = json.loads(image.text["lstm-scope"])
    assert meta["view"] == view and meta["layer"] == window.session_model.session.info.name
    assert meta["inputs_read"] == 18 and meta["cursor"] == 17 and meta["model"] == "test-model"
    assert "t" not in meta         # "t" is the cursor's position in the window, never a count
    assert image.text["Title"] == "My title"
    if view == "units":    # the gate colours of the lanes, and a white page by default
        assert colour_share(path, SIGNAL_COLOURS["f"]) > 0.001
        assert colour_share(path, SIGNAL_COLOURS["i"]) > 0.001
        assert colour_share(path, "#ffffff", 3) > 0.3


def test_an_export_scale_restyles_the_layer_cursors_without_drawing_the_maps_again(export_window):
    """A figure's scale changes pen widths only (``Palette.scaled``): the layer view sizes
    its cursor lines for it and keeps its maps, where it drew every map again."""
    from gui.theme import print_palette
    view = export_window.layer_view
    with Figure(export_window, "layer") as fig:
        fig.set_scale(1.0)
        fig.sync()                      # drawn in print (behind its tab, it waited)
        maps = [heat.plot for heat in view.heat.values()]
        fig.set_scale(3.0)
        assert [heat.plot for heat in view.heat.values()] == maps and maps
        width = 1.4 * print_palette("light").line_width * 3.0
        cursors = [heat.cursor for heat in view.heat.values()] + [view.strip.cursor,
                                                                  view.diff_cursor]
        assert [c.pen.widthF() for c in cursors] == pytest.approx([width] * len(cursors))
        assert view.palette.line_width == pytest.approx(print_palette("light").line_width * 3.0)


def test_default_width_is_twice_the_view_on_screen(export_window, tmp_path):
    window = export_window
    width = default_width(window, "units")
    assert width == 2 * (window.units_panel.glw.width() + 36)
    export_view(window, "units", tmp_path / "u.png")
    assert image_of(tmp_path / "u.png").size[0] == width


@pytest.mark.parametrize("view", VIEWS)
def test_gif_has_one_frame_per_step_and_returns_the_cursor(export_window, tmp_path, view):
    window = export_window
    path = tmp_path / f"{view}.gif"
    result = export_view(window, view, path, positions=range(3, 7), width=500)
    gif = image_of(path)
    assert gif.n_frames == 4 == result["frames"]
    assert gif.size[0] == 500
    assert json.loads(gif.info["comment"])["frames"] == "3:7"
    frames = []
    for k in range(gif.n_frames):
        gif.seek(k)
        frames.append(np.asarray(gif.convert("RGB")))
    assert not np.array_equal(frames[0], frames[-1])          # the picture moves with the cursor
    assert window.session_model.t == 18                                # and the cursor is back


@pytest.mark.parametrize("view", VIEWS)
def test_csv_and_npz_hold_the_engines_numbers(export_window, tmp_path, view):
    window = export_window
    full = window.session_model.full()
    export_view(window, view, tmp_path / "v.npz")
    export_view(window, view, tmp_path / "v.csv")
    with np.load(tmp_path / "v.npz") as data:
        meta = json.loads(str(data["meta"]))
        assert meta["view"] == view and meta["inputs_read"] == 18
        if view == "cell":
            unit, pos = int(data["unit"]), int(data["position"])
            assert pos == 17
            assert data["c"] == full.c[0, pos, unit] and data["h"] == full.h[0, pos, unit]
        else:
            for name in ("i", "f", "g", "o", "c", "h", "zx", "zh"):
                assert np.array_equal(data[name], full.arrays()[name][0:1]), name
    rows = csv_rows(tmp_path / "v.csv")
    if view == "cell":
        assert rows[0] == ["quantity", "gate", "k", "value"]
    else:
        assert rows[0] == ["t", "unit", "read", "i", "f", "g", "o", "c", "h"]
        t, unit = int(rows[40][0]), int(rows[40][1])
        assert np.float32(rows[40][8]) == full.h[0, t, unit]


def test_dark_print_theme(export_window, tmp_path):
    window = export_window
    export_view(window, "units", tmp_path / "d.png", options=FigureOptions(theme="dark"))
    assert colour_share(tmp_path / "d.png", DARK.background, 6) > 0.3


def test_cancelling_an_animation_writes_nothing(export_window, tmp_path):
    window = export_window
    out = tmp_path / "out"
    out.mkdir()
    path = out / "a.gif"
    with pytest.raises(ExportCancelled):
        export_view(window, "units", path, positions=range(0, 10),
                    progress=lambda done, total: done < 2)
    assert not list(out.iterdir())
    assert window.session_model.t == 18


def test_bad_requests_are_clear_errors(export_window, tmp_path):
    window = export_window
    with pytest.raises(ScopeError, match="choose .png"):
        export_view(window, "units", tmp_path / "x.bmp")
    with pytest.raises(ScopeError, match="outside"):
        export_view(window, "units", tmp_path / "x.gif", positions=range(25, 40))
    with pytest.raises(ScopeError, match="unknown view"):
        export_view(window, "nope", tmp_path / "x.png")
    with pytest.raises(ScopeError, match=r"more than LSTM Scope draws: this view is at most [\d,]+ px"):
        export_view(window, "units", tmp_path / "x.png", width=19000)


def test_export_menu_toolbar_and_shortcuts(export_window):
    window = export_window
    assert window.act_export in window.export_menu.actions()
    assert window.act_copy_image in window.export_menu.actions()
    assert window.act_export.shortcut().toString() == "Ctrl+Shift+E"
    assert window.act_copy_image.shortcut().toString() == "Ctrl+Shift+C"
    from PySide6.QtWidgets import QToolBar
    assert window.act_export in window.findChild(QToolBar, "transport").actions()


def test_copy_image_to_clipboard(export_window):
    window = export_window
    assert window.exporter.copy("cell", width=640)
    image = QApplication.clipboard().image()
    assert image.width() == 640 and not image.isNull()


def test_an_animation_leaves_no_widgets_behind(export_window, tmp_path):
    window = export_window
    before = len(QApplication.topLevelWidgets())
    export_view(window, "units", tmp_path / "a.gif", positions=range(0, 6), width=300)
    assert len(QApplication.topLevelWidgets()) <= before


def test_gif_frames_share_one_palette_and_match_the_figure(export_window, tmp_path):
    """Each decoded frame is the figure of its step (within the palette's rounding), and the
    frames after the first cost little: they store only what changed."""
    window = export_window
    one = tmp_path / "one.gif"
    many = tmp_path / "many.gif"
    export_view(window, "units", one, positions=range(5, 6), width=400)
    export_view(window, "units", many, positions=range(5, 17), width=400)
    assert many.stat().st_size < 3 * one.stat().st_size      # 12 frames, not 12 x one
    decoded = image_of(many)
    with Figure(window, "units") as fig:
        expected = [gif_module.rgb_array(image) for image in fig.frames(range(5, 17), 400)]
    for k, want in enumerate(expected):
        decoded.seek(k)
        got = np.asarray(decoded.convert("RGB"), np.int16)
        assert got.shape == want.shape
        err = np.abs(got - want.astype(np.int16)).max(axis=-1)
        assert np.mean(err) < 2.0 and np.mean(err > 40) < 0.01, k   # antialiased edges


def test_export_dialog_fields_never_squash(export_window):
    window = export_window
    dialog = ExportDialog(window, "units", window.settings)
    dialog.format_combo.setCurrentIndex(dialog.format_combo.findData(".gif"))
    dialog.show()
    dialog.resize(120, 120)
    QApplication.processEvents()
    for spin in (dialog.first_spin, dialog.last_spin, dialog.fps_spin):
        assert spin.width() >= spin.minimumSizeHint().width() + 12
    assert dialog.width() >= dialog.minimumSizeHint().width()
    dialog.close()
