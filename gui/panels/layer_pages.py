"""The layer view's three tabs as widgets: the heat-maps and statistics page, the kernels page
and the coupling what-ifs page (the view, ``gui.panels.layer_view``, drives what they hold)."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import Qt
from PySide6.QtGui import QPen
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QDoubleSpinBox,
    QHBoxLayout,
    QLabel,
    QPushButton,
    QScrollArea,
    QSpinBox,
    QSplitter,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from engine.cells.cell_kind import CellKind
from gui.panels.heat_maps import signal_label
from gui.signals import (
    carried,
    fork_signals,
    heat_signals,
    is_signal,
    stat_columns,
    symbol,
)
from gui.theme import Palette
from gui.widgets.combo import refill
from gui.widgets.min_rows import keep_rows
from gui.widgets.plot_menus import NO_MENU


class NumberItem(QTableWidgetItem):
    """A table cell showing rounded text but sorting by the engine's exact number."""

    def __init__(self, text: str, value: float) -> None:
        super().__init__(text)
        self.value = float(value)
        self.setToolTip(repr(self.value))
        self.setTextAlignment(Qt.AlignRight | Qt.AlignVCenter)

    def shows(self, text: str, value: float) -> bool:
        """Whether this cell already shows ``text`` for ``value`` (NaN equal to NaN)."""
        v = float(value)
        return self.text() == text and (self.value == v or (np.isnan(self.value) and np.isnan(v)))

    def __lt__(self, other) -> bool:
        a, b = self.value, getattr(other, "value", 0.0)
        if np.isnan(a) or np.isnan(b):        # NaN ("—") sorts last
            return not np.isnan(a) and np.isnan(b)
        return a < b


def _page_layout(page: QWidget) -> QVBoxLayout:
    layout = QVBoxLayout(page)
    layout.setContentsMargins(0, 0, 0, 0)
    return layout


def _plot_widget(palette: Palette) -> pg.GraphicsLayoutWidget:
    glw = pg.GraphicsLayoutWidget()
    glw.setBackground(palette.background)
    return glw


