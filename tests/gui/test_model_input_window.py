"""The window on a model whose input is an image or a waveform: it opens, steps and exports
with no exception in any slot (an exception in a slot fails these tests), shows the model's
input as what it is and the LSTM's own input as the reads strip."""

from __future__ import annotations

import numpy as np
import pyqtgraph as pg
import pytest
from PySide6.QtWidgets import QApplication

from engine.loaders import load_model
from gui.export.figure import export_view
from tests.gui.conftest import open_session
from tests.helpers import FIXTURES

CAP = FIXTURES / "capture"


def _inputs(case: str) -> dict[str, np.ndarray]:
    with np.load(CAP / f"{case}.input.npz", allow_pickle=False) as data:
        return {k: data[k] for k in data.files}


@pytest.mark.parametrize("case, kind, drawn", [("image_bilstm", "image", pg.ImageItem),
                                               ("audio_lstm", "waveform", pg.PlotDataItem)])
def test_an_image_or_audio_model_opens_steps_and_exports(make_window, tmp_path, case, kind, drawn):
    window = make_window()
    session = open_session(window, load_model(CAP / f"{case}.onnx"), _inputs(case))
    for position in (0, 5, session.steps - 1):
        window.go_to_position(position)
        QApplication.processEvents()
    texts = window.badges.texts()
    assert kind in texts["model_input"] and not window.badges.labels["model_input"].isHidden()
    layer_d = session.info.weights.input_dim
    assert f", {layer_d})" in texts["input"] and "layer input" in texts["input"]
    # the input panel: the model's input as what it is, spread along the run's time axis
    items = window.input_panel._x_items
    assert len(items) == 1 and isinstance(items[0], drawn)
    # the reads strip: the LSTM's own input (its D features, not the pixels), a small share
    strip = window.units_panel.strip
    assert strip.kind == "values" and strip.image.image.shape[1] == session.steps
    assert strip.plot.height() <= 0.25 * window.units_panel.glw.height()
    # the status line and the hover text name the layer's input, not pixels
    assert "values" in window.session_model.input_label(3) or "x =" in window.session_model.input_label(3)
    # no generated sequence for a model that reads an image or a waveform; its table says why
    editor = window.input_editor
    assert not editor.tabs.isTabEnabled(editor.tabs.indexOf(editor.preset_tab))
    assert editor.tabs.currentWidget() is editor.file_tab
    for view in ("units", "layer", "cell", "window"):
        export_view(window, view, tmp_path / f"{view}.png", width=600)
    assert not window.errors


def test_a_sequence_model_shows_no_model_input_badge(shared_window):
    from tests.gui.conftest import sine_input, small_model
    window = shared_window
    open_session(window, small_model(), sine_input(12))
    assert window.badges.labels["model_input"].isHidden()
    assert window.badges.texts()["input"].startswith("input ")
