"""The figure matrix: every view of every kind of model, at every slide width, in both print
themes, exports without error, and its layout passes checks made from the drawing itself.

    models  counter, code, text (64 units), sine, a Bidirectional model (batch of 3), wide
            (1024 units), the GRU demo (counter-gru)
    widths  1280 1920 2400 3840 px, and SVG;   themes  light dark

In CI a fixed slice runs (``SLICE``: every view, model, width and theme at least once);
``python -m pytest tests/test_figure_matrix.py --long`` runs the whole matrix. A view that
does not apply to a model (text of a model that reads vectors, directions of a one-direction
layer, samples of a one-sample input) is not part of the matrix.

The checks read what the export drew, on the window it drew from, while it still wears the
figure's palette (``Figure.save_png``/``save_svg`` are watched as they return): no text of a painted canvas leaves its box or overlaps another text; every
column the unrolled view has read is drawn whole; every lane of the units panel is labelled
(every k-th where lanes are thinner than a line of text); the layer view's maps take the width
beside their colour bars; every row of a directions or samples map is named (every k-th
where rows are thinner than a line), every map's colour range has its colour bar, and their
texts stay in their boxes; every major tick of a time axis is labelled; the header's and footer's one-line items fit the figure's width; the texts of a pyqtgraph figure (units,
layer, cell, gradients) stay in it and clear of each other, none asks for a mouse ("zoom in",
"hover"), every axis title is centred on its axis, and no number of the cell diagram touches an
arrowhead, nor two arrowheads each other. The layout does not depend on the
output's width: the same figure drawn twice (or half) as wide is the picture scaled, every
view laid out at the logical size it declares.
"""

from __future__ import annotations

import contextlib
import io
import itertools
import os
from pathlib import Path

import numpy as np
import pytest

from gui.export.views import VIEWS as EXPORTABLE
from tests.figure_checks import (
    arrow_problems,
    arrowhead_problems,
    axis_title_problems,
    hint_problems,
    label_contrast_problems,
    plot_texts,
    scroll_problems,
    text_problems,
    theme_problems,
    tick_label_problems,
    uneven_label_problems,
)
from tests.generative import is_long
from tests.golden import BI_ENV, BI_INPUT, BI_MODEL, _environment, _in_root
from tests.helpers import image_of

pytestmark = pytest.mark.generative

MODELS = {
    "counter": ("demo:counter", "--step", "40"),
    "code": ("demo:code", "--step", "100"),
    "text": ("demo:text", "--step", "70"),
    "sine": ("demo:sine", "--step", "80"),
    "bi": (BI_MODEL, "--input", BI_INPUT, "--step", "7"),
    "wide": ("demo:wide", "--input", "{wide_input}", "--step", "20"),
    "gru": ("demo:counter-gru", "--step", "40"),      # a GRU: its own diagram, signals, maps
}
WIDE_STEPS = 30            # 1024 units over 30 steps: the same pictures, a fifth of the run
# the one table of exportable views, but the memory view: it draws an mLSTM's matrix memory,
# and an mLSTM opens only from a live xlstm module (tests/gui/test_mlstm_window.py exports it)
VIEWS = tuple(v for v in EXPORTABLE if v != "memory")
WIDTHS = (1280, 1920, 2400, 3840)
SVG = 0                    # in place of a width: the same figure as SVG
THEMES = ("light", "dark")
CHARACTER_MODELS = ("counter", "code", "text", "gru")


def applies(view: str, model: str) -> bool:
    if view == "text":
        return model in CHARACTER_MODELS
    if view in ("directions", "samples"):     # a Bidirectional layer; a batch of 3
        return model == "bi"
    return True


MATRIX = [(v, m, w, t) for v, m, w, t in itertools.product(VIEWS, MODELS, WIDTHS + (SVG,), THEMES)
          if applies(v, m)]
# every view, model, width and theme at least once: one case a view, but for the unrolled
# view's two (demo:wide, 7 s an export of any other view, and its --wrong sentences on
# another model). The units figure of bi and the unrolled one of text and bi run with --long
# only: bi is covered by two other cases, the units view by the text model's 64 lanes
SLICE = [
    ("units", "text", 1280, "light"), ("layer", "code", 1920, "dark"),
    ("cell", "sine", 2400, "light"), ("grad", "gru", 3840, "dark"),
    ("window", "sine", 1280, "dark"), ("unrolled", "wide", 2400, "light"),
    ("text", "code", 3840, "light"), ("directions", "bi", 1920, "dark"),
    ("samples", "bi", 2400, "light"), ("unrolled", "counter", SVG, "light"),
]
CASES = MATRIX if is_long() else SLICE


def test_the_slice_covers_every_view_model_width_and_theme():
    assert set(SLICE) <= set(MATRIX)
    for axis, values in enumerate((VIEWS, MODELS, WIDTHS + (SVG,), THEMES)):
        assert {case[axis] for case in SLICE} == set(values)


