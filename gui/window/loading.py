"""Opening models, inputs and sessions: the loader in the background, its progress, the file
dialogs, recent files, drag and drop."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QApplication, QFileDialog, QMessageBox

from gui.load_progress import LoadProgress
from gui.loader_worker import LoadRequest, LoadResult
from gui.panels.input_editor import INPUT_SUFFIXES
from gui.widgets.open_options import OpenOptionsDialog

MODEL_FILTER = "Models (*.keras *.h5 *.hdf5 *.pt *.pth *.jit *.bin *.ckpt *.safetensors *.onnx);;All files (*)"
INPUT_FILTER = "Inputs (*.npy *.npz *.csv *.tsv);;All files (*)"
MAX_RECENT = 8


class Loading:
    """Part of ``MainWindow`` (gui.main_window), which builds what these methods use."""

    def load(self, model_spec: str | None, input_path: str | None = None, *, key: str | None = None,
             layer=None, x=None, wait: bool = False, initial_state=None,
             input_label: str | None = None, options: dict | None = None,
             layer_input: bool = False, initial_state_path: str | None = None) -> None:
        """Open a model (and input) in the background; the current session stays until it works."""
        if model_spec is None and layer is None and self.session_model.ready:
            layer = self.session_model.session.layer_index     # a new input keeps the chosen layer
        request = LoadRequest(model_spec, input_path, key, layer, x, initial_state, input_label,
                              options, layer_input, initial_state_path)
        self.loader.start(request, self.session_model.model)
        if wait:
            self.loader.wait()
            QApplication.processEvents()

    def _on_busy(self, busy: bool) -> None:
        if busy:
            if self._progress is None:
                self._progress = LoadProgress(self)
                self._progress.setWindowModality(Qt.WindowModal)
                self._progress.setMinimumDuration(400)
                self._progress.canceled.connect(self.loader.cancel)
                self.loader.progressed.connect(self._progress.report)
            self._progress.begin()
            self._progress.show()
        elif self._progress is not None:
            self._progress.reset()
            self._progress.hide()

    def show_session(self, session, *, source: str, input_source: str = "") -> None:
        """Observe an engine session that is already traced (the loader's result, or a
        session a script or the export command built)."""
        self.stop_play()
        self.session_model.set_session(session, source=source, input_source=input_source)
        self.first_pass.start(session)

    def show_loaded(self, result: LoadResult) -> None:
        """Show a finished load (or a reopened session file) and remember where it came from."""
        self._notes = []
        self.show_session(result.session, source=result.source, input_source=result.input_source)
        if result.source and not result.source.startswith("demo"):
            self._remember(result.source)
        demo = self.session_model.demo
        if demo is not None and demo.suggested_step:
            hint = f"{demo.title}: try stepping to t = {demo.suggested_step} (Ctrl+G)"
            self.statusBar().showMessage("   ·   ".join([*self._notes, hint]), 10000)

    def _note(self, text: str) -> None:
        """A view changed itself (a filter that no longer applies...): say so in the status bar."""
        self._notes.append(text)
        self.statusBar().showMessage(text, 10000)

    def _on_failed(self, message: str) -> None:
        self.report_error("Could not open", message)

    def _message_box(self, title: str, message: str) -> None:
        QMessageBox.warning(self, title, message)

    def open_model_dialog(self) -> None:
        start = str(self.settings.value("last_dir", str(Path.home())))
        path, _ = QFileDialog.getOpenFileName(self, "Open model", start, MODEL_FILTER)
        if path:
            self.settings.setValue("last_dir", str(Path(path).parent))
            self.load(path)

    def open_options_dialog(self) -> None:
        """The command line's model-and-input options (engine.network.model_options) in a dialog."""
        dialog = OpenOptionsDialog(self, start_dir=str(self.settings.value("last_dir", str(Path.home()))),
                                   model_filter=MODEL_FILTER, input_filter=INPUT_FILTER)
        if dialog.exec() == OpenOptionsDialog.DialogCode.Accepted:
            self.settings.setValue("last_dir", str(Path(dialog.values()[0]).parent))
            self.open_with_options(dialog)

    def open_with_options(self, dialog: OpenOptionsDialog, *, wait: bool = False) -> None:
        """Load what an accepted Open-with-options dialog says."""
        path, input_path, options = dialog.values()
        run = dialog.run_values()
        self.load(path, input_path, key=run["key"], layer=run["layer"], options=options,
                  layer_input=run["layer_input"], initial_state_path=run["initial_state"],
                  wait=wait)

    def open_input_dialog(self) -> None:
        if not self.session_model.ready:
            return
        start = str(self.settings.value("last_dir", str(Path.home())))
        path, _ = QFileDialog.getOpenFileName(self, "Open input", start, INPUT_FILTER)
        if path:
            self.load(None, path)

    def _remember(self, path: str) -> None:
        recent = [p for p in self._recent() if p != path]
        recent.insert(0, path)
        self.settings.setValue("recent", recent[:MAX_RECENT])
        self._refresh_recent()

    def _recent(self) -> list[str]:
        value = self.settings.value("recent", [])
        if isinstance(value, str):
            return [value]
        return list(value or [])

    def _refresh_recent(self) -> None:
        self.recent_menu.clear()
        recent = self._recent()
        for path in recent:
            self.recent_menu.addAction(path, lambda p=path: self.load(p))
        self.recent_menu.setEnabled(bool(recent))

    def dragEnterEvent(self, event) -> None:  # noqa: N802 (Qt API)
        if event.mimeData().hasUrls():
            event.acceptProposedAction()

    def dropEvent(self, event) -> None:  # noqa: N802
        for url in event.mimeData().urls():
            path = url.toLocalFile()
            suffix = Path(path).suffix.lower()
            if suffix in INPUT_SUFFIXES and self.session_model.ready:
                self.load(None, path)
            else:
                self.load(path)
            break
