"""The hot loop: one LSTM direction stepped one input position at a time.

``DirectionRunner`` owns preallocated (B, T, ...) buffers and fills one column per processing
index. ``x . W + b`` for all timesteps is one matmul up front (it does not depend on the
recurrence); each step then costs one (B, H) x (H, 4N) matmul and a handful of in-place ufuncs.
``run(start, stop)`` computes a range of steps and ``step(p)`` one: both go through the same
loop (``_run_fast`` for a plain cell, ``_step_general`` for peepholes, clip, projection or
coupled input-forget), so a full trace and the debugger's stepping give the same bits. Another
cell kind's runner (``RUNNERS``) hands its own step to the one per-step loop, ``_run_each``.
``engine.cells.cell.lstm_step`` / ``lstm_step_extended`` are the spec these paths are tested against.
"""

from __future__ import annotations

import threading
from collections.abc import Callable

import numpy as np

from ..cells.activations import Activation
from ..cells.cell import CellWeights, gate_scale, lstm_step_extended_from_z
from ..system import buffers
from ..system.blas import blas_limited
from ..system.progress import advance
from .compiled import compiled_steps, input_rows
from .time_axis import input_position, last_position, positions
from .trace import LayerTrace

F32 = np.float32
NAN = F32(np.nan)
InPlace = Callable[[np.ndarray, np.ndarray], None]
KindStep = Callable[[int, np.ndarray, np.ndarray], None]
"""A cell kind's step for ``DirectionRunner._run_each``: (input position t, h before, the
carried state before: c, or whatever the kind carries in ``c``) -> writes column t."""
XW_BLOCK = 256
PROGRESS_STEPS = 8192       # a long run reports how far it is about this often (steps)
"""x . W is computed in blocks of this many processing indices, aligned to the run's first
step, in every path (full trace, debugger stepping, checkpointed windows): a BLAS product's
rounding may depend on the matrix shape, so equal blocks are what makes a recomputed window
bit-identical to the full trace (docs/architecture.md, "Long runs")."""


@blas_limited
def input_product(weights: CellWeights, x: np.ndarray, backward: bool, p_lo: int = 0,
                  p_hi: int | None = None) -> np.ndarray:
    """x . W as (B, L, parts, N) (an LSTM's 4 gate blocks) for processing indices
    p_lo..p_hi-1 of the run over ``x`` (B, T, D), by input position.

    Each aligned block of XW_BLOCK processing indices is one (L, D) x (D, parts * N) matmul
    per sample, whatever window asks, written in place where the block lies inside the window.
    (One (B * L, D) product per block needed a copy of x's block and one of the product into
    the (B, T, ...) layout: memory traffic that made it 40% slower at B = 32.) The gate input
    the recurrence adds to, (x . W + b) * gate_scale, is made from it block by block
    (``gate_input``), never stored for the whole run."""
    b, t, d = x.shape
    p_hi = t if p_hi is None else p_hi
    n4 = weights.kernel.shape[1]
    length = p_hi - p_lo
    first = p_lo if not backward else t - p_hi           # input position of the window's column 0
    zx = buffers.empty((b, length, n4))
    if weights.identity_kernel:          # the cell reads its pre-activations: x·I is x, copied
        np.copyto(zx, x[:, first:first + length])       # (the same in every path, so windows
        return zx.reshape(b, length, weights.parts, -1)  # stay bit-identical)
    spare = None if length == t else np.empty((min(t, XW_BLOCK), n4), np.float32)
    rows = input_rows(weights)          # the compiled tile, else BLAS (the same in every path)

    def matmul(x_rows: np.ndarray, out: np.ndarray) -> np.ndarray:
        if rows is None:
            return np.matmul(x_rows, weights.kernel, out=out)
        rows(x_rows, out)
        return out
    for q0 in range(p_lo - p_lo % XW_BLOCK, p_hi, XW_BLOCK):
        q1 = min(t, q0 + XW_BLOCK)
        a, e = (q0, q1) if not backward else (t - q1, t - q0)     # the block's input positions
        lo, hi = max(a, first), min(e, first + length)            # its part inside the window
        for sample in range(b):
            if (lo, hi) == (a, e):
                matmul(x[sample, a:e], zx[sample, a - first:e - first])
                continue
            block = matmul(x[sample, a:e], spare[:e - a])
            zx[sample, lo - first:hi - first] = block[lo - a:hi - a]
    return zx.reshape(b, length, weights.parts, -1)


