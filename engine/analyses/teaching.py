"""Numbers the teaching views draw: the strongest links through U, and what removing them does.

The unrolled view (docs/architecture.md, "Teaching views") draws, between two columns of cells,
arrows from every unit's h at t-1 to the units that read it at t. Which arrows are worth
drawing is a question about U, answered here so the view only draws; how much the cross-unit
links matter is answered by running the model again with them removed (the same "decouple
units" U as the debugger's fork, ``engine.what_if.forks.decoupled_kernel``).
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

import numpy as np

from ..cells.cell import LSTM_CELL, CellWeights
from ..errors import ScopeError
from ..network.layers import LSTM, Bidirectional
from ..network.model import Model
from ..runs.time_axis import positions
from ..what_if.forks import Edit, ForkSet, decoupled_kernel

LINK_SIGNALS = LSTM_CELL.recorded


def link_matrix(weights: CellWeights, signal: str = "c") -> np.ndarray:
    """(N from, N to) signed strength of the link from unit j's h_{t-1} to unit i at t.

    For a gate (i f g o) it is that gate's N x N block of U. For c and h, which every gate
    feeds, it is the entry of largest magnitude among the four blocks (with its sign): the
    strongest way unit j reaches unit i.
    """
    n, parts = weights.units, weights.kind.parts        # a GRU's u r n, an RNN's one block
    u = np.asarray(weights.recurrent_kernel, np.float32)
    if u.shape != (n, len(parts) * n):
        raise ScopeError(f"the recurrent kernel is {u.shape}, not (N, {len(parts)}N) = "
                         f"({n}, {len(parts) * n}): links between units need an unprojected cell")
    blocks = u.reshape(n, len(parts), n)                # (from, gate, to)
    if signal in weights.kind.gates:
        return np.ascontiguousarray(blocks[:, parts.index(signal), :])
    if signal not in (*LINK_SIGNALS, *weights.kind.states):      # every gate feeds a state
        raise ScopeError(f"unknown signal '{signal}' (choose {', '.join(LINK_SIGNALS)})")
    pick = np.argmax(np.abs(blocks), axis=1)            # (from, to): which gate is strongest
    return np.take_along_axis(blocks, pick[:, None, :], axis=1)[:, 0, :]


@dataclass
class Links:
    """The top-k incoming links of every unit: ``source[i, r]`` reaches unit ``i`` with
    weight ``value[i, r]``, r = 0 the strongest (largest |value|)."""

    source: np.ndarray     # (N, k) int
    value: np.ndarray      # (N, k) float32
    max_abs: float         # the largest |entry| of the whole link matrix (scales thickness)

    def pairs(self) -> list[tuple[int, int, float]]:
        """Every link as (from, to, value)."""
        n, k = self.source.shape
        return [(int(self.source[i, r]), i, float(self.value[i, r])) for i in range(n) for r in range(k)]


def top_links(weights: CellWeights, signal: str = "c", k: int = 2, *,
              include_self: bool = False) -> Links:
    """Each unit's ``k`` strongest incoming links through U (self-links left out unless asked:
    a unit reading its own h is not the coupling the picture is about)."""
    m = link_matrix(weights, signal)
    n = m.shape[0]
    strength = np.abs(m).astype(np.float64)
    if not include_self:
        strength[np.arange(n), np.arange(n)] = -1.0
    k = max(0, min(int(k), n if include_self else n - 1))
    # stable: equal strengths keep the lower unit first
    order = np.argsort(-strength, axis=0, kind="stable")[:k].T       # (N to, k) sources
    value = m[order, np.arange(n)[:, None]]
    return Links(order.astype(int), value.astype(np.float32), float(np.max(np.abs(m))) if m.size else 0.0)


def incoming(weights: CellWeights, unit: int, signal: str = "c") -> np.ndarray:
    """(N,) every link into ``unit`` (what hovering a unit shows)."""
    return link_matrix(weights, signal)[:, unit]


# --- what the cross-unit links do -----------------------------------------------------------

@dataclass
class DecoupleEffect:
    """How much the run changes when each unit reads only its own h through U."""

    what: str                  # "model output" or "h of layer NAME"
    max_abs: float             # largest |decoupled - real|
    mean_abs: float
    scale: float               # largest |real| of the same array, for a relative figure
    where: tuple[int, ...]     # index of the largest difference

    def sentence(self) -> str:
        rel = f" ({100 * self.max_abs / self.scale:.0f}% of its range)" if self.scale > 0 else ""
        return (f"removing U's cross-unit links changes the {self.what} by up to "
                f"{self.max_abs:.3g}{rel}, {self.mean_abs:.3g} on average")


def decoupled_model(model: Model, layer: int | str | None) -> Model:
    """The same model with one traced layer's U decoupled (the loaded model is untouched)."""
    info = model.traced_layers[model.layer_index(layer)]
    op = model.ops[info.op_index]
    new_u = decoupled_kernel(info.weights)
    if isinstance(op, LSTM):
        new_op = dataclasses.replace(op, weights=op.weights.with_recurrent_kernel(new_u))
    elif isinstance(op, Bidirectional):
        side = "backward" if info.direction == "backward" else "forward"
        new_op = dataclasses.replace(op, **{side: getattr(op, side).with_recurrent_kernel(new_u)})
    else:
        raise ScopeError(f"layer '{info.name}' ({type(op).__name__}) cannot be decoupled here")
    ops = list(model.ops)
    ops[info.op_index] = new_op
    return dataclasses.replace(model, ops=ops, metadata=dict(model.metadata))


