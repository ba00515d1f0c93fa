"""The teaching docks on a checkpointed run (docs/architecture.md, "Long runs"): each opens from
the View menu without an error and draws the in-memory run's numbers over the span around the
cursor, or says in one plain line why its picture needs a run that fits in memory."""

from __future__ import annotations

import numpy as np
import pytest

from engine import Session, load_model
from engine.loaders.demos import default_demo_input, demo_info
from engine.network.model import Model
from gui.loader_worker import LoadResult
from tests.gui.conftest import settle_span
from tests.helpers import bidirectional_model


def _counter_runs(samples: int = 2, repeats: int = 16):
    """The counter demo over a long input (its default text repeated), in memory and
    checkpointed, both at the same cursor afterwards."""
    model = load_model("demo:counter")
    x = np.asarray(default_demo_input(demo_info("counter"), model))
    x = np.concatenate([x] * repeats, axis=-1)
    x = np.stack([x, x[..., ::-1]][:samples]) if x.ndim == 1 else x
    return model, x, Session(model, x), Session(model, x, checkpoint_above=0)


@pytest.fixture
def small_spans(monkeypatch):
    import gui.session_model as sm_module
    monkeypatch.setattr(sm_module, "SPAN_BYTES", 1)          # the smallest span: 256 positions


def _open(make_window, session):
    window = make_window()
    window.resize(1300, 900)
    window.show_loaded(LoadResult(session, "test-model", "test-input"))
    window.first_pass.cancel()
    window.first_pass.wait()
    return window


def _dock(window, view):
    window.show_teaching(view)     # as the View menu does (greyed out where the view cannot show)
    widget = getattr(window, f"{view}_view")
    widget.resize(1200, 600)
    return widget


def _seek_and_draw(qtbot, window, k: int, *views) -> tuple[int, int]:
    """Move the cursor to t = k, wait for the span around it, draw the views; the span."""
    window.session_model.seek(k)
    settle_span(qtbot, window.session_model)
    for view in views:
        view.canvas.grab()
    return window.session_model.span()


def test_unrolled_view_draws_the_in_memory_values_around_the_cursor(make_window, qtbot, small_spans):
    model, x, mem, ck = _counter_runs()
    assert ck.checkpointed and ck.steps > 600
    window = _open(make_window, ck)
    view = _dock(window, "unrolled")
    for k in (40, 500, ck.steps - 3, 300):                   # across spans and back
        _seek_and_draw(qtbot, window, k, view)
        drawn = view.canvas.drawn_cells
        assert drawn, f"nothing drawn at t={k}"
        c = mem.full().c[0]
        for (unit, t), colour in drawn.items():
            assert t < k
            rgb = (colour.red(), colour.green(), colour.blue())
            assert rgb == view.scale.rgb(float(c[t, unit])), (unit, t)
        assert {u for u, t in drawn if t == k - 1} == set(range(ck.units))
    view.set_wrong(True)                      # the decouple what-if says why it is not measured
    view.canvas.grab()
    assert view.effect() is None and "fits in memory" in view.effect_note
    assert window.errors == []


def test_text_view_colours_the_span_and_clicks_step_there(make_window, qtbot, small_spans):
    from PySide6.QtCore import QPoint, Qt
    model, x, mem, ck = _counter_runs(samples=1)
    window = _open(make_window, ck)
    view = _dock(window, "text")
    a, b = _seek_and_draw(qtbot, window, 700, view)
    assert view.offset == a > 0 and len(view.text) == b - a
    c = mem.full().c[0]
    drawn = view.canvas.drawn
    assert {a + pos for _, pos in drawn} == set(range(a, 700))
    for (unit, pos), colour in drawn.items():
        rgb = (colour.red(), colour.green(), colour.blue())
        assert rgb == view.scale_for(unit).rgb(float(c[a + pos, unit]))
    ranked = view.find("depth('(', ')')")
    assert ranked and "span" in view.find_info.text()
    target = view.canvas.layout_.char_rect(0, 10).center()
    qtbot.mouseClick(view.canvas, Qt.LeftButton, pos=QPoint(int(target.x()), int(target.y())))
    assert ck.cursor == a + 10
    assert window.errors == []


