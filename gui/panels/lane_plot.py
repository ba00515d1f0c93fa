"""The units panel's plot parts: the view box the lanes live in and the axis naming them
(gui/panels/units_panel.py draws into them), and when lanes are too dense to read as curves."""

from __future__ import annotations

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import Qt
from PySide6.QtGui import QFont, QFontMetricsF

from gui.panels.lanes import label_step

LEGIBLE_LANE_PX = 7.0     # below this many pixels per lane, "auto" draws heat-map strips
LEGIBLE_STEPS_PER_PX = 4.0  # ... and above this many steps per pixel (a curve is a solid band)


class LaneViewBox(pg.ViewBox):
    """Wheel zooms time only (Ctrl+wheel: units, Shift+wheel: scrolls units); a double-click
    shows the whole run again."""

    def __init__(self) -> None:
        super().__init__(enableMenu=False)     # the lanes offer no context menu
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
