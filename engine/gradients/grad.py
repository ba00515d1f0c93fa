"""Exact gradients of a target through a recorded run (docs/architecture.md, "Gradients").

    from engine import load_model
    result = load_model("demo:counter").trace(x)
    g = result.grad("h[last, 3]")            # or session.grad(...)
    g.dx, g.dh, g.dc, g.dh0, g.dc0, g.dx_model, g.layers["lstm"].dh0
    g.saliency(sample=0)                     # |d target / d x_t| per input position

The target (``engine.gradients.grad_target``) seeds a gradient on a traced layer's h or c, or on the
model's output. From the output it flows back through the ops the engine computes (Dense,
Activation, TimeDistributed, Masking, every LSTM and Bidirectional merge, PyTorch and ONNX
LSTM layers), each LSTM direction by ``grad_layer.layer_backward``, down to the model input
(or the Embedding's output, ``dx_model``). An op without a derivative here (a placeholder for
a layer LSTM Scope cannot compute, a framework-captured op, an ONNX graph node around the
LSTM) stops the flow at that LSTM's input, and the result says so in ``warnings``.
Numbers are float32 like the trace; every array is indexed by input position.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ..errors import ScopeError
from ..runs.time_axis import last_position
from ..runs.trace import LayerTrace, TraceResult, provide_gradient
from ..system.blas import blas_limited
from .grad_layer import Cut, LayerGrad, layer_backward
from .grad_ops import OpTape, lstm_seed, no_vjp_reason, record_tape, vjp
from .grad_target import Target, TargetError, parse_target

F32 = np.float32


@dataclass
class GradResult:
    """Gradients of one target. ``dx dh dc dh0 dc0`` belong to the traced layer ``layer``."""

    target: str
    layer: str
    value: float                       # the target's value (the sum over samples)
    dx: np.ndarray                     # (B, T, D)
    dh: np.ndarray                     # (B, T, H)
    dc: np.ndarray                     # (B, T, N)
    dh0: np.ndarray                    # (B, H)
    dc0: np.ndarray                    # (B, N)
    dx_model: np.ndarray | None = None
    layers: dict[str, LayerGrad] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)

    def arrays(self) -> dict[str, np.ndarray]:
        """The arrays ``main.py grad`` writes: dx, dx_model, dh, dc, dh0, dc0, LAYER/dh0 ..."""
        out = {"dx": self.dx, "dh": self.dh, "dc": self.dc, "dh0": self.dh0, "dc0": self.dc0}
        if self.dx_model is not None:
            out["dx_model"] = self.dx_model
        for name, lg in self.layers.items():
            out[f"{name}/dh0"] = lg.dh0
            out[f"{name}/dc0"] = lg.dc0
        # a GRU or simple RNN has no c: no dc, dc0 (their last axis is empty)
        out = {k: v for k, v in out.items() if not (k.endswith("dc") or k.endswith("dc0"))
               or np.shape(v)[-1] != 0}
        return {k: np.ascontiguousarray(v, F32) for k, v in out.items()}

    def saliency(self, sample: int | None = 0) -> np.ndarray:
        """|d target / d x_t| per input position (L2 over features); (T,) for one sample,
        (B, T) for ``sample=None``."""
        s = np.sqrt(np.sum(np.square(self.dx, dtype=np.float64), axis=-1))
        return s if sample is None else s[sample]

    def grad_norm(self, name: str) -> np.ndarray:
        """(B, T) L2 norm over units of dh, dc or dx per input position."""
        arr = {"h": self.dh, "c": self.dc, "x": self.dx}[name]
        return np.sqrt(np.sum(np.square(arr, dtype=np.float64), axis=-1))


@blas_limited
def gradient(result: TraceResult, target: str | Target, *, layer: int | str | None = None,
             trace: LayerTrace | None = None, cuts: tuple[Cut, ...] = ()) -> GradResult:
    """d ``target`` / d everything of ``result``'s run; ``layer`` picks the traced layer whose
    dx, dh, dc are reported (and whose h/c an h[...]/c[...] target means; default the first).

    ``trace`` replaces that layer's recorded trace (a debugger fork's run, with ``cuts`` for
    its hand-set states); then only h[...]/c[...] targets apply and nothing below is reached.
    """
    tgt = parse_target(target) if isinstance(target, str) else target
    key = 0 if layer is None else layer
    try:
        own = result.layer(key) if trace is None else trace
    except KeyError as exc:
        raise ScopeError(str(exc.args[0]) if exc.args else str(exc)) from None
    name = result.layer(key).name if trace is None else _base_name(trace.name)
    if tgt.array == "c" and "c" not in own.cell_kind.states:
        raise TargetError(f"target '{tgt.text}': layer '{name}' is a "
                          f"{own.cell_kind.written}, which has no cell state c; target "
                          f"h[...] or output[...]")
    if tgt.array in ("h", "c"):
        return _from_state(result, tgt, own, name, trace is not None, cuts)
    if trace is not None:
        raise TargetError(f"target '{tgt.text}': a fork's run has no model output; target h[...] "
                          f"or c[...]")
    return _from_output(result, tgt, name)


def cell_state_part(dc: np.ndarray, weights) -> np.ndarray:
    """The gradient on the cell state C alone (..., N): an sLSTM carries c, nrm, stab side by
    side and its layer's backward differentiates all three (``LayerGrad``); a result's ``dc``
    and ``dc0`` are C's, as the views and ``main.py grad`` read them."""
    return dc[..., :weights.units] if weights.kind.cell_parts else dc


