"""The units panel: one lane per unit, every lane on one shared time axis, one cursor.

Drawing: each signal is a handful of batched curves — one ``PlotCurveItem`` per time chunk
holding *all* lanes, NaN-separated (``connect="finite"``) — never one plot per unit. A step
rewrites only the chunk that holds the new column, so the cost per step does not grow with T.
Columns not yet read are NaN in what a curve is given (``SessionModel.as_read``), so they are not drawn.
"""

from __future__ import annotations

from html import escape

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QFont, QFontMetricsF
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from engine.cells.cell_kind import CellKind
from gui.panels.heat_strips import HeatStrips, OverviewStrips
from gui.panels.input_strip import InputStrip
from gui.panels.lane_scale import LaneScale, LaneScaleAxis
from gui.panels.lanes import LaneScaler, label_step, parse_filter, row_lines, sort_units
from gui.session_model import SessionModel, span_indices
from gui.shown import Shown, cursor_at
from gui.signals import lanes_shown_first, strip_signals
from gui.theme import Palette
from gui.widgets.combo import refill
from gui.widgets.flow_layout import FlowLayout
from gui.widgets.plot_style import set_axis_label, style_axes

CHUNK = 16                # positions per curve item: a step redraws only its chunk's items
MAX_CHUNKS = 128          # ... but never more items than this per signal (a 300k-step run in
                          # memory made 225,000 curve items, minutes to build and slow to paint)
LEGIBLE_LANE_PX = 7.0     # below this many pixels per lane, "auto" draws heat-map strips
LEGIBLE_STEPS_PER_PX = 4.0  # ... and above this many steps per pixel (a curve is a solid band)
GO_TO_LANES = 24          # Go to unit in a dense view zooms to about this many lanes


class LaneViewBox(pg.ViewBox):
    """Wheel zooms time only (Ctrl+wheel: units, Shift+wheel: scrolls units); a double-click
    shows the whole run again."""

    def __init__(self) -> None:
        super().__init__()
        self.on_reset = None

    def wheelEvent(self, ev, axis=None):  # noqa: N802 (pyqtgraph API)
        mods = ev.modifiers()
        if mods & Qt.ShiftModifier:
            lo, hi = self.viewRange()[1]
            delta = ev.delta() if hasattr(ev, "delta") else ev.angleDelta().y()
            shift = -(hi - lo) * 0.1 * (1 if delta > 0 else -1)
            self.translateBy(y=shift)
            ev.accept()
            return
        super().wheelEvent(ev, axis=1 if mods & Qt.ControlModifier else 0)

    def mouseDoubleClickEvent(self, ev):  # noqa: N802
        if self.on_reset is not None:
            self.on_reset()
            ev.accept()


class LaneAxis(pg.AxisItem):
    """Left axis labelled 'unit k' at lane centres ('unit k · head m' when the cell's units
    are grouped in heads), thinned so labels never overlap."""

    def __init__(self) -> None:
        super().__init__("left")
        self.order = np.zeros(0, int)
        self.heads: np.ndarray | None = None    # (N,) each unit's head, None: one head

    def unit_label(self, unit: int) -> str:
        if self.heads is None:
            return f"unit {unit}"
        return f"unit {unit} · head {int(self.heads[unit])}"

    def tickValues(self, minVal, maxVal, size):  # noqa: N802 (pyqtgraph API)
        n = len(self.order)
        if n == 0 or size <= 0:
            return []
        minVal, maxVal = sorted((minVal, maxVal))   # the lane view is inverted (unit 0 on top)
        span = max(maxVal - minVal, 1e-9)
        step = label_step(size / span)
        first = max(0, int(np.floor(minVal)))
        last = min(n - 1, int(np.ceil(maxVal)))
        first -= first % step
        rows = [r + 0.5 for r in range(first, last + 1, step)]
        return [(step, rows)]

    def tickStrings(self, values, scale, spacing):  # noqa: N802
        out = []
        for v in values:
            r = int(v)
            out.append(self.unit_label(int(self.order[r])) if 0 <= r < len(self.order) else "")
        return out

    def fit_labels(self) -> None:
        """As wide as the longest 'unit k' in the tick font, before the first paint: pyqtgraph
        widens an axis only after a paint whose labels did not fit, and an export has one
        paint, so a print font larger than the screen's dropped every lane label."""
        font = self.style.get("tickFont") or QFont()
        longest = self.unit_label(int(self.order.max()) if len(self.order) else 0)
        need = (QFontMetricsF(font).horizontalAdvance(longest) + 2
                + max(0, self.style["tickTextOffset"][0]))
        if need > self.textWidth:
            self.textWidth = need
            self._updateWidth()


