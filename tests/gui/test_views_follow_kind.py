"""The views follow the cell kind of the run they show (docs/architecture.md, "Cell kinds"):
colours by signal name, signal lists read from the run at each model switch, never at import."""

from __future__ import annotations

import ast
import dataclasses
from pathlib import Path

import pytest

from engine import load_model
from engine.cells.cell import LSTM_CELL, CellWeights
from engine.cli.commands import resolve_input
from gui.shown import expected
from gui.signals import GRADIENT_MAP, heat_signals, lanes_shown_first, stat_columns, strip_signals
from gui.theme import DARK, LIGHT, OKABE_ITO_FALLBACK, SIGNAL_COLOURS, signal_colour
from tests.gui.conftest import bring_to_front, export_every_view, open_session, sine_input, small_model

OKABE_ITO = {"#E69F00", "#56B4E9", "#009E73", "#F0E442", "#0072B2", "#D55E00", "#CC79A7"}


def test_each_kind_gets_distinct_colour_blind_safe_colours_by_name():
    for signals in (("f", "i", "o", "g", "c"), ("u", "r", "n")):      # an LSTM's, a GRU's
        colours = [signal_colour(name) for name in signals]
        assert len(set(colours)) == len(colours), signals
        assert set(colours) <= OKABE_ITO
        for palette in (LIGHT, DARK):           # h is the theme's foreground, apart from all
            assert palette.signal("h") not in colours
    assert set(SIGNAL_COLOURS.values()) <= OKABE_ITO


def test_every_kinds_signals_have_colours_of_their_own():
    """The sLSTM's normalizer and stabiliser fell back to a hashed colour: the C colour and
    the g colour, so its legend showed two orange and two green lines and its maps' titles
    paired n with C and m with g."""
    from engine.cells.cell import LSTM_CELL
    from engine.cells.gru_cell import GRU_CELL
    from engine.cells.rnn_cell import RNN_CELL
    from engine.cells.slstm_cell import SLSTM_CELL
    for kind in (LSTM_CELL, GRU_CELL, RNN_CELL, SLSTM_CELL):
        names = [name for name in kind.display_order if name != "h"]
        colours = [signal_colour(name) for name in names]
        assert len(set(colours)) == len(colours), (kind.name, dict(zip(names, colours)))
        assert set(colours) <= OKABE_ITO


def test_a_name_the_table_does_not_know_still_gets_one_okabe_ito_colour():
    first = signal_colour("stabilizer")
    assert first in OKABE_ITO_FALLBACK and first in OKABE_ITO
    assert signal_colour("stabilizer") == first == LIGHT.signal("stabilizer")
    assert len({signal_colour(name) for name in ("m", "normalizer", "stabilizer", "q", "k")}) > 1


# --- no view keeps a signal list of its own -------------------------------------------------
GUI = Path(__file__).resolve().parents[2] / "gui"
SIGNAL_NAMES = {"f", "i", "o", "g", "c", "h", "u", "r", "n"}      # the LSTM's and a GRU's
ALLOWED = {("theme.py", "SIGNAL_COLOURS"),          # the one table a colour is looked up in
           ("cell_inspector.py", "LSTM_GATE_X"),    # the LSTM's own diagram, drawn for its runs
           ("cell_inspector.py", "GRU_GATE_X")}     # the GRU's own, likewise


def _strings(node: ast.expr) -> list[str] | None:
    """The string constants a tuple, list or set literal holds, or a dict literal's keys."""
    if isinstance(node, (ast.Tuple, ast.List, ast.Set)):
        items = node.elts
    elif isinstance(node, ast.Dict):
        items = [k for k in node.keys if k is not None]
    else:
        return None
    return [i.value for i in items if isinstance(i, ast.Constant) and isinstance(i.value, str)]


