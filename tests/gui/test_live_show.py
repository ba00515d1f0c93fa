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


def test_the_open_with_options_dialog_has_one_row_per_option_of_the_table(qtbot, monkeypatch):
    """Every option the table gives the window is a row (a check box for a flag, a line
    edit for a file or text) labelled with the table's words; an option added to the table
    is a new row."""
    from PySide6.QtWidgets import QCheckBox, QFormLayout, QLabel, QLineEdit

    from engine.network import model_options
    from gui.widgets.open_options import OpenOptionsDialog
    probe = model_options.ModelOption("--probe-option", "a probe", ("window",), "run", "text",
                                      "Probe:")
    monkeypatch.setattr(model_options, "MODEL_OPTIONS", (*model_options.MODEL_OPTIONS, probe))
    dialog = OpenOptionsDialog()
    qtbot.addWidget(dialog)
    form = dialog.layout()
    labels = [form.itemAt(row, QFormLayout.ItemRole.LabelRole) for row in range(form.rowCount())]
    labels = [item.widget().text() for item in labels if item and isinstance(item.widget(), QLabel)]
    boxes = [b.text() for b in dialog.findChildren(QCheckBox)]
    expected_labels, expected_boxes = ["Model file:"], []
    for option in model_options.options_for("window"):
        if option.kind == "flag":
            expected_boxes.append(option.label)
            assert isinstance(getattr(dialog, option.dest), QCheckBox)
        else:
            expected_labels.append(option.label)
            assert isinstance(getattr(dialog, f"{option.dest}_edit"), QLineEdit)
    assert labels == expected_labels and boxes == expected_boxes
    assert "Probe:" in labels and dialog.option_values()["probe_option"] is None


def test_the_dialog_opens_a_layers_own_input_from_a_state(make_window, qtbot, tmp_path):
    """--layer-input, --layer and --initial-state from the dialog reach the window's run as
    they reach trace's."""
    from gui.widgets.open_options import OpenOptionsDialog
    from tests.helpers import assert_close, load_reference
    ref = load_reference(FIXTURES / "keras3" / "functional_branches.npz")
    np.save(tmp_path / "lx.npy", ref["layer0_x"])
    h0 = np.full((2, 5), 0.25, np.float32)
    c0 = np.full((2, 5), -0.5, np.float32)
    np.savez(tmp_path / "state.npz", h0=h0, c0=c0)
    window = make_window()
    dialog = OpenOptionsDialog(window)
    qtbot.addWidget(dialog)
    dialog.model_edit.setText(str(FIXTURES / "keras3" / "functional_branches.keras"))
    dialog.input_edit.setText(str(tmp_path / "lx.npy"))
    dialog.layer_edit.setText("0")
    dialog.layer_input.setChecked(True)
    dialog.initial_state_edit.setText(str(tmp_path / "state.npz"))
    window.open_with_options(dialog, wait=True)
    qtbot.waitUntil(lambda: window.session_model.ready and window.session_model.session.is_layer_input,
                    timeout=20000)
    session = window.session_model.session
    assert window.errors == [] and session.layer_index == 0
    np.testing.assert_array_equal(session.trace.h0, h0)
    reference = load_model(FIXTURES / "keras3" / "functional_branches.keras").trace(
        ref["layer0_x"], initial_state=(h0, c0), layer_input=0)
    assert_close(session.full().h, reference.layer(0).h, "the dialog's run")
