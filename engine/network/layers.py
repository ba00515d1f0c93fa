"""The non-recurrent layers a model is made of, and the LSTM / Bidirectional wrappers.

Each op maps (x, mask) -> (y, mask) on batch-first arrays, the way Keras does at inference
(dropout off). LSTM ops also record their ``LayerTrace`` into the run context.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

from ..cells.activations import Activation, keras_activation
from ..cells.cell import CellWeights
from ..errors import InitialStateError, InputFileError, UnsupportedModelError
from ..runs.stepper import DirectionRunner
from ..runs.trace import LayerTrace

F32 = np.float32
Mask = np.ndarray | None


@dataclass
class RunContext:
    """What a forward pass collects: traces, initial and final states per traced layer."""

    initial_state: dict[str, tuple[np.ndarray, np.ndarray]] = field(default_factory=dict)
    traces: list[LayerTrace] = field(default_factory=list)
    states: dict[str, tuple[np.ndarray, np.ndarray]] = field(default_factory=dict)
    extra_outputs: list[np.ndarray] = field(default_factory=list)
    # a runner already run over one traced layer (a session's store): used instead of
    # computing that layer again when it ran on exactly the input and state met here
    reuse: DirectionRunner | None = None
    record: bool = True
    """False: a run for its outputs only (``checkpoints.OutputRun``): no recorded arrays, and
    ``traces`` holds stand-ins with ``h`` and ``final_state`` alone."""

    def run(self, name: str, weights: CellWeights, x: np.ndarray, mask: Mask, backward: bool,
            state: tuple[np.ndarray | None, np.ndarray | None] | None = None) -> DirectionRunner:
        """One direction run over ``x``: ``reuse`` when it is the same run, else computed now
        (recorded, or for its outputs alone when ``record`` is off).
        ``state`` (h0, c0) as given; default this context's initial state for ``name``."""
        if state is None:
            state = check_state(name, self.initial_state.get(name), x.shape[0], weights)
        h0, c0 = state
        if (self.record and self.reuse is not None
                and _same_run(self.reuse, name, weights, x, mask, backward, h0, c0)):
            return self.reuse
        runner = self.runner_class()(name, weights, x, backward=backward, mask=mask, h0=h0, c0=c0,
                                     prefill=False)  # run() writes every column
        runner.run()
        return runner

    def runner_class(self) -> type[DirectionRunner]:
        if self.record:
            return DirectionRunner
        from ..runs.checkpoints import OutputRun
        return OutputRun    # type: ignore[return-value]


def _same_run(runner: DirectionRunner, name: str, weights: CellWeights, x: np.ndarray, mask: Mask,
              backward: bool, h0: np.ndarray | None, c0: np.ndarray | None) -> bool:
    """``runner`` ran this direction on exactly this input, mask and initial state (a check
    that costs one pass over the input, not a run)."""
    if runner.name != name or runner.weights is not weights or runner.backward != backward:
        return False
    x = np.asarray(x)
    if x.shape != runner.x.shape or not np.array_equal(runner.x, x.astype(np.float32, copy=False)):
        return False
    want_mask = np.ones(x.shape[:2], bool) if mask is None else np.asarray(mask, bool)
    zeros_h, zeros_c = np.zeros_like(runner.h0), np.zeros_like(runner.c0)
    return (np.array_equal(runner.mask, want_mask)
            and np.array_equal(runner.h0, zeros_h if h0 is None else np.reshape(h0, runner.h0.shape))
            and np.array_equal(runner.c0, zeros_c if c0 is None else np.reshape(c0, runner.c0.shape)))


def check_state(name: str, state: tuple[np.ndarray, np.ndarray] | None, batch: int,
                weights: CellWeights) -> tuple[np.ndarray | None, np.ndarray | None]:
    """An initial (h0, c0) for one traced layer, shaped (batch, H) and (batch, N).

    A single state (H,) / (1, H) is used for every sample; any other shape is the user's
    mistake and gets a one-line error naming the layer and the shapes expected.
    """
    if state is None:
        return None, None
    out = []
    for what, arr, size in (("h0", state[0], weights.state_size), ("c0", state[1], weights.cell_size)):
        if arr is None:
            out.append(None)
            continue
        if size == 0:
            if np.size(arr) == 0:           # the empty c a GRU carries on (stateful segments)
                out.append(None)
                continue
            raise InitialStateError(f"layer '{name}' is a {weights.kind.written}: it has "
                                    f"no cell state, so no c0 (give h0 alone)")
        a = np.asarray(arr, F32)
        if a.ndim == 1:
            a = a[None]
        if a.ndim == 2 and a.shape[0] == 1 and batch != 1:
            a = np.repeat(a, batch, axis=0)
        if a.shape != (batch, size):
            parts = weights.kind.cell_parts if what == "c0" else ()
            axis = f"batch, {' + '.join(parts)} of {weights.units} units each" if parts else "batch, units"
            if parts and size > len(parts) * weights.units:     # an mLSTM's C follows its blocks
                axis += f" + {size - len(parts) * weights.units} of the matrix memory C"
            raise InitialStateError(f"initial state {what} for layer '{name}' must have shape "
                                 f"({batch}, {size}) ({axis}), got {tuple(np.shape(arr))}")
        out.append(a)
    return out[0], out[1]


