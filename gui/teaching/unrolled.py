"""The unrolled view: the textbook picture of an LSTM layer, drawn from the real model.

Columns are input positions t (the input token or value under each); every column holds the N
units of the layer as N small cells stacked vertically, filled with one signal's colour. A step
fills one whole column. Between consecutive columns, lines from every unit's h at t-1 to the
units reading it at t show the coupling through U (each unit's strongest links; all links of a
hovered cell). x_t's spine runs up through its column into every cell. "The wrong picture"
draws beside it the two common misreadings with one sentence each on why they are wrong.

Drawing is one QPainter pass over the visible columns only (docs/architecture.md, "Teaching
views"): a step repaints a window of columns, so its cost does not grow with T. Numbers come
from the session's live trace and ``engine.analyses.teaching``; this module only draws. Its
parts by job: ``unrolled_layout`` (the grid's sizes), ``unrolled_links`` (the lines through U),
``wrong_pictures`` (the two misreadings); this module paints the cells and their labels and
holds the view's controls and state.
"""

from __future__ import annotations

import numpy as np
from PySide6.QtCore import QLineF, QPointF, QRectF, Qt, Signal
from PySide6.QtGui import QColor, QFontMetricsF, QLinearGradient, QPainter, QPen
from PySide6.QtWidgets import (
    QCheckBox,
    QHBoxLayout,
    QLabel,
    QSpinBox,
    QVBoxLayout,
    QWidget,
)

from engine.analyses.teaching import DecoupleEffect, Links, decouple_effect, link_matrix, top_links
from engine.errors import ScopeError
from gui.session_model import SessionModel
from gui.signals import symbol, words
from gui.teaching.common import (
    ColourScale,
    PaintedCanvas,
    TextItem,
    accepts,
    arrow_head,
    colour_scale,
    draw_fitted,
    follow_kind,
    signal_chooser,
    span_values,
    step_labels,
    view_font,
)
from gui.teaching.unrolled_layout import Geometry, GridLayout
from gui.teaching.unrolled_links import CROWDED, LinkPainter
from gui.teaching.wrong_pictures import WrongPictures
from gui.theme import Palette

MAX_ROWS = 64           # more units than this: a window of units around the selection
# alignments made once: combining Qt flags in Python costs microseconds, and a paint uses dozens
LEFT_MIDDLE = Qt.AlignLeft | Qt.AlignVCenter
RIGHT_MIDDLE = Qt.AlignRight | Qt.AlignVCenter


