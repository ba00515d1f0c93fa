"""draw_fitted remembers how it fitted a text to a box of a given size (a canvas repaints the
same labels every step): what it draws and reports must be what measuring afresh gives,
wherever the box stands and on whichever device."""

from __future__ import annotations

import pytest
from PySide6.QtCore import QRectF, Qt
from PySide6.QtGui import QColor, QFont, QFontMetricsF, QImage, QPainter

from gui.teaching import common
from gui.teaching.common import SMALLEST_TEXT, draw_fitted


def _fresh(device, box: QRectF, text: str, font: QFont, flags) -> tuple[float, QRectF]:
    """The fit measured with no memory: the size the text shrinks to and its bounds."""
    fitted = QFont(font)
    scale = 1.0
    while True:
        fitted.setPointSizeF(max(3.0, font.pointSizeF() * scale))
        need = QFontMetricsF(fitted, device).boundingRect(box, flags, text)
        if (need.width() <= box.width() + 0.5 and need.height() <= box.height() + 0.5) \
                or scale <= SMALLEST_TEXT:
            return fitted.pointSizeF(), need
        scale -= 0.05


def _image(dpm: int) -> QImage:
    image = QImage(400, 200, QImage.Format_ARGB32)
    image.fill(QColor("white"))
    image.setDotsPerMeterX(dpm)
    image.setDotsPerMeterY(dpm)
    return image


@pytest.mark.parametrize("flags", [Qt.AlignCenter, Qt.AlignLeft | Qt.AlignTop])
def test_remembered_fit_matches_a_fresh_measurement_anywhere(qapp, flags) -> None:
    common._FITTED.clear()
    font = QFont()
    font.setPointSizeF(14.0)
    text = "reads every input"
    for dpm in (3780, 7560):                       # 96 and 192 dpi: a screen, a hi-DPI export
        image = _image(dpm)
        painter = QPainter(image)
        try:
            for x, y in ((0.0, 0.0), (37.3, 11.7), (211.9, 120.25)):
                box = QRectF(x, y, 60.0, 18.0)     # too narrow: the text must shrink
                size, fresh = _fresh(image, box, text, font, flags)
                got = draw_fitted(painter, box, text, font, flags, wrap=False)
                assert size < font.pointSizeF()
                assert got.width() == pytest.approx(fresh.width(), abs=1e-6)
                assert got.height() == pytest.approx(fresh.height(), abs=1e-6)
                assert got.x() == pytest.approx(fresh.x(), abs=1 / 64)
                assert got.y() == pytest.approx(fresh.y(), abs=1 / 64)
                assert painter.font().pointSizeF() == font.pointSizeF()   # the caller's font back
        finally:
            painter.end()
    assert len(common._FITTED) == 2                # one per device resolution, not per place