def signal_lists_read_at_import(source: str, filename: str) -> list[str]:
    """What a gui module decides about signals when it is imported instead of per run: a cell
    kind's table imported at all (``LSTM_CELL``, a future ``GRU_CELL``), or a module- or
    class-level literal of two or more signal names."""
    found = []
    tree = ast.parse(source)
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom):
            found += [f"imports {a.name}" for a in node.names if a.name.endswith("_CELL")]
    bodies = [tree.body] + [n.body for n in ast.walk(tree) if isinstance(n, ast.ClassDef)]
    for body in bodies:
        for stmt in body:
            if not isinstance(stmt, (ast.Assign, ast.AnnAssign)) or stmt.value is None:
                continue
            targets = stmt.targets if isinstance(stmt, ast.Assign) else [stmt.target]
            names = [t.id for t in targets if isinstance(t, ast.Name)]
            if any((filename, n) in ALLOWED for n in names):
                continue
            strings = _strings(stmt.value)
            if strings and len(strings) >= 2 and set(strings) <= SIGNAL_NAMES:
                found.append(f"{', '.join(names)} = {strings}")
    return found


def test_no_gui_module_reads_a_signal_list_at_import():
    """Views read the signals of the run they draw (``SessionModel.cell_kind``) at every run
    change; a list made at import is the LSTM's forever, whatever model is open."""
    offences = {}
    for path in sorted(GUI.rglob("*.py")):
        found = signal_lists_read_at_import(path.read_text(encoding="utf-8"), path.name)
        if found:
            offences[str(path.relative_to(GUI))] = found
    assert offences == {}


def test_the_check_sees_the_lists_views_used_to_keep():
    """The check above fails on what the views held before they read the run's kind."""
    assert signal_lists_read_at_import('DEFAULT_SIGNALS = ("f", "i", "o", "c", "h")\n', "x.py")
    assert signal_lists_read_at_import("from engine.cells.cell import LSTM_CELL\n", "x.py")
    assert signal_lists_read_at_import('class A:\n    SIGNALS = ["u", "r", "n"]\n', "x.py")
    assert signal_lists_read_at_import('OKABE_ITO = {"f": "#D55E00", "i": "#0072B2"}\n', "x.py")
    assert not signal_lists_read_at_import('def f():\n    return ("c", "h")\n', "x.py")
    assert not signal_lists_read_at_import('SIGNAL_COLOURS = {"f": "#D55E00", "i": "#0"}\n', "theme.py")


# --- the views follow a model switch -------------------------------------------------------
RELABELLED = dataclasses.replace(
    LSTM_CELL, name="lstm-relabelled", lanes_hidden=(),
    signals=tuple(dataclasses.replace(s, symbol=s.symbol.upper() + "'")
                  for s in reversed(LSTM_CELL.signals)),
    diagram_gates=tuple(reversed(LSTM_CELL.diagram_gates)))
"""An LSTM that names its signals otherwise (other symbols, another order, no hidden lane,
another diagram): until a second cell kind lands in the engine, the kind a view can only show
right if it reads the signals from the run it draws."""


@pytest.fixture
def relabel(monkeypatch):
    """``relabel(model)``: that model's cells report RELABELLED (the others stay LSTMs)."""
    marked: set[int] = set()
    real = CellWeights.kind

    def kind(weights):
        return RELABELLED if id(weights.kernel) in marked else real.fget(weights)
    monkeypatch.setattr(CellWeights, "kind", property(kind))

    def mark(model):
        for info in model.traced_layers:
            marked.add(id(info.weights.kernel))
        return model
    return mark


def _views(window):
    return {"units": window.units_panel, "layer": window.layer_view, "cell": window.cell_inspector,
            "input": window.input_panel, "forks": window.forks_panel}


def _open(window, qtbot, model):
    session = open_session(window, model, resolve_input(model, None, None))
    window.session_model.seek(7)
    qtbot.wait(20)
    return session


def _agree(window, kind):
    want = expected(window.session_model)
    assert want.kind == kind.name
    shown = {name: view.shown() for name, view in _views(window).items()}
    assert shown["units"] == want and shown["layer"] == want and shown["cell"] == want
    assert all(s in (None, want) for s in shown.values()), shown


