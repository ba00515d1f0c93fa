"""Capture from ONNX Runtime: the graph, with each LSTM node's inputs added as outputs, runs once.

An LSTM inside an ``If`` branch is reached through its owner: the branch outputs the value (an
``Identity``), the other branch an empty tensor of the same type, and the ``If`` node gets one
more output, up to the top graph. An empty capture means the branch was not taken for this
input. LSTMs inside ``Loop``/``Scan`` bodies run once per iteration and are traced with
``--layer-input`` (see docs/architecture.md, "Capture").
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
        self.n_outputs = len(graph.output)
        self.graph_inputs = {i.name: i for i in graph.input}
        self.unsupported: dict[str, str] = {}
        self._ids = count()
        targets = self._targets()
        exposed = self._expose(graph, targets, top=True)
        self.output_of: dict[tuple[int, str], str] = {}
        from onnx import helper
        for target in targets:
            name = exposed.get(id(target))
            if name is None:
                continue
            if target.path or name not in self.graph_inputs:
                graph.output.append(helper.make_tensor_value_info(name, target.elem, None))
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
            kinds = [label for _, label in found.path if label not in ("then", "else")]
            if kinds:
                self.unsupported[found.name] = (f"the LSTM '{found.name}' runs inside a "
                                                f"{'/'.join(kinds)} subgraph, once per iteration")
                continue
            w = op.stored.get("W")
            elem = TensorProto.DOUBLE if w is not None and w.dtype == np.float64 else TensorProto.FLOAT
            for role in CAPTURED_ROLES:
                value = op.node_inputs.get(role, "")
                if not value or value in found.consts:
                    continue
                kind = TensorProto.INT32 if role == "sequence_lens" else elem
                targets.append(_Target(j, role, list(found.path), value, kind))
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
            out.update(self._through_if(node, group))
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
        for j, op in enumerate(self.ops):
            if self.found[j].name in self.unsupported:
                continue
            layer_feeds.update(self._layer_feeds(j, op, got))
        refused = {name: reason for j, op in enumerate(self.ops)
                   if (reason := self.unsupported.get(self.found[j].name)) is not None
                   for name, _, _ in op.traced()}
        return Capture([np.asarray(v) for v in values[:self.n_outputs]], layer_feeds, seconds,
                       refused=refused)

    def _layer_feeds(self, j: int, op: Any, got: dict[str, np.ndarray]) -> dict[str, LayerFeed]:
        def value(role: str) -> np.ndarray | None:
            name = self.output_of.get((j, role))
            return None if name is None else np.asarray(got[name])
        x = value("X")
        if x is None or x.size == 0:
            return {}                                   # a branch not taken for this input
        xb = np.asarray(x if op.layout == 1 else np.transpose(x, (1, 0, 2)), F32)
        lens = value("sequence_lens")
        lens = op.sequence_lens if lens is None else lens
        mask = None
        if lens is not None:
            mask = np.arange(xb.shape[1])[None, :] < np.asarray(lens, np.int64).reshape(-1)[:, None]
            mask = None if mask.all() else mask
        h_all = value("initial_h")
        c_all = value("initial_c")
        h_all = op.initial_h if h_all is None else h_all
        c_all = op.initial_c if c_all is None else c_all
        feeds = {}
        for k, (name, _, _) in enumerate(op.traced()):
            feeds[name] = LayerFeed(xb, mask, _direction(h_all, k, op.layout),
                                    _direction(c_all, k, op.layout))
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


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return (text.splitlines()[0] if text else type(exc).__name__)[:200]
