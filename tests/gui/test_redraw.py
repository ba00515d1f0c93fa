"""What a panel that draws only what changed holds equals what a full redraw of the same state
draws, after every step, back, seek, span change and switch between lanes and heat strips.

The panels that keep track of "which columns changed since the last draw" themselves: the
units panel (one curve item per signal and chunk of positions, chunks sharing one column, a
ghost per chunk shown until the chunk is read; heat strips whose read columns are opaque; a
checkpointed run's overview), the layer view (one column per step written into its maps,
re-rendering only that column's tile), the input strip under both (its cursor) and, for a
checkpointed run, the live copy of the span they draw from (``SessionModel.live``). Every other
view that follows the cursor draws from scratch each time (the teaching views paint the live
trace, the input panel recomputes its output curves, docks move their cursor lines); the text
view's window over a text longer than it lays out is not covered here.

The reference is the panels' own code on a copy of the window's state that never saw an
incremental update: a second units panel and layer view on a ``FrozenModel`` (the window's
session, sample, selection and span, never told about a step, its live copy the run masked to
the positions read), redrawn whole at every check. What is compared is what the screen shows:
every curve's points, every image as rendered (an image whose array changed without being
rendered again shows the old one), lines, regions, and what is visible. Not seen: a missing
repaint of an image whose rendering wraps its own array (the heat strips' RGBA), which only
a grab of the screen would show.
"""

from __future__ import annotations

import dataclasses

import numpy as np
import pyqtgraph as pg
import pytest
from hypothesis import Phase, given
from hypothesis import strategies as st
from PySide6.QtGui import QImage
from PySide6.QtWidgets import QApplication

from engine import Session
from engine.cells.cell import LSTM_CELL
from engine.network.layers import LSTM
from engine.network.model import Model
from engine.runs.stepper import XW_BLOCK
from gui.loader_worker import LoadResult
from gui.panels.heat_maps import trace_image
from gui.panels.lanes import per_unit
from gui.panels.layer_view import LayerView
from gui.panels.units_curves import CHUNK
from gui.panels.units_panel import UnitsPanel
from gui.session_model import SessionModel
from gui.signals import heat_signals
from tests.generative import generative_settings
from tests.gui.conftest import bring_to_front, sine_input, small_model

MAPS = ("c", "z_i")             # layer view maps: a signal, and a pre-activation sum
IN_MEMORY_STEPS = 70            # 5 curve chunks of 16 positions, 3 map tiles of 32
LONG_STEPS = 1500               # checkpointed: spans of 256 positions, 16 chunks each
# each example drives a window for seconds, and a checkpointed run's spans arrive when their
# worker is done: a failure reports the moves as drawn instead of minutes of shrinking
NO_SHRINK = (Phase.explicit, Phase.reuse, Phase.generate)


class FrozenModel(SessionModel):
    """The window's SessionModel as it is now, for panels drawn from scratch: the same session,
    sample, selection and span, but never subscribed to the session (no step reaches its
    panels) and a live copy computed afresh: the run's span with unread positions NaN."""

    def __init__(self, original: SessionModel) -> None:
        super().__init__()
        self.original = original

    def copy_state(self) -> None:
        o = self.original
        self.session, self.model = o.session, o.model
        self.source, self.input_source = o.source, o.input_source
        self.sample, self.selected_unit, self.selected_position = (
            o.sample, o.selected_unit, o.selected_position)

    def span(self) -> tuple[int, int]:
        return self.original.span()

    def full(self):
        return self.original.full()

    def live(self):
        full = self.full()
        known = self.session.known()
        read = np.zeros(full.steps, bool)
        read[max(known.start - full.start, 0):max(known.stop - full.start, 0)] = True
        arrays = {}
        for name in ("gates", "zx", "zh", "c", "h", "zp"):
            values = getattr(full, name)
            if values is not None:
                mask = read.reshape(1, -1, *([1] * (values.ndim - 2)))
                arrays[name] = np.where(mask, values, np.float32(np.nan)).astype(values.dtype)
        return dataclasses.replace(full, **arrays)


