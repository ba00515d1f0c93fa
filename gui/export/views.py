"""The exportable views: one entry per view, read by File → Export, ``main.py export --view``
and the tests (docs/architecture.md, "How to add a view").

Each view says once what it is made of: its widgets, how it is brought up to the cursor
(``prepare``), its title and the words around its picture, the numbers behind it (CSV/NPZ),
whether it applies to what is open (``applies`` returns the reason when it does not), the
logical size a headless export lays it out at (every output is scaled from it), and what it
currently shows (``showing``: model, N, T, cursor, the model's input and the traced layer's
own input, the signals of the layer's cell kind). Nothing else in the code branches on a
view's name.

This module imports no Qt at import time (``main.py`` reads the names for ``--view`` before
anything is loaded, and a data export needs no Qt at all); what draws imports Qt when it runs.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass
from pathlib import Path
from typing import ClassVar

import numpy as np

from engine.errors import ScopeError
from engine.network.model_input import InputKind, model_input_kind
from engine.output.export import CELL, LANES, Numbers, ViewContext, export_data
from gui.shown import Shown
from gui.signals import GRADIENT_MAP, carried

FIGURE_WIDTH = 1280             # logical px of a figure's view area: a 16:9 slide's width
MAX_FIGURE_HEIGHT = 1800
HEADER_AND_FOOTER = 230         # logical px a figure's words take above and below its view
# the lanes of a units figure at a plain --width: the figure stays landscape (4:3 at most), a
# window of its lanes when they are many (gui/export/cli.py), never a tall, narrow page
LANDSCAPE_BODY_HEIGHT = FIGURE_WIDTH * 3 // 4 - HEADER_AND_FOOTER


@dataclass(frozen=True)
class Showing:
    """What a view shows right now: what the window's state-machine invariants and an export's
    metadata check against the session (one source for both)."""

    view: str
    model: str                     # the model's source (file path or demo:NAME)
    layer: str
    direction: str
    units: int                     # N of the traced layer
    steps: int                     # T: input positions of the run
    t: int                         # input positions read (Session.t)
    cursor: int | None             # input position read last (None before the first step)
    sample: int
    lanes: tuple[int, ...]         # units drawn, top to bottom (the cell view: its one unit)
    signals: tuple[str, ...]       # the cell kind's signals, display order
    model_input: InputKind         # what the model reads (an image, a waveform, a sequence ...)
    layer_input: tuple[int, ...]   # (B, T, D): what the traced layer itself reads


def cell_signals(session) -> tuple[str, ...]:
    """The signals of the traced layer's cell kind, in display order (its ``CellKind`` table:
    a view never lists "f i o g c h" of its own)."""
    return session.cell_kind.display_order


class ExportableView(ABC):
    """One view of the window as an export sees it. Subclasses set the class attributes and
    override what differs; the defaults are those of a panel that draws the lanes' numbers."""

    name: ClassVar[str]
    title: ClassVar[str]
    numbers: ClassVar[Numbers | None] = LANES   # None: the view writes its own (``write_data``)
    dock: ClassVar[str | None] = None   # the window attribute of the dock holding it
    framed: ClassVar[bool] = True       # header and footer words around the picture
    draws_lanes: ClassVar[bool] = False  # the units panel's curves (SVG paths, smoothing)
    per_unit: ClassVar[bool] = False     # shows one unit (--unit)
    per_step: ClassVar[bool] = False     # shows one step (the cell's position)
    teaching: ClassVar[bool] = False     # a teaching dock, made on first use
    # a headless export gives its panels the figure's palette before they first draw (they
    # wait until shown, and the figure's scale then changes their pens only), instead of
    # drawing them on screen and again in print
    print_before_drawn: ClassVar[bool] = False

    # --- does it apply ---------------------------------------------------------------------
    def applies(self, session) -> str | None:
        """None when the view can show ``session``; else the reason, one line."""
        return None

    # --- the widgets ---------------------------------------------------------------------
    @abstractmethod
    def widgets(self, host) -> list:
        """The widgets a figure shows, top to bottom (no tool bars or spin boxes)."""

    @abstractmethod
    def styled(self, host) -> list:
        """The panels whose palette a figure changes."""

    def dock_of(self, host):
        """The dock to bring to the front before the view is drawn (None: always shown)."""
        if self.teaching:
            self.widgets(host)                      # makes the dock on first use
        return getattr(host, self.dock, None) if self.dock else None

    def prepare(self, host, position: int | None = None) -> None:  # noqa: B027 - an optional hook, nothing by default
        """Bring the view up to the cursor (views skip work while hidden); ``position`` is the
        step a per-step view shows (None: the cursor)."""

    # --- the words ---------------------------------------------------------------------------
    @abstractmethod
    def explanation(self, ctx: ViewContext, units: int) -> str:
        """The words under the figure: what it shows and how to read it."""

    def explanation_for(self, ctx: ViewContext, units: int, kind, heads: int = 1) -> str:
        """The words under the figure for a run of cell ``kind`` (None: not known) whose units
        form ``heads`` heads: the same for every kind unless a view words them per kind."""
        return self.explanation(ctx, units)

    def legend(self, host) -> list[str]:
        """The signals named in the picture's legend, display order."""
        return []

    def legend_line(self, host) -> str | None:
        """A legend said in one line instead (None: the signals' legend)."""
        return None

    # --- what it shows -----------------------------------------------------------------------
    def lanes(self, host) -> list[int]:
        """The units shown, top to bottom."""
        return [int(u) for u in host.units_panel.order]

    def unit(self, host) -> int:
        return int(host.cell_inspector.unit)

    def position(self, host) -> int | None:
        return host.cell_inspector.position() if self.per_step else None

    def target(self, host) -> str:
        return ""

    def context(self, host, version: str) -> ViewContext:
        """What the view shows right now, as an exported file says it about itself."""
        model = host.session_model
        session = model.session
        if session is None:
            raise ScopeError("nothing to export: no model is loaded")
        info = session.info
        target = self.target(host)             # first: a gradient target decides the unit
        return ViewContext(
            view=self.name, model=model.source, layer=info.name, direction=info.direction,
            sample=model.sample, t=session.t, steps=session.steps, cursor=session.cursor,
            units=self.lanes(host), unit=self.unit(host), position=self.position(host),
            input=model.input_source, version=version, target=target)

    def shown(self, host) -> Shown | None:
        """What the view's panel drew (gui.shown: run, N, T, cursor), for the window's
        state-machine invariants; None when it draws nothing yet or keeps no such record."""
        for panel in self.styled(host):
            answer = getattr(panel, "shown", None)
            if callable(answer):
                return answer()
        return None

    def showing(self, host) -> Showing:
        model = host.session_model
        session = model.session
        if session is None:
            raise ScopeError("nothing is shown: no model is loaded")
        info = session.info
        lanes = (self.unit(host),) if self.per_unit else tuple(self.lanes(host))
        return Showing(
            view=self.name, model=model.source, layer=info.name, direction=info.direction,
            units=session.units, steps=session.steps, t=session.t, cursor=session.cursor,
            sample=model.sample, lanes=lanes, signals=cell_signals(session),
            model_input=model_input_kind(session),
            layer_input=(session.batch, session.steps, info.weights.input_dim))

    # --- the numbers -------------------------------------------------------------------------
    def write_data(self, path: str | Path, session, ctx: ViewContext, trace, *,
                   inputs=()) -> Path:
        """The numbers behind the view to ``path`` (.csv or .npz); ``trace()`` gives the run
        (or the range of it) that is written, computed only when a view needs it."""
        return export_data(path, trace(), ctx, numbers=self.numbers, inputs=inputs)

    # --- headless ---------------------------------------------------------------------------
    def logical_size(self, window, lanes: int, frame: tuple[int, int] | None = None
                     ) -> tuple[int, int]:
        """The view's size in logical pixels for a headless export: every output (a PNG of any
        width, an SVG, a GIF; under ``--size`` the ``frame`` the figure is fitted into) is
        scaled from the figure laid out at this size."""
        return 900, 600

    def lay_out(self, window, lanes: int, frame: tuple[int, int] | None = None) -> None:
        """Give the view an area of ``logical_size`` of its own in a headless window."""
        _first_start_layout_done(window)
        for dock in _docks(window):
            dock.hide()
        window.resize(900, 600)
        dock = self.dock_of(window)
        dock.setFloating(True)
        dock.show()
        dock.resize(*self.logical_size(window, lanes, frame))

    def fit_to_frame(self, window, frame: tuple[int, int]) -> None:  # noqa: B027 - an optional hook, nothing by default
        """Once shown, correct the layout so that the figure takes the ``frame``'s shape."""

    def set_up(self, window, args) -> None:  # noqa: B027 - an optional hook, nothing by default
        """The command line's view options (``--unit``, ``--signal`` …) applied to the window."""

    def command_target(self, args, session) -> str:
        """The gradient target the command line asks for (only the gradient view takes one)."""
        if getattr(args, "target", None):
            raise ScopeError("--target is for --view grad")
        return ""


