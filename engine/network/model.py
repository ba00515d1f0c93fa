"""A loaded model: a chain of ops with traced LSTM directions, whatever file it came from."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ..capture.feed import Capture, LayerFeed, Runtime, inputs_key, match_inputs
from ..cells.cell import CellWeights
from ..cells.cell_kind import CellKind
from ..errors import InputFileError, ScopeError, UnsupportedModelError, describe
from ..runs.stepper import DirectionRunner
from ..runs.trace import TraceResult
from ..system.blas import blas_limited
from .layers import LSTM, Bidirectional, Embedding, Op, RunContext, Untraceable, check_state

F32 = np.float32
_FRAMEWORK_NAMES = {"keras": "Keras", "torch": "PyTorch", "onnxruntime": "ONNX Runtime"}
StateMap = Mapping[str, tuple[np.ndarray, np.ndarray]]


@dataclass(frozen=True)
class TracedLayerInfo:
    """One traced LSTM direction: its name, place in the model, and weights."""

    index: int
    name: str
    direction: str
    weights: CellWeights
    op_index: int
    return_sequences: bool
    stateful: bool

    @property
    def units(self) -> int:
        return self.weights.units

    @property
    def input_dim(self) -> int:
        return self.weights.input_dim

    @property
    def cell_kind(self) -> CellKind:
        """What this direction's cell is (its signals, their order, its specs): what every view
        of a run reads its signal lists from, per run."""
        return self.weights.kind


@dataclass
class Model:
    """Ops in order. ``chain`` is False for graphs we can only trace layer by layer."""

    ops: list[Op]
    source: str = ""
    format: str = ""
    name: str = "model"
    chain: bool = True
    input_length: int | None = None           # T fixed by the file, if any
    batch_size: int | None = None             # fixed batch (stateful Keras models)
    metadata: dict[str, Any] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)
    # capture (see docs/architecture.md, "Capture"): the owning framework runs the model and
    # hands each traced LSTM its real input; the engine then steps the LSTM itself
    runtime: Runtime | None = None
    input_names: list[str] = field(default_factory=list)     # the model's named inputs
    optional_inputs: list[str] = field(default_factory=list)  # state inputs: zeros if missing
    fixed_input: bool = False      # input_length / batch_size are the file's (Keras) and enforced
    allow_length: bool = False     # --allow-length: another length or batch only warns
    open_options: dict[str, Any] = field(default_factory=dict)   # how load_model opened it
    # leading ops the engine computes from the model's one input, each reading the one before,
    # as a loader that knows the graph found them (Keras); None: a chain's ops up to the first
    # it cannot compute (docs/architecture.md, "Capture")
    native_prefix: int | None = None
    # every other file the model was read from, as (role, path): its --config, ONNX external
    # data; like the model file itself, no output may overwrite them (engine.system.files.check_output)
    source_files: list[tuple[str, str]] = field(default_factory=list)

    def __post_init__(self) -> None:
        self._capture_cache: tuple[Any, Capture] | None = None
        self._index_layers()

    def _index_layers(self) -> None:
        self.traced_layers: list[TracedLayerInfo] = []
        for op_index, op in enumerate(self.ops):
            if callable(getattr(op, "traced", None)):   # LSTM, Bidirectional, torch/ONNX ops
                for name, weights, backward in op.traced():
                    self.traced_layers.append(TracedLayerInfo(
                        len(self.traced_layers), name, "backward" if backward else "forward",
                        weights, op_index, op.return_sequences, getattr(op, "stateful", False)))
        if not self.traced_layers:
            blocked = [op for op in self.ops if isinstance(op, Untraceable)]
            recurrent = [op for op in blocked if any(k in op.kind for k in ("GRU", "RNN", "LSTM"))]
            if recurrent or blocked:
                raise UnsupportedModelError((recurrent or blocked)[0].reason)
            raise ScopeError(f"{self.source or self.name}: the model has no LSTM layer to trace")

    @property
    def untraceable(self) -> list[Untraceable]:
        """Layers the engine cannot compute (the model loads; --layer-input traces its LSTMs)."""
        return [op for op in self.ops if isinstance(op, Untraceable)]

    @property
    def native_ops(self) -> int:
        """How many leading ops the engine runs on the model's input itself."""
        if self.native_prefix is not None:
            return min(self.native_prefix, len(self.ops))
        if not self.chain:
            return 0
        return next((k for k, op in enumerate(self.ops) if isinstance(op, Untraceable)),
                    len(self.ops))

    @property
    def partial(self) -> bool:
        """The engine computes the layers up to some traced LSTM but not the whole model
        (a BatchNormalization, a custom layer after it): such a run has no ``output``."""
        upto = self.native_ops
        return upto < len(self.ops) and any(info.op_index < upto for info in self.traced_layers)

    def no_output_note(self) -> str:
        """The one line saying that a partial run has no output, and why."""
        upto = self.native_ops
        blocked = [op for op in self.ops[upto:] if isinstance(op, Untraceable)] or [self.ops[upto]]
        names = ", ".join(f"'{op.name}' ({op.kind})" for op in blocked)
        return (f"the trace has no output: LSTM Scope computes this model up to "
                f"'{self.ops[upto - 1].name}', not {names} after it")

    def _settle_runtime(self) -> None:
        """When the framework that should run this model cannot (not installed, or it cannot
        rebuild the file) and the engine computes the layers up to some traced LSTM, those are
        computed natively from now on, without the model's output; said once."""
        if self.runtime is None or self.native_prefix is None or not self.partial:
            return
        try:
            self.runtime.capturer()
        except UnsupportedModelError as exc:
            runtime, text = self.runtime, str(exc).removeprefix(f"{self.source}: ")
            framework = _FRAMEWORK_NAMES.get(runtime.framework, runtime.framework)
            self.runtime = None
            why = text.split("; ")
            short = (f"it is not installed: {runtime.install}" if f"needs {runtime.framework}:" in text
                     else next((part for part in why if framework.lower() in part.lower()), why[0]))
            self.warnings.append(f"{self.no_output_note()}, which {framework} cannot run here "
                                 f"({short}); --layer-input traces an LSTM on its own input")

    def missing_layer(self, name: str, x: Any) -> str:
        """Why the traced layer ``name`` is not in a whole-model run on ``x``."""
        if self.runtime is not None:
            return self.capture(x).missing(name)
        info = self.traced_layers[self.layer_index(name)]
        stop = self.ops[min(self.native_ops, info.op_index)]
        where = (f"lies after '{stop.name}' ({stop.kind}), where LSTM Scope's own run of this "
                 f"model stops" if stop is not self.ops[info.op_index] else
                 "does not read a chain of layers LSTM Scope computes from the model's input")
        return f"the LSTM '{name}' {where}; trace it on its own input with --layer-input"

    def _check_computable(self, ops: list[Op]) -> None:
        for op in ops:
            if isinstance(op, Untraceable):
                raise UnsupportedModelError(
                    f"{op.reason}; to trace an LSTM of this model, feed that layer its own "
                    f"input with --layer-input (Model.trace(x, layer_input=NAME))")

    # --- what the model expects ----------------------------------------------------------------
    @property
    def takes_tokens(self) -> bool:
        return bool(self.ops) and isinstance(self.ops[0], Embedding) and self.native_ops > 0

    @property
    def vocab_size(self) -> int | None:
        return self.ops[0].matrix.shape[0] if self.takes_tokens else None  # type: ignore[attr-defined]

    @property
    def input_features(self) -> int | None:
        """D of the model's input, or None for token models."""
        if self.takes_tokens:
            return None
        for op in self.ops:
            if isinstance(op, Untraceable):
                return None          # the first layers are not ones we compute
            if isinstance(op, LSTM):
                return op.weights.input_dim
            if isinstance(op, Bidirectional):
                return op.forward.input_dim
            if callable(getattr(op, "traced", None)):
                return op.traced()[0][1].input_dim
            kernel = getattr(op, "kernel", None)
            if kernel is not None:
                return int(kernel.shape[0])
        return None

    def layer_index(self, key: int | str | None) -> int:
        """Traced-layer index from an index, a numeric string or a name; None = the first."""
        if key is None:
            return 0
        text = key.strip() if isinstance(key, str) else None
        if text is not None and len(text.lstrip("-")) > 9 and text.lstrip("-").isdecimal():
            raise ScopeError(f"layer index {text[:12]}... ({len(text)} digits) out of range: this "
                             f"model has {len(self.traced_layers)} traced layers "
                             f"({', '.join(self.layer_names)})")
        if isinstance(key, int) or (text is not None and text.lstrip("-").isdecimal()):
            index = int(key)
            if not 0 <= index < len(self.traced_layers):
                raise ScopeError(f"layer index {index} out of range: this model has "
                                 f"{len(self.traced_layers)} traced layers "
                                 f"({', '.join(self.layer_names)})")
            return index
        for info in self.traced_layers:
            if info.name == key:
                return info.index
        raise ScopeError(f"no traced layer named '{describe(str(key)[:80])}' (layers: "
                         f"{', '.join(self.layer_names)})")

    @property
    def layer_names(self) -> list[str]:
        return [info.name for info in self.traced_layers]

    def prepare_input(self, x: Any, *, layer_input: int | str | None = None) -> Any:
        """Validate and batch an input (see ``_prepare``); a length or batch size the file
        fixes is enforced (``--allow-length`` warns instead)."""
        prepared = self._prepare(x, layer_input=layer_input)
        if self.fixed_input and layer_input is None:
            self._check_fixed(prepared)
        return prepared

    def _check_fixed(self, prepared: Any) -> None:
        arr = next(iter(prepared.values())) if isinstance(prepared, dict) else prepared
        shape = np.shape(arr)
        for what, axis, want in (("input length (time steps)", 1, self.input_length),
                                 ("batch size", 0, self.batch_size)):
            if want is None or len(shape) <= axis or shape[axis] == want:
                continue
            if axis == 1 and want and shape[1] % want == 0 and \
                    any(info.stateful for info in self.traced_layers):
                continue            # a stateful model: consecutive segments of the fixed length
            text = (f"{self.source}: the model fixes its {what} at {want} in the file; the input "
                    f"has {shape[axis]} (shape {tuple(shape)})")
            if not self.allow_length:
                raise InputFileError(text + "; --allow-length runs it anyway")
            note = text + " (allowed by --allow-length)"
            if note not in self.warnings:
                self.warnings.append(note)

    def _prepare(self, x: Any, *, layer_input: int | str | None = None) -> Any:
        """Validate and batch an input: (T,D)/(T,) become one sequence (1,T,...). A captured
        model takes its framework's input as given (a name -> array dict for several)."""
        if layer_input is None:
            self._settle_runtime()
        if self.runtime is not None and layer_input is None:
            return self._model_input(x)
        arr = np.asarray(x)
        if arr.dtype == object or arr.dtype.kind not in "biuf":
            raise InputFileError(f"input must be numeric, got dtype {arr.dtype}")
        if layer_input is not None or not self.takes_tokens:
            d = (self.traced_layers[self.layer_index(layer_input)].input_dim
                 if layer_input is not None else self.input_features)
            if arr.ndim == 1 and d == 1:
                arr = arr[:, None]
            if arr.ndim == 2:
                arr = arr[None]
            if arr.ndim != 3:
                raise InputFileError(f"input must be (batch, time, features) or (time, features); "
                                     f"got shape {arr.shape}")
            if d is not None and arr.shape[2] != d:
                raise InputFileError(f"model expects {d} features per step, input has "
                                     f"{arr.shape[2]} (shape {arr.shape})")
            return np.ascontiguousarray(arr, dtype=F32)
        if arr.ndim == 3 and arr.shape[2] == 1:
            arr = arr[..., 0]
        if arr.ndim == 1:
            arr = arr[None]
        if arr.ndim != 2:
            raise InputFileError(f"this model starts with an Embedding: input must be token ids "
                                 f"(batch, time) or (time,); got shape {arr.shape}")
        return arr

    # --- running ----------------------------------------------------------------------------
    @blas_limited
    def trace(self, x: Any, *, initial_state: StateMap | tuple[np.ndarray, np.ndarray] | None = None,
              layer_input: int | str | None = None,
              reuse: DirectionRunner | None = None, record: bool = True) -> TraceResult:
        """Run the model (or, with ``layer_input``, only that layer) and record every LSTM.
        A model the engine computes only up to some traced LSTMs (``partial``) records those,
        and its result has no ``output``. ``reuse``: a runner already run over one traced
        layer (a session's run): that layer's trace is its buffers, not a second run, when it
        ran on the same input and state. ``record=False``: see ``output_only``."""
        self._settle_runtime()
        if self.runtime is not None and layer_input is None:
            if not record:
                captured = self.capture(x)
                return TraceResult(np.asarray(captured.outputs[0]), [], captured.outputs, {})
            return self._trace_captured(x, initial_state, reuse)
        ctx = RunContext(initial_state=self.state_map(initial_state), reuse=reuse, record=record)
        if layer_input is not None:
            info = self.traced_layers[self.layer_index(layer_input)]
            op = self.ops[info.op_index]
            x_in = self.prepare_input(x, layer_input=info.index)
            y, _ = op.apply(x_in, None, ctx)
            return TraceResult(y, ctx.traces, [y, *ctx.extra_outputs], ctx.states,
                               model=self, input=x_in, layer_input=info.index)
        partial = self.partial
        if not partial:
            if not self.chain:
                raise ScopeError(f"{self.source}: this model is not a simple chain of layers; "
                                 f"feed one LSTM layer's own input with --layer-input")
            self._check_computable(self.ops)
        y = x_in = self.prepare_input(x)
        mask = None
        with np.errstate(over="ignore", invalid="ignore"):
            for op in self.ops[:self.native_ops] if partial else self.ops:
                ctx.extra_outputs.clear()   # only the last layer's further outputs are the model's
                y, mask = op.apply(y, mask, ctx)
        if partial:
            return TraceResult(None, ctx.traces, [], ctx.states, model=self, input=x_in)
        return TraceResult(np.asarray(y, F32), ctx.traces, [y, *ctx.extra_outputs], ctx.states,
                           model=self, input=x_in)

    def output_only(self, x: Any, *, initial_state: StateMap | tuple | None = None,
                    layer_input: int | str | None = None) -> np.ndarray | None:
        """``trace(...).output`` without recording: every LSTM keeps its h alone, run chunk by
        chunk (``checkpoints.OutputRun``), bit-identical; a captured model's output is the
        framework's. What a streamed window of a run too big to trace writes as ``output``."""
        return self.trace(x, initial_state=initial_state, layer_input=layer_input,
                          record=False).output

    @blas_limited
    def layer_input(self, key: int | str | None, x: Any, *, is_layer_input: bool = False,
                    initial_state: StateMap | tuple | None = None
                    ) -> tuple[np.ndarray, np.ndarray | None]:
        """(input, mask) that the traced layer ``key`` reads, running the ops before it (the
        LSTMs among them from their ``initial_state``, as in a stateful model's next segment)."""
        info = self.traced_layers[self.layer_index(key)]
        if is_layer_input:
            return self.prepare_input(x, layer_input=info.index), None
        self._settle_runtime()
        if self.runtime is not None:
            feed = self.layer_feed(info, x)
            return feed.x, feed.mask
        if info.op_index >= self.native_ops:
            if not self.chain:
                raise ScopeError(f"{self.source}: this model is not a simple chain of layers; "
                                 f"feed the LSTM layer's own input with --layer-input")
            self._check_computable(self.ops[:info.op_index])
        y, mask = self.prepare_input(x), None
        ctx = RunContext(initial_state=self.state_map(initial_state), record=False)  # y only
        for op in self.ops[:info.op_index]:
            y, mask = op.apply(y, mask, ctx)
        return np.asarray(y, F32), mask

    def run_args(self, key: int | str | None, x: Any, *, initial_state: StateMap | tuple | None = None,
                 is_layer_input: bool = False) -> dict[str, Any]:
        """What a runner of traced layer ``key`` on input ``x`` needs: name, weights, the layer's
        own input, direction, mask and initial state (earlier layers run here)."""
        info = self.traced_layers[self.layer_index(key)]
        if not is_layer_input:
            self._settle_runtime()
        if self.runtime is not None and not is_layer_input:
            return self._feed_args(info, self.layer_feed(info, x), self.state_map(initial_state))
        layer_x, mask = self.layer_input(info.index, x, is_layer_input=is_layer_input,
                                         initial_state=initial_state)
        h0, c0 = check_state(info.name, self.state_map(initial_state).get(info.name),
                             layer_x.shape[0], info.weights)
        return {"name": info.name, "weights": info.weights, "x": layer_x,
                "backward": info.direction == "backward", "mask": mask, "h0": h0, "c0": c0}

    def runner(self, key: int | str | None, x: Any, *, initial_state: StateMap | tuple | None = None,
               is_layer_input: bool = False) -> DirectionRunner:
        """A fresh stepper for one traced layer on input ``x`` (nothing computed yet)."""
        return DirectionRunner(**self.run_args(key, x, initial_state=initial_state,
                                               is_layer_input=is_layer_input))

    # --- capture (docs/architecture.md, "Capture") ----------------------------------------
    def layer_status(self, info: TracedLayerInfo) -> str:
        """How a full run gets this layer's input: computed by the engine ("native"), read
        from the framework's run ("captured"), or only given directly ("layer input")."""
        if self.runtime is not None:
            return "captured"
        return "native" if info.op_index < self.native_ops else "layer input"

    def _model_input(self, x: Any) -> np.ndarray | dict[str, np.ndarray]:
        if isinstance(x, Mapping):
            inputs, _ = match_inputs(self.input_names, self.optional_inputs, x, source=self.source)
            return inputs
        arr = np.asarray(x)
        if arr.dtype == object or arr.dtype.kind not in "biuf":
            raise InputFileError(f"input must be numeric, got dtype {arr.dtype}")
        return arr

    def capture(self, x: Any) -> Capture:
        """The framework's run on the model input ``x`` (cached for the last input)."""
        if self.runtime is None:
            raise ScopeError(f"{self.source or self.name}: this model runs in the engine; "
                             f"nothing to capture")
        inputs, notes = match_inputs(self.input_names, self.optional_inputs, self._model_input(x),
                                     source=self.source)
        key = inputs_key(inputs)
        if self._capture_cache is not None and self._capture_cache[0] == key:
            return self._capture_cache[1]
        captured = self.runtime.run(inputs)
        captured.notes = notes + captured.notes
        self._capture_cache = (key, captured)
        return captured

    def default_layer(self, x: Any) -> int:
        """The first traced layer that runs for input ``x`` (a captured model's first LSTM
        may sit in a branch this input does not take); 0 for a model the engine runs."""
        self._settle_runtime()
        if self.runtime is None:
            return 0
        feeds = self.capture(x).feeds
        return next((info.index for info in self.traced_layers if info.name in feeds), 0)

    def layer_feed(self, info: TracedLayerInfo, x: Any) -> LayerFeed:
        captured = self.capture(x)
        feed = captured.feeds.get(info.name)
        if feed is None:
            raise ScopeError(f"{self.source}: {captured.missing(info.name)}")
        return feed

    def _feed_args(self, info: TracedLayerInfo, feed: LayerFeed, states: StateMap) -> dict[str, Any]:
        """Runner arguments on a captured feed; ``--initial-state`` wins over the captured state."""
        given = states.get(info.name)
        h0, c0 = check_state(info.name, given if given is not None else (feed.h0, feed.c0),
                             feed.x.shape[0], info.weights)
        return {"name": info.name, "weights": info.weights, "x": feed.x,
                "backward": info.direction == "backward", "mask": feed.mask, "h0": h0, "c0": c0}

    def _feed_runner(self, info: TracedLayerInfo, feed: LayerFeed, states: StateMap,
                     prefill: bool = True) -> DirectionRunner:
        """A runner on a captured feed (see ``_feed_args``)."""
        return DirectionRunner(**self._feed_args(info, feed, states), prefill=prefill)

    def _trace_captured(self, x: Any, initial_state: StateMap | tuple | None,
                        reuse: DirectionRunner | None = None) -> TraceResult:
        captured = self.capture(x)
        states = self.state_map(initial_state)
        ctx = RunContext(reuse=reuse)
        with np.errstate(over="ignore", invalid="ignore"):
            for info in self.traced_layers:
                feed = captured.feeds.get(info.name)
                if feed is None:
                    continue            # not reached for this input (a branch not taken)
                args = self._feed_args(info, feed, states)
                runner = ctx.run(args["name"], args["weights"], args["x"], args["mask"],
                                 args["backward"], state=(args["h0"], args["c0"]))
                trace = runner.to_trace()
                ctx.traces.append(trace)
                ctx.states[info.name] = trace.final_state()
        outputs = [np.asarray(o) for o in captured.outputs]
        return TraceResult(outputs[0], ctx.traces, outputs, ctx.states)

    def state_map(self, state: StateMap | tuple | None) -> dict[str, tuple[np.ndarray, np.ndarray]]:
        """An initial state as {layer name: (h0, c0)}: a bare (h0, c0) belongs to the first
        traced layer; names that are not layers of this model are refused."""
        if state is None:
            return {}
        if isinstance(state, tuple):
            return {self.traced_layers[0].name: state}
        out = dict(state)
        unknown = [name for name in out if name not in self.layer_names]
        if unknown:
            raise ScopeError(f"initial state given for {', '.join(repr(n) for n in unknown)}, "
                             f"which is not a traced layer of this model "
                             f"({', '.join(self.layer_names)})")
        return out

    # --- description ----------------------------------------------------------------------
    @property
    def param_count(self) -> int:
        return int(sum(op.params for op in self.ops))

    def summary(self) -> dict[str, Any]:
        """The facts ``info`` prints and the window's shape badges show."""
        layers = []
        for op in self.ops:
            layers.append({"name": op.name, "class": op.kind, "params": op.params})
        traced = []
        for info in self.traced_layers:
            w = info.weights
            traced.append({
                "index": info.index, "name": info.name, "direction": info.direction,
                "cell": w.kind.name, "cell_written": w.kind.written, "units": w.units, "input_dim": w.input_dim, "state_size": w.state_size,
                "shapes": {k: list(v) for k, v in w.shapes().items()},
                "params": w.param_count, "use_bias": w.use_bias,
                "activation": w.cell_activation.name,
                "recurrent_activation": w.gate_activation.name,
                "return_sequences": info.return_sequences, "stateful": info.stateful,
                "computed": self.layer_status(info),
            })
        return {"source": self.source, "format": self.format, "name": self.name,
                "input": {"tokens": self.takes_tokens, "features": self.input_features,
                          "vocab_size": self.vocab_size, "length": self.input_length,
                          "names": list(self.input_names)},
                "runtime": None if self.runtime is None else self.runtime.framework,
                "params": self.param_count, "layers": layers, "traced_layers": traced,
                "warnings": list(self.warnings)}

    def weights_finite(self) -> bool:
        return all(np.all(np.isfinite(info.weights.kernel)) and np.all(np.isfinite(
            info.weights.recurrent_kernel)) and np.all(np.isfinite(info.weights.bias))
            for info in self.traced_layers)