# --- what a panel shows ------------------------------------------------------------------------
def _rendered(item: pg.ImageItem, fresh: bool) -> np.ndarray | None:
    """The image as the screen shows it: the last rendering, or the one the next paint makes
    (``getPixmap`` renders only when the item was told its image changed); ``fresh``: rendered
    now from the array it holds (the full redraw's, which must not reuse an old rendering)."""
    if fresh:
        item.render()
    pixmap = item.getPixmap()
    if pixmap is None or pixmap.isNull() or item.qimage is None:
        return None
    image = item.qimage.convertToFormat(QImage.Format.Format_RGBA8888)
    rows = np.frombuffer(image.constBits(), np.uint8, count=image.sizeInBytes())
    rows = rows.reshape(image.height(), image.bytesPerLine())[:, :4 * image.width()]
    return rows.reshape(image.height(), image.width(), 4).copy()


def shown(plots: list[pg.PlotItem], panel: str, numbers: dict | None = None, *,
          fresh: bool = False) -> list[tuple[str, bool, list]]:
    """(description, visible, data) of every item in the plots' view boxes, in order; an image
    in ``numbers`` is compared by the numbers it shows instead of its colours, the others as
    rendered (``fresh``: rendered now)."""
    numbers = numbers or {}
    out = []
    for p, plot in enumerate(plots):
        for k, item in enumerate(plot.getViewBox().addedItems):
            kind = type(item).__name__
            where = ""
            if isinstance(item, pg.PlotCurveItem):
                x, y = item.getData()
                data = [x, y]
                if x is not None and len(x):
                    where = f", positions {np.nanmin(x):g}..{np.nanmax(x):g}, {item.opts['pen'].color().name()}"
            elif isinstance(item, pg.ImageItem):
                rect = item.mapRectToParent(item.boundingRect())
                pixels = numbers[item]() if item in numbers else _rendered(item, fresh)
                data = [pixels, np.array([rect.x(), rect.y(), rect.width(), rect.height()]),
                        item.opacity()]
                where = f", x {rect.x():g}..{rect.x() + rect.width():g}"
            elif isinstance(item, pg.InfiniteLine):
                data = [item.value()]
            elif isinstance(item, pg.LinearRegionItem):
                data = [tuple(item.getRegion())]
            elif hasattr(item, "labels"):                      # the input strip's characters
                data = [list(item.labels)]
            else:
                data = []
            out.append((f"{panel}, plot {p}, item {k} ({kind}{where})", item.isVisible(), data))
    return out


def _same(a, b) -> bool:
    if isinstance(a, np.ndarray) or isinstance(b, np.ndarray):
        if a is None or b is None:
            return a is None and b is None
        return a.shape == b.shape and np.array_equal(a, b, equal_nan=a.dtype.kind == "f")
    return a == b


def _describe(a, b) -> str:
    """How a drawn value differs from the full redraw's, in a few words."""
    if not isinstance(a, np.ndarray) or not isinstance(b, np.ndarray):
        return f"{a!r} where a full redraw has {b!r}"
    if a.shape != b.shape:
        return f"shape {a.shape} where a full redraw has {b.shape}"
    if a.dtype.kind == "f":
        same = (a == b) | (np.isnan(a) & np.isnan(b))
    else:
        same = a == b
    first = tuple(int(i) for i in np.argwhere(~same)[0])
    return (f"{int((~same).sum())} of {a.size} values differ, first at {first}: "
            f"{a[first]} where a full redraw has {b[first]}")


def differences(incremental: list, full: list) -> list[str]:
    if len(incremental) != len(full):
        return [f"{len(incremental)} items drawn, a full redraw draws {len(full)}"]
    out = []
    for (what, visible, data), (_, visible_full, data_full) in zip(incremental, full):
        if visible != visible_full:
            out.append(f"{what}: {'shown' if visible else 'hidden'}, a full redraw "
                       f"{'shows' if visible_full else 'hides'} it")
        elif visible:
            stale = [_describe(a, b) for a, b in zip(data, data_full) if not _same(a, b)]
            if stale:
                out.append(f"{what}: stale ({'; '.join(stale)})")
    return out


def units_plots(panel: UnitsPanel) -> list[pg.PlotItem]:
    return [panel.plot, panel.input_plot]


def layer_plots(view: LayerView) -> list[pg.PlotItem]:
    cells = view.glw.ci.items            # item -> the layout cells it occupies
    plots = [item for item in cells if isinstance(item, pg.PlotItem)]
    return sorted(plots, key=lambda item: cells[item][0])


