"""The debugger's cursor over one run of one traced layer.

``s.t`` counts the input positions already read (0 at the start, T at the end). ``step()``
computes exactly one more timestep with the same runner a full trace uses; ``back()`` forgets
the last one, so stepping forward again recomputes it bit-identically. Views that need the
whole run (ghosted future, statistics) ask ``full()``, computed once on a separate runner and
safe to call from a worker thread. Observers are plain callables ``cb(event, session)`` with
event ``"position"`` (t moved) or ``"run"`` (input, layer or state changed).
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

import numpy as np

from .model import Model, StateMap, TracedLayerInfo
from .stepper import DirectionRunner
from .trace import LayerTrace, TraceResult

Observer = Callable[[str, "Session"], None]


class Session:
    """Step one traced layer of ``model`` over input ``x`` like a debugger."""

    def __init__(self, model: Model, x: Any, *, layer: int | str | None = None,
                 initial_state: StateMap | tuple[np.ndarray, np.ndarray] | None = None,
                 layer_input: bool = False) -> None:
        self.model = model
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
        self.runner: DirectionRunner = self.model.runner(
            self._layer, self.model_input, initial_state=self._initial_state,
            is_layer_input=self._layer_input)
        self._t = 0
        self._full: LayerTrace | None = None
        self._full_runner: DirectionRunner | None = None
        self._result: TraceResult | None = None

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
            return {self.info.name: self.full().final_state()}
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
    def steps(self) -> int:
        """T, the number of input positions of the run."""
        return self.runner.steps

    @property
    def batch(self) -> int:
        return self.runner.batch

    @property
    def units(self) -> int:
        return self.runner.units

    @property
    def backward(self) -> bool:
        return self.runner.backward

    @property
    def t(self) -> int:
        return self._t

    @property
    def trace(self) -> LayerTrace:
        """The live buffers: columns not yet read are NaN."""
        return self.runner.to_trace()

    @property
    def cursor(self) -> int | None:
        """Input position read most recently (None before the first step)."""
        return None if self._t == 0 else self.runner.position(self._t - 1)

    def known(self) -> slice:
        """Input positions computed so far, as a slice of the time axis."""
        if self.backward:
            return slice(self.steps - self._t, self.steps)
        return slice(0, self._t)

    def position_to_t(self, position: int) -> int:
        """The ``t`` at which input ``position`` has just been read."""
        return self.runner.position(position) + 1

    # --- moving ------------------------------------------------------------------------------
    def _advance_to(self, k: int) -> None:
        while self._t < k:
            self.runner.step(self._t)
            self._t += 1
        while self._t > k:
            self._t -= 1
            self.runner.clear(self._t)

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
        """The complete trace of this layer (computed once, independently of the cursor)."""
        with self._lock:
            if self._full is None:
                runner = self.model.runner(self._layer, self.model_input, initial_state=self._initial_state,
                                           is_layer_input=self._layer_input)
                runner.run()
                self._full_runner = runner
                self._full = runner.to_trace()
            return self._full

    def full_runner(self) -> DirectionRunner:
        """The runner that computed ``full()`` (its buffers *are* the full trace's arrays):
        debugger forks read their parent's columns and share its x . W from it."""
        self.full()
        return self._full_runner

    @property
    def has_full(self) -> bool:
        return self._full is not None

    def result(self) -> TraceResult:
        """The whole model's traced run (output as the framework returns it), cached."""
        with self._lock:
            if self._result is None:
                self._result = self.model.trace(
                    self.model_input, initial_state=self._initial_state,
                    layer_input=self._layer if self._layer_input else None)
            return self._result

    def grad(self, target: str):
        """Exact gradients of ``target`` through the whole run, with this session's layer as
        the one whose dx, dh, dc are reported (an ``engine.grad.GradResult``; cached per run)."""
        from .grad import gradient
        result = self.result()
        cache = result.__dict__.setdefault("_grad_cache", {})
        key = (target, self.info.name)
        if key not in cache:
            if len(cache) >= 8:
                cache.pop(next(iter(cache)))
            cache[key] = gradient(result, target, layer=self.info.name)
        return cache[key]

    # --- observers ---------------------------------------------------------------------------
    def subscribe(self, callback: Observer) -> None:
        self._observers.append(callback)

    def unsubscribe(self, callback: Observer) -> None:
        if callback in self._observers:
            self._observers.remove(callback)

    def _emit(self, event: str) -> None:
        for callback in list(self._observers):
            callback(event, self)
