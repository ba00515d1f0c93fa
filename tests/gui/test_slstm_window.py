"""An sLSTM in the window (docs/architecture.md, "sLSTM"): opened from a live xlstm
``xLSTMBlockStack`` offscreen, stepped, every dock brought to the front and every view that
applies exported; every signal list is the sLSTM's (with its normalizer and stabiliser),
every view's shown() agrees with the run, and the views that draw units group them by head."""

from __future__ import annotations

import numpy as np
import pytest

from engine.cells.slstm_cell import SLSTM_CELL
from engine.live import torch_model
from tests.gui.conftest import bring_to_front, export_every_view, open_session
from tests.gui.test_views_follow_kind import _agree, _signals_shown
from tests.test_slstm_torch import fixture_stack


@pytest.fixture
def slstm_window(shared_window, qtbot):
    stack, x, _ = fixture_stack(4)
    model = torch_model(stack, x)
    window = shared_window
    for dock in (window.layer_dock, window.cell_dock):
        bring_to_front(qtbot, dock)
    open_session(window, model, x.numpy())
    return window


def test_the_window_steps_an_slstm_with_its_own_signals(slstm_window, qtbot, tmp_path):
    window = slstm_window
    assert window.session_model.cell_kind is SLSTM_CELL
    window.session_model.step(5)
    window.session_model.back(1)
    qtbot.wait(20)
    _signals_shown(window, SLSTM_CELL)
    _agree(window, SLSTM_CELL)
    assert "units" in export_every_view(window, tmp_path)
    assert window.errors == []


def test_the_units_panel_groups_lanes_by_head(slstm_window):
    """4 heads of 2 units: lanes say their head and are shaded by head, not by unit."""
    panel = slstm_window.units_panel
    assert panel.axis.unit_label(3) == "unit 3 · head 1"
    shade = panel.shade.image.ravel()
    heads = np.arange(8) // 2
    assert np.array_equal(shade, (heads[panel.order] % 2).astype(np.float32))


def test_the_inspector_shows_the_stabilised_gates_and_the_normalizer(slstm_window, qtbot):
    window = slstm_window
    window.session_model.seek(6)
    window.session_model.select(3, 5)
    qtbot.wait(20)
    inspector = window.cell_inspector
    labels, b = inspector.diagram.labels, inspector.breakdown
    full = window.session_model.session.full()
    for name in ("c", "nrm", "stab", "h"):
        assert labels[name] == f"{float(full.signal(name)[0, 5, 3]):+.4f}", name
    assert labels["i"] == f"{float(full.signal('i')[0, 5, 3]):+.4f}" and b.gates["i"] <= 1
    assert window.errors == []


