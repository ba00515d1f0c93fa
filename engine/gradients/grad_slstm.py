"""The sLSTM's backward, one step of ``grad_layer.layer_backward``'s reverse loop.

The loop is the LSTM's (masks, carries, x's gradient at the end); only the step differs: it
reads the forward's recorded numbers (stabilised gates, z = zx + zh + zb, the carried c, nrm,
stab before and after) and differentiates as ``slstm_cell.slstm_step_vjp`` does, the
stabiliser through max as torch differentiates the package's cell. The carried state's
gradient is (B, 3N), c, nrm, stab side by side, like the state itself (docs/architecture.md,
"sLSTM"). Held to the vjp spec and to torch autograd through the package (tests/test_slstm_grad.py).
"""

from __future__ import annotations

import numpy as np

from ..cells.slstm_cell import SlstmWeights, log_sigmoid, log_sigmoid_vjp
from ..runs.trace import LayerTrace
from .grad_gru import blocked


def slstm_step_backward(trace: LayerTrace, w: SlstmWeights, t: int, state_prev: np.ndarray,
                        dh: np.ndarray, dstate: np.ndarray, dz: np.ndarray, cuts) -> np.ndarray:
    """Step ``t``: fills dz (B, 4N), completes ``dstate`` (the total derivative on the state
    after t, c nrm stab: h's path into c and n, i's and f's into m) and returns the derivative
    on the state before it. A state set
    by hand (a fork's cut on h or c) passes nothing back to what computed it."""
    n = trace.units
    gates = trace.gates[:, t]
    i, f, g, o = gates[:, 0], gates[:, 1], gates[:, 2], gates[:, 3]
    z = trace.zx[:, t] + trace.zh[:, t] + trace.zb
    zi, zf, zg, zo = z[:, 0], z[:, 1], z[:, 2], z[:, 3]
    c_prev, n_prev, m_prev = state_prev[:, :n], state_prev[:, n:2 * n], state_prev[:, 2 * n:]
    c_t, n_t = trace.c[:, t, :n], trace.c[:, t, n:2 * n]
    cut_h = [cut for cut in cuts if cut.kind == "h"]
    cut_c = [cut for cut in cuts if cut.kind == "c"]
    if cut_c:                      # c was set by hand: h came from the c the cell computed
        c_t = f * c_prev + i * g
    dh_in = blocked(dh, cut_h)
    dc_from_h = dh_in * o / n_t                          # h = o·c/n
    dn_from_h = -dh_in * o * c_t / (n_t * n_t)
    do = dh_in * c_t / n_t
    dc_out = dstate[:, :n]
    if cut_c:
        flow_c = blocked(dc_out, cut_c) + dc_from_h      # only h's path reaches the inputs
        dc_out += blocked(dc_from_h, cut_c)
    else:
        dc_out += dc_from_h
        flow_c = dc_out
    dstate[:, n:2 * n] += dn_from_h
    dn_t, dm_t = dstate[:, n:2 * n], dstate[:, 2 * n:]
    di = flow_c * g + dn_t                               # c = f·c + i·g, n = f·n + i
    df = flow_c * c_prev + dn_t * n_prev
    dm = dm_t - di * i - df * f                          # i = exp(z_i − m), f = exp(log f + m_prev − m)
    dstate[:, 2 * n:] = dm                               # m's total: through i and f too
    log_f = zf if w.exp_forget else log_sigmoid(zf)
    lfm = log_f + m_prev
    fresh = np.all(n_prev == 0, axis=-1, keepdims=True)
    to_i = np.where(fresh | (zi > lfm), np.float32(1), np.where(zi == lfm, np.float32(0.5), np.float32(0)))
    dlfm = df * f + dm * (1 - to_i)
    dz[:, :n] = di * i + dm * to_i
    dz[:, n:2 * n] = dlfm if w.exp_forget else log_sigmoid_vjp(zf, dlfm)
    dz[:, 2 * n:3 * n] = w.cell_activation.vjp(zg, g, flow_c * i)
    dz[:, 3 * n:] = w.gate_activation.vjp(zo, o, do)
    return np.concatenate([flow_c * f, dn_t * f, dlfm], axis=-1)
