"""The GRU's and the simple RNN's runners: ``DirectionRunner`` with their own step.

Everything but the step is the LSTM runner's: the buffers by input position, x·W in the
aligned blocks of ``stepper.input_product`` (b added per step) (so a checkpointed window recomputes the same
bits), masks, stepping back, reading in processing order, ``to_trace``. A GRU records its gates
u, r, n in ``gates`` (B, T, 3, N), x·W in ``zx`` and the recurrent part as the cell uses it in
``zh`` (B, T, 3, N) (docs/architecture.md, "GRU and simple RNN"); it has no cell state, so c is
(B, T, 0). A simple RNN has no gate: ``gates`` is (B, T, 0, N), ``zx`` and ``zh`` (B, T, 1, N).

Importing this module hands both runners to ``stepper.RUNNERS``: a ``DirectionRunner`` made for
a GRU's or an RNN's weights is one of these. The specs they are held to are
``gru_cell.gru_step`` and ``rnn_cell.rnn_step`` (tests/test_gru_spec.py).
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable

import numpy as np

from ..cells.gru_cell import GRU_CELL, GruWeights
from ..cells.rnn_cell import RNN_CELL, RnnWeights
from ..system.blas import blas_limited
from .stepper import RUNNERS, DirectionRunner


class _StateOnlyRunner(DirectionRunner, ABC):
    """A runner whose cell carries h alone: one step at a time from the stored h (each kind
    writes its own ``_step_state``)."""

    @blas_limited
    def run(self, start: int = 0, stop: int | None = None,
            progress: Callable[[int], None] | None = None) -> None:
        self._run_each(lambda t, h_prev, _carried: self._step_state(t, h_prev), start, stop,
                       progress, over="ignore")

    @abstractmethod
    def _step_state(self, t: int, h_prev: np.ndarray) -> None:
        """Record step ``t`` (an input position) of this kind's cell from ``h_prev``."""


class GruRunner(_StateOnlyRunner):
    """One GRU direction (``gru_cell.gru_step``, one layout for every framework)."""

    weights: GruWeights

    def _step_state(self, t: int, h_prev: np.ndarray) -> None:
        w, n = self.weights, self.units
        a = self._zx_flat[:, t] + w.bias                   # x . W + b, (B, 3N)
        zh, gates = self._zh_flat[:, t], self._gates_flat[:, t]
        u_ur = w.recurrent_kernel[:, :2 * n]
        if w.reset_after:
            rec = h_prev @ w.recurrent_kernel + w.recurrent_bias
        else:
            rec = np.empty_like(a)
            rec[:, :2 * n] = h_prev @ u_ur
        ur = w.gate_activation(a[:, :2 * n] + rec[:, :2 * n])
        u, r = ur[:, :n], ur[:, n:]
        if w.reset_after:
            cand = w.cell_activation(a[:, 2 * n:] + r * rec[:, 2 * n:])
        else:
            rec[:, 2 * n:] = (r * h_prev) @ w.recurrent_kernel[:, 2 * n:]
            cand = w.cell_activation(a[:, 2 * n:] + rec[:, 2 * n:])
        zh[...] = rec
        gates[:, :2 * n] = ur
        gates[:, 2 * n:] = cand
        self.h[:, t] = u * h_prev + (1 - u) * cand


class RnnRunner(_StateOnlyRunner):
    """One simple-RNN direction (``rnn_cell.rnn_step``)."""

    weights: RnnWeights

    def _step_state(self, t: int, h_prev: np.ndarray) -> None:
        w = self.weights
        rec = h_prev @ w.recurrent_kernel
        self._zh_flat[:, t] = rec
        self.h[:, t] = w.cell_activation((self._zx_flat[:, t] + w.bias) + rec)


RUNNERS[GRU_CELL.name] = GruRunner
RUNNERS[RNN_CELL.name] = RnnRunner
