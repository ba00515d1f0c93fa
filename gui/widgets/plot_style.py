"""Axis colours, fonts and labels from a Palette, shared by every pyqtgraph panel.

One place, so that a theme switch or a print export restyles every panel the same way.
"""

from __future__ import annotations

import numpy as np
import pyqtgraph as pg
from PySide6.QtGui import QFont

from gui.theme import Palette

END_LABEL_OVERFLOW = 8       # px a horizontal axis' end labels may reach past its ends
SUPERSCRIPT = str.maketrans("-0123456789", "⁻⁰¹²³⁴⁵⁶⁷⁸⁹")


def decade_text(k: int) -> str:
    """10^k as a reader writes it: 1, 10, 10⁻³ (the same form on every log axis and bar)."""
    return {0: "1", 1: "10"}.get(k, f"10{str(k).translate(SUPERSCRIPT)}")


class DecadeAxis(pg.AxisItem):
    """A log axis labelled at whole decades only, every one as a power of ten (pyqtgraph's
    own mixes 0.0001 with 1e-06)."""

    def logTickValues(self, minVal, maxVal, size, stdTicks):  # noqa: N802, N803 (pyqtgraph API)
        """pyqtgraph's levels, each value once: its minor level (1..9 in every decade) holds the
        decades again, which a tall axis has as major ticks, so each was labelled twice."""
        levels, seen = [], np.array([])
        for spacing, values in super().logTickValues(minVal, maxVal, size, stdTicks):
            values = np.asarray(values, float)
            fresh = values[~np.isclose(values[:, None], seen[None, :]).any(axis=1)] \
                if seen.size and values.size else values
            levels.append((spacing, fresh.tolist()))
            seen = np.concatenate([seen, fresh])
        return levels

    def logTickStrings(self, values, scale, spacing):  # noqa: N802 (pyqtgraph API)
        return [decade_text(round(v)) if abs(v - round(v)) < 1e-6 else "" for v in values]


def tick_font(palette: Palette) -> QFont | None:
    """The axis tick font for ``palette`` (None: pyqtgraph's default)."""
    if not palette.font_pt:
        return None
    font = QFont()
    font.setPointSizeF(palette.font_pt)
    return font


def style_axes(plot: pg.PlotItem, palette: Palette, sides: tuple[str, ...] = ("left", "bottom")) -> None:
    """Axis lines and tick text in the palette's foreground colour and font size."""
    font = tick_font(palette)
    for side in sides:
        axis = plot.getAxis(side)
        axis.setPen(palette.foreground)
        axis.setTextPen(palette.foreground)
        axis.setStyle(tickFont=font)
        if side in ("bottom", "top"):     # t = 0 sits half a step from the end: keep its label
            axis.setStyle(hideOverlappingLabels=END_LABEL_OVERFLOW)
        fit = getattr(axis, "fit_labels", None)       # an axis that sizes itself for its labels
        if fit is not None:
            fit()


def set_axis_label(plot: pg.PlotItem, side: str, text: str, palette: Palette,
                   colour: str | None = None) -> None:
    """An axis title in the palette's colour (or ``colour``), a point larger than the ticks."""
    style = {"color": colour or palette.foreground}
    if palette.font_pt:
        style["font-size"] = f"{palette.font_pt + 1:g}pt"
    plot.setLabel(side, text, **style)
    plot.getAxis(side).resizeEvent()     # pyqtgraph centres a title only when the axis is resized


def set_time_axis_label(plot: pg.PlotItem, text: str, palette: Palette) -> None:
    """The bottom time axis's title, its numbers never SI-scaled: input positions are whole
    numbers, and the empty axis before a model loads (about ±0.5) read '(x0.001)' over −400…400."""
    set_axis_label(plot, "bottom", text, palette)
    axis = plot.getAxis("bottom")
    axis.setSIPrefixEnableRanges(())     # pyqtgraph 0.14 scales below 1 even when disabled
    axis.enableAutoSIPrefix(False)


def rows_height(glw: pg.GraphicsLayoutWidget, heights: list[float]) -> int:
    """The height a plot grid needs for rows of these least heights: theirs plus its margins
    and the spacing between rows. Shorter, pyqtgraph lays the rows out past its bottom edge,
    and the last row's time axis (tick values and title) is cut off."""
    layout = glw.ci.layout
    _, top, _, bottom = layout.getContentsMargins()
    gap = layout.verticalSpacing()
    # held as set: Qt reads an unset spacing from the style it cached on first use, which the
    # next theme's application style sheet deletes (the second theme switch crashed)
    layout.setVerticalSpacing(gap)
    spacing = gap * max(len(heights) - 1, 0)
    return int(np.ceil(sum(heights) + top + bottom + spacing))


def keep_titles_whole(glw: pg.GraphicsLayoutWidget,
                      rows: list[tuple[pg.PlotItem, float, float]]) -> int:
    """Each (plot, least height, px under its view box) at least that tall and tall enough for
    its rotated left title beside the view box (a theme or the print palette may change the
    title's size), and the grid tall enough for all of them (``rows_height``). Returns the
    grid's least height."""
    heights = []
    for plot, least, below in rows:
        label = plot.getAxis("left").label
        least = max(least, int(np.ceil(label.boundingRect().width())) + below + 4)
        plot.setMinimumHeight(least)
        heights.append(least)
    total = rows_height(glw, heights)
    glw.setMinimumHeight(total)
    return total
