"""What a capture returns, the runtime that makes one, and matching named model inputs."""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol

import numpy as np

from ..errors import InputFileError, UnsupportedModelError

F32 = np.float32


@dataclass
class LayerFeed:
    """What one traced LSTM direction read: its input (B, T, D) batch first, the mask that
    ``sequence_lens`` makes (or None), and its initial state (None = zeros)."""

    x: np.ndarray
    mask: np.ndarray | None = None
    h0: np.ndarray | None = None
    c0: np.ndarray | None = None


@dataclass
class Capture:
    """One framework run: the model's outputs and, per traced layer name, its feed."""

    outputs: list[np.ndarray]
    feeds: dict[str, LayerFeed]
    seconds: float = 0.0
    notes: list[str] = field(default_factory=list)
    refused: dict[str, str] = field(default_factory=dict)   # layer name -> why it is not captured
    # a node's own first output by node name, where a note compares it with the engine's
    # (ONNX Runtime's int8 DynamicQuantizeLSTM against the float cell)
    node_outputs: dict[str, np.ndarray] = field(default_factory=dict)

    def missing(self, name: str) -> str:
        """Why the traced layer ``name`` has no feed in this run."""
        if name in self.refused:
            return f"{self.refused[name]}; trace it on its own input with --layer-input"
        return (f"the LSTM '{name}' does not run for this input (a branch not taken); LSTMs "
                f"that ran: {', '.join(self.feeds) or 'none'}")


class Capturer(Protocol):
    def run(self, inputs: dict[str, np.ndarray]) -> Capture: ...


@dataclass
class Runtime:
    """The framework that runs a model LSTM Scope cannot compute whole. ``make`` imports it
    (lazily: opening and ``info`` never need it); without it, one line names what to install."""

    framework: str
    install: str
    make: Callable[[], Capturer]
    _capturer: Capturer | None = None

    def capturer(self) -> Capturer:
        if self._capturer is None:
            try:
                self._capturer = self.make()
            except ImportError:
                raise UnsupportedModelError(
                    f"running this model (its LSTM's input comes from ops LSTM Scope does not "
                    f"compute) needs {self.framework}: {self.install}; or trace one LSTM on its "
                    f"own input with --layer-input") from None
        return self._capturer

    def run(self, inputs: dict[str, np.ndarray]) -> Capture:
        return self.capturer().run(inputs)


def inputs_key(inputs: Mapping[str, np.ndarray]) -> tuple:
    """A cache key for one set of inputs (content hash: a capture is one framework run)."""
    parts = []
    for name in sorted(inputs):
        arr = np.ascontiguousarray(inputs[name])
        parts.append((name, arr.shape, arr.dtype.str, hashlib.blake2b(arr.tobytes(), digest_size=16).hexdigest()))
    return tuple(parts)


def match_inputs(names: list[str], optional: list[str], given: Any, *,
                 source: str = "") -> tuple[dict[str, np.ndarray], list[str]]:
    """The model's named inputs from one array (a one-input model) or a name -> array mapping
    (an .npz). Missing required or unknown arrays are errors naming them; a missing optional
    (state) input is left out with a warning: it starts at zero."""
    where = f"{source}: " if source else ""
    if not isinstance(given, Mapping):
        arr = np.asarray(given)
        required = [n for n in names[1:] if n not in optional]
        if required:
            raise InputFileError(f"{where}the model has {len(names)} inputs ({', '.join(names)}): "
                                 f"give an .npz holding one array per input name")
        given = {names[0]: arr} if names else {"input": arr}
    arrays = {k: np.asarray(v) for k, v in given.items()}
    if len(names) <= 1 and len(arrays) == 1:
        return {names[0] if names else next(iter(arrays)): next(iter(arrays.values()))}, []
    positional = [f"arr_{k}" for k in range(len(arrays))]
    if list(arrays) == positional and len(arrays) == len(names) and not set(names) & set(arrays):
        arrays = dict(zip(names, arrays.values()))     # np.savez(path, a, b): inputs in order
        return arrays, [f"the input arrays arr_0 .. arr_{len(names) - 1} are taken as the "
                        f"model inputs in order ({', '.join(names)})"]
    extra = [k for k in arrays if k not in names]
    missing = [n for n in names if n not in arrays and n not in optional]
    if missing or extra:
        parts = []
        if missing:
            parts.append(f"missing {', '.join(repr(n) for n in missing)}")
        if extra:
            parts.append(f"no model input is named {', '.join(repr(n) for n in extra)}")
        raise InputFileError(f"{where}the input arrays do not match the model's inputs "
                             f"({', '.join(names)}): {'; '.join(parts)}")
    notes = [f"the model input '{n}' is not given: it starts at zero" for n in names
             if n not in arrays]
    for name, arr in arrays.items():
        if arr.dtype == object or arr.dtype.kind not in "biuf":
            raise InputFileError(f"{where}input '{name}' must be numeric, got dtype {arr.dtype}")
    return {n: arrays[n] for n in names if n in arrays}, notes
