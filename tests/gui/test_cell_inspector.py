"""Cell inspector: the numbers drawn are the engine's, and they add up."""

from __future__ import annotations

import numpy as np
import pytest

from engine.analyses.analysis import cell_breakdown
from engine.cells.cell import STORAGE_GATE_ORDER
from tests.gui.conftest import open_session, sine_input, small_model
from tests.helpers import FIXTURES, read_npz


def close(a, b):
    return abs(a - b) <= 1e-5 + 1e-5 * abs(b)


def test_inspector_numbers_match_engine(shared_window):
    window = shared_window
    session = open_session(window, small_model(6, 3), sine_input(20))
    window.session_model.step(7)
    window.session_model.select(4, -1)
    insp = window.cell_inspector
    assert insp.unit == 4 and insp.position() == session.cursor == 6
    b = cell_breakdown(session.full(), 0, 4, 6)
    w = session.full().weights
    for g in STORAGE_GATE_ORDER:
        zx, zh, zb, z = insp.bar_values(g)
        assert (zx, zh, zb) == (b.zx[g], b.zh[g], b.zb[g])
        assert close(zx + zh + zb, z)
        act = w.cell_activation if g == "g" else w.gate_activation
        assert close(float(act(np.float32(z))), insp.breakdown.gates[g])
        assert insp.diagram.labels[g] == f"{b.gates[g]:+.4f}"
    assert insp.diagram.labels["c"] == f"{b.c:+.4f}"
    assert insp.diagram.labels["h"] == f"{b.h:+.4f}"
    assert insp.diagram.labels["c_prev"] == f"{b.c_prev:+.4f}"
    assert insp.diagram.labels["c_prev"] == f"{float(session.full().c[0, 5, 4]):+.4f}"


def test_fan_in_top_contributors_and_lane_marks(shared_window):
    window = shared_window
    session = open_session(window, small_model(8, 3), sine_input(20))
    window.session_model.step(5)
    window.session_model.select(2, 3)            # a click pins the step
    insp = window.cell_inspector
    assert insp.position() == 3
    b = cell_breakdown(session.full(), 0, 2, 3)
    u = session.full().weights.recurrent_kernel
    n = session.units
    for k_gate, g in enumerate(STORAGE_GATE_ORDER):
        top = insp.top[g]
        assert top == b.top_contributors(g, 5)
        k, v = top[0]
        assert close(v, float(b.h_prev_vector[k] * u[k, k_gate * n + 2]))
        assert abs(v) == max(abs(b.fan_in[g]))
    gate = insp.marked_gate
    assert abs(b.zh[gate]) == max(abs(b.zh[g]) for g in STORAGE_GATE_ORDER)
    marked = [unit for unit, _ in insp.highlighter.units]
    assert marked == [k for k, _ in insp.top[gate][:3]]
    assert len(insp.highlighter.items) == 3
    insp.show_lanes("o")
    assert [unit for unit, _ in insp.highlighter.units] == [k for k, _ in insp.top["o"][:3]]
    # stepping returns the inspector to the cursor
    window.session_model.step(1)
    assert insp.position() == session.cursor == 5


def test_unread_step_shows_nothing(shared_window):
    window = shared_window
    open_session(window, small_model(4, 3), sine_input(10))
    window.session_model.step(2)
    window.session_model.select(1, 8)
    assert window.cell_inspector.breakdown is None
    assert "not read yet" in window.cell_inspector.info.text()


def test_the_four_z_bar_plots_share_one_scale_that_holds_every_bar(shared_window):
    from PySide6.QtWidgets import QApplication
    window = shared_window
    open_session(window, small_model(6, 3), sine_input(20))
    insp = window.cell_inspector
    for t in (3, 12, 19):
        window.session_model.seek(t)
        window.session_model.select(2, -1)
        insp.refresh()
        QApplication.processEvents()
        ranges = {tuple(np.round(p.getViewBox().viewRange()[1], 6)) for p in insp._bar_plots.values()}
        assert len(ranges) == 1                        # z_o beside z_f: same scale
        (lo, hi), = ranges
        values = np.concatenate([insp.bar_values(g) for g in insp._bar_plots])
        assert lo < values.min() and values.max() < hi
    shown = [p.getAxis("left").style["showValues"] for p in insp._bar_plots.values()]
    assert shown == [True, False, False, False]       # one scale, written once


