"""The main window's structure, built in one place: docks, actions, menus, toolbars, status bar,
closing; what it does is in gui.window, one part per job."""

from __future__ import annotations

import html
import re
from collections.abc import Callable

from PySide6.QtCore import QSettings, Qt, QTimer
from PySide6.QtGui import QAction
from PySide6.QtWidgets import (
    QComboBox,
    QDockWidget,
    QHBoxLayout,
    QLabel,
    QMainWindow,
    QSpinBox,
    QToolBar,
    QVBoxLayout,
    QWidget,
)

from engine.loaders.demos import demo_names
from gui import actions, layout
from gui.debug.breakpoints_panel import BreakpointsPanel
from gui.debug.debugger_model import DebuggerModel
from gui.debug.forks_panel import ForksPanel, edit_state_dialog
from gui.debug.watches_panel import WatchesPanel
from gui.export.dialog import WindowExporter
from gui.first_pass import FirstPass
from gui.grad_model import GradModel
from gui.load_progress import LoadProgress
from gui.loader_worker import Loader
from gui.panels.badges import ShapeBadges
from gui.panels.cell_inspector import CellInspector
from gui.panels.compare_panel import ComparePanel
from gui.panels.grad_panel import GradPanel
from gui.panels.input_editor import InputEditor
from gui.panels.input_panel import InputPanel
from gui.panels.layer_view import LayerView
from gui.panels.units_panel import UnitsPanel
from gui.session_files import open_session_dialog, save_session_dialog
from gui.session_model import SessionModel
from gui.theme import apply_theme, palette
from gui.widgets.status_bar import ElidingStatusBar
from gui.widgets.timeline import MarkedSlider
from gui.widgets.warnings_badge import WarningsBadge
from gui.window.following import Following
from gui.window.loading import Loading
from gui.window.transport import Transport
from gui.window.view_commands import ViewCommands


