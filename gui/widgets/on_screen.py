"""Views that skip work while nobody can see them.

A dock behind another tab of its group stays ``isVisible()`` (Qt hides only the tab, not the
widget); the dock's ``visibilityChanged`` signal is what says whether its tab is the current
one. A costly view mixes in ``FrontAware``, the window connects its dock's signal to
``set_in_front``, and the view does its work only while ``on_screen()``, catching up when it
comes to the front (docs/architecture.md, "How to add a view").
"""

from __future__ import annotations

from PySide6.QtCore import QTimer


class FrontAware:
    """Mixin for a QWidget view with a ``catch_up()`` method (build or fill what waited)."""

    _in_front = True          # a view outside any dock is in front whenever it is visible

    def set_in_front(self, shown: bool) -> None:
        """Its dock's tab came to the front (True) or went behind another (False). The catch-up
        runs once Qt has finished switching tabs, so a flicker while docks are arranged does
        no work."""
        self._in_front = shown
        if shown:
            QTimer.singleShot(0, self, self._catch_up_if_shown)

    def on_screen(self) -> bool:
        return self.isVisible() and self._in_front

    def _catch_up_if_shown(self) -> None:
        if self.on_screen():
            self.catch_up()