def decouple_effect(session) -> DecoupleEffect:
    """Run the session's input again with the traced layer decoupled and measure the change in
    the model's output (or, when only this layer is traced, in its h). A checkpointed run
    (docs/architecture.md, "Long runs") keeps no whole-run arrays to compare: refused."""
    if not session.holds_whole_run:
        raise ScopeError(f"the decouple what-if compares whole runs: it needs a run that fits in "
                         f"memory (this one is checkpointed, {session.steps} steps).")
    model = session.model
    layer_only = session.is_layer_input
    if model.chain and not layer_only and not model.partial:
        try:
            other = decoupled_model(model, session.layer_index)
            real = np.asarray(session.result().output, np.float64)
            with np.errstate(all="ignore"):
                new = np.asarray(other.trace(session.x, initial_state=session.initial_state).output,
                                 np.float64)
            return _effect("model output", new, real)
        except ScopeError:
            pass
    fork = ForkSet(session.full_runner()).add(Edit("decouple"))
    fork.run()
    real = np.asarray(session.full().h, np.float64)
    return _effect(f"h of layer {session.info.name}", real + fork.diff("h"), real)


def _effect(what: str, new: np.ndarray, real: np.ndarray) -> DecoupleEffect:
    with np.errstate(invalid="ignore"):
        d = np.abs(new - real)
    if not np.isfinite(d).any():
        return DecoupleEffect(what, float("nan"), float("nan"), 0.0, ())
    where = np.unravel_index(int(np.nanargmax(d)), d.shape)
    return DecoupleEffect(what, float(np.nanmax(d)), float(np.nanmean(d)),
                          float(np.nanmax(np.abs(real))), tuple(int(v) for v in where))


# --- both directions of a Bidirectional layer -----------------------------------------------

@dataclass
class BothDirections:
    """One Bidirectional layer's two traced directions and what the wrapper returns."""

    name: str
    forward: object            # LayerTrace
    backward: object           # LayerTrace
    merged: np.ndarray         # (B, T, M) for return_sequences, else (B, M)
    merge_mode: str | None
    sequences: bool

    def read(self, t: int) -> tuple[np.ndarray, np.ndarray]:
        """(forward, backward) (T,) masks of the input positions each direction has read when
        both have taken ``t`` steps (forward from the start, backward from the end)."""
        steps = self.forward.steps
        fwd = np.zeros(steps, bool)
        bwd = np.zeros(steps, bool)
        fwd[slice(*positions(0, t, steps, False))] = True
        bwd[slice(*positions(0, t, steps, True))] = True
        return fwd, bwd


def directions_reason(session) -> str | None:
    """Why both directions of the session's layer cannot be drawn side by side (None: they
    can): the layer reads one way, or its run is checkpointed and both whole directions would
    not fit in memory."""
    info = session.info
    cell = info.weights.kind.written       # LSTM, GRU, RNN: as ``info`` names the layer
    if not isinstance(session.model.ops[info.op_index], Bidirectional):
        other = [layer.name for layer in session.model.traced_layers
                 if layer.op_index == info.op_index and layer.name != info.name]
        if other:      # a PyTorch or ONNX bidirectional LSTM: one op, two traced directions
            return (f"layer {info.name} is one direction of a bidirectional {cell} whose other "
                    f"direction is {other[0]}; this view draws a Keras Bidirectional layer's two "
                    f"directions together (the units panel and the layer view show {info.name} "
                    f"and {other[0]} one at a time)")
        return (f"layer {info.name} is a plain {cell} that reads one way: both directions are "
                "those of a Bidirectional layer (open a model with one and choose its forward or "
                "backward layer)")
    if not session.holds_whole_run:
        return (f"Both directions side by side need a run that fits in memory: this one is "
                f"checkpointed ({session.steps} steps). The units panel and the layer view show "
                f"either direction of it.")
    return None


def both_directions(session) -> BothDirections | None:
    """The Bidirectional layer the session's traced layer belongs to (None for a plain LSTM):
    both directions' traces and the merged output, from one run of the ops up to that layer."""
    from ..network.layers import RunContext
    model = session.model
    info = session.info
    op = model.ops[info.op_index]
    if not isinstance(op, Bidirectional):
        return None
    reason = directions_reason(session)
    if reason:
        raise ScopeError(reason)
    layer_only = session.is_layer_input
    x, mask = model.layer_input(info.index, session.x, is_layer_input=layer_only,
                                initial_state=session.initial_state)
    ctx = RunContext(initial_state=model.state_map(session.initial_state))
    with np.errstate(over="ignore", invalid="ignore"):
        merged, _ = op.apply(x, mask, ctx)
    fwd = next(t for t in ctx.traces if t.name == f"{op.name}/forward")
    bwd = next(t for t in ctx.traces if t.name == f"{op.name}/backward")
    return BothDirections(op.name, fwd, bwd, np.asarray(merged, np.float32), op.merge_mode,
                          bool(op.return_sequences))
