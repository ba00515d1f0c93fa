"""File → Open model with options…: the command line's model-and-input options (``--input
--key --layer --initial-state --layer-input --config --allow-length --trust``), one row each,
built from the table every command reads (``engine.network.model_options``); trust asks for a
confirmation."""

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

from engine.network.model_options import ModelOption, load_options, options_for


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
    """A model path and the window's rows of the options table: a line edit (with Browse…
    for a file) named ``<dest>_edit``, or a check box named ``<dest>``."""

    def __init__(self, parent: QWidget | None = None, *, start_dir: str = "",
                 model_filter: str = "", input_filter: str = "") -> None:
        super().__init__(parent)
        self.setWindowTitle("Open model with options")
        self._start = start_dir
        self.options: list[ModelOption] = options_for("window")
        form = QFormLayout(self)
        self.model_edit = self._file_row(form, "Model file:", model_filter)
        for option in self.options:
            if option.kind == "flag":
                box = QCheckBox(option.label)
                box.setToolTip(f"{option.flag}: {option.help}")
                form.addRow(box)
                setattr(self, option.dest, box)
                continue
            if option.kind == "file":
                file_filter = input_filter if option.dest == "input" and input_filter else option.file_filter
                edit = self._file_row(form, option.label, file_filter)
            else:
                edit = QLineEdit()
                form.addRow(option.label, edit)
            edit.setPlaceholderText(option.placeholder)
            edit.setToolTip(f"{option.flag}: {option.help}")
            setattr(self, f"{option.dest}_edit", edit)
        self.trust.toggled.connect(self._confirm_trust)
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

    def option_values(self) -> dict[str, Any]:
        """Every row's value by option (``dest``): text or None, True/False."""
        out: dict[str, Any] = {}
        for option in self.options:
            if option.kind == "flag":
                out[option.dest] = getattr(self, option.dest).isChecked()
            else:
                out[option.dest] = getattr(self, f"{option.dest}_edit").text().strip() or None
        return out

    def values(self) -> tuple[str, str | None, dict[str, Any]]:
        """(model path, input path or None, load_model's options)."""
        chosen = self.option_values()
        return self.model_edit.text().strip(), chosen["input"], load_options(chosen)

    def run_values(self) -> dict[str, Any]:
        """What one run is made of besides the input: key, layer, initial_state, layer_input."""
        chosen = self.option_values()
        return {o.dest: chosen[o.dest] for o in self.options
                if o.part == "run" and o.dest != "input"}
