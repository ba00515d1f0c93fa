"""What each step reads, drawn under a time axis: the token's character for token models (from
the vocabulary the demo or model provides), a compact value strip for float inputs.

Shared by the units panel and the layer view, so the window and every export of those views
show the input beside the lanes (see docs/architecture.md, "The window"). Values are the model's
own input array; nothing is computed here.

The cursor is a frame around the column being read, never a line through its character, and
that character is always drawn. When the characters do not fit one per step the row shows every
k-th and says so on its axis ("every 3rd"; the tooltip adds "of 1,200"); zoomed in, it shows all.
"""

from __future__ import annotations

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import QPointF, QRectF, Qt
from PySide6.QtGui import QColor, QFont, QFontMetricsF, QPainter, QTransform

from engine.network.model_input import step_input
from gui.session_model import SessionModel
from gui.theme import Palette

MAX_FEATURE_ROWS = 8          # a float input shows at most this many features as rows
TOKEN_ROW_PX = 22             # strip height for tokens
FEATURE_ROW_PX = 6            # strip height per feature row (at least MIN_FLOAT_PX in all)
MIN_FLOAT_PX = 18
THINNED = " · reads "          # how the time axis's note on a thinned row starts


def ordinal(k: int) -> str:
    """2 -> '2nd', 3 -> '3rd', 11 -> '11th'."""
    suffix = "th" if 10 <= k % 100 <= 20 else {1: "st", 2: "nd", 3: "rd"}.get(k % 10, "th")
    return f"{k}{suffix}"


def thinning(labels: list[str], font: QFont, lo: float, hi: float, per_step: float) -> int:
    """Show every k-th label so that none overlaps the next (k = 1: every one)."""
    first, last = max(0, int(np.floor(lo))), min(len(labels) - 1, int(np.ceil(hi)))
    if last < first or not labels:
        return 1
    metrics = QFontMetricsF(font)
    widest = max(metrics.horizontalAdvance(s) for s in labels[first:last + 1]) + 2.0
    return max(1, int(np.ceil(widest / max(per_step, 1e-6))))


def axis_height(axis: pg.AxisItem) -> int:
    """A horizontal axis's height from its tick font, tick length and label (0 when hidden),
    fixed on the axis so that the layout does not depend on what it painted last."""
    if not axis.isVisible():
        return 0
    font = axis.style.get("tickFont") or QFont()
    height = QFontMetricsF(font).height() if axis.style["showValues"] else 0.0
    height += axis.style["tickTextOffset"][1] if axis.style["showValues"] else 0
    height += max(0, axis.style["tickLength"])
    if axis.label.isVisible():
        height += axis.label.boundingRect().height() * 0.8
    fixed = int(np.ceil(height))
    axis.setHeight(fixed)
    return fixed


