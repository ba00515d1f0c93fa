"""One ONNX ``LSTM`` node -> an ``OnnxLSTM`` op: attributes, tensors, per-direction weights.

Mapping (checked against ONNX Runtime and ``onnx.reference``, tests/test_onnx_loader.py):

* ``W[d]`` (4N, D), ``R[d]`` (4N, N) hold gate blocks in the order i, o, f, c; they are
  permuted to i, f, g(=c), o and transposed: kernel (D, 4N), recurrent kernel (N, 4N).
* ``B[d]`` (8N,) = [Wb, Rb]: zb = Wb + Rb (both kept in ``bias_parts``; both counted).
* ``P[d]`` (3N,) peepholes in the order i, o, f -> ``CellWeights.peephole`` (3, N) in the
  order i, f, o. i and f look at c_{t-1}, o at c_t.
* ``clip`` bounds every gate's pre-activation (i, f, g, o; peepholes included) to +-clip.
* ``input_forget=1``: f = 1 - i, as ONNX Runtime computes it (``onnx.reference`` ignores it).
* ``activations`` f, g, h per direction (``activation_alpha/beta`` consumed in order by the
  functions that take them) -> gate, cell and output activations.
* ``direction`` forward / reverse / bidirectional -> traced layers ``NODE/forward`` and
  ``NODE/backward``; ``layout`` 0 (time major) and 1 (batch major).

``com.microsoft.DynamicQuantizeLSTM`` (ONNX Runtime's ``quantize_dynamic`` of an LSTM) stores
W (dirs, D, 4N) and R (dirs, N, 4N) as int8/uint8 with ``W_scale``, ``W_zero_point``,
``R_scale``, ``R_zero_point`` (one per direction, or per direction and output channel):
``dequantize`` gives W = (Wq - zero_point) * scale in the plain node's layout, and the node is
traced as that float cell (ONNX Runtime also quantizes x and h as it runs, so its own output
differs a little; the ONNX model measures how much on each input).

Each tensor input is a constant (initializers, Constant nodes, folded shape ops), a graph
input (W/R/B/P then come from the input file; states and ``sequence_lens`` are fed), or a
value the graph computes (states and lengths then need the graph to run, natively or in ONNX
Runtime). ``OnnxLSTM.sources`` records which, so nothing silently starts at zero.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from ..capture.foreign_ops import OnnxLSTM
from ..cells.activations import Activation, onnx_activation
from ..cells.cell import CellWeights
from ..errors import ModelFileError, UnsupportedModelError
from .onnx_graph import FoundLSTM, node_attrs

F32 = np.float32
_ONNX_TO_CANON = (0, 2, 3, 1)     # ONNX blocks i, o, f, c -> canonical i, f, g(=c), o
_NEEDS_ALPHA = {"leakyrelu", "thresholdedrelu", "scaledtanh", "hardsigmoid", "elu", "affine"}
_NEEDS_BETA = {"scaledtanh", "hardsigmoid", "affine"}
ROLES = ("X", "W", "R", "B", "sequence_lens", "initial_h", "initial_c", "P")
WEIGHT_ROLES = ("W", "R", "B", "P")
QUANT_ROLES = ("W_scale", "W_zero_point", "R_scale", "R_zero_point")     # DynamicQuantizeLSTM


@dataclass(frozen=True)
class LSTMAttrs:
    direction: str
    layout: int
    hidden: int | None
    clip: float | None
    input_forget: bool
    functions: list[Activation]

    @property
    def dirs(self) -> int:
        return 2 if self.direction == "bidirectional" else 1


def parse_attrs(node: Any, bad) -> LSTMAttrs:
    attrs = node_attrs(node)
    direction = str(attrs.get("direction", "forward"))
    if direction not in ("forward", "reverse", "bidirectional"):
        raise bad(f"unknown direction '{direction}'")
    layout = int(attrs.get("layout", 0))
    if layout not in (0, 1):
        raise bad(f"unknown layout {layout}")
    clip = attrs.get("clip")
    clip = None if clip is None else float(clip)
    if clip is not None and not clip > 0:
        raise bad(f"clip must be positive, got {clip}")
    dirs = 2 if direction == "bidirectional" else 1
    hidden = attrs.get("hidden_size")
    return LSTMAttrs(direction, layout, None if hidden is None else int(hidden), clip,
                     bool(int(attrs.get("input_forget", 0))), _functions(attrs, dirs, bad))


def _functions(attrs: dict[str, Any], dirs: int, bad,
               defaults: tuple[str, ...] = ("Sigmoid", "Tanh", "Tanh")) -> list[Activation]:
    """The node's ``activations`` (``defaults`` per direction when it names none: an LSTM's
    f, g, h; a GRU's f, g; an RNN's f)."""
    acts = [str(a) for a in attrs.get("activations", [])] or list(defaults) * dirs
    per = len(defaults)
    if len(acts) != per * dirs:
        raise bad(f"activations lists {len(acts)} functions, expected {per * dirs} "
                  f"({', '.join('fgh'[:per])} per direction)")
    alphas, betas = list(attrs.get("activation_alpha", [])), list(attrs.get("activation_beta", []))
    functions = []
    for act in acts:
        key = act.lower()
        alpha = alphas.pop(0) if key in _NEEDS_ALPHA and alphas else None
        beta = betas.pop(0) if key in _NEEDS_BETA and betas else None
        functions.append(onnx_activation(act, alpha, beta))
    return functions


def check_weights(w: np.ndarray, r: np.ndarray, b: np.ndarray | None, p: np.ndarray | None,
                  attrs: LSTMAttrs, bad) -> int:
    """Shapes of W, R, B, P against each other and the attributes; returns N."""
    dirs = attrs.dirs
    if w.ndim != 3 or r.ndim != 3 or w.shape[0] != dirs or r.shape[0] != dirs:
        raise bad(f"W {w.shape} and R {r.shape} should be ({dirs}, 4N, D) and ({dirs}, 4N, N) "
                  f"for direction={attrs.direction}")
    n = r.shape[2]
    if attrs.hidden is not None and attrs.hidden != n:
        raise bad(f"hidden_size={attrs.hidden} but R has shape {r.shape}")
    if w.shape[1] != 4 * n or r.shape[1] != 4 * n:
        raise bad(f"W {w.shape} and R {r.shape} should have 4*hidden_size = {4 * n} rows")
    if b is not None and b.shape != (dirs, 8 * n):
        raise bad(f"B {b.shape} should be ({dirs}, {8 * n})")
    if p is not None and p.shape != (dirs, 3 * n):
        raise bad(f"P {p.shape} should be ({dirs}, {3 * n})")
    return n


def permute(blocks: np.ndarray) -> np.ndarray:
    """Rows (or entries) in ONNX gate blocks i, o, f, c -> canonical i, f, g, o."""
    arr = np.asarray(blocks, F32)
    n = arr.shape[0] // 4
    return np.concatenate([arr[k * n:(k + 1) * n] for k in _ONNX_TO_CANON], axis=0)


def direction_weights(w: np.ndarray, r: np.ndarray, b: np.ndarray | None, p: np.ndarray | None,
                      d: int, attrs: LSTMAttrs) -> CellWeights:
    """Canonical weights of direction ``d``."""
    n = r.shape[2]
    parts: tuple[np.ndarray, ...] = ()
    bias = np.zeros(4 * n, F32)
    if b is not None:
        parts = (permute(b[d, :4 * n]), permute(b[d, 4 * n:]))
        bias = parts[0] + parts[1]
    peephole = None
    if p is not None:
        pi, po, pf = (np.asarray(p[d, k * n:(k + 1) * n], F32) for k in range(3))
        peephole = np.stack([pi, pf, po])
    count = sum(int(a[d].size) for a in (w, r, b, p) if a is not None)
    f_act, g_act, h_act = attrs.functions[3 * d:3 * d + 3]
    return CellWeights(
        kernel=permute(w[d]).T, recurrent_kernel=permute(r[d]).T, bias=bias,
        use_bias=b is not None, gate_activation=f_act, cell_activation=g_act,
        output_activation=h_act, peephole=peephole, cell_clip=attrs.clip,
        input_forget=attrs.input_forget, param_count=count, bias_parts=parts)


def all_directions(w, r, b, p, attrs: LSTMAttrs, bad) -> list[CellWeights]:
    w, r = np.asarray(w), np.asarray(r)
    check_weights(w, r, b, p, attrs, bad)
    return [direction_weights(w, r, b, p, d, attrs) for d in range(attrs.dirs)]


class _Inputs:
    """Where each of a node's tensor inputs comes from: a constant, a graph input, computed."""

    def __init__(self, found: FoundLSTM, graph_inputs: dict[str, tuple | None]) -> None:
        roles = ROLES + QUANT_ROLES if found.quantized else ROLES
        names = list(found.node.input) + [""] * (len(roles) - len(found.node.input))
        self.names = dict(zip(roles, names))
        self.consts = found.consts
        self.graph_inputs = graph_inputs

    def value(self, role: str) -> np.ndarray | None:
        name = self.names[role]
        return np.asarray(self.consts[name]) if name and name in self.consts else None

    def source(self, role: str) -> str | None:
        """"const", "input" (a graph input), "computed", or None when not given."""
        name = self.names[role]
        if not name:
            return None
        if name in self.consts:
            return "const"
        return "input" if name in self.graph_inputs else "computed"


