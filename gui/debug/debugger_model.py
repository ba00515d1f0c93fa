"""The engine ``Debugger`` wrapped as Qt signals, and the hook that adds its docks to the window.

One ``DebuggerModel`` per window follows the SessionModel: a new session gets a new engine
Debugger (or adopts the one a reopened session file brought). Panels read and drive it; none of
them evaluates an expression or steps an LSTM itself.
"""

from __future__ import annotations

from PySide6.QtCore import QObject, Qt, Signal
from PySide6.QtGui import QAction, QKeySequence
from PySide6.QtWidgets import QApplication, QFileDialog, QProgressDialog

from engine.debugger import Debugger, RunResult
from engine.errors import ScopeError
from gui.session_model import SessionModel

SESSION_FILTER = "LSTM Scope sessions (*.lstmscope);;All files (*)"


class DebuggerModel(QObject):
    breakpointsChanged = Signal()
    watchesChanged = Signal()
    forksChanged = Signal()
    overlayChanged = Signal(str)         # fork name shown over the original ("" = none)
    hitsChanged = Signal()
    stopped = Signal(object)             # RunResult of the last continue

    def __init__(self, model: SessionModel, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.model = model
        self.debugger: Debugger | None = None
        self.overlay = ""
        self._adopt: Debugger | None = None
        self.running = False
        self._stop_requested = False
        model.runChanged.connect(self._on_run)
        model.sampleChanged.connect(self._on_sample)

    # --- following the session ---------------------------------------------------------------
    def adopt(self, debugger: Debugger) -> None:
        """Use ``debugger`` for its session when that session arrives (a reopened file)."""
        self._adopt = debugger

    def _on_run(self) -> None:
        session = self.model.session
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
            self.debugger.set_sample(self.model.sample)
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
        return self.debugger is not None and self.model.session is not None

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
        session = self.model.session
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
        self.stopped.emit(result)
        return result

    def request_stop(self) -> None:
        self._stop_requested = True


def install_debugging(window) -> DebuggerModel:
    """Add the Breakpoints, Watches and Forks docks, the debug actions and session files."""
    from gui.debug.breakpoints_panel import BreakpointsPanel
    from gui.debug.forks_panel import ForksPanel, edit_state_dialog
    from gui.debug.watches_panel import WatchesPanel

    dm = DebuggerModel(window.model, window)
    window.breakpoints_panel = BreakpointsPanel(dm, window.pal)
    if hasattr(window, "timeline"):
        window.breakpoints_panel.hitsShown.connect(window.timeline.set_marks)
    window.watches_panel = WatchesPanel(dm, window.pal)
    window.forks_panel = ForksPanel(dm, window.pal)
    right = Qt.RightDockWidgetArea
    window.breakpoints_dock = window._dock("Breakpoints", window.breakpoints_panel, right)
    window.watches_dock = window._dock("Watches", window.watches_panel, right)
    window.forks_dock = window._dock("Forks", window.forks_panel, right)

    def action(text, slot, keys=(), tip=""):
        act = QAction(text, window)
        if keys:
            act.setShortcuts([QKeySequence(k) for k in keys])
            act.setShortcutContext(Qt.ApplicationShortcut)
        if tip:
            act.setStatusTip(tip)
            act.setToolTip(f"{tip} ({', '.join(keys)})" if keys else tip)
        act.triggered.connect(slot)
        window.addAction(act)
        return act

    window.act_continue_back = action("Continue backward", lambda: window.run_continue(-1),
                                      ["Shift+F5"], "Run backward to the previous breakpoint hit")
    window.act_edit_state = action("Edit state…", lambda: edit_state_dialog(window, dm),
                                   ["Ctrl+E"], "Change h, c or x_t at this step: the run forks")
    window.act_save_session = action("Save session…", lambda: save_session_dialog(window, dm),
                                     ["Ctrl+S"], "Save model, input, position, breakpoints, watches, forks")
    window.act_open_session = action("Open session…", lambda: open_session_dialog(window, dm),
                                     ["Ctrl+Shift+O"], "Reopen a saved debugging session")
    window.run_menu.addAction(window.act_continue_back)
    window.run_menu.addSeparator()
    window.run_menu.addAction(window.act_edit_state)
    for dock in (window.breakpoints_dock, window.watches_dock, window.forks_dock):
        window.view_menu.insertAction(window.view_menu.actions()[1], dock.toggleViewAction())
    file_menu = window.menuBar().actions()[0].menu()
    first = file_menu.actions()[2] if len(file_menu.actions()) > 2 else None
    file_menu.insertAction(first, window.act_open_session)
    file_menu.insertAction(first, window.act_save_session)
    dm.stopped.connect(lambda r: window.statusBar().showMessage(describe_result(dm, r), 6000))
    window.tabifyDockWidget(window.breakpoints_dock, window.watches_dock)
    window.tabifyDockWidget(window.watches_dock, window.forks_dock)
    window.breakpoints_dock.raise_()
    return dm


def describe_result(dm: DebuggerModel, r: RunResult) -> str:
    if r.stopped:
        return f"stopped at t = {r.t}"
    if not r.hit:
        return "no breakpoint hit: at the " + ("end" if r.t else "start")
    titles = [b.title for b in dm.debugger.breakpoints if b.id in r.breakpoints]
    return f"hit at step {r.position}: " + "; ".join(titles)


def view_settings(window, dm: DebuggerModel) -> dict:
    return {"sample": window.model.sample, "selected_unit": window.model.selected_unit,
            "selected_position": window.model.selected_position, "overlay": dm.overlay,
            "theme": window.theme}


def save_session_dialog(window, dm: DebuggerModel, path: str | None = None) -> bool:
    from engine.session_file import save_session
    if not dm.ready:
        return False
    if path is None:
        start = str(window.settings.value("last_session_dir", ""))
        path, _ = QFileDialog.getSaveFileName(window, "Save session", start, SESSION_FILTER)
        if not path:
            return False
        if not path.endswith(".lstmscope"):
            path += ".lstmscope"
    try:
        save_session(path, dm.debugger, view=view_settings(window, dm))
    except (ScopeError, OSError) as exc:
        window.report_error("Could not save the session", str(exc))
        return False
    window.statusBar().showMessage(f"session saved to {path}", 5000)
    return True


def open_session_dialog(window, dm: DebuggerModel, path: str | None = None) -> bool:
    from engine.session_file import open_session
    from gui.loader_worker import LoadResult
    if path is None:
        start = str(window.settings.value("last_session_dir", ""))
        path, _ = QFileDialog.getOpenFileName(window, "Open session", start, SESSION_FILTER)
        if not path:
            return False
    QApplication.setOverrideCursor(Qt.WaitCursor)
    try:
        session, debugger, data = open_session(path)
        session.full()
        session.result()
    except (ScopeError, OSError) as exc:
        QApplication.restoreOverrideCursor()
        window.report_error("Could not open the session", str(exc))
        return False
    QApplication.restoreOverrideCursor()
    dm.adopt(debugger)
    window._on_loaded(LoadResult(session, data.model_source, str(path)))
    view = data.view
    if isinstance(view.get("sample"), int):
        window.sample_spin.setValue(view["sample"])
    unit, pos = view.get("selected_unit", -1), view.get("selected_position", -1)
    if isinstance(unit, int) and isinstance(pos, int) and unit >= 0:
        window.model.select(unit, pos)
    if view.get("overlay") in debugger.forks.forks:
        dm.set_overlay(view["overlay"])
    return True
