"""Dense layers in the units panel: one image row per unit for one chosen signal, in lane order.

One RGBA image for the whole run (no tiles, so no seams between tiles at any zoom): the
colours of the full run are computed once, and a step only raises the alpha of the columns it
read (unread columns stay faint, like the lanes' ghosted future). Colour maps and levels are
the layer view's, so the two views agree. See docs/architecture.md, "The window".
"""

from __future__ import annotations

import warnings

import numpy as np
import pyqtgraph as pg

from engine.cells.cell_kind import CellKind
from engine.runs.trace import LayerTrace
from gui.panels.heat_maps import _cmap, _levels, trace_image
from gui.panels.lanes import per_unit
from gui.signals import is_sequential

MAX_COLUMNS = 8192      # pyqtgraph cannot render an RGBA image wider than 32767 (it crashed the
                        # window on a 33,000-step run): longer runs are averaged over blocks


def block_means(values: np.ndarray, block: int) -> np.ndarray:
    """(rows, ceil(T / block)) means of ``values`` (rows, T) over blocks of ``block`` columns
    (NaN ignored; a block with no number stays NaN)."""
    if block <= 1:
        return values
    rows, steps = values.shape
    padded = np.full((rows, -(-steps // block) * block), np.nan, np.float32)
    padded[:, :steps] = values
    with np.errstate(invalid="ignore"), warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)        # all-NaN blocks
        return np.nanmean(padded.reshape(rows, -1, block), axis=2)


class HeatStrips:
    """The units panel's heat-map mode: an ``ImageItem`` on the lanes' own coordinates (row r
    spans [r, r+1], column t is centred on t), so hover, selection and the cursor still work."""

    def __init__(self, plot: pg.PlotItem) -> None:
        self.plot = plot
        self.item = pg.ImageItem(axisOrder="row-major")
        self.item.setZValue(5)
        self.item.hide()
        plot.addItem(self.item)
        self.signal = "h"
        self.kind: CellKind | None = None      # of the run last coloured
        self.rgba = np.zeros((0, 0, 4), np.uint8)
        self.read_alpha, self.ghost_alpha = 255, 60
        self.levels = (0.0, 1.0)
        self.start = 0                  # input position of column 0 (a checkpointed run's span)
        self.block = 1                  # input positions per image column (long runs: more)

    def legend(self) -> str:
        """What the strips' colours mean, for a figure (there is no colour bar beside them)."""
        lo, hi = self.levels
        spec = self.kind.signal(self.signal)
        words = f"{spec.title} {spec.symbol}"          # "cell state C", "forget gate f"
        if is_sequential(self.kind, self.signal):
            scale = f"dark purple {lo:.2g} → yellow {hi:.2g} (viridis)"
        else:
            scale = f"blue {lo:.2g} → white 0 → red {hi:.2g}, linear"
        return f"colour: {words} of each unit at each step — {scale}"

    def set_run(self, full: LayerTrace, sample: int, order: np.ndarray, ghost: bool,
                ghost_alpha: int) -> None:
        """Colour the whole run (a checkpointed run: its span) of ``self.signal`` once (rows in
        lane order)."""
        self.kind = full.cell_kind
        values = per_unit(trace_image(full, self.signal, sample), full.units)[:, order].T  # (rows, T)
        self.levels = _levels(self.signal, full, values)
        steps = values.shape[1]
        self.block = max(1, -(-steps // MAX_COLUMNS))         # positions per image column
        values = block_means(values, self.block)
        lut = _cmap(self.signal, self.kind).getLookupTable(nPts=256, alpha=False).astype(np.uint8)
        lo, hi = self.levels
        with np.errstate(invalid="ignore"):
            scaled = np.clip((values - lo) / max(hi - lo, 1e-12), 0.0, 1.0) * 255.0
        finite = np.isfinite(scaled)
        index = np.where(finite, scaled, 0).astype(np.uint8)
        rows, columns = values.shape
        self.rgba = np.empty((rows, columns, 4), np.uint8)
        self.rgba[..., :3] = lut[index]
        self.finite = finite
        self.ghost_alpha = ghost_alpha if ghost else 0
        self.rgba[..., 3] = np.where(finite, self.ghost_alpha, 0)
        self.item.setImage(self.rgba, autoLevels=False)
        self.start = full.start
        self.item.setRect(self.start - 0.5, 0, max(steps, 1), max(rows, 1))

    def set_read(self, known: slice) -> None:
        """Full colour for the positions read (``known``), faint for the rest."""
        if not self.rgba.size:
            return
        alpha = np.full(self.rgba.shape[1], self.ghost_alpha, np.uint8)
        lo, hi = max(known.start - self.start, 0), max(known.stop - self.start, 0)
        if hi > lo:       # a block with any position read is drawn as read
            alpha[lo // self.block:-(-hi // self.block)] = self.read_alpha
        self.rgba[..., 3] = np.where(self.finite, alpha[None, :], 0)
        self.item.setImage(self.rgba, autoLevels=False)

    def show(self, on: bool) -> None:
        self.item.setVisible(on)


class OverviewStrips:
    """A checkpointed run zoomed out: one image row per unit over the *whole* run, drawn from
    the engine's overview (per bucket of positions, the middle of its min and max), never
    from recomputed steps; the span around the cursor draws over it in detail. Buckets the
    first pass has not reached yet are transparent. See docs/architecture.md, "Long runs"."""

    def __init__(self, plot: pg.PlotItem) -> None:
        self.plot = plot
        self.item = pg.ImageItem(axisOrder="row-major")
        self.item.setZValue(-8)
        self.item.setOpacity(0.55)
        self.item.hide()
        plot.addItem(self.item)
        self.values = np.zeros((0, 0), np.float32)       # (rows, buckets) what is drawn

    def clear(self) -> None:
        self.values = np.zeros((0, 0), np.float32)
        self.item.hide()

    def set_overview(self, overview, signal: str, sample: int, order: np.ndarray, units: int,
                     levels: tuple[float, float], kind: CellKind) -> None:
        lo, hi = overview.lo[signal][sample], overview.hi[signal][sample]       # (buckets, N)
        with np.errstate(invalid="ignore"):
            mid = per_unit((lo + hi) * np.float32(0.5), units)[:, order].T
        self.values = np.ascontiguousarray(mid, np.float32)
        lut = _cmap(signal, kind).getLookupTable(nPts=256, alpha=False).astype(np.uint8)
        a, b = levels
        with np.errstate(invalid="ignore"):
            scaled = np.clip((self.values - a) / max(b - a, 1e-12), 0.0, 1.0) * 255.0
        finite = np.isfinite(scaled)
        rgba = np.zeros((*self.values.shape, 4), np.uint8)
        rgba[..., :3] = lut[np.where(finite, scaled, 0).astype(np.uint8)]
        rgba[..., 3] = np.where(finite, 255, 0)
        rows, buckets = self.values.shape
        self.item.setImage(rgba, autoLevels=False)
        self.item.setRect(-0.5, 0, max(buckets * overview.bucket, 1), max(rows, 1))
        self.item.show()
