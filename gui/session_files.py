"""File → Save session / Open session: a debugging session (model, input, position,
breakpoints, watches, forks, view settings) as one ``.lstmscope`` file, written and read by
``engine.debugging.session_file``; these dialogs only ask for the path and restore the window's view.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QApplication, QFileDialog

from engine.debugging.session_file import open_session, read_session, save_session
from engine.errors import ScopeError
from gui.debug.debugger_model import DebuggerModel
from gui.loader_worker import LoadResult
from gui.widgets.open_options import confirm_running_code

if TYPE_CHECKING:
    from gui.main_window import MainWindow

SESSION_FILTER = "LSTM Scope sessions (*.lstmscope);;All files (*)"


def view_settings(window: MainWindow, dm: DebuggerModel) -> dict:
    return {"sample": window.session_model.sample, "selected_unit": window.session_model.selected_unit,
            "selected_position": window.session_model.selected_position, "overlay": dm.overlay,
            "theme": window.theme}


def _ask_path(window: MainWindow, ask: Callable[..., tuple[str, str]], title: str) -> str:
    """A session path from a file dialog starting in (and remembering) the last session folder."""
    start = str(window.settings.value("last_session_dir", ""))
    path, _ = ask(window, title, start, SESSION_FILTER)
    if path:
        window.settings.setValue("last_session_dir", str(Path(path).parent))
    return path


def save_session_dialog(window: MainWindow, dm: DebuggerModel, path: str | None = None) -> bool:
    if not dm.ready:
        return False
    if path is None:
        path = _ask_path(window, QFileDialog.getSaveFileName, "Save session")
        if not path:
            return False
        if not path.endswith(".lstmscope"):
            path += ".lstmscope"
    try:
        shown = window.session_model.input_source     # a file, or a label such as "(generated)"
        read = [("input file", shown)] if shown and Path(shown).is_file() else []
        save_session(path, dm.debugger, view=view_settings(window, dm), inputs=read)
    except (ScopeError, OSError) as exc:
        window.report_error("Could not save the session", str(exc))
        return False
    window.statusBar().showMessage(f"session saved to {path}", 5000)
    return True


def open_session_dialog(window: MainWindow, dm: DebuggerModel, path: str | None = None) -> bool:
    if path is None:
        path = _ask_path(window, QFileDialog.getOpenFileName, "Open session")
        if not path:
            return False
    try:     # trust is the person's answer here, never the file's (engine.debugging.session_file)
        trust = read_session(path).trusted and confirm_running_code(
            window, "This session ran its model's own code (--trust) when it was saved.")
    except (ScopeError, OSError) as exc:
        window.report_error("Could not open the session", str(exc))
        return False
    QApplication.setOverrideCursor(Qt.WaitCursor)
    try:
        session, debugger, data = open_session(path, trust=trust)
        session.prepare_view()           # what the window shows first (in memory: all of it)
    except (ScopeError, OSError) as exc:
        QApplication.restoreOverrideCursor()
        window.report_error("Could not open the session", str(exc))
        return False
    QApplication.restoreOverrideCursor()
    dm.adopt(debugger)
    window.show_loaded(LoadResult(session, data.model_source, str(path)))
    view = data.view
    if isinstance(view.get("sample"), int):
        window.sample_spin.setValue(view["sample"])
    unit, pos = view.get("selected_unit", -1), view.get("selected_position", -1)
    if isinstance(unit, int) and isinstance(pos, int) and unit >= 0:
        window.session_model.select(unit, pos)
    if view.get("overlay") in debugger.forks.forks:
        dm.set_overlay(view["overlay"])
    return True
