"""The ONNX tensor ops LSTM Scope computes in numpy, one small function per op in one table.

Used twice: to fold constant subgraphs feeding an LSTM's W/R/B/P/initial state at load
(``FOLDABLE``), and to run the graph around LSTM nodes so that ``output`` is the graph's own
output (every op in ``OPS``). Each function takes ``(inputs, attributes, opset)`` and returns
the node's outputs; an op missing here makes the graph one LSTM Scope cannot run itself
(see docs/architecture.md, "ONNX").
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from ..system.budget import array_bytes, check_bytes

F32 = np.float32
OpFn = Callable[[list[Any], dict[str, Any], int], list[Any]]


def _axes(ins: list[Any], attrs: dict[str, Any], opset: int, since: int) -> list[int] | None:
    """``axes`` moved from an attribute to the second input at opset ``since``."""
    if opset >= since:
        return None if len(ins) < 2 or ins[1] is None else [int(a) for a in ins[1]]
    axes = attrs.get("axes")
    return None if axes is None else [int(a) for a in axes]


def budgeted_shape(shape: Any, dtype: Any, op: str) -> tuple[int, ...]:
    """``shape`` as ints once an array of it fits the memory budget: a shape input of a few
    bytes can declare a huge output, so it is checked before numpy allocates it
    (docs/architecture.md, "Files in, files out")."""
    dims = tuple(int(v) for v in np.asarray(shape).reshape(-1))
    shown = ", ".join(map(str, dims[:8])) + (", ..." if len(dims) > 8 else "")
    check_bytes(array_bytes(dims, np.dtype(dtype).itemsize), f"the {op} output of shape ({shown})")
    return dims


def _axis(axis: int, ndim: int) -> int:
    """``axis`` counted from the front, or numpy's own AxisError."""
    if not -ndim <= axis < ndim:
        raise np.exceptions.AxisError(axis, ndim)
    return axis % ndim


def _matmul_shape(a: tuple[int, ...], b: tuple[int, ...]) -> tuple[int, ...]:
    """np.matmul's output shape, known before it allocates: batch axes broadcast, a 1-D
    operand gains and then loses a unit axis; ValueError where numpy would refuse them."""
    if not a or not b or a[-1] != (b[-2] if len(b) > 1 else b[0]):
        raise ValueError(f"operands of shapes {a} and {b} do not multiply")
    return np.broadcast_shapes(a[:-2], b[:-2]) + a[-2:-1] + (b[-1:] if len(b) > 1 else ())


def _identity(ins, attrs, opset):
    return [ins[0]]


def _transpose(ins, attrs, opset):
    return [np.transpose(ins[0], attrs.get("perm"))]


def _squeeze(ins, attrs, opset):
    axes = _axes(ins, attrs, opset, 13)
    return [np.squeeze(ins[0]) if axes is None else np.squeeze(ins[0], axis=tuple(axes))]


def _unsqueeze(ins, attrs, opset):
    out = ins[0]
    axes = _axes(ins, attrs, opset, 13) or []
    rank = np.ndim(out) + len(axes)
    for ax in sorted(a % rank for a in axes):
        out = np.expand_dims(out, ax)
    return [out]


def _reshape(ins, attrs, opset):
    a, shape = ins[0], [int(s) for s in ins[1]]
    if not attrs.get("allowzero", 0):
        shape = [a.shape[k] if s == 0 else s for k, s in enumerate(shape)]
    return [np.reshape(a, shape)]


def _concat(ins, attrs, opset):
    vals = [np.asarray(v) for v in ins if v is not None]
    axis = int(attrs["axis"])
    if len({v.ndim for v in vals}) == 1:    # else numpy refuses them before allocating
        # one value named n times is n copies (docs/architecture.md, "Files in, files out")
        k = _axis(axis, vals[0].ndim)
        shape = vals[0].shape[:k] + (sum(v.shape[k] for v in vals),) + vals[0].shape[k + 1:]
        budgeted_shape(shape, np.result_type(*{v.dtype for v in vals}), "Concat")
    return [np.concatenate(vals, axis=axis)]


def _shape(ins, attrs, opset):
    shape = np.array(np.shape(ins[0]), np.int64)
    return [shape[attrs.get("start", 0):attrs.get("end")]]


def _gather(ins, attrs, opset):
    data, index = np.asarray(ins[0]), np.asarray(ins[1], np.int64)
    k = _axis(int(attrs.get("axis", 0)), data.ndim)
    budgeted_shape(data.shape[:k] + index.shape + data.shape[k + 1:], data.dtype, "Gather")
    return [np.take(data, index, axis=k)]


def _clamp_index(value: int, dim: int, step: int) -> int:
    """ONNX Slice's clamping of a start/end index (negative counts from the end)."""
    value = value + dim if value < 0 else value
    return max(min(value, dim), 0) if step > 0 else max(min(value, dim - 1), -1)


def _slice(ins, attrs, opset):
    a = ins[0]
    if opset >= 10:
        starts, ends = ins[1], ins[2]
        axes = ins[3] if len(ins) > 3 and ins[3] is not None else range(len(starts))
        steps = ins[4] if len(ins) > 4 and ins[4] is not None else [1] * len(starts)
    else:
        starts, ends = attrs["starts"], attrs["ends"]
        axes, steps = attrs.get("axes", range(len(starts))), [1] * len(starts)
    index = [slice(None)] * np.ndim(a)
    for s, e, ax, st in zip(starts, ends, axes, steps):
        dim, st = a.shape[int(ax)], int(st)
        s, e = _clamp_index(int(s), dim, st), _clamp_index(int(e), dim, st)
        index[int(ax)] = slice(s, None if (st < 0 and e < 0) else e, st)
    return [a[tuple(index)]]


