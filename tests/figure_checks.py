"""Layout checks made from a drawing itself: the texts a canvas recorded while it painted
(``PaintedCanvas.text_items``: what, where it ended up, the box it had to stay in)."""

from __future__ import annotations

import re

from gui.teaching.common import TextItem

SLACK = 1.0          # px: antialiased glyph edges
SCREEN_HINTS = ("zoom in", "hover", "click")   # what a static figure cannot be asked to do


def text_problems(items: list[TextItem]) -> list[str]:
    """Every text that leaves its box, and every pair of texts that overlap."""
    problems = []
    for item in items:
        r, b = item.rect, item.box
        if (r.left() < b.left() - SLACK or r.right() > b.right() + SLACK
                or r.top() < b.top() - SLACK or r.bottom() > b.bottom() + SLACK):
            problems.append(f"{item.text!r} ({_box(r)}) leaves its box ({_box(b)})")
    for k, a in enumerate(items):
        for other in items[k + 1:]:
            both = a.rect.intersected(other.rect)
            if both.width() > SLACK and both.height() > SLACK:
                problems.append(f"{a.text!r} ({_box(a.rect)}) overlaps {other.text!r} "
                                f"({_box(other.rect)})")
    return problems


def uneven_label_problems(items: list[TextItem], pattern: str = r"unit \d+") -> list[str]:
    """Labels of one series (texts matching ``pattern`` drawn in boxes of one size) are drawn
    at one size: a label shrunk to fit its box alone ("unit 63" beside "unit 0") reads as
    less important than its neighbours."""
    series: dict[tuple[int, int], list[TextItem]] = {}
    for item in items:
        if re.fullmatch(pattern, item.text):
            series.setdefault((round(item.box.width()), round(item.box.height())), []).append(item)
    problems = []
    for labels in series.values():
        tallest = max(labels, key=lambda i: i.rect.height())
        for item in labels:
            if item.rect.height() < tallest.rect.height() - SLACK:
                problems.append(f"{item.text!r} is drawn {item.rect.height():.0f} px tall beside "
                                f"{tallest.text!r} at {tallest.rect.height():.0f} px")
    return problems


def hint_problems(items: list[TextItem]) -> list[str]:
    """Texts that ask the reader to use a mouse: a static figure cannot be zoomed or hovered."""
    return [f"{item.text!r} is a screen hint" for item in items
            if any(hint in item.text.lower() for hint in SCREEN_HINTS)]


def axis_title_problems(glw) -> list[str]:
    """Every axis title of a pyqtgraph figure is centred along its axis (pyqtgraph places a
    title when the axis is resized: a title whose words change later keeps the old place)."""
    import pyqtgraph as pg
    problems = []
    for item in glw.scene().items():
        if not isinstance(item, pg.AxisItem) or not item.isVisible() or not item.label.isVisible():
            continue
        if not item.labelText:
            continue
        axis, title = item.sceneBoundingRect(), item.label.sceneBoundingRect()
        if item.orientation in ("top", "bottom"):
            off = title.center().x() - axis.center().x()
        else:
            off = title.center().y() - axis.center().y()
        if abs(off) > 0.05 * max(axis.width(), axis.height()):
            problems.append(f"the axis title {item.labelText!r} is {off:+.0f} px off its axis' centre")
    return problems


def arrow_problems(view, clearance: float = 2.0) -> list[str]:
    """No text of a diagram (a QGraphicsView) touches an arrowhead: a number the arrow points
    at keeps ``clearance`` px from its tip, or the tip reads as a minus sign."""
    from PySide6.QtGui import QFontMetricsF
    from PySide6.QtWidgets import QGraphicsPathItem, QGraphicsTextItem
    items = view.scene().items()
    heads = [i.sceneBoundingRect().adjusted(-clearance, -clearance, clearance, clearance)
             for i in items if isinstance(i, QGraphicsPathItem) and i.isVisible()]
    problems = []
    for item in items:
        if not isinstance(item, QGraphicsTextItem) or not item.toPlainText().strip():
            continue
        margin = item.document().documentMargin()        # the glyphs' own ink, not the line box
        metrics = QFontMetricsF(item.font())
        ink = metrics.tightBoundingRect(item.toPlainText()).translated(margin, margin + metrics.ascent())
        text = item.mapRectToScene(ink)
        for head in heads:
            both = text.intersected(head)
            if both.width() > 0 and both.height() > 0:
                problems.append(f"{item.toPlainText()!r} ({_box(text)}) touches an arrowhead "
                                f"({_box(head)})")
    return problems