class HeatPage(QWidget):
    """Tab 1: a units x time heat-map per chosen signal, beside the per-unit statistics table."""

    def __init__(self, palette: Palette, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        layout = _page_layout(self)
        self.bar = bar = QHBoxLayout()
        self.signal_boxes: dict[str, QCheckBox] = {}      # the run's cell kind's (set_signals)
        bar.addStretch(1)
        layout.addLayout(bar)
        split = QSplitter(Qt.Horizontal)
        self.glw = _plot_widget(palette)
        self.glw.ci.setContentsMargins(4, 4, 4, 4)
        self.glw.ci.setSpacing(2)
        self.maps = scroll = QScrollArea()
        scroll.setWidgetResizable(True)
        scroll.setWidget(self.glw)
        split.addWidget(scroll)
        split.addWidget(self._stats_table())
        split.setSizes([700, 420])
        layout.addWidget(split, 1)
        self.info = QLabel(" ")
        layout.addWidget(self.info)

    def set_signals(self, kind: CellKind, visible: list[str], palette: Palette) -> None:
        """One check box per map the kind's run can show (``heat_signals``), and its statistics'
        columns; the boxes of the kind before are dropped."""
        for box in self.signal_boxes.values():
            self.bar.removeWidget(box)
            box.deleteLater()
        self.signal_boxes = {}
        for k, name in enumerate(heat_signals(kind)):
            box = QCheckBox(name if name.startswith("z") else symbol(kind, name)
                            if is_signal(kind, name) else f"∂/∂{symbol(kind, carried(kind))}")
            box.setChecked(name in visible)
            if is_signal(kind, name):
                box.setStyleSheet(f"QCheckBox {{ color: {palette.signal_text(name)}; font-weight: bold; }}")
            box.setToolTip(f"Show the {signal_label(name, kind)} heat-map (units x time)")
            self.signal_boxes[name] = box
            self.bar.insertWidget(k, box)
        columns = stat_columns(kind)
        self.table.clear()
        self.table.setRowCount(0)
        self.table.setColumnCount(len(columns))
        self.table.setHorizontalHeaderLabels(columns)

    def _stats_table(self) -> QTableWidget:
        self.table = table = QTableWidget(0, 0)
        keep_rows(self.table)         # a short dock scrolls; the list is never a sliver
        table.setSortingEnabled(True)
        table.horizontalHeader().setSortIndicator(0, Qt.AscendingOrder)
        table.setEditTriggers(QTableWidget.NoEditTriggers)
        table.setSelectionBehavior(QTableWidget.SelectRows)
        table.verticalHeader().setVisible(False)
        table.setToolTip("Per-unit statistics over the whole run (engine.analyses.analysis.unit_stats); "
                         "click a header to sort, a row to select the unit.\n"
                         "sat: fraction of steps within 5 % of the gate's range ends; dead: |h| "
                         "never above the threshold; half-life: steps for the running product of f "
                         "to halve; horizon: steps back from the gradient target (Gradients dock) "
                         "until |∂target/∂C| of the unit falls below 1 % of its peak.")
        return table


class KernelPage(QWidget):
    """Tab 2: the input and recurrent kernels' gate blocks as images, columns in lane order."""

    def __init__(self, palette: Palette, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        layout = _page_layout(self)
        self.glw = _plot_widget(palette)
        layout.addWidget(self.glw)
        self.info = QLabel("Rows: unit k of h(t-1) (recurrent) or input feature d (input); "
                           "columns: receiving unit j, in the lanes' order.")
        layout.addWidget(self.info)


class WhatIfPage(QWidget):
    """Tab 3: decouple / perturb forks and the heat-map of how far each unit moved.

    Its chart (a plot, an image, a colour bar: about 40 ms of a window's start) is made the
    first time the tab is shown or a part of it is asked for (``chart``); ``on_chart_made``
    then draws into it what the view would have drawn meanwhile."""

    def __init__(self, palette: Palette, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.palette = palette                 # the chart's, when it is made ...
        self.cursor_pen: QPen | None = None    # ... and its cursor's, once the view restyled it
        self.on_chart_made: Callable[[], None] | None = None
        self._chart: _DiffChart | None = None
        self._layout = layout = _page_layout(self)
        layout.addLayout(self._controls())
        self.info = QLabel("no fork yet: Decouple units or Perturb to compare with the real run")
        self.info.setWordWrap(True)
        layout.addWidget(self.info)

    @property
    def chart(self) -> _DiffChart:
        """The fork-difference chart, made on first use (between the controls and the info)."""
        if self._chart is None:
            self._chart = _DiffChart(self.palette)
            if self.cursor_pen is not None:
                self._chart.cursor.setPen(self.cursor_pen)
            self._layout.insertWidget(1, self._chart.glw, 1)
            if self.on_chart_made is not None:
                self.on_chart_made()
        return self._chart

    def has_chart(self) -> bool:
        return self._chart is not None

    def showEvent(self, event) -> None:  # noqa: N802 (Qt API)
        self.chart       # noqa: B018 - made as the tab is first shown
        super().showEvent(event)

    glw = property(lambda self: self.chart.glw)
    plot = property(lambda self: self.chart.plot)
    image = property(lambda self: self.chart.image)
    bar = property(lambda self: self.chart.bar)
    cursor = property(lambda self: self.chart.cursor)

    def set_signals(self, kind: CellKind) -> None:
        """The signals a fork's difference can show, for the run's cell kind; h first chosen."""
        names = fork_signals(kind)
        refill(self.signal_combo, [(n, n) for n in names], names.index("h"))

    def _controls(self) -> QHBoxLayout:
        row = QHBoxLayout()
        self.decouple_button = QPushButton("Decouple units")
        self.decouple_button.setToolTip("Fork: rerun the same input with the off-diagonal entries of "
                                        "each gate's N x N block of U set to zero (each unit sees only "
                                        "its own h). The loaded model never changes.")
        row.addWidget(self.decouple_button)
        row.addSpacing(16)
        self.unit, self.step, self.delta = QSpinBox(), QSpinBox(), QDoubleSpinBox()
        for label, box in (("perturb unit k", self.unit), ("at step t", self.step), ("by delta", self.delta)):
            row.addWidget(QLabel(label))
            row.addWidget(box)
        self.delta.setRange(-1e6, 1e6)
        self.delta.setDecimals(4)
        self.delta.setValue(0.5)
        self.perturb_button = QPushButton("Perturb")
        self.perturb_button.setToolTip("Fork: add delta to h_k(t), continue, and show how every unit "
                                       "moves from t+1 on.")
        row.addWidget(self.perturb_button)
        row.addStretch(1)
        row.addWidget(QLabel("signal:"))
        self.signal_combo = QComboBox()      # the run's cell kind's signals (set_signals)
        row.addWidget(self.signal_combo)
        return row


class _DiffChart:
    """The what-if tab's chart: units x time of a fork minus its parent, with a colour bar."""

    def __init__(self, palette: Palette) -> None:
        self.glw = _plot_widget(palette)
        self.plot = self.glw.addPlot(**NO_MENU)
        self.plot.hideButtons()
        self.plot.getViewBox().invertY(True)
        self.plot.setLabel("bottom", "time step t")
        self.plot.setLabel("left", "lane (units panel order)")
        self.image = pg.ImageItem(axisOrder="row-major")
        self.image.setLookupTable(pg.colormap.get("CET-D1").getLookupTable(nPts=256, alpha=False))
        self.plot.addItem(self.image)
        self.bar = pg.ColorBarItem(colorMap=pg.colormap.get("CET-D1"), interactive=False, width=12)
        self.bar.setImageItem(self.image, insert_in=self.plot)
        self.cursor = pg.InfiniteLine(angle=90, movable=False, pen=pg.mkPen(palette.cursor, width=2))
        self.plot.addItem(self.cursor)