class UnrolledCanvas(GridLayout, LinkPainter, WrongPictures, PaintedCanvas):
    """The painted picture; the exported figure is this widget."""

    hovered = Signal(str)

    def __init__(self, view: UnrolledView) -> None:
        super().__init__(view)
        self.view = view
        self.setMouseTracking(True)
        self.setMinimumSize(360, 220)
        self.geometry_: Geometry | None = None
        self.hover: tuple[int, int] | None = None
        self.drawn_links: list[tuple[int, int, int, float]] = []   # (from unit, to unit, to t, U)
        self.drawn_cells: dict[tuple[int, int], QColor] = {}       # (unit, t) -> fill
        self.text_items: list[TextItem] = []                       # every text of the last paint
        self.held: range | None = None     # positions an animation steps through: grid held still

    def hold(self, positions: range | None) -> None:
        """Keep the columns still while the cursor walks ``positions`` (an animation fills
        columns in place instead of scrolling the grid every frame); None lets it follow."""
        self.held = positions
        self.update()

    # --- painting ----------------------------------------------------------------------------
    def paint_on(self, p: QPainter, width: float, height: float) -> None:
        v = self.view
        pal = v.palette
        p.fillRect(QRectF(0, 0, width, height), QColor(pal.background))
        self.drawn_links, self.drawn_cells, self.text_items = [], {}, []
        geo = self.layout_for(width, height)
        self.geometry_ = geo
        if geo is None:
            p.setPen(QColor(pal.foreground))
            p.drawText(QRectF(0, 0, width, height), Qt.AlignCenter, "no model loaded")
            return
        p.setRenderHint(QPainter.Antialiasing, True)
        p.setRenderHint(QPainter.TextAntialiasing, True)
        self._paint_truth(p, geo, height)
        if v.wrong:
            self._paint_wrong(p, QRectF(geo.truth_width + 8, 0, width - geo.truth_width - 8, height))

    def _text(self, p: QPainter, box: QRectF, text: str, font, flags=Qt.AlignLeft | Qt.AlignTop,
              *, wrap: bool = False) -> QRectF:
        """Every text goes through here: shrunk (or wrapped) to stay in its box, and recorded."""
        return draw_fitted(p, box, text, font, flags, wrap=wrap, items=self.text_items)

    def _paint_truth(self, p: QPainter, geo: Geometry, height: float) -> None:
        """The true picture: N cells in every column, x_t entering each, U linking columns."""
        v = self.view
        pal, session = v.palette, v.session_model.session
        fm = QFontMetricsF(view_font(pal))
        known = session.known()
        self._paint_title(p, geo, fm)
        bottom_y = geo.top + len(geo.rows) * geo.cell_h
        self._paint_spines(p, geo, fm, known, bottom_y)
        self._paint_links(p, geo, known)       # links through U between consecutive read columns
        self._paint_cells(p, geo, fm, height)
        rows_of = {int(u): r for r, u in enumerate(geo.rows)}
        self._paint_marks(p, geo, rows_of, session.cursor)
        self._paint_row_labels(p, geo, fm, rows_of)
        self._paint_column_labels(p, geo, fm, known, session.cursor, bottom_y, height)
        self._paint_legend(p, geo, fm, bottom_y, height)
        self._paint_colour_bar(p, geo, v.scale, fm)

    def _muted(self) -> QColor:
        muted = QColor(self.view.palette.foreground)
        muted.setAlpha(120)
        return muted

    def _paint_title(self, p: QPainter, geo: Geometry, fm: QFontMetricsF) -> None:
        """What the picture says (N cells per column, coupled through U) and how to read it."""
        v = self.view
        pal, session = v.palette, v.session_model.session
        n = session.units
        p.setFont(view_font(pal, 1.1, bold=True))
        p.setPen(QColor(pal.foreground))
        shape = tuple(session.info.weights.recurrent_kernel.shape)
        direction = "backward: reads right to left ←" if session.backward else "reads left to right →"
        layer = session.cell_kind.written            # LSTM, GRU, RNN: as ``info`` says
        through = f"through U {shape}" if session.cell_kind.recurrent else \
            "within a head through its memory C (no U)"       # an mLSTM
        title = f"{layer}(units={n}) unrolled over time: {n} cells in every column, coupled {through}"
        bold = QFontMetricsF(view_font(pal, 1.1, bold=True))
        if bold.horizontalAdvance(title) > geo.truth_width - 12:
            title = f"{layer}(units={n}): {n} cells per column, coupled {through}"
        self._text(p, QRectF(6, 2, geo.truth_width - 12, bold.height() + 2), title,
                   view_font(pal, 1.1, bold=True), LEFT_MIDDLE)
        p.setPen(self._muted())
        rows_note = "" if len(geo.rows) == n else \
            f" · units {geo.rows[0]}–{geo.rows[-1]} of {n} shown (a window around the selected unit)"
        heads = int(session.info.weights.unit_heads().max(initial=0)) + 1
        if heads > 1 and not session.cell_kind.recurrent:    # an mLSTM: no U at all
            rows_note += f" · {heads} heads: a unit reads its own head's C only"
        elif heads > 1:                 # an sLSTM: U is zero between heads, so are the links
            rows_note += f" · {heads} heads: a unit reads its own head's h only"
        self._text(p, QRectF(6, fm.height() + 5, geo.truth_width - 12, fm.height() * 1.1),
                   f"layer {session.info.name}, {direction} · colour: {words(session.cell_kind, v.signal)}"
                   f"{rows_note}", view_font(pal, 0.85), LEFT_MIDDLE)

    def _paint_spines(self, p: QPainter, geo: Geometry, fm: QFontMetricsF, known: slice,
                      bottom_y: float) -> None:
        """x spines (under the cells): x_t enters every cell of its column."""
        muted = self._muted()
        crowded = len(geo.rows) > CROWDED
        p.setPen(QPen(muted, 1.0 if crowded else 1.6))
        spines = []
        for col in range(geo.columns):
            t = geo.first + col
            cx = geo.left + col * geo.pitch + geo.cell_w / 2
            if known.start <= t < known.stop:
                spines += [QPointF(cx, bottom_y + fm.height() * 0.9), QPointF(cx, geo.top + geo.cell_h / 2)]
        p.drawLines(spines)
        for k in range(0, len(spines), 2):
            arrow_head(p, QPointF(spines[k].x(), bottom_y + 2), QPointF(0, -1), 5, muted)

    def _paint_cells(self, p: QPainter, geo: Geometry, fm: QFontMetricsF, height: float) -> None:
        """One cell per unit and column, coloured by the signal (empty where not read yet).
        Each cell is still its own fillRect, in the same order as ever (the picture stays the
        same pixels); what a paint no longer repeats per cell is the Python around it: the
        cells' rectangles are made once per grid, colour indices come as lists, a column not
        read yet is outlined in one call, and rows below the canvas (a short dock) are recorded
        but not drawn."""
        v = self.view
        values = v.values(geo.first, geo.columns)  # (cols, N) live, NaN where not read yet
        lut = v.scale.qcolours()
        shown = values[:, geo.rows]
        idx = v.scale.index(shown).tolist()                                         # (cols, rows)
        units = geo.rows.tolist()
        empty = QPen(QColor(v.palette.foreground), 1)
        empty_colour = empty.color()
        empty_colour.setAlpha(28)
        empty.setColor(empty_colour)
        numbers = geo.cell_h >= 26 and geo.cell_w >= fm.horizontalAdvance("+0.00") * 0.85 + 4
        p.setFont(view_font(v.palette, 0.8))
        p.setPen(Qt.NoPen)
        seen, columns = self._cell_rects(geo, height)
        drawn = self.drawn_cells
        for col, rects in enumerate(columns):
            t = geo.first + col
            ks = idx[col]
            if max(ks) < 0:                        # a column not read yet: outlines only
                p.setBrush(Qt.NoBrush)
                p.setPen(empty)
                p.drawRects(rects)
                p.setPen(Qt.NoPen)
                continue
            for row, (rect, k) in enumerate(zip(rects, ks[:seen], strict=True)):
                if k < 0:
                    p.setBrush(Qt.NoBrush)
                    p.setPen(empty)
                    p.drawRect(rect)
                    p.setPen(Qt.NoPen)
                else:
                    colour = lut[k]
                    p.fillRect(rect, colour)
                    drawn[(units[row], t)] = colour
                    if numbers:
                        p.setPen(QColor("#ffffff" if _dark(colour) else "#000000"))
                        p.drawText(rect, Qt.AlignCenter, f"{shown[col, row]:+.2f}")
                        p.setPen(Qt.NoPen)
            for row in range(seen, len(units)):    # below the canvas: known, not drawn
                if ks[row] >= 0:
                    drawn[(units[row], t)] = lut[ks[row]]

    def _cell_rects(self, geo: Geometry, height: float) -> tuple[int, list[list[QRectF]]]:
        """(rows on the canvas, each column's cell rectangles down to there): the same from
        one step to the next while the grid keeps its size (a step moves the positions under
        the columns, not the columns), so they are made again only when the grid changes.
        A row counts as on the canvas while its top lies above the bottom edge plus an
        outline's half pen."""
        key = (geo.left, geo.top, geo.cell_w, geo.cell_h, geo.pitch, geo.columns, len(geo.rows),
               height)
        known = getattr(self, "_rects_made", None)
        if known is None or known[0] != key:
            tops = [geo.cell_rect(geo.first, row).y() for row in range(len(geo.rows))]
            seen = sum(1 for y in tops if y < height + 1)
            columns = [[QRectF(geo.cell_rect(geo.first + col, 0).x(), y, geo.cell_w,
                               0.8 * geo.cell_h) for y in tops[:seen]]
                       for col in range(geo.columns)]
            known = self._rects_made = (key, seen, columns)
        return known[1], known[2]

    def _paint_marks(self, p: QPainter, geo: Geometry, rows_of: dict[int, int],
                     cursor: int | None) -> None:
        """The selected unit's row and the cursor's column."""
        pal = self.view.palette
        sel = self.view.session_model.selected_unit
        if sel in rows_of:
            y = geo.top + rows_of[sel] * geo.cell_h
            pen = QPen(QColor(pal.selection), float(np.clip(geo.cell_h * 0.08, 1.5, 3.0)))
            p.setPen(pen)
            p.setBrush(Qt.NoBrush)
            p.drawRect(QRectF(geo.left - 4, y, geo.columns * geo.pitch - (geo.pitch - geo.cell_w) + 8,
                              geo.cell_h))
        if cursor is not None and geo.first <= cursor < geo.first + geo.columns:
            x = geo.left + (cursor - geo.first) * geo.pitch
            p.setPen(QPen(QColor(pal.cursor), 2.4))
            p.setBrush(Qt.NoBrush)
            p.drawRect(QRectF(x - 3, geo.top - 3, geo.cell_w + 6, len(geo.rows) * geo.cell_h + 6))

    def _paint_row_labels(self, p: QPainter, geo: Geometry, fm: QFontMetricsF,
                          rows_of: dict[int, int]) -> None:
        """'unit j' beside the rows, as many as fit (the selected one always)."""
        pal = self.view.palette
        sel = self.view.session_model.selected_unit
        small = view_font(pal, 0.85)
        p.setFont(small)
        p.setPen(QColor(pal.foreground))
        every = max(1, int(np.ceil(fm.height() * 0.9 / geo.cell_h)))
        sel_row = rows_of.get(sel, -10 ** 6)
        for row, unit in enumerate(geo.rows.tolist()):
            if (row % every == 0 and abs(row - sel_row) >= every) or unit == sel:
                y = geo.top + (row + 0.5) * geo.cell_h
                self._text(p, QRectF(0, y - fm.height() / 2, geo.left - 8, fm.height()),
                           f"unit {unit}", small, RIGHT_MIDDLE)

    def _paint_column_labels(self, p: QPainter, geo: Geometry, fm: QFontMetricsF, known: slice,
                             cursor: int | None, bottom_y: float, height: float) -> None:
        """t above each column (as many as fit, the cursor's always), the input under it (a
        vector input's bars only when they reach the canvas: a short dock ends above them)."""
        v = self.view
        pal = v.palette
        fg, muted = QColor(pal.foreground), self._muted()
        cursor_colour = QColor(pal.cursor)
        font, small = view_font(pal), view_font(pal, 0.85)
        every_t = max(1, int(np.ceil((fm.horizontalAdvance("t=000") + 4) / geo.pitch)))
        vectors = v.vectors(geo.first, geo.columns)         # (cols, D) for a vector input, else None
        if vectors is not None and bottom_y + fm.height() >= height:
            vectors = np.full((geo.columns, 0), np.nan)     # below the canvas: nothing to see
        sparklines: list[tuple[QColor, QRectF, list[float]]] = []
        if vectors is not None:        # every column's bars at once: one scale for the sample
            drawn = np.isfinite(vectors).any(axis=1).tolist()
            shares = np.clip(np.nan_to_num(vectors.astype(np.float64)) / v.vector_scale(),
                             -1, 1).tolist()
        for col in range(geo.columns):
            t = geo.first + col
            cx = geo.left + col * geo.pitch + geo.cell_w / 2
            if (col % every_t == 0 and (cursor is None or abs(t - cursor) >= every_t)) or t == cursor:
                p.setPen(cursor_colour if t == cursor else fg)
                self._text(p, QRectF(cx - geo.pitch / 2, geo.top - fm.height() - 4, geo.pitch,
                                     fm.height()), f"t={t}", font, Qt.AlignCenter)
            colour = fg if known.start <= t < known.stop else muted
            box = QRectF(cx - geo.pitch / 2 + 1, bottom_y + fm.height(), geo.pitch - 2, fm.height() * 1.2)
            if vectors is not None:
                if drawn[col]:
                    sparklines.append((colour, box, shares[col]))
            else:
                p.setPen(colour)
                self._text(p, box, v.label(t), font, Qt.AlignCenter)
        self._paint_sparklines(p, sparklines)
        p.setPen(muted)
        first_label = geo.left + geo.cell_w / 2 - self._input_label_half(geo, geo.first, fm)
        self._text(p, QRectF(0, bottom_y + fm.height(), min(geo.left - 8, first_label - 4),
                             fm.height() * 1.2), "x_t", small, RIGHT_MIDDLE)

    def _input_label_half(self, geo: Geometry, position: int, fm: QFontMetricsF) -> float:
        """Half the width of what stands under column ``position`` (its value or token, or a
        vector's bars): a value label is wider than a small cell, and reaches past it."""
        pitch = geo.pitch - 2
        vectors = self.view.vectors(position, 1)
        if vectors is not None:
            return min(pitch * 0.6, 5.0 * vectors.shape[1]) / 2
        return min(fm.horizontalAdvance(self.view.label(position)), pitch) / 2

    def _paint_sparklines(self, p: QPainter, sparklines: list[tuple[QColor, QRectF, list[float]]]
                          ) -> None:
        """A vector input's D values under each column as small bars about a baseline (its
        values, not "x"), each given as its share of the sample's largest |x| (-1..1). Every
        column's baseline in one drawLines call per colour, then every bar in one drawRects
        call per colour (a column's bars over its own baseline, as when drawn one by one: the
        columns never overlap)."""
        lines: dict[int, tuple[QColor, list[QLineF]]] = {}
        bars: dict[int, tuple[QColor, list[QRectF]]] = {}
        for colour, box, shares in sparklines:
            d = len(shares)
            if d == 0:
                continue
            width = min(box.width() * 0.6, 5.0 * d)      # clear of the neighbours and of 'x_t'
            bar = width / d
            mid = box.center().y()
            half = box.height() * 0.45
            x0 = box.center().x() - width / 2
            key = colour.rgba()
            lines.setdefault(key, (colour, []))[1].append(QLineF(x0, mid, x0 + width, mid))
            bars.setdefault(key, (colour, []))[1].extend(
                QRectF(x0 + k * bar + bar * 0.15, min(mid, mid - share * half), bar * 0.7,
                       abs(share * half)) for k, share in enumerate(shares))
        if not lines:
            return
        p.save()
        for colour, batch in lines.values():
            p.setPen(QPen(colour, 0.8))
            p.drawLines(batch)
        p.setPen(Qt.NoPen)
        for colour, batch in bars.values():
            p.setBrush(colour)
            p.drawRects(batch)
        p.restore()

    def _paint_legend(self, p: QPainter, geo: Geometry, fm: QFontMetricsF, bottom_y: float,
                      height: float) -> None:
        top = bottom_y + 2.3 * fm.height()
        self._text(p, QRectF(6, top, geo.truth_width - 12, max(height - top - 2, fm.height())),
                   self.legend_text(), view_font(self.view.palette, 0.85), wrap=True)

    def _paint_colour_bar(self, p: QPainter, geo: Geometry, scale: ColourScale, fm: QFontMetricsF) -> None:
        pal = self.view.palette
        x = geo.left + geo.columns * geo.pitch - (geo.pitch - geo.cell_w) + 16
        h = min(len(geo.rows) * geo.cell_h, 260)
        top = geo.top
        grad = QLinearGradient(0, top + h, 0, top)
        colours = scale.qcolours()
        for k in range(0, 256, 32):
            grad.setColorAt(k / 255, colours[k])
        grad.setColorAt(1.0, colours[255])
        rect = QRectF(x, top, 12, h)
        p.fillRect(rect, grad)
        p.setPen(QPen(QColor(pal.foreground), 0.8))
        p.setBrush(Qt.NoBrush)
        p.drawRect(rect)
        small = view_font(pal, 0.85)
        line = fm.height()
        room = max(geo.truth_width - x - 16, 20.0)
        ticks = [(top, f"{scale.hi:.2g}"), (top + h - line, f"{scale.lo:.2g}")]
        if scale.diverging and scale.lo < 0 < scale.hi and h > 3 * line:
            ticks.append((top + (h - line) / 2, "0"))
        for y, text in ticks:
            self._text(p, QRectF(x + 16, y, room, line), text, small,
                       LEFT_MIDDLE)
        # which signal and on what scale (its words are in the title's line above), clear of
        # the last column's input label, which a short grid brings down to their height
        last = geo.first + geo.columns - 1
        last_label = (geo.left + (geo.columns - 1) * geo.pitch + geo.cell_w / 2
                      + self._input_label_half(geo, last, fm))
        words_x = max(x - 4, last_label + 4)
        wide = max(geo.truth_width - words_x, 40.0)
        self._text(p, QRectF(words_x, top + h + 4, wide, line),
                   symbol(self.view.session_model.cell_kind, self.view.signal), small, LEFT_MIDDLE)
        self._text(p, QRectF(words_x, top + h + 4 + line, wide, line), "linear", small,
                   LEFT_MIDDLE)

    # --- mouse -------------------------------------------------------------------------------
    def mouseMoveEvent(self, event) -> None:  # noqa: N802 (Qt API)
        geo = self.geometry_
        hit = geo.hit(event.position().x(), event.position().y()) if geo is not None else None
        if hit != self.hover:
            self.hover = hit
            self.update()
            if hit is not None:
                self.hovered.emit(self.view.describe(*hit))

    def leaveEvent(self, event) -> None:  # noqa: N802
        if self.hover is not None:
            self.hover = None
            self.update()

    def mousePressEvent(self, event) -> None:  # noqa: N802
        geo = self.geometry_
        if geo is None or event.button() != Qt.LeftButton:
            return
        hit = geo.hit(event.position().x(), event.position().y())
        if hit is not None:
            self.view.session_model.select(*hit)


