"""Export a view as a figure that reads on its own: PNG, SVG, animated GIF, clipboard.

The words around the picture are ``figure_text``'s, what the picture becomes on disk
``figure_files``'s; this module frames, scales and paints.

The figure is the window's own view widget (the units panel's plot, the layer view's heat-maps,
the cell inspector's diagram and bars, or the whole window) restyled with a print palette and
framed by a header (title, what is shown, gate legend, shape badges) and a footer (what the
picture means, the caption). Everything is painted through one QPainter, so the PNG, the SVG
and every GIF frame are the same drawing: there is no second renderer.

The numbers behind a view (CSV, NPZ) come from ``engine.output.export``; this module only draws.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, Protocol
from xml.sax.saxutils import escape

import numpy as np
import shiboken6
from PySide6.QtCore import QBuffer, QEvent, QIODevice, QPoint, QRect, QSize, Qt
from PySide6.QtGui import QColor, QGuiApplication, QImage, QPainter, QPalette
from PySide6.QtWidgets import QApplication, QWidget

from engine import __version__
from engine.errors import ScopeError
from engine.output.export import ViewContext, check_writable
from engine.system.files import write_bytes
from gui.export import gif
from gui.export.figure_files import (
    MAX_GIF_PIXELS,
    MAX_PNG_PIXELS,
    add_svg_metadata,
    bake_scaled_strokes,
    check_positions,
    max_width,
    repaint_menu_titles,
    save_qimage,
)
from gui.export.figure_text import FigureText, build_footer, build_header
from gui.export.views import refuse_unless_applies
from gui.export.views import view as find_view
from gui.theme import Palette, print_palette, qt_palette, restyle

IMAGE_SUFFIXES = (".png", ".svg", ".gif")
THEMES = ("light", "dark", "screen")      # print light, print dark, or as shown on screen
MARGIN = 18
DENSE_POINTS = 150_000                    # lane points above which exports are not smoothed

CHILDREN_ONLY = QWidget.RenderFlag.DrawChildren      # the figure paints its own background
Progress = Callable[[int, int], bool]      # (done, total) -> keep going?


class ViewHost(Protocol):
    """What the exporter needs of a window (MainWindow provides it)."""

    model: Any
    units_panel: Any
    layer_view: Any
    cell_inspector: Any
    grad_panel: Any
    grads: Any
    pal: Palette

    def themed_views(self) -> list: ...


@dataclass
class FigureOptions:
    theme: str = "light"
    title: str = ""
    caption: str = ""
    legend: bool = True
    badges: bool = True
    explain: bool = True
    selection: bool = False       # the screen's selection highlight and markers, off by default
    fps: float = 8.0
    compact_badges: bool = False  # the shape badges as one short line (slides)
    frame: tuple[int, int] | None = None   # (W, H) px: the whole figure fitted and centred in it
    line_scale: float = 1.0       # curve pens this many times the print theme's (slides: thicker)


# --- what a view is made of (gui.export.views: one entry per view) ---------------------------
def view_widgets(host: ViewHost, view: str) -> list[QWidget]:
    """The widgets a figure of ``view`` shows, top to bottom (no tool bars or spin boxes)."""
    return find_view(view).widgets(host)


def view_context(host: ViewHost, view: str) -> ViewContext:
    """What ``view`` shows right now: model, layer, sample, step, lanes (or the cell's unit)."""
    if host.session_model.session is None:
        raise ScopeError("nothing to export: no model is loaded")
    return find_view(view).context(host, __version__)


def body_size(widget: QWidget) -> QSize:
    """The logical size a figure lays ``widget`` out at: its own ``figure_size`` (a painted
    teaching canvas: a slide's width, as tall as its content) or its size on screen."""
    sized = getattr(widget, "figure_size", None)
    return sized() if sized is not None else widget.size()


def figure_body_size(host: ViewHost, view: str) -> QSize:
    sizes = [body_size(w) for w in view_widgets(host, view)]
    return QSize(max(s.width() for s in sizes), sum(s.height() for s in sizes))


def default_width(host: ViewHost, view: str) -> int:
    """Twice the view's size on screen: crisp on a projector and in print (a view never shown
    yet, in a closed dock, has no size: then a slide's width)."""
    width = figure_body_size(host, view).width()
    if width < 200:
        return 2 * 1280
    return 2 * (width + 2 * MARGIN)


# --- the figure ------------------------------------------------------------------------------
class Figure:
    """A view framed for export. Use as a context manager: it restyles the view with the print
    palette on entry and puts the user's palette back on exit (``restore``; a window closed
    right after, as the headless export's, skips that: restyling rebuilds every map and plot
    of the view, about a third of such an export's time, for a window nobody sees again)."""

    def __init__(self, host: ViewHost, view: str, options: FigureOptions | None = None, *,
                 restore: bool = True) -> None:
        find_view(view)
        if not host.session_model.ready:
            raise ScopeError("nothing to export: no model is loaded")
        self.spec = refuse_unless_applies(view, host.session_model.session)
        self.host, self.view, self.restore = host, view, restore
        self.options = options or FigureOptions()
        if self.options.theme not in THEMES:
            raise ScopeError(f"unknown theme '{self.options.theme}' (choose light, dark or screen)")
        self.views = self.spec.styled(host)
        self._saved: list[tuple[Any, Palette]] = []
        self._scale: float | None = None
        self._qt_saved: list[tuple[QWidget, QPalette | None]] = []   # Qt palettes to put back
        self._revealed: tuple | None = None     # a dock brought to the front, to put back
        self._hidden: list = []                  # screen-only marks hidden for the picture
        self._hovers: list = []                  # (canvas, what the mouse was over) to put back

    # styling
    def __enter__(self) -> Figure:
        try:
            self._reveal()
            self._hide_screen_marks()
            panel = self.host.units_panel     # frames move the cursor; the user's zoom stays
            self._follow = getattr(panel, "follow_cursor", None)
            if self._follow is not None:
                panel.follow_cursor = False
            self._saved = [(v, v.palette) for v in self.views]
            self._set_qt_palette()
        except BaseException:
            self.__exit__(None, None, None)
            raise
        return self        # views are restyled once, at the scale of the first picture

    def __exit__(self, *exc) -> None:
        """Put back everything an export touched: palettes, app theme, docks."""
        try:
            if self._scale is not None and self.restore:
                for v, pal in self._saved:
                    v.apply_palette(pal)
        finally:
            self._scale = None
            self._put_back_qt_palette()
            for item in self._hidden:
                item.show()
            self._hidden = []
            for widget, hover in getattr(self, "_hovers", []):
                if shiboken6.isValid(widget) and widget.hover is None:
                    widget.hover = hover
            self._hovers = []
            if getattr(self, "_follow", None) is not None:
                self.host.units_panel.follow_cursor = self._follow
                self._follow = None
            self._unreveal()

    def qt_palette(self) -> QPalette:
        """The Qt palette (frames, tool bars, docks) the figure is painted in: its print theme's,
        passed in with the options, never the application's (the window's theme, which may be
        dark while the figure prints on white); on screen, the window's own."""
        if self.options.theme == "screen":
            return self.host.palette()
        return qt_palette(self.options.theme)

    def _set_qt_palette(self) -> None:
        if self.options.theme == "screen":
            return
        qp = self.qt_palette()
        for widget in self.spec.widgets(self.host):
            self._save_qt_palette(widget)
            widget.setPalette(qp)
            if widget is self.host:
                restyle(widget)
        self._palette_styled()

    def _palette_styled(self) -> None:
        """A child with its own style sheet (the shape badges, the signal check boxes) takes
        the application's palette, not its parent's: it is given the figure's too, or it
        prints black text or white check boxes on dark. Again after every restyle of the
        views: setting a sheet again puts back the palette the widget had before."""
        if self.options.theme == "screen":
            return
        qp = self.qt_palette()
        for widget in self.spec.widgets(self.host):
            for one in widget.findChildren(QWidget):
                if one.styleSheet():
                    self._save_qt_palette(one)
                    one.setPalette(qp)

    def _save_qt_palette(self, widget: QWidget) -> None:
        if any(saved is widget for saved, _ in self._qt_saved):
            return
        explicit = widget.testAttribute(Qt.WA_SetPalette)
        self._qt_saved.append((widget, QPalette(widget.palette()) if explicit else None))

    def _put_back_qt_palette(self) -> None:
        saved, self._qt_saved = self._qt_saved, []
        for widget, palette in saved:
            if not shiboken6.isValid(widget):
                continue
            widget.setPalette(palette if palette is not None else QPalette())   # inherit again
            if widget is self.host:
                restyle(widget)

    def _hide_screen_marks(self) -> None:
        """The selected lane's highlight, the selected step's line and the inspector's lane
        marks are the user's pointer on screen, not part of the figure, unless asked for."""
        if self.options.selection:
            return
        panel = self.host.units_panel
        inspector = getattr(self.host, "cell_inspector", None)
        marks = [getattr(panel, "sel_lane", None), getattr(panel, "sel_step", None),
                 getattr(getattr(inspector, "highlighter", None), "_scatter", None)]
        self._hidden = [m for m in marks if m is not None and m.isVisible()]
        for item in self._hidden:
            item.hide()
        # a canvas that draws what the mouse is over (the unrolled view's links) forgets it
        self._hovers = [(w, w.hover) for w in view_widgets(self.host, self.view)
                        if getattr(w, "hover", None) is not None]
        for widget, _ in self._hovers:
            widget.hover = None

    def _reveal(self) -> None:
        """A view in a hidden dock or tab has a stale size: bring its dock to the front first
        (and remember what was there, to put it back)."""
        self._revealed = None
        dock = self.spec.dock_of(self.host)
        if dock is None or dock.widget().isVisible():
            return
        front = [d for d in _tab_siblings(self.host, dock) if d.widget().isVisible()]
        self._revealed = (dock, dock.isHidden(), front[0] if front else None)
        dock.show()
        dock.raise_()
        QApplication.processEvents()

    def _unreveal(self) -> None:
        revealed, self._revealed = self._revealed, None
        if revealed is None:
            return
        dock, was_hidden, front = revealed
        if was_hidden:
            dock.hide()
        elif front is not None:
            front.raise_()

    @property
    def palette(self) -> Palette:
        if self.options.theme == "screen":
            return self.host.pal
        pal = print_palette(self.options.theme)
        if not self.spec.framed:        # the window as laid out: print colours, screen text size
            pal = replace(pal, font_pt=0.0)
        if self._dense():
            pal = replace(pal, antialias=False)
        if self.options.line_scale != 1.0:
            pal = replace(pal, line_width=pal.line_width * self.options.line_scale)
        return pal

    def _dense(self) -> bool:
        """Smoothing wide strokes costs seconds when thousands of lane segments overlap, and
        shows no difference when lanes are a few pixels tall: only few lanes are smoothed."""
        if not self.spec.draws_lanes:
            return False
        panel = self.host.units_panel
        points = len(panel.order) * self.host.session_model.steps * max(len(panel.visible_signals), 1)
        return points > DENSE_POINTS

    def set_scale(self, scale: float) -> None:
        """Pens for a picture ``scale`` times the on-screen size (cosmetic pens don't scale)."""
        if self._scale is not None and abs(scale - self._scale) < 1e-6:
            return
        self._scale = scale
        for v, pal in self._saved:
            base = pal if self.options.theme == "screen" else self.palette
            v.apply_palette(base.scaled(scale))
        self._palette_styled()
        # pyqtgraph lays out new axis fonts lazily; run only those layouts, not a screen repaint
        QApplication.sendPostedEvents(None, QEvent.Type.LayoutRequest)

    def sync(self) -> None:
        """Bring views that skip work while hidden up to the cursor before a frame is taken
        (the pointer's marks stay hidden: a restyle or a step shows the selection again)."""
        self.spec.prepare(self.host)
        for item in self._hidden:
            item.hide()

    # layout
    def context(self) -> ViewContext:
        return view_context(self.host, self.view)

    @contextmanager
    def _laid_out(self) -> Iterator[tuple[FigureText, list[QWidget], FigureText, QSize]]:
        """Header, view widgets, footer and the figure's logical size; the texts are deleted
        right after (an animation builds them once per frame)."""
        ctx = self.context()
        palette = self.palette
        bodies = self.spec.widgets(self.host)
        width = max(body_size(w).width() for w in bodies)
        header = build_header(self.host, self.spec, ctx, self.options, palette, width)
        footer = build_footer(self.spec, ctx, self.options, palette, self.host.session_model.units,
                              width, self.host.session_model.cell_kind, self._heads())
        try:
            for text in (header, footer):
                text.setPalette(self.qt_palette())
                text.lay_out()
            height = sum(body_size(w).height() for w in bodies) + 2 * MARGIN
            for text in (header, footer):
                if not text.empty():
                    height += text.height() + MARGIN
            yield header, bodies, footer, QSize(width + 2 * MARGIN, height)
        finally:
            for text in (header, footer):
                text.hide()
                shiboken6.delete(text)

    def _heads(self) -> int:
        """How many heads the layer's units form (1: every unit reads every unit through U)."""
        model = self.host.session_model
        if not model.ready:
            return 1
        return int(model.session.info.weights.unit_heads().max(initial=0)) + 1

    def size(self) -> QSize:
        with self._laid_out() as (_, _, _, size):
            return size

    def paint(self, painter: QPainter, parts=None) -> QSize:
        """Draw the whole figure at the painter's origin, in logical (on-screen) pixels."""
        if parts is None:
            with self._laid_out() as laid:
                return self.paint(painter, laid)
        header, bodies, footer, size = parts
        margin = MARGIN
        painter.fillRect(QRect(QPoint(0, 0), size), QColor(self.palette.background))
        y = margin
        if not header.empty():
            header.render(painter, QPoint(margin, y), renderFlags=CHILDREN_ONLY)
            y += header.height() + margin
        for widget in bodies:
            size = body_size(widget)
            if hasattr(widget, "figure_size"):     # a painted canvas: drawn at the figure's size
                painter.save()
                painter.translate(margin, y)
                painter.setClipRect(QRect(QPoint(0, 0), size))
                widget.paint_on(painter, size.width(), size.height())
                painter.restore()
            else:   # QWidget.render, not QGraphicsView.render (a scene render without the axes)
                QWidget.render(widget, painter, QPoint(margin, y))
                repaint_menu_titles(painter, widget, QPoint(margin, y))
            y += size.height()
        if not footer.empty():
            footer.render(painter, QPoint(margin, y + margin), renderFlags=CHILDREN_ONLY)
        return size

    # output
    def image(self, width: int | None = None, *, scale: float | None = None,
              parts=None) -> QImage:
        """The figure as an image ``width`` pixels wide (default: twice its on-screen width).
        An animation passes its ``scale`` and its laid-out header and footer (``parts``, the
        step's line updated) so that each frame only paints."""
        frame = self.options.frame
        if scale is None:
            if frame is not None:
                width, scale = frame[0], self._frame_scale(frame)
            else:
                logical = self.size()
                width = int(width or 2 * logical.width())
                scale = self._check_width(width, logical)
        width = int(width)
        self.set_scale(scale)
        self.sync()
        if parts is None:
            with self._laid_out() as laid:
                return self.image(width, scale=scale, parts=laid)
        logical = parts[3]
        height = max(1, round(logical.height() * scale)) if frame is None else frame[1]
        image = QImage(width, height, QImage.Format_ARGB32_Premultiplied)
        image.setDevicePixelRatio(scale)
        image.fill(QColor(self.palette.background))
        painter = QPainter(image)
        try:
            painter.setRenderHint(QPainter.Antialiasing, self.palette.antialias)
            painter.setRenderHint(QPainter.TextAntialiasing, True)
            if frame is not None:          # centred in the frame (logical units: the ratio)
                painter.translate((width / scale - logical.width()) / 2,
                                  (height / scale - logical.height()) / 2)
            self.paint(painter, parts)
        finally:
            painter.end()
        dots = round(96 * scale / 0.0254)
        image.setDotsPerMeterX(dots)   # slide software then places it at its on-screen size
        image.setDotsPerMeterY(dots)
        return image

    @staticmethod
    def _check_width(width: int, logical: QSize, frames: int = 1) -> float:
        """The scale of a picture ``width`` pixels wide, refused (naming the widths that can be
        drawn) when it is narrower than 16 px or holds more pixels than LSTM Scope draws."""
        widest = max_width(logical, frames)
        if width < 16:
            raise ScopeError(f"a width of {width} px is too small; choose 16 to {widest:,} px")
        scale = width / logical.width()
        if width > widest:
            height = max(1, round(logical.height() * scale))
            many = f" for {frames} frames" if frames > 1 else ""
            raise ScopeError(f"a width of {width:,} px ({width:,}×{height:,}{many}) is more than "
                             f"LSTM Scope draws: this view is at most {widest:,} px wide{many}; "
                             f"choose 16 to {widest:,} px")
        return scale

    def _frame_scale(self, frame: tuple[int, int]) -> float:
        """The scale that fits the figure whole into ``frame``, measured as it will be drawn:
        in its print palette (restyled first, at scale 1 if no picture was taken yet; only pen
        widths depend on the scale), not the window's screen palette, in which the unrolled
        view with its wrong pictures laid out 60 px shorter and came out cut at both ends."""
        if self._scale is None:
            self.set_scale(1.0)
        return self._check_frame(frame, self.size())

    @staticmethod
    def _check_frame(frame: tuple[int, int], logical: QSize) -> float:
        """The scale that fits a figure of ``logical`` size whole into a ``frame`` (W, H)."""
        w, h = frame
        if w < 16 or h < 16 or w * h > MAX_PNG_PIXELS:
            raise ScopeError(f"a frame of {w}×{h} px: choose 16 to {MAX_PNG_PIXELS:,} pixels")
        return min(w / max(1, logical.width()), h / max(1, logical.height()))

    def metadata(self) -> dict[str, Any]:
        meta = self.context().describe()
        meta["software"] = f"LSTM Scope {__version__}"
        if self.options.title:
            meta["title"] = self.options.title
        if self.options.caption:
            meta["caption"] = self.options.caption
        return meta

    def save_png(self, path: str | Path, width: int | None = None) -> QImage:
        image = self.image(width)
        meta = self.metadata()
        image.setText("Title", self.options.title or self.context().summary())
        image.setText("Software", meta["software"])
        image.setText("Description", self.context().summary())
        for key in ("model", "layer", "direction", "sample", "inputs_read", "steps", "cursor", "view",
                    "unit", "position"):
            if key in meta:
                image.setText(key, str(meta[key]))
        image.setText("lstm-scope", json.dumps(meta))
        save_qimage(image, path, "PNG")
        return image

    def save_svg(self, path: str | Path) -> QSize:
        """True vectors: curves are SVG paths, text is text (heat-maps stay images)."""
        self.set_scale(1.0)
        if self.spec.draws_lanes:
            self.host.units_panel.set_whole_paths(True)
        self.sync()
        with self._laid_out() as parts:
            return self._write_svg(path, parts)

    def _write_svg(self, path: str | Path, parts) -> QSize:
        from PySide6.QtSvg import QSvgGenerator
        logical = parts[3]
        buffer = QBuffer()
        buffer.open(QIODevice.WriteOnly)
        generator = QSvgGenerator()
        generator.setOutputDevice(buffer)
        generator.setSize(logical)
        generator.setViewBox(QRect(QPoint(0, 0), logical))
        screen = QGuiApplication.primaryScreen()
        generator.setResolution(round(screen.logicalDotsPerInch()) if screen else 96)
        generator.setTitle(self.options.title or self.context().summary())
        generator.setDescription(self.context().summary())
        painter = QPainter(generator)
        try:
            self.paint(painter, parts)
        finally:
            painter.end()
        buffer.close()
        svg = bake_scaled_strokes(bytes(buffer.data()).decode("utf-8"))
        svg = add_svg_metadata(svg, self.metadata())
        write_bytes(path, svg.encode("utf-8"))
        return logical

    def frames(self, positions: range, width: int | None = None,
               progress: Progress | None = None) -> Iterator[QImage]:
        """One image per input position: the cursor set so that position has just been read."""
        session = self.host.session_model.session
        order = reversed(positions) if session.backward else positions   # the way it reads
        if self.options.frame is not None:
            width, scale = self.options.frame[0], self._frame_scale(self.options.frame)
        else:
            logical = self.size()
            width = int(width or 2 * logical.width())
            scale = self._check_width(width, logical)   # every frame: the same width and pens
        self.set_scale(scale)
        with self._laid_out() as parts:                 # header and footer: laid out once
            header = parts[0]
            for done, position in enumerate(order):
                if progress is not None and not progress(done, len(positions)):
                    return
                self.host.session_model.seek(session.position_to_t(position))
                self.host.session_model.settle_span()      # a long run: this frame's span
                if header.summary is not None:
                    header.summary.setText(escape(self.context().summary()))
                yield self.image(width, scale=scale, parts=parts)

    def save_gif(self, path: str | Path, positions: range, width: int | None = None,
                 progress: Progress | None = None) -> int:
        """An animation of stepping, one frame per input position; returns the frame count.

        The session's cursor is put back where it was afterwards.
        """
        check_positions(positions, self.host.session_model.steps)
        fps = self.options.fps
        if not (isinstance(fps, (int, float)) and math.isfinite(fps) and 0.1 <= fps <= 100):
            raise ScopeError(f"a frame rate of {fps} frames/s: choose 0.1 to 100")
        session = self.host.session_model.session
        inspector = self.host.cell_inspector
        start_t, pinned = session.t, inspector.pinned
        meta = self.metadata()
        for key in ("inputs_read", "cursor"):     # each frame has its own; say which frames
            meta.pop(key, None)
        meta["frames"] = f"{positions.start}:{positions.stop}"
        logical = self.size()
        width = width or logical.width()          # an animation: on-screen size by default
        if self.options.frame is None:
            self._check_width(width, logical, len(positions))
        elif self.options.frame[0] * self.options.frame[1] * len(positions) > MAX_GIF_PIXELS:
            raise ScopeError(f"{len(positions)} frames of {self.options.frame[0]}×"
                             f"{self.options.frame[1]} px is more than LSTM Scope draws: "
                             "choose fewer steps or a smaller --size")
        frames: list[np.ndarray] = []
        holders = [w for w in view_widgets(self.host, self.view) if hasattr(w, "hold")]
        for widget in holders:           # a grid that holds still while columns fill in
            widget.hold(positions)
        try:
            # the first and the last frame hold every colour of the animation: one palette
            samples = [gif.rgb_array(image) for p in {positions[0], positions[-1]}
                       for image in self.frames(range(p, p + 1), width)]
            palette = gif.shared_palette(samples, reserved=gif.reserved_colours(
                self.palette, self.host.session_model.cell_kind))
            table = gif.colour_table(palette)
            for image in self.frames(positions, width, progress):
                frames.append(gif.index_frame(gif.rgb_array(image), table))
        finally:
            for widget in holders:
                widget.hold(None)
            self.host.session_model.seek(start_t)
            if pinned is not None:                # stepping unpinned the inspector's step
                inspector.pinned = pinned
                inspector.refresh()
        if len(frames) < len(positions):
            raise ExportCancelled(f"{path}: export cancelled after {len(frames)} frames")
        duration = max(20, round(1000 / fps))
        write_bytes(path, gif.encode(frames, palette, duration, json.dumps(meta).encode()))
        if progress is not None:
            progress(len(positions), len(positions))
        return len(frames)

    def copy_to_clipboard(self, width: int | None = None) -> QImage:
        image = self.image(width)
        QApplication.clipboard().setImage(image)
        return image


class ExportCancelled(ScopeError):
    """The user pressed Cancel: nothing was written."""


def _tab_siblings(host, dock) -> list:
    """Docks sharing ``dock``'s tab group."""
    try:
        return list(host.tabifiedDockWidgets(dock))
    except (AttributeError, RuntimeError):
        return []


def print_before_drawn(host: ViewHost, view: str, options: FigureOptions) -> None:
    """A headless export's view panels take the figure's palette before they first draw
    (``ExportableView.print_before_drawn``): the figure's scale then restyles their pens only,
    where a view drawn on screen first is drawn a second time in print."""
    figure = Figure(host, view, options, restore=False)
    if not figure.spec.print_before_drawn or options.theme == "screen":
        return
    for panel in figure.views:
        panel.apply_palette(figure.palette)


def export_view(host: ViewHost, view: str, path: str | Path, *, options: FigureOptions | None = None,
                width: int | None = None, positions: range | None = None,
                progress: Progress | None = None, restore: bool = True) -> dict[str, Any]:
    """Write ``view`` to ``path``; the suffix picks the format. Returns what was written.
    ``restore=False``: the window is closed right after; its views keep the figure's palette."""
    from engine.cli.commands import input_roles, model_roles
    from engine.output.export import DATA_SUFFIXES
    path = Path(path)
    suffix = path.suffix.lower()
    shown = host.session_model
    session = getattr(shown, "session", None)
    inputs = input_roles(getattr(shown, "source", ""), getattr(shown, "input_source", None))
    if session is not None:           # its --config, ONNX external data
        inputs = model_roles(session.model, inputs)
    check_writable(path, inputs=inputs)       # never over the model or input being shown
    if suffix in DATA_SUFFIXES:
        spec = refuse_unless_applies(view, session) if session is not None else find_view(view)
        ctx = view_context(host, view)
        spec.write_data(path, session, ctx, host.session_model.full, inputs=inputs)
        return {"path": str(path), "format": suffix[1:]}
    if suffix not in IMAGE_SUFFIXES:
        raise ScopeError(f"{path}: choose .png, .svg, .gif, .csv or .npz")
    options = options or FigureOptions()
    with Figure(host, view, options, restore=restore) as fig:
        if suffix == ".png":
            image = fig.save_png(path, width)
            return {"path": str(path), "format": "png", "width": image.width(),
                    "height": image.height()}
        if suffix == ".svg":
            size = fig.save_svg(path)
            return {"path": str(path), "format": "svg", "width": size.width(),
                    "height": size.height()}
        if positions is None:
            positions = range(0, host.session_model.steps)
        frames = fig.save_gif(path, positions, width, progress)
        return {"path": str(path), "format": "gif", "frames": frames}


__all__ = ["FigureOptions", "Figure", "ExportCancelled", "IMAGE_SUFFIXES", "THEMES",
           "default_width", "export_view", "print_before_drawn"]