# --- the window and its from-scratch twin ---------------------------------------------------------
class Twin:
    """The window under test, and panels of the same kinds redrawn from scratch on demand."""

    def __init__(self, window, qtbot) -> None:
        self.window, self.qtbot = window, qtbot
        self.frozen = FrozenModel(window.session_model)
        self.units = UnitsPanel(self.frozen, window.units_panel.palette)
        self.layer = LayerView(self.frozen, window.layer_view.palette, units_panel=self.units)
        # the statistics table and the kernels tab are drawn whole on every rebuild and are
        # not compared: leave them out of the twin's rebuild (two thirds of its time)
        self.layer._fill_stats = self.layer._fill_kernels = lambda full: None
        self._built: tuple | None = None
        bring_to_front(qtbot, window.layer_dock)
        for view in (window.layer_view, self.layer):      # by name: the twin has no run yet
            for name in heat_signals(LSTM_CELL):            # (its boxes come with one)
                view.set_signal_visible(name, name in MAPS)
        self.set_mode("lanes")

    def open(self, session: Session) -> None:
        self.window.show_loaded(LoadResult(session, "test-model", "test-input"))
        if session.checkpointed:
            self.qtbot.waitUntil(lambda: self.window.first_pass.complete, timeout=20000)
        self.settle()

    def set_mode(self, mode: str) -> None:
        """Lanes or heat strips, on both (the automatic choice depends on the widget's size)."""
        for panel in (self.window.units_panel, self.units):
            panel.mode_combo.setCurrentText(mode)

    def settle(self) -> None:
        from tests.gui.conftest import settle_span
        settle_span(self.qtbot, self.window.session_model)

    def redraw_twin(self) -> None:
        """The twin drawn from scratch for the window's state. A new run, span or mode rebuilds
        both panels; otherwise every curve chunk is redrawn (``redraw_all``) and every map is
        set whole from the fresh live copy, as a rebuild fills it (re-creating the same plots
        at every check would only repeat the same drawing, several times slower)."""
        self.frozen.copy_state()
        sm = self.frozen
        built = (id(sm.session), sm.span(), id(sm.full()), self.units.mode_combo.currentText())
        if built != self._built:
            self.units.rebuild()
            self.layer.rebuild(force=True)
            self._built = built
            return
        self.units.on_position(sm.t, redraw_all=True)
        self.layer.on_position(sm.t, force=True)          # its cursor lines
        live, full = sm.live(), sm.full()
        for name, heat in self.layer.heat.items():
            image = per_unit(trace_image(live, name, sm.sample), full.units)[:, self.layer.order].T
            heat.set_data(image, heat.levels, start=full.start)

    def check(self, after: str, overview_colours: bool = False) -> None:
        """The window's panels, as painted, against the twin's drawn from scratch. The whole
        run's overview (a checkpointed run) is compared by its numbers unless
        ``overview_colours`` (``test_the_overview_is_coloured_as_a_full_redraw_colours_it``
        compares its colours too)."""
        QApplication.processEvents()
        window = self.window
        for glw in (window.units_panel.glw, window.layer_view.glw):
            glw.grab()                       # the screen paints: images render what they hold
        self.redraw_twin()
        numbers = [{} if overview_colours else {p.overview.item: lambda p=p: p.overview.values}
                   for p in (window.units_panel, self.units)]
        problems = differences(shown(units_plots(window.units_panel), "units panel", numbers[0]),
                               shown(units_plots(self.units), "units panel", numbers[1],
                                     fresh=True))
        problems += differences(shown(layer_plots(window.layer_view), "layer view"),
                                shown(layer_plots(self.layer), "layer view", fresh=True))
        sm = window.session_model
        session = sm.session
        if session.checkpointed:             # its live copy is the window's (in memory: the engine's)
            live, fresh = sm.live(), self.frozen.live()
            for name in ("gates", "zx", "zh", "c", "h"):
                if not np.array_equal(getattr(live, name), getattr(fresh, name), equal_nan=True):
                    problems.append(f"the live copy's {name} differs from the run's positions read")
        state = f"t = {session.t} of {session.steps}, span {sm.span()}"
        assert not problems, (f"after {after} ({state}), {len(problems)} differences from a "
                              "full redraw:\n  " + "\n  ".join(problems[:12]))
        assert window.errors == []


def act(twin: Twin, action: tuple) -> str:
    sm = twin.window.session_model
    kind, value = action
    if kind == "step":
        sm.step(value)
    elif kind == "back":
        sm.back(value)
    elif kind == "seek":
        sm.seek(value)
    elif kind == "span":
        twin.settle()                        # the span around the cursor arrives from its worker
    elif kind == "mode":
        twin.set_mode(value)
    return f"{kind} {value}" if value is not None else kind


