"""Headless commands behind ``main.py trace`` and ``main.py info`` (no Qt).

Each returns an exit code and writes warnings to ``err``; ScopeError propagates to main.py,
which turns it into one line on stderr and exit code 2.
"""

from __future__ import annotations

import json
from contextlib import ExitStack
from typing import Any, TextIO

import numpy as np

from ..errors import InitialStateError, InputFileError, ScopeError, describe
from ..loaders import load_model
from ..network.model import Model
from ..output.trace_window import cut_trace, window_range
from ..system.budget import BudgetError, check_bytes, format_bytes, memory_budget
from ..system.files import atomic_write, check_output, outputs_together
from ..system.inputs import read_model_input
from ..system.progress import done, reporting


def parse_slice(text: str) -> slice:
    """``A:B`` (Python slice, end excluded) from the command line."""
    parts = text.split(":")
    if len(parts) != 2:
        raise ScopeError(f"'{text}' is not a range A:B")
    try:
        start = int(parts[0]) if parts[0].strip() else None
        stop = int(parts[1]) if parts[1].strip() else None
    except ValueError:
        raise ScopeError(f"'{text}' is not a range A:B of integers") from None
    return slice(start, stop)


def resolve_input(model: Model, input_path: str | None, key: str | None
                  ) -> np.ndarray | dict[str, np.ndarray]:
    """The user's input file (by input name for a model with several), or the demo's default
    input, or an error saying what is needed."""
    if input_path is not None:       # an array picked by the input's name is said, once
        return read_model_input(input_path, key, model.input_names, notes=model.warnings)
    demo = model.metadata.get("demo")
    if demo is not None:
        from ..loaders.demos import default_demo_input
        return default_demo_input(demo, model)
    raise InputFileError(f"{model.source}: give an input sequence with --input FILE "
                         f"(.npy, .npz or .csv)")


def nonfinite_warnings(model: Model, x: np.ndarray, arrays: dict[str, np.ndarray]) -> list[str]:
    """NaN/Inf are not errors: they propagate into the trace, and we say where they came from."""
    notes = []
    if np.issubdtype(np.asarray(x).dtype, np.floating) and not np.all(np.isfinite(x)):
        notes.append(f"input holds {int(np.sum(~np.isfinite(x)))} NaN/Inf values; they propagate "
                     f"into the trace")
    if not model.weights_finite():
        notes.append("model weights hold NaN/Inf values; they propagate into the trace")
    h = arrays.get("h")
    if h is not None and not notes and not np.all(np.isfinite(h[np.asarray(arrays["mask"], bool)])):
        notes.append("the trace holds NaN/Inf values (the state overflowed)")
    return notes


def run_states(model: Model, index: int, initial_state: str | None,
               layer_input: bool) -> dict[str, Any] | None:
    """``--initial-state``'s states for a run of traced layer ``index`` (with ``layer_input``
    only that layer runs, so only its own state applies)."""
    if initial_state is None:
        return None
    from ..runs.stateful import h_only, load_states
    name = model.traced_layers[index].name
    states = load_states(initial_state, name, h_only(model))
    return {k: v for k, v in states.items() if k == name} if layer_input else states


