"""An mLSTM in the window (docs/architecture.md, "mLSTM"): opened from a live xlstm
``xLSTMBlockStack`` offscreen, stepped, every dock brought to the front and every view that
applies exported; every signal list is the mLSTM's, every view's shown() agrees with the run,
the units panel groups its lanes by head, and the memory view draws each head's C at the
cursor, stepping live."""

from __future__ import annotations

import pytest

from engine.cells.mlstm_cell import MLSTM_CELL
from engine.live import torch_model
from tests.gui.conftest import bring_to_front, open_session
from tests.gui.test_views_follow_kind import _agree, _signals_shown
from tests.test_mlstm_torch import fixture_stack


@pytest.fixture
def mlstm_window(make_window, qtbot):
    stack, x, _ = fixture_stack(4)
    model = torch_model(stack, x)
    window = make_window()
    for dock in (window.layer_dock, window.cell_dock):
        bring_to_front(qtbot, dock)
    open_session(window, model, x.numpy())
    return window


def test_the_window_steps_an_mlstm_with_its_own_signals(mlstm_window, qtbot, tmp_path):
    from gui.export.figure import FigureOptions, export_view
    from gui.export.views import VIEWS

    window = mlstm_window
    assert window.session_model.cell_kind is MLSTM_CELL
    window.session_model.step(5)
    window.session_model.back(1)
    qtbot.wait(20)
    _signals_shown(window, MLSTM_CELL)
    _agree(window, MLSTM_CELL)
    exported = []
    for name, spec in VIEWS.items():
        if spec.applies(window.session_model.session) is not None:
            continue
        for suffix in (".png", ".csv"):
            export_view(window, name, tmp_path / f"{name}{suffix}", width=320,
                        options=FigureOptions(explain=False, badges=False))
            assert (tmp_path / f"{name}{suffix}").stat().st_size > 0, name
        exported.append(name)
    assert window.errors == []
    assert {"units", "layer", "cell", "memory", "unrolled"} <= set(exported)
    assert "grad" not in exported
    memory = VIEWS["memory"]
    shown = memory.showing(window)
    assert (shown.view, shown.cursor, shown.signals) == ("memory", 3, MLSTM_CELL.display_order)
    from gui.shown import expected
    assert memory.shown(window) == expected(window.session_model)


def test_the_memory_view_draws_each_heads_c_at_the_cursor_stepping_live(mlstm_window, qtbot):
    import numpy as np

    from gui.teaching.docks import teaching_widget
    window = mlstm_window
    view = teaching_widget(window, "memory", show=True)
    sm = window.session_model
    assert view.values is None or view.values.shape == (4, 4, 4)
    full = sm.session.full()
    w = full.weights
    for steps in (3, 4, 9):
        sm.seek(steps)
        qtbot.wait(10)
        want = np.swapaxes(w.memory(full.c[0, steps - 1]), 1, 2)    # rows value, columns key dims
        assert np.array_equal(view.values, want), steps
        assert view.scale >= np.abs(want).max() and view.bar.levels() == (-view.scale, view.scale)
        axis = view.bar.getAxis("right")           # the scale as numbers, never "C (x0.001)"
        assert [label for _, label in axis._tickLevels[0]] == [f"{-view.scale:g}", "0", f"{view.scale:g}"]
        assert axis.scale == 1.0 and axis.labelText == "C"
        assert [p.titleLabel.text.split(" · ")[0] for p in view.plots] == [f"head {k}" for k in range(4)]
        assert view.plots[0].getAxis("left").labelText == "value dim"
        assert view.plots[0].getAxis("bottom").labelText == "key dim"
        assert f"t = {steps - 1}" in view.title.text()
    sm.seek(0)
    qtbot.wait(10)
    assert not view.values.any()                                 # before the first step: C0 = 0
    assert window.errors == []


def test_the_memory_view_refuses_another_kind_in_one_line(make_window):
    """An LSTM has no matrix memory: the export is refused with the reason, the dock says it."""
    from engine.errors import ScopeError
    from gui.export.views import refuse_unless_applies
    from gui.teaching.docks import teaching_widget
    from tests.gui.conftest import sine_input, small_model
    window = make_window()
    open_session(window, small_model(), sine_input())
    with pytest.raises(ScopeError, match="^Matrix memory does not apply here: layer '.*' is an LSTM: "
                                         "the memory view shows an mLSTM's matrix memory C"):
        refuse_unless_applies("memory", window.session_model.session)
    view = teaching_widget(window, "memory", show=True)
    assert "is an LSTM" in view.title.text() and view.values is None
    assert window.errors == []


def test_the_views_say_the_units_are_coupled_through_c_not_u(mlstm_window, make_window, qtbot):
    """No U links anywhere: the units panel groups lanes by head, the inspector draws no
    x·W / h·U / b bars and says h(t-1) is read by nothing, the unrolled view draws no link and
    its wrong pictures say the heads share C."""
    import numpy as np

    from gui.teaching.unrolled import UnrolledView
    from gui.theme import palette
    from tests.gui.test_teaching_views import _model_for, _show
    window = mlstm_window
    panel = window.units_panel
    assert panel.axis.unit_label(5) == "unit 5 · head 1"
    shade = panel.shade.image.ravel()
    assert np.array_equal(shade, ((np.arange(16) // 4)[panel.order] % 2).astype(np.float32))
    window.session_model.seek(6)
    window.session_model.select(5, 5)
    qtbot.wait(20)
    inspector = window.cell_inspector
    assert inspector._bar_plots == {} and inspector.fan.topLevelItemCount() == 0
    assert "h(t-1) is read by nothing" in inspector.diagram.labels["h_prev"]
    full = window.session_model.session.full()
    assert inspector.diagram.labels["nrm"] == f"{float(full.signal('nrm')[0, 5, 5]):+.4f}"
    stack, x, _ = fixture_stack(4)
    sm = _model_for(qtbot, torch_model(stack, x), x.numpy())
    view = _show(qtbot, UnrolledView(sm, palette("light")))
    view.set_k(3)
    view.set_wrong(True)
    sm.seek(8)
    view.canvas.grab()
    assert view.canvas.drawn_links == []
    assert "no recurrent kernel" in view.canvas.legend_text()
    copies = view.canvas.wrong_copies_text()
    assert "share its 4 x 4 matrix memory C" in copies and "the 4 heads, not the units" in copies
    assert "U is" not in view.canvas.wrong_chain_text()
    assert window.errors == []
