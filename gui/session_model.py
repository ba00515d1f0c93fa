"""The window's shared cursor: one engine Session wrapped as Qt signals, plus what every view
shares (the sample shown, the selected unit and step).

Every view follows the run through this object: it connects to ``positionChanged``/
``runChanged``/``selectionChanged`` and reads arrays from ``full()``, a window of the session's
one run store (docs/architecture.md, "Long runs"): ``Session.window`` over the *span* of
positions drawn (``start`` = the span's first input position). What has been read so far is
``read_columns()``; a view copies only the columns it draws, unread ones NaN (``as_read``).
``live()``, the engine's as-read copy of the whole span, is left to the teaching docks. A run
held in memory has one span, the whole run (its window is the run's own arrays). A
checkpointed run's span surrounds the cursor: when the cursor nears its
edge the next span is recomputed on a worker thread (``gui/background.py``) and ``spanChanged``
announces it once it is ready; until then the views keep the old span and ``value()`` reads the
few steps it is asked for from the run itself. It is not the only gui module
that imports ``engine``: views also call the engine's analysis functions (``engine.analyses.analysis``,
``engine.debugging.debugger``, ``engine.output.export``), and the loader worker and session files call its
loaders — so every number shown is computed in ``engine`` and none in ``gui``. ``.model`` is the
engine ``Model`` of the session; the window holds this object as ``window.session_model``.
"""

from __future__ import annotations

import dataclasses
from typing import Any

import numpy as np
from PySide6.QtCore import QObject, Signal

from engine import Model, Session
from engine.cells.cell_kind import CellKind
from engine.loaders.demos import DemoInfo
from engine.network.model_input import model_input_kind, step_input
from engine.runs.time_axis import positions
from engine.runs.trace import LayerTrace
from engine.system import buffers
from gui.background import Background

SPAN_BYTES = 48 * 2**20       # a checkpointed run's span: its values and the live copy


def span_indices(session: Session, a: int, b: int) -> tuple[int, int]:
    """Processing indices [p0, p1) that read input positions a:b (a backward run reads them
    from the end)."""
    return positions(a, b, session.steps, session.backward)


