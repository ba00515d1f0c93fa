"""Colours and palettes shared by every panel (and the exports).

Gate colours come from the Okabe–Ito palette, which stays distinguishable for the common forms
of colour blindness; each signal keeps its colour in every panel and theme.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from PySide6.QtGui import QColor, QPalette
from PySide6.QtWidgets import QApplication

DISPLAY_SIGNAL_ORDER = ("f", "i", "o", "g", "c", "h")
"""Order of signals in lanes, legends and exports: the three gates, the candidate, the state.
The engine stores gates as i, f, g, o (engine.cell.STORAGE_GATE_ORDER); only views reorder."""
DIAGRAM_GATE_ORDER = ("f", "i", "g", "o")
"""Order of the gates in the cell inspector: the order the cell uses them (forget the old C,
write i * g, then show o * act(C))."""
SIGNAL_LABELS = {
    "f": "f  forget gate", "i": "i  input gate", "o": "o  output gate",
    "g": "g  candidate", "c": "C  cell state", "h": "h  output",
}
SIGNAL_SHORT = {"f": "f", "i": "i", "o": "o", "g": "g", "c": "C", "h": "h"}
SIGNAL_TIPS = {
    "f": "Forget gate: how much of the previous cell state C each unit keeps (0 = forget all).",
    "i": "Input gate: how much of the candidate g each unit writes into C.",
    "o": "Output gate: how much of act(C) each unit shows as h.",
    "g": "Candidate g: the new content offered to the cell state.",
    "c": "Cell state C: the unit's memory, carried from step to step.",
    "h": "Output h: what the unit emits, and what every unit reads at the next step.",
}

OKABE_ITO = {
    "f": "#D55E00",   # vermillion
    "i": "#0072B2",   # blue
    "o": "#CC79A7",   # reddish purple
    "g": "#009E73",   # bluish green
    "c": "#E69F00",   # orange
}


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

    def signal(self, name: str) -> str:
        return self.h_colour if name == "h" else OKABE_ITO[name]

    def scaled(self, factor: float) -> Palette:
        """The same palette for a picture drawn ``factor`` times larger than on screen.

        Cosmetic pens are sized in device pixels, so a 2x export needs 2x pen widths to keep
        the lines' weight; text scales by itself.
        """
        return replace(self, line_width=self.line_width * factor)


LIGHT = Palette("light", "#ffffff", "#1a1a1a", "#d0d0d0", "#f2f4f7", "#d62728", "#ffd54f",
                "#1a1a1a")
DARK = Palette("dark", "#16181d", "#e6e6e6", "#3a3f4b", "#1d2027", "#ff6b6b", "#8a6d00",
               "#f0f0f0")
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


def apply_theme(name: str) -> None:
    """Set the application's Qt palette for the light or dark window theme."""
    app = QApplication.instance()
    pal = palette(name)
    qp = QPalette()
    if name == "dark":
        for role, colour in ((QPalette.Window, "#20232a"), (QPalette.WindowText, pal.foreground),
                             (QPalette.Base, "#16181d"), (QPalette.AlternateBase, "#20232a"),
                             (QPalette.Text, pal.foreground), (QPalette.Button, "#2a2e37"),
                             (QPalette.ButtonText, pal.foreground), (QPalette.ToolTipBase, "#2a2e37"),
                             (QPalette.ToolTipText, pal.foreground), (QPalette.Highlight, "#3d6fb6")):
            qp.setColor(role, QColor(colour))
        app.setPalette(qp)
    else:
        app.setPalette(app.style().standardPalette())
