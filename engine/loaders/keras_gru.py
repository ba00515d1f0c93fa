"""Keras ``GRU`` and ``SimpleRNN`` layer configs and arrays onto the engine's GRU and simple-RNN
layouts (docs/architecture.md, "GRU and simple RNN"); ``keras_common.build_op`` wraps them in
the same ops as an LSTM (``layers.LSTM``, ``layers.Bidirectional``).

Keras' GRU blocks are z, r, h: the engine's u, r, n in the same order, so nothing is permuted.
``reset_after=True`` (Keras 3's and tf.keras' default) saves bias (2, 3N): row 0 is read with x,
row 1 with h (the recurrent bias). ``reset_after=False`` saves one bias (3N,). The bias's shape
must agree with the config's ``reset_after``; a config without it is read from the shape.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ..cells.activations import Activation
from ..cells.cell import CellWeights
from ..cells.gru_cell import GruWeights
from ..cells.rnn_cell import RnnWeights
from ..errors import UnsupportedModelError

RECURRENT_CLASSES = {"GRU": "GRUCell", "SimpleRNN": "SimpleRNNCell"}
"""The Keras layers beside LSTM the engine computes, with the cell a generic RNN may wrap."""


def keras_cell_weights(class_name: str, name: str, config: dict[str, Any], kernel: np.ndarray,
                       recurrent: np.ndarray, bias: np.ndarray | None, units: int,
                       act: Activation, rec: Activation) -> CellWeights:
    """``GruWeights`` for a GRU, ``RnnWeights`` for a SimpleRNN, from the arrays
    ``keras_common`` read and checked (bias None without ``use_bias``) and the activations it
    named (``rec``: the GRU's ``recurrent_activation``)."""
    gru = class_name == "GRU"
    blocks = 3 if gru else 1
    if kernel.shape[1] != blocks * units or recurrent.shape != (units, blocks * units):
        raise UnsupportedModelError(
            f"{class_name} '{name}': weight shapes {kernel.shape} and {recurrent.shape} do not "
            f"fit units={units} (expected (D, {blocks * units}) and ({units}, {blocks * units}))")
    use_bias = bias is not None
    if not gru:
        if bias is not None and bias.shape != (units,):
            raise UnsupportedModelError(f"SimpleRNN '{name}': bias has shape {bias.shape}, "
                                        f"expected ({units},)")
        return RnnWeights(kernel, recurrent, np.zeros(units, np.float32) if bias is None else bias,
                          use_bias=use_bias, cell_activation=act, output_activation=act)
    stored = None if bias is None else bias.shape
    reset_after = bool(config.get("reset_after", stored == (2, 3 * units)))
    recurrent_bias = None
    if bias is None:
        bias = np.zeros(3 * units, np.float32)
    else:
        want = (2, 3 * units) if reset_after else (3 * units,)
        if stored != want:
            raise UnsupportedModelError(f"GRU '{name}': bias has shape {stored}, expected {want} "
                                        f"for reset_after={reset_after}")
        if reset_after:
            bias, recurrent_bias = bias[0], bias[1]
    return GruWeights(kernel, recurrent, bias, recurrent_bias=recurrent_bias,
                      reset_after=reset_after, use_bias=use_bias, gate_activation=rec,
                      cell_activation=act, output_activation=act)
