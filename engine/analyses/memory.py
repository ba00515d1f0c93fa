"""The mLSTM's matrix memory at one step, as the memory view draws it and exports its numbers.

C is part of the run's carried state (``mlstm_cell.MlstmWeights.memory``): at the cursor it is
read from the one step's window of the run (a view in memory, recomputed from a checkpoint
otherwise), never from a whole-run array, so a long run's memory view costs one step
(docs/architecture.md, "mLSTM"). A run of another kind has no matrix memory: ``memory_reason``
says so in one line. The memory view's data export is ``engine.output.memory_data``.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ..errors import ScopeError
from ..runs.time_axis import input_position


def memory_reason(session: Any) -> str | None:
    """None when the traced layer keeps a matrix memory (an mLSTM); else why not, one line."""
    weights = session.info.weights
    if not hasattr(weights, "memory"):
        return (f"layer '{session.info.name}' is an {weights.kind.written}: the memory view shows "
                f"an mLSTM's matrix memory C, one DH x DH map per head")
    return None


def memory_at(session: Any, sample: int, position: int | None) -> np.ndarray:
    """C (heads, DH, DH) [head, key dim, value dim] of ``sample`` after reading input
    ``position`` (None: before the first step, the initial state)."""
    reason = memory_reason(session)
    if reason:
        raise ScopeError(reason)
    weights = session.info.weights
    if position is None:
        first = int(input_position(0, session.steps, session.backward))
        state = session.state_before(first)[1][sample]
    else:
        state = session.window(position, position + 1).c[sample, 0]
    return np.array(weights.memory(state), np.float32)
