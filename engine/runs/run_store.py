"""One run of one traced direction, held once and read by windows.

Why one store: a window once held a run three times over (a stepping runner, the whole trace
for the ghosts, the model's traced run for its output) while the memory check counted one
copy. Now every run is a ``RunStore`` and every reader asks it for windows — positions a:b of
a signal, a ``LayerTrace`` of positions a:b, the state before a position, the overview —
without learning how it is kept (docs/architecture.md, "Long runs"):

* a run whose held bytes fit the budget is the chunked run of ``engine.runs.checkpoints`` with one
  chunk, computed once and kept: its windows are views of that chunk's buffers;
* a longer one keeps checkpoints and recomputes each window from the nearest one.

The cursor is not a second copy of the run: it is a "known up to" mark over the store
(``Session.known``). What a view that follows the cursor draws — a window with the positions
not read yet NaN — is a ``KnownCopy`` of that window, updated column by column as the mark moves.
"""

from __future__ import annotations

import dataclasses
import threading
from collections.abc import Callable
from typing import Any

import numpy as np

from ..cells.cell import CellWeights
from .checkpoints import CheckpointedRun, Overview
from .stepper import XW_BLOCK, DirectionRunner
from .trace import LayerTrace

SHOWN_ARRAYS = ("gates", "zx", "zh", "c", "h", "zp")


def held_bytes_per_step(batch: int, weights: CellWeights) -> int:
    """Bytes one input position of a held run keeps: the runner's buffers (gates, x . W, h . U,
    c, h, peephole terms), its input x and mask. Nothing else is kept per position: the gate
    input x . W + b is made block by block and a view copies only the columns it draws
    (``SessionModel.as_read``)."""
    n = weights.units
    floats = (len(weights.kind.gates) * n + 2 * weights.parts * n + weights.cell_size
              + weights.state_size + weights.input_dim + (4 * n if weights.peephole is not None else 0))
    return batch * (4 * floats + 1)


def held_bytes(batch: int, steps: int, weights: CellWeights) -> int:
    """What holding a run in memory really costs (``held_bytes_per_step`` for every position):
    the budget check compares this."""
    return steps * held_bytes_per_step(batch, weights)