def tick_label_problems(glw) -> list[str]:
    """Every major tick of a time axis (a horizontal axis with values) has its number drawn:
    pyqtgraph drops a label that reaches past its axis' ends, so the first step of a long run,
    half a step from the edge, went unlabelled (the axis began at 10 or 20)."""
    import pyqtgraph as pg
    from PySide6.QtGui import QImage, QPainter
    problems = []
    scratch = QImage(10, 10, QImage.Format_ARGB32_Premultiplied)
    for item in glw.scene().items():
        if (not isinstance(item, pg.AxisItem) or item.orientation not in ("top", "bottom")
                or not item.isVisible() or not item.style.get("showValues", True)
                or item._tickLevels is not None or item.linkedView() is None):
            continue
        lo, hi = sorted(item.range)
        levels = item.tickValues(lo, hi, item.width())
        if not levels:
            continue
        spacing, values = levels[0]
        major = [v for v in values if lo <= v <= hi]
        want = item.tickStrings(major, item.autoSIPrefixScale * item.scale, spacing)
        painter = QPainter(scratch)
        try:
            specs = item.generateDrawSpecs(painter)
        finally:
            painter.end()
        drawn = {text for _, _, text in ([] if specs is None else specs[2])}
        missing = [w for w in want if w not in drawn]
        if missing:
            problems.append(f"the axis {item.labelText!r} leaves its ticks {missing} unlabelled")
    return problems


def label_contrast_problems(window, background: str, ratio: float = 4.5) -> list[str]:
    """Every text label of a window figure reads against the figure's ``background`` (WCAG AA):
    a label with its own style sheet (the shape badges) kept the application's black text on
    the dark figure."""
    from PySide6.QtGui import QPalette
    from PySide6.QtWidgets import QLabel

    from gui.theme import contrast
    problems = []
    for label in window.findChildren(QLabel):
        if not label.isVisible() or label.visibleRegion().isEmpty() or not label.text().strip():
            continue
        colour = label.palette().color(QPalette.WindowText).name()
        if contrast(colour, background) < ratio:
            problems.append(f"{label.text()[:30]!r} is {colour} on {background} "
                            f"({contrast(colour, background):.1f}:1)")
    return problems


def theme_problems(window, background: str, least: int = 12) -> list[str]:
    """Every widget of a window figure that paints itself is drawn in the figure's theme: on a
    dark figure no widget is mostly light, on a light one none is mostly dark (the breakpoints'
    hit strip kept the light window's fill on the dark figure, a white bar)."""
    import numpy as np
    from PySide6.QtGui import QImage
    from PySide6.QtWidgets import QWidget

    from gui.theme import luminance
    dark = luminance(background) < 0.18
    problems = []
    for widget in window.findChildren(QWidget):
        if (not widget.isVisible() or widget.visibleRegion().isEmpty()
                or widget.width() < least or widget.height() < least
                or any(c.isVisible() for c in widget.findChildren(QWidget))):
            continue                                     # leaves only: what paints itself
        image = widget.grab().toImage().convertToFormat(QImage.Format_Grayscale8)
        pixels = np.frombuffer(image.constBits(), np.uint8,
                               image.bytesPerLine() * image.height())
        median = float(np.median(pixels.reshape(image.height(), -1)[:, :image.width()]))
        if (median > 160) if dark else (median < 96):
            name = widget.objectName() or type(widget).__name__
            problems.append(f"{name} ({widget.width()}×{widget.height()}) is drawn "
                            f"{'light' if dark else 'dark'} (median grey {median:.0f}) on a "
                            f"{'dark' if dark else 'light'} figure")
    return problems


