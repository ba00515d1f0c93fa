"""GUI tests run offscreen with a throwaway settings file and no modal dialogs."""

from __future__ import annotations

import os

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

import numpy as np  # noqa: E402
import pytest  # noqa: E402
from PySide6.QtCore import QSettings  # noqa: E402

from engine import Session  # noqa: E402
from engine.cells.cell import CellWeights  # noqa: E402
from engine.loaders.demos import random_model  # noqa: E402
from engine.network.layers import LSTM, Dense  # noqa: E402
from engine.network.model import Model  # noqa: E402


@pytest.fixture
def make_window(qtbot, tmp_path):
    """A MainWindow factory: errors are collected in ``window.errors`` instead of dialogs."""
    from gui.app import make_app
    from gui.main_window import MainWindow
    make_app()

    def factory():
        errors: list[str] = []
        settings = QSettings(str(tmp_path / "settings.ini"), QSettings.IniFormat)
        window = MainWindow(settings=settings, report_error=lambda title, msg: errors.append(msg))
        window.errors = errors
        qtbot.addWidget(window)
        window.resize(1200, 800)
        window.show()
        qtbot.waitExposed(window)
        return window
    return factory


class _SharedWindow:
    """The one window a module's tests share, and how it looked when it was new."""

    def __init__(self, folder) -> None:
        self.folder = folder
        self.window = None
        self.looks: tuple | None = None
        self.active = False
        self.made = 0

    def fresh(self, qtbot):
        """The window as a test may take it: a window unchanged since it was made (else a new one),
        nothing running behind it, no errors collected."""
        if self.window is not None and not self._as_new(qtbot):
            self.close()               # a test changed what the next one would see: start over
        if self.window is None:
            from gui.app import make_app
            from gui.main_window import MainWindow
            make_app()
            errors: list[str] = []
            self.made += 1             # a closed window saved its layout in its own settings
            settings = QSettings(str(self.folder / f"settings-{self.made}.ini"), QSettings.IniFormat)
            window = MainWindow(settings=settings, report_error=lambda title, msg: errors.append(msg))
            window.errors = errors
            window.resize(1200, 800)
            window.show()
            qtbot.waitExposed(window)
            qtbot.wait(10)             # the default layout (a queued call) before the looks are kept
            self.window, self.looks, self.active = window, looks(window), window.isActiveWindow()
        self.window.errors.clear()
        return self.window

    def _as_new(self, qtbot) -> bool:
        """Whether the window looks as it did when new, once the docks that were in front of
        their tabs are back in front (a test that shows a dock, as Continue shows the
        breakpoints, leaves the window otherwise as it was) and it is the active window again
        if it was (its keys reach it)."""
        from PySide6.QtWidgets import QDockWidget
        window = self.window
        if looks(window) != self.looks:
            front = {name for name, *_, behind, _tabs in self.looks[2] if not behind}
            for dock in window.findChildren(QDockWidget):
                if dock.objectName() in front:
                    dock.raise_()
            qtbot.wait(1)
        if self.active and not window.isActiveWindow():
            window.activateWindow()
            try:
                qtbot.waitUntil(window.isActiveWindow, timeout=1000)
            except qtbot.TimeoutError:
                return False
        return looks(window) == self.looks

    def quiet(self) -> None:
        """Stop what the last test left running, as closing the window would."""
        window = self.window
        if window is None:
            return
        window.stop_background_work()

    def close(self) -> None:
        if self.window is not None:
            self.window.close()
            self.window.deleteLater()
            self.window = None


def looks(window) -> tuple:
    """What a test could see of a window beyond its run: theme, size, docks (where, floating,
    shown, in front, tabbed with which), the units panel's and layer view's user choices, and
    the gradient's target mode and whether it is computed behind the window."""
    from PySide6.QtWidgets import QDockWidget
    docks = sorted((d.objectName(), int(window.dockWidgetArea(d).value), d.isFloating(), d.isHidden(),
                    d.visibleRegion().isEmpty(),
                    tuple(sorted(t.objectName() for t in window.tabifiedDockWidgets(d))))
                   for d in window.findChildren(QDockWidget))
    panel = window.units_panel
    return (window.theme, window.size().toTuple(), tuple(docks), panel.sort_mode, panel.filter_text,
            dict(panel._chosen), panel.ghost, panel.shared_scale, panel.mode_combo.currentText(),
            dict(window.layer_view._chosen), window.layer_view.tabs.currentIndex(),
            window.layer_view.diff_signal, _sorted_by(window.layer_view.table),
            window.grads.mode, window.grads.custom, window.grads._slow)


