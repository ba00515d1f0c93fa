"""The window under any order of actions: a hypothesis state machine drives the real MainWindow
as a person does (open demos and models, docks, lanes, stepping, playing, breakpoints, watches,
forks, comparisons, layers, samples, filters, theme, size, exports) and checks after every
action that no exception reached a slot, no error was shown, and every view that reports what
it shows (gui/shown.py) shows the session's run, size and cursor.

Derandomised with a fixed number of examples in CI (tests/generative.py); ``--long`` runs many
more. What it found first is kept as plain regression tests in test_window_regressions.py.
"""

from __future__ import annotations

import functools
import os
import traceback

import numpy as np
import pytest
from hypothesis import Phase
from hypothesis import strategies as st
from hypothesis.stateful import (
    RuleBasedStateMachine,
    initialize,
    invariant,
    precondition,
    rule,
    run_state_machine_as_test,
)
from PySide6.QtCore import QSettings
from PySide6.QtWidgets import QApplication, QDialog, QMessageBox

from engine import Session, load_model
from engine.loaders.demos import random_model
from engine.runs.stepper import XW_BLOCK
from gui.loader_worker import LoadResult
from gui.shown import ShowsRun, expected
from tests.generative import generative_settings

pytestmark = pytest.mark.generative

FIXTURES = "tests/fixtures/keras3"
# what people open: a token model, a float one, both directions, two stacked layers, a long
# run kept as checkpoints, and 1024 units (demo:wide's width on a short input: its 200 steps
# cost seconds per action and find nothing more)
MODELS = {"token": f"{FIXTURES}/embedding_lstm_dense.keras", "float": f"{FIXTURES}/units7_features5.keras",
          "bidirectional": f"{FIXTURES}/bidirectional_concat.keras", "stacked": f"{FIXTURES}/stacked2.keras"}
DEMOS = ("sine", "counter", "code", "text", "counter-gru")
DOCKS = ("input_dock", "layer_dock", "grad_dock", "input_editor_dock", "compare_dock",
         "breakpoints_dock", "watches_dock", "forks_dock", "cell_dock")
TEACHING = ("unrolled", "text", "directions", "samples")
EXPORTS = ("units", "layer", "cell", "grad", "unrolled", "text", "directions", "samples")
SIZES = ((1024, 640), (1366, 768), (1920, 1080))
BREAKPOINTS = ("any(abs(c) > 0.5)", "max(h) > 0.2", "mean(f) < 0.5")
WATCHES = ("max(h)", "mean(abs(c))", "h[0]")
SURVEY = bool(os.environ.get("LSTM_SCOPE_MACHINE_SURVEY"))   # list findings instead of failing
FOUND: dict[str, str] = {}
TIMES: dict[str, float] = {}
NO_SHRINK = (Phase.explicit, Phase.reuse, Phase.generate)   # each example drives a window for seconds


@functools.cache
def fixture_model(kind: str):
    return load_model(MODELS[kind])


def fixture_session(kind: str) -> Session:
    if kind == "wide":
        model = random_model(1024, 16, 5)
        x = np.random.default_rng(5).normal(size=(1, 24, 16)).astype(np.float32)
        session = Session(model, x)
        session.full()
        session.result()
        return session
    if kind == "long":                # a checkpointed run: the window draws spans of it
        model = load_model("demo:counter")
        x = np.random.default_rng(3).integers(1, model.vocab_size, (1, 1500))
        return Session(model, x, checkpoint_above=0, checkpoint_interval=XW_BLOCK)
    model = fixture_model(kind)
    data = np.load(MODELS[kind].replace(".keras", ".npz"))
    x = data["x"] if "x" in data.files else data[data.files[0]]
    session = Session(model, np.asarray(x)[:2])
    session.full()
    session.result()
    return session


