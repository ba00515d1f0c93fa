"""Recorded arrays of a run: one ``LayerTrace`` per traced LSTM direction.

Every array is indexed by *input position* t, whatever the direction (docs/architecture.md,
"The time axis"): for a backward direction index t holds the values computed when the cell
read input t. Gate-shaped arrays keep the gate axis in the storage order i, f, g, o.

One small rule lives here once: ``SignalSource.signal`` (a signal name such as ``f`` or ``z_i``
-> its (B, T, N) values), which every holder of recorded arrays reuses: a ``LayerTrace``, a
debugger fork's view, a window of steps the breakpoint scanner reads. The time axis's rules
(``input_position`` and the rest) live in ``engine.runs.time_axis``.

Gradients are computed from traces, so ``engine.gradients.grad`` imports this module and never the other
way: ``TraceResult.grad`` calls the function ``engine.gradients.grad`` hands to ``provide_gradient`` when
it is imported (``import engine`` imports it; docs/architecture.md, "Layering (enforced)").
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ..cells.cell import LSTM_CELL, CellWeights
from ..cells.cell_kind import CellKind
from ..errors import ScopeError
from .time_axis import input_position, last_position

ARRAY_NAMES = (*LSTM_CELL.recorded, "zx", "zh", "zb", "h0", "c0", "mask", "x")
"""An LSTM's arrays in a trace .npz; a GRU or RNN writes its kind's signals, no c or c0."""


class UnknownSignal(ScopeError, KeyError):
    """A signal name that is none of i f g o c h x, z_* zx_* zh_*."""

    __str__ = Exception.__str__


class SignalSource:
    """The signal-name rule over anything that hands out the recorded parts.

    A subclass implements ``part(array, gate)``: array one of ``gates zx zh zp c h x``, gate an
    index in the storage order (None for the whole array, or for c h x), shape (B, T, ...) by
    input position. ``signal`` builds the rest, so z = zx + zh + zb (+ zp) is written once.
    """

    weights: CellWeights

    @staticmethod
    def parse_signal(name: str, kind: CellKind = LSTM_CELL) -> tuple[str, int | None]:
        """``"f"`` -> ("gates", 1); ``"c"`` -> ("c", None); ``"z_o"`` -> ("z", 3);
        ``"zx_i"`` -> ("zx", 0); a GRU's ``"zh_n"`` -> ("zh", 2); an sLSTM's ``"nrm"`` ->
        ("c", 1), a block of its recorded c (``CellKind.cell_parts``). Raises UnknownSignal."""
        if name in kind.gates:
            return "gates", kind.gates.index(name)
        if name in kind.cell_parts:           # an sLSTM's c, nrm, stab: blocks of the recorded c
            return "c", kind.cell_parts.index(name)
        if name in (*kind.states, "x"):
            return name, None
        prefix, _, gate = name.partition("_")
        if gate in kind.parts and prefix in ("z", "zx", "zh"):
            return prefix, kind.parts.index(gate)
        raise UnknownSignal(f"unknown signal '{name}'")

    def part(self, array: str, gate: int | None) -> np.ndarray:
        raise NotImplementedError

    @property
    def cell_kind(self) -> CellKind:
        """The kind of cell that recorded these arrays (its signal names and order)."""
        return self.weights.kind

    @property
    def has_peephole(self) -> bool:
        return self.weights.peephole is not None

    def signal(self, name: str) -> np.ndarray:
        """(B, T, N) values of one signal by name (i f g o c h x, z_i, zx_f, zh_o ...; a GRU's
        u r n h, z_n ...); the pre-activation z includes the peephole term where the cell has
        one, and a GRU's reset gate where it scales zh (docs/architecture.md, "GRU and simple
        RNN")."""
        w = self.weights
        array, k = self.parse_signal(name, w.kind)
        if array == "c" and k is not None:
            return self.part("c", None)[..., k * w.units:(k + 1) * w.units]
        if array != "z":
            return self.part(array, k)
        zh = self.part("zh", k)
        gate = w.scaled_by(k)
        if gate is not None:                  # a GRU's n with reset_after: r . zh_n
            zh = self.part("gates", gate) * zh
        total = self.part("zx", k) + zh + w.bias.reshape(w.parts, -1)[k]
        if self.has_peephole:
            total = total + self.part("zp", k)
        return total


