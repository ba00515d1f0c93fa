"""The classic LSTM cell's steps compiled with numba (optional: ``engine.runs.compiled`` imports
this module only when numba is installed, and sets where its compiled code is cached first).

Each step's elementwise work (z = zx + b + h·U, the gates, c, h, every recorded array) is one
pass per sample that writes straight into the runner's batch-first buffers, instead of about
ten numpy calls a step and a copy of each block of steps out of time-major scratch. For a group
of up to ``compiled.GROUP`` samples the recurrent product is computed here too (``_product``),
so a whole block of steps is one call. The arithmetic is ``cell.lstm_step``'s: sigmoid(z) = (tanh(z/2) + 1)/2 as on the
numpy path (``cell.gate_scale``), and tanh is ``_tanh``, a rational approximation that vectorises
(numba's own tanh calls libm once per element, about 8x slower than numpy's): within 3e-7 of
tanh in float64, as close as the numpy path is to any framework. The same code runs every
window of a run, so a recomputed window is bit-identical to the whole run.
"""

from __future__ import annotations

import numpy as np
from numba import njit

F32 = np.float32
ELEMENTWISE = {"contract"}
"""A multiply-add may become one fused instruction: the same instructions every call, so the
results do not change from call to call."""
REDUCTION = {"contract", "reassoc"}
"""The matvec's dot products may sum in vector lanes (fixed by the compiled code, not by the
data: bit-identical from one call to the next)."""

_CLAMP = F32(7.90531110763549805)      # the fit's range; 1 - tanh(x) < 3e-7 beyond it
_TINY = F32(0.0004)                    # below this tanh(x) is x in float32


@njit(cache=True, inline="always", error_model="numpy")
def _tanh(x):
    """tanh(x) in float32 (Eigen's rational approximation, odd degree 13 over even degree 6).
    NaN stays NaN (every clamp keeps x when a comparison is false); beyond the clamp it is
    exactly +-1, as numpy's is (a saturated gate reads 1, not 0.99999976)."""
    y = _CLAMP if x > _CLAMP else x
    y = -_CLAMP if y < -_CLAMP else y
    one = F32(1.0) if x > 0 else F32(-1.0)
    y2 = y * y
    p = F32(-2.76076847742355e-16)
    p = p * y2 + F32(2.00018790482477e-13)
    p = p * y2 + F32(-8.60467152213735e-11)
    p = p * y2 + F32(5.12229709037114e-08)
    p = p * y2 + F32(1.48572235717979e-05)
    p = p * y2 + F32(6.37261928875436e-04)
    p = p * y2 + F32(4.89352455891786e-03)
    q = F32(1.19825839466702e-06)
    q = q * y2 + F32(1.18534705686654e-04)
    q = q * y2 + F32(2.26843463243900e-03)
    q = q * y2 + F32(4.89352518554385e-03)
    r = (p * y) / q
    r = one if abs(x) > _CLAMP else r
    return x if abs(x) < _TINY else r


@njit(cache=True, fastmath=ELEMENTWISE, error_model="numpy")
def tanh_into(z, out):
    """out = ``_tanh``(z) over 1-D arrays (what the tests hold against np.tanh)."""
    for j in range(z.size):
        out[j] = _tanh(z[j])


@njit(cache=True, inline="always", fastmath=ELEMENTWISE, error_model="numpy")
def _finish(zh, zx, bias, scale, shift, valid, h, c, zh_out, gates_out, c_out, h_out):
    """One sample's step after its recurrent product ``zh`` (4N,): the gates i f g o, c and h
    from the state ``h``, ``c`` (updated in place), written to the step's rows of the recorded
    arrays. A masked sample records NaN for zh and the gates and carries h and c."""
    n4 = zx.size
    n = n4 // 4
    if not valid:
        for j in range(n4):
            zh_out[j] = np.nan
            gates_out[j] = np.nan
        for j in range(n):
            c_out[j] = c[j]
            h_out[j] = h[j]
        return
    for j in range(n4):                 # i f o = sigmoid(z) = tanh(z/2)/2 + 1/2, g = tanh(z)
        v = zh[j]
        zh_out[j] = v
        gates_out[j] = _tanh(scale[j] * (zx[j] + bias[j] + v)) * scale[j] + shift[j]
    for j in range(n):                  # c = f * c_prev + i * g
        cj = gates_out[n + j] * c[j] + gates_out[j] * gates_out[2 * n + j]
        c_out[j] = cj
        c[j] = cj
    for j in range(n):                  # h = o * tanh(c)
        hj = gates_out[3 * n + j] * _tanh(c[j])
        h_out[j] = hj
        h[j] = hj


