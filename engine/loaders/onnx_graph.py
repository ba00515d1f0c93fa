"""Reading an ONNX graph: attributes, constants (folded through shape ops), and LSTM nodes at
any subgraph depth (``If`` branches, ``Loop``/``Scan`` bodies), each named by where it sits.

A nested node is named ``PARENT/BRANCH/NODE`` (``If_0/then/lstm``), the parent being the node
that owns the subgraph; a top-level node keeps its own name (see docs/architecture.md, "ONNX").
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ..errors import ModelFileError
from ..system.budget import BudgetError
from .onnx_ops import FOLDABLE, evaluate

F32 = np.float32
ONNX_DOMAINS = ("", "ai.onnx")
_BRANCH_LABELS = {"then_branch": "then", "else_branch": "else", "body": "body"}


def node_attrs(node: Any) -> dict[str, Any]:
    """A node's attributes as Python values (bytes decoded)."""
    from onnx import helper
    out = {}
    for attr in node.attribute:
        value = helper.get_attribute_value(attr)
        if isinstance(value, bytes):
            value = value.decode()
        elif isinstance(value, list):
            value = [v.decode() if isinstance(v, bytes) else v for v in value]
        out[attr.name] = value
    return out


def constant_value(node: Any) -> np.ndarray:
    """The tensor a ``Constant`` node produces."""
    from onnx import helper, numpy_helper
    for attr in node.attribute:
        value = helper.get_attribute_value(attr)
        if attr.name == "value":
            return numpy_helper.to_array(value)
        if attr.name in ("value_float", "value_int"):
            return np.array(value, F32 if attr.name == "value_float" else np.int64)
        if attr.name in ("value_floats", "value_ints"):
            return np.array(list(value), F32 if attr.name == "value_floats" else np.int64)
    raise ModelFileError(f"Constant node '{node.name}' has no value this loader reads")


def subgraphs(node: Any) -> list[tuple[str, Any]]:
    """(label, graph) for each graph attribute of a control-flow node, ``then`` before
    ``else`` whatever order the file stores them in."""
    from onnx import AttributeProto
    found = [(_BRANCH_LABELS.get(a.name, a.name), a.g) for a in node.attribute
             if a.type == AttributeProto.GRAPH]
    order = list(_BRANCH_LABELS.values())
    return sorted(found, key=lambda item: order.index(item[0]) if item[0] in order else len(order))


def is_onnx_op(node: Any, op_type: str) -> bool:
    return node.op_type == op_type and node.domain in ONNX_DOMAINS


QUANTIZED_LSTM = ("DynamicQuantizeLSTM", "com.microsoft")


def is_quantized_lstm(node: Any) -> bool:
    """ONNX Runtime's ``DynamicQuantizeLSTM`` (what its ``quantize_dynamic`` makes of an LSTM)."""
    return (node.op_type, node.domain) == QUANTIZED_LSTM


RECURRENT_OPS = ("LSTM", "GRU", "RNN")
"""The ONNX recurrent nodes the engine steps (a GRU's and an RNN's: ``onnx_gru``)."""


def is_recurrent_op(node: Any) -> bool:
    """An ONNX ``LSTM``, ``GRU`` or ``RNN`` node (the float ones the engine runs natively)."""
    return node.op_type in RECURRENT_OPS and node.domain in ONNX_DOMAINS


def is_lstm_node(node: Any) -> bool:
    """A node the engine traces: an ONNX ``LSTM``, ``GRU`` or ``RNN`` node, or the int8 form
    of an LSTM, ``com.microsoft.DynamicQuantizeLSTM``."""
    return is_recurrent_op(node) or is_quantized_lstm(node)


def fold_constants(graph: Any, outer: dict[str, np.ndarray], opset: int) -> dict[str, np.ndarray]:
    """Every value of ``graph`` known without an input: initializers, Constant nodes and the
    outputs of foldable ops (Slice, Concat, Unsqueeze ...) whose inputs are all known. Nodes
    are in topological order (an ONNX requirement), so one pass suffices."""
    from onnx import numpy_helper
    consts = dict(outer)
    for init in graph.initializer:
        consts[init.name] = numpy_helper.to_array(init)
    for node in graph.node:
        if is_onnx_op(node, "Constant"):
            consts[node.output[0]] = constant_value(node)
        elif node.op_type in FOLDABLE and node.domain in ONNX_DOMAINS and node.input \
                and all(not name or name in consts for name in node.input):
            _fold(node, consts, opset)
    return consts


def _fold(node: Any, consts: dict[str, np.ndarray], opset: int) -> None:
    ins = [consts[name] if name else None for name in node.input]
    try:
        outs = evaluate(node.op_type, ins, node_attrs(node), opset)
    except BudgetError as exc:      # over the budget now is over it at run time too
        raise type(exc)(f"node '{node.name}' ({node.op_type}): {exc}") from None
    except Exception:  # noqa: BLE001 - an unfoldable node stays a computed value
        return
    for name, value in zip(node.output, outs):
        if name:
            consts[name] = np.asarray(value)


