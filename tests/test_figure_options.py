"""Figure options for slides: --size fits the whole figure to a frame, --lanes picks the
signals, --no-badges and the one-line badge form."""

from __future__ import annotations

import contextlib
import io

import numpy as np
import pytest

from tests.helpers import image_of


def _export(*argv: str) -> tuple[int, str, dict]:
    """main.py export ARGV in process; (exit code, what it printed, the exporting window's
    lanes and header texts as the export saw them)."""
    import main
    from gui.export import figure
    seen: dict = {}
    real_export, real_header = figure.export_view, figure.build_header

    def watched(host, *args, **kwargs):
        seen["lanes"] = set(host.units_panel.visible_signals)
        return real_export(host, *args, **kwargs)

    def header(*args, **kwargs):
        built = real_header(*args, **kwargs)
        seen["header"] = list(built.parts)
        return built
    out = io.StringIO()
    figure.export_view, figure.build_header = watched, header
    try:
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(out):
            code = main.main(["export", *argv])
    finally:
        figure.export_view, figure.build_header = real_export, real_header
    return code, out.getvalue(), seen


@pytest.mark.parametrize("size,expected", [("hd", (1920, 1080)), ("4:3", (1600, 1200)),
                                           ("1000x1000", (1000, 1000))])
def test_size_fits_the_whole_figure_centred_in_the_frame(tmp_path, size, expected):
    out = tmp_path / "f.png"
    code, text, seen = _export("demo:counter", "--view", "units", "--size", size, "--out", str(out))
    assert code == 0, text
    picture = np.asarray(image_of(out).convert("L"))
    assert picture.shape[::-1] == expected
    ink = np.argwhere(picture < 200)               # the figure's dark pixels
    (top, left), (bottom, right) = ink.min(axis=0), ink.max(axis=0)
    assert top > 0 and left > 0 and bottom < expected[1] - 1 and right < expected[0] - 1
    margins = (left, expected[0] - 1 - right) if size == "1000x1000" else \
        (top, expected[1] - 1 - bottom)
    assert seen["lanes"] == {"c", "h"}                   # a slide: C and h only
    assert any("N = 6 · x (1, 62, 4)" in part for part in seen["header"])   # one line of badges
    assert not any(part.startswith("recurrent kernel") for part in seen["header"])
    assert margins[0] > 5 and margins[1] > 5


@pytest.mark.parametrize("argv", [
    ("demo:text", "--view", "unrolled", "--wrong", "--step", "52"),
    ("demo:counter", "--view", "unrolled", "--wrong", "--step", "30"),
    ("demo:code", "--view", "text", "--feature", "in_quotes", "--step", "100"),
], ids=["unrolled-64-wrong", "unrolled-wrong", "text"])
def test_a_teaching_view_fits_whole_in_a_slide_frame(tmp_path, argv):
    """The frame's scale comes from the figure as it is drawn (its print palette's layout), not
    as the window first measured it: the 64-unit unrolled view with its wrong pictures grew
    60 px once restyled, and its header's first line and footer's last were cut off."""
    out = tmp_path / "f.png"
    code, text, _ = _export(*argv, "--size", "hd", "--out", str(out))
    assert code == 0, text
    picture = np.asarray(image_of(out).convert("L"))
    assert picture.shape == (1080, 1920)
    ink = np.argwhere(picture < 200)
    (top, left), (bottom, right) = ink.min(axis=0), ink.max(axis=0)
    assert min(top, left, 1080 - 1 - bottom, 1920 - 1 - right) > 5, (top, left, bottom, right)


def test_lanes_and_no_badges(tmp_path):
    out = tmp_path / "f.png"
    code, text, seen = _export("demo:counter", "--view", "units", "--lanes", "f,h", "--no-badges",
                               "--width", "800", "--out", str(out))
    assert code == 0, text
    assert seen["lanes"] == {"f", "h"}
    assert not any("params" in part or "N = 6" in part for part in seen["header"])


