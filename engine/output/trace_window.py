"""``trace --steps A:B`` and traces bigger than memory (docs/architecture.md, "Long runs").

A run that fits the memory budget is traced whole and its arrays are cut to the window. A run
that does not is checkpointed (``engine.runs.checkpoints``) and written block by block: each block of
steps is recomputed from its checkpoint (bit-identical to the in-memory trace), its arrays go to
spill files beside the output, and the spill files are copied into the ``.npz``'s members
through the one atomic writer, so memory stays bounded and a failed run leaves no half file.
"""

from __future__ import annotations

import os
import tempfile
import zipfile
from collections.abc import Iterator
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path
from typing import Any, BinaryIO

import numpy as np

from ..errors import ScopeError
from ..network.layers import LSTM, ActivationOp, Dense, Identity, Op, TimeDistributed
from ..network.model import Model
from ..runs.time_axis import positions
from ..runs.trace import LayerTrace, TraceResult
from ..system.files import atomic_write

F32 = np.float32
POSITIONWISE = (Dense, ActivationOp, TimeDistributed, Identity)   # act on each position alone
COPY_BLOCK = 8 * 2**20
RUN_ARRAYS = ("zb", "h0", "c0")    # a trace's arrays of the run, not of each position


def window_range(text_slice: slice | None, steps: int) -> tuple[int, int]:
    """Input positions [a, b) of ``--steps A:B`` (Python slice rules) on a run of ``steps``."""
    if text_slice is None:
        return 0, steps
    if text_slice.step not in (None, 1):
        raise ScopeError("--steps takes a range A:B without a step")
    a, b, _ = text_slice.indices(steps)
    if b <= a:
        raise ScopeError(f"--steps {_show(text_slice)} selects no positions of this run "
                         f"(positions 0:{steps})")
    return a, b


def _show(s: slice) -> str:
    return f"{'' if s.start is None else s.start}:{'' if s.stop is None else s.stop}"


def output_reversed(model: Model, index: int, layer_input: bool) -> bool:
    """True when the model's output runs in processing order of a backward layer (a plain
    go_backwards LSTM last), so input positions a:b are its indices T-b:T-a."""
    ops = [model.ops[model.traced_layers[index].op_index]] if layer_input else model.ops
    last = next((op for op in reversed(ops) if hasattr(op, "traced")), None)
    return isinstance(last, LSTM) and last.go_backwards and last.return_sequences


def cut_output(output: np.ndarray, steps: int, a: int, b: int, reversed_: bool) -> np.ndarray:
    """The part of the model's output covering input positions a:b (a model that returns only
    its last output keeps it whole: it is the run's, not a position's)."""
    out = np.asarray(output)
    if out.ndim < 2 or out.shape[1] != steps:
        return out
    return out[:, slice(*positions(a, b, steps, reversed_))]


def cut_trace(result: TraceResult, traced: LayerTrace, model: Model, index: int,
              layer_input: bool, a: int, b: int) -> dict[str, np.ndarray]:
    """The arrays of an in-memory trace for input positions a:b; h0, c0 are the state just
    before the first recorded step (position a, or b-1 for a backward layer). A run with no
    model output (``Model.partial``) writes none."""
    arrays = traced.arrays()
    steps = traced.steps
    if (a, b) == (0, steps):
        if result.output is not None:
            arrays["output"] = np.asarray(result.output)
        return arrays
    first = b - 1 if traced.backward else a
    h0, c0 = traced.state_before(first)
    for name, arr in list(arrays.items()):
        if name not in RUN_ARRAYS:
            arrays[name] = np.ascontiguousarray(arr[:, a:b])
    arrays["h0"] = np.array(h0)
    if "c0" in arrays:                  # a GRU or RNN carries h alone: it writes no c0
        arrays["c0"] = np.array(c0)
    if result.output is None:
        return arrays
    arrays["output"] = np.ascontiguousarray(
        cut_output(result.output, steps, a, b, output_reversed(model, index, layer_input)))
    return arrays


# --- the streamed path -------------------------------------------------------------------------
@dataclass
class OutputTail:
    """How the model's output follows from the traced layer window by window: the layer's
    own op and the position-wise ops after it."""

    op: LSTM
    tail: list[Op]

    def apply(self, y: np.ndarray) -> np.ndarray:
        mask = None
        for op in self.tail:
            y, mask = op.apply(y, mask, None)   # position-wise ops never read the context
        return np.asarray(y, F32)

    def sequence(self, window: LayerTrace) -> np.ndarray:
        """The model's output at the window's positions, in the order the framework returns
        them (processing order for a go_backwards layer)."""
        seq = np.array(window.h, F32)
        if self.op.zero_output_for_mask:
            seq[~window.mask] = 0.0
        if window.backward:
            seq = seq[:, ::-1]
        return self.apply(seq)


def output_tail(model: Model, index: int, layer_input: bool) -> OutputTail | None:
    """The traced layer's op and the ops after it when the model's output can be computed a
    window at a time (None: it needs the whole run of another layer)."""
    info = model.traced_layers[index]
    if model.runtime is not None and not layer_input:
        return None
    if not layer_input and not model.chain:
        return None
    op = model.ops[info.op_index]
    if not isinstance(op, LSTM) or op.return_state:
        return None
    tail = [] if layer_input else list(model.ops[info.op_index + 1:])
    if not all(isinstance(t, POSITIONWISE) for t in tail):
        return None
    return OutputTail(op, tail)


