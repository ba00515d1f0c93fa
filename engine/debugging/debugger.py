"""Breakpoints, run-to-event, watches, forks and input comparison over one ``Session``.

    from engine.debugging.debugger import Debugger, Breakpoint
    dbg = Debugger(session)
    dbg.add_breakpoint("any(abs(c) > 5)")
    dbg.add_breakpoint(Breakpoint.nan_inf())
    result = dbg.run_to_hit(+1)          # steps the session to the next hit (or the end)
    dbg.all_hits()                       # {breakpoint id: input positions} over the whole run
    dbg.add_watch("mean(saturated(f))"); dbg.watch_values(); dbg.watch_series(0)
    fork = dbg.fork_state("h", unit=3, value=0.0)   # edit h[3] at the current step
    fork.diff("h")                                  # fork minus parent

Semantics (documented once, used everywhere):
* An expression is evaluated after reading a step (processing index p; for a backward layer p
  reads input position T-1-p). ``prev(E)`` is E one processing step earlier.
* ``sample`` chooses the batch samples: an int (the GUI's current sample) or None (all). A
  condition holds at a step when it holds for any chosen sample (and, for a vector result,
  any unit).
* A breakpoint *hits* at p when its condition holds at p and did not hold at p-1 (nothing
  holds before the first step); with ``every_step`` it hits at every p where it holds.
  Positions reported are input positions; the session cursor after stopping at a hit on p is
  ``t = p + 1`` (the step that triggered it has just been read).
* Conditions are evaluated vectorised over a range of steps (a handful of whole-array ufuncs):
  forward, the session is stepped in chunks with the same runner (bit-identical to single
  steps) and the chunk is scanned; a hit inside the chunk moves the cursor back onto it.
  Backward scans the columns already computed. ``all_hits`` scans ``session.full()``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ..cells.cell import LSTM_CELL, CellWeights
from ..cells.cell_kind import CellKind
from ..errors import Cancelled, ScopeError
from ..runs.checkpoints import CheckpointedRun
from ..runs.stepper import DirectionRunner
from ..runs.time_axis import positions
from ..runs.trace import SignalSource
from ..session import Session
from ..what_if.forks import Edit, Fork, ForkSet
from .expr import Expr, ExprError
from .hits import HitReport, explain

F32 = np.float32
DEFAULT_GRAD_TARGET = "sumsq(h[:, last, :])"


# --- evaluation environments ---------------------------------------------------------------
class RangeEnv(SignalSource):
    """Signals of processing indices [p0, p1) of a recorded run, for samples ``samples``.

    ``source`` is anything with ``columns(array, a, b)`` in processing order (a
    ``DirectionRunner``, a ``CheckpointedRun``): values are (S, L, N) in processing order
    (L = p1 - p0); ``prev()`` shifts by one step. Before the first step h and c are the
    initial state, everything else NaN.
    """

    def __init__(self, source: DirectionRunner | CheckpointedRun, p0: int, p1: int,
                 samples: slice, depth: int = 0, grads: Callable[[], Any] | None = None) -> None:
        self.source, self.p0, self.p1, self.samples, self.depth = source, p0, p1, samples, depth
        self.grads = grads          # -> GradResult of the debugger's gradient target (dh dc dx)
        self.weights = source.weights
        self._cache: dict[str, np.ndarray] = {}
        self._n_samples = len(range(*samples.indices(source.batch)))

    def lead_shape(self) -> tuple[int, int]:
        return (self._n_samples, self.p1 - self.p0)

    def prev(self) -> RangeEnv:
        return RangeEnv(self.source, self.p0, self.p1, self.samples, self.depth + 1, self.grads)

    def activation(self, gate: str):
        return self.weights.activation_of(gate)

    def position(self) -> np.ndarray:
        p = np.arange(self.p0 - self.depth, self.p1 - self.depth)
        pos = np.where(p < 0, -1, self.source.position(p)).astype(np.float64)
        return np.broadcast_to(pos, self.lead_shape())

    def _grad_columns(self, arr: np.ndarray) -> np.ndarray:
        """A whole-run gradient (B, T, ...) by input position -> (S, L, ...) for processing
        indices [p0-depth, p1-depth); NaN before the first step."""
        src = self.source
        a, b = self.p0 - self.depth, self.p1 - self.depth
        lo = max(a, 0)
        if b <= lo:
            body = arr[self.samples, 0:0]
        else:
            body = arr[self.samples, slice(*positions(lo, b, src.steps, src.backward))]
            body = body[:, ::-1] if src.backward else body
        if a >= 0:
            return body
        pad = np.full((body.shape[0], min(-a, b - a), *body.shape[2:]), np.nan, body.dtype)
        return np.concatenate([pad, body], axis=1)

    def part(self, array: str, gate: int | None) -> np.ndarray:
        """(S, L, ...) of one recorded array; h and c at processing index -1 are h0 and c0."""
        v = self.source.columns(array, self.p0 - self.depth, self.p1 - self.depth)[self.samples]
        return v if gate is None else v[:, :, gate]

    def value(self, name: str) -> np.ndarray:
        v = self._cache.get(name)
        if v is not None:
            return v
        if name in ("dh", "dc", "dx"):
            if self.grads is None:
                raise ExprError("gradients are not available here", 0)
            v = self._grad_columns(getattr(self.grads(), name))
        else:
            v = self.signal(name)
        self._cache[name] = v
        return v


def check(expr: Expr | str, layer: CellWeights | DirectionRunner | CheckpointedRun) -> Expr:
    """Compile and try ``expr`` on one step of this layer's shapes (index/shape errors);
    ``layer`` is the layer's weights or anything holding them."""
    e = expr if isinstance(expr, Expr) else Expr(expr)
    weights = getattr(layer, "weights", layer)
    one = DirectionRunner("check", weights, np.zeros((1, 1, weights.input_dim), F32))
    one.run()

    class _ZeroGrads:          # gradient-shaped zeros: dh like h, dc like C (an sLSTM's c
        # carries nrm and stab after C; a gradient's dc is C's), dx like x
        dh, dc, dx = np.zeros_like(one.h), np.zeros_like(one.c[..., :weights.units]), np.zeros_like(one.x)
    e.evaluate(RangeEnv(one, 0, 1, slice(None), grads=lambda: _ZeroGrads))
    return e


