"""The exact backward pass through one recorded GRU or simple-RNN direction (docs/architecture.md,
"Gradients"; ``grad_layer.layer_backward`` hands a cell without c here).

As the LSTM's: one Python loop over time in reverse processing order, vectorised over batch
and units, from the forward's own numbers (gates, zx, zh, zb, h) and the cell's activation
objects; a masked step passes dh through unchanged; ``dh`` is the total derivative w.r.t. h_t
and ``dx`` one matmul at the end. The written specs of one step's backward are
``gru_cell.gru_step_vjp`` and ``rnn_cell.rnn_step_vjp`` (tests/test_gru_grad.py). A hand-set
h (a debugger fork's ``Cut`` of kind "h") passes no gradient into the step that computed it.
"""

from __future__ import annotations

import numpy as np

from ..runs.trace import LayerTrace
from ..system.progress import advance

F32 = np.float32


def blocked(grad: np.ndarray, cuts) -> np.ndarray:
    """``grad`` with the hand-set units of ``cuts`` zeroed (a copy when anything is cut): a
    value set by hand passes no gradient back to what made it."""
    if not cuts:
        return grad
    out = np.array(grad)
    for cut in cuts:
        if cut.units is None:
            out[...] = 0.0
        else:
            out[:, list(cut.units)] = 0.0
    return out


def state_backward(trace: LayerTrace, dh_all: np.ndarray, cut_at: dict) -> tuple[np.ndarray, np.ndarray]:
    """Fill ``dh_all`` (B, T, N; the external gradient on entry) with the total derivatives;
    returns (dz_all (B, T, kN) for dx, dh0)."""
    w = trace.weights
    b, t_len, n = trace.batch, trace.steps, trace.units
    parts = w.parts
    dz_all = np.zeros((b, t_len, parts * n), F32)
    carry = np.zeros((b, n), F32)
    order = range(t_len) if trace.backward else range(t_len - 1, -1, -1)
    valid = np.asarray(trace.mask, bool)
    u_mat = w.recurrent_kernel
    gru = parts == 3
    with np.errstate(all="ignore"):
        for t in order:
            advance(1)
            t_prev = t + 1 if trace.backward else t - 1
            h_prev = trace.h0 if not 0 <= t_prev < t_len else trace.h[:, t_prev]
            dh = dh_all[:, t]
            dh += carry
            skip = ~valid[:, t]
            if skip.all():
                carry = dh.copy()
                continue
            flow = blocked(dh, [cut for cut in cut_at.get(t, ()) if cut.kind == "h"])
            zx, zh = trace.zx[:, t], trace.zh[:, t]
            dz = dz_all[:, t]
            if gru:
                carry = _gru_step(w, trace.gates[:, t], zx, zh, trace.zb, h_prev, flow, dz, n)
            else:
                z = zx[:, 0] + zh[:, 0] + trace.zb[0]
                dz[...] = w.cell_activation.vjp(z, trace.h[:, t], flow)
                carry = dz @ u_mat.T
            if skip.any():
                dz[skip] = 0.0
                carry[skip] = dh[skip]
    return dz_all, carry


def _gru_step(w, gates: np.ndarray, zx: np.ndarray, zh: np.ndarray, zb: np.ndarray,
              h_prev: np.ndarray, dh: np.ndarray, dz: np.ndarray, n: int) -> np.ndarray:
    """One GRU step's backward (``gru_step_vjp`` from the recorded parts): writes dL/d(x·W + b)
    into ``dz`` and returns dL/dh_{t-1}."""
    u, r, cand = gates[:, 0], gates[:, 1], gates[:, 2]
    z_u = zx[:, 0] + zh[:, 0] + zb[0]
    z_r = zx[:, 1] + zh[:, 1] + zb[1]
    z_n = zx[:, 2] + zb[2] + (r * zh[:, 2] if w.reset_after else zh[:, 2])
    dz_n = w.cell_activation.vjp(z_n, cand, dh * (1 - u))          # h = u·h + (1 − u)·n
    dz_u = w.gate_activation.vjp(z_u, u, dh * (h_prev - cand))
    carry = dh * u
    recurrent = w.recurrent_kernel
    if w.reset_after:
        dz_r = w.gate_activation.vjp(z_r, r, dz_n * zh[:, 2])
        carry = carry + np.concatenate([dz_u, dz_r, dz_n * r], axis=-1) @ recurrent.T
    else:
        d_rh = dz_n @ recurrent[:, 2 * n:].T                       # through (r·h)·U_n
        dz_r = w.gate_activation.vjp(z_r, r, d_rh * h_prev)
        carry = carry + d_rh * r + np.concatenate([dz_u, dz_r], axis=-1) @ recurrent[:, :2 * n].T
    dz[:, :n], dz[:, n:2 * n], dz[:, 2 * n:] = dz_u, dz_r, dz_n
    return carry