class WindowMachine(RuleBasedStateMachine):
    """One window per example, driven through its actions and panels."""

    qtbot = None
    tmp_path = None
    window_count = 0
    rules_run = 0
    exceptions: list = []

    def __init__(self) -> None:
        super().__init__()
        from gui.main_window import MainWindow
        cls = type(self)
        cls.window_count += 1
        settings = QSettings(str(cls.tmp_path / f"settings{cls.window_count}.ini"), QSettings.IniFormat)
        self.errors: list[str] = []
        self.window = MainWindow(settings=settings,
                                 report_error=lambda title, message: self.errors.append(f"{title}: {message}"))
        self.qtbot.addWidget(self.window)
        self.window.resize(1366, 768)
        self.window.show()
        self.qtbot.waitExposed(self.window)
        self.window.load("demo:sine", wait=True)
        self.settle()

    def teardown(self) -> None:
        w = self.window
        w.stop_play()
        w.first_pass.cancel()
        w.first_pass.wait()
        w.close()

    # --- helpers -------------------------------------------------------------------------------
    @property
    def sm(self):
        return self.window.session_model

    def settle(self) -> None:
        """Let queued work land: the loader, a long run's span, the gradient views."""
        if SURVEY:
            import sys
            import time
            name = sys._getframe(1).f_code.co_name
            now = time.perf_counter()
            TIMES[name] = TIMES.get(name, 0.0) + now - getattr(self, "_last", now)
        w = self.window
        self.qtbot.wait(1)
        self.qtbot.waitUntil(lambda: not w.loader.running
                             and w.session_model.span_settled(), timeout=20000)
        self.qtbot.wait(1)
        type(self).rules_run += 1
        if SURVEY:
            import time
            self._last = time.perf_counter()

    # --- rules: what a person does ----------------------------------------------------------------
    @initialize(docks=st.lists(st.sampled_from(DOCKS), max_size=4))
    def arrange_docks(self, docks):
        """People bring the docks they use to the front before anything else."""
        for dock in docks:
            getattr(self.window, dock).show()
            getattr(self.window, dock).raise_()
        self.settle()

    @rule(name=st.sampled_from(DEMOS))
    def open_demo(self, name):
        self.window.load(f"demo:{name}", wait=True)
        self.settle()

    @rule(kind=st.sampled_from((*MODELS, "long", "wide")))
    def open_model(self, kind):
        session = fixture_session(kind)
        self.window.show_loaded(LoadResult(session, kind, "fixture input"))
        self.settle()

    @rule(dock=st.sampled_from(DOCKS), how=st.sampled_from(("raise", "close", "open")))
    def dock(self, dock, how):
        d = getattr(self.window, dock)
        if how == "close":
            d.hide()
        else:
            d.show()
            d.raise_()
        self.settle()

    @rule(view=st.sampled_from(TEACHING), on=st.booleans())
    def teaching(self, view, on):
        self.window.show_teaching(view, on)
        self.settle()

    @rule(unit=st.floats(0, 1), position=st.floats(0, 1))
    def select_lane(self, unit, position):
        sm = self.sm
        sm.select(min(int(unit * sm.units), sm.units - 1), min(int(position * sm.steps), sm.steps - 1))
        self.settle()

    @rule(n=st.integers(1, 3))
    def step(self, n):
        for _ in range(n):
            self.window.act_step.trigger()
        self.settle()

    @rule()
    def back(self):
        self.window.act_back.trigger()
        self.settle()

    @rule(where=st.floats(0, 1))
    def seek(self, where):
        self.window.timeline.setValue(int(where * self.sm.steps))
        self.settle()

    @rule()
    def play_a_few_ticks(self):
        w = self.window
        w.act_play.trigger()
        self.qtbot.wait(150)
        if w.play_timer.isActive():
            w.act_play.trigger()
        self.settle()

    @rule(text=st.sampled_from(BREAKPOINTS))
    def add_breakpoint(self, text):
        panel = self.window.breakpoints_panel
        panel.edit.setText(text)
        panel.add_from_edit()
        self.settle()

    @rule(event=st.sampled_from(("nan_inf", "saturates", "sign_change")))
    def toggle_event(self, event):
        box = self.window.breakpoints_panel._event_boxes[event]
        box.setChecked(not box.isChecked())
        self.settle()

    @rule()
    def remove_breakpoint(self):
        panel = self.window.breakpoints_panel
        if panel.tree.topLevelItemCount():
            panel.tree.setCurrentItem(panel.tree.topLevelItem(0))
            panel.remove_selected()
        self.settle()

    @rule(text=st.sampled_from(WATCHES))
    def add_watch(self, text):
        panel = self.window.watches_panel
        panel.edit.setText(text)
        panel.add_from_edit()
        self.settle()

    @rule()
    def remove_watch(self):
        panel = self.window.watches_panel
        if panel.table.rowCount():
            panel.table.selectRow(0)
            panel.remove_selected()
        self.settle()

    @rule(backward=st.booleans())
    def continue_run(self, backward):
        (self.window.act_continue_back if backward else self.window.act_continue).trigger()
        self.settle()

    @precondition(lambda self: self.sm.ready and self.sm.session.cursor is not None)
    @rule(unit=st.floats(0, 1), how=st.sampled_from(("perturb", "decouple")))
    def fork(self, unit, how):
        panel = self.window.forks_panel
        if how == "perturb":
            panel.perturb(min(int(unit * self.sm.units), self.sm.units - 1), 0.5)
        else:
            panel.decouple()
        self.settle()

    @rule()
    def compare_inputs(self):
        panel = self.window.compare_panel
        if self.sm.model.takes_tokens:
            panel.position.setValue(min(3, self.sm.steps - 1))
            panel.compare_token()
        else:
            panel.compare_noise()
        self.settle()

    @rule(which=st.floats(0, 1))
    def change_layer(self, which):
        combo = self.window.layer_combo
        combo.setCurrentIndex(min(int(which * combo.count()), combo.count() - 1))
        self.settle()

    @rule(which=st.floats(0, 1))
    def change_sample(self, which):
        spin = self.window.sample_spin
        spin.setValue(min(int(which * (spin.maximum() + 1)), spin.maximum()))
        self.settle()

    @rule(text=st.sampled_from(("", "0:3", "1,2", "top 2")))
    def filter_units(self, text):
        panel = self.window.units_panel
        panel.filter_edit.setText(text)
        panel.set_filter(text)
        self.settle()

    @rule(unit=st.floats(0, 1))
    def go_to_unit(self, unit):
        self.window.go_to_unit(min(int(unit * self.sm.units), self.sm.units - 1))
        self.settle()

    @rule()
    def switch_theme(self):
        self.window.act_dark.trigger()
        self.settle()

    @rule(size=st.sampled_from(SIZES))
    def resize(self, size):
        self.window.resize(*size)
        self.settle()

    @rule(view=st.sampled_from(EXPORTS))
    def export(self, view):
        from engine.errors import ScopeError
        from gui.export.figure import Figure
        from gui.export.views import view as find_view
        session = self.window.session_model.session
        if session is not None and find_view(view).applies(session):
            with pytest.raises(ScopeError, match="does not apply"):    # as the dialog greys it out
                Figure(self.window, view)
            return
        with Figure(self.window, view) as figure:
            image = figure.image(width=480)
        assert not image.isNull()
        self.settle()

    @rule()
    def find_units_in_text(self):
        from gui.teaching.docks import teaching_widget
        view = teaching_widget(self.window, "text", show=True)
        view.feature_edit.setText("in_quotes")
        view.find_button.click()
        self.settle()

    # --- what must hold after every action ---------------------------------------------------------
    def check(self, ok: bool, what: str) -> None:
        """Fail the rule, or (``SURVEY``, a run to list what the machine finds) note it once."""
        if SURVEY:
            if not ok:
                last = what.strip().splitlines()[-1]
                FOUND.setdefault(last.split(":")[0] if " shows " in last else last[:120], what)
            return
        assert ok, what

    @invariant()
    def no_exception_reached_a_slot(self):
        QApplication.processEvents()
        caught = type(self).exceptions
        if caught:
            text = "".join(traceback.format_exception(*caught[0]))
            caught.clear()
            self.check(False, text)

    @invariant()
    def no_error_was_shown(self):
        self.check(self.errors == [], f"error shown: {self.errors}")
        self.errors.clear()
        dialogs = [w for w in QApplication.topLevelWidgets()
                   if isinstance(w, (QMessageBox, QDialog)) and w.isVisible()]
        self.check(dialogs == [], f"dialog open: {[d.windowTitle() for d in dialogs]}")
        for d in dialogs:
            d.close()

    @invariant()
    def every_view_shows_this_run_and_cursor(self):
        want = expected(self.sm)
        if want is None:
            return
        for name, view in self.reporting_views():
            shown = view.shown()
            self.check(shown is None or shown == want,
                       f"{name} shows {_differs(shown, want)}")
        w = self.window
        self.check(w.timeline.value() == self.sm.t and w.timeline.maximum() == self.sm.steps,
                   "the timeline is not at the cursor")

    def reporting_views(self):
        w = self.window
        views = [("units panel", w.units_panel), ("layer view", w.layer_view),
                 ("cell inspector", w.cell_inspector), ("input panel", w.input_panel),
                 ("compare inputs", w.compare_panel), ("gradients", w.grad_panel),
                 ("forks", w.forks_panel)]
        views += [(name, getattr(w, f"{name}_view", None)) for name in TEACHING]
        return [(name, v) for name, v in views if isinstance(v, ShowsRun)]