def _pil(image):
    """A QImage as a PIL image (through PNG bytes)."""
    from PIL import Image
    from PySide6.QtCore import QBuffer, QIODevice
    buffer = QBuffer()
    buffer.open(QIODevice.WriteOnly)
    image.save(buffer, "PNG")
    return Image.open(io.BytesIO(bytes(buffer.data())))


def scale_problems(big, small) -> list[str]:
    """The layout does not depend on the output's width: ``big`` shrunk to ``small``'s size
    matches it but for the edges antialiasing draws differently (compared after a 3-px blur:
    a text or a column laid out elsewhere, even by a few pixels, differs over much more)."""
    from PIL import Image, ImageFilter
    if abs(big.size[1] * small.size[0] / big.size[0] - small.size[1]) > 1.5:
        return [f"{big.size} and {small.size} are not one shape"]

    def prepared(picture):
        shrunk = picture.convert("L").resize(small.size, Image.BOX)
        return np.asarray(shrunk.filter(ImageFilter.BoxBlur(3)), float)
    differs = float((np.abs(prepared(big) - prepared(small)) > 24).mean())
    return [] if differs < 0.02 else [f"at {small.size[0]} px wide {differs:.1%} of the picture "
                                      "differs"]


def _check_unrolled(window) -> list[str]:
    canvas = window.unrolled_view.canvas
    problems = text_problems(canvas.text_items) + uneven_label_problems(canvas.text_items)
    geo = canvas.geometry_
    known = window.session_model.session.known()
    drawn = canvas.drawn_cells
    for t in range(max(geo.first, known.start), min(geo.first + geo.columns, known.stop)):
        rows = {u for u, tt in drawn if tt == t}
        if rows != set(geo.rows.tolist()):
            problems.append(f"read column t={t} has {len(rows)} of {len(geo.rows)} cells drawn")
    return problems


def _check_units(window) -> list[str]:
    from PySide6.QtGui import QFontMetricsF, QImage, QPainter
    axis = window.units_panel.axis
    image = QImage(10, 10, QImage.Format_ARGB32_Premultiplied)
    painter = QPainter(image)
    try:
        specs = axis.generateDrawSpecs(painter)
    finally:
        painter.end()
    texts = [] if specs is None else [text for _, _, text in specs[2]]
    lanes = len(window.units_panel.order)
    line = QFontMetricsF(axis.style["tickFont"]).height() if axis.style.get("tickFont") else 14
    fit = max(1, int(axis.height() / (1.2 * line)))
    want = min(lanes, fit)
    if len(texts) < want // 2 or not all(t.startswith("unit ") for t in texts):
        return [f"{len(texts)} lane labels for {lanes} lanes ({want} fit): {texts[:4]}"]
    return []


def _check_words(text) -> list[str]:
    """The header's and footer's one-line items (legend entries, badges) fit its width;
    sentences wrap."""
    from PySide6.QtWidgets import QLabel
    problems = []
    for label in text.findChildren(QLabel):
        if not label.wordWrap() and label.sizeHint().width() > text.width_:
            problems.append(f"{label.text()[:40]!r} is {label.sizeHint().width()} px wide in a "
                            f"{text.width_} px figure")
    return problems


def _check_layer(window) -> list[str]:
    from gui.panels.layer_view import COLOUR_BAR_COLUMN
    view = window.layer_view
    layout = view.glw.ci.layout
    width = view.glw.width()
    problems = []
    for row, name in enumerate(view.heat):
        maps = layout.itemAt(row, 0).geometry().width()
        if maps < width - COLOUR_BAR_COLUMN - 24:
            problems.append(f"the {name} map is {maps:.0f} of {width} px wide")
    return problems


def _check_maps(view):
    def check(window) -> list[str]:
        canvas = getattr(window, f"{view}_view").canvas
        problems = text_problems(canvas.text_items)
        for title, rect, values in canvas.boxes:
            rows = values.shape[0]
            labels = [i for i in canvas.text_items if rect.top() <= i.rect.center().y() <= rect.bottom()
                      and i.rect.right() <= rect.left()]
            if not labels or (rect.height() / rows >= 20 and len(labels) < rows):
                problems.append(f"{title}: {len(labels)} row labels for {rows} rows")
        bars = {(round(lo, 6), round(hi, 6)) for _, lo, hi in canvas.bars}
        for m in canvas.view.maps():        # every map's colours are read off a bar of its own
            scale = m["scale"]
            if (round(scale.lo, 6), round(scale.hi, 6)) not in bars:
                problems.append(f"{m['title']}: coloured {scale.lo:.2g} … {scale.hi:.2g}, but no "
                                f"colour bar says so (bars: {sorted(bars)})")
        return problems
    return check


def _check_plots(figure):
    """The texts of a pyqtgraph figure (``figure(window)``: its GraphicsLayoutWidget) stay in
    the widget and clear of each other, ask for no mouse, and its axis titles are centred."""
    def check(window) -> list[str]:
        glw = figure(window)
        texts = plot_texts(glw)
        return (text_problems(texts) + hint_problems(texts) + axis_title_problems(glw)
                + tick_label_problems(glw))
    return check