def _docks(window) -> list:
    from PySide6.QtWidgets import QDockWidget
    return window.findChildren(QDockWidget)


def _first_start_layout_done(window) -> None:
    """A new window arranges its docks for a first start once its event loop runs (a deferred
    call): run that now, before a view lays itself out, or it puts every dock back afterwards
    and the view is drawn where the dock landed (a layer map in a 900x352 dock scrolled, its
    scroll bar there or not from one picture to the next) instead of at its logical size."""
    from PySide6.QtWidgets import QApplication
    QApplication.processEvents()


class UnitsView(ExportableView):
    name, title = "units", "Units panel"
    draws_lanes = True

    def widgets(self, host) -> list:
        return [host.units_panel.glw]

    def styled(self, host) -> list:
        return [host.units_panel]

    def legend(self, host) -> list[str]:
        shown = host.units_panel.visible_signals
        return [s for s in cell_signals(host.session_model.session) if s in shown]

    def legend_line(self, host) -> str | None:
        heat = getattr(host.units_panel, "heat", None)
        if heat is not None and host.units_panel.mode == "heat":
            return heat.legend()          # the strips' colours, not lane lines
        return None

    def explanation(self, ctx: ViewContext, units: int) -> str:
        shown = len(ctx.units)
        which = (f"units {ctx.units[0]}–{ctx.units[-1]}" if shown > 1 and
                 ctx.units == list(range(ctx.units[0], ctx.units[-1] + 1)) else f"{shown}")
        lanes = f"Each row is one of the N = {units} units" if shown == units else \
            f"Each row is one unit ({which} of the N = {units} units shown)"
        cursor = ("The red line is the current step; faint lines are steps not read yet."
                  if ctx.t < ctx.steps else "The red line is the last step read.")
        return (f"{lanes} of layer {ctx.layer}, all on one time axis. At every time step t all N "
                "units update together, each reading the input x_t and the whole previous h of "
                f"every unit. {cursor}")

    def explanation_for(self, ctx: ViewContext, units: int, kind, heads: int = 1) -> str:
        """A cell without a recurrent kernel (an mLSTM): its units read their head's memory."""
        text = self.explanation(ctx, units)
        if kind is None or kind.recurrent:
            return text
        return text.replace("each reading the input x_t and the whole previous h of every unit",
                            "each reading q_t, k_t, v_t and its head's matrix memory C (no unit "
                            "reads the previous h: there is no recurrent kernel)")

    def logical_size(self, window, lanes: int, frame: tuple[int, int] | None = None
                     ) -> tuple[int, int]:
        if frame is not None:     # a first guess; fit_to_frame corrects it once shown
            return FIGURE_WIDTH, _units_body_height(frame) + 300
        return FIGURE_WIDTH, min(max(200 + 34 * lanes, 720), LANDSCAPE_BODY_HEIGHT)

    def lay_out(self, window, lanes: int, frame: tuple[int, int] | None = None) -> None:
        _first_start_layout_done(window)
        for dock in _docks(window):
            dock.hide()
        window.resize(*self.logical_size(window, lanes, frame))

    def fit_to_frame(self, window, frame: tuple[int, int]) -> None:
        """The window is tool bars and transport around the lanes: size it so the lanes get the
        height the frame's shape leaves them (measured, not guessed)."""
        from PySide6.QtWidgets import QApplication
        extra = window.units_panel.glw.height() - _units_body_height(frame)
        if extra:
            window.resize(window.width(), max(200, window.height() - extra))
            QApplication.processEvents()


