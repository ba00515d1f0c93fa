"""The gradient target the window shows, and the engine's answers for it, as Qt signals.

The window never differentiates anything: it asks the Session (``Session.grad``) and the
engine's view helpers (``engine.grad_views``) and hands the numbers to the views. By default
the target is the selected unit's h at the cursor (a demo's suggested unit before anything is
selected); the user may pick its c, the model output or type a target. Recomputing is
debounced, so scrubbing stays smooth.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np
from PySide6.QtCore import QObject, QTimer, Signal

from engine.errors import ScopeError
from engine.grad import GradResult
from engine.grad_views import (
    GradHealth,
    default_target,
    forget_product,
    fork_gradient,
    grad_health,
    memory_horizon,
    target_position,
)
from gui.session_model import SessionModel

MODES = {"h": "selected unit's h at the cursor", "c": "selected unit's C at the cursor",
         "output": "the output at the last step (sum of squares)", "custom": "a target I type"}
DEBOUNCE_MS = 60
MAX_DEBOUNCE_MS = 1000


@dataclass
class GradView:
    """Everything the gradient views draw for one target (one sample)."""

    target: str
    unit: int                         # the unit the target is about (or the selected one)
    position: int | None              # the target's input position (None: several / output)
    result: GradResult
    saliency: np.ndarray              # (T,) |d target / d x_t|
    dc_abs: np.ndarray                # (T, N) |d target / d c_t|
    forget_product: np.ndarray        # (T, N)
    horizon: np.ndarray               # (N,)
    health: GradHealth
    fork: str = ""
    fork_saliency: np.ndarray | None = None


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
        self._timer.timeout.connect(self.refresh)
        for signal in (model.runChanged, model.sampleChanged, model.positionChanged,
                       model.selectionChanged):
            signal.connect(self.schedule)
        if debugging is not None:
            debugging.overlayChanged.connect(self.schedule)
            debugging.forksChanged.connect(self.schedule)

    def schedule(self, *args) -> None:
        if self.enabled:
            self._timer.start()

    def set_mode(self, mode: str, custom: str = "") -> None:
        self.mode, self.custom = mode, custom
        self.refresh()

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
        return text if self.mode == "h" else "c" + text[1:]

    # --- computing (through the engine) --------------------------------------------------------
    def refresh(self) -> None:
        self._timer.stop()
        start = time.perf_counter()
        try:
            self._refresh()
        finally:
            cost_ms = (time.perf_counter() - start) * 1000.0
            self._timer.setInterval(int(min(MAX_DEBOUNCE_MS, max(DEBOUNCE_MS, 3 * cost_ms))))

    def _refresh(self) -> None:
        if not self.session_model.ready:
            self.view, self.error = None, ""
            self.changed.emit()
            return
        s = self.session_model.session
        sample = self.session_model.sample
        if s.checkpointed:      # the views read whole-run arrays (docs/architecture.md, Long runs)
            error = (f"the gradient views need a run held in memory; this run is checkpointed "
                     f"({s.steps:,} steps): take its gradient with main.py grad or Session.grad, "
                     f"or open a shorter input")
            if (self.view, self.error) != (None, error):     # said once, not at every step
                self.view, self.error = None, error
                self.changed.emit()
            return
        try:
            text = self.target()
            with np.errstate(all="ignore"):
                g = s.grad(text)
                full = s.full()
                position = target_position(text, full)
                view = GradView(
                    target=text, unit=self.unit(), position=position, result=g,
                    saliency=g.saliency(sample), dc_abs=np.abs(g.dc[sample]),
                    forget_product=forget_product(full, sample, position),
                    horizon=memory_horizon(g.dc[sample], full, position),
                    health=grad_health(g, full, sample, position))
                self._add_fork(view, text, sample)
        except ScopeError as exc:
            self.view, self.error = None, str(exc)
        else:
            self.view, self.error = view, ""
        self.changed.emit()

    def _add_fork(self, view: GradView, text: str, sample: int) -> None:
        dm = self.debugging
        name = getattr(dm, "overlay", "") if dm is not None else ""
        if not name or not getattr(dm, "ready", False) or text.startswith(("sum", "mean", "output")):
            return
        forks = dm.debugger.forks
        if name not in forks.forks:
            return
        fg = fork_gradient(self.session_model.session, forks.get(name), text)
        view.fork, view.fork_saliency = name, fg.saliency(sample)
