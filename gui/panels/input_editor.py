"""The Input dock: presets shaped to the model, text or token ids, files, a small table, batches
and stateful segments. Generators and readers live in ``engine``; this only gathers choices.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QDoubleSpinBox,
    QFileDialog,
    QFormLayout,
    QHBoxLayout,
    QInputDialog,
    QLabel,
    QLineEdit,
    QMessageBox,
    QPushButton,
    QSpinBox,
    QTableWidget,
    QTableWidgetItem,
    QTabWidget,
    QVBoxLayout,
    QWidget,
)

from engine.errors import ScopeError
from engine.network.model_input import model_input_kind
from engine.runs.run_store import held_bytes
from engine.system.inputs import npz_keys, read_input, read_model_input
from engine.system.presets import (
    DEFAULT_BUDGET_BYTES,
    PRESETS,
    encode_text,
    format_bytes,
    generate,
    parse_token_ids,
)
from gui.session_model import SessionModel
from gui.theme import palette_of

MAX_TABLE_STEPS = 200
INPUT_SUFFIXES = {".npy", ".npz", ".csv", ".tsv"}     # the files an input is read from


class InputEditor(QWidget):
    """Build a new input for the loaded model and ask the window to trace it."""

    apply_input = Signal(object, str, object)      # x, label, initial_state (or None)
    error = Signal(str)

    def __init__(self, session_model: SessionModel, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.session_model = session_model
        self.budget = DEFAULT_BUDGET_BYTES
        self.confirm_large = self._ask_large        # injectable for tests
        layout = QVBoxLayout(self)
        self.tabs = QTabWidget()
        layout.addWidget(self.tabs)
        self._build_preset_tab()
        self._build_text_tab()
        self._build_file_tab()
        self._build_table_tab()
        state_row = QHBoxLayout()
        self.carry = QCheckBox("carry state into the next input")
        self.carry.setToolTip("Stateful use: the next input starts from this run's final h and c "
                              "instead of zeros (like a stateful=True layer fed segments in order).")
        state_row.addWidget(self.carry)
        reset = QPushButton("Reset state")
        reset.setToolTip("Start the next input from zeros again.")
        reset.clicked.connect(lambda: self.carry.setChecked(False))
        state_row.addWidget(reset)
        layout.addLayout(state_row)
        self.state_label = QLabel("")
        self.state_label.setWordWrap(True)
        layout.addWidget(self.state_label)
        layout.addStretch(1)
        session_model.runChanged.connect(self.refresh)

    # --- tabs ---------------------------------------------------------------------------------
    def _build_preset_tab(self) -> None:
        tab = QWidget()
        form = QFormLayout(tab)
        self.preset_combo = QComboBox()
        for preset in PRESETS:
            self.preset_combo.addItem(preset.label, preset.name)
            self.preset_combo.setItemData(self.preset_combo.count() - 1, preset.tooltip, Qt.ToolTipRole)
        self.preset_combo.currentIndexChanged.connect(self._preset_changed)
        form.addRow("signal", self.preset_combo)
        self.length_spin = QSpinBox()
        self.length_spin.setRange(1, 1_000_000)
        self.length_spin.setValue(120)
        self.length_spin.setToolTip("T: the number of timesteps (input positions)")
        form.addRow("length T", self.length_spin)
        self.batch_spin = QSpinBox()
        self.batch_spin.setRange(1, 64)
        self.batch_spin.setToolTip("Several sequences at once: each sample is phase-shifted / reseeded")
        form.addRow("batch", self.batch_spin)
        self.param_form = QFormLayout()
        form.addRow(self.param_form)
        self.param_spins: dict[str, QDoubleSpinBox] = {}
        button = QPushButton("Trace this input")
        button.clicked.connect(self.apply_preset)
        form.addRow(button)
        self.preset_tab = tab
        self.tabs.addTab(tab, "Preset")
        self._preset_changed()

    def _preset_changed(self) -> None:
        while self.param_form.rowCount():
            self.param_form.removeRow(0)
        self.param_spins = {}
        preset = PRESETS[self.preset_combo.currentIndex()]
        for name, default in preset.params.items():
            spin = QDoubleSpinBox()
            spin.setDecimals(3)
            spin.setRange(-1e6, 1e6)
            spin.setSingleStep(0.01 if abs(default) < 1 else 1)
            spin.setValue(default)
            self.param_form.addRow(name, spin)
            self.param_spins[name] = spin

    def _build_text_tab(self) -> None:
        tab = QWidget()
        form = QFormLayout(tab)
        self.text_edit = QLineEdit()
        self.text_edit.setPlaceholderText("type text (uses the model's vocabulary)")
        form.addRow("text", self.text_edit)
        self.ids_edit = QLineEdit()
        self.ids_edit.setPlaceholderText("or token ids: 3 14 15 9")
        form.addRow("token ids", self.ids_edit)
        self.vocab_label = QLabel("")
        self.vocab_label.setWordWrap(True)
        form.addRow(self.vocab_label)
        self.unknown_label = QLabel("")
        form.addRow(self.unknown_label)
        button = QPushButton("Trace these tokens")
        button.clicked.connect(self.apply_text)
        form.addRow(button)
        self.text_tab = tab
        self.tabs.addTab(tab, "Text")

    def _build_file_tab(self) -> None:
        tab = QWidget()
        form = QFormLayout(tab)
        self.file_label = QLabel("")          # the file the run reads, when it reads one
        form.addRow(self.file_label)
        self.columns_edit = QLineEdit()
        self.columns_edit.setPlaceholderText("all columns, or e.g. 0,2,3")
        self.columns_edit.setToolTip("CSV/TSV: which columns are the features (0-based)")
        form.addRow("CSV columns", self.columns_edit)
        button = QPushButton("Open input file…")
        button.clicked.connect(self.open_file_dialog)
        form.addRow(button)
        self.tabs.addTab(tab, "File")
        self.file_tab = tab

    def _build_table_tab(self) -> None:
        tab = QWidget()
        box = QVBoxLayout(tab)
        self.table = QTableWidget()
        self.table.setToolTip(f"Edit values directly (sequences up to {MAX_TABLE_STEPS} steps)")
        box.addWidget(self.table)
        button = QPushButton("Trace edited values")
        button.clicked.connect(self.apply_table)
        box.addWidget(button)
        self.tabs.addTab(tab, "Table")

    # --- reacting to the model ------------------------------------------------------------------
    def refresh(self) -> None:
        model = self.session_model.model
        session = self.session_model.session
        if model is None or session is None:
            return
        tokens = model.takes_tokens
        sequence = model_input_kind(session).is_layer_input    # not an image, a waveform ...
        source = self.session_model.input_source or ""
        from_file = Path(source).suffix.lower() in INPUT_SUFFIXES
        self.file_label.setText(f"this run reads {Path(source).name}" if from_file else "")
        self.tabs.setTabEnabled(self.tabs.indexOf(self.text_tab), tokens)
        self.tabs.setTabEnabled(self.tabs.indexOf(self.preset_tab), not tokens and sequence)
        if tokens:        # the run's own tokens are the example a demo opens with: show them
            self.tabs.setCurrentWidget(self.text_tab)
        elif not sequence or from_file:  # a file's run is no preset; an image, no sequence
            self.tabs.setCurrentWidget(self.file_tab)
        elif self.tabs.currentWidget() is self.text_tab:
            self.tabs.setCurrentWidget(self.preset_tab)
        self.length_spin.setValue(session.steps)
        vocab = self.vocabulary()
        if tokens:
            shown = "".join(v if len(v) == 1 else "·" for v in vocab[:80]) if vocab else ""
            self.vocab_label.setText(f"vocabulary ({len(vocab)}): {shown}" if vocab else
                                     f"no vocabulary: type token ids 0..{model.vocab_size - 1}")
        self._fill_table(np.asarray(session.x)[self.session_model.sample])
        self._fill_tokens(np.asarray(session.x)[self.session_model.sample] if tokens else None)
        first = session.recorded()           # the run's own start (both kinds of run)
        h, c = first.h0[self.session_model.sample], first.c0[self.session_model.sample]
        started = "zeros" if not (np.any(h) or np.any(c)) else (
            f"carried state: |h0| = {np.linalg.norm(h):.3f}, |c0| = {np.linalg.norm(c):.3f}")
        self.state_label.setText(f"This run started from {started}.")

    def vocabulary(self) -> list[str] | None:
        return self.session_model.vocabulary()

    def _fill_tokens(self, ids: np.ndarray | None) -> None:
        """The run's own tokens, editable: as text where every token is one character of the
        vocabulary, else as ids (a float model leaves both empty)."""
        self.unknown_label.setText("")
        if ids is None:
            self.text_edit.setText("")
            self.ids_edit.setText("")
            return
        vocab = self.vocabulary()
        chars = [vocab[int(k)] if vocab and 0 <= int(k) < len(vocab) else None for k in ids]
        if vocab and all(c is not None and len(c) == 1 for c in chars):
            self.text_edit.setText("".join(chars))
            self.ids_edit.setText("")
        else:
            self.text_edit.setText("")
            self.ids_edit.setText(" ".join(str(int(k)) for k in ids))

    def _fill_table(self, x: np.ndarray) -> None:
        if x.ndim > 2:          # an image (C, H, W) ...: not a table of steps
            self.table.setRowCount(0)
            self.table.setColumnCount(1)
            self.table.setHorizontalHeaderLabels([f"the model reads an array {x.shape}: open "
                                                  "another input file to change it"])
            return
        arr = x if x.ndim == 2 else x[:, None]
        if arr.shape[0] > MAX_TABLE_STEPS:
            self.table.setRowCount(0)
            self.table.setColumnCount(1)
            self.table.setHorizontalHeaderLabels([f"too long to edit here (T > {MAX_TABLE_STEPS})"])
            return
        self.table.setRowCount(arr.shape[0])
        self.table.setColumnCount(arr.shape[1])
        self.table.setHorizontalHeaderLabels([f"x{d}" for d in range(arr.shape[1])])
        for t in range(arr.shape[0]):
            for d in range(arr.shape[1]):
                self.table.setItem(t, d, QTableWidgetItem(f"{arr[t, d]:.6g}"))

    # --- applying --------------------------------------------------------------------------------
    def _state(self):
        session = self.session_model.session
        if not self.carry.isChecked() or session is None:
            return None
        # every layer carries its state, as a stateful Keras model does between segments
        return session.final_states()

    def _emit(self, x: np.ndarray, label: str) -> None:
        session = self.session_model.session
        if session is None:
            return
        if isinstance(x, dict):          # named model inputs: the framework's run sizes the trace
            self.apply_input.emit(x, label, self._state())
            return
        arr = np.asarray(x)
        batch = arr.shape[0] if arr.ndim == 3 or (self.session_model.model.takes_tokens and arr.ndim == 2) else 1
        steps = arr.shape[-2] if arr.ndim >= 2 and not self.session_model.model.takes_tokens else arr.shape[-1]
        need = held_bytes(batch, steps, session.info.weights)    # what the session's check counts
        if need > self.budget and not self.confirm_large(need):
            return
        self.apply_input.emit(x, label, self._state())

    def _ask_large(self, need: int) -> bool:
        answer = QMessageBox.question(
            self, "Long run", f"A full trace of this input needs about {format_bytes(need)} of "
            f"memory (budget {format_bytes(self.budget)}): it opens as a checkpointed run, whose "
            f"steps are recomputed around the cursor while a first pass fills in the overview. "
            f"Open it? Choose No to shorten the input.")
        return answer == QMessageBox.Yes

    def preset_input(self) -> np.ndarray:
        session = self.session_model.session
        preset = PRESETS[self.preset_combo.currentIndex()]
        params = {k: spin.value() for k, spin in self.param_spins.items()}
        # the model's own input width (a deeper traced layer reads another width)
        d = session.x.shape[-1] if session is not None and np.ndim(session.x) == 3 else 1
        batch = self.batch_spin.value()
        samples = []
        for b in range(batch):
            p = dict(params)
            if "phase" in p:
                p["phase"] += 0.7 * b
            if "seed" in p:
                p["seed"] += b
            samples.append(generate(preset.name, self.length_spin.value(), d, **p))
        return np.stack(samples)

    def apply_preset(self) -> None:
        try:
            x = self.preset_input()
        except ScopeError as exc:
            self.error.emit(str(exc))
            return
        self._emit(x, f"preset: {PRESETS[self.preset_combo.currentIndex()].label}")

    def token_input(self) -> np.ndarray:
        model = self.session_model.model
        if self.ids_edit.text().strip():
            return parse_token_ids(self.ids_edit.text(), model.vocab_size)
        vocab = self.vocabulary()
        if not vocab:
            raise ScopeError("this model ships no vocabulary: type token ids instead")
        text = self.text_edit.text()
        if not text:
            raise ScopeError("type some text first")
        tokens = encode_text(text, vocab)
        if tokens.unknown:
            listed = ", ".join(f"'{ch}' at {pos}" for pos, ch in tokens.unknown[:8])
            self.unknown_label.setText(f"<span style='color:{palette_of(self).error}'>not in the vocabulary "
                                       f"(shown as '{vocab[tokens.ids[tokens.unknown[0][0]]]}'): "
                                       f"{listed}</span>")
        else:
            self.unknown_label.setText("")
        return tokens.ids

    def apply_text(self) -> None:
        try:
            ids = self.token_input()
        except ScopeError as exc:
            self.error.emit(str(exc))
            return
        self._emit(ids, "text")

    def table_input(self) -> np.ndarray:
        rows, cols = self.table.rowCount(), self.table.columnCount()
        if rows == 0:
            raise ScopeError(f"the table is empty (sequences longer than {MAX_TABLE_STEPS} steps "
                             f"are not editable here)")
        values = np.empty((rows, cols), np.float32)
        for t in range(rows):
            for d in range(cols):
                item = self.table.item(t, d)
                text = item.text() if item else ""
                try:
                    values[t, d] = float(text)
                except ValueError:
                    raise ScopeError(f"row {t}, column x{d}: '{text}' is not a number") from None
        if self.session_model.model is not None and self.session_model.model.takes_tokens:
            return values[:, 0].astype(np.int64)
        return values

    def apply_table(self) -> None:
        try:
            x = self.table_input()
        except ScopeError as exc:
            self.error.emit(str(exc))
            return
        self._emit(x, "edited table")

    def load_file(self, path: str, key: str | None = None) -> None:
        columns = None
        spec = self.columns_edit.text().strip()
        try:
            if spec:
                columns = [int(c) for c in spec.replace(" ", ",").split(",") if c]
            names = self.session_model.model.input_names if self.session_model.model else []
            if Path(path).suffix.lower() == ".npz" and names and not columns:
                x = read_model_input(path, key, names)     # arrays matched to the inputs by name
            else:
                x = read_input(path, key, columns=columns)
        except ValueError:
            self.error.emit(f"'{spec}' is not a list of column numbers")
            return
        except ScopeError as exc:
            self.error.emit(str(exc))
            return
        self._emit(x, f"{path}" + (f" [{key}]" if key else ""))

    def open_file_dialog(self) -> None:
        path, _ = QFileDialog.getOpenFileName(self, "Open input", "", "Inputs (*.npy *.npz *.csv *.tsv)")
        if not path:
            return
        key = None
        if Path(path).suffix.lower() == ".npz":
            try:
                keys = npz_keys(path)
            except ScopeError as exc:
                self.error.emit(str(exc))
                return
            key, ok = self.choose_array(keys)
            if not ok:
                return
        self.load_file(path, key)

    def choose_array(self, keys: list[str]) -> tuple[str | None, bool]:
        """Which array of an .npz to read: none to ask for a model with several named inputs
        (each array feeds the input of its name) or an .npz of one array; otherwise the user
        picks, the array named like the model's input first."""
        model = self.session_model.model
        names = list(model.input_names) if model is not None else []
        if len(keys) <= 1 or len(names) > 1:
            return None, True
        keys = sorted(keys, key=lambda k: k not in names)
        key, ok = QInputDialog.getItem(self, "Choose array", "Array:", keys, 0, False)
        return key, ok
