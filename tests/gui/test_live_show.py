"""gui.show from a script or notebook, the warnings badge and the Open-with-options dialog."""

from __future__ import annotations

import numpy as np
import torch

import gui
from engine.loaders import load_model
from tests.helpers import FIXTURES


def test_show_live_module_without_blocking(qtbot):
    torch.manual_seed(0)
    net = torch.nn.Sequential(torch.nn.LSTM(3, 4, batch_first=True)).eval()
    x = torch.randn(1, 6, 3)
    window = gui.show(net, x, block=False)       # as in Jupyter after %gui qt: returns at once
    qtbot.addWidget(window)
    assert window.session_model.ready and window.session_model.session.model.layer_names == ["0.l0"]
    assert window.session_model.session.steps == 6
    window.close()


def test_show_inside_a_running_event_loop_returns_at_once(qtbot):
    """As under Jupyter's %gui qt: an event loop already runs, so show() never calls exec()."""
    from PySide6.QtCore import QTimer
    torch.manual_seed(1)
    net = torch.nn.LSTM(2, 3, batch_first=True).eval()
    shown = {}
    QTimer.singleShot(0, lambda: shown.setdefault("window", gui.show(net, torch.randn(1, 4, 2))))
    qtbot.waitUntil(lambda: "window" in shown, timeout=20000)
    window = shown["window"]
    qtbot.addWidget(window)
    assert window.isVisible() and window.session_model.session.model.layer_names == ["l0"]
    window.close()


def test_warnings_badge_lists_loader_and_capture_warnings(qtbot):
    model = load_model(FIXTURES / "capture" / "lstm_state_inputs.onnx")
    with np.load(FIXTURES / "capture" / "lstm_state_inputs.input.npz") as data:
        x = data["x"]
    window = gui.show(model, x, block=False)
    qtbot.addWidget(window)
    badge = window.warnings_badge
    assert not badge.isHidden() and badge.warnings
    assert any("'h0'" in w for w in badge.warnings) and "warning" in badge.text()
    window.close()


def test_open_with_options_dialog(qtbot, tmp_path, monkeypatch):
    from gui.widgets.open_options import OpenOptionsDialog
    dialog = OpenOptionsDialog()
    qtbot.addWidget(dialog)
    dialog.model_edit.setText(str(tmp_path / "m.weights.h5"))
    dialog.config_edit.setText(str(tmp_path / "m.json"))
    dialog.allow_length.setChecked(True)
    path, input_path, options = dialog.values()
    assert path.endswith("m.weights.h5") and input_path is None
    assert options == {"config": str(tmp_path / "m.json"), "allow_length": True, "trust": False}
    # trust is the person's answer to the confirmation, declined by default
    from PySide6.QtWidgets import QMessageBox
    for answer, checked in ((QMessageBox.StandardButton.No, False),
                            (QMessageBox.StandardButton.Yes, True)):
        monkeypatch.setattr(QMessageBox, "question", lambda *a, answer=answer, **k: answer)
        dialog.trust.setChecked(False)
        dialog.trust.setChecked(True)
        assert dialog.trust.isChecked() is checked
        assert dialog.values()[2]["trust"] is checked