def run_trace(model_spec: str, input_path: str | None, out: str, *, layer: str | None = None,
              key: str | None = None, initial_state: str | None = None, layer_input: bool = False,
              state_out: str | None = None, err: TextIO, steps: str | None = None,
              options: dict[str, Any] | None = None) -> int:
    """``--initial-state`` holds h0/c0 for the traced layer and/or NAME/h0, NAME/c0 for any
    traced layer; ``--state-out`` writes every layer's final state in that same format, so a
    stateful model's next segment is ``--initial-state`` of the previous ``--state-out``.
    ``steps`` (``--steps A:B``) records only input positions A:B of the whole run; a run too
    big for memory is checkpointed and streamed (``engine.output.trace_window``)."""
    from ..runs.stateful import h_only, load_states, save_states
    options = options or {}
    inputs = input_roles(model_spec, input_path, initial_state, options.get("config"))
    check_output(out, inputs=inputs, suffixes=(".npz",))
    if state_out is not None:
        check_output(state_out, inputs=[*inputs, ("--out file", out)], suffixes=(".npz",))
    model = load_model(model_spec, **options)
    inputs = model_roles(model, inputs)
    for path in (out, state_out):
        if path is not None:
            check_output(path, inputs=inputs)
    print_warnings(model.warnings, err)
    seen = len(model.warnings)
    try:
        x = resolve_input(model, input_path, key)
    except BudgetError as exc:       # the input itself is too big: only segments would work
        raise BudgetError(f"{exc}; cut the input into segments and carry the state with "
                          f"--state-out / --initial-state") from None
    index = model.layer_index(layer) if layer is not None or layer_input else model.default_layer(x)
    states = None
    if initial_state is not None:
        states = load_states(initial_state, model.traced_layers[index].name, h_only(model))
        if layer_input:   # only the traced layer runs
            states = {k: v for k, v in states.items() if k == model.traced_layers[index].name}
    window = parse_slice(steps) if steps is not None else None
    try:
        if not fits_memory(model, x, index, layer_input):
            return _trace_streamed(model, x, index, layer_input, states, window, out, inputs,
                                   state_out, err, seen)
        size = _trace_size(model, x, index, layer_input)
        total = size[1] * len(size[2]) if size is not None else 0
        with np.errstate(all="ignore"), reporting(err, "trace", total):
            result = model.trace(x, initial_state=states, layer_input=index if layer_input else None)
    except InitialStateError as exc:     # a state that does not fit: the state file's fault
        if initial_state is None or describe(initial_state) in str(exc):
            raise
        raise InitialStateError(f"{describe(initial_state)}: {exc}") from None
    except InputFileError as exc:
        if input_path is None or describe(input_path) in str(exc):
            raise
        raise InputFileError(f"{describe(input_path)}: {exc}") from None
    print_warnings(run_notes(model, x, layer_input, seen=seen), err)
    name = model.traced_layers[index].name
    if name not in result.names:
        raise ScopeError(f"{model.source}: {model.missing_layer(name, x)}")
    traced = result.layer(name)
    a, b = window_range(window, traced.steps)
    arrays = cut_trace(result, traced, model, index, layer_input, a, b)
    meta = {"model": model.source, "format": model.format, "layer": traced.name,
            "layer_index": index, "direction": traced.direction,
            "layers": result.names, "version": _version(), "steps": [a, b],
            "run_steps": traced.steps}
    arrays["meta"] = np.array(json.dumps(meta))
    for note in nonfinite_warnings(model, arrays["x"], arrays):
        print(f"warning: {note}", file=err)
    with outputs_together():        # --out and --state-out: both or neither
        with atomic_write(out, inputs=inputs) as fh:
            np.savez(fh, **arrays)
        if state_out is not None:
            save_states(state_out, result.states, traced.name, inputs=inputs)
    _say_written(err, out, traced.name, a, b, traced.steps)
    return 0


def _say_written(err: TextIO, out: str, layer: str, a: int, b: int, steps: int) -> None:
    """The one line saying what a trace wrote (on a terminal, like the progress)."""
    import os
    size = format_bytes(os.path.getsize(out)) if os.path.exists(out) else "?"
    done(err, f"wrote {out} ({size}): layer {layer}, input positions {a}:{b} of {steps:,}")


def print_warnings(notes: list[str], err: TextIO) -> None:
    """Every loader or capture warning, one line each on stderr."""
    for note in notes:
        print(f"warning: {note}", file=err)


def run_notes(model: Model, x: Any, layer_input: bool = False, *, seen: int = 0) -> list[str]:
    """What this run adds to the model's first ``seen`` warnings (an input length allowed by
    --allow-length, a captured model's missing state inputs)."""
    notes = list(model.warnings[seen:])
    if model.runtime is not None and not layer_input:
        notes += model.capture(x).notes
    return notes


