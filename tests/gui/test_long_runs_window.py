"""Window features on a checkpointed run (docs/architecture.md, "Long runs") beyond the views:
session files save and reopen it, and the View-menu docks, breakpoints, watches, forks,
exports and Compare inputs answer without an exception, each with the in-memory run's numbers
or one readable message."""

from __future__ import annotations

import numpy as np
import pytest

from engine import Session, load_model
from engine.stepper import XW_BLOCK
from gui.loader_worker import LoadResult
from gui.session_files import open_session_dialog, save_session_dialog


@pytest.fixture
def small_spans(monkeypatch):
    import gui.session_model as sm_module
    monkeypatch.setattr(sm_module, "SPAN_BYTES", 1)          # the smallest span: 256 positions


def _runs(steps: int = 700, batch: int = 1):
    model = load_model("demo:counter")
    x = np.random.default_rng(3).integers(1, model.vocab_size, (batch, steps))
    return model, Session(model, x), Session(model, x, checkpoint_above=0,
                                             checkpoint_interval=XW_BLOCK)


def _open(make_window, session):
    window = make_window()
    window.resize(1300, 900)
    window.show()
    window.show_loaded(LoadResult(session, session.model.source, "test-input"))
    return window


def _stop(*windows):
    for window in windows:
        window.first_pass.cancel()
        window.first_pass.wait()


def test_save_session_on_a_checkpointed_run_reopens_it_at_the_cursor(make_window, tmp_path,
                                                                     small_spans):
    model, mem, ck = _runs()
    w = _open(make_window, ck)
    w.session_model.seek(600)
    w.session_model.select(3, 599)
    w.breakpoints_panel.edit.setText("any(abs(c) > 1.0)")
    w.breakpoints_panel.add_from_edit()
    w.watches_panel.edit.setText("max(h)")
    w.watches_panel.add_from_edit()
    path = tmp_path / "long.lstmscope"
    assert save_session_dialog(w, w.debugging, str(path))
    w2 = make_window()
    assert open_session_dialog(w2, w2.debugging, str(path))
    sm2 = w2.session_model
    assert sm2.checkpointed and sm2.t == 600 and (sm2.selected_unit, sm2.selected_position) == (3, 599)
    a, b = sm2.span()
    assert a <= 599 < b
    mem.seek(600)
    assert sm2.value("c", 3, 599) == float(mem.full().c[0, 599, 3])
    assert [bp.expression for bp in w2.debugging.debugger.breakpoints] == ["any(abs(c) > 1.0)"]
    assert w2.watches_panel.table.rowCount() == 1
    w2.grab()
    assert w.errors == [] and w2.errors == []
    _stop(w, w2)