def _cast(ins, attrs, opset):
    from onnx import helper
    to = helper.tensor_dtype_to_np_dtype(int(attrs["to"]))
    budgeted_shape(np.shape(ins[0]), to, "Cast")       # up to 16 times wider than its input
    return [np.asarray(ins[0]).astype(to)]


def _arith(name: str, fn: Callable[[Any, Any], Any],
           integer_fn: Callable[[Any, Any], Any] | None = None) -> OpFn:
    def op(ins, attrs, opset):
        a, b = ins[0], ins[1]
        # broadcasting grows the output: an (N, 1) and a (1, N) make N x N
        budgeted_shape(np.broadcast_shapes(np.shape(a), np.shape(b)), np.result_type(a, b), name)
        ints = np.asarray(a).dtype.kind in "iu"
        out = (integer_fn if integer_fn is not None and ints else fn)(a, b)
        return [np.asarray(out).astype(np.result_type(a, b))]
    return op


def _matmul(ins, attrs, opset):
    a, b = ins[0], ins[1]
    budgeted_shape(_matmul_shape(np.shape(a), np.shape(b)), np.result_type(a, b, F32), "MatMul")
    return [np.matmul(a, b).astype(F32)]


def _gemm(ins, attrs, opset):
    x = ins[0].T if attrs.get("transA", 0) else ins[0]
    w = ins[1].T if attrs.get("transB", 0) else ins[1]
    c = () if len(ins) < 3 or ins[2] is None else np.shape(ins[2])
    shape = np.broadcast_shapes(_matmul_shape(np.shape(x), np.shape(w)), c)
    budgeted_shape(shape, np.result_type(x, w, F32), "Gemm")
    y = F32(attrs.get("alpha", 1.0)) * (x @ w)
    if len(ins) > 2 and ins[2] is not None:
        y = y + F32(attrs.get("beta", 1.0)) * ins[2]
    return [y.astype(F32)]


def _expand(ins, attrs, opset):
    a = np.asarray(ins[0])
    shape = np.broadcast_shapes(a.shape, tuple(int(v) for v in np.asarray(ins[1]).reshape(-1)))
    return [np.array(np.broadcast_to(a, budgeted_shape(shape, a.dtype, "Expand")))]


def _constant_of_shape(ins, attrs, opset):
    value = attrs.get("value")
    if value is None:
        fill = np.zeros(1, F32)
    else:
        from onnx import numpy_helper
        fill = numpy_helper.to_array(value).reshape(-1)
    return [np.full(budgeted_shape(ins[0], fill.dtype, "ConstantOfShape"), fill[0], dtype=fill.dtype)]


def _unary(fn: Callable[[Any], Any]) -> OpFn:
    return lambda ins, attrs, opset: [fn(ins[0])]


def _relu(a):
    return np.maximum(a, 0).astype(a.dtype)


def _sigmoid(a):
    return (1.0 / (1.0 + np.exp(-a))).astype(a.dtype)


def _flatten(ins, attrs, opset):
    a = ins[0]
    axis = int(attrs.get("axis", 1)) % max(np.ndim(a), 1)
    return [np.reshape(a, (int(np.prod(a.shape[:axis])), -1))]


def softmax(a: np.ndarray, axis: int, log: bool) -> np.ndarray:
    shifted = a - np.max(a, axis=axis, keepdims=True)
    if log:
        return (shifted - np.log(np.sum(np.exp(shifted), axis=axis, keepdims=True))).astype(F32)
    e = np.exp(shifted)
    return (e / np.sum(e, axis=axis, keepdims=True)).astype(F32)


def _softmax_op(log: bool) -> OpFn:
    def op(ins, attrs, opset):
        a = ins[0]
        axis = int(attrs.get("axis", -1 if opset >= 13 else 1))
        if opset < 13:       # before 13: flatten to 2-D at axis, softmax over the second part
            flat = np.reshape(a, (int(np.prod(a.shape[:axis % a.ndim])), -1))
            return [np.reshape(softmax(flat, -1, log), a.shape)]
        return [softmax(a, axis, log)]
    return op


OPS: dict[str, OpFn] = {
    "Identity": _identity, "Dropout": _identity, "Transpose": _transpose,
    "Squeeze": _squeeze, "Unsqueeze": _unsqueeze, "Reshape": _reshape, "Concat": _concat,
    "Shape": _shape, "Gather": _gather, "Slice": _slice, "Cast": _cast,
    "Add": _arith("Add", np.add), "Sub": _arith("Sub", np.subtract),
    "Mul": _arith("Mul", np.multiply), "Div": _arith("Div", np.divide, np.floor_divide),
    "MatMul": _matmul, "Gemm": _gemm,
    "Expand": _expand, "ConstantOfShape": _constant_of_shape, "Neg": _unary(np.negative),
    "Exp": _unary(np.exp), "Relu": _unary(_relu), "Tanh": _unary(np.tanh),
    "Sigmoid": _unary(_sigmoid), "Flatten": _flatten, "Softmax": _softmax_op(False),
    "LogSoftmax": _softmax_op(True),
}

# ops folded at load when every input is a constant (what exporters put between stored
# weights and an LSTM's W/R/B/P/initial state)
FOLDABLE = frozenset({"Identity", "Transpose", "Squeeze", "Unsqueeze", "Reshape", "Concat",
                      "Gather", "Slice", "Cast", "Shape", "Add", "Sub", "Mul", "Div", "Neg",
                      "Expand", "ConstantOfShape"})


def evaluate(op_type: str, ins: list[Any], attrs: dict[str, Any], opset: int) -> list[Any]:
    """The outputs of one node; KeyError when ``op_type`` is not in the table."""
    return OPS[op_type](ins, attrs, opset)
