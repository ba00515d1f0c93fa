"""The window started by ``main.py`` begins loading the compiled steps (numba's import) on a
background thread once it is up, so the first trace does not wait for it alone; the headless
export, which makes a window too, never starts it (engine.runs.compiled.preload)."""

from __future__ import annotations

import time

from PySide6.QtCore import QEventLoop, QSettings, QTimer
from PySide6.QtWidgets import QApplication

import main
from engine.runs import compiled


def test_the_window_at_start_begins_the_preload_once_it_is_up(monkeypatch, qtbot, tmp_path, capsys):
    import gui.app as app_module
    from gui.main_window import MainWindow
    windows, preloads = [], []

    def window():
        w = MainWindow(settings=QSettings(str(tmp_path / "settings.ini"), QSettings.IniFormat),
                       report_error=lambda title, message: preloads.append(f"error {message}"))
        windows.append(w)
        return w
    monkeypatch.setattr(app_module, "MainWindow", window)
    monkeypatch.setattr(compiled, "preload", lambda: preloads.append(windows[-1].isVisible()))
    monkeypatch.setenv(app_module.STARTUP_PROBE, repr(time.time()))   # quits once painted
    # run_app's exec() has returned when the windows are closed below: with Qt's quit on the
    # last window closed, that close leaves a quit for the next event loop, and every timer
    # of the next test in this process (qtbot.wait, a deferred catch-up) would never fire
    app = QApplication.instance()
    app.setQuitOnLastWindowClosed(False)
    try:
        assert app_module.run_app("demo:sine") == 0
    finally:
        for w in windows:
            w.close()
        app.setQuitOnLastWindowClosed(True)
    assert preloads == [True]          # once, with the window shown
    assert "startup_ms=" in capsys.readouterr().out


def test_the_export_command_does_not_start_the_preload(monkeypatch, tmp_path):
    started = []
    monkeypatch.setattr(compiled, "preload", lambda: started.append(True))
    out = tmp_path / "units.png"
    assert main.main(["export", "demo:sine", "--view", "units", "--width", "320", "--out", str(out)]) == 0
    assert out.stat().st_size > 0 and started == []


def test_a_trace_during_the_preload_waits_for_it_and_loads_once(monkeypatch):
    """The lock: a run starting while the background import is under way waits for it and
    gets the same kernels; the loading itself happens once."""
    import threading
    loads, release = [], threading.Event()

    def slow_load():
        loads.append(threading.current_thread().name)
        release.wait(5)
        return "kernels"
    monkeypatch.delenv(compiled.JIT_SWITCH, raising=False)
    monkeypatch.setattr(compiled, "_loaded", False)
    monkeypatch.setattr(compiled, "_kernels", None)
    monkeypatch.setattr(compiled, "_load", slow_load)
    thread = compiled.preload()
    deadline = time.monotonic() + 5
    while not loads and time.monotonic() < deadline:
        time.sleep(0.001)
    got = []
    trace = threading.Thread(target=lambda: got.append(compiled.kernels()))
    trace.start()
    time.sleep(0.05)
    assert got == []                   # the trace waits for the preload ...
    release.set()
    trace.join(5)
    thread.join(5)
    assert got == ["kernels"] and loads == ["lstm-scope-kernels"]      # ... which loaded once


def test_after_the_app_ran_and_closed_an_event_loop_still_runs_its_timers(qtbot):
    """Runs after the run_app test in this file: what that test leaves behind must not stop the
    next test's timers (a quit left pending made a later layer-view test fail by order)."""
    fired = []
    loop = QEventLoop()
    QTimer.singleShot(0, lambda: fired.append(True))
    QTimer.singleShot(50, loop.quit)
    loop.exec()
    assert fired == [True]
