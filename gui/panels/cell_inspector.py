"""Cell inspector: one unit j at one step t taken apart.

* a diagram of the cell (QGraphicsScene), drawn for the run's cell kind: the LSTM's own (the
  cell line c(t-1) -> x f -> + i*g -> c(t), the branch c(t) -> act -> x o -> h(t), and the
  four gates fed by x_t and the whole h(t-1)), the GRU's own (its memory line h(t-1) x u +
  (1-u) x n -> h(t), r on what n reads); any other kind as its gates feeding its states
  (``DIAGRAMS``, else ``_draw_gate_diagram``), each box carrying unit j's live number;
* per gate a bar chart of its pre-activation split into x_t·W, h_{t-1}·U and b (and their sum z),
  with the numbers on hover;
* the fan-in: the units k of h(t-1) whose products h_{t-1}[k]·U[k, gate j] push each gate most,
  also highlighted in the units panel.

It follows the selected unit and the selected step; stepping returns it to the cursor. Every
number comes from ``engine.analyses.analysis.cell_breakdown`` — nothing here computes LSTM math.
"""

from __future__ import annotations

import dataclasses

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import QPointF, QRectF, Qt
from PySide6.QtGui import QBrush, QColor, QFont, QFontMetricsF, QPainter, QPainterPath, QPen
from PySide6.QtWidgets import (
    QGraphicsScene,
    QGraphicsView,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QSpinBox,
    QSplitter,
    QTreeWidget,
    QTreeWidgetItem,
    QVBoxLayout,
    QWidget,
)

from engine.analyses.analysis import CellBreakdown, cell_breakdown, recurrent_blocks
from engine.cells.cell_kind import CellKind
from gui.panels.h_prev_strip import draw_h_prev
from gui.session_model import SessionModel
from gui.shown import Shown
from gui.theme import Palette, signal_colour
from gui.widgets.on_screen import FrontAware
from gui.widgets.plot_menus import NO_MENU
from gui.widgets.plot_style import style_axes

PART_NAMES = ("x·W", "h·U", "b", "z")
PART_TICKS = ("xW", "hU", "b", "z")
PART_SHORT = ("x", "h", "b", "z")       # where the plots are too narrow for the names apart
TOP_LANES = 3
TOP_K = 5


def _fmt(v: float) -> str:
    return "—" if v is None or not np.isfinite(v) else f"{v:+.4f}"


def _scaled_note(b: CellBreakdown) -> str:
    """Which h·U bars are scaled by a gate before the cell adds them (a GRU's n with
    reset_after: r·(h·U + b_h)), in words; "" when none is."""
    return "".join(f" {part}'s h·U is {gate}·(h·U + its recurrent bias), as the cell adds it;"
                   for part, gate in b.scaled_by.items())


class LaneHighlighter:
    """Marks a few lanes of the units panel (fan-in contributors) without touching its curves.

    Markers are triangles at the left edge of the lanes: a change repaints only that thin
    strip, whereas full-width lane shading made every step repaint every curve.
    """

    def __init__(self, panel) -> None:
        self.panel = panel
        self.items: list[tuple[int, int]] = []          # (unit, row) currently marked
        self.units: list[tuple[int, str]] = []
        self._scatter = None

    def show(self, units: list[tuple[int, str]]) -> None:
        panel = self.panel
        if panel is None or not hasattr(panel, "plot"):
            return
        order = np.asarray(getattr(panel, "order", []))
        marks = []
        for unit, colour in units:
            rows = np.nonzero(order == unit)[0]
            if len(rows):
                marks.append((unit, int(rows[0]), colour))
        if [(u, r) for u, r, _ in marks] == self.items and list(units) == self.units:
            return                                        # nothing changed: no repaint at all
        self.units = list(units)
        self.items = [(u, r) for u, r, _ in marks]
        if self._scatter is None:
            self._scatter = pg.ScatterPlotItem(symbol="t2", size=13, pxMode=True)
            self._scatter.setZValue(40)
            panel.plot.addItem(self._scatter)
        self._scatter.setData([{"pos": (-0.35, r + 0.5), "brush": pg.mkBrush(c), "pen": pg.mkPen(c)}
                               for _, r, c in marks])

    def refresh(self) -> None:
        units, self.units = self.units, []
        self.items = []
        self.show(units)

    def clear(self) -> None:
        if not self.items and not self.units:
            return
        self.units = []
        self.items = []
        if self._scatter is not None:
            self._scatter.setData([])


