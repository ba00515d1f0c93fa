"""The units panel: one lane per unit, every lane on one shared time axis, one cursor.

This module builds the panel and draws a run into it (the lanes' order and scale, the span,
curves or heat-map strips by how dense the view is); its parts by job: the option bar
(``units_options``), the chunked curves and stepping (``units_curves``: a step redraws only
the chunks it changed), hover and selection (``units_pointer``), the plot's view box and lane
axis (``lane_plot``).
"""

from __future__ import annotations

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import QLabel, QVBoxLayout, QWidget

from engine.cells.cell_kind import CellKind
from gui.panels.heat_strips import HeatStrips, OverviewStrips
from gui.panels.input_strip import InputStrip
from gui.panels.lane_plot import LEGIBLE_LANE_PX, LEGIBLE_STEPS_PER_PX, LaneAxis, LaneViewBox
from gui.panels.lane_scale import LaneScale, LaneScaleAxis
from gui.panels.lanes import LaneScaler, parse_filter, sort_units
from gui.panels.units_curves import CHUNK, UnitsCurves
from gui.panels.units_options import UnitsOptions
from gui.panels.units_pointer import UnitsPointer
from gui.session_model import SessionModel
from gui.shown import Shown, cursor_at
from gui.theme import Palette
from gui.widgets.plot_menus import NO_MENU
from gui.widgets.plot_style import set_time_axis_label, style_axes

SELECTION_UNDER_CURVES = -10      # z of the selected lane's band: under the shading's curves
SELECTION_OVER_HEAT = 6           # over the heat strips' image (z 5), under the cursor (50)