def _units_body_height(frame: tuple[int, int]) -> int:
    """The lanes' height that makes a units figure the frame's shape."""
    return max(300, round(FIGURE_WIDTH * frame[1] / frame[0]) - HEADER_AND_FOOTER)


class LayerView(ExportableView):
    name, title, dock = "layer", "Layer view", "layer_dock"
    print_before_drawn = True

    def widgets(self, host) -> list:
        return [host.layer_view.glw]

    def styled(self, host) -> list:
        return [host.layer_view]

    def prepare(self, host, position: int | None = None) -> None:
        # the layer view draws the gradient map too: its target is computed now, never left to
        # the window's debounce timer (whether that fired during the export was a race)
        host.grads.refresh()
        host.layer_view.on_position(host.session_model.t, force=True)

    def target(self, host) -> str:
        """The gradient map's target, when the map is shown (the figure says what it is the
        gradient of, as the gradient view does); none when the gradient cannot be had."""
        if GRADIENT_MAP not in host.layer_view.visible:
            return ""
        if host.grads.view is None:
            host.grads.refresh()
        return host.grads.view.target if host.grads.view is not None else ""

    def explanation(self, ctx: ViewContext, units: int) -> str:
        return (f"Rows are the N = {units} units of layer {ctx.layer}; columns are time steps t. "
                "At every step a whole column fills in: all N units update together, each reading "
                "the input and the previous h of every unit. The red line is the current step.")

    def explanation_for(self, ctx: ViewContext, units: int, kind, heads: int = 1) -> str:
        """A cell without a recurrent kernel (an mLSTM): its units read their head's memory.
        With the gradient map: what it is the gradient of, and with respect to what."""
        text = self.explanation(ctx, units)
        if ctx.target:
            state = "C" if kind is None else kind.signal(carried(kind)).symbol
            text += (f" The gradient map: log₁₀|∂target/∂{state}_t| for the target "
                     f"{ctx.target}, how much each unit's {state} at each step moves it.")
        if kind is None or kind.recurrent:
            return text
        return text.replace("the input and the previous h of every unit",
                            "q, k, v and its head's matrix memory C (no recurrent kernel)")

    def logical_size(self, window, lanes: int, frame=None) -> tuple[int, int]:
        return FIGURE_WIDTH, 150 + 130 * len(window.layer_view.visible)

    def lay_out(self, window, lanes: int, frame: tuple[int, int] | None = None) -> None:
        window.layer_view.table.hide()            # the statistics table is not in the figure
        window.layer_view.info.hide()             # nor the status line, whose wrapping moved it
        super().lay_out(window, lanes, frame)


