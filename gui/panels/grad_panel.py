"""The Gradients dock: why a unit remembers or forgets, from exact gradients of the run.

Top: the target (the selected unit's h at the cursor by default) and a badge for vanishing or
exploding gradients. Then the saliency |d target / d x_t| per input position (a fork shown
over it dashed: how an edit changes what the target depends on), and the constant-error
carousel of the selected unit: the running product of its forget gate back from the target's
step next to |d target / d c_t| for that unit — where the two fall together, the forget gate
is what the gradient follows; where the gradient stays up while the product falls, the memory
is carried through the other units (the recurrent kernel). Numbers come from the engine
(``gui.grad_model``); this widget only draws them.
"""

from __future__ import annotations

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import Qt
from PySide6.QtWidgets import (
    QComboBox,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QSizePolicy,
    QVBoxLayout,
    QWidget,
)

from gui.grad_model import MODES, GradModel
from gui.panels.input_strip import InputStrip
from gui.session_model import SessionModel
from gui.shown import Shown, cursor_at
from gui.signals import carried
from gui.theme import Palette
from gui.widgets.on_screen import FrontAware
from gui.widgets.plot_menus import NO_MENU
from gui.widgets.plot_style import (
    DecadeAxis,
    keep_titles_whole,
    set_axis_label,
    set_time_axis_label,
    style_axes,
)

BADGE_COLOURS = {"ok": "#2a7f3f", "vanishing": "#b35900", "exploding": "#c0392b"}
TINY = 1e-30                      # log axes: an exact zero is drawn at the floor
CARRY_LABEL = "|∂target/∂C_t|"       # the legend names the derivative as the axes do (an LSTM's)
SALIENCY_MIN_HEIGHT = 60          # px: the saliency plot, a few tick values
CAROUSEL_MIN_HEIGHT = 80          # px: the carousel plot, a few decades and its legend
GRID_MARGIN_PX = 2                # px above the first plot and under the time axis, on screen
BELOW_VIEW_PX = 8                 # px under either plot's view box (its bottom axis has no values)


def carry_words(kind) -> tuple[str, str, str | None]:
    """(the carried state's symbol, the legend's derivative, the legend's product or None) of
    a cell kind: an LSTM's C and f, a GRU's h and u, a simple RNN's h and no gate."""
    state = kind.signal(carried(kind)).symbol
    gate = kind.carry
    product = None if gate is None else f"product of {kind.signal(gate).symbol} back to the target"
    return state, f"|∂target/∂{state}_t|", product


