"""The mLSTM of xLSTM (Beck et al. 2024) in its recurrent form, the written spec.

Per head, with q, k, v (DH,) read at step t and scalar gate pre-activations z_i, z_f (the
``xlstm`` package's ``mLSTMCell`` computes them from q, k, v with two linear maps):

    m_t = max(log σ(z_f) + m_{t-1}, z_i)                   the stabiliser
    i = exp(z_i − m_t)   f = exp(log σ(z_f) + m_{t-1} − m_t)
    C_t = f·C_{t-1} + i·(k/√DH) vᵀ       n_t = f·n_{t-1} + i·k/√DH
    h_t = (qᵀ C_t) / (max(|qᵀ n_t|, exp(−m_t)) + ε)

as the package's ``recurrent_step_stabilized_simple`` computes it; its parallel form
(``parallel_stabilized_simple``, what ``mLSTMCell.forward`` runs) gives the same h within the
project's tolerance (tests/test_mlstm_spec.py). This is the spec a runner and its views
(C as (B, T, heads, DH, DH), windowed) are to be held to; no runner steps it yet
(docs/architecture.md, "mLSTM").
"""

from __future__ import annotations

import numpy as np

from .slstm_cell import log_sigmoid

EPS = 1e-6
"""The package's ε in h's denominator."""


def mlstm_step(q: np.ndarray, k: np.ndarray, v: np.ndarray, z_i: np.ndarray, z_f: np.ndarray,
               c: np.ndarray, n: np.ndarray, m: np.ndarray):
    """One step of every head: q, k, v (..., heads, DH), z_i, z_f (..., heads), state C
    (..., heads, DH, DH), n (..., heads, DH), m (..., heads). Returns (i, f, C, n, m, h) after
    the step: the stabilised gates (..., heads), the new state and h (..., heads, DH)."""
    dh = q.shape[-1]
    log_f = log_sigmoid(z_f)
    m_new = np.maximum(log_f + m, z_i)
    i = np.exp(z_i - m_new)
    f = np.exp(log_f + m - m_new)
    k = k / np.sqrt(np.asarray(dh, q.dtype))
    c = f[..., None, None] * c + i[..., None, None] * (k[..., :, None] * v[..., None, :])
    n = f[..., None] * n + i[..., None] * k
    num = np.einsum("...d,...de->...e", q, c)                       # qᵀ C
    qn = np.einsum("...d,...d->...", q, n)
    h = num / (np.maximum(np.abs(qn), np.exp(-m_new)) + EPS)[..., None]
    return i, f, c, n, m_new, h


def mlstm_run(q: np.ndarray, k: np.ndarray, v: np.ndarray, z_i: np.ndarray, z_f: np.ndarray):
    """h (B, T, heads, DH) of the recurrent form over q, k, v (B, T, heads, DH) and z_i, z_f
    (B, T, heads), from a zero state; and the last state (C, n, m)."""
    b, t_len, heads, dh = q.shape
    c = np.zeros((b, heads, dh, dh), q.dtype)
    n = np.zeros((b, heads, dh), q.dtype)
    m = np.zeros((b, heads), q.dtype)
    h = np.empty_like(q)
    for t in range(t_len):
        _, _, c, n, m, h[:, t] = mlstm_step(q[:, t], k[:, t], v[:, t], z_i[:, t], z_f[:, t], c, n, m)
    return h, (c, n, m)
