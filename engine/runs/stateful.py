"""Stateful runs: feed a model several segments in order, carrying every LSTM's h and c.

Keras' ``stateful=True`` keeps each layer's final state as the next batch's initial state.
Here that is explicit: ``model.trace(seg, initial_state=previous.states)``, or for a whole list
of segments ``trace_segments``. ``join`` glues the per-segment traces back into one long run
(the same numbers a single trace over the concatenated input gives, for forward layers).

State files (``--initial-state`` / ``--state-out`` on the command line) are ``.npz`` with
``h0`` and ``c0`` (batch, units) for one layer, and/or ``NAME/h0``, ``NAME/c0`` per traced
layer (a stacked or Bidirectional model carries every layer's state).
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Mapping
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import InitialStateError, describe
from ..system.archives import NpzArchive
from ..system.files import atomic_write, check_readable
from .trace import LayerTrace, TraceResult

States = dict[str, tuple[np.ndarray, np.ndarray]]


def trace_segments(model: Any, segments: Iterable[Any], *,
                   initial_state: Mapping[str, tuple[np.ndarray, np.ndarray]] | tuple | None = None,
                   layer_input: int | str | None = None) -> list[TraceResult]:
    """Trace each segment in order, starting each from the previous one's final states."""
    results: list[TraceResult] = []
    state = initial_state
    for seg in segments:
        result = model.trace(seg, initial_state=state, layer_input=layer_input)
        results.append(result)
        state = result.states
    return results


def join(results: list[TraceResult]) -> TraceResult:
    """One TraceResult over consecutive segments: arrays concatenated along time.

    ``output`` is concatenated when the model returns sequences, otherwise it is the last
    segment's; ``states`` are the last segment's; h0/c0 are the first segment's.
    """
    if not results:
        raise ValueError("no segments to join")
    layers = [_join_layer([r.layers[k] for r in results]) for k in range(len(results[0].layers))]
    outs = [r.output for r in results]
    seq = all(np.ndim(o) == 3 for o in outs)
    output = np.concatenate(outs, axis=1) if seq else outs[-1]
    return TraceResult(output, layers, [output], dict(results[-1].states))


def _join_layer(parts: list[LayerTrace]) -> LayerTrace:
    first = parts[0]
    cat = lambda name: np.concatenate([getattr(p, name) for p in parts], axis=1)  # noqa: E731
    zp = None if first.zp is None else cat("zp")
    return LayerTrace(name=first.name, direction=first.direction, weights=first.weights,
                      x=cat("x"), mask=cat("mask"), h0=first.h0, c0=first.c0,
                      gates=cat("gates"), zx=cat("zx"), zh=cat("zh"), c=cat("c"), h=cat("h"), zp=zp)


def save_states(path: str | Path, states: Mapping[str, tuple[np.ndarray, np.ndarray]],
                layer: str | None = None, *, inputs: Iterable[tuple[str, Any]] = ()) -> None:
    """Write ``NAME/h0``, ``NAME/c0`` for every layer, plus ``h0``/``c0`` for ``layer``."""
    arrays: dict[str, np.ndarray] = {}
    for name, (h, c) in states.items():
        arrays[f"{name}/h0"] = np.asarray(h, np.float32)
        if np.size(c):                      # a GRU or simple RNN has no c: h0 alone
            arrays[f"{name}/c0"] = np.asarray(c, np.float32)
    if layer is not None and layer in states:
        h, c = states[layer]
        arrays["h0"] = np.asarray(h, np.float32)
        if np.size(c):
            arrays["c0"] = np.asarray(c, np.float32)
    with atomic_write(path, inputs=inputs) as fh:
        np.savez(fh, **arrays)


def h_only(model: Any) -> list[str]:
    """The traced layers of ``model`` with no cell state (GRUs, simple RNNs): h0 alone."""
    return [info.name for info in model.traced_layers if info.weights.cell_size == 0]


def load_states(path: str | Path, default_layer: str, h_only: Collection[str] = ()) -> States:
    """Read a state file: ``h0``/``c0`` apply to ``default_layer``; ``NAME/h0``, ``NAME/c0``
    to layer NAME (those win for their layer). The layers named in ``h_only`` (GRUs, simple
    RNNs) have no cell state: their ``h0`` comes alone."""
    path = check_readable(path, "--initial-state file", InitialStateError)
    where = describe(path)
    files: dict[str, np.ndarray] = {}
    with NpzArchive(path, InitialStateError, as_float32=True) as data:
        for k in data.files:
            arr = data[k]
            if arr.dtype.kind not in "biuf":
                raise InitialStateError(f"{where}: array '{k}' holds {arr.dtype}, not real numbers")
            files[k] = arr.astype(np.float32)
    states: States = {}
    if default_layer in h_only and "h0" in files:
        states[default_layer] = (files["h0"], files.get("c0"))
    elif "h0" in files or "c0" in files:
        if "h0" not in files or "c0" not in files:
            raise InitialStateError(f"{where}: expected arrays 'h0' and 'c0', found {', '.join(files)}")
        states[default_layer] = (files["h0"], files["c0"])
    for key in files:
        name, _, part = key.rpartition("/")
        if name and part == "h0":
            if f"{name}/c0" not in files and name not in h_only:
                raise InitialStateError(f"{where}: '{key}' has no matching '{name}/c0'")
            states[name] = (files[key], files.get(f"{name}/c0"))
    if not states:
        raise InitialStateError(f"{where}: expected arrays 'h0' and 'c0' (or 'LAYER/h0', "
                             f"'LAYER/c0'), found {', '.join(files) or 'none'}")
    return states
