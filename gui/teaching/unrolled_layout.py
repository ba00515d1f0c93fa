"""Where the unrolled view puts things: the grid of columns (input positions) and rows (units)
for one paint, sized so the columns already read, the cursor's and a few ahead fit with room
for the links between them (docs/architecture.md, "Teaching views"). A mixin of the canvas:
it reads the view's state and the wrong pictures' height."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from PySide6.QtCore import QRectF, QSize, Qt
from PySide6.QtGui import QFontMetricsF

from gui.teaching.common import FIGURE_WIDTH, view_font

WRONG_SHARE = 0.42      # of the width, for the wrong pictures when they are shown
MAX_COLUMNS = 14        # more would leave no room between columns for the links
MIN_COLUMNS = 4         # two read columns before the cursor, the cursor's and the next: links
HELD_PITCH = 30.0       # an animation's grid pages rather than squeeze columns closer than this
AHEAD = 2               # columns not read yet shown past the cursor, when there is room
FIGURE_CELL = 600       # logical px of cells (all rows) a figure aims at, within the limits below


@dataclass
class Geometry:
    """Where everything of one paint goes (also used to hit-test the mouse)."""

    left: float
    top: float
    cell_w: float
    cell_h: float
    pitch: float
    first: int            # first input position drawn
    columns: int
    rows: np.ndarray      # unit shown in each row, top to bottom
    truth_width: float

    def cell_rect(self, position: int, row: int) -> QRectF:
        x = self.left + (position - self.first) * self.pitch
        y = self.top + row * self.cell_h
        return QRectF(x, y + 0.1 * self.cell_h, self.cell_w, 0.8 * self.cell_h)

    def hit(self, x: float, y: float) -> tuple[int, int] | None:
        """(unit, position) under a point, or None."""
        col = int((x - self.left) // self.pitch)
        if not 0 <= col < self.columns or x - self.left - col * self.pitch > self.cell_w:
            return None
        row = int((y - self.top) // self.cell_h)
        if not 0 <= row < len(self.rows):
            return None
        return int(self.rows[row]), self.first + col


class GridLayout:
    """The canvas's sizes: the exported figure's, and the grid of one paint."""

    def figure_size(self) -> QSize:
        """The logical size of an exported figure: a slide's width at least, and tall enough
        for every shown unit's row, the labels under them and the wrong pictures' sentences."""
        width = max(self.width(), FIGURE_WIDTH)
        fm = QFontMetricsF(view_font(self.view.palette))
        rows = max(len(self.view.shown_units()), 1)
        truth_width = width * (1 - WRONG_SHARE) if self.view.wrong else width
        cells = rows * float(np.clip(FIGURE_CELL / rows, 9.0, 56.0))
        height = self._top(fm) + cells + self._bottom(fm, truth_width)
        if self.view.wrong:
            height = max(height, self._wrong_height(width - truth_width - 14))
        return QSize(int(width), int(np.ceil(height)))

    @staticmethod
    def _top(fm: QFontMetricsF) -> float:
        return 3.6 * fm.height() + 8

    def _bottom(self, fm: QFontMetricsF, truth_width: float) -> float:
        """Under the cells: x_t's arrows and labels, then the legend wrapped to the width."""
        return 2.3 * fm.height() + self._legend_height(truth_width) + 10

    def _legend_height(self, truth_width: float) -> float:
        """The legend's height wrapped to the picture's width: measured again only when its
        text, font or width changed (every paint lays the grid out; the legend rarely changes)."""
        font = view_font(self.view.palette, 0.85)
        key = (self.legend_text(), font, truth_width)
        known = getattr(self, "_legend_measured", None)
        if known is None or known[0] != key:
            small = QFontMetricsF(font)
            legend = small.boundingRect(QRectF(0, 0, max(truth_width - 12, 50), 1e5),
                                        Qt.TextWordWrap, key[0])
            known = self._legend_measured = (key, legend.height())
        return known[1]

    def layout_for(self, width: float, height: float) -> Geometry | None:
        v = self.view
        model = v.session_model
        if not model.ready:
            return None
        session = model.session
        steps = session.steps
        rows = v.shown_units()
        truth_width = width * (1 - WRONG_SHARE) if v.wrong else width
        fm = QFontMetricsF(view_font(v.palette))
        left = fm.horizontalAdvance("unit 000") + 14
        top = self._top(fm)
        bottom = self._bottom(fm, truth_width)
        small = QFontMetricsF(view_font(v.palette, 0.85))
        right = max(fm.horizontalAdvance("-0.00"), small.horizontalAdvance("linear")) + 34
        room = max(truth_width - left - right, 40.0)
        cell_h = float(np.clip((height - top - bottom) / max(len(rows), 1), 3.0, 56.0))
        cell_w = float(np.clip(cell_h * 1.3, 12.0, 52.0))
        pitch = cell_w + float(np.clip(cell_w * 1.8, 30.0, 80.0))
        pitch = max(pitch, room / MAX_COLUMNS)   # room for the links
        # never fewer than MIN_COLUMNS columns; an animation's columns all at once if they fit
        # with cells still readable (else its grid pages)
        held = len(self.held) + 2 if self.held is not None else 0
        for want, smallest in ((held, HELD_PITCH), (MIN_COLUMNS, 6.0)):
            fit = (room - cell_w) / max(want - 1, 1)
            if want and pitch > fit:
                fit = max(fit, room / (want - 1 + 1 / 2.2))     # cells shrink with the pitch
                if fit >= smallest:
                    pitch = fit
                    cell_w = min(cell_w, pitch / 2.2)
        if pitch * (MIN_COLUMNS - 1) + cell_w > room:
            pitch = max(room / (MIN_COLUMNS - 1 + 1 / 2.2), 6.0)
            cell_w = min(cell_w, pitch / 2.2)
        columns = int(max(1, min(steps, (room + pitch - cell_w) // pitch)))
        first = self._first_column(columns)
        return Geometry(left, top, cell_w, cell_h, pitch, first, columns, rows, truth_width)

    def _first_column(self, columns: int) -> int:
        """The input position of the leftmost column: the read columns before the cursor (at
        least two where the run has them) and up to AHEAD unread ones past it. While an
        animation holds ``positions``, the grid stays still (paging only when they do not fit)."""
        session = self.view.session_model.session
        steps, cursor, held = session.steps, session.cursor, self.held
        ahead = min(AHEAD, max(0, columns - 3))
        usable = max(1, columns - 2)                 # cursor positions per page of a held grid
        if session.backward:      # reads right to left: what it has read is to the right
            anchor = steps - 1 if cursor is None else cursor
            first = anchor - ahead
            if held is not None and len(held):
                right = held[-1] + 2
                if len(held) + 2 > columns:
                    right -= (max(0, held[-1] - anchor) // usable) * usable
                first = right - (columns - 1)
        else:
            anchor = 0 if cursor is None else cursor
            first = anchor - (columns - 1 - ahead)
            if held is not None and len(held):
                first = held[0] - 2
                if len(held) + 2 > columns:
                    first += (max(0, anchor - held[0]) // usable) * usable
        return int(max(0, min(first, steps - columns)))
