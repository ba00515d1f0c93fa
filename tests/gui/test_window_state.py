"""One model, one state, one t: what a user meets when switching models and reading positions.

Any exception raised inside a Qt slot fails these tests (pytest-qt's exception capture).
"""

from __future__ import annotations

import numpy as np
import pytest

from tests.gui.conftest import bring_to_front, open_session, sine_input, small_model


def _load(window, spec: str) -> None:
    window.load(spec, wait=True)
    assert window.session_model.source == spec, window.errors


def test_switching_models_keeps_nothing_of_the_last_one(make_window, qtbot):
    w = make_window()
    bring_to_front(qtbot, w.layer_dock)
    w.exporter.settings.setValue("export/title", "1024 random units")
    _load(w, "demo:wide")
    panel = w.units_panel
    panel.filter_edit.setText("500")
    panel.set_filter("500")
    assert list(panel.order) == [500]
    panel.info.setText("unit 500 · t = 3 · stale")
    _load(w, "demo")                         # the sine demo: 12 units
    assert panel.filter_text == "" and panel.filter_edit.text() == ""
    assert "'500' cleared" in w.statusBar().currentMessage()
    assert panel.lane_count() == 12 and list(panel.order) == list(range(12))
    assert panel.info.text().strip() == ""
    layer = w.layer_view
    assert layer.heat["h"].data.shape == (12, w.session_model.steps)
    assert w.exporter.settings.value("export/title") is None
    # the input plot's y range shows the whole new input
    lo, hi = w.input_panel.x_plot.getViewBox().viewRange()[1]
    x = np.asarray(w.session_model.session.x)[0]
    assert lo <= float(np.nanmin(x)) and float(np.nanmax(x)) <= hi
    _load(w, "demo:counter")
    assert panel.lane_count() == w.session_model.units == 6
    _load(w, "demo:text")
    assert panel.lane_count() == w.session_model.units
    editor = w.input_editor
    ids = np.asarray(w.session_model.session.x)[0]
    vocab = w.session_model.vocabulary()
    assert editor.text_edit.text() == "".join(vocab[int(k)] for k in ids)
    assert editor.tabs.currentWidget() is editor.text_tab
    assert w.errors == []


def test_a_filter_that_still_applies_survives_a_new_input(make_window):
    w = make_window()
    open_session(w, small_model(8), sine_input())
    w.units_panel.set_filter("2:5")
    w.load(None, x=sine_input(20), wait=True)
    assert list(w.units_panel.order) == [2, 3, 4]


@pytest.mark.parametrize("backward", [False, True])
def test_every_place_names_the_same_position(make_window, backward):
    """Toolbar, status bar, inspector, Go to step, breakpoint message: one t."""
    w = make_window()
    model = small_model(5)
    if backward:
        from engine.network.layers import LSTM
        from engine.network.model import Model
        layer = next(op for op in model.ops if isinstance(op, LSTM))
        model = Model([LSTM("back", layer.weights, return_sequences=True, go_backwards=True)],
                      source="backward")
    open_session(w, model, sine_input(40))
    s = w.session_model.session
    assert "before t = " in w.t_label.text() and "0 of 40 read" in w.t_label.text()
    w.go_to_position(29)
    assert s.cursor == 29
    read = 30 if not backward else 11
    assert s.t == read
    assert f"t = 29 · {read} of 40 read" in w.t_label.text()
    assert f"t = 29 · {read} of 40 read" in w.status_label.text()
    if backward:
        assert "positions 29..39" in w.t_label.text()
    w.cell_dock.show()
    w.cell_dock.raise_()
    w.cell_inspector.refresh()
    assert w.cell_inspector.breakdown is not None and w.cell_inspector.breakdown.position == 29
    titles = [item.toPlainText() for item in w.cell_inspector.diagram.scene().items()
              if hasattr(item, "toPlainText")]
    assert any("t = 29" in text for text in titles)
    assert w.cell_inspector.step_spin.value() == 29
    # a breakpoint that holds from position 31 on: F5 stops there and says so
    w.session_model.seek(0)
    target = 31 if not backward else 8
    w.debugging.debugger.add_breakpoint(f"t == {target}")
    w.run_continue(1)
    assert s.cursor == target
    message = w.statusBar().currentMessage()
    assert f"breakpoint hit at t = {target}" in message
    assert f"t = {target}" in w.t_label.text()