def test_the_unrolled_view_draws_links_within_heads_only(make_window, qtbot):
    """Every drawn link joins two units of one head: U is zero between heads."""
    from gui.teaching.unrolled import UnrolledView
    from gui.theme import palette
    from tests.gui.test_teaching_views import _model_for, _show
    stack, x, _ = fixture_stack(4)                # 4 heads of 2 units: 1 other unit per head
    sm = _model_for(qtbot, torch_model(stack, x), x.numpy())
    view = _show(qtbot, UnrolledView(sm, palette("light")))
    view.set_k(3)                                 # more links asked than a head holds
    sm.seek(8)
    view.canvas.grab()
    drawn = view.canvas.drawn_links
    assert drawn
    assert all(a // 2 == b // 2 for a, b, _, _ in drawn), drawn


def test_the_wrong_pictures_say_the_heads_are_the_copies(make_window, qtbot):
    """Over an sLSTM the wrong pictures' sentences say what changes: units read their own
    head's h, and the heads, not the units, run as independent copies."""
    from gui.teaching.unrolled import UnrolledView
    from gui.theme import palette
    from tests.gui.test_teaching_views import _model_for, _show
    stack, x, _ = fixture_stack(4)
    sm = _model_for(qtbot, torch_model(stack, x), x.numpy())
    view = _show(qtbot, UnrolledView(sm, palette("light")))
    view.set_wrong(True)
    sm.seek(8)
    view.canvas.grab()
    copies, chain = view.canvas.wrong_copies_text(), view.canvas.wrong_chain_text()
    assert "read the 2 entries of h_t−1 of its own head" in copies
    assert "the heads, not the units, run as independent copies" in copies
    assert "decouple what-if measures it" in copies
    assert "read the units of their own head (4 heads)" in chain


def test_the_window_opens_an_slstm_stack_from_its_state_dict_and_config(make_window, qtbot, tmp_path):
    """``main.py model.pt --config cfg.yaml --input x.npy``: the loader builds the stack from
    the config, the window steps its sLSTM cells with their own signals."""
    from tests.helpers import FIXTURES, assert_close, load_reference
    xlstm = FIXTURES / "xlstm"
    ref = load_reference(xlstm / "slstm_h4.npz")
    np.save(tmp_path / "x.npy", ref["x"])
    window = make_window()
    for dock in (window.layer_dock, window.cell_dock):
        bring_to_front(qtbot, dock)
    window.load(str(xlstm / "slstm_h4.pt"), str(tmp_path / "x.npy"), layer=1, wait=True,
                options={"config": str(xlstm / "slstm_h4.yaml")})
    qtbot.waitUntil(lambda: window.session_model.ready, timeout=20000)
    assert window.session_model.cell_kind is SLSTM_CELL
    session = window.session_model.session
    session.to_end()
    assert_close(session.trace.h, ref["layer1_h"], "the window's sLSTM h")
    _signals_shown(window, SLSTM_CELL)


def test_the_unrolled_figure_words_the_heads(make_window, qtbot, tmp_path, monkeypatch):
    """Over an sLSTM of 4 heads of 2 units the figure says what it draws: the footer says a
    cell reads the h of its own head's units (not "of every unit"), and the legend counts the
    links a unit can have (1 other unit in its head, not the 2 asked for)."""
    from PySide6.QtWidgets import QLabel

    from gui.export import figure
    from gui.export.figure import FigureOptions, export_view
    stack, x, _ = fixture_stack(4)
    window = make_window()
    open_session(window, torch_model(stack, x), x.numpy())
    window.session_model.step(6)
    footers: list[str] = []
    real = figure.build_footer

    def watched(*args, **kwargs):
        built = real(*args, **kwargs)
        footers.append(" ".join(label.text() for label in built.findChildren(QLabel)))
        return built
    monkeypatch.setattr(figure, "build_footer", watched)
    export_view(window, "unrolled", tmp_path / "u.png", width=640, options=FigureOptions())
    legend = " ".join(i.text for i in window.unrolled_view.canvas.text_items if i.text.startswith("lines:"))
    assert footers and "previous h of every unit of its own head (U is 0 between the 4 heads" in footers[-1], footers[-1]
    assert "1 strongest per unit" in legend, legend
    drawn = window.unrolled_view.canvas.drawn_links
    cursor = window.session_model.session.cursor
    assert {b for _, b, t, _ in drawn if t == cursor} == set(range(8))     # one link each
    assert len([1 for *_, t, _ in drawn if t == cursor]) == 8
    assert window.errors == []


def test_the_normalizer_is_coloured_from_zero_on_the_sequential_scale():
    """n is positive by construction: viridis from 0 (as the gates and |∂|), not a scale
    symmetric about 0 whose lower half no value reaches; C stays diverging."""
    import pyqtgraph as pg

    from gui.panels.heat_maps import _cmap, _levels, trace_image
    from gui.teaching.common import colour_scale
    from tests.test_slstm import slstm_model, weights
    w = weights()
    x = np.random.default_rng(3).normal(size=(1, 12, w.input_dim)).astype(np.float32)
    full = slstm_model(w).trace(x).layer(0)
    n = trace_image(full, "nrm", 0)
    assert (n > 0).all()
    viridis = pg.colormap.get("viridis").getLookupTable(nPts=256, alpha=False)
    assert np.array_equal(_cmap("nrm", SLSTM_CELL).getLookupTable(nPts=256, alpha=False), viridis)
    lo, hi = _levels("nrm", full, n)
    assert lo == 0 and hi == pytest.approx(float(n.max()))
    scale = colour_scale("nrm", w, n)
    assert not scale.diverging and scale.lo == 0 < scale.hi
    assert _levels("c", full, trace_image(full, "c", 0))[0] < 0 and colour_scale("c", w, n).diverging