def _dark(colour: QColor) -> bool:
    return 0.299 * colour.red() + 0.587 * colour.green() + 0.114 * colour.blue() < 128


class UnrolledView(QWidget):
    """Controls (signal, links per unit, the wrong picture) over the painted canvas."""

    hovered = Signal(str)

    def __init__(self, model: SessionModel, palette: Palette, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.session_model = model
        self.palette = palette
        self.signal = ""         # the run's kind's first state until chosen (follow_kind)
        self.k = 2
        self.wrong = False
        self._links: Links | None = None
        self._links_key: tuple | None = None
        self._effect: DecoupleEffect | None | bool = False   # False: not measured for this run
        self.effect_note = ""                                 # why there is no effect, if known
        self._labels: tuple[int, list[str]] | None = None     # (first position, labels)
        self.scale = ColourScale("c", -1.0, 1.0, True)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(2, 2, 2, 2)
        bar = QHBoxLayout()
        self.signal_combo = signal_chooser(bar, self.set_signal)
        self.signal = follow_kind(self.signal_combo, model.cell_kind, self.signal)
        bar.addWidget(QLabel("  links per unit:"))
        self.k_spin = QSpinBox()
        self.k_spin.setRange(0, 8)
        self.k_spin.setValue(self.k)
        self.k_spin.setToolTip("How many of each unit's strongest incoming links through U to draw")
        self.k_spin.valueChanged.connect(self.set_k)
        bar.addWidget(self.k_spin)
        self.wrong_box = QCheckBox("the wrong picture")
        self.wrong_box.setToolTip("Draw beside it the two common misreadings of LSTM(units=N), "
                                  "each with why it is wrong for this model")
        self.wrong_box.toggled.connect(self.set_wrong)
        bar.addWidget(self.wrong_box)
        bar.addStretch(1)
        layout.addLayout(bar)
        self.canvas = UnrolledCanvas(self)
        self.canvas.hovered.connect(self.hovered)
        layout.addWidget(self.canvas, 1)
        self.info = QLabel(" ")
        layout.addWidget(self.info)
        self.canvas.hovered.connect(self.info.setText)
        model.runChanged.connect(self.rebuild)
        model.spanChanged.connect(self.rebuild)          # a checkpointed run's next span
        model.positionChanged.connect(self.on_position)
        model.selectionChanged.connect(lambda *_: self.canvas.update())
        self.rebuild()

    # --- state -------------------------------------------------------------------------------
    def rebuild(self) -> None:
        self.signal = follow_kind(self.signal_combo, self.session_model.cell_kind, self.signal)
        self._links_key = None
        self._effect = False
        self.effect_note = ""
        self._labels = None
        self._rescale()
        self.canvas.update()

    def _rescale(self) -> None:
        if not self.session_model.ready:
            return
        model = self.session_model
        # the whole run, or a checkpointed run's span (docs/architecture.md, "Long runs")
        full = model.full().signal(self.signal)[model.sample] if self.signal in model.cell_kind.states else None
        self.scale = colour_scale(self.signal, model.session.info.weights, full)

    def on_position(self, t: int) -> None:
        self.canvas.update()          # a no-op while the dock is closed

    def set_signal(self, name: str) -> None:
        if accepts(self.signal_combo, name) and name != self.signal:
            self.signal = name
            self._links_key = None
            index = self.signal_combo.findData(name)
            if index >= 0 and index != self.signal_combo.currentIndex():
                self.signal_combo.setCurrentIndex(index)
            self._rescale()
            self.canvas.update()

    def set_k(self, k: int) -> None:
        self.k = int(k)
        self._links_key = None
        if self.k_spin.value() != k:
            self.k_spin.setValue(k)
        self.canvas.update()

    def set_wrong(self, on: bool) -> None:
        self.wrong = bool(on)
        if self.wrong_box.isChecked() != self.wrong:
            self.wrong_box.setChecked(self.wrong)
        self.canvas.update()

    def apply_palette(self, palette: Palette) -> None:
        self.palette = palette
        self.canvas.update()

    # --- what the canvas reads ---------------------------------------------------------------
    def shown_units(self) -> np.ndarray:
        n = self.session_model.units
        if n <= MAX_ROWS:
            return np.arange(n)
        centre = self.session_model.selected_unit if self.session_model.selected_unit >= 0 else 0
        start = int(min(max(centre - MAX_ROWS // 2, 0), n - MAX_ROWS))
        return np.arange(start, start + MAX_ROWS)

    def values(self, first: int, count: int) -> np.ndarray:
        """(count, N) the chosen signal of the current sample at positions first.., NaN where
        not read (the engine's numbers; a checkpointed run's come from its span)."""
        return span_values(self.session_model, self.signal, first, count)

    def links(self) -> Links | None:
        if not self.session_model.ready or self.k <= 0:
            return None
        weights = self.session_model.session.info.weights
        key = (id(weights), self.signal, self.k)
        if key != self._links_key:
            try:
                self._links = top_links(weights, self.signal, self.k)
            except ScopeError:
                self._links = None
            self._links_key = key
        return self._links

    def incoming(self, unit: int) -> np.ndarray | None:
        """Every link into ``unit`` (for hover), from U (cached per layer and signal)."""
        weights = self.session_model.session.info.weights
        key = (id(weights), self.signal)
        if getattr(self, "_matrix_key", None) != key:
            try:
                self._matrix = link_matrix(weights, self.signal)
            except ScopeError:
                self._matrix = None
            self._matrix_key = key
        return None if self._matrix is None else self._matrix[:, unit]

    def effect(self) -> DecoupleEffect | None:
        if self._effect is False:
            try:
                with np.errstate(all="ignore"):
                    self._effect = decouple_effect(self.session_model.session)
            except ScopeError as exc:
                self._effect = None
                self.effect_note = str(exc)
        return self._effect  # type: ignore[return-value]

    def label(self, position: int) -> str:
        """The input under column ``position`` (labels are made for the span shown)."""
        a, b = self.session_model.span()
        if self._labels is None or self._labels[0] != a:
            self._labels = (a, step_labels(self.session_model, a, b))
        first, labels = self._labels
        return labels[position - first] if 0 <= position - first < len(labels) else ""

    def vectors(self, first: int, count: int) -> np.ndarray | None:
        """(count, D) the input vectors under columns first.. (NaN outside the run), or None
        when each input is one token or one number (its label says it)."""
        x = np.asarray(self.session_model.session.x)[self.session_model.sample]
        if x.ndim != 2 or x.shape[1] < 2:
            return None
        out = np.full((count, x.shape[1]), np.nan, np.float32)
        lo, hi = max(first, 0), min(first + count, x.shape[0])
        if hi > lo:
            out[lo - first:hi - first] = x[lo:hi]
        return out

    def vector_scale(self) -> float:
        """The largest |x| of the sample: one scale for every column's sparkline."""
        x = np.asarray(self.session_model.session.x)[self.session_model.sample]
        with np.errstate(all="ignore"):
            m = float(np.nanmax(np.abs(x))) if x.size else 0.0
        return m if np.isfinite(m) and m > 0 else 1.0

    def describe(self, unit: int, position: int) -> str:
        v = self.session_model.value(self.signal, unit, position)
        shown = "not read yet" if not np.isfinite(v) else f"{v:+.4f}"
        return (f"unit {unit} · t = {position} · {words(self.session_model.cell_kind, self.signal)} {shown} · "
                f"lines: all of U's links into unit {unit}")