class TokenRow(pg.GraphicsObject):
    """One character per input position, centred on its step; thinned so texts never overlap,
    the one at the cursor always drawn."""

    def __init__(self) -> None:
        super().__init__()
        self.labels: list[str] = []
        self.colour = QColor("#000000")
        self.font = QFont()
        self.cursor: int | None = None       # the position read last: its character is drawn
        self.drawn: list[tuple[str, QRectF]] = []   # the last paint's texts, scene coordinates

    def set_labels(self, labels: list[str], colour: str, font_pt: float) -> None:
        self.prepareGeometryChange()
        self.labels = labels
        self.colour = QColor(colour)
        self.font = QFont()
        if font_pt > 0:
            self.font.setPointSizeF(font_pt)
        self.update()

    def boundingRect(self) -> QRectF:  # noqa: N802 (Qt API)
        return QRectF(-0.5, 0.0, max(len(self.labels), 1), 1.0)

    def paint(self, painter: QPainter, *_args) -> None:
        self.drawn = []
        if not self.labels:
            return
        to_device = QTransform(painter.transform())     # item -> device pixels, for this paint
        view = self.getViewBox()
        lo, hi = view.viewRange()[0] if view is not None else (0, len(self.labels))
        first, last = max(0, int(np.floor(lo))), min(len(self.labels) - 1, int(np.ceil(hi)))
        if last < first:
            return
        x0 = to_device.map(QPointF(0.0, 0.5))
        x1 = to_device.map(QPointF(1.0, 0.5))
        per_step = abs(x1.x() - x0.x())
        metrics = QFontMetricsF(self.font)
        every = thinning(self.labels, self.font, lo, hi, per_step)
        shown = list(range(first - first % every, last + 1, every))
        cursor = self.cursor
        if cursor is not None and first <= cursor <= last and every > 1:
            # the character being read is always drawn; its neighbours that would touch it not
            shown = sorted({k for k in shown if abs(k - cursor) >= every} | {cursor})
        painter.save()
        painter.setTransform(QTransform())       # device pixels: text at its own size
        painter.setFont(self.font)
        painter.setPen(self.colour)
        height = metrics.height()
        # a character wider than its column at either end moves inside the strip, not over its axis
        edges = sorted(to_device.map(QPointF(v, 0.5)).x() for v in (lo, hi))
        for k in shown:
            p = to_device.map(QPointF(float(k), 0.5))
            w = metrics.horizontalAdvance(self.labels[k])
            x = min(max(p.x(), edges[0] + w / 2 + 1), edges[1] - w / 2 - 1)
            painter.drawText(QRectF(x - w / 2 - 1, p.y() - height / 2, w + 2, height),
                             Qt.AlignCenter, self.labels[k])
            at = self.mapToScene(QPointF(float(k), 0.5))     # for the figures' layout checks
            at.setX(at.x() + x - p.x())                     # moved inside as drawn (logical px)
            self.drawn.append((self.labels[k], QRectF(at.x() - w / 2, at.y() - height / 2, w, height)))
        painter.restore()


class CursorFrame(pg.InfiniteLine):
    """The cursor as a frame around the column read: an InfiniteLine (same position API, same
    pen) painted as the column's two edges, so what is read shows between them."""

    def paint(self, p, *args) -> None:  # noqa: D102 (pyqtgraph API)
        view = self.getViewBox()
        if view is None:
            return
        top, bottom = view.viewRange()[1]
        pen = self.currentPen
        pen.setCosmetic(True)
        p.setPen(pen)
        p.setBrush(Qt.NoBrush)
        # item coordinates: x along the line (vertical: the view's y), y across it (-x)
        p.drawRect(QRectF(QPointF(min(top, bottom), -0.5), QPointF(max(top, bottom), 0.5)))

    def boundingRect(self) -> QRectF:  # noqa: N802 (Qt API)
        view = self.getViewBox()
        if view is None:
            return QRectF()
        top, bottom = view.viewRange()[1]
        return QRectF(QPointF(min(top, bottom), -0.6), QPointF(max(top, bottom), 0.6))


