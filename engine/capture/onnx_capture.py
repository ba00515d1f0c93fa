"""Capture from ONNX Runtime: the graph, with each LSTM node's inputs added as outputs, runs once.

An LSTM inside a subgraph is reached through the node that owns it, level by level up to the
top graph. Inside an ``If`` branch the branch outputs the value (an ``Identity``), the other
branch an empty tensor of the same type, and the ``If`` node gets one more output: an empty
capture means the branch was not taken for this input. Inside a ``Loop`` or ``Scan`` body the
value becomes one more *scan output*, which the runtime stacks over the iterations: each
iteration is one run of the LSTM, and the traced layer holds the runs as samples, run-major
(sample = run * B + b), each with the initial state it was given (see docs/architecture.md,
"Capture").
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from itertools import count
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import InputFileError, ScopeError
from .feed import Capture, LayerFeed

F32 = np.float32
CAPTURED_ROLES = ("X", "sequence_lens", "initial_h", "initial_c")


@dataclass
class _Target:
    lstm: int            # index into the found LSTMs
    role: str
    path: list[tuple[str, str]]
    value: str
    elem: int


def _node_names(graph: Any) -> list[str]:
    """The names ``onnx_graph.find_lstms`` gives a graph's nodes (same rule, same order)."""
    names, seen = [], set()
    for k, node in enumerate(graph.node):
        own = node.name or f"{node.op_type}_{k}"
        if own in seen:
            own = f"{own}_{k}"
        seen.add(own)
        names.append(own)
    return names