@njit(cache=True, fastmath=ELEMENTWISE, error_model="numpy")
def classic_step(zh, zx, bias, scale, shift, t, mask, all_valid, h, c, zh_out, gates_out,
                 c_out, h_out):
    """Input position t of a batch, after numpy's recurrent product ``zh`` (B, 4N) (a view of
    the (4N, B) product U^T·h^T); zx, zh_out, gates_out (B, T, 4N),
    c_out, h_out (B, T, N) by input position; h, c (B, N) the state, updated in place."""
    for b in range(zx.shape[0]):
        _finish(zh[b], zx[b, t], bias, scale, shift, all_valid or mask[b, t], h[b], c[b],
                zh_out[b, t], gates_out[b, t], c_out[b, t], h_out[b, t])


@njit(cache=True, fastmath=REDUCTION, error_model="numpy")
def _product(ut, h, out):
    """out = h · U (B, 4N) for a few samples, from U transposed (4N, N): dot products over a
    tile of four rows of U^T and two samples at a time, so each load serves two or four
    products (faster than OpenBLAS up to 8 samples: its (B, N) x (N, 4N) product packs all
    of U every call). Not inlined: its reassociation flags stay on its own instructions."""
    m, n = ut.shape
    batch = h.shape[0]
    j = 0
    while j + 4 <= m:
        r0 = ut[j]
        r1 = ut[j + 1]
        r2 = ut[j + 2]
        r3 = ut[j + 3]
        b = 0
        while b + 2 <= batch:
            x0 = h[b]
            x1 = h[b + 1]
            a0 = F32(0.0)
            a1 = F32(0.0)
            a2 = F32(0.0)
            a3 = F32(0.0)
            c0 = F32(0.0)
            c1 = F32(0.0)
            c2 = F32(0.0)
            c3 = F32(0.0)
            for k in range(n):
                v0 = x0[k]
                v1 = x1[k]
                u0 = r0[k]
                u1 = r1[k]
                u2 = r2[k]
                u3 = r3[k]
                a0 += u0 * v0
                a1 += u1 * v0
                a2 += u2 * v0
                a3 += u3 * v0
                c0 += u0 * v1
                c1 += u1 * v1
                c2 += u2 * v1
                c3 += u3 * v1
            o = out[b]
            o[j] = a0
            o[j + 1] = a1
            o[j + 2] = a2
            o[j + 3] = a3
            o = out[b + 1]
            o[j] = c0
            o[j + 1] = c1
            o[j + 2] = c2
            o[j + 3] = c3
            b += 2
        while b < batch:
            x0 = h[b]
            a0 = F32(0.0)
            a1 = F32(0.0)
            a2 = F32(0.0)
            a3 = F32(0.0)
            for k in range(n):
                v0 = x0[k]
                a0 += r0[k] * v0
                a1 += r1[k] * v0
                a2 += r2[k] * v0
                a3 += r3[k] * v0
            o = out[b]
            o[j] = a0
            o[j + 1] = a1
            o[j + 2] = a2
            o[j + 3] = a3
            b += 1
        j += 4
    while j < m:
        r = ut[j]
        for b in range(batch):
            x0 = h[b]
            a0 = F32(0.0)
            for k in range(n):
                a0 += r[k] * x0[k]
            out[b, j] = a0
        j += 1


@njit(cache=True, fastmath=ELEMENTWISE, error_model="numpy")
def classic_block(ut, zx, bias, scale, shift, order, mask, all_valid, h, c, zh, zh_out,
                  gates_out, c_out, h_out):
    """Input positions ``order`` (in processing order) of a group of a few samples, the
    recurrent product included (``_product``): one call for a whole block of steps.
    Arguments as ``classic_step``'s, with U transposed (4N, N) and ``zh`` (B, 4N) scratch."""
    for k in range(order.size):
        t = order[k]
        _product(ut, h, zh)
        for b in range(zx.shape[0]):
            _finish(zh[b], zx[b, t], bias, scale, shift, all_valid[k] or mask[b, t], h[b], c[b],
                    zh_out[b, t], gates_out[b, t], c_out[b, t], h_out[b, t])
