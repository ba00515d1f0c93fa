"""ONNX models with ``LSTM`` nodes (the ``onnx`` package is imported only here, only to parse).

Mapping (checked against ONNX Runtime and ``onnx.reference``, tests/test_onnx_loader.py):

* ``W[d]`` (4N, D), ``R[d]`` (4N, N) hold gate blocks in the order i, o, f, c; they are
  permuted to i, f, g(=c), o and transposed: kernel (D, 4N), recurrent kernel (N, 4N).
* ``B[d]`` (8N,) = [Wb, Rb]: zb = Wb + Rb (both kept in ``bias_parts``; both counted).
* ``P[d]`` (3N,) peepholes in the order i, o, f -> ``CellWeights.peephole`` (3, N) in the
  order i, f, o. i and f look at c_{t-1}, o at c_t.
* ``clip`` bounds every gate's pre-activation (i, f, g, o; peepholes included) to +-clip.
* ``input_forget=1``: f = 1 - i (no forget pre-activation, no forget peephole), as ONNX
  Runtime computes it (``onnx.reference`` ignores the attribute).
* ``activations`` f, g, h per direction (with ``activation_alpha/beta`` consumed in order by
  the functions that take them) -> gate, cell and output activations.
* ``direction`` forward / reverse / bidirectional -> traced layers ``NODE/forward`` and
  ``NODE/backward``; ``layout`` 0 (time major) and 1 (batch major).
* ``sequence_lens`` -> mask: past a sequence's length the state is carried, ``Y`` holds zeros
  (as ONNX Runtime returns it), ``Y_h``/``Y_c`` the state at the last valid step; the reverse
  direction starts at each sequence's own last valid step.
* ``initial_h``/``initial_c`` from initializers or Constant nodes; when they are graph inputs
  they are zeros unless ``--initial-state`` gives them.

The model's input is batch-major (batch, time, features) like every other format. The graph
runs in numpy: LSTM nodes with the engine, plus a small set of tensor ops (Transpose, Squeeze,
Reshape, Concat, MatMul, Gemm, ...) so that ``output`` is the graph's first output. A graph with
other ops cannot be run whole: then ``output`` is the first LSTM node's ``Y`` and the warnings
say so.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from ..activations import onnx_activation
from ..cell import CellWeights
from ..errors import InputFileError, ModelFileError, ScopeError, UnsupportedModelError
from ..foreign_ops import OnnxLSTM
from ..layers import RunContext
from ..model import Model, StateMap
from ..stepper import DirectionRunner
from ..trace import TraceResult

F32 = np.float32
ONNX_HINT = "pip install onnx"
_ONNX_TO_CANON = (0, 2, 3, 1)     # ONNX blocks i, o, f, c -> canonical i, f, g(=c), o
_NEEDS_ALPHA = {"leakyrelu", "thresholdedrelu", "scaledtanh", "hardsigmoid", "elu", "affine"}
_NEEDS_BETA = {"scaledtanh", "hardsigmoid", "affine"}


# --- loading -------------------------------------------------------------------------------
def load_onnx(path: str | Path) -> OnnxModel:
    path = Path(path)
    try:
        import onnx
        from onnx import helper, numpy_helper
    except ImportError:
        raise ModelFileError(f"{path}: opening an ONNX file needs the onnx package: "
                             f"{ONNX_HINT}") from None
    try:
        proto = onnx.load(str(path))
    except Exception as exc:  # noqa: BLE001 - protobuf raises DecodeError and friends
        raise ModelFileError(f"{path}: not a readable ONNX model ({_first_line(exc)})") from None
    graph = proto.graph
    if not graph.node:
        raise ModelFileError(f"{path}: not an ONNX model with a graph (no nodes found)")
    opset = next((o.version for o in proto.opset_import if o.domain in ("", "ai.onnx")), 13)
    consts: dict[str, np.ndarray] = {}
    try:
        for init in graph.initializer:
            consts[init.name] = numpy_helper.to_array(init)
        for node in graph.node:
            if node.op_type == "Constant" and node.domain in ("", "ai.onnx"):
                consts[node.output[0]] = _constant_value(node, helper, numpy_helper)
    except Exception as exc:  # noqa: BLE001
        raise ModelFileError(f"{path}: cannot read the model's weights ({_first_line(exc)})") from None
    lstm_nodes = [n for n in graph.node if n.op_type == "LSTM" and n.domain in ("", "ai.onnx")]
    if not lstm_nodes:
        kinds = sorted({n.op_type for n in graph.node})
        raise ModelFileError(f"{path}: the ONNX graph has no LSTM node (node types: "
                             f"{', '.join(kinds[:12])}{' ...' if len(kinds) > 12 else ''})")
    graph_inputs = [i.name for i in graph.input if i.name not in consts]
    ops: list[OnnxLSTM] = []
    warnings: list[str] = []
    names_seen: set[str] = set()
    for k, node in enumerate(lstm_nodes):
        name = node.name or f"LSTM_{k}"
        if name in names_seen:
            name = f"{name}_{k}"
        names_seen.add(name)
        ops.append(_lstm_op(path, node, name, consts, graph_inputs, helper, warnings))
    graph_runner = _GraphRunner(graph, consts, opset, dict(zip((id(n) for n in lstm_nodes), ops)))
    problem = graph_runner.problem()
    first_input = _input_shape(graph, graph_runner.primary_input)
    chain = True
    if problem is not None:
        graph_runner = None
        if len(ops) == 1:
            warnings.append(f"the graph has nodes LSTM Scope does not run ({problem}): "
                            f"'output' is the LSTM node's Y and the input is the LSTM's own input")
        else:
            chain = False
            warnings.append(f"the graph has nodes LSTM Scope does not run ({problem}): "
                            f"feed one LSTM node's own input with --layer-input")
    model = OnnxModel(ops=list(ops), source=str(path), format="onnx",
                      name=graph.name or path.stem, chain=chain, warnings=warnings)
    model.graph_runner = graph_runner
    if graph_runner is not None and first_input is not None:
        model.declared_input = first_input
    for op in ops:
        if op.initial_h is not None:
            axis = 1 if op.layout == 0 else 0
            model.batch_size = int(op.initial_h.shape[axis])
    return model


def _constant_value(node: Any, helper: Any, numpy_helper: Any) -> np.ndarray:
    for attr in node.attribute:
        value = helper.get_attribute_value(attr)
        if attr.name == "value":
            return numpy_helper.to_array(value)
        if attr.name in ("value_float", "value_int"):
            return np.array(value, F32 if attr.name == "value_float" else np.int64)
        if attr.name in ("value_floats", "value_ints"):
            return np.array(list(value), F32 if attr.name == "value_floats" else np.int64)
    raise ModelFileError(f"Constant node '{node.name}' has no value this loader reads")


def _attrs(node: Any, helper: Any) -> dict[str, Any]:
    out = {}
    for attr in node.attribute:
        value = helper.get_attribute_value(attr)
        if isinstance(value, bytes):
            value = value.decode()
        elif isinstance(value, list):
            value = [v.decode() if isinstance(v, bytes) else v for v in value]
        out[attr.name] = value
    return out


def _input_shape(graph: Any, name: str | None) -> tuple[Any, ...] | None:
    for value in graph.input:
        if value.name == name and value.type.HasField("tensor_type"):
            dims = value.type.tensor_type.shape.dim
            return tuple(d.dim_value if d.HasField("dim_value") else None for d in dims)
    return None


def _lstm_op(path: Path, node: Any, name: str, consts: dict[str, np.ndarray],
             graph_inputs: list[str], helper: Any, warnings: list[str]) -> OnnxLSTM:
    attrs = _attrs(node, helper)
    inputs = list(node.input) + [""] * (8 - len(node.input))
    x_name, w_name, r_name, b_name, lens_name, h0_name, c0_name, p_name = inputs[:8]

    def bad(msg: str) -> ModelFileError:
        return ModelFileError(f"{path}: LSTM node '{name}': {msg}")

    def const(input_name: str, what: str, required: bool = False) -> np.ndarray | None:
        if not input_name:
            if required:
                raise bad(f"has no {what}")
            return None
        if input_name in consts:
            return np.asarray(consts[input_name])
        if required:
            raise UnsupportedModelError(f"{path}: LSTM node '{name}': its {what} '{input_name}' "
                                        f"is computed by the graph, not stored; LSTM Scope needs "
                                        f"stored weights (initializers or Constant nodes)")
        return None

    w = const(w_name, "input weights W", True)
    r = const(r_name, "recurrence weights R", True)
    direction = str(attrs.get("direction", "forward"))
    if direction not in ("forward", "reverse", "bidirectional"):
        raise bad(f"unknown direction '{direction}'")
    dirs = 2 if direction == "bidirectional" else 1
    layout = int(attrs.get("layout", 0))
    if layout not in (0, 1):
        raise bad(f"unknown layout {layout}")
    if w.ndim != 3 or r.ndim != 3 or w.shape[0] != dirs or r.shape[0] != dirs:
        raise bad(f"W {w.shape} and R {r.shape} should be ({dirs}, 4N, D) and ({dirs}, 4N, N) "
                  f"for direction={direction}")
    n = r.shape[2]
    hidden = attrs.get("hidden_size")
    if hidden is not None and int(hidden) != n:
        raise bad(f"hidden_size={hidden} but R has shape {r.shape}")
    if w.shape[1] != 4 * n or r.shape[1] != 4 * n:
        raise bad(f"W {w.shape} and R {r.shape} should have 4*hidden_size = {4 * n} rows")
    b = const(b_name, "bias B")
    if b_name and b is None:
        raise UnsupportedModelError(f"{path}: LSTM node '{name}': bias '{b_name}' is computed by "
                                    f"the graph; LSTM Scope needs stored weights")
    if b is not None and b.shape != (dirs, 8 * n):
        raise bad(f"B {b.shape} should be ({dirs}, {8 * n})")
    p = const(p_name, "peepholes P")
    if p_name and p is None:
        raise UnsupportedModelError(f"{path}: LSTM node '{name}': peepholes '{p_name}' are "
                                    f"computed by the graph; LSTM Scope needs stored weights")
    if p is not None and p.shape != (dirs, 3 * n):
        raise bad(f"P {p.shape} should be ({dirs}, {3 * n})")
    input_forget = bool(int(attrs.get("input_forget", 0)))
    clip = attrs.get("clip")
    clip = None if clip is None else float(clip)
    if clip is not None and not clip > 0:
        raise bad(f"clip must be positive, got {clip}")
    acts = [str(a) for a in attrs.get("activations", [])] or ["Sigmoid", "Tanh", "Tanh"] * dirs
    if len(acts) != 3 * dirs:
        raise bad(f"activations lists {len(acts)} functions, expected {3 * dirs} (f, g, h per "
                  f"direction)")
    alphas = list(attrs.get("activation_alpha", []))
    betas = list(attrs.get("activation_beta", []))
    functions = []
    for act in acts:
        key = act.lower()
        alpha = alphas.pop(0) if key in _NEEDS_ALPHA and alphas else None
        beta = betas.pop(0) if key in _NEEDS_BETA and betas else None
        functions.append(onnx_activation(act, alpha, beta))

    directions = []
    for d in range(dirs):
        kernel = _permute(w[d]).T
        recurrent = _permute(r[d]).T
        parts: tuple[np.ndarray, ...] = ()
        if b is not None:
            wb, rb = _permute(b[d, :4 * n]), _permute(b[d, 4 * n:])
            bias = wb + rb
            parts = (wb, rb)
        else:
            bias = np.zeros(4 * n, F32)
        peephole = None
        if p is not None:
            pi, po, pf = (np.asarray(p[d, k * n:(k + 1) * n], F32) for k in range(3))
            peephole = np.stack([pi, pf, po])
        count = int(w[d].size + r[d].size + (b[d].size if b is not None else 0)
                    + (p[d].size if p is not None else 0))
        f_act, g_act, h_act = functions[3 * d:3 * d + 3]
        directions.append(CellWeights(
            kernel=kernel, recurrent_kernel=recurrent, bias=bias, use_bias=b is not None,
            gate_activation=f_act, cell_activation=g_act, output_activation=h_act,
            peephole=peephole, cell_clip=clip, input_forget=input_forget, param_count=count,
            bias_parts=parts))

    def state(input_name: str, what: str) -> np.ndarray | None:
        arr = const(input_name, what)
        if input_name and arr is None:
            if input_name in graph_inputs:
                warnings.append(f"LSTM node '{name}': {what} is the graph input '{input_name}'; "
                                f"it starts at zeros unless --initial-state gives it")
            return None
        if arr is not None:
            dir_axis = 0 if layout == 0 else 1
            if arr.ndim != 3 or arr.shape[dir_axis] != dirs or arr.shape[2] != n:
                want = "(dirs, batch, hidden)" if layout == 0 else "(batch, dirs, hidden)"
                raise bad(f"{what} has shape {arr.shape}, expected {want} with dirs={dirs}, "
                          f"hidden={n}")
            arr = np.asarray(arr, F32)
        return arr

    h0 = state(h0_name, "initial_h")
    c0 = state(c0_name, "initial_c")
    lens = const(lens_name, "sequence_lens")
    if lens_name and lens is None:
        warnings.append(f"LSTM node '{name}': sequence_lens is the graph input '{lens_name}'; "
                        f"every sequence is taken at full length")
    return OnnxLSTM(name=name, directions=directions, direction=direction, layout=layout,
                    initial_h=h0, initial_c=c0,
                    sequence_lens=None if lens is None else np.asarray(lens, np.int64))


def _permute(blocks: np.ndarray) -> np.ndarray:
    """Rows (or entries) in ONNX gate blocks i, o, f, c -> canonical i, f, g, o."""
    arr = np.asarray(blocks, F32)
    n = arr.shape[0] // 4
    return np.concatenate([arr[k * n:(k + 1) * n] for k in _ONNX_TO_CANON], axis=0)


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return (text.splitlines()[0] if text else type(exc).__name__)[:200]


# --- the model -----------------------------------------------------------------------------
class OnnxModel(Model):
    """A Model whose full run is the ONNX graph (when LSTM Scope can run all its nodes)."""

    graph_runner: _GraphRunner | None = None
    declared_input: tuple[Any, ...] | None = None

    @property
    def input_features(self) -> int | None:
        if self.declared_input is not None and len(self.declared_input) == 3 \
                and self.graph_runner is not None and not self.graph_runner.feeds_lstm_directly:
            last = self.declared_input[-1]
            return int(last) if last else None
        return super().input_features

    def _run_graph(self, x: np.ndarray, ctx: RunContext, record: dict | None = None):
        assert self.graph_runner is not None
        return self.graph_runner.run(x, ctx, record)

    def trace(self, x: Any, *, initial_state: StateMap | tuple | None = None,
              layer_input: int | str | None = None) -> TraceResult:
        if layer_input is not None or self.graph_runner is None:
            result = super().trace(x, initial_state=initial_state, layer_input=layer_input)
            return result
        ctx = RunContext(initial_state=self._state_map(initial_state))
        x_in = self.prepare_input(x)
        with np.errstate(over="ignore", invalid="ignore"):
            outputs = self._run_graph(x_in, ctx)
        return TraceResult(outputs[0], ctx.traces, outputs, ctx.states, model=self, input=x_in)

    def layer_input(self, key: int | str | None, x: Any, *, is_layer_input: bool = False
                    ) -> tuple[np.ndarray, np.ndarray | None]:
        info = self.traced_layers[self.layer_index(key)]
        op: OnnxLSTM = self.ops[info.op_index]  # type: ignore[assignment]
        if is_layer_input or self.graph_runner is None:
            layer_x, mask = super().layer_input(key, x, is_layer_input=is_layer_input)
            if mask is None and op.sequence_lens is not None:
                mask = _lens_mask(op.sequence_lens, layer_x.shape[0], layer_x.shape[1])
            return layer_x, mask
        record: dict[str, tuple[np.ndarray, np.ndarray | None]] = {}
        with np.errstate(over="ignore", invalid="ignore"):
            self._run_graph(self.prepare_input(x), RunContext(), record)
        if info.name not in record:
            raise ScopeError(f"{self.source}: LSTM node of '{info.name}' is not reached when "
                             f"the graph runs")
        return record[info.name]

    def runner(self, key: int | str | None, x: Any, *, initial_state: StateMap | tuple | None = None,
               is_layer_input: bool = False) -> DirectionRunner:
        info = self.traced_layers[self.layer_index(key)]
        op: OnnxLSTM = self.ops[info.op_index]  # type: ignore[assignment]
        layer_x, mask = self.layer_input(info.index, x, is_layer_input=is_layer_input)
        h0, c0 = self._state_map(initial_state).get(info.name, (None, None))
        k = [name for name, _, _ in op.traced()].index(info.name)
        if h0 is None and op.initial_h is not None:
            h0 = op.initial_h[:, k] if op.layout == 1 else op.initial_h[k]
        if c0 is None and op.initial_c is not None:
            c0 = op.initial_c[:, k] if op.layout == 1 else op.initial_c[k]
        return DirectionRunner(info.name, info.weights, layer_x, backward=info.direction == "backward",
                               mask=mask, h0=h0, c0=c0)


def _lens_mask(lens: np.ndarray, b: int, t: int) -> np.ndarray | None:
    lens = np.asarray(lens, np.int64).reshape(-1)
    if lens.shape[0] != b:
        raise InputFileError(f"sequence_lens has {lens.shape[0]} entries for a batch of {b}")
    mask = np.arange(t)[None, :] < lens[:, None]
    return None if mask.all() else mask


# --- a small numpy interpreter for the graph around the LSTM nodes --------------------------
_SIMPLE = {"Identity", "Constant", "Transpose", "Squeeze", "Unsqueeze", "Reshape", "Concat",
           "Slice", "Gather", "Shape", "Cast", "Add", "Sub", "Mul", "Div", "MatMul", "Gemm",
           "Relu", "Tanh", "Sigmoid", "Softmax", "LogSoftmax", "Flatten", "Dropout", "LSTM",
           "Expand", "ConstantOfShape", "Neg", "Exp"}


class _GraphRunner:
    def __init__(self, graph: Any, consts: dict[str, np.ndarray], opset: int,
                 lstm_ops: dict[int, OnnxLSTM]) -> None:
        from onnx import helper
        self.opset = opset
        self.consts = consts
        self.nodes = list(graph.node)
        self.attrs = [_attrs(n, helper) for n in self.nodes]
        self.lstm_ops = lstm_ops
        self.inputs = [i.name for i in graph.input if i.name not in consts]
        self.outputs = [o.name for o in graph.output]
        self.primary_input = self.inputs[0] if self.inputs else None
        lstm_state_inputs = {name for n in self.nodes if n.op_type == "LSTM"
                             for name in list(n.input)[4:7] if name}
        self.optional_inputs = [i for i in self.inputs[1:] if i in lstm_state_inputs]
        self.feeds_lstm_directly = any(n.op_type == "LSTM" and n.input[0] == self.primary_input
                                       for n in self.nodes)
        self.transpose_input = any(
            n.op_type == "LSTM" and n.input[0] == self.primary_input
            and int(a.get("layout", 0)) == 0 for n, a in zip(self.nodes, self.attrs))

    def problem(self) -> str | None:
        unknown = sorted({n.op_type for n in self.nodes
                          if n.op_type not in _SIMPLE or n.domain not in ("", "ai.onnx")})
        if unknown:
            return "ops " + ", ".join(unknown)
        extra = [i for i in self.inputs[1:] if i not in self.optional_inputs]
        if extra:
            return "more than one graph input: " + ", ".join(self.inputs)
        if self.primary_input is None:
            return "no graph input"
        made = {o for n in self.nodes for o in n.output} | set(self.consts) | set(self.inputs)
        missing = [o for o in self.outputs if o not in made]
        if missing:
            return "graph outputs no node makes: " + ", ".join(missing)
        return None

    def run(self, x: np.ndarray, ctx: RunContext, record: dict | None) -> list[np.ndarray]:
        env: dict[str, Any] = dict(self.consts)
        env[self.primary_input] = np.transpose(x, (1, 0, 2)) if self.transpose_input else x
        for node, attrs in zip(self.nodes, self.attrs):
            ins = [env.get(name) if name else None for name in node.input]
            if node.op_type == "LSTM":
                op = self.lstm_ops[id(node)]
                ins += [None] * (8 - len(ins))
                outs = op.run_node(ins[0], ctx, sequence_lens=ins[4] if node.input[4:5] and
                                   node.input[4] not in self.consts else None,
                                   initial_h=ins[5] if len(node.input) > 5 and node.input[5]
                                   not in self.consts else None,
                                   initial_c=ins[6] if len(node.input) > 6 and node.input[6]
                                   not in self.consts else None, record_input=record)
            elif node.op_type == "Constant":
                continue
            else:
                try:
                    outs = _eval(node.op_type, ins, attrs, self.opset)
                except ScopeError:
                    raise
                except Exception as exc:  # noqa: BLE001 - shapes the user's input cannot fit
                    raise InputFileError(f"the ONNX graph failed at node '{node.name}' "
                                         f"({node.op_type}): {_first_line(exc)}") from None
            for name, value in zip(node.output, outs):
                if name:
                    env[name] = value
        return [np.asarray(env[name]) for name in self.outputs]


def _axes(ins: list[Any], attrs: dict[str, Any], opset: int, since: int) -> list[int] | None:
    if opset >= since:
        return None if len(ins) < 2 or ins[1] is None else [int(a) for a in ins[1]]
    axes = attrs.get("axes")
    return None if axes is None else [int(a) for a in axes]


def _eval(op: str, ins: list[Any], attrs: dict[str, Any], opset: int) -> list[Any]:
    a = ins[0] if ins else None
    if op in ("Identity", "Dropout"):
        return [a]
    if op == "Transpose":
        perm = attrs.get("perm")
        return [np.transpose(a, perm)]
    if op == "Squeeze":
        axes = _axes(ins, attrs, opset, 13)
        return [np.squeeze(a) if axes is None else np.squeeze(a, axis=tuple(axes))]
    if op == "Unsqueeze":
        axes = _axes(ins, attrs, opset, 13)
        out = a
        rank = np.ndim(a) + len(axes)
        for ax in sorted(x % rank for x in axes):
            out = np.expand_dims(out, ax)
        return [out]
    if op == "Reshape":
        shape = [int(s) for s in ins[1]]
        if not attrs.get("allowzero", 0):
            shape = [a.shape[k] if s == 0 else s for k, s in enumerate(shape)]
        return [np.reshape(a, shape)]
    if op == "Concat":
        return [np.concatenate([v for v in ins if v is not None], axis=int(attrs["axis"]))]
    if op == "Shape":
        shape = np.array(np.shape(a), np.int64)
        start, end = attrs.get("start", 0), attrs.get("end")
        return [shape[start:end]]
    if op == "Gather":
        return [np.take(a, np.asarray(ins[1], np.int64), axis=int(attrs.get("axis", 0)))]
    if op == "Slice":
        if opset >= 10:
            starts, ends = ins[1], ins[2]
            axes = ins[3] if len(ins) > 3 and ins[3] is not None else range(len(starts))
            steps = ins[4] if len(ins) > 4 and ins[4] is not None else [1] * len(starts)
        else:
            starts, ends = attrs["starts"], attrs["ends"]
            axes = attrs.get("axes", range(len(starts)))
            steps = [1] * len(starts)
        index = [slice(None)] * np.ndim(a)
        for s, e, ax, st in zip(starts, ends, axes, steps):
            dim = a.shape[int(ax)]
            s, e, st = int(s), int(e), int(st)
            s = max(min(s + dim if s < 0 else s, dim), 0) if st > 0 else max(min(s + dim if s < 0 else s, dim - 1), -1)
            e = max(min(e + dim if e < 0 else e, dim), 0) if st > 0 else max(min(e + dim if e < 0 else e, dim - 1), -1)
            index[int(ax)] = slice(s, None if (st < 0 and e < 0) else e, st)
        return [a[tuple(index)]]
    if op == "Cast":
        import onnx
        to = onnx.helper.tensor_dtype_to_np_dtype(int(attrs["to"]))
        return [np.asarray(a).astype(to)]
    if op in ("Add", "Sub", "Mul", "Div"):
        fn = {"Add": np.add, "Sub": np.subtract, "Mul": np.multiply, "Div": np.divide}[op]
        out = fn(a, ins[1])
        if op == "Div" and np.asarray(a).dtype.kind in "iu":
            out = np.floor_divide(a, ins[1])
        return [out.astype(np.result_type(a, ins[1]))]
    if op == "MatMul":
        return [np.matmul(a, ins[1]).astype(F32)]
    if op == "Gemm":
        x, w = a, ins[1]
        if attrs.get("transA", 0):
            x = x.T
        if attrs.get("transB", 0):
            w = w.T
        y = F32(attrs.get("alpha", 1.0)) * (x @ w)
        if len(ins) > 2 and ins[2] is not None:
            y = y + F32(attrs.get("beta", 1.0)) * ins[2]
        return [y.astype(F32)]
    if op == "Expand":
        shape = tuple(int(v) for v in ins[1])
        return [a * np.ones(shape, dtype=np.asarray(a).dtype)]
    if op == "ConstantOfShape":
        value = attrs.get("value")
        if value is None:
            fill = np.zeros(1, F32)
        else:
            from onnx import numpy_helper
            fill = numpy_helper.to_array(value).reshape(-1)
        return [np.full(tuple(int(v) for v in a), fill[0], dtype=fill.dtype)]
    if op == "Neg":
        return [np.negative(a)]
    if op == "Exp":
        return [np.exp(a)]
    if op == "Relu":
        return [np.maximum(a, 0).astype(a.dtype)]
    if op == "Tanh":
        return [np.tanh(a)]
    if op == "Sigmoid":
        return [(1.0 / (1.0 + np.exp(-a))).astype(a.dtype)]
    if op == "Flatten":
        axis = int(attrs.get("axis", 1)) % max(np.ndim(a), 1)
        return [np.reshape(a, (int(np.prod(a.shape[:axis])), -1))]
    if op in ("Softmax", "LogSoftmax"):
        axis = int(attrs.get("axis", -1 if opset >= 13 else 1))
        if opset < 13:
            shape = a.shape
            flat = np.reshape(a, (int(np.prod(shape[:axis % a.ndim])), -1))
            return [np.reshape(_softmax(flat, -1, op == "LogSoftmax"), shape)]
        return [_softmax(a, axis, op == "LogSoftmax")]
    raise UnsupportedModelError(f"ONNX op {op} is not supported")


def _softmax(a: np.ndarray, axis: int, log: bool) -> np.ndarray:
    shifted = a - np.max(a, axis=axis, keepdims=True)
    if log:
        return (shifted - np.log(np.sum(np.exp(shifted), axis=axis, keepdims=True))).astype(F32)
    e = np.exp(shifted)
    return (e / np.sum(e, axis=axis, keepdims=True)).astype(F32)
