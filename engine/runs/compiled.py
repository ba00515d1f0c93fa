"""The classic LSTM cell's compiled steps (numba, an optional extra: ``pip install
lstm-scope[fast]``) and the rule for when a run uses them (docs/architecture.md, "Long runs": the
compiled steps).

Without numba, or with ``LSTM_SCOPE_JIT=0`` in the environment, every run takes the numpy path
(``DirectionRunner._run_fast``) and gives the same numbers within the parity tolerance. numba's
compiled code is cached in the user's cache directory (``cache_dir``; a ``NUMBA_CACHE_DIR`` the
person set is kept), never beside the package, so only a machine's first use ever compiles.
The kernels are loaded on the first run that uses them (``kernels``, from ``compiled_steps``),
not when the engine is imported: numba's import costs about 0.8 s of CPU, which ``main.py
--help``, an export, a child process or a model of another cell never needs. That first run
loads the cached code (warmed on tiny arrays, so no trace compiles); ``preload`` does it ahead of
time, on a background thread for a caller that knows a trace is coming.
"""

from __future__ import annotations

import os
import threading
from pathlib import Path
from types import ModuleType

import numpy as np

from ..cells.cell import CellWeights, gate_scale
from ..system.blas import libraries_loaded

F32 = np.float32
JIT_SWITCH = "LSTM_SCOPE_JIT"
"""Set to 0 to run every trace on the numpy path (numba installed or not)."""

SLP_SWITCH = "NUMBA_SLP_VECTORIZE"
"""numba leaves LLVM's SLP vectoriser off by default; the product's register tile
(``lstm_kernels._tile``, scalar code it packs into vectors, 2-3x faster) is compiled with it on,
everything else with numba's own setting (``_warm_up_tile``)."""

_loaded = False
_kernels: ModuleType | None = None
_load_lock = threading.Lock()      # a background preload and a first run load once between them


def cache_dir() -> Path:
    """Where numba keeps the compiled kernels: the user's cache directory
    ($XDG_CACHE_HOME, else ~/.cache), lstm-scope/numba."""
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "lstm-scope" / "numba"


def kernels() -> ModuleType | None:
    """``engine.runs.lstm_kernels``, or None when numba is not installed (or cannot run with
    this numpy) or the person turned it off (``JIT_SWITCH``). Loaded once per process, on the
    first call (a caller arriving while another thread loads waits for it)."""
    global _loaded, _kernels
    if os.environ.get(JIT_SWITCH, "1") == "0":
        return None
    if not _loaded:
        with _load_lock:
            if not _loaded:
                _kernels = _load()
                _loaded = True
    return _kernels


def loaded() -> bool:
    """Whether the kernels were looked for in this process already (loaded or found absent)."""
    return _loaded


def preload() -> threading.Thread:
    """Load the kernels on a daemon thread (numba's import, the cached code), so that a trace
    known to be coming does not pay for it; the trace waits for it only if it comes first."""
    thread = threading.Thread(target=kernels, name="lstm-scope-kernels", daemon=True)
    thread.start()
    return thread


def _load() -> ModuleType | None:
    try:
        import numba
    except ImportError:          # not installed, or a numba that refuses this numpy
        return None
    if "NUMBA_CACHE_DIR" not in os.environ:
        numba.config.CACHE_DIR = str(cache_dir())   # read when the kernels are decorated
    try:
        from . import lstm_kernels
        _warm_up_tile(numba, lstm_kernels)
        _warm_up(lstm_kernels)
    except Exception:   # noqa: BLE001 - an optional accelerator that cannot load is left out
        # (a cache folder that cannot be written: full disk, read-only home, a file-size
        # limit; a numba that cannot compile here): the numpy path gives the same numbers
        return None
    finally:            # numba's import loads SciPy's BLAS too, maybe inside a limited run
        libraries_loaded()
    return lstm_kernels


def _warm_up_tile(numba: ModuleType, module: ModuleType) -> None:
    """Compile (or load) the product's tile first, with LLVM's SLP vectoriser on unless the
    person set it (``SLP_SWITCH``), and only it: the kernels that call it link its code as
    compiled here. With SLP on for every kernel, the two compiled variants of a block (a
    run's own x·W and a fork's window of its parent's) summed differently, and a checkpointed
    fork was no longer bit-identical to the in-memory one."""
    slp = numba.config.SLP_VECTORIZE
    if SLP_SWITCH not in os.environ:
        numba.config.SLP_VECTORIZE = 1
    try:
        u = np.zeros((1, 4 * module.TILE_COLS), F32)
        module._tiled(module.tile_panels(u), u, np.zeros((module.TILE_ROWS, 1), F32),
                      np.zeros((module.TILE_ROWS, 4 * module.TILE_COLS), F32))
    finally:
        numba.config.SLP_VECTORIZE = slp


def input_rows(weights: CellWeights):
    """``fn(x_rows, out)``: out = x_rows · W (L, D) -> (L, 4N) on the compiled tile, for the
    classic cell's x·W (``stepper.input_product``, every path of a run alike), or None: numba
    absent or off, another cell, or more than ``TILE_MAX_UNITS`` features (the tile's limit).
    OpenBLAS spends most of a (256, D) x (D, 4N) product packing its operands at small D: the
    tile is about twice as fast there."""
    if not weights.is_classic:
        return None
    module = kernels()
    if module is None or weights.input_dim > module.TILE_MAX_UNITS:
        return None
    w = np.ascontiguousarray(weights.kernel, dtype=F32)
    panels = module.tile_panels(w)
    product = module.rows_product
    return lambda x, out: product(panels, w, x, out)


