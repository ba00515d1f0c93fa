"""Both directions of a Bidirectional layer, and the samples of a batch, side by side.

Both views draw units x time heat-maps (one image each, scaled into its box: the cost of a
repaint does not grow with N or T beyond building one image per map) with the shared cursor
(docs/architecture.md, "Teaching views"):

* **Both directions**: forward (its cursor moving left to right), backward (its cursor moving
  from the end), and the merged output the wrapper returns, whose column t is complete only
  when both directions have read position t. Numbers from ``engine.analyses.teaching.both_directions``.
* **Batch samples**: one map per sample (or one strip of the selected unit per sample), all
  cut at the same cursor. Numbers from the session's live trace.
"""

from __future__ import annotations

import numpy as np
from PySide6.QtCore import QPointF, QRectF, QSize, Qt
from PySide6.QtGui import QColor, QFontMetricsF, QImage, QLinearGradient, QPainter, QPen
from PySide6.QtWidgets import QComboBox, QHBoxLayout, QLabel, QVBoxLayout, QWidget

from engine.analyses.teaching import BothDirections, both_directions, directions_reason
from engine.errors import ScopeError
from engine.runs.time_axis import cursor_after
from gui.session_model import SessionModel
from gui.signals import words
from gui.teaching.common import (
    FIGURE_WIDTH,
    ColourScale,
    PaintedCanvas,
    TextItem,
    accepts,
    colour_scale,
    draw_fitted,
    follow_kind,
    signal_chooser,
    view_font,
)
from gui.theme import Palette

MAX_SAMPLES = 8


def heat_image(values: np.ndarray, scale: ColourScale) -> QImage:
    """(rows, columns) values as an image, one pixel each; NaN (not read) transparent."""
    v = np.asarray(values)
    idx = scale.index(v)
    rgba = np.zeros(v.shape + (4,), np.uint8)
    ok = idx >= 0
    rgba[ok, :3] = scale.lut[idx[ok]]
    rgba[ok, 3] = 255
    rgba = np.ascontiguousarray(rgba)
    rows, cols = v.shape
    image = QImage(rgba.data, cols, rows, cols * 4, QImage.Format_RGBA8888)
    return image.copy()                 # own the pixels (rgba goes away)


