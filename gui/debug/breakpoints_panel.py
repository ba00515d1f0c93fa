"""Breakpoints dock: expressions with inline error positions, built-in events, hit markers,
continue forward/backward. The engine's Debugger does all evaluation."""

from __future__ import annotations

import numpy as np
from PySide6.QtCore import QRectF, Qt, QTimer, Signal
from PySide6.QtGui import QColor, QPainter, QPen
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QDoubleSpinBox,
    QGridLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPushButton,
    QSpinBox,
    QTreeWidget,
    QTreeWidgetItem,
    QVBoxLayout,
    QWidget,
)

from engine.debugging.debugger import Breakpoint
from engine.debugging.expr import ExprError
from engine.errors import Cancelled
from gui.background import Background
from gui.debug.debugger_model import DebuggerModel, describe_result
from gui.theme import Palette, palette_of
from gui.widgets.combo import refill
from gui.widgets.flow_layout import FlowLayout
from gui.widgets.min_rows import keep_rows


def _example(kind) -> str:
    """The condition line's placeholder in the names of the run's cell (an LSTM's c and f, a
    GRU's h and u; before any run, the LSTM's)."""
    state, gate = ("c", "f") if kind is None else (kind.states[0], kind.carry or kind.states[0])
    return f"condition, e.g.  any(abs({state}) > 5)   {gate}[3] < 0.1   any(isnan(h))"


def caret_text(text: str, column: int, message: str, error: str) -> str:
    """HTML: the expression with the offending column underlined and the message below (in
    the ``error`` colour of the theme it is shown in)."""
    import html
    col = max(0, min(column, len(text)))
    head, mid, tail = text[:col], text[col:col + 1] or " ", text[col + 1:]
    return (f"<span style='font-family:monospace'>{html.escape(head)}"
            f"<span style='background:#f3b0b0;text-decoration:underline'>{html.escape(mid)}</span>"
            f"{html.escape(tail)}</span><br><span style='color:{error}'>{html.escape(message)}"
            f" (column {col})</span>")


class HitStrip(QWidget):
    """A thin timeline with one tick per hit (input positions) and the cursor; click to jump.
    Painted in the theme it is shown in (``palette_of``): the window's after a theme switch, a
    figure's while one is drawn (the debugger docks are no themed views)."""

    jump = Signal(int)          # input position

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.hits = np.zeros(0, np.int64)
        self.steps = 0
        self.cursor: int | None = None
        self.setMinimumHeight(18)
        self.setMaximumHeight(22)
        self.setToolTip("Breakpoint hits over the whole run (click a mark to go there)")

    def set_hits(self, hits: np.ndarray, steps: int) -> None:
        self.hits, self.steps = np.asarray(hits, np.int64), int(steps)
        self.update()

    def set_cursor(self, position: int | None) -> None:
        self.cursor = position
        self.update()

    def _x(self, position: float) -> float:
        w = max(self.width() - 4, 1)
        return 2 + (position + 0.5) / max(self.steps, 1) * w

    def paintEvent(self, event) -> None:  # noqa: N802 (Qt API)
        pal = palette_of(self)
        p = QPainter(self)
        p.fillRect(self.rect(), QColor(pal.lane_shade))
        p.setPen(QPen(QColor("#d62728"), 1))
        h = self.height()
        for pos in self.hits:
            x = self._x(float(pos))
            p.drawLine(QRectF(x, 2, 0, h - 4).topLeft(), QRectF(x, 2, 0, h - 4).bottomLeft())
        if self.cursor is not None:
            p.setPen(QPen(QColor(pal.cursor), 2))
            x = self._x(float(self.cursor))
            p.drawLine(int(x), 0, int(x), h)
        p.end()

    def mousePressEvent(self, event) -> None:  # noqa: N802
        if not self.steps or not self.hits.size:
            return
        w = max(self.width() - 4, 1)
        pos = (event.position().x() - 2) / w * self.steps - 0.5
        nearest = int(self.hits[np.argmin(np.abs(self.hits - pos))])
        self.jump.emit(nearest)


