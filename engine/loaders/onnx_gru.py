"""One ONNX ``GRU`` or ``RNN`` node -> an ``OnnxLSTM`` op over the engine's GRU or simple-RNN
weights (docs/architecture.md, "GRU and simple RNN"); the node's tensors, states and
``sequence_lens`` are read as an LSTM node's are (``onnx_lstm``).

* GRU: ``W[d]`` (3N, D), ``R[d]`` (3N, N) hold the blocks z, r, h: the engine's u, r, n in the
  same order, transposed. ``B[d]`` (6N,) = [Wb, Rb]. ``linear_before_reset=1`` is the
  reset_after form: b = Wb, the recurrent bias b_h = Rb. ``linear_before_reset=0`` adds Rb
  outside r, so b = Wb + Rb. ``activations`` f, g per direction (default Sigmoid, Tanh).
* RNN: ``W[d]`` (N, D), ``R[d]`` (N, N), ``B[d]`` (2N,) summed; ``activations`` f per
  direction (default Tanh).

What the engine does not step is refused in one line naming the node and the option: ``clip``,
and weights given as graph inputs (an LSTM node's are read from the input file; a GRU's or
RNN's are not yet).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from ..capture.foreign_ops import OnnxLSTM
from ..cells.cell import CellWeights
from ..cells.gru_cell import GruWeights
from ..cells.rnn_cell import RnnWeights
from ..errors import ModelFileError, UnsupportedModelError
from .onnx_graph import FoundLSTM, node_attrs
from .onnx_lstm import ROLES, LSTMAttrs, _functions, _Inputs, _state

F32 = np.float32


def _attrs(node, bad, refuse, kind: str) -> tuple[LSTMAttrs, bool]:
    """The node's attributes as an LSTM node's (direction, layout, hidden size, functions),
    and ``linear_before_reset``."""
    attrs = node_attrs(node)
    direction = str(attrs.get("direction", "forward"))
    if direction not in ("forward", "reverse", "bidirectional"):
        raise bad(f"unknown direction '{direction}'")
    layout = int(attrs.get("layout", 0))
    if layout not in (0, 1):
        raise bad(f"unknown layout {layout}")
    if attrs.get("clip") is not None:
        raise refuse(f"clip={attrs['clip']} is not implemented for a {kind} (LSTM Scope steps "
                     f"the unclipped cell)")
    dirs = 2 if direction == "bidirectional" else 1
    defaults = ("Sigmoid", "Tanh") if kind == "GRU" else ("Tanh",)
    hidden = attrs.get("hidden_size")
    functions = _functions(attrs, dirs, bad, defaults)
    return (LSTMAttrs(direction, layout, None if hidden is None else int(hidden), None, False,
                      functions), bool(int(attrs.get("linear_before_reset", 0))))


def _direction(kind: str, w: np.ndarray, r: np.ndarray, b: np.ndarray | None, d: int, n: int,
               attrs: LSTMAttrs, reset_after: bool) -> CellWeights:
    blocks = 3 if kind == "GRU" else 1
    count = sum(int(a[d].size) for a in (w, r, b) if a is not None)
    wb = np.zeros(blocks * n, F32) if b is None else np.asarray(b[d, :blocks * n], F32)
    rb = np.zeros(blocks * n, F32) if b is None else np.asarray(b[d, blocks * n:], F32)
    parts = () if b is None else (wb, rb)
    kernel, recurrent = np.asarray(w[d], F32).T, np.asarray(r[d], F32).T
    if kind == "RNN":
        return RnnWeights(kernel, recurrent, wb + rb, use_bias=b is not None,
                          cell_activation=attrs.functions[d], param_count=count, bias_parts=parts)
    f_act, g_act = attrs.functions[2 * d:2 * d + 2]
    return GruWeights(kernel, recurrent, wb if reset_after else wb + rb,
                      recurrent_bias=rb if reset_after else None, reset_after=reset_after,
                      use_bias=b is not None, gate_activation=f_act, cell_activation=g_act,
                      param_count=count, bias_parts=parts)


def build_gru(path: Path, found: FoundLSTM, graph_inputs: dict[str, tuple | None]) -> OnnxLSTM:
    """The engine op of one GRU or RNN node (an ``OnnxLSTM``: the same outputs, Y_c empty)."""
    name, kind = found.name, found.node.op_type

    def bad(msg: str) -> ModelFileError:
        return ModelFileError(f"{path}: {kind} node '{name}': {msg}")

    def refuse(msg: str) -> UnsupportedModelError:
        return UnsupportedModelError(f"{path}: {kind} node '{name}': {msg}")

    attrs, reset_after = _attrs(found.node, bad, refuse, kind)
    inputs = _Inputs(found, graph_inputs)
    values = {}
    for role in ("W", "R", "B"):
        source = inputs.source(role)
        if source not in (None, "const"):
            raise refuse(f"its {role} '{inputs.names[role]}' is not stored in the file; LSTM "
                         f"Scope reads a {kind}'s weights from the file only")
        values[role] = inputs.value(role)
    w, r, b = values["W"], values["R"], values["B"]
    if w is None or r is None:
        raise bad(f"has no {'input weights W' if w is None else 'recurrence weights R'}")
    blocks, dirs = (3 if kind == "GRU" else 1), attrs.dirs
    if w.ndim != 3 or r.ndim != 3 or w.shape[0] != dirs or r.shape[0] != dirs:
        raise bad(f"W {w.shape} and R {r.shape} should be ({dirs}, {blocks}N, D) and "
                  f"({dirs}, {blocks}N, N) for direction={attrs.direction}")
    n = r.shape[2]
    if (attrs.hidden is not None and attrs.hidden != n) or w.shape[1] != blocks * n \
            or r.shape[1] != blocks * n:
        raise bad(f"W {w.shape} and R {r.shape} do not fit hidden_size={attrs.hidden or n} "
                  f"({blocks} blocks of it)")
    if b is not None and b.shape != (dirs, 2 * blocks * n):
        raise bad(f"B {b.shape} should be ({dirs}, {2 * blocks * n})")
    directions = [_direction(kind, w, r, b, d, n, attrs, reset_after) for d in range(dirs)]
    lens = inputs.value("sequence_lens")
    sources = {role: (inputs.source(role), inputs.names[role]) for role in ROLES[1:]
               if inputs.source(role) not in (None, "const")}
    return OnnxLSTM(name=name, directions=directions, direction=attrs.direction,
                    kind=f"onnx {kind}", layout=attrs.layout,
                    initial_h=_state(inputs, "initial_h", attrs, n, bad),
                    sequence_lens=None if lens is None else np.asarray(lens, np.int64),
                    attrs=attrs, sources=sources, node_inputs=dict(inputs.names),
                    stored={role: a for role, a in values.items() if a is not None})
