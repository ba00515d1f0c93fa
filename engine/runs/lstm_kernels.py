"""The classic LSTM cell's steps compiled with numba (optional: ``engine.runs.compiled`` imports
this module only when numba is installed, and sets where its compiled code is cached first).

Each step's elementwise work (z = zx + b + h·U, the gates, c, h, every recorded array) is one
pass per sample in rows that stay in the cache, then written straight into the runner's
batch-first buffers with streaming stores (``stream_row``), instead of about ten numpy calls a
step and a copy of each block of steps out of time-major scratch. For a group
of up to ``compiled.GROUP`` samples the recurrent product is computed here too (``_tiled``,
``_dots``),
so a whole block of steps is one call. The arithmetic is ``cell.lstm_step``'s: sigmoid(z) = (tanh(z/2) + 1)/2 as on the
numpy path (``cell.gate_scale``), and tanh is ``_tanh``, a rational approximation that vectorises
(numba's own tanh calls libm once per element, about 8x slower than numpy's): within 3e-7 of
tanh in float64, as close as the numpy path is to any framework. The same code runs every
window of a run, so a recomputed window is bit-identical to the whole run.
"""

from __future__ import annotations

import numpy as np
from llvmlite import ir
from numba import njit, types
from numba.extending import intrinsic

F32 = np.float32
ELEMENTWISE = {"contract"}
"""A multiply-add may become one fused instruction: the same instructions every call, so the
results do not change from call to call."""
REDUCTION = {"contract", "reassoc"}
"""The matvec's dot products may sum in vector lanes (fixed by the compiled code, not by the
data: bit-identical from one call to the next)."""

# --- streaming stores (here, not in a module of their own: numba's cache of a kernel notices
# changes to its own file only, and these are compiled into the kernels that call them) -------
# A trace writes ten to fourteen numbers per unit, sample and step into arrays far larger than
# the caches and reads none of them back during the run. An ordinary store first reads the line
# it writes into, so recording cost twice its bytes in memory traffic (filling 82 MB: 11 ms of
# CPU, streamed 3.8 ms, same run). A streaming store writes whole 64-byte lines past the caches
# with no read: the same bits, another way to memory. ``fence`` orders them before whatever the
# thread does next (another thread reading the trace included).

LINE = 16
"""float32 values in one 64-byte cache line: one streaming store."""


@intrinsic
def _address(typingctx, arr):
    """The address of ``arr``'s first element, as an integer (to find its place in a line)."""
    def codegen(context, builder, signature, args):
        data = context.make_array(signature.args[0])(context, builder, args[0]).data
        return builder.ptrtoint(data, context.get_value_type(types.intp))
    return types.intp(arr), codegen


@intrinsic
def _stream_line(typingctx, dst, i, src, j):
    """dst[i:i+16] = src[j:j+16] as one non-temporal store (dst + i on a 64-byte boundary;
    both arrays contiguous: any other layout does not compile)."""
    if getattr(dst, "layout", None) != "C" or getattr(src, "layout", None) != "C":
        return None
    def codegen(context, builder, signature, args):
        dst_t, _, src_t, _ = signature.args
        out = context.make_array(dst_t)(context, builder, args[0]).data
        inp = context.make_array(src_t)(context, builder, args[2]).data
        line = ir.VectorType(ir.FloatType(), LINE)
        value = builder.load(builder.bitcast(builder.gep(inp, [args[3]]), line.as_pointer()),
                             align=4)
        store = builder.store(value, builder.bitcast(builder.gep(out, [args[1]]),
                                                     line.as_pointer()), align=64)
        store.set_metadata("nontemporal",
                           builder.module.add_metadata([ir.Constant(ir.IntType(32), 1)]))
        return context.get_dummy_value()
    return types.void(dst, i, src, j), codegen


@intrinsic
def fence(typingctx):
    """A full memory fence: the streamed stores are visible before any later access."""
    def codegen(context, builder, signature, args):
        builder.fence("seq_cst")
        return context.get_dummy_value()
    return types.void(), codegen


