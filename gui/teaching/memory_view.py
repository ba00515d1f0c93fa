"""The memory view: an mLSTM's matrix memory C at the cursor, one small heat-map per head.

Each head keeps a DH x DH matrix C = f·C + i·(k/√DH)vᵀ; the view draws it as the paper writes
it, rows the value dimensions and columns the key dimensions (the engine stores its transpose,
h = qᵀC), all heads on one symmetric colour scale with its bar, and redraws at every step.
The numbers come from ``engine.analyses.memory`` (one step's window of the run); a layer of
another kind has no matrix memory and the view says so in one line (docs/architecture.md,
"mLSTM").
"""

from __future__ import annotations

import math

import numpy as np
import pyqtgraph as pg
from PySide6.QtWidgets import QLabel, QVBoxLayout, QWidget

from engine.analyses.memory import memory_at, memory_reason
from gui.positions import cursor_text
from gui.session_model import SessionModel
from gui.shown import Shown
from gui.theme import Palette
from gui.widgets.plot_menus import NO_MENU
from gui.widgets.plot_style import style_axes, tick_font

COLUMNS = 4          # heads per row of maps


def nice_scale(value: float) -> float:
    """The colour scale's end: ``value`` rounded up to 1, 2 or 5 times a power of ten, so the
    scale moves in steps, not at every step of the run."""
    if not np.isfinite(value) or value <= 0:
        return 1.0
    power = 10.0 ** math.floor(math.log10(value))
    return next(m * power for m in (1, 2, 5, 10) if m * power >= value)


class MemoryView(QWidget):
    """Each head's C at the cursor as a heat-map (rows value dims, columns key dims)."""

    def __init__(self, model: SessionModel, palette: Palette, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.session_model = model
        self.palette = palette
        layout = QVBoxLayout(self)
        layout.setContentsMargins(4, 4, 4, 4)
        self.title = QLabel()
        self.title.setWordWrap(True)
        layout.addWidget(self.title)
        self.glw = pg.GraphicsLayoutWidget()
        self.glw.setBackground(palette.background)
        layout.addWidget(self.glw, 1)
        self.plots: list[pg.PlotItem] = []
        self.images: list[pg.ImageItem] = []
        self.bar: pg.ColorBarItem | None = None
        self.scale = 1.0
        self.values: np.ndarray | None = None      # (heads, DH, DH) as drawn
        self._shown: Shown | None = None
        self._layout_key: tuple | None = None
        model.runChanged.connect(self.refresh)
        model.positionChanged.connect(lambda _t: self.refresh())
        model.sampleChanged.connect(lambda _s: self.refresh())
        self.refresh()

    # --- drawing -------------------------------------------------------------------------
    def _build(self, heads: int, dh: int) -> None:
        """One plot per head and the shared colour bar, made again only when the shape changes."""
        if self._layout_key == (heads, dh):
            return
        self._layout_key = (heads, dh)
        self.glw.clear()
        self.plots, self.images = [], []
        cmap = pg.colormap.get("CET-D1")            # diverging: 0 in the middle
        for k in range(heads):
            plot = self.glw.addPlot(row=k // COLUMNS, col=k % COLUMNS, **NO_MENU)
            plot.hideButtons()
            plot.setMouseEnabled(False, False)
            plot.getViewBox().invertY(True)          # value dim 0 at the top, as a matrix
            plot.setRange(xRange=(-0.5, dh - 0.5), yRange=(-0.5, dh - 0.5), padding=0)
            every = max(1, dh // 8)                  # whole dimensions only, at most 8 labels
            ticks = [[(d, str(d)) for d in range(0, dh, every)]]
            plot.getAxis("bottom").setTicks(ticks)
            plot.getAxis("left").setTicks(ticks)
            plot.setTitle(f"head {k}", size="9pt", color=self.palette.foreground)
            plot.setLabel("bottom", "key dim")
            plot.setLabel("left", "value dim")
            style_axes(plot, self.palette)
            image = pg.ImageItem(axisOrder="row-major")
            image.setLookupTable(cmap.getLookupTable(nPts=256, alpha=False))
            plot.addItem(image)
            self.plots.append(plot)
            self.images.append(image)
        self.bar = pg.ColorBarItem(colorMap=cmap, interactive=False, width=12,
                                   colorMapMenu=False)
        self.bar.setImageItem(self.images, insert_in=None)
        self._style_bar()
        self.glw.addItem(self.bar, row=0, col=min(heads, COLUMNS), rowspan=max(1, -(-heads // COLUMNS)))

    def refresh(self) -> None:
        model = self.session_model
        session = model.session if model.ready else None
        if session is None:
            self._say("no model loaded")
            return
        reason = memory_reason(session)
        if reason:
            self._say(reason)
            return
        cursor = session.cursor
        if cursor is not None and not session.ready(cursor):
            self._say(f"step {cursor} is being computed")
            return
        c = memory_at(session, model.sample, cursor)            # (heads, key, value)
        heads, dh, _ = c.shape
        self._build(heads, dh)
        self.glw.show()
        self.values = np.swapaxes(c, 1, 2)                     # rows value dims, columns key dims
        self.scale = nice_scale(float(np.abs(c).max(initial=0.0)))
        for k, (image, values) in enumerate(zip(self.images, self.values)):
            image.setImage(values, autoLevels=False, levels=(-self.scale, self.scale))
            image.setRect(-0.5, -0.5, dh, dh)
            self.plots[k].setTitle(f"head {k} · max |C| {float(np.abs(values).max(initial=0.0)):.3g}",
                                   size="9pt", color=self.palette.foreground)
        self.bar.setLevels((-self.scale, self.scale))
        ends = [(-self.scale, f"{-self.scale:g}"), (0.0, "0"), (self.scale, f"{self.scale:g}")]
        self.bar.getAxis("right").setTicks([ends, [(v, "") for v in (-self.scale / 2, self.scale / 2)]])
        self.title.setText(
            f"Matrix memory C of each of the {heads} heads ({dh} x {dh}) at {cursor_text(session)}: "
            f"C = f·C + i·v kᵀ/√{dh}, rows the value dimensions, columns the key dimensions; h reads "
            f"qᵀC. The heads' units are coupled only through their C (no recurrent kernel). "
            f"Colour scale ±{self.scale:g}.")
        self._shown = Shown(model.run, session.units, session.steps, cursor, session.cell_kind.name)

    def _say(self, text: str) -> None:
        self.title.setText(text)
        self.glw.hide()
        self.values = None
        self._shown = None

    # --- window hooks --------------------------------------------------------------------
    def _style_bar(self) -> None:
        """The colour bar's ticks and label in the palette's foreground (readable when dark)."""
        axis = self.bar.getAxis("right")
        axis.setPen(self.palette.foreground)
        axis.setTextPen(self.palette.foreground)
        axis.enableAutoSIPrefix(False)       # "C (x0.001)" over ±100 was read as ±100
        axis.setLabel("C", color=self.palette.foreground)
        axis.setStyle(tickFont=tick_font(self.palette))

    def apply_palette(self, palette: Palette) -> None:
        self.palette = palette
        self.glw.setBackground(palette.background)
        if self.bar is not None:
            self._style_bar()
        for plot in self.plots:
            style_axes(plot, palette)
            plot.setTitle(plot.titleLabel.text, size="9pt", color=palette.foreground)

    def set_signal(self, _name: str | None) -> None:
        """The teaching docks' ``--signal``: C is the only thing this view draws."""

    def shown(self) -> Shown | None:
        return self._shown
