"""Colours and palettes shared by every panel (and the exports).

Gate colours come from the Okabe–Ito palette, which stays distinguishable for the common forms
of colour blindness; each signal keeps its colour in every panel and theme.
"""

from __future__ import annotations

import zlib
from dataclasses import dataclass, replace

from PySide6.QtCore import QEvent
from PySide6.QtGui import QColor, QPalette
from PySide6.QtWidgets import QApplication, QWidget

SIGNAL_COLOURS = {
    # the LSTM's gates and cell state
    "f": "#D55E00",   # vermillion
    "i": "#0072B2",   # blue
    "o": "#CC79A7",   # reddish purple
    "g": "#009E73",   # bluish green
    "c": "#E69F00",   # orange
    # a GRU's: the update gate carries the state as f does, the candidate is new content as g
    "u": "#D55E00",   # vermillion
    "r": "#56B4E9",   # sky blue
    "n": "#009E73",   # bluish green
    # the sLSTM's normalizer and stabiliser: the two Okabe–Ito colours its gates leave
    "nrm": "#56B4E9",  # sky blue
    "stab": "#F0E442",  # yellow (its words are darkened to read, as every signal's)
}
"""Each signal's colour by NAME (h takes the theme's foreground), from the Okabe–Ito palette:
a cell kind's signals get distinct colours a colour-blind reader tells apart, and a signal
keeps its colour in every view, theme and cell kind."""
OKABE_ITO_FALLBACK = ("#56B4E9", "#0072B2", "#E69F00", "#009E73", "#CC79A7", "#D55E00", "#F0E442")


def signal_colour(name: str) -> str:
    """The colour of a signal by name; a name the table does not know (a cell kind added later)
    still gets an Okabe–Ito colour, the same one every time."""
    known = SIGNAL_COLOURS.get(name)
    if known is not None:
        return known
    return OKABE_ITO_FALLBACK[zlib.crc32(name.encode()) % len(OKABE_ITO_FALLBACK)]


@dataclass(frozen=True)
class Palette:
    name: str
    background: str
    foreground: str
    grid: str
    lane_shade: str
    cursor: str
    selection: str
    h_colour: str
    ghost_alpha: int = 70
    line_width: float = 1.0       # curve pens, in device pixels (cosmetic)
    antialias: bool = False       # off on screen: 1 px aliased pens stroke ~3x faster
    font_pt: float = 0.0          # axis text size; 0 keeps Qt's default
    printing: bool = False        # an export figure: axis labels for readers new to the tool
    window: str = "#efefef"       # the Qt window colour that widgets (check boxes, labels) sit on
    error: str = "#b00020"        # text of an inline error

    def signal(self, name: str) -> str:
        return self.h_colour if name == "h" else signal_colour(name)

    def signal_text(self, name: str) -> str:
        """The signal's colour for *text* (a check box, a legend word): its hue, moved toward
        the foreground until it reads at WCAG AA (4.5:1) on both the plot background and the
        window colour. Lines keep ``signal``; only text that would fade is adjusted."""
        return readable(self.signal(name), self.foreground, (self.background, self.window))

    def scaled(self, factor: float) -> Palette:
        """The same palette for a picture drawn ``factor`` times larger than on screen.

        Cosmetic pens are sized in device pixels, so a 2x export needs 2x pen widths to keep
        the lines' weight; text scales by itself.
        """
        return replace(self, line_width=self.line_width * factor)


LIGHT = Palette("light", "#ffffff", "#1a1a1a", "#d0d0d0", "#f2f4f7", "#d62728", "#ffd54f",
                "#1a1a1a")
DARK = Palette("dark", "#16181d", "#e6e6e6", "#3a3f4b", "#1d2027", "#ff6b6b", "#8a6d00",
               "#f0f0f0", window="#20232a", error="#ff8a80")
AA_TEXT = 4.5                 # WCAG 2 level AA contrast for normal-size text

# The dark window theme's Qt palette: every text role on its background meets AA (a test
# computes each ratio). Disabled text is exempt from WCAG but is kept readable too.
DARK_QT_ROLES = {
    "Window": "#20232a", "WindowText": DARK.foreground, "Base": "#16181d",
    "AlternateBase": "#20232a", "Text": DARK.foreground, "Button": "#2a2e37",
    "ButtonText": DARK.foreground, "ToolTipBase": "#2a2e37", "ToolTipText": DARK.foreground,
    "Highlight": "#3d6fb6", "HighlightedText": "#ffffff", "PlaceholderText": "#9aa1ad",
    "Link": "#8ab4f8", "BrightText": "#ffffff",
}
DARK_QT_DISABLED = {"WindowText": "#8a909b", "Text": "#8a909b", "ButtonText": "#8a909b"}
# Fusion outlines an unticked box in the window colour darkened, filled with Base: on the dark
# window both nearly vanish. The dark theme gives it a visible border (the ticked box is drawn
# as before: only the unchecked state is styled).
DARK_CHECK_BORDER = "#8a909b"
DARK_SHEET = ("QCheckBox::indicator:unchecked, QGroupBox::indicator:unchecked {"
              f" border: 1px solid {DARK_CHECK_BORDER}; background: {DARK_QT_ROLES['Base']};"
              " border-radius: 2px; }")
