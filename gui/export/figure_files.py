"""What a drawn figure becomes: the size limits of a picture, PNG bytes, SVG metadata, and
the frames an animation may hold. Every file goes through the one atomic writer
(engine.system.files)."""

from __future__ import annotations

import json
import math
import re
from pathlib import Path
from typing import Any
from xml.sax.saxutils import escape

from PySide6.QtCore import QBuffer, QByteArray, QIODevice, QPoint, QSize
from PySide6.QtGui import QImage, QPaintEngine, QPainter
from PySide6.QtWidgets import QMenuBar, QStyle, QStyleOptionMenuItem, QWidget

from engine.errors import ScopeError
from engine.system.files import write_bytes

MAX_GIF_FRAMES = 1000
MAX_PNG_PIXELS = 120_000_000              # ~480 MB of RGBA: beyond this, say so before trying
MAX_GIF_PIXELS = 800_000_000              # every frame is held (1 byte a pixel) until written


def max_width(logical: QSize, frames: int = 1) -> int:
    """The widest picture of a figure of ``logical`` size that LSTM Scope draws: at most
    MAX_PNG_PIXELS in one image, and MAX_GIF_PIXELS over the frames of an animation."""
    limit = MAX_PNG_PIXELS if frames <= 1 else min(MAX_PNG_PIXELS, MAX_GIF_PIXELS // frames)
    w_logical, h_logical = max(1, logical.width()), max(1, logical.height())

    def pixels(width: int) -> int:
        return width * max(1, round(h_logical * width / w_logical))
    width = max(1, math.isqrt(limit * w_logical // h_logical))
    while width > 1 and pixels(width) > limit:
        width -= 1
    while pixels(width + 1) <= limit:
        width += 1
    return width


def check_positions(positions: range, steps: int) -> None:
    if len(positions) == 0:
        raise ScopeError(f"no step in {positions.start}:{positions.stop} (the run has {steps} steps)")
    if positions.start < 0 or positions[-1] >= steps:
        raise ScopeError(f"steps {positions.start}:{positions.stop} are outside 0:{steps}")
    if len(positions) > MAX_GIF_FRAMES:
        raise ScopeError(f"{len(positions)} frames is too long an animation (at most "
                         f"{MAX_GIF_FRAMES}); choose fewer steps")


def add_svg_metadata(svg: str, meta: dict[str, Any]) -> str:
    """Put what the figure shows into a <metadata> element right after <svg ...>."""
    block = f'<metadata id="lstm-scope">{escape(json.dumps(meta))}</metadata>'
    match = re.search(r"<svg\b[^>]*>", svg)
    if match is None:
        return svg
    return svg[:match.end()] + "\n" + block + svg[match.end():]


_GROUP = re.compile(r'(<g\b[^>]*?)\s+transform="matrix\(([^)]*)\)"([^>]*>)(.*?)(</g>)', re.S)
_SHAPE = re.compile(r'<(path|polyline|rect)\b([^>]*)/>')
_PAIR = re.compile(r"(-?[\d.]+(?:e[-+]?\d+)?),(-?[\d.]+(?:e[-+]?\d+)?)")


def bake_scaled_strokes(svg: str) -> str:
    """Qt's SVG writer keeps a plot's curves in data units under the view's scaling transform
    (17 px a step, 107 px a lane) with ``vector-effect="non-scaling-stroke"`` to keep the
    lines thin: SVG Tiny's, which librsvg and ImageMagick ignore, so they drew every curve
    17 to 107 times wider, a blot. Such groups get their shapes' points mapped through the
    transform instead (the same picture in every viewer; widths in figure pixels)."""
    def bake(match: re.Match) -> str:
        head, matrix, tail, body, end = match.groups()
        a, b, c, d, e, f = (float(v) for v in matrix.split(","))
        if (a, b, c, d) == (1.0, 0.0, 0.0, 1.0) or "non-scaling-stroke" not in body:
            return match.group(0)
        if 'fill="url(' in head + tail or _SHAPE.sub("", body).strip():
            return match.group(0)      # a gradient or anything but shapes: left as written

        def point(x: float, y: float) -> str:
            return f"{a * x + c * y + e:.7g},{b * x + d * y + f:.7g}"

        def shape(m: re.Match) -> str:
            tag, attrs = m.groups()
            if tag == "rect":
                get = {k: float(v) for k, v in re.findall(r'\b(x|y|width|height)="([^"]*)"', attrs)}
                x, y = get.get("x", 0.0), get.get("y", 0.0)
                w, h = get.get("width", 0.0), get.get("height", 0.0)
                rest = re.sub(r'\s*\b(x|y|width|height)="[^"]*"', "", attrs)
                corners = " L".join(point(px, py) for px, py in ((x + w, y), (x + w, y + h), (x, y + h)))
                return f'<path{rest} d="M{point(x, y)} L{corners} Z"/>'
            return f"<{tag}{_PAIR.sub(lambda p: point(float(p[1]), float(p[2])), attrs)}/>"
        return f"{head}{tail}{_SHAPE.sub(shape, body)}{end}"
    return _GROUP.sub(bake, svg)


def repaint_menu_titles(painter: QPainter, widget: QWidget, at: QPoint) -> None:
    """On an SVG painter, draw the titles of ``widget``'s menu bars (``widget`` drawn at ``at``)
    once more, over their bar. A menu bar paints its titles, then its background over the
    whole bar clipped to the gaps between them; Qt's SVG writer keeps no clip (and viewers
    differ on clip paths), so the background hid every title. Other painters clip: untouched."""
    engine = painter.paintEngine()
    if engine is None or engine.type() != QPaintEngine.SVG:
        return
    for bar in widget.findChildren(QMenuBar):
        if not bar.isVisible():
            continue
        painter.save()
        painter.translate(at + bar.mapTo(widget, QPoint(0, 0)))
        for action in bar.actions():
            if not action.isVisible() or action.isSeparator():
                continue
            option = QStyleOptionMenuItem()
            option.initFrom(bar)
            option.rect = bar.actionGeometry(action)
            option.menuRect = bar.rect()
            option.text = action.text()
            option.menuItemType = QStyleOptionMenuItem.Normal
            option.checkType = QStyleOptionMenuItem.NotCheckable
            if not action.isEnabled():
                option.state &= ~QStyle.State_Enabled
                option.palette.setCurrentColorGroup(option.palette.ColorGroup.Disabled)
            bar.style().drawControl(QStyle.CE_MenuBarItem, option, painter, bar)
        painter.restore()


def save_qimage(image: QImage, path: str | Path, fmt: str) -> None:
    data = QByteArray()
    buffer = QBuffer(data)
    buffer.open(QIODevice.WriteOnly)
    if not image.save(buffer, fmt):
        raise ScopeError(f"{path}: Qt could not encode the image as {fmt}")
    buffer.close()
    write_bytes(path, bytes(data))
