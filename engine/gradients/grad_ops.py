"""Derivatives of the ops around the LSTMs, for the model-level backward pass (``engine.gradients.grad``).

``record_tape`` replays a recorded run's op chain cheaply: every LSTM op's output is rebuilt
from its traces (nothing is recomputed), the other ops (Dense, Activation, Masking ...) run
again on their recorded inputs. ``vjp`` takes an op's output gradient to its input gradient;
``lstm_seed`` splits an LSTM op's output gradient into per-direction gradients on the trace's
h and c, undoing what the framework does to the sequence (processing order, zeros on masked
steps, the Bidirectional merge, the ONNX layouts).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ..capture.foreign_ops import OnnxLSTM, TorchLSTMLayer
from ..cells.activations import keras_activation
from ..network.layers import (
    LSTM,
    ActivationOp,
    Bidirectional,
    Dense,
    Embedding,
    Identity,
    Masking,
    Op,
    RunContext,
    TimeDistributed,
)
from ..runs.time_axis import last_position
from ..runs.trace import LayerTrace, TraceResult

F32 = np.float32
LSTM_OPS = (LSTM, Bidirectional, TorchLSTMLayer, OnnxLSTM)
PLAIN_OPS = (Dense, ActivationOp, Identity, Masking, Embedding)


@dataclass
class TapeEntry:
    op: Op
    x: Any                                 # the op's input as recorded (None for LSTM ops)
    mask: np.ndarray | None
    traces: list[LayerTrace] = field(default_factory=list)
    y: np.ndarray | None = None            # the op's output
    onnx_output: int = 0                   # ONNX: which node output is the model output

    @property
    def layer_names(self) -> list[str]:
        return [tr.name for tr in self.traces]


@dataclass
class OpTape:
    entries: list[TapeEntry]
    output_time_axis: int | None = None
    output_last_index: int = -1
    output_problem: str | None = None       # why the model output cannot be differentiated
    input_problem: str | None = None        # why the gradient cannot reach the model input

    def output_last(self, shape: tuple[int, ...]) -> int:
        if self.output_time_axis is None:
            return -1
        return self.output_last_index % max(shape[self.output_time_axis], 1)


def no_vjp_reason(op: Op) -> str | None:
    """None when the op's derivative is known here, else a sentence naming it."""
    if isinstance(op, TimeDistributed):
        return no_vjp_reason(op.inner)
    if isinstance(op, LSTM_OPS + PLAIN_OPS):
        return None
    return f"'{op.name}' ({op.kind}) has no derivative in LSTM Scope"


# --- replaying a run ---------------------------------------------------------------------------
def record_tape(result: TraceResult) -> OpTape | None:
    model = getattr(result, "model", None)
    if model is None:
        return None
    traces = {tr.name: tr for tr in result.layers}
    layer_input = getattr(result, "layer_input", None)
    runner = getattr(model, "graph_runner", None)
    if layer_input is not None:
        info = model.traced_layers[layer_input]
        op = model.ops[info.op_index]
        entry = _lstm_entry(op, traces)
        return OpTape([entry], *_time_axis(op))
    if runner is not None:
        return _onnx_tape(model, runner, traces)
    entries: list[TapeEntry] = []
    y, mask = getattr(result, "input", None), None
    for op in model.ops:
        if isinstance(op, LSTM_OPS):
            entry = _lstm_entry(op, traces)
            entry.mask = mask
            y = entry.y
            if not getattr(op, "return_sequences", True):
                mask = None
        elif y is None or no_vjp_reason(op) is not None:
            entry = TapeEntry(op, None, mask)
            y = None
        else:
            entry = TapeEntry(op, y, mask)
            with np.errstate(all="ignore"):
                y, mask = op.apply(y, mask, RunContext())
            entry.y = y
        entries.append(entry)
    tape = OpTape(entries, 1 if np.ndim(result.output) >= 3 else None)   # batch first
    if getattr(result, "input", None) is None:
        tape.input_problem = "the run does not record the model's input"
    if result.output is None:           # Model.partial: the engine stops before the output
        tape.output_problem = "this run has no model output (LSTM Scope computes the model only " \
                              "up to its LSTMs)"
    return tape


