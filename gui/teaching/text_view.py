"""Text coloured by a unit: the input laid out as text, each character's background the colour
of a chosen unit's C, h or gate after reading it (Karpathy, Johnson & Fei-Fei's picture, but
stepping live). Several units are stacked rows of the same text; "Find units for…" ranks units
by how closely they follow a feature of the text (``engine.analyses.features``).

Drawing is one QPainter pass (docs/architecture.md, "Teaching views"); values come from the
session's live trace (NaN = not read yet: no colour), rankings from the engine.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from PySide6.QtCore import QPointF, QRectF, QSize, Qt, Signal
from PySide6.QtGui import QColor, QFont, QFontDatabase, QFontMetricsF, QLinearGradient, QPainter, QPen
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QListWidget,
    QListWidgetItem,
    QPushButton,
    QScrollArea,
    QSplitter,
    QVBoxLayout,
    QWidget,
)

from engine.analyses.features import EXAMPLES, Feature, UnitMatch, find_units
from engine.errors import ScopeError
from gui.session_model import SessionModel
from gui.signals import symbol, words
from gui.teaching.common import (
    ColourScale,
    PaintedCanvas,
    accepts,
    draw_fitted,
    follow_kind,
    signal_chooser,
    text_of,
    view_font,
)
from gui.theme import Palette

MAX_ROWS = 8
MAX_CHARS = 2048         # characters laid out at once: a window around the cursor beyond that
SHOWN = {"\n": "⏎", " ": " ", "\t": "⇥"}


def text_scale(name: str, trace, sample: int, unit: int) -> ColourScale:
    """Diverging for every signal (text must stay readable on it): gates over their whole
    range, C/h/g centred on 0 with +-max|value| of this unit over the whole run (each row its
    own scale: one unit's C may reach 10 while another's stays under 1)."""
    w = trace.weights
    act = w.activation_of(name)
    if act is not None and act.bounded:
        return ColourScale(name, float(act.lo), float(act.hi), True)
    values = trace.signal(name)[sample]
    column = values[:, unit] if unit < values.shape[1] else np.full(len(values), np.nan)
    m = float(np.nanmax(np.abs(column))) if np.isfinite(column).any() else 1.0
    m = m if np.isfinite(m) and m > 0 else 1.0
    return ColourScale(name, -m, m, True)


@dataclass
class TextLayout:
    char_w: float
    line_h: float
    left: float
    top: float
    block_h: float                       # one unit's row of text, label included
    label_h: float
    places: list[tuple[int, int]]        # per character: (line, column) inside a block
    lines: int

    def char_rect(self, row: int, position: int) -> QRectF:
        line, col = self.places[position]
        y = self.top + row * self.block_h + self.label_h + line * self.line_h
        return QRectF(self.left + col * self.char_w, y, self.char_w, self.line_h)


class TextCanvas(PaintedCanvas):
    """The painted text blocks (the exported figure is this widget)."""

    clicked = Signal(int)                # input position

    def __init__(self, view: TextView) -> None:
        super().__init__(view)
        self.view = view
        self.layout_: TextLayout | None = None
        self.drawn: dict[tuple[int, int], QColor] = {}      # (unit, position) -> background
        self.text_items: list = []
        self.setMouseTracking(True)

    def mono(self) -> QFont:
        font = QFontDatabase.systemFont(QFontDatabase.FixedFont)
        base = view_font(self.view.palette)
        font.setPointSizeF(base.pointSizeF() * 1.25)
        return font

    def compute_layout(self, width: float) -> TextLayout | None:
        text = self.view.text
        if text is None:
            return None
        fm = QFontMetricsF(self.mono())
        char_w = fm.horizontalAdvance("M")
        line_h = fm.height() * 1.35
        left = 8.0
        label_h = QFontMetricsF(view_font(self.view.palette, bold=True)).height() * 1.5
        top = QFontMetricsF(view_font(self.view.palette)).height() * 2.6
        per_line = max(8, int((width - left - 8) // char_w))
        places, line, col = [], 0, 0
        for k, ch in enumerate(text):
            if ch not in " \n" and (k == 0 or text[k - 1] in " \n") and col > 0:
                end = k
                while end < len(text) and text[end] not in " \n":
                    end += 1
                if col + (end - k) > per_line:       # wrap before a word that does not fit
                    line, col = line + 1, 0
            if col >= per_line:
                line, col = line + 1, 0
            places.append((line, col))
            col += 1
            if ch == "\n":
                line, col = line + 1, 0
        lines = line + 1 if (col or not places) else line
        block_h = label_h + lines * line_h + 10
        return TextLayout(char_w, line_h, left, top, block_h, label_h, places, max(lines, 1))

    def content_height(self, width: float) -> int:
        layout = self.compute_layout(max(width, 200))
        if layout is None:
            return 120
        return int(layout.top + max(len(self.view.rows), 1) * layout.block_h + 8)

    def sizeHint(self) -> QSize:  # noqa: N802 (Qt API)
        return QSize(400, self.content_height(max(self.width(), 400)))

    def fit(self) -> None:
        """Tall enough for every row at the current width (the scroll area scrolls the rest;
        an exported figure shows all of it)."""
        height = self.content_height(self.width() or 800)
        if height != self.minimumHeight():
            self.setMinimumHeight(height)
        self.update()

    def resizeEvent(self, event) -> None:  # noqa: N802
        super().resizeEvent(event)
        if event.oldSize().width() != event.size().width():
            self.fit()

    def paint_on(self, p: QPainter, width: float, height: float) -> None:
        """The header line, the colour bar, and one row of text per chosen unit."""
        v = self.view
        pal = v.palette
        p.fillRect(QRectF(0, 0, width, height), QColor(pal.background))
        self.drawn = {}
        self.text_items = []          # the texts fitted to a box (the figure's layout checks)
        fg = QColor(pal.foreground)
        p.setRenderHint(QPainter.TextAntialiasing, True)
        if v.text is None:
            p.setPen(fg)
            p.drawText(QRectF(10, 10, width - 20, height - 20), Qt.TextWordWrap,
                       v.unavailable_reason())
            self.layout_ = None
            return
        layout = self.compute_layout(width)
        self.layout_ = layout
        session = v.session_model.session
        live = v.session_model.live()
        first = v.offset - live.start
        values = live.signal(v.signal)[v.session_model.sample, first:first + len(v.text)]   # (len(text), N)
        cursor = None if session.cursor is None else session.cursor - v.offset
        small = view_font(pal, 0.9)
        p.setFont(small)
        p.setPen(fg)
        read = f"{session.t} of {session.steps} characters read"
        if v.offset or len(v.text) < session.steps:        # a checkpointed run: its span
            read += f" (characters {v.offset}–{v.offset + len(v.text) - 1} shown)"
        hint = "" if pal.printing else " · click a character to step there"   # not on paper
        draw_fitted(p, QRectF(layout.left, 2, width - layout.left - 8,
                              QFontMetricsF(small).height() * 1.3),
                    f"background: {words(v.session_model.cell_kind, v.signal)} of the row's unit after reading "
                    f"the character (blue low, red high) · {read}{hint}", small,
                    Qt.AlignLeft | Qt.AlignVCenter, wrap=False, items=self.text_items)
        self._colour_bar(p, v.scale_for(v.rows[0]) if v.rows else v.scale, width)
        for row, unit in enumerate(v.rows):
            self._paint_row(p, layout, row, unit, values, cursor)

    def _paint_row(self, p: QPainter, layout, row: int, unit: int, values: np.ndarray,
                   cursor: int | None) -> None:
        """One unit's row: its label, then every character on the colour of its value."""
        v = self.view
        pal = v.palette
        fg = QColor(pal.foreground)
        mono = self.mono()
        fmm = QFontMetricsF(mono)
        muted = QColor(pal.foreground)
        muted.setAlpha(110)
        y0 = layout.top + row * layout.block_h
        p.setFont(view_font(pal, bold=True))
        p.setPen(fg)
        scale = v.scale_for(unit)
        lut = scale.qcolours()
        label = f"unit {unit} · {symbol(v.session_model.cell_kind, v.signal)} ({scale.lo:+.2g} … {scale.hi:+.2g})"
        note = v.row_notes.get(unit)
        p.drawText(QPointF(layout.left, y0 + layout.label_h * 0.72),
                   label + (f"   ({note})" if note else ""))
        column = values[:, unit] if unit < values.shape[1] else np.full(len(values), np.nan)
        idx = scale.index(column)
        p.setFont(mono)
        for pos, ch in enumerate(v.text):
            rect = layout.char_rect(row, pos)
            k = int(idx[pos])
            if k >= 0:
                colour = lut[k]
                p.fillRect(rect, colour)
                self.drawn[(int(unit), pos)] = colour
                p.setPen(QColor("#ffffff") if _dark(colour) else QColor("#000000"))
            else:
                p.setPen(muted)
            glyph = SHOWN.get(ch, ch)
            if glyph.strip():
                p.drawText(QPointF(rect.left() + (rect.width() - fmm.horizontalAdvance(glyph)) / 2,
                                   rect.top() + (rect.height() + fmm.ascent() - fmm.descent()) / 2),
                           glyph)
        if cursor is not None and 0 <= cursor < len(v.text):
            p.setPen(QPen(QColor(pal.cursor), 2.2))
            p.setBrush(Qt.NoBrush)
            p.drawRect(layout.char_rect(row, cursor).adjusted(-1, -1, 1, 1))

    def _colour_bar(self, p: QPainter, scale: ColourScale, width: float) -> None:
        pal = self.view.palette
        fm = QFontMetricsF(view_font(pal, 0.85))
        w, h = 160.0, 10.0
        x = width - w - fm.horizontalAdvance("high") - 16
        y = fm.height() * 1.3
        if x < width * 0.55:
            return                           # too narrow: the note above says what colours are
        grad = QLinearGradient(x, 0, x + w, 0)
        colours = scale.qcolours()
        for k in range(0, 256, 32):
            grad.setColorAt(k / 255, colours[k])
        grad.setColorAt(1.0, colours[255])
        p.fillRect(QRectF(x, y, w, h), grad)
        p.setPen(QPen(QColor(pal.foreground), 0.8))
        p.drawRect(QRectF(x, y, w, h))
        p.setFont(view_font(pal, 0.85))
        lo, hi = ("low", "high") if self.view.signal in self.view.session_model.cell_kind.states else (f"{scale.lo:.2g}", f"{scale.hi:.2g}")
        p.drawText(QPointF(x - fm.horizontalAdvance(lo) - 4, y + h), lo)
        p.drawText(QPointF(x + w + 4, y + h), hi)

    def position_at(self, x: float, y: float) -> int | None:
        layout = self.layout_
        if layout is None:
            return None
        for pos in range(len(layout.places)):
            for row in range(len(self.view.rows)):
                if layout.char_rect(row, pos).contains(QPointF(x, y)):
                    return pos
        return None

    def mousePressEvent(self, event) -> None:  # noqa: N802
        if event.button() != Qt.LeftButton:
            return
        pos = self.position_at(event.position().x(), event.position().y())
        if pos is not None:
            self.clicked.emit(pos)


