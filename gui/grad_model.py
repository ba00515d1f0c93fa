"""The gradient target the window shows, and the engine's answers for it, as Qt signals.

The window never differentiates anything: it asks the Session (``Session.grad``) and the
engine's view helpers (``engine.gradients.grad_views``) and hands the numbers to the views. By default
the target is the selected unit's h at the cursor (a demo's suggested unit before anything is
selected); the user may pick its c, the model output or type a target. Recomputing is
debounced, and once it costs more than ``SLOW_MS`` (a long run) it runs on a worker thread
(``gui/background.py``), so scrubbing stays smooth. It is computed only while a view that draws
it (``add_viewer``: the saliency strip, the Gradients dock, the layer view) is on screen; one
coming to the front catches up. A view that needs it at once (an export) calls ``refresh``.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np
from PySide6.QtCore import QObject, QTimer, Signal
from PySide6.QtWidgets import QWidget

from engine.errors import Cancelled, ScopeError
from engine.gradients.grad import GradResult
from engine.gradients.grad_views import (
    GradHealth,
    carried_gradient,
    default_target,
    forget_product,
    forget_record,
    fork_gradient,
    grad_health,
    memory_horizon,
    target_position,
)
from gui.background import Background
from gui.session_model import SessionModel

MODES = {"h": "selected unit's h at the cursor", "c": "selected unit's C at the cursor",
         "output": "the output at the last step (sum of squares)", "custom": "a target I type"}
DEBOUNCE_MS = 60
MAX_DEBOUNCE_MS = 1000
SLOW_MS = 150           # a refresh this slow goes to the worker thread from then on


@dataclass
class GradView:
    """Everything the gradient views draw for one target (one sample)."""

    target: str
    unit: int                         # the unit the target is about (or the selected one)
    position: int | None              # the target's input position (None: several / output)
    result: GradResult
    saliency: np.ndarray              # (T,) |d target / d x_t|
    carried: np.ndarray               # (T, N) d target / d c_t (a cell without c: h_t), the result's own
    forget_product: np.ndarray        # (T,) the unit's product of f back to the target
    horizon: np.ndarray               # (N,)
    health: GradHealth
    fork: str = ""
    fork_saliency: np.ndarray | None = None
    run: int = -1                     # SessionModel.run it was computed for
    kind: str = ""                    # the name of that run's cell kind

    @property
    def dc_abs(self) -> np.ndarray:
        """(T, N) |d target / d c_t|, made when asked: a view draws the part it shows
        (``np.abs(carried[a:b])``) instead of the window keeping a second T x N copy."""
        return np.abs(self.carried)


class GradModel(QObject):
    changed = Signal()

    def __init__(self, model: SessionModel, debugging=None, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.session_model, self.debugging = model, debugging
        self.mode = "h"
        self.custom = ""
        self.view: GradView | None = None
        self.error = ""
        self.enabled = True
        self._timer = QTimer(self)
        self._timer.setSingleShot(True)
        self._timer.setInterval(DEBOUNCE_MS)
        self._timer.timeout.connect(self._scheduled)
        self._slow = False
        self._timer_fired = False
        self._viewers: list[QWidget] = []
        self._waiting = False             # a refresh skipped while no viewer was on screen
        self.jobs = Background(self, name="gradients", current_run=lambda: model.run)
        self.jobs.delivered.connect(self._delivered)
        model.runChanged.connect(self._forget_run)
        for signal in (model.runChanged, model.sampleChanged, model.positionChanged,
                       model.selectionChanged):
            signal.connect(self.schedule)
        if debugging is not None:
            debugging.overlayChanged.connect(self.schedule)
            debugging.forksChanged.connect(self.schedule)

    # --- who looks at it ------------------------------------------------------------------------
    def add_viewer(self, widget: QWidget) -> None:
        """A widget that draws the gradient: with viewers, the window computes it only while
        one of them is on screen (a dock behind another tab, or hidden, is not)."""
        self._viewers.append(widget)

    def wanted(self) -> bool:
        """A viewer is on screen (or none was named: every refresh is wanted)."""
        return not self._viewers or any(w.isVisible() and not w.visibleRegion().isEmpty()
                                        for w in self._viewers)

    def viewer_shown(self, shown: bool = True) -> None:
        """A viewer's dock came to the front (or went behind): a refresh skipped while nobody
        looked runs now, once Qt has finished switching tabs."""
        if shown and self._waiting:
            QTimer.singleShot(0, self, self._catch_up)

    def _catch_up(self) -> None:
        if self._waiting and self.wanted():
            self._waiting = False
            self.schedule()

    def _forget_run(self) -> None:
        """Another run: the last one's gradient is no longer shown while this one's computes."""
        if self.view is not None and self.view.run != self.session_model.run:
            self.view = None
            self.changed.emit()

    def schedule(self, *args) -> None:
        if self.enabled:
            s = self.session_model.session
            if s is not None and not s.holds_whole_run:    # a whole recompute: wait for a pause
                self._timer.setInterval(MAX_DEBOUNCE_MS)
            self._timer.start()

    def set_mode(self, mode: str, custom: str = "", *, now: bool = False) -> None:
        """Another target. Computed at once on this thread when ``now`` (an export) or when
        cheap; a long or checkpointed run's goes to the worker thread."""
        self.mode, self.custom = mode, custom
        s = self.session_model.session
        self._timer.stop()
        if not now and not self.wanted():
            self._waiting = True
            return
        self._refresh(background=not now and (self._slow or (s is not None and not s.holds_whole_run)))

    # --- the target --------------------------------------------------------------------------
    def unit(self) -> int:
        s = self.session_model.session
        unit = self.session_model.selected_unit
        if unit < 0:
            demo = self.session_model.demo
            unit = int(getattr(demo, "suggested_unit", 0) or 0) if demo is not None else 0
        return max(0, min(unit, s.units - 1))

    def target(self) -> str:
        s = self.session_model.session
        if self.mode == "custom":
            return self.custom.strip()
        if self.mode == "output":
            out = np.asarray(s.result().output)
            return "sumsq(output[:, last])" if out.ndim == 3 else "sumsq(output)"
        text = default_target(s, self.unit(), self.session_model.sample)      # h (c if h is projected)
        if self.mode == "h" or "c" not in s.cell_kind.states:     # a GRU's or RNN's memory is h
            return text
        return "c" + text[1:]

    # --- computing (through the engine) --------------------------------------------------------
    def refresh(self) -> None:
        """Recompute now, on this thread (a view that needs the answer at once)."""
        self._timer.stop()
        self._refresh(background=False)

    def _scheduled(self) -> None:
        """The debounced refresh after a step: on the worker thread once a refresh has been
        seen to cost more than ``SLOW_MS`` (a long run's backward pass), or on a checkpointed
        run, so stepping never waits for it; the views keep the last answer until the new one
        arrives."""
        if not self.wanted():             # nobody looks: computed when a viewer comes to the front
            self._waiting = True
            return
        self._timer_fired = True
        try:
            self._refresh(background=self._slow)
        finally:
            self._timer_fired = False

    def _refresh(self, background: bool) -> None:
        if not self.session_model.ready:
            self.view, self.error = None, ""
            self.changed.emit()
            return
        s = self.session_model.session
        try:
            job = self._job()
        except ScopeError as exc:
            self._finish(exc)
            return
        if background or (not s.holds_whole_run and self._timer_fired):
            # a checkpointed run's gradient goes back through every chunk: always behind the
            # window once stepping, and dropped between chunks when a newer step wants
            # another (docs/architecture.md, "Long runs")
            self.jobs.request(lambda ticket: _compute(job, ticket.stopped), tag=s, run=job.run)
        else:
            self._finish(_compute(job))

    def _job(self) -> _Job:
        """What to compute, read on the GUI thread (the worker touches no window state)."""
        s = self.session_model.session
        fork = None
        dm = self.debugging
        name = getattr(dm, "overlay", "") if dm is not None else ""
        text = self.target()
        if name and getattr(dm, "ready", False) and not text.startswith(("sum", "mean", "output")):
            forks = dm.debugger.forks
            fork = (name, forks.get(name)) if name in forks.forks else None
        return _Job(s, text, self.unit(), self.session_model.sample, fork, self.session_model.run)

    def _delivered(self, delivery) -> None:
        if not isinstance(delivery.result, Cancelled):    # Background dropped other runs'
            self._finish(delivery.result)

    def _finish(self, result: object) -> None:
        if isinstance(result, tuple):                       # (view, seconds it took)
            view, seconds = result
            self._slow = seconds * 1000.0 > SLOW_MS
            self._timer.setInterval(int(min(MAX_DEBOUNCE_MS, max(DEBOUNCE_MS, 3000 * seconds))))
            self.view, self.error = view, ""
        elif isinstance(result, ScopeError):
            self.view, self.error = None, str(result)
        else:
            raise result                                    # a bug: shown by the slot hook
        self.changed.emit()