def _time_axis(op: Op) -> tuple[int | None, int]:
    """(time axis of the op's output, index of its last processed step there)."""
    if isinstance(op, OnnxLSTM):
        backward_only = op.direction == "reverse"
        return (0 if op.layout == 0 else 1), (0 if backward_only else -1)
    if getattr(op, "return_sequences", True) is False:
        return None, -1
    if isinstance(op, LSTM_OPS):
        return 1, -1
    return None, -1


def _onnx_tape(model: Any, runner: Any, traces: dict[str, LayerTrace]) -> OpTape:
    """A graph of one LSTM node reading the graph input: its Y, Y_h or Y_c is the output."""
    lstm_nodes = [n for n in runner.nodes if n.op_type == "LSTM"]
    others = sorted({n.op_type for n in runner.nodes if n.op_type not in ("LSTM", "Constant")})
    entries = [_lstm_entry(op, traces) for op in model.ops]
    tape = OpTape(entries)
    out_name = runner.outputs[0]
    producer = [n for n in lstm_nodes if out_name in list(n.output)]
    if len(lstm_nodes) != 1 or others or not producer:
        tape.output_problem = (f"the ONNX graph's output goes through nodes whose derivative "
                               f"LSTM Scope does not compute ({', '.join(others) or 'several LSTMs'})")
    else:
        which = list(producer[0].output).index(out_name)
        entries[0].onnx_output = which
        op = model.ops[0]
        if which == 0:
            tape.output_time_axis, tape.output_last_index = _time_axis(op)
    if not runner.feeds_lstm_directly or len(lstm_nodes) != 1:
        tape.input_problem = ("the LSTM node reads other ONNX nodes' output, whose derivative "
                              "LSTM Scope does not compute: dx_model is not written")
    return tape


def _lstm_entry(op: Op, traces: dict[str, LayerTrace]) -> TapeEntry:
    mine = [traces[name] for name, _, _ in op.traced() if name in traces]
    entry = TapeEntry(op, None, None, mine)
    if len(mine) == len(op.traced()):
        entry.y = _lstm_output(op, mine)
    return entry


def _seq(tr: LayerTrace, zero_masked: bool) -> np.ndarray:
    """A direction's h sequence in input order, zeros on masked steps when the framework does
    (the run's own h, not a copy, when nothing is zeroed: the tape only reads it)."""
    masked = ~np.asarray(tr.mask, bool)
    if not zero_masked or not masked.any():
        return np.asarray(tr.h, F32)
    seq = np.array(tr.h, F32)
    seq[masked] = 0.0
    return seq


def _final(tr: LayerTrace) -> np.ndarray:
    return tr.final_state()[0]


def _lstm_output(op: Op, trs: list[LayerTrace]) -> np.ndarray:
    if isinstance(op, LSTM):
        tr = trs[0]
        if not op.return_sequences:
            return _final(tr)
        seq = _seq(tr, op.zero_output_for_mask)
        return np.ascontiguousarray(seq[:, ::-1] if tr.backward else seq)
    if isinstance(op, Bidirectional):
        if op.return_sequences:
            fwd, bwd = (_seq(tr, True) for tr in trs)
        else:
            fwd, bwd = (_final(tr) for tr in trs)
        mode = op.merge_mode
        merged = {"concat": lambda: np.concatenate([fwd, bwd], axis=-1), "sum": lambda: fwd + bwd,
                  "mul": lambda: fwd * bwd, "ave": lambda: (fwd + bwd) / F32(2.0),
                  None: lambda: fwd}[mode]()
        return merged.astype(F32)
    if isinstance(op, TorchLSTMLayer):
        return np.concatenate([tr.h for tr in trs], axis=-1) if len(trs) > 1 else np.array(trs[0].h)
    if isinstance(op, OnnxLSTM):
        y = np.stack([_seq(tr, True) for tr in trs], axis=2)         # (B, T, dirs, H)
        return np.ascontiguousarray(y if op.layout == 1 else y.transpose(1, 2, 0, 3))
    raise TypeError(op)


