"""The units panel's option bar and what it sets: the signals shown (the run's cell kind's),
ghosts, the C/h scale, the lanes' y scale, which units get a lane and their order, the view
mode and the heat strips' signal. Part of ``UnitsPanel`` (gui/panels/units_panel.py), which
builds the plot these options redraw."""

from __future__ import annotations

from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPushButton,
    QWidget,
)

from gui.panels.lanes import parse_filter
from gui.signals import lanes_shown_first, strip_signals
from gui.widgets.combo import refill
from gui.widgets.flow_layout import FlowLayout


def _group(*widgets: QWidget) -> QWidget:
    """Widgets that stay on one row together when the option bar wraps."""
    box = QWidget()
    row = QHBoxLayout(box)
    row.setContentsMargins(0, 0, 0, 0)
    row.setSpacing(4)
    for widget in widgets:
        row.addWidget(widget)
    return box


class UnitsOptions:
    """Part of ``UnitsPanel``: the tool bar above the lanes and its settings."""

    def _build_toolbar(self) -> FlowLayout:
        """Signals shown, display options, which units, and the view mode."""
        bar = FlowLayout(spacing=10)        # wraps onto a second row in a narrow window
        self.bar = bar
        self.signal_boxes: dict[str, QCheckBox] = {}
        self.signal_group = _group()        # one box per signal of the run's cell kind
        bar.addWidget(self.signal_group)
        self.ghost_box = QCheckBox("ghost future")
        self.ghost_box.setChecked(True)
        self.ghost_box.setToolTip("Show the rest of the run faintly (computed once in advance).")
        self.ghost_box.toggled.connect(self.set_ghost)
        self.shared_box = QCheckBox("shared C/h scale")
        self.shared_box.setToolTip("One scale for C and h across all lanes, instead of one per lane.")
        self.shared_box.toggled.connect(self.set_shared_scale)
        self.scale_box = QCheckBox("y scale")
        self.scale_box.setToolTip("Guides and a right-hand axis reading each lane: gates 0..1, "
                                  "C and h from −peak to +peak (0 in the middle).")
        self.scale_box.toggled.connect(self.set_y_scale)
        bar.addWidget(_group(self.ghost_box, self.shared_box, self.scale_box))
        self.filter_edit = QLineEdit()
        self.filter_edit.setPlaceholderText("all  ·  0:32  ·  3,5,9  ·  top 10")
        self.filter_edit.setToolTip("Which units get a lane: all, a range A:B, a list, or the "
                                    "top K most active (variance of h).")
        self.filter_edit.setFixedWidth(self.filter_edit.fontMetrics().horizontalAdvance(
            self.filter_edit.placeholderText()) + 16)
        self.filter_edit.editingFinished.connect(lambda: self.set_filter(self.filter_edit.text()))
        self.sort_combo = QComboBox()
        self.sort_combo.addItems(["index", "variance", "saturation"])
        self.sort_combo.setToolTip("Order lanes by unit index, by variance of h, or by how often "
                                   "the gates saturate.")
        self.sort_combo.currentTextChanged.connect(self.set_sort)
        bar.addWidget(_group(QLabel("units:"), self.filter_edit, QLabel("sort:"), self.sort_combo))
        self.mode_combo = QComboBox()
        self.mode_combo.addItems(["auto", "lanes", "heat map"])
        self.mode_combo.setToolTip("auto: curves while each lane is tall enough and each step wide "
                                   "enough to read; heat-map strips (one row per unit) when more "
                                   "lanes or steps are in view than fit")
        self.mode_combo.currentTextChanged.connect(lambda _: self._update_mode())
        self.heat_combo = QComboBox()      # the run's kind's signals (_follow_kind)
        self.heat_combo.setToolTip("The signal the heat-map strips show")
        self.heat_combo.currentIndexChanged.connect(lambda _: self.set_heat_signal(
            self.heat_combo.currentData()))
        self.reset_button = QPushButton("Reset view")
        self.reset_button.setToolTip("Show every lane and the whole run (or double-click the lanes). "
                                     "Wheel zooms time, Ctrl+wheel units, Shift+wheel scrolls units.")
        self.reset_button.clicked.connect(self.reset_view)
        bar.addWidget(_group(QLabel("view:"), self.mode_combo, QLabel("heat:"), self.heat_combo,
                             self.reset_button))
        return bar

    def _follow_kind(self) -> None:
        """The signal boxes and the heat strips' choices of the run's cell kind, made again
        when a run of another kind opens: its signals shown as the kind starts them, unless
        the user chose otherwise for a signal of that name."""
        kind = self.session_model.cell_kind
        if kind is None or kind is self.kind:
            return
        self.kind = kind
        row = self.signal_group.layout()
        for box in self.signal_boxes.values():
            row.removeWidget(box)
            box.deleteLater()
        self.signal_boxes = {}
        first = lanes_shown_first(kind)
        self.visible_signals = {n for n in kind.display_order if self._chosen.get(n, n in first)}
        for name in kind.display_order:
            spec = kind.signal(name)
            box = QCheckBox(spec.symbol)
            box.setChecked(name in self.visible_signals)
            box.setToolTip(spec.tip)
            box.setStyleSheet(f"QCheckBox {{ color: {self.palette.signal_text(name)}; font-weight: bold; }}")
            box.toggled.connect(lambda on, n=name: self.set_signal_visible(n, on))
            self.signal_boxes[name] = box
            row.addWidget(box)
        refill(self.heat_combo, [(kind.signal(name).symbol, name) for name in strip_signals(kind)])
        self.heat.signal = self.heat_combo.currentData()
        states = "/".join(kind.signal(name).symbol for name in kind.states)   # C/h; a GRU's h
        self.shared_box.setText(f"shared {states} scale")
        self.shared_box.setToolTip(f"One scale for {' and '.join(kind.signal(n).symbol for n in kind.states)}"
                                   " across all lanes, instead of one per lane.")

    def set_signal_visible(self, name: str, on: bool) -> None:
        """Draw or hide one signal's curves; the choice is kept by name for runs of other kinds."""
        self._chosen[name] = on
        if on:
            self.visible_signals.add(name)
        else:
            self.visible_signals.discard(name)
        for item in self._live.get(name, []):
            item.setVisible(on and self.mode != "heat")
        if self.session_model.ready:
            self.on_position(self.session_model.t, redraw_all=True)   # ghosts only where not yet read
        self._update_scale()
        box = self.signal_boxes.get(name)
        if box is not None and box.isChecked() != on:
            box.setChecked(on)

    def set_y_scale(self, on: bool) -> None:
        """Show or hide the lanes' y scale (``gui.panels.lane_scale``)."""
        self.lane_scale.set_on(on)
        self.strip.plot.showAxis("right", on)
        if on:
            right = self.strip.plot.getAxis("right")
            right.setStyle(showValues=False)
            right.setPen(self.palette.background)
        self._update_scale()
        self._match_axis_width()
        if self.scale_box.isChecked() != on:
            self.scale_box.setChecked(on)

    def _update_scale(self) -> None:
        self.lane_scale.update(self.order, self._scaler, self.visible_signals,
                               self.session_model.steps if self.session_model.ready else 0)

    def set_ghost(self, on: bool) -> None:
        self.ghost = on
        for name, items in self._ghosts.items():
            for item in items:
                item.setVisible(on and name in self.visible_signals and self.mode != "heat")
        if self.session_model.ready and self._scaler is not None:
            self.heat.set_run(self.session_model.full(), self.session_model.sample, self.order,
                              on, self.palette.ghost_alpha)
        if self.session_model.ready:
            self.on_position(self.session_model.t, redraw_all=True)
        if self.ghost_box.isChecked() != on:
            self.ghost_box.setChecked(on)

    def set_shared_scale(self, on: bool) -> None:
        self.shared_scale = on
        self.rebuild()

    def set_sort(self, how: str) -> None:
        self.sort_mode = how
        self.rebuild()

    def set_filter(self, text: str) -> None:
        try:
            if self.session_model.ready:
                parse_filter(text, self.session_model.units)
        except ValueError as exc:
            self.info.setText(f"<span style='color:{self.palette.error}'>{exc}</span>")
            return
        self.filter_text = text
        self.rebuild()

    def forget_model(self) -> None:
        """Another model opened: the hover read-out and the fork overlay belonged to the last one."""
        self.info.setText(" ")
        self._overlay_arrays = None
        self.overlay_label = ""

    def _applicable_filter(self, units: int) -> str:
        """The filter text if it still selects a unit of this run; otherwise clear it (noted)."""
        if not self.filter_text:
            return ""
        try:
            parse_filter(self.filter_text, units)
        except ValueError:
            old = self.filter_text
            self.filter_text = ""
            self.filter_edit.setText("")
            self.session_model.notice.emit(
                f"units filter '{old}' cleared: this layer has units 0..{units - 1}")
        return self.filter_text
