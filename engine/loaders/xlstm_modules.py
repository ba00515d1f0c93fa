"""The cells of a live ``xlstm`` package model (``xLSTMBlockStack`` ...) as engine ops.

The package's blocks run their own projections, convolutions and norms; the engine steps the
cells. An sLSTM cell (``sLSTMCell_vanilla``) reads the gate pre-activations its layer made,
(B, T, 4N) in the order i, f, z, o (the layer's headwise projections of the convolved input
for i and f, of the input for z and o), so its traced layer's input ``x`` is that and its W is
the identity: x·W is exactly what the cell read. Its recurrent kernel (heads, 4·hd, hd) and
bias (4N,) are read as the vanilla backend uses them and laid out as the engine's U (N, 4N),
zero between heads (``slstm_cell.block_diagonal``); docs/architecture.md, "sLSTM".

An mLSTM cell (``mLSTMCell``) is called with q, k, v (B, T, N) each, made by its layer (the
projections, the convolution); its traced layer reads them side by side (B, T, 3N) and steps
the cell itself: its igate and fgate linear maps of (q, k, v) and its output norm
(``MultiHeadLayerNorm``, weight 1 + w) are the cell's, read into ``MlstmWeights``. The package's
``mLSTMCell.forward`` takes no state: every run starts from zeros, as the engine's does.

What the engine does not step is refused in one line naming the module path and the option
(another cell function, the CUDA backend, clipping), as for LSTMs. The package is never
imported here: a module is recognised by its class's module path.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ..cells.mlstm_cell import NORM_EPS, MlstmWeights
from ..cells.slstm_cell import SlstmWeights, block_diagonal
from ..errors import UnsupportedModelError
from ..network.layers import LSTM

SLSTM_CELLS = ("sLSTMCell_vanilla", "sLSTMCell_cuda")
"""The package's sLSTM cell classes (``sLSTMCell(config)`` returns one of them)."""


MLSTM_CELLS = ("mLSTMCell",)
"""The package's mLSTM cell class (the pure-torch blocks' ``xlstm.blocks.mlstm.cell``)."""
LARGE_MLSTM = "mLSTMLayer"
"""``xlstm.xlstm_large``'s mLSTM layer (xLSTM 7B): recognised only to be refused."""


def _from_xlstm(mod: Any, module: str = "xlstm") -> bool:
    return type(mod).__module__.startswith(module)


def is_xlstm_cell(mod: Any) -> bool:
    """True for a cell of the ``xlstm`` package that LSTM Scope traces (its sLSTM and mLSTM
    cells) or refuses by name (``xlstm_large``'s mLSTM layer)."""
    name = type(mod).__name__
    if _from_xlstm(mod, "xlstm.xlstm_large"):
        return name == LARGE_MLSTM
    return _from_xlstm(mod) and name in (*SLSTM_CELLS, *MLSTM_CELLS)


def _refuse(path: str, option: str, why: str, kind: str = "sLSTM") -> UnsupportedModelError:
    return UnsupportedModelError(f"the {kind} cell '{path}' has {option}: {why}")


def xlstm_ops(path: str, mod: Any) -> list[LSTM]:
    """The traced layer of an xlstm cell at module path ``path`` (sLSTM or mLSTM), or a
    one-line refusal naming it and the option the engine cannot step."""
    name = type(mod).__name__
    if name in MLSTM_CELLS:
        return mlstm_ops(path, mod)
    if name == LARGE_MLSTM:
        backend = getattr(getattr(mod.config, "mlstm_backend", None), "chunkwise_kernel", "triton")
        raise _refuse(path, f"xlstm_large's kernels ({backend})", "xLSTM 7B's mLSTM runs on triton "
                      "kernels; LSTM Scope steps the pure-torch mLSTMCell of xlstm.blocks (an "
                      "xLSTMBlockStack with mLSTM blocks)", kind="mLSTM")
    return slstm_ops(path, mod)


def xlstm_feed(mod: Any, args: tuple, kwargs: dict) -> tuple[np.ndarray, np.ndarray | None,
                                                             np.ndarray | None]:
    """(x, h0, c0) from one call of an xlstm cell (``slstm_feed`` or ``mlstm_feed``)."""
    if type(mod).__name__ in MLSTM_CELLS:
        return mlstm_feed(mod, args, kwargs)
    return slstm_feed(mod, args, kwargs)


