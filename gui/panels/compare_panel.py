"""Compare two inputs: the session's input (a) against a derived or loaded one (b).

The engine runs both (``engine.debugging.debugger.compare_inputs``); this dock shows the divergence
curve ||h_a - h_b|| over time and one unit's h in both runs, overlaid, on the shared cursor.
"""

from __future__ import annotations

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import Qt
from PySide6.QtWidgets import (
    QBoxLayout,
    QComboBox,
    QDockWidget,
    QDoubleSpinBox,
    QFileDialog,
    QGridLayout,
    QLabel,
    QMainWindow,
    QPushButton,
    QSizePolicy,
    QSpinBox,
    QVBoxLayout,
    QWidget,
)

from engine.debugging.debugger import Comparison, add_noise, change_token, compare_inputs
from engine.errors import ScopeError
from engine.system.inputs import read_input
from gui.session_model import SessionModel
from gui.shown import Shown, cursor_at
from gui.theme import Palette
from gui.widgets.plot_menus import NO_MENU
from gui.widgets.plot_style import set_axis_label, style_axes

PLOT_MIN_PX = (220, 120)   # each plot: axis titles and ticks never overlap
AXIS_PX = 46
CONTROLS_PX = 340          # the controls' column when the plots sit beside them
NEIGHBOUR_MIN_PX = 110     # a dock stacked with this one keeps this much when it makes room


