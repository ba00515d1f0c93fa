"""Compare two inputs: the session's input (a) against a derived or loaded one (b).

The engine runs both (``engine.debugger.compare_inputs``); this dock shows the divergence
curve ||h_a - h_b|| over time and one unit's h in both runs, overlaid, on the shared cursor.
"""

from __future__ import annotations

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import Qt
from PySide6.QtWidgets import (
    QDoubleSpinBox,
    QFileDialog,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QPushButton,
    QSpinBox,
    QVBoxLayout,
    QWidget,
)

from engine.debugger import Comparison, add_noise, change_token, compare_inputs
from engine.errors import ScopeError
from engine.inputs import read_input
from gui.session_model import SessionModel
from gui.theme import Palette


class ComparePanel(QWidget):
    """Derive input b (noise, one token changed, a file) and show how far the runs drift apart."""

    def __init__(self, session_model: SessionModel, palette: Palette, report_error, parent=None) -> None:
        super().__init__(parent)
        self.session_model = session_model
        self.palette = palette
        self.report_error = report_error
        self.comparison: Comparison | None = None
        layout = QVBoxLayout(self)
        form = QFormLayout()
        self.sigma = QDoubleSpinBox()
        self.sigma.setRange(0.0, 100.0)
        self.sigma.setDecimals(3)
        self.sigma.setValue(0.1)
        self.sigma.setToolTip("Standard deviation of the Gaussian noise added to every input value")
        self.seed = QSpinBox()
        self.seed.setRange(0, 1_000_000)
        self.position = QSpinBox()
        self.position.setToolTip("Input position whose token is replaced (0-based)")
        self.token = QSpinBox()
        self.token.setToolTip("The replacement token id")
        form.addRow("noise σ", self.sigma)
        form.addRow("seed", self.seed)
        form.addRow("change position", self.position)
        form.addRow("to token", self.token)
        layout.addLayout(form)
        row = QHBoxLayout()
        self.noise_button = QPushButton("Compare with noisy copy")
        self.noise_button.clicked.connect(self.compare_noise)
        self.token_button = QPushButton("Compare with one token changed")
        self.token_button.clicked.connect(self.compare_token)
        file_button = QPushButton("Compare with file…")
        file_button.clicked.connect(self._compare_file_dialog)
        for button in (self.noise_button, self.token_button, file_button):
            row.addWidget(button)
        layout.addLayout(row)
        self.summary = QLabel("Derive or load a second input to compare the two runs.")
        self.summary.setWordWrap(True)
        layout.addWidget(self.summary)
        self.glw = pg.GraphicsLayoutWidget()
        self.glw.setBackground(palette.background)
        self.div_plot = self.glw.addPlot(row=0, col=0)
        self.div_plot.setLabel("left", "‖h_a − h_b‖")
        self.unit_plot = self.glw.addPlot(row=1, col=0)
        self.unit_plot.setLabel("left", "h of one unit")
        self.unit_plot.setLabel("bottom", "time step t")
        self.unit_plot.setXLink(self.div_plot)
        self.unit_plot.addLegend(offset=(5, 5))
        self.div_curve = self.div_plot.plot(pen=pg.mkPen(palette.cursor, width=2))
        self.curve_a = self.unit_plot.plot(pen=pg.mkPen(palette.h_colour, width=1.5), name="run a")
        self.curve_b = self.unit_plot.plot(pen=pg.mkPen("#0072B2", width=1.5, style=Qt.DashLine), name="run b")
        self.cursors = [pg.InfiniteLine(angle=90, pen=pg.mkPen(palette.cursor)) for _ in range(2)]
        self.div_plot.addItem(self.cursors[0])
        self.unit_plot.addItem(self.cursors[1])
        layout.addWidget(self.glw, 1)
        session_model.runChanged.connect(self._on_run)
        session_model.positionChanged.connect(self._on_position)
        session_model.selectionChanged.connect(lambda unit, pos: self._draw())

    def _on_run(self) -> None:
        self.comparison = None
        session = self.session_model.session
        if session is None:
            return
        tokens = self.session_model.model.takes_tokens
        self.token_button.setEnabled(tokens)
        self.noise_button.setEnabled(not tokens)
        self.position.setRange(0, max(session.steps - 1, 0))
        self.token.setRange(0, max((self.session_model.model.vocab_size or 1) - 1, 0))
        self.div_curve.setData([], [])
        self.curve_a.setData([], [])
        self.curve_b.setData([], [])
        self.summary.setText("Derive or load a second input to compare the two runs.")

    def _on_position(self, t: int) -> None:
        cursor = self.session_model.session.cursor if self.session_model.session else None
        for line in self.cursors:
            line.setPos(-0.5 if cursor is None else cursor)

    # --- deriving b --------------------------------------------------------------------------
    def compare_with(self, other, label: str) -> Comparison | None:
        session = self.session_model.session
        if session is None:
            return None
        try:
            self.comparison = compare_inputs(session, other)
        except ScopeError as exc:
            self.report_error("Compare", str(exc))
            return None
        self.label = label
        self._draw()
        return self.comparison

    def compare_noise(self) -> Comparison | None:
        x = self.session_model.session.x
        return self.compare_with(add_noise(x, self.sigma.value(), self.seed.value()),
                                 f"noise σ = {self.sigma.value():g}, seed {self.seed.value()}")

    def compare_token(self) -> Comparison | None:
        x = self.session_model.session.x
        return self.compare_with(change_token(x, self.position.value(), self.token.value()),
                                 f"token at {self.position.value()} -> {self.token.value()}")

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
        t = np.arange(comp.divergence.shape[1])
        self.div_curve.setData(t, comp.divergence[sample])
        self.curve_a.setData(t, comp.a.h[sample, :, unit])
        self.curve_b.setData(t, comp.b.h[sample, :, unit])
        first = comp.first_divergence(sample=sample)
        where = "never" if first is None else f"first at t = {first}"
        self.unit_plot.setLabel("left", f"h of unit {unit}")
        self.summary.setText(f"b = {self.label}. The runs diverge {where}; largest ‖h_a − h_b‖ = "
                             f"{float(np.nanmax(comp.divergence[sample])):.4g}. Select a lane to "
                             f"compare another unit.")
