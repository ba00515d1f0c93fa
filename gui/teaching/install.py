"""The teaching docks in the main window, each created the first time it is shown (so a
window that never opens them starts as fast as before; docs/architecture.md, "Teaching views").
"""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtGui import QAction
from PySide6.QtWidgets import QDockWidget, QWidget

# view name -> (dock title, attribute on the window, factory module:class)
TEACHING_VIEWS = {
    "unrolled": ("Unrolled view", "unrolled_view", "gui.teaching.unrolled:UnrolledView"),
    "text": ("Text view", "text_view", "gui.teaching.text_view:TextView"),
    "directions": ("Both directions", "directions_view", "gui.teaching.directions:DirectionsView"),
    "samples": ("Batch samples", "samples_view", "gui.teaching.directions:SamplesView"),
}
TIPS = {"unrolled": "Columns are steps, each holding all N cells, linked through U: the textbook "
                    "picture of this layer",
        "text": "The input text coloured by a unit's C, h or gate; find the units that follow a "
                "feature of the text",
        "directions": "A Bidirectional layer's forward and backward directions and the merged "
                      "output, stepping together",
        "samples": "Every sample of the batch side by side, with one cursor"}


def teaching_widget(window, view: str, *, show: bool = False) -> QWidget:
    """The window's widget for ``view``, creating it and its dock on first use."""
    title, attr, factory = TEACHING_VIEWS[view]
    widget = getattr(window, attr, None)
    if widget is None:
        import importlib
        module, cls = factory.split(":")
        widget = getattr(importlib.import_module(module), cls)(window.model, window.pal)
        hovered = getattr(widget, "hovered", None)
        if hovered is not None:
            hovered.connect(lambda text: window.statusBar().showMessage(text, 4000))
        dock = QDockWidget(title, window)
        dock.setObjectName(title.replace(" ", "_"))
        dock.setWidget(widget)
        window.addDockWidget(Qt.BottomDockWidgetArea, dock)
        if not window.restoreDockWidget(dock):
            anchor = getattr(window, "layer_dock", None)
            if anchor is not None and window.dockWidgetArea(anchor) == Qt.BottomDockWidgetArea:
                window.tabifyDockWidget(anchor, dock)
        setattr(window, attr, widget)
        setattr(window, attr.replace("_view", "_dock"), dock)
        action = window.teaching_actions.get(view) if hasattr(window, "teaching_actions") else None
        if action is not None:
            dock.visibilityChanged.connect(lambda on, a=action: a.setChecked(not dock.isHidden()))
    dock = getattr(window, attr.replace("_view", "_dock"))
    if show:
        dock.show()
        dock.raise_()
    return widget


def install_teaching(window, menu) -> dict[str, QAction]:
    """One checkable View-menu action per teaching view; the dock is made when first checked."""
    actions: dict[str, QAction] = {}
    window.teaching_actions = actions
    for view, (title, attr, _) in TEACHING_VIEWS.items():
        action = QAction(title, window)
        action.setCheckable(True)
        action.setStatusTip(TIPS[view])

        def toggled(on: bool, view=view, attr=attr) -> None:
            if on:
                teaching_widget(window, view, show=True)
            else:
                dock = getattr(window, attr.replace("_view", "_dock"), None)
                if dock is not None:
                    dock.hide()
        action.toggled.connect(toggled)
        menu.addAction(action)
        actions[view] = action
    return actions


def teaching_views(window) -> list[QWidget]:
    """The teaching views that exist (for theme switches)."""
    return [w for w in (getattr(window, attr, None) for _, attr, _ in TEACHING_VIEWS.values())
            if w is not None]
