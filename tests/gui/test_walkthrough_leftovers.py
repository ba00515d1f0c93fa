"""What last round's walk-through of the window by a new user left: each as the plain order of
actions that shows it, at the laptop size it was seen at (1366x768) and on a large screen."""

from __future__ import annotations

import pytest
from PySide6.QtCore import QPoint, QRect, Qt
from PySide6.QtWidgets import QScrollArea, QWidget

from tests.gui.conftest import bring_to_front, open_session, sine_input, small_model

SIZES = ((1366, 768), (1920, 1080))


def _fit(window, qtbot, size) -> None:
    window.resize(*size)
    window.reset_layout()
    window.resize(*size)
    qtbot.wait(50)


def _seen(widget: QWidget, area: QScrollArea) -> bool:
    """Whether the whole of ``widget`` lies inside what its dock's scroll area shows."""
    viewport = area.viewport()
    top_left = widget.mapTo(viewport, widget.rect().topLeft())
    return viewport.rect().contains(QRect(top_left, widget.size()))


@pytest.mark.parametrize("size", SIZES)
def test_the_breakpoints_docks_add_button_and_share_box_are_in_view(make_window, qtbot, size):
    """At 1366x768 the condition row's Add button and the "≥ 0.90 of units" box lay past the
    dock's right edge: the panel was wider than its dock and scrolled sideways."""
    window = make_window()
    open_session(window, small_model(12), sine_input(120))
    _fit(window, qtbot, size)
    bring_to_front(qtbot, window.breakpoints_dock)
    panel = window.breakpoints_panel
    area = window.breakpoints_dock.findChild(QScrollArea)
    assert not area.horizontalScrollBar().isVisible()
    add = next(b for b in panel.findChildren(QWidget) if getattr(b, "text", lambda: "")() == "Add")
    for widget in (add, panel.every, panel.edit, panel.sat_frac, panel.sat_gate):
        assert _seen(widget, area), widget
    assert panel.sat_frac.width() >= panel.sat_frac.sizeHint().width()
    assert window.errors == []


def _lowest_item_bottom(glw) -> float:
    """The lowest edge of anything the plot grid lays out (the last row's time axis)."""
    return max(item.mapRectToScene(item.boundingRect()).bottom() for item in glw.ci.items)


@pytest.mark.parametrize("size", SIZES)
def test_the_time_axis_under_the_output_and_the_gradients_is_whole(make_window, qtbot, size):
    """In a short bottom dock the tick values under the "output" strip and under the Gradients
    plots were cut: the plot grids were shorter than their rows (margins and spacing left out),
    and the Gradients grid had no least height at all. Now a short dock scrolls to a whole
    time axis, and the default layout gives the front bottom dock its whole panel."""
    window = make_window()
    open_session(window, small_model(12), sine_input(120))
    _fit(window, qtbot, size)
    for dock, panel in ((window.input_dock, window.input_panel), (window.grad_dock, window.grad_panel)):
        bring_to_front(qtbot, dock)
        area = dock.findChild(QScrollArea)
        if dock is window.input_dock or size[1] >= 1080:   # the window spares the room (the
            qtbot.waitUntil(                                # units panel keeps half): all shows
                lambda a=area: not a.verticalScrollBar().isVisible(), timeout=3000)
        window.resizeDocks([dock], [150], Qt.Vertical)             # a short dock: it scrolls
        qtbot.wait(50)
        assert area.verticalScrollBar().isVisible(), dock.windowTitle()
        lowest = _lowest_item_bottom(panel.glw)
        assert lowest <= panel.glw.height(), (dock.windowTitle(), lowest, panel.glw.height())
        area.verticalScrollBar().setValue(area.verticalScrollBar().maximum())
        qtbot.wait(20)
        bottom = panel.glw.mapTo(area.viewport(), QPoint(0, int(lowest))).y()
        assert bottom <= area.viewport().height(), dock.windowTitle()   # scrolled down: all of it
    assert window.errors == []