def _base_name(name: str) -> str:
    return name.split("#", 1)[0]


def _last(trace: LayerTrace) -> int:
    return last_position(trace.steps, trace.backward)


def _from_state(result: TraceResult, tgt: Target, trace: LayerTrace, name: str, detached: bool,
                cuts: tuple[Cut, ...]) -> GradResult:
    values = trace.h if tgt.array == "h" else trace.signal("c")
    seed, value = tgt.seed(values, _last(trace), 1)
    if tgt.array == "c" and trace.c.shape != values.shape:
        full = np.zeros(trace.c.shape, np.float32)   # an sLSTM's c: the first block of its
        full[..., :seed.shape[-1]] = seed             # carried state (c, nrm, stab)
        seed = full
    dh_ext, dc_ext = (seed, None) if tgt.array == "h" else (None, seed)
    lg = layer_backward(trace, dh_ext, dc_ext, cuts=cuts, own_seeds=True)   # the seed is ours
    lg.name = name
    out = GradResult(tgt.text, name, value, lg.dx, lg.dh, cell_state_part(lg.dc, trace.weights),
                     lg.dh0, cell_state_part(lg.dc0, trace.weights), layers={name: lg})
    if detached:
        out.warnings.append("gradient of a fork's run: it stops at this layer's input")
        return out
    tape = _tape(result, out)
    if tape is not None:
        start = next((k for k, entry in enumerate(tape.entries) if name in entry.layer_names), None)
        if start is not None:
            _down(tape, start, lg.dx, out)
    return out


def _from_output(result: TraceResult, tgt: Target, name: str) -> GradResult:
    tape = _tape(result, None)
    if tape is None:
        raise TargetError(f"target '{tgt.text}': this run does not record the model it came from; "
                          f"target h[...] or c[...] of a layer")
    if tape.output_problem is not None:
        raise TargetError(f"target '{tgt.text}': {tape.output_problem}; target h[...] or c[...] "
                          f"of a layer instead")
    output = np.asarray(result.output)
    seed, value = tgt.seed(output, tape.output_last(output.shape), tape.output_time_axis)
    dy = seed
    layers: dict[str, LayerGrad] = {}
    warnings: list[str] = []
    for k in range(len(tape.entries) - 1, -1, -1):
        entry = tape.entries[k]
        if entry.traces:
            grads = []
            for tr, (dh_ext, dc_ext) in zip(entry.traces, lstm_seed(entry, dy), strict=True):
                lg = layer_backward(tr, dh_ext, dc_ext)
                layers[tr.name] = lg
                grads.append(lg.dx)
            dy = grads[0] if len(grads) == 1 else np.sum(grads, axis=0)
            if name in entry.layer_names:
                lg = layers[name]
                w = next(tr.weights for tr in entry.traces if tr.name == name)
                out = GradResult(tgt.text, name, value, dy, lg.dh, cell_state_part(lg.dc, w), lg.dh0,
                                 cell_state_part(lg.dc0, w), layers=layers, warnings=warnings)
                _down(tape, k, dy, out)
                return out
            continue
        reason = no_vjp_reason(entry.op)
        if reason is not None:
            raise TargetError(f"target '{tgt.text}': the output cannot be differentiated through "
                              f"{reason}; target h[...] or c[...] of a layer instead")
        dy = vjp(entry, dy)
    raise TargetError(f"target '{tgt.text}': layer '{name}' does not feed the model's output")


def _down(tape: OpTape, k: int, dy: np.ndarray, out: GradResult) -> None:
    """Carry the gradient at the input of tape entry ``k`` down to the model input."""
    for j in range(k - 1, -1, -1):
        entry = tape.entries[j]
        reason = no_vjp_reason(entry.op)
        if reason is not None:
            out.warnings.append(f"the gradient stops at the input of '{tape.entries[j + 1].op.name}': "
                                f"{reason}")
            return
        if entry.op.kind == "Embedding":
            out.dx_model = np.asarray(dy, F32)
            return
        if entry.traces:
            grads = []
            for tr, (dh_ext, dc_ext) in zip(entry.traces, lstm_seed(entry, dy), strict=True):
                lg = layer_backward(tr, dh_ext, dc_ext)
                out.layers[tr.name] = lg
                grads.append(lg.dx)
            dy = grads[0] if len(grads) == 1 else np.sum(grads, axis=0)
            continue
        dy = vjp(entry, dy)
    if tape.input_problem is not None:
        out.warnings.append(tape.input_problem)
        return
    out.dx_model = np.asarray(dy, F32)


def _tape(result: TraceResult, out: GradResult | None) -> OpTape | None:
    tape = getattr(result, "_grad_tape", None)
    if tape is None:
        tape = record_tape(result)
        if tape is None:
            if out is not None:
                out.warnings.append("this run does not record the model it came from: the "
                                    "gradient stops at the layer's input")
            return None
        result._grad_tape = tape      # one replay per run (cheap ops only; LSTMs from the trace)
    return tape


def attach(result: TraceResult, model: Any, x: np.ndarray, layer_input: int | None) -> TraceResult:
    """Record where a run came from so ``result.grad`` can reach the model's input."""
    result.model = model
    result.input = x
    result.layer_input = layer_input
    return result


provide_gradient(gradient)     # TraceResult.grad, without engine.runs.trace importing this module
