"""The mLSTM's runner: a ``DirectionRunner`` with its own step.

Everything but the step is the LSTM runner's (the per-step loop ``DirectionRunner._run_each``): the buffers by input position, x·W (a copy of
q, k, v: the kernel is the identity) in the aligned blocks of ``stepper.input_product``, masks,
stepping back, reading in processing order, ``to_trace``. The mLSTM records its stabilised
gates i, f (one per head, repeated over the head's units) in ``gates`` (B, T, 2, N), q, k, v in
``zx`` (B, T, 3, N), zeros in ``zh`` (no recurrent kernel) and carries nrm, stab and the matrix
memory C side by side in ``c`` (B, T, 2N + N·DH) (``mlstm_cell.MlstmWeights.cell_size``), so
whatever carries (h, c) — checkpoints, stepping back, forks, stateful segments — carries C.

C is the largest array of a run (DH times h per step), so it is recorded where the run is
held: the whole run when its bytes (C included, ``run_store.held_bytes``) fit the memory guard,
else the checkpointed run's windows (docs/architecture.md, "mLSTM").

Importing this module hands the runner to ``stepper.RUNNERS``. Its spec is
``mlstm_cell.mlstm_cell_step`` (tests/test_mlstm.py).
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from ..cells.mlstm_cell import MLSTM_CELL, MlstmWeights, mlstm_cell_step
from ..system.blas import blas_limited
from .stepper import RUNNERS, DirectionRunner


class MlstmRunner(DirectionRunner):
    """One mLSTM cell (``mlstm_cell.mlstm_cell_step``), one step at a time from the stored state."""

    weights: MlstmWeights

    @blas_limited
    def run(self, start: int = 0, stop: int | None = None,
            progress: Callable[[int], None] | None = None) -> None:
        self._run_each(self._step_state, start, stop, progress,
                       over="ignore", invalid="ignore")       # a masked sample's q, k, v are NaN

    def _step_state(self, t: int, h_prev: np.ndarray, state: np.ndarray) -> None:
        w = self.weights
        i, f, _, _, h, new = mlstm_cell_step(w, self._zx_flat[:, t], h_prev, state)
        gates = self.gates[:, t]
        gates[:, 0] = np.repeat(i, w.head_size, axis=-1)
        gates[:, 1] = np.repeat(f, w.head_size, axis=-1)
        self.zh[:, t] = 0.0
        self.c[:, t] = new
        self.h[:, t] = h


RUNNERS[MLSTM_CELL.name] = MlstmRunner
