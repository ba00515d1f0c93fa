"""``main.py grad``: exact gradients of a target through a run, written to one .npz (no Qt).

Arrays (float32, batch first, indexed by input position): ``dx`` (B,T,D) w.r.t. the traced
layer's own input, ``dx_model`` w.r.t. the model's float input or its Embedding's output (when
the chain down there is computed), ``dh`` ``dc`` (B,T,H / N) total derivatives w.r.t. h_t and
c_t, ``dh0`` ``dc0``, ``LAYER/dh0`` ``LAYER/dc0`` for every layer the gradient reached, and
``meta`` (JSON: target, its value, layer, warnings).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, TextIO

import numpy as np

from ..errors import InputFileError
from ..loaders import load_model
from ..output.export import atomic_write, check_writable
from ..system.progress import done, reporting
from .commands import (
    fits_memory,
    input_roles,
    model_roles,
    print_warnings,
    resolve_input,
    run_notes,
)


def run_grad(model_spec: str, input_path: str | None, out: str, *, target: str,
             layer: str | None = None, key: str | None = None, layer_input: bool = False,
             initial_state: str | None = None, err: TextIO,
             options: dict[str, Any] | None = None) -> int:
    """``options``: ``load_model``'s (config, allow_length, trust), as for trace and info."""
    from ..gradients.grad_target import parse_target
    from ..runs.stateful import h_only, load_states
    parse_target(target)                       # a bad target fails before any work
    options = options or {}
    inputs = input_roles(model_spec, input_path, initial_state, options.get("config"))
    check_writable(out, inputs=inputs)
    model = load_model(model_spec, **options)
    inputs = model_roles(model, inputs)
    check_writable(out, inputs=inputs)
    print_warnings(model.warnings, err)
    seen = len(model.warnings)
    x = resolve_input(model, input_path, key)
    index = model.layer_index(layer)
    name = model.traced_layers[index].name
    states = load_states(initial_state, name, h_only(model)) if initial_state is not None else None
    if states is not None and layer_input:
        states = {k: v for k, v in states.items() if k == name}
    from .commands import _trace_size
    size = _trace_size(model, x, index, layer_input)
    progress = reporting(err, "grad", 2 * size[1] * len(size[2]) if size is not None else 0)
    try:
        with np.errstate(all="ignore"), progress:
            if fits_memory(model, x, index, layer_input):
                result = model.trace(x, initial_state=states,
                                     layer_input=index if layer_input else None)
                g = None
            else:     # too big for memory: through the checkpoints (engine.gradients.grad_segments)
                from ..session import Session
                session = Session(model, x, layer=index, initial_state=states,
                                  layer_input=layer_input, checkpoint_above=0)
                g = session.grad(target)
    except InputFileError as exc:
        if input_path is None or str(input_path) in str(exc):
            raise
        raise InputFileError(f"{input_path}: {exc}") from None
    print_warnings(run_notes(model, x, layer_input, seen=seen), err)
    if g is None:
        with reporting(err, "grad", len(result.names) * result.layer(name).steps):
            g = result.grad(target, layer=name)
    for note in g.warnings:
        print(f"warning: {note}", file=err)
    arrays = g.arrays()
    finite = all(np.all(np.isfinite(a)) for a in arrays.values())
    if not finite:
        print("warning: the gradient holds NaN/Inf values (the run or the gradient overflowed)",
              file=err)
    meta = {"model": model.source, "target": g.target, "value": g.value, "layer": g.layer,
            "layer_index": index, "layers": sorted(g.layers), "warnings": g.warnings}
    arrays["meta"] = np.array(json.dumps(meta))

    def write(tmp: Path) -> None:
        with open(tmp, "wb") as fh:
            np.savez(fh, **arrays)
    atomic_write(out, write, inputs=inputs)
    done(err, f"wrote {out}: d {g.target} / d (x, h, c, h0, c0) of layer {g.layer}")
    return 0