@dataclass
class FoundLSTM:
    """One LSTM node: its traced name prefix, the node, and the constants in its scope."""

    name: str
    node: Any
    consts: dict[str, np.ndarray]
    path: list[tuple[str, str]] = field(default_factory=list)   # (owner node name, branch)

    @property
    def nested(self) -> bool:
        return bool(self.path)

    @property
    def quantized(self) -> bool:
        return is_quantized_lstm(self.node)


def find_lstms(graph: Any, consts: dict[str, np.ndarray], opset: int, prefix: str = "",
               path: list[tuple[str, str]] | None = None) -> list[FoundLSTM]:
    """LSTM nodes of ``graph`` and of every subgraph below it, in graph order."""
    found: list[FoundLSTM] = []
    path = path or []
    seen: set[str] = set()
    for k, node in enumerate(graph.node):
        own = node.name or f"{node.op_type}_{k}"
        if own in seen:
            own = f"{own}_{k}"
        seen.add(own)
        if is_lstm_node(node):
            found.append(FoundLSTM(_join(prefix, own), node, consts, list(path)))
        for label, sub in subgraphs(node):
            owner = _join(prefix, own)
            inner = fold_constants(sub, consts, opset)
            found += find_lstms(sub, inner, opset, f"{owner.strip('/')}/{label}",
                                path + [(own, label)])
    return found


def _join(prefix: str, name: str) -> str:
    return f"{prefix}/{name.strip('/')}" if prefix else name


def op_types(graph: Any) -> list[str]:
    """Every op type in the graph and its subgraphs (sorted, subgraph ones marked)."""
    kinds: set[str] = set()

    def walk(g: Any, inside: bool) -> None:
        for node in g.node:
            kinds.add(f"{node.op_type} (in a subgraph)" if inside else node.op_type)
            for _, sub in subgraphs(node):
                walk(sub, True)
    walk(graph, False)
    return sorted(kinds)


def declared_shape(graph: Any, name: str) -> tuple[int | None, ...] | None:
    """A graph input's declared dims (None where symbolic), or None when it has no shape."""
    for value in graph.input:
        if value.name == name and value.type.HasField("tensor_type") \
                and value.type.tensor_type.HasField("shape"):
            return tuple(d.dim_value if d.HasField("dim_value") else None
                         for d in value.type.tensor_type.shape.dim)
    return None


def _used_names(graph: Any) -> set[str]:
    """Every value name the nodes of ``graph`` and of its subgraphs read."""
    names: set[str] = set()
    for node in graph.node:
        names.update(n for n in node.input if n)
        for _, sub in subgraphs(node):
            names |= _used_names(sub)
    return names


def state_only_inputs(graph: Any, names: list[str]) -> set[str]:
    """Graph inputs that reach nothing but LSTM ``initial_h`` / ``initial_c`` inputs, directly or
    through other ops (a ``state`` input split by ``Gather`` + ``Unsqueeze``, as PyTorch exports
    write it): a missing one is a zero state. Whatever reaches an LSTM's other inputs, a graph
    output other than through an LSTM, or a subgraph, is not."""
    producer = {out: node for node in graph.node for out in node.output if out}
    inputs = set(names)

    def reach(value: str, seen: set[str]) -> set[str]:
        found: set[str] = set()
        stack = [value]
        while stack:
            name = stack.pop()
            if name in seen:
                continue
            seen.add(name)
            if name in inputs:
                found.add(name)
            node = producer.get(name)
            if node is None or is_lstm_node(node):
                continue                      # an LSTM's output does not pass its state on
            stack.extend(n for n in node.input if n)
            for _, sub in subgraphs(node):
                stack.extend(_used_names(sub))
        return found
    state: set[str] = set()
    other: set[str] = set()
    for node in graph.node:
        if is_lstm_node(node):
            for k, name in enumerate(node.input):
                if name:
                    (state if k in (5, 6) else other).update(reach(name, set()))
        elif subgraphs(node):
            inner = [n for _, sub in subgraphs(node) for n in _used_names(sub)]
            for name in [*node.input, *inner]:
                if name:
                    other.update(reach(name, set()))
    for out in graph.output:
        other.update(reach(out.name, set()))
    return state - other


def zero_inputs(graph: Any, missing: list[str], given: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """Zeros for the ``missing`` graph inputs whose declared shape is known, their symbolic
    dims read off the ``given`` inputs (the batch of ``x`` is the batch of ``state``)."""
    from onnx import helper
    infos = {i.name: i for i in graph.input}
    sizes: dict[str, int] = {}
    for name, arr in given.items():
        info = infos.get(name)
        if info is not None and info.type.HasField("tensor_type"):
            for dim, size in zip(info.type.tensor_type.shape.dim, np.shape(arr)):
                if dim.dim_param:
                    sizes[dim.dim_param] = int(size)
    out = {}
    for name in missing:
        info = infos.get(name)
        if info is None or not info.type.HasField("tensor_type") \
                or not info.type.tensor_type.HasField("shape"):
            continue
        shape = [d.dim_value if d.HasField("dim_value") else sizes.get(d.dim_param)
                 for d in info.type.tensor_type.shape.dim]
        if any(size is None for size in shape):
            continue
        out[name] = np.zeros(shape, helper.tensor_dtype_to_np_dtype(info.type.tensor_type.elem_type))
    return out