def _signals_shown(window, kind):
    """Every list of signals in the window is the kind's, in its order, with its symbols."""
    units = window.units_panel
    assert list(units.signal_boxes) == list(kind.display_order)
    assert [b.text() for b in units.signal_boxes.values()] == [s.symbol for s in kind.signals]
    assert units.visible_signals == set(lanes_shown_first(kind))
    assert set(units._live) == set(kind.display_order)
    heat = [units.heat_combo.itemData(k) for k in range(units.heat_combo.count())]
    assert heat == list(strip_signals(kind))
    layer = window.layer_view
    assert list(layer.signal_boxes) == list(heat_signals(kind))
    header = [layer.table.horizontalHeaderItem(c).text() for c in range(layer.table.columnCount())]
    assert header == list(stat_columns(kind))
    assert list(layer.heat) == [*kind.display_order, GRADIENT_MAP]      # the maps drawn
    inspector = window.cell_inspector
    assert list(inspector._bar_plots) == list(kind.split_gates)      # an mLSTM has none
    assert set(kind.diagram_gates) <= set(inspector.diagram.labels)
    states = "/".join(kind.signal(name).symbol for name in kind.states)
    assert units.shared_box.text() == f"shared {states} scale"      # "shared C/h scale" on a GRU
    sat = window.breakpoints_panel.sat_gate
    assert [sat.itemText(k) for k in range(sat.count())] == ["any", *kind.gates]
    assert window.session_model.describe()["cell_kind"] is kind


def test_every_view_follows_the_kind_of_the_run_it_shows(make_window, qtbot, relabel):
    """Switch between two models whose cells name their signals differently: every signal list
    of the window is the shown run's, and every view's shown() agrees with the session."""
    window = make_window()
    bring_to_front(qtbot, window.layer_dock)
    bring_to_front(qtbot, window.cell_dock)
    _open(window, qtbot, load_model("demo:counter"))
    _signals_shown(window, LSTM_CELL)
    _agree(window, LSTM_CELL)
    assert window.cell_inspector.diagram.labels.keys() >= {"c_prev", "c", "h"}   # the LSTM's own
    window.units_panel.set_signal_visible("h", False)      # a choice kept by name across kinds

    _open(window, qtbot, relabel(load_model("demo:counter")))
    assert window.session_model.cell_kind is RELABELLED
    assert list(window.units_panel.signal_boxes) == list(RELABELLED.display_order)
    assert "h" not in window.units_panel.visible_signals
    window.units_panel.set_signal_visible("h", True)
    _signals_shown(window, RELABELLED)
    _agree(window, RELABELLED)
    assert "c_prev" not in window.cell_inspector.diagram.labels      # drawn from the table

    _open(window, qtbot, load_model("demo:counter"))
    _signals_shown(window, LSTM_CELL)
    _agree(window, LSTM_CELL)
    assert window.errors == []


# --- a GRU and a simple RNN in the window ------------------------------------------------------
GRU_FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "gru"


@pytest.mark.parametrize("fixture,kind_name", [("keras_gru_reset_after", "gru"),
                                               ("keras_bidirectional_gru", "gru"),
                                               ("keras_simplernn", "rnn")])
def test_the_window_shows_a_gru_and_a_simple_rnn_with_their_own_signals(
        make_window, qtbot, tmp_path, fixture, kind_name):
    """Open, step, bring each dock to the front and export each view that applies: nothing
    fails, every signal list is the kind's, and every view's shown() agrees with the run."""
    import numpy as np

    model = load_model(GRU_FIXTURES / f"{fixture}.keras", trust=True)
    x = np.load(GRU_FIXTURES / f"{fixture}.npz")["x"]
    window = make_window()
    for dock in (window.layer_dock, window.cell_dock):
        bring_to_front(qtbot, dock)
    open_session(window, model, x)
    kind = window.session_model.cell_kind
    assert kind.name == kind_name
    window.session_model.step(3)
    window.session_model.back(1)
    qtbot.wait(20)
    _signals_shown(window, kind)
    assert window.units_panel.shared_box.text() == "shared h scale"      # no C to share
    _agree(window, kind)
    assert "units" in export_every_view(window, tmp_path)
    assert window.errors == []