def _warm_up(module: ModuleType) -> None:
    """Call every kernel once on tiny arrays of the types a run passes, so that their
    cached code (compiled on the first use ever) is loaded now and not in the first trace.
    (numba's import also loads the libraries it may call, SciPy's BLAS among them:
    ``engine.system.blas`` is told to hold those at one thread too.)"""
    n4, b, t = 4, 2, 1
    vec, zx = np.zeros(n4, F32), np.zeros((b, t, n4), F32)
    state, cells = np.zeros((b, 1), F32), np.zeros((b, t, 1), F32)
    mask, order, valid = np.ones((b, t), bool), np.zeros(t, np.int64), np.ones(t, bool)
    module.tanh_into(vec, vec.copy())
    w = np.zeros((1, n4), F32)
    module.rows_product(module.tile_panels(w), w, np.zeros((3, 1), F32), np.zeros((3, n4), F32))
    # zx contiguous (a run's own) and a window of another run's (a fork shares its parent's)
    for inputs in (zx, np.zeros((b, 2 * t, n4), F32)[:, :t]):
        u = np.zeros((1, n4), F32)
        module.classic_block(np.zeros((n4, 1), F32), u, module.tile_panels(u), inputs, vec, vec,
                             vec, order, mask, valid, state, state.copy(),
                             np.zeros((b, n4), F32), np.zeros((b, n4), F32), zx.copy(),
                             zx.copy(), cells, cells.copy())
        module.classic_step(np.zeros((n4, b), F32).T, inputs, vec, vec, vec, 0, mask, True,
                            state, state.copy(), vec.copy(), vec.copy(), zx.copy(), zx.copy(),
                            cells, cells.copy())

GROUP = 8
"""The kernel computes h·U itself for groups of up to this many samples (``_tiled``: at 8
samples x 256 units 44-49 us a step against OpenBLAS's 83-93, which packs all of U on every
call): a group's block of steps is one call, and the samples of a batch are independent, so a
larger batch runs group after group."""


def product_in_kernel(batch: int, units: int) -> bool:
    """Whether the kernel computes h·U (in groups of ``GROUP`` samples), else numpy, one
    call a step, as U^T·h^T (4N, B): from 512 units on, a batch larger than a group is
    faster in OpenBLAS (measured B=8..128, N=64..1024; U^T·h^T 20-30% faster than h·U there).
    A rule of the shape alone, so every window of a run takes the same path."""
    return batch <= GROUP or units < 512


class CompiledSteps:
    """One runner's compiled path: the classic cell's constants (``gate_scale`` and its
    shift, U^T) and its per-step buffers."""

    def __init__(self, module: ModuleType, weights: CellWeights, batch: int) -> None:
        scale = gate_scale(weights)
        n4 = 4 * weights.units
        self.module, self.batch = module, batch
        self.bias = weights.bias.copy()          # writable: a read-only array is another
        self.scale = scale                       # signature for numba, compiled anew
        self.shift = np.where(scale == 1, F32(0), F32(0.5)).astype(F32)
        self.ut = np.ascontiguousarray(weights.recurrent_kernel.T)
        self.u = np.ascontiguousarray(weights.recurrent_kernel)
        wide = weights.units > module.TILE_MAX_UNITS        # the tile is not used: no copy
        self.panels = module.tile_panels(self.u[:, :0] if wide else self.u)
        self.in_kernel = product_in_kernel(batch, weights.units)
        self.gates = np.empty((min(batch, GROUP), n4), F32)     # a step's gates, in cache
        if self.in_kernel:
            self.zh = np.empty((min(batch, GROUP), n4), F32)
        else:
            self.row = np.empty(n4, F32)
            self.zh_t = np.empty((n4, batch), F32)
            self.zh = self.zh_t.T                    # (B, 4N) view of the (4N, B) product

    def run(self, order: np.ndarray, valid: np.ndarray, mask: np.ndarray, zx: np.ndarray,
            h: np.ndarray, c: np.ndarray, zh_out: np.ndarray, gates_out: np.ndarray,
            c_out: np.ndarray, h_out: np.ndarray) -> None:
        """Input positions ``order`` in processing order (``valid``: every sample unmasked
        there), from the contiguous state h, c (B, N), updated in place; zx, zh_out,
        gates_out (B, T, 4N), c_out, h_out (B, T, N) by input position. Slices of a batch
        along its first axis stay contiguous, so a group is a view."""
        k = self.module
        bias, scale, shift = self.bias, self.scale, self.shift
        if self.in_kernel:
            for a in range(0, self.batch, GROUP):
                e = min(self.batch, a + GROUP)
                k.classic_block(self.ut, self.u, self.panels, zx[a:e], bias, scale, shift, order,
                                mask[a:e], valid, h[a:e], c[a:e], self.zh[:e - a],
                                self.gates[:e - a], zh_out[a:e],
                                gates_out[a:e], c_out[a:e], h_out[a:e])
            return
        step, matmul, zh, ut, ht, zh_t = k.classic_step, np.matmul, self.zh, self.ut, h.T, self.zh_t
        row, gates = self.row, self.gates[0]
        for t, ok in zip(order.tolist(), valid.tolist()):
            matmul(ut, ht, out=zh_t)
            step(zh, zx, bias, scale, shift, t, mask, ok, h, c, row, gates, zh_out, gates_out,
                 c_out, h_out)


def compiled_steps(weights: CellWeights, batch: int) -> CompiledSteps | None:
    """The compiled path for a runner of these weights, or None: numba absent or turned off,
    or a cell other than the classic one (sigmoid gates, tanh, no extras), which keeps the
    numpy path."""
    module = kernels()
    if module is None or not weights.is_classic:
        return None
    return CompiledSteps(module, weights, batch)