def scroll_problems(window) -> list[str]:
    """No panel of a window figure is scrolled: a dock shorter than its panel's least height
    shows only part of it (the bottom dock's third plot cut off at the figure's edge)."""
    from PySide6.QtWidgets import QScrollArea
    problems = []
    for area in window.findChildren(QScrollArea):
        panel = area.widget()
        if panel is None or not area.isVisible() or area.visibleRegion().isEmpty():
            continue
        hidden = panel.height() - area.viewport().height()
        if hidden > SLACK:
            problems.append(f"{area.objectName() or type(panel).__name__} hides {hidden} px of "
                            f"its {panel.height()} px panel")
    return problems


HEAD_GAP = 15.0      # px between two arrowheads of a diagram: nearly two heads' length


def arrowhead_problems(view, gap: float = HEAD_GAP) -> list[str]:
    """No two arrowheads of a diagram (a QGraphicsView) come within ``gap`` of each other:
    closer, they read as one blot where several arrows meet (the GRU's 1−u and n heads under
    the + of h(t))."""
    import numpy as np
    from PySide6.QtWidgets import QGraphicsPathItem

    def corners(item) -> np.ndarray:
        path = item.mapToScene(item.path())
        return np.array([[path.elementAt(k).x, path.elementAt(k).y]
                         for k in range(path.elementCount())], float)

    def to_segment(p, a, b) -> float:
        ab = b - a
        f = 0.0 if not ab.any() else float(np.clip(np.dot(p - a, ab) / np.dot(ab, ab), 0, 1))
        return float(np.hypot(*(p - a - f * ab)))

    def apart(a: np.ndarray, b: np.ndarray) -> float:
        edges = lambda c: list(zip(c, np.roll(c, -1, axis=0)))     # noqa: E731 - two lines
        return min(min(to_segment(p, *e) for p in a for e in edges(b)),
                   min(to_segment(p, *e) for p in b for e in edges(a)))
    heads = [corners(i) for i in view.scene().items()
             if isinstance(i, QGraphicsPathItem) and i.isVisible()]
    problems = []
    for k, a in enumerate(heads):
        for b in heads[k + 1:]:
            d = apart(a, b)
            if d < gap:
                problems.append(f"arrowheads at {a[0].round().tolist()} and "
                                f"{b[0].round().tolist()} are {d:.0f} px apart")
    return problems


def _box(r) -> str:
    return f"{r.left():.0f},{r.top():.0f} {r.width():.0f}×{r.height():.0f}"


def plot_texts(glw) -> list[TextItem]:
    """Every text a pyqtgraph figure (a GraphicsLayoutWidget) draws, in scene coordinates, each
    boxed by the widget itself: axis tick labels (as the axis lays them out), axis labels,
    titles, legend entries, text items, and the reads strip's tokens (as last painted, boxed by
    the strip itself)."""
    import pyqtgraph as pg
    from PySide6.QtCore import QRectF
    from PySide6.QtGui import QImage, QPainter
    from PySide6.QtWidgets import QGraphicsSimpleTextItem, QGraphicsTextItem

    from gui.panels.input_strip import TokenRow
    box = QRectF(glw.mapToScene(glw.viewport().rect()).boundingRect())
    items: list[TextItem] = []
    scratch = QImage(10, 10, QImage.Format_ARGB32_Premultiplied)
    for item in glw.scene().items():
        if not item.isVisible() or item.opacity() == 0:
            continue
        if isinstance(item, pg.AxisItem) and item.style.get("showValues", True):
            painter = QPainter(scratch)
            try:
                specs = item.generateDrawSpecs(painter)
            finally:
                painter.end()
            for rect, _, text in ([] if specs is None else specs[2]):
                items.append(TextItem(text, item.mapRectToScene(QRectF(rect)), box))
        elif isinstance(item, QGraphicsTextItem) and item.toPlainText().strip():
            margin = item.document().documentMargin()
            inner = item.boundingRect().adjusted(margin, margin, -margin, -margin)
            items.append(TextItem(item.toPlainText(), item.mapRectToScene(inner), box))
        elif isinstance(item, QGraphicsSimpleTextItem) and item.text().strip():
            items.append(TextItem(item.text(), item.sceneBoundingRect(), box))
        elif isinstance(item, TokenRow):      # a character stays inside its strip
            view = item.getViewBox()
            strip = view.sceneBoundingRect() if view is not None else box
            items += [TextItem(text, rect, strip) for text, rect in item.drawn]
    return items


