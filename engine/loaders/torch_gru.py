"""PyTorch ``nn.GRU`` / ``nn.GRUCell`` and ``nn.RNN`` / ``nn.RNNCell`` weights onto the engine's
GRU and simple-RNN layouts (docs/architecture.md, "GRU and simple RNN"); ``torch_state`` finds
the groups of keys, names the layers and builds the ops as for an LSTM.

* GRU: ``weight_ih`` (3N, D) and ``weight_hh`` (3N, N) hold the gates in PyTorch's order r, z, n;
  the blocks are put in the engine's u (= z), r, n and transposed: kernel (D, 3N), recurrent
  kernel (N, 3N). ``bias_ih`` is the input-side bias b, ``bias_hh`` the recurrent b_h: PyTorch's
  GRU is the reset_after form (n = tanh(W_in x + b_in + r * (W_hn h + b_hn))).
* RNN: ``weight_ih`` (N, D), ``weight_hh`` (N, N), the two biases summed. A state dict does not
  record ``nonlinearity``: a file's RNN is taken as tanh (a warning says so); a live module's
  own ``nonlinearity`` is used.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from ..cells.activations import keras_activation
from ..cells.cell import CellWeights
from ..cells.gru_cell import GruWeights
from ..cells.rnn_cell import RnnWeights
from ..errors import ModelFileError

F32 = np.float32
TORCH_GATES = ("r", "u", "n")     # PyTorch's GRU blocks (r, z, n) in the engine's names


def recurrent_kind(params: dict[Any, dict[str, np.ndarray]]) -> str | None:
    """``"gru"`` when every layer's weight_ih and weight_hh have 3N rows, ``"rnn"`` when they
    have N (N = weight_hh's columns), else None (an LSTM, or no recurrent layer)."""
    kinds = set()
    for parts in params.values():
        w_ih, w_hh = parts.get("weight_ih"), parts.get("weight_hh")
        if (w_ih is None or w_hh is None or w_ih.ndim != 2 or w_hh.ndim != 2
                or "weight_hr" in parts or w_hh.shape[1] == 0):
            return None
        n = w_hh.shape[1]
        if w_ih.shape[0] == w_hh.shape[0] == 3 * n:
            kinds.add("gru")
        elif w_ih.shape[0] == w_hh.shape[0] == n:
            kinds.add("rnn")
        else:
            return None
    return kinds.pop() if len(kinds) == 1 else None


def _engine_order(a: np.ndarray, n: int) -> np.ndarray:
    """Rows of a PyTorch GRU tensor (3N, ...) from r, z, n to the engine's u, r, n."""
    blocks = {g: a[k * n:(k + 1) * n] for k, g in enumerate(TORCH_GATES)}
    return np.concatenate([blocks["u"], blocks["r"], blocks["n"]])


def torch_cell(path: Path, name: str, parts: dict[str, np.ndarray], expect_d: int | None,
               kind: str, nonlinearity: str = "tanh") -> CellWeights:
    """One direction of one layer: a ``GruWeights`` (kind ``"gru"``) or ``RnnWeights``."""
    what = "GRU" if kind == "gru" else "RNN"

    def bad(msg: str) -> ModelFileError:
        return ModelFileError(f"{path}: inconsistent {what} weights for '{name}': {msg}")

    for key, arr in parts.items():
        if not np.issubdtype(arr.dtype, np.floating):
            raise bad(f"{key} has dtype {arr.dtype}, expected floating point")
    w_ih, w_hh = np.asarray(parts["weight_ih"], F32), np.asarray(parts["weight_hh"], F32)
    n, d = w_hh.shape[1], w_ih.shape[1]
    if expect_d is not None and d != expect_d:
        raise bad(f"weight_ih {w_ih.shape} reads {d} features but the layer below gives {expect_d}")
    b_ih, b_hh = parts.get("bias_ih"), parts.get("bias_hh")
    if (b_ih is None) != (b_hh is None):
        raise bad("has only one of bias_ih / bias_hh")
    rows = w_ih.shape[0]
    use_bias = b_ih is not None
    if use_bias:
        for label, b in (("bias_ih", b_ih), ("bias_hh", b_hh)):
            if b.shape != (rows,):
                raise bad(f"{label} {b.shape} should be ({rows},)")
        b_ih, b_hh = np.asarray(b_ih, F32), np.asarray(b_hh, F32)
    else:
        b_ih = b_hh = np.zeros(rows, F32)
    count = sum(int(a.size) for a in parts.values())
    if kind == "rnn":
        return RnnWeights(w_ih.T, w_hh.T, b_ih + b_hh, use_bias=use_bias, param_count=count,
                          cell_activation=keras_activation(nonlinearity),
                          bias_parts=(b_ih, b_hh) if use_bias else ())
    return GruWeights(_engine_order(w_ih, n).T, _engine_order(w_hh, n).T, _engine_order(b_ih, n),
                      recurrent_bias=_engine_order(b_hh, n), reset_after=True, use_bias=use_bias,
                      param_count=count, bias_parts=(b_ih, b_hh) if use_bias else ())
