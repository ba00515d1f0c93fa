"""Shape badges: the sizes a user should read off the loaded model, each with a one-line why."""

from __future__ import annotations

from PySide6.QtWidgets import QLabel, QWidget

from engine.cells.cell_kind import CellKind
from gui.session_model import SessionModel
from gui.widgets.flow_layout import FlowLayout

BADGE_KEYS = ("units", "model_input", "input", "kernel", "recurrent_kernel", "bias", "output", "params")
FIXED_TIPS = {
    "input": "Input batch: (batch, T timesteps, D features per step). T is the sequence length, "
             "not the number of units.",
    "output": "Output as the framework returns it: (batch, N) for the last step only, "
              "(batch, T, N) with return_sequences=True.",
    "units": "units = N: the number of cells that run side by side at every timestep.",
    "model_input": "What the model itself reads, before the layers in front of the LSTM (a CNN, "
                   "framing) turn it into the sequence the LSTM reads (the layer input badge).",
}


def tips(kind: CellKind) -> dict[str, str]:
    """Each badge's one-line why, the weights' and the parameter count's from the cell kind."""
    return {**FIXED_TIPS, **{badge.key: badge.tip for badge in kind.badges}, "params": kind.params_tip}


def _fmt(shape) -> str:
    if shape is None:
        return "none"
    return "(" + ", ".join(str(s) for s in shape) + ("," if len(shape) == 1 else "") + ")"


def badge_names(kind: CellKind) -> dict[str, str]:
    """The shape badges' names in order: the input, the cell kind's weights, the output."""
    return {"input": "input", **{badge.key: badge.name for badge in kind.badges}, "output": "output"}


def badge_texts(facts: dict) -> dict[str, tuple[str, str]]:
    """(name, value) per badge, from ``SessionModel.describe()``: the window and exports agree."""
    out = {"units": ("units N =", str(facts["units"]))}
    kind = facts.get("model_input")
    apart = kind is not None and not kind.is_layer_input     # an image, a waveform ...
    if apart:
        out["model_input"] = ("model reads", f"{kind.kind} {_fmt(kind.shape)}")
    for key, name in badge_names(facts["cell_kind"]).items():
        out[key] = ("layer input" if key == "input" and apart else name, _fmt(facts[key]))
    out["params"] = ("params", f"{facts['params']:,}")
    return out


COMPACT_NAMES = {"input": "x", "kernel": "W", "recurrent_kernel": "U", "bias": "b",
                 "output": "out"}


def compact_badges(facts: dict) -> str:
    """The badges as one short line for a slide: N = 6 · x (1, 62, 4) · W (4, 24) · ..."""
    parts = [f"N = {facts['units']}"]
    kind = facts.get("model_input")
    if kind is not None and not kind.is_layer_input:     # the model reads an image, a waveform
        parts.append(f"{kind.kind} {_fmt(kind.shape)}")
    parts += [f"{name} {_fmt(facts[key])}" for key, name in COMPACT_NAMES.items()]
    parts.append(f"{facts['params']:,} params")
    return " · ".join(parts)


class ShapeBadges(QWidget):
    """A row of small labelled badges (wrapped onto a second row when the window is narrow),
    refreshed when the run changes."""

    def __init__(self, session_model: SessionModel, parent: QWidget | None = None, *,
                 leading: QWidget | None = None) -> None:
        super().__init__(parent)
        self.session_model = session_model
        self._layout = layout = FlowLayout(self, spacing=6)
        layout.setContentsMargins(4, 2, 4, 2)
        if leading is not None:        # the layer chooser: the badges describe that layer
            layout.addWidget(leading)
        self.labels: dict[str, QLabel] = {}
        self._set_keys(BADGE_KEYS)
        self.labels["model_input"].hide()        # shown for a model that reads an image, audio ...
        session_model.runChanged.connect(self.refresh)

    def _set_keys(self, keys: tuple[str, ...]) -> None:
        """One label per badge in ``keys``' order: a kind whose weights are not W, U, b (an
        mLSTM's gate maps and norm) brings its own badges, read from its table."""
        for label in self.labels.values():
            self._layout.removeWidget(label)
            label.deleteLater()
        self.labels = {}
        for key in keys:
            label = QLabel()           # its tip: the run's cell kind's (refresh)
            label.setStyleSheet("QLabel { border: 1px solid #888888; border-radius: 6px; padding: 1px 6px; }")
            self._layout.addWidget(label)
            self.labels[key] = label

    def refresh(self) -> None:
        if not self.session_model.ready:
            return
        facts = self.session_model.describe()
        texts = badge_texts(facts)
        keys = tuple(key for key in ("units", "model_input", *badge_names(facts["cell_kind"]), "params"))
        if keys != tuple(self.labels):
            self._set_keys(keys)
        for key, tip in tips(facts["cell_kind"]).items():
            if key in self.labels and self.labels[key].toolTip() != tip:
                self.labels[key].setToolTip(tip)
        self.labels["model_input"].setVisible("model_input" in texts)
        for key, (name, value) in texts.items():
            self.labels[key].setText(f"<b>{name} {value}</b>" if key == "units" else f"{name} <b>{value}</b>")

    def texts(self) -> dict[str, str]:
        return {k: v.text() for k, v in self.labels.items()}
