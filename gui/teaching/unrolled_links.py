"""The unrolled view's links: lines from h(t-1) of a unit to the units reading it at t, the
coupling through U drawn between consecutive read columns (each unit's strongest links, every
link into a hovered cell), batched by colour and thickness class so a paint makes a handful of
drawLines calls. A mixin of the canvas; U's numbers come from ``engine.teaching``."""

from __future__ import annotations

import numpy as np
from PySide6.QtCore import QLineF, Qt
from PySide6.QtGui import QColor, QPainter, QPen

from engine.runs.time_axis import input_position
from gui.signals import words
from gui.teaching.common import NEGATIVE, POSITIVE
from gui.teaching.unrolled_layout import Geometry

LINK_WIDTHS = 5         # thickness classes (one pen each: a few drawLines calls per paint)
CROWDED = 16            # more units than this: links only near the cursor, not smoothed on screen
NEAR_COLUMNS = 3        # ... into the cursor's column and the two before it
ABS_U = "|\u2060U\u2060|"    # |U| held together by word joiners: a wrapped legend broke it after "|"


def count_word(n: int) -> str:
    """How many gate blocks U has, in words ("four" for the LSTM's): the legend and the wrong
    pictures say it."""
    return {1: "one", 2: "two", 3: "three", 4: "four"}.get(n, str(n))