# --- derivatives -------------------------------------------------------------------------------
def lstm_seed(entry: TapeEntry, dy: np.ndarray) -> list[tuple[np.ndarray | None, np.ndarray | None]]:
    """Per traced direction (dL/dh, dL/dc) on the trace's arrays from dL/d(op output)."""
    op, trs = entry.op, entry.traces
    dy = np.asarray(dy, F32)
    if isinstance(op, LSTM):
        tr = trs[0]
        if op.return_sequences:
            d = dy[:, ::-1] if tr.backward else dy
            return [(_masked(d, tr, op.zero_output_for_mask), None)]
        return [(_at_last(dy, tr), None)]
    if isinstance(op, Bidirectional):
        fwd_tr, bwd_tr = trs
        h = fwd_tr.weights.state_size
        mode = op.merge_mode
        if mode == "concat":
            parts = [dy[..., :h], dy[..., h:]]
        elif mode == "sum":
            parts = [dy, dy]
        elif mode == "ave":
            parts = [dy / F32(2.0), dy / F32(2.0)]
        elif mode == "mul":
            if op.return_sequences:
                yf, yb = _seq(fwd_tr, True), _seq(bwd_tr, True)
            else:
                yf, yb = _final(fwd_tr), _final(bwd_tr)
            parts = [dy * yb, dy * yf]
        else:
            parts = [dy, np.zeros_like(dy)]
        if op.return_sequences:
            return [(_masked(p, tr, True), None) for p, tr in zip(parts, trs, strict=True)]
        return [(_at_last(p, tr), None) for p, tr in zip(parts, trs, strict=True)]
    if isinstance(op, TorchLSTMLayer):
        h = trs[0].weights.state_size
        parts = [dy[..., :h], dy[..., h:]] if len(trs) > 1 else [dy]
        return [(np.ascontiguousarray(p), None) for p in parts]
    if isinstance(op, OnnxLSTM):
        out = []
        for k, tr in enumerate(trs):
            if entry.onnx_output == 0:
                d = dy[:, :, k] if op.layout == 1 else dy[:, k].transpose(1, 0, 2)
                out.append((_masked(d, tr, True), None))
            else:
                d = dy[:, k] if op.layout == 1 else dy[k]                   # (B, H)
                full = _at_last(d, tr)
                out.append((full, None) if entry.onnx_output == 1 else (None, full))
        return out
    raise TypeError(op)


def _masked(d: np.ndarray, tr: LayerTrace, zero: bool) -> np.ndarray:
    d = np.array(d, F32)
    if zero:
        d[~np.asarray(tr.mask, bool)] = 0.0      # the framework returned a constant 0 there
    return d


def _at_last(d: np.ndarray, tr: LayerTrace) -> np.ndarray:
    shape = (tr.batch, tr.steps, d.shape[-1])
    full = np.zeros(shape, F32)
    if tr.steps:
        full[:, last_position(tr.steps, tr.backward)] = d
    return full


def vjp(entry: TapeEntry, dy: np.ndarray) -> np.ndarray:
    """dL/d(op input) for a non-LSTM op from dL/d(op output)."""
    return _vjp(entry.op, entry.x, dy)


def _vjp(op: Op, x: np.ndarray, dy: np.ndarray) -> np.ndarray:
    dy = np.asarray(dy, F32)
    if isinstance(op, Identity):
        return dy
    if isinstance(op, TimeDistributed):
        return _vjp(op.inner, x, dy)
    if isinstance(op, Masking):
        keep = np.any(x != F32(op.mask_value), axis=-1)
        return dy * keep[..., None]
    if isinstance(op, Dense):
        z = x @ op.kernel
        if op.bias is not None:
            z = z + op.bias
        dz = _act_vjp(op.activation, op.hard_sigmoid, z.astype(F32), dy)
        return (dz @ op.kernel.T).astype(F32)
    if isinstance(op, ActivationOp):
        return _act_vjp(op.activation, op.hard_sigmoid, np.asarray(x, F32), dy)
    raise TypeError(op)


def _act_vjp(name: str, hard_sigmoid: str, z: np.ndarray, dy: np.ndarray) -> np.ndarray:
    act = keras_activation(name, hard_sigmoid=hard_sigmoid)
    with np.errstate(all="ignore"):
        return act.vjp(z, act(z), dy).astype(F32)