# --- breakpoints and watches ---------------------------------------------------------------
@dataclass
class Breakpoint:
    """A condition; ``kind`` is "expr" or a built-in event (its expression is generated)."""

    expression: str
    every_step: bool = False
    enabled: bool = True
    kind: str = "expr"
    label: str = ""
    params: dict[str, Any] = field(default_factory=dict)
    id: int = -1
    error: str = ""           # why the condition could not be evaluated last time (it holds nowhere)

    @property
    def title(self) -> str:
        return self.label or self.expression

    # built-in events a user ticks without writing anything
    @classmethod
    def nan_inf(cls, cell: CellKind = LSTM_CELL) -> Breakpoint:
        """NaN or Inf in the states of ``cell`` (an LSTM's c and h, a GRU's or RNN's h)."""
        states = cell.states
        expr = " or ".join(f"any(isnan({s})) or any(isinf({s}))" for s in states)
        return cls(expr, kind="nan_inf", label=f"NaN/Inf appears in {' or '.join(states)}")

    @classmethod
    def c_exceeds(cls, bound: float = 5.0) -> Breakpoint:
        bound = float(bound)
        return cls(f"any(abs(c) > {bound!r})", kind="c_exceeds", label=f"|c| exceeds {bound:g}",
                   params={"bound": bound})

    @classmethod
    def saturates(cls, gate: str = "any", fraction: float = 0.9,
                  cell: CellKind = LSTM_CELL) -> Breakpoint:
        """The share of units whose gate lies within 5 % of either end of its range (below
        0.05 or above 0.95 for a sigmoid) reaches ``fraction`` (0.9: nine units in ten); the
        label says both numbers, so 0.9 is never read as a gate level. ``cell``: whose gates
        (an LSTM's i f g o, a GRU's u r n)."""
        fraction = float(fraction)
        gates = cell.gates if gate == "any" else (gate,)
        if not gates or any(g not in cell.gates for g in gates):
            raise ScopeError(f"unknown gate '{gate}' ({', '.join(cell.gates) or 'no gates'}"
                             f"{' or any' if cell.gates else ''})")
        expr = " or ".join(f"mean(saturated({g})) >= {fraction!r}" for g in gates)
        what = "a gate" if gate == "any" else f"gate {gate}"
        return cls(expr, kind="saturates",
                   label=f"{what} saturates in ≥ {fraction:.0%} of units (within 5 % of its range's ends)",
                   params={"gate": gate, "fraction": fraction})

    @classmethod
    def sign_change(cls, unit: int | None = None) -> Breakpoint:
        if unit is None:
            return cls("any(h * prev(h) < 0)", kind="sign_change", label="a unit's h changes sign")
        unit = int(unit)
        return cls(f"h[{unit}] * prev(h[{unit}]) < 0", kind="sign_change",
                   label=f"h[{unit}] changes sign", params={"unit": unit})

    def to_dict(self) -> dict[str, Any]:
        return {"expression": self.expression, "every_step": self.every_step,
                "enabled": self.enabled, "kind": self.kind, "label": self.label,
                "params": dict(self.params)}

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Breakpoint:
        return cls(str(d["expression"]), bool(d.get("every_step", False)),
                   bool(d.get("enabled", True)), str(d.get("kind", "expr")),
                   str(d.get("label", "")), dict(d.get("params") or {}))