def gate_input(bias: np.ndarray, scale: np.ndarray | None, zx: np.ndarray,
               out: np.ndarray) -> np.ndarray:
    """``out`` = (zx + b) * scale: the part of z the recurrence does not change, with the fast
    path's ``gate_scale`` (None: no scale, a cell off it); ``zx`` (..., 4N), any layout."""
    np.add(zx, bias, out=out)
    if scale is not None:
        np.multiply(out, scale, out=out)
    return out


def _sigmoid_into(z: np.ndarray, out: np.ndarray) -> None:
    """out = 1 / (1 + exp(-z)) in four in-place ufuncs (the Activation's formula).

    -z is a multiply by -1 (exact): numpy 2.4's ``negative`` misreads a strided (B, 1) view
    such as one unit's gate block of a batch, which this path meets with N = 1."""
    np.multiply(z, F32(-1.0), out=out)
    np.exp(out, out=out)
    np.add(out, F32(1.0), out=out)
    np.reciprocal(out, out=out)


def _in_place(act: Activation, units: int) -> InPlace:
    """``act`` as ``fn(z, out)``: sigmoid and tanh without temporaries; an across-units
    activation (softmax family) per gate block of ``units`` columns."""
    if act.is_sigmoid:
        return _sigmoid_into
    if act.is_tanh:
        return np.tanh                      # tanh(z, out): the ufunc itself, no Python frame per step
    if act.elementwise:
        def apply(z: np.ndarray, out: np.ndarray) -> None:
            out[...] = act(z)
        return apply

    def blockwise(z: np.ndarray, out: np.ndarray) -> None:
        lead = z.shape[:-1]
        out[...] = act(z.reshape(*lead, -1, units)).reshape(z.shape)
    return blockwise


def _by_time(arr: np.ndarray, a: int, e: int, step: int) -> np.ndarray:
    """(B, T, F) positions a:e -> (L, B, F) in processing order (``step`` -1: backward)."""
    return arr[:, a:e].swapaxes(0, 1)[::step]


def layer_input(name: str, weights: CellWeights, x: np.ndarray) -> np.ndarray:
    """``x`` as the contiguous float32 (batch, time, features) a direction runs on, or a
    ValueError naming the layer and what it expects."""
    x = np.ascontiguousarray(x, dtype=F32)
    if x.ndim != 3:
        raise ValueError(f"layer input must be (batch, time, features), got shape {x.shape}")
    if x.shape[2] != weights.input_dim:
        raise ValueError(f"layer '{name}' expects {weights.input_dim} features, got {x.shape[2]}")
    return x


SCRATCH_BYTES = 4 * 2**20
"""Size of one thread's time-major scratch (``_Scratch``): a block of steps small enough to
stay near the cache, large enough that copying it out is one bulk assignment per array."""
_SCRATCH = threading.local()