def test_the_gradients_offer_no_c_target_for_a_cell_without_c(make_window, qtbot):
    """A GRU carries h alone: the C target is greyed out (and left for h if it was chosen), and
    an LSTM opened after it offers C again."""
    import numpy as np

    model = load_model(GRU_FIXTURES / "keras_gru_reset_after.keras", trust=True)
    x = np.load(GRU_FIXTURES / "keras_gru_reset_after.npz")["x"]
    window = make_window()
    combo = window.grad_panel.mode_combo
    combo.setCurrentIndex(combo.findData("c"))
    open_session(window, model, x)
    c_item = combo.model().item(combo.findData("c"))
    assert not c_item.isEnabled() and combo.currentData() == "h"
    assert window.grad_panel.custom.placeholderText().endswith("or h[0, 20, 3]")   # not c[...]
    assert window.grads.target().startswith("h[")
    window.grads.mode = "c"                      # a target set some other way is still h
    assert window.grads.target().startswith("h[")
    open_session(window, small_model(4), sine_input(20))
    assert combo.model().item(combo.findData("c")).isEnabled()
    assert window.grad_panel.custom.placeholderText().endswith("or c[0, 20, 3]")
    assert window.errors == []


def test_the_built_in_breakpoints_follow_the_cell_kind(make_window, qtbot):
    """Ticking a built-in event on a GRU added the LSTM's expression (NaN/Inf in c, |c|
    exceeds, saturation of i f g o), which the GRU's run refused: an exception in the tick
    box's slot. Each event now watches the run's own signals; |c| exceeds is greyed out for a
    cell without c, and offered again for an LSTM."""
    import numpy as np

    model = load_model(GRU_FIXTURES / "keras_gru_reset_after.keras", trust=True)
    x = np.load(GRU_FIXTURES / "keras_gru_reset_after.npz")["x"]
    window = make_window()
    open_session(window, model, x)
    panel = window.breakpoints_panel
    assert not panel.ev_c.isEnabled() and "c" in panel.ev_c.toolTip()
    for box in panel._event_boxes.values():       # the greyed one too, as a restored state might
        box.setChecked(True)
    debugger = window.debugging.debugger
    expressions = " ".join(b.expression for b in debugger.breakpoints)
    assert {b.kind for b in debugger.breakpoints} == {"nan_inf", "saturates", "sign_change"}
    assert "saturated(u)" in expressions and "isnan(h)" in expressions
    assert "c" not in panel.edit.placeholderText().split("e.g.")[1].replace("abs", "")
    open_session(window, small_model(4), sine_input(20))
    assert panel.ev_c.isEnabled()
    panel.ev_c.setChecked(True)
    assert [b.kind for b in window.debugging.debugger.breakpoints] == ["c_exceeds"]
    assert window.errors == []


def test_a_grus_bias_badge_is_its_two_rows(shared_window, qtbot):
    """A Keras GRU with reset_after keeps its input and recurrent biases apart: the badge says
    (2, 3N) as ``info`` does (CellWeights.shapes), not the (3N,) of the input row alone."""
    import numpy as np

    model = load_model(GRU_FIXTURES / "keras_gru_reset_after.keras", trust=True)
    x = np.load(GRU_FIXTURES / "keras_gru_reset_after.npz")["x"]
    window = shared_window
    open_session(window, model, x)
    assert window.session_model.describe()["bias"] == (2, 15)
    assert "(2, 15)" in window.badges.texts()["bias"]