def _softmax(x: np.ndarray) -> np.ndarray:
    e = np.exp(x - np.max(x, axis=-1, keepdims=True))
    return (e / np.sum(e, axis=-1, keepdims=True)).astype(F32)


def _log_softmax(x: np.ndarray) -> np.ndarray:
    shifted = x - np.max(x, axis=-1, keepdims=True)
    return (shifted - np.log(np.sum(np.exp(shifted), axis=-1, keepdims=True))).astype(F32)


def output_activation(name: str | None, *, hard_sigmoid: str = "keras3") -> Callable[[np.ndarray], np.ndarray]:
    """Activation for Dense/Activation layers: element-wise ones plus softmax (last axis)."""
    key = (name or "linear").lower()
    if key == "softmax":
        return _softmax
    if key == "log_softmax":
        return _log_softmax
    return keras_activation(key, hard_sigmoid=hard_sigmoid)


class Op:
    """Base class: one layer of a model, applied at inference."""

    name: str
    kind: str

    @property
    def params(self) -> int:
        """Trainable numbers in this layer, as the framework counts them."""
        return 0

    def apply(self, x: np.ndarray, mask: Mask, ctx: RunContext) -> tuple[np.ndarray, Mask]:
        raise NotImplementedError

    def describe(self) -> str:
        return self.kind


@dataclass
class Untraceable(Op):
    """A layer we cannot compute (a Conv1D, a Concatenate, a GRU ...): the model still loads,
    so its LSTM layers can be traced on their own input (``--layer-input``); running the whole
    model stops here with ``reason``, which names the layer and its class."""

    name: str
    kind: str
    reason: str
    weight_count: int = 0          # the numbers its saved weights hold (Keras' count_params)

    @property
    def params(self) -> int:
        return self.weight_count

    def apply(self, x, mask, ctx):
        raise UnsupportedModelError(self.reason)

    def describe(self) -> str:
        return f"{self.kind} (not computed)"


@dataclass
class Identity(Op):
    """Layers that do nothing at inference: Dropout, GaussianNoise, InputLayer ..."""

    name: str
    kind: str = "Dropout"

    def apply(self, x, mask, ctx):
        return x, mask


@dataclass
class Embedding(Op):
    name: str
    matrix: np.ndarray          # (vocab, E)
    mask_zero: bool = False
    kind: str = "Embedding"

    @property
    def params(self) -> int:
        return int(self.matrix.size)

    def apply(self, x, mask, ctx):
        ids = np.asarray(x)
        if ids.dtype.kind == "f":
            if not np.all(np.isfinite(ids)) or not np.all(ids == np.round(ids)):
                raise InputFileError("the model starts with an Embedding: input must be integer "
                                     "token ids, found non-integer values")
        vocab = self.matrix.shape[0]
        if ids.size:     # checked in the input's own dtype: a cast would wrap 2**64-1 to -1
            lo, hi = ids.min(), ids.max()
            if lo < 0 or hi >= vocab:
                bad = lo if lo < 0 else hi
                raise InputFileError(f"token ids must be in 0..{vocab - 1} for this Embedding, "
                                     f"found {_id_text(bad)} (ids range {_id_text(lo)}.."
                                     f"{_id_text(hi)})")
        ids = ids.astype(np.int64)
        y = self.matrix[ids]
        new_mask = ids != 0 if self.mask_zero else mask
        return y.astype(F32), new_mask


def _id_text(value: np.generic) -> str:
    """A token id as the user wrote it: an integer in full, a float as a float."""
    return str(int(value)) if np.issubdtype(type(value), np.integer) or isinstance(value, np.bool_) \
        else f"{float(value):g}"


@dataclass
class Masking(Op):
    name: str
    mask_value: float = 0.0
    kind: str = "Masking"

    def apply(self, x, mask, ctx):
        keep = np.any(x != F32(self.mask_value), axis=-1)
        return (x * keep[..., None]).astype(F32), keep