@dataclass
class Watch:
    expression: str
    id: int = -1


@dataclass
class RunResult:
    """Where ``run_to_hit`` stopped: ``hit`` False at the end/start of the run or when stopped."""

    hit: bool
    t: int                                  # session cursor now
    position: int | None                    # input position of the hit step
    breakpoints: list[int] = field(default_factory=list)   # ids that hit
    stopped: bool = False                   # should_stop() ended the run early
    steps_scanned: int = 0


ProgressFn = Callable[[int, int], None]


class Debugger:
    """Breakpoints, watches and forks attached to a Session (observes its run changes)."""

    CHUNK = 256

    def __init__(self, session: Session, *, sample: int | None = None) -> None:
        self.session = session
        self.sample = sample
        self.breakpoints: list[Breakpoint] = []
        self.watches: list[Watch] = []
        self._compiled: dict[str, Expr] = {}
        self._next_id = 0
        self._forks: ForkSet | None = None
        self._hits_cache: dict[int, np.ndarray] | None = None
        self.listeners: list[Callable[[str], None]] = []     # "breakpoints" "watches" "forks"
        self.grad_target: str | None = None
        session.subscribe(self._on_session)

    def close(self) -> None:
        self.session.unsubscribe(self._on_session)

    def _on_session(self, event: str, session: Session) -> None:
        if event == "run":            # new input or layer: hits and forks describe another run
            self._hits_cache = None
            had_forks = self.has_forks
            self._forks = None
            if had_forks:
                self._announce("forks")

    def _announce(self, what: str) -> None:
        for cb in list(self.listeners):
            cb(what)

    def _samples(self) -> slice:
        if self.sample is None:
            return slice(None)
        s = int(self.sample)
        if not 0 <= s < self.session.batch:
            raise ScopeError(f"sample {s} is outside 0..{self.session.batch - 1}")
        return slice(s, s + 1)

    def set_sample(self, sample: int | None) -> None:
        if sample != self.sample:
            self.sample = sample
            self._hits_cache = None

    def set_grad_target(self, target: str | None) -> None:
        """What ``grad(c)``, ``grad_norm(h)`` ... in expressions differentiate (None: the
        default, the sum of squares of this layer's final h, ``sumsq(h[:, last, :])``)."""
        if target is not None:
            from ..gradients.grad_target import parse_target
            parse_target(target)
        self.grad_target = target
        self._hits_cache = None
        self._announce("watches")

    def _grads(self):
        return self.session.grad(self.grad_target or DEFAULT_GRAD_TARGET)

    def compile(self, text: str) -> Expr:
        """Compile and shape-check an expression for this layer (raises ExprError)."""
        e = self._compiled.get(text)
        if e is None:
            e = check(text, self.session.info.weights)
            self._compiled[text] = e
        return e

    # --- breakpoints -----------------------------------------------------------------------
    def add_breakpoint(self, bp: Breakpoint | str, *, every_step: bool = False) -> Breakpoint:
        if isinstance(bp, str):
            bp = Breakpoint(bp, every_step=every_step)
        self.compile(bp.expression)
        bp.id = self._next_id
        self._next_id += 1
        self.breakpoints.append(bp)
        self._hits_cache = None
        self._announce("breakpoints")
        return bp

    def remove_breakpoint(self, bp_id: int) -> None:
        self.breakpoints = [b for b in self.breakpoints if b.id != bp_id]
        self._hits_cache = None
        self._announce("breakpoints")

    def set_enabled(self, bp_id: int, enabled: bool) -> None:
        for b in self.breakpoints:
            if b.id == bp_id:
                b.enabled = enabled
        self._hits_cache = None
        self._announce("breakpoints")

    def set_every_step(self, bp_id: int, every_step: bool) -> None:
        for b in self.breakpoints:
            if b.id == bp_id:
                b.every_step = every_step
        self._hits_cache = None
        self._announce("breakpoints")

    def _active(self) -> list[Breakpoint]:
        return [b for b in self.breakpoints if b.enabled]

    def _hits_in(self, runner: DirectionRunner | CheckpointedRun, p0: int, p1: int,
                 bp: Breakpoint) -> np.ndarray:
        """Bool (p1 - p0,): does ``bp`` hit at processing indices p0..p1-1 (needs p0-1 too)?"""
        lo = max(p0 - 1, 0)
        try:
            holds = self.compile(bp.expression).truth(RangeEnv(runner, lo, p1, self._samples(),
                                                                    grads=self._grads))
            bp.error = ""
        except ExprError as exc:      # the breakpoint's own inline error; it never hits
            bp.error = exc.message
            return np.zeros(p1 - p0, bool)
        if bp.every_step:
            return holds[p0 - lo:]
        if lo == p0:      # p0 == 0: nothing holds before the first step
            return holds & ~np.concatenate([[False], holds[:-1]])
        return holds[1:] & ~holds[:-1]

    def hits_at(self, t: int | None = None) -> list[int]:
        """Ids of breakpoints that hit on the step read last (cursor t, default the session's)."""
        t = self.session.t if t is None else t
        if t <= 0:
            return []
        src = self.session.recorded()
        return [b.id for b in self._active() if self._hits_in(src, t - 1, t, b)[0]]

    def explain(self, bp_id: int, t: int | None = None) -> HitReport:
        """Which units and values made breakpoint ``bp_id`` true on the step read last (cursor
        t, default the session's): ``engine.debugging.hits``. A report with no culprits when it does
        not hold there."""
        t = self.session.t if t is None else t
        bp = next((b for b in self.breakpoints if b.id == bp_id), None)
        if bp is None:
            raise ScopeError(f"no breakpoint {bp_id}")
        if t <= 0:
            raise ScopeError("read a step first: a breakpoint is checked after a step")
        runner, samples = self.session.recorded(), self._samples()
        env = RangeEnv(runner, t - 1, t, samples, grads=self._grads)
        return explain(bp.expression, env, breakpoint_id=bp.id, title=bp.title,
                       position=int(runner.position(t - 1)),
                       samples=range(*samples.indices(runner.batch)))

    def all_hits(self) -> dict[int, np.ndarray]:
        """{breakpoint id: input positions where it hits} over the whole run (``full()``)."""
        if self._hits_cache is None:
            self._hits_cache = self.scan_hits()
        return self._hits_cache

    def scan_hits(self, should_stop: Callable[[], bool] | None = None) -> dict[int, np.ndarray]:
        """``all_hits`` computed afresh and not cached, so a worker thread may run it: a
        checkpointed run is scanned one chunk at a time, every enabled breakpoint in each
        chunk (each chunk recomputed once). ``should_stop()`` True between chunks raises
        ``Cancelled``."""
        runner = self.session.recorded(full=True)
        active = self._active()
        found: dict[int, list[np.ndarray]] = {bp.id: [] for bp in active}
        for p0, p1 in _pieces(runner, 0, runner.steps):
            if should_stop is not None and should_stop():
                raise Cancelled("breakpoint scan cancelled")
            for bp in active:
                found[bp.id].append(p0 + np.flatnonzero(self._hits_in(runner, p0, p1, bp)))
        return {i: runner.position(np.concatenate(h) if h else np.zeros(0, np.int64))
                for i, h in found.items()}

    def hit_positions(self) -> np.ndarray:
        """Every input position where any enabled breakpoint hits (sorted), for the timeline."""
        hits = self.all_hits()
        if not hits:
            return np.zeros(0, np.int64)
        return np.unique(np.concatenate(list(hits.values())))

    def run_to_hit(self, direction: int = 1, *, progress: ProgressFn | None = None,
                   should_stop: Callable[[], bool] | None = None) -> RunResult:
        """Move the session to the next hit forward (+1) or backward (-1).

        Forward steps the session incrementally in chunks and scans each chunk; backward scans
        the steps already read. With no hit the cursor ends at T (forward) or 0 (backward).
        Observers hear one "position" event, where it stops.
        """
        s = self.session
        active = self._active()
        start_t = s.t
        if direction >= 0:
            result = self._run_forward(active, progress, should_stop)
        else:
            result = self._run_backward(active, progress)
        if s.t != start_t:
            s.notify("position")
        return result

    def _first_hit(self, runner: DirectionRunner | CheckpointedRun, p0: int, p1: int,
                   active: list[Breakpoint],
                   last: bool = False) -> tuple[int | None, list[int]]:
        best: int | None = None
        which: list[int] = []
        for bp in active:
            idx = np.flatnonzero(self._hits_in(runner, p0, p1, bp))
            if not idx.size:
                continue
            p = int(idx[-1] if last else idx[0]) + p0
            if best is None or (p > best if last else p < best):
                best, which = p, [bp.id]
            elif p == best:
                which.append(bp.id)
        return best, which

    def _run_forward(self, active, progress, should_stop) -> RunResult:
        s = self.session
        total = s.steps
        scanned = 0
        while s.t < total:
            if should_stop is not None and should_stop():
                return RunResult(False, s.t, None, stopped=True, steps_scanned=scanned)
            p0 = s.t
            p1 = min(total, p0 + self.CHUNK)
            s.seek(p1, notify=False)
            scanned += p1 - p0
            if active:
                p, which = self._first_hit(s.recorded(), p0, p1, active)
                if p is not None:
                    s.seek(p + 1, notify=False)
                    return RunResult(True, s.t, s.recorded().position(p), which, steps_scanned=scanned)
            if progress is not None:
                progress(p1, total)
        return RunResult(False, s.t, None, steps_scanned=scanned)

    def _run_backward(self, active, progress) -> RunResult:
        s = self.session
        p_cur = s.t - 1
        if p_cur >= 1 and active:
            src = s.recorded()
            for p0, p1 in reversed(_pieces(src, 0, p_cur)):
                p, which = self._first_hit(src, p0, p1, active, last=True)
                if p is not None:
                    s.seek(p + 1, notify=False)
                    return RunResult(True, s.t, src.position(p), which, steps_scanned=p_cur - p0)
        s.seek(0, notify=False)
        return RunResult(False, 0, None, steps_scanned=max(p_cur, 0))

    # --- watches -----------------------------------------------------------------------------
    def add_watch(self, expression: str) -> Watch:
        self.compile(expression)
        w = Watch(expression, self._next_id)
        self._next_id += 1
        self.watches.append(w)
        self._announce("watches")
        return w

    def remove_watch(self, watch_id: int) -> None:
        self.watches = [w for w in self.watches if w.id != watch_id]
        self._announce("watches")

    def _watch(self, key: int | Watch) -> Watch:
        if isinstance(key, Watch):
            return key
        for w in self.watches:
            if w.id == key:
                return w
        raise ScopeError(f"no watch {key}")

    def watch_value(self, key: int | Watch, t: int | None = None) -> np.ndarray | None:
        """A watch's value after reading step t (default: the cursor); None at t = 0.

        Shape (S,) for a scalar expression, (S, N) for a vector one (S = chosen samples).
        """
        w = self._watch(key)
        t = self.session.t if t is None else t
        if t <= 0:
            return None
        v = self.compile(w.expression).evaluate(RangeEnv(self.session.recorded(), t - 1, t, self._samples(),
                                                            grads=self._grads))
        lead = (len(range(*self._samples().indices(self.session.batch))), 1)
        v = np.asarray(v, np.float64)
        if self.compile(w.expression).vector:
            return np.broadcast_to(v, (*lead, v.shape[-1]))[:, 0]
        return np.broadcast_to(v, lead)[:, 0]

    def watch_values(self) -> list[np.ndarray | None]:
        return [self.watch_value(w) for w in self.watches]

    def watch_series(self, key: int | Watch, *, full: bool = False) -> np.ndarray:
        """Values over time, indexed by input position: (S, T) or (S, T, N), NaN where unknown.

        ``full=False`` covers the steps read so far (no computing); ``full=True`` the whole run.
        """
        w = self._watch(key)
        e = self.compile(w.expression)
        runner = self.session.recorded(full=full)
        count = runner.steps if full else self.session.t
        samples = self._samples()
        n_s = len(range(*samples.indices(runner.batch)))
        tail = (runner.units if not e.uses_x else None,)
        v = np.asarray(e.evaluate(RangeEnv(runner, 0, count, samples, grads=self._grads)), np.float64) if count else None
        if v is not None and e.vector:
            tail = (v.shape[-1],)
        shape = (n_s, runner.steps, *tail) if e.vector else (n_s, runner.steps)
        out = np.full(shape, np.nan)
        if v is None:
            return out
        v = np.broadcast_to(v, (n_s, count, *shape[2:]))
        out[:, slice(*positions(0, count, runner.steps, runner.backward))] = \
            v[:, ::-1] if runner.backward else v
        return out

    # --- forks ---------------------------------------------------------------------------------
    @property
    def forks(self) -> ForkSet:
        """The forks of this run (made on first use: it reads the whole recorded run)."""
        if self._forks is None:
            self._forks = ForkSet(self.session.recorded(full=True))
        return self._forks

    @property
    def has_forks(self) -> bool:
        """Any fork made on this run (without making the fork set to ask)."""
        return self._forks is not None and bool(self._forks.forks)

    def _position(self, position: int | None) -> int:
        if position is not None:
            return int(position)
        cur = self.session.cursor
        if cur is None:
            raise ScopeError("read a step first: an edit changes the state after a step")
        return cur

    def fork(self, edit: Edit, *, parent: str | None = None, name: str | None = None,
             via: list[Edit] | None = None) -> Fork:
        f = self.forks.add(edit, parent=parent, name=name, via=via)
        self._announce("forks")
        return f

    def fork_state(self, which: str, *, value: Any, unit: int | None = None,
                   position: int | None = None, parent: str | None = None,
                   name: str | None = None) -> Fork:
        """Edit h or c (one unit, or the whole vector with ``unit=None``) after a step."""
        if which not in ("h", "c"):
            raise ScopeError("only h or c can be edited")
        kind = self.session.cell_kind
        if which not in kind.states:
            raise ScopeError(f"layer '{self.session.info.name}' is a {kind.written}: it has "
                             f"no cell state c to edit (edit h)")
        return self.fork(Edit(which, self._position(position), unit, _plain(value)),
                         parent=parent, name=name)

    def fork_input(self, value: Any, *, position: int | None = None, parent: str | None = None,
                   name: str | None = None) -> Fork:
        """Replace this layer's input x_t at ``position`` (default: the step read last)."""
        return self.fork(Edit("x", self._position(position), None, _plain(value)),
                         parent=parent, name=name)

    def perturb(self, unit: int, delta: float, *, position: int | None = None,
                parent: str | None = None, name: str | None = None) -> Fork:
        """Perturb unit k at step t: h_k(t) += delta, then continue."""
        pos = self._position(position)
        return self.fork(Edit("perturb", pos, int(unit), None, float(delta),
                              label=f"perturb h[{unit}] {float(delta):+g} at step {pos}"),
                         parent=parent, name=name or self.forks.new_name("perturb"))

    def decouple(self, *, parent: str | None = None, name: str | None = None) -> Fork:
        """Decouple units: same input, each unit sees only its own h through U."""
        return self.fork(Edit("decouple", label="decouple units"), parent=parent,
                         name=name or self.forks.new_name("decoupled"))

    def delete_fork(self, name: str) -> None:
        self.forks.delete(name)
        self._announce("forks")

    def undo(self, name: str) -> str | None:
        """Undo a fork's edit: the fork goes, its parent's name is returned (None = original).

        Forks made on top of it keep working: they hold their own reference to it.
        """
        fork = self.forks.get(name)
        parent = self.forks.parent_name(fork)
        self.delete_fork(name)
        return parent

    # --- comparing two inputs -----------------------------------------------------------------
    def compare(self, other_input: Any) -> Comparison:
        return compare_inputs(self.session, other_input)