def _group(*widgets: QWidget) -> QWidget:
    """Widgets that stay on one row together when the option bar wraps."""
    box = QWidget()
    row = QHBoxLayout(box)
    row.setContentsMargins(0, 0, 0, 0)
    row.setSpacing(4)
    for widget in widgets:
        row.addWidget(widget)
    return box


SELECTION_UNDER_CURVES = -10      # z of the selected lane's band: under the shading's curves
SELECTION_OVER_HEAT = 6           # over the heat strips' image (z 5), under the cursor (50)


class UnitsPanel(QWidget):
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

    def _build_plots(self) -> pg.GraphicsLayoutWidget:
        """One plot holds every lane (curves, heat strips, overview, cursor, selection); the
        input strip under it shares its time axis."""
        self.glw = pg.GraphicsLayoutWidget()
        self.glw.setBackground(self.palette.background)
        self.axis = LaneAxis()
        self.vb = LaneViewBox()
        self.vb.on_reset = self.reset_view
        scale_axis = LaneScaleAxis()
        self.plot = self.glw.addPlot(axisItems={"left": self.axis, "right": scale_axis}, viewBox=self.vb)
        self.plot.setMenuEnabled(False)
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
        self.input_plot = self.glw.addPlot()
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
            set_axis_label(self.input_plot, "bottom", "time step t", palette)
        else:
            set_axis_label(self.input_plot, "bottom", "time step t (input position)", palette)
        marker = max(2.0, 1.4 * palette.line_width)
        self.cursor.setPen(pg.mkPen(palette.cursor, width=marker))
        self.strip.palette = palette
        self.strip.cursor.setPen(pg.mkPen(palette.cursor, width=marker))
        self.sel_lane.setBrush(pg.mkBrush(palette.selection + "55"))
        self.sel_step.setPen(pg.mkPen(palette.foreground, width=max(palette.line_width, 1.0),
                                      style=Qt.DashLine))
        for box_name, box in self.signal_boxes.items():
            box.setStyleSheet(f"QCheckBox {{ color: {palette.signal(box_name)}; font-weight: bold; }}")

    def apply_palette(self, palette: Palette) -> None:
        """Restyle for a theme switch or an export (the print palette), then redraw."""
        view_range = self.vb.viewRange() if self.session_model.ready else None
        self._style(palette)
        self.rebuild()
        if view_range is not None:      # the same run: keep the user's zoom and scroll
            self.vb.setRange(xRange=view_range[0], yRange=view_range[1], padding=0)
        self.set_overlay(self._overlay_arrays, self.overlay_label)

    # --- options -----------------------------------------------------------------------------
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

    # --- building ----------------------------------------------------------------------------
    def _clear_items(self) -> None:
        self._drawn = None
        self._ghosts_filled = False
        for group in (self._live, self._ghosts):
            for items in group.values():
                for item in items:
                    self.plot.removeItem(item)
            group.clear()
        self._drawn_t = None

    def rebuild(self) -> None:
        """Everything from scratch: a new run, layer, sample, filter, sort or scale."""
        self._clear_items()
        if not self.session_model.ready:
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

    def _make_items(self, n_chunks: int) -> None:
        """One ghost and one live curve item per signal and chunk of CHUNK positions."""
        for name in self.kind.display_order:
            colour = pg.mkColor(self.palette.signal(name))
            ghost_colour = pg.mkColor(colour)
            ghost_colour.setAlpha(self.palette.ghost_alpha)
            live_pen = pg.mkPen(colour, width=self.palette.line_width)
            ghost_pen = pg.mkPen(ghost_colour, width=self.palette.line_width)
            smooth = self.palette.antialias
            self._live[name] = []
            self._ghosts[name] = []
            for _ in range(n_chunks):
                ghost = pg.PlotCurveItem(pen=ghost_pen, connect="finite", antialias=smooth)
                ghost.setZValue(1)
                ghost.setVisible(self.ghost and name in self.visible_signals)
                live = pg.PlotCurveItem(pen=live_pen, connect="finite", antialias=smooth)
                live.setZValue(10 if name != "h" else 11)
                live.setVisible(name in self.visible_signals)
                self.plot.addItem(ghost)
                self.plot.addItem(live)
                self._ghosts[name].append(ghost)
                self._live[name].append(live)

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
        if not self.session_model.checkpointed or self._scaler is None:
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

    def _chunk_count(self, steps: int) -> int:
        """Curve items per signal for a run (or span) of ``steps`` positions; sets their width."""
        self._chunk = max(CHUNK, -(-steps // MAX_CHUNKS))
        return max(1, -(-steps // self._chunk))

    def _chunk_bounds(self, k: int, steps: int) -> tuple[int, int]:
        start = k * self._chunk
        return start, min(start + self._chunk + 1, steps)     # one column of overlap joins chunks

    def _chunk_xy(self, trace, name: str, k: int, *, as_read: bool = False
                  ) -> tuple[np.ndarray, np.ndarray]:
        """Chunk k's curve; ``as_read``: its columns not read yet NaN (a copy of the chunk
        only, never of the run)."""
        steps = trace.steps
        a, b = self._chunk_bounds(k, steps)      # indices into the trace; x is the position
        values = trace.signal(name)[self.session_model.sample, a:b]
        if as_read:
            values = self.session_model.as_read(values, a)
        return row_lines(self._scaler.to_lane(name, values, self.order), trace.start + a)

    def _fill_ghosts(self, full) -> None:
        for name, items in self._ghosts.items():
            for k, item in enumerate(items):
                x, y = self._chunk_xy(full, name, k)
                item.setData(x, y, connect="finite")
        self._ghosts_filled = True

    def _forget_ghosts(self) -> None:
        """The ghosts no longer match the run or span drawn: emptied (their arrays freed) until
        curves are drawn again."""
        if self._ghosts_filled:
            for items in self._ghosts.values():
                for item in items:
                    item.setData([], [])
        self._ghosts_filled = False

    # --- stepping ----------------------------------------------------------------------------
    def on_position(self, t: int, redraw_all: bool = False) -> None:
        if not self.session_model.ready or self._scaler is None:
            return
        session = self.session_model.session
        steps = session.steps
        cursor = session.cursor
        x = (-0.5 if not session.backward else steps - 0.5) if cursor is None else cursor
        self.cursor.setPos(x)
        self.strip.set_cursor(x)
        if cursor is not None and self.follow_cursor:
            self._keep_cursor_in_view(cursor)
        if self.mode == "heat":            # curves are redrawn when lanes come back
            self.heat.set_read(session.known())
            self._drawn_t = None
            return
        full = self.session_model.full()
        if not self._ghosts_filled:
            self._fill_ghosts(full)
        first, width = full.start, full.steps          # the span drawn (the whole run in memory)
        n_chunks, chunk = max(1, -(-width // self._chunk)), self._chunk
        if redraw_all or self._drawn_t is None or abs(t - self._drawn_t) > width // 2:
            dirty = set(range(n_chunks))
        else:
            # every column read or forgotten since the last draw, plus the chunk before each
            # chunk boundary (chunks overlap by one column)
            lo, hi = sorted((self._drawn_t, t))
            order = session.recorded()
            p_lo, p_hi = span_indices(session, first, first + width)
            positions = [order.position(p) - first
                         for p in range(max(lo, p_lo), min(hi + 1, steps, p_hi))]
            dirty = set()
            for p in positions:
                if not 0 <= p < width:
                    continue
                dirty.add(min(p // chunk, n_chunks - 1))
                if p % chunk == 0 and p > 0:
                    dirty.add(p // chunk - 1)
        self._drawn_t = t
        whole = session.known()
        known = slice(whole.start - first, whole.stop - first)
        for k in dirty:
            a, b = self._chunk_bounds(k, width)
            # a chunk read to the end needs no ghost: its live curves cover it exactly
            needs_ghost = not (known.start <= a and b <= known.stop)
            for name, items in self._live.items():
                x, y = self._chunk_xy(full, name, k, as_read=True)
                items[k].setData(x, y, connect="finite")
                self._ghosts[name][k].setVisible(needs_ghost and self.ghost and name in self.visible_signals)

    def set_whole_paths(self, on: bool) -> None:
        """Stroke each curve as one path (SVG export: one <path> per chunk, not one element per
        segment); off lets pyqtgraph split wide pens into segments, faster on screen."""
        for group in (self._live, self._ghosts):
            for items in group.values():
                for item in items:
                    item.setSegmentedLineMode("off" if on else "auto")

    # --- fork overlay --------------------------------------------------------------------------
    def set_overlay(self, arrays: dict[str, np.ndarray] | None, label: str = "") -> None:
        """Draw a fork's C and h over the original lanes (dashed), or remove it (None).

        ``arrays`` maps a signal name to the fork's (B, T, N) values from the engine.
        """
        for item in self._overlay_items:
            self.plot.removeItem(item)
        self._overlay_items = []
        self._overlay_arrays = arrays
        self.overlay_label = label
        if not arrays or self._scaler is None:
            return
        for name, values in arrays.items():
            x, y = row_lines(self._scaler.to_lane(name, values[self.session_model.sample], self.order))
            pen = pg.mkPen(self.palette.signal(name), width=2 * max(self.palette.line_width, 1.0),
                           style=Qt.DashLine)
            item = pg.PlotCurveItem(x, y, pen=pen, connect="finite")
            item.setZValue(20)
            self.plot.addItem(item)
            self._overlay_items.append(item)

    # --- hover and selection -----------------------------------------------------------------
    def lane_at(self, x: float, y: float) -> tuple[int, int] | None:
        """(unit, input position) under view coordinates, or None outside the lanes."""
        row = int(np.floor(y))
        pos = int(np.round(x))
        if not (0 <= row < len(self.order)) or not (0 <= pos < self.session_model.steps):
            return None
        return int(self.order[row]), pos

    def describe_point(self, unit: int, position: int) -> dict[str, float | None]:
        """The engine's values for a unit at a position (None where not read yet)."""
        out: dict[str, float | None] = {}
        for name in self.kind.display_order:
            value = self.session_model.value(name, unit, position)
            out[name] = None if np.isnan(value) else value
        return out

    def hover_text(self, unit: int, position: int) -> str:
        values = self.describe_point(unit, position)
        reads = escape(self.session_model.input_label(position), quote=False)   # "'('", not &#x27;
        where = f"unit {unit} · t = {position} reads {reads}"
        if all(v is None for v in values.values()):
            return f"{where} · not read yet"
        parts = []
        for name, v in values.items():
            text = "—" if v is None else f"{v:+.4f}"
            parts.append(f"<span style='color:{self.palette.signal(name)}'><b>{self.kind.signal(name).symbol}</b>"
                         f" {text}</span>")
        return f"{where} · " + "  ".join(parts)

    def _mouse_moved(self, scene_pos) -> None:
        if not self.session_model.ready:
            return
        if self.input_plot.sceneBoundingRect().contains(scene_pos):
            x = self.strip.vb.mapSceneToView(scene_pos).x()
            text = escape(self.strip.describe(int(np.round(x))), quote=False)
            if text:
                self.info.setText(text)
                self.hovered.emit(text)
            return
        if not self.plot.sceneBoundingRect().contains(scene_pos):
            return
        point = self.vb.mapSceneToView(scene_pos)
        hit = self.lane_at(point.x(), point.y())
        if hit is None:
            return
        text = self.hover_text(*hit)
        self.info.setText(text)
        self.hovered.emit(text)

    def _mouse_clicked(self, event) -> None:
        if not self.session_model.ready or event.button() != Qt.LeftButton:
            return
        point = self.vb.mapSceneToView(event.scenePos())
        hit = self.lane_at(point.x(), point.y())
        if hit is not None:
            self.session_model.select(*hit)

    def _show_selection(self, unit: int, position: int) -> None:
        rows = np.nonzero(self.order == unit)[0] if unit >= 0 else []
        if len(rows):
            self.sel_lane.setRegion((rows[0], rows[0] + 1))
            self.sel_lane.show()
        else:
            self.sel_lane.hide()
        if position >= 0:
            self.sel_step.setPos(position)
            self.sel_step.show()
        else:
            self.sel_step.hide()

    def go_to_unit(self, unit: int) -> bool:
        """Scroll to ``unit``'s lane and select it (zoomed in far enough to read its lane when
        the view is dense); False when the filter hides it."""
        rows = np.nonzero(self.order == unit)[0]
        if not len(rows):
            return False
        row = int(rows[0])
        lo, hi = self.vb.viewRange()[1]
        span = max(min(hi - lo, len(self.order)), 1)
        if self.pixels_per_lane() < LEGIBLE_LANE_PX:
            span = min(span, max(float(GO_TO_LANES), self.vb.height() / (2 * LEGIBLE_LANE_PX)))
        top = min(max(row + 0.5 - span / 2, 0), max(len(self.order) - span, 0))
        self.vb.setYRange(top, top + span, padding=0)
        self.session_model.select(unit, self.session_model.selected_position)
        return True

    def shown(self) -> Shown | None:
        """The run the lanes were drawn for and where the cursor line stands (gui/shown.py)."""
        if self._drawn is None or not self.session_model.ready:
            return None
        run, units, steps, kind = self._drawn
        return Shown(run, units, steps, cursor_at(self.cursor.value(), steps,
                                                  self.session_model.session.backward), kind)

    def lane_count(self) -> int:
        return len(self.order)