class CellView(ExportableView):
    name, title, dock = "cell", "Cell inspector", "cell_dock"
    numbers = CELL
    per_unit = per_step = True

    def widgets(self, host) -> list:
        return [host.cell_inspector.diagram, host.cell_inspector.bars_glw]

    def styled(self, host) -> list:
        return [host.cell_inspector]

    def prepare(self, host, position: int | None = None) -> None:
        host.cell_inspector.refresh(force=True)     # its bars wait while behind another tab

    def legend(self, host) -> list[str]:
        return list(cell_signals(host.session_model.session))

    def explanation(self, ctx: ViewContext, units: int) -> str:
        return (f"Unit {ctx.unit} at step t = {ctx.position}: each gate's pre-activation "
                "z = x·W + h·U + b (bars). The h·U part sums over the previous h of all "
                f"N = {units} units: this is how the units of one layer are coupled.")

    def explanation_for(self, ctx: ViewContext, units: int, kind, heads: int = 1) -> str:
        """A GRU's candidate reads its h·U part through r, and its bar says so (the cell
        inspector's ``CellBreakdown.recurrent``)."""
        text = self.explanation(ctx, units)
        if kind is not None and not kind.recurrent:      # an mLSTM: no x·W + h·U + b bars
            return (f"Unit {ctx.unit} at step t = {ctx.position}: its head's stabilised gates f, i "
                    "(one number per head, made from q, k, v), and the states they make: the "
                    "normalizer n, the stabiliser m and h. No unit reads the previous h (no "
                    "recurrent kernel): a head's units are coupled through its matrix memory C.")
        if kind is None or kind.name != "gru":
            return text
        return (f"{text} The candidate n reads its h·U part through the reset gate r: its bar is "
                "r·(h·U + b_h), or (r⊙h)·U with the reset before, as the cell adds it.")

    def logical_size(self, window, lanes: int, frame=None) -> tuple[int, int]:
        return 960, 1000

    def set_up(self, window, args) -> None:
        window.cell_inspector.unit_spin.setValue(args.unit)