class _Scratch:
    """Time-major buffers for a block of steps of one (batch, units, state size): zin, zh and
    gates (L, B, 4N), c (L, B, N), h (L, B, H), and the state a block starts from. Kept per
    thread and reused by every runner of that shape, so a trace does not allocate or
    page-fault them again. ``steps`` holds each step's views (zin, zh, gates, its gate blocks
    i f g o, c, h), made once: making them per step cost about 1 us a step, a tenth of a
    small layer's step."""

    def __init__(self, batch: int, units: int, hsize: int) -> None:
        per_step = 4 * batch * (3 * 4 * units + units + hsize)
        self.key = (batch, units, hsize)
        self.length = max(1, min(XW_BLOCK, SCRATCH_BYTES // per_step))
        shape = (self.length, batch)
        self.zin = np.empty((*shape, 4 * units), F32)
        self._rows = (np.empty((*shape, 4 * units), F32), np.empty((*shape, 4 * units), F32),
                      np.empty((*shape, units), F32), np.empty((*shape, hsize), F32))
        self.h_prev = np.empty((batch, hsize), F32)
        self.c_prev = np.empty((batch, units), F32)
        self.z = np.empty((batch, 4 * units), F32)
        self.tmp = np.empty((batch, units), F32)
        zh_rows, gate_rows, c_rows, h_rows = self._rows
        split = gate_rows.view()
        split.shape = (*gate_rows.shape[:2], 4, units)   # a view, never a copy (else raises)
        split = split.swapaxes(1, 2)                     # (L, 4, B, N)
        self.steps = [(zi, zh, a, tuple(gates), c, h) for zi, zh, a, gates, c, h
                      in zip(self.zin, zh_rows, gate_rows, split, c_rows, h_rows)]

    def rows(self, length: int) -> tuple[np.ndarray, ...]:
        return tuple(r[:length] for r in self._rows)


def _scratch(batch: int, units: int, hsize: int) -> _Scratch:
    """This thread's scratch for the shape (the last shape used is kept)."""
    held = getattr(_SCRATCH, "held", None)
    if held is None or held.key != (batch, units, hsize):
        held = _SCRATCH.held = _Scratch(batch, units, hsize)
    return held


RUNNERS: dict[str, type[DirectionRunner]] = {}
"""The runner of each other cell kind by its ``CellKind.name``, handed down by the module that
implements it when it is imported (``engine.runs.gru_stepper``; ``import engine`` imports it), so
that whoever makes a ``DirectionRunner`` for a GRU's weights gets the GRU's runner."""


class DirectionRunner:
    """Steps one LSTM direction over a fixed input; processing index p maps to input t.
    Made for another kind of cell's weights, it is that kind's runner (``RUNNERS``)."""

    def __new__(cls, name: str, weights: CellWeights, *args, **kwargs):
        if cls is DirectionRunner:
            cls = RUNNERS.get(weights.kind.name, cls)
        return super().__new__(cls)

    def __init__(self, name: str, weights: CellWeights, x: np.ndarray, *, backward: bool = False,
                 mask: np.ndarray | None = None, h0: np.ndarray | None = None,
                 c0: np.ndarray | None = None, prefill: bool = True,
                 shared_zx: np.ndarray | None = None) -> None:
        """``prefill=False`` skips NaN-filling the buffers: only for a caller that runs every
        step at once (a full trace), where each column is written before anyone reads it.

        ``shared_zx`` reuses another runner's x . W (B, T, 4, N) for this x instead of
        computing and storing it: a debugger fork over a window of its parent's run shares it
        as a read-only view (never written here).

        Public buffers, indexed by input position: ``x``, ``mask``, ``h0``, ``c0``, ``zx``,
        ``gates``, ``zh``, ``c``, ``h``, ``zp`` (None without peepholes). The big ones come
        from ``engine.system.buffers`` (reused once a previous run's arrays are dropped)."""
        x = layer_input(name, weights, x)
        b, t, _ = x.shape
        n, hsize, parts = weights.units, weights.state_size, weights.parts
        self.name, self.weights, self.backward = name, weights, backward
        self.batch, self.steps, self.units = b, t, n
        self.mask = np.ones((b, t), bool) if mask is None else np.asarray(mask, bool).copy()
        self._all_valid = self.mask.all(axis=0)             # per input position
        self.h0 = np.zeros((b, hsize), F32) if h0 is None else np.array(h0, F32).reshape(b, hsize)
        csize = weights.cell_size
        self.c0 = np.zeros((b, csize), F32) if c0 is None else np.array(c0, F32).reshape(b, csize)
        self.x = x
        if shared_zx is not None:
            self.zx = shared_zx
            if self.zx.shape != (b, t, parts, n):
                raise ValueError("shared x . W does not match the input's shape")
        else:
            self.zx = input_product(weights, x, backward)
            if not self._all_valid.all():
                self.zx[~self.mask] = NAN
        self._zx_flat = self.zx.reshape(b, t, parts * n)

        def alloc(shape: tuple[int, ...]) -> np.ndarray:
            arr = buffers.empty(shape)
            if prefill:
                arr.fill(NAN)
            return arr
        n_gates = len(weights.kind.gates)
        self.gates = alloc((b, t, n_gates, n))
        self.zh = alloc((b, t, parts, n))
        self.c = alloc((b, t, csize))
        self.h = alloc((b, t, hsize))
        self.zp = None if weights.peephole is None else alloc((b, t, 4, n))
        self._gates_flat = self.gates.reshape(b, t, n_gates * n)
        self._zh_flat = self.zh.reshape(b, t, parts * n)
        self._fast = weights.is_plain
        self._compiled = compiled_steps(weights, b) if self._fast else None
        self._scale = gate_scale(weights)
        if self._scale is not None:
            self._half_shift = (np.where(self._scale == 1, F32(1), F32(0.5)),
                                np.where(self._scale == 1, F32(0), F32(0.5)))
        self._u = weights.scaled_recurrent_kernel
        self._gate_act = _in_place(weights.gate_activation, n)
        self._cell_act = _in_place(weights.cell_activation, n)
        self._out_act = _in_place(weights.output_activation, n)

    # --- position bookkeeping ----------------------------------------------------------------
    def position(self, p):
        """Input position read at processing index p (see ``trace.input_position``)."""
        return input_position(p, self.steps, self.backward)

    def state_before(self, p: int) -> tuple[np.ndarray, np.ndarray]:
        """(h, c) the cell holds before processing index p."""
        if p == 0:
            return self.h0, self.c0
        t = self.position(p - 1)
        return self.h[:, t], self.c[:, t]

    # --- computing -----------------------------------------------------------------------
    def step(self, p: int) -> None:
        """Compute processing index p from the stored state before it."""
        self.run(p, p + 1)

    @blas_limited
    def run(self, start: int = 0, stop: int | None = None,
            progress: Callable[[int], None] | None = None) -> None:
        """Compute processing indices start..stop-1 in order. ``progress(p)`` (if given) is
        told the next index to compute about every ``PROGRESS_STEPS`` steps, never per step,
        so a long run can say how far it is without slowing down."""
        stop = self.steps if stop is None else stop
        if stop <= start:
            return
        if self._compiled is not None:
            self._run_compiled(start, stop, progress)
            return
        if self._fast:
            self._run_fast(start, stop, progress)
            return
        self._run_each(self._step_general, start, stop, progress)

    def _run_each(self, step: KindStep, start: int, stop: int | None,
                  progress: Callable[[int], None] | None = None, **errors: str) -> None:
        """Processing indices start..stop-1 one at a time through the kind's ``step(t, h_prev,
        c_prev)``, which writes input position t's columns from the state before it: the loop
        of every path that has no block form (the LSTM with extras, each other kind), so
        that the position, the state read, masked samples' carry and progress are done once.
        ``errors`` are the ``np.errstate`` the kind's step runs under (its z may overflow)."""
        stop = self.steps if stop is None else stop
        told = start
        with np.errstate(**errors):
            for p in range(start, stop):
                t = self.position(p)
                h_prev, c_prev = self.state_before(p)
                step(t, h_prev, c_prev)
                if not self._all_valid[t]:
                    self._carry_masked(t, h_prev, c_prev)
                advance(1)
                if progress is not None and p + 1 - told >= PROGRESS_STEPS:
                    told = p + 1
                    progress(told)

    def _run_compiled(self, start: int, stop: int,
                      progress: Callable[[int], None] | None = None) -> None:
        """The classic cell on its compiled path (``engine.runs.compiled``): steps in blocks of
        ``XW_BLOCK`` written straight into the (B, T, ...) buffers, the state carried in two
        small contiguous arrays."""
        h_prev, c_prev = self.state_before(start)
        h, c = np.array(h_prev, F32, order="C"), np.array(c_prev, F32, order="C")
        told = start
        for p0 in range(start, stop, XW_BLOCK):
            p1 = min(stop, p0 + XW_BLOCK)
            order = np.asarray(self.position(np.arange(p0, p1)), np.int64)
            self._compiled.run(order, self._all_valid[order], self.mask, self._zx_flat, h, c,
                               self._zh_flat, self._gates_flat, self.c, self.h)
            advance(p1 - p0)
            if progress is not None and p1 - told >= PROGRESS_STEPS:
                told = p1
                progress(told)

    def _run_fast(self, start: int, stop: int,
                  progress: Callable[[int], None] | None = None) -> None:
        """The plain cell (``cell.lstm_step``) over processing indices start..stop-1: one
        in-place ufunc sequence per step on the step's gate views i, f, g, o.

        Steps run in blocks over this thread's time-major scratch (``_Scratch``): step k's
        z is one contiguous (B, 4N) row, so the recurrent product writes a contiguous block
        and no ufunc touches a strided column of the (B, T, ...) buffers; each block is then
        copied into them with one assignment per array (zh unscaled on the way). The
        sigmoid/tanh cell uses ``gate_scale``'s single tanh, other activations their own."""
        step = 1 if not self.backward else -1
        scratch = _scratch(self.batch, self.units, self.weights.state_size)
        h_prev, c_prev = self.state_before(start)
        np.copyto(scratch.h_prev, h_prev)
        np.copyto(scratch.c_prev, c_prev)
        outs = (self._zh_flat, self._gates_flat, self.c, self.h)
        told = start
        with np.errstate(over="ignore", invalid="ignore"):   # a masked sample's z is NaN
            for p0 in range(start, stop, scratch.length):
                p1 = min(stop, p0 + scratch.length)
                a, e = positions(p0, p1, self.steps, self.backward)
                length = p1 - p0
                zin, rows = scratch.zin[:length], scratch.rows(length)
                gate_input(self.weights.bias, self._scale, _by_time(self._zx_flat, a, e, step), zin)
                self._steps(length, self._all_valid[a:e][::step], p0, scratch)
                if self._scale is not None:          # exact: the scale is 1 or 1/2
                    np.divide(rows[0], self._scale, out=_by_time(outs[0], a, e, step))
                else:
                    np.copyto(_by_time(outs[0], a, e, step), rows[0])
                for out, row in zip(outs[1:], rows[1:]):
                    np.copyto(_by_time(out, a, e, step), row)
                np.copyto(scratch.h_prev, rows[3][-1])
                np.copyto(scratch.c_prev, rows[2][-1])
                advance(length)
                if progress is not None and p1 - told >= PROGRESS_STEPS:
                    told = p1
                    progress(told)

    def _steps(self, length: int, valid: np.ndarray, p0: int, scratch: _Scratch) -> None:
        """Steps p0 .. p0+length-1 over the scratch's first ``length`` time-major rows (zin
        filled), from the state in ``scratch.h_prev``, ``scratch.c_prev``."""
        scale, n = self._scale, self.units
        matmul, add, mul, tanh = np.matmul, np.add, np.multiply, np.tanh
        tmp, z, u = scratch.tmp, scratch.z, self._u
        z_g = z[:, 2 * n:3 * n]
        gate_act, cell_act, out_act = self._gate_act, self._cell_act, self._out_act
        if scale is not None:
            half, shift = self._half_shift
        h_prev, c_prev = scratch.h_prev, scratch.c_prev
        for k, ((zi, zh, a, (i, f, g, o), c, h), ok) in enumerate(
                zip(scratch.steps[:length], valid.tolist())):
            matmul(h_prev, u, out=zh)                 # h_{t-1} . U   (scaled like zin)
            if scale is not None:
                add(zi, zh, out=a)                    # z / 2 for i f o, z for g
                tanh(a, out=a)
                mul(a, half, out=a)
                add(a, shift, out=a)                  # i f o = sigmoid(z), g = tanh(z)
            else:
                add(zi, zh, out=z)                    # z = x_t . W + b + h_{t-1} . U
                gate_act(z, a)                        # i, f, o (g's block rewritten next)
                cell_act(z_g, g)
            mul(f, c_prev, out=c)                     # c = f * c_prev
            mul(i, g, out=tmp)
            add(c, tmp, out=c)                        #     + i * g
            out_act(c, tmp)
            mul(o, tmp, out=h)                        # h = o * act(c)
            if not ok:
                skip = ~self.mask[:, self.position(p0 + k)]
                a[skip] = NAN
                zh[skip] = NAN
                c[skip] = c_prev[skip]
                h[skip] = h_prev[skip]
            h_prev, c_prev = h, c

    def _step_general(self, t: int, h_prev: np.ndarray, c_prev: np.ndarray) -> None:
        """Peepholes, cell clip, projection, coupled input-forget: ``cell.lstm_step_extended``
        itself, from this run's z (x . W in aligned blocks), with the peephole terms recorded
        in ``zp``."""
        w = self.weights
        zh = h_prev @ w.recurrent_kernel
        self._zh_flat[:, t] = zh
        with np.errstate(invalid="ignore"):             # a masked sample's z is NaN
            z = (self._zx_flat[:, t] + w.bias) + zh
            i, f, g, o, c, h = lstm_step_extended_from_z(w, z, c_prev)
        if w.peephole is not None:
            p_i, p_f, p_o = w.peephole
            zp = self.zp[:, t]
            zp[:, 0], zp[:, 1], zp[:, 2], zp[:, 3] = p_i * c_prev, p_f * c_prev, 0.0, p_o * c
        gates = self.gates[:, t]
        gates[:, 0], gates[:, 1], gates[:, 2], gates[:, 3] = i, f, g, o
        self.c[:, t] = c
        self.h[:, t] = h

    def _carry_masked(self, t: int, h_prev: np.ndarray, c_prev: np.ndarray) -> None:
        skip = ~self.mask[:, t]
        self.gates[skip, t] = NAN
        self.zh[skip, t] = NAN
        if self.zp is not None:
            self.zp[skip, t] = NAN
        self.c[skip, t] = c_prev[skip]
        self.h[skip, t] = h_prev[skip]

    def clear(self, p: int, stop: int | None = None) -> None:
        """Forget processing indices p..stop-1 (default: p alone; stepping back): their
        columns become NaN again."""
        stop = p + 1 if stop is None else stop
        lo, hi = positions(p, stop, self.steps, self.backward)
        for arr in (self.gates, self.zh, self.c, self.h):
            arr[:, lo:hi] = NAN
        if self.zp is not None:
            self.zp[:, lo:hi] = NAN

    # --- reading in processing order ------------------------------------------------------
    def columns(self, array: str, a: int, b: int) -> np.ndarray:
        """(B, b-a, ...) of one buffer (gates zx zh zp c h x) for processing indices a..b-1, in
        processing order (a view where it can be). Before index 0, h and c at index -1 are the
        initial state and everything else NaN: what ``prev()`` of the first step reads."""
        arr = getattr(self, array)
        lo = max(a, 0)
        if b <= lo:
            body = arr[:, 0:0]
        else:
            body = arr[:, slice(*positions(lo, b, self.steps, self.backward))]
            body = body[:, ::-1] if self.backward else body
        if a >= 0:
            return body
        pad = np.full((body.shape[0], min(-a, b - a), *body.shape[2:]), np.nan, body.dtype)
        initial = {"h": self.h0, "c": self.c0}.get(array)
        if initial is not None and b > -1:
            pad[:, -1] = initial
        return np.concatenate([pad, body], axis=1)

    # --- results -------------------------------------------------------------------------
    def to_trace(self) -> LayerTrace:
        """A LayerTrace over the runner's buffers (no copy: the caller owns the runner)."""
        return LayerTrace(
            name=self.name, direction="backward" if self.backward else "forward",
            weights=self.weights, x=self.x, mask=self.mask, h0=self.h0, c0=self.c0,
            gates=self.gates, zx=self.zx, zh=self.zh, c=self.c, h=self.h, zp=self.zp)

    def layer_output(self, return_sequences: bool, zero_masked: bool = False) -> np.ndarray:
        """What the framework's layer returns: the sequence in *processing* order, or the last h.

        Keras returns a go_backwards sequence in processing order; on masked steps a plain
        layer repeats the carried h, a Bidirectional wrapper returns zeros (zero_masked).
        """
        if not return_sequences:
            if self.steps == 0:
                return self.h0.copy()
            return self.h[:, last_position(self.steps, self.backward)].copy()
        zeroed = zero_masked and not self.mask.all()      # OutputRun borrows this method
        if not self.backward and not zeroed:
            seq = self.h[:, :]                 # the run's own h: a read-only view, not a copy
            seq.flags.writeable = False
            return seq
        seq = self.h[:, ::-1] if self.backward else self.h
        out = buffers.empty(seq.shape)
        np.copyto(out, seq)
        seq = out
        if zeroed:
            m = self.mask[:, ::-1] if self.backward else self.mask
            seq[~m] = 0.0
        return seq
