"""The teaching docks of the main window, each created the first time it is shown or exported
(a window that never opens them starts as fast as before; docs/architecture.md, "Teaching
views"). The window declares their View-menu actions (gui.actions) and calls ``teaching_widget``.
"""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QDockWidget, QWidget

from gui.layout import grow_when_shown, scrolling

# view name -> (dock title, attribute on the window)
TEACHING_VIEWS = {
    "unrolled": ("Unrolled view", "unrolled_view"),
    "text": ("Text view", "text_view"),
    "directions": ("Both directions", "directions_view"),
    "samples": ("Batch samples", "samples_view"),
    "memory": ("Matrix memory", "memory_view"),       # an mLSTM's C per head
}


def _make(view: str, model, palette) -> QWidget:
    """The view's widget; its module is imported only now (startup does not pay for it)."""
    if view == "unrolled":
        from gui.teaching.unrolled import UnrolledView
        return UnrolledView(model, palette)
    if view == "text":
        from gui.teaching.text_view import TextView
        return TextView(model, palette)
    if view == "memory":
        from gui.teaching.memory_view import MemoryView
        return MemoryView(model, palette)
    from gui.teaching.directions import DirectionsView, SamplesView
    return (DirectionsView if view == "directions" else SamplesView)(model, palette)


def teaching_widget(window, view: str, *, show: bool = False) -> QWidget:
    """The window's widget for ``view``, creating it and its dock on first use."""
    title, attr = TEACHING_VIEWS[view]
    widget = getattr(window, attr, None)
    if widget is None:
        widget = _make(view, window.session_model, window.pal)
        hovered = getattr(widget, "hovered", None)
        if hovered is not None:
            hovered.connect(lambda text: window.statusBar().showMessage(text, 4000))
        dock = QDockWidget(title, window)
        dock.setObjectName(title.replace(" ", "_"))
        # a short dock scrolls the view (its explanation, its side panels) instead of
        # claiming the window's height from the units panel and the right-hand docks
        dock.setWidget(scrolling(widget))
        window.addDockWidget(Qt.BottomDockWidgetArea, dock)
        grow_when_shown(window, dock)
        # where the user left it last time, if the saved layout knows this dock (Qt says it
        # restored one it never saw); else a tab beside the layer view, where there is room
        state = window.settings.value("windowState") if hasattr(window, "settings") else None
        saved = state is not None and dock.objectName().encode("utf-16-be") in bytes(state)
        if not (saved and window.restoreDockWidget(dock)):
            anchor = getattr(window, "layer_dock", None)
            if anchor is not None and window.dockWidgetArea(anchor) == Qt.BottomDockWidgetArea:
                window.tabifyDockWidget(anchor, dock)
        setattr(window, attr, widget)
        setattr(window, attr.replace("_view", "_dock"), dock)
        action = getattr(window, "act_teaching", {}).get(view)
        if action is not None:       # the View-menu tick follows the dock (closed with its x too)
            dock.visibilityChanged.connect(lambda on, a=action, d=dock: a.setChecked(not d.isHidden()))
    dock = getattr(window, attr.replace("_view", "_dock"))
    if show:
        dock.show()
        dock.raise_()
    return widget


def teaching_views(window) -> list[QWidget]:
    """The teaching views that exist (for theme switches)."""
    return [w for w in (getattr(window, attr, None) for _, attr in TEACHING_VIEWS.values())
            if w is not None]