def _weight(inputs: _Inputs, role: str, bad, path: Path, name: str) -> np.ndarray | None:
    """A stored (or folded) weight; zeros of the declared shape for a graph input, which the
    input file fills (``OnnxModel.bind``); an error for a weight the graph computes."""
    source = inputs.source(role)
    if source in (None, "const"):
        return inputs.value(role)
    tensor = inputs.names[role]
    if source == "input":
        shape = inputs.graph_inputs.get(tensor)
        if not shape or any(not d for d in shape):
            raise bad(f"{role} is the graph input '{tensor}' with no fixed shape "
                      f"({shape}); give the graph fixed weight shapes")
        return np.zeros(shape, F32)
    raise UnsupportedModelError(f"{path}: LSTM node '{name}': its {role} '{tensor}' is "
                                f"computed by the graph from its inputs, not from constants; "
                                f"LSTM Scope needs W, R, B and P known before the run")


def _state(inputs: _Inputs, role: str, attrs: LSTMAttrs, n: int, bad) -> np.ndarray | None:
    arr = inputs.value(role)
    if arr is None:
        return None
    dir_axis = 0 if attrs.layout == 0 else 1
    if arr.ndim != 3 or arr.shape[dir_axis] != attrs.dirs or arr.shape[2] != n:
        want = "(dirs, batch, hidden)" if attrs.layout == 0 else "(batch, dirs, hidden)"
        raise bad(f"{role} has shape {arr.shape}, expected {want} with dirs={attrs.dirs}, "
                  f"hidden={n}")
    return np.asarray(arr, F32)


