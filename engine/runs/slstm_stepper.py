"""The sLSTM's runner: a ``DirectionRunner`` with its own step.

Everything but the step is the LSTM runner's: the buffers by input position, x·W in the
aligned blocks of ``stepper.input_product`` (so a checkpointed window recomputes the same
bits), masks, stepping back, reading in processing order, ``to_trace``. The sLSTM records its
stabilised gates i, f, its candidate g and o in ``gates`` (B, T, 4, N), x·W in ``zx``, h·U in
``zh``, and carries c, the normalizer and the stabiliser side by side in ``c`` (B, T, 3N)
(``slstm_cell.CELL_PARTS``), so whatever carries (h, c) carries all three.

Importing this module hands the runner to ``stepper.RUNNERS``: a ``DirectionRunner`` made for
an sLSTM's weights is one. Its spec is ``slstm_cell.slstm_step`` (tests/test_slstm.py).
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from ..cells.slstm_cell import SLSTM_CELL, SlstmWeights, slstm_from_z
from ..system.blas import blas_limited
from .stepper import RUNNERS, DirectionRunner


class SlstmRunner(DirectionRunner):
    """One sLSTM (``slstm_cell.slstm_step``), one step at a time from the stored state."""

    weights: SlstmWeights

    @blas_limited
    def run(self, start: int = 0, stop: int | None = None,
            progress: Callable[[int], None] | None = None) -> None:
        self._run_each(self._step_state, start, stop, progress,
                       over="ignore", invalid="ignore")       # a masked sample's z is NaN

    def _step_state(self, t: int, h_prev: np.ndarray, state: np.ndarray) -> None:
        w, n = self.weights, self.units
        rec = h_prev @ w.recurrent_kernel
        self._zh_flat[:, t] = rec
        z = (self._zx_flat[:, t] + w.bias) + rec
        i, f, g, o, c, nrm, stab, h = slstm_from_z(w, z, state[:, :n], state[:, n:2 * n],
                                                   state[:, 2 * n:])
        gates = self.gates[:, t]
        gates[:, 0], gates[:, 1], gates[:, 2], gates[:, 3] = i, f, g, o
        carried = self.c[:, t]
        carried[:, :n], carried[:, n:2 * n], carried[:, 2 * n:] = c, nrm, stab
        self.h[:, t] = h


RUNNERS[SLSTM_CELL.name] = SlstmRunner