@dataclass
class _Job:
    session: object
    text: str
    unit: int
    sample: int
    fork: tuple[str, object] | None
    run: int = -1


def _compute(job: _Job, stale=None) -> tuple[GradView, float] | ScopeError:
    """The gradient views' numbers for one target, from the engine (any thread); ``stale()``
    True stops a checkpointed run's backward pass between chunks."""
    start = time.perf_counter()
    s, text, sample = job.session, job.text, job.sample
    try:
        with np.errstate(all="ignore"):
            g = s.grad(text, stale)         # a run in memory computes it in one go
            run = forget_record(s)
            carried = carried_gradient(g, s.cell_kind)[sample]       # the LSTM's dc, else dh
            position = target_position(text, run)
            view = GradView(
                target=text, unit=job.unit, position=position, result=g,
                saliency=g.saliency(sample), carried=carried,
                forget_product=forget_product(run, sample, position, unit=job.unit),
                horizon=memory_horizon(carried, run, position),
                health=grad_health(g, run, sample, position), run=job.run, kind=s.cell_kind.name)
            if job.fork is not None and s.holds_whole_run:   # a fork's run is whole-run
                name, fork = job.fork
                fg = fork_gradient(s, fork, text)
                view.fork, view.fork_saliency = name, fg.saliency(sample)
    except ScopeError as exc:
        return exc
    return view, time.perf_counter() - start