def _sorted_by(table) -> tuple:
    """The statistics column the user sorted by, if any (no column: none, with or without a run)."""
    header = table.horizontalHeader()
    section = header.sortIndicatorSection()
    if not 0 <= section < table.columnCount():
        return ()
    return section, header.sortIndicatorOrder()


@pytest.fixture(scope="module")
def _shared_window(tmp_path_factory):
    shared = _SharedWindow(tmp_path_factory.mktemp("shared-window"))
    yield shared
    shared.quiet()
    shared.close()


@pytest.fixture
def shared_window(_shared_window, qtbot):
    """A window the tests of one module take in turn, for tests that open their own run and
    leave the window as they found it (theme, docks, tabs, units panel choices): each pays for
    its run, not for a window. A test that changes any of those gets the next test a new
    window; each one alone still gets a new window, so it fails alone when its feature breaks."""
    window = _shared_window.fresh(qtbot)
    yield window
    _shared_window.quiet()


def exported_window(folder, model, x, layer=None):
    """A shown 1200x800 window with a run open, for a module's export tests to share (building
    and opening one is about a second of CPU): errors reported go to ``window.errors``, and the
    window is closed and deleted when the generator ends. Use inside a module-scoped fixture."""
    from PySide6.QtTest import QTest
    from PySide6.QtWidgets import QApplication

    from gui.app import make_app
    from gui.main_window import MainWindow
    make_app()
    errors: list[str] = []
    settings = QSettings(str(folder / "settings.ini"), QSettings.IniFormat)
    w = MainWindow(settings=settings, report_error=lambda title, msg: errors.append(msg))
    w.errors = errors
    w.resize(1200, 800)
    w.show()
    assert QTest.qWaitForWindowExposed(w)
    open_session(w, model, x, layer=layer)
    yield w
    w.close()
    w.deleteLater()
    QApplication.processEvents()


def settle_span(qtbot, session_model) -> None:
    """Wait until a checkpointed run's span around the cursor is drawn: the next span is
    recomputed on a worker thread (gui/background.py) after the cursor moves."""
    qtbot.waitUntil(session_model.span_settled, timeout=20000)


def bring_to_front(qtbot, dock) -> None:
    """Click the dock's tab, as a user would: a view behind another tab skips its work until
    it comes to the front (gui/widgets/on_screen.py)."""
    from PySide6.QtWidgets import QWidget

    from gui.widgets.on_screen import FrontAware
    qtbot.wait(50)            # the window's first layout (a queued call) re-tabs every dock
    dock.raise_()
    views = [w for w in dock.findChildren(QWidget) if isinstance(w, FrontAware)]
    qtbot.waitUntil(lambda: all(v.on_screen() for v in views) and dock.isVisible(), timeout=5000)
    qtbot.wait(20)            # the deferred catch-up runs


def open_session(window, model, x, layer=None):
    """Load synchronously (the background loader is tested separately)."""
    from gui.loader_worker import LoadResult
    session = Session(model, x, layer=layer)
    session.full()
    session.result()
    window.show_loaded(LoadResult(session, "test-model", "test-input"))
    return session


def export_every_view(window, folder) -> list[str]:
    """Export each view that applies to the window's run as PNG and CSV into ``folder``, as a
    user trying every view of a new cell kind would; each file must come out non-empty.
    Returns the views exported."""
    from gui.export.figure import FigureOptions, export_view
    from gui.export.views import VIEWS

    exported = [name for name, spec in VIEWS.items()
                if spec.applies(window.session_model.session) is None]
    for name in exported:
        for suffix in (".png", ".csv"):
            export_view(window, name, folder / f"{name}{suffix}", width=320,
                        options=FigureOptions(explain=False, badges=False))
            assert (folder / f"{name}{suffix}").stat().st_size > 0, name
    return exported


def small_model(units=6, features=3, seed=2):
    return random_model(units, features, seed)


def stacked_model():
    rng = np.random.default_rng(0)
    a = CellWeights(rng.normal(0, .5, (3, 20)), rng.normal(0, .5, (5, 20)), np.zeros(20))
    b = CellWeights(rng.normal(0, .5, (5, 12)), rng.normal(0, .5, (3, 12)), np.zeros(12))
    return Model([LSTM("first", a, return_sequences=True), LSTM("second", b, return_sequences=True),
                  Dense("d", np.ones((3, 1), np.float32), None)], source="stacked")


def sine_input(steps=30, features=3):
    t = np.arange(steps, dtype=np.float32)[:, None]
    return np.sin(t * np.linspace(0.1, 0.4, features, dtype=np.float32)).astype(np.float32)