def _dark(colour: QColor) -> bool:
    return 0.299 * colour.red() + 0.587 * colour.green() + 0.114 * colour.blue() < 128


class TextView(QWidget):
    """Controls (signal, units, Find units for…) beside the painted text."""

    def __init__(self, model: SessionModel, palette: Palette, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.session_model = model
        self.palette = palette
        self.signal = ""         # the run's kind's first state until chosen (follow_kind)
        self.rows: list[int] = [0]
        self.row_notes: dict[int, str] = {}
        self.follow = True
        self.text: str | None = None
        self.offset = 0                  # input position of text[0] (a checkpointed run's span)
        self.matches: list[UnitMatch] = []
        self._shown_model = None
        self.scale = ColourScale("c", -1.0, 1.0, True)
        outer = QVBoxLayout(self)
        outer.setContentsMargins(2, 2, 2, 2)
        outer.addLayout(self._build_bar())
        split = QSplitter(Qt.Horizontal)
        self.canvas = TextCanvas(self)
        self.canvas.clicked.connect(self._go_to)
        self.scroll = QScrollArea()
        self.scroll.setWidgetResizable(True)
        self.scroll.setWidget(self.canvas)
        split.addWidget(self.scroll)
        split.addWidget(self._build_finder())
        split.setStretchFactor(0, 4)
        split.setStretchFactor(1, 1)
        outer.addWidget(split, 1)
        model.runChanged.connect(self.rebuild)
        model.spanChanged.connect(self.rebuild)          # a checkpointed run's next span
        model.positionChanged.connect(self.on_position)
        model.selectionChanged.connect(self._selection)
        self.rebuild()

    def _build_bar(self) -> QHBoxLayout:
        """Signal, the units shown as rows, and whether the first row follows the selection."""
        bar = QHBoxLayout()
        self.signal_combo = signal_chooser(bar, self.set_signal)
        self.signal = follow_kind(self.signal_combo, self.session_model.cell_kind, self.signal)
        bar.addWidget(QLabel("  units:"))
        self.units_edit = QLineEdit()
        self.units_edit.setPlaceholderText("e.g. 3, 7, 12")
        self.units_edit.setToolTip(f"One row of text per unit (up to {MAX_ROWS}), comma-separated")
        self.units_edit.setMaximumWidth(160)
        self.units_edit.editingFinished.connect(lambda: self.set_units_text(self.units_edit.text()))
        bar.addWidget(self.units_edit)
        self.follow_box = QCheckBox("follow the selected lane")
        self.follow_box.setChecked(True)
        self.follow_box.setToolTip("The first row shows the unit selected in the units panel")
        self.follow_box.toggled.connect(self.set_follow)
        bar.addWidget(self.follow_box)
        bar.addStretch(1)
        return bar

    def _build_finder(self) -> QWidget:
        """"Find units for…": a feature of the text, examples, and the units that follow it."""
        side = QWidget()
        col = QVBoxLayout(side)
        col.setContentsMargins(4, 0, 0, 0)
        col.addWidget(QLabel("<b>Find units for…</b>"))
        self.feature_edit = QLineEdit()
        self.feature_edit.setPlaceholderText("in_quotes · depth('(', ')') · col")
        self.feature_edit.setToolTip("A feature of the text at each step: " + ", ".join(EXAMPLES)
                                     + " … (names ch t col line word_pos in_quotes is_upper is_lower "
                                       "is_alpha is_digit is_space is_punct; depth(a, b) count(c) "
                                       "since(c) in_quotes(q) abs(E); and or not, + - * / %)")
        self.feature_edit.returnPressed.connect(self.find)
        col.addWidget(self.feature_edit)
        row = QHBoxLayout()
        self.examples = QComboBox()
        self.examples.addItem("examples…")
        self.examples.addItems(list(EXAMPLES))
        self.examples.activated.connect(self._example)
        row.addWidget(self.examples)
        self.find_button = QPushButton("Find")
        self.find_button.clicked.connect(lambda: self.find())     # clicked passes a bool
        row.addWidget(self.find_button)
        col.addLayout(row)
        self.find_info = QLabel(" ")
        self.find_info.setWordWrap(True)
        col.addWidget(self.find_info)
        self.results = QListWidget()
        self.results.setToolTip("Click a unit to show it; the best ones are shown as rows")
        self.results.itemClicked.connect(self._result_clicked)
        col.addWidget(self.results, 1)
        return side

    # --- state -------------------------------------------------------------------------------
    def unavailable_reason(self) -> str:
        if not self.session_model.ready:
            return "no model loaded"
        return ("The text view is for models that read characters: an Embedding model whose "
                "vocabulary (a demo's, such as demo:code or demo:text) maps each token to one "
                "character. This model reads vectors or tokens without a vocabulary.")

    def rebuild(self) -> None:
        self.signal = follow_kind(self.signal_combo, self.session_model.cell_kind, self.signal)
        self._retext()
        if self.session_model.ready:
            n = self.session_model.units
            if self.session_model.model is not self._shown_model:      # another model: its own unit
                self._shown_model = self.session_model.model
                self.rows, self.row_notes = [self._default_unit()], {}
            self.rows = [u for u in self.rows if u < n] or [self._default_unit()]
            self._rescale()
        self.matches = []
        self.results.clear()
        self.find_info.setText(" ")
        self._sync_edit()
        self.canvas.fit()

    def _text_window(self) -> tuple[int, int]:
        """Input positions laid out: the whole input, or a checkpointed run's span
        (docs/architecture.md, "Long runs"), at most MAX_CHARS of it around the cursor (a
        repaint draws every character laid out)."""
        a, b = self.session_model.span()
        if b - a <= MAX_CHARS:
            return a, b
        session = self.session_model.session
        cursor = session.cursor if session.cursor is not None else (b - 1 if session.backward else a)
        lo = max(a, min(cursor - MAX_CHARS // 2, b - MAX_CHARS))
        return lo, lo + MAX_CHARS

    def _retext(self) -> None:
        """The text laid out and its first input position (the values drawn under each
        character come from the same positions)."""
        self.offset, self.text = 0, None
        if self.session_model.ready:
            a, b = self._text_window()
            self.offset, self.text = a, text_of(self.session_model, a, b)

    def _default_unit(self) -> int:
        demo = self.session_model.demo
        unit = getattr(demo, "suggested_unit", None) if demo is not None else None
        return int(unit) if unit is not None and 0 <= unit < self.session_model.units else 0

    def _rescale(self) -> None:
        self._scales: dict[int, ColourScale] = {}
        self.scale = self.scale_for(self.rows[0] if self.rows else 0)

    def scale_for(self, unit: int) -> ColourScale:
        """The colour scale of one row (cached per run, signal and sample)."""
        scales = getattr(self, "_scales", None)
        if scales is None:
            scales = self._scales = {}
        if unit not in scales:
            scales[unit] = text_scale(self.signal, self.session_model.full(), self.session_model.sample, unit)
        return scales[unit]

    def on_position(self, t: int) -> None:
        cursor = self.session_model.session.cursor if self.session_model.ready else None
        if self.text is not None and cursor is not None and len(self.text) == MAX_CHARS:
            margin = MAX_CHARS // 8
            if not self.offset + margin <= cursor < self.offset + MAX_CHARS - margin \
                    and self._text_window()[0] != self.offset:
                self._retext()               # the cursor left the laid-out text: move it
                self.canvas.fit()
                return
        self.canvas.update()

    def _selection(self, unit: int, position: int) -> None:
        if self.follow and 0 <= unit < self.session_model.units and (not self.rows or self.rows[0] != unit):
            self.rows = [unit] + [u for u in self.rows if u != unit][:MAX_ROWS - 1]
            self._sync_edit()
            self.canvas.fit()

    def set_follow(self, on: bool) -> None:
        self.follow = bool(on)
        if self.follow_box.isChecked() != self.follow:
            self.follow_box.setChecked(self.follow)

    def set_signal(self, name: str) -> None:
        if accepts(self.signal_combo, name) and name != self.signal:
            self.signal = name
            index = self.signal_combo.findData(name)
            if index != self.signal_combo.currentIndex():
                self.signal_combo.setCurrentIndex(index)
            if self.session_model.ready:
                self._rescale()
            self.canvas.update()

    def set_units(self, units: list[int], notes: dict[int, str] | None = None) -> None:
        n = self.session_model.units if self.session_model.ready else 0
        picked = []
        for u in units:
            if 0 <= int(u) < n and int(u) not in picked:
                picked.append(int(u))
        if not picked:
            return
        self.rows = picked[:MAX_ROWS]
        self.row_notes = dict(notes or {})
        self._sync_edit()
        self.canvas.fit()

    def set_units_text(self, text: str) -> None:
        try:
            units = [int(part) for part in text.replace(";", ",").split(",") if part.strip()]
        except ValueError:
            self.find_info.setText("<span style='color:#c0392b'>units: whole numbers separated "
                                   "by commas</span>")
            self._sync_edit()
            return
        n = self.session_model.units
        bad = [u for u in units if not 0 <= u < n]
        if bad:
            self.find_info.setText(f"<span style='color:#c0392b'>the layer has units 0..{n - 1}"
                                   "</span>")
        self.set_units([u for u in units if 0 <= u < n])

    def _sync_edit(self) -> None:
        self.units_edit.setText(", ".join(str(u) for u in self.rows))

    def apply_palette(self, palette: Palette) -> None:
        self.palette = palette
        self.canvas.fit()

    # --- find units ----------------------------------------------------------------------------
    def _example(self, index: int) -> None:
        if index > 0:
            self.feature_edit.setText(self.examples.itemText(index))
            self.examples.setCurrentIndex(0)
            self.find()

    def find(self, feature: str | None = None, top: int = 8) -> list[UnitMatch]:
        """Rank units by |correlation| of C or h with the feature over the whole input."""
        text = self.feature_edit.text() if feature is None else feature
        if feature is not None:
            self.feature_edit.setText(feature)
        self.results.clear()
        self.matches = []
        if self.text is None:
            self.find_info.setText(self.unavailable_reason())
            return []
        a, b = self.session_model.span()              # the whole input (a checkpointed run: its span)
        whole = self.text if (a, b) == (self.offset, self.offset + len(self.text)) else \
            text_of(self.session_model, a, b)
        if whole is None:
            self.find_info.setText(self.unavailable_reason())
            return []
        try:
            compiled = Feature(text)
            self.matches = find_units(self.session_model.full(), whole, compiled,
                                      sample=self.session_model.sample, top=top)
        except ScopeError as exc:
            self.find_info.setText(f"<span style='color:#c0392b'>{_escape(str(exc))}</span>")
            return []
        where = "" if not self.session_model.checkpointed else \
            f" {a}–{b - 1} (the span around the cursor)"
        self.find_info.setText(f"units whose C or h follows <code>{_escape(text)}</code> over "
                               f"the {len(whole)} characters{where} (Pearson r, best first):")
        for m in self.matches:
            item = QListWidgetItem(f"unit {m.unit} · {symbol(self.session_model.cell_kind, m.signal)} · r = {m.r:+.3f}")
            item.setData(Qt.UserRole, m.unit)
            self.results.addItem(item)
        best = self.matches[:3]
        if best:
            self.set_units([m.unit for m in best],
                           {m.unit: f"r = {m.r:+.2f} with {text}" for m in best})
            if self.signal not in self.session_model.cell_kind.states or best[0].signal != self.signal:
                self.set_signal(best[0].signal)
        return self.matches

    def _result_clicked(self, item: QListWidgetItem) -> None:
        unit = int(item.data(Qt.UserRole))
        self.set_units([unit] + [u for u in self.rows if u != unit], self.row_notes)
        self.session_model.select(unit, self.session_model.selected_position)

    def _go_to(self, position: int) -> None:
        session = self.session_model.session
        if session is not None:
            self.session_model.seek(session.position_to_t(position + self.offset))


def _escape(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