def test_the_saliency_strip_shows_nothing_before_the_first_step(make_window, qtbot):
    """Before t = 0 the default target is the last position's h (the Gradients dock shows it),
    and the |∂/∂x| strip under the input drew its bars near the end of the run, beside an
    input and an output that show nothing read yet. It stays empty until a step is read."""
    import numpy as np

    from engine import load_model
    from engine.cli.commands import resolve_input
    window = make_window()
    model = load_model("demo:counter")
    open_session(window, model, resolve_input(model, None, None))
    grads, panel = window.grads, window.input_panel
    assert window.session_model.session.cursor is None
    grads.refresh()
    assert grads.view is not None and grads.view.saliency.any()     # the dock's target is there
    assert len(panel.sal_item.opts["height"]) == 0
    assert "nothing read yet" in panel.sal_plot.toolTip()
    window.session_model.seek(12)
    grads.refresh()
    heights = panel.sal_item.opts["height"]
    np.testing.assert_allclose(heights, np.nan_to_num(grads.view.saliency))
    assert heights[:12].any()
    window.session_model.seek(0)                 # back before t = 0: empty again at once
    assert len(panel.sal_item.opts["height"]) == 0
    assert window.errors == []


def test_a_heat_maps_symbol_title_stands_upright_beside_its_map(make_window, qtbot):
    """In a short Layer dock each map's title ("f", "i", "C") was one letter turned on its side:
    it read as a tick mark. A symbol stands upright, whole, beside its map's middle; a longer
    title is still turned and fits beside its map."""
    window = make_window()
    open_session(window, small_model(12), sine_input(120))
    _fit(window, qtbot, (1366, 768))
    bring_to_front(qtbot, window.layer_dock)
    window.resizeDocks([window.layer_dock], [150], Qt.Vertical)
    qtbot.wait(50)
    view = window.layer_view
    assert {"f", "i", "c", "h"} <= set(view.heat)
    for name, heat in view.heat.items():
        axis = heat.plot.getAxis("left")
        label = axis.label
        text = label.toPlainText().strip()
        box = axis.mapRectToScene(axis.boundingRect())
        drawn = label.mapRectToScene(label.boundingRect())
        if len(text) <= 2:
            assert label.rotation() == 0, (name, text)
            assert box.contains(drawn), (name, text, box, drawn)
            assert abs(drawn.center().y() - box.center().y()) <= 2, (name, text)
        else:
            assert label.rotation() == -90, (name, text)
            assert drawn.top() >= box.top() and drawn.bottom() <= box.bottom(), (name, text)
    assert window.errors == []


def test_both_directions_is_offered_only_for_a_bidirectional_layer(make_window, qtbot):
    """View → Both directions could be ticked on a one-direction model, opening a dock with
    nothing to show. It is greyed out there, and its tooltip says why (the view registry's
    reason, as the Export dialog gives it); a Bidirectional layer offers it again."""
    import numpy as np

    from engine.analyses.teaching import directions_reason
    from gui.actions import DIRECTIONS_VIEW
    from tests.helpers import bidirectional_model
    window = make_window()
    action = window.act_teaching["directions"]
    session = open_session(window, small_model(6), sine_input(20))
    assert not action.isEnabled()
    assert directions_reason(session) in action.toolTip()
    assert window.view_menu.toolTipsVisible()               # the menu shows it on hover
    x = np.random.default_rng(0).normal(size=(1, 8, 2)).astype(np.float32)
    open_session(window, bidirectional_model(), x, layer="bi/forward")
    assert action.isEnabled() and action.toolTip() == DIRECTIONS_VIEW.tip
    assert window.errors == []


def test_the_state_editor_says_plainly_what_the_number_is(make_window):
    """"new value (perturb: delta)" asked a new user to decode it: the row now names what the
    number does for the change chosen, a value that replaces, or an amount added to h."""
    from gui.debug.forks_panel import EditStateDialog
    window = make_window()
    open_session(window, small_model(6), sine_input(20))
    window.session_model.seek(5)
    dialog = EditStateDialog(window.debugging, window)
    form = dialog.layout()

    def row_label() -> str:
        return form.labelForField(dialog.value).text()
    for what in ("h", "c", "x"):
        dialog.what.setCurrentText(what)
        assert row_label() == f"new {what}", what
        assert "delta" not in dialog.value.placeholderText()
    dialog.what.setCurrentText("perturb h")
    assert row_label() == "add to h"
    assert "added" in dialog.value.placeholderText()
    assert all("perturb:" not in form.itemAt(k).widget().text()
               for k in range(form.count()) if hasattr(form.itemAt(k).widget(), "text"))
    dialog.deleteLater()


