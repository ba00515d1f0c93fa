"""The debugger's cursor over one run of one traced layer.

``s.t`` counts the input positions already read (0 at the start, T at the end): a "known up
to" mark over the run's one store (``engine.runs.run_store.RunStore``). ``step()``, ``back()`` and
``seek()`` move the mark; reads compute what they need (a run held in memory: all of it, once,
with the same runner a full trace uses, so every number is bit-identical to ``Model.trace``).
Observers are plain callables ``cb(event, session)`` with event ``"position"`` (t moved) or
``"run"`` (input, layer or state changed).

A run whose held bytes (``run_store.held_bytes``) would exceed ``checkpoint_above`` (default:
the memory guard, ``presets.DEFAULT_BUDGET_BYTES``) is *checkpointed* (``engine.runs.checkpoints``):
nothing but the input, a state every K steps and an overview is kept, and every read
recomputes its window from the nearest checkpoint, bit-identical to the in-memory trace. Both
kinds answer the same window API, which is what views should use (docs/architecture.md,
"Long runs"):

* ``signal(name, a, b, known_only=False)`` (B, b-a, N) one signal for input positions a:b;
* ``window(a, b)`` a LayerTrace of positions a:b (its h0, c0: the state just before it);
* ``as_read(window)`` that window with the positions not read yet NaN (updated per step);
* ``overview()`` per-unit min/max per bucket of positions, for a zoomed-out picture;
* ``first_pass(progress, should_stop)`` computes the whole run once (checkpoints, overview);
* ``state_before(position)``; ``recorded(full)`` processing-order columns for the debugger.

``trace``, ``full()`` and ``result()`` hold whole-run arrays and exist for in-memory runs only;
``result()`` reuses the store's run of this layer instead of computing it again.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

import numpy as np

from .cells.cell_kind import CellKind
from .errors import ScopeError
from .network.model import Model, StateMap, TracedLayerInfo
from .runs.checkpoints import CheckpointedRun, Overview, bytes_per_step
from .runs.run_store import KnownCopy, RunStore
from .runs.stepper import DirectionRunner
from .runs.time_axis import positions
from .runs.trace import LayerTrace, TraceResult
from .system.presets import DEFAULT_BUDGET_BYTES

Observer = Callable[[str, "Session"], None]


class Session:
    """Step one traced layer of ``model`` over input ``x`` like a debugger."""

    def __init__(self, model: Model, x: Any, *, layer: int | str | None = None,
                 initial_state: StateMap | tuple[np.ndarray, np.ndarray] | None = None,
                 layer_input: bool = False, checkpoint_above: int | None = None,
                 checkpoint_interval: int | None = None) -> None:
        """``checkpoint_above``: bytes a held run would really hold (``run_store.held_bytes``)
        above which it is checkpointed (default the memory guard; 0 always checkpoints);
        ``checkpoint_interval``: steps between checkpoints (a multiple of
        ``stepper.XW_BLOCK``; default from the layer size)."""
        self.model = model
        self.checkpoint_above = DEFAULT_BUDGET_BYTES if checkpoint_above is None else int(checkpoint_above)
        self._interval = checkpoint_interval
        self._layer_input = layer_input
        self._initial_state = initial_state
        self._observers: list[Observer] = []
        self._lock = threading.Lock()
        self._layer = model.layer_index(layer)
        if isinstance(initial_state, tuple):   # one (h0, c0): for the layer this session traces
            self._initial_state = {self.info.name: initial_state}
        self._set_x(x)
        self._rebuild()

    def _set_x(self, x: Any) -> None:
        """``x`` is the model's input; a model with several named inputs keeps them all in
        ``inputs`` and shows the first as ``x`` (what the input views draw)."""
        prepared = self.model.prepare_input(x, layer_input=self._layer if self._layer_input else None)
        self.inputs: dict[str, np.ndarray] | None = prepared if isinstance(prepared, dict) else None
        self.x = next(iter(prepared.values())) if isinstance(prepared, dict) else prepared

    @property
    def model_input(self) -> Any:
        """What the model runs on: the named inputs, or the one input array."""
        return self.inputs if self.inputs is not None else self.x

    # --- setup -------------------------------------------------------------------------------
    def _rebuild(self) -> None:
        args = self.model.run_args(self._layer, self.model_input, initial_state=self._initial_state,
                                   is_layer_input=self._layer_input)
        self._run = RunStore(args, budget=self.checkpoint_above, interval=self._interval)
        self._t = 0
        self._result: TraceResult | None = None
        self._as_read: dict[int, KnownCopy] = {}

    def set_layer(self, layer: int | str) -> None:
        """Trace another layer of the same model; keeps the position."""
        if self._layer_input:
            raise ValueError("a --layer-input session traces one layer only")
        t = self._t
        self._layer = self.model.layer_index(layer)
        self._rebuild()
        self._advance_to(min(t, self.steps))
        self._emit("run")

    def set_input(self, x: Any, *, initial_state: StateMap | tuple | None = None) -> None:
        """A new input (same model): back to t = 0."""
        self._set_x(x)
        if isinstance(initial_state, tuple):
            initial_state = {self.info.name: initial_state}
        if initial_state is not None:
            self._initial_state = initial_state
        self._rebuild()
        self._emit("run")

    def final_states(self) -> dict[str, tuple[np.ndarray, np.ndarray]]:
        """Every traced layer's (h, c) after the whole input (what a stateful model carries);
        with ``layer_input``, this layer's only."""
        if self._layer_input:
            final = self._run.final_state()
            return {self.info.name: final}
        return dict(self.result().states)

    def feed_segment(self, x: Any) -> None:
        """The next segment of a stateful run: a new input that starts from the current run's
        final states (all layers), back to t = 0. Announced as a "run" change."""
        self.set_input(x, initial_state=self.final_states())

    @property
    def warnings(self) -> list[str]:
        """Everything the user should know about this run: the loader's warnings and, for a
        captured model, what the capture added (a state input that starts at zero)."""
        notes = list(self.model.warnings)
        if self.model.runtime is not None and not self._layer_input:
            notes += [n for n in self.model.capture(self.model_input).notes if n not in notes]
        return notes

    # --- facts -------------------------------------------------------------------------------
    @property
    def layer_index(self) -> int:
        return self._layer

    @property
    def initial_state(self) -> StateMap | None:
        """The state the run starts from, as given ({layer name: (h0, c0)} or None for zeros):
        what another run of the same model needs to start where this one did."""
        return self._initial_state

    @property
    def is_layer_input(self) -> bool:
        """True when ``x`` is the traced layer's own input (``--layer-input``), not the model's."""
        return self._layer_input

    @property
    def info(self) -> TracedLayerInfo:
        return self.model.traced_layers[self._layer]

    @property
    def cell_kind(self) -> CellKind:
        """The traced layer's kind of cell: views read their signal lists from it at each run."""
        return self.info.cell_kind

    @property
    def steps(self) -> int:
        """T, the number of input positions of the run."""
        return self._run.steps

    @property
    def batch(self) -> int:
        return self._run.batch

    @property
    def units(self) -> int:
        return self._run.units

    @property
    def backward(self) -> bool:
        return self._run.backward

    @property
    def holds_whole_run(self) -> bool:
        """The store holds every position of the run: reading all of it at once (``full()``,
        a whole-run gradient or comparison) costs no recompute and no more memory. The
        question readers ask instead of which kind of run it is."""
        return self._run.held

    @property
    def checkpointed(self) -> bool:
        """True when the run keeps checkpoints instead of whole-run arrays: for messages and
        files that name the kind of run; readers ask ``holds_whole_run``."""
        return not self._run.held

    @property
    def store(self) -> CheckpointedRun | None:
        """A checkpointed run's chunks (None in memory): for tests and benchmarks that count
        chunk work; readers use the window API."""
        return None if self._run.held else self._run.chunks

    @property
    def runner(self) -> DirectionRunner | None:
        """An in-memory run's one runner over the whole run (None when checkpointed)."""
        return self._run.runner() if self._run.held else None

    @property
    def checkpoint_interval(self) -> int:
        """Steps between checkpoints (in memory: the one chunk's length)."""
        return self._run.interval

    @property
    def t(self) -> int:
        return self._t

    @property
    def trace(self) -> LayerTrace:
        """The run as read so far: columns not yet read are NaN (in-memory runs only)."""
        self._need_memory("the live trace")
        return self.as_read(self.full())

    def _need_memory(self, what: str) -> None:
        if not self._run.held:
            raise ScopeError(f"{what} of a checkpointed run ({self.steps} steps) is not kept in "
                             f"memory: read windows of it (Session.signal / Session.window)")

    @property
    def cursor(self) -> int | None:
        """Input position read most recently (None before the first step)."""
        return None if self._t == 0 else self._run.position(self._t - 1)

    def known(self) -> slice:
        """Input positions computed so far, as a slice of the time axis."""
        return slice(*positions(0, self._t, self.steps, self.backward))

    def position_to_t(self, position: int) -> int:
        """The ``t`` at which input ``position`` has just been read."""
        return self._run.position(position) + 1

    # --- moving ------------------------------------------------------------------------------
    def _advance_to(self, k: int) -> None:
        self._t = k                 # the mark only: reads compute what they need

    def step(self, n: int = 1) -> int:
        """Read ``n`` more input positions (stops at T)."""
        return self.seek(self._t + n)

    def back(self, n: int = 1) -> int:
        """Undo ``n`` steps (stops at 0)."""
        return self.seek(self._t - n)

    def seek(self, k: int, *, notify: bool = True) -> int:
        """Go to t = k (clamped to 0..T), computing or forgetting steps on the way.

        ``notify=False`` moves silently (a run-to-breakpoint loop announces only where it stops).
        """
        k = max(0, min(int(k), self.steps))
        if k != self._t:
            self._advance_to(k)
            if notify:
                self._emit("position")
        return self._t

    def notify(self, event: str = "position") -> None:
        """Announce an event to the observers (after silent moves, or a debugger change)."""
        self._emit(event)

    def reset(self) -> int:
        return self.seek(0)

    def to_end(self) -> int:
        return self.seek(self.steps)

    # --- whole-run views ---------------------------------------------------------------------
    def full(self) -> LayerTrace:
        """The complete trace of this layer (computed once, independently of the cursor);
        in-memory runs only."""
        self._need_memory("the whole trace")
        return self._run.whole()

    def full_runner(self) -> DirectionRunner:
        """The runner whose buffers *are* the full trace's arrays: debugger forks read their
        parent's columns and share its x . W from it. In-memory runs only."""
        self._need_memory("the whole trace")
        return self._run.runner()

    @property
    def has_full(self) -> bool:
        return self._run.computed

    def result(self) -> TraceResult:
        """The whole model's traced run (output as the framework returns it), cached; this
        layer's trace in it is the store's run, not a second one. In-memory runs only."""
        self._need_memory("the whole model's run")
        runner = self._run.runner()
        with self._lock:
            if self._result is None:
                self._result = self.model.trace(
                    self.model_input, initial_state=self._initial_state,
                    layer_input=self._layer if self._layer_input else None, reuse=runner)
            return self._result

    def grad(self, target: str, should_stop: Callable[[], bool] | None = None):
        """Exact gradients of ``target`` through the whole run, with this session's layer as
        the one whose dx, dh, dc are reported (an ``engine.gradients.grad.GradResult``; cached per run).
        On a checkpointed run ``should_stop()`` is asked between chunks (True: ``Cancelled``)."""
        from .gradients.grad import gradient
        if not self._run.held:         # segment by segment through the checkpoints
            from .gradients.grad_segments import segment_gradient
            cache = self._run.__dict__.setdefault("_grad_cache", {})
            if target not in cache:
                result = segment_gradient(self, target, should_stop)
                if len(cache) >= 2:
                    cache.pop(next(iter(cache)))
                cache[target] = result
            return cache[target]
        result = self.result()
        cache = result.__dict__.setdefault("_grad_cache", {})
        key = (target, self.info.name)
        if key not in cache:
            if len(cache) >= 2:         # the last two: the window's target moves with the cursor
                cache.pop(next(iter(cache)))
            cache[key] = gradient(result, target, layer=self.info.name)
        return cache[key]

    # --- windows: the same API for in-memory and checkpointed runs ---------------------------
    def _check_range(self, a: int, b: int) -> tuple[int, int]:
        a, b = int(a), int(b)
        if not 0 <= a <= b <= self.steps:
            raise ScopeError(f"steps {a}:{b} are outside the run (0:{self.steps})")
        return a, b

    def window(self, a: int, b: int) -> LayerTrace:
        """Input positions a..b-1 of the whole run as a LayerTrace (``start`` = a); its h0, c0
        are the state just before its first processed step (position a, or b-1 backward).
        In memory: views of ``full()`` (the whole run is ``full()`` itself); checkpointed:
        recomputed from the nearest checkpoint."""
        a, b = self._check_range(a, b)
        return self._run.window(a, b)

    def signal(self, name: str, a: int, b: int, *, known_only: bool = False) -> np.ndarray:
        """(B, b-a, N) one signal (i f g o c h x, z_i, zx_f ...) at input positions a..b-1 of
        the whole run; ``known_only`` leaves positions not read yet (beyond the cursor) NaN."""
        a, b = self._check_range(a, b)
        out = self._run.signal(name, a, b)
        if known_only:
            known = self.known()
            lo, hi = max(a, known.start), min(b, known.stop)
            out = np.array(out, np.float32)
            keep = np.zeros(b - a, bool)
            keep[max(lo - a, 0):max(hi - a, 0)] = True
            out[:, ~keep] = np.nan
        return out

    def as_read(self, window: LayerTrace) -> LayerTrace:
        """``window`` (a window of this run, as ``window()`` returns it) with the positions not
        read yet NaN: what a view that follows the cursor draws. One copy per window (the last
        two asked are kept), updated column by column as the cursor moves; x . W stays whole
        in memory, where it is computed up front."""
        copy = self._as_read.get(id(window))
        if copy is None or copy.window is not window:
            while len(self._as_read) >= 2:
                self._as_read.pop(next(iter(self._as_read)))
            copy = self._as_read[id(window)] = KnownCopy(window, whole_zx=self._run.held)
        return copy.at(self.known())

    def state_before(self, position: int) -> tuple[np.ndarray, np.ndarray]:
        """(h, c) (B, ...) the cell held just before reading input ``position``."""
        if not 0 <= position < self.steps:
            raise ScopeError(f"step {position} is outside the run (0..{self.steps - 1})")
        return self._run.state_before(position)

    def ready(self, position: int) -> bool:
        """Input ``position`` reads at once: always in memory; on a checkpointed run when its
        chunk has been computed (else a read computes chunks, which a GUI leaves to a worker)."""
        return self._run.ready(position)

    def overview(self) -> Overview:
        """Per unit and signal, min and max per bucket of input positions (``Overview``): the
        zoomed-out picture. Checkpointed: filled in by ``first_pass`` (NaN where not yet)."""
        return self._run.overview()

    def first_pass(self, progress: Callable[[int, int], None] | None = None,
                   should_stop: Callable[[], bool] | None = None) -> bool:
        """Compute the whole run once (checkpoints and overview, or the held run); False when
        ``should_stop()`` ended it early. Safe from a worker thread."""
        return self._run.first_pass(progress, should_stop)

    def span_around(self, position: int | None, max_bytes: int) -> tuple[int, int]:
        """Input positions [a, b) a view should draw around ``position`` (None: where the
        cursor starts). A run held in memory: all of it (its windows are its own arrays). A
        checkpointed run: a power of two from 256 to 8192 positions whose window and its
        as-read copy fit ``max_bytes``, centred on ``position`` (at most the run)."""
        if self._run.held:
            return 0, self.steps
        per = bytes_per_step(self.batch, self.info.weights)
        width = 256
        while width < 8192 and 2 * width * per * 2 <= max_bytes:
            width *= 2
        width = min(width, self.steps)
        if position is None:
            position = 0 if not self.backward else self.steps - 1
        a = max(0, min(self.steps - width, position - width // 2))
        return a, min(self.steps, a + width)

    def output(self) -> np.ndarray | None:
        """The model's output for the whole run, as the framework returns it; None for a
        checkpointed run (it keeps no whole-run arrays) and for a model the engine computes
        only up to its LSTMs (``Model.partial``)."""
        if not self._run.held:
            return None
        out = self.result().output
        return None if out is None else np.asarray(out)

    def output_shape(self) -> tuple[int, ...] | None:
        """The shape of the model's output (None when it is not computed): for a checkpointed
        run, what the traced layer returns, from its size alone."""
        if self._run.held:
            out = self.result().output
            return None if out is None else tuple(np.shape(out))
        info = self.info
        size = info.weights.state_size
        return (self.batch, self.steps, size) if info.return_sequences else (self.batch, size)

    def first_window(self) -> tuple[int, int]:
        """Input positions a window shows first (where the cursor starts): the first 256
        read (the last 256 positions of a backward run)."""
        return positions(0, min(self.steps, 256), self.steps, self.backward)

    def prepare_view(self, progress: Callable[[int, int], None] | None = None) -> None:
        """Compute what a window shows first, so it opens without waiting (call it off the GUI
        thread): the first window of positions (a run held in memory: all of it, telling
        ``progress(done, steps)`` how far it is) and, in memory, the whole model's run for its
        output (reusing this layer's run)."""
        if self._run.held:
            self._run.runner(progress)
        self.signal("h", *self.first_window())
        if self._run.held:
            self.result()

    def recorded(self, full: bool = False) -> DirectionRunner | CheckpointedRun:
        """Processing-order access (``columns``, ``position``, ``state_before``) to the run:
        the steps read so far are ``0 .. t-1`` (``full`` is kept for callers that read the
        whole run; the store answers both)."""
        return self._run.reader()

    # --- observers ---------------------------------------------------------------------------
    def subscribe(self, callback: Observer) -> None:
        self._observers.append(callback)

    def unsubscribe(self, callback: Observer) -> None:
        if callback in self._observers:
            self._observers.remove(callback)

    def _emit(self, event: str) -> None:
        for callback in list(self._observers):
            callback(event, self)
