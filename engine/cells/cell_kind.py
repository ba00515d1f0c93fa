"""What a kind of recurrent cell *is*, as one table: its signals and their order, its specs.

A view that lists signals (lanes, legends, check boxes, CSV columns, the inspector's diagram)
reads them from the cell's ``CellKind`` instead of its own "f i o g c h", so a second kind of
cell (GRU, simple RNN) is a second table, not an edit of every view. The LSTM's table is
``engine.cells.cell.LSTM_CELL``, the GRU's and the simple RNN's ``engine.cells.gru_cell.GRU_CELL`` and
``RNN_CELL``, the sLSTM's ``engine.cells.slstm_cell.SLSTM_CELL``, the mLSTM's
``engine.cells.mlstm_cell.MLSTM_CELL``; a cell's weights name theirs
(``CellWeights.kind``).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass


@dataclass(frozen=True)
class SignalSpec:
    """One recorded signal of a cell: its trace name and how the window speaks of it."""

    name: str             # the trace's name (``LayerTrace.signal``): "f", "c"
    symbol: str           # how a view writes it: "f", "C"
    title: str            # what it is, in two words: "forget gate"
    tip: str              # one sentence on what it does, for a tooltip

    @property
    def label(self) -> str:
        """``"f  forget gate"``: a legend's entry."""
        return f"{self.symbol}  {self.title}"


@dataclass(frozen=True)
class BadgeSpec:
    """A shape badge: one of ``CellWeights.shapes()`` with its name and why it has that shape."""

    key: str
    name: str
    tip: str


@dataclass(frozen=True)
class CellKind:
    """One kind of cell. ``gates`` is the storage order of every gate axis (the trace's gate
    arrays, the (D, kN) column blocks); ``signals`` the display order (lanes, legends, exports);
    ``diagram_gates`` the order the cell uses its gates (the inspector's diagram)."""

    name: str
    gates: tuple[str, ...]
    states: tuple[str, ...]
    ratio_gates: tuple[str, ...]    # gates that scale another signal (the gate activation's range)
    signals: tuple[SignalSpec, ...]
    diagram_gates: tuple[str, ...]
    step: Callable                  # LSTM (w, x, h, c) -> gates..., c, h; GRU/RNN (w, x, h) -> gates..., h
    step_extended: Callable         # the same with every variant a loader may produce
    step_vjp: Callable              # LSTM (w, x, h, c, dh, dc) -> (dx, dh_prev, dc_prev, dc); GRU/RNN (w, x, h, dh) -> (dx, dh_prev)
    step_extended_vjp: Callable
    badges: tuple[BadgeSpec, ...]
    params_tip: str                 # how the framework counts the parameters
    blocks: tuple[str, ...] = ()    # the (D, kN) column blocks when they are not the gates
    # (a simple RNN has no gate and one block, "h"); empty: the blocks are the gates
    lanes_hidden: tuple[str, ...] = ()   # signals the units panel leaves off until ticked
    carry: str | None = None        # the gate that keeps the memory from step to step (an
    # LSTM's f over c, a GRU's u over h): its running product is the gradient views' carrier
    formulas: tuple[tuple[str, str], ...] = ()   # (gate, how the inspector writes it) where
    # it is not "g = act(z)": an sLSTM's stabilised exponential gates
    feeds: tuple[tuple[str, tuple[str, ...]], ...] = ()   # (state, the gates it is made from)
    # for the inspector's diagram; empty: every gate feeds every state
    written_as: str = ""            # how a sentence names the cell ("sLSTM"); empty: NAME
    differentiable: bool = True     # False: gradients through it are refused in one line
    recurrent: bool = True          # False: no recurrent kernel, h_{t-1} is read by nothing
    # (an mLSTM: its units are coupled through its matrix memory C), so no view draws U
    cell_parts: tuple[str, ...] = ()     # the N-wide blocks of the recorded c when it carries
    # more than C (an sLSTM's c, nrm, stab side by side); empty: c is the cell state itself
    positive: tuple[str, ...] = ()  # signals positive by construction (an sLSTM's normalizer
    # n): coloured on the sequential scale from 0, not on one symmetric about 0

    @property
    def parts(self) -> tuple[str, ...]:
        """Names of the column blocks of W, U, b and of the pre-activation axis of zx, zh, zb
        (``z_<part>``): the gates, or ``blocks`` for a cell whose blocks are not gates."""
        return self.blocks or self.gates

    @property
    def split_gates(self) -> tuple[str, ...]:
        """The diagram's gates whose pre-activation is a block x·W + h·U + b (the inspector's
        bars and fan-in): all of them but an mLSTM's, whose z_i, z_f are per head."""
        return tuple(g for g in self.diagram_gates if g in self.parts)

    @property
    def written(self) -> str:
        """The cell's name in a sentence: "LSTM", "GRU", "RNN", "sLSTM"."""
        return self.written_as or self.name.upper()

    @property
    def display_order(self) -> tuple[str, ...]:
        """Signal names in the order views list them."""
        return tuple(s.name for s in self.signals)

    @property
    def display_gates(self) -> tuple[str, ...]:
        """The gates in display order."""
        return tuple(name for name in self.display_order if name in self.gates)

    @property
    def recorded(self) -> tuple[str, ...]:
        """Signal names in storage order (gates, then states): the trace's and a CSV's order."""
        return (*self.gates, *self.states)

    def signal(self, name: str) -> SignalSpec:
        """The spec of one signal; KeyError for a name this cell does not record."""
        for spec in self.signals:
            if spec.name == name:
                return spec
        raise KeyError(name)

    def symbols(self) -> dict[str, str]:
        return {s.name: s.symbol for s in self.signals}

    def labels(self) -> dict[str, str]:
        return {s.name: s.label for s in self.signals}

    def tips(self) -> dict[str, str]:
        return {s.name: s.tip for s in self.signals}
