"""The cell diagram's h(t-1): all N values the unit reads through U, drawn as one strip of cells
that enters the gates' input bus, so the coupling between units is drawn, not only said.

The strip is one image of N pixels stretched to its box (one draw call for any N), coloured
on a diverging scale symmetric about 0; the unit's own entry is outlined. Numbers come from
the cell breakdown (``engine.analyses.analysis``); this module only places them.
"""

from __future__ import annotations

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import QRectF, Qt
from PySide6.QtGui import QBrush, QColor, QFont, QFontMetricsF, QImage, QPen, QPixmap, QTransform

from gui.theme import Palette

NUMBERS_UP_TO = 8        # units whose values are written in their cells
BORDERS_UP_TO = 48       # units whose cells are separated by thin lines
_LUT = pg.colormap.get("CET-D1").getLookupTable(nPts=256, alpha=False).astype(np.uint8)


def strip_scale(values: np.ndarray) -> float:
    """The colour scale's end: 1 for a tanh unit's h (|h| <= 1), else the largest |h|."""
    finite = np.abs(values[np.isfinite(values)])
    top = float(finite.max()) if finite.size else 0.0
    return top if top > 1.0 else 1.0


def strip_image(values: np.ndarray, scale: float, background: str) -> QImage:
    """(1 × N) image: each value's colour (the background where it is not finite)."""
    n = len(values)
    k = np.clip(np.round((np.nan_to_num(values) / scale + 1) / 2 * 255), 0, 255).astype(int)
    rgb = _LUT[k]
    rgb[~np.isfinite(values)] = QColor(background).getRgb()[:3]
    argb = (0xFF << 24) | (rgb[:, 0].astype(np.uint32) << 16) | (rgb[:, 1].astype(np.uint32) << 8) \
        | rgb[:, 2].astype(np.uint32)
    data = np.ascontiguousarray(argb.reshape(1, n))
    return QImage(data.data, n, 1, 4 * n, QImage.Format_RGB32).copy()


def draw_h_prev(scene, palette: Palette, values: np.ndarray, unit: int, box: QRectF,
                font: QFont) -> str:
    """Draw the N values of h(t-1) into ``box`` of ``scene`` with their indices and a key;
    return the words said under it (what tests and exports read back)."""
    fg = QColor(palette.foreground)
    n = len(values)
    scale = strip_scale(values)
    pixmap = scene.addPixmap(QPixmap.fromImage(strip_image(values, scale, palette.background)))
    pixmap.setTransformationMode(Qt.FastTransformation)       # crisp cells at any size
    pixmap.setTransform(QTransform.fromScale(box.width() / max(n, 1), box.height()))
    pixmap.setPos(box.topLeft())
    cell = box.width() / max(n, 1)
    if 1 < n <= BORDERS_UP_TO:
        sep = QPen(QColor(palette.background), 1.0)
        for k in range(1, n):
            x = box.left() + k * cell
            scene.addLine(x, box.top(), x, box.bottom(), sep)
    scene.addRect(box, QPen(fg, 1.0))
    if 0 <= unit < n:
        scene.addRect(QRectF(box.left() + unit * cell - 1, box.top() - 2, cell + 2,
                             box.height() + 4), QPen(fg, 2.2), QBrush(Qt.NoBrush))
    small = QFont(font)
    small.setPointSizeF(max(6.0, font.pointSizeF() * 0.8))
    if n <= NUMBERS_UP_TO:
        for k, v in enumerate(values.tolist()):
            _text(scene, f"{v:+.2f}" if np.isfinite(v) else "—", small,
                  _on(_LUT[int(np.clip(round((v / scale + 1) / 2 * 255), 0, 255))]
                      if np.isfinite(v) else None, fg),
                  QRectF(box.left() + k * cell, box.top(), cell, box.height()))
    # indices under the strip: the ends, and the unit's own where it has room
    line = QFontMetricsF(small).height()
    below = QRectF(box.left(), box.bottom() + 2, box.width(), line)
    _text(scene, "0", small, fg, QRectF(below.left(), below.top(), 30, line), Qt.AlignLeft)
    _text(scene, str(n - 1), small, fg, QRectF(below.right() - 40, below.top(), 40, line),
          Qt.AlignRight)
    label = f"↑ {unit}"
    width = QFontMetricsF(small).horizontalAdvance(label) + 4
    centre = box.left() + (unit + 0.5) * cell
    if n > 2 and 0 < unit < n - 1 and below.left() + 34 < centre - width / 2 \
            and centre + width / 2 < below.right() - 44:
        _text(scene, label, small, fg, QRectF(centre - width / 2, below.top(), width, line))
    key = QRectF(box.right() + 4, box.top(), 80, box.height())      # the colour scale's ends
    _text(scene, f"−{scale:.2g} … +{scale:.2g}", small, fg, key, Qt.AlignLeft)
    return (f"all {n} values of h(t-1) enter unit {unit}'s gates through U · "
            f"h(t-1)[{unit}] = {_value(values, unit)} (outlined)")


def _value(values: np.ndarray, unit: int) -> str:
    if not 0 <= unit < len(values) or not np.isfinite(values[unit]):
        return "—"
    return f"{float(values[unit]):+.4f}"


def _on(rgb, fg: QColor) -> QColor:
    """Black or white text on a cell of colour ``rgb`` (the foreground on an empty cell)."""
    if rgb is None:
        return fg
    r, g, b = (int(c) for c in rgb)
    return QColor("#000000") if 0.299 * r + 0.587 * g + 0.114 * b >= 128 else QColor("#ffffff")


def _text(scene, text: str, font: QFont, colour: QColor, box: QRectF,
          align: Qt.AlignmentFlag = Qt.AlignHCenter) -> None:
    item = scene.addSimpleText(text, font)
    item.setBrush(colour)
    r = item.boundingRect()
    if align == Qt.AlignLeft:
        x = box.left()
    elif align == Qt.AlignRight:
        x = box.right() - r.width()
    else:
        x = box.center().x() - r.width() / 2
    item.setPos(x, box.center().y() - r.height() / 2)
