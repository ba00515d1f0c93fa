"""Refilling a combo box whose items depend on the run (a cell kind's signals)."""

from __future__ import annotations

from PySide6.QtCore import QEvent
from PySide6.QtWidgets import QApplication, QComboBox


def refill(combo: QComboBox, items: list[tuple[str, object]], current: int = 0) -> None:
    """Replace ``combo``'s items by (text, data) pairs and choose ``current``, without a change
    signal, and size it to the new items: a combo keeps the size hints it computed when it was
    first laid out (empty, before any run was open) until its style changes, so it is told so."""
    combo.blockSignals(True)
    combo.clear()
    for text, data in items:
        combo.addItem(text, data)
    combo.setCurrentIndex(current)
    combo.blockSignals(False)
    QApplication.sendEvent(combo, QEvent(QEvent.Type.StyleChange))
    combo.updateGeometry()
