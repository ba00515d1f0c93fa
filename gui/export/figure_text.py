"""The words around a figure's picture: a header (title, what is shown, the legend, the shape
badges) and a footer (what the picture means, the caption), laid out as Qt labels for one
width and rendered into the figure, never shown (docs/architecture.md, "How to
add a view")."""

from __future__ import annotations

import re
from typing import TYPE_CHECKING
from xml.sax.saxutils import escape

from PySide6.QtCore import Qt
from PySide6.QtGui import QColor
from PySide6.QtWidgets import QHBoxLayout, QLabel, QVBoxLayout, QWidget

from engine.output.export import ViewContext
from gui.export.views import ExportableView
from gui.export.views import view as find_view
from gui.panels.badges import badge_texts, compact_badges
from gui.theme import Palette

if TYPE_CHECKING:
    from gui.export.figure import FigureOptions, ViewHost


def _label(text: str, palette: Palette, size: float, *, bold: bool = False, muted: bool = False,
           wrap: bool = True) -> QLabel:
    label = QLabel(text)
    label.setTextFormat(Qt.RichText)
    label.setWordWrap(wrap)
    colour = palette.foreground if not muted else _mix(palette.foreground, palette.background)
    weight = "bold" if bold else "normal"
    label.setStyleSheet(f"QLabel {{ color: {colour}; background: transparent; "
                        f"font-size: {size:g}pt; font-weight: {weight}; }}")
    return label


def _mix(a: str, b: str) -> str:
    ca, cb = QColor(a), QColor(b)
    return QColor((ca.red() * 2 + cb.red()) // 3, (ca.green() * 2 + cb.green()) // 3,
                  (ca.blue() * 2 + cb.blue()) // 3).name()


class FigureText(QWidget):
    """A header or footer: labels laid out for one width, rendered but never shown."""

    def __init__(self, palette: Palette, width: int) -> None:
        super().__init__()
        self.setAttribute(Qt.WA_DontShowOnScreen, True)
        self.palette_ = palette
        self.width_ = width
        self.box = QVBoxLayout(self)
        self.box.setContentsMargins(0, 0, 0, 0)
        self.box.setSpacing(6)
        self.parts: list[str] = []            # plain text of every item (for tests, SVG desc)
        self.summary: QLabel | None = None    # the line that names the step (frames update it)

    def add_text(self, text: str, size: float, **style) -> QLabel:
        label = _label(text, self.palette_, size, **style)
        self.box.addWidget(label)
        self.parts.append(re.sub(r"<[^>]+>", "", text))
        return label

    def add_row(self, items: list[tuple[str, str]], boxed: bool) -> None:
        """Short items side by side ((html, plain) pairs), boxed like the window's badges or
        not, wrapped onto as many rows as the width needs."""
        spacing = 8 if boxed else 14
        border = _mix(self.palette_.foreground, self.palette_.background)
        row, used = None, 0
        for html, plain in items:
            label = _label(html, self.palette_, 11.5, wrap=False)
            if boxed:
                label.setStyleSheet(label.styleSheet().replace(
                    "background: transparent;",
                    f"background: transparent; border: 1px solid {border}; border-radius: 6px; "
                    "padding: 2px 7px;"))
            need = label.sizeHint().width()
            if row is None or used + spacing + need > self.width_:
                if row is not None:
                    row.addStretch(1)
                row, used = QHBoxLayout(), 0
                row.setSpacing(spacing)
                self.box.addLayout(row)
            row.addWidget(label)
            used += need + spacing
            self.parts.append(plain)
        if row is not None:
            row.addStretch(1)

    def lay_out(self) -> None:
        self.show()                               # polish and lay out; WA_DontShowOnScreen
        layout = self.layout()
        width = self.width_
        height = layout.totalHeightForWidth(width) if layout.hasHeightForWidth() else \
            layout.totalSizeHint().height()
        self.resize(width, max(height, 1))
        layout.activate()

    def empty(self) -> bool:
        return not self.parts


def build_header(host: ViewHost, spec: ExportableView | str, ctx: ViewContext,
                 options: FigureOptions, palette: Palette, width: int) -> FigureText:
    """Title, what is shown, legend and badges above the picture of ``spec`` (or its name)."""
    spec = find_view(spec) if isinstance(spec, str) else spec
    header = FigureText(palette, width)
    if options.title:
        header.add_text(escape(options.title), 20, bold=True)
    if spec.framed:
        header.summary = header.add_text(escape(ctx.summary()), 11.5, muted=True)
    line = spec.legend_line(host) if options.legend else None
    if line:
        header.add_text(escape(line), 11.5)     # e.g. heat strips' colours, not lane lines
    elif options.legend and spec.framed:
        kind = host.session_model.cell_kind
        items = [(f"<span style='color:{palette.signal_text(s)}; font-weight:bold'>━━ "
                  f"{escape(kind.signal(s).symbol)}</span> {escape(kind.signal(s).title)}",
                  kind.signal(s).label) for s in spec.legend(host)]
        if items:
            header.add_row(items, boxed=False)
    if options.badges and spec.framed and options.compact_badges:
        header.add_text(escape(compact_badges(host.session_model.describe())), 11.5, muted=True)
    elif options.badges and spec.framed:
        facts = host.session_model.describe()
        header.add_row([(f"{escape(name)} <b>{escape(value)}</b>", f"{name} {value}")
                        for name, value in badge_texts(facts).values()], boxed=True)
    return header


def build_footer(spec: ExportableView | str, ctx: ViewContext, options: FigureOptions,
                 palette: Palette, units: int, width: int, kind=None, heads: int = 1) -> FigureText:
    """The explanation and caption under the picture of ``spec`` (or its name), in the words
    of the run's cell ``kind`` (its units in ``heads`` heads) where the view words it so."""
    spec = find_view(spec) if isinstance(spec, str) else spec
    footer = FigureText(palette, width)
    if options.explain and spec.framed:
        footer.add_text(escape(spec.explanation_for(ctx, units, kind, heads)), 11.5)
    if options.caption:
        footer.add_text(escape(options.caption), 12.5, muted=False)
    return footer
