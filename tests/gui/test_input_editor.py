"""The Input dock: presets, tokens, table edits, files, carried state and the memory guard."""

from __future__ import annotations

import numpy as np
import pytest

from engine.cells.cell import CellWeights
from engine.network.layers import LSTM, Embedding
from engine.network.model import Model
from engine.system.presets import generate
from tests.gui.conftest import open_session, sine_input, small_model


@pytest.fixture
def window(make_window):
    w = make_window()
    open_session(w, small_model(units=4, features=3), sine_input(20))
    return w


def _traced(window, qtbot, old):
    window.loader.wait()
    qtbot.waitUntil(lambda: window.session_model.session is not old, timeout=10000)
    return window.session_model.session


def test_preset_is_shaped_to_the_model_and_traced(window, qtbot):
    editor = window.input_editor
    editor.preset_combo.setCurrentIndex([p for p in range(editor.preset_combo.count())
                                         if editor.preset_combo.itemData(p) == "impulse"][0])
    editor.length_spin.setValue(33)
    editor.param_spins["at"].setValue(5)
    old = window.session_model.session
    editor.apply_preset()
    s = _traced(window, qtbot, old)
    assert s.x.shape == (1, 33, 3)
    assert np.array_equal(s.x[0], generate("impulse", 33, 3, at=5))
    assert s.layer_index == old.layer_index


def test_batch_of_presets(window, qtbot):
    editor = window.input_editor
    editor.batch_spin.setValue(3)
    old = window.session_model.session
    editor.apply_preset()
    s = _traced(window, qtbot, old)
    assert s.batch == 3 and window.sample_spin.maximum() == 2
    assert not np.array_equal(s.x[0], s.x[1])


def test_table_edit_and_bad_cell(window, qtbot):
    editor = window.input_editor
    assert editor.table.rowCount() == 20 and editor.table.columnCount() == 3
    editor.table.item(2, 1).setText("7.5")
    old = window.session_model.session
    editor.apply_table()
    s = _traced(window, qtbot, old)
    assert s.x[0, 2, 1] == pytest.approx(7.5)
    editor.table.item(0, 0).setText("abc")
    editor.apply_table()
    assert "row 0, column x0: 'abc' is not a number" in window.errors[-1]


def test_csv_file_with_wrong_columns_is_explained(window, tmp_path):
    path = tmp_path / "x.csv"
    path.write_text("a,b,c,d,e\n" + "\n".join("1,2,3,4,5" for _ in range(6)))
    window.input_editor.load_file(str(path))
    window.loader.wait()
    from PySide6.QtWidgets import QApplication
    QApplication.processEvents()
    assert "expects 3 features" in window.errors[-1] and "5" in window.errors[-1]


def test_carried_state_starts_the_next_segment(window, qtbot):
    editor = window.input_editor
    first = window.session_model.session
    final_h, final_c = first.full().final_state()
    editor.carry.setChecked(True)
    editor.apply_preset()
    s = _traced(window, qtbot, first)
    assert np.array_equal(s.runner.h0, final_h) and np.array_equal(s.runner.c0, final_c)
    assert "carried state" in editor.state_label.text()


def test_carried_state_reaches_every_layer_of_a_stack(make_window, qtbot):
    from tests.gui.conftest import open_session, sine_input, stacked_model
    window = make_window()
    first = open_session(window, stacked_model(), sine_input(12), layer=1)
    finals = first.final_states()
    window.input_editor.carry.setChecked(True)
    window.input_editor.apply_preset()
    s = _traced(window, qtbot, first)
    assert s.layer_index == 1
    deeper = s.full()            # the traced (second) layer starts from its own final state
    assert np.array_equal(deeper.h0, finals["second"][0])
    s.set_layer(0)               # and so does the first layer, which feeds it
    assert np.array_equal(s.full().c0, finals["first"][1])


def test_memory_guard_asks_before_a_huge_trace(window):
    editor = window.input_editor
    asked = []
    editor.confirm_large = lambda need: asked.append(need) or False
    editor.budget = 1000
    old = window.session_model.session
    editor.apply_preset()
    assert asked and asked[0] > 1000
    assert window.session_model.session is old


def test_text_tab_flags_unknown_characters(make_window, qtbot):
    rng = np.random.default_rng(0)
    cell = CellWeights(rng.normal(0, .5, (4, 12)), rng.normal(0, .5, (3, 12)), np.zeros(12))
    model = Model([Embedding("emb", rng.normal(size=(5, 4)).astype(np.float32)),
                   LSTM("lstm", cell, return_sequences=True)], source="tokens")
    from engine.loaders.demos import DemoInfo
    model.metadata["demo"] = DemoInfo("t", vocabulary=["_", "a", "b", "c", "?"])
    w = make_window()
    open_session(w, model, np.array([1, 2, 3, 1]))
    editor = w.input_editor
    assert editor.tabs.isTabEnabled(editor.tabs.indexOf(editor.text_tab))
    editor.text_edit.setText("abz")
    ids = editor.token_input()
    assert ids.tolist() == [1, 2, 4]
    assert "'z' at 2" in editor.unknown_label.text()
    editor.ids_edit.setText("1 9")
    editor.apply_text()
    assert "0..4" in w.errors[-1]


def test_npz_with_named_inputs_feeds_each_input_by_name(make_window, qtbot, monkeypatch):
    """A model with several inputs: the dock reads every array of the .npz by name (no array to
    choose); a one-input model offers the array named like its input first."""
    from PySide6.QtWidgets import QInputDialog

    from engine.loaders import load_model
    from tests.helpers import FIXTURES
    cap = FIXTURES / "capture"
    window = make_window()
    model = load_model(cap / "lstm_state_tensor.onnx")
    with np.load(cap / "lstm_state_tensor_given.input.npz") as data:
        given = {k: data[k] for k in data.files}
    old = open_session(window, model, {"x": given["x"]})
    asked: list[list[str]] = []
    monkeypatch.setattr(QInputDialog, "getItem",
                        staticmethod(lambda *a, **k: (asked.append(list(a[3])), (None, False))[1]))
    assert window.input_editor.choose_array(["x", "state"]) == (None, True)
    assert not asked                                  # several inputs: each array by its name
    window.input_editor.load_file(str(cap / "lstm_state_tensor_given.input.npz"))
    session = _traced(window, qtbot, old)
    assert not window.errors, window.errors
    with np.load(cap / "lstm_state_tensor_given.ref.npz") as ref:
        np.testing.assert_allclose(session.full().h, ref["layer0_h"], atol=1e-5, rtol=1e-5)
    one = small_model(units=4, features=3)
    one.input_names = ["signal"]
    open_session(window, one, sine_input(10))
    window.input_editor.choose_array(["other", "signal"])
    assert asked == [["signal", "other"]]


def test_a_run_read_from_a_file_shows_the_file_not_a_preset(make_window):
    """A float input read from a file (``--input x.npy``) showed the Preset tab set to "Sine,
    length T 12": a window figure said the run was a sine preset. The File tab is in front
    and names the file; a generated input keeps the Preset tab."""
    from engine import Session
    from gui.loader_worker import LoadResult
    window = make_window()
    session = Session(small_model(units=4, features=3), sine_input(12))
    window.show_loaded(LoadResult(session, "test-model", "data/wave.npy"))
    editor = window.input_editor
    assert editor.tabs.currentWidget() is editor.file_tab
    assert "wave.npy" in editor.file_label.text()
    open_session(window, small_model(units=4, features=3), sine_input(20))
    assert editor.tabs.currentWidget() is editor.file_tab       # stays where it was
    assert editor.file_label.text() == ""
    assert window.errors == []
