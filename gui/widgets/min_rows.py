"""A list or table keeps room for a few rows: in a short dock the dock scrolls (every dock's
panel sits in a scroll area, gui/layout.py) instead of squeezing the list to its header."""

from __future__ import annotations

from PySide6.QtWidgets import QAbstractItemView

USEFUL_ROWS = 4


def keep_rows(view: QAbstractItemView, rows: int = USEFUL_ROWS) -> None:
    """Make ``view`` at least ``rows`` rows (and its header) tall."""
    row = view.fontMetrics().height() + 8
    view.setMinimumHeight((rows + 1) * row + 2 * view.frameWidth())