def test_the_unrolled_view_names_the_layer_it_draws(make_window, qtbot, tmp_path):
    """The unrolled view's title said LSTM(units=N) over a GRU: it names the run's cell, as
    ``info`` does (GRU, RNN), the directions view calls a one-way GRU a plain GRU, and the
    wrong picture counts the GRU's three gates, not the LSTM's four."""
    import numpy as np

    from gui.export.figure import export_view
    from gui.teaching.docks import teaching_widget

    window = make_window()
    for fixture, word in (("keras_gru_reset_after", "GRU"), ("keras_simplernn", "RNN")):
        model = load_model(GRU_FIXTURES / f"{fixture}.keras", trust=True)
        open_session(window, model, np.load(GRU_FIXTURES / f"{fixture}.npz")["x"])
        window.session_model.seek(3)
        units = window.session_model.units
        export_view(window, "unrolled", tmp_path / f"{fixture}.svg")
        text = (tmp_path / f"{fixture}.svg").read_text(encoding="utf-8")
        assert f"{word}(units={units})" in text and "LSTM(units=" not in text
        message = teaching_widget(window, "directions", show=True).maps()
        assert f"is a plain {word} that reads one way" in message
        wrong = teaching_widget(window, "unrolled", show=True).canvas.wrong_copies_text()
        assert ("each unit's three gates read all" in wrong) == (word == "GRU"), wrong
        assert "four gates" not in wrong
    assert window.errors == []


def test_the_gradients_name_the_state_and_gate_that_carry_a_grus_memory(make_window, qtbot,
                                                                         tmp_path):
    """The gradient view said |∂target/∂C_t| and "product of f" over a GRU, which has neither:
    a GRU's memory is h, carried by its update gate u; a simple RNN's is h with no gate. The
    legend, the info line and the exported caption say so, and an LSTM's words come back."""
    import re

    import numpy as np

    from gui.export.figure import export_view

    def legend(window):
        return [label.text for _, label in window.grad_panel.cec_plot.legend.items]

    def caption(window):
        """The exported figure's words, one space apart (an SVG writes each line apart)."""
        export_view(window, "grad", tmp_path / "g.svg", width=900)
        text = (tmp_path / "g.svg").read_text(encoding="utf-8")
        words = re.findall(r">([^<>]+)</text>", text)
        return " ".join(" ".join(words).split())

    window = make_window()
    bring_to_front(qtbot, window.grad_dock)
    cases = (("keras_gru_reset_after", ["|∂target/∂h_t|", "product of u back to the target"],
              "running product of its update gate u"),
             ("keras_simplernn", ["|∂target/∂h_t|"], "no gate"))
    for fixture, words, said in cases:
        model = load_model(GRU_FIXTURES / f"{fixture}.keras", trust=True)
        open_session(window, model, np.load(GRU_FIXTURES / f"{fixture}.npz")["x"])
        window.session_model.seek(4)
        window.grads.refresh()
        qtbot.waitUntil(lambda: window.grads.view is not None, timeout=20000)
        window.grad_panel.redraw()
        assert legend(window) == words
        assert "∂target/∂h|" in window.grad_panel.info.text()
        assert said in caption(window) and "∂C_t" not in caption(window)
    open_session(window, small_model(4), sine_input(20))
    assert legend(window) == ["|∂target/∂C_t|", "product of f back to the target"]
    assert window.errors == []


def test_the_directions_figure_of_a_bidirectional_gru_says_two_grus(shared_window, qtbot, tmp_path):
    """Its caption said "A Bidirectional layer is two LSTMs" under two GRU directions."""
    import re

    import numpy as np

    from gui.export.figure import export_view

    model = load_model(GRU_FIXTURES / "keras_bidirectional_gru.keras", trust=True)
    window = shared_window
    open_session(window, model, np.load(GRU_FIXTURES / "keras_bidirectional_gru.npz")["x"])
    window.session_model.seek(3)
    export_view(window, "directions", tmp_path / "d.svg", width=900)
    words = " ".join(" ".join(re.findall(r">([^<>]+)</text>",
                                         (tmp_path / "d.svg").read_text(encoding="utf-8"))).split())
    assert "is two GRUs" in words and "two LSTMs" not in words
    assert window.errors == []
