"""The classic LSTM cell's compiled steps (numba, an optional extra: ``pip install
lstm-scope[fast]``) and the rule for when a run uses them (docs/architecture.md, "Long runs": the
compiled steps).

Without numba, or with ``LSTM_SCOPE_JIT=0`` in the environment, every run takes the numpy path
(``DirectionRunner._run_fast``) and gives the same numbers within the parity tolerance. numba's
compiled code is cached in the user's cache directory (``cache_dir``; a ``NUMBA_CACHE_DIR`` the
person set is kept), never beside the package, so only a process's first use ever compiles.
The kernels are loaded when the engine is imported (``kernels``): a first trace then costs what
the later ones cost instead of numba's import and the cached code's loading.
"""

from __future__ import annotations

import os
from pathlib import Path
from types import ModuleType

import numpy as np

from ..cells.cell import CellWeights, gate_scale

F32 = np.float32
JIT_SWITCH = "LSTM_SCOPE_JIT"
"""Set to 0 to run every trace on the numpy path (numba installed or not)."""

_loaded = False
_kernels: ModuleType | None = None


def cache_dir() -> Path:
    """Where numba keeps the compiled kernels: the user's cache directory
    ($XDG_CACHE_HOME, else ~/.cache), lstm-scope/numba."""
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "lstm-scope" / "numba"


def kernels() -> ModuleType | None:
    """``engine.runs.lstm_kernels``, or None when numba is not installed (or cannot run with
    this numpy) or the person turned it off (``JIT_SWITCH``). Loaded once per process."""
    global _loaded, _kernels
    if os.environ.get(JIT_SWITCH, "1") == "0":
        return None
    if not _loaded:
        _loaded = True
        _kernels = _load()
    return _kernels


def _load() -> ModuleType | None:
    try:
        import numba
    except ImportError:          # not installed, or a numba that refuses this numpy
        return None
    if "NUMBA_CACHE_DIR" not in os.environ:
        numba.config.CACHE_DIR = str(cache_dir())   # read when the kernels are decorated
    from . import lstm_kernels
    _warm_up(lstm_kernels)
    return lstm_kernels


def _warm_up(module: ModuleType) -> None:
    """Call every kernel once on tiny arrays of the types a run passes, so that their
    cached code (compiled on the first use ever) is loaded now and not in the first trace.
    numba also loads the libraries it may call here (SciPy's BLAS among them), before
    ``engine.system.blas`` looks for the BLAS libraries to hold at one thread."""
    n4, b, t = 4, 2, 1
    vec, zx = np.zeros(n4, F32), np.zeros((b, t, n4), F32)
    state, cells = np.zeros((b, 1), F32), np.zeros((b, t, 1), F32)
    mask, order, valid = np.ones((b, t), bool), np.zeros(t, np.int64), np.ones(t, bool)
    module.tanh_into(vec, vec.copy())
    module.classic_block(np.zeros((n4, 1), F32), zx, vec, vec, vec, order, mask, valid, state,
                         state.copy(), np.zeros((b, n4), F32), zx.copy(), zx.copy(), cells,
                         cells.copy())
    for zh in (np.zeros((b, n4), F32), np.zeros((n4, b), F32).T):   # both product layouts
        module.classic_step(zh, zx, vec, vec, vec, 0, mask, True, state, state.copy(),
                            zx.copy(), zx.copy(), cells, cells.copy())


PRODUCT_IN_KERNEL = 8
"""Up to this many samples the kernel computes h·U itself and a block of steps is one call
(``lstm_kernels._product``: at 8 samples x 256 units 68 us a step against numpy's 90-105);
from there on numpy's product is faster, one call a step with the kernel's."""


def transposed_product(batch: int, units: int) -> bool:
    """Whether numpy computes h·U as U^T·h^T, (4N, B): OpenBLAS is 20-30% faster that way at
    512 units and more, while reading the (4N, B) product across costs the kernel more than
    that gains below (measured B=8..128, N=64..1024). The choice depends on the shape alone,
    so every window of a run takes the same one."""
    return batch >= 8 and units >= 512


class CompiledSteps:
    """One runner's compiled path: the classic cell's constants (``gate_scale`` and its
    shift, U in the layout the product wants) and its per-step buffers."""

    def __init__(self, module: ModuleType, weights: CellWeights, batch: int) -> None:
        scale = gate_scale(weights)
        n4 = 4 * weights.units
        self.module, self.batch = module, batch
        self.bias = weights.bias.copy()          # writable: a read-only array is another
        self.scale = scale                       # signature for numba, compiled anew
        self.shift = np.where(scale == 1, F32(0), F32(0.5)).astype(F32)
        self.u = weights.recurrent_kernel
        self.in_kernel = batch <= PRODUCT_IN_KERNEL
        self.transposed = not self.in_kernel and transposed_product(batch, weights.units)
        self.ut = np.ascontiguousarray(self.u.T) if self.in_kernel or self.transposed else None
        if self.transposed:
            self.zh_t = np.empty((n4, batch), F32)
            self.zh = self.zh_t.T                    # (B, 4N) view of the (4N, B) product
        else:
            self.zh = np.empty((batch, n4), F32)

    def run(self, order: np.ndarray, valid: np.ndarray, mask: np.ndarray, zx: np.ndarray,
            h: np.ndarray, c: np.ndarray, zh_out: np.ndarray, gates_out: np.ndarray,
            c_out: np.ndarray, h_out: np.ndarray) -> None:
        """Input positions ``order`` in processing order (``valid``: every sample unmasked
        there), from the contiguous state h, c (B, N), updated in place; zx, zh_out,
        gates_out (B, T, 4N), c_out, h_out (B, T, N) by input position."""
        k = self.module
        if self.in_kernel:
            k.classic_block(self.ut, zx, self.bias, self.scale, self.shift, order, mask, valid,
                            h, c, self.zh, zh_out, gates_out, c_out, h_out)
            return
        step, matmul, zh = k.classic_step, np.matmul, self.zh
        bias, scale, shift = self.bias, self.scale, self.shift
        if self.transposed:
            ut, ht, zh_t = self.ut, h.T, self.zh_t
            for t, ok in zip(order.tolist(), valid.tolist()):
                matmul(ut, ht, out=zh_t)
                step(zh, zx, bias, scale, shift, t, mask, ok, h, c, zh_out, gates_out, c_out, h_out)
            return
        u = self.u
        for t, ok in zip(order.tolist(), valid.tolist()):
            matmul(h, u, out=zh)
            step(zh, zx, bias, scale, shift, t, mask, ok, h, c, zh_out, gates_out, c_out, h_out)


def compiled_steps(weights: CellWeights, batch: int) -> CompiledSteps | None:
    """The compiled path for a runner of these weights, or None: numba absent or turned off,
    or a cell other than the classic one (sigmoid gates, tanh, no extras), which keeps the
    numpy path."""
    module = kernels()
    if module is None or not weights.is_classic:
        return None
    return CompiledSteps(module, weights, batch)