class SessionModel(QObject):
    """Wraps an engine ``Session`` plus what the views share: sample, selected unit and step."""

    positionChanged = Signal(int)            # new t
    runChanged = Signal()                    # model, input or layer changed: redraw everything
    modelChanged = Signal()                  # another model opened: forget the last one's view state
    notice = Signal(str)                     # a short note for the status bar (a view changed itself)
    selectionChanged = Signal(int, int)      # unit, input position (-1 = none)
    sampleChanged = Signal(int)
    spanChanged = Signal()                   # a checkpointed run shows another span of positions

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.session: Session | None = None
        self.model: Model | None = None
        self.source = ""
        self.input_source = ""
        self.sample = 0
        self.selected_unit = -1
        self.selected_position = -1
        self.run = 0        # which run the views show: every runChanged makes another (gui/shown.py)
        self._span: tuple[int, int] | None = None
        self._span_trace: LayerTrace | None = None
        self.spans = Background(self, name="span", current_run=lambda: self.run)
        self._said_computing = False
        self.spans.delivered.connect(self._span_loaded)

    # --- loading -----------------------------------------------------------------------------
    def set_session(self, session: Session, *, source: str, input_source: str = "") -> None:
        if self.session is not None:
            self.session.unsubscribe(self._on_engine_event)
        new_model = session.model is not self.model
        switched = new_model and self.model is not None
        self.session = session
        self.model = session.model
        self.source = source
        self.input_source = input_source
        self.sample = 0
        self.selected_unit = -1
        self.selected_position = -1
        self._forget_span()
        session.subscribe(self._on_engine_event)
        if switched:            # the last model's run goes back to the system with its
            buffers.clear(in_use=True)   # arrays, not to the pool kept for a next run (engine.system.buffers)
        if new_model:           # before runChanged, so views rebuild from a clean slate
            self.modelChanged.emit()
        self._new_run()

    def _on_engine_event(self, event: str, session: Session) -> None:
        if event == "position":
            self._follow_cursor()
            self.positionChanged.emit(session.t)
        else:
            self._forget_span()
            self._new_run()

    def _new_run(self) -> None:
        """Another run (model, input, layer, sample or edit): work computed for an earlier one is
        dropped when it arrives (it carries ``run``), then the views rebuild."""
        self.run += 1
        self.runChanged.emit()

    # --- facts ------------------------------------------------------------------------------
    @property
    def ready(self) -> bool:
        return self.session is not None

    @property
    def t(self) -> int:
        return self.session.t if self.session else 0

    @property
    def steps(self) -> int:
        return self.session.steps if self.session else 0

    @property
    def units(self) -> int:
        return self.session.units if self.session else 0

    @property
    def cell_kind(self) -> CellKind | None:
        """The traced layer's kind of cell (None with nothing open): the one place a view reads
        its signal names, order and symbols from, again at every run change (a model switch,
        another layer)."""
        return self.session.cell_kind if self.session else None

    @property
    def demo(self) -> DemoInfo | None:
        return self.model.metadata.get("demo") if self.model is not None else None

    def vocabulary(self) -> list[str] | None:
        """The token strings the demo (or the model's metadata) provides, else None."""
        vocab = getattr(self.demo, "vocabulary", None) if self.demo is not None else None
        if not vocab and self.model is not None:
            vocab = self.model.metadata.get("vocabulary")
        return list(vocab) if vocab else None

    def token_text(self, token: int) -> str:
        """One token as the user reads it: its character (space shown as '␣'), else '#id'."""
        vocab = self.vocabulary()
        if vocab and 0 <= token < len(vocab):
            text = str(vocab[token])
            return {" ": "␣", "\n": "⏎", "\t": "⇥", "": "∅"}.get(text, text)
        return f"#{token}"

    def input_label(self, position: int, *, values: int = 3) -> str:
        """What the model reads at input ``position`` of the current sample, in a few characters."""
        if self.session is None or not 0 <= position < self.steps:
            return ""
        raw = step_input(self.session, self.sample)      # an image model: its LSTM's input
        if raw.ndim == 1:
            token = int(raw[position])
            text = self.token_text(token)
            return f"'{text}' (#{token})" if not text.startswith("#") else text
        row = raw[position]
        shown = ", ".join(f"{v:+.3g}" for v in row[:values])
        more = f", … {len(row)} values" if len(row) > values else ""
        return f"x = ({shown}{more})" if len(row) > 1 else f"x = {row[0]:+.4g}"

    # --- what the views draw -------------------------------------------------------------
    @property
    def holds_whole_run(self) -> bool:
        """A run is open and its store holds all of it (``Session.holds_whole_run``)."""
        return self.session is not None and self.session.holds_whole_run

    @property
    def checkpointed(self) -> bool:
        """A run is open and checkpointed: for messages that name the kind of run."""
        return self.session is not None and self.session.checkpointed

    def span(self) -> tuple[int, int]:
        """Input positions [a, b) the detail views draw (``Session.span_around`` the cursor):
        the whole run in memory; for a checkpointed run a window of at most ``SPAN_BYTES``."""
        assert self.session is not None
        if self._span is None:
            self._span = self._span_around_cursor()
        return self._span

    def _span_around_cursor(self) -> tuple[int, int]:
        assert self.session is not None
        return self.session.span_around(self.session.cursor, SPAN_BYTES)

    def _cursor_in(self, span: tuple[int, int] | None, margin_part: int) -> bool:
        """The cursor lies in ``span`` at least 1/``margin_part`` of its width from an edge
        (an edge that is the run's own edge needs no margin)."""
        if span is None or self.session is None or self.session.cursor is None:
            return span is not None
        a, b = span
        margin = (b - a) // margin_part
        cursor = self.session.cursor
        return (a + margin <= cursor or a == 0) and (cursor < b - margin or b == self.session.steps)

    def _follow_cursor(self) -> None:
        """Ask for the span around the cursor once it comes within a quarter of the drawn
        span's edge, so the next span is usually ready before the cursor leaves this one."""
        if self._span is None or self._cursor_in(self._span, 4):
            return
        if self._cursor_in(self.spans.pending, 8):
            return                          # the span asked for already holds it
        a, b = self._span_around_cursor()
        session = self.session
        self.spans.request(lambda ticket: session.window(a, b), tag=(a, b), run=self.run)
        if not self._cursor_in(self._span, 1_000_000):
            self.notice.emit(f"computing positions {a:,}–{b - 1:,} from the nearest checkpoint…")
            self._said_computing = True

    def _span_loaded(self, delivery) -> None:
        (a, b), result = delivery.tag, delivery.result
        if isinstance(result, Exception):
            raise result                    # shown by the window's exception handler
        if self.session is None:
            return
        self._span, self._span_trace = (a, b), result
        self.spanChanged.emit()
        if self._said_computing:            # replace "computing ..." in the status bar
            self._said_computing = False
            self.notice.emit(f"positions {a:,}–{b - 1:,} shown")
        self._follow_cursor()               # the cursor moved on while it computed

    def span_settled(self) -> bool:
        """No span is being computed and the cursor is inside the drawn one (tests wait
        for this after moving the cursor of a checkpointed run)."""
        return self.spans.idle() and self.spans.pending is None and (
            self.session is None or self._cursor_in(self.span(), 1_000_000))

    def settle_span(self) -> None:
        """Make the span around the cursor the drawn one now, computed on this thread: an
        export draws every frame complete, where the window leaves it to the worker."""
        if self._span is not None and not self._cursor_in(self._span, 1_000_000):
            self._forget_span()
            self.span()
            self.spanChanged.emit()

    def _forget_span(self) -> None:
        self._span, self._span_trace = None, None
        self.spans.forget()

    def full(self) -> LayerTrace:
        """The span's values (``start`` = its first position): a run held in memory is one
        span, its own arrays; a checkpointed run's is recomputed from the nearest checkpoint."""
        assert self.session is not None
        if self._span_trace is None:
            self._span_trace = self.session.window(*self.span())
        return self._span_trace

    def live(self) -> LayerTrace:
        """What has been read so far (later positions NaN), over the same positions as
        ``full()``: the engine's copy of the span as read, updated column by column. It is as
        large as the span: the panels read ``full()`` and ``as_read`` what they draw instead;
        the teaching docks, made on first use, still read this."""
        assert self.session is not None
        return self.session.as_read(self.full())

    def read_columns(self) -> slice:
        """The columns of the span (``full()``, column 0 = its ``start``) read so far: what a
        view that follows the cursor draws; the others it shows as not read (NaN)."""
        full = self.full()
        known = self.session.known()
        lo = min(max(known.start - full.start, 0), full.steps)
        return slice(lo, max(lo, min(max(known.stop - full.start, 0), full.steps)))

    def as_read(self, values: np.ndarray, first: int = 0) -> np.ndarray:
        """A copy of ``values`` (time first: span columns ``first``, ``first`` + 1 …) with the
        columns not read yet NaN. Views copy only the columns they draw this way, never the
        whole run (docs/architecture.md, "Long runs")."""
        read = self.read_columns()
        out = np.array(values, np.float32)
        out[:min(max(read.start - first, 0), len(out))] = np.nan
        out[max(read.stop - first, 0):] = np.nan
        return out

    def value(self, signal: str, unit: int, position: int) -> float:
        """The engine's number for one signal, unit and input position of the current sample."""
        full = self.full()
        if not 0 <= position - full.start < full.steps:
            if not (0 <= position < self.steps and self.session.ready(position)):
                return float("nan")         # its span is being computed (or outside the run)
            arr = self.session.signal(signal, position, position + 1, known_only=True)
            return float(arr[self.sample, 0, unit]) if unit < arr.shape[2] else float("nan")
        column = position - full.start
        read = self.read_columns()
        if not read.start <= column < read.stop:
            return float("nan")       # not read yet
        one = slice(column, column + 1)       # one column's views (z sums only that column)
        arr = dataclasses.replace(full, zx=full.zx[:, one], zh=full.zh[:, one], gates=full.gates[:, one],
                                  c=full.c[:, one], h=full.h[:, one], x=full.x[:, one],
                                  zp=None if full.zp is None else full.zp[:, one]).signal(signal)
        if unit >= arr.shape[2]:      # a projected h has fewer columns than units
            return float("nan")
        return float(arr[self.sample, 0, unit])

    def output(self) -> np.ndarray | None:
        """The model's output for the whole run, as the framework returns it; a view that
        follows the cursor shows only the positions read so far (``session.known()``). None
        for a checkpointed run (it keeps no whole-run arrays) and for a model LSTM Scope
        computes only up to its LSTMs (``Model.partial``: no model output)."""
        return None if self.session is None else self.session.output()

    # --- driving ------------------------------------------------------------------------------
    def step(self, n: int = 1) -> None:
        if self.session:
            self.session.step(n)

    def back(self, n: int = 1) -> None:
        if self.session:
            self.session.back(n)

    def seek(self, k: int) -> None:
        if self.session:
            self.session.seek(k)

    def set_layer(self, index: int) -> None:
        if self.session and index != self.session.layer_index:
            self.session.set_layer(index)

    def set_sample(self, sample: int) -> None:
        if self.session and 0 <= sample < self.session.batch and sample != self.sample:
            self.sample = sample
            self.sampleChanged.emit(sample)
            self._new_run()

    def select(self, unit: int, position: int) -> None:
        if (unit, position) != (self.selected_unit, self.selected_position):
            self.selected_unit, self.selected_position = unit, position
            self.selectionChanged.emit(unit, position)

    def describe(self) -> dict[str, Any]:
        """Shape badges and status bar facts, read from the loaded model."""
        assert self.session is not None and self.model is not None
        s = self.session
        info = s.info
        w = info.weights
        b, t = s.batch, s.steps
        d = w.input_dim
        out = s.output_shape()             # None: the model's output is not computed
        return {
            **w.shapes(),                  # a kind's own badges (an mLSTM's gate kernel ...)
            "input": (b, t, d), "kernel": tuple(w.kernel.shape),
            "recurrent_kernel": tuple(w.recurrent_kernel.shape),
            "bias": w.shapes().get("bias"),     # a GRU's two rows: (2, 3N) (its kind's shapes)
            "output": out, "params": w.param_count,
            "model_params": self.model.param_count, "units": w.units,
            "layer": info.name, "direction": info.direction,
            "return_sequences": info.return_sequences,
            "model_input": model_input_kind(s),     # an image, a waveform ... or the sequence
            "cell_kind": s.cell_kind,               # the badges' names and tips
        }