def next_action(data, twin: Twin, spans: bool) -> tuple:
    """One move drawn from the state the window is in. Half the seeks land on the cursor
    positions around the edges of curve chunks and image tiles, where drawing only what changed
    goes wrong (a chunk shares its last column with the next one)."""
    sm = twin.window.session_model
    session = sm.session
    a, b = sm.span()
    edges = sorted({session.position_to_t(p) for edge in range(a, b + 1, CHUNK)
                    for p in (edge - 1, edge, edge + 1) if a <= p < b})
    moves = [st.tuples(st.just("step"), st.integers(1, 3)),
             st.tuples(st.just("step"), st.integers(1, 3)),
             st.tuples(st.just("back"), st.integers(1, 3)),
             st.tuples(st.just("seek"), st.integers(0, session.steps)),
             st.tuples(st.just("seek"), st.sampled_from(edges)),
             st.tuples(st.just("mode"), st.sampled_from(["heat map", "lanes"]))]
    if spans:
        moves.append(st.tuples(st.just("span"), st.none()))
    return data.draw(st.one_of(moves))


def run_actions(data, twin: Twin, spans: bool) -> None:
    twin.check("opening")
    for _ in range(data.draw(st.integers(4, 12), label="moves")):
        twin.check(act(twin, next_action(data, twin, spans)))


@pytest.fixture
def twin(make_window, qtbot):
    return Twin(make_window(), qtbot)


def _model(backward: bool) -> Model:
    weights = small_model(6, 3).traced_layers[0].weights
    return Model([LSTM("lstm", weights, return_sequences=True, go_backwards=backward)],
                 source="test")


def _short_run(monkeypatch, backward: bool) -> Session:
    """A run in memory, its maps in tiles of 32 positions (of 256: one tile for 70 positions)
    so that they have edges to step over too."""
    import gui.panels.heat_maps as layer_module  # where the maps are tiled
    monkeypatch.setattr(layer_module, "TILE", 32)
    session = Session(_model(backward), sine_input(IN_MEMORY_STEPS))
    session.full()
    session.result()
    return session


@pytest.mark.generative
@pytest.mark.parametrize("backward", [False, True])
@generative_settings(2, phases=NO_SHRINK)
@given(data=st.data())
def test_an_in_memory_run_draws_as_a_full_redraw(twin, monkeypatch, backward, data):
    twin.open(_short_run(monkeypatch, backward))
    run_actions(data, twin, spans=False)


@pytest.mark.parametrize("backward", [False, True])
def test_stepping_over_chunk_edges_draws_as_a_full_redraw(twin, monkeypatch, backward):
    """One position at a time over the edges of the curve chunks (the second one also a tile
    edge of the maps): the column two chunks share is drawn by both."""
    session = _short_run(monkeypatch, backward)
    twin.open(session)
    sm = twin.window.session_model
    for edge in (CHUNK, 2 * CHUNK):
        before = edge - 1 if not backward else edge + 1  # read last before the edge is
        sm.seek(session.position_to_t(before))
        twin.check(f"seek to the edge at position {edge}")
        for move in ("step", "step", "back", "back"):
            twin.check(act(twin, (move, 1)))


def _long_run(monkeypatch, backward: bool) -> Session:
    """A checkpointed run drawn in spans of 256 positions."""
    import gui.session_model as sm_module
    monkeypatch.setattr(sm_module, "SPAN_BYTES", 1)          # the smallest span: 256 positions
    x = np.random.default_rng(4).normal(size=(1, LONG_STEPS, 3)).astype(np.float32)
    session = Session(_model(backward), x, checkpoint_above=0, checkpoint_interval=XW_BLOCK)
    assert session.checkpointed
    return session


@pytest.mark.generative
@pytest.mark.parametrize("backward", [False, True])
@generative_settings(2, phases=NO_SHRINK)
@given(data=st.data())
def test_a_checkpointed_run_draws_as_a_full_redraw(twin, monkeypatch, backward, data):
    twin.open(_long_run(monkeypatch, backward))
    run_actions(data, twin, spans=True)


def test_the_overview_is_coloured_as_a_full_redraw_colours_it(twin, monkeypatch):
    twin.open(_long_run(monkeypatch, backward=False))
    twin.check("opening", overview_colours=True)
    twin.window.session_model.seek(1200)
    twin.settle()
    twin.check("a seek to another span", overview_colours=True)
