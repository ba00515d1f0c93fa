"""The one table of exportable views (gui.export.views): every entry keeps the protocol the
Export dialog, ``main.py export`` and these tests rely on."""

from __future__ import annotations

import json

import numpy as np
import pytest
from PySide6.QtWidgets import QApplication

from engine.errors import ScopeError
from engine.network.model_input import SEQUENCE
from gui.export.figure import FigureOptions, export_view
from gui.export.views import VIEWS, Showing, view
from gui.shown import expected
from tests.gui.conftest import exported_window
from tests.helpers import bidirectional_model, image_of


@pytest.fixture(scope="module")
def _one_window(tmp_path_factory):
    """A Bidirectional layer on a batch of two: every view but the text view applies. One
    window for the module (building and opening one is about a second of CPU): each test
    exports from it or reads it, and an export puts back what it touched
    (tests/gui/test_export.py)."""
    x = np.random.default_rng(3).normal(size=(2, 16, 2)).astype(np.float32)
    yield from exported_window(tmp_path_factory.mktemp("views"), bidirectional_model(), x,
                               layer="bi/backward")


@pytest.fixture
def window(_one_window):
    """The shared window on sample 1 at position 9, as each test finds it."""
    _one_window.session_model.set_sample(1)
    _one_window.go_to_position(9)
    QApplication.processEvents()
    yield _one_window
    assert _one_window.errors == []


def test_the_table_names_each_view_once_with_a_title():
    assert list(VIEWS) == ["units", "layer", "cell", "grad", "window", "unrolled", "text",
                           "directions", "samples", "memory"]
    assert all(spec.name == name and spec.title for name, spec in VIEWS.items())
    assert len({spec.title for spec in VIEWS.values()}) == len(VIEWS)
    with pytest.raises(ScopeError, match="unknown view 'nope' \\(choose units, layer"):
        view("nope")


@pytest.mark.parametrize("name", [n for n in VIEWS if n not in ("text", "memory")])
def test_what_a_view_shows_is_what_its_export_says(window, tmp_path, name):
    """``showing`` (the state-machine invariants' source) agrees with the session and with the
    metadata its picture carries."""
    session = window.session_model.session
    spec = VIEWS[name]
    assert spec.applies(session) is None
    export_view(window, name, tmp_path / "v.png", width=320,
                options=FigureOptions(explain=False, badges=False))
    shown = spec.showing(window)
    assert isinstance(shown, Showing)
    assert (shown.view, shown.model, shown.layer, shown.direction) == (
        name, "test-model", "bi/backward", "backward")
    assert (shown.units, shown.steps, shown.t, shown.cursor, shown.sample) == (
        session.units, session.steps, session.t, 9, 1)
    assert shown.signals == ("f", "i", "o", "g", "c", "h")
    assert shown.model_input.kind == SEQUENCE and shown.model_input.shape == (2, 16, 2)
    assert shown.layer_input == (2, 16, 2)
    assert all(0 <= u < session.units for u in shown.lanes) and shown.lanes
    meta = json.loads(image_of(tmp_path / "v.png").text["lstm-scope"])
    assert (meta["view"], meta["cursor"], meta["steps"], meta["sample"]) == (name, 9, 16, 1)
    assert spec.logical_size(window, session.units)[0] >= 900
    drawn = spec.shown(window)           # what its panel drew, as the state-machine test reads it
    assert drawn == expected(window.session_model) or (drawn is None and name not in ("units",
                                                                                      "window"))
    assert not window.errors


def test_the_memory_view_does_not_apply_to_an_lstm(window, tmp_path):
    """The memory view is an mLSTM's (tests/gui/test_mlstm_window.py exports it)."""
    reason = VIEWS["memory"].applies(window.session_model.session)
    assert reason and "is an LSTM" in reason and "\n" not in reason
    with pytest.raises(ScopeError, match="Matrix memory does not apply here"):
        export_view(window, "memory", tmp_path / "m.png")


def test_the_text_view_does_not_apply_to_vectors(window, tmp_path):
    reason = VIEWS["text"].applies(window.session_model.session)
    assert reason and "read characters" in reason and "\n" not in reason
    with pytest.raises(ScopeError, match="Text view does not apply here"):
        export_view(window, "text", tmp_path / "t.png")