class OrtCapture:
    """One ONNX Runtime session on the rewritten graph; ``run`` is one forward pass."""

    def __init__(self, proto: Any, found: list, ops: list, path: Path) -> None:
        import onnxruntime as ort
        from onnx import ModelProto
        self.path, self.found, self.ops = path, found, ops
        model = ModelProto()
        model.CopyFrom(proto)
        graph = model.graph
        self.graph = proto.graph
        self.n_outputs = len(graph.output)
        self.graph_inputs = {i.name: i for i in graph.input}
        self.unsupported: dict[str, str] = {}
        self._ids = count()
        targets = self._targets()
        exposed = self._expose(graph, targets, top=True)
        self.output_of: dict[tuple[int, str], str] = {}
        from onnx import helper
        outputs = {o.name for o in graph.output}
        for target in targets:
            name = exposed.get(id(target))
            if name is None:
                continue
            if (target.path or name not in self.graph_inputs) and name not in outputs:
                graph.output.append(helper.make_tensor_value_info(name, target.elem, None))
                outputs.add(name)
            self.output_of[(target.lstm, target.role)] = name
        options = ort.SessionOptions()
        options.log_severity_level = 3
        try:
            self.session = ort.InferenceSession(model.SerializeToString(), options,
                                                providers=["CPUExecutionProvider"])
        except Exception as exc:  # noqa: BLE001 - ORT raises its own error types
            raise ScopeError(f"{path}: ONNX Runtime cannot load this graph "
                             f"({_first_line(exc)})") from None
        self.fetch = [o.name for o in self.session.get_outputs()]

    # --- rewriting the graph ------------------------------------------------------------------
    def _targets(self) -> list[_Target]:
        from onnx import TensorProto
        targets = []
        for j, (found, op) in enumerate(zip(self.found, self.ops)):
            odd = [f"{kind} '{owner}'" for owner, kind in _owners(self.graph, found.path)
                   if kind not in _CONTROL_FLOW]
            if odd:
                self.unsupported[found.name] = (f"the LSTM '{found.name}' sits in a subgraph of "
                                                f"{', '.join(odd)}, which cannot pass it out")
                continue
            w = op.stored.get("W")
            elem = TensorProto.DOUBLE if w is not None and w.dtype == np.float64 else TensorProto.FLOAT
            for role in CAPTURED_ROLES:
                value = op.node_inputs.get(role, "")
                if not value or value in found.consts:
                    continue
                kind = TensorProto.INT32 if role == "sequence_lens" else elem
                targets.append(_Target(j, role, list(found.path), value, kind))
            if found.quantized and not found.path and found.node.output and found.node.output[0]:
                targets.append(_Target(j, "Y", [], found.node.output[0], elem))   # int8 result
        return targets

    def _fresh(self, stem: str) -> str:
        return f"lstm_scope_capture_{next(self._ids)}_{stem}"

    def _expose(self, graph: Any, targets: list[_Target], top: bool) -> dict[int, str]:
        """id(target) -> a value name of ``graph`` holding the target's tensor."""
        from onnx import helper
        out: dict[int, str] = {}
        for target in targets:
            if target.path:
                continue
            if top:
                out[id(target)] = target.value
            else:                        # a branch output must be produced in the branch
                name = self._fresh("x")
                graph.node.append(helper.make_node("Identity", [target.value], [name]))
                out[id(target)] = name
        nested = [t for t in targets if t.path]
        names = _node_names(graph)
        for owner in dict.fromkeys(t.path[0][0] for t in nested):
            group = [t for t in nested if t.path[0][0] == owner]
            node = graph.node[names.index(owner)]
            if node.op_type == "If":
                out.update(self._through_if(node, group))
            else:
                out.update(self._through_body(node, group))
        return out

    def _through_body(self, node: Any, group: list[_Target]) -> dict[int, str]:
        """Each target as one more scan output of a ``Loop``/``Scan`` body (stacked over the
        iterations by the runtime), and one more output of the node."""
        from onnx import helper
        body = next(a.g for a in node.attribute if a.name == "body")
        inner = [_Target(t.lstm, t.role, t.path[1:], t.value, t.elem) for t in group]
        made = self._expose(body, inner, top=False)
        carried = 1 if node.op_type == "Loop" else 0         # a Loop body's first output: cond
        while len(node.output) < len(body.output) - carried:
            node.output.append("")                        # scan outputs the file leaves unnamed
        out = {}
        for target, mine in zip(group, inner):
            body.output.append(helper.make_tensor_value_info(made[id(mine)], target.elem, None))
            outer = self._fresh("scan")
            node.output.append(outer)
            out[id(target)] = outer
        if node.op_type == "Scan":
            for attr in node.attribute:
                if attr.name in ("scan_output_axes", "scan_output_directions"):
                    attr.ints.extend([0] * len(group))
        return out

    def _through_if(self, node: Any, group: list[_Target]) -> dict[int, str]:
        from onnx import helper
        branches = {a.name: a.g for a in node.attribute if a.name in ("then_branch", "else_branch")}
        inner = {label: [_Target(t.lstm, t.role, t.path[1:], t.value, t.elem) for t in group
                         if t.path[0][1] == label] for label in ("then", "else")}
        made = {label: self._expose(branches[f"{label}_branch"], inner[label], top=False)
                for label in ("then", "else")}
        out = {}
        for target in group:
            label = target.path[0][1]
            mine = next(t for t in inner[label] if t.value == target.value and t.role == target.role
                        and t.lstm == target.lstm)
            for side in ("then", "else"):
                branch = branches[f"{side}_branch"]
                name = made[side][id(mine)] if side == label else self._empty(branch, target.elem)
                branch.output.append(helper.make_tensor_value_info(name, target.elem, None))
            outer = self._fresh("if")
            node.output.append(outer)
            out[id(target)] = outer
        return out

    def _empty(self, graph: Any, elem: int) -> str:
        from onnx import helper
        name = self._fresh("empty")
        graph.node.append(helper.make_node(
            "Constant", [], [name], value=helper.make_tensor(name + "_v", elem, [0], [])))
        return name

    # --- running ------------------------------------------------------------------------------
    def run(self, inputs: dict[str, np.ndarray]) -> Capture:
        feeds = self._fill_missing(inputs)
        start = time.perf_counter()
        try:
            values = self.session.run(self.fetch, feeds)
        except Exception as exc:  # noqa: BLE001 - the user's input does not fit the graph
            raise InputFileError(f"{self.path}: ONNX Runtime cannot run the model on this input "
                                 f"({_first_line(exc)})") from None
        seconds = time.perf_counter() - start
        got = dict(zip(self.fetch, values))
        got.update({k: v for k, v in feeds.items() if k not in got})
        layer_feeds: dict[str, LayerFeed] = {}
        notes: list[str] = []
        for j, op in enumerate(self.ops):
            if self.found[j].name in self.unsupported:
                continue
            layer_feeds.update(self._layer_feeds(j, op, got, notes))
        refused = {name: reason for j, op in enumerate(self.ops)
                   if (reason := self.unsupported.get(self.found[j].name)) is not None
                   for name, _, _ in op.traced()}
        node_outputs = {found.name: np.asarray(got[self.output_of[(j, "Y")]])
                        for j, found in enumerate(self.found) if (j, "Y") in self.output_of}
        return Capture([np.asarray(v) for v in values[:self.n_outputs]], layer_feeds, seconds,
                       notes=notes, refused=refused, node_outputs=node_outputs)

    def _layer_feeds(self, j: int, op: Any, got: dict[str, np.ndarray],
                     notes: list[str]) -> dict[str, LayerFeed]:
        """Feeds of node ``j``'s directions; inside ``Loop``/``Scan`` bodies, one run per
        iteration, the runs stacked as samples (run-major)."""
        depth = sum(1 for _, label in self.found[j].path if label == "body")

        def runs(role: str, fixed: np.ndarray | None) -> list[np.ndarray | None] | None:
            name = self.output_of.get((j, role))
            if name is None:
                return None if fixed is None else [fixed] * n_runs
            arr = np.asarray(got[name])
            return list(arr.reshape((-1, *arr.shape[depth:]))) if depth else [arr]
        name = self.output_of.get((j, "X"))
        x = None if name is None else np.asarray(got[name])
        if x is None or x.size == 0:
            return {}                                   # a branch not taken, or no iteration
        n_runs = int(np.prod(x.shape[:depth])) if depth else 1
        xs = [np.asarray(r if op.layout == 1 else np.transpose(r, (1, 0, 2)), F32)
              for r in (x.reshape((-1, *x.shape[depth:])) if depth else [x])]
        lens = runs("sequence_lens", op.sequence_lens)
        masks = []
        for k, xb in enumerate(xs):
            t = xb.shape[1]
            masks.append(np.ones(xb.shape[:2], bool) if lens is None else
                         np.arange(t)[None, :] < np.asarray(lens[k], np.int64).reshape(-1)[:, None])
        mask = np.concatenate(masks)
        h_runs, c_runs = runs("initial_h", op.initial_h), runs("initial_c", op.initial_c)
        traced = op.traced()
        if depth:
            owners = " in ".join(f"{kind} '{owner}'" for owner, kind in
                                 reversed(_owners(self.graph, self.found[j].path)))
            notes.append(f"the LSTM node '{self.found[j].name}' ran {n_runs} time(s) inside "
                         f"{owners}: its traced layers hold the runs as samples, run-major "
                         f"(sample = run * {xs[0].shape[0]} + b)")
        feeds = {}
        for k, (layer, _, _) in enumerate(traced):
            feeds[layer] = LayerFeed(np.concatenate(xs), None if mask.all() else mask,
                                     _stacked(h_runs, k, op.layout), _stacked(c_runs, k, op.layout))
        return feeds

    def _fill_missing(self, inputs: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        """Missing state inputs start at zero, their symbolic dims read off the given inputs."""
        from onnx import helper
        feeds = {}
        sizes: dict[str, int] = {}
        for name, arr in inputs.items():
            info = self.graph_inputs.get(name)
            dtype = helper.tensor_dtype_to_np_dtype(info.type.tensor_type.elem_type) if info else None
            feeds[name] = np.asarray(arr, dtype) if dtype is not None else np.asarray(arr)
            if info is not None:
                for dim, size in zip(info.type.tensor_type.shape.dim, np.shape(arr)):
                    if dim.dim_param:
                        sizes[dim.dim_param] = int(size)
        for name, info in self.graph_inputs.items():
            if name in feeds or name in self.found[0].consts:
                continue
            shape = []
            for dim in info.type.tensor_type.shape.dim:
                size = dim.dim_value if dim.HasField("dim_value") else sizes.get(dim.dim_param)
                if size is None:
                    raise InputFileError(f"{self.path}: give the graph input '{name}' in the input "
                                         f".npz (its shape is not known from the other inputs)")
                shape.append(size)
            dtype = helper.tensor_dtype_to_np_dtype(info.type.tensor_type.elem_type)
            feeds[name] = np.zeros(shape, dtype)
        return feeds


def _direction(arr: np.ndarray | None, k: int, layout: int) -> np.ndarray | None:
    if arr is None:
        return None
    arr = np.asarray(arr, F32)
    return arr[:, k] if layout == 1 else arr[k]


def _stacked(runs: list[np.ndarray | None] | None, k: int, layout: int) -> np.ndarray | None:
    """Direction ``k``'s state of every run, stacked on the batch axis (None: all zero)."""
    if runs is None:
        return None
    return np.concatenate([_direction(r, k, layout) for r in runs])


_CONTROL_FLOW = ("If", "Loop", "Scan")


def _owners(graph: Any, path: list[tuple[str, str]]) -> list[tuple[str, str]]:
    """(owner name, op type) along a found LSTM's subgraph path, outermost first."""
    out = []
    for owner, label in path:
        node = graph.node[_node_names(graph).index(owner)]
        out.append((owner, node.op_type))
        graph = next(a.g for a in node.attribute
                     if a.name in (f"{label}_branch", label) and a.HasField("g"))
    return out


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return (text.splitlines()[0] if text else type(exc).__name__)[:200]
