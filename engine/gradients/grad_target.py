"""What a gradient is taken of: the TARGET text, parsed safely (never ``eval``).

Grammar (docs/architecture.md, "Gradients"), parsed with ``ast.parse(mode="eval")`` and checked
node by node like the expression language (``engine.debugging.expr``):

    h[b, t, j]   c[b, t, j]       one unit of a traced layer, t an input position
    h[t, j]      c[t, j]          the same summed over samples (each sample's gradient is its own)
    output[...]                   the model's output, indexed like the framework's output
    sum(E)  sumsq(E)  mean(E)     a scalar of a selection E
Indices are integers (negative count from the end), ``last`` or slices ``a:b`` / ``:``. In
``h``/``c``, ``last`` is the final *processed* position (0 for a backward direction); in
``output`` it is the last step of the output's time axis. A selection of several elements
without a function is their sum.
"""

from __future__ import annotations

import ast
import warnings
from dataclasses import dataclass
from typing import Any

import numpy as np

from ..errors import ScopeError

ARRAYS = ("h", "c", "output")
FUNCS = ("sum", "sumsq", "mean")
LAST = "last"
MAX_LENGTH = 500


class TargetError(ScopeError):
    """A target the user wrote that cannot be parsed or does not fit the run."""


Index = int | str | slice          # str: "last"


@dataclass(frozen=True)
class Target:
    """A parsed target: ``array`` (h, c or output), its index (None: everything) and how the
    selected elements become one number (``reduce``: sum, sumsq or mean)."""

    text: str
    array: str
    index: tuple[Index, ...] | None
    reduce: str = "sum"

    def key(self, shape: tuple[int, ...], last: int, time_axis: int | None) -> tuple:
        """A numpy basic-indexing key for an array of ``shape`` (``last`` resolved on
        ``time_axis``); out-of-range indices are a TargetError naming the axis."""
        if self.index is None:
            return ()
        index = list(self.index)
        if self.array in ("h", "c"):
            if len(index) == 2:
                index = [slice(None), *index]
            if len(index) != 3:
                raise TargetError(f"target '{self.text}': {self.array} takes [b, t, j] or [t, j], "
                                  f"got {len(self.index)} indices")
        elif len(index) > len(shape):
            raise TargetError(f"target '{self.text}': the output has {len(shape)} axes "
                              f"{tuple(shape)}, got {len(index)} indices")
        names = _axis_names(self.array, len(shape), time_axis)
        key: list[Any] = []
        for axis, item in enumerate(index):
            size = shape[axis]
            if item == LAST or (isinstance(item, slice) and LAST in (item.start, item.stop)):
                if axis != time_axis:
                    raise TargetError(f"target '{self.text}': 'last' names a time step, but "
                                      f"axis {axis} is {names[axis]}")
            item = _resolve(item, last)
            if isinstance(item, int):
                if not -size <= item < size:
                    raise TargetError(f"target '{self.text}': index {item} is out of range for "
                                      f"{names[axis]} (0..{size - 1})")
                item = item % size
            key.append(item)
        return tuple(key)

    def seed(self, values: np.ndarray, last: int, time_axis: int | None) -> tuple[np.ndarray, float]:
        """(d target / d values, the target's value) for the selected array's values."""
        values = np.asarray(values)
        key = self.key(values.shape, last, time_axis)
        picked = np.asarray(values[key], np.float64)
        if picked.size == 0:
            raise TargetError(f"target '{self.text}' selects no element")
        grad = np.zeros(values.shape, np.float32)
        if self.reduce == "sumsq":
            grad[key] = 2.0 * picked
            value = float(np.sum(picked * picked))
        elif self.reduce == "mean":
            grad[key] = 1.0 / picked.size
            value = float(np.mean(picked))
        else:
            grad[key] = 1.0
            value = float(np.sum(picked))
        return grad, value


def _axis_names(array: str, ndim: int, time_axis: int | None) -> list[str]:
    if array in ("h", "c"):
        return ["the batch axis", "the time axis", "the unit axis"]
    out = [f"axis {k}" for k in range(ndim)]
    if time_axis is not None and time_axis < ndim:
        out[time_axis] = f"the time axis (axis {time_axis})"
    return out


def _resolve(item: Index, last: int) -> int | slice:
    if item == LAST:
        return last
    if isinstance(item, slice):
        start = last if item.start == LAST else item.start
        stop = last if item.stop == LAST else item.stop
        return slice(start, stop, item.step)
    return item


def parse_target(text: str) -> Target:
    """Parse a TARGET or raise TargetError with one readable line."""
    if not isinstance(text, str) or not text.strip():
        raise TargetError("empty gradient target (examples: 'h[last, 0]', 'c[0, 5, 2]', "
                          "'sumsq(output[:, last])')")
    if len(text) > MAX_LENGTH:
        raise TargetError(f"gradient target longer than {MAX_LENGTH} characters")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            tree = ast.parse(text.strip(), mode="eval")
    except (SyntaxError, ValueError, RecursionError, MemoryError):
        raise TargetError(f"cannot parse gradient target '{text}' (examples: 'h[last, 0]', "
                          f"'c[0, 5, 2]', 'sumsq(output[:, last])')") from None
    node = tree.body
    reduce = "sum"
    if isinstance(node, ast.Call):
        if not isinstance(node.func, ast.Name):
            raise TargetError(f"target '{text}': '{_shown(node.func)}' is not a function a "
                              f"target may call (known: {', '.join(FUNCS)})")
        if node.func.id not in FUNCS:
            raise TargetError(f"target '{text}': unknown function '{node.func.id}' "
                              f"(known: {', '.join(FUNCS)})")
        if len(node.args) != 1 or node.keywords:
            raise TargetError(f"target '{text}': {node.func.id}() takes one selection")
        reduce, node = node.func.id, node.args[0]
    index: tuple[Index, ...] | None = None
    if isinstance(node, ast.Subscript):
        sub = node.slice
        items = sub.elts if isinstance(sub, ast.Tuple) else [sub]
        index = tuple(_index(text, item) for item in items)
        node = node.value
    if not isinstance(node, ast.Name) or node.id not in ARRAYS:
        raise TargetError(f"target '{text}': '{_shown(node)}' is not a target; use h[...], c[...] "
                          f"or output[...], optionally inside sum(), sumsq() or mean()")
    return Target(text.strip(), node.id, index, reduce)


def _shown(node: ast.AST) -> str:
    """The refused part of a target, as the user wrote it (shortened)."""
    text = ast.unparse(node)
    return text if len(text) <= 60 else text[:57] + "..."


def _index(text: str, node: ast.AST) -> Index:
    if isinstance(node, ast.Slice):
        if node.step is not None:
            raise TargetError(f"target '{text}': slices take no step")
        return slice(_bound(text, node.lower), _bound(text, node.upper))
    return _scalar(text, node)


def _bound(text: str, node: ast.AST | None) -> int | str | None:
    return None if node is None else _scalar(text, node)


def _scalar(text: str, node: ast.AST) -> int | str:
    if isinstance(node, ast.Name) and node.id == LAST:
        return LAST
    if isinstance(node, ast.Constant) and type(node.value) is int:
        return node.value
    if (isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.USub)
            and isinstance(node.operand, ast.Constant) and type(node.operand.value) is int):
        return -node.operand.value
    raise TargetError(f"target '{text}': an index must be an integer, 'last' or a slice a:b")
