"""The units panel's curves: each signal is a handful of batched curves — one
``PlotCurveItem`` per time chunk holding *all* lanes, NaN-separated (``connect="finite"``) —
never one plot per unit. A step rewrites only the chunks that hold the columns read or
forgotten since the last draw, so the cost per step does not grow with T; columns not yet read
are NaN in what a curve is given (``SessionModel.as_read``), so they are not drawn. Ghosts show
the rest of the run faintly; a fork's C and h are drawn over the lanes dashed (hidden with the
curves in heat mode). Part of ``UnitsPanel`` (gui/panels/units_panel.py)."""

from __future__ import annotations

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import Qt

from gui.panels.lanes import row_lines
from gui.session_model import span_indices
from gui.widgets.plot_batch import remove_plot_items

CHUNK = 16                # positions per curve item: a step redraws only its chunk's items
MAX_CHUNKS = 128          # ... but never more items than this per signal (a 300k-step run in
                          # memory made 225,000 curve items, minutes to build and slow to paint)


def set_curve(item: pg.PlotCurveItem, x: np.ndarray, y: np.ndarray) -> None:
    """A chunk's lanes, or no data where none of its values is drawn (not read yet, masked):
    an all-NaN curve strokes an empty path, and an SVG export writes it as ``d=""``, which
    SVG renderers refuse ("Invalid path data")."""
    if np.isfinite(y).any():
        item.setData(x, y, connect="finite")
    else:
        item.setData([], [])


class UnitsCurves:
    """Part of ``UnitsPanel``: the live and ghost curve items, stepping, the fork overlay."""

    def _make_items(self, n_chunks: int) -> None:
        """One ghost and one live curve item per signal and chunk of CHUNK positions.

        Items already in the plot for the same signals and chunk count are restyled and kept
        (their data is replaced when the run is drawn): a filter, sort, scale or theme change
        then changes what the curves hold, not the scene, where making and dropping ~1,100
        items cost most of a rebuild. Another shape drops them all and makes new ones, so the
        items always stand in the plot in the order a fresh build gives them."""
        names = list(self.kind.display_order)
        if list(self._live) == names and all(len(items) == n_chunks for items in self._live.values()):
            self._restyle_items()
            return
        self._drop_items()
        for name in names:
            live_pen, ghost_pen = self._pens(name)
            self._live[name] = []
            self._ghosts[name] = []
            for _ in range(n_chunks):
                ghost = pg.PlotCurveItem(pen=ghost_pen, connect="finite", antialias=self.palette.antialias)
                ghost.setZValue(1)
                ghost.setVisible(self.ghost and name in self.visible_signals)
                live = pg.PlotCurveItem(pen=live_pen, connect="finite", antialias=self.palette.antialias)
                live.setZValue(10 if name != "h" else 11)
                live.setVisible(name in self.visible_signals)
                self.plot.addItem(ghost)
                self.plot.addItem(live)
                self._ghosts[name].append(ghost)
                self._live[name].append(live)

    def _pens(self, name: str) -> tuple[pg.QtGui.QPen, pg.QtGui.QPen]:
        """A signal's live and ghost pens in the current palette."""
        colour = pg.mkColor(self.palette.signal(name))
        ghost_colour = pg.mkColor(colour)
        ghost_colour.setAlpha(self.palette.ghost_alpha)
        width = self.palette.line_width
        return pg.mkPen(colour, width=width), pg.mkPen(ghost_colour, width=width)

    def _restyle_items(self) -> None:
        """Kept items as new ones would be: the palette's pens and smoothing, shown as the
        signal boxes say, paths split as on screen (an SVG export strokes them whole)."""
        smooth = self.palette.antialias
        for name, lives in self._live.items():
            live_pen, ghost_pen = self._pens(name)
            for live, ghost in zip(lives, self._ghosts[name]):
                for item, pen, shown in ((ghost, ghost_pen, self.ghost), (live, live_pen, True)):
                    if item.opts["pen"] != pen:
                        item.setPen(pen)
                    item.opts["antialias"] = smooth
                    if item.opts["segmentedLineMode"] != "auto":
                        item.setSegmentedLineMode("auto")
                    item.setVisible(shown and name in self.visible_signals)

    def _drop_items(self) -> None:
        """Every live and ghost item out of the plot (in one batch: see plot_batch)."""
        self._ghosts_filled = False
        remove_plot_items(self.plot, [item for group in (self._live, self._ghosts)
                                      for items in group.values() for item in items])
        self._live.clear()
        self._ghosts.clear()

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
                set_curve(item, *self._chunk_xy(full, name, k))
        self._ghosts_filled = True

    def _forget_ghosts(self) -> None:
        """The ghosts no longer match the run or span drawn: emptied (their arrays freed) until
        curves are drawn again."""
        if self._ghosts_filled:
            for items in self._ghosts.values():
                for item in items:
                    item.setData([], [])
        self._ghosts_filled = False

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
                set_curve(items[k], *self._chunk_xy(full, name, k, as_read=True))
                self._ghosts[name][k].setVisible(needs_ghost and self.ghost and name in self.visible_signals)

    def set_whole_paths(self, on: bool) -> None:
        """Stroke each curve as one path (SVG export: one <path> per chunk, not one element per
        segment); off lets pyqtgraph split wide pens into segments, faster on screen."""
        for group in (self._live, self._ghosts):
            for items in group.values():
                for item in items:
                    item.setSegmentedLineMode("off" if on else "auto")

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
            item.setVisible(self.mode != "heat")       # over colour strips it hides every row
            self.plot.addItem(item)
            self._overlay_items.append(item)
