"""The toolbar's timeline: a slider over t (inputs read) that also marks breakpoint hits.

Hits are where a debugger user wants to scrub to, so they are drawn as ticks under the groove
of the slider they already use, not only in the Breakpoints dock.
"""

from __future__ import annotations

import numpy as np
from PySide6.QtCore import Qt
from PySide6.QtGui import QColor, QPainter, QPen
from PySide6.QtWidgets import QSlider, QStyle, QStyleOptionSlider

HIT_COLOUR = "#d62728"


class MarkedSlider(QSlider):
    """A horizontal QSlider with thin marks at chosen values (here: the t of each hit)."""

    def __init__(self, parent=None) -> None:
        super().__init__(Qt.Horizontal, parent)
        self.marks = np.zeros(0, np.int64)

    def set_marks(self, values: np.ndarray) -> None:
        self.marks = np.unique(np.asarray(values, np.int64))
        tip = "Scrub: the number of input positions read (t)"
        if self.marks.size:
            tip += f"; red marks: {self.marks.size} breakpoint hits"
        self.setToolTip(tip)
        self.update()

    def _groove(self) -> tuple[float, int]:
        """(x of the handle's centre at the minimum, pixels the handle travels)."""
        opt = QStyleOptionSlider()
        self.initStyleOption(opt)
        style = self.style()
        groove = style.subControlRect(QStyle.CC_Slider, opt, QStyle.SC_SliderGroove, self)
        handle = style.subControlRect(QStyle.CC_Slider, opt, QStyle.SC_SliderHandle, self)
        return groove.x() + handle.width() / 2, max(groove.width() - handle.width(), 1)

    def mark_x(self, value: int, groove: tuple[float, int] | None = None) -> float:
        """Where a value sits along the groove, in widget pixels (the handle's centre)."""
        start, span = groove or self._groove()
        return start + QStyle.sliderPositionFromValue(self.minimum(), self.maximum(), int(value), span)

    def paintEvent(self, event) -> None:  # noqa: N802 (Qt API)
        super().paintEvent(event)           # repainted at every step: keep the marks cheap
        if not self.marks.size:
            return
        groove = self._groove()
        painter = QPainter(self)
        painter.setPen(QPen(QColor(HIT_COLOUR), 1))
        bottom = self.height() - 1
        for value in self.marks[(self.marks >= self.minimum()) & (self.marks <= self.maximum())]:
            x = round(self.mark_x(int(value), groove))
            painter.drawLine(x, bottom - 5, x, bottom)
        painter.end()
