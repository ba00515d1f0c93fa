"""WCAG AA (4.5:1) for the window's text in both themes, computed from gui/theme.py's colours
(the WCAG 2 relative-luminance formula, written out here independently of theme.py's)."""

from __future__ import annotations

import pytest

from gui.theme import (
    DARK,
    DARK_QT_DISABLED,
    DARK_QT_ROLES,
    LIGHT,
    PRINT_DARK,
    PRINT_LIGHT,
    SIGNAL_COLOURS,
    TEXT_ON,
)

AA = 4.5


def ratio(a: str, b: str) -> float:
    def lum(hex_colour: str) -> float:
        h = hex_colour.lstrip("#")
        chans = [int(h[k:k + 2], 16) / 255 for k in (0, 2, 4)]
        lin = [c / 12.92 if c <= 0.04045 else ((c + 0.055) / 1.055) ** 2.4 for c in chans]
        return 0.2126 * lin[0] + 0.7152 * lin[1] + 0.0722 * lin[2]
    hi, lo = sorted((lum(a), lum(b)), reverse=True)
    return (hi + 0.05) / (lo + 0.05)


def test_the_formula_matches_known_ratios():
    assert ratio("#000000", "#ffffff") == pytest.approx(21.0)
    assert ratio("#777777", "#ffffff") == pytest.approx(4.48, abs=0.01)


@pytest.mark.parametrize("role", sorted(TEXT_ON))
def test_dark_theme_text_roles_meet_aa(role):
    assert ratio(DARK_QT_ROLES[role], DARK_QT_ROLES[TEXT_ON[role]]) >= AA, role


def test_dark_theme_disabled_text_stays_readable():
    for role, colour in DARK_QT_DISABLED.items():
        assert ratio(colour, DARK_QT_ROLES[TEXT_ON[role]]) >= 3.0, role


@pytest.mark.parametrize("pal", [LIGHT, DARK, PRINT_LIGHT, PRINT_DARK], ids=lambda p: p.name)
def test_palette_text_meets_aa(pal):
    surfaces = (pal.background, pal.window)
    for surface in surfaces:
        assert ratio(pal.foreground, surface) >= AA
        assert ratio(pal.error, surface) >= AA
        for name in (*SIGNAL_COLOURS, "h", "stabilizer"):   # every kind's signal-coloured words
            assert ratio(pal.signal_text(name), surface) >= AA, (pal.name, name)
    # badges: window text on the window colour (their border is decoration)
    assert ratio(pal.foreground, pal.window) >= AA


def test_signal_text_keeps_colours_that_already_read():
    assert DARK.signal_text("c") == DARK.signal("c").lower()     # orange on dark: unchanged
    assert LIGHT.signal_text("c") != LIGHT.signal("c").lower()   # orange on white: darkened


def test_styled_widgets_follow_a_theme_switch(make_window):
    """Badges carry their own style sheet; after switching to dark their text must still read."""
    from PySide6.QtGui import QPalette

    from gui.theme import contrast
    w = make_window()
    w.act_dark.setChecked(True)
    w.toggle_theme()
    try:
        label = w.badges.labels["units"]
        label.ensurePolished()
        text = label.palette().color(QPalette.WindowText).name()
        assert contrast(text, DARK_QT_ROLES["Window"]) >= AA
    finally:
        w.act_dark.setChecked(False)
        w.toggle_theme()


@pytest.mark.parametrize("theme", ["light", "dark"])
def test_the_units_panels_signal_boxes_are_written_in_the_readable_colour(shared_window, theme):
    """The f/i/o/g/C/h check boxes use signal_text (AA on the window), not the line colour: a
    second styling pass once put the plain line colour back (orange C at 2:1 on white)."""
    from gui.theme import DARK, LIGHT
    from tests.gui.conftest import open_session, sine_input, small_model
    palette = {"light": LIGHT, "dark": DARK}[theme]
    open_session(shared_window, small_model(4, 3), sine_input(12))
    panel = shared_window.units_panel
    assert set(panel.signal_boxes) >= {"f", "i", "o", "c", "h"}
    panel._style(palette)
    try:
        for name, box in panel.signal_boxes.items():
            assert f"color: {palette.signal_text(name)};" in box.styleSheet(), (theme, name)
    finally:
        panel._style(LIGHT)