class MainWindow(Loading, Transport, Following, ViewCommands, QMainWindow):
    """Observes one SessionModel; every panel is a dock the user can move.

    The window owns its structure in one place: the docks are built from their panels'
    constructors (``_build_docks``), every command from its spec in ``gui.actions``
    (``_build_actions``), and the menus and toolbars that show them (``_build_menus``,
    ``_build_toolbars``). What it does comes from its parts (gui.window): ``Loading``, the
    ``Transport``, ``Following`` the run it shows, and the View and Help ``ViewCommands``.
    """

    def __init__(self, *, settings: QSettings | None = None,
                 report_error: Callable[[str, str], None] | None = None) -> None:
        super().__init__()
        self.settings = settings or QSettings("LSTM Scope", "LSTM Scope")
        self.report_error = report_error or self._message_box
        self.theme = str(self.settings.value("theme", "light"))
        self.pal = palette(self.theme)
        apply_theme(self, self.theme)   # its own theme before any part is built, whatever ran before
        self.session_model = SessionModel(self)
        self.debugging = DebuggerModel(self.session_model, self)    # breakpoints, watches, forks
        self.exporter = WindowExporter(self)                         # File → Export, clipboard
        self.loader = Loader(self)
        self.loader.loaded.connect(self.show_loaded)
        self.loader.failed.connect(self._on_failed)
        self.loader.busy.connect(self._on_busy)
        self._progress: LoadProgress | None = None
        self.play_timer = QTimer(self)
        self.play_timer.timeout.connect(self._play_tick)
        self.setWindowTitle("LSTM Scope")
        self.setAcceptDrops(True)
        self.setDockOptions(QMainWindow.AllowNestedDocks | QMainWindow.AllowTabbedDocks)
        self._build_docks()
        self._build_actions()
        self._build_toolbars()
        self._build_menus()
        self._build_status()
        self._connect()
        if not layout.restore(self, self.settings):
            layout.place_on_screen(self)
            QTimer.singleShot(0, self._default_layout)   # once the window has its size

    # --- layout ------------------------------------------------------------------------------
    def _build_docks(self) -> None:
        """Every panel, and the dock (area, tab group) it lives in."""
        sm, pal = self.session_model, self.pal
        self.units_panel = UnitsPanel(sm, pal)
        self.badges = ShapeBadges(sm, leading=self._layer_chooser())
        central = QWidget()
        column = QVBoxLayout(central)
        column.setContentsMargins(0, 0, 0, 0)
        column.setSpacing(0)
        column.addWidget(self.badges)
        column.addWidget(self.units_panel, 1)
        self.setCentralWidget(central)
        self.input_panel = InputPanel(sm, pal)
        self.input_editor = InputEditor(sm)
        self.compare_panel = ComparePanel(sm, pal, self.report_error)
        self.breakpoints_panel = BreakpointsPanel(self.debugging, pal)
        self.watches_panel = WatchesPanel(self.debugging, pal)
        self.forks_panel = ForksPanel(self.debugging, pal, self.report_error)
        self.cell_inspector = CellInspector(sm, pal, units_panel=self.units_panel)
        self.layer_view = LayerView(sm, pal, units_panel=self.units_panel, debugging=self.debugging)
        self.grads = GradModel(sm, self.debugging, self)      # the gradient target (engine.gradients.grad)
        self.grad_panel = GradPanel(sm, self.grads, pal)
        bottom, right = Qt.BottomDockWidgetArea, Qt.RightDockWidgetArea
        self.input_dock = self._add_dock("Input and output", self.input_panel, bottom)
        self.layer_dock = self._add_dock("Layer view", self.layer_view, bottom)
        self.grad_dock = self._add_dock("Gradients", self.grad_panel, bottom)
        self.input_editor_dock = self._add_dock("Input", self.input_editor, right)
        self.compare_dock = self._add_dock("Compare inputs", self.compare_panel, bottom)
        self.breakpoints_dock = self._add_dock("Breakpoints", self.breakpoints_panel, right)
        self.watches_dock = self._add_dock("Watches", self.watches_panel, right)
        self.forks_dock = self._add_dock("Forks", self.forks_panel, right)
        self.cell_dock = self._add_dock("Cell inspector", self.cell_inspector, right)
        self.tabifyDockWidget(self.breakpoints_dock, self.watches_dock)
        self.tabifyDockWidget(self.watches_dock, self.forks_dock)
        self.tabifyDockWidget(self.breakpoints_dock, self.cell_dock)
        self.tabifyDockWidget(self.input_dock, self.layer_dock)
        self.tabifyDockWidget(self.layer_dock, self.grad_dock)
        self.tabifyDockWidget(self.grad_dock, self.compare_dock)   # wide plots side by side
        for front in (self.breakpoints_dock, self.input_dock, self.input_editor_dock):
            front.raise_()
        self.layer_dock.visibilityChanged.connect(self.layer_view.set_in_front)
        self.cell_dock.visibilityChanged.connect(self.cell_inspector.set_in_front)
        self.grad_dock.visibilityChanged.connect(self.grad_panel.set_in_front)

    def _layer_chooser(self) -> QWidget:
        """Layer and sample, at the head of the shape badges (which describe that layer)."""
        box = QWidget()
        row = QHBoxLayout(box)
        row.setContentsMargins(0, 0, 6, 0)
        row.addWidget(QLabel("layer"))
        self.layer_combo = QComboBox()
        self.layer_combo.setSizeAdjustPolicy(QComboBox.AdjustToContents)   # never "lstm (for"
        self.layer_combo.setToolTip("The traced LSTM layer (each direction of a Bidirectional is its own)")
        self.layer_combo.currentIndexChanged.connect(self._layer_chosen)
        row.addWidget(self.layer_combo)
        row.addWidget(QLabel("sample"))
        self.sample_spin = QSpinBox()
        self.sample_spin.setToolTip("Which sequence of the batch to show")
        self.sample_spin.valueChanged.connect(self.session_model.set_sample)
        row.addWidget(self.sample_spin)
        return box

    def _default_layout(self) -> None:
        """First start and View → Reset layout: tab groups right and below, the units panel
        keeps most of the room (gui.layout)."""
        layout.arrange_docks(self, [[self.input_editor_dock],
                                    [self.cell_dock, self.breakpoints_dock, self.watches_dock,
                                     self.forks_dock]],
                             [self.input_dock, self.layer_dock, self.compare_dock])
        self.breakpoints_dock.raise_()
        self.input_editor_dock.raise_()     # one tab group on a short screen: the input first

    def reset_layout(self) -> None:
        """View → Reset layout: fit the window to its screen again and put every dock back."""
        if self.isMaximized() or self.isFullScreen():
            self.showNormal()
        layout.place_on_screen(self)
        self._default_layout()

    def _add_dock(self, title: str, widget: QWidget, area) -> QDockWidget:
        dock = QDockWidget(title, self)
        dock.setObjectName(title.replace(" ", "_"))
        dock.setWidget(layout.scrolling(widget))     # a short dock scrolls, never overlaps
        self.addDockWidget(area, dock)
        layout.grow_when_shown(self, dock)            # to its useful height, when there is room
        return dock

    def _build_actions(self) -> None:
        """Every command of the window, from its spec in gui.actions, wired to its slot."""
        sm, dm = self.session_model, self.debugging

        def act(spec: actions.ActionSpec, slot) -> QAction:
            return actions.make_action(self, spec, slot)
        self.act_open = act(actions.OPEN_MODEL, self.open_model_dialog)
        self.act_open_options = act(actions.OPEN_WITH_OPTIONS, self.open_options_dialog)
        self.act_open_input = act(actions.OPEN_INPUT, self.open_input_dialog)
        self.act_open_session = act(actions.OPEN_SESSION, lambda: open_session_dialog(self, dm))
        self.act_save_session = act(actions.SAVE_SESSION, lambda: save_session_dialog(self, dm))
        self.act_export = act(actions.EXPORT, self.exporter.open_dialog)
        self.act_copy_image = act(actions.COPY_IMAGE, lambda: self.exporter.copy())
        self.act_quit = act(actions.QUIT, self.close)
        self.act_step = act(actions.STEP, lambda: sm.step(1))
        self.act_back = act(actions.BACK, lambda: sm.back(1))
        self.act_continue = act(actions.CONTINUE, lambda: self.run_continue(1))
        self.act_continue_back = act(actions.CONTINUE_BACK, lambda: self.run_continue(-1))
        self.act_play = act(actions.PLAY, self.toggle_play)
        self.act_start = act(actions.START, lambda: sm.seek(0))
        self.act_end = act(actions.END, lambda: sm.seek(sm.steps))
        self.act_edit_state = act(actions.EDIT_STATE, lambda: edit_state_dialog(self, dm))
        self.act_goto_step = act(actions.GO_TO_STEP, self.go_to_step_dialog)
        self.act_goto_unit = act(actions.GO_TO_UNIT, self.go_to_unit_dialog)
        self.act_reset_layout = act(actions.RESET_LAYOUT, self.reset_layout)
        self.act_teaching = {view: act(spec, lambda on, v=view: self.show_teaching(v, on))
                             for view, spec in actions.TEACHING.items()}
        self.teaching_tips = {view: action.toolTip() for view, action in self.act_teaching.items()}
        self.act_docks = {attr: act(spec, lambda _on, a=attr: self.bring_dock(a))
                          for attr, spec in actions.DOCKS.items()}
        for attr, action in self.act_docks.items():     # the tick follows the dock (its x too)
            dock = getattr(self, attr)
            action.setChecked(not dock.isHidden())
            dock.visibilityChanged.connect(
                lambda _shown, a=action, d=dock: a.setChecked(not d.isHidden()))
        self.act_dark = act(actions.DARK_THEME, self.toggle_theme)
        self.act_dark.setChecked(self.theme == "dark")
        self.act_units_help = act(actions.UNITS_HELP, self.show_units_help)
        self.act_shortcuts = act(actions.SHOW_SHORTCUTS, self.show_shortcuts)
        self.act_about = act(actions.ABOUT, self.show_about)

    def _build_toolbars(self) -> None:
        bar = QToolBar("Transport", self)
        bar.setObjectName("transport")
        self.addToolBar(bar)
        for action in (self.act_start, self.act_back, self.act_step, self.act_continue, self.act_play, self.act_end):
            bar.addAction(action)
        bar.addWidget(QLabel(" speed "))
        self.speed = QSpinBox()
        self.speed.setRange(1, 500)
        self.speed.setValue(int(self.settings.value("speed", 10)))
        self.speed.setSuffix(" steps/s")
        self.speed.setToolTip("Playback speed")
        self.speed.valueChanged.connect(self._speed_changed)
        bar.addWidget(self.speed)
        self.timeline = MarkedSlider()
        self.timeline.setMinimumWidth(160)
        self.timeline.setToolTip("Scrub: the number of input positions read (t)")
        self.timeline.valueChanged.connect(self._timeline_moved)
        bar.addWidget(self.timeline)
        self.t_label = QLabel(" before t = 0 · 0 of 0 read ")
        bar.addWidget(self.t_label)
        _steady_width(bar.widgetForAction(self.act_play), ("Play", "Pause"))
        bar.addSeparator()
        bar.addAction(self.act_export)           # beside the transport, always in view

    def _build_menus(self) -> None:
        menu = self.menuBar()
        file_menu = menu.addMenu("&File")
        file_menu.addAction(self.act_open)
        file_menu.addAction(self.act_open_options)
        file_menu.addAction(self.act_open_input)
        file_menu.addAction(self.act_open_session)
        file_menu.addAction(self.act_save_session)
        self.recent_menu = file_menu.addMenu("Open &recent")
        self.demo_menu = file_menu.addMenu("Open &demo")
        for name in demo_names():
            self.demo_menu.addAction(f"demo:{name}", lambda n=name: self.load(f"demo:{n}"))
        self.export_menu = file_menu.addMenu("&Export")
        self.export_menu.addAction(self.act_export)
        self.export_menu.addAction(self.act_copy_image)
        file_menu.addSeparator()
        file_menu.addAction(self.act_quit)
        self._refresh_recent()
        self.view_menu = menu.addMenu("&View")
        self.view_menu.setToolTipsVisible(True)       # why a teaching view is greyed out
        for action in self.act_docks.values():
            self.view_menu.addAction(action)
        self.view_menu.addSeparator()
        for action in self.act_teaching.values():
            self.view_menu.addAction(action)
        self.view_menu.addSeparator()
        for action in (self.act_reset_layout, self.act_goto_step, self.act_goto_unit, self.act_dark):
            self.view_menu.addAction(action)
        self.run_menu = menu.addMenu("&Run")
        for action in (self.act_step, self.act_back, self.act_continue, self.act_play, self.act_start,
                       self.act_end, self.act_continue_back):
            self.run_menu.addAction(action)
        self.run_menu.addSeparator()
        self.run_menu.addAction(self.act_edit_state)
        help_menu = menu.addMenu("&Help")
        for action in (self.act_units_help, self.act_shortcuts, self.act_about):
            help_menu.addAction(action)

    def _connect(self) -> None:
        """Signals between the window's parts (each panel already follows the SessionModel)."""
        sm, dm = self.session_model, self.debugging
        self.input_editor.apply_input.connect(
            lambda x, label, state: self.load(None, x=x, initial_state=state, input_label=label))
        self.input_editor.error.connect(lambda message: self.report_error("Input", message))
        self.breakpoints_panel.hitsShown.connect(self.timeline.set_marks)
        dm.overlayChanged.connect(self._overlay_changed)
        dm.stopped.connect(self._on_stopped)
        sm.runChanged.connect(lambda: self._overlay_changed(dm.overlay))
        sm.selectionChanged.connect(self._bring_cell_to_front)
        sm.runChanged.connect(self._on_run_changed)
        sm.positionChanged.connect(self._on_position)
        self.grads.changed.connect(lambda: self.input_panel.show_saliency(self.grads.view))
        self.layer_view.set_gradients(self.grads)
        for dock, view in ((self.input_dock, self.input_panel), (self.grad_dock, self.grad_panel),
                           (self.layer_dock, self.layer_view)):   # what draws the gradient
            self.grads.add_viewer(view)
            dock.visibilityChanged.connect(self.grads.viewer_shown)

    def _build_status(self) -> None:
        self.setStatusBar(ElidingStatusBar(self))   # a long hint never runs into the position
        self.status_label = QLabel()
        self.warnings_badge = WarningsBadge(self)
        self.first_pass = FirstPass(self)       # a checkpointed run's checkpoints and overview
        self.first_pass.progressed.connect(self.units_panel.refresh_overview)
        self.statusBar().addPermanentWidget(self.first_pass)
        self.statusBar().addPermanentWidget(self.warnings_badge)
        self.statusBar().addPermanentWidget(self.status_label)
        self.session_model.runChanged.connect(self._update_warnings)
        self._notes: list[str] = []
        self.session_model.notice.connect(self._note)
        self.units_panel.hovered.connect(lambda text: self.statusBar().showMessage(
            _strip_tags(text), 4000))

    def closeEvent(self, event) -> None:  # noqa: N802
        layout.remember(self, self.settings)
        self.stop_background_work()
        super().closeEvent(event)

    def stop_background_work(self) -> None:
        """Stop playback, the loader, the first pass and every background job, waiting for the
        threads: a long run's gradient, span or hit scan stops at its next chunk instead of
        computing for a window that is gone (or, in tests, handed to the next test)."""
        self.stop_play()
        self.loader.cancel()
        self.loader.wait(5000)
        self.first_pass.cancel()
        self.first_pass.wait(5000)
        for jobs in (self.grads.jobs, self.session_model.spans, self.breakpoints_panel.scans):
            jobs.cancel()


def _steady_width(button: QWidget, texts: tuple[str, ...]) -> None:
    """Room for the longest of ``texts``, so the toolbar does not shift when the text changes."""
    metrics = button.fontMetrics()
    button.setMinimumWidth(max(metrics.horizontalAdvance(t) for t in texts) + 20)


def _strip_tags(text: str) -> str:
    """An HTML line as the status bar shows it: plain text, entities decoded."""
    return html.unescape(re.sub(r"<[^>]+>", "", text))