class GradPanel(FrontAware, QWidget):
    """Behind another tab of a shown window it draws nothing (a long run's curves hold T
    points each) and catches up when it comes to the front (gui/widgets/on_screen.py)."""

    def __init__(self, model: SessionModel, grads: GradModel, palette: Palette,
                 parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.session_model, self.grads, self.palette = model, grads, palette
        layout = QVBoxLayout(self)
        layout.setContentsMargins(2, 2, 2, 2)
        self._spacing = layout.spacing()          # a figure's; the screen's is thinner
        bar = QHBoxLayout()
        bar.addWidget(QLabel("target:"))
        self.mode_combo = QComboBox()
        for key, text in MODES.items():
            self.mode_combo.addItem(text, key)
        self.mode_combo.setToolTip("What the gradients are taken of. h[b, t, j] / c[b, t, j] with t "
                                   "an input position, output[...], sum() sumsq() mean()")
        self.mode_combo.currentIndexChanged.connect(self._mode_changed)
        bar.addWidget(self.mode_combo)
        self.custom = QLineEdit()
        self.custom.setPlaceholderText("e.g. sumsq(output[:, last]) or c[0, 20, 3]")
        self.custom.setEnabled(False)
        self.custom.returnPressed.connect(self._custom_entered)
        bar.addWidget(self.custom, 1)
        self.badge = QLabel(" ")
        self.badge.setTextFormat(Qt.RichText)
        bar.addWidget(self.badge)
        layout.addLayout(bar)
        self.glw = pg.GraphicsLayoutWidget()
        self.glw.setBackground(palette.background)
        # its least height is what it needs (_keep_rows_whole), never the view's default
        # preferred 480 px, which a wrapped info line made the panel's height in any dock
        self.glw.setSizePolicy(QSizePolicy.Expanding, QSizePolicy.Ignored)
        self._grid_margins = self.glw.ci.layout.getContentsMargins()     # a figure's
        layout.addWidget(self.glw, 1)
        self.sal_plot = self.glw.addPlot(row=0, col=0, **NO_MENU)
        self.cec_plot = self.glw.addPlot(row=1, col=0, axisItems={"left": DecadeAxis("left")}, **NO_MENU)
        self.cec_plot.setXLink(self.sal_plot)
        # under both plots, what each step reads (tokens or values), holding the time axis
        strip_plot = self.glw.addPlot(row=2, col=0, **NO_MENU)
        strip_plot.setXLink(self.sal_plot)
        self.strip = InputStrip(strip_plot, model, palette)
        for plot in (self.sal_plot, self.cec_plot, strip_plot):
            plot.hideButtons()
            plot.getAxis("left").setWidth(84)
            plot.getAxis("left").enableAutoSIPrefix(False)
        for plot in (self.sal_plot, self.cec_plot):
            plot.getAxis("bottom").setStyle(showValues=False)
        self.cec_plot.setLogMode(y=True)
        self.cec_plot.addLegend(offset=(-4, 4))
        self.sal_curve = self.sal_plot.plot([], [], pen=pg.mkPen("#0072B2", width=1.6),
                                            name="saliency", connect="finite")
        self.fork_curve = self.sal_plot.plot([], [], pen=pg.mkPen("#D55E00", width=1.4,
                                                                  style=Qt.DashLine), connect="finite")
        self.grad_curve = self.cec_plot.plot([], [], pen=pg.mkPen("#0072B2", width=1.6),
                                             name=CARRY_LABEL, connect="finite")
        self.prod_curve = self.cec_plot.plot([], [], pen=pg.mkPen("#009E73", width=1.6,
                                                                  style=Qt.DashLine),
                                             name="product of f back to the target", connect="finite")
        self.cursors = []
        for plot in (self.sal_plot, self.cec_plot):
            line = pg.InfiniteLine(angle=90, movable=False, pen=pg.mkPen(palette.cursor, width=2))
            line.setZValue(50)
            plot.addItem(line)
            self.cursors.append(line)
        self.info = QLabel(" ")
        self.info.setWordWrap(True)
        layout.addWidget(self.info)
        self.apply_palette(palette, redraw=False)
        grads.changed.connect(self.redraw)
        model.positionChanged.connect(self._move_cursor)
        model.runChanged.connect(self._offer_targets)

    def _name_curves(self) -> None:
        """The legend in the run's cell's words (|∂target/∂h_t| and u for a GRU): the entries
        are added again only when the words change."""
        if not self.session_model.ready:
            return
        _, derivative, product = carry_words(self.session_model.cell_kind)
        legend = self.cec_plot.legend
        if [label.text for _, label in legend.items] == [derivative, *([product] if product else [])]:
            return
        for curve in (self.grad_curve, self.prod_curve):
            legend.removeItem(curve)
        legend.addItem(self.grad_curve, derivative)
        if product is not None:
            legend.addItem(self.prod_curve, product)
        legend.setLabelTextColor(self.palette.foreground)
        for _, label in legend.items:
            label.setText(label.text)

    def _offer_targets(self) -> None:
        """The C target only where the run's cell has a C: a GRU or simple RNN carries h alone."""
        self._name_curves()
        has_c = not self.session_model.ready or "c" in self.session_model.cell_kind.states
        item = self.mode_combo.model().item(self.mode_combo.findData("c"))
        item.setEnabled(has_c)
        item.setToolTip("" if has_c else "this cell has no C: a GRU or simple RNN carries h alone")
        self.custom.setPlaceholderText(f"e.g. sumsq(output[:, last]) or {'c' if has_c else 'h'}[0, 20, 3]")
        if not has_c and self.mode_combo.currentData() == "c":
            self.mode_combo.setCurrentIndex(self.mode_combo.findData("h"))

    def apply_palette(self, palette: Palette, redraw: bool = True) -> None:
        self.palette = palette
        self.glw.setBackground(palette.background)
        for plot in (self.sal_plot, self.cec_plot, self.strip.plot):
            style_axes(plot, palette)
        # a figure names its plots in full; the window's compact layout fits a laptop's
        # bottom dock (about 258 px at 1366x768) without scrolling: short titles, thin margins
        # (the target is named in the bar above, the curves in the legend)
        printing = palette.printing
        set_axis_label(self.sal_plot, "left", "|∂target/∂x_t|" if printing else "|∂/∂x|", palette)
        set_axis_label(self.cec_plot, "left", "unit's carousel" if printing else "carousel", palette)
        self.glw.ci.setContentsMargins(*(self._grid_margins if printing else
                                         (self._grid_margins[0], GRID_MARGIN_PX,
                                          self._grid_margins[2], GRID_MARGIN_PX)))
        self.layout().setSpacing(self._spacing if printing else GRID_MARGIN_PX)
        set_time_axis_label(self.strip.plot, "time step t (input position)", palette)
        self._keep_rows_whole()
        for line in self.cursors:
            line.setPen(pg.mkPen(palette.cursor, width=max(2.0, 1.4 * palette.line_width)))
        # cosmetic pens: palette.line_width carries an export's scale, so 2-3 px on a slide
        width = max(1.6, 1.4 * palette.line_width)
        for curve, colour, dashed in ((self.sal_curve, "#0072B2", False),
                                      (self.fork_curve, "#D55E00", True),
                                      (self.grad_curve, "#0072B2", False),
                                      (self.prod_curve, "#009E73", True)):
            curve.setPen(pg.mkPen(colour, width=width, style=Qt.DashLine if dashed else Qt.SolidLine))
        legend = self.cec_plot.legend       # pyqtgraph's default words are black on any theme
        legend.setLabelTextColor(palette.foreground)
        for _, label in legend.items:       # its colour is read when the text is set
            label.setText(label.text)
        self.strip.apply_palette(palette)
        if redraw:
            self.redraw()

    # --- input -------------------------------------------------------------------------------
    def _mode_changed(self) -> None:
        mode = self.mode_combo.currentData()
        self.custom.setEnabled(mode == "custom")
        if mode != "custom" or self.custom.text().strip():
            self.grads.set_mode(mode, self.custom.text())

    def _custom_entered(self) -> None:
        self.grads.set_mode("custom", self.custom.text())

    # --- drawing -----------------------------------------------------------------------------
    def _move_cursor(self, *args) -> None:
        if not self.session_model.ready:
            return
        cursor = self.session_model.session.cursor
        for line in self.cursors:
            line.setPos(-0.5 if cursor is None else cursor)
        self.strip.set_cursor(-0.5 if cursor is None else cursor)

    def _rebuild_strip(self) -> None:
        """The strip reads the run's input once per run and sample, not every redraw."""
        model = self.session_model
        key = (id(model.session), model.sample) if model.ready else None
        if key != getattr(self, "_strip_key", None):
            self._strip_key = key
            self.strip.rebuild()
            self._keep_rows_whole()

    def _keep_rows_whole(self) -> None:
        """Both plots tall enough for their titles and the grid for them and the strip (whose
        height follows what the run reads): a shorter dock scrolls to a whole time axis."""
        strip = self.strip.plot
        keep_titles_whole(self.glw, [(self.sal_plot, SALIENCY_MIN_HEIGHT, BELOW_VIEW_PX),
                                     (self.cec_plot, CAROUSEL_MIN_HEIGHT, BELOW_VIEW_PX),
                                     (strip, strip.minimumHeight(), 0)])

    def _waits(self) -> bool:
        """Behind another tab (or closed) in a window on screen: drawing waits for the front.
        A window never shown (a headless export) draws at once."""
        return self.window().isVisible() and not self.on_screen()

    def catch_up(self) -> None:
        """Its tab came to the front: draw the gradient that arrived meanwhile."""
        self.redraw()

    def shown(self) -> Shown | None:
        """The run the gradient curves were computed for, and the cursor (gui/shown.py); None
        while it waits behind another tab."""
        view = self._drawn_view if hasattr(self, "_drawn_view") else None
        if view is None or not self.session_model.ready or self._waits():
            return None
        steps, units = view.carried.shape
        return Shown(view.run, units, steps, cursor_at(self.cursors[0].value(), steps,
                                                       self.session_model.session.backward), view.kind)

    def redraw(self, force: bool = False) -> None:
        """Draw the gradient model's view (``force``: even behind another tab, for an export;
        the input strip under it follows the run either way)."""
        self._move_cursor()
        self._rebuild_strip()
        if not force and self._waits():          # the time axis as drawn, the curves later
            if self.session_model.ready:
                self.sal_plot.setXRange(-0.5, self.session_model.steps - 0.5, padding=0)
            return
        view = self._drawn_view = self.grads.view
        if view is None:
            for curve in (self.sal_curve, self.fork_curve, self.grad_curve, self.prod_curve):
                curve.setData([], [])
            if self.session_model.ready:          # this run's time axis, not the last one's
                self.sal_plot.setXRange(-0.5, self.session_model.steps - 0.5, padding=0)
            self.badge.setText(" ")
            self.info.setText(f"<span style='color:#c0392b'>{self.grads.error}</span>"
                              if self.grads.error else "no run loaded")
            return
        steps = view.saliency.shape[0]
        t = np.arange(steps)
        self.sal_curve.setData(t, view.saliency)
        if view.fork_saliency is not None:
            self.fork_curve.setData(t, view.fork_saliency)
        else:
            self.fork_curve.setData([], [])
        j = view.unit
        grad = np.where(np.isfinite(view.forget_product), np.maximum(np.abs(view.carried[:, j]), TINY),
                        np.nan)
        self.grad_curve.setData(t, grad)
        self.prod_curve.setData(t, np.maximum(view.forget_product, TINY))
        self.sal_plot.setXRange(-0.5, steps - 0.5, padding=0)
        h = view.health
        colour = BADGE_COLOURS[h.status]
        self.badge.setText(f"<span style='background:{colour}; color:white; padding:2px 6px;'>"
                           f"&nbsp;{'⚠ ' if h.status != 'ok' else ''}{h.status}&nbsp;</span>")
        self.badge.setToolTip(h.message)
        horizon = view.horizon[j] if j < view.horizon.shape[0] else float("nan")
        where = "the whole run" if np.isinf(horizon) else (
            "—" if np.isnan(horizon) else f"{int(horizon)} steps back")
        fork = (f" · dashed: fork '{view.fork}' (how the edit changes what the target depends on)"
                if view.fork else "")
        state = carry_words(self.session_model.cell_kind)[0] if self.session_model.ready else "C"
        self.info.setText(f"target <b>{view.target}</b> = {view.result.value:.4g} · unit {j}: "
                          f"|∂target/∂{state}| stays above 1 % of its peak for {where} · {h.message}"
                          f"{fork}")