def _pieces(src: DirectionRunner | CheckpointedRun, a: int, b: int) -> list[tuple[int, int]]:
    """Processing ranges to scan a..b-1 in: all at once in memory, one chunk at a time on a
    checkpointed run (each chunk recomputed once, never the whole run in memory)."""
    size = src.interval if isinstance(src, CheckpointedRun) else max(b - a, 1)
    return [(p, min(b, p + size)) for p in range(a, b, size)]


def _plain(value: Any) -> Any:
    if isinstance(value, np.ndarray):
        return value.tolist()
    if isinstance(value, np.generic):
        return value.item()
    return value


# --- compare two inputs ----------------------------------------------------------------------
@dataclass
class Comparison:
    """Two runs of the same layer: the session's input (a) and another (b)."""

    a: Any        # LayerTrace
    b: Any        # LayerTrace
    divergence: np.ndarray   # (B, T) ||h_a - h_b|| per input position
    start: int = 0           # input position of column 0 (a checkpointed run's span)

    def first_divergence(self, threshold: float = 1e-6, sample: int = 0) -> int | None:
        """The first input position where the runs differ by more than ``threshold``."""
        idx = np.flatnonzero(self.divergence[sample] > threshold)
        return int(idx[0]) + self.start if idx.size else None


def divergence(h_a: np.ndarray, h_b: np.ndarray) -> np.ndarray:
    """(B, T) Euclidean norm of h_a - h_b over units (float64)."""
    d = np.asarray(h_a, np.float64) - np.asarray(h_b, np.float64)
    return np.sqrt(np.sum(d * d, axis=-1))


