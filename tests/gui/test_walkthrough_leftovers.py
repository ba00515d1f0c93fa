"""What last round's walk-through of the window by a new user left: each as the plain order of
actions that shows it, at the laptop size it was seen at (1366x768) and on a large screen."""

from __future__ import annotations

import pytest
from PySide6.QtCore import QRect
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

