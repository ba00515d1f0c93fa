"""One signal's units x time heat-map, as the layer view and the units panel's strips draw it:
the signal's values read through the engine (``trace_column``, ``trace_image``), its colour
map and levels, the map's unit ticks and its tiled image (``HeatPlot``).

Drawing: each signal owns one (N, T) float32 array in the units panel's row order, displayed by
``ImageItem`` tiles of ``TILE`` time steps (one image per signal and time tile — never one per
unit). A step writes the new column into the array and re-renders only the tile holding it, so
the cost per step does not grow with T. Columns not read yet are NaN (drawn transparent).
"""

from __future__ import annotations

import dataclasses

import numpy as np
import pyqtgraph as pg
from PySide6.QtGui import QFontMetricsF

from engine.cells.cell_kind import CellKind
from engine.runs.trace import LayerTrace
from gui.panels.lanes import label_step
from gui.signals import (
    GRADIENT_MAP,
    carried,
    is_sequential,
    symbol,
)
from gui.theme import Palette

TILE = 256              # time steps per image tile: a step re-renders only its tile ...
MAX_TILES = 48          # ... but a long run gets wider tiles, never more than this many per
                        # map (300,000 steps made 9,400 images, seconds to build and to paint)


def signal_label(name: str, kind: CellKind) -> str:
    if name == GRADIENT_MAP:
        return f"log₁₀|∂target/∂{symbol(kind, carried(kind))}|"
    if name.startswith("z_"):
        return f"z_{name[2:]}  pre-activation"
    return symbol(kind, name)


def trace_column(trace: LayerTrace, name: str, sample: int, position: int) -> np.ndarray:
    """(N,) one signal at one input position, read through the engine's own ``signal``.

    For pre-activations the engine sums its parts (``LayerTrace.z``) on a one-column view, so a
    step costs O(N) instead of materialising the whole (B, T, 4, N) sum.
    """
    if name.startswith("z"):
        sl = (slice(sample, sample + 1), slice(position, position + 1))
        one = dataclasses.replace(trace, zx=trace.zx[sl], zh=trace.zh[sl],
                                  zp=None if trace.zp is None else trace.zp[sl])
        return one.signal(name)[0, 0]
    return trace.signal(name)[sample, position]


def trace_image(trace: LayerTrace, name: str, sample: int) -> np.ndarray:
    """(T, N) one signal for one sample (pre-activations summed by the engine for that sample)."""
    if name.startswith("z"):
        sl = slice(sample, sample + 1)
        one = dataclasses.replace(trace, zx=trace.zx[sl], zh=trace.zh[sl],
                                  zp=None if trace.zp is None else trace.zp[sl])
        return one.signal(name)[0]
    return trace.signal(name)[sample]


def _cmap(name: str, kind: CellKind) -> pg.ColorMap:
    if is_sequential(kind, name) or name == GRADIENT_MAP:
        return pg.colormap.get("viridis")
    return pg.colormap.get("CET-D1")      # diverging, 0 in the middle


def _levels(name: str, trace: LayerTrace, image: np.ndarray) -> tuple[float, float]:
    act = trace.weights.activation_of(name)
    if act is not None and act.bounded:
        return float(act.lo), float(act.hi)
    with np.errstate(invalid="ignore"):
        m = float(np.nanmax(np.abs(image))) if np.isfinite(image).any() else 1.0
    m = m if np.isfinite(m) and m > 0 else 1.0
    return (0.0, m) if name in trace.cell_kind.positive else (-m, m)


UPRIGHT_TITLE_CHARS = 2  # a map title this short (a symbol: f, C, h) stands upright


