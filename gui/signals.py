"""Which signals a view lists, and how it names them, for one kind of cell.

Every view asks here with the ``CellKind`` of the run it draws (``SessionModel.cell_kind``,
read again at each run change: a model switch or another layer may bring another kind), so no
view keeps a list of signal names of its own and a new kind of cell (GRU, simple RNN) is a new
table in the engine, not an edit of every view (docs/architecture.md, "Cell kinds").
"""

from __future__ import annotations

from engine.cells.cell_kind import CellKind

GRADIENT_MAP = "dC"         # the layer view's |∂target/∂(carried state)| map (not a trace signal)


def lanes_shown_first(kind: CellKind) -> tuple[str, ...]:
    """The signals the units panel draws before the user ticks more (the LSTM leaves out its
    candidate g: five curves a lane already), display order."""
    return tuple(name for name in kind.display_order if name not in kind.lanes_hidden)


def strip_signals(kind: CellKind) -> tuple[str, ...]:
    """What the units panel's heat-map strips can colour: the output h first, the other states,
    then the gates in display order (h c f i o g for the LSTM)."""
    states = sorted(kind.states, key=lambda name: name != "h")
    return (*states, *kind.display_gates)


def carried(kind: CellKind) -> str:
    """The state that carries memory from step to step, whose gradient the memory horizon
    follows: the LSTM's C, a GRU's h (its first state)."""
    return kind.states[0]


def heat_signals(kind: CellKind) -> tuple[str, ...]:
    """The layer view's maps: every signal, each gate's pre-activation, the gradient map."""
    return (*kind.display_order, *(f"z_{g}" for g in kind.display_gates), GRADIENT_MAP)


def fork_signals(kind: CellKind) -> tuple[str, ...]:
    """What a fork's difference map can show (a fork records the trace's signals, no gradient)."""
    return tuple(name for name in heat_signals(kind) if name != GRADIENT_MAP)


def choosable(kind: CellKind) -> tuple[str, ...]:
    """What a teaching view can colour its cells by: the states, then the gates (display order)."""
    return (*kind.states, *kind.display_gates)


def words(kind: CellKind, name: str) -> str:
    """A signal in words for a chooser: "cell state C", "forget gate f"."""
    spec = kind.signal(name)
    return f"{spec.title} {spec.symbol}"


def symbol(kind: CellKind, name: str) -> str:
    """How the views write a signal ("C" for c); other names (z_f, dC) as they are."""
    try:
        return kind.signal(name).symbol
    except KeyError:
        return name


def is_signal(kind: CellKind, name: str) -> bool:
    """True for a signal the cell records (coloured by name), False for z_f, dC ..."""
    return name in kind.display_order


def is_sequential(kind: CellKind, name: str) -> bool:
    """True for a signal coloured on the sequential scale (viridis), not the diverging one:
    a ratio gate, or a signal positive by construction (an sLSTM's normalizer n)."""
    return is_ratio(kind, name) or name in kind.positive


def is_ratio(kind: CellKind, name: str) -> bool:
    """True for a gate that scales another signal (drawn in its activation's range, viridis)."""
    return name in kind.ratio_gates


def stat_columns(kind: CellKind) -> tuple[str, ...]:
    """The layer view's per-unit statistics: mean and variance of each state (h first), each
    gate's saturation, max |h|, dead, the carrying gate's half-life and the memory horizon."""
    states = sorted(kind.states, key=lambda name: name != "h")
    columns = ["unit"]
    for name in states:
        columns += [f"mean {symbol(kind, name)}", f"var {symbol(kind, name)}"]
    columns += [f"sat {g}" for g in kind.display_gates]
    columns += ["max |h|", "dead"]
    if kind.carry is not None:
        columns.append(f"half-life {kind.carry}")
    columns.append("horizon")
    return tuple(columns)
