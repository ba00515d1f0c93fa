"""The lanes' y scale: guide lines and a right-hand axis that reads each lane's band.

Every lane draws its gates in their activation's range (0..1 for σ) and C, h in ±peak (per unit,
or shared), all in one band [row + 0.08, row + 0.92] (``gui.panels.lanes.LaneScaler``). With the
scale on, dotted guides mark the band's top, middle and bottom, and the right axis labels them:
at the top of a lane "1 │ +5.2 │ +0.96" reads gate = 1, C = +5.2, h = +0.96 (the axis title
names the columns), in the middle gate = 0.5 and C = h = 0, at the bottom (tall lanes) the low
ends. So |C| > 1 can be read
off a lane by eye. Only numbers the scaler already holds are shown (no LSTM math).
"""

from __future__ import annotations

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import Qt

from gui.panels.lanes import LANE_HALF_HEIGHT, LaneScaler, label_step
from gui.theme import Palette

MIN_PX_BOTTOM = 110.0  # lanes at least this tall get a bottom label (it never meets the next top)
MIN_PX_MID = 42.0      # down to this, top and middle labels
MIN_PX_TOP = 16.0      # down to this, the top label only (thinned below)


def _fmt(value: float) -> str:
    return f"{value:+.3g}" if value else "0"


class LaneScaleAxis(pg.AxisItem):
    """Right axis: each lane's band read as gate | C | h values (see the module docstring)."""

    def __init__(self) -> None:
        super().__init__("right")
        self.order = np.zeros(0, int)
        self.scaler: LaneScaler | None = None
        self.columns: tuple[str, ...] = ()      # which of "gate", "c", "h" are shown

    def ends(self, unit: int, top: bool) -> list[str]:
        """The band's top (or bottom) as text, one entry per shown column."""
        out = []
        for col in self.columns:
            name = self.scaler.kind.ratio_gates[0] if col == "gate" else col
            lo, span = self.scaler.ranges[name]
            value = float(lo[unit] + span[unit]) if top else float(lo[unit])
            out.append(f"{value:g}" if col == "gate" else _fmt(value))
        return out

    def tickValues(self, minVal, maxVal, size):  # noqa: N802 (pyqtgraph API)
        n = len(self.order)
        if n == 0 or size <= 0 or self.scaler is None or not self.columns:
            return []
        lo, hi = sorted((minVal, maxVal))
        px = size / max(hi - lo, 1e-9)
        step = 1 if px >= MIN_PX_TOP else label_step(px, MIN_PX_TOP)
        first = max(0, int(np.floor(lo)))
        last = min(n - 1, int(np.ceil(hi)))
        first -= first % step
        rows = range(first, last + 1, step)
        edge = 0.5 - LANE_HALF_HEIGHT
        ticks = [r + edge for r in rows]
        if px >= MIN_PX_MID:
            ticks += [r + 0.5 for r in rows]
        if px >= MIN_PX_BOTTOM:
            ticks += [r + 1 - edge for r in rows]
        return [(1.0, sorted(ticks))]

    def tickStrings(self, values, scale, spacing):  # noqa: N802
        out = []
        for v in values:
            row = int(np.floor(v))
            if not 0 <= row < len(self.order) or self.scaler is None:
                out.append("")
                continue
            unit = int(self.order[row])
            frac = v - row
            if abs(frac - 0.5) < 1e-6:
                top, bottom = self.ends(unit, True), self.ends(unit, False)
                mid = [f"{(float(a) + float(b)) / 2:g}" if c == "gate" else "0"
                       for c, a, b in zip(self.columns, top, bottom)]
                out.append(" │ ".join(mid))
            else:
                out.append(" │ ".join(self.ends(unit, top=frac < 0.5)))
        return out


class LaneScale:
    """Owns the right axis and the guide lines of one lane plot; off until ``set_on(True)``."""

    def __init__(self, plot: pg.PlotItem, axis: LaneScaleAxis, palette: Palette) -> None:
        """``axis`` is the plot's right axis, given to it when it was made (``addPlot``)."""
        self.plot = plot
        self.on = False
        self.axis = axis
        plot.hideAxis("right")
        self.guides = pg.PlotCurveItem(connect="finite")
        self.zero = pg.PlotCurveItem(connect="finite")
        for item, z in ((self.guides, -5), (self.zero, -4)):
            item.setZValue(z)
            item.hide()
            plot.addItem(item)
        self.set_palette(palette)

    def set_palette(self, palette: Palette) -> None:
        self.guides.setPen(pg.mkPen(palette.grid, width=1, style=Qt.DotLine))
        self.zero.setPen(pg.mkPen(palette.grid, width=1, style=Qt.DashLine))
        self.axis.setPen(palette.foreground)
        self.axis.setTextPen(palette.foreground)

    def set_on(self, on: bool) -> None:
        self.on = on
        self.plot.showAxis("right", on)
        self.guides.setVisible(on)
        self.zero.setVisible(on)

    def update(self, order: np.ndarray, scaler: LaneScaler | None, signals: set[str],
               steps: int) -> None:
        """New lanes, scale or visible signals: relabel the axis and redraw the guides."""
        self.axis.order = order
        self.axis.scaler = scaler
        kind = scaler.kind if scaler is not None else None
        cols = [] if kind is None else (
            (["gate"] if signals & set(kind.ratio_gates) else []) + [s for s in kind.states if s in signals])
        self.axis.columns = tuple(cols)
        self.axis.setLabel("lane scale: " + " │ ".join("gates" if c == "gate" else kind.signal(c).symbol
                                                      for c in cols)
                           if cols else "")
        self.axis.picture = None
        self.axis.update()
        rows = len(order)
        if rows == 0 or scaler is None:
            self.guides.setData([], [])
            self.zero.setData([], [])
            return
        x0, x1 = -0.5, max(steps - 0.5, 0.5)
        edge = 0.5 - LANE_HALF_HEIGHT
        r = np.arange(rows, dtype=np.float32)
        ys = np.stack([r + edge, r + edge, np.full(rows, np.nan, np.float32),
                       r + 1 - edge, r + 1 - edge, np.full(rows, np.nan, np.float32)], axis=1)
        xs = np.tile(np.array([x0, x1, np.nan] * 2, np.float32), (rows, 1))
        self.guides.setData(xs.ravel(), ys.ravel(), connect="finite")
        zy = np.stack([r + 0.5, r + 0.5, np.full(rows, np.nan, np.float32)], axis=1)
        zx = np.tile(np.array([x0, x1, np.nan], np.float32), (rows, 1))
        self.zero.setData(zx.ravel(), zy.ravel(), connect="finite")
