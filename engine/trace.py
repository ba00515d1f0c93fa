"""Recorded arrays of a run: one ``LayerTrace`` per traced LSTM direction.

Every array is indexed by *input position* t, whatever the direction (docs/architecture.md, "The time axis"):
for a backward direction index t holds the values computed when the cell read input t.
Gate-shaped arrays keep the gate axis in the order i, f, g, o.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from .cell import GATES, CellWeights

SIGNALS = ("i", "f", "g", "o", "c", "h")
ARRAY_NAMES = ("i", "f", "g", "o", "c", "h", "zx", "zh", "zb", "h0", "c0", "mask", "x")


@dataclass
class LayerTrace:
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
        """(4, N) bias per gate (zeros without bias)."""
        return self.weights.bias.reshape(4, -1)

    @property
    def z(self) -> np.ndarray:
        """(B, T, 4, N) full pre-activation zx + zh + zb (+ peephole terms)."""
        total = self.zx + self.zh + self.zb
        if self.zp is not None:
            total = total + self.zp
        return total

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

    def signal(self, name: str) -> np.ndarray:
        """(B, T, N) array of one signal by name: i f g o c h, or z_i / zx_f / zh_o ..."""
        if name in ("i", "f", "g", "o", "c", "h"):
            return getattr(self, name)
        prefix, _, gate = name.partition("_")
        if gate in GATES and prefix in ("z", "zx", "zh"):
            src = self.z if prefix == "z" else getattr(self, prefix)
            return src[:, :, GATES.index(gate), :]
        raise KeyError(f"unknown signal '{name}'")

    def final_state(self) -> tuple[np.ndarray, np.ndarray]:
        """(h, c) after the last processed input: what a stateful layer carries on."""
        last = 0 if self.backward else self.steps - 1
        if self.steps == 0:
            return self.h0.copy(), self.c0.copy()
        return self.h[:, last].copy(), self.c[:, last].copy()

    def arrays(self) -> dict[str, np.ndarray]:
        """The Contracts' named arrays, as written to a trace .npz."""
        out = {name: getattr(self, name) for name in ARRAY_NAMES}
        if self.zp is not None:
            out["zp"] = self.zp
        return {k: np.ascontiguousarray(v) for k, v in out.items()}


@dataclass
class TraceResult:
    """A whole model run: the framework's output and every traced layer."""

    output: np.ndarray
    layers: list[LayerTrace]
    outputs: list[np.ndarray] = field(default_factory=list)   # all model outputs
    states: dict[str, tuple[np.ndarray, np.ndarray]] = field(default_factory=dict)
    # where the run came from, so gradients can reach the model's input (engine.grad)
    model: Any = field(default=None, repr=False, compare=False)
    input: np.ndarray | None = field(default=None, repr=False, compare=False)
    layer_input: int | None = field(default=None, repr=False, compare=False)

    def grad(self, target: str, *, layer: int | str | None = None):
        """Exact gradients of ``target`` (``h[b, t, j]``, ``sumsq(output[:, last])`` ...)
        through this run: an ``engine.grad.GradResult``."""
        from .grad import gradient
        return gradient(self, target, layer=layer)

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