class UnitsPanel(UnitsOptions, UnitsCurves, UnitsPointer, QWidget):
    """N lanes of f, i, o, C, h (g optional) over time, filled in one column per step."""

    hovered = Signal(str)

    def __init__(self, session_model: SessionModel, palette: Palette, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.session_model = session_model
        self.palette = palette
        self.kind: CellKind | None = None      # the cell kind the signal boxes were made for
        self.visible_signals: set[str] = set()
        self._chosen: dict[str, bool] = {}     # signals shown or hidden by the user, by name
        self.ghost = True
        self.shared_scale = False
        self.sort_mode = "index"
        self.filter_text = ""
        self.order = np.zeros(0, int)
        self._scaler: LaneScaler | None = None
        self._live: dict[str, list[pg.PlotCurveItem]] = {}
        self._ghosts: dict[str, list[pg.PlotCurveItem]] = {}
        self._ghosts_filled = False          # ghosts hold the run's curves only once drawn
        self._chunk = CHUNK                  # positions per curve item (see _chunk_count)
        self._drawn_t: int | None = None
        self._overlay_items: list[pg.PlotCurveItem] = []
        self._overlay_arrays: dict[str, np.ndarray] | None = None
        self.overlay_label = ""
        self._drawn: tuple[int, int, int, str] | None = None   # run, units, steps, kind drawn
        self._build_ui()
        session_model.modelChanged.connect(self.forget_model)
        session_model.runChanged.connect(self.rebuild)
        session_model.positionChanged.connect(self.on_position)
        session_model.spanChanged.connect(self._span_moved)  # a checkpointed run's next span
        session_model.selectionChanged.connect(self._show_selection)

    # --- widgets -----------------------------------------------------------------------------
    def _build_ui(self) -> None:
        """The tool bar above the lanes, the lanes and input strip, the hover read-out below."""
        layout = QVBoxLayout(self)
        layout.setContentsMargins(2, 2, 2, 2)
        layout.setSpacing(2)
        self.mode = "lanes"
        self.follow_cursor = True      # stepping keeps the cursor in view (off while exporting)
        layout.addLayout(self._build_toolbar())
        layout.addWidget(self._build_plots(), 1)
        self.info = QLabel(" ")
        self.info.setTextFormat(Qt.RichText)     # always HTML: "&lt;" never shows as typed
        self.info.setToolTip("Hover a lane to read the engine's values for that unit and step.")
        layout.addWidget(self.info)
        self._style(self.palette)

    def _build_plots(self) -> pg.GraphicsLayoutWidget:
        """One plot holds every lane (curves, heat strips, overview, cursor, selection); the
        input strip under it shares its time axis."""
        self.glw = pg.GraphicsLayoutWidget()
        self.glw.setBackground(self.palette.background)
        self.axis = LaneAxis()
        self.vb = LaneViewBox()
        self.vb.on_reset = self.reset_view
        scale_axis = LaneScaleAxis()
        self.plot = self.glw.addPlot(axisItems={"left": self.axis, "right": scale_axis}, viewBox=self.vb,
                                 **NO_MENU)
        self.plot.hideButtons()
        self.vb = self.plot.getViewBox()
        self.vb.invertY(True)
        self.vb.setDefaultPadding(0.0)
        self.shade = pg.ImageItem()
        self.shade.setZValue(-20)
        self.plot.addItem(self.shade)
        self.overview = OverviewStrips(self.plot)      # a checkpointed run, zoomed out
        self.cursor = pg.InfiniteLine(angle=90, movable=False)
        self.cursor.setZValue(50)
        self.plot.addItem(self.cursor)
        self.sel_lane = pg.LinearRegionItem(orientation="horizontal", movable=False,
                                            pen=pg.mkPen(None))
        self.sel_lane.setZValue(SELECTION_UNDER_CURVES)
        self.sel_lane.hide()
        self.plot.addItem(self.sel_lane)
        self.sel_step = pg.InfiniteLine(angle=90, movable=False)
        self.sel_step.hide()
        self.plot.addItem(self.sel_step)
        self.heat = HeatStrips(self.plot)
        self.lane_scale = LaneScale(self.plot, scale_axis, self.palette)
        self.glw.nextRow()
        self.input_plot = self.glw.addPlot(**NO_MENU)
        self.input_plot.setXLink(self.plot)
        self.plot.hideAxis("bottom")
        self.glw.ci.layout.setVerticalSpacing(0)
        self.strip = InputStrip(self.input_plot, self.session_model, self.palette)
        self.axis.geometryChanged.connect(self._match_axis_width)
        self.lane_scale.axis.geometryChanged.connect(self._match_axis_width)
        self.vb.sigRangeChanged.connect(lambda *_: self._update_mode())
        self.vb.sigResized.connect(lambda *_: self._update_mode())
        self.plot.scene().sigMouseMoved.connect(self._mouse_moved)
        self.plot.scene().sigMouseClicked.connect(self._mouse_clicked)
        return self.glw

    def _style(self, palette: Palette) -> None:
        """Everything the palette decides that is not a curve: background, axes, markers."""
        self.palette = palette
        self.glw.setBackground(palette.background)
        style_axes(self.plot, palette)
        style_axes(self.input_plot, palette)
        self.lane_scale.set_palette(palette)
        for name, box in getattr(self, "signal_boxes", {}).items():   # text at AA on the window
            box.setStyleSheet(f"QCheckBox {{ color: {palette.signal_text(name)}; font-weight: bold; }}")
        # the lanes' ticks already read "unit k": a left title would only collide with them
        self.plot.setLabel("left", None)
        self.plot.showLabel("left", False)
        if palette.printing:      # a figure read on its own: a plain axis title
            set_time_axis_label(self.input_plot, "time step t", palette)
        else:
            set_time_axis_label(self.input_plot, "time step t (input position)", palette)
        marker = max(2.0, 1.4 * palette.line_width)
        self.cursor.setPen(pg.mkPen(palette.cursor, width=marker))
        self.strip.palette = palette
        self.strip.cursor.setPen(pg.mkPen(palette.cursor, width=marker))
        self.sel_lane.setBrush(pg.mkBrush(palette.selection + "55"))
        self.sel_step.setPen(pg.mkPen(palette.foreground, width=max(palette.line_width, 1.0),
                                      style=Qt.DashLine))

    def apply_palette(self, palette: Palette) -> None:
        """Restyle for a theme switch or an export (the print palette), then redraw."""
        view_range = self.vb.viewRange() if self.session_model.ready else None
        self._style(palette)
        self.rebuild()
        if view_range is not None:      # the same run: keep the user's zoom and scroll
            self.vb.setRange(xRange=view_range[0], yRange=view_range[1], padding=0)
        self.set_overlay(self._overlay_arrays, self.overlay_label)

    # --- building ----------------------------------------------------------------------------
    def rebuild(self) -> None:
        """Everything from scratch: a new run, layer, sample, filter, sort or scale (curve
        items of the same shape are kept and refilled: ``UnitsCurves._make_items``)."""
        self._drawn = None
        self._drawn_t = None
        if not self.session_model.ready:
            self._drop_items()
            return
        self._follow_kind()
        full = self.session_model.full()
        self._arrange(full)
        self._make_items(self._chunk_count(full.steps))
        self._draw_run(full)
        self._drawn = (self.session_model.run, full.units, self.session_model.steps, self.kind.name)
        self.refresh_overview()
        self.mode = ""
        self._update_mode()
        self._show_selection(self.session_model.selected_unit, self.session_model.selected_position)

    def _span_moved(self) -> None:
        """A checkpointed run's next span: the same curve items refilled (re-creating them was
        most of a span change's cost); the overview is redrawn only if the lanes re-sorted or
        the span's colour levels (the overview's too) changed."""
        if not self.session_model.ready or not self._live:
            self.rebuild()
            return
        full = self.session_model.full()
        if any(len(items) != self._chunk_count(full.steps) for items in self._live.values()):
            self.rebuild()
            return
        order, levels = self.order, self.heat.levels
        self._arrange(full)
        self._drawn_t = None
        self._draw_run(full, all_rows=False)
        # the overview is coloured with the heat strips' levels, which come from the span
        if not np.array_equal(order, self.order) or not np.array_equal(levels, self.heat.levels):
            self.refresh_overview()
        self.on_position(self.session_model.t, redraw_all=True)
        self._show_selection(self.session_model.selected_unit, self.session_model.selected_position)

    def _arrange(self, full) -> None:
        """The lanes (filter, sort) and their scale for this run or span, and the lane shading."""
        sample = self.session_model.sample
        spec = self._applicable_filter(full.units)
        units = parse_filter(spec, full.units, full, sample) if spec else np.arange(full.units)
        self.order = sort_units(units, self.sort_mode, full, sample)
        heads = full.weights.unit_heads()
        grouped = heads.size > 0 and heads.max() > 0     # units coupled within heads only
        self.axis.order = self.order
        self.axis.heads = heads if grouped else None
        self.axis.fit_labels()
        self._scaler = LaneScaler(full, sample, self.shared_scale)
        rows = len(self.order)
        # lanes alternate shade by unit, or by head where U couples units within heads only,
        # so a head's lanes read as one group
        bands = heads[self.order] if grouped else np.arange(rows)
        shade = (bands % 2).astype(np.float32)[None, :]
        self.shade.setImage(shade, levels=(0, 1), lut=np.array(
            [pg.mkColor(self.palette.background).getRgb()[:3],
             pg.mkColor(self.palette.lane_shade).getRgb()[:3]], np.uint8))
        self.shade.setRect(full.start - 0.5, 0, max(full.steps, 1), rows)

    def _draw_run(self, full, *, all_rows: bool = True) -> None:
        """Ghosts, scale, input strip, heat strips, limits and range for the run (or span);
        ``all_rows`` False keeps the lanes the user zoomed to. The ghosts are filled when
        curves are first drawn (``on_position``): heat strips show none, and a long run's
        ghosts are as large as the run itself."""
        self._forget_ghosts()
        self._update_scale()
        self.strip.rebuild()
        self.heat.set_run(full, self.session_model.sample, self.order, self.ghost,
                          self.palette.ghost_alpha)
        steps, start = full.steps, full.start     # a checkpointed run draws a span of positions
        rows = len(self.order)
        whole = self.session_model.steps       # a checkpointed run zooms out to its overview
        self.vb.setLimits(xMin=-1, xMax=whole + 1, yMin=0, yMax=max(rows, 1),
                          minYRange=min(1.0, rows), minXRange=min(4, max(steps, 1)))
        self.vb.setRange(xRange=(start - 0.5, start + max(steps - 0.5, 0.5)),
                         yRange=(0, max(rows, 1)) if all_rows else None, padding=0)

    def refresh_overview(self) -> None:
        """Redraw the whole-run overview of a checkpointed run (as its first pass fills it)."""
        if self.session_model.holds_whole_run or self._scaler is None:   # it shows all of it
            self.overview.clear()
            return
        session = self.session_model.session
        self.overview.set_overview(session.overview(), self.heat.signal, self.session_model.sample,
                                   self.order, session.units, self.heat.levels, session.cell_kind)

    # --- lanes or heat-map strips -------------------------------------------------------------
    def pixels_per_lane(self) -> float:
        lo, hi = self.vb.viewRange()[1]
        return self.vb.height() / max(hi - lo, 1e-9)

    def wanted_mode(self) -> str:
        choice = self.mode_combo.currentText()
        if choice == "lanes":
            return "lanes"
        if choice == "heat map":
            return "heat"
        lo, hi = self.vb.viewRange()[0]
        steps_per_px = (hi - lo) / max(self.vb.width(), 1.0)
        dense = self.pixels_per_lane() < LEGIBLE_LANE_PX or steps_per_px > LEGIBLE_STEPS_PER_PX
        return "heat" if dense else "lanes"

    def _update_mode(self) -> None:
        """Switch between curves and heat-map strips when the lanes' height asks for it."""
        if not self.session_model.ready or self._scaler is None:
            return
        mode = self.wanted_mode()
        if mode == self.mode:
            return
        self.mode = mode
        heat = mode == "heat"
        for group, shown in ((self._live, True), (self._ghosts, self.ghost)):
            for name, items in group.items():
                for item in items:
                    item.setVisible(not heat and shown and name in self.visible_signals)
        for item in self._overlay_items:       # a fork's curves hide with the lanes' own
            item.setVisible(not heat)
        self.heat.show(heat)
        # the selected lane's band lies under the curves, but over heat strips (they are
        # opaque: Ctrl+U scrolled to a row nobody could see was chosen)
        self.sel_lane.setZValue(SELECTION_OVER_HEAT if heat else SELECTION_UNDER_CURVES)
        self.on_position(self.session_model.t, redraw_all=True)

    def set_heat_signal(self, name: str) -> None:
        if name and name != self.heat.signal:
            self.heat.signal = name
            if self.session_model.ready:
                self.heat.set_run(self.session_model.full(), self.session_model.sample, self.order,
                                  self.ghost, self.palette.ghost_alpha)
                self.heat.set_read(self.session_model.session.known())
                self.refresh_overview()

    def reset_view(self) -> None:
        """Every lane and the whole run in view."""
        a, b = self.session_model.span()
        rows = len(self.order)
        self.vb.setRange(xRange=(a - 0.5, a + max(b - a - 0.5, 0.5)), yRange=(0, max(rows, 1)), padding=0)

    def _match_axis_width(self) -> None:
        """The input strip's left axis as wide as the lanes' so both share one time axis."""
        width = int(self.axis.width())
        if width > 0 and int(self.strip.plot.getAxis("left").width()) != width:
            self.strip.plot.getAxis("left").setWidth(width)
        if self.lane_scale.on:     # the lanes' right axis takes room: the strip matches it
            right = int(self.lane_scale.axis.width())
            if right > 0 and int(self.strip.plot.getAxis("right").width()) != right:
                self.strip.plot.getAxis("right").setWidth(right)

    def _keep_cursor_in_view(self, cursor: float) -> None:
        lo, hi = self.vb.viewRange()[0]
        first, end = self.session_model.span()
        if hi - lo >= end - first - 1 or lo <= cursor <= hi:
            return
        span = hi - lo
        start = min(max(cursor - span * 0.8, first - 0.5), end - 0.5 - span) if cursor > hi \
            else max(cursor - span * 0.2, first - 0.5)
        self.vb.setXRange(start, start + span, padding=0)

    # --- what is shown ---------------------------------------------------------------------------
    def shown(self) -> Shown | None:
        """The run the lanes were drawn for and where the cursor line stands (gui/shown.py)."""
        if self._drawn is None or not self.session_model.ready:
            return None
        run, units, steps, kind = self._drawn
        return Shown(run, units, steps, cursor_at(self.cursor.value(), steps,
                                                  self.session_model.session.backward), kind)

    def lane_count(self) -> int:
        return len(self.order)