def compare_inputs(session: Session, other_input: Any,
                   span: tuple[int, int] | None = None) -> Comparison:
    """The session's run against the same layer's run on ``other_input``. A checkpointed run
    (docs/architecture.md, "Long runs") keeps no whole run to compare: both runs are compared
    over input positions ``span`` (a, b), each recomputed from its checkpoints."""
    if not session.holds_whole_run:
        if span is None:
            raise ScopeError(f"a checkpointed run ({session.steps} steps) is compared over a span "
                             f"of input positions: give one")
        other = Session(session.model, other_input, layer=session.layer_index,
                        initial_state=session.initial_state, layer_input=session.is_layer_input,
                        checkpoint_above=session.checkpoint_above,
                        checkpoint_interval=session.store.interval)
        if (other.batch, other.steps) != (session.batch, session.steps):
            raise ScopeError(f"the second input gives {other.batch} samples of {other.steps} steps, "
                             f"the first {session.batch} of {session.steps}: compare needs the "
                             f"same batch and length")
        lo, hi = span
        a, b = session.window(lo, hi), other.window(lo, hi)
        return Comparison(a, b, divergence(a.h, b.h), start=int(lo))
    other = Session(session.model, other_input, layer=session.layer_index,
                    initial_state=session.initial_state, layer_input=session.is_layer_input)
    a, b = session.full(), other.full()
    if a.h.shape != b.h.shape:
        raise ScopeError(f"the second input gives shape {b.h.shape}, the first {a.h.shape}: "
                         f"compare needs the same batch and length")
    return Comparison(a, b, divergence(a.h, b.h))


def change_token(x: Any, position: int, token: int, *, sample: int | None = None) -> np.ndarray:
    """The same token sequence ((T,) or (B, T)) with the token at ``position`` replaced
    (in every sample, or only in ``sample``)."""
    arr = np.array(x)
    if arr.ndim not in (1, 2):
        raise ScopeError(f"token input must be (time,) or (batch, time), got shape {arr.shape}")
    if not 0 <= position < arr.shape[-1]:
        raise ScopeError(f"position {position} is outside 0..{arr.shape[-1] - 1}")
    if arr.ndim == 2 and sample is not None:
        arr[sample, position] = token
    else:
        arr[..., position] = token
    return arr


def add_noise(x: Any, sigma: float, seed: int) -> np.ndarray:
    """The same signal plus Gaussian noise N(0, sigma^2) from a fixed seed (float32)."""
    arr = np.asarray(x, F32)
    rng = np.random.default_rng(int(seed))
    return (arr + rng.normal(0.0, float(sigma), arr.shape)).astype(F32)


__all__ = ["Breakpoint", "Comparison", "Debugger", "Edit", "ExprError", "Fork", "HitReport", "RangeEnv",
           "RunResult", "Watch", "add_noise", "change_token", "check", "compare_inputs",
           "divergence"]
