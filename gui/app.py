"""Application start-up: the QApplication, themes, and ``run_app`` used by main.py."""

from __future__ import annotations

import os
import sys
import time
import traceback
from collections.abc import Callable
from types import TracebackType

import pyqtgraph as pg
from PySide6.QtCore import Qt, QTimer
from PySide6.QtWidgets import QApplication

from engine.runs import compiled
from gui.main_window import MainWindow
from gui.platform_check import xcb_problem

STARTUP_PROBE = "LSTM_SCOPE_STARTUP_PROBE"


def make_app() -> QApplication:
    app = QApplication.instance()
    if app is None:
        QApplication.setHighDpiScaleFactorRoundingPolicy(Qt.HighDpiScaleFactorRoundingPolicy.PassThrough)
        app = QApplication(sys.argv[:1])
        app.setApplicationName("LSTM Scope")
        app.setOrganizationName("LSTM Scope")
    pg.setConfigOptions(antialias=False, background="w", foreground="k")
    return app


def run_app(model_spec: str | None, *, input_path: str | None = None, key: str | None = None,
            layer=None) -> int:
    """Open the window on ``model_spec`` (default: the bundled demo). Returns the exit code."""
    problem = xcb_problem()
    if problem:                 # Qt would abort with its plugin message: say what to install
        print(f"lstm-scope: error: {problem}", file=sys.stderr)
        return 2
    app = make_app()
    window = MainWindow()
    window.show()
    # the window's first trace would import numba (~0.8 s of CPU) on the loader's thread:
    # started here, beside the model's loading; a trace that comes first waits for it (a
    # lock, engine.runs.compiled.kernels). Not in MainWindow: the headless export makes one too
    compiled.preload()
    probe = os.environ.get(STARTUP_PROBE)
    if probe:
        _arm_startup_probe(window, float(probe))
    window.load(model_spec or "demo", input_path, key=key, layer=layer)
    restore = install_excepthook(window.report_error)
    try:
        return app.exec()
    finally:
        restore()


def install_excepthook(report_error: Callable[[str, str], None]) -> Callable[[], None]:
    """Report an exception that escapes a Qt slot as one line in the window, which stays usable.

    Qt cannot propagate a Python exception out of a slot; PySide6 hands it to
    ``sys.excepthook``. The full traceback still goes to stderr for a bug report. Returns the
    function that puts the previous hook back. Tests do not install it: pytest-qt's own hook
    turns such an exception into a failed test.
    """
    previous = sys.excepthook
    reporting = False

    def hook(exc_type: type[BaseException], exc: BaseException, tb: TracebackType | None) -> None:
        nonlocal reporting
        if issubclass(exc_type, KeyboardInterrupt):
            previous(exc_type, exc, tb)
            return
        traceback.print_exception(exc_type, exc, tb, file=sys.stderr)
        if reporting:         # an error while showing an error: stderr only, no dialog storm
            return
        reporting = True
        try:
            report_error("Unexpected error", one_line_error(exc))
        finally:
            reporting = False

    sys.excepthook = hook
    return lambda: setattr(sys, "excepthook", previous)


def one_line_error(exc: BaseException) -> str:
    """``TypeName: first line of the message`` — what the user is shown."""
    text = str(exc).strip().splitlines()
    return f"{type(exc).__name__}: {text[0]}" if text else type(exc).__name__


def _arm_startup_probe(window, process_start: float) -> None:
    """Benchmark hook: once the first run is painted, print the elapsed time and quit."""
    def check() -> None:
        if window.session_model.ready:
            window.units_panel.glw.viewport().repaint()
            print(f"startup_ms={(time.time() - process_start) * 1000:.1f}", flush=True)
            QApplication.instance().quit()
        else:
            QTimer.singleShot(5, check)
    QTimer.singleShot(0, check)