class _Spill:
    """One array written block by block into a temporary ``.npy`` beside the output."""

    def __init__(self, folder: Path, shape: tuple[int, ...], dtype: np.dtype, stack: ExitStack):
        fd, name = tempfile.mkstemp(prefix=".lstmscope-", suffix=".npy", dir=folder)
        self.path = Path(name)
        stack.callback(self._remove)
        self.fh: BinaryIO = os.fdopen(fd, "w+b")
        stack.callback(self.fh.close)
        self.shape, self.dtype = shape, np.dtype(dtype)
        np.lib.format.write_array_header_2_0(
            self.fh, {"descr": np.lib.format.dtype_to_descr(self.dtype), "fortran_order": False,
                      "shape": shape})
        self.offset = self.fh.tell()
        self.fh.truncate(self.offset + int(np.prod(shape, dtype=np.int64)) * self.dtype.itemsize)

    def _remove(self) -> None:
        try:
            self.path.unlink()
        except OSError:
            pass

    def put(self, start: int, block: np.ndarray) -> None:
        """Write ``block`` (B, L, ...) at time index ``start`` of every sample."""
        block = np.ascontiguousarray(block, self.dtype)
        steps = self.shape[1]
        row = int(np.prod(self.shape[2:], dtype=np.int64)) * self.dtype.itemsize
        for s in range(block.shape[0]):
            self.fh.seek(self.offset + (s * steps + start) * row)
            self.fh.write(block[s].tobytes())

    def copy_into(self, zf: zipfile.ZipFile, member: str) -> None:
        self.fh.flush()
        self.fh.seek(0)
        with zf.open(member, "w", force_zip64=True) as dst:
            while chunk := self.fh.read(COPY_BLOCK):
                dst.write(chunk)


def write_streamed(out: str, session: Any, a: int, b: int, tail: OutputTail | None,
                   extra: dict[str, np.ndarray], *, inputs: Any, progress=None) -> None:
    """Write input positions a:b of a checkpointed session's layer to ``out`` (an ``.npz``
    the same as ``np.savez`` of the in-memory window), block by block. ``tail`` computes the
    model's output window by window; None: ``extra`` holds it (or the run has none)."""
    store = session.store
    length = b - a
    first = b - 1 if store.backward else a
    h0, c0 = session.state_before(first)
    folder = Path(os.path.realpath(out)).parent
    with ExitStack() as stack:
        spills: dict[str, _Spill] = {}
        run: dict[str, np.ndarray] = {}
        for s, e in blocks(a, b, store.interval):
            win = store.window_trace(s, e)
            arrays = win.arrays()
            if not spills:      # the cell kind's own arrays, named and shaped by its first block
                spills, run = _spills_for(arrays, length, tail, folder, stack)
            for k, spill in spills.items():
                if k == "output":
                    y = tail.sequence(win)
                    spill.put(b - e if store.backward else s - a, y)
                else:
                    spill.put(s - a, arrays[k])
            if progress is not None:
                progress(e - a, length)
        small = {**run, "h0": np.array(h0, F32), **extra}
        if "c0" in run:
            small["c0"] = np.array(c0, F32)
        if tail is not None and not tail.op.return_sequences:
            small["output"] = tail.apply(store.final_state()[0][:, None])[:, 0]
        with atomic_write(out, inputs=inputs) as fh:
            with zipfile.ZipFile(fh, "w", zipfile.ZIP_STORED, allowZip64=True) as zf:
                for name in dict.fromkeys((*spills, *run, "output", *extra)):
                    if name in spills:
                        spills[name].copy_into(zf, name + ".npy")
                    elif name in small:
                        with zf.open(name + ".npy", "w", force_zip64=True) as m:
                            np.lib.format.write_array(m, np.asanyarray(small[name]),
                                                      allow_pickle=False)


def _spills_for(arrays: dict[str, np.ndarray], length: int, tail: OutputTail | None,
                folder: Path, stack: ExitStack) -> tuple[dict[str, _Spill], dict[str, np.ndarray]]:
    """One spill file per per-step array of a window's ``LayerTrace.arrays()`` (whatever its
    cell kind records: an LSTM's i f g o c, a GRU's u r n, an sLSTM's nrm stab, an mLSTM's C),
    ``length`` steps long, plus the model's output; and the window's run arrays (zb, and c0
    when the kind writes one) in the order the in-memory trace writes them."""
    spills: dict[str, _Spill] = {}
    run: dict[str, np.ndarray] = {}
    for name, arr in arrays.items():
        if name in RUN_ARRAYS:
            run[name] = arr
        else:
            spills[name] = _Spill(folder, (arr.shape[0], length, *arr.shape[2:]), arr.dtype, stack)
    if tail is not None and tail.op.return_sequences:
        h = arrays["h"]
        probe = tail.apply(np.zeros((h.shape[0], 1, *h.shape[2:]), F32))
        spills["output"] = _Spill(folder, (h.shape[0], length, *probe.shape[2:]), F32, stack)
    return spills, run


def blocks(a: int, b: int, step: int) -> Iterator[tuple[int, int]]:
    """[s, e) pieces of a:b cut at multiples of ``step``."""
    for lo in range(a - a % step, b, step):
        yield max(lo, a), min(lo + step, b)
