"""Where the window and its docks go: a first start that fits the screen it opens on, a
layout the user can reset, and a remembered layout only while it still fits (see
docs/architecture.md, "The window").

Every dock's panel sits in a scroll area, so a dock smaller than its panel scrolls instead of
forcing the window past the screen edge or painting over its neighbours.
"""

from __future__ import annotations

from PySide6.QtCore import QRect, QSettings, Qt, QTimer
from PySide6.QtWidgets import QDockWidget, QFrame, QMainWindow, QScrollArea, QTabBar, QWidget

LAYOUT_VERSION = 3          # saveState/restoreState version: older remembered layouts are dropped
FILL_UP_TO = (1680, 1050)   # screens up to this size: the window takes all of the available area
SHARE_ON_BIG = 0.8          # bigger screens: this share of each side, centred
SIDE_SHARE = 0.28           # right-hand docks: this share of the window's width ...
SIDE_PX = (340, 560)        # ... within these bounds (room for a tab group's titles)
BOTTOM_SHARE = 0.22         # bottom docks: this share of the window's height ...
BOTTOM_MIN_PX = 190         # ... at least this (two small plots)
CENTRAL_KEEPS = 0.5         # a bottom dock grows to its useful height only down to this share


def scrolling(panel: QWidget) -> QScrollArea:
    """``panel`` in a frameless scroll area that scrolls only when the dock is smaller."""
    area = QScrollArea()
    area.setObjectName(f"{panel.objectName() or type(panel).__name__}Scroll")
    area.setFrameShape(QFrame.NoFrame)
    area.setWidgetResizable(True)
    area.setWidget(panel)
    return area


def give_useful_height(window: QMainWindow, dock: QDockWidget) -> None:
    """A bottom dock brought to the front grows to its useful height (its panel's minimum:
    readable heat-map rows, plots with their labels) as far as the window can spare it, the
    central units panel keeping ``CENTRAL_KEEPS`` of the window's height; beyond that its
    panel scrolls. A dock already that tall is left as the user sized it."""
    if dock.isFloating() or window.dockWidgetArea(dock) != Qt.BottomDockWidgetArea:
        return
    holder = dock.widget()
    panel = holder.widget() if isinstance(holder, QScrollArea) else holder
    if panel is None or not dock.isVisible():
        return
    useful = panel.minimumSizeHint().height() + (dock.height() - holder.height())
    spare = window.centralWidget().height() - int(CENTRAL_KEEPS * window.height())
    if dock.height() < useful and spare > 0:
        tabs = tab_bar_height(window, dock)      # resizeDocks sizes a tab group with its tabs
        window.resizeDocks([dock], [min(useful, dock.height() + spare) + tabs], Qt.Vertical)


def tab_bar_height(window: QMainWindow, dock: QDockWidget) -> int:
    """The height of the tab bar under ``dock``'s tab group (0 for a dock on its own)."""
    title = dock.windowTitle()
    for bar in window.findChildren(QTabBar):
        if bar.parent() is window and bar.isVisible() and \
                any(bar.tabText(k) == title for k in range(bar.count())):
            return bar.height()
    return 0


def grow_when_shown(window: QMainWindow, dock: QDockWidget) -> None:
    """Give ``dock`` its useful height each time it comes to the front (after the window
    has laid out the change: a resize inside the visibility signal would be undone)."""
    dock.visibilityChanged.connect(
        lambda shown: shown and QTimer.singleShot(0, lambda: give_useful_height(window, dock)))


def first_geometry(available: QRect) -> QRect:
    """The window's first frame: all of a small or laptop screen, most of a big one."""
    width, height = available.width(), available.height()
    if width > FILL_UP_TO[0]:
        width = int(width * SHARE_ON_BIG)
    if height > FILL_UP_TO[1]:
        height = int(height * SHARE_ON_BIG)
    rect = QRect(0, 0, width, height)
    rect.moveCenter(available.center())
    return rect


def fits(frame: QRect, available: QRect, slack: int = 8) -> bool:
    """True when a remembered frame lies on the available screen area (within ``slack`` px)."""
    grown = available.adjusted(-slack, -slack, slack, slack)
    return grown.contains(frame)


def place_on_screen(window: QMainWindow) -> None:
    """Size and centre the window for the screen it is on (frame included)."""
    screen = window.screen()
    available = screen.availableGeometry()
    target = first_geometry(available)
    frame = window.frameGeometry().size() - window.geometry().size()
    window.resize(max(target.width() - frame.width(), 200), max(target.height() - frame.height(), 200))
    window.move(target.topLeft())


def arrange_docks(window: QMainWindow, right_groups: list[list[QDockWidget]],
                  bottom: list[QDockWidget]) -> None:
    """The default dock layout: tab groups on the right and at the bottom, the units panel
    (the central widget) keeps most of the room. A dock in neither list (one a later feature
    added) joins the bottom tab group, so no dock is left where a removed group's tabs were."""
    placed = set(sum(right_groups, [])) | set(bottom)
    bottom = [*bottom, *(d for d in window.findChildren(QDockWidget) if d not in placed)]
    for dock in [*sum(right_groups, []), *bottom]:     # from scratch: no tab group survives
        dock.setFloating(False)
        window.removeDockWidget(dock)
    groups = right_groups
    window.addDockWidget(Qt.RightDockWidgetArea, groups[0][0])
    for above, group in zip(groups, groups[1:]):     # split before tabbing: Qt would add a tab
        window.splitDockWidget(above[0], group[0], Qt.Vertical)
    for group in groups:
        for dock in group[1:]:
            window.tabifyDockWidget(group[0], dock)
        group[0].raise_()
    window.addDockWidget(Qt.BottomDockWidgetArea, bottom[0])
    for dock in bottom[1:]:
        window.tabifyDockWidget(bottom[0], dock)
    bottom[0].raise_()
    for dock in [*sum(right_groups, []), *bottom]:
        dock.show()
    width, height = window.width(), window.height()
    side = min(max(int(width * SIDE_SHARE), SIDE_PX[0]), SIDE_PX[1])
    window.resizeDocks([groups[0][0]], [side], Qt.Horizontal)
    window.resizeDocks([bottom[0]], [max(int(height * BOTTOM_SHARE), BOTTOM_MIN_PX)], Qt.Vertical)
    if len(groups) > 1:
        window.resizeDocks([g[0] for g in groups], [1, 1], Qt.Vertical)


def restore(window: QMainWindow, settings: QSettings) -> bool:
    """Put back the remembered geometry and dock state if they still fit this screen.

    Returns False (and forgets them) when there is none, it is from an older layout, or the
    frame would not fit the available screen area now (another monitor, a smaller resolution).
    """
    geometry, state = settings.value("geometry"), settings.value("windowState")
    if geometry is None or state is None or not window.restoreGeometry(geometry):
        return False
    if not fits(window.frameGeometry(), window.screen().availableGeometry()) \
            or not window.restoreState(state, LAYOUT_VERSION):
        settings.remove("geometry")
        settings.remove("windowState")
        return False
    return True


def remember(window: QMainWindow, settings: QSettings) -> None:
    settings.setValue("geometry", window.saveGeometry())
    settings.setValue("windowState", window.saveState(LAYOUT_VERSION))