class PartAxis(pg.AxisItem):
    """The bars' parts under a gate: 'xW hU b z', or 'x h b z' where the plot is too narrow
    for the names to stand apart (they ran together as 'xWhU' in a narrow dock)."""

    def __init__(self, orientation: str = "bottom") -> None:
        self.parts: tuple[str, ...] = ()
        self.ready = False                     # pyqtgraph resizes the axis while it is built
        super().__init__(orientation)
        self.ready = True
        self.fit()

    def resizeEvent(self, ev=None) -> None:  # noqa: N802 (Qt API)
        super().resizeEvent(ev)
        self.fit()

    def fit(self) -> None:
        """Choose the tick names that fit the axis's width now."""
        if not self.ready:
            return
        view = self.linkedView()
        lo, hi = view.viewRange()[0] if view is not None else (-0.5, 3.5)
        per_bar = self.width() / max(hi - lo, 1e-6)
        metrics = QFontMetricsF(self.style.get("tickFont") or QFont())
        room = max(metrics.horizontalAdvance(s) for s in PART_TICKS) + 1   # never touching
        parts = PART_TICKS if per_bar >= room else PART_SHORT
        if parts != self.parts:
            self.parts = parts
            self.setTicks([[(k, s) for k, s in enumerate(parts)]])


class CellDiagram(QGraphicsView):
    """The LSTM cell with live numbers (redrawn from a CellBreakdown)."""

    def __init__(self, palette: Palette, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.palette = palette
        self.setScene(QGraphicsScene(self))
        self.setRenderHint(QPainter.Antialiasing)
        self.setMinimumHeight(240)
        self.labels: dict[str, str] = {}          # what each box shows (for tests)
        self.reads = ""                           # the input read at the step shown

    def resizeEvent(self, event) -> None:  # noqa: N802 (Qt API)
        super().resizeEvent(event)
        self.fitInView(self.scene().sceneRect(), Qt.KeepAspectRatio)

    def draw(self, b: CellBreakdown | None, act_name: str = "tanh", gate_act: str = "σ",
             kind: CellKind | None = None) -> None:
        sc = self.scene()
        sc.clear()
        self.labels = {}
        sc.setBackgroundBrush(QBrush(QColor(self.palette.background)))
        pen = _ScenePen(sc, self.palette, self.labels)
        if b is None:
            sc.addText("select a unit (click a lane) and read a step", pen.font).setDefaultTextColor(pen.fg)
            sc.setSceneRect(QRectF(0, 0, 560, 260))
            return
        DIAGRAMS.get(kind.name, _draw_gate_diagram)(pen, b, kind, act_name, gate_act, self.reads)
        sc.setSceneRect(QRectF(-10, -42, 580, 442))
        self.fitInView(sc.sceneRect(), Qt.KeepAspectRatio)


Y_CELL, Y_H, Y_GATE, Y_IN = 40.0, 150.0, 215.0, 285.0     # rows of the diagram
Y_STRIP, STRIP_H = 312.0, 22.0                            # h(t-1)'s N values under the bus
STRIP_ARROW_X = 400.0                                     # where h(t-1) enters the bus, "· U"
LSTM_GATE_X = {"f": 150.0, "i": 250.0, "g": 350.0, "o": 450.0}   # the LSTM diagram's own


class _ScenePen:
    """Draws the diagram's text, operator circles and arrows into a scene, in one palette;
    ``labels`` records the numbers shown, by name (what tests and exports read back)."""

    def __init__(self, scene, palette: Palette, labels: dict[str, str]) -> None:
        self.scene, self.palette, self.labels = scene, palette, labels
        self.fg = QColor(palette.foreground)
        self.font = QFont()
        self.font.setPointSize(11)
        self.bold = QFont(self.font)
        self.bold.setBold(True)
        self.small = QFont(self.font)
        self.small.setPointSizeF(9.5)

    def text(self, x, y, s, colour=None, bold=False, key=None, centre=True, font=None):
        item = self.scene.addText(s, font or (self.bold if bold else self.font))
        item.setDefaultTextColor(self.fg if colour is None else colour)
        r = item.boundingRect()
        item.setPos(x - r.width() / 2 if centre else x, y - r.height() / 2)
        if key:
            self.labels[key] = s
        return item

    def op(self, x, y, s):
        self.scene.addEllipse(x - 12, y - 12, 24, 24, QPen(self.fg, 2), QBrush(QColor(self.palette.background)))
        self.text(x, y, s, bold=True)

    def line(self, x0, y0, x1, y1, width=2.0):
        self.scene.addLine(x0, y0, x1, y1, QPen(self.fg, width))

    def arrow(self, x0, y0, x1, y1, colour=None):
        colour = self.fg if colour is None else colour
        p = QPen(colour, 2)
        self.scene.addLine(x0, y0, x1, y1, p)
        v = np.array([x1 - x0, y1 - y0], float)
        n = np.hypot(*v) or 1.0
        v /= n
        w = np.array([-v[1], v[0]])
        tip = np.array([x1, y1])
        path = QPainterPath(QPointF(*tip))
        path.lineTo(QPointF(*(tip - 8 * v + 4 * w)))
        path.lineTo(QPointF(*(tip - 8 * v - 4 * w)))
        path.closeSubpath()
        self.scene.addPath(path, p, QBrush(colour))


def _draw_cell_line(pen: _ScenePen, b: CellBreakdown, act_name: str) -> None:
    """c(t-1) -> × f -> + i·g -> c(t), and the branch act(c) × o -> h(t)."""
    pen.text(30, Y_CELL - 22, "c(t-1)")
    pen.text(30, Y_CELL, _fmt(b.c_prev), key="c_prev")
    pen.arrow(62, Y_CELL, 158, Y_CELL)
    pen.op(170, Y_CELL, "×")
    pen.arrow(182, Y_CELL, 288, Y_CELL)
    pen.op(300, Y_CELL, "+")
    pen.arrow(312, Y_CELL, 470, Y_CELL)
    pen.text(510, Y_CELL - 22, "c(t)", QColor(signal_colour("c")), bold=True)
    pen.text(510, Y_CELL, _fmt(b.c), key="c")
    pen.line(420, Y_CELL, 420, 78)
    pen.scene.addRect(395, 78, 50, 22, QPen(pen.fg, 2))
    pen.text(420, 89, act_name)
    pen.arrow(420, 100, 420, Y_H - 12)
    pen.op(420, Y_H, "×")
    pen.arrow(432, Y_H, 470, Y_H)        # its tip clear of the number, as c(t)'s
    pen.text(510, Y_H - 22, "h(t)", QColor(pen.palette.h_colour), bold=True)
    pen.text(510, Y_H, _fmt(b.h), key="h")


def _gate_boxes(pen: _ScenePen, b: CellBreakdown, kind: CellKind, xs: dict[str, float],
                act_name: str, gate_act: str) -> None:
    """A box per gate of the kind at ``xs``, each with its activation and live value."""
    gates = kind.diagram_gates
    if not gates:
        return                      # a simple RNN: h = act(z), no gate
    acts = {g: gate_act if g in kind.ratio_gates else act_name for g in gates}
    labels = {g: f"{g} = {acts[g]}(z)" for g in gates} | dict(kind.formulas)
    font = QFont(pen.bold)     # boxes sit 100 apart: shrink the label until the widest fits
    while font.pointSizeF() > 6 and max(
            QFontMetricsF(font).horizontalAdvance(t) for t in labels.values()) > 86:
        font.setPointSizeF(font.pointSizeF() - 0.5)
    for g in gates:
        c = QColor(signal_colour(g))
        fill = QColor(c)
        fill.setAlpha(50)
        x = xs[g]
        pen.scene.addRect(x - 48, Y_GATE - 20, 96, 40, QPen(c, 2), QBrush(fill))
        pen.text(x, Y_GATE - 9, labels[g], c, font=font)
        pen.text(x, Y_GATE + 9, _fmt(b.gates.get(g, float("nan"))), key=g)


def _draw_gates(pen: _ScenePen, b: CellBreakdown, kind: CellKind, act_name: str, gate_act: str) -> None:
    """The four gate boxes with their values, and where each one acts on the cell line."""
    _gate_boxes(pen, b, kind, LSTM_GATE_X, act_name, gate_act)
    pen.arrow(LSTM_GATE_X["f"], Y_GATE - 20, 170, Y_CELL + 12, QColor(signal_colour("f")))
    pen.op(300, 100, "×")
    pen.arrow(LSTM_GATE_X["i"], Y_GATE - 20, 292, 110, QColor(signal_colour("i")))
    pen.arrow(LSTM_GATE_X["g"], Y_GATE - 20, 308, 110, QColor(signal_colour("g")))
    pen.arrow(300, 88, 300, Y_CELL + 12)
    pen.arrow(LSTM_GATE_X["o"], Y_GATE - 20, 428, Y_H + 10, QColor(signal_colour("o")))


def _draw_inputs(pen: _ScenePen, b: CellBreakdown, kind: CellKind, xs: dict[str, float],
                 reads: str = "") -> None:
    """The shared input bus x(t), h(t-1) feeding every gate, and the title."""
    pen.line(110, Y_IN, 490, Y_IN, width=1.5)
    for g in kind.diagram_gates:
        pen.arrow(xs[g], Y_IN, xs[g], Y_GATE + 20)
    hp = np.asarray(b.h_prev_vector, float)
    j = b.unit
    if not kind.recurrent:          # an mLSTM: no U, h(t-1) is read by nothing
        pen.text(55, Y_IN, f"{', '.join(kind.parts)} (t)")
        pen.text(300, Y_STRIP + STRIP_H / 2, f"no recurrent kernel: h(t-1) is read by nothing; "
                 f"unit {j} is coupled to its head's units only through C and the head's gates",
                 key="h_prev", font=pen.small)
        pen.text(-5, -28, f"unit {j} · t = {b.position}" + (f" · reads {reads}" if reads else ""),
                 bold=True, centre=False)
        return
    pen.text(55, Y_IN, "x(t), h(t-1)")
    # the N values of h(t-1) drawn entering the bus through U: the coupling, not a sentence
    pen.arrow(STRIP_ARROW_X, Y_STRIP, STRIP_ARROW_X, Y_IN + 2)
    pen.text(STRIP_ARROW_X + 12, (Y_STRIP + Y_IN) / 2, "· U", centre=False)
    pen.text(55, Y_STRIP + STRIP_H / 2, "h(t-1)")
    words = draw_h_prev(pen.scene, pen.palette, hp, j, QRectF(110, Y_STRIP, 380, STRIP_H), pen.font)
    pen.text(300, Y_STRIP + STRIP_H + 30, words, key="h_prev", font=pen.small)
    title = f"unit {j} · t = {b.position}" + (f" · reads {reads}" if reads else "") + ("   (masked step: state carried)" if b.masked else "")
    pen.text(-5, -28, title, bold=True, centre=False)


def _draw_lstm(pen: _ScenePen, b: CellBreakdown, kind: CellKind, act_name: str, gate_act: str,
               reads: str) -> None:
    """The LSTM's own diagram: its cell line, its four gates where they act, the input bus."""
    _draw_cell_line(pen, b, act_name)
    _draw_gates(pen, b, kind, act_name, gate_act)
    _draw_inputs(pen, b, kind, LSTM_GATE_X, reads)


def _draw_gate_diagram(pen: _ScenePen, b: CellBreakdown, kind: CellKind, act_name: str,
                       gate_act: str, reads: str) -> None:
    """Any other kind, from its table: its gates in the order the cell uses them (their boxes
    spread over the diagram's width), each feeding the new states, and the input bus."""
    gates = kind.diagram_gates
    xs = {g: 150.0 + (300.0 * k / max(len(gates) - 1, 1) if len(gates) > 1 else 150.0)
          for k, g in enumerate(gates)}
    _gate_boxes(pen, b, kind, xs, act_name, gate_act)
    states = sorted(kind.states, key=lambda name: name == "h")      # h last, at the right
    for k, name in enumerate(states):
        x = 300.0 + 210.0 * (k - (len(states) - 1) / 2) if len(states) > 1 else 300.0
        colour = QColor(pen.palette.signal(name))
        symbol = kind.signal(name).symbol
        pen.text(x, Y_CELL - 22, f"{symbol}(t)", colour, bold=True)
        pen.text(x, Y_CELL, _fmt(b.states.get(name, getattr(b, name, float("nan")))), key=name)
        for g in dict(kind.feeds).get(name, gates):      # the gates this state is made from
            pen.arrow(xs[g], Y_GATE - 20, x, Y_CELL + 14, QColor(signal_colour(g)))
    _draw_inputs(pen, b, kind, xs, reads)


GRU_GATE_X = {"u": 150.0, "n": 300.0, "r": 450.0}     # the GRU diagram's own


def _draw_gru(pen: _ScenePen, b: CellBreakdown, kind: CellKind, act_name: str, gate_act: str,
              reads: str) -> None:
    """The GRU's own diagram: its memory line is h itself — h(t-1) × u + (1 − u) × n -> h(t) —
    with r acting on what the candidate n reads of h(t-1), and the input bus."""
    j = b.unit
    h_colour = QColor(pen.palette.h_colour)
    pen.text(30, Y_CELL - 22, "h(t-1)", h_colour)
    pen.text(30, Y_CELL, _fmt(float(np.asarray(b.h_prev_vector)[j])), key="h_prev_unit")
    pen.arrow(62, Y_CELL, 158, Y_CELL)
    pen.op(170, Y_CELL, "×")
    pen.arrow(182, Y_CELL, 288, Y_CELL)
    pen.op(300, Y_CELL, "+")
    pen.arrow(312, Y_CELL, 470, Y_CELL)
    pen.text(510, Y_CELL - 22, "h(t)", h_colour, bold=True)
    pen.text(510, Y_CELL, _fmt(b.h), key="h")
    _gate_boxes(pen, b, kind, GRU_GATE_X, act_name, gate_act)
    u_colour, n_colour, r_colour = (QColor(signal_colour(g)) for g in ("u", "n", "r"))
    pen.arrow(GRU_GATE_X["u"], Y_GATE - 20, 170, Y_CELL + 12, u_colour)       # u keeps h(t-1)
    # 1 − u scales n: it enters the × from the left, n from below (their heads apart)
    pen.scene.addRect(200, 89, 40, 22, QPen(u_colour, 2))
    pen.text(220, 100, "1−u", u_colour)
    pen.arrow(GRU_GATE_X["u"] + 20, Y_GATE - 20, 214, 111, u_colour)
    pen.op(300, 100, "×")
    pen.arrow(240, 100, 288, 100, u_colour)
    pen.arrow(GRU_GATE_X["n"], Y_GATE - 20, 300, 112, n_colour)
    pen.arrow(300, 88, 300, Y_CELL + 12)
    # r scales the recurrent part the candidate reads (docs/architecture.md, "GRU and simple RNN")
    pen.arrow(GRU_GATE_X["r"] - 48, Y_GATE, GRU_GATE_X["n"] + 50, Y_GATE, r_colour)
    reads_through_r = "r·(h·U + b_h)" if b.scaled_by.get("n") == "r" else "(r⊙h)·U"   # reset after / before
    pen.text(375, Y_GATE - 30, reads_through_r, r_colour, font=pen.small, key="reset_reads")
    _draw_inputs(pen, b, kind, GRU_GATE_X, reads)


DIAGRAMS = {"lstm": _draw_lstm, "gru": _draw_gru}
"""A kind's own diagram, by the kind's name; a kind without one is drawn from its table."""


class CellInspector(FrontAware, QWidget):
    """Follows the selected unit and step (default: the cursor) and takes that cell apart."""

    def __init__(self, session_model: SessionModel, palette: Palette, *, units_panel=None,
                 parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.session_model, self.palette = session_model, palette
        self.units_panel = units_panel
        self.highlighter = LaneHighlighter(units_panel)
        self.breakdown: CellBreakdown | None = None
        self.unit = 0
        self.pinned: int | None = None        # a step chosen by click/spin box, else the cursor
        self.lane_gate = ""                   # gate whose contributors the lanes mark ("" = auto)
        self.marked_gate = ""
        self._bars: dict[str, pg.BarGraphItem] = {}
        self.kind: CellKind | None = None     # the kind the bar charts were made for
        self._kind_palette: Palette = palette    # see _follow_kind
        self._restyled: Palette | None = None
        self._bar_values: dict[str, list[float]] = {}
        self.top: dict[str, list[tuple[int, float]]] = {}
        self._stale = False                   # a step arrived while the dock was hidden
        self._fan_sized = False
        self._build_ui()
        session_model.runChanged.connect(self._on_run)
        session_model.positionChanged.connect(self._on_position)
        session_model.spanChanged.connect(self._on_span)          # a step that was computing
        session_model.selectionChanged.connect(self._on_selection)

    def _build_ui(self) -> None:
        layout = QVBoxLayout(self)
        layout.setContentsMargins(2, 2, 2, 2)
        bar = QHBoxLayout()
        bar.addWidget(QLabel("unit j"))
        self.unit_spin = QSpinBox()
        self.unit_spin.valueChanged.connect(self._unit_chosen)
        bar.addWidget(self.unit_spin)
        bar.addWidget(QLabel("t ="))
        self.step_spin = QSpinBox()
        self.step_spin.setToolTip("The step shown; stepping (F10 ...) returns to the cursor.")
        self.step_spin.setSpecialValueText("—")       # -1: nothing read yet, no step shown
        self.step_spin.setMinimum(-1)
        self.step_spin.valueChanged.connect(self._step_chosen)
        bar.addWidget(self.step_spin)
        self.mode = QLabel("following the cursor")
        bar.addWidget(self.mode)
        bar.addStretch(1)
        layout.addLayout(bar)
        split = QSplitter(Qt.Vertical)
        self.diagram = CellDiagram(self.palette)
        split.addWidget(self.diagram)
        self.bars_glw = pg.GraphicsLayoutWidget()
        self.bars_glw.setBackground(self.palette.background)
        self.bars_glw.setMinimumHeight(130)
        self._bar_plots: dict[str, pg.PlotItem] = {}     # one per gate of the run's kind
        self._zero_lines: list[pg.InfiniteLine] = []
        self.bars_glw.scene().sigMouseMoved.connect(self._bars_hover)
        split.addWidget(self.bars_glw)
        self.fan = QTreeWidget()
        self.fan.setHeaderLabels(["gate / unit k", "h(t-1)[k]", "U[k, j]", "h(t-1)[k]·U[k, j]"])
        self.fan.setToolTip("Units of h(t-1) that push unit j's gates up or down most at this step. "
                            "The top 3 of one gate are marked in the units panel: click a gate row "
                            "to choose it, a unit row to go to its lane.")
        self.fan.itemClicked.connect(self._fan_clicked)
        rows = self.fan.fontMetrics().height() + 6
        self.fan.setMinimumHeight(7 * rows)       # the header and six contributions, never 2.5
        header = self.fan.header()
        header.setSectionResizeMode(QHeaderView.ResizeToContents)
        header.setStretchLastSection(True)
        split.addWidget(self.fan)
        split.setSizes([300, 150, 180])
        layout.addWidget(split, 1)
        self.info = QLabel(" ")
        self.info.setWordWrap(True)
        layout.addWidget(self.info)

    def _follow_kind(self) -> None:
        """One bar chart per gate of the run's cell kind, in the order the cell uses them: made
        again when a run of another kind opens, kept while the kind stays (``_build_bars``)."""
        kind = self.session_model.cell_kind
        if kind is None or kind is self.kind:
            return
        self.kind = kind
        self.bars_glw.clear()
        self._bars, self._bar_plots, self._zero_lines, self._bar_values = {}, {}, [], {}
        # the palette they are made in, and the one a theme switch or export restyled them in
        # since (None: not restyled), replayed in this order when they are built later
        self._kind_palette, self._restyled = self.palette, None

    def _build_bars(self) -> None:
        """The kind's bar charts, built the first time they are drawn on screen or exported:
        behind another tab (where the inspector starts) four plots would wait unseen."""
        if self._bar_plots or self.kind is None:
            return
        kind, made_in = self.kind, self._kind_palette
        for col, g in enumerate(kind.split_gates):
            p = self.bars_glw.addPlot(row=0, col=col, axisItems={"bottom": PartAxis()}, **NO_MENU)
            p.hideButtons()
            p.setMouseEnabled(False, False)
            p.setTitle(f"<span style='color:{signal_colour(g)}'><b>z<sub>{g}</sub></b></span>", size="9pt")
            self._zero_lines.append(p.addLine(y=0, pen=pg.mkPen(made_in.grid)))
            style_axes(p, made_in)
            c = QColor(signal_colour(g))
            brushes = []
            for alpha in (110, 170, 60, 255):
                b = QColor(c)
                b.setAlpha(alpha)
                brushes.append(pg.mkBrush(b))
            item = pg.BarGraphItem(x=np.arange(4), height=np.zeros(4), width=0.7, brushes=brushes,
                                   pen=pg.mkPen(c))
            p.addItem(item)
            if self._bar_plots:      # one z scale for all the gates: sizes compare across them
                p.setYLink(next(iter(self._bar_plots.values())))
                p.getAxis("left").setStyle(showValues=False)
                p.getAxis("left").setWidth(6)
            self._bars[g] = item
            self._bar_plots[g] = p
        if self._restyled is not None:
            self._restyle_bars(self._restyled)

    def apply_palette(self, palette: Palette) -> None:
        """Restyle for a theme switch or an export (the print palette), then redraw."""
        self.palette = palette
        self.diagram.palette = palette
        self.bars_glw.setBackground(palette.background)
        self._restyled = dataclasses.replace(palette, font_pt=min(palette.font_pt, 9.0))   # narrow plots
        self._restyle_bars(self._restyled)
        self.refresh()

    def _restyle_bars(self, small: Palette) -> None:
        for line in self._zero_lines:
            line.setPen(pg.mkPen(self.palette.grid))
        for plot in self._bar_plots.values():
            style_axes(plot, small)
            plot.getAxis("bottom").fit()          # the tick font may have changed

    # --- following the session ----------------------------------------------------------------
    def _on_run(self) -> None:
        if not self.session_model.ready:
            return
        self.unit_spin.blockSignals(True)
        self.unit_spin.setRange(0, max(self.session_model.units - 1, 0))
        self.unit = min(self.unit, self.session_model.units - 1)
        self.unit_spin.setValue(self.unit)
        self.unit_spin.blockSignals(False)
        self.step_spin.blockSignals(True)
        self.step_spin.setRange(-1, max(self.session_model.steps - 1, 0))
        self.step_spin.blockSignals(False)
        self.pinned = None
        self.refresh()

    def _on_position(self, t: int) -> None:
        self.pinned = None
        if self.on_screen():
            self.refresh()
        else:
            self._stale = True      # refreshed when the dock is shown again

    def _on_span(self) -> None:
        if self.on_screen():
            self.refresh()
        else:
            self._stale = True

    def showEvent(self, event) -> None:  # noqa: N802 (Qt API)
        super().showEvent(event)
        self.catch_up()

    def catch_up(self) -> None:
        """Shown again (or its tab came to the front): refresh if the cursor moved meanwhile."""
        if self._stale and self.on_screen():
            self._stale = False
            self.refresh()

    def _on_selection(self, unit: int, position: int) -> None:
        if unit >= 0:
            self.unit = unit
        if position >= 0:
            self.pinned = position
        self.refresh()

    def _unit_chosen(self, unit: int) -> None:
        if unit != self.unit:
            self.unit = unit
            self.refresh()

    def _step_chosen(self, step: int) -> None:
        if step >= 0 and step != self.position():
            self.pinned = step
            self.refresh()

    def _not_ready(self, pos: int, why: str = "") -> None:
        """No breakdown to show for step ``pos``: say why, clear the drawing and the bars."""
        self.breakdown = None
        self._drawn = (self.session_model.run, self.session_model.units,
                       self.session_model.steps, pos, self._kind_name())
        self.diagram.draw(None)
        self.info.setText(why or f"step {pos}: computing its part of the run from the nearest "
                                 f"checkpoint…")
        for item in self._bars.values():
            item.setOpts(height=np.zeros(4))
        self.fan.clear()
        self.highlighter.clear()

    def _nothing_read(self) -> None:
        """No step to take apart (nothing read yet, or no run): no numbers of an earlier one."""
        session = self.session_model.session
        self._not_ready(-1, "nothing read yet: step (F10) to read the first input, or click a "
                            "lane" if session is not None else "no run loaded")
        self._drawn = (self.session_model.run, self.session_model.units,
                       self.session_model.steps, None, self._kind_name()) if session is not None else None
        self.mode.setText("following the cursor")
        self._bar_values = {}
        self.step_spin.blockSignals(True)
        self.step_spin.setValue(-1)
        self.step_spin.blockSignals(False)

    def _waits(self) -> bool:
        """Behind another tab, closed, or in a window not on screen yet: a headless export
        lays out its view before showing the window, and shows this inspector only for a
        figure of it (then it catches up when shown, and the export draws it anyway)."""
        return not self.on_screen()

    def position(self) -> int | None:
        if not self.session_model.ready:
            return None
        if self.pinned is not None:
            return self.pinned
        return self.session_model.session.cursor

    def shown(self) -> Shown | None:
        """The run and step the inspector names (gui/shown.py): following the cursor, the step
        shown is the cursor; pinned, any step of the run (the cursor is reported as is)."""
        drawn = getattr(self, "_drawn", None)
        if drawn is None or not self.session_model.ready or self._stale or not self.on_screen():
            return None
        run, units, steps, pos, kind = drawn
        cursor = pos if self.pinned is None else self.session_model.session.cursor
        return Shown(run, units, steps, cursor, kind)

    def _kind_name(self) -> str:
        """The name of the kind the gate charts were made for ("" before any run)."""
        return self.kind.name if self.kind is not None else ""

    def refresh(self, force: bool = False) -> None:
        """Take the selected cell apart. Behind another tab of a window on screen the numbers,
        diagram and lane marks follow as before, while the bar charts wait for the front
        (``catch_up``); ``force`` (an export) draws them at once."""
        self._follow_kind()
        if force or not self._waits():
            self._build_bars()
        else:
            self._stale = True          # drawn again, bars and all, when its tab comes up
        pos = self.position()
        session = self.session_model.session
        if session is None or pos is None or not 0 <= self.unit < session.units:
            self._nothing_read()
            return
        self.mode.setText("following the cursor" if self.pinned is None else "pinned (step to follow the cursor)")
        self.step_spin.blockSignals(True)
        self.step_spin.setValue(pos)
        self.step_spin.blockSignals(False)
        self.unit_spin.blockSignals(True)
        self.unit_spin.setValue(self.unit)
        self.unit_spin.blockSignals(False)
        if not session.ready(pos):
            self._not_ready(pos)      # its chunk is being computed: shown when its span arrives
            return
        # one step's window of the run (views of a run held in memory, recomputed from its
        # checkpoint otherwise; docs/architecture.md, "Long runs"), whatever kind of run
        trace = session.window(pos, pos + 1)
        b = dataclasses.replace(cell_breakdown(trace, self.session_model.sample, self.unit, 0),
                                position=pos)
        known = session.known()
        if not known.start <= pos < known.stop:
            b = dataclasses.replace(b, h=float("nan"))
        if not np.isfinite(b.h):
            self._not_ready(pos, f"step {pos} is not read yet: step to it (F10) or run to it")
            return
        self.breakdown = b
        self._drawn = (self.session_model.run, session.units, session.steps, pos, self._kind_name())
        w = trace.weights
        self.diagram.reads = self.session_model.input_label(b.position)
        self.diagram.draw(b, w.cell_activation.name, "σ" if w.gate_activation.name == "sigmoid"
                          else w.gate_activation.name, self.kind)
        need_lo = need_hi = 0.0
        for g in self.kind.split_gates:
            values = [b.zx[g], b.recurrent[g], b.zb[g], b.z[g]]     # h·U as the cell adds it
            self._bar_values[g] = values
            heights = np.nan_to_num(np.array(values, float))
            if g in self._bars:
                self._bars[g].setOpts(height=heights)
            need_lo, need_hi = min(need_lo, float(heights.min())), max(need_hi, float(heights.max()))
        # one range for the four linked plots, widened only when a bar leaves it (re-ranging
        # every step repaints axes)
        first = next(iter(self._bar_plots.values()), None)      # none: a cell without gates
        lo, hi = first.getViewBox().viewRange()[1] if first is not None else (0.0, 0.0)
        span = max(need_hi - need_lo, 1e-3)
        if first is not None and (need_lo < lo + 0.05 * span or need_hi > hi - 0.05 * span
                                  or (hi - lo) > 8 * span):
            first.setYRange(need_lo - 0.15 * span, need_hi + 0.15 * span, padding=0)
        self._fill_fan(b, trace)
        self.info.setText(f"unit {b.unit}, step {pos}: each gate's z = x·W + h·U + b, then its "
                          f"activation;{_scaled_note(b)} hover a bar for the numbers.")

    def bar_values(self, gate: str) -> list[float]:
        """[x·W, h·U, b, z] as drawn for ``gate`` (for tests)."""
        return list(self._bar_values.get(gate, []))

    def _fill_fan(self, b: CellBreakdown, trace) -> None:
        self.fan.clear()
        blocks = recurrent_blocks(trace.weights)
        self.top: dict[str, list[tuple[int, float]]] = {}
        gates = self.kind.split_gates
        for g in gates:
            top = b.top_contributors(g, TOP_K)
            self.top[g] = top
            parent = QTreeWidgetItem([f"{g}  (z_{g} h·U = {_fmt(b.recurrent[g])})"])
            parent.setForeground(0, QBrush(QColor(signal_colour(g))))
            for k, v in top:
                child = QTreeWidgetItem([f"unit {k}", _fmt(float(b.h_prev_vector[k])),
                                         _fmt(float(blocks[g][k, b.unit])), _fmt(v)])
                child.setData(0, Qt.UserRole, k)
                parent.addChild(child)
            parent.setData(0, Qt.UserRole + 1, g)
            self.fan.addTopLevelItem(parent)
            parent.setExpanded(True)
        if not self._fan_sized:      # sizing columns every step re-lays out
            for c in range(4):                             # the dock (and the window) each time
                self.fan.resizeColumnToContents(c)
            self._fan_sized = True
        if not gates or (self.pinned is None and self.lane_gate not in gates):
            # following the cursor: marking lanes would repaint the whole units panel every
            # step; lanes are marked for a pinned (clicked) step or a chosen gate
            self.highlighter.clear()
            return
        if self.lane_gate not in gates:
            # default: the gate the recurrence pushes hardest at this step
            gate = max(gates, key=lambda g: abs(b.recurrent[g]) if np.isfinite(b.recurrent[g]) else -1)
        else:
            gate = self.lane_gate
        self.show_lanes(gate)

    def show_lanes(self, gate: str) -> None:
        """Mark the top contributors of one gate in the units panel."""
        self.marked_gate = gate
        top = self.top.get(gate, [])[:TOP_LANES]
        self.highlighter.show([(k, signal_colour(gate)) for k, _ in top])
        for r in range(self.fan.topLevelItemCount()):
            item = self.fan.topLevelItem(r)
            f = item.font(0)
            f.setBold(item.data(0, Qt.UserRole + 1) == gate)
            item.setFont(0, f)

    def _fan_clicked(self, item: QTreeWidgetItem, column: int) -> None:
        gate = item.data(0, Qt.UserRole + 1)
        if gate is not None:
            self.lane_gate = gate
            self.show_lanes(gate)
            return
        k = item.data(0, Qt.UserRole)
        if k is not None and self.units_panel is not None and hasattr(self.units_panel, "go_to_unit"):
            pos = self.position()
            self.units_panel.go_to_unit(int(k))
            self.session_model.select(int(k), -1 if pos is None else pos)

    def _bars_hover(self, scene_pos) -> None:
        for g, p in self._bar_plots.items():
            if p.sceneBoundingRect().contains(scene_pos) and g in self._bar_values:
                x = p.getViewBox().mapSceneToView(scene_pos).x()
                k = int(np.round(x))
                if 0 <= k < 4:
                    v = self._bar_values[g]
                    text = (f"gate {g}, {PART_NAMES[k]} = {_fmt(v[k])}   "
                            f"(x·W {_fmt(v[0])} + h·U {_fmt(v[1])} + b {_fmt(v[2])} = z {_fmt(v[3])};"
                            f" {g} = {_fmt(self.breakdown.gates[g]) if self.breakdown else '—'})")
                    self.info.setText(text)
                    self.bars_glw.setToolTip(text)
                return
