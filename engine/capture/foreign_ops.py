"""Model ops for LSTMs written by PyTorch and ONNX (the Keras ones live in ``layers``).

Both trace each direction with the same ``DirectionRunner`` the Keras layers use; they differ
only in what the framework *returns*:

* ``TorchLSTMLayer`` is one layer of an ``nn.LSTM`` (or an ``nn.LSTMCell`` run over the
  sequence): its output is ``[forward h, reverse h]`` concatenated on the feature axis, batch
  first, each direction aligned to the input position (PyTorch's own convention), so a chain
  of these ops returns exactly the ``nn.LSTM``'s output sequence.
* ``OnnxLSTM`` is one ONNX ``LSTM`` node. ``apply`` takes the batch-major input the CLI uses
  and returns ``Y`` in the node's own layout ((T, dirs, B, H) for layout 0, (B, T, dirs, H) for
  layout 1); ``run_node`` is the graph-level entry with ONNX-layout tensors and returns
  ``(Y, Y_h, Y_c)`` the way ONNX Runtime does (zeros in ``Y`` past a sequence's length).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ..cells.cell import CellWeights
from ..network.layers import Mask, Op, RunContext, check_state

F32 = np.float32


def _run_direction(ctx: RunContext, name: str, weights: CellWeights, x: np.ndarray, mask: Mask,
                   backward: bool, h0: np.ndarray | None = None, c0: np.ndarray | None = None):
    """Run one direction, record its trace; returns the (input-aligned) trace."""
    if name in ctx.initial_state:
        h0, c0 = check_state(name, ctx.initial_state[name], x.shape[0], weights)
    runner = ctx.run(name, weights, x, mask, backward, state=(h0, c0))
    trace = runner.to_trace()
    ctx.traces.append(trace)
    ctx.states[name] = trace.final_state()
    return trace


@dataclass
class TorchLSTMLayer(Op):
    """One layer of a PyTorch ``nn.LSTM`` (both directions when bidirectional)."""

    name: str
    forward: CellWeights
    backward: CellWeights | None = None
    reverse_name: str | None = None
    return_sequences: bool = True
    kind: str = "torch.nn.LSTM layer"

    @property
    def params(self) -> int:
        return self.forward.param_count + (self.backward.param_count if self.backward else 0)

    def traced(self) -> list[tuple[str, CellWeights, bool]]:
        out = [(self.name, self.forward, False)]
        if self.backward is not None:
            out.append((self.reverse_name or f"{self.name}_reverse", self.backward, True))
        return out

    def apply(self, x, mask, ctx):
        outs = []
        for name, weights, backward in self.traced():
            trace = _run_direction(ctx, name, weights, x, mask, backward)
            outs.append(trace.h)                     # input-aligned, as PyTorch returns it
        y = outs[0] if len(outs) == 1 else np.concatenate(outs, axis=-1)
        return np.ascontiguousarray(y, F32), mask


@dataclass
class OnnxLSTM(Op):
    """One ONNX ``LSTM`` node: one or two traced directions, ONNX Runtime's outputs."""

    name: str
    directions: list[CellWeights]
    direction: str = "forward"                # forward | reverse | bidirectional
    layout: int = 0
    initial_h: np.ndarray | None = None       # (dirs, B, H) in layout 0, from initializers
    initial_c: np.ndarray | None = None
    sequence_lens: np.ndarray | None = None   # (B,) from an initializer
    return_sequences: bool = True
    kind: str = "onnx LSTM"
    notes: list[str] = field(default_factory=list)
    attrs: Any = None                         # onnx_lstm.LSTMAttrs (to rebind weights)
    sources: dict[str, tuple[str, str]] = field(default_factory=dict)  # role -> (kind, tensor)
    node_inputs: dict[str, str] = field(default_factory=dict)          # role -> tensor name
    stored: dict[str, np.ndarray] = field(default_factory=dict)        # W/R/B/P as loaded

    @property
    def params(self) -> int:
        return sum(w.param_count for w in self.directions)

    def traced(self) -> list[tuple[str, CellWeights, bool]]:
        if self.direction == "bidirectional":
            return [(f"{self.name}/forward", self.directions[0], False),
                    (f"{self.name}/backward", self.directions[1], True)]
        backward = self.direction == "reverse"
        return [(f"{self.name}/{'backward' if backward else 'forward'}", self.directions[0], backward)]

    def apply(self, x, mask, ctx):
        """Batch-major input (B, T, D) -> Y in the node's layout."""
        x = np.asarray(x, F32)
        xo = x if self.layout == 1 else np.transpose(x, (1, 0, 2))
        lens = None
        if mask is not None:
            lens = np.asarray(mask, bool).sum(axis=1).astype(np.int64)
        y, _, _ = self.run_node(xo, ctx, sequence_lens=lens)
        return y, mask

    def run_node(self, x: np.ndarray, ctx: RunContext, *, sequence_lens: np.ndarray | None = None,
                 initial_h: np.ndarray | None = None, initial_c: np.ndarray | None = None,
                 record_input: dict | None = None) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """X in ONNX layout -> (Y, Y_h, Y_c) in ONNX layout, as ONNX Runtime returns them."""
        x = np.asarray(x, F32)
        if x.ndim != 3:
            from ..errors import InputFileError
            raise InputFileError(f"ONNX LSTM '{self.name}': its input X has shape {x.shape}; it "
                                 f"reads {'(B, T, D)' if self.layout == 1 else '(T, B, D)'}")
        xb = x if self.layout == 1 else np.transpose(x, (1, 0, 2))    # (B, T, D)
        b, t, _ = xb.shape
        lens = self.sequence_lens if sequence_lens is None else sequence_lens
        mask = None
        if lens is not None:
            lens = np.asarray(lens, np.int64).reshape(-1)
            if lens.shape[0] != b:
                from ..errors import InputFileError
                raise InputFileError(f"ONNX LSTM '{self.name}': sequence_lens has {lens.shape[0]} "
                                     f"entries for a batch of {b}")
            mask = np.arange(t)[None, :] < lens[:, None]
            if mask.all():
                mask = None
        h_init = self.initial_h if initial_h is None else initial_h
        c_init = self.initial_c if initial_c is None else initial_c

        def state(arr: np.ndarray | None, k: int) -> np.ndarray | None:
            if arr is None:
                return None
            arr = np.asarray(arr, F32)
            arr = arr[:, k] if self.layout == 1 else arr[k]            # (B, H)
            if arr.shape[0] != b:
                from ..errors import InputFileError
                raise InputFileError(f"ONNX LSTM '{self.name}': initial state is for a batch "
                                     f"of {arr.shape[0]}, the input has {b}")
            return arr

        ys, hs, cs = [], [], []
        for k, (name, weights, backward) in enumerate(self.traced()):
            h0, c0 = state(h_init, k), state(c_init, k)
            if record_input is not None:
                from .feed import LayerFeed
                record_input[name] = LayerFeed(xb, mask, h0, c0)
            trace = _run_direction(ctx, name, weights, xb, mask, backward, h0, c0)
            y = np.array(trace.h, F32)                                 # input-aligned (B, T, H)
            if mask is not None:
                y[~mask] = 0.0                                         # ORT: zeros past the length
            ys.append(y)
            h_last, c_last = trace.final_state()
            hs.append(h_last)
            cs.append(c_last)
        y = np.stack(ys, axis=2)                                       # (B, T, dirs, H)
        y_h, y_c = np.stack(hs, axis=0), np.stack(cs, axis=0)          # (dirs, B, H)
        if self.layout == 0:
            y = np.transpose(y, (1, 2, 0, 3))                          # (T, dirs, B, H)
        else:
            y_h, y_c = np.transpose(y_h, (1, 0, 2)), np.transpose(y_c, (1, 0, 2))
        return (np.ascontiguousarray(y, F32), np.ascontiguousarray(y_h, F32),
                np.ascontiguousarray(y_c, F32))
