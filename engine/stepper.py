"""The hot loop: one LSTM direction stepped one input position at a time.

``DirectionRunner`` owns preallocated (B, T, ...) buffers and fills one column per ``step``.
``x . W`` for all timesteps is one matmul up front (it does not depend on the recurrence);
each step then costs one (B, H) x (H, 4N) matmul and a handful of in-place ufuncs. The same
runner serves a full trace (``run_all``) and the debugger's incremental Session, so the two
can never disagree.
"""

from __future__ import annotations

import numpy as np

from .cell import CellWeights
from .trace import LayerTrace

F32 = np.float32
NAN = F32(np.nan)


class DirectionRunner:
    """Steps one LSTM direction over a fixed input; processing index p maps to input t."""

    def __init__(self, name: str, weights: CellWeights, x: np.ndarray, *, backward: bool = False,
                 mask: np.ndarray | None = None, h0: np.ndarray | None = None,
                 c0: np.ndarray | None = None, prefill: bool = True,
                 shared_zx: tuple[np.ndarray, np.ndarray] | None = None) -> None:
        """``prefill=False`` skips NaN-filling the buffers: only for a caller that runs every
        step at once (a full trace), where each column is written before anyone reads it.

        ``shared_zx=(zx, zxb)`` reuses another runner's x . W (B, T, 4, N) and x . W + b
        (B, T, 4N) for this x instead of computing and storing them: a debugger fork over a
        window of its parent's run shares them as read-only views (never written here)."""
        x = np.ascontiguousarray(x, dtype=F32)
        if x.ndim != 3:
            raise ValueError(f"layer input must be (batch, time, features), got shape {x.shape}")
        b, t, d = x.shape
        if d != weights.input_dim:
            raise ValueError(f"layer '{name}' expects {weights.input_dim} features, got {d}")
        n, hsize = weights.units, weights.state_size
        self.name, self.weights, self.backward = name, weights, backward
        self.batch, self.steps, self.units = b, t, n
        self.mask = np.ones((b, t), bool) if mask is None else np.asarray(mask, bool).copy()
        self._all_valid = self.mask.all(axis=0)             # per input position
        self.h0 = np.zeros((b, hsize), F32) if h0 is None else np.array(h0, F32).reshape(b, hsize)
        self.c0 = np.zeros((b, n), F32) if c0 is None else np.array(c0, F32).reshape(b, n)
        self.x = x
        if shared_zx is not None:
            self.zx, self._zxb = shared_zx
            if self.zx.shape != (b, t, 4, n) or self._zxb.shape != (b, t, 4 * n):
                raise ValueError("shared x . W does not match the input's shape")
        else:
            self.zx = (x.reshape(b * t, d) @ weights.kernel).reshape(b, t, 4, n)
            self._zxb = (self.zx + weights.bias.reshape(4, n)).reshape(b, t, 4 * n)
            if not self._all_valid.all():
                self.zx[~self.mask] = NAN
        alloc = (lambda shape: np.full(shape, NAN, F32)) if prefill else (lambda shape: np.empty(shape, F32))
        self.gates = alloc((b, t, 4, n))
        self.zh = alloc((b, t, 4, n))
        self.c = alloc((b, t, n))
        self.h = alloc((b, t, hsize))
        self.zp = None if weights.peephole is None else alloc((b, t, 4, n))
        self._gates_flat = self.gates.reshape(b, t, 4 * n)
        self._zh_flat = self.zh.reshape(b, t, 4 * n)
        self._z = np.empty((b, 4 * n), F32)
        self._tmp = np.empty((b, n), F32)
        self._fast = weights.is_plain
        self._sigmoid_gates = weights.gate_activation.name in ("sigmoid", "Sigmoid")
        self._tanh_cell = weights.cell_activation.name in ("tanh", "Tanh")
        self._tanh_out = weights.output_activation.name in ("tanh", "Tanh")

    # --- position bookkeeping ----------------------------------------------------------------
    def position(self, p: int) -> int:
        """Input position read at processing index p."""
        return self.steps - 1 - p if self.backward else p

    def state_before(self, p: int) -> tuple[np.ndarray, np.ndarray]:
        """(h, c) the cell holds before processing index p."""
        if p == 0:
            return self.h0, self.c0
        t = self.position(p - 1)
        return self.h[:, t], self.c[:, t]

    # --- computing -----------------------------------------------------------------------
    def step(self, p: int) -> None:
        """Compute processing index p from the stored state before it."""
        t = self.position(p)
        h_prev, c_prev = self.state_before(p)
        if self._fast:
            self._step_fast(t, h_prev, c_prev)
        else:
            self._step_general(t, h_prev, c_prev)
        if not self._all_valid[t]:
            self._carry_masked(t, h_prev, c_prev)

    def _step_fast(self, t: int, h_prev: np.ndarray, c_prev: np.ndarray) -> None:
        w, n = self.weights, self.units
        zh = self._zh_flat[:, t]
        np.matmul(h_prev, w.recurrent_kernel, out=zh)
        z = self._z
        np.add(self._zxb[:, t], zh, out=z)
        a = self._gates_flat[:, t]
        if self._sigmoid_gates:
            np.negative(z, out=a)
            with np.errstate(over="ignore"):
                np.exp(a, out=a)
            np.add(a, F32(1.0), out=a)
            np.reciprocal(a, out=a)
        else:
            a[...] = self._blockwise(w.gate_activation, z)
        g_slice = slice(2 * n, 3 * n)
        if self._tanh_cell:
            np.tanh(z[:, g_slice], out=a[:, g_slice])
        else:
            a[:, g_slice] = w.cell_activation(z[:, g_slice])  # one block: across-units is fine
        c = self.c[:, t]
        tmp = self._tmp
        np.multiply(a[:, n:2 * n], c_prev, out=c)
        np.multiply(a[:, :n], a[:, g_slice], out=tmp)
        np.add(c, tmp, out=c)
        if self._tanh_out:
            np.tanh(c, out=tmp)
        else:
            tmp[...] = w.output_activation(c)
        np.multiply(a[:, 3 * n:], tmp, out=self.h[:, t])

    def _blockwise(self, act, z: np.ndarray) -> np.ndarray:
        """Apply a gate activation to (B, 4N); across-units ones (softmax) per gate block."""
        if act.elementwise:
            return act(z)
        return act(z.reshape(z.shape[0], 4, self.units)).reshape(z.shape)

    def _step_general(self, t: int, h_prev: np.ndarray, c_prev: np.ndarray) -> None:
        """Peepholes, cell clip, projection, coupled input-forget (ONNX / PyTorch extras)."""
        w, n = self.weights, self.units
        zh = h_prev @ w.recurrent_kernel
        self._zh_flat[:, t] = zh
        z = (self._zxb[:, t] + zh).reshape(-1, 4, n)
        if w.peephole is not None:
            zp = np.zeros_like(z)
            zp[:, 0] = w.peephole[0] * c_prev
            zp[:, 1] = w.peephole[1] * c_prev
            z = z + zp
        clip = w.cell_clip
        zi, zf, zg = z[:, 0], z[:, 1], z[:, 2]
        if clip is not None:
            zi, zf, zg = (np.clip(v, -clip, clip) for v in (zi, zf, zg))
        i = w.gate_activation(zi)
        f = (F32(1.0) - i) if w.input_forget else w.gate_activation(zf)
        g = w.cell_activation(zg)
        c = f * c_prev + i * g
        zo = z[:, 3]
        if w.peephole is not None:
            zp[:, 3] = w.peephole[2] * c
            zo = zo + zp[:, 3]
            self.zp[:, t] = zp
        if clip is not None:
            zo = np.clip(zo, -clip, clip)
        o = w.gate_activation(zo)
        h = o * w.output_activation(c)
        if w.projection is not None:
            h = h @ w.projection
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

    def clear(self, p: int) -> None:
        """Forget processing index p (stepping back): its column becomes NaN again."""
        t = self.position(p)
        for arr in (self.gates, self.zh, self.c, self.h):
            arr[:, t] = NAN
        if self.zp is not None:
            self.zp[:, t] = NAN

    def run(self, start: int = 0, stop: int | None = None) -> None:
        """Compute processing indices start..stop-1 in order."""
        stop = self.steps if stop is None else stop
        if (self._fast and self._sigmoid_gates and self._tanh_cell and self._tanh_out
                and stop > start):
            self._run_plain(start, stop)
            return
        step = self.step
        for p in range(start, stop):
            step(p)

    def _run_plain(self, start: int, stop: int) -> None:
        """``step`` inlined for the common sigmoid/tanh cell: same ufuncs, same order, so the
        numbers are bit-identical to stepping, without per-step attribute and view overhead."""
        n, steps = self.units, self.steps
        u = self.weights.recurrent_kernel
        zxb, zh_all, g_all = self._zxb, self._zh_flat, self._gates_flat
        c_all, h_all, tmp = self.c, self.h, self._tmp
        matmul, add, mul, neg, exp, recip, tanh = (np.matmul, np.add, np.multiply, np.negative,
                                                    np.exp, np.reciprocal, np.tanh)
        one = F32(1.0)
        n2, n3 = 2 * n, 3 * n
        all_valid = self._all_valid
        h_prev, c_prev = self.state_before(start)
        z = self._z
        positions = range(steps - 1 - start, steps - 1 - stop, -1) if self.backward else range(start, stop)
        with np.errstate(over="ignore"):
            for t in positions:
                zh = zh_all[:, t]
                matmul(h_prev, u, out=zh)
                add(zxb[:, t], zh, out=z)
                a = g_all[:, t]
                neg(z, out=a)
                exp(a, out=a)
                add(a, one, out=a)
                recip(a, out=a)
                tanh(z[:, n2:n3], out=a[:, n2:n3])
                c = c_all[:, t]
                mul(a[:, n:n2], c_prev, out=c)
                mul(a[:, :n], a[:, n2:n3], out=tmp)
                add(c, tmp, out=c)
                tanh(c, out=tmp)
                h = h_all[:, t]
                mul(a[:, n3:], tmp, out=h)
                if not all_valid[t]:
                    self._carry_masked(t, h_prev, c_prev)
                h_prev, c_prev = h, c

    # --- edits (debugger forks) --------------------------------------------------------------
    def set_input(self, t: int, x_t: np.ndarray) -> None:
        """Replace input position t (all samples) and its x . W; later steps must be rerun."""
        n = self.units
        self.x[:, t] = x_t
        zx = self.x[:, t] @ self.weights.kernel
        self._zxb[:, t] = zx + self.weights.bias
        self.zx[:, t] = zx.reshape(-1, 4, n)
        self.zx[~self.mask[:, t], t] = NAN

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
            return self.h[:, self.position(self.steps - 1)].copy()
        seq = self.h[:, ::-1] if self.backward else self.h
        seq = np.array(seq, F32)
        if zero_masked:
            m = self.mask[:, ::-1] if self.backward else self.mask
            seq[~m] = 0.0
        return seq