def _differs(shown, want) -> str:
    """Which fields of a view's report differ from the session's (kind only: run, cursor...)."""
    if shown is None:
        return "nothing"
    fields = [f for f in ("run", "units", "steps", "cursor") if getattr(shown, f) != getattr(want, f)]
    return f"another {' and '.join(fields)}: {shown} vs {want}"


def test_the_window_under_any_order_of_actions(qtbot, tmp_path, capsys):
    """Every exception that reaches a slot fails the rule that caused it (pytest-qt)."""
    from gui.app import make_app
    make_app()
    WindowMachine.qtbot, WindowMachine.tmp_path = qtbot, tmp_path
    WindowMachine.rules_run = 0
    # 6 windows of 25 actions: about 25 s of CPU in CI; --long runs 20 times as many
    settings = generative_settings(int(os.environ.get("LSTM_SCOPE_MACHINE_EXAMPLES", 6)),
                                   stateful_step_count=25, phases=NO_SHRINK)
    with qtbot.capture_exceptions() as exceptions:
        WindowMachine.exceptions = exceptions
        run_state_machine_as_test(WindowMachine, settings=settings)
    with capsys.disabled():
        print(f"\nwindow machine: {WindowMachine.window_count} windows, {WindowMachine.rules_run} actions")
        if SURVEY:
            print(sorted(((round(v, 1), k) for k, v in TIMES.items()), reverse=True))
        for key, text in FOUND.items():
            print("FOUND:", key, "\n", text[-1500:], "\n")