class RunStore:
    """One traced direction over one input, read by input positions whatever is kept.

    ``args`` are a runner's (``Model.run_args``). ``held`` when ``held_bytes`` fits ``budget``:
    one chunk, kept once computed; otherwise checkpoints every ``interval`` steps. Nothing is
    computed up front; the first read computes what it needs (a held run: all of it, once)."""

    def __init__(self, args: dict[str, Any], *, budget: int, interval: int | None = None) -> None:
        batch, steps = np.shape(args["x"])[:2]
        self.held = held_bytes(batch, steps, args["weights"]) <= budget
        if self.held:                       # one chunk over the whole run, no states inside it
            whole = max(XW_BLOCK, -(-steps // XW_BLOCK) * XW_BLOCK)
            self.chunks = CheckpointedRun(**args, interval=whole, sub_interval=whole)
        else:
            self.chunks = CheckpointedRun(**args, interval=interval)
        run = self.chunks
        self.name, self.weights, self.backward = run.name, run.weights, run.backward
        self.batch, self.steps, self.units = run.batch, run.steps, run.units
        self._whole: LayerTrace | None = None
        self._lock = threading.Lock()

    # --- facts -------------------------------------------------------------------------------
    @property
    def direction(self) -> str:
        return self.chunks.direction

    @property
    def interval(self) -> int:
        """Steps between checkpoints (a held run: its one chunk's length)."""
        return self.chunks.interval

    def position(self, p):
        """Input position read at processing index p (its own inverse)."""
        return self.chunks.position(p)

    def bytes_held(self) -> int:
        """Bytes this store keeps now: a held run's buffers once computed; a checkpointed run's
        input, checkpoints, kept states and overview (its few cached chunks come and go)."""
        if self.held:
            return held_bytes(self.batch, self.steps, self.weights) if self.computed else 0
        return self.chunks.checkpoint_bytes()

    @property
    def computed(self) -> bool:
        """A held run whose values are all computed (reads of it cost nothing more)."""
        return self.held and (self.steps == 0 or self.chunks.ready(0))

    # --- the held run ------------------------------------------------------------------------
    def runner(self, progress: Callable[[int, int], None] | None = None) -> DirectionRunner:
        """A held run's one runner, computed on first use (its buffers *are* the run): what
        processing-order readers and debugger forks share. Held runs only. ``progress(done,
        steps)`` hears how many positions are traced while this call computes the run, every
        few thousand steps (never per step), so a long load can show a figure."""
        if not self.held:
            raise ValueError("a checkpointed run has no runner over the whole run")
        if self.steps == 0:
            return self._empty_runner()
        return self.chunks.chunk(0, progress)

    def _empty_runner(self) -> DirectionRunner:
        run = self.chunks
        return DirectionRunner(run.name, run.weights, run.x, backward=run.backward,
                               mask=run.mask, h0=run.h0, c0=run.c0)

    def whole(self) -> LayerTrace:
        """A held run's complete trace (the runner's buffers, no copy); the same object on
        every call."""
        with self._lock:
            if self._whole is None:
                self._whole = self.runner().to_trace()
            return self._whole

    # --- windows -----------------------------------------------------------------------------
    def window(self, a: int, b: int) -> LayerTrace:
        """Input positions a..b-1 as a LayerTrace (``start`` = a); its h0, c0 are the state just
        before its first processed step (position a, or b-1 backward). Held: views of the run
        (the whole run is ``whole()`` itself); checkpointed: recomputed copies."""
        if not self.held:
            return self.chunks.window_trace(a, b)
        full = self.whole()
        if (a, b) == (0, self.steps):
            return full
        first = (b - 1 if self.backward else a) if b > a else a
        h0, c0 = full.state_before(first) if b > a else (full.h0, full.c0)
        return LayerTrace(name=full.name, direction=full.direction, weights=full.weights,
                          x=full.x[:, a:b], mask=full.mask[:, a:b], h0=h0, c0=c0,
                          gates=full.gates[:, a:b], zx=full.zx[:, a:b], zh=full.zh[:, a:b],
                          c=full.c[:, a:b], h=full.h[:, a:b],
                          zp=None if full.zp is None else full.zp[:, a:b], start=a)

    def signal(self, name: str, a: int, b: int) -> np.ndarray:
        """(B, b-a, N) one signal at input positions a..b-1 (held: a view where it can be)."""
        if self.held:
            return self.whole().signal(name)[:, a:b]
        return self.chunks.signal(name, a, b)

    def state_before(self, position: int) -> tuple[np.ndarray, np.ndarray]:
        """(h, c) the cell held just before reading input ``position``."""
        if self.held:
            return self.whole().state_before(position)
        return self.chunks.state_before(self.chunks.position(position))

    def final_state(self) -> tuple[np.ndarray, np.ndarray]:
        """(h, c) after the whole input (what a stateful layer carries on)."""
        return self.whole().final_state() if self.held else self.chunks.final_state()

    def ready(self, position: int) -> bool:
        """Input ``position`` reads without computing whole chunks: a held run always (a load
        computes it before showing it); a checkpointed one when its chunk was computed (else
        a GUI leaves the read to a worker)."""
        if self.held:
            return True
        return 0 <= position < self.steps and self.chunks.ready(self.chunks.position(position))

    def overview(self) -> Overview:
        """Min and max per unit over buckets of positions (NaN where not computed yet); a held
        run's is complete once it is computed."""
        if self.held:
            self.whole()
        return self.chunks.overview

    def first_pass(self, progress: Callable[[int, int], None] | None = None,
                   should_stop: Callable[[], bool] | None = None) -> bool:
        """Compute the whole run once (a held run: kept; else checkpoints and overview); False
        when ``should_stop()`` ended it early. Safe from a worker thread."""
        if self.held:
            self.whole()
            if progress is not None:
                progress(self.steps, self.steps)
            return True
        return self.chunks.first_pass(progress, should_stop)

    def reader(self) -> DirectionRunner | CheckpointedRun:
        """Processing-order access (``columns``, ``position``, ``state_before``) to the run:
        the held runner, or the checkpointed chunks."""
        return self.runner() if self.held else self.chunks


class KnownCopy:
    """A window of a run as a view that follows the cursor draws it: positions not read yet
    are NaN. Made once per window and updated column by column as the known mark moves, so a
    step costs the columns that changed. ``whole_zx`` keeps x . W whole (it does not depend on
    the recurrence: a held run computes it up front) and shares it instead of copying it."""

    def __init__(self, window: LayerTrace, *, whole_zx: bool) -> None:
        self.window = window
        self._names = tuple(k for k in SHOWN_ARRAYS
                            if getattr(window, k) is not None and not (whole_zx and k == "zx"))
        arrays = {k: np.full_like(getattr(window, k), np.nan) for k in self._names}
        self.trace = dataclasses.replace(window, **arrays)
        self._known = slice(0, 0)

    @property
    def nbytes(self) -> int:
        return sum(getattr(self.trace, k).nbytes for k in self._names)

    def at(self, known: slice) -> LayerTrace:
        """The copy with exactly the input positions ``known`` (of the run) filled in."""
        w = self.window
        a, b = w.start, w.start + w.steps
        want = slice(min(max(known.start, a), b) - a, min(max(known.stop, a), b) - a)
        have = self._known
        if want != have:
            for k in self._names:
                dst, src = getattr(self.trace, k), getattr(w, k)
                for lo, hi in ((have.start, min(have.stop, want.start)),
                               (max(have.start, want.stop), have.stop)):
                    dst[:, lo:hi] = np.nan             # forgotten (stepped back)
                for lo, hi in ((want.start, min(want.stop, have.start)),
                               (max(want.start, have.stop), want.stop)):
                    dst[:, lo:hi] = src[:, lo:hi]      # newly read
            self._known = want
        return self.trace
