"""File → Open model with options…: the same open options as the command line (``--config``
for a weights-only Keras .h5, ``--allow-length``, ``--trust`` with a confirmation), plus the
model's input file."""

from __future__ import annotations

from typing import Any

from PySide6.QtWidgets import (
    QCheckBox,
    QDialog,
    QDialogButtonBox,
    QFileDialog,
    QFormLayout,
    QHBoxLayout,
    QLineEdit,
    QMessageBox,
    QPushButton,
    QWidget,
)


def confirm_running_code(parent: QWidget | None, what: str) -> bool:
    """Ask the person before a file's own code runs (``--trust`` in the window); No is the
    default, and only this answer, never a file, turns trust on."""
    answer = QMessageBox.question(
        parent, "Run the file's code?",
        f"{what} Loading a TorchScript archive to run it executes code stored in the file. "
        f"Only do this for files you trust. Run it?",
        QMessageBox.StandardButton.Yes | QMessageBox.StandardButton.No,
        QMessageBox.StandardButton.No)
    return answer == QMessageBox.StandardButton.Yes


class OpenOptionsDialog(QDialog):
    """A model path, an optional input, and how to open the model."""

    def __init__(self, parent: QWidget | None = None, *, start_dir: str = "",
                 model_filter: str = "", input_filter: str = "") -> None:
        super().__init__(parent)
        self.setWindowTitle("Open model with options")
        self._start = start_dir
        form = QFormLayout(self)
        self.model_edit = self._file_row(form, "Model file:", model_filter)
        self.input_edit = self._file_row(form, "Input (optional):", input_filter)
        self.config_edit = self._file_row(form, "Keras config (weights-only .h5):",
                                          "Keras model config (*.json)")
        self.config_edit.setPlaceholderText("model.to_json() of the model that wrote the weights")
        self.allow_length = QCheckBox("Allow another input length or batch size than the file "
                                      "fixes (with a warning)")
        form.addRow(self.allow_length)
        self.trust = QCheckBox("Trust this file: let a TorchScript archive's own code run, to "
                               "capture what its LSTMs receive")
        self.trust.toggled.connect(self._confirm_trust)
        form.addRow(self.trust)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Open
                                   | QDialogButtonBox.StandardButton.Cancel)
        buttons.accepted.connect(self._accept)
        buttons.rejected.connect(self.reject)
        form.addRow(buttons)

    def _file_row(self, form: QFormLayout, label: str, file_filter: str) -> QLineEdit:
        edit = QLineEdit()
        browse = QPushButton("Browse…")
        browse.clicked.connect(lambda: self._browse(edit, label, file_filter))
        row = QHBoxLayout()
        row.addWidget(edit, 1)
        row.addWidget(browse)
        form.addRow(label, row)
        return edit

    def _browse(self, edit: QLineEdit, label: str, file_filter: str) -> None:
        path, _ = QFileDialog.getOpenFileName(self, label.rstrip(":"), edit.text() or self._start,
                                              file_filter)
        if path:
            edit.setText(path)

    def _confirm_trust(self, on: bool) -> None:
        """Running a file's code is a decision, not a default: confirm it."""
        if on and not confirm_running_code(self, "You asked to trust this model file."):
            self.trust.setChecked(False)

    def _accept(self) -> None:
        if self.model_edit.text().strip():
            self.accept()
        else:
            self.model_edit.setFocus()

    def values(self) -> tuple[str, str | None, dict[str, Any]]:
        """(model path, input path or None, load_model's options)."""
        config = self.config_edit.text().strip() or None
        return (self.model_edit.text().strip(), self.input_edit.text().strip() or None,
                {"config": config, "allow_length": self.allow_length.isChecked(),
                 "trust": self.trust.isChecked()})
