"""The units panel under the pointer: which unit and step a point is, the engine's values
there (the hover read-out), clicking to select, the selected lane and step, Go to unit. Part
of ``UnitsPanel`` (gui/panels/units_panel.py)."""

from __future__ import annotations

from html import escape

import numpy as np
from PySide6.QtCore import Qt

from gui.panels.lane_plot import LEGIBLE_LANE_PX

GO_TO_LANES = 24          # Go to unit in a dense view zooms to about this many lanes


class UnitsPointer:
    """Part of ``UnitsPanel``: hover, selection and Go to unit."""

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
