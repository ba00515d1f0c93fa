"""Forks dock: what-if runs made by editing h, c or x_t (or perturb / decouple), listed as a
tree, one chosen for overlay; the selected unit's h of the original and of the fork, with the
difference shaded. Forks are engine objects; this panel only asks them for arrays."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import Qt
from PySide6.QtWidgets import (
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QFormLayout,
    QHeaderView,
    QInputDialog,
    QLabel,
    QLineEdit,
    QPushButton,
    QSpinBox,
    QTreeWidget,
    QTreeWidgetItem,
    QVBoxLayout,
    QWidget,
)

from engine.errors import ScopeError
from gui.debug.debugger_model import DebuggerModel
from gui.shown import Shown, cursor_at
from gui.theme import Palette, palette_of
from gui.widgets.flow_layout import FlowLayout
from gui.widgets.min_rows import keep_rows
from gui.widgets.plot_menus import LazyMenuViewBox
from gui.widgets.plot_style import set_axis_label, style_axes

ORIGINAL = "(original run)"


def parse_values(text: str) -> float | list[float]:
    """'0.5' -> 0.5; '1, 2, 3' or '[1 2 3]' -> a list (ScopeError when not numbers)."""
    cleaned = text.strip().strip("[]()").replace(",", " ").split()
    try:
        values = [float(v) for v in cleaned]
    except ValueError:
        raise ScopeError(f"'{text}' is not a number or a list of numbers") from None
    if not values:
        raise ScopeError("enter a value")
    return values[0] if len(values) == 1 else values


class EditStateDialog(QDialog):
    """Edit h, c or x_t at the current step: the session forks."""

    def __init__(self, dm: DebuggerModel, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.dm = dm
        self.setWindowTitle("Edit state → fork")
        form = QFormLayout(self)
        session = dm.session_model.session
        pos = session.cursor
        self.where = QLabel(f"after reading input position {pos}" if pos is not None
                            else "read a step first")
        form.addRow("step", self.where)
        self.what = QComboBox()
        self.what.addItems(["h", "c", "x", "perturb h"])
        form.addRow("change", self.what)
        self.unit = QSpinBox()
        self.unit.setRange(-1, session.units - 1)
        self.unit.setSpecialValueText("all units")
        self.unit.setValue(dm.session_model.selected_unit if dm.session_model.selected_unit >= 0 else -1)
        form.addRow("unit / feature", self.unit)
        self.current = QLabel()
        self.current.setTextInteractionFlags(Qt.TextSelectableByMouse)
        self.current.setToolTip("The value at this step now (before the edit)")
        form.addRow("current value", self.current)
        self.value = QLineEdit()
        self.value_label = QLabel()       # what the number is for the change chosen
        form.addRow(self.value_label, self.value)
        self.parent_combo = QComboBox()
        self.parent_combo.addItem(ORIGINAL)
        self.parent_combo.addItems(dm.debugger.forks.names())
        if dm.overlay:
            self.parent_combo.setCurrentText(dm.overlay)
        form.addRow("fork of", self.parent_combo)
        self.name = QLineEdit()
        self.name.setPlaceholderText("automatic")
        form.addRow("name", self.name)
        self.error = QLabel()
        self.error.setStyleSheet(f"color:{palette_of(self).error}")
        form.addRow(self.error)
        buttons = QDialogButtonBox(QDialogButtonBox.Ok | QDialogButtonBox.Cancel)
        buttons.accepted.connect(self._ok)
        buttons.rejected.connect(self.reject)
        form.addRow(buttons)
        self.fork = None
        self.what.currentTextChanged.connect(self._what_changed)
        self.unit.valueChanged.connect(lambda _: self._show_current())
        self._name_value()
        self._show_current()

    def _name_value(self) -> None:
        """Say what the number does: replaces h, c or x, or is added to h (a perturbation)."""
        what = self.what.currentText()
        if what == "perturb h":
            self.value_label.setText("add to h")
            self.value.setPlaceholderText("an amount added to the unit's h, e.g. 0.5")
        else:
            self.value_label.setText(f"new {what}")
            self.value.setPlaceholderText("a number, or one per unit: 0.1, 0.2, …")

    def _what_changed(self, what: str) -> None:
        session = self.dm.session_model.session
        top = session.x.shape[2] - 1 if what == "x" and session.x.ndim == 3 else session.units - 1
        self.unit.setRange(-1 if what != "perturb h" else 0, top)
        self._name_value()
        self._show_current()

    def current_values(self) -> np.ndarray | None:
        """What the edit replaces, as recorded at the cursor for the window's sample: one value
        for a unit (or feature), the whole vector for "all units"; None before a step."""
        sm = self.dm.session_model
        session = sm.session
        pos = session.cursor
        if pos is None:
            return None
        what = self.what.currentText()
        name = "x" if what == "x" else ("h" if what == "perturb h" else what)
        step = session.window(pos, pos + 1)          # the cursor's step, whatever the run keeps
        row = np.asarray(getattr(step, name)[sm.sample, 0], np.float64).reshape(-1)
        unit = self.unit.value()
        return row if unit < 0 else row[unit:unit + 1]

    def _show_current(self) -> None:
        values = self.current_values()
        if values is None:
            self.current.setText("—")
            return
        what = self.what.currentText()
        name = "x" if what == "x" else ("h" if what == "perturb h" else what)
        unit = self.unit.value()
        if unit >= 0:
            self.current.setText(f"{name}[{unit}] = {values[0]:+.6g}")
            return
        shown = ", ".join(f"{v:+.4g}" for v in values[:6])
        more = f", … ({values.size} values)" if values.size > 6 else ""
        self.current.setText(f"{name} = [{shown}{more}]")

    def apply(self):
        """Make the fork from the fields (raises ScopeError)."""
        dbg = self.dm.debugger
        what = self.what.currentText()
        value = parse_values(self.value.text())
        unit = self.unit.value()
        unit = None if unit < 0 else unit
        parent = self.parent_combo.currentText()
        parent = None if parent == ORIGINAL else parent
        name = self.name.text().strip() or None
        if what in ("h", "c"):
            return dbg.fork_state(what, value=value, unit=unit, parent=parent, name=name)
        if what == "x":
            session = self.dm.session_model.session
            pos = session.cursor
            if pos is None:
                raise ScopeError("read a step first")
            if unit is not None:
                x_t = np.array(session.recorded().x[:, pos], np.float32)
                x_t[:, unit] = value
                value = x_t.tolist()
            return dbg.fork_input(value, parent=parent, name=name)
        if isinstance(value, list):
            raise ScopeError("perturb takes one number (the delta)")
        return dbg.perturb(unit if unit is not None else 0, value, parent=parent, name=name)

    def _ok(self) -> None:
        try:
            self.fork = self.apply()
        except ScopeError as exc:
            self.error.setText(str(exc))
            return
        self.accept()


def edit_state_dialog(window, dm: DebuggerModel):
    if not dm.ready:
        return None
    dialog = EditStateDialog(dm, window)
    if dialog.exec() == QDialog.Accepted and dialog.fork is not None:
        dm.set_overlay(dialog.fork.name)
        return dialog.fork
    return None


class ForksPanel(QWidget):
    def __init__(self, dm: DebuggerModel, palette: Palette,
                 report_error: Callable[[str, str], None] | None = None, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.dm = dm
        self.pal = palette
        self.report_error = report_error or (lambda title, message: self.info.setText(message))
        self._updating = False
        layout = QVBoxLayout(self)
        self.tree = QTreeWidget()
        keep_rows(self.tree)         # a short dock scrolls; the list is never a sliver
        self.tree.setHeaderLabels(["fork", "edit", "owns"])
        self.tree.header().setSectionResizeMode(QHeaderView.ResizeToContents)   # never cut
        self.tree.header().setStretchLastSection(True)
        self.tree.itemChanged.connect(self._item_changed)
        self.tree.currentItemChanged.connect(lambda *_: self.update_plot())
        layout.addWidget(self.tree, 1)
        buttons = QWidget()
        row = FlowLayout(buttons)       # wraps in a narrow dock instead of widening the panel
        self.edit_btn = QPushButton("Edit state…")
        self.edit_btn.setToolTip("Change h, c or x_t at this step (Ctrl+E)")
        self.edit_btn.clicked.connect(lambda: edit_state_dialog(self.window(), dm))
        self.perturb_btn = QPushButton("Perturb…")
        self.perturb_btn.clicked.connect(self.perturb_dialog)
        self.decouple_btn = QPushButton("Decouple units")
        self.decouple_btn.setToolTip("Rerun with each gate's U reduced to its diagonal")
        self.decouple_btn.clicked.connect(self.decouple)
        self.undo_btn = QPushButton("Undo edit")
        self.undo_btn.clicked.connect(self.undo_selected)
        self.delete_btn = QPushButton("Delete")
        self.delete_btn.clicked.connect(self.delete_selected)
        for b in (self.edit_btn, self.perturb_btn, self.decouple_btn, self.undo_btn, self.delete_btn):
            row.addWidget(b)
        layout.addWidget(buttons)
        self.info = QLabel("")
        self.info.setWordWrap(True)     # the fork's description wraps: the legend stays in view
        layout.addWidget(self.info)
        self.plot = pg.PlotWidget(viewBox=LazyMenuViewBox())   # its menu: zoom, axes, export
        self.plot.setMinimumHeight(120)
        self.plot.setLabel("bottom", "input position")
        self.plot.showGrid(x=True, y=True, alpha=0.2)
        self.legend = self.plot.addLegend(offset=(-8, 8), labelTextSize="8pt")
        self.curve_orig = self.plot.plot(pen=pg.mkPen(palette.h_colour, width=1.5), name="original")
        self.curve_fork = self.plot.plot(pen=pg.mkPen("#d62728", width=1.5, style=Qt.DashLine),
                                         name="fork")
        self.fill = pg.FillBetweenItem(self.curve_orig, self.curve_fork, brush=pg.mkBrush(214, 39, 40, 60))
        self.plot.addItem(self.fill)
        self.cursor_line = pg.InfiniteLine(angle=90, pen=pg.mkPen(palette.cursor))
        self.plot.addItem(self.cursor_line)
        layout.addWidget(self.plot, 1)
        # the legend's entries and the title last set (None: cleared); re-set only when they
        # change, not at every step (each re-set lays the plot out again)
        self._labels: tuple[str, ...] | None = ("original", "fork")
        self.apply_palette(palette)
        dm.forksChanged.connect(self.refresh)
        dm.overlayChanged.connect(lambda _: self.refresh())
        dm.session_model.positionChanged.connect(lambda _: self.update_plot())
        dm.session_model.selectionChanged.connect(lambda *_: self.update_plot())

    # --- list --------------------------------------------------------------------------------
    def apply_palette(self, palette: Palette) -> None:
        """Restyle for a theme switch: the plot's background, axes, legend and pens."""
        self.pal = palette
        self.plot.setBackground(palette.background)
        item = self.plot.getPlotItem()
        style_axes(item, palette)
        set_axis_label(item, "bottom", "input position", palette)
        self.curve_orig.setPen(pg.mkPen(palette.h_colour, width=1.5))
        self.cursor_line.setPen(pg.mkPen(palette.cursor))
        self.legend.setLabelTextColor(palette.foreground)
        for _, label in self.legend.items:    # its colour is read when the text is set
            label.setText(label.text)
        item.titleLabel.setAttr("color", palette.foreground)
        if self._labels is not None and len(self._labels) > 2:
            self.plot.setTitle(self._labels[2])

    def refresh(self) -> None:
        self._updating = True
        self.tree.clear()
        items: dict[str, QTreeWidgetItem] = {}
        if self.dm.ready:
            forks = self.dm.debugger.forks
            for name, fork in forks.forks.items():
                item = QTreeWidgetItem([name, fork.edit.describe(), f"{fork.nbytes / 2**20:.1f} MB"])
                item.setData(0, Qt.UserRole, name)
                item.setFlags(item.flags() | Qt.ItemIsUserCheckable)
                item.setCheckState(0, Qt.Checked if name == self.dm.overlay else Qt.Unchecked)
                item.setToolTip(0, "tick to overlay this fork on the original")
                parent = forks.parent_name(fork)
                if parent in items:
                    items[parent].addChild(item)
                else:
                    self.tree.addTopLevelItem(item)
                items[name] = item
            self.tree.expandAll()
            if self.dm.overlay in items:
                self.tree.setCurrentItem(items[self.dm.overlay])
        self._updating = False
        self.update_plot()

    def _item_changed(self, item: QTreeWidgetItem, column: int) -> None:
        if self._updating or column != 0:
            return
        name = item.data(0, Qt.UserRole)
        if item.checkState(0) == Qt.Checked:
            self.dm.set_overlay(name)
        elif self.dm.overlay == name:
            self.dm.set_overlay("")

    def selected(self) -> str | None:
        item = self.tree.currentItem()
        return item.data(0, Qt.UserRole) if item is not None else None

    # --- actions -----------------------------------------------------------------------------
    def _guard(self, fn):
        try:
            return fn()
        except ScopeError as exc:
            self.report_error("Fork", str(exc))
            return None

    def perturb(self, unit: int, delta: float):
        fork = self._guard(lambda: self.dm.debugger.perturb(unit, delta, parent=self.dm.overlay or None))
        if fork is not None:
            self.dm.set_overlay(fork.name)
        return fork

    def perturb_dialog(self) -> None:
        if not self.dm.ready:
            return
        unit = max(self.dm.session_model.selected_unit, 0)
        unit, ok = QInputDialog.getInt(self, "Perturb", "unit k:", unit, 0, self.dm.session_model.units - 1)
        if not ok:
            return
        delta, ok = QInputDialog.getDouble(self, "Perturb", f"add to h[{unit}] at this step:", 0.5,
                                           -1e6, 1e6, 4)
        if ok:
            self.perturb(unit, delta)

    def decouple(self):
        if not self.dm.ready:
            return None
        fork = self._guard(lambda: self.dm.debugger.decouple())
        if fork is not None:
            self.dm.set_overlay(fork.name)
        return fork

    def delete_selected(self) -> None:
        name = self.selected()
        if name:
            self.dm.debugger.delete_fork(name)

    def undo_selected(self) -> None:
        name = self.selected()
        if name:
            parent = self.dm.debugger.undo(name)
            self.dm.set_overlay(parent or "")

    # --- overlay plot ------------------------------------------------------------------------
    def update_plot(self) -> None:
        name = self.dm.overlay or self.selected()
        session = self.dm.session_model.session
        if not self.dm.ready or not name or name not in self.dm.debugger.forks.forks:
            if self._labels is not None:        # nothing of a fork that is gone
                self.curve_orig.setData([], [])
                self.curve_fork.setData([], [])
                self.legend.clear()
                self.plot.setTitle(None)
                self._labels = None
            self._drawn = None
            self.info.setText("no fork: Edit state… (Ctrl+E) at a step to make one")
            return
        fork = self.dm.debugger.forks.get(name)
        sample = self.dm.session_model.sample
        unit = self.plotted_unit(fork)
        signal = self.plotted_signal(fork)
        # follow the cursor: compute the fork up to it (incremental), show what is known
        fork.ensure(max(session.t, fork.start + 1))
        mine = fork.series(signal, sample, unit)
        orig = session.signal(signal, 0, session.steps)[sample, :, unit]
        x = np.arange(mine.shape[0], dtype=float)
        self.curve_orig.setData(x, orig)
        self.curve_fork.setData(x, np.where(np.isnan(mine), orig, mine))
        self._drawn = (self.dm.session_model.run, session.units, session.steps, session.cell_kind.name)
        labels = (f"{signal}[{unit}] original", f"{signal}[{unit}] {name}",
                  f"{signal}[{unit}]: original vs {name}")
        if labels != self._labels:
            self.legend.clear()
            self.legend.addItem(self.curve_orig, labels[0])
            self.legend.addItem(self.curve_fork, labels[1])
            self.plot.setTitle(labels[2])
            self._labels = labels
        pos = session.cursor
        before = session.steps - 0.5 if session.backward else -0.5      # nothing read yet
        self.cursor_line.setValue(before if pos is None else pos)
        if pos is not None:
            self.info.setText(f"{fork.describe()}   ·   {self.difference_text(fork, pos)}")
        else:
            self.info.setText(fork.describe())

    def shown(self) -> Shown | None:
        """The run the fork's curve was computed on, and the cursor (gui/shown.py); None with
        no fork plotted."""
        drawn = getattr(self, "_drawn", None)
        sm = self.dm.session_model
        if drawn is None or not sm.ready or self.curve_fork.xData is None \
                or len(self.curve_fork.xData) == 0:
            return None
        run, units, steps, kind = drawn
        x = self.cursor_line.value()
        return Shown(run, units, steps, cursor_at(x, steps, sm.session.backward), kind)

    def plotted_unit(self, fork) -> int:
        """The edited unit (an edit of one unit, a perturbation); otherwise the selected one."""
        edit = fork.edit
        units = self.dm.session_model.units
        if edit.kind in ("h", "c", "perturb") and edit.unit is not None and 0 <= edit.unit < units:
            return int(edit.unit)
        return max(self.dm.session_model.selected_unit, 0)

    @staticmethod
    def plotted_signal(fork) -> str:
        """A c edit is followed in c (h changes one step later); every other edit in h."""
        return "c" if fork.edit.kind == "c" else "h"

    def difference_text(self, fork, pos: int) -> str:
        """‖h_fork − h‖ at the cursor, saying plainly when the edit has had no effect yet."""
        session = self.dm.session_model.session
        sample = self.dm.session_model.sample
        edit = fork.edit
        p = fork.position(pos)
        if fork.computed <= p:
            return f"‖h_fork − h‖ at step {pos}: not computed yet"
        diff = fork.column("h", p)[sample].astype(np.float64) - session.signal("h", pos, pos + 1)[sample, 0]
        norm = float(np.linalg.norm(diff))
        text = f"‖h_fork − h‖ at step {pos}: {norm:.4g}"
        if edit.kind == "decouple" or norm > 0:
            return text
        if p < fork.start:
            return f"{text} (before the edit at step {edit.position}: nothing changed yet)"
        if p == fork.start and edit.kind == "c":
            return (f"{text} (c was edited after step {edit.position}: h changes from the next "
                    f"step on)")
        if p == fork.start:
            return f"{text} (the edit sets the value it already had)"
        return f"{text} (the edit has no effect on h here)"