class GradView(ExportableView):
    name, title, dock = "grad", "Gradients", "grad_dock"
    numbers = None
    per_unit = True

    def applies(self, session) -> str | None:
        kind = session.cell_kind
        if not kind.differentiable:
            return f"LSTM Scope does not compute an {kind.written}'s gradients yet"
        return None

    def widgets(self, host) -> list:
        return [host.grad_panel.glw]

    def styled(self, host) -> list:
        return [host.grad_panel]

    def prepare(self, host, position: int | None = None) -> None:
        host.grads.refresh()
        host.grad_panel.redraw(force=True)      # it waits while behind another tab

    def unit(self, host) -> int:
        view = host.grads.view
        return int(view.unit) if view is not None else int(host.cell_inspector.unit)

    def target(self, host) -> str:
        if host.grads.view is None:
            host.grads.refresh()
        if host.grads.view is None:
            raise ScopeError(f"no gradient to show: {host.grads.error or 'no gradient target'}")
        return host.grads.view.target

    def explanation(self, ctx: ViewContext, units: int) -> str:
        return (f"Exact gradients of {ctx.target or 'the target'} through the recorded run of layer "
                f"{ctx.layer}. Top: |∂target/∂x_t|, how much each input step matters. Bottom, for "
                "one unit: |∂target/∂C_t| (solid) beside the running product of its forget gate back "
                "from the target's step (dashed): the constant-error carousel the gradient follows.")

    def explanation_for(self, ctx: ViewContext, units: int, kind, heads: int = 1) -> str:
        """In the words of the run's cell: a GRU's memory is h, carried by its update gate u; a
        simple RNN's h has no gate carrying it (an LSTM's words are ``explanation``'s)."""
        if kind is None or "c" in kind.states:          # a C and its carousel: the LSTM's words
            return self.explanation(ctx, units)
        from gui.panels.grad_panel import carry_words
        state, derivative, _ = carry_words(kind)
        head = (f"Exact gradients of {ctx.target or 'the target'} through the recorded run of "
                f"layer {ctx.layer}. Top: |∂target/∂x_t|, how much each input step matters. "
                f"Bottom, for one unit: {derivative} (solid)")
        if kind.carry is None:
            return f"{head}; a {kind.written} has no gate that carries {state}, so no product is drawn."
        gate = kind.signal(kind.carry)
        return (f"{head} beside the running product of its {gate.title} {gate.symbol} back from "
                f"the target's step (dashed): how much of {state} the gate carries the gradient "
                "through.")

    def write_data(self, path: str | Path, session, ctx: ViewContext, trace, *,
                   inputs=()) -> Path:
        from engine.gradients.grad_views import export_grad_data
        return export_grad_data(path, session, ctx, inputs=inputs)

    def logical_size(self, window, lanes: int, frame=None) -> tuple[int, int]:
        return FIGURE_WIDTH, 620

    def lay_out(self, window, lanes: int, frame: tuple[int, int] | None = None) -> None:
        # the status line under the plots is not in the figure: its words, wrapped to one line
        # or two as they change, moved the plots between one picture and the next
        window.grad_panel.info.hide()
        super().lay_out(window, lanes, frame)

    def command_target(self, args, session) -> str:
        """``--target``, else unit --unit's h at the cursor (as the window)."""
        from engine.gradients.grad_target import parse_target
        from engine.gradients.grad_views import default_target
        if getattr(args, "target", None):
            parse_target(args.target)
            session.grad(args.target)          # a target that does not fit the run fails here
            return args.target
        return default_target(session, args.unit, args.sample)

    def set_up(self, window, args) -> None:
        session = window.session_model.session
        window.session_model.select(args.unit, session.cursor if session.cursor is not None else -1)
        if getattr(args, "target", None):
            window.grads.set_mode("custom", args.target, now=True)
        else:
            window.grads.refresh()