class ComparePanel(QWidget):
    """Derive input b (noise, one token changed, a file) and show how far the runs drift apart."""

    def __init__(self, session_model: SessionModel, palette: Palette, report_error, parent=None) -> None:
        super().__init__(parent)
        self.session_model = session_model
        self.palette = palette
        self.report_error = report_error
        self.comparison: Comparison | None = None
        self.controls = self._build_controls()
        self._build_plots(palette)
        self.plots = QBoxLayout(QBoxLayout.LeftToRight)
        self.plots.addWidget(self.div_widget, 1)
        self.plots.addWidget(self.unit_widget, 1)
        self.outer = QBoxLayout(QBoxLayout.LeftToRight, self)
        self.outer.setContentsMargins(4, 4, 4, 4)
        self.outer.addWidget(self.controls)
        self.outer.addLayout(self.plots, 1)
        self._arrange()
        session_model.runChanged.connect(self._on_run)
        session_model.positionChanged.connect(self._on_position)
        session_model.selectionChanged.connect(lambda unit, pos: self._draw())

    def _build_controls(self) -> QWidget:
        """One row per way of deriving b (its fields, then its button), the file button and
        the summary line."""
        grid = QGridLayout()
        grid.setHorizontalSpacing(6)
        self.sigma = QDoubleSpinBox()
        self.sigma.setRange(0.0, 100.0)
        self.sigma.setDecimals(3)
        self.sigma.setValue(0.1)
        self.sigma.setToolTip("Standard deviation of the Gaussian noise added to every input value")
        self.seed = QSpinBox()
        self.seed.setRange(0, 1_000_000)
        self.seed.setToolTip("Seed of the noise (the same seed gives the same copy)")
        self.position = QSpinBox()
        self.position.setToolTip("Input position whose token is replaced (0-based)")
        self.token = QComboBox()
        self.token.setEditable(True)
        self.token.setInsertPolicy(QComboBox.NoInsert)
        self.token.setToolTip("The replacement: type a character of the model's vocabulary, or a "
                              "token id as #12")
        self.token.setMinimumContentsLength(8)
        self.now = QLabel()
        self.now.setToolTip("The token read at that position now")
        self.noise_button = QPushButton("Compare")
        self.noise_button.setToolTip("Compare with a noisy copy of the input")
        self.noise_button.clicked.connect(self.compare_noise)
        self.token_button = QPushButton("Compare")
        self.token_button.setToolTip("Compare with the same input, one token changed")
        self.token_button.clicked.connect(self.compare_token)
        self.noise_row = [QLabel("noise σ"), self.sigma, QLabel("seed"), self.seed, self.noise_button]
        self.token_row = [QLabel("position"), self.position, QLabel("to"), self.token,
                          self.token_button]
        for row, widgets in enumerate((self.noise_row, self.token_row)):
            for col, widget in enumerate(widgets):
                grid.addWidget(widget, row, col)
        grid.addWidget(self.now, 2, 0, 1, 4)
        file_button = QPushButton("Compare with file…")
        file_button.clicked.connect(self._compare_file_dialog)
        grid.addWidget(file_button, 3, 0, 1, 5, Qt.AlignLeft)
        grid.setColumnStretch(3, 1)
        self.position.valueChanged.connect(lambda _: self._show_now())
        self.summary = QLabel("Derive or load a second input to compare the two runs.")
        self.summary.setWordWrap(True)
        controls = QWidget()
        side = QVBoxLayout(controls)
        side.setContentsMargins(0, 0, 0, 0)
        side.addLayout(grid)
        side.addWidget(self.summary)
        side.addStretch(1)
        return controls

    def _build_plots(self, palette: Palette) -> None:
        """The divergence ‖h_a − h_b‖ and one unit's h in both runs, on one time axis."""
        self.div_widget = pg.PlotWidget(background=palette.background, **NO_MENU)
        self.unit_widget = pg.PlotWidget(background=palette.background, **NO_MENU)
        self.div_plot = self.div_widget.getPlotItem()
        self.unit_plot = self.unit_widget.getPlotItem()
        self.unit_plot.setXLink(self.div_plot)
        for plot, widget in ((self.div_plot, self.div_widget), (self.unit_plot, self.unit_widget)):
            plot.getAxis("left").setWidth(AXIS_PX)
            plot.getAxis("left").enableAutoSIPrefix(False)   # h is unitless: no "(x0.001)"
            widget.setMinimumSize(PLOT_MIN_PX[0], PLOT_MIN_PX[1])
            # take the dock's height, never ask for more (a scroll area would grow to the hint)
            widget.setSizePolicy(QSizePolicy.Expanding, QSizePolicy.Ignored)
        self.unit_plot.addLegend(offset=(-5, 5), labelTextSize="8pt")
        self.div_curve = self.div_plot.plot(pen=pg.mkPen(palette.cursor, width=2))
        self.curve_a = self.unit_plot.plot(pen=pg.mkPen(palette.h_colour, width=1.5), name="run a")
        self.curve_b = self.unit_plot.plot(pen=pg.mkPen("#0072B2", width=1.5, style=Qt.DashLine), name="run b")
        self.cursors = [pg.InfiniteLine(angle=90, pen=pg.mkPen(palette.cursor)) for _ in range(2)]
        self.div_plot.addItem(self.cursors[0])
        self.unit_plot.addItem(self.cursors[1])
        self._unit_title = "h of a unit"
        self.apply_palette(palette)

    def apply_palette(self, palette: Palette) -> None:
        """Restyle for a theme switch: backgrounds, axes, titles, pens and legend."""
        self.palette = palette
        for widget, plot in ((self.div_widget, self.div_plot), (self.unit_widget, self.unit_plot)):
            widget.setBackground(palette.background)
            style_axes(plot, palette)
            set_axis_label(plot, "bottom", "time step t", palette)
        set_axis_label(self.div_plot, "left", "‖h_a − h_b‖", palette)
        self._set_unit_title(self._unit_title)
        self.div_curve.setPen(pg.mkPen(palette.cursor, width=2))
        self.curve_a.setPen(pg.mkPen(palette.h_colour, width=1.5))
        for line in self.cursors:
            line.setPen(pg.mkPen(palette.cursor))
        legend = self.unit_plot.legend       # pyqtgraph's default words are black on any theme
        legend.setLabelTextColor(palette.foreground)
        for _, label in legend.items:        # its colour is read when the text is set
            label.setText(label.text)

    def _set_unit_title(self, text: str) -> None:
        self._unit_title = text
        set_axis_label(self.unit_plot, "left", text, self.palette)

    def resizeEvent(self, event) -> None:  # noqa: N802 (Qt API)
        super().resizeEvent(event)
        self._arrange()

    def showEvent(self, event) -> None:  # noqa: N802 (Qt API)
        super().showEvent(event)
        self._arrange()

    def _arrange(self) -> None:
        """Wide and short (a bottom dock): controls, then the two plots side by side. Narrow (a
        side dock): controls above, plots stacked."""
        room = self.parentWidget() or self        # a scroll area's viewport: the dock's room
        width, height = room.width(), room.height()
        wide = width >= CONTROLS_PX + 2 * PLOT_MIN_PX[0] and width > 1.6 * height
        direction = QBoxLayout.LeftToRight if wide else QBoxLayout.TopToBottom
        if self.outer.direction() != direction:
            self.outer.setDirection(direction)
            self.plots.setDirection(direction)
        self.controls.setMaximumWidth(CONTROLS_PX if wide else 16777215)

    def _on_run(self) -> None:
        self.comparison = None
        session = self.session_model.session
        if session is None:
            return
        tokens = self.session_model.model.takes_tokens
        for widget in self.token_row:
            widget.setVisible(tokens)
        for widget in self.noise_row:
            widget.setVisible(not tokens)
        self.now.setVisible(tokens)
        self.position.setRange(0, max(session.steps - 1, 0))
        self.token.clear()
        if tokens:
            for token in range(self.session_model.model.vocab_size or 0):
                text = self.session_model.token_text(token)
                self.token.addItem(text if text.startswith("#") else f"{text}  #{token}", token)
        self._show_now()
        self.div_curve.setData([], [])
        self.curve_a.setData([], [])
        self.curve_b.setData([], [])
        self._drawn = None
        self._set_unit_title("h of the selected unit")                 # not the last run's unit
        for plot in (self.div_plot, self.unit_plot):                   # this run's time axis
            plot.setXRange(-0.5, max(session.steps - 0.5, 0.5), padding=0)
            plot.enableAutoRange(axis="y")
        self._on_position(session.t)
        self.summary.setText("Derive or load a second input to compare the two runs.")

    def shown(self) -> Shown | None:
        """The run the comparison was computed on, and the cursor (gui/shown.py); None with no
        comparison drawn."""
        drawn = getattr(self, "_drawn", None)
        if drawn is None or not self.session_model.ready or self.div_curve.xData is None \
                or len(self.div_curve.xData) == 0:
            return None
        run, units, steps, kind = drawn
        return Shown(run, units, steps, cursor_at(self.cursors[0].value(), steps,
                                                  self.session_model.session.backward), kind)

    def _on_position(self, t: int) -> None:
        cursor = self.session_model.session.cursor if self.session_model.session else None
        for line in self.cursors:
            line.setPos(-0.5 if cursor is None else cursor)

    # --- deriving b --------------------------------------------------------------------------
    def compare_with(self, other, label: str, around: int | None = None) -> Comparison | None:
        """Compare the run with one on ``other``. A checkpointed run is compared over the span
        the window shows (docs/architecture.md, "Long runs"), or over a span of the same width
        after (backward: before) input position ``around`` when the shown one misses it."""
        session = self.session_model.session
        if session is None:
            return None
        try:
            span = self.session_model.span()     # a run held in memory: all of it
            if around is not None and not span[0] <= around < span[1]:
                width = span[1] - span[0]
                lo = around - width // 8 if not session.backward else around + 1 - width + width // 8
                lo = max(0, min(lo, session.steps - width))
                span = (lo, lo + width)
            self.comparison = compare_inputs(session, other, span)
            self._drawn = (self.session_model.run, session.units, session.steps, session.cell_kind.name)
        except ScopeError as exc:
            self.report_error("Compare", str(exc))
            return None
        self.label = label
        self._draw()
        self._make_room()
        return self.comparison

    def _make_room(self) -> None:
        """Give the dock the height its plots need to be read (a result was asked for)."""
        dock = self.parentWidget()
        while dock is not None and not isinstance(dock, QDockWidget):
            dock = dock.parentWidget()
        window = dock.parentWidget() if dock is not None else None
        if not isinstance(window, QMainWindow) or dock.isFloating():
            return
        want = min(self.sizeHint().height() + 40, int(window.height() * 0.6))
        if dock.height() >= want:
            return
        area = window.dockWidgetArea(dock)
        column = [d for d in window.findChildren(QDockWidget)      # the docks stacked with it
                  if d is not dock and window.dockWidgetArea(d) == area and d.isVisible()
                  and not d.isFloating() and not d.visibleRegion().isEmpty()
                  and d.x() == dock.x()]
        total = dock.height() + sum(d.height() for d in column)
        want = min(want, total - NEIGHBOUR_MIN_PX * len(column))
        if want <= dock.height():
            return
        rest = total - want
        window.resizeDocks([dock, *column], [want, *(rest // max(len(column), 1) for _ in column)],
                           Qt.Vertical)

    def compare_noise(self) -> Comparison | None:
        x = self.session_model.session.x
        return self.compare_with(add_noise(x, self.sigma.value(), self.seed.value()),
                                 f"noise σ = {self.sigma.value():g}, seed {self.seed.value()}")

    def token_id(self) -> int:
        """The replacement token from the field: a character of the vocabulary (as listed,
        '␣' for a space), '#12' or '12' for an id (ScopeError otherwise)."""
        text = self.token.currentText().strip()
        index = self.token.findText(text)
        if index >= 0:
            return int(self.token.itemData(index))
        vocab = self.session_model.vocabulary() or []
        shown = [self.session_model.token_text(k) for k in range(len(vocab))]
        typed = self.token.currentText()
        if typed in vocab:                      # the raw character, a space included
            return vocab.index(typed)
        for candidate in (typed, text):
            if candidate in shown:
                return shown.index(candidate)
        digits = text.lstrip("#")
        size = self.session_model.model.vocab_size or 0
        if digits.isdigit() and int(digits) < size:
            return int(digits)
        raise ScopeError(f"'{typed}' is not a token of this model: type a character of its "
                         f"vocabulary or an id #0..#{size - 1}")

    def _show_now(self) -> None:
        if self.session_model.session is None or not self.session_model.model.takes_tokens:
            self.now.setText("")
            return
        pos = self.position.value()
        self.now.setText(f"reads {self.session_model.input_label(pos)} at position {pos} now")

    def compare_token(self) -> Comparison | None:
        try:
            token = self.token_id()
        except ScopeError as exc:
            self.report_error("Compare", str(exc))
            return None
        x = self.session_model.session.x
        pos = self.position.value()
        return self.compare_with(change_token(x, pos, token),
                                 f"token at {pos} → {self.session_model.token_text(token)}", around=pos)

    def _compare_file_dialog(self) -> None:
        path, _ = QFileDialog.getOpenFileName(self, "Second input", "", "Inputs (*.npy *.npz *.csv *.tsv)")
        if path:
            try:
                other = read_input(path)
            except ScopeError as exc:
                self.report_error("Compare", str(exc))
                return
            self.compare_with(other, path)

    # --- drawing -----------------------------------------------------------------------------
    def _draw(self) -> None:
        comp = self.comparison
        if comp is None:
            return
        sample = min(self.session_model.sample, comp.divergence.shape[0] - 1)
        unit = max(self.session_model.selected_unit, 0)
        t = comp.start + np.arange(comp.divergence.shape[1])
        self.div_curve.setData(t, comp.divergence[sample])
        self.curve_a.setData(t, comp.a.h[sample, :, unit])
        self.curve_b.setData(t, comp.b.h[sample, :, unit])
        first = comp.first_divergence(sample=sample)
        where = "never" if first is None else f"first at t = {first}"
        if self.session_model.checkpointed:
            where += (f" over positions {t[0]}–{t[-1]} (a checkpointed run: the span around "
                      f"the cursor)") if len(t) else ""
        self._set_unit_title(f"h of unit {unit}")
        self._on_position(self.session_model.t)
        self.summary.setText(f"b = {self.label}. The runs diverge {where}; largest ‖h_a − h_b‖ = "
                             f"{float(np.nanmax(comp.divergence[sample])):.4g}. Select a lane to "
                             f"compare another unit.")