class LinkPainter:
    """Draws the links of one paint and says how to read them (``legend_text``)."""

    def legend_text(self) -> str:
        """How to read the links, naming the block of U their colour and thickness come from."""
        v = self.view
        k = v.k
        model = v.session_model
        backward = model.ready and model.session.backward
        sides = "right) to the units reading it (left" if backward else \
            "left) to the units reading it (right"
        kind = model.cell_kind
        gates = kind.gates if kind is not None else ()
        if kind is not None and not kind.recurrent:      # an mLSTM: nothing to draw
            return (f"no lines: an {kind.written} has no recurrent kernel U, no unit reads h(t−1); "
                    f"a head's units share its matrix memory C and its gates ({', '.join(gates)})")
        if v.signal in gates:
            block = f"its entry in U's {words(kind, v.signal)} block"
        else:
            block = (f"its largest-{ABS_U} entry among U's {count_word(len(gates))} gate blocks "
                     f"({', '.join(gates)}) for that pair of units")
        if model.ready:       # a unit in a head of m units reads at most m - 1 others
            heads = int(model.session.info.weights.unit_heads().max(initial=0)) + 1
            k = min(k, max(model.session.units // heads - 1, 0))
        hover = "" if v.palette.printing else "; hover a cell for all its links"
        if k == 0:                            # --links 0: no line to read, the coupling stays
            why = "0 per unit asked for" if v.k == 0 else "every head holds one unit"
            return (f"lines: links through U not drawn ({why}); every cell still reads the "
                    f"previous h of the units U links it to{hover}")
        colour = "colour = sign (red U > 0, blue U < 0) and "
        shown, n = len(v.shown_units()), (model.session.units if model.ready else 0)
        # a window of a wide layer: a link from a unit outside it has nowhere to start
        outside = f", nor links from the {n - shown} units outside the window" if shown < n else ""
        return (f"lines: U from h(t−1) of a unit ({sides}), {self._link_columns_text()}; a line's "
                f"{colour}thickness = {ABS_U} come from {block}; {k} strongest "
                f"per unit (self-links not drawn{outside}){hover}")

    def _link_columns_text(self) -> str:
        """Which columns carry links and why some are faint: the strokes into the cursor's
        column are bold, older ones recede, and a crowded picture draws only the nearest."""
        if len(self.view.shown_units()) > CROWDED:
            return (f"bold into the cursor's column, faint into the {NEAR_COLUMNS - 1} before it "
                    f"(with {len(self.view.shown_units())} units, none further back)")
        return "bold into the cursor's column, faint into earlier ones"

    def _paint_links(self, p: QPainter, geo: Geometry, known: slice) -> None:
        """Lines from h_{t-1} of a unit to the units reading it at t, batched by colour and
        thickness class (a handful of drawLines calls; endpoints computed with numpy)."""
        lines = self._link_lines(geo, self._link_groups(geo, known))
        self._stroke_links(p, geo, lines)

    def _link_groups(self, geo: Geometry, known: slice
                     ) -> list[tuple[np.ndarray, np.ndarray, np.ndarray, int]]:
        """(source units, reading units, U values, t) for each column whose links are drawn:
        the strongest links per unit, and every link into a hovered cell."""
        v = self.view
        session = v.session_model.session
        links = v.links()
        n = session.units
        step = 1 if session.backward else -1              # where the previous step's column is
        cursor = session.cursor
        hovered = self.hover
        first_read = input_position(0, session.steps, session.backward)
        # many units: links only into the columns nearest the cursor (thousands of long
        # strokes cost more than everything else of a step, and hide the cells besides)
        near = None if len(geo.rows) <= CROWDED else NEAR_COLUMNS
        groups: list[tuple[np.ndarray, np.ndarray, np.ndarray, int]] = []

        def drawable(t: int) -> bool:
            return (known.start <= t < known.stop and t != first_read
                    and geo.first <= t + step < geo.first + geo.columns
                    and geo.first <= t < geo.first + geo.columns)
        if links is not None:
            src = links.source.ravel()
            dst = np.repeat(np.arange(n), links.source.shape[1])
            val = links.value.ravel()
            for col in range(geo.columns):
                t = geo.first + col
                if drawable(t) and (near is None or cursor is None or abs(t - cursor) < near):
                    groups.append((src, dst, val, t))
        if hovered is not None and drawable(hovered[1]):
            unit, t = hovered
            column = v.incoming(unit)
            if column is not None:
                others = np.array([u for u in range(n) if u != unit], int)
                groups.append((others, np.full(len(others), unit), column[others], t))
        return groups

    def _link_lines(self, geo: Geometry, groups) -> dict[tuple[bool, int, bool], list[QLineF]]:
        """The links' line segments by (positive, thickness level, in front), recording each
        drawn link for hover and tests."""
        v = self.view
        session = v.session_model.session
        links = v.links()
        row_of = np.full(session.units, -1)
        row_of[geo.rows] = np.arange(len(geo.rows))
        step = 1 if session.backward else -1
        cursor, hovered = session.cursor, self.hover
        max_abs = links.max_abs if links is not None and links.max_abs > 0 else 1.0
        lines: dict[tuple[bool, int, bool], list[QLineF]] = {}
        for src, dst, val, t in groups:
            # a weight of 0 is no link (an sLSTM's U between heads): never drawn
            ok = (row_of[src] >= 0) & (row_of[dst] >= 0) & (val != 0)
            src, dst, val = src[ok], dst[ok], val[ok]
            x_prev = geo.left + (t + step - geo.first) * geo.pitch
            x_here = geo.left + (t - geo.first) * geo.pitch
            if session.backward:
                x0, x1 = x_prev, x_here + geo.cell_w
            else:
                x0, x1 = x_prev + geo.cell_w, x_here
            y0 = geo.top + (row_of[src] + 0.5) * geo.cell_h
            y1 = geo.top + (row_of[dst] + 0.5) * geo.cell_h
            level = np.minimum(LINK_WIDTHS - 1, (np.abs(val) / max_abs * LINK_WIDTHS).astype(int))
            # links into the cursor's (or the hovered) column stand out; older ones recede
            front = t == cursor or (hovered is not None and t == hovered[1])
            for a, b, yy0, yy1, value, lv in zip(src.tolist(), dst.tolist(), y0.tolist(), y1.tolist(),
                                                 val.tolist(), level.tolist(), strict=True):
                lines.setdefault((value >= 0, lv, front), []).append(QLineF(x0, yy0, x1, yy1))
                self.drawn_links.append((a, b, t, value))
        return lines

    def _stroke_links(self, p: QPainter, geo: Geometry,
                      lines: dict[tuple[bool, int, bool], list[QLineF]]) -> None:
        """One pen and one drawLines call per (sign, thickness, in front) class."""
        v = self.view
        crowd = min(1.0, (12.0 / max(len(geo.rows), 1)) ** 0.5)   # many units: fainter lines
        base = float(np.clip(geo.cell_h * 0.05, 0.7, 1.6))
        # smoothing wide translucent strokes is slow: on screen only for a few units, always
        # in an exported figure (the print palette asks for it)
        p.setRenderHint(QPainter.Antialiasing, v.palette.antialias or len(geo.rows) <= CROWDED)
        for (positive, level, front), batch in sorted(lines.items(), key=lambda kv: kv[0][2]):
            colour = QColor(POSITIVE if positive else NEGATIVE)
            alpha = (150 + 20 * level // 2) * (1.0 if front else 0.45 * crowd + 0.1)
            colour.setAlpha(int(min(255, alpha)))
            # wide strokes are slow to rasterise: a crowded picture says |U| with 1-2 px lines
            width = (1.0 + (level >= 3)) if crowd < 1.0 else base * (0.7 + 0.8 * level)
            pen = QPen(colour, width)
            pen.setCapStyle(Qt.FlatCap)
            p.setPen(pen)
            p.drawLines(batch)
        p.setRenderHint(QPainter.Antialiasing, True)
