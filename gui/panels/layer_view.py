"""Layer view: units x time heat-maps (one image per signal), per-unit statistics, the kernels,
and the coupling what-ifs (decouple units, perturb unit k at step t) shown as differences.

The view drives its three tabs (``gui.panels.layer_pages``) and draws the maps as
``gui.panels.heat_maps`` tiles them: a step fills in only the columns it read.

Every number comes from the engine: the live trace, ``engine.analyses.analysis.unit_stats`` /
``recurrent_blocks`` / ``input_blocks``, and ``engine.debugging.debugger`` forks (``Fork.diff``).
"""

from __future__ import annotations

import dataclasses

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import QItemSelectionModel, Qt
from PySide6.QtWidgets import (
    QTabWidget,
    QVBoxLayout,
    QWidget,
)

from engine.analyses.analysis import input_blocks, recurrent_blocks, unit_stats
from engine.cells.cell_kind import CellKind
from engine.errors import ScopeError
from engine.runs.trace import LayerTrace
from gui.panels.heat_maps import HeatPlot, UnitTicks, _cmap, _levels, signal_label, trace_column, trace_image
from gui.panels.input_strip import InputStrip
from gui.panels.lanes import per_unit
from gui.panels.layer_pages import HeatPage, KernelPage, NumberItem, WhatIfPage
from gui.session_model import SessionModel, span_indices
from gui.shown import Shown, cursor_at
from gui.signals import (
    GRADIENT_MAP,
    carried,
    heat_signals,
    is_signal,
    stat_columns,
    symbol,
)
from gui.theme import Palette
from gui.widgets.on_screen import FrontAware
from gui.widgets.plot_menus import NO_MENU
from gui.widgets.plot_style import decade_text, set_axis_label, set_time_axis_label, style_axes, tick_font

PLOT_MIN_HEIGHT = 70       # px per heat-map; the column scrolls when the dock is short
COLOUR_BAR_COLUMN = 62     # px for a colour bar and its labels
COLOUR_BAR_INSET = 7       # px above and below a colour bar, room for its end labels
LEFT_AXIS_PX = 58          # px for a map's unit numbers and title, and the strip's "reads"
TIME_AXIS_ROOM = 42        # px the time axis (tick values and title) takes under the last map
GRAD_DECADES = 6          # the |d target / d C| map spans six decades below its peak (log colours)