@dataclass
class LayerTrace(SignalSource):
    """Everything one LSTM direction computed over one input batch.

    ``gates``, ``zx`` and ``zh`` are (B, T, 4, N); ``i f g o`` are views into ``gates``.
    On masked steps gates and pre-activations are NaN and c, h carry the previous state.
    """

    name: str
    direction: str                 # "forward" | "backward"
    weights: CellWeights
    x: np.ndarray                  # (B, T, D) this layer's own input
    mask: np.ndarray               # (B, T) bool, True = step was computed
    h0: np.ndarray                 # (B, H)
    c0: np.ndarray                 # (B, N)
    gates: np.ndarray              # (B, T, 4, N)
    zx: np.ndarray                 # (B, T, 4, N)  x_t . W
    zh: np.ndarray                 # (B, T, 4, N)  h_{t-1} . U
    c: np.ndarray                  # (B, T, N)
    h: np.ndarray                  # (B, T, H)
    zp: np.ndarray | None = None   # (B, T, 4, N) peephole terms, ONNX only
    extra: dict[str, np.ndarray] = field(default_factory=dict)
    start: int = 0                 # input position of index 0 (a window of a longer run)

    # --- gate views ----------------------------------------------------------------------
    @property
    def i(self) -> np.ndarray:
        return self.gates[:, :, 0, :]

    @property
    def f(self) -> np.ndarray:
        return self.gates[:, :, 1, :]

    @property
    def g(self) -> np.ndarray:
        return self.gates[:, :, 2, :]

    @property
    def o(self) -> np.ndarray:
        return self.gates[:, :, 3, :]

    @property
    def zb(self) -> np.ndarray:
        """(4, N) bias per gate (zeros without bias); (3, N) for a GRU, (1, N) for an RNN."""
        return self.weights.bias.reshape(self.weights.parts, -1)

    @property
    def z(self) -> np.ndarray:
        """(B, T, 4, N) full pre-activation zx + zh + zb (+ peephole terms), all gates."""
        return np.stack([self.signal(f"z_{g}") for g in self.weights.kind.parts], axis=2)

    # --- sizes ---------------------------------------------------------------------------
    @property
    def batch(self) -> int:
        return self.gates.shape[0]

    @property
    def steps(self) -> int:
        return self.gates.shape[1]

    @property
    def units(self) -> int:
        return self.gates.shape[3]

    @property
    def backward(self) -> bool:
        return self.direction == "backward"

    def part(self, array: str, gate: int | None) -> np.ndarray:
        """One recorded array (a view), or one gate of a gate-shaped one."""
        arr = getattr(self, array)
        return arr if gate is None else arr[:, :, gate]

    def position(self, p):
        """Input position read at processing index p (see ``input_position``)."""
        return input_position(p, self.steps, self.backward)

    def state_before(self, position: int) -> tuple[np.ndarray, np.ndarray]:
        """(h, c) (B, ...) the cell held just before reading input ``position``."""
        p = self.position(position)
        if p == 0:
            return self.h0, self.c0
        before = self.position(p - 1)
        return self.h[:, before], self.c[:, before]

    def final_state(self) -> tuple[np.ndarray, np.ndarray]:
        """(h, c) after the last processed input: what a stateful layer carries on."""
        if self.steps == 0:
            return self.h0.copy(), self.c0.copy()
        last = last_position(self.steps, self.backward)
        return self.h[:, last].copy(), self.c[:, last].copy()

    def arrays(self) -> dict[str, np.ndarray]:
        """The Contracts' named arrays, as written to a trace .npz."""
        kind = self.weights.kind
        if kind is LSTM_CELL:
            out = {name: getattr(self, name) for name in ARRAY_NAMES}
        else:
            out = {name: self.signal(name) for name in kind.recorded}
            out.update({name: getattr(self, name) for name in ("zx", "zh", "zb", "h0", "mask", "x")})
            if kind.cell_parts:                 # an sLSTM's c0 holds c, nrm, stab side by side
                out["c0"] = self.c0
            out.update(self.weights.recorded_state(self.c))   # an mLSTM's C
        if self.zp is not None:
            out["zp"] = self.zp
        return {k: np.ascontiguousarray(v) for k, v in out.items()}


_gradient: Callable[..., Any] | None = None


def provide_gradient(gradient: Callable[..., Any]) -> None:
    """Give ``TraceResult.grad`` its implementation (``engine.gradients.grad.gradient``, which calls this
    once when it is imported), so that gradients depend on traces and traces not on them."""
    global _gradient
    _gradient = gradient


@dataclass
class TraceResult:
    """A whole model run: the framework's output and every traced layer."""

    output: np.ndarray
    layers: list[LayerTrace]
    outputs: list[np.ndarray] = field(default_factory=list)   # all model outputs
    states: dict[str, tuple[np.ndarray, np.ndarray]] = field(default_factory=dict)
    # where the run came from, so gradients can reach the model's input (engine.gradients.grad)
    model: Any = field(default=None, repr=False, compare=False)
    input: np.ndarray | None = field(default=None, repr=False, compare=False)
    layer_input: int | None = field(default=None, repr=False, compare=False)

    def grad(self, target: str, *, layer: int | str | None = None):
        """Exact gradients of ``target`` (``h[b, t, j]``, ``sumsq(output[:, last])`` ...)
        through this run: an ``engine.gradients.grad.GradResult``."""
        if _gradient is None:
            raise RuntimeError("engine.gradients.grad is not imported: import engine (it provides "
                               "TraceResult.grad)")
        return _gradient(self, target, layer=layer)

    def layer(self, key: int | str) -> LayerTrace:
        """A traced layer by index (model order, from 0) or by name."""
        if isinstance(key, str) and not key.lstrip("-").isdigit():
            for layer in self.layers:
                if layer.name == key:
                    return layer
            names = ", ".join(layer.name for layer in self.layers)
            raise KeyError(f"no traced layer named '{key}' (layers: {names})")
        index = int(key)
        if not -len(self.layers) <= index < len(self.layers):
            raise KeyError(f"layer index {index} out of range (0..{len(self.layers) - 1})")
        return self.layers[index]

    def __iter__(self) -> Iterator[LayerTrace]:
        return iter(self.layers)

    @property
    def names(self) -> list[str]:
        return [layer.name for layer in self.layers]
