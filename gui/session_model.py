"""The window's shared cursor: one engine Session wrapped as Qt signals, plus what every view
shares (the sample shown, the selected unit and step).

Every view follows the run through this object: it connects to ``positionChanged``/
``runChanged``/``selectionChanged`` and reads arrays from ``session.trace`` (what has been read
so far) or ``full()`` (the whole run, for ghosts and statistics). It is not the only gui module
that imports ``engine``: views also call the engine's analysis functions (``engine.analysis``,
``engine.debugger``, ``engine.export``), and the loader worker and session files call its
loaders — so every number shown is computed in ``engine`` and none in ``gui``. ``.model`` is the
engine ``Model`` of the session; the window holds this object as ``window.session_model``.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from PySide6.QtCore import QObject, Signal

from engine import Model, Session
from engine.loaders.demos import DemoInfo
from engine.trace import LayerTrace


class SessionModel(QObject):
    """Wraps an engine ``Session`` plus what the views share: sample, selected unit and step."""

    positionChanged = Signal(int)            # new t
    runChanged = Signal()                    # model, input or layer changed: redraw everything
    modelChanged = Signal()                  # another model opened: forget the last one's view state
    notice = Signal(str)                     # a short note for the status bar (a view changed itself)
    selectionChanged = Signal(int, int)      # unit, input position (-1 = none)
    sampleChanged = Signal(int)

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.session: Session | None = None
        self.model: Model | None = None
        self.source = ""
        self.input_source = ""
        self.sample = 0
        self.selected_unit = -1
        self.selected_position = -1

    # --- loading -----------------------------------------------------------------------------
    def set_session(self, session: Session, *, source: str, input_source: str = "") -> None:
        if self.session is not None:
            self.session.unsubscribe(self._on_engine_event)
        new_model = session.model is not self.model
        self.session = session
        self.model = session.model
        self.source = source
        self.input_source = input_source
        self.sample = 0
        self.selected_unit = -1
        self.selected_position = -1
        session.subscribe(self._on_engine_event)
        if new_model:           # before runChanged, so views rebuild from a clean slate
            self.modelChanged.emit()
        self.runChanged.emit()

    def _on_engine_event(self, event: str, session: Session) -> None:
        if event == "position":
            self.positionChanged.emit(session.t)
        else:
            self.runChanged.emit()

    # --- facts ------------------------------------------------------------------------------
    @property
    def ready(self) -> bool:
        return self.session is not None

    @property
    def t(self) -> int:
        return self.session.t if self.session else 0

    @property
    def steps(self) -> int:
        return self.session.steps if self.session else 0

    @property
    def units(self) -> int:
        return self.session.units if self.session else 0

    @property
    def demo(self) -> DemoInfo | None:
        return self.model.metadata.get("demo") if self.model is not None else None

    def vocabulary(self) -> list[str] | None:
        """The token strings the demo (or the model's metadata) provides, else None."""
        vocab = getattr(self.demo, "vocabulary", None) if self.demo is not None else None
        if not vocab and self.model is not None:
            vocab = self.model.metadata.get("vocabulary")
        return list(vocab) if vocab else None

    def token_text(self, token: int) -> str:
        """One token as the user reads it: its character (space shown as '␣'), else '#id'."""
        vocab = self.vocabulary()
        if vocab and 0 <= token < len(vocab):
            text = str(vocab[token])
            return {" ": "␣", "\n": "⏎", "\t": "⇥", "": "∅"}.get(text, text)
        return f"#{token}"

    def input_label(self, position: int, *, values: int = 3) -> str:
        """What the model reads at input ``position`` of the current sample, in a few characters."""
        if self.session is None or not 0 <= position < self.steps:
            return ""
        raw = np.asarray(self.session.x)[self.sample]
        if raw.ndim == 1:
            token = int(raw[position])
            text = self.token_text(token)
            return f"'{text}' (#{token})" if not text.startswith("#") else text
        row = raw[position]
        shown = ", ".join(f"{v:+.3g}" for v in row[:values])
        more = f", … {len(row)} values" if len(row) > values else ""
        return f"x = ({shown}{more})" if len(row) > 1 else f"x = {row[0]:+.4g}"

    def live(self) -> LayerTrace:
        assert self.session is not None
        return self.session.trace

    def full(self) -> LayerTrace:
        assert self.session is not None
        return self.session.full()

    def value(self, signal: str, unit: int, position: int) -> float:
        """The engine's number for one signal, unit and input position of the current sample."""
        arr = self.live().signal(signal)
        if unit >= arr.shape[2]:      # a projected h has fewer columns than units
            return float("nan")
        return float(arr[self.sample, position, unit])

    def output(self) -> np.ndarray | None:
        """The model's output for the whole run, as the framework returns it; a view that
        follows the cursor shows only the positions read so far (``session.known()``)."""
        if self.session is None:
            return None
        return np.asarray(self.session.result().output)

    # --- driving ------------------------------------------------------------------------------
    def step(self, n: int = 1) -> None:
        if self.session:
            self.session.step(n)

    def back(self, n: int = 1) -> None:
        if self.session:
            self.session.back(n)

    def seek(self, k: int) -> None:
        if self.session:
            self.session.seek(k)

    def set_layer(self, index: int) -> None:
        if self.session and index != self.session.layer_index:
            self.session.set_layer(index)

    def set_sample(self, sample: int) -> None:
        if self.session and 0 <= sample < self.session.batch and sample != self.sample:
            self.sample = sample
            self.sampleChanged.emit(sample)
            self.runChanged.emit()

    def select(self, unit: int, position: int) -> None:
        if (unit, position) != (self.selected_unit, self.selected_position):
            self.selected_unit, self.selected_position = unit, position
            self.selectionChanged.emit(unit, position)

    def describe(self) -> dict[str, Any]:
        """Shape badges and status bar facts, read from the loaded model."""
        assert self.session is not None and self.model is not None
        s = self.session
        info = s.info
        w = info.weights
        b, t = s.batch, s.steps
        d = w.input_dim
        out = np.asarray(s.result().output)
        return {
            "input": (b, t, d), "kernel": tuple(w.kernel.shape),
            "recurrent_kernel": tuple(w.recurrent_kernel.shape),
            "bias": tuple(w.bias.shape) if w.use_bias else None,
            "output": tuple(out.shape), "params": w.param_count,
            "model_params": self.model.param_count, "units": w.units,
            "layer": info.name, "direction": info.direction,
            "return_sequences": info.return_sequences,
        }
