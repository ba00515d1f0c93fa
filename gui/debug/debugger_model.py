"""The engine ``Debugger`` wrapped as Qt signals for the Breakpoints, Watches and Forks docks.

One ``DebuggerModel`` per window follows the SessionModel: a new session gets a new engine
Debugger (or adopts the one a reopened session file brought). Panels read and drive it; none of
them evaluates an expression or steps an LSTM itself.
"""

from __future__ import annotations

from PySide6.QtCore import QObject, Qt, Signal
from PySide6.QtWidgets import QApplication, QProgressDialog

from engine.debugging.debugger import Debugger, RunResult
from engine.debugging.hits import HitReport
from engine.errors import ScopeError
from gui.positions import position_text
from gui.session_model import SessionModel


class DebuggerModel(QObject):
    breakpointsChanged = Signal()
    watchesChanged = Signal()
    forksChanged = Signal()
    overlayChanged = Signal(str)         # fork name shown over the original ("" = none)
    hitsChanged = Signal()
    stopped = Signal(object)             # RunResult of the last continue

    def __init__(self, session_model: SessionModel, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.session_model = session_model
        self.debugger: Debugger | None = None
        self.overlay = ""
        self._adopt: Debugger | None = None
        self.running = False
        self._stop_requested = False
        self.reports: list[HitReport] = []     # why the last continue stopped (one per breakpoint)
        session_model.runChanged.connect(self._on_run)
        session_model.sampleChanged.connect(self._on_sample)

    # --- following the session ---------------------------------------------------------------
    def adopt(self, debugger: Debugger) -> None:
        """Use ``debugger`` for its session when that session arrives (a reopened file)."""
        self._adopt = debugger

    def _on_run(self) -> None:
        session = self.session_model.session
        if session is None:
            return
        if self.debugger is None or self.debugger.session is not session:
            if self.debugger is not None:
                self.debugger.close()
            if self._adopt is not None and self._adopt.session is session:
                self.debugger = self._adopt
            else:
                self.debugger = Debugger(session)
            self._adopt = None
            self.debugger.listeners.append(self._on_engine)
            self.debugger.set_sample(self.session_model.sample)
            self.overlay = ""
            self.breakpointsChanged.emit()
            self.watchesChanged.emit()
        if self.overlay and self.overlay not in self.debugger.forks.forks:
            self.overlay = ""
            self.overlayChanged.emit("")
        self.forksChanged.emit()
        self.hitsChanged.emit()

    def _on_sample(self, sample: int) -> None:
        if self.debugger is not None:
            self.debugger.set_sample(sample)
            self.hitsChanged.emit()
            self.watchesChanged.emit()

    def _on_engine(self, what: str) -> None:
        if what == "breakpoints":
            self.breakpointsChanged.emit()
            self.hitsChanged.emit()
        elif what == "watches":
            self.watchesChanged.emit()
        elif what == "forks":
            if self.overlay and self.overlay not in self.debugger.forks.forks:
                self.overlay = ""
                self.overlayChanged.emit("")
            self.forksChanged.emit()

    @property
    def ready(self) -> bool:
        return self.debugger is not None and self.session_model.session is not None

    def set_overlay(self, name: str) -> None:
        if name != self.overlay:
            self.overlay = name
            self.overlayChanged.emit(name)

    # --- continue ----------------------------------------------------------------------------
    def continue_run(self, direction: int = 1, *, show_progress: bool = True,
                     parent=None) -> RunResult | None:
        """F5 / Shift+F5: run to the next hit (or the end/start), with progress and Stop."""
        if not self.ready or self.running:
            return None
        dialog = None
        session = self.session_model.session
        if show_progress and direction > 0 and session.steps - session.t > 4 * Debugger.CHUNK:
            dialog = QProgressDialog("Running to the next breakpoint…", "Stop", 0, session.steps, parent)
            dialog.setWindowModality(Qt.WindowModal)
            dialog.setMinimumDuration(300)
            dialog.canceled.connect(self.request_stop)
        self.running, self._stop_requested = True, False

        def progress(done: int, total: int) -> None:
            if dialog is not None:
                dialog.setValue(done)
            QApplication.processEvents()

        try:
            result = self.debugger.run_to_hit(direction, progress=progress,
                                              should_stop=lambda: self._stop_requested)
        finally:
            self.running = False
            if dialog is not None:
                dialog.reset()
                dialog.deleteLater()
        self.reports = []
        if result.hit:
            for bp_id in result.breakpoints:
                try:
                    self.reports.append(self.debugger.explain(bp_id))
                except ScopeError:          # a breakpoint that cannot say why still stopped
                    continue
        self.stopped.emit(result)
        return result

    def request_stop(self) -> None:
        self._stop_requested = True


def describe_result(dm: DebuggerModel, r: RunResult) -> str:
    where = position_text(dm.session_model.session) if dm.session_model.session else f"{r.t} read"
    if r.stopped:
        return f"stopped at {where}"
    if not r.hit:
        return "no breakpoint hit: at the " + ("end" if r.t else "start") + f" ({where})"
    titles = []
    for b in dm.debugger.breakpoints:
        if b.id in r.breakpoints:
            why = next((describe_hit(rep) for rep in dm.reports if rep.breakpoint_id == b.id), "")
            titles.append(f"{b.title} — {why}" if why else b.title)
    return f"breakpoint hit at t = {r.position}: " + "; ".join(titles)


def describe_hit(report: HitReport, shown: int = 3) -> str:
    """'c[3] = +5.21, c[9] = −5.02 (and 4 more units)', led by the compared quantity when it is
    not just one of those values ('mean(saturated(i)) = 0.333 · …')."""
    parts = []
    only = report.culprits[0] if len(report.culprits) == 1 else None
    if report.quantity and report.quantity_value is not None and not (
            only is not None and only.part == report.quantity):
        parts.append(f"{report.quantity} = {report.quantity_value:.4g}")
    for c in report.culprits:
        if not c.units:
            continue
        what = "unit" if c.lanes else "feature"
        values = ", ".join(f"{c.subject}[{u}] = {v:+.4g}" if c.subject else f"{what} {u}"
                           for u, v in zip(c.units[:shown], c.values[:shown]))
        more = c.count - min(shown, len(c.units))
        if more > 0:
            values += f" (and {more} more {what}{'s' if more > 1 else ''})"
        parts.append(values)
    return " · ".join(parts)