def test_home_and_end_move_the_run_unless_a_text_field_has_the_focus(make_window, qtbot):
    """Home typed in the breakpoint field moves its text cursor (right: it is a text field);
    with the focus anywhere else (a list, a tick box, the timeline, a plot, a tab) Home and End
    go to the run's start and end. The toolbar buttons' tooltips name the keys."""
    from PySide6.QtWidgets import QAbstractButton, QAbstractSpinBox, QLineEdit

    window = make_window()
    open_session(window, small_model(6), sine_input(20))
    sm = window.session_model
    steps = sm.steps
    bp = window.breakpoints_panel
    focusable = [bp.tree, bp.ev_nan, window.timeline, window.units_panel.glw,
                 window.layer_combo, window.forks_panel.tree]
    for widget in focusable:
        assert not isinstance(widget, (QLineEdit, QAbstractSpinBox))
        widget.setFocus()
        qtbot.waitUntil(widget.hasFocus, timeout=2000)
        sm.seek(7)
        qtbot.keyClick(widget, Qt.Key_End)
        assert sm.session.t == steps, type(widget).__name__
        qtbot.keyClick(widget, Qt.Key_Home)
        assert sm.session.t == 0, type(widget).__name__
    for field in (bp.edit, window.speed):
        field.setFocus()
        qtbot.waitUntil(field.hasFocus, timeout=2000)
        sm.seek(7)
        qtbot.keyClick(field, Qt.Key_Home)
        qtbot.keyClick(field, Qt.Key_End)
        assert sm.session.t == 7, type(field).__name__
    for action, key in ((window.act_start, "Home"), (window.act_end, "End")):
        assert f"({key})" in action.toolTip()
        buttons = [w for w in action.associatedObjects() if isinstance(w, QAbstractButton)]
        assert buttons and all(f"({key})" in b.toolTip() for b in buttons)
    assert window.errors == []


def _in_front(dock) -> bool:
    return dock.isVisible() and not dock.visibleRegion().isEmpty()


DOCK_KEYS = {"input_dock": Qt.Key_1, "layer_dock": Qt.Key_2, "cell_dock": Qt.Key_3,
             "grad_dock": Qt.Key_4, "breakpoints_dock": Qt.Key_5, "watches_dock": Qt.Key_6,
             "forks_dock": Qt.Key_7, "input_editor_dock": Qt.Key_8, "compare_dock": Qt.Key_9}


def test_each_main_dock_has_a_view_menu_key_that_brings_it_to_the_front(make_window, qtbot):
    """The docks had no keys (a new user's walk-through): Ctrl+1 … Ctrl+9 bring each main
    dock to the front (a dock behind another tab too, and a closed one back), a second press
    closes it. No key is any other command's; the View menu, its tooltips, Help → Keyboard
    shortcuts and the README name them."""
    from pathlib import Path

    from PySide6.QtGui import QAction, QKeySequence

    from gui.actions import shortcut_rows
    window = make_window()
    open_session(window, small_model(6), sine_input(20))
    qtbot.wait(50)                     # the window becomes the active one: its keys work
    keys: dict[str, str] = {}
    for action in window.findChildren(QAction):
        for sequence in action.shortcuts():
            text = sequence.toString(QKeySequence.PortableText)
            assert text not in keys, (text, keys.get(text), action.text())
            keys[text] = action.text()
    readme = (Path(__file__).resolve().parents[2] / "README.md").read_text(encoding="utf-8")
    rows = dict(shortcut_rows())
    for attr, key in DOCK_KEYS.items():
        dock = getattr(window, attr)
        action = window.act_docks[attr]
        assert action in window.view_menu.actions() and action.text().replace("&", "") == \
            dock.windowTitle()
        text = f"Ctrl+{key - Qt.Key_0}"
        assert [s.toString() for s in action.shortcuts()] == [text] and f"({text})" in action.toolTip()
        assert dock.windowTitle() in rows[text]
        assert f"**{text}** {dock.windowTitle()}" in readme
        if not _in_front(dock):                                  # behind a tab: to the front
            qtbot.keyClick(window, key, Qt.ControlModifier)
            assert _in_front(dock) and action.isChecked(), dock.windowTitle()
        qtbot.keyClick(window, key, Qt.ControlModifier)            # in front: closes
        assert dock.isHidden() and not action.isChecked(), dock.windowTitle()
        qtbot.keyClick(window, key, Qt.ControlModifier)            # closed: back, in front
        qtbot.waitUntil(lambda d=dock: _in_front(d), timeout=3000)
        assert action.isChecked()
    # a dock behind another tab comes forward, the one that was in front stays open behind it
    window.reset_layout()
    qtbot.wait(50)
    assert _in_front(window.input_dock) and not _in_front(window.layer_dock)
    qtbot.keyClick(window, Qt.Key_2, Qt.ControlModifier)
    assert _in_front(window.layer_dock) and not window.input_dock.isHidden()
    assert window.errors == []