TEXT_ON = {   # text role -> the role it is drawn on
    "WindowText": "Window", "Text": "Base", "ButtonText": "Button", "ToolTipText": "ToolTipBase",
    "HighlightedText": "Highlight", "PlaceholderText": "Base", "Link": "Base",
}


def luminance(colour: str) -> float:
    """WCAG 2 relative luminance of an sRGB colour."""
    c = QColor(colour)

    def lin(v: int) -> float:
        x = v / 255.0
        return x / 12.92 if x <= 0.04045 else ((x + 0.055) / 1.055) ** 2.4
    return 0.2126 * lin(c.red()) + 0.7152 * lin(c.green()) + 0.0722 * lin(c.blue())


def contrast(a: str, b: str) -> float:
    """WCAG 2 contrast ratio of two colours, 1 to 21."""
    la, lb = sorted((luminance(a), luminance(b)), reverse=True)
    return (la + 0.05) / (lb + 0.05)


def readable(colour: str, toward: str, backgrounds: tuple[str, ...], ratio: float = AA_TEXT) -> str:
    """``colour`` mixed toward ``toward`` in small steps until it reaches ``ratio`` against
    every background (``toward`` itself must; it is the theme's foreground)."""
    c, t = QColor(colour), QColor(toward)
    for k in range(21):
        w = k / 20
        mixed = QColor(round(c.red() * (1 - w) + t.red() * w), round(c.green() * (1 - w) + t.green() * w),
                       round(c.blue() * (1 - w) + t.blue() * w)).name()
        if all(contrast(mixed, bg) >= ratio for bg in backgrounds):
            return mixed
    return toward
PALETTES = {"light": LIGHT, "dark": DARK}

# Print themes for exported figures: larger text, smoothed and slightly heavier lines, the same
# gate colours, and a faint ghost so the read part of the run stands out on a projector.
PRINT_LIGHT = replace(LIGHT, name="print-light", foreground="#000000", h_colour="#000000",
                      lane_shade="#f0f2f5", ghost_alpha=55, line_width=1.6, antialias=True,
                      font_pt=12.0, printing=True)
PRINT_DARK = replace(DARK, name="print-dark", line_width=1.6, antialias=True, font_pt=12.0,
                     ghost_alpha=80, printing=True)


def palette(name: str) -> Palette:
    return PALETTES.get(name, LIGHT)


def print_palette(name: str) -> Palette:
    """The export figure's palette for ``light`` (the default, white paper) or ``dark``."""
    return PRINT_DARK if name == "dark" else PRINT_LIGHT


def palette_of(widget: QWidget) -> Palette:
    """The window theme a widget is shown in, read from the Qt palette its window applied
    (``apply_theme``): for widgets that colour their own text (an inline error). There is no
    module-wide theme: each window has its own, and an export passes its own."""
    return DARK if widget.palette().color(QPalette.Window).lightness() < 128 else LIGHT


def qt_palette(name: str) -> QPalette:
    """The Qt palette (frames, tool bars, dialogs) of the light or dark window theme; a print
    figure takes the one of its theme."""
    if name != "dark":
        return QApplication.instance().style().standardPalette()
    qp = QPalette()
    for role, colour in DARK_QT_ROLES.items():
        qp.setColor(getattr(QPalette.ColorRole, role), QColor(colour))
    for role, colour in DARK_QT_DISABLED.items():
        qp.setColor(QPalette.Disabled, getattr(QPalette.ColorRole, role), QColor(colour))
    return qp


def apply_theme(window: QWidget, name: str) -> None:
    """Show ``window`` in the light or dark theme. The window owns its theme and applies it when
    it starts and on a switch; the application's palette follows it, since the dialogs and
    floating docks the window opens are windows of their own and take the application's."""
    app = QApplication.instance()
    app.setPalette(qt_palette(name))
    sheet = DARK_SHEET if name == "dark" else ""       # check boxes' indicators
    if app.styleSheet() != sheet:
        app.setStyleSheet(sheet)
    # the widgets learn of it from posted events: deliver them now, so that the window (and
    # the style sheets set again below) has its new palette when this returns
    QApplication.sendPostedEvents(None, QEvent.Type.ApplicationPaletteChange)
    restyle(window)


def restyle(top: QWidget) -> None:
    """A widget with its own style sheet (badges, signal check boxes) resolved its colours
    against the old palette and keeps them: set its sheet again so it follows the new one.
    Only ``top``'s widgets (QApplication.allWidgets() also lists closed windows' widgets
    waiting for deletion, and touching those can crash Qt)."""
    for widget in [top, *top.findChildren(QWidget)]:
        sheet = widget.styleSheet()
        if sheet:
            widget.setStyleSheet(sheet)