class WindowView(ExportableView):
    """The whole window as laid out: print colours, the screen's text size, no words around."""

    name, title = "window", "Whole window"
    framed = False
    draws_lanes = True

    def widgets(self, host) -> list:
        return [host]

    def styled(self, host) -> list:
        return list(host.themed_views())

    def prepare(self, host, position: int | None = None) -> None:
        host.grads.refresh()
        host.layer_view.on_position(host.session_model.t, force=True)
        host.cell_inspector.refresh(force=True)
        if getattr(host, "laid_out_headless", False):   # in the figure's palette: its sizes
            _unscrolled(host)

    def explanation(self, ctx: ViewContext, units: int) -> str:
        return ""

    def logical_size(self, window, lanes: int, frame=None) -> tuple[int, int]:
        return 1600, 1000

    def lay_out(self, window, lanes: int, frame: tuple[int, int] | None = None) -> None:
        window.resize(*self.logical_size(window, lanes, frame))
        window.laid_out_headless = True     # prepare may grow it: a user's window stays as sized


def _unscrolled(window, rounds: int = 6) -> None:
    """Grow the window, and its docks within it, until no dock shown scrolls its panel: a
    figure of the window is a picture, where a scrolled dock is a cut one (the bottom dock's
    third plot, the breakpoints' list)."""
    from PySide6.QtWidgets import QApplication, QScrollArea
    for _ in range(rounds):
        QApplication.processEvents()
        short: dict = {}
        for dock in _docks(window):
            area = dock.widget()
            if (not isinstance(area, QScrollArea) or area.widget() is None or dock.isFloating()
                    or not area.isVisible() or area.visibleRegion().isEmpty()):
                continue
            missing = area.widget().height() - area.viewport().height()
            if missing > 0:
                short[dock] = missing
        if not short:
            return
        by_area: dict = {}
        for dock, missing in short.items():
            side = window.dockWidgetArea(dock)
            by_area[side] = by_area.get(side, 0) + missing
        for dock, missing in short.items():       # resizeDocks leaves a tabbed bottom dock be
            dock.setMinimumHeight(dock.height() + missing)
        window.resize(window.width(), window.height() + max(by_area.values()))


class TeachingView(ExportableView):
    """A teaching dock (gui.teaching), made the first time it is shown or exported."""

    teaching = True
    height = 760

    @property
    def dock(self) -> str:               # type: ignore[override]
        return f"{self.name}_dock"

    def panel(self, host):
        from gui.teaching.docks import teaching_widget
        return teaching_widget(host, self.name)

    def widgets(self, host) -> list:
        return [self.panel(host).canvas]

    def styled(self, host) -> list:
        return [self.panel(host)]

    def lanes(self, host) -> list[int]:
        return list(range(host.session_model.session.units))

    def logical_size(self, window, lanes: int, frame=None) -> tuple[int, int]:
        return FIGURE_WIDTH, self.height

    def set_up(self, window, args) -> None:
        self.panel(window).set_signal(args.signal)