class UnitTicks(pg.AxisItem):
    """Left axis of a map: unit numbers at row centres (row r holds unit order[r]), thinned so
    that labels never overlap, and none on the edges a neighbouring map's labels meet. A
    symbol for a title stands upright at the axis's left edge, level with the map's middle:
    turned on its side, one letter read as a tick mark."""

    def __init__(self, order: np.ndarray) -> None:
        super().__init__("left")
        self.order = order

    def resizeEvent(self, ev=None) -> None:  # noqa: N802 (pyqtgraph API)
        super().resizeEvent(ev)
        label = self.label
        if label is None:
            return
        if len(label.toPlainText().strip()) > UPRIGHT_TITLE_CHARS:
            label.setRotation(-90)
            return
        label.setRotation(0)
        box = label.boundingRect()
        label.setPos(0, (self.size().height() - box.height()) / 2)

    def tickValues(self, minVal, maxVal, size):  # noqa: N802 (pyqtgraph API)
        n = len(self.order)
        lo, hi = sorted((minVal, maxVal))
        if n == 0 or size <= 0:
            return []
        font = self.style.get("tickFont")
        line = QFontMetricsF(font).height() if font is not None else 14.0
        per_row = size / max(hi - lo, 1e-9)
        step = label_step(per_row, max(16.0, 1.1 * line))    # the print font is taller
        first = max(0, int(np.ceil(lo - 0.5)))
        first += (-first) % step
        rows = [r + 0.5 for r in range(first, min(n - 1, int(np.floor(hi - 0.5))) + 1, step)]
        edge = 0.55 * line / per_row            # a label there would meet the next map's
        return [(step, [r for r in rows if r - lo >= edge and hi - r >= edge])]

    def tickStrings(self, values, scale, spacing):  # noqa: N802
        return [str(int(self.order[int(v)])) if 0 <= int(v) < len(self.order) else ""
                for v in values]


class HeatPlot:
    """One signal's units x time image (tiled in time), cursor and selection marker."""

    def __init__(self, plot: pg.PlotItem, name: str, palette: Palette, kind: CellKind) -> None:
        self.plot, self.name = plot, name
        self.data = np.zeros((0, 0), np.float32)         # (rows = units in lane order, T)
        self.tiles: list[pg.ImageItem] = []
        self.tile = TILE                                 # time steps per tile (see set_data)
        self.levels = (0.0, 1.0)
        self.start = 0          # input position of column 0 (a checkpointed run's span)
        self.lut = _cmap(name, kind).getLookupTable(nPts=256, alpha=False)
        self.cursor = pg.InfiniteLine(angle=90, movable=False,
                                      pen=pg.mkPen(palette.cursor, width=max(2.0, 1.4 * palette.line_width)))
        self.cursor.setZValue(50)
        plot.addItem(self.cursor)

    def set_data(self, data: np.ndarray, levels: tuple[float, float], start: int | None = None) -> None:
        self.start = self.start if start is None else int(start)
        for tile in self.tiles:
            self.plot.removeItem(tile)
        self.tiles = []
        self.data = np.ascontiguousarray(data, np.float32)
        self.levels = levels
        rows, steps = self.data.shape
        self.tile = max(TILE, -(-steps // MAX_TILES))
        for a in range(0, max(steps, 1), self.tile):
            b = min(a + self.tile, steps)
            item = pg.ImageItem(axisOrder="row-major")
            item.setLookupTable(self.lut)
            item.setZValue(-5)
            self.plot.addItem(item)
            self.tiles.append(item)
            self._render(len(self.tiles) - 1)
            item.setRect(self.start + a - 0.5, 0, max(b - a, 1), max(rows, 1))
        self.plot.getViewBox().setLimits(xMin=self.start - 1, xMax=self.start + steps + 1,
                                         yMin=0, yMax=max(rows, 1))

    def _render(self, k: int) -> None:
        a = k * self.tile
        view = self.data[:, a:a + self.tile]
        if view.size:
            self.tiles[k].setImage(view, levels=self.levels, autoLevels=False)

    def set_column(self, position: int, values: np.ndarray) -> None:
        """Write one column (values already in lane order) and re-render only its tile."""
        index = position - self.start
        if not 0 <= index < self.data.shape[1]:
            return              # outside a checkpointed run's span
        self.data[:, index] = values
        self._render(index // self.tile)


