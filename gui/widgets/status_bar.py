"""A status bar whose messages never run into its permanent widgets.

QStatusBar paints a temporary message from its left edge whatever its length; on a narrow
window (1024 px) a hint ran under the position text ("...(Ctrl+G)before t = 0"). Here a message
is elided to the room left of the permanent widgets (position, warnings, first pass), and the
whole text is the tooltip.
"""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QStatusBar, QWidget

GAP_PX = 24          # between the message and the first permanent widget


class ElidingStatusBar(QStatusBar):
    def showMessage(self, text: str, timeout: int = 0) -> None:  # noqa: N802 (Qt API)
        room = self.width() - GAP_PX - sum(
            w.width() for w in self.findChildren(QWidget, options=Qt.FindDirectChildrenOnly)
            if w.isVisible() and w.isWindow() is False and w.objectName() != "qt_statusbar_sizegrip")
        shown = self.fontMetrics().elidedText(text, Qt.ElideRight, max(room, 40))
        self.setToolTip(text if shown != text else "")
        self._full = text
        super().showMessage(shown, timeout)

    def currentMessage(self) -> str:  # noqa: N802 (Qt API)
        """The whole message while it shows (what is painted may be elided): what was said,
        not how much of it fitted."""
        return getattr(self, "_full", "") if super().currentMessage() else ""

    def shown_message(self) -> str:
        """The message as painted: elided to the room left of the permanent widgets."""
        return super().currentMessage()