class UnrolledView(TeachingView):
    name, title = "unrolled", "Unrolled view"

    def lanes(self, host) -> list[int]:
        return [int(u) for u in self.panel(host).shown_units()]

    def explanation_for(self, ctx: ViewContext, units: int, kind, heads: int = 1) -> str:
        """A cell without a recurrent kernel (an mLSTM) has no links to draw; units in heads (an
        sLSTM's) read only their own head's h: U is 0 between heads."""
        text = self.explanation(ctx, units)
        if kind is None or kind.recurrent:
            if heads <= 1:
                return text
            return text.replace("the previous h of every unit (",
                                f"the previous h of every unit of its own head (U is 0 between the "
                                f"{heads} heads; ")
        return (f"Each column is one input position t and holds all N = {units} cells of layer "
                f"{ctx.layer}: one step fills a whole column at once. No lines: an "
                f"{kind.written} has no recurrent kernel, so no cell reads the previous h; the "
                "cells of a head are coupled through its matrix memory C, and x_t enters every "
                "cell of its column.")

    def explanation(self, ctx: ViewContext, units: int) -> str:
        return (f"Each column is one input position t and holds all N = {units} cells of layer "
                f"{ctx.layer}: one step fills a whole column at once. The lines are the recurrent "
                "kernel U: every cell reads the previous h of every unit (the strongest links "
                "drawn), and x_t enters every cell of its column.")

    def logical_size(self, window, lanes: int, frame=None) -> tuple[int, int]:
        rows = min(window.session_model.units, 64)
        return FIGURE_WIDTH, int(min(max(190 + 52 * rows, 460), 760))

    def set_up(self, window, args) -> None:
        super().set_up(window, args)
        view = self.panel(window)
        if args.links < 0 or args.links > 8:
            raise ScopeError(f"--links {args.links}: choose 0 to 8")
        view.set_k(args.links)
        view.set_wrong(args.wrong)
        if args.wrong:                    # room for the wrong pictures' sentences
            from PySide6.QtWidgets import QApplication
            dock = window.unrolled_dock
            dock.resize(dock.width(), max(dock.height(), 700))
            QApplication.processEvents()


class TextView(TeachingView):
    name, title = "text", "Text view"
    height = 560

    def applies(self, session) -> str | None:
        return text_reason(session)

    def lanes(self, host) -> list[int]:
        return [int(u) for u in self.panel(host).rows]

    def explanation(self, ctx: ViewContext, units: int) -> str:
        return ("Each character's background is the chosen unit's value after reading it; "
                "each row is one unit of the same text. The outlined character is the current "
                "step.")

    def set_up(self, window, args) -> None:
        super().set_up(window, args)
        view = self.panel(window)
        if view.text is None:
            raise ScopeError(view.unavailable_reason())
        if args.units:
            try:
                units = [int(u) for u in args.units.split(",") if u.strip()]
            except ValueError:
                raise ScopeError(f"--units {args.units}: unit numbers separated by commas") from None
            n = view.session_model.units
            bad = [u for u in units if not 0 <= u < n]
            if bad or not units:
                raise ScopeError(f"--units {args.units}: the layer has units 0..{n - 1}")
            view.set_follow(False)
            view.set_units(units)
        if args.feature:
            from engine.analyses.features import Feature
            Feature(args.feature)                      # a bad feature: one line, exit 2
            view.set_follow(False)
            view.find(args.feature)
            if args.signal != "c":
                view.set_signal(args.signal)
        # the figure shows every row: the dock as tall as the text needs
        from PySide6.QtWidgets import QApplication
        canvas = view.canvas
        dock = window.text_dock
        extra = dock.height() - view.scroll.viewport().height()
        dock.resize(dock.width(), min(canvas.content_height(canvas.width()) + extra,
                                      MAX_FIGURE_HEIGHT))
        QApplication.processEvents()