class BreakpointsPanel(QWidget):
    hitsShown = Signal(object)      # the t (inputs read) at each hit, for the toolbar timeline

    def __init__(self, dm: DebuggerModel, palette: Palette, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.dm = dm
        self.pal = palette
        self._updating = False
        self._changing_item = False     # inside the tree's itemChanged: rebuild later
        self._hits: dict[int, np.ndarray] = {}
        self.scans = Background(self, name="hit scan",       # a checkpointed run's hits
                                current_run=lambda: dm.session_model.run)
        self.scans.delivered.connect(self._scanned)
        layout = QVBoxLayout(self)
        layout.addLayout(self._condition_row())
        self.error = QLabel()
        self.error.setTextFormat(Qt.RichText)
        self.error.setWordWrap(True)
        self.error.hide()
        layout.addWidget(self.error)
        layout.addLayout(self._event_grid())
        self.tree = QTreeWidget()
        keep_rows(self.tree)         # a short dock scrolls; the list is never a sliver
        self.tree.setHeaderLabels(["breakpoint", "every step", "hits"])
        self.tree.setRootIsDecorated(False)
        self.tree.itemChanged.connect(self._item_changed)
        self.tree.itemDoubleClicked.connect(self._goto_first_hit)
        layout.addWidget(self.tree, 1)
        self.strip = HitStrip()
        self.strip.jump.connect(self._jump)
        layout.addWidget(self.strip)
        buttons = QWidget()
        buttons.setLayout(self._button_row())
        layout.addWidget(buttons)
        self.status = QLabel("")
        layout.addWidget(self.status)

        dm.breakpointsChanged.connect(self.refresh)
        dm.hitsChanged.connect(self.refresh_hits)
        dm.session_model.positionChanged.connect(self._on_position)
        dm.session_model.runChanged.connect(self._on_run)
        dm.stopped.connect(self._on_stopped)
        self._on_run()              # a run already open: its units and its kind's gates

    def _condition_row(self) -> QHBoxLayout:
        """The expression line: a condition over the current step, added with Return or Add."""
        row = QHBoxLayout()
        self.edit = QLineEdit()
        self.edit.setPlaceholderText(_example(None))     # the run's kind's names (_follow_kind)
        self.edit.returnPressed.connect(self.add_from_edit)
        self.edit.textEdited.connect(lambda _: self.error.hide())
        self.every = QCheckBox("every step")
        self.every.setToolTip("Stop at every step the condition holds, not only when it becomes true")
        add = QPushButton("Add")
        add.clicked.connect(self.add_from_edit)
        row.addWidget(self.edit, 1)
        row.addWidget(self.every)
        row.addWidget(add)
        return row

    def _event_grid(self) -> QGridLayout:
        """The built-in events, each a tick box with its parameters."""
        events = QGridLayout()
        self.ev_nan = QCheckBox("NaN / Inf appears")
        self.ev_c = QCheckBox("|c| exceeds")
        self.c_bound = QDoubleSpinBox()
        self.c_bound.setRange(0.0, 1e9)
        self.c_bound.setValue(5.0)
        self.ev_sat = QCheckBox("gate saturates in")
        self.sat_gate = QComboBox()            # "any" and the run's cell kind's gates (_on_run)
        self.sat_gate.addItem("any")
        self.sat_frac = QDoubleSpinBox()
        self.sat_frac.setRange(0.01, 1.0)
        self.sat_frac.setSingleStep(0.05)
        self.sat_frac.setValue(0.9)
        self.sat_frac.setPrefix("≥ ")
        self.sat_frac.setSuffix(" of units")       # a share of units, never a gate level
        self.sat_frac.setToolTip("Hits when at least this share of the units (0.90: nine in ten) "
                                 "has the gate within 5 % of either end of its range (below "
                                 "0.05 or above 0.95 for σ), from the step it starts")
        self.ev_sign = QCheckBox("h changes sign, unit")
        self.sign_unit = QSpinBox()
        self.sign_unit.setRange(-1, 0)
        self.sign_unit.setSpecialValueText("any")
        self.sign_unit.setValue(-1)
        # two columns, the share of units under its gate: a third column made the panel wider
        # than a laptop's side dock (1366x768), which hid it and the Add button past the edge
        rows = ((self.ev_nan,), (self.ev_c, self.c_bound), (self.ev_sat, self.sat_gate),
                (None, self.sat_frac), (self.ev_sign, self.sign_unit))
        for r, widgets in enumerate(rows):
            for c, widget in enumerate(widgets):
                if widget is not None:
                    events.addWidget(widget, r, c)
        self._event_boxes = {"nan_inf": self.ev_nan, "c_exceeds": self.ev_c,
                             "saturates": self.ev_sat, "sign_change": self.ev_sign}
        for kind, box in self._event_boxes.items():
            box.toggled.connect(lambda on, k=kind: self._event_toggled(k, on))
        for w in (self.c_bound, self.sat_frac):
            w.valueChanged.connect(self._event_params_changed)
        self.sat_gate.currentIndexChanged.connect(self._event_params_changed)
        self.sign_unit.valueChanged.connect(self._event_params_changed)
        return events

    def _button_row(self) -> FlowLayout:
        """Remove and Continue both ways; wraps in a narrow dock instead of widening it."""
        buttons = FlowLayout(spacing=6)
        self.remove_btn = QPushButton("Remove")
        self.remove_btn.clicked.connect(self.remove_selected)
        self.back_btn = QPushButton("◀ Continue back (Shift+F5)")
        self.back_btn.clicked.connect(lambda: self.dm.continue_run(-1, parent=self))
        self.fwd_btn = QPushButton("Continue ▶ (F5)")
        self.fwd_btn.clicked.connect(lambda: self.dm.continue_run(+1, parent=self))
        for b in (self.remove_btn, self.back_btn, self.fwd_btn):
            buttons.addWidget(b)
        return buttons

    # --- adding ------------------------------------------------------------------------------
    def add_from_edit(self) -> bool:
        text = self.edit.text()
        if not self.dm.ready or not text.strip():
            return False
        try:
            self.dm.debugger.add_breakpoint(text, every_step=self.every.isChecked())
        except ExprError as exc:
            self.show_error(text, exc)
            return False
        self.edit.clear()
        self.error.hide()
        return True

    def show_error(self, text: str, exc: ExprError) -> None:
        self.error.setText(caret_text(text, exc.column, exc.message, palette_of(self).error))
        self.error.show()
        self.edit.setFocus()
        self.edit.setCursorPosition(min(exc.column, len(text)))

    def _make_event(self, kind: str) -> Breakpoint | None:
        """The event's breakpoint over the run's own signals (None: the run's cell has nothing
        it could watch, as |c| for a cell without c)."""
        cell = self.dm.session_model.cell_kind
        if kind == "nan_inf":
            return Breakpoint.nan_inf(cell)
        if kind == "c_exceeds":
            return Breakpoint.c_exceeds(self.c_bound.value()) if "c" in cell.states else None
        if kind == "saturates":
            return Breakpoint.saturates(self.sat_gate.currentText(), self.sat_frac.value(), cell)
        unit = self.sign_unit.value()
        return Breakpoint.sign_change(None if unit < 0 else unit)

    def _event_toggled(self, kind: str, on: bool) -> None:
        if self._updating or not self.dm.ready:
            return
        dbg = self.dm.debugger
        for bp in [b for b in dbg.breakpoints if b.kind == kind]:
            dbg.remove_breakpoint(bp.id)
        event = self._make_event(kind) if on else None
        if event is not None:
            dbg.add_breakpoint(event)

    def _event_params_changed(self, *_) -> None:
        for kind, box in self._event_boxes.items():
            if box.isChecked():
                self._event_toggled(kind, True)

    # --- list --------------------------------------------------------------------------------
    def refresh(self) -> None:
        if self._changing_item:
            # called back from inside the tree's itemChanged (a tick box): clearing the tree
            # now would delete the item Qt is still changing (a crash seen in CI); rebuild
            # once that call has returned
            QTimer.singleShot(0, self.refresh)
            return
        self._updating = True
        self.tree.clear()
        if self.dm.ready:
            kinds = set()
            for bp in self.dm.debugger.breakpoints:
                item = QTreeWidgetItem([bp.title, "", ""])
                item.setData(0, Qt.UserRole, bp.id)
                item.setFlags(item.flags() | Qt.ItemIsUserCheckable)
                item.setCheckState(0, Qt.Checked if bp.enabled else Qt.Unchecked)
                item.setCheckState(1, Qt.Checked if bp.every_step else Qt.Unchecked)
                item.setToolTip(0, bp.expression)
                self.tree.addTopLevelItem(item)
                kinds.add(bp.kind)
            for kind, box in self._event_boxes.items():
                box.setChecked(kind in kinds)
        self.tree.resizeColumnToContents(0)
        self._updating = False
        self.refresh_hits()

    def refresh_hits(self) -> None:
        """Hit counts and timeline markers: at once for a run in memory; a checkpointed run is
        scanned on a worker thread (every chunk recomputed) and shows "…" meanwhile."""
        if not self.dm.ready:
            return
        session = self.dm.session_model.session
        if session.has_full:
            try:
                hits = self.dm.debugger.all_hits()
            except ExprError:
                hits = {}
            self._show_hits(hits)
            return
        self._show_hits(None)
        debugger, key = self.dm.debugger, self._scan_key()
        self.scans.request(lambda ticket: debugger.scan_hits(ticket.stopped), tag=key,
                           run=self.dm.session_model.run)

    def _scan_key(self) -> tuple:
        """What a hit scan depends on: the run, the sample and the enabled breakpoints."""
        dm = self.dm
        bps = tuple((b.id, b.expression, b.every_step) for b in dm.debugger.breakpoints if b.enabled)
        return dm.session_model.session, dm.debugger.sample, bps

    def _scanned(self, delivery) -> None:
        key, result = delivery.tag, delivery.result
        if not self.dm.ready or key != self._scan_key() or isinstance(result, Cancelled):
            return                              # asked for another run or other breakpoints
        if isinstance(result, ExprError):
            result = {}
        if isinstance(result, Exception):
            raise result                        # a bug: shown by the slot hook
        self._show_hits(result)

    def _show_hits(self, hits: dict[int, np.ndarray] | None) -> None:
        """Counts per breakpoint and markers on the strip (None: still counting)."""
        session = self.dm.session_model.session
        errors = {b.id: b.error for b in self.dm.debugger.breakpoints}
        for k in range(self.tree.topLevelItemCount()):
            item = self.tree.topLevelItem(k)
            error = errors.get(item.data(0, Qt.UserRole), "")
            if error:
                item.setText(2, "error")
                item.setToolTip(2, f"cannot evaluate: {error}")
            elif hits is None:
                item.setText(2, "…")
                item.setToolTip(2, "counting the hits over the checkpointed run, chunk by chunk")
            else:
                n = hits.get(item.data(0, Qt.UserRole))
                item.setText(2, "" if n is None else str(len(n)))
                item.setToolTip(2, "")
        self._hits = hits or {}
        markers = (np.unique(np.concatenate(list(self._hits.values()))) if self._hits
                   else np.zeros(0, np.int64))
        self.strip.set_hits(markers, session.steps)
        self.strip.set_cursor(session.cursor)
        self.hitsShown.emit(np.array([session.position_to_t(int(p)) for p in markers], np.int64))

    def _item_changed(self, item: QTreeWidgetItem, column: int) -> None:
        if self._updating or not self.dm.ready:
            return
        bp_id = item.data(0, Qt.UserRole)
        self._changing_item = True
        try:
            if column == 0:
                self.dm.debugger.set_enabled(bp_id, item.checkState(0) == Qt.Checked)
            elif column == 1:
                self.dm.debugger.set_every_step(bp_id, item.checkState(1) == Qt.Checked)
        finally:
            self._changing_item = False

    def remove_selected(self) -> None:
        for item in self.tree.selectedItems():
            self.dm.debugger.remove_breakpoint(item.data(0, Qt.UserRole))

    def _goto_first_hit(self, item: QTreeWidgetItem, _column: int = 0) -> None:
        hits = self._hits.get(item.data(0, Qt.UserRole))           # as the list shows them
        if hits is not None and hits.size:
            self._jump(int(hits[0]))

    def _jump(self, position: int) -> None:
        session = self.dm.session_model.session
        if session is not None:
            self.dm.session_model.seek(session.position_to_t(position))

    def _on_position(self, _t: int) -> None:
        if self.dm.ready:
            self.strip.set_cursor(self.dm.session_model.session.cursor)

    def _on_run(self) -> None:
        if self.dm.ready:
            self.sign_unit.setRange(-1, self.dm.session_model.units - 1)
            self._follow_kind(self.dm.session_model.cell_kind)

    def _follow_kind(self, kind) -> None:
        """The gates a saturation event can watch are the run's cell kind's (kept while the kind
        stays; a gate the new kind lacks falls back to "any")."""
        self.edit.setPlaceholderText(_example(kind))
        has_c = "c" in kind.states
        self.ev_c.setEnabled(has_c)
        self.c_bound.setEnabled(has_c)
        self.ev_c.setToolTip("" if has_c else f"this layer's cell ({kind.name}) has no cell "
                             "state c: it carries h alone")
        gates = ["any", *kind.gates]
        if [self.sat_gate.itemText(k) for k in range(self.sat_gate.count())] == gates:
            return
        chosen = self.sat_gate.currentText()
        refill(self.sat_gate, [(g, g) for g in gates], gates.index(chosen) if chosen in gates else 0)

    def _on_stopped(self, result) -> None:
        self.status.setText(describe_result(self.dm, result))