@dataclass
class Dense(Op):
    name: str
    kernel: np.ndarray          # (in, out)
    bias: np.ndarray | None
    activation: str = "linear"
    hard_sigmoid: str = "keras3"
    kind: str = "Dense"

    @property
    def params(self) -> int:
        return int(self.kernel.size + (0 if self.bias is None else self.bias.size))

    def apply(self, x, mask, ctx):
        if x.shape[-1] != self.kernel.shape[0]:
            raise InputFileError(f"layer '{self.name}' expects {self.kernel.shape[0]} features, "
                                 f"got {x.shape[-1]}")
        y = x @ self.kernel
        if self.bias is not None:
            y = y + self.bias
        return output_activation(self.activation, hard_sigmoid=self.hard_sigmoid)(y.astype(F32)), mask


@dataclass
class ActivationOp(Op):
    name: str
    activation: str
    hard_sigmoid: str = "keras3"
    kind: str = "Activation"

    def apply(self, x, mask, ctx):
        return output_activation(self.activation, hard_sigmoid=self.hard_sigmoid)(x), mask


@dataclass
class TimeDistributed(Op):
    name: str
    inner: Op
    kind: str = "TimeDistributed"

    @property
    def params(self) -> int:
        return self.inner.params

    def apply(self, x, mask, ctx):
        y, _ = self.inner.apply(x, None, ctx)  # Dense and friends act on the last axis already
        return y, mask


@dataclass
class LSTM(Op):
    """A Keras LSTM layer (one traced direction)."""

    name: str
    weights: CellWeights
    return_sequences: bool = False
    return_state: bool = False
    go_backwards: bool = False
    stateful: bool = False
    zero_output_for_mask: bool = False     # Keras: masked steps return zeros, not the carried h
    kind: str = "LSTM"

    @property
    def params(self) -> int:
        return self.weights.param_count

    def traced(self) -> list[tuple[str, CellWeights, bool]]:
        return [(self.name, self.weights, self.go_backwards)]

    def apply(self, x, mask, ctx):
        runner = ctx.run(self.name, self.weights, x, mask, self.go_backwards)
        trace = runner.to_trace()
        ctx.traces.append(trace)
        h, c = trace.final_state()
        ctx.states[self.name] = (h, c)
        y = runner.layer_output(self.return_sequences, zero_masked=self.zero_output_for_mask)
        if self.return_state:                     # a GRU or simple RNN returns its h alone
            ctx.extra_outputs.extend([h, c] if c.size else [h])
        return y, (mask if self.return_sequences else None)


@dataclass
class Bidirectional(Op):
    """Keras Bidirectional(LSTM): two traced directions, outputs merged by ``merge_mode``."""

    name: str
    forward: CellWeights
    backward: CellWeights
    merge_mode: str | None = "concat"
    return_sequences: bool = False
    return_state: bool = False
    kind: str = "Bidirectional"

    @property
    def params(self) -> int:
        return self.forward.param_count + self.backward.param_count

    def traced(self) -> list[tuple[str, CellWeights, bool]]:
        return [(f"{self.name}/forward", self.forward, False),
                (f"{self.name}/backward", self.backward, True)]

    def apply(self, x, mask, ctx):
        outs = []
        for name, weights, backward in self.traced():
            runner = ctx.run(name, weights, x, mask, backward)
            trace = runner.to_trace()
            ctx.traces.append(trace)
            ctx.states[name] = trace.final_state()
            y = runner.layer_output(self.return_sequences, zero_masked=True)
            if backward and self.return_sequences:
                y = y[:, ::-1]
            outs.append(np.ascontiguousarray(y))
        fwd, bwd = outs
        mode = self.merge_mode
        if mode == "concat":
            y = np.concatenate([fwd, bwd], axis=-1)
        elif mode == "sum":
            y = fwd + bwd
        elif mode == "mul":
            y = fwd * bwd
        elif mode == "ave":
            y = (fwd + bwd) / F32(2.0)
        elif mode is None:
            ctx.extra_outputs.append(bwd)
            y = fwd
        else:
            raise UnsupportedModelError(f"Bidirectional '{self.name}': unknown merge_mode '{mode}'")
        if self.return_state:
            for name in (f"{self.name}/forward", f"{self.name}/backward"):
                h, c = ctx.states[name]
                ctx.extra_outputs.extend([h, c] if c.size else [h])
        return y.astype(F32), (mask if self.return_sequences else None)


def activation_of(name: str | None, legacy: bool) -> Activation:
    """Gate/cell activation for a Keras LSTM, honouring the writer's hard_sigmoid."""
    return keras_activation(name, hard_sigmoid="keras2" if legacy else "keras3")
