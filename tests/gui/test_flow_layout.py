"""FlowLayout keeps its height per width until an item changes (gui/widgets/flow_layout.py):
the kept answer is always the one a fresh arrangement gives."""

from __future__ import annotations

from PySide6.QtCore import QRect
from PySide6.QtWidgets import QLabel, QPushButton, QWidget

from gui.widgets.flow_layout import FlowLayout


def _fresh(layout: FlowLayout, width: int) -> int:
    return layout._arrange(QRect(0, 0, width, 0), move=False)


def test_the_height_kept_per_width_follows_every_change_of_its_items(qtbot):
    host = QWidget()
    qtbot.addWidget(host)
    layout = FlowLayout(host)
    buttons = [QPushButton(f"button {k}") for k in range(6)]
    for b in buttons:
        layout.addWidget(b)
    host.show()
    label = QLabel("short")
    widths = (80, 200, 400, 2000)

    def agrees() -> bool:
        return all(layout.heightForWidth(w) == _fresh(layout, w) for w in widths)
    assert agrees()
    changes = (lambda: buttons[2].hide(), lambda: buttons[2].show(),
               lambda: buttons[0].setText("a much longer text on the first button"),
               lambda: layout.addWidget(label), lambda: label.setText("a longer label " * 4),
               lambda: layout.removeWidget(buttons[5]), lambda: layout.setContentsMargins(9, 9, 9, 9))
    for change in changes:
        for w in widths:
            layout.heightForWidth(w)            # kept ...
        change()
        assert agrees()                          # ... and dropped when the items changed


def test_asking_again_at_the_same_width_arranges_once(qtbot, monkeypatch):
    host = QWidget()
    qtbot.addWidget(host)
    layout = FlowLayout(host)
    for k in range(4):
        layout.addWidget(QPushButton(f"b{k}"))
    calls = []
    arrange = layout._arrange
    monkeypatch.setattr(layout, "_arrange", lambda rect, move: calls.append(move) or arrange(rect, move))
    heights = {layout.heightForWidth(150) for _ in range(50)}
    assert len(heights) == 1 and calls == [False]
