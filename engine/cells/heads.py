"""What the xLSTM cells (sLSTM, mLSTM) share as weights: their units split into heads.

A head's units read only their own head (an sLSTM's U is zero between heads; an mLSTM has no
U and one matrix memory per head), and the views group lanes by ``unit_heads``. Neither cell
is the classic or plain LSTM cell.
"""

from __future__ import annotations

import numpy as np


class HeadedCell:
    """Mixin for a ``CellWeights`` dataclass with a ``heads`` field (before CellWeights in the
    bases, so its answers win)."""

    heads: int
    units: int

    def check_heads(self) -> None:
        """Called from ``__post_init__``: the units must split evenly into heads."""
        if self.heads < 1 or self.units % self.heads:
            raise ValueError(f"{self.units} units do not split into {self.heads} heads")

    @property
    def head_size(self) -> int:
        return self.units // self.heads

    @property
    def is_plain(self) -> bool:
        return False

    @property
    def is_classic(self) -> bool:
        return False

    def head_of(self, unit: int) -> int:
        """The head a unit belongs to (the units it reads are that head's)."""
        return unit // self.head_size

    def unit_heads(self) -> np.ndarray:
        return np.arange(self.units) // self.head_size