def _trace_size(model: Model, x: Any, index: int, layer_input: bool
                ) -> tuple[int, int, list[int]] | None:
    """(batch, steps, bytes per step of each traced layer that runs) of a whole trace, or
    None when only the run knows (a captured model's LSTMs see the framework's input)."""
    from ..system.presets import trace_bytes
    if not layer_input:
        model._settle_runtime()      # a framework that cannot run it: the engine's part
    if model.runtime is not None and not layer_input:
        return _captured_size(model, x, index)
    arr = model.prepare_input(x, layer_input=index if layer_input else None)
    if isinstance(arr, dict):
        return None
    batch, steps = int(arr.shape[0]), int(arr.shape[1]) if arr.ndim > 1 else 1
    layers = [model.traced_layers[index]] if layer_input else model.traced_layers
    per_step = [trace_bytes(batch, 1, info.units, info.input_dim, info.weights.state_size)
                for info in layers]
    return batch, steps, per_step


def _captured_size(model: Model, x: Any, index: int) -> tuple[int, int, list[int]] | None:
    """(batch, steps, bytes per step of each traced layer) of a captured model's trace, from
    what the framework's run fed its LSTMs (that run is needed anyway and is kept); steps are
    the traced layer's, each other layer's bytes scaled to its own length."""
    from ..system.presets import trace_bytes
    feeds = model.capture(x).feeds
    own = feeds.get(model.traced_layers[index].name)
    if own is None:
        return None
    batch, steps = int(own.x.shape[0]), max(int(own.x.shape[1]), 1)
    per_step = []
    for info in model.traced_layers:
        feed = feeds.get(info.name)
        if feed is None:
            continue
        b, t = int(feed.x.shape[0]), int(feed.x.shape[1])
        total = trace_bytes(b, t, info.units, info.input_dim, info.weights.state_size)
        per_step.append(-(-total // steps))
    return batch, steps, per_step


def fits_memory(model: Model, x: Any, index: int, layer_input: bool) -> bool:
    """Whether the whole model's trace fits the memory budget (then it is traced in memory)."""
    size = _trace_size(model, x, index, layer_input)
    return size is None or sum(size[2]) * size[1] <= memory_budget()


def check_trace_size(model: Model, x: np.ndarray, index: int, layer_input: bool) -> None:
    """Refuse, before any work, a run whose trace would not fit the memory budget, naming a
    range of steps that would."""
    size = _trace_size(model, x, index, layer_input)
    if size is None:
        return
    batch, steps, per_step = size
    fits = max(1, memory_budget() // max(sum(per_step), 1))
    check_bytes(sum(per_step) * steps, f"tracing {steps:,} steps of {batch} sample(s)",
                hint=f"trace at most about {fits:,} steps at a time: cut the input into "
                     f"segments and carry the state with --state-out / --initial-state")


def check_checkpointable(model: Model, x: Any, index: int) -> bool:
    """Whether the traced layer's run fits in memory (False: it is opened checkpointed, as
    the window does). Refuses, naming what works, when even the layers before it would not
    fit: their outputs are computed whole to feed it."""
    size = _trace_size(model, x, index, False)
    if size is None or sum(size[2]) * size[1] <= memory_budget():
        return True
    batch, steps, per_step = size
    if sum(per_step[:index]) * steps > memory_budget() // 2:
        fits = max(1, memory_budget() // max(sum(per_step), 1))
        check_bytes(sum(per_step) * steps, f"tracing {steps:,} steps of {batch} sample(s)",
                    hint=f"the layers before {model.traced_layers[index].name!r} need their "
                         f"whole runs: use an input of at most about {fits:,} steps")
    return False


def _trace_streamed(model: Model, x: Any, index: int, layer_input: bool, states: Any,
                    window: slice | None, out: str, inputs: list, state_out: str | None,
                    err: TextIO, seen: int) -> int:
    """A run too big for memory: the traced layer checkpointed, its window written block
    by block (docs/architecture.md, "Long runs"); refused, naming what would work, when the
    model's output or the layers before it need whole runs in memory."""
    from ..output.trace_window import cut_output, output_reversed, output_tail, write_streamed
    from ..runs.stateful import save_states
    from ..session import Session
    batch, steps, per_step = _trace_size(model, x, index, layer_input)
    name = model.traced_layers[index].name
    tail = output_tail(model, index, layer_input)
    if state_out is not None and not layer_input and len(model.traced_layers) > 1:
        raise BudgetError(f"tracing {steps:,} steps does not fit LSTM Scope's memory budget of "
                          f"{format_bytes(memory_budget())}, and --state-out needs every layer's "
                          f"whole run: trace with --layer-input, or cut the input into segments")
    session = Session(model, x, layer=index, initial_state=states, layer_input=layer_input,
                      checkpoint_above=0)
    a, b = window_range(window, session.steps)
    print_warnings(run_notes(model, x, layer_input, seen=seen), err)
    extra: dict[str, np.ndarray] = {}
    reach = (session.steps - a if session.backward else b) + (b - a)   # checkpoints, then a:b
    total = reach + (0 if tail is not None else session.steps * len(per_step))
    progress = reporting(err, "trace (checkpointed)", total)
    stack = ExitStack()
    stack.enter_context(progress)
    if tail is None:       # the output computed whole, for its h alone, and cut to the window
        _check_output_run(model, batch, steps, index, layer_input)
        output = model.output_only(x, initial_state=states,
                                   layer_input=index if layer_input else None)
        if output is not None:
            extra["output"] = np.ascontiguousarray(cut_output(
                output, session.steps, a, b, output_reversed(model, index, layer_input)))
    meta = {"model": model.source, "format": model.format, "layer": name, "layer_index": index,
            "direction": session.info.direction, "layers": model.layer_names,
            "version": _version(), "steps": [a, b], "run_steps": session.steps,
            "checkpointed": True}
    with stack, outputs_together():
        write_streamed(out, session, a, b, tail, {**extra, "meta": np.array(json.dumps(meta))},
                       inputs=inputs)
        if state_out is not None:
            save_states(state_out, {name: session.store.final_state()}, name, inputs=inputs)
    _say_written(err, out, name, a, b, session.steps)
    return 0


def _check_output_run(model: Model, batch: int, steps: int, index: int, layer_input: bool) -> None:
    """Refuse, naming a length that fits, a streamed window whose model output would need more
    than the budget: every LSTM that runs keeps its whole h (B, T, H) for the output (a
    captured model's output is the framework's, already in memory)."""
    if model.runtime is not None and not layer_input:
        return
    layers = [model.traced_layers[index]] if layer_input else model.traced_layers
    per_step = sum(4 * batch * info.weights.state_size for info in layers)
    fits = max(1, memory_budget() // max(per_step, 1))
    check_bytes(per_step * steps, f"the model's output over {steps:,} steps of {batch} sample(s)",
                hint=f"trace at most about {fits:,} steps at a time: cut the input into segments "
                     f"and carry the state with --state-out / --initial-state")


def input_roles(model_spec: str, input_path: str | None = None,
                initial_state: str | None = None, config: str | None = None
                ) -> list[tuple[str, str | None]]:
    """The files a run reads, by role: an output may be none of them. What only the model
    file names (ONNX external data) is added once it is open: ``model_roles``."""
    from ..debugging.session_file import model_file
    mfile = model_file(str(model_spec))
    return [("model", str(mfile) if mfile is not None else None), ("--input file", input_path),
            ("--initial-state file", initial_state), ("--config file", config)]


def model_roles(model: Model, inputs: list[tuple[str, str | None]]) -> list[tuple[str, str | None]]:
    """``inputs`` and every other file the open model was read from (``Model.source_files``)."""
    return [*inputs, *model.source_files]


def run_info(model_spec: str, *, as_json: bool, out: TextIO, err: TextIO,
             input_path: str | None = None, key: str | None = None,
             layer: str | None = None, layer_input: bool = False,
             options: dict[str, Any] | None = None) -> int:
    """Layers and shapes; with an input, also the shapes only the input decides (with
    ``layer_input``, the input is traced layer ``layer``'s own, as for trace).
    ``options``: ``load_model``'s (config, allow_length, trust)."""
    if layer_input and input_path is None:
        raise ScopeError("--layer-input says what --input is: give --input")
    if layer is not None and not layer_input:
        raise ScopeError("info shows every layer; --layer names the layer whose own input "
                         "--input is, with --layer-input")
    model = load_model(model_spec, **(options or {}))
    seen = len(model.warnings)
    summary = model.summary()
    print_warnings(summary["warnings"], err)       # before the run: they may explain its error
    if not model.weights_finite():
        print("warning: model weights hold NaN/Inf values", file=err)
    if input_path is not None:
        x = resolve_input(model, input_path, key)
        try:
            with np.errstate(all="ignore"):
                summary["run"] = run_shapes(model, x, model.layer_index(layer) if layer_input
                                            else None)
        except InputFileError as exc:
            if str(input_path) in str(exc):
                raise
            raise InputFileError(f"{describe(input_path)}: {exc}") from None
        notes = run_notes(model, x, layer_input, seen=seen)
        print_warnings(notes, err)
        summary["warnings"] += notes
    if as_json:
        print(json.dumps(summary, indent=2), file=out)
        return 0
    out.write(format_info(summary))
    return 0


def run_shapes(model: Model, x: Any, layer_input: int | None = None) -> dict[str, Any]:
    """Shapes of one run: the model's inputs and outputs, each traced layer's x and h (with
    ``layer_input``, of that traced layer run on its own input ``x``)."""
    if layer_input is not None:
        inputs = {model.traced_layers[layer_input].name: x}
    else:
        inputs = x if isinstance(x, dict) else {(model.input_names or ["input"])[0]: x}
    result = model.trace(x, layer_input=layer_input)
    return {"inputs": {k: list(np.shape(v)) for k, v in inputs.items()},
            "outputs": [list(np.shape(o)) for o in result.outputs],
            "layers": {tr.name: {"x": list(tr.x.shape), "h": list(tr.h.shape)}
                       for tr in result.layers}}


def format_info(summary: dict[str, Any]) -> str:
    if summary.get("runtime"):     # the model's input is the framework's, not an LSTM's
        names = ", ".join(summary["input"]["names"]) or "as the model takes it"
        shown = f"{names} (the model's own; {summary['runtime']} captures each LSTM's input)"
    elif summary["input"]["tokens"]:
        shown = "token ids (batch, T)"
    else:
        shown = f"(batch, T, {summary['input']['features'] or '?'})"
    lines = [f"model:   {summary['source']}  ({summary['format']})", f"input:   {shown}",
             f"params:  {summary['params']:,}", "", "layers:"]
    for layer in summary["layers"]:
        lines.append(f"  {layer['name']:<24} {layer['class']:<16} {layer['params']:>12,}")
    lines += ["", "traced layers:"]
    for t in summary["traced_layers"]:
        shapes = t["shapes"]
        bias = shapes.get("bias")
        if "kernel" not in shapes:       # a cell with weights of its own (an mLSTM's gate maps)
            own = " ".join(f"{key}={tuple(shape)}" for key, shape in shapes.items())
            lines.append(f"  [{t['index']}] {t['name']:<20} {t['direction']:<8} {t['cell_written']:<4} "
                         f"units={t['units']:<5} {own} params={t['params']:,} "
                         f"input={t.get('computed', 'native')}")
            continue
        lines.append(
            f"  [{t['index']}] {t['name']:<20} {t['direction']:<8} {t['cell_written']:<4} units={t['units']:<5} "
            f"kernel={tuple(shapes['kernel'])} recurrent={tuple(shapes['recurrent_kernel'])} "
            f"bias={tuple(bias) if bias else 'none'} "
            + (f"projection={tuple(shapes['projection'])} " if "projection" in shapes else "")
            + (f"peephole={tuple(shapes['peephole'])} " if "peephole" in shapes else "")
            + f"params={t['params']:,} "
            f"act={t['activation']} "
            + (f"rec_act={t['recurrent_activation']} " if t["cell"] != "rnn" else "")
            + f"input={t.get('computed', 'native')}")
    run = summary.get("run")
    if run:
        lines += ["", "this input:"]
        lines += [f"  input  {name:<20} {tuple(shape)}" for name, shape in run["inputs"].items()]
        lines += [f"  output {k:<20} {tuple(shape)}" for k, shape in enumerate(run["outputs"])]
        lines += [f"  {name:<27} x={tuple(v['x'])} h={tuple(v['h'])}"
                  for name, v in run["layers"].items()]
    return "\n".join(lines) + "\n"


def _version() -> str:
    from .. import __version__
    return __version__
