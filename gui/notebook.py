"""A Session or TraceResult ending a notebook cell shows itself: the units figure, drawn by the
same exporter as ``main.py export --view units`` (lanes, shape badges, legend).

The engine imports no Qt, so the display is registered from here: importing ``gui`` inside
IPython registers it, and so does ``%load_ext gui.notebook``. The figure is drawn by a window
that is never put on screen (``WA_DontShowOnScreen``), on a copy of the session, so the
notebook's own Session keeps its cursor and observers.
"""

from __future__ import annotations

import os
import sys
import tempfile
from pathlib import Path
from typing import Any

REPORT_WIDTH = 1280              # px of the PNG shown in the notebook


def session_of(obj: Any) -> Any:
    """A Session of its own showing ``obj`` (a Session: at its cursor; a TraceResult: the
    whole run of its model's default layer)."""
    from engine import Session, TraceResult
    if isinstance(obj, Session):
        copy = Session(obj.model, obj.model_input, layer=obj.layer_index,
                       initial_state=obj.initial_state, layer_input=obj.is_layer_input)
        copy.seek(obj.t, notify=False)
        return copy
    if isinstance(obj, TraceResult):
        if obj.model is None or obj.input is None:
            raise TypeError("this TraceResult does not name the model and input it came from")
        layer = obj.layer_input if obj.layer_input is not None else obj.model.default_layer(obj.input)
        session = Session(obj.model, obj.input, layer=layer, layer_input=obj.layer_input is not None)
        session.seek(session.steps, notify=False)
        return session
    raise TypeError(f"cannot draw a {type(obj).__name__}")


def _app() -> Any:
    """The running QApplication, else one made now: offscreen where there is no display, so a
    later ``gui.show`` still opens a real window where there is one."""
    if ("PySide6.QtWidgets" not in sys.modules and not os.environ.get("QT_QPA_PLATFORM")
            and not (os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY"))
            and sys.platform.startswith("linux")):
        os.environ["QT_QPA_PLATFORM"] = "offscreen"
    from PySide6.QtWidgets import QApplication

    from gui.app import make_app
    fresh = QApplication.instance() is None
    app = make_app()
    if fresh and app.platformName() == "offscreen":
        from gui.export.cli import quiet_offscreen_warnings
        quiet_offscreen_warnings()          # its notes on missing window features, per figure
    return app


def units_png(obj: Any, width: int = REPORT_WIDTH) -> bytes:
    """The units figure of ``obj`` (a Session or TraceResult) as PNG bytes."""
    import numpy as np
    from PySide6.QtCore import QSettings, Qt

    from gui.export.figure import FigureOptions, export_view
    from gui.export.views import view
    from gui.main_window import MainWindow
    app = _app()
    with np.errstate(all="ignore"):
        session = session_of(obj)
        session.prepare_view()        # what a window shows first (a run in memory: all of it)
    with tempfile.TemporaryDirectory() as tmp:        # never touch the user's saved layout
        settings = QSettings(str(Path(tmp) / "notebook.ini"), QSettings.IniFormat)
        errors: list[str] = []
        window = MainWindow(settings=settings, report_error=lambda title, msg: errors.append(msg))
        if app.platformName() != "offscreen":
            # never flash on a real screen; offscreen there is no screen, and the attribute
            # would change the dock layout the figure is made from (export --view units' size)
            window.setAttribute(Qt.WidgetAttribute.WA_DontShowOnScreen, True)
        try:
            window.show_session(session, source=session.model.source,
                                input_source="(from Python)")
            view("units").lay_out(window, session.units)     # as export --view units
            window.show()
            app.processEvents()
            out = Path(tmp) / "units.png"
            export_view(window, "units", out, options=FigureOptions(), width=width,
                        restore=False)                  # the window is closed right after
            if errors:
                raise RuntimeError(errors[0])
            return out.read_bytes()
        finally:
            window.close()
            window.deleteLater()
            app.processEvents()


def _png(obj: Any) -> bytes | None:
    try:
        return units_png(obj)
    except Exception as exc:  # noqa: BLE001 - IPython then shows the plain repr
        print(f"LSTM Scope: no figure ({type(exc).__name__}: {exc})", file=sys.stderr)
        return None


def register(shell: Any = None) -> bool:
    """Show Sessions and TraceResults as their units figure in ``shell`` (default: the
    running IPython). False outside IPython."""
    if shell is None:
        try:
            from IPython import get_ipython
        except ImportError:
            return False
        shell = get_ipython()
    if shell is None or not hasattr(shell, "display_formatter"):
        return False
    from engine import Session, TraceResult
    formatter = shell.display_formatter.formatters["image/png"]
    formatter.for_type(Session, _png)
    formatter.for_type(TraceResult, _png)
    return True


def load_ipython_extension(shell: Any) -> None:
    """``%load_ext gui.notebook``."""
    register(shell)


__all__ = ["load_ipython_extension", "register", "session_of", "units_png"]
