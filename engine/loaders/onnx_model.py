"""ONNX models with ``LSTM`` nodes (the ``onnx`` package is imported only here, only to parse).

How a model runs (see docs/architecture.md, "ONNX"):

* **native**: every node is one LSTM Scope computes (``onnx_ops.OPS`` and LSTM): the graph runs
  in numpy, graph inputs (states, ``sequence_lens``, W/R/B) come from the input file by name,
  and ``output`` is the graph's first output.
* **captured**: other ops (convolutions, ``If`` branches ...): ONNX Runtime runs the graph with
  each LSTM node's inputs added as outputs (``engine/capture/onnx_capture.py``), and the engine
  steps each LSTM on what it received.
* without ONNX Runtime such a graph loads; ``--layer-input`` traces one LSTM on its own input.

The node -> engine mapping is ``onnx_lstm``; constants, subgraphs and names are ``onnx_graph``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from ..capture.feed import Capture, Runtime, match_inputs
from ..capture.foreign_ops import OnnxLSTM
from ..errors import InputFileError, ModelFileError, ScopeError, describe
from ..network.layers import RunContext
from ..network.model import Model, StateMap, TracedLayerInfo
from ..runs.trace import TraceResult
from ..system.budget import BudgetError, check_bytes
from ..system.files import check_readable
from .onnx_graph import (
    declared_shape,
    find_lstms,
    fold_constants,
    is_lstm_node,
    is_onnx_op,
    is_quantized_lstm,
    is_recurrent_op,
    op_types,
    state_only_inputs,
    zero_inputs,
)
from .onnx_lstm import WEIGHT_ROLES, all_directions
from .onnx_ops import OPS, evaluate

F32 = np.float32
ONNX_HINT = "pip install onnx"
ORT_HINT = "pip install onnxruntime"
_STATE_ROLES = ("initial_h", "initial_c")


# --- loading -------------------------------------------------------------------------------
def _read_proto(path: Path) -> tuple[Any, int]:
    try:
        import onnx
    except ImportError:
        raise ModelFileError(f"{path}: opening an ONNX file needs the onnx package: "
                             f"{ONNX_HINT}") from None
    try:
        proto = onnx.load(str(path), load_external_data=False)
        external = _load_external_data(proto, path)
    except ScopeError:
        raise
    except Exception as exc:  # noqa: BLE001 - protobuf raises DecodeError and friends
        raise ModelFileError(f"{path}: not a readable ONNX model ({_first_line(exc)})") from None
    if not proto.graph.node:
        raise ModelFileError(f"{path}: not an ONNX model with a graph (no nodes found)")
    opset = next((o.version for o in proto.opset_import if o.domain in ("", "ai.onnx")), 13)
    return proto, opset, external


def _load_external_data(proto: Any, path: Path) -> list[Path]:
    """Read the tensors stored beside the model (``data_location=EXTERNAL``) once each file
    lies in the model's folder and all of them, with the model, fit the memory budget:
    ``onnx.load`` alone would read any size from wherever a location points
    (docs/architecture.md, "Files in, files out"). Returns the files read."""
    from onnx import external_data_helper as ext
    # the very tensors load_external_data_for_model walks (onnx's walker: initializers and
    # attribute tensors, subgraphs included), so nothing it reads goes uncounted
    tensors = [t for t in ext._get_all_tensors(proto) if ext.uses_external_data(t)]
    if not tensors:
        return []
    need = path.stat().st_size + sum(_external_bytes(t, path) for t in tensors)
    # protobuf holds the bytes read and numpy a copy of every tensor
    check_bytes(2 * need, f"{describe(path)}: the ONNX model with its external data",
                error=ModelFileError)
    files = list(dict.fromkeys(path.parent / ext.ExternalDataInfo(t).location for t in tensors))
    ext.load_external_data_for_model(proto, str(path.parent))
    return files


def _external_bytes(tensor: Any, path: Path) -> int:
    """Bytes onnx will read for one external tensor: its ``length``, else the rest of the file
    from ``offset`` (which is what onnx reads then, whatever the dims say)."""
    from onnx.external_data_helper import ExternalDataInfo
    info = ExternalDataInfo(tensor)
    location = Path(info.location)
    target = path.parent / location
    if location.is_absolute() or ".." in location.parts \
            or not target.resolve().is_relative_to(path.parent.resolve()):
        raise ModelFileError(f"{describe(path)}: tensor '{tensor.name}' is stored in "
                             f"'{info.location}', outside the model's folder; LSTM Scope reads "
                             f"external data only from beside the model")
    try:
        check_readable(target, "tensor data file", ModelFileError)
    except ModelFileError as exc:
        raise ModelFileError(f"{describe(path)}: tensor '{tensor.name}': {exc}") from None
    if info.length is not None:
        return int(info.length)
    return max(target.stat().st_size - int(info.offset or 0), 0)


def load_onnx(path: str | Path) -> OnnxModel:
    path = Path(path)
    proto, opset, external = _read_proto(path)
    model = onnx_from_proto(proto, path, opset)[0]
    model.source_files += [("ONNX external data file", str(p)) for p in external]
    return model


def onnx_from_proto(proto: Any, path: Path, opset: int | None = None) -> tuple[OnnxModel, list]:
    """The engine model of a parsed ONNX model (``path`` names it in messages), and the LSTM
    nodes found (for a capture of this very graph)."""
    from .onnx_gru import build_gru
    from .onnx_lstm import build_lstm
    if opset is None:
        opset = next((o.version for o in proto.opset_import if o.domain in ("", "ai.onnx")), 13)
    graph = proto.graph
    try:
        consts = fold_constants(graph, {}, opset)
        found = find_lstms(graph, consts, opset)
    except ScopeError:
        raise
    except Exception as exc:  # noqa: BLE001
        raise ModelFileError(f"{path}: cannot read the model's weights ({_first_line(exc)})") from None
    if not found:
        raise ModelFileError(_no_lstm_message(path, graph))
    inputs = {i.name: declared_shape(graph, i.name) for i in graph.input if i.name not in consts}
    ops = [build_gru(path, f, inputs) if f.node.op_type in ("GRU", "RNN") else build_lstm(path, f, inputs)
           for f in found]
    model = OnnxModel(ops=list(ops), source=str(path), format="onnx", name=graph.name or path.stem)
    model.setup(path, proto, opset, consts, found, inputs)
    return model, found


def _no_lstm_message(path: Path, graph: Any) -> str:
    kinds = op_types(graph)
    plain = {k.split(" ")[0] for k in kinds}
    cell = ("; Sigmoid and Tanh after Gemm/MatMul look like an LSTM cell written out op by op "
            "(how torch exports nn.LSTMCell), which has no LSTM weights to read: trace the "
            "module itself with engine.from_torch(module, x)"
            if {"Sigmoid", "Tanh"} <= plain and plain & {"Gemm", "MatMul"} else "")
    return (f"{path}: the ONNX graph has no LSTM node, subgraphs included (node types: "
            f"{', '.join(kinds[:16])}{' ...' if len(kinds) > 16 else ''}){cell}")


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return (text.splitlines()[0] if text else type(exc).__name__)[:200]


# --- the model -----------------------------------------------------------------------------
class OnnxModel(Model):
    """A Model whose full run is the ONNX graph: in numpy (native) or in ONNX Runtime."""

    graph_runner: _GraphRunner | None = None
    declared_input: tuple[Any, ...] | None = None
    graph_proto: Any = None

    def setup(self, path: Path, proto: Any, opset: int, consts: dict[str, np.ndarray],
              found: list, inputs: dict[str, tuple | None]) -> None:
        """Decide how the graph runs and say what that means, once, in ``warnings``."""
        graph = proto.graph
        self.graph_proto = graph
        sources = [(role, src) for op in self.ops for role, src in op.sources.items()]  # type: ignore[attr-defined]
        state_inputs = {src[1] for role, src in sources if role in _STATE_ROLES and src[0] == "input"}
        state_inputs |= state_only_inputs(graph, list(inputs))     # e.g. Gather of a `state`
        self.weight_inputs = {src[1] for role, src in sources if role in WEIGHT_ROLES}
        lstm_inputs = {src[1] for _, src in sources if src[0] == "input"}
        primary = next((n for n in inputs if n not in lstm_inputs), None)
        self.primary_input = primary
        self.input_names = [n for n in inputs if n == primary] + [n for n in inputs if n != primary]
        self.optional_inputs = [n for n in self.input_names if n in state_inputs]
        runner = _GraphRunner(graph, consts, opset, self.ops, found, self.input_names, primary)
        runner.source = describe(path)
        dangling = runner.dangling()
        if dangling:
            raise ModelFileError(f"{path}: not a valid ONNX graph: no node makes its output "
                                 f"{', '.join(dangling)}")
        problem = runner.problem()
        if problem is None:
            self.graph_runner = runner
            if primary is not None:
                self.declared_input = declared_shape(graph, primary)
        else:
            self.runtime = _ort_runtime(path, proto, found, self)
        self.warnings += _input_notes(self, problem)
        for op in self.ops:
            if op.initial_h is not None:   # type: ignore[attr-defined]
                axis = 1 if op.layout == 0 else 0   # type: ignore[attr-defined]
                self.batch_size = int(op.initial_h.shape[axis])   # type: ignore[attr-defined]

    # --- inputs ---------------------------------------------------------------------------
    @property
    def multi_input(self) -> bool:
        return len(self.input_names) > 1

    @property
    def input_features(self) -> int | None:
        if self.declared_input is not None and len(self.declared_input) == 3 \
                and self.graph_runner is not None and not self.graph_runner.feeds_lstm_directly:
            last = self.declared_input[-1]
            return int(last) if last else None
        return super().input_features

    def prepare_input(self, x: Any, *, layer_input: int | str | None = None) -> Any:
        """One array: batch first (B, T, D), as for every format. Named arrays (a dict, an
        .npz with several): each exactly as the graph takes it."""
        if layer_input is None and isinstance(x, dict):
            return self._model_input(x)
        return super().prepare_input(x, layer_input=layer_input)

    def _feeds(self, x: Any) -> dict[str, np.ndarray]:
        """Graph inputs by name for the native run; W/R/B from the input bind the weights."""
        x = self.prepare_input(x)
        if not isinstance(x, dict) and self.graph_runner is not None \
                and self.graph_runner.transpose_input:
            x = np.transpose(x, (1, 0, 2))             # batch first -> the LSTM's (T, B, D)
        feeds, notes = match_inputs(self.input_names, self.optional_inputs, x, source=self.source)
        self.warnings += [n for n in notes if n not in self.warnings]    # said once, per run
        missing = [n for n in self.optional_inputs if n not in feeds]
        if missing and self.graph_proto is not None:     # a missing state starts at zero
            feeds.update(zero_inputs(self.graph_proto, missing, feeds))
        self._bind_weights(feeds)
        return feeds

    def _bind_weights(self, feeds: dict[str, np.ndarray]) -> None:
        """LSTM weights given as graph inputs (ONNX's conformance models) come from the input."""
        if not self.weight_inputs:
            return
        missing = sorted(self.weight_inputs - set(feeds))
        if missing:
            raise InputFileError(f"{self.source}: the LSTM weights {', '.join(missing)} are graph "
                                 f"inputs: give them in the input .npz")
        for op in self.ops:
            _rebind(op, feeds, self.source)   # type: ignore[arg-type]
        self._index_layers()

    # --- running --------------------------------------------------------------------------
    def capture(self, x: Any) -> Capture:
        """ONNX Runtime's run; for a quantized LSTM node, one note says how far its int8 output
        is from the float cell traced here, measured on this input (once per run)."""
        captured = super().capture(x)
        if captured.node_outputs and not getattr(captured, "quantized_measured", False):
            captured.notes += self._quantized_notes(captured)
            captured.quantized_measured = True      # type: ignore[attr-defined]
        return captured

    def _quantized_notes(self, captured: Capture) -> list[str]:
        notes = []
        for op in self.ops:
            y = captured.node_outputs.get(op.name)
            if y is None or y.ndim != 4:
                continue
            gaps = []
            for k, (name, _, _) in enumerate(op.traced()):    # type: ignore[attr-defined]
                feed = captured.feeds.get(name)
                if feed is None:
                    continue
                runner = self._feed_runner(self.traced_layers[self.layer_index(name)], feed, {},
                                           prefill=False)
                with np.errstate(over="ignore", invalid="ignore"):
                    runner.run()
                h = runner.to_trace().h
                ours = np.transpose(y[:, k], (1, 0, 2)) if op.layout == 0 else y[:, :, k]  # type: ignore[attr-defined]
                keep = np.ones(h.shape[:2], bool) if feed.mask is None else feed.mask
                gaps.append(np.abs(h.astype(np.float64) - ours)[keep].ravel())
            if gaps:
                gap = np.concatenate(gaps)
                notes.append(f"LSTM node '{op.name}' is a DynamicQuantizeLSTM: its traced values "
                             f"are the float cell's on the dequantized int8 weights; ONNX "
                             f"Runtime's quantized Y differs from them by at most {gap.max():.2g} "
                             f"(mean {gap.mean():.2g}) on this input")
        return notes

    def layer_status(self, info: TracedLayerInfo) -> str:
        if self.graph_runner is not None:
            return "native"
        return super().layer_status(info)

    def trace(self, x: Any, *, initial_state: StateMap | tuple | None = None,
              layer_input: int | str | None = None, reuse=None,
              record: bool = True) -> TraceResult:
        if layer_input is not None or self.graph_runner is None:
            return super().trace(x, initial_state=initial_state, layer_input=layer_input,
                                 reuse=reuse, record=record)
        ctx = RunContext(initial_state=self.state_map(initial_state), reuse=reuse, record=record)
        x_in = self.prepare_input(x)
        with np.errstate(over="ignore", invalid="ignore"):
            outputs = self.graph_runner.run(self._feeds(x), ctx, None)
        return TraceResult(outputs[0], ctx.traces, outputs, ctx.states, model=self, input=x_in)

    def layer_input(self, key: int | str | None, x: Any, *, is_layer_input: bool = False,
                    initial_state: StateMap | tuple | None = None
                    ) -> tuple[np.ndarray, np.ndarray | None]:
        info = self.traced_layers[self.layer_index(key)]
        if self.graph_runner is not None and not is_layer_input:
            feed = self._recorded(info, x)
            return feed.x, feed.mask
        layer_x, mask = super().layer_input(key, x, is_layer_input=is_layer_input)
        op: OnnxLSTM = self.ops[info.op_index]  # type: ignore[assignment]
        if mask is None and op.sequence_lens is not None:
            mask = _lens_mask(op.sequence_lens, layer_x.shape[0], layer_x.shape[1])
        return layer_x, mask

    def _recorded(self, info: TracedLayerInfo, x: Any):
        record: dict[str, Any] = {}
        assert self.graph_runner is not None
        with np.errstate(over="ignore", invalid="ignore"):
            self.graph_runner.run(self._feeds(x), RunContext(record=False), record)   # feeds only
        if info.name not in record:
            raise ScopeError(f"{self.source}: LSTM node of '{info.name}' is not reached when "
                             f"the graph runs")
        return record[info.name]

    def run_args(self, key: int | str | None, x: Any, *, initial_state: StateMap | tuple | None = None,
                 is_layer_input: bool = False) -> dict[str, Any]:
        """As ``Model.run_args``, with the node's own initial_h / initial_c as the default."""
        info = self.traced_layers[self.layer_index(key)]
        states = self.state_map(initial_state)
        if self.graph_runner is not None and not is_layer_input:
            return self._feed_args(info, self._recorded(info, x), states)
        if self.runtime is not None and not is_layer_input:
            return super().run_args(key, x, initial_state=initial_state)
        op: OnnxLSTM = self.ops[info.op_index]  # type: ignore[assignment]
        layer_x, mask = self.layer_input(info.index, x, is_layer_input=is_layer_input)
        h0, c0 = states.get(info.name, (None, None))
        k = [name for name, _, _ in op.traced()].index(info.name)
        if h0 is None and op.initial_h is not None:
            h0 = op.initial_h[:, k] if op.layout == 1 else op.initial_h[k]
        if c0 is None and op.initial_c is not None:
            c0 = op.initial_c[:, k] if op.layout == 1 else op.initial_c[k]
        return {"name": info.name, "weights": info.weights, "x": layer_x,
                "backward": info.direction == "backward", "mask": mask, "h0": h0, "c0": c0}


def _rebind(op: OnnxLSTM, feeds: dict[str, np.ndarray], source: str) -> None:
    """New weights for ``op`` from the W/R/B/P given as graph inputs (stored ones stay)."""
    given = {role: np.asarray(feeds[src[1]], F32) for role, src in op.sources.items()
             if role in WEIGHT_ROLES and src[0] == "input"}
    if not given:
        return
    w, r, b, p = (given.get(role, op.stored.get(role)) for role in WEIGHT_ROLES)

    def bad(msg: str) -> InputFileError:
        return InputFileError(f"{source}: LSTM node '{op.name}': {msg}")
    op.directions = all_directions(w, r, b, p, op.attrs, bad)


def _lens_mask(lens: np.ndarray, b: int, t: int) -> np.ndarray | None:
    lens = np.asarray(lens, np.int64).reshape(-1)
    if lens.shape[0] != b:
        raise InputFileError(f"sequence_lens has {lens.shape[0]} entries for a batch of {b}")
    mask = np.arange(t)[None, :] < lens[:, None]
    return None if mask.all() else mask


def _input_notes(model: OnnxModel, problem: str | None) -> list[str]:
    """What a user must know about this graph's inputs and how it runs (one line each)."""
    notes = []
    if problem is not None:
        notes.append(f"the graph has nodes LSTM Scope does not compute ({problem}): ONNX Runtime "
                     f"runs it and each LSTM's input is captured ({ORT_HINT} if missing); "
                     f"--layer-input traces one LSTM on its own input instead")
    for op in model.ops:
        sources = op.sources   # type: ignore[attr-defined]
        fed = [f"{role} ('{tensor}')" for role, (kind, tensor) in sources.items() if kind == "input"]
        if fed:
            zero = " (a missing initial state starts at zero)" if any(
                role in _STATE_ROLES for role, (kind, _) in sources.items() if kind == "input") else ""
            notes.append(f"LSTM node '{op.name}': {', '.join(fed)} are graph inputs, read by name "
                         f"from the input .npz{zero}")
        computed = [role for role, (kind, _) in sources.items() if kind == "computed"]
        if computed and problem is not None:
            notes.append(f"LSTM node '{op.name}': {', '.join(computed)} are computed by the graph "
                         f"and captured from ONNX Runtime (with --layer-input: zero state, full "
                         f"length)")
    return notes


def _ort_runtime(path: Path, proto: Any, found: list, model: OnnxModel) -> Runtime:
    def make():
        from ..capture.onnx_capture import OrtCapture
        return OrtCapture(proto, found, model.ops, path)
    return Runtime("onnxruntime", ORT_HINT, make)


# --- the graph in numpy (native) ------------------------------------------------------------
class _GraphRunner:
    """Runs a graph of ``OPS`` and LSTM nodes (no subgraphs) in numpy."""

    source = "the ONNX graph"       # the model file, as messages name it

    def __init__(self, graph: Any, consts: dict[str, np.ndarray], opset: int, ops: list,
                 found: list, inputs: list[str], primary: str | None) -> None:
        from .onnx_graph import node_attrs
        self.opset, self.consts, self.inputs, self.primary_input = opset, consts, inputs, primary
        self.nodes = list(graph.node)
        self.attrs = [node_attrs(n) for n in self.nodes]
        self.lstm_ops = {id(f.node): op for f, op in zip(found, ops)}
        self.nested = [f.name for f in found if f.nested]
        self.outputs = [o.name for o in graph.output]
        lstm_x = [n for n in self.nodes if is_recurrent_op(n) and n.input[0] == primary]
        self.feeds_lstm_directly = bool(lstm_x)
        self.transpose_input = any(int(a.get("layout", 0)) == 0 for n, a in zip(self.nodes, self.attrs)
                                   if n in lstm_x)

    def problem(self) -> str | None:
        unknown = sorted({n.op_type for n in self.nodes if not is_onnx_op(n, "Constant")
                          and not is_lstm_node(n)
                          and (n.op_type not in OPS or n.domain not in ("", "ai.onnx"))})
        quantized = any(is_quantized_lstm(n) for n in self.nodes)
        if unknown:
            return "ops " + ", ".join(unknown) + (" and quantized LSTM nodes" if quantized else "")
        if quantized:             # its own output is int8 arithmetic; the trace is the float cell
            return "quantized LSTM nodes, whose int8 arithmetic only ONNX Runtime computes"
        if self.primary_input is None:
            return "no graph input"
        return None

    def dangling(self) -> list[str]:
        """Graph outputs that no node, constant or input makes (no runtime can run that)."""
        made = {o for n in self.nodes for o in n.output} | set(self.consts) | set(self.inputs)
        return [o for o in self.outputs if o not in made]

    def run(self, feeds: dict[str, np.ndarray], ctx: RunContext, record: dict | None) -> list[np.ndarray]:
        env: dict[str, Any] = dict(self.consts)
        env.update(feeds)
        for node, attrs in zip(self.nodes, self.attrs):
            if is_onnx_op(node, "Constant"):
                continue
            ins = [env.get(name) if name else None for name in node.input]
            outs = (self._lstm(node, ins, ctx, record) if is_recurrent_op(node)
                    else self._op(node, ins, attrs))
            for name, value in zip(node.output, outs):
                if name:
                    env[name] = value
        return [np.asarray(env[name]) for name in self.outputs]

    def _lstm(self, node: Any, ins: list[Any], ctx: RunContext, record: dict | None):
        op = self.lstm_ops[id(node)]
        ins = ins + [None] * (8 - len(ins))
        if ins[0] is None:       # a graph no writer makes: X named by nothing
            raise ModelFileError(f"{self.source}: LSTM node '{node.name}' reads '{node.input[0]}', "
                                 f"which no graph input, constant or node makes")
        given = {role: ins[k] for k, role in ((4, "sequence_lens"), (5, "initial_h"), (6, "initial_c"))
                 if role in op.sources}
        return op.run_node(ins[0], ctx, sequence_lens=given.get("sequence_lens"),
                           initial_h=given.get("initial_h"), initial_c=given.get("initial_c"),
                           record_input=record)

    def _op(self, node: Any, ins: list[Any], attrs: dict[str, Any]) -> list[Any]:
        try:
            return evaluate(node.op_type, ins, attrs, self.opset)
        except BudgetError as exc:      # the model's declared shapes, applied to this input
            raise type(exc)(f"{self.source}: node '{node.name}' ({node.op_type}): {exc}") from None
        except ScopeError:
            raise
        except Exception as exc:  # noqa: BLE001 - shapes the user's input cannot fit
            raise InputFileError(f"the ONNX graph failed at node '{node.name}' "
                                 f"({node.op_type}): {_first_line(exc)}") from None