def _laid_out(view: str):
    """The view is drawn at the logical size it declares for a headless export (its dock
    floating at that size, or the window at it), not where the window's first-start layout
    put its dock back: a layer map drawn in a 900x352 dock scrolled, and its scroll bar came
    and went from one picture to the next."""
    def check(window) -> list[str]:
        from gui.export.figure import figure_body_size
        spec = EXPORTABLE[view]
        want = spec.logical_size(window, len(spec.lanes(window)))[0]
        got = figure_body_size(window, view).width()
        return [] if got >= want - 16 else [f"laid out {got} px wide, not at its {want} px"]
    return check


def _all(*checks):
    def check(window) -> list[str]:
        return [problem for one in checks for problem in one(window)]
    return check


CHECKS = {"unrolled": _check_unrolled,
          "units": _all(_laid_out("units"), _check_units, _check_plots(lambda w: w.units_panel.glw)),
          "layer": _all(_laid_out("layer"), _check_layer, _check_plots(lambda w: w.layer_view.glw)),
          "cell": _all(_laid_out("cell"), _check_plots(lambda w: w.cell_inspector.bars_glw),
                       _check_plots(lambda w: w.cell_inspector.diagram),
                       lambda w: arrow_problems(w.cell_inspector.diagram),
                       lambda w: arrowhead_problems(w.cell_inspector.diagram)),
          "grad": _all(_laid_out("grad"), _check_plots(lambda w: w.grad_panel.glw)),
          "window": _all(_laid_out("window"), scroll_problems,
                         _check_plots(lambda w: w.input_panel.glw),
                         lambda w: label_contrast_problems(w, w.input_panel.palette.background),
                         lambda w: theme_problems(w, w.input_panel.palette.background)),
          "directions": _check_maps("directions"), "samples": _check_maps("samples")}


@pytest.mark.parametrize("view,model,width,theme", CASES, ids=lambda v: str(v))
def test_every_figure_exports_and_lays_out(tmp_path: Path, monkeypatch, view, model, width, theme):
    import main
    from gui.export import figure
    problems: list[str] = []
    seen: dict = {}

    def check(fig) -> None:
        """Read the drawing while it is the figure's (its print palette), not the window's
        restyled back once the export returns."""
        found = CHECKS.get(view)
        if found is not None:
            problems.extend(found(fig.host))
    real_png, real_svg = figure.Figure.save_png, figure.Figure.save_svg

    def save_png(fig, path, width=None):
        image = real_png(fig, path, width)
        check(fig)                               # then, restyled, at its width and at another
        other = width * 2 if width <= 1920 else width // 2     # whole pixels of a heat-map
        seen["pair"] = (_pil(fig.image(width)), _pil(fig.image(other)))
        return image

    def save_svg(fig, path):
        size = real_svg(fig, path)
        check(fig)
        return size
    monkeypatch.setattr(figure.Figure, "save_png", save_png)
    monkeypatch.setattr(figure.Figure, "save_svg", save_svg)

    def texts_fit(build):
        def built(*args, **kwargs):
            text = build(*args, **kwargs)
            problems.extend(_check_words(text))
            return text
        return built
    monkeypatch.setattr(figure, "build_header", texts_fit(figure.build_header))
    monkeypatch.setattr(figure, "build_footer", texts_fit(figure.build_footer))
    out = tmp_path / f"{view}-{model}.{'svg' if width == SVG else 'png'}"
    wide_input = tmp_path / "wide.npy"
    if model == "wide":
        x = np.random.default_rng(0).normal(size=(1, WIDE_STEPS, 16)).astype(np.float32)
        np.save(wide_input, x)
    args = [a.format(wide_input=wide_input) for a in MODELS[model]]
    size = [] if width == SVG else ["--width", str(width)]
    argv = ["export", *args, "--view", view, *size, "--theme", theme, "--out", str(out)]
    if view in ("cell", "grad"):
        argv += ["--unit", "1"]
    if view == "unrolled" and model != "wide":      # the wrong pictures' sentences too
        argv += ["--wrong"]
    stdout = io.StringIO()
    env = BI_ENV if model == "bi" else ()
    with _environment(env), _in_root(), contextlib.redirect_stdout(stdout), \
            contextlib.redirect_stderr(stdout):
        code = main.main(argv)
    assert code == 0, f"main.py {' '.join(argv)} exited {code}: {stdout.getvalue()}"
    if width != SVG:
        picture = image_of(out)
        assert picture.size[0] == width
        assert len(np.unique(np.asarray(picture.convert("L"))[::5, ::5])) > 8, "a blank picture"
        big, small = sorted(seen["pair"], key=lambda p: -p.size[0])
        problems.extend(scale_problems(big, small))
    assert problems == [], f"{view} of {model} at {width} px ({theme}): " + "; ".join(problems)
    assert os.path.getsize(out) > 5000