class InputStrip:
    """The input row of a plot stack: tokens as characters, floats as a small heat strip."""

    def __init__(self, plot: pg.PlotItem, session_model: SessionModel, palette: Palette) -> None:
        self.plot, self.session_model, self.palette = plot, session_model, palette
        plot.setMenuEnabled(False)
        plot.hideButtons()
        plot.setMouseEnabled(False, False)
        self.vb = plot.getViewBox()
        self.vb.invertY(True)
        self.vb.setDefaultPadding(0.0)
        self.tokens = TokenRow()
        self.image = pg.ImageItem(axisOrder="row-major")
        self.image.setLookupTable(pg.colormap.get("CET-D1").getLookupTable(nPts=256, alpha=False))
        plot.addItem(self.image)
        plot.addItem(self.tokens)
        # the cursor frames the column read (its character stays readable inside), where the
        # plots above draw a line
        self.cursor = CursorFrame()
        self.cursor.setZValue(50)
        self.cursor.setPen(pg.mkPen(palette.cursor, width=max(2.0, 1.4 * palette.line_width)))
        plot.addItem(self.cursor)
        left = plot.getAxis("left")
        left.setTicks([[(0.5, "reads")]])
        left.setStyle(tickLength=0)
        plot.getAxis("left").setToolTip("What the model reads at each step")
        self.kind = ""
        self.rows = 1
        self.every = 1
        self.vb.sigXRangeChanged.connect(lambda *_: self._say_thinning())
        self.vb.sigResized.connect(lambda *_: self._say_thinning())

    def _say_thinning(self, force: bool = False) -> None:
        """When the characters are thinned, the time axis under the row says which it shows
        ("reads every 3rd of 1,200 inputs: zoom in for all"; a figure, which cannot be zoomed,
        only which); zoomed in, it says nothing."""
        every = 1
        if self.kind == "tokens" and self.tokens.labels and self.vb.width() > 0:
            lo, hi = self.vb.viewRange()[0]
            per_step = self.vb.width() / max(hi - lo, 1e-6)
            every = thinning(self.tokens.labels, self.tokens.font, lo, hi, per_step)
        if every == self.every and not force:
            return
        self.every = every
        axis = self.plot.getAxis("bottom")
        base = (axis.labelText or "").split(THINNED)[0]
        n = len(self.tokens.labels)
        hint = "" if self.palette.printing else ": zoom in for all"
        note = "" if every == 1 else f"{THINNED}every {ordinal(every)} of {n:,} inputs{hint}"
        if base or note:
            axis.setLabel(base + note)
            axis.resizeEvent()        # pyqtgraph centres a title only when the axis is resized

    def apply_palette(self, palette: Palette) -> None:
        self.palette = palette
        self.cursor.setPen(pg.mkPen(palette.cursor, width=max(2.0, 1.4 * palette.line_width)))
        self.rebuild()

    def rebuild(self) -> None:
        """Read the run's input and size the strip for it."""
        sm = self.session_model
        self.tokens.set_labels([], self.palette.foreground, self.palette.font_pt)
        self.image.clear()
        if not sm.ready:
            return
        raw = step_input(sm.session, sm.sample)    # what the layer reads, never an image's pixels
        steps = sm.steps
        if raw.ndim == 1:
            self.kind = "tokens"
            labels = [sm.token_text(int(k)) for k in raw]
            self.tokens.set_labels(labels, self.palette.foreground, self.palette.font_pt)
            self.tokens.show()
            self.image.hide()
            rows = 1
            height = TOKEN_ROW_PX if self.palette.font_pt <= 0 else int(self.palette.font_pt * 2.2)
        else:
            self.kind = "values"
            values = np.asarray(raw[:, :MAX_FEATURE_ROWS], np.float32).T       # (rows, T)
            rows = values.shape[0]
            peak = float(np.nanmax(np.abs(values))) if np.isfinite(values).any() else 1.0
            peak = peak if peak > 0 else 1.0
            self.image.setImage(values, levels=(-peak, peak), autoLevels=False)
            self.image.setRect(-0.5, 0, max(steps, 1), rows)
            self.image.show()
            self.tokens.hide()
            height = max(MIN_FLOAT_PX, FEATURE_ROW_PX * rows)
        self.vb.setLimits(yMin=0, yMax=rows)
        self.vb.setYRange(0, rows, padding=0)
        left = self.plot.getAxis("left")
        left.setTicks([[(rows / 2, "reads")]])
        self.rows = rows
        self._say_thinning(force=True)
        # the time axis under the strip needs its own room: sized from its fonts, never from
        # its last paint (which grew the strip each time a figure was restyled or rescaled)
        axis = axis_height(self.plot.getAxis("bottom"))
        self.plot.setFixedHeight(height + axis + 2)

    def set_cursor(self, x: float) -> None:
        self.cursor.setPos(x)
        position = int(round(x))
        cursor = position if abs(x - position) < 1e-6 else None
        if cursor != self.tokens.cursor:
            self.tokens.cursor = cursor
            if self.tokens.labels:            # the row draws the character at the cursor
                self.tokens.update()

    def describe(self, position: int) -> str:
        """The hover text for a position on the strip."""
        label = self.session_model.input_label(position)
        return f"t = {position} reads {label}" if label else ""