class LayerView(FrontAware, QWidget):
    """Heat-maps, statistics, kernels and what-ifs for the session's current traced layer."""

    def __init__(self, session_model: SessionModel, palette: Palette, *, units_panel=None, debugging=None,
                 parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.session_model, self.palette = session_model, palette
        self.units_panel, self.debugging = units_panel, debugging
        self.order = np.zeros(0, int)
        self.heat: dict[str, HeatPlot] = {}
        self.kind: CellKind | None = None      # the cell kind the boxes and columns were made for
        self.visible: list[str] = []
        self._chosen: dict[str, bool] = {}     # maps shown or hidden by the user, by name
        self.columns: tuple[str, ...] = ()     # the statistics table's, for the kind
        self.diff_fork = ""
        self.diff_signal = "h"
        self._drawn_t: int | None = None
        self.stats = None
        self.grads = None              # gui.grad_model.GradModel, when the window has one
        self._stale = False            # a rebuild waits until the view is shown
        self._drawn: tuple[int, int, int, str] | None = None   # run, units, steps, kind drawn
        self.strip: InputStrip | None = None   # what each step reads, under the maps
        self._build_ui()
        session_model.runChanged.connect(self.rebuild)
        session_model.positionChanged.connect(self.on_position)
        session_model.spanChanged.connect(self.rebuild)      # a checkpointed run's next span
        session_model.selectionChanged.connect(self._selection)
        if debugging is not None:
            debugging.overlayChanged.connect(self._overlay_changed)
            debugging.forksChanged.connect(self._forks_changed)

    # --- widgets -----------------------------------------------------------------------------
    def _build_ui(self) -> None:
        """Three tabs, each its own widget; the view drives the widgets they hold."""
        layout = QVBoxLayout(self)
        layout.setContentsMargins(2, 2, 2, 2)
        self.tabs = QTabWidget()
        layout.addWidget(self.tabs)
        heat = self.heat_page = HeatPage(self.palette)
        kernels = self.kernel_page = KernelPage(self.palette)
        what = self.what_if_page = WhatIfPage(self.palette)
        self.tabs.addTab(heat, "Heat-maps && statistics")
        self.tabs.addTab(kernels, "Kernels")
        self.tabs.addTab(what, "Coupling what-ifs")
        self.signal_boxes, self.glw, self.table, self.info = heat.signal_boxes, heat.glw, heat.table, heat.info
        self.kernel_glw, self.kernel_info = kernels.glw, kernels.info
        self.perturb_unit, self.perturb_step, self.perturb_delta = what.unit, what.step, what.delta
        self.diff_combo, self.diff_info = what.signal_combo, what.info
        what.on_chart_made = self._diff_chart_made
        self.diff_data = np.zeros((0, 0), np.float32)
        heat.table.cellClicked.connect(self._table_clicked)
        heat.glw.scene().sigMouseMoved.connect(self._mouse_moved)
        heat.glw.scene().sigMouseClicked.connect(self._mouse_clicked)
        what.decouple_button.clicked.connect(self.decouple)
        what.perturb_button.clicked.connect(lambda: self.perturb(what.unit.value(), what.step.value(),
                                                                 what.delta.value()))
        what.signal_combo.currentTextChanged.connect(self._diff_signal_changed)

    # the what-if tab's chart, made when that tab is first shown (layer_pages.WhatIfPage)
    diff_glw = property(lambda self: self.what_if_page.glw)
    diff_plot = property(lambda self: self.what_if_page.plot)
    diff_image = property(lambda self: self.what_if_page.image)
    diff_bar = property(lambda self: self.what_if_page.bar)
    diff_cursor = property(lambda self: self.what_if_page.cursor)

    def _diff_chart_made(self) -> None:
        """The what-if chart was just made: draw in it what the view drew before it existed."""
        if self.session_model.ready and self._drawn is not None:
            self._move_cursor()
            self._show_no_fork()     # the run's extent, as a chart made with the window was given
            self._show_diff()

    # --- building ----------------------------------------------------------------------------
    def _follow_kind(self) -> None:
        """The maps, statistics and fork signals of the run's cell kind, made again when a run
        of another kind opens: its signals' maps are shown unless the user hid one of that
        name (and the maps the user chose, such as the gradient's)."""
        kind = self.session_model.cell_kind
        if kind is None or kind is self.kind:
            return
        self.kind = kind
        self.visible = [n for n in heat_signals(kind) if self._chosen.get(n, n in kind.display_order)]
        self.columns = stat_columns(kind)
        self.heat_page.set_signals(kind, self.visible, self.palette)
        self.signal_boxes = self.heat_page.signal_boxes
        for name, box in self.signal_boxes.items():
            box.toggled.connect(lambda on, n=name: self.set_signal_visible(n, on))
        self.what_if_page.set_signals(kind)
        self.diff_signal = "h"

    def _lane_order(self, n: int) -> np.ndarray:
        order = getattr(self.units_panel, "order", None)
        if order is None or len(order) == 0 or int(np.max(order)) >= n:   # not this run's lanes
            return np.arange(n)
        return np.asarray(order, int)

    def rebuild(self, force: bool = False) -> None:
        """Every map, the statistics and the kernels for the current run. Hidden (a tab behind
        another dock) the work waits for the first show or an export (``force``): opening a
        model builds only what is on screen (docs/architecture.md, "How to add a view")."""
        self._follow_kind()          # the check boxes follow the run's kind even while hidden
        if not force and not self.on_screen():
            self._stale = True
            return
        self._stale = False
        self.glw.clear()
        self.heat.clear()
        self.strip = None
        self.colour_bars: dict[str, pg.ColorBarItem] = {}
        self._drawn_t = None
        self._drawn = None
        if not self.session_model.ready:
            return
        full = self.session_model.full()
        self.order = self._lane_order(full.units)
        self._drawn = (self.session_model.run, full.units, self.session_model.steps, self.kind.name)
        first: pg.PlotItem | None = None
        for name in self.visible:
            heat = self._add_heat_plot(name, full, link_to=first)
            first = first or heat.plot
        if self.heat:
            self._lay_out_maps()
            first.setRange(xRange=(full.start - 0.5, full.start + full.steps - 0.5),
                           yRange=(0, len(self.order)), padding=0)
        else:
            self.glw.setMinimumHeight(PLOT_MIN_HEIGHT + TIME_AXIS_ROOM + 8)
        self._drawn_t = self.session_model.t
        self._move_cursor()
        self._fill_stats(full)
        self._fill_kernels(full)
        self.perturb_unit.setRange(0, max(full.units - 1, 0))
        self.perturb_step.setRange(0, max(full.steps - 1, 0))
        self._show_diff()

    def _add_heat_plot(self, name: str, full, link_to: pg.PlotItem | None) -> HeatPlot:
        """One signal's map (units down, time across) in the next row, with its colour bar;
        every map shares the first one's axes."""
        plot = self.glw.addPlot(row=len(self.heat), col=0, axisItems={"left": UnitTicks(self.order)},
                                **NO_MENU)
        plot.hideButtons()
        plot.getViewBox().invertY(True)
        plot.getViewBox().setDefaultPadding(0.0)
        style_axes(plot, self.palette)
        kind = self.kind
        label = f"{signal_label(name, kind)} · unit" if self.palette.printing else signal_label(name, kind)
        if name == GRADIENT_MAP:              # the long name would run into its neighbours
            label = f"|∂/∂{symbol(kind, carried(kind))}|"
        set_axis_label(plot, "left", label, self.palette,
                       self.palette.signal(name) if is_signal(kind, name) else None)
        plot.getAxis("left").setWidth(LEFT_AXIS_PX)
        if link_to is not None:
            plot.setXLink(link_to)
            plot.setYLink(link_to)
        heat = HeatPlot(plot, name, self.palette, kind)
        if name == GRADIENT_MAP:
            image, levels = self._grad_image(full)
        else:
            sample = self.session_model.sample
            values = trace_image(full, name, sample)
            image = self.session_model.as_read(per_unit(values, full.units)[:, self.order]).T
            levels = _levels(name, full, values)
        heat.set_data(image, levels, start=full.start)
        self.heat[name] = heat
        self.colour_bars[name] = self._colour_bar(name, levels)
        return heat

    def _lay_out_maps(self) -> None:
        """Equal map heights, under the maps what each step reads (holding the time axis), and
        each colour bar beside its own map (inset so its end labels stay level with it)."""
        rows = len(self.heat)
        for heat in self.heat.values():
            heat.plot.getAxis("bottom").setStyle(showValues=False)
            heat.plot.setMinimumHeight(PLOT_MIN_HEIGHT)
            heat.plot.setPreferredHeight(PLOT_MIN_HEIGHT)
        strip_plot = self.glw.addPlot(row=rows, col=0, **NO_MENU)
        strip_plot.setXLink(self.heat[self.visible[0]].plot)
        style_axes(strip_plot, self.palette)
        strip_plot.getAxis("left").setWidth(LEFT_AXIS_PX)
        set_time_axis_label(strip_plot, "time step t" if self.palette.printing
                            else "time step t (input position)", self.palette)
        self.strip = InputStrip(strip_plot, self.session_model, self.palette)
        self.strip.rebuild()
        # the strip sized itself for an axis not laid out yet: give the time axis its room
        laid = int(strip_plot.getAxis("bottom").height())
        strip_px = int(strip_plot.minimumHeight()) - laid + TIME_AXIS_ROOM
        strip_plot.setFixedHeight(strip_px)
        self.glw.setMinimumHeight(PLOT_MIN_HEIGHT * rows + strip_px + 8 + 2 * rows)
        # never a sliver: one whole map and the time axis show at once; a shorter dock
        # scrolls the whole view (the dock's scroll area), more maps scroll here
        frame = 2 * self.heat_page.maps.frameWidth()
        self.heat_page.maps.setMinimumHeight(PLOT_MIN_HEIGHT + strip_px + 8 + 2 + frame)
        for row, bar in enumerate(self.colour_bars.values()):
            below = 0.0
            holder = pg.GraphicsLayout()
            holder.setContentsMargins(0, 0, 0, 0)
            holder.setSpacing(0)
            holder.addItem(pg.GraphicsWidget(), row=0, col=0)
            holder.addItem(bar, row=1, col=0)
            holder.addItem(pg.GraphicsWidget(), row=2, col=0)
            holder.layout.setRowFixedHeight(0, COLOUR_BAR_INSET)
            holder.layout.setRowFixedHeight(2, COLOUR_BAR_INSET + below)
            holder.layout.setRowStretchFactor(1, 1)
            # a fixed column: a holder left to size itself took half the width from the maps
            holder.setMinimumWidth(COLOUR_BAR_COLUMN)
            holder.setMaximumWidth(COLOUR_BAR_COLUMN)
            self.glw.addItem(holder, row=row, col=1)
        self.glw.ci.layout.setColumnStretchFactor(0, 1)
        self.glw.ci.layout.setColumnFixedWidth(1, COLOUR_BAR_COLUMN)

    def _colour_bar(self, name: str, levels: tuple[float, float]) -> pg.ColorBarItem:
        """The map's colour scale, so a heat-map (and its export) can be read by itself."""
        bar = pg.ColorBarItem(values=levels, colorMap=_cmap(name, self.kind), interactive=False, width=10,
                              pen=self.palette.grid, colorMapMenu=False)
        bar.getAxis("right").setPen(self.palette.foreground)
        bar.getAxis("right").setTextPen(self.palette.foreground)
        font = tick_font(dataclasses.replace(self.palette, font_pt=min(self.palette.font_pt, 10.0)))
        bar.getAxis("right").setStyle(tickFont=font)
        _label_bar(bar, name, levels)
        if name == GRADIENT_MAP:
            bar.setToolTip(f"|∂target/∂{symbol(self.kind, carried(self.kind))}|: colour scale, log10 "
                           "(six decades below the peak)")
        else:
            bar.setToolTip(f"{signal_label(name, self.kind)}: colour scale")
        return bar

    def apply_palette(self, palette: Palette) -> None:
        """Restyle for a theme switch or an export (the print palette), then redraw. A change of
        pen width alone (an export figure's scale, ``Palette.scaled``) restyles the cursor
        lines, the only pens that width sizes, instead of drawing every map again."""
        if dataclasses.replace(self.palette, line_width=palette.line_width) == palette:
            self.palette = palette
            self._set_cursor_pens()
            return
        self.palette = palette
        what = self.what_if_page
        what.palette = palette
        what.cursor_pen = pg.mkPen(palette.cursor, width=max(2.0, 1.4 * palette.line_width))
        for glw in (self.glw, self.kernel_glw, *([what.glw] if what.has_chart() else [])):
            glw.setBackground(palette.background)
        for name, box in self.signal_boxes.items():
            if is_signal(self.kind, name):
                box.setStyleSheet(f"QCheckBox {{ color: {palette.signal_text(name)}; font-weight: bold; }}")
        if what.has_chart():
            self.diff_cursor.setPen(what.cursor_pen)
        first = next(iter(self.heat.values()), None)
        view_range = first.plot.getViewBox().viewRange() if first is not None else None
        self.rebuild(force=not self._stale)      # built before: restyle now, keeping the zoom
        first = next(iter(self.heat.values()), None)
        if view_range is not None and first is not None:    # keep the user's zoom
            first.plot.setRange(xRange=view_range[0], yRange=view_range[1], padding=0)

    def _set_cursor_pens(self) -> None:
        """The cursor lines of the maps, the strip under them and the what-if map."""
        pen = pg.mkPen(self.palette.cursor, width=max(2.0, 1.4 * self.palette.line_width))
        for heat in self.heat.values():
            heat.cursor.setPen(pen)
        if self.strip is not None:
            self.strip.palette = self.palette
            self.strip.cursor.setPen(pen)
        what = self.what_if_page           # its chart may not be made yet: it takes them then
        what.palette, what.cursor_pen = self.palette, pen
        if what.has_chart():
            self.diff_cursor.setPen(pen)

    def set_signal_visible(self, name: str, on: bool) -> None:
        """Show or hide one map; the choice is kept by name for runs of other kinds too."""
        self._chosen[name] = on
        if self.kind is None:
            return                  # nothing open yet: the first run's kind applies it
        if on and name not in self.visible:
            self.visible = [n for n in heat_signals(self.kind) if n in self.visible or n == name]
        elif not on and name in self.visible:
            self.visible.remove(name)
        box = self.signal_boxes.get(name)
        if box is not None and box.isChecked() != on:
            box.setChecked(on)
        self.rebuild()

    # --- stepping ----------------------------------------------------------------------------
    def showEvent(self, event) -> None:  # noqa: N802 (Qt API)
        super().showEvent(event)
        self.catch_up()

    def catch_up(self) -> None:
        """Shown again (or its tab came to the front): build or fill what waited."""
        if self.session_model.ready:
            self.on_position(self.session_model.t)

    def on_position(self, t: int, force: bool = False) -> None:
        """Fill the columns read or forgotten since the last draw. Hidden, it waits (and
        catches up from ``_drawn_t`` when shown) unless ``force`` (an export of a hidden view)."""
        if not force and not self.on_screen():
            return
        if self._stale:
            self.rebuild(force=True)        # built for the first time since the run changed
            return
        if not self.session_model.ready or self._drawn_t is None:
            return

        session = self.session_model.session
        if not np.array_equal(self._lane_order(session.units), self.order):
            self.rebuild()          # the units panel re-sorted its lanes
            return
        lo, hi = sorted((self._drawn_t, t))
        full = self.session_model.full()
        read = self.session_model.read_columns()
        sample = self.session_model.sample
        order = session.recorded()
        p_lo, p_hi = span_indices(session, full.start, full.start + full.steps)
        for p in range(max(lo, p_lo), min(hi, session.steps, p_hi)):   # read or forgotten
            pos = order.position(p)
            if not 0 <= pos - full.start < full.steps:
                continue                  # outside a checkpointed run's span
            for name, heat in self.heat.items():
                if name == GRADIENT_MAP:
                    continue              # the whole run's gradient, redrawn by _grads_changed
                if read.start <= pos - full.start < read.stop:
                    column = per_unit(trace_column(full, name, sample, pos - full.start),
                                      session.units)[self.order]
                else:                     # forgotten (stepped back)
                    column = np.full(len(self.order), np.nan, np.float32)
                heat.set_column(pos, column)
        self._drawn_t = t
        self._move_cursor()

    def _move_cursor(self) -> None:
        session = self.session_model.session
        cursor = session.cursor
        x = cursor if cursor is not None else (-0.5 if not session.backward else session.steps - 0.5)
        for heat in self.heat.values():
            heat.cursor.setPos(x)
        if self.strip is not None:
            self.strip.set_cursor(x)
        if self.what_if_page.has_chart():
            self.diff_cursor.setPos(x)
        if cursor is not None:
            self.perturb_step.setValue(cursor)

    # --- statistics and kernels ----------------------------------------------------------------
    def _fill_stats(self, full: LayerTrace) -> None:
        st = unit_stats(full, self.session_model.sample)
        self.stats = st
        n = full.units
        kind = self.kind
        values = {"unit": np.arange(n), "max |h|": st.max_abs_h, "dead": st.dead.astype(float),
                  "horizon": self._horizon(n)}
        for name in kind.states:
            values[f"mean {symbol(kind, name)}"] = st.mean[name]
            values[f"var {symbol(kind, name)}"] = st.variance[name]
        for gate in kind.display_gates:
            values[f"sat {gate}"] = st.saturation[gate]
        if kind.carry is not None:
            values[f"half-life {kind.carry}"] = st.half_life
        cols = [per_unit(np.asarray(values[c], float), n) for c in self.columns]   # projected h: "—"
        self.table.setSortingEnabled(False)
        self.table.setRowCount(n)
        for r in range(n):
            for c, col in enumerate(cols):
                v = float(col[r])
                if c == 0 or self.columns[c] == "dead":
                    text = str(int(v)) if c == 0 else ("dead" if v else "")
                elif not np.isfinite(v):
                    text = ("whole run" if self.columns[c] == "horizon" else "∞") if v > 0 else "—"
                else:
                    text = f"{v:.4g}"
                self.table.setItem(r, c, NumberItem(text, v))
        self.table.setSortingEnabled(True)
        header = self.table.horizontalHeader()
        self.table.sortItems(header.sortIndicatorSection() if header.isSortIndicatorShown() else 0,
                             header.sortIndicatorOrder())
        dead = int(st.dead.sum())
        self.info.setText(f"{n} units · {dead} dead (|h| never above {st.dead_threshold:g}) · "
                          "click a heat-map to select a unit and step")

    # --- gradients (numbers from the engine through gui.grad_model) ----------------------------
    def set_gradients(self, grads) -> None:
        """Show the gradient target's |d target / d C| map and memory horizons."""
        self.grads = grads
        grads.changed.connect(self._grads_changed)
        if GRADIENT_MAP not in self.visible:
            self.set_signal_visible(GRADIENT_MAP, True)

    def _grad_image(self, full: LayerTrace) -> tuple[np.ndarray, tuple[float, float]]:
        """(rows, T) log10 |d target / d C| in lane order, and its colour levels."""
        view = self._current_grads()
        dc = None if view is None else np.abs(view.carried[full.start:full.start + full.steps])  # the span
        if dc is None or dc.shape != (full.steps, full.units):
            return np.full((len(self.order), full.steps), np.nan, np.float32), (-GRAD_DECADES, 0.0)
        with np.errstate(divide="ignore"):
            logs = np.log10(dc[:, self.order].T).astype(np.float32)
        finite = logs[np.isfinite(logs)]
        top = float(finite.max()) if finite.size else 0.0
        # an exact 0 on a step already read is the bottom of the scale, not a gap in the map
        read = np.zeros(logs.shape[1], bool)
        known = self.session_model.session.known()
        read[max(0, known.start - full.start):max(0, known.stop - full.start)] = True
        zero = np.isneginf(logs) & read[None, :]
        logs[~np.isfinite(logs)] = np.nan
        logs[zero] = top - GRAD_DECADES
        return logs, (top - GRAD_DECADES, top)

    def _current_grads(self):
        """The gradient views' numbers when they belong to the run the maps show, else None."""
        view = self.grads.view if self.grads is not None else None
        if view is None or self._drawn is None or view.run != self._drawn[0]:
            return None
        return view

    def _horizon(self, n: int) -> np.ndarray:
        view = self._current_grads()
        if view is None or view.horizon.shape[0] != n:
            return np.full(n, np.nan)
        return view.horizon

    def _grads_changed(self) -> None:
        """A gradient arrived: drawn into the maps of the run it was computed for only (a view
        waiting behind its tab rebuilds, with the latest gradient, when it comes to the front)."""
        if not self.session_model.ready or self._stale or self._drawn is None:
            return
        full = self.session_model.full()
        heat = self.heat.get(GRADIENT_MAP)
        if heat is not None:
            image, levels = self._grad_image(full)
            heat.set_data(image, levels)
            bar = getattr(self, "colour_bars", {}).get(GRADIENT_MAP)
            if bar is not None:
                bar.setLevels(levels)
                _label_bar(bar, GRADIENT_MAP, levels)     # the decades of these levels
        col = self.columns.index("horizon")
        horizon = self._horizon(full.units)
        changed = []
        for r in range(self.table.rowCount()):
            unit = int(self.table.item(r, 0).value)
            v = float(horizon[unit])
            text = "whole run" if np.isinf(v) else ("—" if np.isnan(v) else f"{v:.0f}")
            item = self.table.item(r, col)
            if not isinstance(item, NumberItem) or not item.shows(text, v):
                changed.append((r, text, v))
        if not changed:       # a gradient per step: most leave every horizon as it was
            return
        self.table.setSortingEnabled(False)
        for r, text, v in changed:
            self.table.setItem(r, col, NumberItem(text, v))
        self.table.setSortingEnabled(True)

    def shown(self) -> Shown | None:
        """The run the maps were drawn for and where their cursor stands (gui/shown.py); None
        while the view waits behind its tab to rebuild."""
        if self._stale or self._drawn is None or not self.session_model.ready or not self.on_screen():
            return None
        run, units, steps, kind = self._drawn
        x = next(iter(self.heat.values())).cursor.value() if self.heat else self.diff_cursor.value()
        return Shown(run, units, steps, cursor_at(x, steps, self.session_model.session.backward), kind)

    def stat_value(self, unit: int, column: str) -> float:
        """The number the table shows for a unit and column (for tests)."""
        c = self.columns.index(column)
        for r in range(self.table.rowCount()):
            if int(self.table.item(r, 0).value) == unit:
                return self.table.item(r, c).value
        raise KeyError(unit)

    def _fill_kernels(self, full: LayerTrace) -> None:
        self.kernel_glw.clear()
        self.kernel_images: dict[str, pg.ImageItem] = {}
        w = full.weights
        rec = recurrent_blocks(w, self.order) if w.state_size == w.units else {}
        inp = input_blocks(w, self.order)
        for col, gate in enumerate(self.kind.display_gates or self.kind.parts):   # an RNN: one block
            for row, (kind, blocks) in enumerate((("U", rec), ("W", inp))):
                if gate not in blocks:
                    continue
                block = blocks[gate]
                plot = self.kernel_glw.addPlot(row=row, col=col, **NO_MENU)
                plot.hideButtons()
                plot.getViewBox().invertY(True)
                plot.setTitle(f"<span style='color:{self.palette.signal(gate)}'>{kind}<sub>{gate}</sub></span>"
                              f" ({block.shape[0]}×{block.shape[1]})")
                m = float(np.abs(block).max()) or 1.0
                item = pg.ImageItem(axisOrder="row-major")
                item.setLookupTable(pg.colormap.get("CET-D1").getLookupTable(nPts=256, alpha=False))
                item.setImage(np.asarray(block, np.float32), levels=(-m, m), autoLevels=False)
                plot.addItem(item)
                plot.getViewBox().setAspectLocked(False)
                self.kernel_images[f"{kind}_{gate}"] = item

    # --- what-ifs --------------------------------------------------------------------------------
    def _debugger(self):
        dm = self.debugging
        if dm is None or not dm.ready:
            return None
        return dm.debugger

    def _report(self, message: str) -> None:
        self.diff_info.setText(f"<span style='color:#d62728'>{message}</span>")

    def decouple(self):
        dbg = self._debugger()
        if dbg is None:
            return None
        try:
            fork = dbg.decouple()
        except ScopeError as exc:
            self._report(str(exc))
            return None
        self._show_fork(fork.name)
        return fork

    def perturb(self, unit: int, position: int, delta: float):
        dbg = self._debugger()
        if dbg is None:
            return None
        try:
            fork = dbg.perturb(unit, delta, position=position)
        except ScopeError as exc:
            self._report(str(exc))
            return None
        self._show_fork(fork.name)
        return fork

    def _show_fork(self, name: str) -> None:
        self.diff_fork = name
        self.tabs.setCurrentIndex(2)
        if self.debugging is not None:
            self.debugging.set_overlay(name)     # the lanes show it dashed too
        self._show_diff()

    def _overlay_changed(self, name: str) -> None:
        if name and name != self.diff_fork:
            self.diff_fork = name
            self._show_diff()

    def _forks_changed(self) -> None:
        dbg = self._debugger()
        if self.diff_fork and (dbg is None or self.diff_fork not in dbg.forks.forks):
            self.diff_fork = ""
            self._show_diff()

    def _diff_signal_changed(self, name: str) -> None:
        self.diff_signal = name
        self._show_diff()

    def _show_diff(self) -> None:
        if self._stale:
            return                  # not built for this run yet: the rebuild shows the diff
        dbg = self._debugger()
        if not self.diff_fork or dbg is None or self.diff_fork not in dbg.forks.forks:
            self.diff_data = np.zeros((0, 0), np.float32)
            if self.what_if_page.has_chart():
                self.diff_image.clear()
            self._show_no_fork()
            return
        fork = dbg.forks.get(self.diff_fork)
        diff = fork.diff(self.diff_signal)[self.session_model.sample]          # (T, N) fork minus parent
        self.diff_data = np.ascontiguousarray(diff[:, self.order].T, np.float32)
        scaled = self.diff_data
        if fork.edit.kind != "decouple":     # the edited column itself would swamp the response
            scaled = np.delete(scaled, fork.edit.position, axis=1)
        with np.errstate(invalid="ignore"):
            m = float(np.nanmax(np.abs(scaled))) if np.isfinite(scaled).any() else 0.0
        m = m if m > 0 else 1e-6
        parent = "the real run" if dbg.forks.parent_name(fork) is None else f"fork '{dbg.forks.parent_name(fork)}'"
        self.diff_info.setText(f"fork '{fork.name}' — {fork.edit.describe()} · max |difference| "
                               f"{m:.4g}" + ("" if fork.edit.kind == "decouple" else " after the edited step (its column saturates)")
                               + " · red/blue: the fork is above/below the real run")
        if not self.what_if_page.has_chart():
            return                  # drawn when the tab is first shown
        self.diff_image.setImage(self.diff_data, levels=(-m, m), autoLevels=False)
        self.diff_image.setRect(-0.5, 0, self.diff_data.shape[1], self.diff_data.shape[0])
        self.diff_bar.setLevels((-m, m))
        self.diff_plot.setTitle(f"{signal_label(self.diff_signal, self.kind)}: fork '{fork.name}' minus {parent}")

    def _show_no_fork(self) -> None:
        """The empty state: the run's steps and units as the axes a fork's difference will fill
        (not pyqtgraph's default range around the cursor line), and a title saying what will."""
        self.diff_info.setText("no fork yet: Decouple units or Perturb to compare with the real run")
        if not self.what_if_page.has_chart():
            return                  # drawn when the tab is first shown
        self.diff_plot.setTitle("a fork's difference from the real run will show here: "
                                "one row per unit, one column per step")
        if self._drawn is not None:
            _, _, steps, _ = self._drawn
            self.diff_plot.setRange(xRange=(-0.5, steps - 0.5), yRange=(0, len(self.order)),
                                    padding=0)

    # --- mouse -----------------------------------------------------------------------------------
    def _hit(self, scene_pos):
        for name, heat in self.heat.items():
            if heat.plot.sceneBoundingRect().contains(scene_pos):
                p = heat.plot.getViewBox().mapSceneToView(scene_pos)
                row, pos = int(np.floor(p.y())), int(np.round(p.x()))
                if 0 <= row < len(self.order) and 0 <= pos < heat.data.shape[1]:
                    return name, int(self.order[row]), pos, float(heat.data[row, pos])
        return None

    def _mouse_moved(self, scene_pos) -> None:
        hit = self._hit(scene_pos)
        if hit is not None:
            name, unit, pos, v = hit
            text = "not read yet" if np.isnan(v) else f"{v:+.5g}"
            if name == GRADIENT_MAP:
                text = "0" if np.isnan(v) else f"{10.0 ** v:.3g}"
            self.info.setText(f"{signal_label(name, self.kind)} · unit {unit} · t = {pos} · {text}")

    def _mouse_clicked(self, event) -> None:
        if event.button() != Qt.LeftButton:
            return
        hit = self._hit(event.scenePos())
        if hit is not None:
            self.session_model.select(hit[1], hit[2])

    def _selection(self, unit: int, position: int) -> None:
        """The selected unit (a lane click, Ctrl+U) is the statistics table's selected row."""
        if unit >= 0:
            self.perturb_unit.setValue(unit)
        for row in range(self.table.rowCount()):
            item = self.table.item(row, 0)
            if item is not None and int(item.value) == unit:
                # that row alone: selectRow reads the keyboard's modifiers, and a stop on
                # Shift+F5 (Shift held) selected from the last row as a Shift-click would
                self.table.selectionModel().setCurrentIndex(
                    self.table.model().index(row, 0),
                    QItemSelectionModel.ClearAndSelect | QItemSelectionModel.Rows)
                self.table.scrollToItem(item)
                return
        self.table.clearSelection()

    def _table_clicked(self, row: int, col: int) -> None:
        item = self.table.item(row, 0)
        if item is not None:
            self.session_model.select(int(item.value), self.session_model.selected_position)


def _label_bar(bar: pg.ColorBarItem, name: str, levels: tuple[float, float]) -> None:
    """A colour bar's ticks for ``levels``: both ends and 0 between them; the gradient map's
    log10 colours at whole decades, written as powers of 10 (labelled again whenever its
    levels change, or the decades of the levels before stay)."""
    lo, hi = levels
    if name == GRADIENT_MAP:
        decades = range(int(np.ceil(lo)), int(np.floor(hi)) + 1)
        step = max(1, len(decades) // 3)
        ticks = [(float(k), decade_text(k)) for k in decades[::-1][::step]]
    else:
        values = [lo, hi] if lo >= 0 or hi <= 0 else [lo, 0.0, hi]
        ticks = [(v, f"{v:.2g}") for v in values]
    bar.getAxis("right").setTicks([ticks, []])