def test_the_diagram_draws_every_value_of_h_prev_entering_u(shared_window):
    """The coupling is drawn: one strip cell per unit of h(t-1), coloured by its value (the
    unit's own outlined), beside the four gates' z bars on one shared scale."""
    from PySide6.QtWidgets import QApplication, QGraphicsPixmapItem

    from gui.panels.h_prev_strip import strip_image, strip_scale
    window = shared_window
    session = open_session(window, small_model(12, 3), sine_input(20))
    window.session_model.step(6)
    window.session_model.select(5, -1)
    insp = window.cell_inspector
    b = cell_breakdown(session.full(), 0, 5, 5)
    strips = [i for i in insp.diagram.scene().items() if isinstance(i, QGraphicsPixmapItem)]
    assert len(strips) == 1
    image = strips[0].pixmap().toImage()
    assert (image.width(), image.height()) == (12, 1)
    h_prev = np.asarray(b.h_prev_vector, float)
    assert np.array_equal(h_prev, session.full().h[0, 4])          # what the unit read
    want = strip_image(h_prev, strip_scale(h_prev), insp.palette.background)
    assert [image.pixel(k, 0) for k in range(12)] == [want.pixel(k, 0) for k in range(12)]
    assert len({image.pixel(k, 0) for k in range(12)}) > 3          # values, not one colour
    assert insp.diagram.labels["h_prev"].startswith("all 12 values of h(t-1) enter unit 5's gates")
    QApplication.processEvents()      # the bars, built as the selection brought them up, laid out
    ranges = {tuple(p.getViewBox().viewRange()[1]) for p in insp._bar_plots.values()}
    assert len(ranges) == 1                                         # one z scale


def test_a_strip_of_a_thousand_units_is_one_image():
    from gui.panels.h_prev_strip import strip_image, strip_scale
    values = np.linspace(-3, 3, 1024)
    values[7] = np.nan
    assert strip_scale(values) == 3.0 and strip_scale(np.array([0.2, -0.5])) == 1.0
    image = strip_image(values, strip_scale(values), "#ffffff")
    assert image.width() == 1024
    assert image.pixel(7, 0) & 0xFFFFFF == 0xFFFFFF                 # not computed: background
    assert image.pixel(0, 0) != image.pixel(1023, 0)


def test_the_bars_part_names_never_run_together(make_window, qtbot):
    """'xW hU b z' under each gate where they stand apart, 'x h b z' in a narrow dock (they
    ran together as 'xWhU'); checked from the texts the axes lay out."""
    from PySide6.QtWidgets import QApplication

    from tests.figure_checks import plot_texts, text_problems
    window = make_window()
    open_session(window, small_model(6, 3), sine_input(20))
    window.session_model.step(6)
    glw = window.cell_inspector.bars_glw
    seen = {}
    for width in (1000, 260):
        glw.setFixedWidth(width)
        QApplication.processEvents()
        texts = plot_texts(glw)
        assert text_problems(texts) == [], width
        seen[width] = {t.text for t in texts}
    assert {"xW", "hU"} <= seen[1000] and not {"xW", "hU"} & seen[260]


@pytest.mark.parametrize("fixture", ["keras_gru_reset_after", "keras_gru_reset_before"])
def test_a_grus_bars_are_what_the_cell_adds_and_sum_to_z(shared_window, fixture):
    """A GRU's n reads its recurrent part through r: with reset_after z_n = x·W + b +
    r·(h·U + b_h), before it z_n = x·W + b + (r⊙h)·U. The h·U bar showed h·U + b_h without r
    (the trace's zh), so the bars did not add up to z: it shows what the cell adds."""
    from engine import load_model

    gru = FIXTURES / "gru"
    model = load_model(gru / f"{fixture}.keras", trust=True)
    x = read_npz(gru / f"{fixture}.npz")["x"]
    window = shared_window
    session = open_session(window, model, x)
    window.session_model.set_sample(1)
    window.session_model.step(4)
    window.session_model.select(2, -1)
    insp = window.cell_inspector
    position, unit = insp.position(), 2
    full = session.full()
    w = full.weights
    h_prev = full.state_before(position)[0][1].astype(np.float64)
    r = full.signal("r")[1, position].astype(np.float64)
    u_n = w.gate_block(w.recurrent_kernel, "n").astype(np.float64)
    if w.reset_after:
        used = r[unit] * (h_prev @ u_n[:, unit] + w.recurrent_bias[2 * w.units + unit])
    else:
        used = (r * h_prev) @ u_n[:, unit]
    assert close(insp.bar_values("n")[1], float(used))
    assert ("n's h·U is r·(h·U + its recurrent bias)" in insp.info.text()) == w.reset_after
    # the GRU's own diagram: h(t-1) × u + (1 − u) × n -> h(t), r on what n reads
    labels = insp.diagram.labels
    assert labels["h_prev_unit"] == f"{h_prev[unit]:+.4f}"
    assert labels["h"] == f"{float(full.h[1, position, unit]):+.4f}"
    assert labels["reset_reads"] == ("r·(h·U + b_h)" if w.reset_after else "(r⊙h)·U")
    assert {labels[g] for g in ("u", "r", "n")} == {f"{insp.breakdown.gates[g]:+.4f}" for g in "urn"}
    for g in ("u", "r", "n"):
        zx, zh, zb, z = insp.bar_values(g)
        assert close(zx + zh + zb, z), (g, zx, zh, zb, z)
        assert close(z, float(full.signal(f"z_{g}")[1, position, unit]))
    assert window.errors == []