def dequantize(q: np.ndarray, scale: np.ndarray, zero: np.ndarray, dirs: int, bad) -> np.ndarray:
    """DynamicQuantizeLSTM's W (dirs, D, 4N) or R (dirs, N, 4N) in float, back in the plain
    node's layout (dirs, 4N, D): (q - zero_point) * scale, per direction or per output channel."""
    q, scale, zero = np.asarray(q), np.asarray(scale, F32), np.asarray(zero)
    if q.ndim != 3 or q.dtype.kind not in "iu":
        raise bad(f"quantized weights of shape {q.shape} and type {q.dtype}, expected "
                  f"(dirs, rows, 4*hidden_size) 8-bit integers")
    if scale.shape not in ((dirs,), (dirs, q.shape[2])) or zero.shape != scale.shape:
        raise bad(f"scale {scale.shape} and zero point {zero.shape} fit neither one per "
                  f"direction ({dirs},) nor one per output channel ({dirs}, {q.shape[2]})")
    if scale.ndim == 1:
        scale, zero = scale[:, None, None], zero[:, None, None]
    else:
        scale, zero = scale[:, None, :], zero[:, None, :]
    floats = (q.astype(F32) - zero.astype(F32)) * scale
    return np.ascontiguousarray(floats.transpose(0, 2, 1))


def _quantized_weights(inputs: _Inputs, attrs: LSTMAttrs, bad) -> tuple[np.ndarray, np.ndarray]:
    """W and R of a DynamicQuantizeLSTM, dequantized; each of its tensors must be stored."""
    values = {}
    for role in ("W", "R", *QUANT_ROLES):
        if inputs.source(role) != "const":
            raise bad(f"its {role} is {'missing' if not inputs.names[role] else 'not stored in the file'}"
                      f"; a DynamicQuantizeLSTM is read from its stored int8 weights, scales and "
                      f"zero points")
        values[role] = inputs.value(role)
    return (dequantize(values["W"], values["W_scale"], values["W_zero_point"], attrs.dirs, bad),
            dequantize(values["R"], values["R_scale"], values["R_zero_point"], attrs.dirs, bad))


def build_lstm(path: Path, found: FoundLSTM, graph_inputs: dict[str, tuple | None]) -> OnnxLSTM:
    """The engine op of one LSTM node; ``graph_inputs`` maps the top graph's inputs to their
    declared shapes."""
    name = found.name

    def bad(msg: str) -> ModelFileError:
        return ModelFileError(f"{path}: LSTM node '{name}': {msg}")

    attrs = parse_attrs(found.node, bad)
    inputs = _Inputs(found, graph_inputs)
    if not inputs.names["W"] or not inputs.names["R"]:
        raise bad(f"has no {'input weights W' if not inputs.names['W'] else 'recurrence weights R'}")
    if found.quantized:
        w, r = _quantized_weights(inputs, attrs, bad)
        b, p = (_weight(inputs, role, bad, path, name) for role in ("B", "P"))
    else:
        w, r, b, p = (_weight(inputs, role, bad, path, name) for role in WEIGHT_ROLES)
    directions = all_directions(w, r, b, p, attrs, bad)
    n = directions[0].units
    lens = inputs.value("sequence_lens")
    sources = {role: (inputs.source(role), inputs.names[role]) for role in ROLES[1:]
               if inputs.source(role) not in (None, "const")}
    return OnnxLSTM(name=name, directions=directions, direction=attrs.direction,
                    kind="onnx DynamicQuantizeLSTM" if found.quantized else "onnx LSTM",
                    layout=attrs.layout, initial_h=_state(inputs, "initial_h", attrs, n, bad),
                    initial_c=_state(inputs, "initial_c", attrs, n, bad),
                    sequence_lens=None if lens is None else np.asarray(lens, np.int64),
                    attrs=attrs, sources=sources, node_inputs=dict(inputs.names),
                    stored={role: a for role, a in zip(WEIGHT_ROLES, (w, r, b, p)) if a is not None})
