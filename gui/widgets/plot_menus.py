"""Plots pay for a right-click menu only when someone opens one.

pyqtgraph builds a ViewBox's menu (a dozen widgets, a few milliseconds) in the ViewBox's
constructor, whether or not the plot offers it; a window makes about twenty plots and offers
the menu on one. A plot without a menu is made with ``NO_MENU`` (pyqtgraph then builds none),
and a plot whose menu the person may open gets a ``LazyMenuViewBox``, which builds the same
menu the first time it is asked for.
"""

from __future__ import annotations

import pyqtgraph as pg
from pyqtgraph.graphicsItems.ViewBox.ViewBoxMenu import ViewBoxMenu

NO_MENU = {"enableMenu": False}      # keyword arguments of addPlot, PlotWidget, PlotItem


class LazyMenuViewBox(pg.ViewBox):
    """A ViewBox whose context menu is pyqtgraph's own, built on the first right-click."""

    def __init__(self, *args, menu: bool = True, **kwargs) -> None:
        super().__init__(*args, enableMenu=False, **kwargs)
        self.state["enableMenu"] = menu      # offered; built by getMenu when first wanted

    def getMenu(self, ev):  # noqa: N802 (pyqtgraph API)
        if self.menu is None and self.menuEnabled():
            self.menu = ViewBoxMenu(self)
            self.updateViewLists()           # its "Link axis" lists, as pyqtgraph fills them
        return self.menu

    def getContextMenus(self, event):  # noqa: N802 (pyqtgraph API)
        """The menu's actions when a child item's menu takes this view's in (pyqtgraph)."""
        return self.getMenu(event).actions() if self.menuEnabled() else []