def test_each_kinds_diagram_keeps_its_arrowheads_apart_and_off_its_numbers(make_window, qtbot):
    """The GRU's 1−u and n arrows met under the + of h(t), their heads one blot (13 px
    apart): 1−u enters the × from the left now. Checked from the drawn scene, both kinds."""
    from PySide6.QtWidgets import QGraphicsPathItem

    from engine import load_model
    from tests.figure_checks import arrow_problems, arrowhead_problems
    from tests.gui.conftest import bring_to_front

    gru = FIXTURES / "gru"
    for model, x in ((load_model(gru / "keras_gru_reset_after.keras", trust=True),
                      read_npz(gru / "keras_gru_reset_after.npz")["x"]),
                     (small_model(6, 3), sine_input(20))):
        window = make_window()
        bring_to_front(qtbot, window.cell_dock)
        open_session(window, model, x)
        window.session_model.step(3)
        diagram = window.cell_inspector.diagram
        heads = [i for i in diagram.scene().items() if isinstance(i, QGraphicsPathItem)]
        assert len(heads) >= 10                    # the diagram is drawn, every arrow headed
        assert arrowhead_problems(diagram) == [] and arrow_problems(diagram) == []
        assert window.errors == []


def test_a_grus_cell_figure_says_what_its_h_u_bar_holds(shared_window, tmp_path):
    """The cell figure's caption said z = x·W + h·U + b for every gate, while a GRU's n bar is
    r·(h·U + b_h): the caption says what the candidate's bar holds."""
    import re

    from engine import load_model
    from gui.export.figure import export_view

    gru = FIXTURES / "gru"
    window = shared_window
    open_session(window, load_model(gru / "keras_gru_reset_after.keras", trust=True),
                 read_npz(gru / "keras_gru_reset_after.npz")["x"])
    window.session_model.step(3)
    export_view(window, "cell", tmp_path / "c.svg", width=900)
    words = " ".join(" ".join(re.findall(r">([^<>]+)</text>",
                                         (tmp_path / "c.svg").read_text(encoding="utf-8"))).split())
    assert "its bar is r·(h·U + b_h)" in words, words[-400:]
    assert window.errors == []


def test_behind_its_tab_the_inspector_draws_its_bars_when_it_comes_to_the_front(make_window, qtbot):
    """The inspector starts behind the debugger tabs: its four bar plots are built when its tab
    comes up, drawn with the numbers of the step it shows."""
    from tests.gui.conftest import bring_to_front
    window = make_window()
    qtbot.wait(50)                     # the window's first layout puts the inspector behind
    insp = window.cell_inspector
    assert not insp.on_screen()
    open_session(window, small_model(6, 3), sine_input(20))
    window.session_model.step(5)
    assert insp._bar_plots == {} and insp.shown() is None
    bring_to_front(qtbot, window.cell_dock)
    assert list(insp._bar_plots) == list(insp.kind.split_gates)
    assert insp.position() == 4 and insp.shown().cursor == 4
    for gate, bars in insp._bars.items():
        assert len(insp.bar_values(gate)) == 4
        assert bars.opts["height"].tolist() == np.nan_to_num(insp.bar_values(gate)).tolist()


def test_a_cell_figure_exported_from_behind_its_tab_has_its_bars(make_window, qtbot, tmp_path):
    """An export draws the bars the hidden inspector has not built yet, with the step's numbers."""
    from gui.export.figure import export_view
    window = make_window()
    qtbot.wait(50)
    open_session(window, small_model(6, 3), sine_input(20))
    window.session_model.step(9)
    insp = window.cell_inspector
    assert not insp.on_screen() and insp._bar_plots == {}
    export_view(window, "cell", tmp_path / "behind.png", width=900)
    assert list(insp._bar_plots) == list(insp.kind.split_gates)
    for gate, bars in insp._bars.items():
        assert len(insp.bar_values(gate)) == 4
        assert bars.opts["height"].tolist() == np.nan_to_num(insp.bar_values(gate)).tolist()