def test_samples_view_shows_every_sample_over_the_span(make_window, qtbot, small_spans):
    model, x, mem, ck = _counter_runs(samples=2)
    window = _open(make_window, ck)
    view = _dock(window, "samples")
    mem.seek(650)
    a, b = _seek_and_draw(qtbot, window, 650, view)
    assert view.axis() == (a, b - a)
    assert len(view.canvas.boxes) == 2
    live = mem.trace.c
    for sample, (_, _, values) in enumerate(view.canvas.boxes):
        np.testing.assert_array_equal(values, live[sample, a:b].T)
    assert "checkpointed" in view.canvas.boxes[0][0]
    assert window.errors == []


@pytest.mark.parametrize("bidirectional", [False, True])
def test_directions_view_says_once_why_it_needs_a_run_in_memory(make_window, qtbot, bidirectional):
    model = bidirectional_model() if bidirectional else load_model("demo:counter")
    if bidirectional:
        x = np.random.default_rng(1).normal(size=(1, 600, 2)).astype(np.float32)
    else:
        x = _counter_runs()[1]
    ck = Session(model, x, checkpoint_above=0)
    window = _open(make_window, ck)
    view = _dock(window, "directions")
    _seek_and_draw(qtbot, window, 300, view)
    maps = view.maps()
    assert isinstance(maps, str) and view.canvas.boxes == []
    if bidirectional:
        assert "fits in memory" in maps and maps.count("fits in memory") == 1
    else:
        assert "plain LSTM" in maps
    assert window.errors == []


def test_a_backward_checkpointed_layer_draws_right_to_left_in_its_span(make_window, qtbot, small_spans):
    """A backward layer reads from the end: after k steps its cursor is at T-k, the unrolled
    view's columns there hold the in-memory values, and the samples view's maps the span's."""
    from engine.network.layers import LSTM
    from tests.gui.conftest import small_model
    weights = small_model(6, 3).traced_layers[0].weights
    model = Model([LSTM("lstm", weights, return_sequences=True, go_backwards=True)], source="test")
    x = np.random.default_rng(2).normal(size=(2, 900, 3)).astype(np.float32)
    mem, ck = Session(model, x), Session(model, x, checkpoint_above=0)
    window = _open(make_window, ck)
    unrolled = _dock(window, "unrolled")
    samples = _dock(window, "samples")
    window.session_model.seek(500)
    settle_span(qtbot, window.session_model)
    mem.seek(500)
    cursor = ck.cursor
    assert cursor == 400
    unrolled.canvas.grab()
    drawn = unrolled.canvas.drawn_cells
    c = mem.full().c[0]
    assert drawn and {t for _, t in drawn} <= set(range(cursor, ck.steps))
    for (unit, t), colour in drawn.items():
        assert (colour.red(), colour.green(), colour.blue()) == unrolled.scale.rgb(float(c[t, unit]))
    samples.canvas.grab()
    a, b = window.session_model.span()
    for sample, (_, _, values) in enumerate(samples.canvas.boxes):
        np.testing.assert_array_equal(values, mem.trace.c[sample, a:b].T)
    assert window.errors == []


def test_a_long_text_lays_out_a_window_around_the_cursor(make_window, qtbot, monkeypatch):
    """Beyond MAX_CHARS characters (here 64) the text view lays out a window around the
    cursor, moves it when the cursor leaves it, and still colours each character with the
    engine's value at that position; Find units ranks over the whole input."""
    import gui.teaching.text_view as text_module
    monkeypatch.setattr(text_module, "MAX_CHARS", 64)
    model, x, mem, _ = _counter_runs(samples=1)
    run = Session(model, x)
    window = _open(make_window, run)
    view = _dock(window, "text")
    c = mem.full().c[0]
    for k in (10, 500, 520, 900):
        _seek_and_draw(qtbot, window, k, view)
        assert len(view.text) == 64 and view.offset <= k - 1 < view.offset + 64
        for (unit, pos), colour in view.canvas.drawn.items():
            assert view.offset + pos < k
            rgb = (colour.red(), colour.green(), colour.blue())
            assert rgb == view.scale_for(unit).rgb(float(c[view.offset + pos, unit]))
    assert view.find("depth('(', ')')") and f"the {run.steps} characters" in view.find_info.text()
    assert window.errors == []