class DirectionsView(TeachingView):
    name, title = "directions", "Both directions"

    def applies(self, session) -> str | None:
        from engine.analyses.teaching import directions_reason
        return directions_reason(session)

    def explanation(self, ctx: ViewContext, units: int) -> str:
        return ("A Bidirectional layer is two LSTMs: the forward one reads left to right, the "
                "backward one right to left, both taking one step at a time. The merged output at "
                "position t needs both, so it is complete only where both have read t. A red "
                "line marks the position each direction read last.")

    def explanation_for(self, ctx: ViewContext, units: int, kind, heads: int = 1) -> str:
        """Two GRUs (or RNNs) for a Bidirectional GRU, as ``info`` names the cell."""
        text = self.explanation(ctx, units)
        return text if kind is None else text.replace("two LSTMs", f"two {kind.name.upper()}s")


class SamplesView(TeachingView):
    name, title = "samples", "Batch samples"

    def applies(self, session) -> str | None:
        if session.batch < 2:
            return ("the input holds one sample: the samples view shows the sequences of a batch "
                    "(B, T, D) side by side, all at the same step")
        return None

    def explanation(self, ctx: ViewContext, units: int) -> str:
        return (f"Each map is one sample of the batch: rows are the N = {units} units, columns "
                "are time steps. The same weights run on every sample at once; one cursor, the "
                "red line at the position read last.")


class MemoryView(TeachingView):
    """An mLSTM's matrix memory at the cursor (gui.teaching.memory_view); refused for other kinds."""

    name, title = "memory", "Matrix memory"
    numbers = None
    height = 520

    def applies(self, session) -> str | None:
        from engine.analyses.memory import memory_reason
        return memory_reason(session)

    def widgets(self, host) -> list:
        return [self.panel(host).glw]

    def prepare(self, host, position: int | None = None) -> None:
        self.panel(host).refresh()

    def explanation(self, ctx: ViewContext, units: int) -> str:
        return (f"The matrix memory C of each head of mLSTM layer {ctx.layer} after the cursor's "
                "step: C = f·C + i·v kᵀ/√DH, a DH x DH map per head, rows the value dimensions and "
                "columns the key dimensions; h reads qᵀC. The units of a head are coupled only "
                "through its C and its two scalar gates: the mLSTM has no recurrent kernel.")

    def write_data(self, path: str | Path, session, ctx: ViewContext, trace, *,
                   inputs=()) -> Path:
        from engine.output.memory_data import export_memory_data
        return export_memory_data(path, session, ctx, inputs=inputs)


def text_reason(session) -> str | None:
    """Why the text view cannot show ``session`` (None: it can): it reads characters, token ids
    that a vocabulary of one-character tokens spells."""
    demo = session.model.metadata.get("demo")
    vocab = getattr(demo, "vocabulary", None) if demo is not None else None
    x = np.asarray(session.x) if not isinstance(session.x, dict) else None
    if vocab and x is not None and x.ndim == 2 and x.size:
        ids = x.astype(int)
        if ids.min() >= 0 and ids.max() < len(vocab):
            return None
    return ("the text view is for models that read characters: an Embedding model whose "
            "vocabulary (a demo's, such as demo:code or demo:text) maps each token to one "
            "character; this model reads vectors or tokens without a vocabulary")


# --- the table ------------------------------------------------------------------------------
VIEWS: dict[str, ExportableView] = {v.name: v for v in (
    UnitsView(), LayerView(), CellView(), GradView(), WindowView(), UnrolledView(), TextView(),
    DirectionsView(), SamplesView(), MemoryView())}
"""Every exportable view by name, in the order the Export dialog and ``--help`` list them."""


def view(name: str) -> ExportableView:
    """The view called ``name``; an unknown name is refused naming the known ones."""
    try:
        return VIEWS[name]
    except KeyError:
        raise ScopeError(f"unknown view '{name}' (choose {', '.join(VIEWS)})") from None


def refuse_unless_applies(name: str, session) -> ExportableView:
    """The view, or a refusal with the reason it does not apply to ``session``."""
    found = view(name)
    reason = found.applies(session)
    if reason:
        raise ScopeError(f"{found.title} does not apply here: {reason}")
    return found


__all__ = ["FIGURE_WIDTH", "VIEWS", "ExportableView", "Showing", "cell_signals",
           "refuse_unless_applies", "view"]
