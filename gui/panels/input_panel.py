"""The input sequence (or its tokens), its saliency and the model's output, on the units
panel's time axis. The saliency strip shows |d target / d x_t| per step for the gradient
target of the Gradients dock (numbers from the engine, ``gui.grad_model``)."""

from __future__ import annotations

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QVBoxLayout, QWidget

from engine.network.model_input import (
    IMAGE,
    WAVEFORM,
    InputKind,
    image_planes,
    model_input_kind,
    step_input,
    waveform,
)
from gui.session_model import SessionModel
from gui.shown import Shown, cursor_at
from gui.theme import Palette
from gui.widgets.plot_menus import NO_MENU
from gui.widgets.plot_style import keep_titles_whole, set_axis_label, style_axes

FEATURE_COLOURS = ["#0072B2", "#D55E00", "#009E73", "#CC79A7", "#E69F00", "#56B4E9", "#F0E442", "#000000"]
MAX_FEATURE_CURVES = 8


X_MIN_HEIGHT = 46            # the input's plot (token ids or features)
SALIENCY_MIN_HEIGHT = 36     # |d target / d x|, two tick labels
OUTPUT_MIN_HEIGHT = 76       # the output, with the time axis under it
# px under each plot's view box (the time axis's tick values, under the output only: the
# three plots share it, titled on the units panel above): its rotated left label must fit
# beside the view box, or it is cut ("utput") and runs into the ticks below
BELOW_VIEW_PX = {"x": 6, "saliency": 6, "output": 27}
NOTHING_READ = "saliency: nothing read yet (step to read an input)"
GRID_MARGIN_PX = 2           # above the first plot and under the time axis