def mlstm_weights(path: str, mod: Any) -> MlstmWeights:
    """An mLSTM cell's weights in the engine's layout, or a one-line refusal naming ``path``
    and the option the engine cannot step (another backend function, an output norm with a
    bias or another ε)."""
    fn = getattr(mod.backend_fn, "__name__", repr(mod.backend_fn))
    if fn != "parallel_stabilized_simple":
        raise _refuse(path, f"backend_fn={fn}", "LSTM Scope steps the recurrent form the "
                      "package's parallel_stabilized_simple equals", kind="mLSTM")
    norm = mod.outnorm
    if norm.bias is not None or norm.eps != NORM_EPS:
        raise _refuse(path, f"an output norm with {'a bias' if norm.bias is not None else f'eps={norm.eps}'}",
                      f"the cell's norm is read as the package's default (no bias, eps={NORM_EPS})",
                      kind="mLSTM")
    heads = mod.config.num_heads
    n = mod.config.embedding_dim

    def arr(t: Any) -> np.ndarray:
        return t.detach().to("cpu").float().numpy()
    kernel = np.concatenate([arr(mod.igate.weight).T, arr(mod.fgate.weight).T], axis=1)
    bias = np.concatenate([arr(mod.igate.bias), arr(mod.fgate.bias)])
    weight = arr(norm.weight_proxy) if norm.weight is not None else None
    if kernel.shape != (3 * n, 2 * heads):
        raise _refuse(path, f"gate maps of shape {kernel.shape}", f"expected ({3 * n}, {2 * heads})",
                      kind="mLSTM")
    count = sum(int(p.numel()) for p in mod.parameters())
    return MlstmWeights.make(heads, kernel, bias, weight, param_count=count)


def mlstm_ops(path: str, mod: Any) -> list[LSTM]:
    """The one traced layer of an mLSTM cell at module path ``path``: its whole sequence."""
    return [LSTM(name=path, weights=mlstm_weights(path, mod), return_sequences=True, kind="mLSTM")]


def mlstm_feed(mod: Any, args: tuple, kwargs: dict) -> tuple[np.ndarray, None, None]:
    """(x (B, T, 3N) = q, k, v side by side, no state) from one call of an mLSTM cell
    (``forward(q, k, v)``, by position or by name as its layer calls it)."""
    names = ("q", "k", "v")
    parts = [args[j] if j < len(args) else kwargs[name] for j, name in enumerate(names)]
    x = np.concatenate([p.detach().to("cpu").float().numpy() for p in parts], axis=-1)
    return np.ascontiguousarray(x), None, None


def slstm_weights(path: str, mod: Any) -> SlstmWeights:
    """An sLSTM cell's weights in the engine's layout, or a one-line refusal naming ``path``
    and the option the engine cannot step."""
    cfg = mod.config
    if type(mod).__name__ != "sLSTMCell_vanilla":
        raise _refuse(path, f"backend='{cfg.backend}'", "LSTM Scope steps the package's reference "
                      "cell; build the model with backend='vanilla' (the CUDA kernels need a GPU)")
    if cfg.function != "slstm":
        raise _refuse(path, f"function='{cfg.function}'", "only the sLSTM pointwise function "
                      "('slstm') is stepped")
    if cfg.num_gates != 4:
        raise _refuse(path, f"num_gates={cfg.num_gates}", "the sLSTM has four gates")
    if cfg.constants:
        raise _refuse(path, f"constants={cfg.constants!r}", "the reference cell's constants are "
                      "not stepped")
    if cfg.input_shape not in ("BSGNH", "SBGNH"):
        raise _refuse(path, f"input_shape='{cfg.input_shape}'", "only BSGNH and SBGNH inputs are read")
    heads, hd = cfg.num_heads, cfg.hidden_size // cfg.num_heads
    r = mod._recurrent_kernel.detach().to("cpu").float().numpy()      # (heads, 4·hd, hd): [k, g·hd+j, i]
    b = mod._bias.detach().to("cpu").float().numpy().reshape(-1)       # (4N,) gate-major, head, unit
    if r.shape != (heads, 4 * hd, hd) or b.shape != (4 * heads * hd,):
        raise _refuse(path, f"a recurrent kernel of shape {tuple(r.shape)}",
                      f"expected ({heads}, {4 * hd}, {hd}) for {heads} heads of {hd} units")
    blocks = r.reshape(heads, 4, hd, hd).transpose(0, 3, 1, 2)        # [head, input i, gate, output j]
    n = heads * hd
    count = sum(int(p.numel()) for p in mod.parameters())
    return SlstmWeights(kernel=np.eye(4 * n, dtype=np.float32), recurrent_kernel=block_diagonal(blocks),
                        bias=b, heads=heads, param_count=count, reads_preactivations=True)


def slstm_ops(path: str, mod: Any) -> list[LSTM]:
    """The one traced layer of an sLSTM cell at module path ``path``: its whole sequence."""
    return [LSTM(name=path, weights=slstm_weights(path, mod), return_sequences=True, kind="sLSTM")]


def slstm_feed(mod: Any, args: tuple, kwargs: dict) -> tuple[np.ndarray, np.ndarray | None,
                                                              np.ndarray | None]:
    """(x (B, T, 4N), h0, c0) from one call of an sLSTM cell (``forward(input, state)``):
    the input batch first, and the state (4, B, N) = h, c, n, m as h0 and c0 = c, n, m side by
    side (None: zeros)."""
    x = args[0].detach().to("cpu").float().numpy()
    if mod.config.input_shape == "SBGNH":
        x = x.transpose(1, 0, 2)
    state = args[1] if len(args) > 1 else kwargs.get("state")
    if state is None:
        return np.ascontiguousarray(x), None, None
    s = state.detach().to("cpu").float().numpy()
    return np.ascontiguousarray(x), s[0], np.concatenate([s[1], s[2], s[3]], axis=-1)