@pytest.mark.parametrize("argv,words", [
    (("--size", "big"), "--size big: WxH"),
    (("--size", "hd", "--width", "800"), "leave out --width"),
    (("--lanes", "c,z"), "--lanes c,z"),
])
def test_bad_figure_options_are_one_line_exit_2(tmp_path, argv, words):
    code, text, _ = _export("demo:counter", "--view", "units", *argv, "--out",
                            str(tmp_path / "f.png"))
    assert code == 2 and words in text and "Traceback" not in text
    assert not (tmp_path / "f.png").exists()


def test_a_slide_of_many_units_shows_a_window_of_them_and_says_which(tmp_path):
    from gui.export import figure
    seen = {}
    real = figure.build_footer

    def footer(*args, **kwargs):
        built = real(*args, **kwargs)
        seen["footer"] = " ".join(built.parts)
        return built
    figure.build_footer = footer
    try:
        code, text, _ = _export("demo:text", "--view", "units", "--size", "hd", "--out",
                                str(tmp_path / "f.png"))
    finally:
        figure.build_footer = real
    assert code == 0, text
    assert "units 0–31 of the N = 64 units shown" in seen["footer"]


@pytest.mark.parametrize("model", ["demo:text", "demo:code"])       # 64 and 32 units
def test_a_units_figure_of_many_units_at_a_plain_width_is_landscape(tmp_path, model):
    """64 lanes at --width 1920 made a portrait figure (1920 x 2750: tall, narrow, unreadable
    on a slide), 32 a square one: the figure stays landscape, a window of at most 32 lanes,
    and says which."""
    from gui.export import figure
    seen = {}
    real = figure.build_footer

    def footer(*args, **kwargs):
        built = real(*args, **kwargs)
        seen["footer"] = " ".join(built.parts)
        return built
    figure.build_footer = footer
    try:
        code, text, _ = _export(model, "--view", "units", "--width", "1920", "--out",
                                str(tmp_path / "f.png"))
    finally:
        figure.build_footer = real
    assert code == 0, text
    width, height = image_of(tmp_path / "f.png").size
    assert width == 1920 and height <= 0.75 * width, (width, height)
    if model == "demo:text":
        assert "units 0–31 of the N = 64 units shown" in seen["footer"]


def test_a_slide_frame_lays_out_by_its_shape_not_its_size(tmp_path):
    """--size 960x540 and --size 1920x1080 are one figure at two scales."""
    from tests.test_figure_matrix import scale_problems
    pictures = []
    for size in ("960x540", "1920x1080"):
        out = tmp_path / f"{size}.png"
        code, text, _ = _export("demo:counter", "--view", "units", "--size", size, "--step", "30",
                                "--out", str(out))
        assert code == 0, text
        pictures.append(image_of(out))
    assert scale_problems(pictures[1], pictures[0]) == []


@pytest.mark.parametrize("view", ["directions", "samples"])
def test_a_map_figure_says_what_its_cursor_lines_mark(tmp_path, monkeypatch, view):
    """The directions and samples maps draw a red line at each cursor (two in the merged
    output); the words under the figure say what it marks."""
    from PySide6.QtWidgets import QLabel

    from gui.export import figure
    from tests.golden import BI_ENV, BI_INPUT, BI_MODEL, _environment, _in_root
    footers, cursors = [], []
    real_footer, real_png = figure.build_footer, figure.Figure.save_png

    def footer(*args, **kwargs):
        built = real_footer(*args, **kwargs)
        footers.append(" ".join(label.text() for label in built.findChildren(QLabel)))
        return built

    def save_png(fig, path, width=None):
        image = real_png(fig, path, width)
        cursors.extend(c for m in getattr(fig.host, f"{view}_view").canvas.view.maps()
                       for c in m.get("cursors", []))
        return image
    monkeypatch.setattr(figure, "build_footer", footer)
    monkeypatch.setattr(figure.Figure, "save_png", save_png)
    with _environment(BI_ENV), _in_root():
        code, text, _ = _export(BI_MODEL, "--input", BI_INPUT, "--view", view, "--step", "6",
                                "--width", "640", "--out", str(tmp_path / "f.png"))
    assert code == 0, text
    assert cursors, "no cursor line drawn"
    assert "red line" in footers[-1], footers[-1]