class InputPanel(QWidget):
    """Top: the layer's input x (up to 8 features, or token ids); bottom: output so far."""

    def __init__(self, session_model: SessionModel, palette: Palette, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.session_model = session_model
        self.palette = palette
        self._out_full: np.ndarray | None = None     # the whole output, revealed up to the cursor
        layout = QVBoxLayout(self)
        layout.setContentsMargins(2, 2, 2, 2)
        self.glw = pg.GraphicsLayoutWidget()
        self.glw.setBackground(palette.background)
        layout.addWidget(self.glw)
        self.x_plot = self.glw.addPlot(row=0, col=0, **NO_MENU)
        self.x_plot.hideButtons()
        self.x_plot.setLabel("left", "x")
        self.sal_plot = self.glw.addPlot(row=1, col=0, **NO_MENU)
        self.sal_plot.hideButtons()
        self.sal_plot.setMaximumHeight(70)
        self.sal_plot.setLabel("left", "|∂/∂x|")
        self.sal_plot.setXLink(self.x_plot)
        # one time axis, under the output (the three plots share it): tick values under each
        # plot took the room a laptop's bottom dock has for the output's own
        for plot in (self.x_plot, self.sal_plot):
            plot.getAxis("bottom").setStyle(showValues=False)
        self.glw.ci.setContentsMargins(9, GRID_MARGIN_PX, 9, GRID_MARGIN_PX)
        self.sal_item = pg.BarGraphItem(x=[], height=[], width=0.8, brush="#0072B2", pen=None)
        self.sal_plot.addItem(self.sal_item)
        self.sal_fork = self.sal_plot.plot([], [], pen=pg.mkPen("#D55E00", width=1.4,
                                                                style=Qt.DashLine))
        self.y_plot = self.glw.addPlot(row=2, col=0, **NO_MENU)
        self.y_plot.hideButtons()
        self.y_plot.setLabel("left", "output")
        for plot in (self.x_plot, self.sal_plot, self.y_plot):
            plot.getAxis("left").enableAutoSIPrefix(False)
            plot.getAxis("left").setWidth(54)
        self.y_plot.setXLink(self.x_plot)
        # below these heights the tick labels of neighbouring plots run into each other; a
        # short dock scrolls instead (gui.layout.scrolling)
        self._keep_labels_whole()
        self.cursors = []
        for plot in (self.x_plot, self.sal_plot, self.y_plot):
            line = pg.InfiniteLine(angle=90, movable=False, pen=pg.mkPen(palette.cursor, width=2))
            line.setZValue(50)
            plot.addItem(line)
            self.cursors.append(line)
        self._x_items: list[pg.PlotDataItem] = []
        self._y_items: list[pg.PlotDataItem] = []
        self._tokens: list[pg.TextItem] = []
        self._no_output: pg.TextItem | None = None
        self._stale = False             # a run arrived before the window was on screen
        session_model.runChanged.connect(self.rebuild)
        session_model.positionChanged.connect(self.on_position)
        view = self.x_plot.getViewBox()       # letters shown again as they fit a zoom or size
        view.sigResized.connect(lambda *_: self._thin_tokens())
        view.sigXRangeChanged.connect(lambda *_: self._thin_tokens())

    def _keep_labels_whole(self) -> None:
        """Each plot at least its least height and tall enough for its left label, the grid
        tall enough for all three (``plot_style.keep_titles_whole``)."""
        keep_titles_whole(self.glw, [(self.x_plot, X_MIN_HEIGHT, BELOW_VIEW_PX["x"]),
                                     (self.sal_plot, SALIENCY_MIN_HEIGHT, BELOW_VIEW_PX["saliency"]),
                                     (self.y_plot, OUTPUT_MIN_HEIGHT, BELOW_VIEW_PX["output"])])
        self.sal_plot.setMaximumHeight(max(70, int(self.sal_plot.minimumHeight())))

    def _thin_tokens(self) -> None:
        """Show a token's letter only where it touches no letter already shown, left to right:
        165 characters of the code demo over a laptop's width drew their letters into each
        other. Each letter's box is its text's, in pixels at the plot's present scale."""
        if not self._tokens:
            return
        xsize, ysize = self.x_plot.getViewBox().viewPixelSize()
        if not (xsize > 0 and ysize > 0):
            return
        shown: list[tuple[float, float, float, float]] = []
        for text in self._tokens:
            inner = text.textItem.boundingRect()
            margin = text.textItem.document().documentMargin()
            w, h = inner.width() - 2 * margin, inner.height() - 2 * margin
            x, bottom = text.pos().x() / xsize, -text.pos().y() / ysize - margin
            box = (x - w / 2, bottom - h, x + w / 2, bottom)
            fits = True
            for o in reversed(shown):            # left edges ascend: only near ones can touch
                if o[0] < box[0] - 4 * max(w, o[2] - o[0]):
                    break
                if (min(box[2], o[2]) - max(box[0], o[0]) > 1.0
                        and min(box[3], o[3]) - max(box[1], o[1]) > 1.0):
                    fits = False
                    break
            text.setVisible(fits)
            if fits:
                shown.append(box)

    def apply_palette(self, palette: Palette) -> None:
        """Restyle for a theme switch or an export (the print palette), then redraw."""
        self.palette = palette
        self.glw.setBackground(palette.background)
        for plot in (self.x_plot, self.sal_plot, self.y_plot):
            style_axes(plot, palette)
        set_axis_label(self.sal_plot, "left", "|∂/∂x|", palette)
        set_axis_label(self.y_plot, "left", "output", palette)
        self._keep_labels_whole()
        for line in self.cursors:
            line.setPen(pg.mkPen(palette.cursor, width=max(2.0, 1.4 * palette.line_width)))
        self.rebuild()

    def show_saliency(self, view) -> None:
        """|d target / d x_t| per step (a ``gui.grad_model.GradView``, None clears it). Before
        the first step it stays empty, like the output beside it: the default target is then
        the last position's (the Gradients dock shows it), not anything read yet."""
        if view is None:
            self._clear_saliency("saliency: no gradient target")
            return
        if not self.session_model.ready or self.session_model.session.cursor is None:
            self._clear_saliency(NOTHING_READ)
            return
        t = np.arange(view.saliency.shape[0])
        self.sal_item.setOpts(x=t, height=np.nan_to_num(view.saliency), width=0.8)
        if view.fork_saliency is not None:
            self.sal_fork.setData(t, view.fork_saliency)
        else:
            self.sal_fork.setData([], [])
        self.sal_plot.setToolTip(f"saliency |∂ {view.target} / ∂x_t| per input position"
                                 + (f"; dashed: fork '{view.fork}'" if view.fork else ""))

    def _clear_saliency(self, why: str) -> None:
        self.sal_item.setOpts(x=[], height=[])
        self.sal_fork.setData([], [])
        self.sal_plot.setToolTip(why)

    def showEvent(self, event) -> None:  # noqa: N802 (Qt API)
        super().showEvent(event)
        if self._stale:
            self.rebuild()

    def rebuild(self) -> None:
        """The run's input and output curves. In a window not on screen yet (a headless
        export lays out its view first, and most views hide this dock) they are drawn when
        the panel is first shown."""
        if not self.window().isVisible():
            self._stale, self._drawn = True, None
            return
        self._stale = False
        for item in self._x_items + self._y_items + self._tokens:
            item.getViewBox() and item.getViewBox().removeItem(item)
        self._x_items, self._y_items, self._tokens = [], [], []
        self._drawn = None
        if not self.session_model.ready:
            return
        session = self.session_model.session
        self._drawn = (self.session_model.run, session.units, session.steps, session.cell_kind.name)
        sample = self.session_model.sample
        t = np.arange(session.steps)
        kind = model_input_kind(session)
        raw = step_input(session, sample)
        self.x_plot.getViewBox().invertY(kind.kind == IMAGE)      # an image: its top row on top
        self.x_plot.getAxis("left").setStyle(showValues=kind.kind != IMAGE)   # no pixel rows
        if not kind.is_layer_input:          # an image, a waveform ...: shown as what it is
            self._draw_model_input(kind, np.asarray(session.x), raw)
        elif raw.ndim == 1:   # token ids
            item = self.x_plot.plot(t, raw.astype(float), stepMode=None, pen=None, symbol="s",
                                    symbolSize=5, symbolBrush=FEATURE_COLOURS[0])
            self._x_items.append(item)
            set_axis_label(self.x_plot, "left", "token id", self.palette)
            self._keep_labels_whole()
            span = float(raw.max()) - float(raw.min()) + 1.0      # room above for the letters
            self.x_plot.setYRange(float(raw.min()) - 0.5, float(raw.max()) + 0.5 + 0.35 * span,
                                  padding=0)
            vocab = getattr(self.session_model.demo, "vocabulary", None) if self.session_model.demo else None
            if vocab and session.steps <= 400:
                for k, tok in enumerate(raw):
                    label = vocab[int(tok)] if 0 <= int(tok) < len(vocab) else "?"
                    text = pg.TextItem(label if label.strip() else "␣", color=self.palette.foreground,
                                       anchor=(0.5, 1.0))
                    text.setPos(k, float(tok))
                    self.x_plot.addItem(text)
                    self._tokens.append(text)
                self._thin_tokens()
        else:
            set_axis_label(self.x_plot, "left", f"x ({raw.shape[1]})", self.palette)
            self._keep_labels_whole()
            self.x_plot.getAxis("left").setToolTip(f"The input: {raw.shape[1]} features per step")
            self.x_plot.enableAutoRange(axis="y")      # a new input: its own range, not the last one's
            for d in range(min(raw.shape[1], MAX_FEATURE_CURVES)):
                pen = pg.mkPen(FEATURE_COLOURS[d % len(FEATURE_COLOURS)], width=1.2)
                item = self.x_plot.plot(t, raw[:, d], pen=pen)
                # a long run: draw what is in view, at most a few points per pixel (peaks kept)
                item.setClipToView(True)
                item.setDownsampling(auto=True, method="peak")
                self._x_items.append(item)
        output = self.session_model.output()
        out = None if output is None else np.asarray(output)
        self._out_full = out
        self._say_why_no_output(out is None)
        if out is None:
            self.x_plot.setXRange(-0.5, session.steps - 0.5, padding=0)
            self.on_position(session.t)
            return
        if out.ndim == 3 and out.shape[1] == session.steps:
            for d in range(min(out.shape[2], MAX_FEATURE_CURVES)):
                pen = pg.mkPen(FEATURE_COLOURS[(d + 3) % len(FEATURE_COLOURS)], width=1.2)
                item = self.y_plot.plot(t, np.full(session.steps, np.nan), pen=pen,
                                        connect="finite")
                item.setClipToView(True)          # a long run: as the input's curves
                item.setDownsampling(auto=True, method="peak")
                self._y_items.append(item)
        self.x_plot.setXRange(-0.5, session.steps - 0.5, padding=0)
        self.on_position(session.t)

    def _draw_model_input(self, kind: InputKind, x: np.ndarray, layer_x: np.ndarray) -> None:
        """The model's own input, stretched along the run's time axis (the LSTM reads the
        features a CNN or framing made of it, drawn under the lanes): an image as a greyscale
        thumbnail, a waveform as its curve, anything else as the layer's features, named by
        the model input's shape."""
        sample, steps = self.session_model.sample, self.session_model.steps
        plot = self.x_plot
        axis = plot.getAxis("left")
        if kind.kind == IMAGE:
            img = np.asarray(image_planes(x, kind, sample), np.float32)
            if img.ndim == 3:                      # colour: shown by its mean, a thumbnail
                img = img.mean(axis=-1)
            finite = img[np.isfinite(img)]
            lo, hi = (float(finite.min()), float(finite.max())) if finite.size else (0.0, 1.0)
            item = pg.ImageItem(img, axisOrder="row-major", levels=(lo, hi if hi > lo else lo + 1))
            item.setRect(-0.5, 0.0, max(steps, 1), 1.0)
            plot.addItem(item)
            plot.setYRange(0.0, 1.0, padding=0)
            self._x_items.append(item)
            set_axis_label(plot, "left", "image", self.palette)
        elif kind.kind == WAVEFORM:
            wave = np.asarray(waveform(x, sample), np.float32)
            where = (np.arange(wave.shape[0]) + 0.5) * steps / max(wave.shape[0], 1) - 0.5
            plot.enableAutoRange(axis="y")
            item = plot.plot(where, wave, pen=pg.mkPen(FEATURE_COLOURS[0], width=1.0))
            item.setClipToView(True)
            item.setDownsampling(auto=True, method="peak")
            self._x_items.append(item)
            set_axis_label(plot, "left", "waveform", self.palette)
        else:
            plot.enableAutoRange(axis="y")
            for d in range(min(layer_x.shape[1], MAX_FEATURE_CURVES)):
                pen = pg.mkPen(FEATURE_COLOURS[d % len(FEATURE_COLOURS)], width=1.2)
                self._x_items.append(plot.plot(np.arange(steps), layer_x[:, d], pen=pen))
            set_axis_label(plot, "left", "layer x", self.palette)
        axis.setToolTip(f"The model reads {kind.describe()} (shape {kind.shape}); its LSTM reads "
                        f"{layer_x.shape[-1]} features per step (the strip under the lanes)")

    def _say_why_no_output(self, missing: bool) -> None:
        """A checkpointed run keeps no whole-run output, a model computed only up to its LSTMs
        has none: say so in the plot, not leave it blank."""
        if self._no_output is not None:
            self._no_output.setParentItem(None)
            if self._no_output.scene() is not None:
                self._no_output.scene().removeItem(self._no_output)
            self._no_output = None
        if missing:
            session = self.session_model.session
            text = ("a checkpointed run keeps no whole-run output: main.py trace --steps A:B "
                    "writes the output of a range of steps" if session is None or session.checkpointed
                    else "no model output: LSTM Scope computes this model only up to its LSTMs "
                         "(see the warning)")
            self._no_output = pg.TextItem(text, color=self.palette.foreground, anchor=(0, 0))
            self._no_output.setParentItem(self.y_plot.getViewBox())
            self._no_output.setPos(8, 4)

    def shown(self) -> Shown | None:
        """The run the input and output curves were drawn for, and the cursor (gui/shown.py)."""
        drawn = getattr(self, "_drawn", None)
        if drawn is None or not self.session_model.ready:
            return None
        run, units, steps, kind = drawn
        return Shown(run, units, steps, cursor_at(self.cursors[0].value(), steps,
                                                  self.session_model.session.backward), kind)

    def on_position(self, t: int) -> None:
        if self._stale or not self.session_model.ready:
            return
        session = self.session_model.session
        cursor = session.cursor
        pos = cursor if cursor is not None else -0.5
        for line in self.cursors:
            line.setPos(pos)
        if cursor is None:               # back before t = 0: no bars, not even until the
            self._clear_saliency(NOTHING_READ)       # next gradient arrives
        out = self._out_full
        if out is not None and self._y_items and out.ndim == 3 and not session.backward:
            known = session.known()
            for d, item in enumerate(self._y_items):
                y = np.full(session.steps, np.nan)
                y[known] = out[self.session_model.sample, known, d]
                item.setData(np.arange(session.steps), y, connect="finite")