class MapsCanvas(PaintedCanvas):
    """Labelled heat-maps stacked vertically, each with its own cursor line, its rows named
    and a colour bar for each colour range they are drawn in, saying what the colours mean."""

    def __init__(self, view) -> None:
        super().__init__(view)
        self.view = view
        self.setMinimumSize(360, 200)
        self.boxes: list[tuple[str, QRectF, np.ndarray]] = []   # (label, rect, values drawn)
        self.text_items: list[TextItem] = []
        self.bars: list[tuple[str, float, float]] = []    # (what, lo, hi) of each bar drawn

    def figure_size(self) -> QSize:
        """A figure's logical size: a slide's width, each map tall enough for its rows."""
        width = max(self.width(), FIGURE_WIDTH)
        maps = self.view.maps()
        fm = QFontMetricsF(view_font(self.view.palette))
        if isinstance(maps, str):
            return QSize(int(width), int(6 * fm.height()))
        head, gap, top, bottom = self._spacing(fm, len(self._bar_scales(maps)))
        body = sum(_map_height(m["rows"]) + head + gap for m in maps)
        return QSize(int(width), int(np.ceil(top + body + bottom)))

    @staticmethod
    def _spacing(fm: QFontMetricsF, bars: int = 1) -> tuple[float, float, float, float]:
        """(title above a map, gap under it, top margin, the time axis and colour bars below)."""
        below = 3.6 + BAR_LINES * (max(bars, 1) - 1)
        return fm.height() * 1.4, fm.height() * 0.8, fm.height() * 0.6, fm.height() * below

    def _bar_scales(self, maps: list[dict]) -> list[tuple[str, ColourScale]]:
        """One (what, scale) per colour range the maps are drawn in, in map order: the signal's
        words, or the map's own ``scale_label`` (the merged output of both directions)."""
        kind = self.view.session_model.cell_kind
        signal = words(kind, self.view.signal) if kind is not None else self.view.signal
        bars: list[tuple[str, ColourScale]] = []
        for m in maps:
            what, scale = m.get("scale_label", signal), m["scale"]
            if not any(w == what and (b.lo, b.hi) == (scale.lo, scale.hi) for w, b in bars):
                bars.append((what, scale))
        return bars

    def _text(self, p: QPainter, box: QRectF, text: str, font,
              flags=Qt.AlignLeft | Qt.AlignVCenter) -> None:
        draw_fitted(p, box, text, font, flags, wrap=False, items=self.text_items)

    def paint_on(self, p: QPainter, width: float, height: float) -> None:
        pal = self.view.palette
        p.fillRect(QRectF(0, 0, width, height), QColor(pal.background))
        self.boxes, self.text_items, self.bars = [], [], []
        self.marked: list[QRectF] = []        # the window's sample: its map, or its row
        maps = self.view.maps()
        fg = QColor(pal.foreground)
        font = view_font(pal)
        small = view_font(pal, 0.85)
        fm = QFontMetricsF(font)
        if isinstance(maps, str):
            p.setPen(fg)
            p.setFont(font)
            p.drawText(QRectF(10, 10, width - 20, height - 20), Qt.TextWordWrap, maps)
            return
        label_w = QFontMetricsF(small).horizontalAdvance("unit 000") + 10
        left, right = 12.0 + label_w, 64.0
        bars = self._bar_scales(maps)
        head, gap, top, bottom = self._spacing(fm, len(bars))
        wanted = [_map_height(m["rows"]) for m in maps]
        room = height - top - bottom - len(maps) * (head + gap)
        fit = min(1.0, room / max(sum(wanted), 1.0))      # on screen: shrink to the widget
        y = top
        first, steps = self.view.axis()            # the positions the maps' columns cover
        box_w = width - left - right
        for m, want in zip(maps, wanted, strict=True):
            h = max(14.0, want * fit)
            p.setPen(fg)
            self._text(p, QRectF(12.0, y, width - 24.0, head * 0.9), m["title"],
                       view_font(pal, bold=True))
            rect = QRectF(left, y + head, box_w, h)
            values = m["values"]                       # (rows, T)
            p.setPen(QPen(QColor(pal.grid), 1))
            p.setBrush(Qt.NoBrush)
            p.drawRect(rect)
            p.drawImage(rect, heat_image(values, m["scale"]))
            self.boxes.append((m["title"], rect, values))
            self._mark(p, rect, m, fg)
            p.setPen(fg)
            self._row_labels(p, rect, m, small)
            self._text(p, QRectF(rect.right() + 6, rect.top(), right - 8, fm.height()),
                       m.get("rows_label", ""), small)
            for pos, colour in m.get("cursors", []):
                if pos is None or steps == 0:
                    continue
                if not 0 <= pos - first < steps:
                    continue
                x = rect.left() + (pos - first + 0.5) * rect.width() / steps
                p.setPen(QPen(QColor(colour or pal.cursor), 2.0))
                p.drawLine(QPointF(x, rect.top() - 3), QPointF(x, rect.bottom() + 3))
            y = rect.bottom() + gap
        # the shared time axis under the last map
        p.setPen(fg)
        every = max(1, int(steps / max(box_w / (fm.horizontalAdvance("0000") * 1.6), 1)))
        every = next(s for s in (1, 2, 5, 10, 20, 25, 50, 100, 200, 250, 500, 1000, 10 ** 9) if s >= every)
        for t in range(-(-first // every) * every, first + steps, every):
            x = left + (t - first + 0.5) * box_w / steps
            self._text(p, QRectF(x - 30, y - gap + 2, 60, fm.height()), str(t), small,
                       Qt.AlignHCenter | Qt.AlignTop)
        self._text(p, QRectF(left, y - gap + fm.height() + 2, box_w * 0.5, fm.height()),
                   "input position t", small, Qt.AlignLeft | Qt.AlignTop)
        for k, (what, scale) in enumerate(bars):
            self._colour_bar(p, what, scale, QRectF(left + box_w * 0.55,
                                                    y - gap + fm.height() * (1 + BAR_LINES * k) + 2,
                                                    box_w * 0.45, fm.height() * BAR_LINES), small)

    def _mark(self, p: QPainter, rect: QRectF, m: dict, colour: QColor) -> None:
        """Frame the map (``selected``) or the row (``selected_row``) of the sample the window
        shows, so a figure of every sample says which one the other views draw."""
        if m.get("selected"):
            mark = QRectF(rect)
        elif m.get("selected_row") is not None:
            per_row = rect.height() / max(int(m["rows"]), 1)
            mark = QRectF(rect.left(), rect.top() + m["selected_row"] * per_row, rect.width(), per_row)
        else:
            return
        p.setPen(QPen(colour, 2.0))
        p.setBrush(Qt.NoBrush)
        p.drawRect(mark)
        self.marked.append(mark)

    def _row_labels(self, p: QPainter, rect: QRectF, m: dict, font) -> None:
        """'unit k' (or 'sample k', 'value k') beside the rows, as many as fit."""
        rows = max(int(m["rows"]), 1)
        line = QFontMetricsF(font).height()
        per_row = rect.height() / rows
        every = max(1, int(np.ceil(line * 1.05 / max(per_row, 1e-6))))
        word = m.get("row_word", "unit")
        for r in range(0, rows, every):
            y = rect.top() + (r + 0.5) * per_row
            self._text(p, QRectF(12.0, y - line / 2, rect.left() - 18.0, line), f"{word} {r}",
                       font, Qt.AlignRight | Qt.AlignVCenter)

    def _colour_bar(self, p: QPainter, words_: str, scale: ColourScale, area: QRectF, font) -> None:
        """What the colours mean: what is drawn, its two ends (and 0), linear."""
        line = QFontMetricsF(font).height()
        self.bars.append((words_, scale.lo, scale.hi))
        label_w = QFontMetricsF(font).horizontalAdvance(f"{words_}, linear  ") + 4
        self._text(p, QRectF(area.left(), area.top(), label_w, line), f"{words_}, linear", font)
        bar = QRectF(area.left() + label_w + 40, area.top() + 2, max(area.width() - label_w - 90, 40),
                     line * 0.7)
        grad = QLinearGradient(bar.left(), 0, bar.right(), 0)
        colours = scale.qcolours()
        for k in range(0, 256, 32):
            grad.setColorAt(k / 255, colours[k])
        grad.setColorAt(1.0, colours[255])
        p.fillRect(bar, grad)
        p.setPen(QPen(QColor(self.view.palette.grid), 1))
        p.drawRect(bar)
        p.setPen(QColor(self.view.palette.foreground))
        self._text(p, QRectF(bar.left() - 40, bar.top() - 2, 36, line), f"{scale.lo:.2g}", font,
                   Qt.AlignRight | Qt.AlignVCenter)
        self._text(p, QRectF(bar.right() + 4, bar.top() - 2, 44, line), f"{scale.hi:.2g}", font)
        if scale.diverging and scale.lo < 0 < scale.hi:
            self._text(p, QRectF(bar.center().x() - 10, bar.bottom() + 1, 20, line), "0", font,
                       Qt.AlignHCenter | Qt.AlignTop)


BAR_LINES = 2.2      # text lines a colour bar takes (its ends' labels, the 0 under it)


def _map_height(rows: int) -> float:
    """A map's logical height in a figure: 20 px a row (a label each), within limits."""
    return float(np.clip(max(rows, 1) * 20.0, 48.0, 300.0))


class _MapsView(QWidget):
    """A signal chooser over a MapsCanvas; subclasses say which maps."""

    def __init__(self, model: SessionModel, palette: Palette, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.session_model = model
        self.palette = palette
        self.signal = ""         # the run's kind's first state until chosen (follow_kind)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(2, 2, 2, 2)
        self.bar = QHBoxLayout()
        self.signal_combo = signal_chooser(self.bar, self.set_signal)
        self.signal = follow_kind(self.signal_combo, model.cell_kind, self.signal)
        layout.addLayout(self.bar)
        self.canvas = MapsCanvas(self)
        layout.addWidget(self.canvas, 1)
        model.runChanged.connect(self.rebuild)
        model.spanChanged.connect(self.rebuild)
        model.positionChanged.connect(lambda t: self.canvas.update())
        model.selectionChanged.connect(lambda *_: self.canvas.update())

    def rebuild(self) -> None:
        self.signal = follow_kind(self.signal_combo, self.session_model.cell_kind, self.signal)
        self.canvas.update()

    def set_signal(self, name: str) -> None:
        if accepts(self.signal_combo, name) and name != self.signal:
            self.signal = name
            index = self.signal_combo.findData(name)
            if index != self.signal_combo.currentIndex():
                self.signal_combo.setCurrentIndex(index)
            self.rebuild()

    def apply_palette(self, palette: Palette) -> None:
        self.palette = palette
        self.canvas.update()

    def axis(self) -> tuple[int, int]:
        """(first input position, count) of the maps' columns: the whole run, or a
        checkpointed run's span (docs/architecture.md, "Long runs")."""
        if not self.session_model.ready:
            return 0, 0
        a, b = self.session_model.span()
        return a, b - a

    def maps(self) -> list[dict] | str:
        raise NotImplementedError


class DirectionsView(_MapsView):
    """Forward and backward directions of a Bidirectional layer, and the merged output."""

    def __init__(self, model: SessionModel, palette: Palette, parent: QWidget | None = None) -> None:
        self._both: BothDirections | None | bool = False
        super().__init__(model, palette, parent)
        self.bar.addStretch(1)
        self.rebuild()

    def rebuild(self) -> None:
        self._both = False
        super().rebuild()

    def both(self) -> BothDirections | None | str:
        """The layer's two directions, None for a plain LSTM, or why they cannot be shown."""
        if self._both is False:
            try:
                self._both = both_directions(self.session_model.session) if self.session_model.ready else None
            except ScopeError as exc:
                self._both = str(exc)
        return self._both  # type: ignore[return-value]

    def maps(self) -> list[dict] | str:
        if not self.session_model.ready:
            return "no model loaded"
        both = self.both()
        if both is None:
            reason = directions_reason(self.session_model.session)
            if reason:
                return reason[0].upper() + reason[1:]
            session = self.session_model.session
            return (f"Layer {session.info.name} is a plain {session.cell_kind.written} "
                    "that reads one way. "
                    "This view shows a Bidirectional layer's two directions together: open a "
                    "model with one and choose its forward or backward layer.")
        if isinstance(both, str):
            return both
        sample = self.session_model.sample
        k = self.session_model.t                    # both directions have taken k steps
        steps = both.forward.steps
        fwd_read, bwd_read = both.read(k)
        out = []
        for label, trace, read, cursor in (
                ("forward: reads left to right →", both.forward, fwd_read, cursor_after(k, steps, False)),
                ("backward: reads right to left ←", both.backward, bwd_read, cursor_after(k, steps, True))):
            full = trace.signal(self.signal)[sample]                     # (T, N)
            shown = np.where(read[:, None], full, np.nan).T              # (N, T)
            out.append({"title": f"{both.name} {label} · {words(self.session_model.cell_kind, self.signal)}",
                        "values": shown, "scale": colour_scale(self.signal, trace.weights, full),
                        "rows": trace.units, "rows_label": f"{trace.units} units",
                        "cursors": [(cursor, None)]})
        # one range for both directions, so the same colour is the same value in both maps
        lo, hi = min(m["scale"].lo for m in out), max(m["scale"].hi for m in out)
        for m in out:
            m["scale"] = ColourScale(m["scale"].name, lo, hi, m["scale"].diverging)
        merged = both.merged[sample]
        mode = both.merge_mode or "none (two outputs)"
        if both.sequences:
            read = fwd_read & bwd_read                                   # both have read t
            shown = np.where(read[:, None], merged, np.nan).T
            note = "column t is complete once both directions have read t"
        else:
            shown = np.full((merged.shape[-1], steps), np.nan, np.float32)
            if k == steps:
                shown[:, -1] = merged
            note = "one vector, after both directions have read everything"
        scale = ColourScale("h", -1.0, 1.0, True)
        m = float(np.nanmax(np.abs(merged))) if np.isfinite(merged).any() else 1.0
        scale = ColourScale("h", -max(m, 1e-6), max(m, 1e-6), True)
        out.append({"title": f"merged output (merge_mode={mode}): {note}", "values": shown,
                    "scale": scale, "scale_label": "merged output", "rows": shown.shape[0],
                    "rows_label": f"{shown.shape[0]} values", "row_word": "value",
                    "cursors": [(cursor_after(k, steps, False), None), (cursor_after(k, steps, True), None)]})
        return out


class SamplesView(_MapsView):
    """Every sample of the batch (up to eight) with one cursor: all units, or one unit each."""

    def __init__(self, model: SessionModel, palette: Palette, parent: QWidget | None = None) -> None:
        super().__init__(model, palette, parent)
        self.mode = "units"
        self.bar.addWidget(QLabel("  show:"))
        self.mode_combo = QComboBox()
        self.mode_combo.addItem("all units of each sample", "units")
        self.mode_combo.addItem("the selected unit in every sample", "unit")
        self.mode_combo.currentIndexChanged.connect(lambda i: self.set_mode(self.mode_combo.itemData(i)))
        self.bar.addWidget(self.mode_combo)
        self.bar.addStretch(1)
        model.sampleChanged.connect(lambda _: self.canvas.update())
        self.rebuild()

    def set_mode(self, mode: str) -> None:
        if mode in ("units", "unit"):
            self.mode = mode
            index = self.mode_combo.findData(mode)
            if index != self.mode_combo.currentIndex():
                self.mode_combo.setCurrentIndex(index)
            self.canvas.update()

    def maps(self) -> list[dict] | str:
        if not self.session_model.ready:
            return "no model loaded"
        session = self.session_model.session
        if session.batch < 2:
            return ("The input holds one sample. Feed a batch (B, T, D) — an .npy with several "
                    "sequences — to see its samples side by side, all at the same step.")
        live = self.session_model.live().signal(self.signal)                    # (B, T, N)
        full = self.session_model.full().signal(self.signal)
        scale = colour_scale(self.signal, session.info.weights, full)
        cursor = session.cursor
        chosen = self.session_model.sample          # the sample every other view draws
        count = min(session.batch, MAX_SAMPLES)
        note = "" if session.batch <= MAX_SAMPLES else f" (first {MAX_SAMPLES} of {session.batch})"
        if self.session_model.checkpointed:
            a, b = self.session_model.span()
            note += f" · positions {a}–{b - 1} of {session.steps} (a checkpointed run: the span around the cursor)"
        if self.mode == "unit":
            unit = max(self.session_model.selected_unit, 0)
            strip = live[:count, :, unit]                                # (S, T)
            return [{"title": f"unit {unit}'s {words(self.session_model.cell_kind, self.signal)} in each sample{note} — "
                              "rows are samples", "values": strip, "scale": scale, "rows": count,
                     "rows_label": f"{count} samples", "row_word": "sample",
                     "cursors": [(cursor, None)],
                     "selected_row": chosen if chosen < count else None}]
        return [{"title": f"sample {b} · {words(self.session_model.cell_kind, self.signal)}"
                          + (" · selected in the window" if b == chosen else "") + (note if b == 0 else ""),
                 "values": live[b].T, "scale": scale, "rows": session.units,
                 "rows_label": f"{session.units} units", "cursors": [(cursor, None)],
                 "selected": b == chosen}
                for b in range(count)]
