"""A model LSTM Scope computes only up to its LSTMs (Keras 2.1 list form, BatchNormalization
and Conv1D after them): the window traces its layers and says the model has no output."""

from __future__ import annotations

import numpy as np

from engine import load_model
from tests.gui.conftest import open_session
from tests.helpers import FIXTURES, assert_close, load_reference


def test_window_shows_a_run_without_model_output(make_window, qtbot):
    ref = load_reference(FIXTURES / "keras2" / "keras21_list.npz")
    model = load_model(FIXTURES / "keras2" / "keras21_list.h5")
    w = make_window()
    open_session(w, model, ref["x"], layer="bidirectional_1/backward")
    assert "none" in w.badges.texts()["output"]
    assert w.session_model.output() is None
    assert w.input_panel._no_output is not None
    assert "no model output" in w.input_panel._no_output.toPlainText()
    assert_close(w.session_model.session.full().h, ref["layer2_h"], "window backward h")
    w.session_model.seek(ref["x"].shape[1])
    assert np.isfinite(w.session_model.value("h", 0, 4))
    assert not w.errors