@njit(cache=True, inline="always")
def stream_row(dst, src):
    """dst[:] = src (1-D float32, contiguous): plain stores up to dst's first 64-byte boundary
    and past its last whole line, streaming stores for the whole lines between. A row shorter
    than a line, or not on a 4-byte boundary, is copied plainly."""
    n = src.size
    offset = _address(dst) % 64
    start = min(n, ((64 - offset) % 64) // 4) if offset % 4 == 0 else n
    for k in range(start):
        dst[k] = src[k]
    k = start
    while k + LINE <= n:
        _stream_line(dst, k, src, k)
        k += LINE
    for r in range(k, n):
        dst[r] = src[r]


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
def _finish(zh, zx, bias, scale, shift, h, c, gates):
    """One sample's step after its recurrent product ``zh`` (4N,): the gates i f g o into the
    scratch row ``gates``, c and h from the state ``h``, ``c`` (updated in place)."""
    n4 = zx.size
    n = n4 // 4
    for j in range(n4):                 # i f o = sigmoid(z) = tanh(z/2)/2 + 1/2, g = tanh(z)
        gates[j] = _tanh(scale[j] * (zx[j] + bias[j] + zh[j])) * scale[j] + shift[j]
    for j in range(n):                  # c = f * c_prev + i * g
        c[j] = gates[n + j] * c[j] + gates[j] * gates[2 * n + j]
    for j in range(n):                  # h = o * tanh(c)
        h[j] = gates[3 * n + j] * _tanh(c[j])


@njit(cache=True, inline="always")
def _masked(zh, gates):
    """A masked sample's step: NaN for zh and the gates (not computed); h and c carry over."""
    for j in range(zh.size):
        zh[j] = np.nan
        gates[j] = np.nan


@njit(cache=True, inline="always")
def _record(zh, gates, c, h, zh_out, gates_out, c_out, h_out):
    """A sample's step, computed in rows that stay in the cache, written to its rows of the
    recorded arrays with streaming stores (``stream_stores``: nothing of them is read back
    during the run, and an ordinary store reads each line before writing it)."""
    stream_row(zh_out, zh)
    stream_row(gates_out, gates)
    stream_row(c_out, c)
    stream_row(h_out, h)


@njit(cache=True, fastmath=ELEMENTWISE, error_model="numpy")
def classic_step(zh, zx, bias, scale, shift, t, mask, all_valid, h, c, row, gates, zh_out,
                 gates_out, c_out, h_out):
    """Input position t of a batch, after numpy's recurrent product ``zh`` (B, 4N) (a view of
    the (4N, B) product U^T·h^T), each sample's row copied into the contiguous scratch ``row``
    (4N,) and its gates computed in ``gates`` (4N,); zx, zh_out, gates_out (B, T, 4N),
    c_out, h_out (B, T, N) by input position; h, c (B, N) the state, updated in place."""
    for b in range(zx.shape[0]):
        for j in range(row.size):
            row[j] = zh[b, j]
        if all_valid or mask[b, t]:     # the branch here, not in _finish: there the streamed
            _finish(row, zx[b, t], bias, scale, shift, h[b], c[b], gates)    # kernel ran at
        else:                                                               # half speed
            _masked(row, gates)
        _record(row, gates, c[b], h[b], zh_out[b, t], gates_out[b, t], c_out[b, t], h_out[b, t])
    fence()


@njit(cache=True, fastmath=ELEMENTWISE, error_model="numpy")
def _tile(panels, h, out, b, jb):
    """out[b:b+8, j:j+16] = h[b:b+8] · U[:, j:j+16], j = 16 jb, from U's columns j:j+16 stored
    contiguously (``panels[jb]``, (N, 16): a walk down U's rows in place of a 16 KB stride at
    1,024 units, which made a step 2.3x slower there): each product sums over k in order, 8 samples x 16 columns held in registers (a multiply-add of a row of U by
    one h value each; written out as scalars, which LLVM's SLP vectoriser packs into vectors:
    ``compiled`` turns it on for these kernels). Not inlined, so its registers are its own."""
    a0_0 = a0_1 = a0_2 = a0_3 = a0_4 = a0_5 = a0_6 = a0_7 = F32(0.0)
    a0_8 = a0_9 = a0_10 = a0_11 = a0_12 = a0_13 = a0_14 = a0_15 = F32(0.0)
    a1_0 = a1_1 = a1_2 = a1_3 = a1_4 = a1_5 = a1_6 = a1_7 = F32(0.0)
    a1_8 = a1_9 = a1_10 = a1_11 = a1_12 = a1_13 = a1_14 = a1_15 = F32(0.0)
    a2_0 = a2_1 = a2_2 = a2_3 = a2_4 = a2_5 = a2_6 = a2_7 = F32(0.0)
    a2_8 = a2_9 = a2_10 = a2_11 = a2_12 = a2_13 = a2_14 = a2_15 = F32(0.0)
    a3_0 = a3_1 = a3_2 = a3_3 = a3_4 = a3_5 = a3_6 = a3_7 = F32(0.0)
    a3_8 = a3_9 = a3_10 = a3_11 = a3_12 = a3_13 = a3_14 = a3_15 = F32(0.0)
    a4_0 = a4_1 = a4_2 = a4_3 = a4_4 = a4_5 = a4_6 = a4_7 = F32(0.0)
    a4_8 = a4_9 = a4_10 = a4_11 = a4_12 = a4_13 = a4_14 = a4_15 = F32(0.0)
    a5_0 = a5_1 = a5_2 = a5_3 = a5_4 = a5_5 = a5_6 = a5_7 = F32(0.0)
    a5_8 = a5_9 = a5_10 = a5_11 = a5_12 = a5_13 = a5_14 = a5_15 = F32(0.0)
    a6_0 = a6_1 = a6_2 = a6_3 = a6_4 = a6_5 = a6_6 = a6_7 = F32(0.0)
    a6_8 = a6_9 = a6_10 = a6_11 = a6_12 = a6_13 = a6_14 = a6_15 = F32(0.0)
    a7_0 = a7_1 = a7_2 = a7_3 = a7_4 = a7_5 = a7_6 = a7_7 = F32(0.0)
    a7_8 = a7_9 = a7_10 = a7_11 = a7_12 = a7_13 = a7_14 = a7_15 = F32(0.0)
    for k in range(panels.shape[1]):
        ur = panels[jb, k]
        u0, u1, u2, u3 = ur[0], ur[1], ur[2], ur[3]
        u4, u5, u6, u7 = ur[4], ur[5], ur[6], ur[7]
        u8, u9, u10, u11 = ur[8], ur[9], ur[10], ur[11]
        u12, u13, u14, u15 = ur[12], ur[13], ur[14], ur[15]
        x = h[b + 0, k]
        a0_0, a0_1, a0_2, a0_3 = a0_0 + x * u0, a0_1 + x * u1, a0_2 + x * u2, a0_3 + x * u3
        a0_4, a0_5, a0_6, a0_7 = a0_4 + x * u4, a0_5 + x * u5, a0_6 + x * u6, a0_7 + x * u7
        a0_8, a0_9, a0_10, a0_11 = a0_8 + x * u8, a0_9 + x * u9, a0_10 + x * u10, a0_11 + x * u11
        a0_12, a0_13, a0_14, a0_15 = a0_12 + x * u12, a0_13 + x * u13, a0_14 + x * u14, a0_15 + x * u15
        x = h[b + 1, k]
        a1_0, a1_1, a1_2, a1_3 = a1_0 + x * u0, a1_1 + x * u1, a1_2 + x * u2, a1_3 + x * u3
        a1_4, a1_5, a1_6, a1_7 = a1_4 + x * u4, a1_5 + x * u5, a1_6 + x * u6, a1_7 + x * u7
        a1_8, a1_9, a1_10, a1_11 = a1_8 + x * u8, a1_9 + x * u9, a1_10 + x * u10, a1_11 + x * u11
        a1_12, a1_13, a1_14, a1_15 = a1_12 + x * u12, a1_13 + x * u13, a1_14 + x * u14, a1_15 + x * u15
        x = h[b + 2, k]
        a2_0, a2_1, a2_2, a2_3 = a2_0 + x * u0, a2_1 + x * u1, a2_2 + x * u2, a2_3 + x * u3
        a2_4, a2_5, a2_6, a2_7 = a2_4 + x * u4, a2_5 + x * u5, a2_6 + x * u6, a2_7 + x * u7
        a2_8, a2_9, a2_10, a2_11 = a2_8 + x * u8, a2_9 + x * u9, a2_10 + x * u10, a2_11 + x * u11
        a2_12, a2_13, a2_14, a2_15 = a2_12 + x * u12, a2_13 + x * u13, a2_14 + x * u14, a2_15 + x * u15
        x = h[b + 3, k]
        a3_0, a3_1, a3_2, a3_3 = a3_0 + x * u0, a3_1 + x * u1, a3_2 + x * u2, a3_3 + x * u3
        a3_4, a3_5, a3_6, a3_7 = a3_4 + x * u4, a3_5 + x * u5, a3_6 + x * u6, a3_7 + x * u7
        a3_8, a3_9, a3_10, a3_11 = a3_8 + x * u8, a3_9 + x * u9, a3_10 + x * u10, a3_11 + x * u11
        a3_12, a3_13, a3_14, a3_15 = a3_12 + x * u12, a3_13 + x * u13, a3_14 + x * u14, a3_15 + x * u15
        x = h[b + 4, k]
        a4_0, a4_1, a4_2, a4_3 = a4_0 + x * u0, a4_1 + x * u1, a4_2 + x * u2, a4_3 + x * u3
        a4_4, a4_5, a4_6, a4_7 = a4_4 + x * u4, a4_5 + x * u5, a4_6 + x * u6, a4_7 + x * u7
        a4_8, a4_9, a4_10, a4_11 = a4_8 + x * u8, a4_9 + x * u9, a4_10 + x * u10, a4_11 + x * u11
        a4_12, a4_13, a4_14, a4_15 = a4_12 + x * u12, a4_13 + x * u13, a4_14 + x * u14, a4_15 + x * u15
        x = h[b + 5, k]
        a5_0, a5_1, a5_2, a5_3 = a5_0 + x * u0, a5_1 + x * u1, a5_2 + x * u2, a5_3 + x * u3
        a5_4, a5_5, a5_6, a5_7 = a5_4 + x * u4, a5_5 + x * u5, a5_6 + x * u6, a5_7 + x * u7
        a5_8, a5_9, a5_10, a5_11 = a5_8 + x * u8, a5_9 + x * u9, a5_10 + x * u10, a5_11 + x * u11
        a5_12, a5_13, a5_14, a5_15 = a5_12 + x * u12, a5_13 + x * u13, a5_14 + x * u14, a5_15 + x * u15
        x = h[b + 6, k]
        a6_0, a6_1, a6_2, a6_3 = a6_0 + x * u0, a6_1 + x * u1, a6_2 + x * u2, a6_3 + x * u3
        a6_4, a6_5, a6_6, a6_7 = a6_4 + x * u4, a6_5 + x * u5, a6_6 + x * u6, a6_7 + x * u7
        a6_8, a6_9, a6_10, a6_11 = a6_8 + x * u8, a6_9 + x * u9, a6_10 + x * u10, a6_11 + x * u11
        a6_12, a6_13, a6_14, a6_15 = a6_12 + x * u12, a6_13 + x * u13, a6_14 + x * u14, a6_15 + x * u15
        x = h[b + 7, k]
        a7_0, a7_1, a7_2, a7_3 = a7_0 + x * u0, a7_1 + x * u1, a7_2 + x * u2, a7_3 + x * u3
        a7_4, a7_5, a7_6, a7_7 = a7_4 + x * u4, a7_5 + x * u5, a7_6 + x * u6, a7_7 + x * u7
        a7_8, a7_9, a7_10, a7_11 = a7_8 + x * u8, a7_9 + x * u9, a7_10 + x * u10, a7_11 + x * u11
        a7_12, a7_13, a7_14, a7_15 = a7_12 + x * u12, a7_13 + x * u13, a7_14 + x * u14, a7_15 + x * u15
    j = jb * 16
    o = out[b + 0, j:j + 16]
    o[0], o[1], o[2], o[3] = a0_0, a0_1, a0_2, a0_3
    o[4], o[5], o[6], o[7] = a0_4, a0_5, a0_6, a0_7
    o[8], o[9], o[10], o[11] = a0_8, a0_9, a0_10, a0_11
    o[12], o[13], o[14], o[15] = a0_12, a0_13, a0_14, a0_15
    o = out[b + 1, j:j + 16]
    o[0], o[1], o[2], o[3] = a1_0, a1_1, a1_2, a1_3
    o[4], o[5], o[6], o[7] = a1_4, a1_5, a1_6, a1_7
    o[8], o[9], o[10], o[11] = a1_8, a1_9, a1_10, a1_11
    o[12], o[13], o[14], o[15] = a1_12, a1_13, a1_14, a1_15
    o = out[b + 2, j:j + 16]
    o[0], o[1], o[2], o[3] = a2_0, a2_1, a2_2, a2_3
    o[4], o[5], o[6], o[7] = a2_4, a2_5, a2_6, a2_7
    o[8], o[9], o[10], o[11] = a2_8, a2_9, a2_10, a2_11
    o[12], o[13], o[14], o[15] = a2_12, a2_13, a2_14, a2_15
    o = out[b + 3, j:j + 16]
    o[0], o[1], o[2], o[3] = a3_0, a3_1, a3_2, a3_3
    o[4], o[5], o[6], o[7] = a3_4, a3_5, a3_6, a3_7
    o[8], o[9], o[10], o[11] = a3_8, a3_9, a3_10, a3_11
    o[12], o[13], o[14], o[15] = a3_12, a3_13, a3_14, a3_15
    o = out[b + 4, j:j + 16]
    o[0], o[1], o[2], o[3] = a4_0, a4_1, a4_2, a4_3
    o[4], o[5], o[6], o[7] = a4_4, a4_5, a4_6, a4_7
    o[8], o[9], o[10], o[11] = a4_8, a4_9, a4_10, a4_11
    o[12], o[13], o[14], o[15] = a4_12, a4_13, a4_14, a4_15
    o = out[b + 5, j:j + 16]
    o[0], o[1], o[2], o[3] = a5_0, a5_1, a5_2, a5_3
    o[4], o[5], o[6], o[7] = a5_4, a5_5, a5_6, a5_7
    o[8], o[9], o[10], o[11] = a5_8, a5_9, a5_10, a5_11
    o[12], o[13], o[14], o[15] = a5_12, a5_13, a5_14, a5_15
    o = out[b + 6, j:j + 16]
    o[0], o[1], o[2], o[3] = a6_0, a6_1, a6_2, a6_3
    o[4], o[5], o[6], o[7] = a6_4, a6_5, a6_6, a6_7
    o[8], o[9], o[10], o[11] = a6_8, a6_9, a6_10, a6_11
    o[12], o[13], o[14], o[15] = a6_12, a6_13, a6_14, a6_15
    o = out[b + 7, j:j + 16]
    o[0], o[1], o[2], o[3] = a7_0, a7_1, a7_2, a7_3
    o[4], o[5], o[6], o[7] = a7_4, a7_5, a7_6, a7_7
    o[8], o[9], o[10], o[11] = a7_8, a7_9, a7_10, a7_11
    o[12], o[13], o[14], o[15] = a7_12, a7_13, a7_14, a7_15


TILE_ROWS, TILE_COLS = 8, 16
"""``_tile``'s block: 8 samples x 16 columns of h·U."""
TILE_MAX_UNITS = 512
"""Above this many units ``_dots`` is faster for a group of 8 too (1,024 units: 1.6 ms a step
against the tile's 1.9, U being 16 MB; 512 units: the tile 205 us against 316)."""


def tile_panels(u: np.ndarray) -> np.ndarray:
    """U (N, 4N)'s whole blocks of ``TILE_COLS`` columns, each contiguous: (4N // 16, N, 16)."""
    n, m = u.shape
    panels = np.empty((m // TILE_COLS, n, TILE_COLS), F32)
    for jb in range(panels.shape[0]):
        panels[jb] = u[:, jb * TILE_COLS:(jb + 1) * TILE_COLS]
    return panels


@njit(cache=True, error_model="numpy")
def _tiled(panels, u, h, out):
    """out = h · U (8, 4N) for a full group of 8 samples: ``_tile`` over each 16 columns
    (``panels``: ``tile_panels(U)``; 2-3x faster than ``_dots`` at 64 units), the columns past
    the last 16 summed in a plain loop from U (N, 4N)."""
    m = u.shape[1]
    full = panels.shape[0] * TILE_COLS
    for jb in range(panels.shape[0]):
        _tile(panels, h, out, 0, jb)
    for b in range(h.shape[0]):
        x = h[b]
        o = out[b]
        for j in range(full, m):
            acc = F32(0.0)
            for k in range(u.shape[0]):
                acc += x[k] * u[k, j]
            o[j] = acc


@njit(cache=True, error_model="numpy")
def rows_product(panels, w, x, out):
    """out = x · W (L, 4N) for a block of input rows x (L, D): ``_tiled`` over each 8 rows,
    the rows past the last 8 as plain sums over k in order. A row's path depends only on its
    place in the block, and x·W is computed in whole aligned blocks in every path
    (``stepper.input_product``), so a recomputed window is bit-identical to the whole run."""
    rows, m = x.shape[0], w.shape[1]
    full = rows - rows % TILE_ROWS
    for r in range(0, full, TILE_ROWS):
        _tiled(panels, w, x[r:r + TILE_ROWS], out[r:r + TILE_ROWS])
    for r in range(full, rows):
        xr = x[r]
        o = out[r]
        for j in range(m):
            acc = F32(0.0)
            for k in range(w.shape[0]):
                acc += xr[k] * w[k, j]
            o[j] = acc


@njit(cache=True, fastmath=REDUCTION, error_model="numpy")
def _dots(ut, h, out):
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
def classic_block(ut, u, panels, zx, bias, scale, shift, order, mask, all_valid, h, c, zh, gates,
                  zh_out, gates_out, c_out, h_out):
    """Input positions ``order`` (in processing order) of a group of a few samples, the
    recurrent product included (``_tiled`` for a full group of 8, else ``_dots``): one call for
    a whole block of steps.
    Arguments as ``classic_step``'s, with U (N, 4N), U transposed (4N, N) and ``tile_panels``
    of U, and ``zh``, ``gates`` (B, 4N) scratch."""
    for k in range(order.size):
        t = order[k]
        if h.shape[0] == TILE_ROWS and u.shape[0] <= TILE_MAX_UNITS:   # the shape alone decides:
            # every window of a run takes the same path
            _tiled(panels, u, h, zh)
        else:
            _dots(ut, h, zh)
        for b in range(zx.shape[0]):
            if all_valid[k] or mask[b, t]:
                _finish(zh[b], zx[b, t], bias, scale, shift, h[b], c[b], gates[b])
            else:
                _masked(zh[b], gates[b])
            _record(zh[b], gates[b], c[b], h[b], zh_out[b, t], gates_out[b, t], c_out[b, t],
                    h_out[b, t])
    fence()
