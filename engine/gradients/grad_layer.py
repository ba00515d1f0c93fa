"""The exact backward pass through one recorded LSTM direction (docs/architecture.md, "Gradients").

Given the recorded ``LayerTrace`` and the gradient a target sends into the layer's h_t and c_t
from outside (its output, a layer above, the target itself), ``layer_backward`` walks the run
in reverse processing order and returns the *total* derivatives w.r.t. every h_t and c_t, the
layer input x_t and the initial state. It uses the forward's own numbers (gates, c, the
pre-activation parts) and the cell's own activation objects, so it honours every variant the
stepper computes: any gate/cell/output activation (flat regions of hard_sigmoid give 0),
masks (a carried step passes the gradient through unchanged), backward directions,
peepholes, clip, projection and coupled input-forget.

The written spec of one step's backward is ``cell.lstm_step_vjp`` (``lstm_step_extended_vjp``
with the extras); both paths here are held to it by tests/test_cell_spec.py. They differ from
it in speed only, and in the cuts of a debugger fork's hand-set states, which the spec has no
notion of.

Memory beyond the trace: the outputs (dh, dc, dx: B*T*(H+N+D)) and, for one block of
``BLOCK_STEPS`` input positions at a time, the step's local derivatives and the pre-activation
gradient dL/dz (whose x-gradient is one matmul per block), so what a long run's backward pass
adds on top of its outputs does not grow with the run. One Python loop over time, vectorised
over batch and units, into preallocated buffers.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..cells.cell import CellWeights
from ..errors import ScopeError
from ..runs.trace import LayerTrace
from ..system.blas import blas_limited
from ..system.progress import advance
from .grad_gru import blocked, state_backward
from .grad_slstm import slstm_step_backward

F32 = np.float32


@dataclass
class LayerGrad:
    """Gradients of one target through one traced direction, indexed by input position."""

    name: str
    direction: str
    dx: np.ndarray       # (B, T, D) w.r.t. the layer's own input
    dh: np.ndarray       # (B, T, H) total derivative w.r.t. h_t
    dc: np.ndarray       # (B, T, N) total derivative w.r.t. c_t
    dh0: np.ndarray      # (B, H)
    dc0: np.ndarray      # (B, N)


@dataclass(frozen=True)
class Cut:
    """A state the user set by hand (a debugger fork's edit): no gradient flows from that
    quantity into what computed it. ``kind`` is "h" or "c"; ``units`` None means all."""

    position: int
    kind: str
    units: tuple[int, ...] | None = None


BLOCK_STEPS = 4096
"""Input positions whose local derivatives and dL/dz the backward pass holds at once: a run up
to this long is one block (one x-gradient matmul, as a whole-run pass); a longer one adds a
few MB at a time instead of ~30 floats per unit and step."""


def _blocks(t_len: int, backward: bool) -> list[tuple[int, int]]:
    """Input-position ranges [lo, hi) of BLOCK_STEPS, in the order the backward pass visits
    them (reverse processing order: the last positions first for a forward direction)."""
    blocks = [(lo, min(t_len, lo + BLOCK_STEPS)) for lo in range(0, t_len, BLOCK_STEPS)]
    return blocks if backward else blocks[::-1]


@blas_limited
def layer_backward(trace: LayerTrace, dh_ext: np.ndarray | None, dc_ext: np.ndarray | None = None,
                   *, cuts: list[Cut] | tuple[Cut, ...] = (), need_dx: bool = True,
                   own_seeds: bool = False) -> LayerGrad:
    """Backpropagate external gradients on h (B,T,H) and c (B,T,N) through the recorded run.
    ``own_seeds``: the caller hands ``dh_ext`` and ``dc_ext`` over (a target's fresh seed), so
    float32 ones become the totals in place instead of being copied (a long run's T x H)."""
    w = trace.weights
    if not w.kind.differentiable:
        raise ScopeError(f"layer '{trace.name}' is an {w.kind.written}: LSTM Scope does not "
                         f"compute its gradients yet")
    b, t_len, n = trace.batch, trace.steps, trace.units
    hsize = w.state_size
    csize = w.cell_size                                      # N, or 0 for a GRU or RNN
    take = np.asarray if own_seeds else np.array
    dh_all = np.zeros((b, t_len, hsize), F32) if dh_ext is None else take(dh_ext, F32)
    dc_all = np.zeros((b, t_len, csize), F32) if dc_ext is None else take(dc_ext, F32)
    if dh_all.shape != (b, t_len, hsize) or dc_all.shape != (b, t_len, csize):
        raise ValueError(f"gradient shapes {dh_all.shape} / {dc_all.shape} do not fit layer "
                         f"'{trace.name}' ({b}, {t_len}, {hsize}) / ({b}, {t_len}, {csize})")
    cut_at: dict[int, list[Cut]] = {}
    for cut in cuts:
        cut_at.setdefault(int(cut.position), []).append(cut)
    if csize == 0:                                           # no c: engine.gradients.grad_gru
        dz_all, carry_h = state_backward(trace, dh_all, cut_at)
        return _finish(trace, w, dz_all, dh_all, dc_all, carry_h, np.zeros((b, 0), F32), need_dx)
    carry_h = np.zeros((b, hsize), F32)
    carry_c = np.zeros((b, csize), F32)                      # an sLSTM's: c, nrm, stab (3N)
    ut = np.ascontiguousarray(w.recurrent_kernel.T)          # (4N, H)
    kt = np.ascontiguousarray(w.kernel.T)                    # (4N, D)
    valid = np.asarray(trace.mask, bool)
    all_valid = valid.all(axis=0)
    dx = np.empty((b, t_len, kt.shape[1]), F32) if need_dx and t_len > BLOCK_STEPS else None
    classic = w.is_classic and not cut_at
    for lo, hi in _blocks(t_len, trace.backward):
        order = range(lo, hi) if trace.backward else range(hi - 1, lo - 1, -1)
        dz_block = np.zeros((b, hi - lo, 4 * n), F32)
        with np.errstate(all="ignore"):
            if classic:
                _plain_loop(trace, lo, hi, order, valid, all_valid, dh_all, dc_all, dz_block,
                            carry_h, carry_c, ut)
            else:
                carry_c = _general_loop(trace, lo, order, valid, all_valid, dh_all, dc_all,
                                        dz_block, carry_h, carry_c, ut, cut_at)
        if need_dx:
            if w.identity_kernel:        # x·I: dL/dx is dL/dz itself (an xlstm sLSTM cell)
                part = dz_block
            else:
                part = (dz_block.reshape(b * (hi - lo), 4 * n) @ kt).reshape(b, hi - lo, -1)
            if dx is None:                                   # the whole run is one block
                dx = part
            else:
                dx[:, lo:hi] = part
    if need_dx and dx is None:                               # no steps at all
        dx = np.zeros((b, 0, kt.shape[1]), F32)
    return LayerGrad(trace.name, trace.direction, dx, dh_all, dc_all, carry_h.copy(), carry_c.copy())


def _general_loop(trace: LayerTrace, lo: int, order, valid: np.ndarray, all_valid: np.ndarray,
                  dh_all: np.ndarray, dc_all: np.ndarray, dz_block: np.ndarray,
                  carry_h: np.ndarray, carry_c: np.ndarray, ut: np.ndarray,
                  cut_at: dict[int, list[Cut]]) -> np.ndarray:
    """One block of steps of the general backward (``_general_step`` per step); ``carry_h``
    is updated in place, the c carry returned."""
    w, t_len = trace.weights, trace.steps
    step = slstm_step_backward if w.kind.cell_parts else _general_step   # sLSTM: grad_slstm
    for t in order:
        advance(1)
        t_prev = t + 1 if trace.backward else t - 1
        c_prev = trace.c0 if not 0 <= t_prev < t_len else trace.c[:, t_prev]
        dh = dh_all[:, t]
        dh += carry_h
        dc = dc_all[:, t]
        dc += carry_c
        skip = None if all_valid[t] else ~valid[:, t]
        if skip is not None:
            if skip.all():          # nobody computed this step: everything carries
                carry_h[...] = dh
                carry_c = dc.copy()
                continue
            held_dc = dc[skip].copy()
        dz = dz_block[:, t - lo]
        carry_c = step(trace, w, t, c_prev, dh, dc, dz, cut_at.get(t, ()))
        np.matmul(dz, ut, out=carry_h)
        if skip is not None:
            dz[skip] = 0.0
            dc[skip] = held_dc
            carry_h[skip] = dh[skip]
            carry_c[skip] = held_dc
    return carry_c


def _finish(trace: LayerTrace, w: CellWeights, dz_all: np.ndarray, dh_all: np.ndarray,
            dc_all: np.ndarray, carry_h: np.ndarray, carry_c: np.ndarray, need_dx: bool) -> LayerGrad:
    b, t_len, n4 = dz_all.shape
    dx = None
    if need_dx:
        kt = np.ascontiguousarray(w.kernel.T)                # (4N, D)
        dx = (dz_all.reshape(b * t_len, n4) @ kt).reshape(b, t_len, -1)
    return LayerGrad(trace.name, trace.direction, dx, dh_all, dc_all, carry_h.copy(), carry_c.copy())


def _previous_c(trace: LayerTrace, lo: int, hi: int) -> np.ndarray:
    """(B, hi-lo, N) the c each position of lo..hi-1 started from (c0 for the first processed)."""
    c, c0 = trace.c, trace.c0[:, None]
    if trace.backward:
        return np.concatenate([c[:, lo + 1:], c0], axis=1) if hi == trace.steps else c[:, lo + 1:hi + 1]
    return np.concatenate([c0, c[:, :hi - 1]], axis=1) if lo == 0 else c[:, lo - 1:hi - 1]


def _plain_loop(trace: LayerTrace, lo: int, hi: int, order, valid: np.ndarray,
                all_valid: np.ndarray, dh_all: np.ndarray, dc_all: np.ndarray,
                dz_block: np.ndarray, carry_h: np.ndarray, carry_c: np.ndarray,
                ut: np.ndarray) -> None:
    """sigmoid gates, tanh cell and output, nothing else, over positions lo..hi-1. Every local
    derivative depends only on the forward's numbers, so they are computed for the block's
    steps at once (whole-array ufuncs); the loop over time then costs a handful of (B, N)
    multiply-adds and one matmul a step. ``carry_h`` and ``carry_c`` are updated in place."""
    n = trace.units
    g4 = trace.gates[:, lo:hi]
    i, f, g, o = g4[:, :, 0], g4[:, :, 1], g4[:, :, 2], g4[:, :, 3]
    c = trace.c[:, lo:hi]
    c_prev = _previous_c(trace, lo, hi)
    tc = np.tanh(c)
    h_to_c = o * (1 - tc * tc)                               # dh -> dc through h = o tanh(c)
    h_to_zo = tc * o * (1 - o)                               # dh -> dz_o
    c_to_z = np.stack([g * i * (1 - i), c_prev * f * (1 - f), i * (1 - g * g)], axis=2)  # (B,L,3,N)
    del tc, c_prev
    dz3 = dz_block.reshape(dz_block.shape[0], hi - lo, 4, n)
    mul, add, matmul = np.multiply, np.add, np.matmul
    tmp = np.empty_like(carry_c)
    for t in order:
        advance(1)
        k = t - lo
        dh = dh_all[:, t]
        add(dh, carry_h, out=dh)
        dc = dc_all[:, t]
        add(dc, carry_c, out=dc)
        skip = None if all_valid[t] else ~valid[:, t]
        if skip is not None:
            if skip.all():          # nobody computed this step: everything carries
                carry_h[...] = dh
                carry_c[...] = dc
                continue
            held_dc = dc[skip].copy()
        mul(dh, h_to_c[:, k], out=tmp)
        add(dc, tmp, out=dc)
        dz = dz3[:, k]
        mul(dh, h_to_zo[:, k], out=dz[:, 3])
        mul(dc[:, None, :], c_to_z[:, k], out=dz[:, :3])
        mul(dc, f[:, k], out=carry_c)
        matmul(dz_block[:, k], ut, out=carry_h)
        if skip is not None:
            dz[skip] = 0.0
            dc[skip] = held_dc
            carry_h[skip] = dh[skip]
            carry_c[skip] = held_dc


def _general_step(trace: LayerTrace, w: CellWeights, t: int, c_prev: np.ndarray, dh: np.ndarray,
                  dc: np.ndarray, dz: np.ndarray, cuts) -> np.ndarray:
    """Any activations, peepholes, clip, projection, coupled input-forget, edited states."""
    n = trace.units
    gates = trace.gates[:, t]
    i, f, g, o = gates[:, 0], gates[:, 1], gates[:, 2], gates[:, 3]
    z = trace.zx[:, t] + trace.zh[:, t] + trace.zb
    if trace.zp is not None:
        z = z + trace.zp[:, t]
    zi, zf, zg, zo = z[:, 0], z[:, 1], z[:, 2], z[:, 3]
    clip = w.cell_clip
    keep = None
    if clip is not None:
        keep = (np.abs(z) <= clip).astype(F32)
        zi, zf, zg, zo = (np.clip(v, -clip, clip) for v in (zi, zf, zg, zo))
    c = trace.c[:, t]
    cut_h = [cut for cut in cuts if cut.kind == "h"]
    cut_c = [cut for cut in cuts if cut.kind == "c"]
    if cut_c:   # c was set by hand: h came from the c the cell computed
        c = f * c_prev + i * g
    dh_in = blocked(dh, cut_h)
    dm = dh_in @ w.projection.T if w.projection is not None else dh_in
    act = w.output_activation
    ac = act(c)
    do = dm * ac
    dc_in = dm * o
    dc_from_h = act.vjp(c, ac, dc_in)
    dzo = w.gate_activation.vjp(zo, o, do)
    if keep is not None:
        dzo = dzo * keep[:, 3]
    if w.peephole is not None:
        dc_from_h = dc_from_h + dzo * w.peephole[2]
    if cut_c:
        flow = blocked(dc, cut_c) + dc_from_h   # only the h path reaches the cell's inputs
        dc += blocked(dc_from_h, cut_c)     # the set c feeds no h: no h path in it
    else:
        dc += dc_from_h
        flow = dc
    di = flow * g
    dg = flow * i
    df = flow * c_prev
    if w.input_forget:
        dzi = w.gate_activation.vjp(zi, i, di - df)
        dzf = np.zeros_like(dzi)
    else:
        dzi = w.gate_activation.vjp(zi, i, di)
        dzf = w.gate_activation.vjp(zf, f, df)
    dzg = w.cell_activation.vjp(zg, g, dg)
    if keep is not None:
        dzi, dzf, dzg = dzi * keep[:, 0], dzf * keep[:, 1], dzg * keep[:, 2]
    dz[:, :n], dz[:, n:2 * n], dz[:, 2 * n:3 * n], dz[:, 3 * n:] = dzi, dzf, dzg, dzo
    carry = flow * f
    if w.peephole is not None:
        carry = carry + dzi * w.peephole[0] + dzf * w.peephole[1]
    return carry