def svg_problems(path) -> list[str]:
    """What a viewer of a written SVG would see go wrong: a path its renderer refuses (Qt's
    "Invalid path data" for an empty ``d``), a line whose width only SVG Tiny's
    ``vector-effect`` keeps thin under a scaling transform, and a text painted over by a later opaque
    rectangle of the same widget (the same origin: a widget painted later may cover another).
    SVG viewers differ in clipping (Qt's and ImageMagick's renderers ignore or misplace it),
    so a text may not rely on a clip to survive a fill drawn after it: the menu bar painted
    its titles, then its background over the whole bar clipped to the gaps."""
    import xml.etree.ElementTree as ET

    from PySide6.QtCore import qInstallMessageHandler
    from PySide6.QtSvg import QSvgRenderer
    messages: list[str] = []
    previous = qInstallMessageHandler(lambda mode, context, text: messages.append(text))
    try:
        renderer = QSvgRenderer(str(path))
        valid = renderer.isValid()
    finally:
        qInstallMessageHandler(previous)
    problems = [] if valid else ["Qt's SVG renderer cannot read it"]
    problems += [f"Qt's SVG renderer: {m}" for m in sorted(set(messages))]
    ns = "{http://www.w3.org/2000/svg}"
    drawn: list[tuple[int, str, float, float, tuple]] = []     # order, what, where, origin
    hidden: list[tuple[int, str, float, float, tuple]] = []    # and the order it was covered at
    order = 0
    for group in ET.parse(path).getroot().iter(f"{ns}g"):
        a, b, c, d, e, f = _matrix(group.get("transform", ""))
        for child in group:
            order += 1
            if child.tag == f"{ns}path" and not (child.get("d") or "").strip():
                problems.append("an empty path (d=\"\")")
            if (child.get("vector-effect") == "non-scaling-stroke"
                    and max(abs(a), abs(b), abs(c), abs(d)) > 1.5):
                problems.append(f"a {child.tag[len(ns):]} kept thin only by vector-effect under a "
                                f"x{max(abs(a), abs(d)):.0f} transform (librsvg, ImageMagick draw "
                                "it that much wider)")
            elif child.tag == f"{ns}text" and (child.text or "").strip():
                x, y = float(child.get("x", 0)), float(child.get("y", 0))
                drawn.append((order, child.text.strip(), a * x + c * y + e, b * x + d * y + f, (e, f)))
            elif (child.tag == f"{ns}rect" and group.get("fill", "none") not in ("none", "")
                  and float(group.get("fill-opacity", 1)) >= 1 and a > 0 and d > 0 and not b and not c):
                x, y = float(child.get("x", 0)), float(child.get("y", 0))
                left, top = a * x + e, d * y + f
                right = left + a * float(child.get("width", 0))
                bottom = top + d * float(child.get("height", 0))
                under = [t for t in drawn if t[4] == (e, f)
                         and left <= t[2] <= right and top <= t[3] - 2 <= bottom]
                hidden += [(order, *t[1:]) for t in under]
                drawn = [t for t in drawn if t not in under]
    for covered_at, text, x, y, _ in hidden:      # unless the same text is drawn again on top
        if not any(t[0] > covered_at and t[1] == text and abs(t[2] - x) < 1 and abs(t[3] - y) < 1
                   for t in drawn):
            problems.append(f"{text!r} at ({x:.0f}, {y:.0f}) is painted over by a rectangle "
                            "drawn after it")
    return problems


def _matrix(transform: str) -> tuple[float, ...]:
    """An SVG ``matrix(a,b,c,d,e,f)`` transform (Qt's SVG writer uses no other form)."""
    m = re.fullmatch(r"\s*matrix\(([^)]*)\)\s*", transform)
    return tuple(float(v) for v in m.group(1).split(",")) if m else (1.0, 0.0, 0.0, 1.0, 0.0, 0.0)
