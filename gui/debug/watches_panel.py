"""Watches dock: expressions evaluated by the engine at every step, as values and sparklines."""

from __future__ import annotations

import numpy as np
from PySide6.QtCore import QPointF, Qt, QTimer
from PySide6.QtGui import QColor, QPainter, QPen, QPolygonF
from PySide6.QtWidgets import (
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QLineEdit,
    QPushButton,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from engine.debugging.expr import ExprError
from gui.debug.breakpoints_panel import caret_text
from gui.debug.debugger_model import DebuggerModel
from gui.theme import Palette, palette_of
from gui.widgets.min_rows import keep_rows


def format_value(v: np.ndarray | None) -> str:
    if v is None:
        return "—"
    v = np.asarray(v)
    if v.ndim == 0 or v.size == 1:
        x = float(v.reshape(-1)[0])
        return f"{x:.5g}"
    head = ", ".join(f"{float(a):.3g}" for a in v.reshape(-1)[:6])
    return f"[{head}{', …' if v.size > 6 else ''}]  ({v.size})"


class Sparkline(QWidget):
    """A tiny line over time (NaN gaps skipped) with the cursor; values are given, not computed."""

    def __init__(self, palette: Palette, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.pal = palette
        self.values = np.zeros(0)
        self.cursor: int | None = None
        self.setMinimumSize(120, 22)

    def set_values(self, values: np.ndarray, cursor: int | None) -> None:
        self.values = np.asarray(values, np.float64)
        self.cursor = cursor
        self.update()

    def paintEvent(self, event) -> None:  # noqa: N802 (Qt API)
        p = QPainter(self)
        p.fillRect(self.rect(), QColor(self.pal.background))
        v = self.values
        n = v.size
        finite = np.isfinite(v)
        if n and finite.any():
            lo, hi = float(v[finite].min()), float(v[finite].max())
            span = hi - lo or 1.0
            w, h = self.width() - 2, self.height() - 4
            xs = 1 + np.arange(n) / max(n - 1, 1) * w
            ys = 2 + (1 - (v - lo) / span) * h
            p.setPen(QPen(QColor(self.pal.h_colour), 1))
            poly = QPolygonF()
            for k in range(n):
                if finite[k]:
                    poly.append(QPointF(xs[k], ys[k]))
                elif poly.size():
                    p.drawPolyline(poly)
                    poly = QPolygonF()
            if poly.size():
                p.drawPolyline(poly)
            if self.cursor is not None and 0 <= self.cursor < n:
                p.setPen(QPen(QColor(self.pal.cursor), 1))
                x = xs[self.cursor]
                p.drawLine(QPointF(x, 0), QPointF(x, self.height()))
        p.end()


class WatchesPanel(QWidget):
    MAX_SPARK_POINTS = 2000

    def __init__(self, dm: DebuggerModel, palette: Palette, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.dm = dm
        self.pal = palette
        layout = QVBoxLayout(self)
        row = QHBoxLayout()
        self.edit = QLineEdit()
        self.edit.setPlaceholderText("watch, e.g.  mean(f)   h[0:4]   count(saturated(i))")
        self.edit.returnPressed.connect(self.add_from_edit)
        self.edit.textEdited.connect(lambda _: self.error.hide())
        add = QPushButton("Watch")
        add.clicked.connect(self.add_from_edit)
        remove = QPushButton("Remove")
        remove.clicked.connect(self.remove_selected)
        row.addWidget(self.edit, 1)
        row.addWidget(add)
        row.addWidget(remove)
        layout.addLayout(row)
        self.error = QLabel()
        self.error.setTextFormat(Qt.RichText)
        self.error.hide()
        layout.addWidget(self.error)
        self.table = QTableWidget(0, 3)
        keep_rows(self.table)         # a short dock scrolls; the list is never a sliver
        self.table.setHorizontalHeaderLabels(["expression", "value", "over time"])
        header = self.table.horizontalHeader()      # columns fit their text, never cut
        header.setSectionResizeMode(0, QHeaderView.ResizeToContents)
        header.setSectionResizeMode(1, QHeaderView.ResizeToContents)
        header.setSectionResizeMode(2, QHeaderView.Stretch)
        header.setMinimumSectionSize(60)
        self.table.verticalHeader().hide()
        self.table.setEditTriggers(QTableWidget.NoEditTriggers)
        self.table.setSelectionBehavior(QTableWidget.SelectRows)
        layout.addWidget(self.table, 1)
        self._timer = QTimer(self)          # coalesce sparkline updates while playing
        self._timer.setSingleShot(True)
        self._timer.setInterval(60)
        self._timer.timeout.connect(self.update_sparklines)
        dm.watchesChanged.connect(self.refresh)
        dm.session_model.positionChanged.connect(self._on_position)

    def apply_palette(self, palette: Palette) -> None:
        """Restyle for a theme switch: every sparkline paints with the new palette."""
        self.pal = palette
        for r in range(self.table.rowCount()):
            spark = self.table.cellWidget(r, 2)
            if isinstance(spark, Sparkline):
                spark.pal = palette
                spark.update()

    def add_from_edit(self) -> bool:
        text = self.edit.text()
        if not self.dm.ready or not text.strip():
            return False
        try:
            self.dm.debugger.add_watch(text)
        except ExprError as exc:
            self.error.setText(caret_text(text, exc.column, exc.message, palette_of(self).error))
            self.error.show()
            return False
        self.edit.clear()
        self.error.hide()
        return True

    def remove_selected(self) -> None:
        rows = sorted({i.row() for i in self.table.selectedIndexes()})
        ids = [self.table.item(r, 0).data(Qt.UserRole) for r in rows]
        for watch_id in ids:
            self.dm.debugger.remove_watch(watch_id)

    def refresh(self) -> None:
        self.table.setRowCount(0)
        if not self.dm.ready:
            return
        for w in self.dm.debugger.watches:
            r = self.table.rowCount()
            self.table.insertRow(r)
            item = QTableWidgetItem(w.expression)
            item.setData(Qt.UserRole, w.id)
            self.table.setItem(r, 0, item)
            self.table.setItem(r, 1, QTableWidgetItem(""))
            self.table.setCellWidget(r, 2, Sparkline(self.pal))
        self.table.resizeColumnToContents(0)
        self.update_values()
        self.update_sparklines()

    def _on_position(self, _t: int) -> None:
        self.update_values()
        self._timer.start()

    def update_values(self) -> None:
        if not self.dm.ready:
            return
        for r in range(self.table.rowCount()):
            watch_id = self.table.item(r, 0).data(Qt.UserRole)
            try:
                v = self.dm.debugger.watch_value(watch_id)
            except ExprError as exc:
                self.table.item(r, 1).setText(f"error: {exc.message}")
                continue
            self.table.item(r, 1).setText(format_value(None if v is None else v[0]))

    def series(self, watch_id: int) -> np.ndarray:
        """The sparkline's numbers: the watch over input positions (mean over units if vector)."""
        s = self.dm.debugger.watch_series(watch_id)[0]
        if s.ndim == 2:
            with np.errstate(invalid="ignore"):
                s = np.where(np.isnan(s).all(axis=1), np.nan,
                             np.nanmean(np.where(np.isnan(s), 0, s), axis=1))
        return s

    def update_sparklines(self) -> None:
        if not self.dm.ready:
            return
        session = self.dm.session_model.session
        cursor = session.cursor
        for r in range(self.table.rowCount()):
            watch_id = self.table.item(r, 0).data(Qt.UserRole)
            spark = self.table.cellWidget(r, 2)
            try:
                s = self.series(watch_id)
            except ExprError:
                continue
            step = max(1, s.size // self.MAX_SPARK_POINTS)
            spark.set_values(s[::step], None if cursor is None else cursor // step)
